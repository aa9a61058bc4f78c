//! Safe in-root path resolution and atomic file writes.

pub mod atomic;
pub mod inroot;

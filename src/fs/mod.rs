//! Safe in-root path resolution, atomic file writes and the store's access modes.

pub mod atomic;
pub mod inroot;
pub mod store_access;

//! The only home of `unsafe`: thin wrappers over syscalls that nix does not cover.
pub mod xattr;

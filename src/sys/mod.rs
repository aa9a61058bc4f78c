//! The only home of `unsafe`: thin wrappers over syscalls that nix does not cover.

#[cfg(test)]
pub mod seccomp_probe;

//! The only home of `unsafe`: thin wrappers over syscalls that nix does not cover.
//! Every raw fd becomes an `OwnedFd` at once; every block says why it is sound.

pub mod bpf;
pub mod exe;
pub mod mem;
pub mod net;
pub mod pathfd;
pub mod process;
#[cfg(test)]
pub mod seccomp_probe;
pub mod tty;
pub mod xattr;

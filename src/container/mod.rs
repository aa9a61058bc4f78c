//! Containers: records, runtime spec, rootfs, processes.

pub mod seccomp;

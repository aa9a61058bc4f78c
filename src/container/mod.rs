//! Containers: records, runtime spec, rootfs, processes.

pub mod cgroup;
pub mod seccomp;

//! Containers: records, runtime spec, rootfs, processes.

pub mod cgroup;
pub mod copy;
pub mod diff;
pub mod exec;
pub mod process;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod supervise;
pub mod user;

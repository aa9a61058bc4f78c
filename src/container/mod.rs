//! Containers: records, runtime spec, rootfs, processes, their monitor and their log.

pub mod attach;
pub mod cgroup;
pub mod copy;
pub mod devices;
pub mod diff;
pub mod exec;
pub mod lifecycle;
pub mod log;
pub mod monitor;
pub mod process;
pub mod remove;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod supervise;
pub mod user;
pub mod volume;

pub use remove::{finish_removals, remove_files, remove_files_soon, remove_with_volumes};

/// The anonymous volumes a container made (`-v /path`).
pub fn anonymous_volumes(container: &state::ContainerDir) -> Vec<String> {
    spec::Stored::load(&container.config())
        .map(|s| volume::anonymous_of(&s.annotations))
        .unwrap_or_default()
}

//! Containers: records, runtime spec, rootfs, processes, their monitor and their log.

pub mod cgroup;
pub mod lifecycle;
pub mod log;
pub mod monitor;
pub mod process;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod supervise;
pub mod user;

use std::path::Path;

/// Remove a container's directory and release its name.
pub fn remove_files(root: &Path, container: &state::ContainerDir, name: &str) {
    let _ = std::fs::remove_dir_all(&container.dir);
    state::release_name(root, name, &container.id);
}

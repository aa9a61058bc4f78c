//! Containers: records, runtime spec, rootfs, processes, their monitor and their log.

pub mod attach;
pub mod cgroup;
pub mod copy;
pub mod diff;
pub mod exec;
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
pub mod volume;

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Remove a container's directory and release its name.
pub fn remove_files(root: &Path, container: &state::ContainerDir, name: &str) {
    let _ = std::fs::remove_dir_all(&container.dir);
    state::release_name(root, name, &container.id);
}

/// The anonymous volumes a container made (`-v /path`).
pub fn anonymous_volumes(container: &state::ContainerDir) -> Vec<String> {
    spec::Stored::load(&container.config())
        .map(|s| volume::anonymous_of(&s.annotations))
        .unwrap_or_default()
}

/// [`remove_files`], and the container's anonymous volumes with it (`rm -v`, `--rm`, a
/// container that never came to be).
pub fn remove_with_volumes(root: &Path, container: &state::ContainerDir, name: &str) {
    let volumes = anonymous_volumes(container);
    remove_files(root, container, name);
    volume::remove_anonymous(root, &volumes);
}

/// Remove a container without making the caller wait for the deletion of its files (a
/// foreground `run --rm` about to exit): the directory leaves `containers/` at once, by one
/// rename into `trash/`, and a short-lived child process deletes it. Whatever a child could not
/// finish is deleted by the next [`empty_trash`]. Its anonymous volumes (the caller knows them
/// from the spec it ran) go with it, here and now.
pub fn remove_files_soon(
    root: &Path,
    container: &state::ContainerDir,
    name: &str,
    anonymous: &[String],
) {
    if !anonymous.is_empty() {
        // Deleting a volume's files may take a while: no hurry for a container that has some.
        remove_files(root, container, name);
        volume::remove_anonymous(root, anonymous);
        return;
    }
    state::release_name(root, name, &container.id);
    let trash = root.join("trash");
    let _ = std::fs::DirBuilder::new()
        .mode(crate::fs::store_access::DIR_MODE)
        .create(&trash);
    let target = trash.join(&container.id);
    if std::fs::rename(&container.dir, &target).is_err() {
        let _ = std::fs::remove_dir_all(&container.dir);
        return;
    }
    // The caller is single-threaded (a foreground run after its container exited).
    match crate::sys::process::clone_fork(0, None) {
        Ok(crate::sys::process::Forked::Child) => {
            let _ = std::fs::remove_dir_all(&target);
            crate::sys::process::exit_now(0);
        }
        Ok(crate::sys::process::Forked::Parent { .. }) => {}
        Err(_) => {
            let _ = std::fs::remove_dir_all(&target);
        }
    }
}

/// Delete what removed containers left in `trash/`.
pub fn empty_trash(root: &Path) {
    if let Ok(entries) = std::fs::read_dir(root.join("trash")) {
        for e in entries.flatten() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

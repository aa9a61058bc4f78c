//! The store closed to other host users. It holds what containers wrote (writable layers,
//! volumes: a setuid-root file left there runs as root for whoever can reach it), the specs with
//! their `-e` secrets, and the logs: CVE-2021-41091 (GHSA-3fwx-pjgw-3558), where Docker's data
//! dir let unprivileged host users traverse into container filesystems; fixed by "Lock down
//! docker root dir perms" (moby PR #42907), and containerd's twin CVE-2021-41103.
//!
//! The root is 0700 and so is every directory below it that leads to container or image files;
//! specs and logs are 0600. Nothing but root needs a way in: the container's overlay and its bind
//! mounts are set up by root before its process takes its own user, and the kernel keeps using
//! the mounter's credentials for the overlay's layers (overlayfs.rst, "Permission model"). moby
//! keeps its root 0711 with 0710 subdirectories only for user-namespaced containers, whose
//! remapped root must reach the layers; berth has no user namespaces.
//!
//! Cost: one stat of the root per command. A root that is not 0700 belongs to a store made by an
//! older berth (or to a directory made for it by someone else): its top-level directories, each
//! container's directory, spec and logs, and each volume's and layer's directory are closed
//! once, and the root last, so a crash midway leaves the root open and the next command does it
//! all again.

use anyhow::{Context, Result};
use std::fs::{DirBuilder, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// The mode of the store's root and of every directory that leads to container or image files.
pub const DIR_MODE: u32 = 0o700;
/// The mode of the files that hold secrets: a container's spec (its environment) and its logs.
pub const FILE_MODE: u32 = 0o600;

/// Top-level directories that hold what containers and images wrote, or names and addresses of
/// containers.
const TOP_DIRS: [&str; 9] = [
    "containers",
    "volumes",
    "layers",
    "trash",
    "tmp",
    "blobs",
    "images",
    "names",
    "net",
];

/// Top-level directories whose entries are directories of their own to close (one per
/// container, volume, layer).
const PER_ENTRY_DIRS: [&str; 3] = ["containers", "volumes", "layers"];

/// Make sure the store at `root` exists and is closed to other users (see the module comment).
pub fn close_to_others(root: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() && meta.mode() & 0o7777 == DIR_MODE => Ok(()),
        Ok(_) => close_existing(root),
        Err(e) if e.kind() == ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(root)
            .with_context(|| format!("create store {}", root.display())),
        Err(e) => Err(e).with_context(|| format!("open store {}", root.display())),
    }
}

fn close_existing(root: &Path) -> Result<()> {
    for top in TOP_DIRS {
        set_mode_if_present(&root.join(top), DIR_MODE)?;
    }
    for top in PER_ENTRY_DIRS {
        for entry in std::fs::read_dir(root.join(top)).into_iter().flatten() {
            let entry = entry.with_context(|| format!("read {}", root.join(top).display()))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                set_mode_if_present(&entry.path(), DIR_MODE)?;
            }
        }
    }
    for entry in std::fs::read_dir(root.join("containers"))
        .into_iter()
        .flatten()
    {
        let container = entry
            .with_context(|| format!("read {}", root.join("containers").display()))?
            .path();
        for file in std::fs::read_dir(&container)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = file.file_name();
            let name = name.to_string_lossy();
            if name == "config.json" || name == "log" || name.starts_with("log.") {
                set_mode_if_present(&file.path(), FILE_MODE)?;
            }
        }
    }
    std::fs::set_permissions(root, Permissions::from_mode(DIR_MODE))
        .with_context(|| format!("close store {} to other users", root.display()))
}

/// chmod(2) `path` unless it is gone (removed meanwhile by another command).
fn set_mode_if_present(path: &Path, mode: u32) -> Result<()> {
    match std::fs::set_permissions(path, Permissions::from_mode(mode)) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(e).with_context(|| format!("close {} to other users", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn an_open_store_is_closed_and_a_closed_one_left_alone() {
        let root = std::env::temp_dir().join(format!("berth-access-{}", std::process::id()));
        let container = root.join("containers/abc");
        std::fs::create_dir_all(container.join("upper")).unwrap();
        std::fs::create_dir_all(root.join("volumes/v/_data")).unwrap();
        for file in ["config.json", "log", "log.1", "hosts"] {
            std::fs::write(container.join(file), "").unwrap();
            std::fs::set_permissions(container.join(file), Permissions::from_mode(0o644)).unwrap();
        }
        std::fs::set_permissions(&root, Permissions::from_mode(0o755)).unwrap();
        close_to_others(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        for dir in ["containers", "containers/abc", "volumes", "volumes/v"] {
            assert_eq!(mode(&root.join(dir)), 0o700, "{dir}");
        }
        for file in ["config.json", "log", "log.1"] {
            assert_eq!(mode(&container.join(file)), 0o600, "{file}");
        }
        // What is mounted into the container keeps its mode: the root of its filesystem, a
        // volume's data, the /etc files.
        assert_eq!(mode(&container.join("upper")), 0o755);
        assert_eq!(mode(&root.join("volumes/v/_data")), 0o755);
        assert_eq!(mode(&container.join("hosts")), 0o644);
        // Closed: the next call looks at the root only.
        std::fs::set_permissions(&container, Permissions::from_mode(0o755)).unwrap();
        close_to_others(&root).unwrap();
        assert_eq!(mode(&container), 0o755);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_missing_store_is_created_closed() {
        let root = std::env::temp_dir().join(format!("berth-access-new-{}", std::process::id()));
        close_to_others(&root.join("store")).unwrap();
        assert_eq!(mode(&root.join("store")), 0o700);
        std::fs::remove_dir_all(&root).unwrap();
    }
}

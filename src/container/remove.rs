//! Removing a container, whole or not at all, even when the remover is killed midway.
//!
//! A record is a directory, `containers/<id>/`, and a name link, `names/<name>` → id. Deleting
//! the directory file by file and then the link (as `rm` once did) left, when killed midway, a
//! directory without its state.json: hidden from `ps -a`, yet holding its name. Now the one
//! step that counts is a rename(2) of the directory into `trash/` (atomic: the record is either
//! in `containers/` or in `trash/`). From that moment the container is gone for every command:
//! not listed, not found, and its name is free — [`super::state::reserve_name`] takes over a
//! name whose container lies in `trash/`. The rest (the name link, cgroup, network, anonymous
//! volumes with `rm -v`, the files) is finished by the remover, or, if it died, by the next
//! berth command: [`finish_removals`] runs before every verb.
//!
//! A tombstone `trash/<id>` (or `trash/<id>+volumes`, whose anonymous volumes go too) is locked
//! (flock(2), the record's own lock, which moves with the directory) by whoever is finishing
//! it; the others leave it alone.

use super::cgroup::Cgroup;
use super::state::{self, ContainerDir};
use super::volume;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{DirBuilder, File};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

const TRASH: &str = "trash";
/// The suffix of a tombstone whose container's anonymous volumes are removed with it.
const WITH_VOLUMES: &str = "+volumes";

/// A removed container's directory in `trash/`, not yet deleted.
struct Tombstone {
    path: PathBuf,
    id: String,
    volumes: bool,
}

impl Tombstone {
    fn new(root: &Path, id: &str, volumes: bool) -> Tombstone {
        let suffix = if volumes { WITH_VOLUMES } else { "" };
        Tombstone {
            path: root.join(TRASH).join(format!("{id}{suffix}")),
            id: id.to_string(),
            volumes,
        }
    }

    /// The tombstone at `path`, from its name.
    fn at(path: PathBuf) -> Tombstone {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (id, volumes) = match name.strip_suffix(WITH_VOLUMES) {
            Some(id) => (id.to_string(), true),
            None => (name, false),
        };
        Tombstone { path, id, volumes }
    }
}

/// Remove a container's directory and release its name.
pub fn remove_files(root: &Path, container: &ContainerDir, name: &str) {
    remove(root, container, name, false);
}

/// [`remove_files`], and the container's anonymous volumes with it (`rm -v`, `--rm`, a
/// container that never came to be).
pub fn remove_with_volumes(root: &Path, container: &ContainerDir, name: &str) {
    remove(root, container, name, true);
}

fn remove(root: &Path, container: &ContainerDir, name: &str, volumes: bool) {
    // A writer of the record (a monitor recording the exit) finishes first. The lock moves
    // with the directory and marks its tombstone as being finished.
    let lock = container.lock().ok();
    let tomb = Tombstone::new(root, &container.id, volumes);
    match entomb(root, container, &tomb) {
        Ok(()) => {
            state::release_name(root, name, &container.id);
            finish(root, &tomb);
        }
        // Gone already: another remover was first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            state::release_name(root, name, &container.id);
        }
        // trash/ cannot take it (not seen in practice): delete it where it is.
        Err(_) => {
            let _ = std::fs::remove_dir_all(&container.dir);
            state::release_name(root, name, &container.id);
        }
    }
    drop(lock);
}

/// Whether container `id` has been removed, its tombstone not yet finished: its name is free.
pub fn is_removed(root: &Path, id: &str) -> bool {
    [false, true]
        .into_iter()
        .any(|volumes| std::fs::symlink_metadata(Tombstone::new(root, id, volumes).path).is_ok())
}

/// Move the container's directory into `trash/`: the step after which it is gone.
fn entomb(root: &Path, container: &ContainerDir, tomb: &Tombstone) -> std::io::Result<()> {
    let _ = DirBuilder::new()
        .mode(crate::fs::store_access::DIR_MODE)
        .create(root.join(TRASH));
    std::fs::rename(&container.dir, &tomb.path)
}

/// Remove a container without making the caller wait for the deletion of its files (a
/// foreground `run --rm` about to exit): the directory leaves `containers/` at once, by one
/// rename into `trash/`, and a short-lived child process finishes the rest. A container with
/// anonymous volumes (deleting their files may take a while) is removed here and now.
pub fn remove_files_soon(root: &Path, container: &ContainerDir, name: &str, volumes: bool) {
    if volumes {
        remove_with_volumes(root, container, name);
        return;
    }
    let tomb = Tombstone::new(root, &container.id, false);
    if entomb(root, container, &tomb).is_err() {
        remove_files(root, container, name);
        return;
    }
    state::release_name(root, name, &container.id);
    // The caller is single-threaded (a foreground run after its container exited).
    match crate::sys::process::clone_fork(0, None) {
        Ok(crate::sys::process::Forked::Child) => {
            // Its cgroup and network went when it exited (lifecycle::finish), its name above:
            // only the files are left.
            if let Some(_lock) = try_lock(&tomb.path) {
                delete(&tomb);
            }
            crate::sys::process::exit_now(0);
        }
        Ok(crate::sys::process::Forked::Parent { .. }) => {}
        Err(_) => finish(root, &tomb),
    }
}

/// Finish the removals that a killed remover left in `trash/` (and those that another process
/// is not finishing right now). Called before every command: when `trash/` is empty this is one
/// stat(2) — a directory's link count is 2 plus its subdirectories (ext4, xfs, tmpfs; btrfs
/// always reports 1, and then the directory is read), and `trash/` holds only directories.
pub fn finish_removals(root: &Path) {
    let trash = root.join(TRASH);
    match std::fs::symlink_metadata(&trash) {
        Ok(meta) if meta.nlink() != 2 => {}
        _ => return,
    }
    let Ok(entries) = std::fs::read_dir(&trash) else {
        return;
    };
    for entry in entries.flatten() {
        let tomb = Tombstone::at(entry.path());
        if let Some(_lock) = try_lock(&tomb.path) {
            finish(root, &tomb);
        }
    }
}

/// The tombstone's lock, unless its remover holds it.
fn try_lock(path: &Path) -> Option<Flock<File>> {
    let dir = File::open(path).ok()?;
    Flock::lock(dir, FlockArg::LockExclusiveNonblock).ok()
}

/// Everything a removal does after the rename, each step harmless to repeat: release what the
/// container held, then delete its files.
fn finish(root: &Path, tomb: &Tombstone) {
    release(root, tomb);
    delete(tomb);
}

/// Release the name, the cgroup and the network (a remover killed before them left them), and
/// the anonymous volumes of a `+volumes` tombstone.
fn release(root: &Path, tomb: &Tombstone) {
    let dead = ContainerDir {
        id: tomb.id.clone(),
        dir: tomb.path.clone(),
    };
    match dead.load_state() {
        Ok(record) => state::release_name(root, &record.name, &tomb.id),
        // No record (a `run` that failed before writing it, or a deletion cut short): the
        // names still pointing at it.
        Err(_) => release_names_of(root, &tomb.id),
    }
    if is_container_id(&tomb.id) {
        let _ = Cgroup::open(&tomb.id).remove();
        let _ = crate::net::release(root, &tomb.id);
    }
    if tomb.volumes {
        let names = super::anonymous_volumes(&dead);
        volume::remove_anonymous(root, &names);
    }
}

fn delete(tomb: &Tombstone) {
    unmount_under(&tomb.path);
    let _ = std::fs::remove_dir_all(&tomb.path);
}

fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Release every name that points at `id`.
fn release_names_of(root: &Path, id: &str) {
    let Ok(entries) = std::fs::read_dir(root.join("names")) else {
        return;
    };
    for entry in entries.flatten() {
        if let Some(name) = entry.file_name().to_str() {
            state::release_name(root, name, id);
        }
    }
}

/// Detach whatever is mounted at or below `dir` in our mount namespace, deepest first. berth
/// mounts a container's filesystems only in namespaces of its own; anything mounted here came
/// from elsewhere, and deleting the directory through it would delete the mounted files.
fn unmount_under(dir: &Path) {
    let Ok(dir) = dir.canonicalize() else { return };
    let Ok(mounts) = procfs::process::Process::myself().and_then(|p| p.mountinfo()) else {
        return;
    };
    let mut under: Vec<PathBuf> = mounts
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(&dir))
        .collect();
    under.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for point in under {
        let _ = nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tombstone(root: &Path, id: &str, name: &str) -> PathBuf {
        let dir = root.join(TRASH).join(id);
        std::fs::create_dir_all(dir.join("upper/etc")).unwrap();
        let state = format!(
            r#"{{"id":"{id}","name":"{name}","image":"busybox","image_id":"","created":"","status":"exited"}}"#
        );
        std::fs::write(dir.join("state.json"), state).unwrap();
        std::fs::create_dir_all(root.join("names")).unwrap();
        std::os::unix::fs::symlink(id, root.join("names").join(name)).unwrap();
        dir
    }

    #[test]
    fn a_killed_removal_is_finished_by_the_next_command_unless_being_finished() {
        let root = std::env::temp_dir().join(format!("berth-remove-{}", std::process::id()));
        let (dead, busy) = ("d".repeat(64), "b".repeat(64));
        let dead_dir = tombstone(&root, &dead, "dead");
        let busy_dir = tombstone(&root, &busy, "busy");
        // Its name is free while it lies there.
        assert!(is_removed(&root, &dead));
        state::reserve_name(&root, "dead", &"e".repeat(64)).unwrap();

        let link = |name: &str| std::fs::symlink_metadata(root.join("names").join(name)).is_ok();
        let held = try_lock(&busy_dir).unwrap();
        finish_removals(&root);
        assert!(!dead_dir.exists());
        assert!(link("dead"), "the new owner's name was released");
        assert!(busy_dir.exists() && link("busy"));
        drop(held);
        finish_removals(&root);
        assert!(!busy_dir.exists() && !link("busy"));
        assert!(!is_removed(&root, &busy));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn tombstone_names_carry_the_volumes_flag() {
        let t = Tombstone::at(PathBuf::from(format!(
            "/s/trash/{}+volumes",
            "a".repeat(64)
        )));
        assert_eq!((t.id.len(), t.volumes), (64, true));
        let t = Tombstone::at(PathBuf::from("/s/trash/abc"));
        assert_eq!((t.id.as_str(), t.volumes), ("abc", false));
        assert_eq!(
            Tombstone::new(Path::new("/s"), "abc", true).path,
            Path::new("/s/trash/abc+volumes")
        );
    }
}

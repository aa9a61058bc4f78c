//! Paths inside a container or image root, resolved by the kernel as if that directory were `/`
//! (openat2 RESOLVE_IN_ROOT): a symlink to `/` or `../../..` in the tree never leads out of it.
//! Container paths are only ever opened through here (CVE-2018-15664, CVE-2021-30465).

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

fn how(flags: OFlag, extra: ResolveFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS | extra)
}

/// openat2(2), tried again when it fails with EAGAIN. With RESOLVE_IN_ROOT, a `..` in the path
/// fails that way whenever a rename or mount anywhere on the system ran during the lookup, as
/// the kernel then cannot prove that the walk stayed inside the root; openat2(2) says to retry.
/// Bounded: a lookup that keeps losing is an error, not a loop.
pub fn openat2_retrying<P: ?Sized + nix::NixPath>(
    dir: BorrowedFd<'_>,
    path: &P,
    how: OpenHow,
) -> Result<OwnedFd, Errno> {
    let mut tries = 0;
    loop {
        match openat2(dir, path, how) {
            Err(Errno::EAGAIN) if tries < 100 => tries += 1,
            other => return other,
        }
    }
}

/// Open `path` (absolute or relative, taken inside `root`) with `flags`.
pub fn open(root: BorrowedFd<'_>, path: &str, flags: OFlag) -> Result<OwnedFd, Errno> {
    openat2_retrying(root, rel(path), how(flags, ResolveFlag::empty()))
}

/// Open `path` inside `root` refusing any symlink on the way (for /proc, /sys, /dev targets,
/// which must be ordinary directories: CVE-2019-19921, CVE-2023-27561).
pub fn open_no_symlinks(root: BorrowedFd<'_>, path: &str, flags: OFlag) -> Result<OwnedFd, Errno> {
    openat2_retrying(
        root,
        rel(path),
        how(flags, ResolveFlag::RESOLVE_NO_SYMLINKS),
    )
}

/// `/a/b` → `a/b`; `/` → `.`.
fn rel(path: &str) -> &str {
    let p = path.trim_start_matches('/');
    if p.is_empty() {
        "."
    } else {
        p
    }
}

/// Create `path` and its missing parents inside `root` (like `mkdir -p`), returning an O_PATH
/// fd of the directory. Each component is created relative to its resolved parent.
pub fn mkdir_all(root: BorrowedFd<'_>, path: &str, mode: u32) -> Result<OwnedFd> {
    let mut done = String::new();
    let mut dir = open(root, ".", OFlag::O_PATH | OFlag::O_DIRECTORY).context("open root")?;
    for comp in rel(path).split('/').filter(|c| !c.is_empty() && *c != ".") {
        if !done.is_empty() {
            done.push('/');
        }
        done.push_str(comp);
        dir = match open(root, &done, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                match mkdirat(dir.as_fd(), comp, Mode::from_bits_truncate(mode)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).with_context(|| format!("mkdir /{done}")),
                }
                open(root, &done, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .with_context(|| format!("open /{done}"))?
            }
            Err(e) => return Err(e).with_context(|| format!("open /{done}")),
        };
    }
    Ok(dir)
}

/// An O_PATH fd of `path` inside `root`, created (as an empty file or a directory) when missing:
/// the target of a bind mount.
pub fn mount_target(root: BorrowedFd<'_>, path: &str, dir: bool) -> Result<OwnedFd> {
    match open(root, path, OFlag::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).with_context(|| format!("open {path}")),
    }
    if dir {
        return mkdir_all(root, path, 0o755);
    }
    let (parent, name) = split(path)?;
    let parent_fd = mkdir_all(root, parent, 0o755)?;
    let parent_dir = nix::fcntl::openat(
        parent_fd.as_fd(),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {parent}"))?;
    match create_new(parent_dir.as_fd(), name, 0o644) {
        Ok(_) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e).with_context(|| format!("create {path}")),
    }
    open(root, path, OFlag::O_PATH).with_context(|| format!("open {path}"))
}

/// Create `name` in `dir` as a new, empty file opened for writing: never an existing entry,
/// never through a symlink planted at that name (O_CREAT|O_EXCL|O_NOFOLLOW), so the descriptor
/// returned is of the file this call made.
pub fn create_new<P: ?Sized + nix::NixPath>(
    dir: BorrowedFd<'_>,
    name: &P,
    mode: u32,
) -> Result<OwnedFd, Errno> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )
}

/// Split `/a/b/c` into (`/a/b`, `c`).
pub fn split(path: &str) -> Result<(&str, &str)> {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((parent, name)) if !name.is_empty() && name != ".." && name != "." => {
            Ok((if parent.is_empty() { "/" } else { parent }, name))
        }
        _ => bail!("invalid path {path:?}"),
    }
}

/// The `/proc/self/fd/N` path of an fd, for syscalls that take a path (mount(2)).
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let base = std::env::temp_dir().join(format!("berth-inroot-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(base.join("outside"), "host").unwrap();
        symlink("/", root.join("up")).unwrap();
        symlink("../../..", root.join("etc/dots")).unwrap();
        let fd =
            nix::fcntl::open(&root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();

        // `up/outside` is `/outside` of the root, which does not exist, never the host file.
        assert_eq!(
            open(fd.as_fd(), "/up/outside", OFlag::O_RDONLY).unwrap_err(),
            Errno::ENOENT
        );
        assert_eq!(
            open(fd.as_fd(), "/etc/dots/outside", OFlag::O_RDONLY).unwrap_err(),
            Errno::ENOENT
        );
        // Creating through a link that points out creates inside the root.
        mkdir_all(fd.as_fd(), "/up/made/here", 0o755).unwrap();
        assert!(root.join("made/here").is_dir());
        mount_target(fd.as_fd(), "/etc/dots/file", false).unwrap();
        assert!(root.join("file").is_file());
        assert!(!base.join("file").exists());
        assert_eq!(
            open_no_symlinks(fd.as_fd(), "/up", OFlag::O_PATH).unwrap_err(),
            Errno::ELOOP
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn split_paths() {
        assert_eq!(split("/etc/hosts").unwrap(), ("/etc", "hosts"));
        assert_eq!(split("/x").unwrap(), ("/", "x"));
        assert!(split("/").is_err());
    }
}

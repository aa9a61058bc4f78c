//! What a container's writable layer changed (`berth diff`): its overlay upper directory read
//! against the image's layers. A new path is `A`, one that a lower layer has is `C`, an overlay
//! whiteout (a 0/0 character device) is `D`, and an opaque directory also deletes what the
//! lower layers had in it. A directory is listed as changed when something under it is (as
//! Docker does), or when its own mode or owner differ.
//!
//! The upper directory is written by the container: it is walked fd by fd without following
//! any symlink, and lower paths are opened with RESOLVE_NO_SYMLINKS beneath their layer.

use crate::fs::inroot;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

/// Files the engine itself puts in the upper layer as mount targets when the image lacks
/// them; they are not the container's changes.
const ENGINE_FILES: [&str; 4] = [
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/dev/console",
];
const ENGINE_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// One line of `berth diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: char,
    pub path: String,
}

/// The changes of `upper` over `layers` (lowest first), in walk order (sorted by name, a
/// directory before what is under it, deletions by an opaque directory after its entries).
pub fn changes(upper: &std::path::Path, layers: &[PathBuf]) -> Result<Vec<Change>> {
    let open_dir = |p: &std::path::Path| {
        nix::fcntl::open(
            p,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", p.display()))
    };
    let upper_fd = open_dir(upper)?;
    let lowers: Vec<OwnedFd> = layers
        .iter()
        .rev()
        .map(|l| open_dir(l))
        .collect::<Result<_>>()?;
    let mut out = Vec::new();
    walk(upper_fd.as_fd(), "", &lowers, &mut out)?;
    Ok(out)
}

fn is_whiteout(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

/// The path in the image below the container (top layer first; a whiteout hides it).
fn lower_stat(lowers: &[OwnedFd], path: &str) -> Option<FileStat> {
    for layer in lowers {
        match inroot::open_no_symlinks(layer.as_fd(), path, OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            Ok(fd) => {
                let st = nix::sys::stat::fstat(&fd).ok()?;
                return (!is_whiteout(&st)).then_some(st);
            }
            Err(Errno::ENOENT) => continue,
            // A symlink or a file on the way: this path is not a directory entry there.
            Err(_) => return None,
        }
    }
    None
}

/// Names in a lower directory across all layers (for an opaque directory's deletions).
fn lower_names(lowers: &[OwnedFd], path: &str) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for layer in lowers {
        let Ok(fd) =
            inroot::open_no_symlinks(layer.as_fd(), path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        else {
            continue;
        };
        if let Ok(dir) = nix::dir::Dir::from_fd(fd) {
            for e in dir.into_iter().flatten() {
                let n = String::from_utf8_lossy(e.file_name().to_bytes()).into_owned();
                if n != "." && n != ".." {
                    names.insert(n);
                }
            }
        }
    }
    names
        .into_iter()
        .filter(|n| lower_stat(lowers, &format!("{path}/{n}")).is_some())
        .collect()
}

/// Walk the upper directory `dir` (path `path`); returns whether anything was reported.
fn walk(
    dir: BorrowedFd<'_>,
    path: &str,
    lowers: &[OwnedFd],
    out: &mut Vec<Change>,
) -> Result<bool> {
    let listing = nix::dir::Dir::from_fd(dir.try_clone_to_owned().context("dup fd")?)
        .with_context(|| {
            format!(
                "read upper directory {}",
                if path.is_empty() { "/" } else { path }
            )
        })?;
    let mut names: Vec<String> = listing
        .into_iter()
        .flatten()
        .map(|e| String::from_utf8_lossy(e.file_name().to_bytes()).into_owned())
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    let mut reported = false;
    for name in &names {
        let child = format!("{path}/{name}");
        let st = nix::sys::stat::fstatat(dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .with_context(|| format!("stat upper {child}"))?;
        if is_whiteout(&st) {
            out.push(Change {
                kind: 'D',
                path: child,
            });
            reported = true;
            continue;
        }
        let lower = lower_stat(lowers, &child);
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if !is_dir {
            let engine =
                lower.is_none() && st.st_size == 0 && ENGINE_FILES.contains(&child.as_str());
            if !engine {
                let kind = if lower.is_some() { 'C' } else { 'A' };
                out.push(Change { kind, path: child });
                reported = true;
            }
            continue;
        }
        // A directory: its own line goes before what is under it.
        let at = out.len();
        let sub = nix::fcntl::openat(
            dir,
            name.as_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open upper {child}"))?;
        let opaque = crate::sys::xattr::fget(&sub, "trusted.overlay.opaque")
            .ok()
            .flatten()
            .is_some_and(|v| v == b"y");
        let mut below = walk(sub.as_fd(), &child, lowers, out)?;
        if opaque
            && lower
                .as_ref()
                .is_some_and(|l| l.st_mode & libc::S_IFMT == libc::S_IFDIR)
        {
            for n in lower_names(lowers, &child) {
                if !names_in(&sub, &n) {
                    out.push(Change {
                        kind: 'D',
                        path: format!("{child}/{n}"),
                    });
                    below = true;
                }
            }
        }
        let own = match &lower {
            None => below || !ENGINE_DIRS.contains(&child.as_str()),
            Some(l) => {
                below || l.st_mode != st.st_mode || l.st_uid != st.st_uid || l.st_gid != st.st_gid
            }
        };
        if own {
            let kind = if lower.is_some() { 'C' } else { 'A' };
            out.insert(at, Change { kind, path: child });
            reported = true;
        }
    }
    Ok(reported)
}

fn names_in(dir: &OwnedFd, name: &str) -> bool {
    nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
}

//! Volumes berth manages: directories under the store's `volumes/<name>/_data`, bind-mounted
//! into containers like host paths. `-v NAME:/path` uses (and on first use creates) a named
//! volume; `-v /path` makes an anonymous one, named by a random ID, which `rm -v` and `--rm`
//! remove with their container. A volume that is empty when a container mounts it is first
//! filled with what the image has at that path (Docker's copy-up), unless `nocopy` is given.

use super::spec::Stored;
use super::state::{self, ContainerDir};
use crate::fs::store_access;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::sys::pathfd;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{fchown, lseek, symlinkat, Gid, Uid, Whence};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;

/// Annotation listing a container's anonymous volumes (comma-separated names).
pub const ANN_ANONYMOUS: &str = "berth.anonymous-volumes";

/// What is kept about a volume besides its data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub name: String,
    pub created_at: String,
    pub anonymous: bool,
}

/// The volumes of one store.
pub struct Volumes {
    dir: PathBuf,
}

/// Docker's rule for volume names.
pub fn validate_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok || name.len() < 2 {
        bail!(
            "\"{name}\" includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
        );
    }
    Ok(())
}

/// The files under /proc a volume may cover: those lxcfs emulates, as runc's checkProcMount
/// lists them (libcontainer/rootfs_linux.go). Anything else inside /proc is the kernel's.
const PROC_FILES: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// An absolute container path with `.`, `..` and repeated or trailing slashes resolved by text
/// alone (`..` at `/` stays at `/`), as Go's path.Clean: `/proc/../proc/` is `/proc`.
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// runc's checkProcMount (CVE-2019-19921 and CVE-2023-27561 were mounts steered over /proc):
/// nothing but a procfs may be mounted on /proc, and nothing inside /proc but [`PROC_FILES`].
/// `source_is_procfs` is asked only for a mount on /proc itself.
pub fn check_proc_destination(dest: &str, source_is_procfs: impl FnOnce() -> bool) -> Result<()> {
    let clean = clean_path(dest);
    if clean == "/proc" {
        if source_is_procfs() {
            return Ok(());
        }
        bail!("{clean:?} cannot be mounted because it is not of type proc");
    }
    if clean.starts_with("/proc/") && !PROC_FILES.contains(&clean.as_str()) {
        bail!("{clean:?} cannot be mounted because it is inside /proc");
    }
    Ok(())
}

/// Whether `path` is on a procfs (statfs(2) f_type PROC_SUPER_MAGIC); false when it is missing.
pub fn is_procfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

impl Volumes {
    pub fn new(root: &Path) -> Volumes {
        Volumes {
            dir: root.join("volumes"),
        }
    }

    /// Where a volume's files are (what gets bind-mounted).
    pub fn data(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    /// The volume whose data directory `source` is (a mount's source), if it is one.
    pub fn name_of(&self, source: &Path) -> Option<String> {
        let name = source
            .strip_prefix(&self.dir)
            .ok()?
            .iter()
            .next()?
            .to_str()?;
        (source == self.data(name)).then(|| name.to_string())
    }

    pub fn get(&self, name: &str) -> Option<Meta> {
        let bytes = std::fs::read(self.dir.join(name).join("meta.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The volume `name`, created empty unless it exists. Creation is one rename of a
    /// complete directory, so concurrent creators agree and a crash leaves no half volume.
    pub fn ensure(&self, name: &str, anonymous: bool) -> Result<Meta> {
        validate_name(name)?;
        if let Some(meta) = self.get(name) {
            return Ok(meta);
        }
        // volumes/ and each volume's directory are root's alone: a container may leave a
        // setuid file in its volume (CVE-2021-41091, see crate::fs::store_access). _data keeps
        // 0755: it is what the container sees at the mount point.
        let private = || {
            let mut b = DirBuilder::new();
            b.recursive(true).mode(store_access::DIR_MODE);
            b
        };
        private()
            .create(&self.dir)
            .with_context(|| format!("create {}", self.dir.display()))?;
        let staging = self.dir.join(format!(".new-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        private()
            .create(&staging)
            .and_then(|()| std::fs::create_dir(staging.join("_data")))
            .with_context(|| format!("create volume {name}"))?;
        let meta = Meta {
            name: name.to_string(),
            created_at: state::now_rfc3339(),
            anonymous,
        };
        std::fs::write(staging.join("meta.json"), serde_json::to_vec(&meta)?)
            .with_context(|| format!("create volume {name}"))?;
        match std::fs::rename(&staging, self.dir.join(name)) {
            Ok(()) => Ok(meta),
            Err(_) => {
                // Someone else made it first.
                let _ = std::fs::remove_dir_all(&staging);
                self.get(name)
                    .with_context(|| format!("create volume {name}"))
            }
        }
    }

    /// Every volume, by name.
    pub fn list(&self) -> Vec<Meta> {
        let mut out: Vec<Meta> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| self.get(n)))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Remove a volume and its files: moved out of the way by one rename, then deleted.
    pub fn remove(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        let gone = self
            .dir
            .join(format!(".gone-{name}-{}", std::process::id()));
        std::fs::rename(self.dir.join(name), &gone)
            .with_context(|| format!("remove volume {name}"))?;
        std::fs::remove_dir_all(&gone).with_context(|| format!("remove volume {name}"))
    }

    /// For each volume in use, the IDs of the containers (running or not) that mount it: every
    /// container's spec is read once.
    pub fn users(&self, root: &Path) -> HashMap<String, Vec<String>> {
        let mut users: HashMap<String, Vec<String>> = HashMap::new();
        for id in state::list_ids(root).unwrap_or_default() {
            let Ok(spec) = Stored::load(&ContainerDir::new(root, &id).config()) else {
                continue;
            };
            for m in &spec.mounts {
                if let Some(name) = m.source().as_deref().and_then(|s| self.name_of(s)) {
                    users.entry(name).or_default().push(id.clone());
                }
            }
        }
        users
    }
}

/// The anonymous volumes a container's spec lists, from its annotations.
pub fn anonymous_of(annotations: &std::collections::HashMap<String, String>) -> Vec<String> {
    annotations
        .get(ANN_ANONYMOUS)
        .map(|s| {
            s.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Remove the anonymous volumes of a container that is being removed (`rm -v`, `--rm`).
pub fn remove_anonymous(root: &Path, names: &[String]) {
    let volumes = Volumes::new(root);
    for name in names {
        if volumes.get(name).is_some_and(|m| m.anonymous) {
            let _ = volumes.remove(name);
        }
    }
}

/// Docker's copy-up: fill the empty volume directory `to` with the tree at `from` (an fd of a
/// directory of the container's root filesystem, before anything of the container runs),
/// keeping modes, owners and symlinks as they are, then give `to` the owner and mode of `from`.
///
/// Another container may share the volume and write into it while this runs, and this runs
/// with the host's root: so nothing is done by path. Both trees are walked by descriptor, each
/// entry looked up relative to its parent's fd with O_NOFOLLOW, each copy made relative to its
/// parent's fd with O_EXCL (mkdirat, symlinkat and O_CREAT|O_EXCL fail on any name that already
/// exists, a symlink included), and owners and modes set on the descriptors made. A name that
/// appears in the volume before the copy reaches it fails the copy-up; it is never followed.
pub fn copy_up(from: BorrowedFd<'_>, to: &Path) -> Result<()> {
    let src = openat(from, ".", dir_flags(), Mode::empty()).context("open the image directory")?;
    let dst = nix::fcntl::open(to, dir_flags(), Mode::empty())
        .with_context(|| format!("open volume directory {}", to.display()))?;
    copy_tree(&src, &dst, "")?;
    set_owner_mode(&dst, &fstat(&src)?).context("set the volume's owner and mode")
}

/// A directory opened for reading its entries, never through a symlink.
fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Copy the entries of directory `src` into directory `dst`; `at` is their container path
/// below the mount point, for messages only.
fn copy_tree(src: &OwnedFd, dst: &OwnedFd, at: &str) -> Result<()> {
    let listing = Dir::from_fd(src.try_clone()?).with_context(|| format!("read {at}/"))?;
    let names: Vec<OsString> = listing
        .into_iter()
        .flatten()
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect();
    for name in &names {
        let path = format!("{at}/{}", name.to_string_lossy());
        copy_entry(src, dst, name, &path).with_context(|| format!("copy {path}"))?;
    }
    Ok(())
}

fn copy_entry(src: &OwnedFd, dst: &OwnedFd, name: &OsStr, path: &str) -> Result<()> {
    let taken = |e: Errno| match e {
        Errno::EEXIST => anyhow::anyhow!("it appeared in the volume while it was filled"),
        e => e.into(),
    };
    let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => {
            let from = openat(src, name, dir_flags(), Mode::empty())?;
            mkdirat(dst, name, Mode::from_bits_truncate(0o700)).map_err(taken)?;
            let made = openat(dst, name, dir_flags(), Mode::empty())?;
            copy_tree(&from, &made, path)?;
            set_owner_mode(&made, &fstat(&from)?)?;
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(src, name)?;
            symlinkat(target.as_os_str(), dst, name).map_err(taken)?;
            let made = openat(
                dst,
                name,
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            if fstat(&made)?.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFLNK.bits() {
                bail!("it was replaced in the volume while it was filled");
            }
            pathfd::chown(made.as_fd(), st.st_uid, st.st_gid)?;
        }
        SFlag::S_IFREG => {
            let from = File::from(open_regular(src, name)?);
            let made =
                File::from(crate::fs::inroot::create_new(dst.as_fd(), name, 0o600).map_err(taken)?);
            copy_sparse(&from, &made)?;
            set_owner_mode(&made, &fstat(&from)?)?;
        }
        _ => {} // devices, fifos and sockets are not copied
    }
    Ok(())
}

/// Open the regular file `name` of `dir` for reading. It is first opened O_PATH (which opens
/// nothing: a fifo or device swapped in would block or run its driver) and checked, then
/// reopened through `/proc/self/fd/N`, which the kernel resolves to that same inode.
fn open_regular(dir: &OwnedFd, name: &OsStr) -> Result<OwnedFd> {
    let node = openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    if fstat(&node)?.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
        bail!("not a regular file any more");
    }
    Ok(nix::fcntl::open(
        crate::fs::inroot::fd_path(&node).as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Copy a file's data segments only (lseek(2) SEEK_DATA / SEEK_HOLE) at their offsets, then
/// cut the copy to the source's size: holes stay holes, so a sparse file of an image declaring
/// terabytes takes no more room in a volume than in the image.
fn copy_sparse(from: &File, to: &File) -> Result<()> {
    let size = from.metadata()?.len();
    let size_off = i64::try_from(size).context("file size")?;
    let mut buf = vec![0u8; 1 << 20];
    let mut offset: i64 = 0;
    while offset < size_off {
        let data = match lseek(from, offset, Whence::SeekData) {
            Ok(d) => d,
            Err(Errno::ENXIO) => break,   // only a hole is left
            Err(Errno::EINVAL) => offset, // no SEEK_DATA here: all of it is data
            Err(e) => return Err(e).context("find data"),
        };
        let end = match lseek(from, data, Whence::SeekHole) {
            Ok(h) => h.min(size_off),
            Err(Errno::EINVAL) => size_off,
            Err(e) => return Err(e).context("find hole"),
        };
        let mut at = u64::try_from(data)?;
        let stop = u64::try_from(end)?;
        while at < stop {
            let want = usize::try_from((stop - at).min(buf.len() as u64))?;
            let n = from.read_at(&mut buf[..want], at).context("read")?;
            if n == 0 {
                break; // the file shrank
            }
            to.write_all_at(&buf[..n], at).context("write")?;
            at += n as u64;
        }
        offset = end.max(offset + 1);
    }
    to.set_len(size).context("set size")?;
    Ok(())
}

/// Owner, then mode (a chown clears set-id bits, chown(2)), of what `fd` is open on.
fn set_owner_mode(fd: &impl AsFd, st: &FileStat) -> Result<()> {
    fchown(
        fd.as_fd(),
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    fchmod(fd.as_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_like_go_path_clean() {
        for (given, clean) in [
            ("/proc", "/proc"),
            ("/proc/", "/proc"),
            ("//proc/./", "/proc"),
            ("/proc/../proc", "/proc"),
            ("/../../proc/sys/..", "/proc"),
            ("/tmp/../proc/sys", "/proc/sys"),
            ("/", "/"),
            ("/a/b/../c", "/a/c"),
        ] {
            assert_eq!(clean_path(given), clean, "{given}");
        }
    }

    #[test]
    fn proc_takes_only_a_procfs_and_the_lxcfs_files() {
        let err = |d: &str, procfs: bool| {
            check_proc_destination(d, || procfs)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("/proc/../proc/", false),
            "\"/proc\" cannot be mounted because it is not of type proc"
        );
        assert_eq!(
            err("/proc/./sys", true),
            "\"/proc/sys\" cannot be mounted because it is inside /proc"
        );
        assert!(check_proc_destination("/proc", || true).is_ok());
        for ok in [
            "/data",
            "/procfs",
            "/proc-x/sys",
            "/proc/uptime",
            "/proc/sys/kernel/ns_last_pid",
        ] {
            assert!(check_proc_destination(ok, || false).is_ok(), "{ok}");
        }
        for bad in [
            "/proc/self",
            "/proc/1/root",
            "/proc/sys/kernel",
            "/proc/uptime/x",
        ] {
            assert!(check_proc_destination(bad, || true).is_err(), "{bad}");
        }
    }
}

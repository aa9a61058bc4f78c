//! The container's root filesystem, set up by the container's first process in its new mount
//! namespace: overlay of the image layers with a private upper dir, the special filesystems,
//! the standard device nodes, the engine's /etc files, pivot_root, then masked and read-only
//! paths. Everything is mounted onto fds resolved inside the new root, so a symlink in the image
//! can never steer a mount onto the host (CVE-2021-30465, CVE-2026-41579).
//!
//! Nothing here outlives the container: the mounts live only in its mount namespace, which the
//! kernel tears down when its last process exits.

use crate::fs::inroot;
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Device nodes bind-mounted from the host into the container's /dev.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Everything the rootfs setup needs, prepared before the clone.
#[derive(Debug, Clone)]
pub struct RootfsPlan {
    /// Layer directories, lowest first.
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    pub mounts: Vec<Mount>,
    /// Host files bind-mounted over container paths (/etc/hostname, /etc/hosts, resolv.conf).
    pub files: Vec<(PathBuf, String)>,
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
    /// Mount the overlay `volatile` (Linux 5.10): no sync of the upper filesystem, at any time
    /// or at unmount. For containers whose files are deleted when they exit (`--rm`), whose
    /// upper dir a crash may as well lose.
    pub volatile: bool,
}

/// The overlay mount data: lower dirs highest first (overlayfs(5) reads them left to right).
pub fn overlay_options(plan: &RootfsPlan) -> String {
    let lowers: Vec<String> = plan
        .layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        plan.upper.display(),
        plan.work.display()
    )
}

/// The engine's layer, the top one of every container's lower dirs (Docker's "init layer"):
/// empty /etc/hostname, /etc/hosts and /etc/resolv.conf, the targets of the container's own
/// files. With them there, a start creates nothing in the writable layer, which keeps starts
/// cheap (each file an overlay creates costs a copy-up of /etc and inodes on the host) and the
/// writable layer free of the engine's files. Made once per store; as a lower dir it is never
/// written.
pub fn engine_layer(store: &Path) -> Result<PathBuf> {
    let dir = store.join("init");
    let complete = |d: &Path| d.join("etc/resolv.conf").exists();
    if complete(&dir) {
        return Ok(dir);
    }
    // Made aside and renamed into place: a container never sees it half made.
    let tmp = store
        .join("tmp")
        .join(format!("init.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let made = (|| -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(tmp.join("etc"))?;
        for name in ["hostname", "hosts", "resolv.conf"] {
            let file = tmp.join("etc").join(name);
            std::fs::File::create(&file)?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
        }
        for d in [tmp.join("etc"), tmp.clone()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::rename(&tmp, &dir)
    })();
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    // Another start may have put its own in place first: as good as ours.
    if complete(&dir) {
        return Ok(dir);
    }
    made.with_context(|| format!("make {}", dir.display()))?;
    Ok(dir)
}

/// A container's lower dirs: its image's layers, then the engine's own on top.
pub fn with_engine_layer(mut layers: Vec<PathBuf>, store: &Path) -> Result<Vec<PathBuf>> {
    layers.push(engine_layer(store)?);
    Ok(layers)
}

/// Split mount options into flags and the filesystem's own data string.
pub fn parse_options(options: &[String]) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in options {
        match opt.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags.remove(MsFlags::MS_RDONLY),
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "strictatime" => flags |= MsFlags::MS_STRICTATIME,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

fn mount_fd(
    source: &str,
    target: &OwnedFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    mount(
        Some(source),
        inroot::fd_path(target).as_str(),
        fstype,
        flags,
        data,
    )
}

/// Set up the root filesystem and pivot into it. Runs in the container's first process, in its
/// new mount namespace, before anything of the container runs.
pub fn setup(plan: &RootfsPlan, console: Option<&str>) -> Result<()> {
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("make / private")?;

    mount_overlay(plan).with_context(|| format!("mount overlay on {}", plan.merged.display()))?;
    let root = nix::fcntl::open(
        &plan.merged,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open container root")?;

    let (binds, special): (Vec<&Mount>, Vec<&Mount>) = plan
        .mounts
        .iter()
        .partition(|m| m.typ().as_deref() == Some("bind"));
    for m in special {
        mount_special(root.as_fd(), m)?;
    }
    populate_dev(root.as_fd())?;
    for m in binds {
        bind_volume(root.as_fd(), m)?;
    }
    for (source, target) in &plan.files {
        let fd = inroot::mount_target(root.as_fd(), target, false)?;
        mount_fd(
            &source.display().to_string(),
            &fd,
            None,
            MsFlags::MS_BIND,
            None,
        )
        .with_context(|| format!("bind {target}"))?;
    }

    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the
    // container's tree (pivot_root(2), "pivot_root(".", ".")").
    nix::unistd::fchdir(&root).context("chdir to container root")?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    umount2(".", MntFlags::MNT_DETACH).context("detach old root")?;
    nix::unistd::chdir("/").context("chdir /")?;

    if let Some(pts) = console {
        bind_console(pts)?;
    }
    for path in &plan.masked {
        mask(path)?;
    }
    for path in &plan.readonly {
        make_readonly(path)?;
    }
    Ok(())
}

/// The container's overlay on `plan.merged`. Unmounting an overlay syncs its whole upper
/// filesystem (the host's, here) unless it is volatile: for a `--rm` container that sync is
/// skipped. An older kernel without `volatile` (EINVAL) gets the ordinary mount; so does a
/// container whose earlier volatile mount was cut short by a crash (overlayfs then leaves
/// `work/work/incompat/volatile` behind and refuses a new mount until it is removed).
fn mount_overlay(plan: &RootfsPlan) -> Result<(), Errno> {
    let options = overlay_options(plan);
    let attempt = |data: &str| {
        mount(
            Some("overlay"),
            &plan.merged,
            Some("overlay"),
            MsFlags::MS_NODEV,
            Some(data),
        )
    };
    if !plan.volatile {
        return attempt(&options);
    }
    let volatile = format!("{options},volatile");
    match attempt(&volatile) {
        Err(Errno::EINVAL) => {}
        other => return other,
    }
    let marker = plan.work.join("work/incompat/volatile");
    if std::fs::remove_dir_all(&marker).is_ok() && attempt(&volatile).is_ok() {
        return Ok(());
    }
    attempt(&options)
}

/// A `-v HOST:CTR[:ro]` bind mount. The container path is resolved inside the container's root
/// (openat2 RESOLVE_IN_ROOT: a symlink there cannot lead out of it) and made, as a directory or
/// an empty file like the source, when missing. Read-only binds are remounted read-only (a bind
/// mount takes its flags only from a remount, mount(2)).
fn bind_volume(root: BorrowedFd<'_>, m: &Mount) -> Result<()> {
    let dest = m.destination().to_string_lossy().into_owned();
    let source = m.source().clone().unwrap_or_default();
    let is_dir = std::fs::metadata(&source)
        .with_context(|| format!("volume source {}", source.display()))?
        .is_dir();
    let target = inroot::mount_target(root, &dest, is_dir)?;
    check_not_over_proc(root, &target, &source).with_context(|| format!("volume on {dest}"))?;
    let options = m.options().clone().unwrap_or_default();
    let empty = || std::fs::read_dir(&source).is_ok_and(|mut d| d.next().is_none());
    if is_dir && options.iter().any(|o| o == "copyup") && empty() {
        // A volume's first use: it starts as a copy of what the image has there.
        super::volume::copy_up(target.as_fd(), &source)
            .with_context(|| format!("copy {dest} into its volume"))?;
    }
    let source = source.to_string_lossy().into_owned();
    mount_fd(
        &source,
        &target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .with_context(|| format!("bind {source} on {dest}"))?;
    let readonly = options.iter().any(|o| o == "ro");
    if readonly {
        // The target fd names the directory under the new mount: reopen to reach the mount.
        let mounted =
            inroot::open(root, &dest, OFlag::O_PATH).with_context(|| format!("open {dest}"))?;
        mount_fd(
            "none",
            &mounted,
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None,
        )
        .with_context(|| format!("make {dest} read-only"))?;
    }
    Ok(())
}

/// The container path a resolved volume target really is, checked as `-v` checked the path it
/// was given: an image's `/data -> /proc/sys` leads a volume into /proc as surely as
/// `-v X:/proc/sys` (runc checks the resolved destination too). Only a target on a procfs needs
/// the look: /proc is already mounted, and nothing else in the root is a procfs.
fn check_not_over_proc(root: BorrowedFd<'_>, target: &OwnedFd, source: &Path) -> Result<()> {
    let on_proc = nix::sys::statfs::fstatfs(target)
        .context("statfs")?
        .filesystem_type()
        == nix::sys::statfs::PROC_SUPER_MAGIC;
    if !on_proc {
        return Ok(());
    }
    let root_path = std::fs::read_link(inroot::fd_path(&root)).context("read container root")?;
    let resolved = std::fs::read_link(inroot::fd_path(target)).context("read target path")?;
    let inside = resolved
        .strip_prefix(&root_path)
        .map_err(|_| anyhow!("{} is outside the container", resolved.display()))?;
    let dest = format!("/{}", inside.display());
    super::volume::check_proc_destination(&dest, || super::volume::is_procfs(source))
}

/// One of the standard filesystems. Its target must be an ordinary directory: a symlink there
/// (say `/proc -> /somewhere`) is refused (CVE-2019-19921).
fn mount_special(root: BorrowedFd<'_>, m: &Mount) -> Result<()> {
    let dest = m.destination().to_string_lossy().into_owned();
    let target = match inroot::open_no_symlinks(root, &dest, OFlag::O_PATH | OFlag::O_DIRECTORY) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            inroot::mkdir_all(root, &dest, 0o755)?;
            inroot::open_no_symlinks(root, &dest, OFlag::O_PATH | OFlag::O_DIRECTORY)
                .with_context(|| format!("open {dest}"))?
        }
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            bail!("{dest} must be mounted on an ordinary directory")
        }
        Err(e) => return Err(e).with_context(|| format!("open {dest}")),
    };
    let (flags, data) = parse_options(m.options().as_deref().unwrap_or_default());
    let source = m
        .source()
        .as_ref()
        .map_or_else(|| "none".into(), |s| s.to_string_lossy().into_owned());
    let fstype = m.typ().as_deref();
    mount_fd(
        &source,
        &target,
        fstype,
        flags,
        (!data.is_empty()).then_some(data.as_str()),
    )
    .with_context(|| format!("mount {} on {dest}", fstype.unwrap_or("bind")))
}

/// The standard device nodes (bind mounts of the host's, so the tmpfs itself can stay `nodev`)
/// and the usual links in the container's fresh /dev.
fn populate_dev(root: BorrowedFd<'_>) -> Result<()> {
    let dev = inroot::open_no_symlinks(root, "/dev", OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .context("open /dev")?;
    for name in DEVICES {
        // The fd of the file just created (O_EXCL) is the mount target itself.
        let target = inroot::create_new(dev.as_fd(), name, 0o666)
            .with_context(|| format!("create /dev/{name}"))?;
        mount_fd(
            &format!("/dev/{name}"),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
        )
        .with_context(|| format!("bind /dev/{name}"))?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ] {
        nix::unistd::symlinkat(target, dev.as_fd(), link)
            .with_context(|| format!("link /dev/{link}"))?;
    }
    Ok(())
}

/// With a terminal, /dev/console is the container's pty (as Docker does).
fn bind_console(pts: &str) -> Result<()> {
    let fd = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open("/dev/console")
        .context("create /dev/console")?;
    drop(fd);
    mount(
        Some(pts),
        "/dev/console",
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .context("bind /dev/console")
}

/// Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory.
fn mask(path: &str) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("stat {path}")),
    };
    let res = if meta.is_dir() {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0"),
        )
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    res.with_context(|| format!("mask {path}"))
}

/// Bind a path onto itself and make that read-only, keeping proc's nosuid/nodev/noexec.
fn make_readonly(path: &str) -> Result<()> {
    match mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("bind {path}")),
    }
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .with_context(|| format!("make {path} read-only"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_lowers_are_highest_first() {
        let plan = RootfsPlan {
            layers: vec!["/s/l/base".into(), "/s/l/top".into()],
            upper: "/c/upper".into(),
            work: "/c/work".into(),
            merged: "/c/merged".into(),
            mounts: vec![],
            files: vec![],
            masked: vec![],
            readonly: vec![],
            volatile: false,
        };
        assert_eq!(
            overlay_options(&plan),
            "lowerdir=/s/l/top:/s/l/base,upperdir=/c/upper,workdir=/c/work"
        );
    }

    #[test]
    fn options_split_into_flags_and_data() {
        let opts: Vec<String> = ["nosuid", "ro", "mode=755", "size=64k"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (flags, data) = parse_options(&opts);
        assert_eq!(flags, MsFlags::MS_NOSUID | MsFlags::MS_RDONLY);
        assert_eq!(data, "mode=755,size=64k");
    }
}

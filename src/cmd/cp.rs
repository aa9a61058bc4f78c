//! `berth cp`: Docker's path rules (`dir` vs `dir/` vs `dir/.`, existing or new destination,
//! file onto directory), carried out by [`crate::container::copy`] inside the container's root:
//! `/proc/PID/root` of a running container, or its overlay mounted in a private mount namespace
//! of a short-lived child for one that is not running (the mount vanishes with the child and is
//! never seen on the host). Every error exits 1, as Docker's CLI does.

use crate::cli::cp::{CpArgs, CpRequest};
use crate::container::copy::{self, DirSink, LinkCheck, Start, TarSink, Walker};
use crate::container::rootfs::{self, RootfsPlan};
use crate::container::state::{self, ContainerDir};
use crate::error::{coded, one_line, NotFound};
use crate::fs::inroot;
use crate::image::store::Store;
use crate::sys::process::{clone_fork, exit_now, Forked};
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Docker's CLI exit code for a failed copy.
const EXIT_CP: i32 = 1;

pub fn cp(root: &Path, args: &CpArgs) -> Result<i32> {
    let result = (|| -> Result<()> {
        let req = args.request()?;
        let name = match &req {
            CpRequest::Out { container, .. } | CpRequest::In { container, .. } => container,
        };
        let path = match &req {
            CpRequest::Out { src, .. } => src,
            CpRequest::In { dst, .. } => dst,
        };
        let container = match state::resolve(root, name) {
            Ok(c) => c,
            Err(e) if e.downcast_ref::<NotFound>().is_some() => {
                bail!("No such container:path: {name}:{path}")
            }
            Err(e) => return Err(e),
        };
        let opts = Options {
            archive: args.archive,
            follow: args.follow_link,
            name: name.clone(),
        };
        with_container_root(root, &container, |ct_root| match &req {
            CpRequest::Out { src, dst, .. } => copy_out(&ct_root, src, dst.as_deref(), &opts),
            CpRequest::In { src, dst, .. } => copy_in(&ct_root, src.as_deref(), dst, &opts),
        })
    })();
    match result {
        Ok(()) => Ok(0),
        Err(e) => Err(coded(EXIT_CP, one_line(&e))),
    }
}

struct Options {
    archive: bool,
    follow: bool,
    /// The container as the user named it (for messages).
    name: String,
}

/// Run `f` with a dirfd of the container's root filesystem.
fn with_container_root(
    root: &Path,
    container: &ContainerDir,
    f: impl FnOnce(OwnedFd) -> Result<()>,
) -> Result<()> {
    let record = container.load_state()?;
    if record.is_running() {
        if let Some(fd) = running_root(&record)? {
            return f(fd);
        }
    }
    // Not running: its overlay, mounted in a child's private mount namespace.
    let image = Store::open(root)?
        .resolve_image(&record.image_id)
        .with_context(|| format!("image of container {}", container.id))?;
    let plan = RootfsPlan {
        layers: rootfs::with_engine_layer(image.layer_dirs, root)?,
        upper: container.upper(),
        work: container.work(),
        merged: container.merged(),
        mounts: Vec::new(),
        files: Vec::new(),
        masked: Vec::new(),
        readonly: Vec::new(),
        volatile: false,
    };
    let options = rootfs::overlay_options(&plan);
    in_private_mount_ns(|| {
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .context("make / private")?;
        nix::mount::mount(
            Some("overlay"),
            &plan.merged,
            Some("overlay"),
            nix::mount::MsFlags::MS_NODEV,
            Some(options.as_str()),
        )
        .with_context(|| format!("mount the filesystem of container {}", container.id))?;
        let fd = nix::fcntl::open(
            &plan.merged,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .context("open container root")?;
        f(fd)
    })
}

/// `/proc/PID/root` of the running container's PID 1, if it is still the recorded process.
fn running_root(record: &state::State) -> Result<Option<OwnedFd>> {
    let (Some(pid), Some(start)) = (record.pid, record.pid_start) else {
        return Ok(None);
    };
    let Ok(pidfd) = crate::sys::process::pidfd_open(pid) else {
        return Ok(None);
    };
    let fd = match nix::fcntl::open(
        format!("/proc/{pid}/root").as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ESRCH) => return Ok(None),
        Err(e) => return Err(e).context("open the container's root"),
    };
    // The pidfd pinned the process: if it still runs and started then, /proc/PID was its.
    if crate::sys::process::pidfd_send_signal(pidfd.as_raw_fd(), 0).is_err()
        || state::process_start_time(pid) != Some(start)
    {
        return Ok(None);
    }
    Ok(Some(fd))
}

/// Run `f` in a forked child in a new mount namespace; its error comes back as one line.
fn in_private_mount_ns(f: impl FnOnce() -> Result<()>) -> Result<()> {
    let (mut reader, writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map(|(r, w)| (std::fs::File::from(r), w))
        .context("create pipe")?;
    match clone_fork(libc::CLONE_NEWNS as u64, None).context("fork copy process")? {
        Forked::Child => {
            drop(reader);
            let code = match f() {
                Ok(()) => 0,
                Err(e) => {
                    let mut w = std::fs::File::from(writer);
                    let _ = w.write_all(one_line(&e).as_bytes());
                    EXIT_CP
                }
            };
            exit_now(code);
        }
        Forked::Parent { pidfd, .. } => {
            drop(writer);
            let mut message = String::new();
            let _ = reader.read_to_string(&mut message);
            let code = crate::container::supervise::reap(pidfd.as_fd())?;
            match (code, message.is_empty()) {
                (0, _) => Ok(()),
                (_, false) => Err(anyhow!(message)),
                (code, true) => Err(anyhow!("copy process failed with status {code}")),
            }
        }
    }
}

/// The parts of a `cp` path: `dir/.` means "its content"; a trailing `/` follows a symlink and
/// requires a directory.
struct PathForm<'a> {
    /// Without the trailing `/.` or `/` (`/` stays `/`).
    trimmed: &'a str,
    contents: bool,
    slash: bool,
}

fn path_form(path: &str) -> PathForm<'_> {
    let contents = path.ends_with("/.") || path == "." || path == "/";
    let slash = path.ends_with('/') || contents;
    let mut trimmed = path;
    while trimmed.len() > 1 && (trimmed.ends_with("/.") || trimmed.ends_with('/')) {
        trimmed = trimmed
            .strip_suffix("/.")
            .or_else(|| trimmed.strip_suffix('/'))
            .unwrap_or(trimmed);
    }
    if trimmed.is_empty() {
        trimmed = "/";
    }
    PathForm {
        trimmed,
        contents,
        slash,
    }
}

/// `a/b/c` → (`a/b`, `c`); `c` → (`.`, `c`); `/c` → (`/`, `c`).
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((parent, name)) => (parent, name),
        None => (".", path),
    }
}

fn is_dir(st: &nix::sys::stat::FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Where the copy lands: the directory it is written in and the top-level name (None: only
/// the source's children, `dir/.` into an existing directory).
struct Landing {
    base: String,
    name: Option<String>,
}

/// Docker's rules for the destination, given what exists there (`dst_stat`: None when
/// missing) and the source (a directory or not, `dir/.` or not).
fn landing(
    dst: &str,
    dst_stat: Option<bool>,
    src: &PathForm<'_>,
    src_is_dir: bool,
) -> Result<Landing> {
    let form = path_form(dst);
    let src_name = split(src.trimmed).1.to_string();
    match dst_stat {
        Some(true) => Ok(Landing {
            base: form.trimmed.to_string(),
            name: if src.contents || src.trimmed == "/" {
                None
            } else {
                Some(src_name)
            },
        }),
        Some(false) => {
            if form.slash {
                bail!("{dst}: not a directory");
            }
            if src_is_dir {
                bail!("cannot copy directory {} onto file {dst}", src.trimmed);
            }
            let (parent, name) = split(form.trimmed);
            Ok(Landing {
                base: parent.to_string(),
                name: Some(name.to_string()),
            })
        }
        None => {
            if form.slash && !src_is_dir {
                bail!("no such directory: {dst}");
            }
            let (parent, name) = split(form.trimmed);
            Ok(Landing {
                base: parent.to_string(),
                name: Some(name.to_string()),
            })
        }
    }
}

/// Out of the container: to a local path, or as a tar stream on stdout (`dst` None).
fn copy_out(ct_root: &OwnedFd, src: &str, dst: Option<&str>, opts: &Options) -> Result<()> {
    let src_path = if src.is_empty() { "/" } else { src };
    let form = path_form(src_path);
    let missing = || anyhow!("No such container:path: {}:{}", opts.name, src_path);
    // The parent is resolved inside the root; the name itself is not followed unless asked.
    let parent_fd;
    let (parent, name) = split(form.trimmed);
    let start = if form.trimmed == "/" || form.slash || opts.follow {
        Start::Followed {
            root: ct_root.as_fd(),
            path: form.trimmed,
        }
    } else {
        parent_fd = match inroot::open(ct_root.as_fd(), parent, OFlag::O_PATH | OFlag::O_DIRECTORY)
        {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Err(missing()),
            Err(e) => return Err(e).with_context(|| format!("open {parent}")),
        };
        Start::Named {
            parent: parent_fd.as_fd(),
            name,
        }
    };
    let st = match start.stat() {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Err(missing()),
        Err(Errno::ENOTDIR) => bail!("{src_path}: not a directory"),
        Err(e) => return Err(e).with_context(|| format!("stat {src_path}")),
    };
    let src_is_dir = is_dir(&st);
    if form.slash && !src_is_dir {
        bail!("{src_path}: not a directory");
    }
    let Some(dst) = dst else {
        let stdout =
            std::fs::File::from(nix::unistd::dup(std::io::stdout()).context("dup stdout")?);
        let mut sink = TarSink::new(std::io::BufWriter::with_capacity(1 << 20, stdout));
        let top = if form.trimmed == "/" { "." } else { name };
        return copy::run(&mut sink, |s| Walker::new(s).copy(&start, Some(top)));
    };
    let dst_stat = match std::fs::metadata(dst) {
        Ok(m) => Some(m.is_dir()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("stat {dst}")),
    };
    let land = landing(dst, dst_stat, &form, src_is_dir)?;
    let base = match nix::fcntl::open(
        land.base.as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENOTDIR) => {
            bail!(
                "invalid output path: directory {:?} does not exist",
                land.base
            )
        }
        Err(e) => return Err(e).with_context(|| format!("open {}", land.base)),
    };
    // A link that climbs out of the destination fails the copy, as with Docker (see
    // copy::check_link). A new top-level item is written under a temporary name and removed on
    // failure; entries merged into an existing directory go in place one by one, so such a copy
    // is checked whole first.
    let shown = shown_path(&land.base);
    let merges = match &land.name {
        None => true,
        Some(name) => nix::sys::stat::fstatat(&base, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .is_ok_and(|st| is_dir(&st)),
    };
    if merges {
        let mut check = LinkCheck { shown: &shown };
        Walker::without_contents(&mut check).copy(&start, land.name.as_deref())?;
    }
    let mut sink = DirSink::new(base, "/", opts.archive).refusing_links_out(&shown);
    copy::run(&mut sink, |s| {
        Walker::new(s).copy(&start, land.name.as_deref())
    })
}

/// A local directory as Docker's CLI names it in errors: absolute and cleaned (its cp makes the
/// destination absolute with Go's filepath.Abs).
fn shown_path(dir: &str) -> String {
    use std::path::Component;
    let abs = std::path::absolute(dir).unwrap_or_else(|_| Path::new(dir).to_path_buf());
    let mut parts = Vec::new();
    for comp in abs.components() {
        match comp {
            Component::Normal(name) => parts.push(name.to_string_lossy()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// Into the container: from a local path, or from a tar stream on stdin (`src` None).
fn copy_in(ct_root: &OwnedFd, src: Option<&str>, dst: &str, opts: &Options) -> Result<()> {
    let dst_path = if dst.is_empty() { "/" } else { dst };
    let dst_stat = match inroot::open(ct_root.as_fd(), dst_path, OFlag::O_PATH) {
        Ok(fd) => Some(is_dir(
            &nix::sys::stat::fstat(&fd).context("stat destination")?,
        )),
        Err(Errno::ENOENT) => None,
        Err(Errno::ENOTDIR) => bail!("{dst_path}: not a directory"),
        Err(e) => return Err(e).with_context(|| format!("open {dst_path}")),
    };
    let ct_root_dup = || ct_root.try_clone().context("dup container root fd");
    let Some(src) = src else {
        if dst_stat != Some(true) {
            bail!(
                "destination \"{}:{dst_path}\" must be a directory",
                opts.name
            );
        }
        let mut sink = DirSink::new(ct_root_dup()?, dst_path, opts.archive);
        return copy::run(&mut sink, |s| copy::untar(std::io::stdin().lock(), s));
    };
    let form = path_form(src);
    // The local side is the user's own: paths resolve as usual (a trailing / or -L follows).
    let resolved;
    let local = if form.slash || opts.follow {
        resolved = std::fs::canonicalize(form.trimmed).map_err(|e| local_error(form.trimmed, e))?;
        resolved
            .to_str()
            .ok_or_else(|| anyhow!("{src}: not UTF-8"))?
    } else {
        form.trimmed
    };
    let (parent, name) = split(local);
    let parent_fd = nix::fcntl::open(
        parent,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| local_error(local, std::io::Error::from(e)))?;
    let start = if name == "." || name == ".." || local == "/" {
        Start::Followed {
            root: parent_fd.as_fd(),
            path: name,
        }
    } else {
        Start::Named {
            parent: parent_fd.as_fd(),
            name,
        }
    };
    let st = start
        .stat()
        .map_err(|e| local_error(local, std::io::Error::from(e)))?;
    let src_is_dir = is_dir(&st);
    if form.slash && !src_is_dir {
        bail!("{src}: not a directory");
    }
    let land = landing(dst_path, dst_stat, &form, src_is_dir)?;
    match inroot::open(
        ct_root.as_fd(),
        &land.base,
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    ) {
        Ok(_) => {}
        Err(Errno::ENOENT | Errno::ENOTDIR) => {
            bail!("No such container:path: {}:{}", opts.name, land.base)
        }
        Err(e) => return Err(e).with_context(|| format!("open {}", land.base)),
    }
    let mut sink = DirSink::new(ct_root_dup()?, &land.base, opts.archive);
    copy::run(&mut sink, |s| {
        Walker::new(s).copy(&start, land.name.as_deref())
    })
}

fn local_error(path: &str, e: std::io::Error) -> anyhow::Error {
    let abs = std::path::absolute(path)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.to_string());
    anyhow!("lstat {abs}: {}", io_text(&e))
}

/// `No such file or directory (os error 2)` → `no such file or directory`.
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_forms() {
        let f = path_form("/d/.");
        assert_eq!((f.trimmed, f.contents, f.slash), ("/d", true, true));
        let f = path_form("/d/");
        assert_eq!((f.trimmed, f.contents, f.slash), ("/d", false, true));
        let f = path_form("/d");
        assert_eq!((f.trimmed, f.contents, f.slash), ("/d", false, false));
        let f = path_form("/");
        assert_eq!((f.trimmed, f.contents, f.slash), ("/", true, true));
        assert_eq!(split("/f"), ("/", "f"));
        assert_eq!(split("f"), (".", "f"));
        assert_eq!(split("a/b/c"), ("a/b", "c"));
    }

    #[test]
    fn shown_paths_are_absolute_and_clean() {
        assert_eq!(shown_path("/a/./b/../c/"), "/a/c");
        assert_eq!(shown_path("/"), "/");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(shown_path("."), cwd.to_string_lossy());
        assert_eq!(shown_path("x/.."), cwd.to_string_lossy());
    }

    #[test]
    fn landing_rules() {
        let dir = path_form("/d");
        let dir_dot = path_form("/d/.");
        let file = path_form("/f");
        let l = landing("out", Some(true), &dir, true).unwrap();
        assert_eq!((l.base.as_str(), l.name.as_deref()), ("out", Some("d")));
        let l = landing("out", Some(true), &dir_dot, true).unwrap();
        assert_eq!((l.base.as_str(), l.name), ("out", None));
        let l = landing("x/new", None, &dir_dot, true).unwrap();
        assert_eq!((l.base.as_str(), l.name.as_deref()), ("x", Some("new")));
        assert!(landing("file", Some(false), &dir, true).is_err());
        assert!(landing("file/", Some(false), &file, false).is_err());
        assert!(landing("new/", None, &file, false).is_err());
        let l = landing("new/", None, &dir, true).unwrap();
        assert_eq!((l.base.as_str(), l.name.as_deref()), (".", Some("new")));
    }
}

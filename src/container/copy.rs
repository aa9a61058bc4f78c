//! Copying trees into and out of a container without ever leaving its root (`berth cp`).
//!
//! A copy is a source that yields entries (directories, files, symlinks, hard links, special
//! files, with their metadata) and a sink that writes them. Sources: a tree walked fd by fd, or
//! a tar stream. Sinks: a directory, or a tar stream on stdout.
//!
//! Safety (the container is hostile and may be running and racing us, CVE-2018-15664,
//! CVE-2019-10152, CVE-2021-41089): on the container side every path is resolved by the kernel
//! inside the container's root (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, see
//! [`crate::fs::inroot`]); below the top of the copy, every name is opened relative to its parent
//! directory fd with O_NOFOLLOW and checked against the inode it was listed as; metadata is set
//! through fds only, never by name (a fifo, device node or symlink through an O_PATH fd of the
//! node just made, checked to be it). A symlink swapped in at any moment is followed inside the
//! root, or not at all. Nothing from the container is executed or loaded
//! (CVE-2019-14271, CVE-2026-41567): compressed input is decompressed in-process (gzip only).
//!
//! Nothing partial is left at the destination: every file is written under a temporary name
//! and renamed into place, and a new top-level directory is built under a temporary name and
//! renamed once complete (on error it is removed).

use crate::fs::inroot;
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink(Vec<u8>),
    /// A hard link to an entry copied earlier (its path in the copy).
    Hardlink(String),
    Fifo,
    Char(u64),
    Block(u64),
}

/// Metadata of an entry.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Permission bits, with setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
}

impl Meta {
    fn of(st: &FileStat) -> Meta {
        Meta {
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            mtime: (st.st_mtime, st.st_mtime_nsec),
        }
    }
}

/// A file's content.
pub enum Data<'a> {
    None,
    /// A file of a tree (copied with copy_file_range by `std::io::copy`).
    File(&'a mut File),
    Reader(&'a mut dyn Read),
}

/// Where entries go. Paths are relative (`top/sub/name`); the first component names the
/// top-level item, written in one piece.
pub trait Sink {
    fn entry(&mut self, path: &str, kind: &Kind, meta: &Meta, data: Data<'_>) -> Result<()>;
    /// Complete the copy (rename the last top-level item into place, flush a stream).
    fn finish(&mut self) -> Result<()>;
    /// Undo what is not complete after a failure.
    fn abort(&mut self);
}

/// Where a tree to copy starts: a name in a directory (not followed if a symlink), or a path
/// under a root, resolved inside it with the final symlink followed (`-L`, `dir/`).
pub enum Start<'a> {
    Named {
        parent: BorrowedFd<'a>,
        name: &'a str,
    },
    Followed {
        root: BorrowedFd<'a>,
        path: &'a str,
    },
}

impl Start<'_> {
    /// lstat (Named) or stat inside the root (Followed).
    pub fn stat(&self) -> Result<FileStat, Errno> {
        match self {
            Start::Named { parent, name } => {
                nix::sys::stat::fstatat(*parent, *name, AtFlags::AT_SYMLINK_NOFOLLOW)
            }
            Start::Followed { root, path } => {
                let fd = inroot::open(*root, path, OFlag::O_PATH)?;
                nix::sys::stat::fstat(&fd)
            }
        }
    }

    fn open(&self, flags: OFlag) -> Result<OwnedFd, Errno> {
        match self {
            Start::Named { parent, name } => open_at(*parent, name, flags),
            Start::Followed { root, path } => inroot::open(*root, path, flags),
        }
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        match self {
            Start::Named { parent, name } => {
                nix::fcntl::readlinkat(*parent, *name).map(|s| s.as_bytes().to_vec())
            }
            Start::Followed { .. } => Err(Errno::EINVAL),
        }
    }
}

fn open_at(dir: BorrowedFd<'_>, name: &str, flags: OFlag) -> Result<OwnedFd, Errno> {
    nix::fcntl::openat(
        dir,
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Walks a tree fd by fd and feeds a sink.
pub struct Walker<'s> {
    sink: &'s mut dyn Sink,
    /// (dev, ino) of files with several links → their path in the copy.
    links: HashMap<(u64, u64), String>,
    /// Whether files are opened and handed over with their content.
    contents: bool,
}

impl<'s> Walker<'s> {
    pub fn new(sink: &'s mut dyn Sink) -> Walker<'s> {
        Walker {
            sink,
            links: HashMap::new(),
            contents: true,
        }
    }

    /// A walker that hands files over without their content (`Data::None`), for a sink that
    /// only checks names and links.
    pub fn without_contents(sink: &'s mut dyn Sink) -> Walker<'s> {
        Walker {
            contents: false,
            ..Walker::new(sink)
        }
    }

    /// Copy the tree at `start` as `path` (its top-level name in the copy), or only its
    /// children when `path` is None (`dir/.` into an existing directory).
    pub fn copy(&mut self, start: &Start<'_>, path: Option<&str>) -> Result<()> {
        let st = start.stat().context("stat source")?;
        match path {
            Some(path) => self.item(start, &st, path),
            None => {
                let dir = open_checked(start, &st, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                self.children(dir, "")
            }
        }
    }

    fn item(&mut self, at: &Start<'_>, st: &FileStat, path: &str) -> Result<()> {
        let meta = Meta::of(st);
        let fmt = st.st_mode & libc::S_IFMT;
        match fmt {
            libc::S_IFDIR => {
                let dir = open_checked(at, st, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                self.sink.entry(path, &Kind::Dir, &meta, Data::None)?;
                self.children(dir, path)
            }
            libc::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        let kind = Kind::Hardlink(first.clone());
                        return self.sink.entry(path, &kind, &meta, Data::None);
                    }
                    self.links.insert(key, path.to_string());
                }
                if !self.contents {
                    return self.sink.entry(path, &Kind::File, &meta, Data::None);
                }
                // O_NONBLOCK: if a fifo is swapped in, the open must not hang (it then fails
                // the inode check).
                let fd = open_checked(at, st, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
                let mut file = File::from(fd);
                self.sink
                    .entry(path, &Kind::File, &meta, Data::File(&mut file))
            }
            libc::S_IFLNK => {
                let target = at.readlink().with_context(|| format!("readlink {path}"))?;
                self.sink
                    .entry(path, &Kind::Symlink(target), &meta, Data::None)
            }
            libc::S_IFIFO => self.sink.entry(path, &Kind::Fifo, &meta, Data::None),
            libc::S_IFCHR => self
                .sink
                .entry(path, &Kind::Char(st.st_rdev), &meta, Data::None),
            libc::S_IFBLK => self
                .sink
                .entry(path, &Kind::Block(st.st_rdev), &meta, Data::None),
            // Sockets cannot be copied (tar skips them too).
            _ => Ok(()),
        }
    }

    fn children(&mut self, dir: OwnedFd, path: &str) -> Result<()> {
        let listing = dir.try_clone().context("dup directory fd")?;
        let mut names: Vec<Vec<u8>> = nix::dir::Dir::from_fd(listing)
            .with_context(|| format!("read directory {}", display(path)))?
            .into_iter()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_bytes().to_vec())
            .filter(|n| n != b"." && n != b"..")
            .collect();
        names.sort();
        for name in names {
            let name = String::from_utf8(name)
                .map_err(|n| anyhow!("file name {:?} is not UTF-8", n.as_bytes()))?;
            let child = Start::Named {
                parent: dir.as_fd(),
                name: &name,
            };
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}/{name}")
            };
            let st = match child.stat() {
                Ok(st) => st,
                // Gone since the listing (a running container): nothing to copy.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(e).with_context(|| format!("stat {child_path}")),
            };
            self.item(&child, &st, &child_path)?;
        }
        Ok(())
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() {
        "."
    } else {
        path
    }
}

/// Open what was listed and check it is still the same inode (it may have been swapped).
fn open_checked(at: &Start<'_>, st: &FileStat, flags: OFlag) -> Result<OwnedFd> {
    let fd = at.open(flags).context("open source")?;
    let now = nix::sys::stat::fstat(&fd).context("stat source")?;
    if now.st_ino != st.st_ino || now.st_dev != st.st_dev {
        bail!("source changed during the copy");
    }
    Ok(fd)
}

// --- tar stream in ------------------------------------------------------------------------------

/// Feed a tar stream (plain or gzip) to a sink. Names are cleaned: leading `/` and `./` go,
/// `..` is refused; hard links must name an entry of the same stream.
pub fn untar(input: impl Read, sink: &mut dyn Sink) -> Result<()> {
    let mut input = BufReader::with_capacity(256 * 1024, input);
    let head = input.fill_buf().context("read archive")?.to_vec();
    let reader: Box<dyn Read> = match compression(&head) {
        Some("gzip") => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Some(other) => bail!(
            "{other}-compressed archives are not supported: decompress it first (berth runs no \
             external decompressor)"
        ),
        None => Box::new(input),
    };
    let mut archive = tar::Archive::new(reader);
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for entry in archive.entries().context("read archive")? {
        let mut entry = entry.context("read archive")?;
        let Some(path) = clean_name(&entry.path_bytes())? else {
            continue;
        };
        let header = entry.header();
        let meta = Meta {
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            uid: header.uid().unwrap_or(0) as u32,
            gid: header.gid().unwrap_or(0) as u32,
            mtime: (header.mtime().unwrap_or(0) as i64, 0),
        };
        let dev = || {
            let major = header.device_major().ok().flatten().unwrap_or(0);
            let minor = header.device_minor().ok().flatten().unwrap_or(0);
            nix::sys::stat::makedev(u64::from(major), u64::from(minor))
        };
        let link = || -> Result<Vec<u8>> {
            Ok(entry
                .link_name_bytes()
                .ok_or_else(|| anyhow!("archive entry {path}: link without a target"))?
                .into_owned())
        };
        use tar::EntryType;
        let kind = match header.entry_type() {
            EntryType::Directory => Kind::Dir,
            EntryType::Regular | EntryType::Continuous => Kind::File,
            EntryType::Symlink => Kind::Symlink(link()?),
            EntryType::Link => {
                let target = clean_name(&link()?)?
                    .filter(|t| seen.contains(t))
                    .ok_or_else(|| {
                        anyhow!("archive entry {path}: hard link to an entry not in the archive")
                    })?;
                Kind::Hardlink(target)
            }
            EntryType::Fifo => Kind::Fifo,
            EntryType::Char => Kind::Char(dev()),
            EntryType::Block => Kind::Block(dev()),
            // pax headers, GNU long names are handled by the parser; other types are skipped.
            _ => continue,
        };
        seen.insert(path.clone());
        if kind == Kind::File {
            sink.entry(&path, &kind, &meta, Data::Reader(&mut entry))?;
        } else {
            sink.entry(&path, &kind, &meta, Data::None)?;
        }
    }
    Ok(())
}

/// The compression a stream starts with, by its magic number.
pub fn compression(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("gzip")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else if head.starts_with(b"BZh") {
        Some("bzip2")
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else {
        None
    }
}

/// `./a//b/` → `a/b`; `/` and `.` → None (the destination itself); `..` anywhere is refused.
pub fn clean_name(raw: &[u8]) -> Result<Option<String>> {
    let text =
        std::str::from_utf8(raw).map_err(|_| anyhow!("archive entry name {raw:?} is not UTF-8"))?;
    let mut parts = Vec::new();
    for comp in text.split('/') {
        match comp {
            "" | "." => {}
            ".." => bail!("archive entry {text:?} leads out of the destination"),
            c => parts.push(c),
        }
    }
    Ok(if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    })
}

// --- tar stream out -----------------------------------------------------------------------------

/// Writes entries as a tar stream (Docker's `cp CONTAINER:PATH -`).
pub struct TarSink<W: Write> {
    builder: tar::Builder<W>,
}

impl<W: Write> TarSink<W> {
    pub fn new(out: W) -> TarSink<W> {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        TarSink { builder }
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn entry(&mut self, path: &str, kind: &Kind, meta: &Meta, data: Data<'_>) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_mode(meta.mode);
        header.set_uid(u64::from(meta.uid));
        header.set_gid(u64::from(meta.gid));
        header.set_mtime(meta.mtime.0.max(0) as u64);
        header.set_size(0);
        let out = &mut self.builder;
        let result = match kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                out.append_data(&mut header, format!("{path}/"), std::io::empty())
            }
            Kind::File => {
                header.set_entry_type(tar::EntryType::Regular);
                match data {
                    Data::File(f) => {
                        let len = f.metadata().context("stat source")?.len();
                        header.set_size(len);
                        out.append_data(&mut header, path, f.take(len))
                    }
                    Data::Reader(_) | Data::None => bail!("file {path} without content"),
                }
            }
            Kind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                out.append_link(&mut header, path, OsStr::from_bytes(target))
            }
            Kind::Hardlink(first) => {
                header.set_entry_type(tar::EntryType::Link);
                out.append_link(&mut header, path, first)
            }
            Kind::Fifo | Kind::Char(_) | Kind::Block(_) => {
                let (t, dev) = match kind {
                    Kind::Fifo => (tar::EntryType::Fifo, 0),
                    Kind::Char(d) => (tar::EntryType::Char, *d),
                    _ => (
                        tar::EntryType::Block,
                        match kind {
                            Kind::Block(d) => *d,
                            _ => 0,
                        },
                    ),
                };
                header.set_entry_type(t);
                header.set_device_major(nix::sys::stat::major(dev) as u32)?;
                header.set_device_minor(nix::sys::stat::minor(dev) as u32)?;
                out.append_data(&mut header, path, std::io::empty())
            }
        };
        result.with_context(|| format!("write archive entry {path}"))
    }

    fn finish(&mut self) -> Result<()> {
        self.builder.finish().context("write archive")?;
        self.builder.get_mut().flush().context("write archive")
    }

    fn abort(&mut self) {}
}

// --- into a directory ---------------------------------------------------------------------------

/// Writes entries under a directory, resolving every path inside `root`.
pub struct DirSink {
    root: OwnedFd,
    /// The destination directory, a path inside `root`.
    base: String,
    /// `-a`: give entries their recorded owner; otherwise they belong to us (root).
    chown: bool,
    /// The top-level item being written.
    top: Option<Top>,
    /// The last parent directory opened (path in the copy, translated), for runs of siblings.
    parent_cache: Option<(String, OwnedFd)>,
    /// Directories whose mode, owner and times are set once their content is written.
    dirs: Vec<(String, Meta)>,
    seq: u32,
    /// Refuse symlinks that climb out of the destination (a copy out of a container); the
    /// destination as errors name it.
    links_inside: Option<String>,
}

struct Top {
    /// Its name in the copy and at the destination.
    name: String,
    /// Written under this temporary name when it is new (renamed at the end), or None when
    /// it merges into an existing directory.
    temp: Option<String>,
}

impl DirSink {
    pub fn new(root: OwnedFd, base: &str, chown: bool) -> DirSink {
        DirSink {
            root,
            base: base.trim_end_matches('/').to_string(),
            chown,
            top: None,
            parent_cache: None,
            dirs: Vec::new(),
            seq: 0,
            links_inside: None,
        }
    }

    /// Refuse a symlink whose target climbs out of the destination (see [`check_link`]);
    /// `shown` is the destination as errors name it.
    pub fn refusing_links_out(mut self, shown: &str) -> DirSink {
        self.links_inside = Some(shown.to_string());
        self
    }

    fn temp_name(&mut self, name: &str) -> String {
        self.seq += 1;
        format!(".berth-cp-{}-{}-{name}", std::process::id(), self.seq)
    }

    /// The directory `rel` (a translated path under the base) as an fd.
    fn dir(&mut self, rel: &str) -> Result<BorrowedFd<'_>> {
        let hit = matches!(&self.parent_cache, Some((p, _)) if p == rel);
        if !hit {
            let full = if rel.is_empty() {
                self.base.clone()
            } else {
                format!("{}/{rel}", self.base)
            };
            let full = if full.is_empty() {
                "/".to_string()
            } else {
                full
            };
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
            let fd = match inroot::open(self.root.as_fd(), &full, flags) {
                // An archive need not list the directories of its files: make them (inside
                // the root, like everything else).
                Err(Errno::ENOENT) if !rel.is_empty() => {
                    inroot::mkdir_all(self.root.as_fd(), &full, 0o755)?;
                    inroot::open(self.root.as_fd(), &full, flags)
                }
                other => other,
            }
            .with_context(|| format!("open directory {full}"))?;
            self.parent_cache = Some((rel.to_string(), fd));
        }
        let (_, fd) = self
            .parent_cache
            .as_ref()
            .ok_or_else(|| anyhow!("no parent directory"))?;
        Ok(fd.as_fd())
    }

    /// Start the top-level item `name` of kind `kind`: decide between a temporary name and a
    /// merge, and refuse to replace a directory by a non-directory or the reverse.
    fn begin_top(&mut self, name: &str, kind: &Kind) -> Result<()> {
        self.finish_top()?;
        let base = self.dir("")?;
        let existing = match nix::sys::stat::fstatat(base, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st.st_mode & libc::S_IFMT),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e).with_context(|| format!("stat {name}")),
        };
        let temp = match (existing, kind) {
            (Some(libc::S_IFDIR), Kind::Dir) => None,
            (Some(libc::S_IFDIR), _) => {
                bail!("cannot overwrite directory {name:?} with non-directory")
            }
            (Some(_), Kind::Dir) => {
                bail!("cannot overwrite non-directory {name:?} with directory")
            }
            _ => Some(self.temp_name(name)),
        };
        self.top = Some(Top {
            name: name.to_string(),
            temp,
        });
        Ok(())
    }

    /// Set the directories' metadata (deepest first) and rename the top-level item into place.
    fn finish_top(&mut self) -> Result<()> {
        let dirs = std::mem::take(&mut self.dirs);
        for (rel, meta) in dirs.iter().rev() {
            let (parent, name) = split_rel(rel);
            let parent_fd = self.dir(parent)?;
            let fd = open_at(parent_fd, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .with_context(|| format!("open directory {rel}"))?;
            set_meta(&fd, meta, self.chown, rel)?;
        }
        let Some(top) = self.top.take() else {
            return Ok(());
        };
        if let Some(temp) = &top.temp {
            self.parent_cache = None;
            let base = self.dir("")?;
            nix::fcntl::renameat(base, temp.as_str(), base, top.name.as_str())
                .with_context(|| format!("rename into place {}", top.name))?;
        }
        Ok(())
    }

    /// `top/sub/name` → the path under the base, with the temporary name of the top.
    fn translate(&self, path: &str) -> String {
        let (first, rest) = match path.split_once('/') {
            Some((f, r)) => (f, Some(r)),
            None => (path, None),
        };
        let first = match &self.top {
            Some(Top {
                name,
                temp: Some(temp),
            }) if name == first => temp.as_str(),
            _ => first,
        };
        match rest {
            Some(r) => format!("{first}/{r}"),
            None => first.to_string(),
        }
    }

    fn write(&mut self, path: &str, kind: &Kind, meta: &Meta, data: Data<'_>) -> Result<()> {
        if let (Kind::Symlink(target), Some(shown)) = (kind, &self.links_inside) {
            check_link(shown, path, target)?;
        }
        let first = path.split('/').next().unwrap_or(path);
        if self.top.as_ref().is_none_or(|t| t.name != first) {
            let top_kind = if first == path {
                kind.clone()
            } else {
                Kind::Dir
            };
            self.begin_top(first, &top_kind)?;
        }
        let rel = self.translate(path);
        let (parent, name) = split_rel(&rel);
        let parent = parent.to_string();
        let name = name.to_string();
        if *kind == Kind::Dir {
            let chown = self.chown;
            let dir = self.dir(&parent)?;
            match nix::sys::stat::mkdirat(dir, name.as_str(), Mode::from_bits_truncate(0o700)) {
                Ok(()) => {}
                Err(Errno::EEXIST) => {
                    let st =
                        nix::sys::stat::fstatat(dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                            .with_context(|| format!("stat {path}"))?;
                    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                        bail!("cannot overwrite non-directory {path:?} with directory");
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("create directory {path}")),
            }
            let _ = chown;
            self.dirs.push((rel, *meta));
            return Ok(());
        }
        // Everything else: create under a temporary name beside it, then rename over.
        let temp = self.temp_name(&name);
        let chown = self.chown;
        let hardlink_source = match kind {
            Kind::Hardlink(first) => {
                let t = self.translate(first);
                let (p, n) = split_rel(&t);
                Some((p.to_string(), n.to_string()))
            }
            _ => None,
        };
        let link_fd = match &hardlink_source {
            Some((p, _)) => Some(
                self.dir(p)?
                    .try_clone_to_owned()
                    .context("dup directory fd")?,
            ),
            None => None,
        };
        let dir = self.dir(&parent)?;
        let created = create(
            dir,
            &temp,
            kind,
            meta,
            data,
            chown,
            path,
            link_fd
                .as_ref()
                .zip(hardlink_source.as_ref().map(|(_, n)| n.as_str())),
        );
        if let Err(e) = created {
            let _ =
                nix::unistd::unlinkat(dir, temp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
            return Err(e);
        }
        if let Ok(st) = nix::sys::stat::fstatat(dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                let _ = nix::unistd::unlinkat(
                    dir,
                    temp.as_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
                bail!("cannot overwrite directory {path:?} with non-directory");
            }
        }
        nix::fcntl::renameat(dir, temp.as_str(), dir, name.as_str())
            .with_context(|| format!("rename into place {path}"))
    }
}

/// Create one non-directory entry named `temp` in `dir`, with its metadata.
#[allow(clippy::too_many_arguments)]
fn create(
    dir: BorrowedFd<'_>,
    temp: &str,
    kind: &Kind,
    meta: &Meta,
    data: Data<'_>,
    chown: bool,
    path: &str,
    link_source: Option<(&OwnedFd, &str)>,
) -> Result<()> {
    let perm = Mode::from_bits_truncate(meta.mode & 0o777);
    match kind {
        Kind::File => {
            let fd = crate::fs::inroot::create_new(dir, temp, 0o600)
                .with_context(|| format!("create {path}"))?;
            let mut out = File::from(fd);
            let copied = match data {
                Data::File(f) => std::io::copy(f, &mut out),
                Data::Reader(r) => std::io::copy(r, &mut out),
                Data::None => Ok(0),
            };
            copied.with_context(|| format!("write {path}"))?;
            set_meta(&OwnedFd::from(out), meta, chown, path)
        }
        Kind::Symlink(target) => {
            nix::unistd::symlinkat(OsStr::from_bytes(target), dir, temp)
                .with_context(|| format!("create symlink {path}"))?;
            let fd = open_made(dir, temp, kind, path)?;
            set_node_meta(fd.as_fd(), kind, meta, chown, path)
        }
        Kind::Hardlink(_) => {
            let (src_dir, src_name) =
                link_source.ok_or_else(|| anyhow!("hard link {path} without a source"))?;
            nix::unistd::linkat(src_dir, src_name, dir, temp, AtFlags::empty())
                .with_context(|| format!("create hard link {path}"))
        }
        Kind::Fifo | Kind::Char(_) | Kind::Block(_) => {
            let (flag, dev) = match kind {
                Kind::Char(d) => (SFlag::S_IFCHR, *d),
                Kind::Block(d) => (SFlag::S_IFBLK, *d),
                _ => (SFlag::S_IFIFO, 0),
            };
            nix::sys::stat::mknodat(dir, temp, flag, perm, dev)
                .with_context(|| format!("create {path}"))?;
            let fd = open_made(dir, temp, kind, path)?;
            set_node_meta(fd.as_fd(), kind, meta, chown, path)
        }
        Kind::Dir => bail!("directory {path} created as a file"),
    }
}

/// Open the node just made as `temp` in `dir` (not following it) and check that it is the one
/// made: a running container can rename anything over that name in the meantime. It must be of
/// the kind made (same device number, same link target), ours, with no other name. Its metadata
/// is then set through this descriptor alone, never by name: a link swapped in would be
/// followed to a host file (CVE-2021-32760 is this hole in an image unpacker).
fn open_made(dir: BorrowedFd<'_>, temp: &str, kind: &Kind, path: &str) -> Result<OwnedFd> {
    let fd = open_at(dir, temp, OFlag::O_PATH).with_context(|| format!("open {path}"))?;
    let st = nix::sys::stat::fstat(&fd).with_context(|| format!("stat {path}"))?;
    let fmt = st.st_mode & libc::S_IFMT;
    let is_made = match kind {
        Kind::Fifo => fmt == libc::S_IFIFO,
        Kind::Char(dev) => fmt == libc::S_IFCHR && st.st_rdev == *dev,
        Kind::Block(dev) => fmt == libc::S_IFBLK && st.st_rdev == *dev,
        Kind::Symlink(target) => {
            fmt == libc::S_IFLNK
                && nix::fcntl::readlinkat(&fd, "").is_ok_and(|t| t.as_bytes() == &target[..])
        }
        _ => false,
    };
    if !is_made || st.st_uid != nix::unistd::geteuid().as_raw() || st.st_nlink != 1 {
        bail!("{path} was replaced while it was being created");
    }
    Ok(fd)
}

/// Owner (with `-a`), then mode (not for a symlink, which has none of its own), then times, of
/// a node held by an O_PATH descriptor.
fn set_node_meta(
    fd: BorrowedFd<'_>,
    kind: &Kind,
    meta: &Meta,
    chown: bool,
    path: &str,
) -> Result<()> {
    use crate::sys::pathfd;
    if chown {
        pathfd::chown(fd, meta.uid, meta.gid).with_context(|| format!("chown {path}"))?;
    }
    if !matches!(kind, Kind::Symlink(_)) {
        pathfd::chmod(fd, Mode::from_bits_truncate(meta.mode))
            .with_context(|| format!("chmod {path}"))?;
    }
    let t = TimeSpec::new(meta.mtime.0, meta.mtime.1);
    pathfd::set_times(fd, &t, &t).with_context(|| format!("set times of {path}"))
}

/// Owner (with `-a`), then mode (chown clears setuid bits), then times, all through the fd.
fn set_meta(fd: &OwnedFd, meta: &Meta, chown: bool, path: &str) -> Result<()> {
    if chown {
        nix::unistd::fchown(
            fd,
            Some(nix::unistd::Uid::from_raw(meta.uid)),
            Some(nix::unistd::Gid::from_raw(meta.gid)),
        )
        .with_context(|| format!("chown {path}"))?;
    }
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(meta.mode))
        .with_context(|| format!("chmod {path}"))?;
    let t = TimeSpec::new(meta.mtime.0, meta.mtime.1);
    nix::sys::stat::futimens(fd, &t, &t).with_context(|| format!("set times of {path}"))
}

/// `a/b/c` → (`a/b`, `c`); `c` → (``, `c`).
fn split_rel(rel: &str) -> (&str, &str) {
    match rel.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", rel),
    }
}

impl Sink for DirSink {
    fn entry(&mut self, path: &str, kind: &Kind, meta: &Meta, data: Data<'_>) -> Result<()> {
        self.write(path, kind, meta, data)
    }

    fn finish(&mut self) -> Result<()> {
        self.finish_top()
    }

    fn abort(&mut self) {
        self.dirs.clear();
        if let Some(Top {
            temp: Some(temp), ..
        }) = self.top.take()
        {
            self.parent_cache = None;
            if let Ok(base) = self.dir("") {
                let base = base.try_clone_to_owned();
                if let Ok(base) = base {
                    remove_tree(base.as_fd(), &temp);
                }
            }
        }
    }
}

/// Whether a symlink at `path` (in the copy: `top/sub/link`) with target `target` leads above
/// the directory the copy is written in, the target taken lexically from the link's directory,
/// an absolute one too. This is Docker's rule when it extracts a copy (moby pkg/archive,
/// createTarFile: `filepath.Join(filepath.Dir(path), hdr.Linkname)` must stay under the
/// extraction directory, else a breakoutError): an absolute target passes as written.
pub fn link_climbs_out(path: &str, target: &[u8]) -> bool {
    let mut depth = path.split('/').filter(|c| !c.is_empty()).count();
    // The link's directory.
    depth = depth.saturating_sub(1);
    for comp in target.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

/// Refuse a symlink that climbs out of the destination `shown` with Docker's error:
/// `invalid symlink "/dest/top/link" -> "../../etc/shadow"`.
pub fn check_link(shown: &str, path: &str, target: &[u8]) -> Result<()> {
    if link_climbs_out(path, target) {
        let at = std::path::Path::new(shown).join(path);
        bail!(
            "invalid symlink {:?} -> {:?}",
            at.to_string_lossy(),
            String::from_utf8_lossy(target)
        );
    }
    Ok(())
}

/// A sink that writes nothing and only checks links (see [`check_link`]): the pass made before
/// a copy that merges into an existing directory, where entries put in place before a refused
/// link could not be taken back.
pub struct LinkCheck<'a> {
    pub shown: &'a str,
}

impl Sink for LinkCheck<'_> {
    fn entry(&mut self, path: &str, kind: &Kind, _meta: &Meta, _data: Data<'_>) -> Result<()> {
        match kind {
            Kind::Symlink(target) => check_link(self.shown, path, target),
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn abort(&mut self) {}
}

/// Remove `name` in `dir` and everything under it, fd-relative, never following a symlink.
pub fn remove_tree(dir: BorrowedFd<'_>, name: &str) {
    use nix::unistd::{unlinkat, UnlinkatFlags};
    if unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).is_ok() {
        return;
    }
    if let Ok(sub) = open_at(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        if let Ok(Ok(listing)) = sub.try_clone().map(nix::dir::Dir::from_fd) {
            let names: Vec<String> = listing
                .into_iter()
                .filter_map(|e| e.ok())
                .map(|e| String::from_utf8_lossy(e.file_name().to_bytes()).into_owned())
                .filter(|n| n != "." && n != "..")
                .collect();
            for n in names {
                remove_tree(sub.as_fd(), &n);
            }
        }
    }
    let _ = unlinkat(dir, name, UnlinkatFlags::RemoveDir);
}

/// Run a copy: feed the sink, then finish it, or abort it on failure.
pub fn run(sink: &mut dyn Sink, feed: impl FnOnce(&mut dyn Sink) -> Result<()>) -> Result<()> {
    let result = feed(sink).and_then(|()| sink.finish());
    if result.is_err() {
        sink.abort();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_are_cleaned_and_dot_dot_refused() {
        assert_eq!(clean_name(b"./a//b/").unwrap().as_deref(), Some("a/b"));
        assert_eq!(
            clean_name(b"/etc/passwd").unwrap().as_deref(),
            Some("etc/passwd")
        );
        assert_eq!(clean_name(b"./").unwrap(), None);
        assert!(clean_name(b"a/../../x").is_err());
        assert!(clean_name(b"..").is_err());
    }

    #[test]
    fn links_climbing_out_of_the_destination() {
        let out = |path: &str, target: &str| link_climbs_out(path, target.as_bytes());
        assert!(out("d/sub/up", "../../../../etc/shadow"));
        assert!(out("x", "../x"));
        assert!(out("d/l", "a/../../../x"));
        // Absolute targets are taken under the link's directory: only `..` can climb.
        assert!(!out("d/abs", "/etc/shadow"));
        assert!(out("d/abs", "/../../etc"));
        assert!(!out("d/sub/in", "../a"));
        assert!(!out("d/sub/parent", "../.."));
        assert!(!out("d/beside", "sub/../../beside"));
        assert!(!out("x", "."));
        assert!(!out("x", "./y//z"));
        let err = check_link("/dst", "d/sub/up", b"../../../../etc/shadow").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid symlink "/dst/d/sub/up" -> "../../../../etc/shadow""#
        );
    }

    #[test]
    fn compression_by_magic() {
        assert_eq!(compression(&[0x1f, 0x8b, 8]), Some("gzip"));
        assert_eq!(compression(b"\xfd7zXZ\0rest"), Some("xz"));
        assert_eq!(compression(b"BZh9"), Some("bzip2"));
        assert_eq!(compression(b"ustar"), None);
    }
}

//! Unpacking one layer tar into its own directory, fd-relative, so that a hostile layer cannot
//! write outside it, and in the form overlayfs reads as a lower dir.
//!
//! The `tar` crate is only our parser: its `unpack` is not the security boundary we need
//! (CVE-2014-6407, CVE-2014-9356, CVE-2021-32760, CVE-2026-17106 are all "extraction followed a
//! link"). Here:
//! - names are cleaned lexically (leading `/` and `./` stripped, `..` applied; an escape above the
//!   layer root is an error);
//! - a parent directory is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` from the
//!   layer root, so a symlink of the layer (`l -> /`) resolves inside the layer, as it will in the
//!   container, and never on the host;
//! - the last component is created with `*at` calls that do not follow it (`O_CREAT|O_EXCL`,
//!   `mkdirat`, `symlinkat`, `mknodat`, `linkat` without `AT_SYMLINK_FOLLOW`);
//! - mode, owner, xattrs and times are applied through the fd just created, or with
//!   `AT_SYMLINK_NOFOLLOW` on the name, never through a path that could be a symlink;
//! - hard link targets are resolved inside the layer like any other name;
//! - a GNU sparse file is written sparse (its data segments at their offsets, holes left as
//!   holes; see [`super::tarstream`]), and no file may declare more bytes than the store's
//!   filesystem has left: a few hundred bytes of tar declaring 1 PiB are refused before anything
//!   is written, not unpacked until the disk is full.
//!
//! Whiteouts (OCI image-spec `layer.md`) become overlayfs' own encoding: `.wh.NAME` a 0/0 char
//! device `NAME`, `.wh..wh..opq` the xattr `trusted.overlay.opaque=y` on its directory. A
//! whiteout only hides lower layers, never an entry of its own layer, whatever the order.

use super::digest::DigestReader;
use super::tarstream::{Member, Members, SparseMap};
use crate::sys::xattr;
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat,
    Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Marks a directory whose lower-layer contents are hidden.
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// AUFS bookkeeping names (`.wh..wh.plnk`, `.wh..wh.aufs`, …): never content.
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";
/// overlayfs' opaque-directory xattr (Documentation/filesystems/overlayfs.rst).
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What unpacking measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedLayer {
    /// sha256 hex of the uncompressed tar stream: the layer's diff ID.
    pub diff_id: String,
    /// sha256 hex of the stream as given (compressed or not): the blob digest.
    pub blob_digest: String,
    /// Bytes of regular-file content (a sparse file's real size; hard links counted once):
    /// Docker's layer size.
    pub content_size: u64,
}

/// The blob digest and diff ID of a layer stream (plain tar or gzip), read to its end without
/// unpacking anything: for a layer the store has already, whose copy in an archive must still
/// prove to be what its digests say.
pub fn digests(stream: impl Read) -> Result<(String, String)> {
    let mut raw = BufReader::with_capacity(256 * 1024, DigestReader::new(stream));
    let gzip = raw
        .fill_buf()
        .context("read layer")?
        .starts_with(&[0x1f, 0x8b]);
    let diff_id = if gzip {
        let mut plain = DigestReader::new(flate2::bufread::MultiGzDecoder::new(&mut raw));
        plain.drain().context("read layer")?;
        plain.hex()
    } else {
        let mut plain = DigestReader::new(&mut raw);
        plain.drain().context("read layer")?;
        plain.hex()
    };
    let mut inner = raw.into_inner();
    inner.drain().context("read layer")?;
    Ok((inner.hex(), diff_id))
}

/// Unpack a layer (plain tar or gzip, detected by magic bytes) into `dest`, an existing empty
/// directory of ours. On error `dest` holds a partial tree: the caller removes it.
pub fn unpack(stream: impl Read, dest: &Path) -> Result<UnpackedLayer> {
    let root = nix::fcntl::open(
        dest,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {}", dest.display()))?;

    let mut raw = BufReader::with_capacity(256 * 1024, DigestReader::new(stream));
    let magic: Vec<u8> = raw
        .fill_buf()
        .context("read layer")?
        .iter()
        .take(6)
        .copied()
        .collect();
    let decoded: Box<dyn Read + '_> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(&mut raw))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        bail!("zstd-compressed layers are not supported");
    } else if magic.starts_with(b"BZh") || magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        bail!("bzip2 and xz-compressed layers are not supported");
    } else {
        Box::new(&mut raw)
    };
    let mut plain = DigestReader::new(decoded);

    let mut unpacker = Unpacker {
        root,
        dir_times: Vec::new(),
        content_size: 0,
        space_left: 0,
    };
    {
        let mut members = Members::new(&mut plain);
        while let Some(member) = members.next_member().context("read layer tar")? {
            unpacker.entry(&member, &mut members)?;
        }
    }
    unpacker.apply_dir_times();
    // The digests cover the whole stream: trailing zero blocks, padding, the gzip trailer.
    plain.drain().context("read layer")?;
    let diff_id = plain.hex();
    drop(plain);
    io::copy(&mut raw, &mut io::sink()).context("read layer")?;
    Ok(UnpackedLayer {
        diff_id,
        blob_digest: raw.get_ref().hex(),
        content_size: unpacker.content_size,
    })
}

/// Owner, mode, times and xattrs of one tar entry.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: TimeSpec,
    xattrs: Vec<(String, Vec<u8>)>,
}

struct Unpacker {
    root: OwnedFd,
    /// Directory mtimes, applied after every entry is in (creating children changes them).
    dir_times: Vec<(Vec<u8>, TimeSpec)>,
    content_size: u64,
    /// What the store's filesystem had free at the last look, less what was written since.
    space_left: u64,
}

impl Unpacker {
    fn entry(&mut self, member: &Member, data: &mut impl Read) -> Result<()> {
        let kind = member.header.entry_type();
        let shown = String::from_utf8_lossy(&member.path).into_owned();
        self.entry_inner(member, data, kind, &member.path)
            .with_context(|| format!("layer entry {shown:?}"))
    }

    fn entry_inner(
        &mut self,
        entry: &Member,
        data: &mut impl Read,
        kind: tar::EntryType,
        raw_name: &[u8],
    ) -> Result<()> {
        use tar::EntryType as T;
        let comps = clean_name(raw_name)?;
        let Some((name, parents)) = comps.split_last() else {
            // The layer root itself (`./`): its metadata is the root directory's.
            if kind != T::Directory {
                bail!("only a directory may name the layer root");
            }
            let meta = read_meta(entry)?;
            let root = self.open_dir(&[], false)?;
            apply_meta(&root, &meta)?;
            self.dir_times.push((Vec::new(), meta.mtime));
            return Ok(());
        };
        if comps.iter().any(|c| c.starts_with(AUFS_META_PREFIX)) && *name != OPAQUE_MARKER {
            return Ok(());
        }
        if parents.iter().any(|c| c.starts_with(WHITEOUT_PREFIX)) {
            bail!("a whiteout name cannot be a directory");
        }

        if *name == OPAQUE_MARKER {
            let dir = self.open_dir(parents, true)?;
            return set_opaque(&dir);
        }
        if let Some(target) = name.strip_prefix(WHITEOUT_PREFIX) {
            if target.is_empty() || target == b"." || target == b".." {
                bail!("invalid whiteout");
            }
            let dir = self.open_dir(parents, true)?;
            return whiteout(&dir, target);
        }

        let meta = read_meta(entry)?;
        let dir = self.open_dir(parents, true)?;
        let name = OsStr::from_bytes(name);
        match kind {
            T::Directory => {
                let existing = stat_at(&dir, name)?;
                let whited_out = existing.as_ref().is_some_and(is_whiteout);
                match existing {
                    Some(st) if is_kind(&st, SFlag::S_IFDIR) => {}
                    Some(st) => {
                        remove_at(&dir, name, &st)?;
                        mkdirat(&dir, name, Mode::from_bits_truncate(0o700))?;
                    }
                    None => mkdirat(&dir, name, Mode::from_bits_truncate(0o700))?,
                }
                let fd = open_child_dir(&dir, name)?;
                apply_meta(&fd, &meta)?;
                if whited_out {
                    // Lower layers had this path deleted by this layer: they stay hidden.
                    set_opaque(&fd)?;
                }
                self.dir_times.push((comps.join(&b'/'), meta.mtime));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                let size = entry.file_size();
                self.reserve(size)?;
                self.clear(&dir, name)?;
                let fd = crate::fs::inroot::create_new(dir.as_fd(), name, 0o600)?;
                let mut file = File::from(fd);
                match &entry.sparse {
                    None => {
                        io::copy(data, &mut file).context("write file")?;
                    }
                    Some(map) => write_sparse(data, &mut file, map)?,
                }
                self.content_size += size;
                apply_meta(&file, &meta)?;
                futimens(&file, &meta.mtime, &meta.mtime)?;
            }
            T::Symlink => {
                let target = entry.link.clone().context("symlink without target")?;
                self.clear(&dir, name)?;
                symlinkat(OsStr::from_bytes(&target), &dir, name)?;
                fchownat(
                    &dir,
                    name,
                    Some(Uid::from_raw(meta.uid)),
                    Some(Gid::from_raw(meta.gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
                utimensat(
                    &dir,
                    name,
                    &meta.mtime,
                    &meta.mtime,
                    UtimensatFlags::NoFollowSymlink,
                )?;
            }
            T::Link => {
                let raw_target = entry.link.clone().context("hard link without target")?;
                let shown = String::from_utf8_lossy(&raw_target).into_owned();
                let target =
                    clean_name(&raw_target).with_context(|| format!("hard link to {shown:?}"))?;
                let Some((target_name, target_parents)) = target.split_last() else {
                    bail!("hard link to the layer root");
                };
                let target_dir = self
                    .open_dir(target_parents, false)
                    .with_context(|| format!("hard link to {shown:?}: not in this layer"))?;
                let target_name = OsStr::from_bytes(target_name);
                if stat_at(&target_dir, target_name)?.is_none() {
                    bail!("hard link to {shown:?}: not in this layer");
                }
                self.clear(&dir, name)?;
                linkat(&target_dir, target_name, &dir, name, AtFlags::empty())
                    .context("hard link")?;
            }
            T::Char | T::Block | T::Fifo => {
                let (sflag, dev) = match kind {
                    T::Fifo => (SFlag::S_IFIFO, 0),
                    _ => {
                        // ustar/GNU devmajor and devminor: bytes 329..337 and 337..345.
                        let header = &entry.header;
                        let raw = header.as_bytes();
                        let major = header.device_major().map(|d| u64::from(d.unwrap_or(0)));
                        let minor = header.device_minor().map(|d| u64::from(d.unwrap_or(0)));
                        let major = u32::try_from(numeric(major, &raw[329..337])?)?;
                        let minor = u32::try_from(numeric(minor, &raw[337..345])?)?;
                        let sflag = if kind == T::Char {
                            SFlag::S_IFCHR
                        } else {
                            SFlag::S_IFBLK
                        };
                        (sflag, libc::makedev(major, minor))
                    }
                };
                self.clear(&dir, name)?;
                mknodat(&dir, name, sflag, Mode::empty(), dev)?;
                fchownat(
                    &dir,
                    name,
                    Some(Uid::from_raw(meta.uid)),
                    Some(Gid::from_raw(meta.gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
                fchmodat(
                    &dir,
                    name,
                    Mode::from_bits_truncate(meta.mode),
                    FchmodatFlags::NoFollowSymlink,
                )?;
                utimensat(
                    &dir,
                    name,
                    &meta.mtime,
                    &meta.mtime,
                    UtimensatFlags::NoFollowSymlink,
                )?;
            }
            other => bail!("unsupported tar entry type {other:?}"),
        }
        Ok(())
    }

    /// Count `bytes` a file will take against the space left on the store's filesystem
    /// (statvfs(2) `f_bavail`, looked at again whenever the estimate runs short): a file larger
    /// than that could only fill the disk. A sparse file counts its real size, as it may be
    /// written into later.
    fn reserve(&mut self, bytes: u64) -> Result<()> {
        if bytes > self.space_left {
            let st = nix::sys::statvfs::fstatvfs(&self.root).context("statvfs layer directory")?;
            self.space_left = st.blocks_available().saturating_mul(st.fragment_size());
            if bytes > self.space_left {
                bail!(
                    "declares {bytes} bytes ({}), more than the {} bytes ({}) left on the store's filesystem",
                    super::units::human_size(bytes),
                    self.space_left,
                    super::units::human_size(self.space_left)
                );
            }
        }
        self.space_left -= bytes;
        Ok(())
    }

    /// Remove whatever an earlier entry of this layer put at `name`: the later entry wins.
    fn clear(&self, dir: &OwnedFd, name: &OsStr) -> Result<()> {
        if let Some(st) = stat_at(dir, name)? {
            remove_at(dir, name, &st)?;
        }
        Ok(())
    }

    /// Open the directory `comps` of the layer, resolving the layer's own symlinks inside the
    /// layer; with `create`, make missing directories (0755, root) as tar extractors do for
    /// entries without a parent entry.
    fn open_dir(&self, comps: &[&[u8]], create: bool) -> Result<OwnedFd> {
        let path = if comps.is_empty() {
            b".".to_vec()
        } else {
            comps.join(&b'/')
        };
        match open_in_root(&self.root, &path) {
            Err(Errno::ENOENT | Errno::ENOTDIR) if create => self.create_dirs(comps),
            other => other
                .with_context(|| format!("open directory {:?}", String::from_utf8_lossy(&path))),
        }
    }

    fn create_dirs(&self, comps: &[&[u8]]) -> Result<OwnedFd> {
        let mut dir = open_in_root(&self.root, b".")?;
        for i in 0..comps.len() {
            let prefix = comps[..=i].join(&b'/');
            dir = match open_in_root(&self.root, &prefix) {
                Ok(fd) => fd,
                Err(Errno::ENOENT | Errno::ENOTDIR) => {
                    let name = OsStr::from_bytes(comps[i]);
                    let shown = String::from_utf8_lossy(&prefix).into_owned();
                    let whited_out = match stat_at(&dir, name)? {
                        None => false,
                        Some(st) if is_whiteout(&st) => {
                            remove_at(&dir, name, &st)?;
                            true
                        }
                        Some(_) => {
                            bail!("cannot create directory {shown:?}: something else is there")
                        }
                    };
                    mkdirat(&dir, name, Mode::from_bits_truncate(0o755))
                        .with_context(|| format!("create directory {shown:?}"))?;
                    let fd = open_child_dir(&dir, name)?;
                    fchmod(&fd, Mode::from_bits_truncate(0o755))?;
                    if whited_out {
                        set_opaque(&fd)?;
                    }
                    fd
                }
                Err(e) => {
                    let shown = String::from_utf8_lossy(&prefix).into_owned();
                    return Err(e).with_context(|| format!("open directory {shown:?}"));
                }
            };
        }
        Ok(dir)
    }

    fn apply_dir_times(&self) {
        for (path, mtime) in &self.dir_times {
            let path = if path.is_empty() { &b"."[..] } else { path };
            // A later entry may have replaced the directory: then there is nothing to stamp.
            if let Ok(fd) = open_in_root(&self.root, path) {
                let _ = futimens(&fd, mtime, mtime);
            }
        }
    }
}

/// The components of a member name inside the layer: leading `/` and `./` go, `.` and empty
/// components are dropped and `..` is applied lexically; climbing above the root is an error.
pub fn clean_name(raw: &[u8]) -> Result<Vec<&[u8]>> {
    let mut comps: Vec<&[u8]> = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if comps.pop().is_none() {
                    bail!("escapes the layer");
                }
            }
            c if c.contains(&0) => bail!("name contains a NUL byte"),
            c => comps.push(c),
        }
    }
    Ok(comps)
}

/// Open a directory of the layer by path, symlinks resolved as if the layer were `/`.
fn open_in_root(root: &OwnedFd, path: &[u8]) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(
            ResolveFlag::RESOLVE_IN_ROOT
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        );
    crate::fs::inroot::openat2_retrying(root.as_fd(), OsStr::from_bytes(path), how)
}

/// Open a directory entry of `dir` that must itself be a directory, not a symlink to one.
fn open_child_dir(dir: &OwnedFd, name: &OsStr) -> Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open directory {name:?}"))
}

fn stat_at(dir: &OwnedFd, name: &OsStr) -> Result<Option<FileStat>> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("stat {name:?}")),
    }
}

fn is_kind(st: &FileStat, kind: SFlag) -> bool {
    st.st_mode & SFlag::S_IFMT.bits() == kind.bits()
}

/// overlayfs reads a 0/0 character device as "deleted here".
fn is_whiteout(st: &FileStat) -> bool {
    is_kind(st, SFlag::S_IFCHR) && st.st_rdev == 0
}

fn set_opaque(dir: &OwnedFd) -> Result<()> {
    xattr::fset(dir, OPAQUE_XATTR, b"y").with_context(|| format!("set {OPAQUE_XATTR}"))
}

/// `.wh.NAME`: hide NAME of the lower layers. An entry of this layer with that name stays (a
/// directory becomes opaque, so the lower one is still hidden beneath it).
fn whiteout(dir: &OwnedFd, target: &[u8]) -> Result<()> {
    let target = OsStr::from_bytes(target);
    match stat_at(dir, target)? {
        Some(st) if is_kind(&st, SFlag::S_IFDIR) => set_opaque(&open_child_dir(dir, target)?),
        Some(_) => Ok(()),
        None => mknodat(dir, target, SFlag::S_IFCHR, Mode::empty(), 0)
            .with_context(|| format!("create whiteout {target:?}")),
    }
}

/// Remove an entry of the layer: a file with `unlinkat`, a directory tree fd-relative, never
/// following a symlink.
fn remove_at(dir: &OwnedFd, name: &OsStr, st: &FileStat) -> Result<()> {
    if is_kind(st, SFlag::S_IFDIR) {
        let child = open_child_dir(dir, name)?;
        let mut listing = nix::dir::Dir::from_fd(child)?;
        let mut children = Vec::new();
        for e in listing.iter() {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                children.push(n.to_vec());
            }
        }
        let child = listing.as_fd().try_clone_to_owned()?;
        for n in children {
            let n = OsStr::from_bytes(&n);
            if let Some(st) = stat_at(&child, n)? {
                remove_at(&child, n, &st)?;
            }
        }
        unlinkat(dir, name, UnlinkatFlags::RemoveDir)
            .with_context(|| format!("remove directory {name:?}"))
    } else {
        unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).with_context(|| format!("remove {name:?}"))
    }
}

/// A sparse file: each data segment written at its offset, the holes never written (they read
/// as zeros, lseek(2) SEEK_HOLE), then the file cut to its real size.
fn write_sparse(data: &mut impl Read, file: &mut File, map: &SparseMap) -> Result<()> {
    for &(offset, len) in &map.segments {
        file.seek(SeekFrom::Start(offset)).context("seek")?;
        let written = io::copy(&mut data.take(len), file).context("write file")?;
        if written != len {
            bail!("unexpected end of archive");
        }
    }
    file.set_len(map.real_size).context("set file size")
}

fn read_meta(entry: &Member) -> Result<Meta> {
    let header = &entry.header;
    let old = header.as_old();
    let mut uid = numeric(header.uid(), &old.uid).context("bad uid")?;
    let mut gid = numeric(header.gid(), &old.gid).context("bad gid")?;
    let mode = numeric(header.mode().map(u64::from), &old.mode).context("bad mode")? & 0o7777;
    let mtime_secs = numeric(header.mtime(), &old.mtime).context("bad mtime")?;
    let mut mtime = TimeSpec::new(i64::try_from(mtime_secs).context("bad mtime")?, 0);
    let mut xattrs = Vec::new();
    for (key, value) in &entry.pax {
        let value = value.as_slice();
        match key.as_str() {
            "uid" => uid = parse_pax_int(value).context("bad PAX uid")?,
            "gid" => gid = parse_pax_int(value).context("bad PAX gid")?,
            "mtime" => mtime = parse_pax_time(value).context("bad PAX mtime")?,
            _ => {
                // Only what layer creation keeps: user.* and file capabilities. trusted.*
                // (overlay's own redirect/opaque markers) must never come from an image.
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    if name.starts_with("user.") || name == "security.capability" {
                        xattrs.push((name.to_string(), value.to_vec()));
                    }
                }
            }
        }
    }
    let uid = u32::try_from(uid).context("uid out of range")?;
    let gid = u32::try_from(gid).context("gid out of range")?;
    let mode = u32::try_from(mode).context("mode out of range")?;
    Ok(Meta {
        uid,
        gid,
        mode,
        mtime,
        xattrs,
    })
}

/// A numeric header field; an empty one (all NUL or spaces) is 0, as Go's and Python's tar
/// readers take it.
fn numeric(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    if raw.iter().all(|&b| b == 0 || b == b' ') {
        return Ok(0);
    }
    parsed
}

fn parse_pax_int(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// PAX times are decimal seconds with an optional fraction: `1700000000.123456789`.
fn parse_pax_time(v: &[u8]) -> Option<TimeSpec> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(TimeSpec::new(secs, nanos))
}

/// Owner first (chown clears setuid bits and file capabilities), then mode, then xattrs.
fn apply_meta(fd: &impl AsFd, meta: &Meta) -> Result<()> {
    fchown(
        fd,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
    )
    .context("chown")?;
    fchmod(fd, Mode::from_bits_truncate(meta.mode)).context("chmod")?;
    for (name, value) in &meta.xattrs {
        xattr::fset(fd, name, value).with_context(|| format!("set xattr {name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use std::path::PathBuf;

    /// A scratch directory: `layer/` to unpack into, and `outside/` that must stay untouched.
    struct Scratch {
        dir: PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("berth-layer-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("layer")).unwrap();
            std::fs::create_dir_all(dir.join("outside")).unwrap();
            std::fs::write(dir.join("outside/canary"), b"canary").unwrap();
            std::fs::set_permissions(dir.join("outside/canary"), PermissionsExt::from_mode(0o644))
                .unwrap();
            Scratch { dir }
        }
        fn layer(&self) -> PathBuf {
            self.dir.join("layer")
        }
        fn outside(&self) -> PathBuf {
            self.dir.join("outside")
        }
        fn unpack(&self, tar: &[u8]) -> Result<UnpackedLayer> {
            unpack(tar, &self.layer())
        }
        fn assert_outside_untouched(&self) {
            let names: Vec<_> = std::fs::read_dir(self.outside())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, vec![std::ffi::OsString::from("canary")]);
            let meta = std::fs::metadata(self.outside().join("canary")).unwrap();
            assert_eq!(meta.mode() & 0o7777, 0o644);
            assert_eq!(
                std::fs::read(self.outside().join("canary")).unwrap(),
                b"canary"
            );
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Builds tars with raw names: the tar crate's own setters refuse `..` and absolute names,
    /// which is exactly what these tests need to write.
    struct TarBuilder {
        b: tar::Builder<Vec<u8>>,
    }

    impl TarBuilder {
        fn new() -> TarBuilder {
            TarBuilder {
                b: tar::Builder::new(Vec::new()),
            }
        }
        fn header(kind: tar::EntryType, name: &str, mode: u32, size: u64) -> tar::Header {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_mode(mode);
            h.set_size(size);
            h.set_mtime(1_600_000_000);
            h.set_uid(0);
            h.set_gid(0);
            h
        }
        fn file(mut self, name: &str, mode: u32, data: &[u8]) -> Self {
            let mut h = Self::header(tar::EntryType::Regular, name, mode, data.len() as u64);
            h.set_cksum();
            self.b.append(&h, data).unwrap();
            self
        }
        fn dir(mut self, name: &str, mode: u32) -> Self {
            let mut h = Self::header(tar::EntryType::Directory, name, mode, 0);
            h.set_cksum();
            self.b.append(&h, &b""[..]).unwrap();
            self
        }
        fn link(mut self, kind: tar::EntryType, name: &str, target: &str) -> Self {
            let mut h = Self::header(kind, name, 0o777, 0);
            h.set_link_name_literal(target).unwrap();
            h.set_cksum();
            self.b.append(&h, &b""[..]).unwrap();
            self
        }
        fn node(mut self, kind: tar::EntryType, name: &str, mode: u32) -> Self {
            let mut h = Self::header(kind, name, mode, 0);
            h.set_device_major(0).unwrap();
            h.set_device_minor(0).unwrap();
            h.set_cksum();
            self.b.append(&h, &b""[..]).unwrap();
            self
        }
        fn build(self) -> Vec<u8> {
            self.b.into_inner().unwrap()
        }
    }

    fn kind_of(p: &Path) -> std::fs::FileType {
        std::fs::symlink_metadata(p).unwrap().file_type()
    }

    fn opaque(p: &Path) -> Option<Vec<u8>> {
        xattr::fget(File::open(p).unwrap(), OPAQUE_XATTR).unwrap()
    }

    #[test]
    fn unpacks_every_kind_with_its_metadata() {
        let s = Scratch::new("kinds");
        let tar = TarBuilder::new()
            .dir("./", 0o755)
            .dir("./etc/", 0o750)
            .file("./etc/hosts", 0o644, b"127.0.0.1 localhost\n")
            .file("bin/suid", 0o4755, b"#!")
            .link(tar::EntryType::Symlink, "etc/link", "hosts")
            .link(tar::EntryType::Link, "etc/hard", "./etc/hosts")
            .node(tar::EntryType::Fifo, "run/fifo", 0o620)
            .node(tar::EntryType::Char, "dev/null0", 0o666)
            .build();
        let got = s.unpack(&tar).unwrap();
        let l = s.layer();
        assert_eq!(
            std::fs::read(l.join("etc/hosts")).unwrap(),
            b"127.0.0.1 localhost\n"
        );
        assert_eq!(
            std::fs::metadata(l.join("etc")).unwrap().mode() & 0o7777,
            0o750
        );
        assert_eq!(
            std::fs::metadata(l.join("bin/suid")).unwrap().mode() & 0o7777,
            0o4755
        );
        assert_eq!(
            std::fs::metadata(l.join("bin")).unwrap().mode() & 0o7777,
            0o755
        );
        assert_eq!(
            std::fs::read_link(l.join("etc/link")).unwrap(),
            Path::new("hosts")
        );
        assert_eq!(
            std::fs::metadata(l.join("etc/hard")).unwrap().ino(),
            std::fs::metadata(l.join("etc/hosts")).unwrap().ino()
        );
        assert!(kind_of(&l.join("run/fifo")).is_fifo());
        assert_eq!(
            std::fs::symlink_metadata(l.join("run/fifo"))
                .unwrap()
                .mode()
                & 0o7777,
            0o620
        );
        assert!(kind_of(&l.join("dev/null0")).is_char_device());
        assert_eq!(
            std::fs::metadata(l.join("etc/hosts")).unwrap().mtime(),
            1_600_000_000
        );
        assert_eq!(
            std::fs::metadata(l.join("etc")).unwrap().mtime(),
            1_600_000_000
        );
        assert_eq!(got.content_size, 20 + 2);
        assert_eq!(got.diff_id, super::super::digest::sha256_hex(&tar));
        assert_eq!(got.blob_digest, got.diff_id);
    }

    #[test]
    fn gzip_layers_report_both_digests() {
        let s = Scratch::new("gzip");
        let tar = TarBuilder::new().file("a", 0o644, b"a").build();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let got = s.unpack(&gz).unwrap();
        assert_eq!(got.diff_id, super::super::digest::sha256_hex(&tar));
        assert_eq!(got.blob_digest, super::super::digest::sha256_hex(&gz));
        assert_eq!(std::fs::read(s.layer().join("a")).unwrap(), b"a");
    }

    #[test]
    fn a_tar_without_end_blocks_is_accepted() {
        let s = Scratch::new("noend");
        let tar = TarBuilder::new().file(".wh.gone", 0o644, b"").build();
        // One 512-byte header and nothing else, like umoci's whiteout-only layer.
        let got = s.unpack(&tar[..512]).unwrap();
        assert!(kind_of(&s.layer().join("gone")).is_char_device());
        assert_eq!(got.diff_id, super::super::digest::sha256_hex(&tar[..512]));
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts_and_never_hide_their_own_layer() {
        let s = Scratch::new("whiteout");
        let tar = TarBuilder::new()
            .file("data/.wh.gone.txt", 0o644, b"")
            .file("data/olddir/.wh..wh..opq", 0o644, b"")
            .file("data/olddir/new.txt", 0o644, b"new")
            .file("data/kept.txt", 0o644, b"kept")
            .file("data/.wh.kept.txt", 0o644, b"")
            .file("data/.wh.later", 0o644, b"")
            .dir("data/later/", 0o755)
            .file("sub/.wh..wh..opq", 0o644, b"")
            .dir("sub/", 0o711)
            .file(".wh..wh.plnk/123", 0o644, b"x")
            .build();
        s.unpack(&tar).unwrap();
        let l = s.layer();
        let gone = std::fs::symlink_metadata(l.join("data/gone.txt")).unwrap();
        assert!(gone.file_type().is_char_device());
        assert_eq!(gone.rdev(), 0);
        assert_eq!(opaque(&l.join("data/olddir")).as_deref(), Some(&b"y"[..]));
        assert_eq!(
            std::fs::read(l.join("data/olddir/new.txt")).unwrap(),
            b"new"
        );
        assert_eq!(std::fs::read(l.join("data/kept.txt")).unwrap(), b"kept");
        // Whited out first, then created: the new dir hides the lower one (opaque).
        assert!(kind_of(&l.join("data/later")).is_dir());
        assert_eq!(opaque(&l.join("data/later")).as_deref(), Some(&b"y"[..]));
        // The marker came before its directory entry: both the xattr and the mode survive.
        assert_eq!(opaque(&l.join("sub")).as_deref(), Some(&b"y"[..]));
        assert_eq!(
            std::fs::metadata(l.join("sub")).unwrap().mode() & 0o7777,
            0o711
        );
        assert_eq!(opaque(&l.join("data")), None);
        for marker in [
            "data/.wh.gone.txt",
            "data/olddir/.wh..wh..opq",
            ".wh..wh.plnk",
        ] {
            assert!(
                std::fs::symlink_metadata(l.join(marker)).is_err(),
                "{marker} extracted"
            );
        }
    }

    #[test]
    fn blank_numeric_fields_read_as_zero() {
        let s = Scratch::new("blank");
        let mut h = tar::Header::new_ustar();
        h.set_path("dev/null").unwrap();
        h.set_entry_type(tar::EntryType::Char);
        h.set_mode(0o666);
        h.set_size(0);
        h.set_mtime(0);
        h.as_mut_bytes()[329..345].fill(0);
        h.as_old_mut().uid.fill(0);
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, &b""[..]).unwrap();
        s.unpack(&b.into_inner().unwrap()).unwrap();
        let meta = std::fs::symlink_metadata(s.layer().join("dev/null")).unwrap();
        assert!(meta.file_type().is_char_device());
        assert_eq!(
            (meta.rdev(), meta.uid(), meta.mode() & 0o777),
            (0, 0, 0o666)
        );
    }

    #[test]
    fn bare_and_dotted_whiteouts_are_rejected() {
        for name in ["etc/.wh.", ".wh.", ".wh..", ".wh.x/y"] {
            let s = Scratch::new("bare");
            let tar = TarBuilder::new().file(name, 0o644, b"").build();
            assert!(s.unpack(&tar).is_err(), "{name} accepted");
        }
    }

    #[test]
    fn an_entry_that_changes_kind_replaces_the_earlier_one() {
        let s = Scratch::new("kind");
        let tar = TarBuilder::new()
            .file("a/inner", 0o644, b"x")
            .file("a", 0o600, b"now a file")
            .file("b", 0o644, b"was a file")
            .dir("b", 0o700)
            .file("b/c", 0o644, b"c")
            .build();
        s.unpack(&tar).unwrap();
        assert_eq!(std::fs::read(s.layer().join("a")).unwrap(), b"now a file");
        assert_eq!(std::fs::read(s.layer().join("b/c")).unwrap(), b"c");
    }

    #[test]
    fn dot_dot_and_absolute_names_stay_inside_or_fail() {
        let s = Scratch::new("dotdot");
        assert!(s
            .unpack(&TarBuilder::new().file("../outside/x", 0o644, b"x").build())
            .is_err());
        assert!(s
            .unpack(&TarBuilder::new().file("a/../../x", 0o644, b"x").build())
            .is_err());
        s.assert_outside_untouched();

        let s = Scratch::new("abs");
        let abs = format!("{}/abs", s.outside().display());
        s.unpack(
            &TarBuilder::new()
                .file(&abs, 0o644, b"x")
                .file("/etc/y", 0o644, b"y")
                .build(),
        )
        .unwrap();
        // Absolute names are relative to the layer root.
        assert!(s.layer().join(abs.trim_start_matches('/')).is_file());
        assert!(s.layer().join("etc/y").is_file());
        s.assert_outside_untouched();
    }

    #[test]
    fn a_symlink_parent_resolves_inside_the_layer() {
        let s = Scratch::new("symparent");
        let outside = s.outside().display().to_string();
        let tar = TarBuilder::new()
            .link(tar::EntryType::Symlink, "l", "/")
            .file("l/file", 0o644, b"in the layer")
            .link(tar::EntryType::Symlink, "up", "../../../../../../..")
            .file("up/file2", 0o644, b"also in the layer")
            .link(tar::EntryType::Symlink, "out", &outside)
            .build();
        s.unpack(&tar).unwrap();
        assert_eq!(
            std::fs::read(s.layer().join("file")).unwrap(),
            b"in the layer"
        );
        assert_eq!(
            std::fs::read(s.layer().join("file2")).unwrap(),
            b"also in the layer"
        );
        s.assert_outside_untouched();

        // Through a link to a host directory that exists only on the host: nothing is written.
        let s = Scratch::new("symout");
        let outside = s.outside().display().to_string();
        let tar = TarBuilder::new()
            .link(tar::EntryType::Symlink, "out", &outside)
            .file("out/canary", 0o666, b"owned")
            .build();
        assert!(s.unpack(&tar).is_err());
        s.assert_outside_untouched();
    }

    #[test]
    fn hard_links_resolve_inside_the_layer_only() {
        for target in ["../../etc/passwd", "/etc/passwd", "etc/passwd"] {
            let s = Scratch::new("hardlink");
            let tar = TarBuilder::new()
                .link(tar::EntryType::Link, "pw", target)
                .build();
            assert!(s.unpack(&tar).is_err(), "hard link to {target} accepted");
            assert!(std::fs::symlink_metadata(s.layer().join("pw")).is_err());
        }
        // Through a symlink pointing at the host: the target is looked up in the layer.
        let s = Scratch::new("hardlink-sym");
        let outside = s.outside().display().to_string();
        let tar = TarBuilder::new()
            .link(tar::EntryType::Symlink, "out", &outside)
            .link(tar::EntryType::Link, "stolen", "out/canary")
            .build();
        assert!(s.unpack(&tar).is_err());
        s.assert_outside_untouched();
    }

    /// CVE-2021-32760: a symlink to a host file, then the same name with a mode, must not chmod
    /// the host file through the link.
    #[test]
    fn cve_2021_32760_symlink_then_entry_with_mode() {
        let s = Scratch::new("cve-2021-32760");
        let canary = s.outside().join("canary").display().to_string();
        let outside = s.outside().display().to_string();
        let tar = TarBuilder::new()
            .link(tar::EntryType::Symlink, "x", &canary)
            .file("x", 0o4777, b"")
            .link(tar::EntryType::Symlink, "d", &outside)
            .dir("d", 0o777)
            .build();
        s.unpack(&tar).unwrap();
        assert!(kind_of(&s.layer().join("x")).is_file());
        assert!(kind_of(&s.layer().join("d")).is_dir());
        assert_eq!(
            std::fs::metadata(s.layer().join("d")).unwrap().mode() & 0o7777,
            0o777
        );
        s.assert_outside_untouched();
    }

    #[test]
    fn trusted_xattrs_from_the_image_are_ignored() {
        let s = Scratch::new("xattr");
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_path("d").unwrap();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_pax_extensions([
            ("SCHILY.xattr.trusted.overlay.redirect", &b"/etc"[..]),
            ("SCHILY.xattr.user.note", &b"hi"[..]),
            ("mtime", &b"1700000000.5"[..]),
        ])
        .unwrap();
        h.set_cksum();
        b.append(&h, &b""[..]).unwrap();
        s.unpack(&b.into_inner().unwrap()).unwrap();
        let d = File::open(s.layer().join("d")).unwrap();
        assert_eq!(xattr::fget(&d, "trusted.overlay.redirect").unwrap(), None);
        assert_eq!(
            xattr::fget(&d, "user.note").unwrap().as_deref(),
            Some(&b"hi"[..])
        );
        assert_eq!(d.metadata().unwrap().mtime(), 1_700_000_000);
    }

    #[test]
    fn clean_name_strips_prefixes_and_applies_dot_dot() {
        let c = |s: &str| {
            clean_name(s.as_bytes())
                .map(|v| {
                    v.iter()
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect()
                })
                .unwrap_or_else(|_| vec!["<error>".to_string()])
        };
        assert_eq!(c("./a/b"), ["a", "b"]);
        assert_eq!(c("/a//./b/"), ["a", "b"]);
        assert_eq!(c("a/../b"), ["b"]);
        assert_eq!(c("./"), Vec::<String>::new());
        assert_eq!(c("../a"), ["<error>"]);
        assert_eq!(c("a/../../b"), ["<error>"]);
        assert_eq!(
            parse_pax_time(b"12.25"),
            Some(TimeSpec::new(12, 250_000_000))
        );
    }
}

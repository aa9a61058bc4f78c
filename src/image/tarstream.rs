//! A layer tar read member by member: the framing (headers, GNU long names, PAX records), done
//! here rather than by `tar::Archive` because the crate keeps a GNU sparse file's map to itself
//! and hands out the holes as zeros to be read and written. With the map, the unpacker writes
//! only the data segments, where they belong, and a 2.5 KB member that declares a 1 GiB file
//! costs a few blocks of disk, as with GNU tar and Go's archive/tar (which Docker uses).
//!
//! The `tar` crate still decodes each header's fields (octal and base-256 numbers, ustar
//! prefixes, PAX records). Sparse encodings read (GNU tar manual, "Storing Sparse Files"):
//! - old GNU, type `S`: four map entries in the header, more in 512-byte extension blocks
//!   between the header and the data, the real size in the header;
//! - PAX 0.0: repeated `GNU.sparse.offset` / `GNU.sparse.numbytes` records;
//! - PAX 0.1: one `GNU.sparse.map` record, `offset,size,offset,size,…`;
//! - PAX 1.0 (`GNU.sparse.major=1`, `minor=0`): the map at the start of the member's data, in
//!   decimal lines (count, then offset and size of each segment), padded to a block.
//!
//! In each the data segments follow back to back; `GNU.sparse.name` is the file's real name and
//! `GNU.sparse.size` or `GNU.sparse.realsize` its real size.

use anyhow::{bail, Context, Result};
use std::io::{self, Read};

const BLOCK: u64 = 512;
/// The largest GNU long name, PAX header or PAX 1.0 sparse map kept in memory: Go's archive/tar
/// limit (`maxSpecialFileSize`, 1 MiB).
const MAX_SPECIAL: u64 = 1 << 20;
/// The most data segments a sparse file may list (16 bytes each in memory).
const MAX_SEGMENTS: usize = 1 << 20;

/// A sparse file's map: its real size and its data segments (offset, length), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseMap {
    pub real_size: u64,
    pub segments: Vec<(u64, u64)>,
}

/// One member of the archive, headers read; its stored bytes are what [`Members`] reads next.
pub struct Member {
    pub header: tar::Header,
    /// The name: GNU long name, PAX `path`, `GNU.sparse.name`, or the header's.
    pub path: Vec<u8>,
    /// The link target: GNU long link, PAX `linkpath`, or the header's.
    pub link: Option<Vec<u8>>,
    /// The member's PAX records, in order (keys that are not UTF-8 are dropped).
    pub pax: Vec<(String, Vec<u8>)>,
    /// Bytes of content stored in the archive (for a sparse file: its segments, back to back).
    pub size: u64,
    /// For a sparse file, where those bytes go.
    pub sparse: Option<SparseMap>,
}

impl Member {
    /// The size of the file it makes: the real size of a sparse file, else what is stored.
    pub fn file_size(&self) -> u64 {
        self.sparse.as_ref().map_or(self.size, |m| m.real_size)
    }
}

/// The members of a tar stream; between two [`Members::next_member`] calls, `read` gives the
/// current member's stored bytes (what is left unread is skipped).
pub struct Members<R> {
    inner: R,
    /// Bytes of the current member's content not read yet, then its padding.
    left: u64,
    pad: u64,
}

impl<R: Read> Members<R> {
    pub fn new(inner: R) -> Members<R> {
        Members {
            inner,
            left: 0,
            pad: 0,
        }
    }

    /// The next member, or `None` at the end of the archive (a zero block, or the stream's end
    /// between members).
    pub fn next_member(&mut self) -> Result<Option<Member>> {
        self.skip_rest()?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax_bytes: Option<Vec<u8>> = None;
        loop {
            let mut header = tar::Header::new_old();
            if !self.read_block(header.as_mut_bytes())? {
                if long_name.is_some() || long_link.is_some() || pax_bytes.is_some() {
                    bail!("archive ends after an extension header");
                }
                return Ok(None);
            }
            if header.as_bytes().iter().all(|&b| b == 0) {
                return Ok(None);
            }
            check_sum(&header)?;
            let stored = header.entry_size().context("bad size")?;
            let kind = header.entry_type();
            use tar::EntryType as T;
            let slot = match kind {
                T::GNULongName => Some(&mut long_name),
                T::GNULongLink => Some(&mut long_link),
                T::XHeader => Some(&mut pax_bytes),
                T::XGlobalHeader => None,
                _ => {
                    return self
                        .member(header, stored, long_name, long_link, pax_bytes)
                        .map(Some)
                }
            };
            if stored > MAX_SPECIAL {
                bail!("{kind:?} header of {stored} bytes is too large");
            }
            let bytes = self.read_special(stored)?;
            if let Some(slot) = slot {
                if slot.is_some() {
                    bail!("two {kind:?} headers describe the same member");
                }
                *slot = Some(bytes);
            }
        }
    }

    fn member(
        &mut self,
        header: tar::Header,
        stored: u64,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        pax_bytes: Option<Vec<u8>>,
    ) -> Result<Member> {
        let mut pax = Vec::new();
        if let Some(bytes) = &pax_bytes {
            for ext in tar::PaxExtensions::new(bytes) {
                let ext = ext.context("bad PAX header")?;
                if let Ok(key) = ext.key() {
                    pax.push((key.to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
        let record = |key: &str| pax.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let size = match record("size") {
            Some(v) => parse_decimal(&v).context("bad PAX size")?,
            None => stored,
        };
        let mut path = long_name
            .map(trim_nul)
            .or_else(|| record("path"))
            .unwrap_or_else(|| header.path_bytes().into_owned());
        let link = long_link
            .map(trim_nul)
            .or_else(|| record("linkpath"))
            .or_else(|| header.link_name_bytes().map(|l| l.into_owned()));
        self.left = size;
        self.pad = (BLOCK - size % BLOCK) % BLOCK;
        use tar::EntryType as T;
        let sparse = match header.entry_type() {
            T::GNUSparse => Some(self.old_gnu_map(&header)?),
            T::Regular | T::Continuous => match pax_sparse_version(&pax)? {
                None => None,
                Some(version) => {
                    if let Some(name) = record("GNU.sparse.name") {
                        path = name;
                    }
                    let real = record("GNU.sparse.size")
                        .or_else(|| record("GNU.sparse.realsize"))
                        .context("sparse file without GNU.sparse.size")?;
                    let real_size = parse_decimal(&real).context("bad GNU.sparse.size")?;
                    let segments = if version == (1, 0) {
                        self.map_1_0()?
                    } else {
                        map_0_x(&pax)?
                    };
                    Some(SparseMap {
                        real_size,
                        segments,
                    })
                }
            },
            _ => None,
        };
        if let Some(map) = &sparse {
            check_map(map, self.left)?;
        }
        Ok(Member {
            header,
            path,
            link,
            pax,
            size: self.left,
            sparse,
        })
    }

    /// The map of an old GNU sparse header and of the extension blocks after it.
    fn old_gnu_map(&mut self, header: &tar::Header) -> Result<SparseMap> {
        let gnu = header
            .as_gnu()
            .context("sparse member without a GNU header")?;
        let real_size = gnu.real_size().context("bad sparse real size")?;
        let mut segments = Vec::new();
        let mut add = |entries: &[tar::GnuSparseHeader]| -> Result<()> {
            for e in entries.iter().take_while(|e| !e.is_empty()) {
                if segments.len() == MAX_SEGMENTS {
                    bail!("more than {MAX_SEGMENTS} sparse segments");
                }
                segments.push((
                    e.offset().context("bad sparse offset")?,
                    e.length().context("bad sparse length")?,
                ));
            }
            Ok(())
        };
        add(&gnu.sparse)?;
        let mut extended = gnu.is_extended();
        while extended {
            let mut ext = tar::GnuExtSparseHeader::new();
            if !self.read_block(ext.as_mut_bytes())? {
                bail!("archive ends in a sparse map");
            }
            add(ext.sparse())?;
            extended = ext.is_extended();
        }
        Ok(SparseMap {
            real_size,
            segments,
        })
    }

    /// A PAX 1.0 map: decimal lines at the start of the content, read a block at a time (the
    /// blocks it takes are not file data). One pass: each block's complete lines are parsed as
    /// they arrive and only an unfinished line is kept, so a map costs time linear in its size,
    /// which is at most [`MAX_SPECIAL`] bytes; a count whose lines could not fit in that is
    /// refused before any more of the map is read.
    fn map_1_0(&mut self) -> Result<Vec<(u64, u64)>> {
        let mut tail: Vec<u8> = Vec::new();
        let mut numbers: Vec<u64> = Vec::new();
        let mut wanted: Option<usize> = None;
        let mut read: u64 = 0;
        loop {
            if self.left < BLOCK {
                bail!("sparse map runs past the member's data");
            }
            if read >= MAX_SPECIAL {
                bail!("sparse map larger than {MAX_SPECIAL} bytes");
            }
            let mut block = [0u8; BLOCK as usize];
            io::Read::read_exact(self, &mut block).context("read sparse map")?;
            read += BLOCK;
            let mut rest = &block[..];
            while let Some(i) = rest.iter().position(|&b| b == b'\n') {
                let piece = &rest[..i];
                rest = &rest[i + 1..];
                let line: &[u8] = if tail.is_empty() {
                    piece
                } else {
                    tail.extend_from_slice(piece);
                    &tail
                };
                if !line.is_empty() {
                    let n = parse_decimal(line).context("bad sparse map")?;
                    numbers.push(n);
                }
                tail.clear();
                if wanted.is_none() && !numbers.is_empty() {
                    let count = usize::try_from(numbers[0]).unwrap_or(usize::MAX);
                    if count > MAX_SEGMENTS {
                        bail!("more than {MAX_SEGMENTS} sparse segments");
                    }
                    // The count's line, then at least "0\n0\n" for each segment.
                    let least = numbers[0].to_string().len() as u64 + 1 + 4 * count as u64;
                    if least > MAX_SPECIAL {
                        bail!("sparse map larger than {MAX_SPECIAL} bytes ({count} segments)");
                    }
                    wanted = Some(1 + 2 * count);
                }
                if Some(numbers.len()) == wanted {
                    return Ok(numbers[1..].chunks(2).map(|p| (p[0], p[1])).collect());
                }
            }
            tail.extend_from_slice(rest);
        }
    }

    fn read_special(&mut self, size: u64) -> Result<Vec<u8>> {
        self.left = size;
        self.pad = (BLOCK - size % BLOCK) % BLOCK;
        let mut bytes = Vec::with_capacity(size as usize);
        io::Read::read_to_end(self, &mut bytes).context("read extension header")?;
        if bytes.len() as u64 != size {
            bail!("archive ends in an extension header");
        }
        self.skip_rest()?;
        Ok(bytes)
    }

    /// Skip what is left of the current member and its padding.
    fn skip_rest(&mut self) -> Result<()> {
        let rest = self.left + self.pad;
        let skipped =
            io::copy(&mut (&mut self.inner).take(rest), &mut io::sink()).context("read archive")?;
        if skipped != rest {
            bail!("unexpected end of archive");
        }
        self.left = 0;
        self.pad = 0;
        Ok(())
    }

    /// One whole block, or false at the stream's end before its first byte.
    fn read_block(&mut self, block: &mut [u8]) -> Result<bool> {
        let mut got = 0;
        while got < block.len() {
            match self.inner.read(&mut block[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => bail!("unexpected end of archive"),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("read archive"),
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for Members<R> {
    /// The current member's stored bytes; a stream that ends inside them is an error.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The header checksum: the sum of its bytes with the checksum field read as spaces (POSIX
/// ustar; old archives summed signed bytes, which is accepted too).
fn check_sum(header: &tar::Header) -> Result<()> {
    let bytes = header.as_bytes();
    let field = 148..156;
    let (mut unsigned, mut signed) = (0u32, 0i32);
    for (i, &b) in bytes.iter().enumerate() {
        let b = if field.contains(&i) { b' ' } else { b };
        unsigned += u32::from(b);
        signed += i32::from(b as i8);
    }
    let want = header.cksum().context("bad header checksum field")?;
    if want != unsigned && i64::from(want) != i64::from(signed) {
        bail!("archive header checksum mismatch");
    }
    Ok(())
}

/// Which GNU PAX sparse format the records use, if any, as Go's archive/tar decides: explicit
/// major/minor 1.0 or 0.0/0.1, else (0.0 and 0.1 wrote no version) the presence of a map.
fn pax_sparse_version(pax: &[(String, Vec<u8>)]) -> Result<Option<(u8, u8)>> {
    let get = |key: &str| {
        pax.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    };
    match (get("GNU.sparse.major"), get("GNU.sparse.minor")) {
        (Some(b"1"), Some(b"0")) => Ok(Some((1, 0))),
        (Some(b"0"), Some(b"0" | b"1")) => Ok(Some((0, 1))),
        (None, None) if get("GNU.sparse.map").is_some() || get("GNU.sparse.offset").is_some() => {
            Ok(Some((0, 1)))
        }
        (None, None) => Ok(None),
        _ => bail!("unknown GNU sparse format version"),
    }
}

/// A PAX 0.0 or 0.1 map: `GNU.sparse.map`, or the offset/numbytes records in order; the count
/// must match `GNU.sparse.numblocks` where it is given.
fn map_0_x(pax: &[(String, Vec<u8>)]) -> Result<Vec<(u64, u64)>> {
    let mut numbers = Vec::new();
    for (key, value) in pax {
        match key.as_str() {
            "GNU.sparse.map" => {
                for n in value.split(|&b| b == b',').filter(|n| !n.is_empty()) {
                    numbers.push(parse_decimal(n).context("bad GNU.sparse.map")?);
                }
            }
            "GNU.sparse.offset" | "GNU.sparse.numbytes" => {
                numbers.push(parse_decimal(value).with_context(|| format!("bad {key}"))?)
            }
            _ => {}
        }
        if numbers.len() > 2 * MAX_SEGMENTS {
            bail!("more than {MAX_SEGMENTS} sparse segments");
        }
    }
    if numbers.len() % 2 != 0 {
        bail!("sparse map with an odd count of numbers");
    }
    let segments: Vec<(u64, u64)> = numbers.chunks(2).map(|p| (p[0], p[1])).collect();
    if let Some((_, n)) = pax.iter().find(|(k, _)| k == "GNU.sparse.numblocks") {
        if parse_decimal(n).context("bad GNU.sparse.numblocks")? != segments.len() as u64 {
            bail!("GNU.sparse.numblocks does not match the sparse map");
        }
    }
    Ok(segments)
}

/// Segments in order, not overlapping, inside the real size, and holding exactly the bytes
/// stored.
fn check_map(map: &SparseMap, stored: u64) -> Result<()> {
    let mut end = 0u64;
    let mut data = 0u64;
    for &(offset, len) in &map.segments {
        if offset < end {
            bail!("sparse segments out of order or overlapping");
        }
        end = offset
            .checked_add(len)
            .filter(|e| *e <= map.real_size)
            .context("sparse segment past the file's end")?;
        data += len;
    }
    if data != stored {
        bail!("sparse map lists {data} bytes of data, the member stores {stored}");
    }
    Ok(())
}

fn parse_decimal(v: &[u8]) -> Result<u64> {
    let text = std::str::from_utf8(v).ok().map(str::trim);
    match text.map(str::parse::<u64>) {
        Some(Ok(n)) => Ok(n),
        _ => bail!("not a decimal number: {:?}", String::from_utf8_lossy(v)),
    }
}

/// GNU long names end with a NUL.
fn trim_nul(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pax_record(key: &str, value: &str) -> Vec<u8> {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while len.to_string().len() + body.len() != len {
            len = len.to_string().len() + body.len();
        }
        format!("{len}{body}").into_bytes()
    }

    fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_cksum();
        h
    }

    fn padded(mut v: Vec<u8>) -> Vec<u8> {
        v.resize(v.len().div_ceil(512) * 512, 0);
        v
    }

    /// A member with an optional PAX header before it.
    fn member(records: &[(&str, &str)], name: &str, kind: tar::EntryType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !records.is_empty() {
            let pax: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
            out.extend_from_slice(
                header("pax", tar::EntryType::XHeader, pax.len() as u64).as_bytes(),
            );
            out.extend(padded(pax));
        }
        out.extend_from_slice(header(name, kind, data.len() as u64).as_bytes());
        out.extend(padded(data.to_vec()));
        out
    }

    /// Every member: (path, link, file size, sparse map, stored bytes).
    type Seen = (String, Option<String>, u64, Option<SparseMap>, Vec<u8>);

    fn read_all(archive: &[u8]) -> Result<Vec<Seen>> {
        let mut members = Members::new(archive);
        let mut out = Vec::new();
        while let Some(m) = members.next_member()? {
            let mut data = Vec::new();
            members.read_to_end(&mut data)?;
            out.push((
                String::from_utf8_lossy(&m.path).into_owned(),
                m.link
                    .as_ref()
                    .map(|l| String::from_utf8_lossy(l).into_owned()),
                m.file_size(),
                m.sparse.clone(),
                data,
            ));
        }
        Ok(out)
    }

    #[test]
    fn members_frame_as_the_tar_crate_does() {
        // GNU long names and links, PAX records, a directory and a hard link, as the crate's
        // own builder writes them; a member's data left unread is skipped.
        let long = format!("d/{}", "n".repeat(150));
        let target = format!("/{}", "t".repeat(120));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, "d/", io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(5);
        b.append_data(&mut h, &long, &b"hello"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "l", &target).unwrap();
        let mut bytes = b.into_inner().unwrap();
        bytes.truncate(bytes.len() - 1024);
        bytes.extend(member(
            &[("path", "pax/name"), ("mtime", "1.5")],
            "short",
            tar::EntryType::Regular,
            b"xyz",
        ));
        bytes.extend_from_slice(&[0; 1024]);

        let ours = read_all(&bytes).unwrap();
        let mut theirs = Vec::new();
        for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            theirs.push((
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                e.link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned()),
                e.size(),
                None,
                data,
            ));
        }
        assert_eq!(ours, theirs);
        assert_eq!(ours[1].0, long);
        assert_eq!(ours[2].1.as_deref(), Some(target.as_str()));
        assert_eq!(ours[3].0, "pax/name");
    }

    #[test]
    fn pax_sparse_maps_of_each_version() {
        let data = b"AAAABBBBBB";
        let segs = vec![(4096, 4), (1 << 30, 6)];
        let real = (1u64 << 30) + 100;
        let v00 = member(
            &[
                ("GNU.sparse.size", &real.to_string()),
                ("GNU.sparse.numblocks", "2"),
                ("GNU.sparse.offset", "4096"),
                ("GNU.sparse.numbytes", "4"),
                ("GNU.sparse.offset", "1073741824"),
                ("GNU.sparse.numbytes", "6"),
                ("GNU.sparse.name", "real00"),
            ],
            "GNUSparseFile.0/real00",
            tar::EntryType::Regular,
            data,
        );
        let v01 = member(
            &[
                ("GNU.sparse.size", &real.to_string()),
                ("GNU.sparse.numblocks", "2"),
                ("GNU.sparse.map", "4096,4,1073741824,6"),
                ("GNU.sparse.name", "real01"),
            ],
            "GNUSparseFile.0/real01",
            tar::EntryType::Regular,
            data,
        );
        let mut stored = padded(b"2\n4096\n4\n1073741824\n6\n".to_vec());
        stored.extend_from_slice(data);
        let v10 = member(
            &[
                ("GNU.sparse.major", "1"),
                ("GNU.sparse.minor", "0"),
                ("GNU.sparse.name", "real10"),
                ("GNU.sparse.realsize", &real.to_string()),
            ],
            "GNUSparseFile.0/real10",
            tar::EntryType::Regular,
            &stored,
        );
        let archive = [v00, v01, v10, vec![0; 1024]].concat();
        let seen = read_all(&archive).unwrap();
        let map = SparseMap {
            real_size: real,
            segments: segs,
        };
        for (got, name) in seen.iter().zip(["real00", "real01", "real10"]) {
            assert_eq!(
                got,
                &(
                    name.to_string(),
                    None,
                    real,
                    Some(map.clone()),
                    data.to_vec()
                )
            );
        }
    }

    #[test]
    fn bad_maps_and_headers_are_refused() {
        let sparse = |map: &str, size: &str, data: &[u8]| {
            member(
                &[("GNU.sparse.size", size), ("GNU.sparse.map", map)],
                "f",
                tar::EntryType::Regular,
                data,
            )
        };
        for (archive, err) in [
            (sparse("0,4,2,4", "100", b"12345678"), "overlapping"),
            (sparse("96,8", "100", b"12345678"), "past the file's end"),
            (sparse("0,4", "100", b"12345678"), "the member stores 8"),
            (sparse("0,4,8", "100", b"1234"), "odd count"),
            (sparse("0,x", "100", b"1234"), "not a decimal number"),
        ] {
            let got = format!("{:#}", read_all(&archive).unwrap_err());
            assert!(got.contains(err), "{got}");
        }
        let mut corrupt = member(&[], "f", tar::EntryType::Regular, b"x");
        corrupt[0] ^= 1;
        let got = format!("{:#}", read_all(&corrupt).unwrap_err());
        assert!(got.contains("checksum mismatch"), "{got}");
        let truncated = &member(&[], "f", tar::EntryType::Regular, &[7; 2000])[..1024];
        assert!(read_all(truncated).is_err());
    }

    /// A PAX 1.0 member whose content starts with `map` (padded to a block), then `extra`
    /// bytes.
    fn map_1_0_member(map: &[u8], extra: usize) -> Vec<u8> {
        let mut stored = padded(map.to_vec());
        stored.resize(stored.len() + extra, 0);
        let archive = member(
            &[
                ("GNU.sparse.major", "1"),
                ("GNU.sparse.minor", "0"),
                ("GNU.sparse.realsize", "4096"),
            ],
            "GNUSparseFile.0/f",
            tar::EntryType::Regular,
            &stored,
        );
        [archive, vec![0; 1024]].concat()
    }

    /// ~1 MiB of PAX 1.0 map that never completes: refused in one pass over it (re-parsing
    /// the map after each block made such a member cost ~86 s of CPU), or at its first line
    /// when the count's lines could not fit in the limit.
    #[test]
    fn hostile_1_0_maps_are_refused_in_one_pass() {
        let limit = MAX_SPECIAL as usize;
        // A count no 1 MiB map can hold, then "0\n" lines to just under the limit.
        let mut huge = b"1000000\n".to_vec();
        while huge.len() + 2 < limit {
            huge.extend_from_slice(b"0\n");
        }
        // A count that fits, and 1 MiB of "00\n" lines that never reach it.
        let mut long = b"262000\n".to_vec();
        while long.len() + 3 <= limit {
            long.extend_from_slice(b"00\n");
        }
        long.resize(limit, b'0');
        for (map, err) in [
            (
                &huge,
                "sparse map larger than 1048576 bytes (1000000 segments)",
            ),
            (&long, "sparse map larger than 1048576 bytes"),
        ] {
            let got = format!("{:#}", read_all(&map_1_0_member(map, 4096)).unwrap_err());
            assert!(got.ends_with(err), "{got}");
        }
        // The largest count that fits is read to its end, lines split across blocks.
        let most = (limit - 7) / 4;
        let mut full = format!("{most}\n").into_bytes();
        for _ in 0..most {
            full.extend_from_slice(b"0\n0\n");
        }
        assert!(full.len() <= limit);
        let seen = read_all(&map_1_0_member(&full, 0)).unwrap();
        let map = seen[0].3.as_ref().unwrap();
        assert_eq!(map.segments, vec![(0, 0); most]);
        let mut over = format!("{}\n", most + 1).into_bytes();
        over.extend_from_slice(b"0\n0\n");
        let got = format!("{:#}", read_all(&map_1_0_member(&over, 0)).unwrap_err());
        assert!(got.contains(&format!("({} segments)", most + 1)), "{got}");
    }
}

//! A container's log: what its process wrote to stdout and stderr, kept apart, with the time of
//! each line. One record per line of output: `TIME STREAM TEXT\n`, where STREAM is `O`/`E`
//! (`o`/`e` for a piece of a line the process has not ended yet). Each record is written with
//! one `write(2)` on an O_APPEND file, and readers stop at the last newline, so a reader never
//! sees a torn line. The log is bounded: past `max_size` bytes it rotates (`log`, `log.1`, …,
//! `max_file` files in all), as Docker's json-file driver does with max-size/max-file.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Docker's defaults would keep logs unbounded; ours: 10 MiB × 3 files.
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
pub const DEFAULT_MAX_FILE: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Appends records, rotating by size.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_file: u32,
    /// Bytes of an unfinished line per stream, held until its newline (bounded).
    pending: [Vec<u8>; 2],
}

/// Longest piece of a line held back waiting for its newline.
const MAX_PENDING: usize = 16 * 1024;

impl LogWriter {
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> Result<LogWriter> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(crate::fs::store_access::FILE_MODE)
            .open(path)
            .with_context(|| format!("open log {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            max_size: max_size.max(1024),
            max_file: max_file.max(1),
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Record output of one stream; complete lines are written at once.
    pub fn write(&mut self, stream: Stream, mut data: &[u8]) {
        let idx = stream as usize;
        while let Some(pos) = data.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.pending[idx]);
            line.extend_from_slice(&data[..pos]);
            self.record(stream, &line, true);
            data = &data[pos + 1..];
        }
        self.pending[idx].extend_from_slice(data);
        if self.pending[idx].len() >= MAX_PENDING {
            let piece = std::mem::take(&mut self.pending[idx]);
            self.record(stream, &piece, false);
        }
    }

    /// Write out unfinished lines (at exit).
    pub fn flush(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let piece = std::mem::take(&mut self.pending[stream as usize]);
            if !piece.is_empty() {
                self.record(stream, &piece, false);
            }
        }
    }

    fn record(&mut self, stream: Stream, text: &[u8], complete: bool) {
        let tag = match (stream, complete) {
            (Stream::Stdout, true) => 'O',
            (Stream::Stderr, true) => 'E',
            (Stream::Stdout, false) => 'o',
            (Stream::Stderr, false) => 'e',
        };
        let mut rec = Vec::with_capacity(text.len() + 40);
        rec.extend_from_slice(super::state::now_rfc3339().as_bytes());
        rec.push(b' ');
        rec.push(tag as u8);
        rec.push(b' ');
        // A newline inside a record cannot happen (lines are split on it); keep CR as is.
        rec.extend_from_slice(text);
        rec.push(b'\n');
        if self.size + rec.len() as u64 > self.max_size && self.size > 0 {
            self.rotate();
        }
        if self.file.write_all(&rec).is_ok() {
            self.size += rec.len() as u64;
        }
    }

    fn rotate(&mut self) {
        if self.max_file <= 1 {
            let _ = self.file.set_len(0);
            self.size = 0;
            return;
        }
        for i in (1..self.max_file - 1).rev() {
            let _ = std::fs::rename(rotated(&self.path, i), rotated(&self.path, i + 1));
        }
        let _ = std::fs::rename(&self.path, rotated(&self.path, 1));
        if let Ok(f) = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(crate::fs::store_access::FILE_MODE)
            .open(&self.path)
        {
            self.file = f;
            self.size = 0;
        }
    }
}

fn rotated(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub time: String,
    pub stream: Stream,
    /// The text, with its newline when the line was complete.
    pub text: Vec<u8>,
}

/// Parse complete records from `buf`; returns them and how many bytes were consumed.
pub fn parse_records(buf: &[u8]) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    let mut consumed = 0;
    while let Some(end) = buf[consumed..].iter().position(|&b| b == b'\n') {
        let line = &buf[consumed..consumed + end];
        consumed += end + 1;
        let mut parts = line.splitn(3, |&b| b == b' ');
        let (Some(time), Some(tag), text) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (stream, complete) = match tag {
            b"O" => (Stream::Stdout, true),
            b"E" => (Stream::Stderr, true),
            b"o" => (Stream::Stdout, false),
            b"e" => (Stream::Stderr, false),
            _ => continue,
        };
        let mut text = text.unwrap_or_default().to_vec();
        if complete {
            text.push(b'\n');
        }
        out.push(Record {
            time: String::from_utf8_lossy(time).into_owned(),
            stream,
            text,
        });
    }
    (out, consumed)
}

/// Every record of the log (rotated files first, oldest first).
pub fn read_all(path: &Path, max_file: u32) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for i in (1..max_file.max(1)).rev() {
        records.extend(read_file(&rotated(path, i))?.0);
    }
    records.extend(read_file(path)?.0);
    Ok(records)
}

/// The complete records of one file and the offset after the last one.
pub fn read_file(path: &Path) -> Result<(Vec<Record>, u64)> {
    let mut buf = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut buf)
                .with_context(|| format!("read {}", path.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    }
    let (records, consumed) = parse_records(&buf);
    Ok((records, consumed as u64))
}

/// Records appended to `path` since `offset` (complete records only) and the new offset. A
/// file that shrank (rotated) is read from its start.
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<Record>, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = if len < offset { 0 } else { offset };
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let (records, consumed) = parse_records(&buf);
    Ok((records, start + consumed as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_pieces_round_trip() {
        let dir = std::env::temp_dir().join(format!("berth-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut w = LogWriter::open(&path, DEFAULT_MAX_SIZE, 3).unwrap();
        w.write(Stream::Stdout, b"one\ntw");
        w.write(Stream::Stderr, b"err\n");
        w.write(Stream::Stdout, b"o\nend");
        w.flush();
        let recs = read_all(&path, 3).unwrap();
        let texts: Vec<(Stream, &[u8])> =
            recs.iter().map(|r| (r.stream, r.text.as_slice())).collect();
        assert_eq!(
            texts,
            vec![
                (Stream::Stdout, &b"one\n"[..]),
                (Stream::Stderr, &b"err\n"[..]),
                (Stream::Stdout, &b"two\n"[..]),
                (Stream::Stdout, &b"end"[..]),
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotation_bounds_the_log() {
        let dir = std::env::temp_dir().join(format!("berth-logrot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut w = LogWriter::open(&path, 2048, 3).unwrap();
        for i in 0..1000 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        let total: u64 = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(total <= 3 * 2048, "log grew to {total}");
        let recs = read_all(&path, 3).unwrap();
        assert_eq!(recs.last().unwrap().text, b"line 999\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_tail_is_not_a_record() {
        let (recs, used) =
            parse_records(b"2024-01-01T00:00:00.000000000Z O hi\n2024-01-01T00:00:00.0");
        assert_eq!(recs.len(), 1);
        assert_eq!(used, 36);
    }
}

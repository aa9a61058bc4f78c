//! Digest discipline: every digest that comes from an archive or a config is parsed strictly
//! (`sha256:` + 64 lowercase hex) before it names a file (CVE-2014-9358, CVE-2024-3727), and every
//! byte we keep is hashed as it streams past.

use anyhow::{bail, Result};
use sha2::{Digest as _, Sha256};
use std::io::{self, Read};

/// True for exactly 64 lowercase hex digits (a sha256 in the form digests and IDs use).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The hex of a `sha256:<hex>` digest, or an error naming what was wrong.
pub fn parse_sha256(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if is_sha256_hex(hex) => Ok(hex),
        Some(_) => bail!("invalid digest {digest:?}: want sha256 and 64 lowercase hex digits"),
        None => bail!("unsupported digest {digest:?}: only sha256 is supported"),
    }
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// The sha256 hex of a byte slice.
pub fn sha256_hex(data: &[u8]) -> String {
    to_hex(&Sha256::digest(data))
}

/// A reader that hashes every byte read through it.
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> DigestReader<R> {
    pub fn new(inner: R) -> DigestReader<R> {
        DigestReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Read the rest of the stream so the digest covers all of it (tar padding, trailing
    /// zero blocks, the end of a gzip member).
    pub fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }

    /// The hex digest of everything read so far.
    pub fn hex(&self) -> String {
        to_hex(&self.hasher.clone().finalize())
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_only_strict_sha256_digests() {
        assert_eq!(parse_sha256(&format!("sha256:{EMPTY}")).unwrap(), EMPTY);
        for bad in [
            "sha256:../../etc/passwd".to_string(),
            format!("sha256:{}", EMPTY.to_uppercase()),
            format!("sha512:{EMPTY}"),
            EMPTY.to_string(),
            format!("sha256:{EMPTY}0"),
        ] {
            assert!(parse_sha256(&bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn digest_reader_hashes_what_passes() {
        let mut r = DigestReader::new(&b"abc"[..]);
        r.drain().unwrap();
        assert_eq!(
            r.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_hex(b""), EMPTY);
    }
}

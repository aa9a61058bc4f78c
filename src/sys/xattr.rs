//! Extended attributes on open file descriptors (nix has no xattr calls): the layer unpacker sets
//! overlayfs' `trusted.overlay.opaque` and an image's `user.*`/`security.capability` through the
//! fd it already holds, never through a path that could have become a symlink (CVE-2021-32760).

use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};

/// Set attribute `name` to `value` on the file behind `fd` (fsetxattr(2), flags 0: create or
/// replace).
pub fn fset(fd: impl AsFd, name: &str, value: &[u8]) -> nix::Result<()> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `name` is a NUL-terminated string and `value` a live slice whose pointer and length
    // are passed together; the kernel only reads them for the duration of the call.
    let res = unsafe {
        libc::fsetxattr(
            fd.as_fd().as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(res).map(drop)
}

/// Read attribute `name` of the file behind `fd`; `Ok(None)` when it is not set (ENODATA).
// Checks of unpacked layers use it; the runtime will too.
#[cfg_attr(not(test), allow(dead_code))]
pub fn fget(fd: impl AsFd, name: &str) -> nix::Result<Option<Vec<u8>>> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes; the kernel writes at most
        // that many bytes and returns how many it wrote.
        let res = unsafe {
            libc::fgetxattr(
                fd.as_fd().as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        match Errno::result(res) {
            Ok(n) => {
                // `n` is non-negative here and at most `buf.len()`.
                buf.truncate(n as usize);
                return Ok(Some(buf));
            }
            Err(Errno::ENODATA) => return Ok(None),
            Err(Errno::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_xattr_round_trips_on_a_file() {
        let dir = std::env::temp_dir().join(format!("berth-xattr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = std::fs::File::create(dir.join("f")).unwrap();
        match fset(&file, "user.berth.test", b"v1") {
            // tmpfs before 6.6 and some filesystems refuse user.* xattrs: nothing to test there.
            Err(Errno::EOPNOTSUPP) => {}
            other => {
                other.unwrap();
                assert_eq!(
                    fget(&file, "user.berth.test").unwrap().as_deref(),
                    Some(&b"v1"[..])
                );
                assert_eq!(fget(&file, "user.berth.absent").unwrap(), None);
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Memory a long-lived helper (a container's monitor) gives back before it waits: it should
//! hold a few hundred KiB, not what its start-up touched.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// An I/O buffer of whole pages of its own (mmap(2)), so its pages can be given back while the
/// helper is idle without touching the heap around it.
pub struct PageBuffer {
    ptr: NonNull<u8>,
    len: usize,
}

impl PageBuffer {
    /// `len` is rounded up to whole pages; the pages are zero and take no memory until written.
    pub fn new(len: usize) -> std::io::Result<PageBuffer> {
        let len = len.max(1).next_multiple_of(page_size());
        // SAFETY: a new private anonymous mapping; nothing else refers to it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(std::io::Error::last_os_error)?;
        Ok(PageBuffer { ptr, len })
    }

    /// Give the pages back (madvise(2) MADV_DONTNEED on private anonymous memory: they read as
    /// zero afterwards and are allocated again when written). Takes `&mut self`, so no slice
    /// of the buffer is alive meanwhile.
    pub fn release(&mut self) {
        // SAFETY: the range is exactly this buffer's own mapping and no reference into it
        // exists (we hold it mutably); its contents are not needed any more.
        unsafe {
            libc::madvise(self.ptr.as_ptr().cast(), self.len, libc::MADV_DONTNEED);
        }
    }
}

impl Deref for PageBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for PageBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for PageBuffer {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no reference outlives self.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}

/// Give back what start-up left behind, as the last step before a long wait:
/// - free heap pages (malloc_trim(3));
/// - page-table entries of file mappings none of whose pages this process wrote
///   (madvise(2) MADV_DONTNEED: such pages come back from the page cache as they are used);
///   mappings holding written (copied, e.g. relocated) pages are left alone, since dropping
///   those would lose the writes;
/// - the stack pages below the caller's frame (a margin of 8 KiB is kept): by the ABI
///   nothing lives below the stack pointer, and a dropped page comes back zeroed when a later
///   call reaches it.
///
/// It allocates nothing, so the heap it trims stays trimmed. Call it only from a
/// single-threaded process with no signal handler that could run on the dropped stack.
#[inline(never)]
pub fn trim_memory() {
    let here = 0u8;
    let sp = std::hint::black_box(&here) as *const u8 as usize;
    // Everything that may touch other code or data runs before the file pages are dropped.
    let page = page_size();
    let mut maps = MapScan::default();
    if let Ok(mut smaps) = std::fs::File::open("/proc/self/smaps") {
        let mut chunk = [0u8; 4096];
        let mut filled = 0;
        while let Ok(n) = std::io::Read::read(&mut smaps, &mut chunk[filled..]) {
            filled += n;
            let mut used = 0;
            while let Some(end) = chunk[used..filled].iter().position(|&b| b == b'\n') {
                maps.line(&chunk[used..used + end]);
                used += end + 1;
            }
            if used == 0 && filled == chunk.len() {
                // A line longer than the buffer (a very long file name): skip it.
                maps.current = None;
                filled = 0;
            } else {
                chunk.copy_within(used..filled, 0);
                filled -= used;
            }
            if n == 0 {
                break;
            }
        }
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    if let Some((start, _)) = maps.stack.filter(|&(s, e)| (s..e).contains(&sp)) {
        let keep_from = (sp.saturating_sub(8 * 1024)) / page * page;
        if keep_from > start {
            // SAFETY: [start, keep_from) is the part of this thread's stack more than 8 KiB
            // below the current frame: no live frame or red zone is there (the process is
            // single-threaded and no signal handler runs), so its contents are dead.
            unsafe {
                libc::madvise(
                    start as *mut libc::c_void,
                    keep_from - start,
                    libc::MADV_DONTNEED,
                );
            }
        }
    }
    for &(start, end) in &maps.clean_files[..maps.clean_count] {
        // SAFETY: the range is a whole private file mapping of this process in which no page
        // was ever written: MADV_RANDOM changes read-ahead only, and MADV_DONTNEED only drops
        // page-table entries of clean file pages, which fault back unchanged.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// What `trim_memory` gathers from /proc/self/smaps (proc(5)), in fixed space.
struct MapScan {
    /// The mapping whose fields follow: start, end, whether it is a read-only file mapping.
    current: Option<(usize, usize, bool)>,
    clean_files: [(usize, usize); 64],
    clean_count: usize,
    stack: Option<(usize, usize)>,
}

impl Default for MapScan {
    fn default() -> MapScan {
        MapScan {
            current: None,
            clean_files: [(0, 0); 64],
            clean_count: 0,
            stack: None,
        }
    }
}

impl MapScan {
    fn line(&mut self, line: &[u8]) {
        let Ok(line) = std::str::from_utf8(line) else {
            return;
        };
        let mut fields = line.split_ascii_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-').filter(|(s, _)| !s.ends_with(':')) {
            let perms = fields.next().unwrap_or_default();
            let inode = fields.nth(2).unwrap_or("0");
            let name = fields.next().unwrap_or_default();
            let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) else {
                self.current = None;
                return;
            };
            if name == "[stack]" {
                self.stack = Some((start, end));
            }
            // Read-only (or read-execute) private mappings of a file.
            let file_ro = inode != "0" && (perms == "r-xp" || perms == "r--p");
            self.current = Some((start, end, file_ro));
        } else if first == "Anonymous:" {
            let written = fields.next().is_some_and(|kb| kb != "0");
            if let Some((start, end, true)) = self.current {
                if !written && self.clean_count < self.clean_files.len() {
                    self.clean_files[self.clean_count] = (start, end);
                    self.clean_count += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_keeps_only_unwritten_read_only_file_mappings_and_finds_the_stack() {
        let smaps = "\
55d000-55e000 r--p 00000000 fe:00 42 /usr/bin/x
Rss:                   4 kB
Anonymous:             0 kB
55e000-560000 r--p 00001000 fe:00 42 /usr/bin/x
Anonymous:             8 kB
560000-561000 rw-p 00003000 fe:00 42 /usr/bin/x
Anonymous:             0 kB
7f00000-7f10000 r-xp 00026000 fe:00 7 /usr/lib/libc.so.6
Anonymous:             0 kB
7f20000-7f21000 rw-p 00000000 00:00 0
Anonymous:             0 kB
7ffd000-7fff000 rw-p 00000000 00:00 0                          [stack]
Anonymous:             8 kB
";
        let mut scan = MapScan::default();
        for line in smaps.lines() {
            scan.line(line.as_bytes());
        }
        assert_eq!(
            &scan.clean_files[..scan.clean_count],
            &[(0x55d000, 0x55e000), (0x7f00000, 0x7f10000)]
        );
        assert_eq!(scan.stack, Some((0x7ffd000, 0x7fff000)));
    }

    #[test]
    fn a_released_buffer_reads_as_zero_and_is_usable_again() {
        let mut buf = PageBuffer::new(10_000).unwrap();
        assert_eq!(buf.len() % 4096, 0);
        assert!(buf.len() >= 10_000);
        buf[..5].copy_from_slice(b"hello");
        buf.release();
        assert!(buf.iter().all(|&b| b == 0));
        buf[0] = 7;
        assert_eq!(buf[0], 7);
    }
}

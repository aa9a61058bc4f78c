//! Mode, owner and times of the file behind an O_PATH descriptor. A fifo, device node or symlink
//! cannot be opened for fchmod/fchown/futimens (opening a device runs its driver; a symlink
//! cannot be opened at all), and setting them by name in a directory a container can write lets
//! it swap a link over that name in between (CVE-2021-32760): these act on the one inode the
//! descriptor holds, with an empty path (AT_EMPTY_PATH), so nothing is looked up or followed.

use nix::errno::Errno;
use nix::sys::stat::Mode;
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use std::os::fd::{AsRawFd, BorrowedFd};

/// fchmodat2(2)'s number: the same on every architecture (the unified syscall table,
/// include/uapi/asm-generic/unistd.h), added in Linux 6.6.
const SYS_FCHMODAT2: libc::c_long = 452;

/// chmod of the inode behind `fd` (O_PATH allowed; never a symlink's target: the caller checked
/// what `fd` is). fchmodat2(fd, "", mode, AT_EMPTY_PATH) where the kernel has it (6.6); before
/// that, chmod of `/proc/self/fd/N`, which the kernel resolves to the descriptor's own inode
/// (proc(5), the "magic link" behaviour), not through any name.
pub fn chmod(fd: BorrowedFd<'_>, mode: Mode) -> nix::Result<()> {
    // SAFETY: fchmodat2 takes an fd, a NUL-terminated path (an empty C string literal, alive for
    // the call), a mode and flags; it reads the path only during the call and writes no memory.
    let res = unsafe {
        libc::syscall(
            SYS_FCHMODAT2,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::c_uint::from(mode.bits()),
            libc::AT_EMPTY_PATH,
        )
    };
    match Errno::result(res) {
        Ok(_) => Ok(()),
        // Older kernels (ENOSYS), or a seccomp filter that does not know the call yet (Docker's
        // profiles answer unknown calls with EPERM or ENOSYS).
        Err(Errno::ENOSYS | Errno::EPERM) => chmod_by_proc(fd, mode),
        Err(e) => Err(e),
    }
}

/// chmod through `/proc/self/fd/N`: the kernel jumps from that link to the descriptor's inode.
fn chmod_by_proc(fd: BorrowedFd<'_>, mode: Mode) -> nix::Result<()> {
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
        mode,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
}

/// chown of the inode behind `fd` itself (a symlink's own owner when `fd` is a symlink).
pub fn chown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> nix::Result<()> {
    nix::unistd::fchownat(
        fd,
        "",
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_EMPTY_PATH | nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Access and modification times of the inode behind `fd` itself (a symlink's own times when
/// `fd` is a symlink).
pub fn set_times(fd: BorrowedFd<'_>, atime: &TimeSpec, mtime: &TimeSpec) -> nix::Result<()> {
    let times: [libc::timespec; 2] = [*atime.as_ref(), *mtime.as_ref()];
    // SAFETY: `times` is a live array of two timespecs and the path an empty C string literal;
    // utimensat(2) only reads both during the call.
    let res = unsafe {
        libc::utimensat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            times.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    Errno::result(res).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::OFlag;
    use std::os::fd::AsFd;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn open_path(path: &std::path::Path) -> std::os::fd::OwnedFd {
        nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn metadata_lands_on_the_node_and_never_on_a_link_target() {
        let dir = std::env::temp_dir().join(format!("berth-pathfd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("target");
        std::fs::write(&target, "t").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let t = TimeSpec::new(1_234_567_890, 0);

        let fd = open_path(&fifo);
        chmod(fd.as_fd(), Mode::from_bits_truncate(0o751)).unwrap();
        chown(fd.as_fd(), 12, 34).unwrap();
        set_times(fd.as_fd(), &t, &t).unwrap();
        let m = std::fs::symlink_metadata(&fifo).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o751, 12, 34));
        assert_eq!(m.mtime(), 1_234_567_890);
        // The fallback for kernels before 6.6.
        chmod_by_proc(fd.as_fd(), Mode::from_bits_truncate(0o640)).unwrap();
        assert_eq!(
            std::fs::symlink_metadata(&fifo).unwrap().mode() & 0o7777,
            0o640
        );

        // A symlink's own owner and times; its target is untouched.
        let fd = open_path(&link);
        chown(fd.as_fd(), 56, 78).unwrap();
        set_times(fd.as_fd(), &t, &t).unwrap();
        let m = std::fs::symlink_metadata(&link).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mtime()), (56, 78, 1_234_567_890));
        let m = std::fs::metadata(&target).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid()), (0o600, 0));
        assert_ne!(m.mtime(), 1_234_567_890);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

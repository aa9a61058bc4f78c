//! The berth binary as the containers can see it (CVE-2019-5736). A process that berth starts
//! in a container runs berth's own code until it execs the container's command, and that
//! command may be a script whose interpreter is `/proc/self/exe`: the kernel then runs berth
//! again, now as a process of the container, and a process beside it can open the binary through
//! `/proc/PID/exe` and, once nothing executes it any more, write to it: the next berth started on
//! the host runs the container's code as root.
//!
//! Only `exec` is exposed: its process joins a PID namespace where the container's processes
//! already run. It is non-dumpable until it execs, which keeps out every process of the
//! container but one holding CAP_SYS_PTRACE (an `exec --privileged` one). A container's first
//! process starts alone in a new PID namespace that nothing joins before it has exec'd.
//!
//! So `berth exec` first re-executes itself from a view of its binary
//! that cannot be written: a detached read-only bind mount of the file (open_tree(2) with
//! OPEN_TREE_CLONE, then mount_setattr(2) MOUNT_ATTR_RDONLY; Linux 5.12), shared by every process
//! and costing one execve (about 1.7 ms here). The mount is attached nowhere: no other process sees it, nothing is
//! left to unmount, and it goes with the last process that executes it. Where that is not
//! possible, the fallback is a sealed copy in a memfd (memfd_create(2), F_SEAL_WRITE), as runc
//! does. A binary that already lives on a read-only file system needs neither.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, OFlag, SealFlag};
use nix::sys::stat::Mode;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

const SELF_EXE: &str = "/proc/self/exe";
const OPEN_TREE_CLONE: u32 = 1;
const MOUNT_ATTR_RDONLY: u64 = 1;

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Whether this process's binary cannot be written through `/proc/PID/exe`: it lives on a
/// read-only mount, or in a memfd sealed against writes.
pub fn running_from_read_only_view() -> Result<bool, Errno> {
    let exe = nix::fcntl::open(SELF_EXE, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    let fs = nix::sys::statvfs::fstatvfs(&exe)?;
    if fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Ok(true);
    }
    match nix::fcntl::fcntl(&exe, FcntlArg::F_GET_SEALS) {
        Ok(seals) => Ok(SealFlag::from_bits_truncate(seals).contains(SealFlag::F_SEAL_WRITE)),
        Err(Errno::EINVAL) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A detached, read-only bind mount of this process's binary, as an fd to exec.
pub fn read_only_view() -> Result<OwnedFd, Errno> {
    let path = CString::new(SELF_EXE).expect("no NUL in a constant");
    // SAFETY: plain syscall; `path` outlives it. The result is a new fd we own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32,
        )
    };
    let fd = Errno::result(fd)?;
    // SAFETY: open_tree returned a new fd that nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: plain syscall on our own fd; `attr` and `empty` outlive it, and the size passed is
    // the struct's own.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret)?;
    Ok(tree)
}

/// A copy of this process's binary in a memfd sealed against writes, growing and shrinking.
pub fn sealed_copy() -> std::io::Result<OwnedFd> {
    let memfd = nix::sys::memfd::memfd_create(
        c"berth",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC | nix::sys::memfd::MFdFlags::MFD_ALLOW_SEALING,
    )?;
    let mut copy = std::fs::File::from(memfd);
    let mut exe = std::fs::File::open(SELF_EXE)?;
    std::io::copy(&mut exe, &mut copy)?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(&copy, FcntlArg::F_ADD_SEALS(seals))?;
    Ok(OwnedFd::from(copy))
}

/// Replace this process with the program behind `exe`, with the same arguments and
/// environment plus `marker` (`NAME=VALUE`). Returns only on failure.
pub fn reexec(exe: impl AsFd, marker: &CStr) -> Errno {
    use std::os::unix::ffi::OsStrExt;
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    env.push(marker.to_owned());
    match nix::unistd::execveat(exe.as_fd(), c"", &args, &env, AtFlags::AT_EMPTY_PATH) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Both views refuse writes, as a container would try them: through a reopened descriptor.
    #[test]
    fn views_of_the_binary_cannot_be_written() {
        let reopen = |fd: &OwnedFd| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .and_then(|mut f| f.write_all(b"#x"))
        };
        let copy = sealed_copy().unwrap();
        assert_eq!(reopen(&copy).unwrap_err().raw_os_error(), Some(libc::EPERM));
        // This test's own binary is running (ETXTBSY would come first): the mount says it.
        let view = read_only_view().unwrap();
        let fs = nix::sys::statvfs::fstatvfs(&view).unwrap();
        assert!(fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    }
}

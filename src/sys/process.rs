//! Process syscalls without a nix wrapper: clone3 (fork-like, with namespaces and a pidfd),
//! pidfd_open, pidfd_send_signal, close_range, and `_exit`.

use nix::errno::Errno;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// What a fork-like clone returned in this process.
pub enum Forked {
    /// We are the parent: the child's pid (in our PID namespace) and a pidfd for it.
    Parent { pid: i32, pidfd: OwnedFd },
    /// We are the child.
    Child,
}

/// clone3(2) flag: start the child in the cgroup v2 directory `cgroup` (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of clone3(2), version 2 (with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Fork into new namespaces (`flags` are CLONE_NEW* bits) and get a pidfd for the child.
/// With `cgroup_fd`, the child starts inside that cgroup v2 directory (CLONE_INTO_CGROUP).
///
/// Like fork(2), the child gets a copy of the address space and continues from here: call it
/// only while the process is single-threaded, and have the child leave with [`exit_now`].
pub fn clone_fork(flags: u64, cgroup_fd: Option<RawFd>) -> Result<Forked, Errno> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with no stack behaves like fork: the child runs on a copy of this stack.
    // `args` and `pidfd` outlive the call; the size passed is the struct's own.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: pid as i32,
            // SAFETY: on success the kernel stored a new, owned pidfd (CLONE_PIDFD).
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}

/// A pidfd for an existing process (pidfd_open(2)).
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Send a signal through a pidfd (no pid-reuse race: pidfd_send_signal(2)).
pub fn pidfd_send_signal(pidfd: RawFd, signal: i32) -> Result<(), Errno> {
    // SAFETY: plain syscall; a null siginfo means "as kill(2) would".
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(ret).map(drop)
}

/// Mark every fd from `first` up close-on-exec (close_range(2) with CLOSE_RANGE_CLOEXEC), so
/// nothing of the engine's leaks into the container (CVE-2024-21626).
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(ret).map(drop)
}

/// Close every descriptor from 3 up except `keep` (two close_range(2) calls around it).
/// A process about to enter a container's working directory must hold no descriptor of the
/// host's: `/proc/self/fd/N` of one would put its cwd outside the container's root
/// (CVE-2024-21626). Close-on-exec is not enough there, as the cwd is entered before the exec.
///
/// # Safety
/// Nothing in this process may use or close a descriptor above 2 other than `keep` afterwards
/// (an `OwnedFd` or `File` that still holds one would act on a number that is now free or
/// reused): call it only in a forked child that goes on to execve or `_exit` without dropping
/// such owners.
pub unsafe fn close_fds_except(keep: RawFd) -> Result<(), Errno> {
    let close = |first: u32, last: u32| {
        if first > last {
            return Ok(());
        }
        // SAFETY: plain syscall with integer arguments; the caller vouches for the fds.
        let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
        Errno::result(ret).map(drop)
    };
    let keep = u32::try_from(keep).map_err(|_| Errno::EBADF)?;
    if keep < 3 {
        return close(3, u32::MAX);
    }
    close(3, keep - 1)?;
    close(keep.saturating_add(1), u32::MAX)
}

/// Leave the process at once, without running destructors or atexit handlers (a forked child
/// must not flush the parent's buffers or remove the parent's files).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// Give every signal its default disposition before a container's program is executed.
/// execve(2) keeps "ignored": Rust's runtime ignores SIGPIPE, and berth may itself be started
/// with signals ignored (`nohup` ignores SIGHUP; a shell's background job ignores SIGINT and
/// SIGQUIT), none of which must reach the container's processes.
pub fn default_signals() {
    // The kernel's own call: the C library's wrapper refuses the two real-time signals it
    // keeps for itself (32 and 33), which a container may just as well find ignored. An
    // all-zero kernel sigaction is SIG_DFL with no flags and an empty mask, whatever the
    // architecture's field order (rt_sigaction(2)).
    let dfl = [0u64; 4];
    for signal in 1..=64 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: `dfl` is large enough for the kernel's struct sigaction and lives across
            // the call; no old action is asked for.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    dfl.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
        }
    }
}

/// Take ownership of a raw fd that this process just received (SCM_RIGHTS) and nothing else owns.
pub fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller passes an fd freshly installed by the kernel for us alone.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Borrow a descriptor that stays open for the whole process (0, 1, 2) or that the caller
/// keeps open across the borrow.
pub fn borrow_std(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: callers pass the standard streams or an fd they own for longer than the borrow.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Duplicate `fd` onto the descriptor number `target` (dup2(2)); the copy is not close-on-exec.
pub fn dup_onto(fd: std::os::fd::BorrowedFd<'_>, target: RawFd) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 only changes the descriptor table; `target` is a number the caller reserves
    // for this copy (a forked child about to exec).
    let ret = unsafe { libc::dup2(fd.as_raw_fd(), target) };
    Errno::result(ret).map(drop)
}

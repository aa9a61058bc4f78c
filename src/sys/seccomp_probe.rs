//! Raw syscalls that nix does not wrap, used only by the seccomp tests to see what the default
//! filter lets through. Each is built so the kernel rejects it harmlessly when the filter lets it
//! pass, so the errno tells "denied by seccomp" (EPERM/ENOSYS) from "reached the kernel".

use nix::errno::Errno;

fn result(ret: libc::c_long) -> nix::Result<libc::c_long> {
    Errno::result(ret)
}

/// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create = 0): looks a keyring id up.
pub fn keyctl_get_session_keyring() -> nix::Result<libc::c_long> {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    // SAFETY: integer arguments only; the kernel reads and writes no user memory for this call.
    result(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        )
    })
}

/// clone3(NULL, 0): the kernel answers EINVAL (size below CLONE_ARGS_SIZE_VER0) before it looks
/// at the pointer (kernel/fork.c, copy_clone_args_from_user).
pub fn clone3_empty() -> nix::Result<libc::c_long> {
    // SAFETY: size 0 makes the kernel fail before dereferencing the null pointer.
    result(unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) })
}

/// clone(CLONE_NEWUSER | CLONE_FS): an invalid combination the kernel refuses with EINVAL before
/// it creates anything (kernel/fork.c, copy_process).
pub fn clone_newuser_invalid() -> nix::Result<libc::c_long> {
    let flags = (libc::CLONE_NEWUSER | libc::CLONE_FS) as libc::c_long;
    // SAFETY: no stack or tid pointers are passed; the kernel rejects the flags before copying
    // the process. Should it ever succeed, the child (ret 0) leaves at once without touching
    // state shared with the parent.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if ret == 0 {
        // SAFETY: _exit is async-signal-safe and ends the child immediately.
        unsafe { libc::_exit(0) };
    }
    result(ret)
}

/// personality(persona), through the raw syscall so that the filter sees exactly `persona`.
pub fn personality(persona: libc::c_ulong) -> nix::Result<libc::c_long> {
    // SAFETY: one integer argument; the call only changes this process's execution domain.
    result(unsafe { libc::syscall(libc::SYS_personality, persona) })
}

//! Terminal ioctls: window size and controlling terminal (tty_ioctl(4)).

use nix::errno::Errno;
use std::os::fd::RawFd;

pub use libc::winsize as WinSize;

/// The window size of a terminal.
pub fn get_winsize(fd: RawFd) -> Result<WinSize, Errno> {
    // SAFETY: winsize is plain old data; all-zero is valid.
    let mut ws: WinSize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills `ws`, which lives across the call.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) })?;
    Ok(ws)
}

/// Set the window size of a terminal (the pty master: the container sees SIGWINCH).
pub fn set_winsize(fd: RawFd, ws: &WinSize) -> Result<(), Errno> {
    // SAFETY: TIOCSWINSZ reads `ws`, which lives across the call.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws) }).map(drop)
}

/// Make `fd` the controlling terminal of this (session leader) process.
pub fn set_controlling_tty(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) }).map(drop)
}

/// An all-zero window size, to fill in.
pub fn zero_winsize() -> WinSize {
    // SAFETY: winsize is plain old data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

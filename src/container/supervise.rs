//! Staying with a running container in the foreground: copy its output to ours and our input
//! to it, forward signals (and window-size changes to its terminal), and collect its exit
//! status (128+N when a signal ended it). One poll loop, no threads.

use super::attach;
use super::log::{self, LogWriter};
use super::process::{Launched, Stdio};
use crate::sys::process::pidfd_send_signal;
use crate::sys::tty;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Signals the engine passes on to the container rather than dying of them.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Block the forwarded signals (before the clone, so none is lost); they are read from a
/// signalfd in the loop. The child unblocks them before it execs.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .context("block signals")?;
    Ok(set)
}

/// Puts the host terminal in raw mode for the session and restores it on drop.
pub struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl RawMode {
    pub fn enter(fd: BorrowedFd<'_>) -> Result<RawMode> {
        let saved = termios::tcgetattr(fd).context("read terminal mode")?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).context("set terminal raw mode")?;
        Ok(RawMode {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let fd = crate::sys::process::borrow_std(self.fd);
        let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &self.saved);
    }
}

/// One direction of copying: from `src` to our `dst` (when attached) and the log, until EOF.
struct Stream {
    src: OwnedFd,
    dst: RawFd,
    kind: log::Stream,
    open: bool,
}

/// How the container's streams are wired to ours.
pub struct Session<'a> {
    /// Signals to forward (read from a signalfd); empty for a monitor.
    pub signals: SigSet,
    /// Forward our stdin (`-i`).
    pub interactive: bool,
    /// Copy the container's output to our stdout/stderr (a foreground run).
    pub attached: bool,
    /// Keep the container's output in its log.
    pub log: Option<&'a mut LogWriter>,
    /// A listening socket for `berth attach` clients (a monitor's), non-blocking.
    pub attach: Option<OwnedFd>,
    /// A client attached from the start (a foreground `run -it` through a monitor).
    pub first_client: Option<attach::Client>,
    /// Give back startup memory before waiting (a long-lived monitor).
    pub trim_memory: bool,
}

/// Run the session until the container's process exits; returns its exit code.
pub fn supervise(launched: Launched, mut session: Session<'_>) -> Result<i32> {
    let sigfd = SignalFd::with_flags(
        &session.signals,
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )
    .context("create signalfd")?;
    let stdin_fd = crate::sys::process::borrow_std(libc::STDIN_FILENO);
    let mut outputs: Vec<Stream> = Vec::new();
    // Where our stdin goes: the pty master or the stdin pipe.
    let mut input_dst: Option<OwnedFd> = None;
    let mut master: Option<RawFd> = None;
    let mut _raw = None;
    match launched.stdio {
        Stdio::Tty(m) => {
            let host_tty = session.attached && nix::unistd::isatty(stdin_fd).unwrap_or(false);
            if host_tty {
                if let Ok(ws) = tty::get_winsize(stdin_fd.as_raw_fd()) {
                    let _ = tty::set_winsize(m.as_raw_fd(), &ws);
                }
                if session.interactive {
                    _raw = Some(RawMode::enter(stdin_fd)?);
                }
            }
            master = Some(m.as_raw_fd());
            if session.interactive {
                input_dst = Some(m.try_clone().context("dup pty master")?);
            }
            outputs.push(Stream {
                src: m,
                dst: libc::STDOUT_FILENO,
                kind: log::Stream::Stdout,
                open: true,
            });
        }
        Stdio::Pipes {
            stdin: sin,
            stdout,
            stderr,
        } => {
            input_dst = sin;
            outputs.push(Stream {
                src: stdout,
                dst: libc::STDOUT_FILENO,
                kind: log::Stream::Stdout,
                open: true,
            });
            outputs.push(Stream {
                src: stderr,
                dst: libc::STDERR_FILENO,
                kind: log::Stream::Stderr,
                open: true,
            });
        }
    }
    // Detached, the container's stdin stays open (held here) but nothing is written to it.
    let mut stdin_open = input_dst.is_some() && session.attached;
    let mut buf = crate::sys::mem::PageBuffer::new(64 * 1024).context("allocate a buffer")?;
    let mut status: Option<i32> = None;
    let mut drain_deadline: Option<Instant> = None;
    let mut clients: Vec<attach::Client> = session.first_client.take().into_iter().collect();
    let mut trim_pending = session.trim_memory;

    loop {
        if status.is_some() && outputs.iter().all(|s| !s.open) {
            break;
        }
        if let Some(deadline) = drain_deadline {
            if Instant::now() >= deadline {
                break;
            }
        }
        let mut fds: Vec<PollFd> = Vec::with_capacity(5);
        let mut roles: Vec<Role> = Vec::with_capacity(5);
        if status.is_none() {
            fds.push(PollFd::new(launched.pidfd.as_fd(), PollFlags::POLLIN));
            roles.push(Role::Pid);
            fds.push(PollFd::new(sigfd.as_fd(), PollFlags::POLLIN));
            roles.push(Role::Signal);
            if stdin_open {
                fds.push(PollFd::new(stdin_fd, PollFlags::POLLIN));
                roles.push(Role::Stdin);
            }
        }
        for (i, s) in outputs.iter().enumerate() {
            if s.open {
                fds.push(PollFd::new(s.src.as_fd(), PollFlags::POLLIN));
                roles.push(Role::Output(i));
            }
        }
        if status.is_none() {
            if let Some(listener) = &session.attach {
                fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
                roles.push(Role::Listener);
            }
            for (i, c) in clients.iter().enumerate() {
                fds.push(PollFd::new(c.sock.as_fd(), PollFlags::POLLIN));
                roles.push(Role::Client(i));
            }
        }
        let timeout = if status.is_some() {
            PollTimeout::from(200u16)
        } else {
            PollTimeout::NONE
        };
        if trim_pending {
            // Right before the first wait, so that little runs between the trim and it.
            trim_pending = false;
            buf.release();
            crate::sys::mem::trim_memory();
        }
        match poll(&mut fds, timeout) {
            Ok(0) if status.is_some() => break,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
        }
        let ready: Vec<(Role, PollFlags)> = fds
            .iter()
            .zip(&roles)
            .filter_map(|(f, r)| f.revents().filter(|e| !e.is_empty()).map(|e| (*r, e)))
            .collect();
        drop(fds);
        for (role, _events) in ready {
            match role {
                Role::Output(i) => {
                    let s = &mut outputs[i];
                    match nix::unistd::read(&s.src, &mut buf) {
                        Ok(0) | Err(Errno::EIO) => s.open = false,
                        Ok(n) => {
                            if session.attached {
                                write_all(s.dst, &buf[..n]);
                            }
                            if let Some(log) = session.log.as_deref_mut() {
                                log.write(s.kind, &buf[..n]);
                            }
                            for c in clients.iter_mut().filter(|c| !c.closed) {
                                c.closed = !c.send(s.kind, &buf[..n]);
                            }
                        }
                        Err(Errno::EAGAIN | Errno::EINTR) => {}
                        Err(_) => s.open = false,
                    }
                }
                Role::Stdin => match nix::unistd::read(stdin_fd, &mut buf) {
                    Ok(0) | Err(_) => {
                        stdin_open = false;
                        if master.is_none() {
                            // EOF on our stdin closes the container's.
                            input_dst = None;
                        }
                    }
                    Ok(n) => {
                        if let Some(dst) = &input_dst {
                            write_all(dst.as_raw_fd(), &buf[..n]);
                        }
                    }
                },
                Role::Signal => {
                    while let Ok(Some(info)) = sigfd.read_signal() {
                        let sig = info.ssi_signo as i32;
                        if sig == libc::SIGWINCH {
                            if let (Some(m), Ok(ws)) =
                                (master, tty::get_winsize(stdin_fd.as_raw_fd()))
                            {
                                let _ = tty::set_winsize(m, &ws);
                            }
                        } else {
                            let _ = pidfd_send_signal(launched.pidfd.as_raw_fd(), sig);
                        }
                    }
                }
                Role::Listener => {
                    if let Some(c) = session.attach.as_ref().and_then(attach::accept) {
                        clients.push(c);
                    }
                }
                Role::Client(i) => {
                    if !clients[i].closed {
                        clients[i].closed = !clients[i].receive(input_dst.as_ref(), master);
                    }
                }
                Role::Pid => {
                    status = Some(reap(launched.pidfd.as_fd())?);
                    input_dst = None;
                    drain_deadline = Some(Instant::now() + Duration::from_secs(2));
                }
            }
        }
        clients.retain(|c| !c.closed);
    }
    if let Some(log) = session.log.as_deref_mut() {
        log.flush();
    }
    if let Some(code) = status {
        for c in &mut clients {
            c.exit(code);
        }
    }
    status.context("container process status unknown")
}

#[derive(Clone, Copy)]
enum Role {
    Pid,
    Signal,
    Stdin,
    Output(usize),
    Listener,
    Client(usize),
}

/// Collect the exit status of the process behind a pidfd: its code, or 128+N for signal N.
pub fn reap(pidfd: BorrowedFd<'_>) -> Result<i32> {
    loop {
        match waitid(Id::PIDFd(pidfd), WaitPidFlag::WEXITED) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("wait for container process"),
        }
    }
}

/// Write everything, giving up silently when the reader is gone (EPIPE).
fn write_all(fd: RawFd, mut data: &[u8]) {
    let out = crate::sys::process::borrow_std(fd);
    while !data.is_empty() {
        match nix::unistd::write(out, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut p = [PollFd::new(out, PollFlags::POLLOUT)];
                let _ = poll(&mut p, PollTimeout::from(1000u16));
            }
            Err(_) => return,
        }
    }
}

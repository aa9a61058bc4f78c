//! `berth attach`: connect this terminal to a running container's streams through its monitor;
//! Ctrl-P Ctrl-Q detaches and leaves the container running. The exit code is the container's
//! when it ends while attached.

use crate::cli::lifecycle::AttachArgs;
use crate::container::attach::{self, DetachKeys};
use crate::container::lifecycle::settle;
use crate::container::state;
use crate::container::supervise::RawMode;
use crate::error::coded;
use crate::sys::tty;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::io::Write;
use std::os::fd::AsFd;

pub fn attach(root: &std::path::Path, args: &AttachArgs) -> Result<i32> {
    let container = state::resolve(root, &args.container)?;
    let record = settle(&container)?;
    if !record.is_running() {
        return Err(coded(
            1,
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if record.paused {
        return Err(coded(
            1,
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let stdin = crate::sys::process::borrow_std(libc::STDIN_FILENO);
    let stdin_tty = nix::unistd::isatty(stdin).unwrap_or(false);
    let send_input = record.config.interactive && !args.no_stdin;
    if record.config.tty && send_input && !stdin_tty {
        return Err(coded(1, "the input device is not a TTY"));
    }
    let sock = connect(&container)?;
    match stream(&sock, record.config.tty, send_input)? {
        Ended::Exit(code) => Ok(code),
        Ended::Detached => Ok(0),
        Ended::Closed => Ok(super::run::recorded_exit(
            &container,
            record.started_at.as_deref(),
            None,
        )),
        Ended::Signal(sig) => Ok(128 + sig),
    }
}

/// Connect to the monitor. A container restarted by its policy is recorded as running a moment
/// before its monitor listens again, so a refused connection is retried for a short while as
/// long as the record still says running.
fn connect(container: &state::ContainerDir) -> Result<std::os::fd::OwnedFd> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match attach::connect(&container.dir) {
            Ok(sock) => return Ok(sock),
            Err(e) if std::time::Instant::now() < deadline => {
                let transient = matches!(
                    e.downcast_ref::<Errno>(),
                    Some(Errno::ECONNREFUSED | Errno::ENOENT)
                );
                if !transient || !settle(container)?.is_running() {
                    return Err(e);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// How an attach session ended.
pub enum Ended {
    /// The container exited with this code.
    Exit(i32),
    /// The user pressed Ctrl-P Ctrl-Q; the container runs on.
    Detached,
    /// The monitor closed the connection without an exit code.
    Closed,
    /// This process was told to end (SIGHUP, SIGINT, SIGTERM); the container runs on.
    Signal(i32),
}

/// Copy between this terminal and a monitor's attach socket until the container exits or the
/// user detaches: output frames to our stdout/stderr, our stdin (when `send_input`) and window
/// size (for a `tty` container, with the terminal in raw mode) to the monitor.
pub fn stream(sock: &std::os::fd::OwnedFd, tty: bool, send_input: bool) -> Result<Ended> {
    let stdin = crate::sys::process::borrow_std(libc::STDIN_FILENO);
    let stdin_tty = nix::unistd::isatty(stdin).unwrap_or(false);
    // SIGWINCH passes the window size on; SIGHUP (the terminal went away), SIGINT and SIGTERM
    // end this session, with the terminal's mode restored, and leave the container running.
    let mut winch = SigSet::empty();
    for sig in [
        Signal::SIGWINCH,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGTERM,
    ] {
        winch.add(sig);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&winch), None)
        .context("block SIGWINCH")?;
    let sigfd = SignalFd::with_flags(&winch, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd")?;
    let send_size = |sock: &std::os::fd::OwnedFd| {
        if let Ok(ws) = tty::get_winsize(libc::STDIN_FILENO) {
            let mut p = ws.ws_row.to_be_bytes().to_vec();
            p.extend_from_slice(&ws.ws_col.to_be_bytes());
            let _ = nix::unistd::write(sock, &attach::frame(attach::KIND_RESIZE, &p));
        }
    };
    let _raw = if tty && stdin_tty {
        send_size(sock);
        Some(RawMode::enter(stdin)?)
    } else {
        None
    };
    let mut keys = DetachKeys::default();
    let mut stdin_open = send_input;
    let mut inbuf = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut fds = vec![
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|e| !e.is_empty()))
            .collect();
        drop(fds);
        if ready[1] {
            while let Ok(Some(info)) = sigfd.read_signal() {
                if info.ssi_signo as i32 != libc::SIGWINCH {
                    return Ok(Ended::Signal(info.ssi_signo as i32));
                }
            }
            send_size(sock);
        }
        if ready.get(2) == Some(&true) {
            match nix::unistd::read(stdin, &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let (data, detach) = keys.scan(&buf[..n]);
                    if !data.is_empty() {
                        let _ = nix::unistd::write(sock, &attach::frame(attach::KIND_INPUT, &data));
                    }
                    if detach {
                        return Ok(Ended::Detached);
                    }
                }
            }
        }
        if ready[0] {
            match nix::unistd::read(sock, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => inbuf.extend_from_slice(&buf[..n]),
            }
            let frames = attach::take_frames(&mut inbuf)
                .context("bad frame from the container's monitor")?;
            for (kind, payload) in frames {
                match kind {
                    attach::KIND_STDOUT => {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&payload);
                        let _ = out.flush();
                    }
                    attach::KIND_STDERR => {
                        let _ = std::io::stderr().write_all(&payload);
                    }
                    attach::KIND_EXIT if payload.len() == 4 => {
                        return Ok(Ended::Exit(i32::from_be_bytes([
                            payload[0], payload[1], payload[2], payload[3],
                        ])));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(Ended::Closed)
}

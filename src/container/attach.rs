//! `berth attach`: a client of the container's monitor over a Unix socket in the container's
//! directory (`attach.sock`). The monitor owns the container's pty or pipes; clients come and go.
//!
//! Frames, both ways: `[kind: u8][length: u32, big-endian][payload]`.
//! - client → monitor: `0` input bytes (only with `-i`), `1` window size (`rows: u16, cols: u16`).
//! - monitor → client: `1` stdout, `2` stderr (apart, as Docker's attach stream), `3` the
//!   container's exit code (`i32`), after which the monitor closes the connection.
//!
//! A client that does not keep up is dropped rather than ever stalling the container.

use super::log;
use crate::sys::tty;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

pub const KIND_INPUT: u8 = 0;
pub const KIND_RESIZE: u8 = 1;
pub const KIND_STDOUT: u8 = 1;
pub const KIND_STDERR: u8 = 2;
pub const KIND_EXIT: u8 = 3;

/// Frames larger than this are refused (a broken or hostile peer).
const MAX_FRAME: usize = 1 << 20;

pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Split complete frames off the front of `buf`.
pub fn take_frames(buf: &mut Vec<u8>) -> Option<Vec<(u8, Vec<u8>)>> {
    let mut frames = Vec::new();
    loop {
        if buf.len() < 5 {
            return Some(frames);
        }
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if len > MAX_FRAME {
            return None;
        }
        if buf.len() < 5 + len {
            return Some(frames);
        }
        let payload = buf[5..5 + len].to_vec();
        frames.push((buf[0], payload));
        buf.drain(..5 + len);
    }
}

/// The socket's path, through an fd of the container's directory so that the length limit of
/// a socket path (108 bytes) never depends on where the store lives.
fn socket_addr(dir: &OwnedFd) -> Result<UnixAddr> {
    UnixAddr::new(format!("/proc/self/fd/{}/attach.sock", dir.as_raw_fd()).as_str())
        .context("attach socket path")
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {}", dir.display()))
}

/// The monitor's listening socket (non-blocking), replacing a stale one.
pub fn listen(container_dir: &Path) -> Result<OwnedFd> {
    let dir = open_dir(container_dir)?;
    let _ = std::fs::remove_file(container_dir.join("attach.sock"));
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .context("create attach socket")?;
    socket::bind(sock.as_raw_fd(), &socket_addr(&dir)?).context("bind attach socket")?;
    socket::listen(&sock, socket::Backlog::new(16).context("backlog")?)
        .context("listen on attach socket")?;
    Ok(sock)
}

/// Connect to a container's monitor.
pub fn connect(container_dir: &Path) -> Result<OwnedFd> {
    let dir = open_dir(container_dir)?;
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("create socket")?;
    socket::connect(sock.as_raw_fd(), &socket_addr(&dir)?)
        .context("connect to the container's monitor")?;
    Ok(sock)
}

/// One attached client, on the monitor's side.
pub struct Client {
    pub sock: OwnedFd,
    inbuf: Vec<u8>,
    pub closed: bool,
}

/// Accept a waiting client, if any.
pub fn accept(listener: &OwnedFd) -> Option<Client> {
    let fd = socket::accept4(
        listener.as_raw_fd(),
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .ok()?;
    Some(Client::new(crate::sys::process::own_fd(fd)))
}

impl Client {
    /// A client on a connected, non-blocking stream socket.
    pub fn new(sock: OwnedFd) -> Client {
        Client {
            sock,
            inbuf: Vec::new(),
            closed: false,
        }
    }

    /// Send output; false when the client is gone or too slow.
    pub fn send(&mut self, stream: log::Stream, data: &[u8]) -> bool {
        let kind = match stream {
            log::Stream::Stdout => KIND_STDOUT,
            log::Stream::Stderr => KIND_STDERR,
        };
        write_nonblocking(&self.sock, &frame(kind, data))
    }

    /// Read what the client sent: input goes to `input`, sizes to the pty `master`.
    pub fn receive(&mut self, input: Option<&OwnedFd>, master: Option<RawFd>) -> bool {
        let mut buf = [0u8; 16 * 1024];
        match nix::unistd::read(&self.sock, &mut buf) {
            Ok(0) => return false,
            Ok(n) => self.inbuf.extend_from_slice(&buf[..n]),
            Err(Errno::EAGAIN | Errno::EINTR) => return true,
            Err(_) => return false,
        }
        let Some(frames) = take_frames(&mut self.inbuf) else {
            return false;
        };
        for (kind, payload) in frames {
            match kind {
                KIND_INPUT => {
                    if let Some(dst) = input {
                        write_blocking(dst.as_raw_fd(), &payload);
                    }
                }
                KIND_RESIZE if payload.len() == 4 => {
                    if let Some(m) = master {
                        let mut ws: tty::WinSize = tty::zero_winsize();
                        ws.ws_row = u16::from_be_bytes([payload[0], payload[1]]);
                        ws.ws_col = u16::from_be_bytes([payload[2], payload[3]]);
                        let _ = tty::set_winsize(m, &ws);
                    }
                }
                _ => {}
            }
        }
        true
    }

    /// Tell the client how the container ended.
    pub fn exit(&mut self, code: i32) {
        let _ = write_nonblocking(&self.sock, &frame(KIND_EXIT, &code.to_be_bytes()));
    }
}

/// Write a whole frame to a non-blocking socket, waiting briefly when it is full.
fn write_nonblocking(sock: &OwnedFd, mut data: &[u8]) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while !data.is_empty() {
        match nix::unistd::write(sock, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) if std::time::Instant::now() < deadline => {
                let mut p = [nix::poll::PollFd::new(
                    sock.as_fd(),
                    nix::poll::PollFlags::POLLOUT,
                )];
                let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::from(100u16));
            }
            Err(_) => return false,
        }
    }
    true
}

fn write_blocking(fd: RawFd, mut data: &[u8]) {
    let out = crate::sys::process::borrow_std(fd);
    while !data.is_empty() {
        match nix::unistd::write(out, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => return,
        }
    }
}

/// Watches typed input for the detach keys (Ctrl-P Ctrl-Q, as Docker's default).
#[derive(Default)]
pub struct DetachKeys {
    saw_ctrl_p: bool,
}

impl DetachKeys {
    /// The part of `input` to forward, and whether the keys were typed.
    pub fn scan(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len() + 1);
        for &b in input {
            if self.saw_ctrl_p {
                self.saw_ctrl_p = false;
                if b == 0x11 {
                    return (out, true);
                }
                out.push(0x10);
            }
            if b == 0x10 {
                self.saw_ctrl_p = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_split() {
        let mut buf = frame(KIND_STDOUT, b"hello");
        buf.extend(frame(KIND_EXIT, &7i32.to_be_bytes()));
        buf.extend_from_slice(&[KIND_STDERR, 0, 0]);
        let frames = take_frames(&mut buf).unwrap();
        assert_eq!(
            frames,
            vec![
                (KIND_STDOUT, b"hello".to_vec()),
                (KIND_EXIT, 7i32.to_be_bytes().to_vec())
            ]
        );
        assert_eq!(buf, vec![KIND_STDERR, 0, 0]);
        let mut huge = vec![0u8, 0xff, 0xff, 0xff, 0xff];
        assert!(take_frames(&mut huge).is_none());
    }

    #[test]
    fn detach_keys_across_reads() {
        let mut keys = DetachKeys::default();
        assert_eq!(keys.scan(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(keys.scan(b"\x11rest"), (Vec::new(), true));
        let mut keys = DetachKeys::default();
        assert_eq!(keys.scan(b"\x10x"), (b"\x10x".to_vec(), false));
    }
}

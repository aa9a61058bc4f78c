//! The per-container monitor: the only berth process that stays while a detached container
//! runs. It is the parent of the container's first process; it keeps the container's output in
//! its log, records the exit status and time, releases the cgroup, applies the restart policy
//! with Docker's back-off (never undoing a `stop`), removes `--rm` containers, and exits.
//!
//! It is this same binary, started fresh (`berth __monitor ID`) in a session of its own, so it
//! holds only what it uses. The CLI that starts it waits on a socket (fd 3 of the monitor) for
//! one message: `O` once the container's command runs, or `E` + exit code + error text.

use super::lifecycle;
use super::log::LogWriter;
use super::state::{self, ContainerDir, Status};
use super::supervise::{self, Session};
use crate::sys::process::{clone_fork, exit_now, Forked};
use anyhow::{anyhow, Context, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

const REPORT_FD: i32 = 3;
/// With `--attached`: the first attach client, already connected (a foreground `run -it`).
const CLIENT_FD: i32 = 4;

/// When the monitor starts the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Start it now and report how that went.
    Now,
    /// It just exited (a foreground run with a restart policy): apply the policy.
    AfterExit(i32),
}

/// The monitor's command line, as [`spawn`] writes it:
/// `berth-monitor --root ROOT __monitor [--after-exit=N] [--attached] ID`.
#[derive(Debug, PartialEq, Eq)]
pub struct MonitorCall {
    pub root: std::path::PathBuf,
    pub id: String,
    pub after_exit: Option<i32>,
    pub attached: bool,
}

impl MonitorCall {
    /// The call, when `args` is exactly that shape (anything else goes to the full parser,
    /// which knows the hidden verb too).
    pub fn from_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Option<MonitorCall> {
        let args: Vec<std::ffi::OsString> = args.into_iter().collect();
        let [_, root_flag, root, verb, rest @ ..] = args.as_slice() else {
            return None;
        };
        if root_flag != "--root" || verb != "__monitor" {
            return None;
        }
        let (id, flags) = rest.split_last()?;
        let mut call = MonitorCall {
            root: std::path::PathBuf::from(root),
            id: id.to_str()?.to_string(),
            after_exit: None,
            attached: false,
        };
        for flag in flags {
            let flag = flag.to_str()?;
            if flag == "--attached" {
                call.attached = true;
            } else {
                call.after_exit = Some(flag.strip_prefix("--after-exit=")?.parse().ok()?);
            }
        }
        (call.id.len() == 64 && call.id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(call)
    }
}

/// Start a monitor for `container` and wait until it reports (for `Start::Now`: until the
/// container's command runs, or fails with its exit code). `client`, the monitor's end of a
/// stream socket pair, is attached from the start, so it sees all of the container's output.
pub fn spawn(
    root: &Path,
    container: &ContainerDir,
    start: Start,
    client: Option<OwnedFd>,
) -> Result<()> {
    let (cli_end, monitor_end) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("create monitor socket")?;
    let exe = CString::new("/proc/self/exe")?;
    let mut args = vec![
        CString::new("berth-monitor")?,
        CString::new("--root")?,
        CString::new(root.as_os_str().as_bytes())?,
        CString::new("__monitor")?,
    ];
    if let Start::AfterExit(code) = start {
        args.push(CString::new(format!("--after-exit={code}"))?);
    }
    if client.is_some() {
        args.push(CString::new("--attached")?);
    }
    args.push(CString::new(container.id.as_str())?);
    let devnull = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    )
    .context("open /dev/null")?;

    match clone_fork(0, None).context("start monitor")? {
        Forked::Child => {
            let _ = nix::unistd::setsid();
            // Out of the way of the numbers they go to first: a source may sit on fd 3 or 4.
            let high = |fd: std::os::fd::BorrowedFd<'_>| {
                nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))
                    .ok()
                    .map(crate::sys::process::own_fd)
            };
            let report = high(monitor_end.as_fd());
            let first = client.as_ref().map(|c| high(c.as_fd()));
            let onto = |fd: Option<OwnedFd>, target| {
                fd.is_some_and(|fd| crate::sys::process::dup_onto(fd.as_fd(), target).is_ok())
            };
            let ok = onto(report, REPORT_FD)
                && first.is_none_or(|fd| onto(fd, CLIENT_FD))
                && nix::unistd::dup2_stdin(&devnull).is_ok()
                && nix::unistd::dup2_stdout(&devnull).is_ok()
                && nix::unistd::dup2_stderr(&devnull).is_ok();
            if ok {
                let _ = nix::unistd::execv(&exe, &args);
            }
            exit_now(crate::error::EXIT_ENGINE);
        }
        Forked::Parent { .. } => {}
    }
    drop(monitor_end);
    drop(client);
    let mut buf = [0u8; 4096];
    let n = recv(cli_end.as_raw_fd(), &mut buf, MsgFlags::empty()).context("wait for monitor")?;
    match &buf[..n] {
        [b'O', ..] => Ok(()),
        [b'E', code, text @ ..] => Err(crate::error::coded(
            i32::from(*code),
            String::from_utf8_lossy(text).into_owned(),
        )),
        _ => Err(anyhow!(
            "the container's monitor exited before it started the container"
        )),
    }
}

fn report(fd: &Option<OwnedFd>, msg: &[u8]) {
    if let Some(fd) = fd {
        let _ = send(fd.as_raw_fd(), msg, MsgFlags::empty());
    }
}

/// The monitor's life; returns its exit code.
pub fn main(root: &Path, id: &str, after_exit: Option<i32>, attached: bool) -> i32 {
    let _ = nix::sys::prctl::set_name(c"berth-monitor");
    // fd 3 is the report socket when the CLI waits for us.
    let report_fd = nix::fcntl::fcntl(
        crate::sys::process::borrow_std(REPORT_FD),
        nix::fcntl::FcntlArg::F_GETFD,
    )
    .ok()
    .map(|_| crate::sys::process::own_fd(REPORT_FD));
    let mut report_fd = report_fd;
    let mut client = attached.then(|| {
        let fd = crate::sys::process::own_fd(CLIENT_FD);
        let _ = nix::fcntl::fcntl(
            &fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        let _ = nix::fcntl::fcntl(
            &fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        super::attach::Client::new(fd)
    });
    let container = ContainerDir::new(root, id);
    match run(&container, after_exit, &mut report_fd, &mut client) {
        Ok(()) => 0,
        Err(e) => {
            let code = crate::error::exit_code(&e);
            let mut msg = vec![b'E', code as u8];
            msg.extend_from_slice(crate::error::one_line(&e).as_bytes());
            report(&report_fd, &msg);
            code
        }
    }
}

fn run(
    container: &ContainerDir,
    after_exit: Option<i32>,
    report_fd: &mut Option<OwnedFd>,
    client: &mut Option<super::attach::Client>,
) -> Result<()> {
    let record = container.load_state()?;
    let mut log = LogWriter::open(
        &container.log(),
        record.config.log_max_size,
        record.config.log_max_file,
    )?;
    let mut attempt: u32 = 0;
    // Whether the run that just ended asks its restart policy for another.
    let mut restart_due = None;
    if let Some(code) = after_exit {
        // The foreground `run` whose container exited hands the record over to us.
        let record = container.update(|s| {
            s.owner = state::this_process();
            s.clone()
        })?;
        restart_due = Some(lifecycle::wants_restart(&record, code));
        report(report_fd, b"O");
        *report_fd = None;
    }
    loop {
        let why = match restart_due {
            Some(false) => break,
            Some(true) => {
                if !wait_before_restart(container, lifecycle::restart_delay(attempt)) {
                    break;
                }
                attempt += 1;
                container.update(|s| s.restart_count += 1)?;
                lifecycle::Why::Policy
            }
            None => lifecycle::Why::Asked,
        };
        let interactive = container.load_state()?.config.interactive;
        let started = match lifecycle::start(container, interactive, why) {
            Ok(s) => s,
            Err(e) if report_fd.is_some() => {
                let _ = container.update(|s| s.owner = None);
                if container
                    .load_state()
                    .map(|s| s.config.auto_remove)
                    .unwrap_or(false)
                {
                    remove(container);
                }
                return Err(e);
            }
            Err(_) => break,
        };
        // Listen before telling the caller the container started: an `attach` right after
        // `run -d` returns must find the socket.
        let listener = super::attach::listen(&container.dir).ok();
        report(report_fd, b"O");
        *report_fd = None;
        let began = Instant::now();
        let session = Session {
            signals: nix::sys::signal::SigSet::empty(),
            interactive,
            attached: false,
            log: Some(&mut log),
            attach: listener,
            first_client: client.take(),
            trim_memory: true,
        };
        let code = supervise::supervise(started.launched, session).unwrap_or(137);
        let _ = std::fs::remove_file(container.dir.join("attach.sock"));
        restart_due = Some(lifecycle::finish(
            container,
            &started.cgroup,
            started.net,
            code,
        )?);
        if began.elapsed() >= Duration::from_secs(10) {
            attempt = 0;
        }
    }
    // An --rm container is removed while this monitor still owns it; the record goes with it.
    match container.load_state() {
        Ok(r) if r.config.auto_remove && r.status != Status::Running => remove(container),
        Ok(_) => {
            let _ = lifecycle::release(container);
        }
        Err(_) => {} // removed meanwhile
    }
    Ok(())
}

/// Sleep before a restart; false when the container was stopped or removed meanwhile.
fn wait_before_restart(container: &ContainerDir, delay: Duration) -> bool {
    let until = Instant::now() + delay;
    loop {
        match container.load_state() {
            Ok(s) if !s.stopped_by_user => {}
            _ => return false,
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
}

fn remove(container: &ContainerDir) {
    let name = container.load_state().map(|s| s.name).unwrap_or_default();
    super::remove_with_volumes(&container.root(), container, &name);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> Option<MonitorCall> {
        MonitorCall::from_args(args.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn the_monitor_command_line_is_read_only_in_its_own_shape() {
        let id = "a".repeat(64);
        assert_eq!(
            call(&[
                "berth-monitor",
                "--root",
                "/r",
                "__monitor",
                "--after-exit=3",
                "--attached",
                &id
            ]),
            Some(MonitorCall {
                root: "/r".into(),
                id: id.clone(),
                after_exit: Some(3),
                attached: true,
            })
        );
        assert_eq!(
            call(&["berth-monitor", "--root", "/r", "__monitor", &id])
                .map(|c| (c.after_exit, c.attached)),
            Some((None, false))
        );
        for other in [
            &["berth", "--root", "/r", "run", &id][..],
            &["berth", "__monitor", &id],
            &["berth", "--root", "/r", "__monitor", "short"],
            &["berth", "--root", "/r", "__monitor", "--bogus", &id],
            &["berth", "--root", "/r", "__monitor"],
        ] {
            assert_eq!(call(other), None, "{other:?}");
        }
    }
}

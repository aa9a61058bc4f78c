//! Starting a container's first process: one clone into new namespaces, a small sync protocol
//! over a socket pair, and the init steps the child takes before it execs the user's command.
//!
//! ```text
//!   parent (berth)                              child (becomes the container's PID 1)
//!   clone3(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET) ──► rootfs; pivot_root; hostname; lo up;
//!   puts the child in its cgroup and wires its    [tty: opens its pty]
//!   network: veth, address, route (meanwhile)
//!   ◄─────────────────── PTY + master fd ───────  (only with a terminal)
//!   ── GO ──────────────────────────────────────► unshare(NEWCGROUP); user, groups, caps,
//!                                                 cwd, no_new_privs, seccomp, execve
//!   ◄─────────────────── ERR code message ──────  on any failure, then _exit(code)
//!   EOF (the child's end is close-on-exec) = the command is running
//! ```
//! Moving a process into a cgroup waits for an RCU grace period (several ms here), so the
//! parent does it while the child builds its root filesystem; the child waits for GO only
//! before it enters its cgroup namespace and runs anything of the container.
//! The child never prints: every failure crosses back as a message and becomes the `run` error
//! with Docker's exit codes (125 engine, 126 cannot run, 127 not found).

use super::rootfs::{self, RootfsPlan};
use super::user;
use crate::error::{EXIT_CANNOT_RUN, EXIT_ENGINE, EXIT_NOT_FOUND};
use crate::fs::inroot;
use crate::sys::process::{cloexec_from, clone_fork, exit_now, Forked};
use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, Gid, Uid};
use std::convert::Infallible;
use std::ffi::{CStr, CString};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

pub(crate) const MSG_GO: u8 = b'G';
pub(crate) const MSG_PTY: u8 = b'P';
pub(crate) const MSG_ERR: u8 = b'E';

/// Everything the child needs, prepared before the clone so the child only makes syscalls.
pub struct InitSpec {
    pub rootfs: RootfsPlan,
    pub hostname: String,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub cwd: String,
    /// `name|uid[:group|gid]`, resolved inside the container's root.
    pub user: String,
    pub caps: Vec<caps::Capability>,
    pub no_new_privs: bool,
    pub seccomp: seccompiler::BpfProgram,
    pub tty: bool,
    pub interactive: bool,
    /// New, the host's, or another container's network namespace (see src/net).
    pub netns: crate::net::Namespace,
}

/// The parent's ends of the container's standard streams.
pub enum Stdio {
    /// The pty master (input and output).
    Tty(OwnedFd),
    /// Pipes: stdin's write end (with -i), stdout's and stderr's read ends.
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
}

/// A started container process.
pub struct Launched {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub stdio: Stdio,
}

/// The child's ends of its standard streams.
pub(crate) enum ChildStdio {
    Tty,
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).context("create pipe")
}

/// The parent's and the child's ends of the standard streams: with a terminal the child opens
/// its pty itself (inside the container's devpts) and sends the master back.
pub(crate) fn stdio_pair(tty: bool, interactive: bool) -> Result<(Option<Stdio>, ChildStdio)> {
    if tty {
        return Ok((None, ChildStdio::Tty));
    }
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (in_parent, in_child) = if interactive {
        let (r, w) = pipe()?;
        (Some(w), Some(r))
    } else {
        (None, None)
    };
    Ok((
        Some(Stdio::Pipes {
            stdin: in_parent,
            stdout: out_r,
            stderr: err_r,
        }),
        ChildStdio::Pipes {
            stdin: in_child,
            stdout: out_w,
            stderr: err_w,
        },
    ))
}

/// The sync socket pair: the parent's end, the child's end (both close-on-exec, so EOF on the
/// parent's end means the child has exec'd or left).
pub(crate) fn sync_pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("create sync socket")
}

/// Clone the container's first process and take it up to the exec of the user's command.
/// `join_cgroup` runs in the parent while the child waits (it gets the child's pid).
/// With `cgroup_dir`, the child starts inside that cgroup2 directory (CLONE_INTO_CGROUP).
pub fn launch(
    spec: &InitSpec,
    cgroup_dir: Option<&std::path::Path>,
    join_cgroup: impl FnOnce(i32) -> Result<()>,
) -> Result<Launched> {
    let cgroup_fd = cgroup_dir.map(open_cgroup).transpose()?;
    let (parent_sock, child_sock) = sync_pair()?;
    let (parent_stdio, child_stdio) = stdio_pair(spec.tty, spec.interactive)?;

    let mut flags =
        (libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWPID) as u64;
    if matches!(spec.netns, crate::net::Namespace::New) {
        flags |= libc::CLONE_NEWNET as u64;
    }
    let (pid, pidfd) = match clone_fork(flags, cgroup_fd.as_ref().map(|fd| fd.as_raw_fd()))
        .context("clone container process")?
    {
        Forked::Child => {
            drop(parent_sock);
            let err = match child_main(spec, &child_sock, child_stdio) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            report_failure(&child_sock, &err);
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(child_sock);
    drop(child_stdio);
    await_start(parent_sock, parent_stdio, pid, pidfd, join_cgroup)
}

/// An O_PATH fd of a cgroup2 directory, for clone3's CLONE_INTO_CGROUP.
pub(crate) fn open_cgroup(dir: &std::path::Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open cgroup {}", dir.display()))
}

/// In the child: send the error (exit code and one line) to the parent and leave.
pub(crate) fn report_failure(sock: &OwnedFd, err: &anyhow::Error) -> ! {
    let code = crate::error::exit_code(err);
    let text = crate::error::one_line(err);
    let mut msg = vec![MSG_ERR, code as u8];
    msg.extend_from_slice(text.as_bytes());
    let _ = nix::sys::socket::send(sock.as_raw_fd(), &msg, MsgFlags::empty());
    exit_now(code);
}

/// The parent's side of the protocol: join the cgroup, say GO, take the pty if one comes, and
/// wait for EOF (the command runs) or an error (the child has failed; it is reaped).
pub(crate) fn await_start(
    parent_sock: OwnedFd,
    parent_stdio: Option<Stdio>,
    pid: i32,
    pidfd: OwnedFd,
    join_cgroup: impl FnOnce(i32) -> Result<()>,
) -> Result<Launched> {
    let started = (|| -> Result<Stdio> {
        join_cgroup(pid)?;
        // A child that failed before GO has already sent its error and left: the send then
        // fails (EPIPE), and the error waiting in the socket is the one to report.
        let go = nix::sys::socket::send(parent_sock.as_raw_fd(), &[MSG_GO], MsgFlags::empty());
        let mut stdio = parent_stdio;
        loop {
            let mut buf = [0u8; 4096];
            let mut cmsg = nix::cmsg_space!([RawFd; 1]);
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                parent_sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .context("read from container process")?;
            let mut fds = Vec::new();
            for c in msg.cmsgs().context("read control message")? {
                if let ControlMessageOwned::ScmRights(received) = c {
                    fds.extend(received.into_iter().map(owned));
                }
            }
            let n = msg.bytes;
            match buf.get(..n) {
                None | Some([]) => {
                    go.context("start container process")?;
                    break;
                }
                Some([MSG_PTY, ..]) => {
                    let master = fds
                        .pop()
                        .ok_or_else(|| anyhow!("pty message without a fd"))?;
                    stdio = Some(Stdio::Tty(master));
                }
                Some([MSG_ERR, code, text @ ..]) => {
                    return Err(crate::error::coded(
                        i32::from(*code),
                        String::from_utf8_lossy(text).into_owned(),
                    ));
                }
                Some(other) => {
                    return Err(anyhow!(
                        "unexpected message {:?} from container process",
                        other[0]
                    ))
                }
            }
        }
        stdio.ok_or_else(|| anyhow!("container process sent no terminal"))
    })();
    match started {
        Ok(stdio) => Ok(Launched { pid, pidfd, stdio }),
        Err(e) => {
            // The child has left (or must): reap it so nothing lingers.
            let _ = crate::sys::process::pidfd_send_signal(pidfd.as_raw_fd(), libc::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            Err(e)
        }
    }
}

/// Send the pty master to the parent, make the slave our controlling terminal and stdio.
pub(crate) fn attach_pty(sock: &OwnedFd) -> Result<String> {
    let (master, slave, pts) = open_pty().context("open pty")?;
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(&[MSG_PTY])],
        &[ControlMessage::ScmRights(&[master.as_raw_fd()])],
        MsgFlags::empty(),
        None,
    )
    .context("send pty")?;
    drop(master);
    crate::sys::tty::set_controlling_tty(slave.as_raw_fd()).context("set controlling tty")?;
    dup_stdio(Some(&slave), &slave, &slave)?;
    Ok(pts)
}

/// Wire pipes (or /dev/null for a missing stdin) to the standard streams.
pub(crate) fn attach_pipes(
    stdin: Option<OwnedFd>,
    stdout: &OwnedFd,
    stderr: &OwnedFd,
) -> Result<()> {
    let stdin = match stdin {
        Some(fd) => fd,
        None => nix::fcntl::open(
            "/dev/null",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .context("open /dev/null")?,
    };
    dup_stdio(Some(&stdin), stdout, stderr)
}

fn owned(fd: RawFd) -> OwnedFd {
    // fds that arrive by SCM_RIGHTS are installed fresh in this process and owned by nobody else.
    crate::sys::process::own_fd(fd)
}

/// The child's side: returns only on failure.
fn child_main(spec: &InitSpec, sock: &OwnedFd, stdio: ChildStdio) -> Result<Infallible> {
    // The parent blocked the signals it forwards; exec keeps the mask and ignored dispositions.
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
    .context("reset signal mask")?;
    crate::sys::process::default_signals();

    nix::unistd::setsid().context("setsid")?;
    if let crate::net::Namespace::Join(ns) = &spec.netns {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .context("join network namespace")?;
    }

    rootfs::setup(&spec.rootfs, None).context("set up root filesystem")?;
    nix::unistd::sethostname(&spec.hostname).context("set hostname")?;
    crate::sys::net::interface_up("lo").context("bring up lo")?;

    match stdio {
        ChildStdio::Tty => {
            let pts = attach_pty(sock)?;
            bind_console(&pts)?;
        }
        ChildStdio::Pipes {
            stdin,
            stdout,
            stderr,
        } => attach_pipes(stdin, &stdout, &stderr)?,
    }

    // Wait until the parent has put us in our cgroup: from here on the container's own code
    // and files are used.
    let mut go = [0u8; 1];
    match nix::sys::socket::recv(sock.as_raw_fd(), &mut go, MsgFlags::empty()) {
        Ok(1) if go[0] == MSG_GO => {}
        _ => exit_now(EXIT_ENGINE),
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .context("unshare cgroup namespace")?;
    drop_host_fds(sock)?;

    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let who = user::resolve(&spec.user, &passwd, &group)?;
    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.to_bytes().starts_with(b"HOME=")) {
        env.push(CString::new(format!("HOME={}", who.home)).context("HOME")?);
    }

    inroot::mkdir_all(root_dir()?.as_fd(), &spec.cwd, 0o755)
        .with_context(|| format!("create working directory {}", spec.cwd))?;
    set_user(&who, &spec.caps)?;
    // Enter the working directory as the user, before its capabilities come back: a user who
    // may not enter it gets a clear error instead of a process without a usable cwd.
    if let Err(e) = enter_workdir(&spec.cwd) {
        return Err(anyhow!(
            "chdir to working directory {:?} as user {:?} failed: {}",
            spec.cwd,
            spec.user,
            e.desc().to_lowercase()
        ));
    }
    set_caps(&spec.caps)?;
    if spec.no_new_privs {
        nix::sys::prctl::set_no_new_privs().context("set no_new_privs")?;
    }
    // The container dies with its parent (the engine or the container's monitor); set after the
    // identity change, which clears it (prctl(2), PR_SET_PDEATHSIG).
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .context("set parent death signal")?;
    cloexec_from(3).context("close inherited fds")?;
    super::seccomp::install(&spec.seccomp).context("load seccomp filter")?;
    Err(exec(&spec.argv, &env))
}

/// From here on the process holds no descriptor but its standard streams and the sync socket:
/// none of the host's (the cgroup directory of CLONE_INTO_CGROUP, a namespace, a pidfd) can be
/// reached through `/proc/self/fd` by the working directory or the command (CVE-2024-21626).
pub(crate) fn drop_host_fds(sock: &OwnedFd) -> Result<()> {
    // SAFETY: called in the forked child only, which never returns to the frames that own the
    // descriptors it closes: it execs the command or leaves through `report_failure`.
    unsafe { crate::sys::process::close_fds_except(sock.as_raw_fd()) }
        .context("close inherited fds")
}

/// The container's root (the process's `/`), for lookups that must stay inside it.
pub(crate) fn root_dir() -> Result<OwnedFd> {
    nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open /")
}

/// Enter the working directory, resolved inside the container's root: a symlink in the image
/// is followed as if the root were `/`, a magic link (`/proc/self/fd/N`, `/proc/1/cwd`) is
/// refused. The lookup and fchdir(2) run with the caller's identity, so search permission is
/// checked as chdir(2) would. Last, getcwd(2) must see the new cwd under the root; the kernel
/// prefixes an unreachable one with "(unreachable)" and the C library then fails with ENOENT.
pub(crate) fn enter_workdir(cwd: &str) -> Result<(), Errno> {
    let root = root_dir().map_err(|_| Errno::EBADF)?;
    let dir = inroot::open(root.as_fd(), cwd, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    nix::unistd::fchdir(&dir)?;
    match nix::unistd::getcwd() {
        Ok(now) if now.is_absolute() => Ok(()),
        Ok(_) => Err(Errno::EXDEV),
        Err(e) => Err(e),
    }
}

pub(crate) fn dup_stdio(stdin: Option<&OwnedFd>, stdout: &OwnedFd, stderr: &OwnedFd) -> Result<()> {
    if let Some(fd) = stdin {
        dup2_stdin(fd).context("dup stdin")?;
    }
    dup2_stdout(stdout).context("dup stdout")?;
    dup2_stderr(stderr).context("dup stderr")?;
    Ok(())
}

/// A pty from the container's own devpts instance (so `tty` shows /dev/pts/0 inside).
pub(crate) fn open_pty() -> Result<(OwnedFd, OwnedFd, String)> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context("open /dev/ptmx")?;
    nix::pty::grantpt(&master).context("grantpt")?;
    nix::pty::unlockpt(&master).context("unlockpt")?;
    let name = nix::pty::ptsname_r(&master).context("ptsname")?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {name}"))?;
    Ok((OwnedFd::from(master), slave, name))
}

/// /dev/console is the container's terminal, as Docker does with `-t`.
fn bind_console(pts: &str) -> Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open("/dev/console")
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).context("create /dev/console"),
    }
    nix::mount::mount(
        Some(pts),
        "/dev/console",
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .context("bind /dev/console")
}

/// Cut the bounding set (it needs CAP_SETPCAP, so first), then groups, gid and uid. Permitted
/// caps are kept across setuid; a non-root uid loses the effective ones until [`set_caps`].
pub(crate) fn set_user(who: &user::ExecUser, keep: &[caps::Capability]) -> Result<()> {
    use caps::CapSet;
    for cap in caps::all() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .with_context(|| format!("drop {cap} from bounding set"))?;
        }
    }
    nix::sys::prctl::set_keepcaps(true).context("keep capabilities")?;
    let gids: Vec<Gid> = who
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&gids).context("setgroups")?;
    nix::unistd::setresgid(
        Gid::from_raw(who.gid),
        Gid::from_raw(who.gid),
        Gid::from_raw(who.gid),
    )
    .context("setgid")?;
    nix::unistd::setresuid(
        Uid::from_raw(who.uid),
        Uid::from_raw(who.uid),
        Uid::from_raw(who.uid),
    )
    .context("setuid")?;
    Ok(())
}

/// The container's capability sets (Docker's: the same list in effective, permitted and
/// inheritable; ambient empty). For a non-root user execve(2) then leaves none effective.
pub(crate) fn set_caps(keep: &[caps::Capability]) -> Result<()> {
    use caps::{CapSet, Capability};
    let set: caps::CapsHashSet = keep
        .iter()
        .copied()
        .collect::<std::collections::HashSet<Capability>>();
    // Effective first: it must stay a subset of permitted (capset(2)).
    caps::set(None, CapSet::Effective, &set).context("set effective capabilities")?;
    caps::set(None, CapSet::Permitted, &set).context("set permitted capabilities")?;
    caps::set(None, CapSet::Inheritable, &set).context("set inheritable capabilities")?;
    caps::clear(None, CapSet::Ambient).context("clear ambient capabilities")?;
    Ok(())
}

/// Exec the command, searching $PATH like Go's exec.LookPath (what Docker users know).
pub(crate) fn exec(argv: &[CString], env: &[CString]) -> anyhow::Error {
    let name = argv[0].to_string_lossy().into_owned();
    let candidates: Vec<CString> = if name.contains('/') {
        vec![argv[0].clone()]
    } else {
        let path = env
            .iter()
            .find_map(|e| e.to_str().ok().and_then(|s| s.strip_prefix("PATH=")))
            .unwrap_or("")
            .to_string();
        let found: Vec<CString> = path
            .split(':')
            .map(|d| if d.is_empty() { "." } else { d })
            .filter_map(|d| CString::new(format!("{d}/{name}")).ok())
            .filter(|c| is_executable_file(c))
            .collect();
        if found.is_empty() {
            return crate::error::coded(
                EXIT_NOT_FOUND,
                format!("exec: \"{name}\": executable file not found in $PATH"),
            );
        }
        found
    };
    let err = match nix::unistd::execve(&candidates[0], argv, env) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    match err {
        Errno::ENOENT | Errno::ENOTDIR => crate::error::coded(
            EXIT_NOT_FOUND,
            format!("exec: \"{name}\": stat {name}: no such file or directory"),
        ),
        Errno::EACCES | Errno::EPERM | Errno::EISDIR => crate::error::coded(
            EXIT_CANNOT_RUN,
            format!("exec: \"{name}\": permission denied"),
        ),
        e => crate::error::coded(
            EXIT_CANNOT_RUN,
            format!("exec: \"{name}\": {}", e.desc().to_lowercase()),
        ),
    }
}

fn is_executable_file(path: &CStr) -> bool {
    match nix::sys::stat::stat(path) {
        Ok(st) => (st.st_mode & libc::S_IFMT) != libc::S_IFDIR && st.st_mode & 0o111 != 0,
        Err(_) => false,
    }
}

//! Starting one more process inside a running container (`berth exec`): join every namespace of
//! the container's PID 1 through a pidfd, its cgroup, then the tail of the init steps of
//! [`super::process`] (user, caps, cwd, no_new_privs, fds, seccomp, exec).
//!
//! ```text
//!   berth                                       child (forked into the container's PID ns)
//!   pidfd_open(PID 1); check its start time
//!   setns(pidfd, NEWPID)  (only our children's pid namespace changes)
//!   fork ─────────────────────────────────────► non-dumpable; setns(pidfd, NEWNS|UTS|IPC|NET|
//!                                               NEWCGROUP): root and cwd are now the container's
//!   joins the container's cgroup (add_pid)      [tty: opens a pty in the container's devpts]
//!   ◄─────────────────── PTY + master fd ─────
//!   ── GO ───────────────────────────────────► user, groups, chdir, caps, no_new_privs,
//!                                               close fds, seccomp, execve (PATH search)
//!   ◄─────────────────── ERR code message ────  on any failure
//! ```
//! The child is non-dumpable from its first instruction until execve, so the container's
//! processes cannot ptrace it or open its /proc files while it still holds engine fds
//! (CVE-2016-9962, CVE-2019-5736). Before it looks at its working directory it closes every
//! descriptor but its stdio and the sync socket (the cgroup directory of CLONE_INTO_CGROUP and
//! the pidfd among them), and it enters that directory resolved inside the container's root
//! (CVE-2024-21626).
//! Without `-d` the child stays berth's child, so berth waits for it and reports its status; with
//! `-d` the child forks once more inside the container and leaves, so the command's parent
//! becomes the container's PID 1, and berth returns as soon as it runs.

use super::process::{self, ChildStdio, Launched, Stdio, MSG_GO};
use super::user;
use crate::error::EXIT_ENGINE;
use crate::sys::process::{clone_fork, exit_now, Forked};
use anyhow::{anyhow, Context, Result};
use nix::sched::CloneFlags;
use nix::sys::socket::MsgFlags;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Everything the exec'd process needs, prepared before the fork.
pub struct ExecSpec {
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub cwd: String,
    /// `name|uid[:group|gid]`, resolved in the container's /etc/passwd and /etc/group.
    pub user: String,
    pub caps: Vec<caps::Capability>,
    pub no_new_privs: bool,
    /// None with `--privileged`.
    pub seccomp: Option<seccompiler::BpfProgram>,
    pub tty: bool,
    pub interactive: bool,
    /// `-d`: stdio is the container's /dev/null.
    pub detach: bool,
}

/// The namespaces the child joins itself (the PID namespace is joined for it by the parent).
fn join_flags() -> CloneFlags {
    CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWCGROUP
}

/// Start `spec` inside the container whose PID 1 is behind `pid1` (a pidfd the caller checked
/// against the recorded start time). `join_cgroup` runs in the parent while the child waits.
/// With `cgroup_dir`, the process starts inside that cgroup2 directory (CLONE_INTO_CGROUP).
pub fn launch(
    pid1: &OwnedFd,
    spec: &ExecSpec,
    cgroup_dir: Option<&std::path::Path>,
    join_cgroup: impl FnOnce(i32) -> Result<()>,
) -> Result<Launched> {
    let cgroup_fd = cgroup_dir.map(process::open_cgroup).transpose()?;
    let (parent_sock, child_sock) = process::sync_pair()?;
    let (parent_stdio, child_stdio) = if spec.detach {
        (None, None)
    } else {
        let (p, c) = process::stdio_pair(spec.tty, spec.interactive)?;
        (p, Some(c))
    };
    // Non-dumpable before the fork, so the child never is, not even for a moment: nothing in the
    // container can ptrace it or open its /proc files while it holds engine fds (CVE-2016-9962).
    nix::sys::prctl::set_dumpable(false).context("set non-dumpable")?;
    // setns(2): joining a PID namespace changes only the namespace of our future children, so
    // this process keeps its own view of the host while the child starts inside.
    nix::sched::setns(pid1.as_fd(), CloneFlags::CLONE_NEWPID)
        .context("join the container's pid namespace")?;
    let forked =
        clone_fork(0, cgroup_fd.as_ref().map(|fd| fd.as_raw_fd())).context("fork exec process")?;
    let (pid, pidfd) = match forked {
        Forked::Child => {
            drop(parent_sock);
            let err = match child_main(pid1, spec, &child_sock, child_stdio) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            process::report_failure(&child_sock, &err);
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(child_sock);
    drop(child_stdio);
    // A detached process has no stdio of ours: the await below must not want a terminal.
    let parent_stdio = if spec.detach {
        Some(Stdio::Pipes {
            stdin: None,
            stdout: null_fd()?,
            stderr: null_fd()?,
        })
    } else {
        parent_stdio
    };
    process::await_start(parent_sock, parent_stdio, pid, pidfd, join_cgroup)
}

fn null_fd() -> Result<OwnedFd> {
    nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open /dev/null")
}

/// The child's side: returns only on failure.
fn child_main(
    pid1: &OwnedFd,
    spec: &ExecSpec,
    sock: &OwnedFd,
    stdio: Option<ChildStdio>,
) -> Result<Infallible> {
    // Non-dumpable since the fork (inherited); execve makes the new program dumpable again.
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
    .context("reset signal mask")?;
    crate::sys::process::default_signals();
    nix::unistd::setsid().context("setsid")?;

    // With a mount namespace, setns(2) also moves our root and cwd to the container's root.
    nix::sched::setns(pid1.as_fd(), join_flags()).context("join the container's namespaces")?;

    match stdio {
        Some(ChildStdio::Tty) => {
            process::attach_pty(sock)?;
        }
        Some(ChildStdio::Pipes {
            stdin,
            stdout,
            stderr,
        }) => process::attach_pipes(stdin, &stdout, &stderr)?,
        None => {
            // The container's own /dev/null (we are inside its root now).
            let null = nix::fcntl::open(
                "/dev/null",
                nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .context("open /dev/null")?;
            process::dup_stdio(Some(&null), &null, &null)?;
        }
    }

    let mut go = [0u8; 1];
    match nix::sys::socket::recv(sock.as_raw_fd(), &mut go, MsgFlags::empty()) {
        Ok(1) if go[0] == MSG_GO => {}
        _ => exit_now(EXIT_ENGINE),
    }
    if spec.detach {
        // An orphan goes to the reaper of its parent's PID namespace (kernel/exit.c,
        // find_new_reaper): fork once more from inside, so that when this process leaves, the
        // command is adopted by the container's PID 1 and not by a host process.
        match clone_fork(0, None).context("fork detached process")? {
            Forked::Parent { .. } => exit_now(0),
            Forked::Child => {}
        }
    }

    process::drop_host_fds(sock)?;
    // Parsed here, never through NSS: nothing of the container is loaded (CVE-2019-14271).
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let who = user::resolve(&spec.user, &passwd, &group)
        .map_err(|e| crate::error::coded(crate::error::EXIT_CANNOT_RUN, e.to_string()))?;
    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.to_bytes().starts_with(b"HOME=")) {
        env.push(CString::new(format!("HOME={}", who.home)).context("HOME")?);
    }
    process::set_user(&who, &spec.caps)?;
    // Unlike `run`, exec does not create its working directory (Docker's runc exec neither).
    if let Err(e) = process::enter_workdir(&spec.cwd) {
        return Err(crate::error::coded(
            crate::error::EXIT_CANNOT_RUN,
            format!(
                "chdir to cwd ({:?}) failed: {}",
                spec.cwd,
                e.desc().to_lowercase()
            ),
        ));
    }
    process::set_caps(&spec.caps)?;
    if spec.no_new_privs {
        nix::sys::prctl::set_no_new_privs().context("set no_new_privs")?;
    }
    crate::sys::process::cloexec_from(3).context("close inherited fds")?;
    if let Some(filter) = &spec.seccomp {
        super::seccomp::install(filter).context("load seccomp filter")?;
    }
    Err(process::exec(&spec.argv, &env))
}

/// The container's environment with `overrides` (`K=V`, later wins) replacing or appended.
pub fn merge_env(base: &[String], overrides: &[String]) -> Vec<String> {
    let mut env: Vec<String> = base.to_vec();
    for kv in overrides {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        {
            Some(slot) => slot.clone_from(kv),
            None => env.push(kv.clone()),
        }
    }
    env
}

/// Every capability of our own bounding set (`--privileged`: all a container may hold here).
pub fn all_caps() -> Result<Vec<caps::Capability>> {
    let set = caps::read(None, caps::CapSet::Bounding)
        .map_err(|e| anyhow!("read bounding capabilities: {e}"))?;
    let mut caps: Vec<caps::Capability> = set.into_iter().collect();
    caps.sort_by_key(|c| c.index());
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_replace_in_place_and_append() {
        let base = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        let env = merge_env(&base, &["A=2".into(), "B=3".into(), "PATH=/x".into()]);
        assert_eq!(env, vec!["PATH=/x", "A=2", "B=3"]);
    }
}

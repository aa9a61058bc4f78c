//! `berth exec`: find the running container, build the process from its spec and the flags,
//! start it inside the container and stay with it (or leave at once with `-d`).

use crate::cli::exec::ExecRequest;
use crate::container::cgroup::Cgroup;
use crate::container::exec::{self, ExecSpec};
use crate::container::spec;
use crate::container::state::{self, ContainerDir};
use crate::container::supervise::{self, Session};
use crate::error::{coded, NotFound};
use anyhow::Result;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Docker's CLI exits 1 when the daemon refuses an exec (no such container, not running).
const EXIT_REFUSED: i32 = 1;

pub fn exec(root: &Path, req: ExecRequest) -> Result<i32> {
    if req.tty && req.interactive && !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        return Err(coded(1, "the input device is not a TTY"));
    }
    let container = match state::resolve(root, &req.container) {
        Ok(c) => c,
        Err(e) if e.downcast_ref::<NotFound>().is_some() => {
            return Err(coded(
                EXIT_REFUSED,
                format!("No such container: {}", req.container),
            ))
        }
        Err(e) => return Err(e),
    };
    let pid1 = open_init(&container)?;
    let spec = spec::Stored::load(&container.config())?;
    let exec_spec = exec_spec(&spec, &req)?;

    let cgroup = Cgroup::open(&container.id);
    let signals = if req.detach {
        None
    } else {
        Some(supervise::block_signals()?)
    };
    let launched = exec::launch(&pid1, &exec_spec, cgroup.v2_dir(), |pid| {
        if cgroup.needs_add_pid() {
            cgroup.add_pid(pid)?;
        }
        Ok(())
    })?;
    match signals {
        None => {
            // The intermediate process has left already; collect it.
            supervise::reap(std::os::fd::AsFd::as_fd(&launched.pidfd))?;
            Ok(0)
        }
        Some(signals) => supervise::supervise(
            launched,
            Session {
                signals,
                interactive: req.interactive,
                attached: true,
                log: None,
                attach: None,
                first_client: None,
                trim_memory: false,
            },
        ),
    }
}

/// A pidfd for the container's PID 1, checked to be the recorded process (not a reused pid).
fn open_init(container: &ContainerDir) -> Result<OwnedFd> {
    let record = container.load_state()?;
    let not_running = || {
        coded(
            EXIT_REFUSED,
            format!("Container {} is not running", container.id),
        )
    };
    let (Some(pid), Some(start)) = (record.pid, record.pid_start) else {
        return Err(not_running());
    };
    if !record.is_running() {
        return Err(not_running());
    }
    if record.paused {
        return Err(coded(
            EXIT_REFUSED,
            format!(
                "Container {} is paused, unpause the container before exec",
                container.id
            ),
        ));
    }
    let pidfd = crate::sys::process::pidfd_open(pid).map_err(|_| not_running())?;
    // The pidfd pins the process we checked: the pid is ours only if it still started then.
    if state::process_start_time(pid) != Some(start)
        || crate::sys::process::pidfd_send_signal(pidfd.as_raw_fd(), 0).is_err()
    {
        return Err(not_running());
    }
    Ok(pidfd)
}

/// The process to start: the container's env, cwd, user and caps unless the flags say otherwise.
fn exec_spec(spec: &spec::Stored, req: &ExecRequest) -> Result<ExecSpec> {
    let process = &spec.process;
    let caps: Vec<caps::Capability> = if req.privileged {
        exec::all_caps()?
    } else {
        spec.bounding_caps()?
    };
    let seccomp = if req.privileged {
        None
    } else {
        Some(crate::container::seccomp::default_filter(&caps)?)
    };
    let user = req.user.clone().unwrap_or_else(|| {
        spec.annotations
            .get(spec::ANN_USER)
            .cloned()
            .unwrap_or_else(|| "0".to_string())
    });
    let mut env = exec::merge_env(&process.env, &req.env);
    if req.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_string());
    }
    Ok(ExecSpec {
        argv: crate::container::spec::cstrings(&req.args, "command")?,
        env: crate::container::spec::cstrings(&env, "environment")?,
        cwd: req.workdir.clone().unwrap_or_else(|| process.cwd.clone()),
        user,
        caps,
        no_new_privs: process.no_new_privileges.unwrap_or(true),
        seccomp,
        tty: req.tty,
        interactive: req.interactive,
        detach: req.detach,
    })
}

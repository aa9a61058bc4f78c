//! Starting and finishing a container from its record, shared by the foreground `run`, the
//! container's monitor (`run -d`, `start`, restarts) and `start -a`; and settling records whose
//! owner died without writing the end (a monitor killed with SIGKILL).

use super::cgroup::Cgroup;
use super::process::{self, InitSpec, Launched};
use super::rootfs::RootfsPlan;
use super::spec;
use super::state::{self, ContainerDir, State, Status};
use anyhow::{bail, Context, Result};
use std::os::fd::{AsFd, AsRawFd};

/// A container whose first process runs, with its cgroup and its network (released when the
/// plan is dropped: its address, port reservations and rules).
pub struct Started {
    pub launched: Launched,
    pub cgroup: Cgroup,
    pub net: crate::net::Plan,
}

/// Why a container's process is started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `run`, `start` or `restart`.
    Asked,
    /// Its restart policy, after it exited: a `stop` that came in meanwhile wins.
    Policy,
}

/// Start the container's process from its record and mark it running, owned by this process.
pub fn start(container: &ContainerDir, interactive: bool, why: Why) -> Result<Started> {
    let record = container.load_state()?;
    let spec = spec::Stored::load(&container.config())?;
    start_with(container, &spec, &record, interactive, why)
}

/// [`start`] with the spec and record in hand (a `run` has just written them).
pub fn start_with(
    container: &ContainerDir,
    spec: &spec::Stored,
    record: &State,
    interactive: bool,
    why: Why,
) -> Result<Started> {
    // A live owner first (a `run` waiting for this start already is one), taken under the
    // record's lock: no other process takes this start's cgroup for a leftover (see
    // `retry_cgroup_removal`).
    if !record.owner_alive() {
        container.update(|s| s.owner = state::this_process())?;
    }
    let mut init = init_spec(spec, container, record, interactive)?;
    // The network, set up anew at each start: address, ports, /etc/hosts, /etc/resolv.conf.
    let opts = record.config.net.parse()?;
    let mut net = crate::net::prepare(
        &container.root(),
        &opts,
        &crate::net::Who {
            id: &container.id,
            name: &record.name,
            hostname: &init.hostname,
            exposed: &record.config.exposed,
        },
    )?;
    std::fs::write(container.file("hosts"), net.hosts())
        .with_context(|| format!("write hosts of container {}", container.id))?;
    std::fs::write(container.file("resolv.conf"), net.resolv_conf())
        .with_context(|| format!("write resolv.conf of container {}", container.id))?;
    init.netns = net.namespace();
    let cgroup = Cgroup::create(&container.id)?;
    // The parent's part runs while the child builds its rootfs.
    let launched = match process::launch(&init, cgroup.v2_dir(), |pid| {
        if cgroup.needs_add_pid() {
            cgroup.add_pid(pid)?;
        }
        net.attach(pid)
    }) {
        Ok(l) => l,
        Err(e) => {
            let _ = cgroup.remove();
            return Err(e);
        }
    };
    let pid = launched.pid;
    // `stop` sets its flag under the record's lock and then signals the recorded process: it
    // sees this run's pid, or this sees its flag and the policy's restart is called off.
    let called_off = container.update(|s| {
        if why == Why::Policy && s.stopped_by_user {
            return true;
        }
        s.status = Status::Running;
        s.pid = Some(pid);
        s.pid_start = state::process_start_time(pid);
        s.started_at = Some(state::now_rfc3339());
        s.exit_code = None;
        s.finished_at = None;
        s.owner = state::this_process();
        s.paused = false;
        false
    });
    if !matches!(called_off, Ok(false)) {
        let _ = crate::sys::process::pidfd_send_signal(launched.pidfd.as_raw_fd(), libc::SIGKILL);
        let _ = super::supervise::reap(launched.pidfd.as_fd());
        let _ = cgroup.remove();
        called_off?;
        bail!("container {} was stopped before its restart", container.id);
    }
    Ok(Started {
        launched,
        cgroup,
        net,
    })
}

/// Record the end of the container's process and release its cgroup and network. Returns
/// whether its restart policy asks for another run. When it does not, and the container is not
/// to be removed, this process lets go of the record in the same update: whoever sees the exit
/// (`stop`, `wait`) can start or remove the container at once.
pub fn finish(
    container: &ContainerDir,
    cgroup: &Cgroup,
    net: crate::net::Plan,
    code: i32,
) -> Result<bool> {
    let _ = cgroup.remove();
    drop(net);
    let me = state::this_process();
    container.update(|s| {
        s.status = Status::Exited;
        s.exit_code = Some(code);
        s.finished_at = Some(state::now_rfc3339());
        s.paused = false;
        let restart = wants_restart(s, code);
        if !restart && !s.config.auto_remove && me.is_some() && s.owner == me {
            s.owner = None;
        }
        restart
    })
}

/// Let go of the record if this process still owns it. Nothing is written otherwise (see
/// [`ContainerDir::update`]): once let go, the record is anybody's (a `rm` may be deleting it).
pub fn release(container: &ContainerDir) -> Result<()> {
    let me = state::this_process();
    container.update(|s| {
        if me.is_some() && s.owner == me {
            s.owner = None;
        }
    })
}

/// Bring a record up to date when the process that owned it is gone: a container marked
/// running whose process and owner have both died (its monitor was killed; the container died
/// with it, by SIGKILL) is exited with 137, and its cgroup is released. Returns the state.
pub fn settle(container: &ContainerDir) -> Result<State> {
    let record = container.load_state()?;
    if record.status != Status::Running && !record.owner_alive() {
        retry_cgroup_removal(container);
    }
    if record.status != Status::Running || record.is_running() || record.owner_alive() {
        return Ok(record);
    }
    let _ = Cgroup::open(&container.id).remove();
    let _ = crate::net::release(&container.root(), &container.id);
    container.update(|s| {
        if s.status == Status::Running && !s.is_running() && !s.owner_alive() {
            s.status = Status::Exited;
            s.exit_code.get_or_insert(137);
            s.finished_at.get_or_insert_with(state::now_rfc3339);
            s.paused = false;
        }
        s.clone()
    })
}

/// A stopped container's cgroup that an earlier cleanup could not remove (seen, rarely, when
/// a container died with its killed monitor under load) is removed by a later command. Under
/// the record's lock, and only while nobody owns the record: whoever starts a container takes
/// ownership (under the same lock) before it creates the cgroup, so a new run's cgroup is never
/// mistaken for a leftover.
fn retry_cgroup_removal(container: &ContainerDir) {
    let cgroup = Cgroup::open(&container.id);
    if !cgroup.exists() {
        return;
    }
    let Ok(_lock) = container.lock() else { return };
    if container
        .load_state()
        .is_ok_and(|s| s.status != Status::Running && !s.owner_alive())
    {
        let _ = cgroup.remove();
    }
}

/// Everything the container's first process needs, from its spec and record.
pub fn init_spec(
    spec: &spec::Stored,
    container: &ContainerDir,
    record: &State,
    interactive: bool,
) -> Result<InitSpec> {
    let process = &spec.process;
    let caps = spec.bounding_caps()?;
    let seccomp = super::seccomp::default_filter(&caps)?;
    let user = spec
        .annotations
        .get(spec::ANN_USER)
        .cloned()
        .unwrap_or_else(|| "0".to_string());
    Ok(InitSpec {
        rootfs: RootfsPlan {
            layers: super::rootfs::with_engine_layer(
                record.config.layers.clone(),
                &container.root(),
            )?,
            upper: container.upper(),
            work: container.work(),
            merged: container.merged(),
            mounts: spec.mounts.clone(),
            files: vec![
                (container.file("hostname"), "/etc/hostname".to_string()),
                (container.file("hosts"), "/etc/hosts".to_string()),
                (
                    container.file("resolv.conf"),
                    "/etc/resolv.conf".to_string(),
                ),
            ],
            masked: spec.linux.masked_paths.clone(),
            readonly: spec.linux.readonly_paths.clone(),
            volatile: record.config.auto_remove,
        },
        hostname: spec.hostname.clone().unwrap_or_default(),
        argv: spec::cstrings(&process.args, "command")?,
        env: spec::cstrings(&process.env, "environment")?,
        cwd: process.cwd.clone(),
        user,
        caps,
        no_new_privs: process.no_new_privileges.unwrap_or(true),
        seccomp,
        tty: process.terminal,
        interactive,
        netns: crate::net::Namespace::New,
    })
}

/// Whether the restart policy asks for another run after an exit with `code`.
pub fn wants_restart(record: &State, code: i32) -> bool {
    if record.stopped_by_user {
        return false;
    }
    let policy = &record.config.restart;
    match policy.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            code != 0 && (policy.max_retries == 0 || record.restart_count < policy.max_retries)
        }
        _ => false,
    }
}

/// Docker's back-off between restarts: 100 ms doubling, at most a minute.
pub fn restart_delay(attempt: u32) -> std::time::Duration {
    let ms = 100u64.saturating_mul(1u64 << attempt.min(10));
    std::time::Duration::from_millis(ms.min(60_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::{RestartPolicy, RunConfig};

    fn record(name: &str, max: u32, count: u32, stopped: bool) -> State {
        State {
            id: String::new(),
            name: String::new(),
            image: String::new(),
            image_id: String::new(),
            created: String::new(),
            status: Status::Exited,
            pid: None,
            pid_start: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            config: RunConfig {
                restart: RestartPolicy {
                    name: name.into(),
                    max_retries: max,
                },
                ..Default::default()
            },
            owner: None,
            stopped_by_user: stopped,
            restart_count: count,
            paused: false,
        }
    }

    #[test]
    fn restart_policies() {
        assert!(!wants_restart(&record("no", 0, 0, false), 1));
        assert!(!wants_restart(&record("", 0, 0, false), 1));
        assert!(wants_restart(&record("always", 0, 5, false), 0));
        assert!(!wants_restart(&record("always", 0, 5, true), 0));
        assert!(wants_restart(&record("unless-stopped", 0, 0, false), 0));
        assert!(wants_restart(&record("on-failure", 3, 2, false), 1));
        assert!(!wants_restart(&record("on-failure", 3, 3, false), 1));
        assert!(!wants_restart(&record("on-failure", 3, 0, false), 0));
        assert!(wants_restart(&record("on-failure", 0, 99, false), 2));
    }

    #[test]
    fn backoff_doubles_to_a_minute() {
        assert_eq!(restart_delay(0).as_millis(), 100);
        assert_eq!(restart_delay(3).as_millis(), 800);
        assert_eq!(restart_delay(30).as_millis(), 60_000);
    }
}

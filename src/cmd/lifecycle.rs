//! The lifecycle verbs of existing containers: start, stop, restart, kill, wait, rename,
//! pause/unpause and container prune. Each acts through the record and the container's pid
//! (via a pidfd: a reused pid is never signalled); the container's monitor records exits.

use crate::cli::lifecycle::{ContainersArgs, KillArgs, PruneArgs, RenameArgs, StartArgs, StopArgs};
use crate::container::cgroup::Cgroup;
use crate::container::lifecycle::settle;
use crate::container::monitor::{self, Start};
use crate::container::state::{self, ContainerDir, State, Status};
use crate::sys::process::{pidfd_open, pidfd_send_signal};
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::Signal;
use std::io::BufRead;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Apply `f` to each named container, printing what Docker prints: the argument on success,
/// an error line otherwise; exit 1 if any failed.
fn each(
    root: &Path,
    names: &[String],
    mut f: impl FnMut(&ContainerDir) -> Result<Option<String>>,
) -> Result<i32> {
    let mut failed = false;
    for query in names {
        match state::resolve(root, query).and_then(|c| f(&c)) {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => println!("{query}"),
            Err(e) => {
                eprintln!("Error response from daemon: {}", crate::error::one_line(&e));
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

/// `KILL`, `SIGKILL`, `9`.
pub fn parse_signal(text: &str) -> Result<Signal> {
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow!("invalid signal: {text}"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| anyhow!("invalid signal: {text}"))
}

/// Send a signal to the container's first process; false when it is not running.
pub fn signal_container(record: &State, signal: Signal) -> Result<bool> {
    if !record.is_running() {
        return Ok(false);
    }
    let Some(pid) = record.pid else {
        return Ok(false);
    };
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ESRCH) => return Ok(false),
        Err(e) => return Err(e).context("open container process"),
    };
    // The pid may have been reused between the check and the open: check again on the pidfd.
    if state::process_start_time(pid) != record.pid_start {
        return Ok(false);
    }
    pidfd_send_signal(pidfd.as_raw_fd(), signal as i32).context("signal container")?;
    Ok(true)
}

/// Wait (bounded) until the container's process is gone.
fn wait_gone(record: &State, timeout: Duration) -> bool {
    let Some(pid) = record.pid else { return true };
    let Ok(pidfd) = pidfd_open(pid) else {
        return true;
    };
    if state::process_start_time(pid) != record.pid_start {
        return true;
    }
    let mut fds = [nix::poll::PollFd::new(
        pidfd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    nix::poll::poll(
        &mut fds,
        nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
    )
    .is_ok_and(|n| n > 0)
}

/// Wait (bounded) until the owner has recorded the exit; settle the record if it never will.
fn wait_recorded(container: &ContainerDir) -> Result<State> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let record = settle(container)?;
        if record.status != Status::Running || Instant::now() >= deadline {
            return Ok(record);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stop one container: its stop signal, then SIGKILL after `timeout`.
fn stop_one(container: &ContainerDir, timeout: Option<u64>, signal: Option<&str>) -> Result<()> {
    let record = container.update(|s| {
        s.stopped_by_user = true;
        s.clone()
    })?;
    if !record.is_running() {
        // Between two runs of its restart policy: its monitor sees the flag (before its next
        // run, or as that run starts) and lets go.
        if record.status == Status::Exited {
            wait_released(container);
        }
        settle(container)?;
        return Ok(());
    }
    let first = match signal.or(record.config.stop_signal.as_deref()) {
        Some(s) => parse_signal(s)?,
        None => Signal::SIGTERM,
    };
    if record.paused {
        let _ = Cgroup::open(&container.id).thaw();
    }
    signal_container(&record, first)?;
    let grace = Duration::from_secs(timeout.unwrap_or(10));
    if !wait_gone(&record, grace) {
        signal_container(&record, Signal::SIGKILL)?;
        if !wait_gone(&record, Duration::from_secs(10)) {
            bail!("container {} did not stop", container.id);
        }
    }
    wait_recorded(container)?;
    wait_released(container);
    Ok(())
}

pub fn stop(root: &Path, args: &StopArgs) -> Result<i32> {
    each(root, &args.containers, |c| {
        stop_one(c, args.time, args.signal.as_deref()).map(|_| None)
    })
}

/// Start one container under a new monitor (no-op when it runs already).
fn start_one(root: &Path, container: &ContainerDir) -> Result<()> {
    let record = settle(container)?;
    if record.is_running() {
        return Ok(());
    }
    ready_for_monitor(container, &record)?;
    monitor::spawn(root, container, Start::Now, None)
}

/// Make a stopped container's record ready for a new monitor: nobody else is starting it, and
/// a new run begins with no stop and no restarts on record.
fn ready_for_monitor(container: &ContainerDir, record: &state::State) -> Result<()> {
    if record.owner_alive() {
        bail!(
            "container {} is being started or restarted by another process",
            container.id
        );
    }
    container.update(|s| {
        s.stopped_by_user = false;
        s.restart_count = 0;
    })
}

pub fn start(root: &Path, args: &StartArgs) -> Result<i32> {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            bail!("you cannot start and attach multiple containers at once");
        }
        let container = state::resolve(root, &args.containers[0])?;
        let record = settle(&container)?;
        if record.is_running() {
            bail!("container {} is already running", container.id);
        }
        if args.attach && args.interactive && record.config.tty && record.config.interactive {
            // A terminal, as `run -it`: under a monitor, so Ctrl-P Ctrl-Q can detach.
            if !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
                return Err(crate::error::coded(1, "the input device is not a TTY"));
            }
            ready_for_monitor(&container, &record)?;
            return super::run::attached(root, &container);
        }
        container.update(|s| {
            s.stopped_by_user = false;
            s.owner = state::this_process();
        })?;
        return super::run::foreground(
            root,
            &container,
            args.interactive,
            record.config.auto_remove,
        );
    }
    each(root, &args.containers, |c| start_one(root, c).map(|_| None))
}

pub fn restart(root: &Path, args: &StopArgs) -> Result<i32> {
    each(root, &args.containers, |c| {
        stop_one(c, args.time, args.signal.as_deref())?;
        start_one(root, c).map(|_| None)
    })
}

/// Wait (bounded) for the owner of a stopped container to let go of its record.
fn wait_released(c: &ContainerDir) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.load_state().is_ok_and(|s| s.owner_alive()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn kill(root: &Path, args: &KillArgs) -> Result<i32> {
    let signal = parse_signal(&args.signal)?;
    each(root, &args.containers, |c| {
        let record = settle(c)?;
        if !record.is_running() {
            bail!(
                "Cannot kill container: {}: container {} is not running",
                c.id,
                c.id
            );
        }
        if signal == Signal::SIGKILL {
            c.update(|s| s.stopped_by_user = true)?;
        }
        signal_container(&record, signal)?;
        if signal == Signal::SIGKILL {
            wait_gone(&record, Duration::from_secs(10));
            wait_recorded(c)?;
        }
        Ok(None)
    })
}

pub fn wait(root: &Path, args: &ContainersArgs) -> Result<i32> {
    each(root, &args.containers, |c| {
        loop {
            let record = settle(c)?;
            if record.status != Status::Running {
                // A foreground run or monitor may still be writing the end.
                return Ok(Some(record.exit_code.unwrap_or(0).to_string()));
            }
            wait_gone(&record, Duration::from_secs(3600));
            let record = wait_recorded(c)?;
            if record.status != Status::Running {
                return Ok(Some(record.exit_code.unwrap_or(0).to_string()));
            }
        }
    })
}

pub fn rename(root: &Path, args: &RenameArgs) -> Result<i32> {
    let container = state::resolve(root, &args.container)?;
    let new = args.new_name.strip_prefix('/').unwrap_or(&args.new_name);
    crate::cli::run::validate_name(new)?;
    let old = container.load_state()?.name;
    if old == new {
        bail!("Renaming a container with the same name as its current name");
    }
    state::reserve_name(root, new, &container.id)?;
    container.update(|s| s.name = new.to_string())?;
    state::release_name(root, &old, &container.id);
    Ok(0)
}

pub fn pause(root: &Path, args: &ContainersArgs, freeze: bool) -> Result<i32> {
    each(root, &args.containers, |c| {
        let record = settle(c)?;
        if !record.is_running() {
            bail!("container {} is not running", c.id);
        }
        match (freeze, record.paused) {
            (true, true) => bail!("container {} is already paused", c.id),
            (false, false) => bail!("container {} is not paused", c.id),
            _ => {}
        }
        let cgroup = Cgroup::open(&c.id);
        if freeze {
            cgroup.freeze()?;
        } else {
            cgroup.thaw()?;
        }
        c.update(|s| s.paused = freeze)?;
        Ok(None)
    })
}

pub fn prune(root: &Path, args: &PruneArgs) -> Result<i32> {
    if !args.force {
        print!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for id in state::list_ids(root)? {
        let c = ContainerDir::new(root, &id);
        let Ok(record) = settle(&c) else { continue };
        if record.is_running() || record.owner_alive() {
            continue;
        }
        reclaimed += dir_size(&c.upper());
        let _ = Cgroup::open(&id).remove();
        crate::container::remove_files(root, &c, &record.name);
        deleted.push(id);
    }
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &deleted {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::image::units::human_size(reclaimed)
    );
    Ok(0)
}

/// After a reboot nothing of berth runs: start every container whose restart policy says so —
/// `always` ones (even if stopped by hand, as Docker does when its daemon starts) and
/// `unless-stopped` ones that were not stopped — and settle the records of the rest.
pub fn restore(root: &Path) -> Result<i32> {
    let mut failed = false;
    for id in state::list_ids(root)? {
        let c = ContainerDir::new(root, &id);
        let Ok(record) = settle(&c) else { continue };
        if record.is_running() || record.owner_alive() {
            continue;
        }
        let wanted = match record.config.restart.name.as_str() {
            "always" => true,
            "unless-stopped" => !record.stopped_by_user,
            _ => false,
        };
        if !wanted {
            continue;
        }
        match start_one(root, &c) {
            Ok(()) => println!("{}", record.name),
            Err(e) => {
                eprintln!(
                    "Error starting {}: {}",
                    record.name,
                    crate::error::one_line(&e)
                );
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

/// `berth top`: the container's processes, as ps(1) on the host shows them (Docker's way:
/// `ps -ef`, or the options given, with the rows of other processes left out).
pub fn top(root: &Path, args: &crate::cli::lifecycle::TopArgs) -> Result<i32> {
    // Docker's daemon errors: exit 1.
    let daemon = |e: anyhow::Error| crate::error::coded(1, crate::error::one_line(&e));
    let container = state::resolve(root, &args.container).map_err(daemon)?;
    let record = settle(&container)?;
    if !record.is_running() {
        return Err(crate::error::coded(
            1,
            format!("container {} is not running", container.id),
        ));
    }
    let pids: std::collections::HashSet<String> = Cgroup::open(&container.id)
        .pids()?
        .iter()
        .map(i32::to_string)
        .collect();
    let ps_args: Vec<String> = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps (is procps installed?)")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed");
        return Err(crate::error::coded(
            1,
            format!("ps {}: {}", ps_args.join(" "), first.trim()),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(pid_col) = header.split_whitespace().position(|h| h == "PID") else {
        bail!("Couldn't find PID field in ps output");
    };
    println!("{header}");
    for line in lines {
        if line
            .split_whitespace()
            .nth(pid_col)
            .is_some_and(|p| pids.contains(p))
        {
            println!("{line}");
        }
    }
    Ok(0)
}

/// Bytes of regular files under a directory (not following links).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("10").unwrap(), Signal::SIGUSR1);
        assert_eq!(parse_signal("USR2").unwrap(), Signal::SIGUSR2);
        assert!(parse_signal("NOPE").is_err());
    }
}

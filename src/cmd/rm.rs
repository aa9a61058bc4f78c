//! `berth rm`: remove containers (running ones only with `-f`, which kills them first).

use crate::cli::rm::RmArgs;
use crate::container::cgroup::Cgroup;
use crate::container::state;
use anyhow::{bail, Context, Result};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn rm(root: &Path, args: &RmArgs) -> Result<i32> {
    let mut failed = false;
    for query in &args.containers {
        match remove_one(root, query, args.force, args.volumes) {
            Ok(()) => println!("{query}"),
            Err(e) => {
                eprintln!("Error response from daemon: {}", crate::error::one_line(&e));
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn remove_one(root: &Path, query: &str, force: bool, volumes: bool) -> Result<()> {
    let container = state::resolve(root, query)?;
    let record = container.load_state().ok();
    if let Some(record) = &record {
        let running = record.is_up();
        // A monitor between two runs of a restart policy owns the record too.
        let restarting =
            !running && record.status != state::Status::Created && record.owner_alive();
        if (running || restarting) && !force {
            let what = if running { "running" } else { "restarting" };
            bail!(
                "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                container.id
            );
        }
        if running || restarting {
            // The restart policy must not bring it back while it is being removed.
            container.update(|s| s.stopped_by_user = true)?;
        }
        if running {
            if let Some(pid) = record.pid {
                kill_and_wait(pid)?;
            }
        }
        // Let the owner (monitor or foreground run) record the end and let go of the files.
        let deadline = Instant::now() + Duration::from_secs(5);
        while container.load_state().is_ok_and(|s| s.owner_alive()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // Released while the record is whole: a failure leaves the container listed, for another
    // `rm` to try again.
    Cgroup::open(&container.id).remove()?;
    crate::net::release(root, &container.id)?;
    // One rename takes the record away (see container::remove); a late writer (an owner that
    // outlived the wait above, a `ps` settling the record) finds no record to write.
    let name = record.map(|r| r.name).unwrap_or_default();
    if volumes {
        crate::container::remove_with_volumes(root, &container, &name);
    } else {
        crate::container::remove_files(root, &container, &name);
    }
    Ok(())
}

/// SIGKILL a container's first process through a pidfd and wait until it is gone.
fn kill_and_wait(pid: i32) -> Result<()> {
    let pidfd = match crate::sys::process::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ESRCH) => return Ok(()),
        Err(e) => return Err(e).context("open container process"),
    };
    let _ = crate::sys::process::pidfd_send_signal(pidfd.as_raw_fd(), libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(&pidfd),
        nix::poll::PollFlags::POLLIN,
    )];
    while Instant::now() < deadline {
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap_or(0) > 0 {
            return Ok(());
        }
    }
    bail!("container process {pid} did not exit")
}

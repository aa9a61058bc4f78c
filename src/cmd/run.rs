//! `berth run` and `berth create`: resolve the image, record the container, build its spec;
//! `run` then starts it — in the foreground (this process stays with it until it exits) or,
//! with `-d`, under a monitor of its own, printing the container's ID.

use crate::cli::run::{RunRequest, Volume};
use crate::cmd::attach::Ended;
use crate::container::lifecycle::{self, Why};
use crate::container::log::LogWriter;
use crate::container::monitor::{self, Start};
use crate::container::spec::{self, SpecInput};
use crate::container::state::{self, ContainerDir, RunConfig, State, Status};
use crate::container::supervise::{self, Session};
use crate::container::volume;
use crate::error::NotFound;
use crate::fs::store_access;
use crate::image::store::Store;
use anyhow::{anyhow, Context, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use oci_spec::runtime::Spec;
use std::fs::DirBuilder;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn run(root: &Path, req: RunRequest) -> Result<i32> {
    if req.tty && !req.detach && !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        return Err(crate::error::coded(1, "the input device is not a TTY"));
    }
    let mut created = create(root, &req)?;
    if req.detach {
        monitor::spawn(root, &created.container, Start::Now, None)?;
        created.keep = true;
        println!("{}", created.container.id);
        return Ok(0);
    }
    if req.tty && req.interactive {
        created.keep = true;
        return attached(root, &created.container);
    }
    created.keep = true;
    let container = created.container.clone();
    let preloaded = created
        .spec
        .take()
        .map(|spec| spec::Stored::from_spec(&spec))
        .zip(created.record.take());
    foreground_with(root, &container, req.interactive, req.remove, preloaded)
}

/// `run -it` (and `start -ai`): the container runs under a monitor, as with `-d`, and this
/// terminal is attached to it from the first byte, so Ctrl-P Ctrl-Q can detach and leave it
/// running (as Docker's `run -it` does). Returns once the container has exited and its monitor has recorded that
/// (and removed it, with `--rm`).
pub fn attached(root: &Path, container: &ContainerDir) -> Result<i32> {
    let (ours, monitors) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("create attach socket")?;
    monitor::spawn(root, container, Start::Now, Some(monitors))?;
    let first_start = container.load_state()?.started_at;
    let code = match crate::cmd::attach::stream(&ours, true, true)? {
        Ended::Detached => return Ok(0),
        Ended::Signal(sig) => return Ok(128 + sig),
        Ended::Exit(code) => Some(code),
        Ended::Closed => None,
    };
    drop(ours);
    Ok(recorded_exit(container, first_start.as_deref(), code))
}

/// The exit code of a container whose attach session has ended with its exit (`code`, when
/// the monitor sent it) or a closed connection, once its monitor has recorded the exit (and
/// removed an --rm container), which it does right after: bounded, 10 s.
pub fn recorded_exit(
    container: &ContainerDir,
    first_start: Option<&str>,
    code: Option<i32>,
) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let record = match lifecycle::settle(container) {
            Ok(r) => r,
            Err(_) => return code.unwrap_or(0),
        };
        // Done: the exit is recorded and the monitor has let go (or is gone; a monitor killed
        // with its container is recorded by `settle`, at the next round), or the restart
        // policy started it again. Judged on the record as read: a process seen alive by
        // `settle` may be gone by now, and then the next round records it.
        let settled = record.owner.is_none()
            || (record.status != Status::Running && !record.owner_alive())
            || (record.is_running() && record.started_at.as_deref() != first_start);
        if settled || Instant::now() >= deadline {
            return code.or(record.exit_code).unwrap_or(0);
        }
        if code.is_none() && record.status == Status::Running && !record.owner_alive() {
            // Its monitor was killed: the container dies with it (its parent-death signal);
            // make sure of that rather than leave it running with nobody to collect it.
            let _ = super::lifecycle::signal_container(&record, nix::sys::signal::Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `berth create`: the container, ready to start; prints its ID.
pub fn create_only(root: &Path, req: RunRequest) -> Result<i32> {
    let mut created = create(root, &req)?;
    created.container.update(|s| s.owner = None)?;
    created.keep = true;
    println!("{}", created.container.id);
    Ok(0)
}

/// Run a created container in the foreground: its output to ours (and its log), our input and
/// signals to it, its exit status as ours.
pub fn foreground(
    root: &Path,
    container: &ContainerDir,
    interactive: bool,
    remove: bool,
) -> Result<i32> {
    foreground_with(root, container, interactive, remove, None)
}

fn foreground_with(
    root: &Path,
    container: &ContainerDir,
    interactive: bool,
    remove: bool,
    preloaded: Option<(spec::Stored, State)>,
) -> Result<i32> {
    let signals = supervise::block_signals()?;
    let record = match &preloaded {
        Some((_, record)) => record.clone(),
        None => container.load_state()?,
    };
    let mut log = LogWriter::open(
        &container.log(),
        record.config.log_max_size,
        record.config.log_max_file,
    )?;
    let spec = match preloaded {
        Some((spec, _)) => spec,
        None => spec::Stored::load(&container.config())?,
    };
    let started = lifecycle::start_with(container, &spec, &record, interactive, Why::Asked);
    let started = match started {
        Ok(s) => s,
        Err(e) => {
            if record.status == Status::Created {
                crate::container::remove_with_volumes(root, container, &record.name);
            } else {
                let _ = container.update(|s| s.owner = None);
            }
            return Err(e);
        }
    };
    let session = Session {
        signals,
        interactive,
        attached: true,
        log: Some(&mut log),
        attach: None,
        first_client: None,
        trim_memory: false,
    };
    let result = supervise::supervise(started.launched, session);
    let code = result.unwrap_or(137);
    if lifecycle::finish(container, &started.cgroup, started.net, code)? {
        monitor::spawn(root, container, Start::AfterExit(code), None)?;
    } else if remove {
        // Its name now (a `rename` may have come in while it ran).
        let name = container.load_state()?.name;
        let volumes = !volume::anonymous_of(&spec.annotations).is_empty();
        crate::container::remove_files_soon(root, container, &name, volumes);
    }
    Ok(code)
}

/// A container record being created: removed on drop unless kept.
pub struct Created {
    root: std::path::PathBuf,
    pub container: ContainerDir,
    name: String,
    pub keep: bool,
    /// What was written, for a start right away.
    pub spec: Option<Spec>,
    pub record: Option<State>,
    /// Anonymous volumes made for it, removed with it.
    anonymous: Vec<String>,
}

impl Drop for Created {
    fn drop(&mut self) {
        if !self.keep {
            crate::container::remove_files(&self.root, &self.container, &self.name);
            volume::remove_anonymous(&self.root, &self.anonymous);
        }
    }
}

/// Resolve the image, reserve the name and write the container's record, spec and /etc files.
/// The record is owned by this process until a monitor or the foreground run takes it.
pub fn create(root: &Path, req: &RunRequest) -> Result<Created> {
    let store = Store::open(root)?;
    let image = match store.resolve_image(&req.image) {
        Ok(image) => image,
        Err(e) if e.downcast_ref::<NotFound>().is_some() => {
            return Err(anyhow!("Unable to find image '{}' locally", req.image));
        }
        Err(e) => return Err(e),
    };
    let id = state::new_id()?;
    let name = match &req.name {
        Some(n) => {
            let n = n.strip_prefix('/').unwrap_or(n).to_string();
            state::reserve_name(root, &n, &id)?;
            n
        }
        None => {
            // A generated name may be taken meanwhile by a concurrent run: fall back to one
            // with part of the ID in it, which is unique.
            let first = state::generate_name(root, &id);
            match state::reserve_name(root, &first, &id) {
                Ok(()) => first,
                Err(_) => {
                    let unique = format!("{first}_{}", &id[..12]);
                    state::reserve_name(root, &unique, &id)?;
                    unique
                }
            }
        }
    };
    let container = ContainerDir::new(root, &id);
    let mut created = Created {
        root: root.to_path_buf(),
        container: container.clone(),
        name: name.clone(),
        keep: false,
        spec: None,
        record: None,
        anonymous: Vec::new(),
    };
    let volumes = resolve_volumes(root, &req.volumes, &mut created.anonymous)?;

    let spec = spec::build(
        &SpecInput {
            id: &id,
            image_ref: &req.image,
            image_id: &image.id,
            config: &image.config,
            volumes: &volumes,
            anonymous: &created.anonymous,
        },
        req,
    )?;
    // The container's directory is its owner's alone (CVE-2021-41091, see
    // crate::fs::store_access); upper/ keeps 0755: it is the root directory the container sees.
    DirBuilder::new()
        .recursive(true)
        .mode(store_access::DIR_MODE)
        .create(&container.dir)
        .with_context(|| format!("create {}", container.dir.display()))?;
    for dir in [container.upper(), container.work(), container.merged()] {
        std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
    }
    // The spec holds the container's environment (`-e` secrets).
    let spec_json = serde_json::to_vec(&spec)?;
    std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(store_access::FILE_MODE)
        .open(container.config())
        .and_then(|mut f| f.write_all(&spec_json))
        .with_context(|| format!("write {}", container.config().display()))?;
    write_etc_files(&container, spec.hostname().as_deref().unwrap_or_default())?;
    let image_cfg = image.config.config().clone().unwrap_or_default();
    let stop_signal = image_cfg.stop_signal().clone();
    let (entrypoint, cmd) = spec::entrypoint_and_cmd(
        image_cfg.entrypoint().as_deref().unwrap_or_default(),
        image_cfg.cmd().as_deref().unwrap_or_default(),
        req.entrypoint.as_deref(),
        &req.args,
    );
    let record = State {
        id: id.clone(),
        name,
        image: req.image.clone(),
        image_id: image.id.clone(),
        created: state::now_rfc3339(),
        status: Status::Created,
        pid: None,
        pid_start: None,
        exit_code: None,
        started_at: None,
        finished_at: None,
        config: RunConfig {
            tty: req.tty,
            interactive: req.interactive,
            auto_remove: req.remove,
            restart: req.restart.clone(),
            layers: image.layer_dirs.clone(),
            stop_signal,
            log_max_size: req.log_max_size,
            log_max_file: req.log_max_file,
            entrypoint,
            cmd,
            net: req.net_flags.clone(),
            exposed: image_cfg.exposed_ports().clone().unwrap_or_default(),
        },
        owner: state::this_process(),
        stopped_by_user: false,
        restart_count: 0,
        paused: false,
    };
    container.save_state(&record)?;
    created.spec = Some(spec);
    created.record = Some(record);
    Ok(created)
}

/// Each `-v` with its host path: a missing host directory is created (empty), as Docker's
/// `-v` does; a named volume is created on first use, an anonymous one made and named (and
/// pushed onto `anonymous` at once, for the caller's cleanup).
fn resolve_volumes(
    root: &Path,
    asked: &[Volume],
    anonymous: &mut Vec<String>,
) -> Result<Vec<Volume>> {
    let store = volume::Volumes::new(root);
    let mut out = Vec::new();
    for v in asked {
        let mut v = v.clone();
        match v.volume.as_deref() {
            None => {
                if std::fs::symlink_metadata(&v.source).is_err() {
                    std::fs::create_dir_all(&v.source)
                        .with_context(|| format!("create volume source {}", v.source.display()))?;
                }
            }
            Some(name) => {
                let name = if name.is_empty() {
                    let generated = state::new_id()?;
                    anonymous.push(generated.clone());
                    generated
                } else {
                    name.to_string()
                };
                store.ensure(&name, v.volume.as_deref() == Some(""))?;
                v.source = store.data(&name);
                v.volume = Some(name);
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// /etc/hostname (/etc/hosts and /etc/resolv.conf come with the network, at each start).
fn write_etc_files(container: &ContainerDir, hostname: &str) -> Result<()> {
    std::fs::write(container.file("hostname"), format!("{hostname}\n"))?;
    std::fs::write(container.file("hosts"), "")?;
    std::fs::write(container.file("resolv.conf"), "")?;
    Ok(())
}

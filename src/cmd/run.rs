//! `berth run`: resolve the image, record the container, build its spec, start it in new
//! namespaces and stay with it in the foreground until it exits.

use crate::cli::run::RunRequest;
use crate::container::cgroup::Cgroup;
use crate::container::process::{self, InitSpec};
use crate::container::rootfs::RootfsPlan;
use crate::container::spec::{self, SpecInput};
use crate::container::state::{self, ContainerDir, State, Status};
use crate::container::supervise::{self, Session};
use crate::error::NotFound;
use crate::image::store::Store;
use anyhow::{anyhow, Context, Result};
use oci_spec::runtime::Spec;
use std::ffi::CString;
use std::path::Path;

pub fn run(root: &Path, req: RunRequest) -> Result<i32> {
    if req.tty && !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        return Err(crate::error::coded(1, "the input device is not a TTY"));
    }
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
        Some(n) => n.strip_prefix('/').unwrap_or(n).to_string(),
        None => state::generate_name(root, &id),
    };
    state::reserve_name(root, &name, &id)?;
    let container = ContainerDir::new(root, &id);
    let created = Created {
        root,
        container: &container,
        name: &name,
        keep: false,
    };

    let spec = spec::build(
        &SpecInput {
            id: &id,
            image_ref: &req.image,
            image_id: &image.id,
            config: &image.config,
        },
        &req,
    )?;
    for dir in [container.upper(), container.work(), container.merged()] {
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    }
    std::fs::write(container.config(), serde_json::to_vec_pretty(&spec)?)
        .with_context(|| format!("write {}", container.config().display()))?;
    let hostname = spec.hostname().clone().unwrap_or_default();
    // Network step 1 (src/net): ports, address, record; released when `net` drops.
    let exposed = image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.exposed_ports().clone())
        .unwrap_or_default();
    let mut net = crate::net::prepare(
        root,
        &req.network,
        &crate::net::Who {
            id: &id,
            name: &name,
            hostname: &hostname,
            exposed: &exposed,
        },
    )?;
    write_etc_files(&container, &hostname, &net)?;
    let mut record = State {
        id: id.clone(),
        name: name.clone(),
        image: req.image.clone(),
        image_id: image.id.clone(),
        created: state::now_rfc3339(),
        status: Status::Created,
        pid: None,
        pid_start: None,
        exit_code: None,
        started_at: None,
        finished_at: None,
    };
    container.save_state(&record)?;

    let init = init_spec(&spec, &container, &image.layer_dirs, &req, net.namespace())?;
    let cgroup = Cgroup::create(&id)?;
    let signals = supervise::block_signals()?;
    // Network step 2 runs beside the cgroup move, while the child builds its rootfs.
    let launched = process::launch(&init, |pid| {
        cgroup.add_pid(pid)?;
        net.attach(pid)
    });
    let launched = match launched {
        Ok(l) => l,
        Err(e) => {
            let _ = cgroup.remove();
            drop(created);
            return Err(e);
        }
    };
    record.status = Status::Running;
    record.pid = Some(launched.pid);
    record.pid_start = state::process_start_time(launched.pid);
    record.started_at = Some(state::now_rfc3339());
    container.save_state(&record)?;

    let result = supervise::supervise(
        launched,
        Session {
            signals,
            interactive: req.interactive,
        },
    );
    let _ = cgroup.remove();
    // Network step 3: the container is gone; free its address, ports and rules.
    drop(net);
    let code = result?;
    record.status = Status::Exited;
    record.exit_code = Some(code);
    record.finished_at = Some(state::now_rfc3339());
    if req.remove {
        drop(created);
    } else {
        container.save_state(&record)?;
        let mut created = created;
        created.keep = true;
    }
    Ok(code)
}

/// Removes a container record that was not (or should not stay) committed.
struct Created<'a> {
    root: &'a Path,
    container: &'a ContainerDir,
    name: &'a str,
    keep: bool,
}

impl Drop for Created<'_> {
    fn drop(&mut self) {
        if !self.keep {
            remove_container_files(self.root, self.container, self.name);
        }
    }
}

/// Remove a container's directory and release its name.
pub fn remove_container_files(root: &Path, container: &ContainerDir, name: &str) {
    let _ = std::fs::remove_dir_all(&container.dir);
    state::release_name(root, name, &container.id);
}

/// /etc/hostname, and /etc/hosts and /etc/resolv.conf as the network plan made them.
fn write_etc_files(container: &ContainerDir, hostname: &str, net: &crate::net::Plan) -> Result<()> {
    std::fs::write(container.file("hostname"), format!("{hostname}\n"))?;
    std::fs::write(container.file("hosts"), net.hosts())?;
    std::fs::write(container.file("resolv.conf"), net.resolv_conf())?;
    Ok(())
}

fn cstrings(items: &[String], what: &str) -> Result<Vec<CString>> {
    items
        .iter()
        .map(|s| CString::new(s.as_str()).with_context(|| format!("{what} contains a NUL byte")))
        .collect()
}

/// Everything the container's first process needs, from its spec.
fn init_spec(
    spec: &Spec,
    container: &ContainerDir,
    layers: &[std::path::PathBuf],
    req: &RunRequest,
    netns: crate::net::Namespace,
) -> Result<InitSpec> {
    let process = spec.process().as_ref().context("spec has no process")?;
    let linux = spec.linux().as_ref().context("spec has no linux section")?;
    let caps: Vec<caps::Capability> = process
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().clone())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            format!("CAP_{c}")
                .parse::<caps::Capability>()
                .map_err(|e| anyhow!("capability {c}: {e}"))
        })
        .collect::<Result<_>>()?;
    let seccomp = crate::container::seccomp::default_filter(&caps)?;
    let user = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(spec::ANN_USER).cloned())
        .unwrap_or_else(|| "0".to_string());
    Ok(InitSpec {
        rootfs: RootfsPlan {
            layers: layers.to_vec(),
            upper: container.upper(),
            work: container.work(),
            merged: container.merged(),
            mounts: spec.mounts().clone().unwrap_or_default(),
            files: vec![
                (container.file("hostname"), "/etc/hostname".to_string()),
                (container.file("hosts"), "/etc/hosts".to_string()),
                (
                    container.file("resolv.conf"),
                    "/etc/resolv.conf".to_string(),
                ),
            ],
            masked: linux.masked_paths().clone().unwrap_or_default(),
            readonly: linux.readonly_paths().clone().unwrap_or_default(),
        },
        hostname: spec.hostname().clone().unwrap_or_default(),
        argv: cstrings(process.args().as_deref().unwrap_or_default(), "command")?,
        env: cstrings(process.env().as_deref().unwrap_or_default(), "environment")?,
        cwd: process.cwd().to_string_lossy().into_owned(),
        user,
        caps,
        no_new_privs: process.no_new_privileges().unwrap_or(true),
        seccomp,
        tty: req.tty,
        interactive: req.interactive,
        netns,
    })
}

//! The runtime spec of a container, built by a pure function from the image config and the
//! `run` request: ENTRYPOINT/CMD rules, environment, working dir, user, hostname, mounts and
//! security defaults (Docker's, or stricter). Stored as the container's `config.json`.

use crate::cli::run::{RunRequest, Volume};
use anyhow::{bail, Context, Result};
use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    Mount, ProcessBuilder, RootBuilder, Spec, UserBuilder,
};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Annotation keys for what the OCI spec has no field for.
pub const ANN_USER: &str = "berth.user";
pub const ANN_NAME: &str = "berth.name";
pub const ANN_IMAGE: &str = "berth.image";
pub const ANN_IMAGE_ID: &str = "berth.image-id";
pub const ANN_NETWORK: &str = "berth.network";

/// Docker's PATH for images that set none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capability set (moby `daemon/pkg/oci/caps/defaults.go`), in bounding,
/// permitted, effective and inheritable alike.
pub const DEFAULT_CAPS: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths made unreadable inside the container (moby `daemon/pkg/oci/defaults.go`, plus the
/// thermal/powercap entries of GHSA-6fw5-f8r9-fgfm and GHSA-jq35-85cj-fj4p).
pub const MASKED_PATHS: [&str; 13] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/sys/devices/system/cpu/cpu0/thermal_throttle",
];

/// Paths made read-only inside the container.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What the spec needs besides the request: facts about the new container.
pub struct SpecInput<'a> {
    pub id: &'a str,
    pub image_ref: &'a str,
    pub image_id: &'a str,
    pub config: &'a ImageConfiguration,
    /// The `-v` mounts, each with its host path resolved.
    pub volumes: &'a [Volume],
    /// The names of the anonymous volumes among them, kept as an annotation.
    pub anonymous: &'a [String],
}

/// ENTRYPOINT and CMD after the flags, each `None` when empty (as Docker's inspect shows).
pub fn entrypoint_and_cmd(
    image_entrypoint: &[String],
    image_cmd: &[String],
    entrypoint_flag: Option<&str>,
    args: &[String],
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let entrypoint: Vec<String> = match entrypoint_flag {
        Some("") => Vec::new(),
        Some(e) => vec![e.to_string()],
        None => image_entrypoint.to_vec(),
    };
    let cmd: Vec<String> = if !args.is_empty() {
        args.to_vec()
    } else if entrypoint_flag.is_some() {
        Vec::new()
    } else {
        image_cmd.to_vec()
    };
    let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
    (some(entrypoint), some(cmd))
}

/// The argv the container runs: Docker's rules. Arguments after the image replace CMD and are
/// appended to ENTRYPOINT; `--entrypoint` replaces ENTRYPOINT and drops the image's CMD.
pub fn command_line(
    image_entrypoint: &[String],
    image_cmd: &[String],
    entrypoint_flag: Option<&str>,
    args: &[String],
) -> Result<Vec<String>> {
    let (entrypoint, cmd) = entrypoint_and_cmd(image_entrypoint, image_cmd, entrypoint_flag, args);
    let argv: Vec<String> = entrypoint
        .into_iter()
        .flatten()
        .chain(cmd.into_iter().flatten())
        .collect();
    if argv.is_empty() {
        bail!("no command specified");
    }
    Ok(argv)
}

/// The environment: PATH (Docker's default when the image has none), HOSTNAME, TERM with a tty,
/// then the image's Env, then `--env-file`/`-e` in order; a later value of a name wins in place.
pub fn environment(
    image_env: &[String],
    hostname: &str,
    tty: bool,
    request: &[String],
) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut set = |item: &str, env: &mut Vec<String>| {
        let key = item.split_once('=').map_or(item, |(k, _)| k).to_string();
        match index.get(&key) {
            Some(&i) => env[i] = item.to_string(),
            None => {
                index.insert(key, env.len());
                env.push(item.to_string());
            }
        }
    };
    if !image_env.iter().any(|e| e.starts_with("PATH=")) {
        set(DEFAULT_PATH, &mut env);
    }
    set(&format!("HOSTNAME={hostname}"), &mut env);
    if tty {
        set("TERM=xterm", &mut env);
    }
    for item in image_env.iter().chain(request) {
        set(item, &mut env);
    }
    env
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(dest));
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(PathBuf::from(source)));
    m.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

/// The standard mounts (moby's defaults). The root filesystem is mounted `nodev` and `/dev` is a
/// fresh tmpfs holding bind mounts of the standard device nodes only: a node made with
/// CAP_MKNOD anywhere else cannot be opened, whatever the host's cgroup devices support.
pub fn default_mounts() -> Vec<Mount> {
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "nodev", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
    ]
}

/// Build the container's runtime spec.
pub fn build(input: &SpecInput<'_>, req: &RunRequest) -> Result<Spec> {
    let cfg = input.config.config().clone().unwrap_or_default();
    let argv = command_line(
        cfg.entrypoint().as_deref().unwrap_or_default(),
        cfg.cmd().as_deref().unwrap_or_default(),
        req.entrypoint.as_deref(),
        &req.args,
    )?;
    let hostname = req
        .hostname
        .clone()
        .unwrap_or_else(|| input.id[..12].to_string());
    let env = environment(
        cfg.env().as_deref().unwrap_or_default(),
        &hostname,
        req.tty,
        &req.env,
    );
    let cwd = req
        .workdir
        .clone()
        .or_else(|| cfg.working_dir().clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".to_string());
    if !cwd.starts_with('/') {
        bail!("the working directory '{cwd}' is invalid, it needs to be an absolute path");
    }
    let user = req
        .user
        .clone()
        .or_else(|| cfg.user().clone().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "0".to_string());

    let caps: HashSet<Capability> = DEFAULT_CAPS.into_iter().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .permitted(caps.clone())
        .effective(caps.clone())
        .inheritable(caps)
        .ambient(HashSet::new())
        .build()?;
    let process = ProcessBuilder::default()
        .terminal(req.tty)
        .args(argv)
        .env(env)
        .cwd(cwd)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build()?)
        .capabilities(capabilities)
        .no_new_privileges(true)
        .build()?;
    let namespaces = [
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Cgroup,
    ]
    .into_iter()
    .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
    .collect::<Result<Vec<_>, _>>()?;
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(
            MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .readonly_paths(
            READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .build()?;

    let mut annotations = HashMap::new();
    annotations.insert(ANN_USER.to_string(), user);
    annotations.insert(ANN_IMAGE.to_string(), input.image_ref.to_string());
    annotations.insert(ANN_IMAGE_ID.to_string(), input.image_id.to_string());
    annotations.insert(ANN_NETWORK.to_string(), req.network.mode.name());
    if !input.anonymous.is_empty() {
        annotations.insert(
            crate::container::volume::ANN_ANONYMOUS.to_string(),
            input.anonymous.join(","),
        );
    }
    if let Some(name) = &req.name {
        annotations.insert(ANN_NAME.to_string(), name.clone());
    }

    let mut spec = Spec::default();
    spec.set_version("1.0.2".to_string());
    spec.set_process(Some(process));
    spec.set_root(Some(
        RootBuilder::default()
            .path("rootfs")
            .readonly(false)
            .build()?,
    ));
    spec.set_hostname(Some(hostname));
    let mut mounts = default_mounts();
    for v in input.volumes {
        let source = v.source.to_string_lossy();
        let mode = if v.readonly { "ro" } else { "rw" };
        // `copyup`: berth's own mark, read by rootfs: an empty volume gets the image's files.
        let copy = v.volume.is_some() && !v.nocopy;
        let options: &[&str] = if copy {
            &["rbind", mode, "copyup"]
        } else {
            &["rbind", mode]
        };
        mounts.push(mount(&v.target, "bind", &source, options));
    }
    spec.set_mounts(Some(mounts));
    spec.set_linux(Some(linux));
    spec.set_annotations(Some(annotations));
    Ok(spec)
}

/// `items` as C strings for execve(2); a NUL byte in one is an error naming `what`.
pub fn cstrings(items: &[String], what: &str) -> Result<Vec<std::ffi::CString>> {
    items
        .iter()
        .map(|s| {
            std::ffi::CString::new(s.as_str())
                .with_context(|| format!("{what} contains a NUL byte"))
        })
        .collect()
}

/// What berth reads back from a container's `config.json` (the OCI runtime spec it wrote with
/// [`build`]): only these fields. oci_spec's own `Spec` deserializer checks
/// `process.execCPUAffinity` with a regular expression, which links the regex crate's Unicode
/// tables: ~140 KiB of pointers that the loader relocates, page by page, in every berth
/// process, the long-lived monitors included. Writing goes through oci_spec's types.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct Stored {
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub process: StoredProcess,
    #[serde(default)]
    pub linux: StoredLinux,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredProcess {
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub terminal: bool,
    pub no_new_privileges: Option<bool>,
    #[serde(default)]
    pub capabilities: StoredCaps,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct StoredCaps {
    #[serde(default)]
    pub bounding: Vec<Capability>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredLinux {
    #[serde(default)]
    pub masked_paths: Vec<String>,
    #[serde(default)]
    pub readonly_paths: Vec<String>,
}

impl Stored {
    /// Read a container's `config.json`.
    pub fn load(path: &std::path::Path) -> Result<Stored> {
        let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
    }

    /// The same fields from a spec in hand (a `run` that has just written it).
    pub fn from_spec(spec: &Spec) -> Stored {
        // Only the fields read back are copied, not the whole process and linux sections.
        let process = spec.process().as_ref().map(|p| StoredProcess {
            args: p.args().clone().unwrap_or_default(),
            env: p.env().clone().unwrap_or_default(),
            cwd: p.cwd().to_string_lossy().into_owned(),
            terminal: p.terminal().unwrap_or(false),
            no_new_privileges: p.no_new_privileges(),
            capabilities: StoredCaps {
                bounding: p
                    .capabilities()
                    .as_ref()
                    .and_then(|c| c.bounding().as_ref())
                    .map(|set| set.iter().copied().collect())
                    .unwrap_or_default(),
            },
        });
        let linux = spec.linux().as_ref().map(|l| StoredLinux {
            masked_paths: l.masked_paths().clone().unwrap_or_default(),
            readonly_paths: l.readonly_paths().clone().unwrap_or_default(),
        });
        Stored {
            hostname: spec.hostname().clone(),
            mounts: spec.mounts().clone().unwrap_or_default(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            process: process.unwrap_or_default(),
            linux: linux.unwrap_or_default(),
        }
    }

    /// The bounding capability set, as the caps crate names them.
    pub fn bounding_caps(&self) -> Result<Vec<caps::Capability>> {
        self.process
            .capabilities
            .bounding
            .iter()
            .map(|c| {
                format!("CAP_{c}")
                    .parse::<caps::Capability>()
                    .map_err(|e| anyhow::anyhow!("capability {c}: {e}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// What `run` writes with oci_spec reads back into `Stored` field for field.
    #[test]
    fn stored_reads_back_what_was_written() {
        let process = ProcessBuilder::default()
            .args(v(&["sh", "-c", "x"]))
            .env(v(&["PATH=/bin", "A=1"]))
            .cwd("/work")
            .terminal(true)
            .no_new_privileges(true)
            .capabilities(
                LinuxCapabilitiesBuilder::default()
                    .bounding(DEFAULT_CAPS.iter().copied().collect::<HashSet<_>>())
                    .build()
                    .unwrap(),
            )
            .user(UserBuilder::default().build().unwrap())
            .build()
            .unwrap();
        let linux = LinuxBuilder::default()
            .masked_paths(v(&MASKED_PATHS))
            .readonly_paths(v(&READONLY_PATHS))
            .build()
            .unwrap();
        let mut spec = Spec::default();
        spec.set_process(Some(process))
            .set_linux(Some(linux))
            .set_hostname(Some("abc".into()))
            .set_annotations(Some(HashMap::from([(
                ANN_USER.to_string(),
                "1:2".to_string(),
            )])));
        let dir = std::env::temp_dir().join(format!("berth-stored-{}", std::process::id()));
        std::fs::write(&dir, serde_json::to_vec(&spec).unwrap()).unwrap();
        let mut read = Stored::load(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        let mut expected = Stored::from_spec(&spec);
        // A set has no order of its own.
        expected
            .process
            .capabilities
            .bounding
            .sort_by_key(|c| c.to_string());
        read.process
            .capabilities
            .bounding
            .sort_by_key(|c| c.to_string());
        assert_eq!(read, expected);
        assert_eq!(read.process.capabilities.bounding.len(), 14);
        assert_eq!(read.process.cwd, "/work");
        assert_eq!(read.annotations[ANN_USER], "1:2");
        assert_eq!(read.bounding_caps().unwrap().len(), 14);
    }

    #[test]
    fn entrypoint_and_cmd_rules() {
        let ep = v(&["/bin/echo", "entry"]);
        let cmd = v(&["default-cmd"]);
        assert_eq!(
            command_line(&ep, &cmd, None, &[]).unwrap(),
            v(&["/bin/echo", "entry", "default-cmd"])
        );
        assert_eq!(
            command_line(&ep, &cmd, None, &v(&["x"])).unwrap(),
            v(&["/bin/echo", "entry", "x"])
        );
        assert_eq!(
            command_line(&ep, &cmd, Some("/bin/ls"), &[]).unwrap(),
            v(&["/bin/ls"])
        );
        assert_eq!(
            command_line(&ep, &cmd, Some("/bin/ls"), &v(&["-l"])).unwrap(),
            v(&["/bin/ls", "-l"])
        );
        assert_eq!(
            command_line(&ep, &cmd, Some(""), &v(&["sh"])).unwrap(),
            v(&["sh"])
        );
        assert_eq!(
            command_line(&[], &v(&["sh"]), None, &[]).unwrap(),
            v(&["sh"])
        );
        assert!(command_line(&ep, &cmd, Some(""), &[]).is_err());
        assert!(command_line(&[], &[], None, &[]).is_err());
    }

    #[test]
    fn environment_order_and_overrides() {
        let image = v(&["PATH=/bin", "A=image", "B=image"]);
        let env = environment(&image, "abc", true, &v(&["B=flag", "C=flag"]));
        assert_eq!(
            env,
            v(&[
                "HOSTNAME=abc",
                "TERM=xterm",
                "PATH=/bin",
                "A=image",
                "B=flag",
                "C=flag"
            ])
        );
        let env = environment(&[], "h", false, &[]);
        assert_eq!(env, v(&[DEFAULT_PATH, "HOSTNAME=h"]));
    }

    #[test]
    fn docker_default_caps_are_fourteen_distinct() {
        let set: HashSet<_> = DEFAULT_CAPS.iter().collect();
        assert_eq!(set.len(), 14);
    }
}

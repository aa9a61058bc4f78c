//! Container records on disk: `containers/<id>/` holds config.json (the runtime spec),
//! state.json (status, pid, exit code, times), the writable layer and the /etc files the engine
//! provides; `names/<name>` is a symlink to the id. A name is reserved by creating its link
//! (atomic: exactly one of many concurrent `run --name X` wins). State is written to a temp file
//! and renamed into place, so a reader never sees a torn record.

use crate::error::NotFound;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
}

/// A restart policy (`--restart no|on-failure[:N]|always|unless-stopped`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// `no`, `on-failure`, `always` or `unless-stopped` (Docker's names; empty means `no`).
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "MaximumRetryCount")]
    pub max_retries: u32,
}

/// The networking flags of `run` as given (`--network`, `-p`, `-P`, `--ip`, `--add-host`,
/// `--dns`); parsed again at each start, which sets the network up anew.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetFlags {
    pub network: String,
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub ip: Option<String>,
    pub add_host: Vec<String>,
    pub dns: Vec<String>,
}

impl NetFlags {
    pub fn parse(&self) -> Result<crate::net::NetOptions> {
        crate::net::NetOptions::parse(
            &self.network,
            &self.publish,
            self.publish_all,
            self.ip.as_deref(),
            &self.add_host,
            &self.dns,
        )
    }
}

/// How the container was asked to run; fixed when it is created.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunConfig {
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    pub restart: RestartPolicy,
    /// Unpacked image layers, lowest first.
    pub layers: Vec<PathBuf>,
    /// The signal `stop` sends first (image STOPSIGNAL, else SIGTERM).
    pub stop_signal: Option<String>,
    pub log_max_size: u64,
    pub log_max_file: u32,
    /// The ENTRYPOINT and CMD in effect (Docker's inspect shows them apart).
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub net: NetFlags,
    /// The image's ExposedPorts (for `-P`).
    #[serde(default)]
    pub exposed: Vec<String>,
}

/// What changes over a container's life.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub created: String,
    pub status: Status,
    pub pid: Option<i32>,
    /// The pid's start time (clock ticks since boot) to tell it from a reused pid.
    pub pid_start: Option<u64>,
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    #[serde(default)]
    pub config: RunConfig,
    /// The process that owns the container while it runs or is being created (the foreground
    /// `run`, or the container's monitor), with its start time.
    #[serde(default)]
    pub owner: Option<(i32, u64)>,
    /// Set by `stop`/`kill`: the restart policy must not undo it.
    #[serde(default)]
    pub stopped_by_user: bool,
    #[serde(default)]
    pub restart_count: u32,
    #[serde(default)]
    pub paused: bool,
}

impl State {
    /// Whether the recorded process still runs (and is the same process, not a reused pid).
    pub fn is_running(&self) -> bool {
        self.status == Status::Running && alive(self.pid, self.pid_start)
    }

    /// Whether the container is running as users see it: its process runs, or it has ended
    /// and its owner is still collecting the last output before it records the exit (Docker,
    /// too, reports an exit once the container's streams are drained).
    pub fn is_up(&self) -> bool {
        self.status == Status::Running && (alive(self.pid, self.pid_start) || self.owner_alive())
    }

    /// Whether the owner (monitor or foreground CLI) is still there.
    pub fn owner_alive(&self) -> bool {
        self.owner
            .is_some_and(|(pid, start)| alive(Some(pid), Some(start)))
    }
}

fn alive(pid: Option<i32>, start: Option<u64>) -> bool {
    match (pid, start) {
        (Some(pid), Some(start)) => process_start_time(pid) == Some(start),
        _ => false,
    }
}

/// This process as an owner: its pid and start time.
pub fn this_process() -> Option<(i32, u64)> {
    let pid = std::process::id() as i32;
    process_start_time(pid).map(|s| (pid, s))
}

/// Start time of a process in clock ticks since boot (proc(5), /proc/PID/stat field 22). A
/// process that has exited but is not reaped yet (a zombie) counts as gone: its reaper may be
/// slow (an init that reaps orphans late).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    (!matches!(stat.state, 'Z' | 'X')).then_some(stat.starttime)
}

/// The files of one container.
#[derive(Debug, Clone)]
pub struct ContainerDir {
    pub id: String,
    pub dir: PathBuf,
}

impl ContainerDir {
    pub fn new(root: &Path, id: &str) -> ContainerDir {
        ContainerDir {
            id: id.to_string(),
            dir: root.join("containers").join(id),
        }
    }
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The store this container belongs to.
    pub fn root(&self) -> PathBuf {
        self.dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn load_state(&self) -> Result<State> {
        let text = std::fs::read(self.state_file())
            .with_context(|| format!("read state of container {}", self.id))?;
        serde_json::from_slice(&text)
            .with_context(|| format!("parse state of container {}", self.id))
    }

    pub fn save_state(&self, state: &State) -> Result<()> {
        write_atomic(&self.state_file(), &serde_json::to_vec(state)?)
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// Read, change and write the state under the container's lock (several processes — the
    /// monitor, `stop`, `rename` — update one record). A change that changes nothing writes
    /// nothing: no needless file per call, and a record nobody changes is never recreated
    /// while `rm` deletes it.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> Result<T> {
        let _lock = self.lock()?;
        let mut state = self.load_state()?;
        let before = serde_json::to_vec(&state)?;
        let out = change(&mut state);
        let after = serde_json::to_vec(&state)?;
        if after != before {
            write_atomic(&self.state_file(), &after)?;
        }
        Ok(out)
    }

    /// An exclusive lock on the container's record (flock(2) on its directory), held until
    /// dropped.
    pub fn lock(&self) -> Result<nix::fcntl::Flock<std::fs::File>> {
        let dir = std::fs::File::open(&self.dir)
            .with_context(|| format!("open container {}", self.id))?;
        nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("lock container {}", self.id))
    }
}

/// Write a file by temp + rename in the same directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, data).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename {}", path.display()))
}

/// A new random 64-hex container ID.
pub fn new_id() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("read /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn names_dir(root: &Path) -> PathBuf {
    root.join("names")
}

/// Reserve `name` for `id`. A name whose container no longer exists is taken over: at once when
/// the container lies in `trash/` (removed, its remover not done yet or killed), else once the
/// link is older than a moment.
pub fn reserve_name(root: &Path, name: &str, id: &str) -> Result<()> {
    let dir = names_dir(root);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(crate::fs::store_access::DIR_MODE)
        .create(&dir)
        .with_context(|| format!("create {}", dir.display()))?;
    let link = dir.join(name);
    for _ in 0..2 {
        match std::os::unix::fs::symlink(id, &link) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_link(&link).unwrap_or_default();
                let owner = owner.to_string_lossy().into_owned();
                if !owner.is_empty()
                    && !ContainerDir::new(root, &owner).dir.exists()
                    && (super::remove::is_removed(root, &owner) || owner_is_stale(&link))
                {
                    let _ = std::fs::remove_file(&link);
                    continue;
                }
                bail!(
                    "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
                );
            }
            Err(e) => return Err(e).with_context(|| format!("reserve name {name}")),
        }
    }
    bail!("could not reserve the name {name}")
}

/// A name link is stale when its container dir is gone and it is older than a moment (a new
/// reservation creates the link just before the container dir).
fn owner_is_stale(link: &Path) -> bool {
    std::fs::symlink_metadata(link)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() >= 5)
}

/// Release `name` if it still points at `id`.
pub fn release_name(root: &Path, name: &str, id: &str) {
    let link = names_dir(root).join(name);
    if std::fs::read_link(&link).is_ok_and(|t| t.as_os_str() == id) {
        let _ = std::fs::remove_file(&link);
    }
}

/// Find a container by name, full ID or unique ID prefix.
pub fn resolve(root: &Path, query: &str) -> Result<ContainerDir> {
    let q = query.strip_prefix('/').unwrap_or(query);
    if !q.is_empty() && !q.contains('/') && !q.starts_with('.') {
        if let Ok(id) = std::fs::read_link(names_dir(root).join(q)) {
            let c = ContainerDir::new(root, &id.to_string_lossy());
            if c.dir.exists() {
                return Ok(c);
            }
        }
        if q.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found: Vec<String> = list_ids(root)?
                .into_iter()
                .filter(|id| id.starts_with(q))
                .collect();
            if found.len() > 1 {
                bail!("multiple IDs found with provided prefix: {q}");
            }
            if let Some(id) = found.pop() {
                return Ok(ContainerDir::new(root, &id));
            }
        }
    }
    Err(NotFound::Container(query.to_string()).into())
}

/// Every container ID in the store.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("containers");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read {}", dir.display())),
    };
    Ok(entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect())
}

/// A Docker-style generated name (`adjective_noun`), unique in the store.
pub fn generate_name(root: &Path, id: &str) -> String {
    const ADJECTIVES: [&str; 24] = [
        "amber", "brave", "calm", "clever", "dapper", "eager", "fancy", "gentle", "happy", "jolly",
        "keen", "lively", "merry", "nimble", "proud", "quiet", "rapid", "shiny", "steady", "swift",
        "tidy", "upbeat", "vivid", "witty",
    ];
    const NOUNS: [&str; 24] = [
        "anchor", "beacon", "buoy", "cabin", "compass", "deck", "dock", "galley", "harbor", "hull",
        "jetty", "keel", "lantern", "mast", "mooring", "oar", "pier", "quay", "rudder", "sail",
        "skiff", "tide", "wharf", "yawl",
    ];
    let seed = u64::from_str_radix(&id[..12], 16).unwrap_or(0);
    let base = format!(
        "{}_{}",
        ADJECTIVES[(seed % 24) as usize],
        NOUNS[((seed / 24) % 24) as usize]
    );
    // Links point at bare IDs (dangling as paths): test the link itself.
    if std::fs::symlink_metadata(names_dir(root).join(&base)).is_err() {
        return base;
    }
    format!("{base}_{}", &id[..6])
}

/// Now, as RFC 3339 UTC with nanoseconds (Docker's timestamp format).
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

/// Seconds since the epoch → `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (days-to-civil conversion).
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{nanos:09}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formatting() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_rfc3339(1_704_067_200, 5),
            "2024-01-01T00:00:00.000000005Z"
        );
        assert_eq!(
            format_rfc3339(951_782_400, 0),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn names_are_reserved_once_and_resolve() {
        let root = std::env::temp_dir().join(format!("berth-state-{}", std::process::id()));
        let id = "a".repeat(64);
        std::fs::create_dir_all(ContainerDir::new(&root, &id).dir).unwrap();
        reserve_name(&root, "web", &id).unwrap();
        let err = reserve_name(&root, "web", &"b".repeat(64))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is already in use by container \"aaaa"),
            "{err}"
        );
        assert_eq!(resolve(&root, "web").unwrap().id, id);
        assert_eq!(resolve(&root, "aaaa").unwrap().id, id);
        assert!(resolve(&root, "bbbb").is_err());
        release_name(&root, "web", &id);
        reserve_name(&root, "web", &"b".repeat(64)).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! One cgroup per container, `berth/<id>` in every hierarchy we use, on cgroup v2-only hosts and
//! on hybrid hosts (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified).
//!
//! Placement: `berth/` hangs under each hierarchy's root (like Docker's `/docker/<id>`), not under
//! the cgroup of the CLI that starts the container. The CLI exits while the container lives on,
//! and the container's memory and pids must not count against whatever slice the user's shell
//! runs in (here, for instance, the caller's memory cgroup is `/process_api/...`).
//!
//! Hybrid hosts: we use the mounted v1 hierarchies among pids, memory, cpu, cpuacct (often
//! co-mounted as `cpu,cpuacct`), blkio, freezer, devices and name=systemd, plus the cgroup2 at
//! unified/ when present. cpuset is skipped: a new v1 cpuset cgroup starts with empty
//! `cpuset.cpus`/`cpuset.mems` and no task may join it until they are copied from the parent
//! (Documentation/admin-guide/cgroup-v1/cpusets.rst), a cost for a feature we do not offer yet.
//!
//! Devices ([`super::devices`]): the container's cgroup2 directory gets a device program
//! (BPF_CGROUP_DEVICE, cgroup-v2.rst "Device controller") that allows Docker's list of standard
//! nodes and nothing else; the kernel runs it for every device open or mknod of a task in that
//! cgroup, on v2-only and hybrid hosts alike (devcgroup_check_permission runs the cgroup2
//! program before any v1 rule). Where no cgroup2 is mounted, the v1 devices cgroup denies
//! everything and then allows the same list (cgroup-v1/devices.rst).
//!
//! Where a cgroup2 hierarchy exists (v2-only hosts, and unified/ on hybrid ones) a container
//! without resource limits gets only its cgroup2 directory, and starts inside it through
//! clone3(CLONE_INTO_CGROUP): no process is ever moved. Moving one (a write to cgroup.procs)
//! takes the kernel's cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period
//! — 5 to 15 ms here, more than the whole rest of `run`. v1 hierarchies are joined (by
//! `add_pid`) only where no cgroup2 exists, or when [`Cgroup::create_with_v1`] asks for them
//! (v1 controllers are what enforce limits on a hybrid host). Freezing (`pause`) and killing
//! every process (`cgroup.kill`) work on the cgroup2 directory alone.
//!
//! Cost: `create` is one mkdir per hierarchy (the shared `berth/` parent is made only when
//! missing), plus the device program (one bpf load and attach) or the device rules on v1; `add_pid` one write per hierarchy; `remove` one rmdir per
//! hierarchy when the container has already exited. Mount detection reads /proc/self/mountinfo
//! once per process, and only when /sys/fs/cgroup is not itself a cgroup2 mount; `create` does
//! not read it at all when the cgroup2 hierarchy is at /sys/fs/cgroup or /sys/fs/cgroup/unified.

use super::devices;
use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The directory under each hierarchy's root that holds every container's cgroup.
const PARENT: &str = "berth";
/// v1 hierarchies worth joining (see the module comment for cpuset).
const V1_CONTROLLERS: &[&str] = &[
    "pids",
    "memory",
    "cpu",
    "cpuacct",
    "blkio",
    "freezer",
    "devices",
    "name=systemd",
];
/// v2 controllers delegated to `berth/` so containers can be limited.
const V2_CONTROLLERS: &[&str] = &["cpu", "io", "memory", "pids"];
/// How long freezing, or the kernel's release of an exited container's cgroup, may take.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// A container's cgroup: one directory per hierarchy.
#[derive(Debug)]
pub struct Cgroup {
    /// The container's directory in every hierarchy, in creation order.
    dirs: Vec<PathBuf>,
    /// The directory in the v1 freezer hierarchy, if that is mounted.
    freezer_v1: Option<PathBuf>,
    /// The directory in the v1 devices hierarchy, if that is mounted.
    devices_v1: Option<PathBuf>,
    /// The directory in the cgroup2 hierarchy (v2-only hosts, or unified/ on hybrid ones).
    unified: Option<PathBuf>,
}

/// The cgroup hierarchies of this host, as berth uses them.
#[derive(Debug, Default)]
struct Layout {
    /// /sys/fs/cgroup is itself a cgroup2 mount.
    v2_only: bool,
    /// Mount points of the v1 hierarchies we use.
    v1: Vec<V1Hierarchy>,
    /// Mount point of the cgroup2 hierarchy.
    unified: Option<PathBuf>,
}

#[derive(Debug)]
struct V1Hierarchy {
    mount: PathBuf,
    freezer: bool,
    devices: bool,
}

#[allow(dead_code)] // called by the runtime's run/stop/pause/rm once they land
impl Cgroup {
    /// Create the container's cgroup: its cgroup2 directory where a cgroup2 hierarchy exists
    /// (the process starts in it by CLONE_INTO_CGROUP), else `berth/<id>` in every v1
    /// hierarchy we use. On error, remove what this call created.
    pub fn create(id: &str) -> Result<Cgroup> {
        if let Some(unified) = unified_layout() {
            return Self::create_in(&unified, id);
        }
        let layout = layout();
        if layout.unified.is_some() {
            Self::create_in(&layout.unified_only(), id)
        } else {
            Self::create_in(layout, id)
        }
    }

    /// Create `berth/<id>` in every hierarchy, v1 ones included (for v1 resource limits).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn create_with_v1(id: &str) -> Result<Cgroup> {
        Self::create_in(layout(), id)
    }

    /// Re-open an existing container's cgroup (for stop, pause, rm) without creating anything:
    /// the directories of it that exist.
    pub fn open(id: &str) -> Cgroup {
        let mut cgroup = Self::for_id(layout(), id);
        cgroup.dirs.retain(|d| d.exists());
        cgroup.freezer_v1 = cgroup.freezer_v1.filter(|d| d.exists());
        cgroup.devices_v1 = cgroup.devices_v1.filter(|d| d.exists());
        cgroup.unified = cgroup.unified.filter(|d| d.exists());
        cgroup
    }

    /// Whether any directory of this cgroup exists.
    pub fn exists(&self) -> bool {
        !self.dirs.is_empty()
    }

    /// Whether the process must be moved in with `add_pid` (it was not started inside by
    /// CLONE_INTO_CGROUP: there are v1 directories to join).
    pub fn needs_add_pid(&self) -> bool {
        self.dirs.iter().any(|d| Some(d) != self.unified.as_ref())
    }

    /// Move a process in: its pid goes to `cgroup.procs` in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        let pid = pid.to_string();
        for dir in &self.dirs {
            write_file(&dir.join("cgroup.procs"), &pid)?;
        }
        Ok(())
    }

    /// Every pid in the cgroup, in any of its hierarchies (for kill and cleanup).
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut pids = Vec::new();
        for dir in &self.dirs {
            pids.extend(read_procs(dir)?);
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Freeze every process (v1 `freezer.state` FROZEN, v2 `cgroup.freeze` 1) and wait until
    /// the kernel reports them all frozen.
    pub fn freeze(&self) -> Result<()> {
        if let Some(dir) = &self.freezer_v1 {
            let state = dir.join("freezer.state");
            // v1 reports FREEZING until every task has stopped; writing FROZEN again nudges
            // tasks that were busy in the kernel (cgroup-v1/freezer-subsystem.rst).
            let frozen = wait_until(|| {
                write_file(&state, "FROZEN")?;
                Ok(read_file(&state)?.trim() == "FROZEN")
            });
            return match frozen {
                Ok(true) => Ok(()),
                Ok(false) => {
                    let _ = write_file(&state, "THAWED");
                    bail!("freeze {}: timed out", dir.display())
                }
                Err(err) => Err(err),
            };
        }
        if let Some(dir) = &self.unified {
            write_file(&dir.join("cgroup.freeze"), "1")?;
            // cgroup.events says "frozen 1" once every task is stopped (cgroup-v2.rst).
            let events = dir.join("cgroup.events");
            if wait_until(|| Ok(read_file(&events)?.lines().any(|l| l == "frozen 1")))? {
                return Ok(());
            }
            let _ = write_file(&dir.join("cgroup.freeze"), "0");
            bail!("freeze {}: timed out", dir.display());
        }
        bail!("freeze: no freezer for this cgroup (neither v1 freezer nor cgroup2 is mounted)")
    }

    /// Let the processes run again.
    pub fn thaw(&self) -> Result<()> {
        if let Some(dir) = &self.freezer_v1 {
            write_file(&dir.join("freezer.state"), "THAWED")
        } else if let Some(dir) = &self.unified {
            write_file(&dir.join("cgroup.freeze"), "0")
        } else {
            bail!("thaw: no freezer for this cgroup (neither v1 freezer nor cgroup2 is mounted)")
        }
    }

    /// Remove the directories. Processes still inside are killed with SIGKILL (thawed first if
    /// frozen, or they could not die); an EBUSY while the kernel finishes releasing exited tasks
    /// is retried briefly. Removing what is already gone is fine.
    pub fn remove(&self) -> Result<()> {
        let mut first_error = None;
        for dir in self.dirs.iter().rev() {
            if let Err(err) = self.remove_dir(dir) {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The directory to hand to clone3's CLONE_INTO_CGROUP: the cgroup2 directory, when there
    /// is one. (Any v1 directories are then joined with `add_pid`.)
    pub fn v2_dir(&self) -> Option<&Path> {
        self.unified.as_deref()
    }

    fn for_id(layout: &Layout, id: &str) -> Cgroup {
        let mut cgroup = Cgroup {
            dirs: Vec::new(),
            freezer_v1: None,
            devices_v1: None,
            unified: None,
        };
        // Container ids are ours (hex), but they become path components: refuse anything else.
        if !valid_id(id) {
            return cgroup;
        }
        for hierarchy in &layout.v1 {
            let dir = hierarchy.mount.join(PARENT).join(id);
            if hierarchy.freezer {
                cgroup.freezer_v1 = Some(dir.clone());
            }
            if hierarchy.devices {
                cgroup.devices_v1 = Some(dir.clone());
            }
            cgroup.dirs.push(dir);
        }
        if let Some(mount) = &layout.unified {
            let dir = mount.join(PARENT).join(id);
            cgroup.unified = Some(dir.clone());
            cgroup.dirs.push(dir);
        }
        cgroup
    }

    fn create_in(layout: &Layout, id: &str) -> Result<Cgroup> {
        if !valid_id(id) {
            bail!("invalid container id for a cgroup: {id:?}");
        }
        let cgroup = Self::for_id(layout, id);
        if cgroup.dirs.is_empty() {
            bail!("no cgroup hierarchy found under {CGROUP_ROOT}");
        }
        let mut created = Vec::with_capacity(cgroup.dirs.len());
        let result = cgroup
            .make_dirs(layout, &mut created)
            .and_then(|()| match &cgroup.devices_v1 {
                Some(dir) => restrict_devices(dir),
                None => Ok(()),
            })
            .and_then(|()| match &cgroup.unified {
                Some(dir) => attach_device_program(dir),
                None => Ok(()),
            });
        if let Err(err) = result {
            // Only what this call made: a cgroup that already existed belongs to someone else.
            for dir in created.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
            return Err(err);
        }
        Ok(cgroup)
    }

    fn make_dirs(&self, layout: &Layout, created: &mut Vec<PathBuf>) -> Result<()> {
        if layout.v2_only {
            if let Some(mount) = &layout.unified {
                delegate_v2_controllers(mount)?;
            }
        }
        for dir in &self.dirs {
            let made = match fs::create_dir(dir) {
                // The shared parent is made once per hierarchy, by the first container.
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    make_parent(dir)?;
                    fs::create_dir(dir)
                }
                other => other,
            };
            match made {
                Ok(()) => created.push(dir.clone()),
                Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                    bail!("cgroup {} already exists", dir.display())
                }
                Err(err) => {
                    return Err(err).with_context(|| format!("create cgroup {}", dir.display()))
                }
            }
        }
        Ok(())
    }

    fn remove_dir(&self, dir: &Path) -> Result<()> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut pause = Duration::from_micros(100);
        loop {
            let err = match fs::remove_dir(dir) {
                Ok(()) => return Ok(()),
                Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
                Err(err) => err,
            };
            if err.raw_os_error() != Some(libc::EBUSY) || Instant::now() >= deadline {
                return Err(err).with_context(|| format!("remove cgroup {}", dir.display()));
            }
            // Busy: processes are left, or the container made cgroups of its own below ours.
            self.kill_all(dir)?;
            for child in subdirectories(dir)? {
                self.remove_dir(&child)?;
            }
            sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    fn kill_all(&self, dir: &Path) -> Result<()> {
        // cgroup.kill (v2, Linux 5.14) also catches processes forked while we kill.
        let cgroup_kill = dir.join("cgroup.kill");
        if !(cgroup_kill.exists() && write_file(&cgroup_kill, "1").is_ok()) {
            for pid in read_procs(dir)? {
                // ESRCH: it exited meanwhile.
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        // A task frozen by the v1 freezer cannot act on SIGKILL until thawed, whichever
        // hierarchy we are emptying.
        let _ = self.thaw();
        Ok(())
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id != "." && id != ".." && !id.contains('/') && !id.contains('\0')
}

impl Layout {
    /// The same host seen through its cgroup2 hierarchy alone.
    fn unified_only(&self) -> Layout {
        Layout {
            v2_only: self.v2_only,
            v1: Vec::new(),
            unified: self.unified.clone(),
        }
    }
}

/// The host's layout, found once per process.
fn layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(|| detect_layout().unwrap_or_default())
}

/// The cgroup2 hierarchy alone, found without reading mountinfo where it sits at its usual
/// place: /sys/fs/cgroup itself, or /sys/fs/cgroup/unified on a hybrid host. That is all
/// [`Cgroup::create`] needs there, and reading /proc/self/mountinfo (the kernel formats every
/// mount of the host) is a measurable part of a container's start.
fn unified_layout() -> Option<Layout> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    let is_cgroup2 =
        |path: &str| statfs(path).is_ok_and(|fs| fs.filesystem_type() == CGROUP2_SUPER_MAGIC);
    if is_cgroup2(CGROUP_ROOT) {
        return Some(Layout::v2(PathBuf::from(CGROUP_ROOT)));
    }
    let unified = format!("{CGROUP_ROOT}/unified");
    is_cgroup2(&unified).then(|| Layout {
        v2_only: false,
        v1: Vec::new(),
        unified: Some(PathBuf::from(unified)),
    })
}

fn detect_layout() -> Result<Layout> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    if statfs(CGROUP_ROOT)?.filesystem_type() == CGROUP2_SUPER_MAGIC {
        return Ok(Layout::v2(PathBuf::from(CGROUP_ROOT)));
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    Ok(parse_mountinfo(&mountinfo))
}

impl Layout {
    fn v2(mount: PathBuf) -> Layout {
        Layout {
            v2_only: true,
            v1: Vec::new(),
            unified: Some(mount),
        }
    }
}

/// Pick the hierarchies of a hybrid or v1 host from /proc/self/mountinfo (proc(5): fields up to
/// " - ", then the filesystem type, the source and the super-block options, which name the v1
/// controllers).
fn parse_mountinfo(mountinfo: &str) -> Layout {
    let mut layout = Layout::default();
    let mut seen_options: Vec<&str> = Vec::new();
    for line in mountinfo.lines() {
        let Some((mount_fields, fs_fields)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = mount_fields.split(' ').nth(4) else {
            continue;
        };
        let mut fs_fields = fs_fields.split(' ');
        let (fs_type, options) = (fs_fields.next(), fs_fields.nth(1).unwrap_or(""));
        match fs_type {
            Some("cgroup2") if layout.unified.is_none() => {
                layout.unified = Some(PathBuf::from(mount_point));
            }
            Some("cgroup") => {
                let controllers: Vec<&str> = options.split(',').collect();
                let wanted = controllers.iter().any(|c| V1_CONTROLLERS.contains(c));
                // One hierarchy may be mounted more than once; use its first mount.
                if !wanted || controllers.contains(&"cpuset") || seen_options.contains(&options) {
                    continue;
                }
                seen_options.push(options);
                layout.v1.push(V1Hierarchy {
                    mount: PathBuf::from(mount_point),
                    freezer: controllers.contains(&"freezer"),
                    devices: controllers.contains(&"devices"),
                });
            }
            _ => {}
        }
    }
    layout
}

/// On v2 a controller reaches `berth/<id>` only if enabled in `cgroup.subtree_control` of every
/// ancestor (cgroup-v2.rst "Enabling and Disabling"). `berth/` holds no processes, so the "no
/// internal processes" rule lets it delegate. Best effort: a controller that cannot be enabled
/// (absent, or the root is a namespaced cgroup with processes of its own) leaves the container
/// without that limit, which the code setting limits will report.
fn delegate_v2_controllers(mount: &Path) -> Result<()> {
    let parent = mount.join(PARENT);
    match fs::create_dir(&parent) {
        Err(err) if err.kind() != ErrorKind::AlreadyExists => {
            return Err(err).with_context(|| format!("create cgroup {}", parent.display()));
        }
        _ => {}
    }
    let available = read_file(&mount.join("cgroup.controllers"))?;
    let enabled = read_file(&parent.join("cgroup.subtree_control"))?;
    let missing: Vec<&str> = V2_CONTROLLERS
        .iter()
        .copied()
        .filter(|c| has_word(&available, c) && !has_word(&enabled, c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root_enabled = read_file(&mount.join("cgroup.subtree_control"))?;
    for controller in &missing {
        if !has_word(&root_enabled, controller) {
            let _ = write_file(
                &mount.join("cgroup.subtree_control"),
                &format!("+{controller}"),
            );
        }
        let _ = write_file(
            &parent.join("cgroup.subtree_control"),
            &format!("+{controller}"),
        );
    }
    Ok(())
}

fn has_word(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

fn make_parent(dir: &Path) -> Result<()> {
    let parent = dir.parent().expect("a cgroup dir has a parent");
    match fs::create_dir(parent) {
        Err(err) if err.kind() != ErrorKind::AlreadyExists => {
            Err(err).with_context(|| format!("create cgroup {}", parent.display()))
        }
        _ => Ok(()),
    }
}

/// Deny every device, then allow the standard ones; one rule per write, as the kernel wants.
fn restrict_devices(dir: &Path) -> Result<()> {
    write_file(&dir.join("devices.deny"), "a")?;
    let allow = dir.join("devices.allow");
    for rule in devices::DEFAULT_ALLOW {
        write_file(&allow, &rule.v1_line())?;
    }
    Ok(())
}

/// Load the device program and attach it to the cgroup2 directory. The attachment holds the
/// program; it goes with the directory.
fn attach_device_program(dir: &Path) -> Result<()> {
    use std::os::fd::AsFd;
    let prog = crate::sys::bpf::load_device_program(
        &devices::program(devices::DEFAULT_ALLOW),
        "berth_devices",
    )
    .context("load the device cgroup program (bpf)")?;
    let cgroup = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open cgroup {}", dir.display()))?;
    crate::sys::bpf::attach_device_program(cgroup.as_fd(), prog.as_fd())
        .with_context(|| format!("attach the device program to {}", dir.display()))
}

/// Poll `done` with a growing pause until it holds or SETTLE_TIMEOUT passes.
fn wait_until(mut done: impl FnMut() -> Result<bool>) -> Result<bool> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut pause = Duration::from_micros(50);
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

fn read_procs(dir: &Path) -> Result<Vec<i32>> {
    let path = dir.join("cgroup.procs");
    let text = match fs::read_to_string(&path) {
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.with_context(|| format!("read {}", path.display()))?,
    };
    text.lines()
        .map(|line| {
            line.parse()
                .with_context(|| format!("parse {}", path.display()))
        })
        .collect()
}

fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("list {}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

fn read_file(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
}

/// One write(2) of `data`: cgroup files take one value or rule per write.
fn write_file(path: &Path, data: &str) -> Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut file| file.write_all(data.as_bytes()))
        .with_context(|| format!("write {data:?} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn unique_id() -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("test-{}-{n}", std::process::id())
    }

    fn assert_root() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "cgroup tests need root (run `cargo test` as root)"
        );
    }

    /// Removes the cgroup when the test ends, passed or not.
    struct Guard(Cgroup);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.remove();
        }
    }

    /// A `sleep` child that is killed and reaped when the test ends.
    struct Sleeper(Child);
    impl Sleeper {
        fn spawn() -> Sleeper {
            Sleeper(
                Command::new("sleep")
                    .arg("1000")
                    .spawn()
                    .expect("spawn sleep"),
            )
        }
        fn pid(&self) -> i32 {
            self.0.id() as i32
        }
    }
    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// The process state letter from /proc/PID/stat (proc(5)).
    fn proc_state(pid: i32) -> char {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
        after_comm.chars().next().unwrap()
    }

    fn lifecycle(layout: &Layout) {
        let cgroup = Guard(Cgroup::create_in(layout, &unique_id()).unwrap());
        for dir in &cgroup.0.dirs {
            assert!(dir.is_dir(), "{} missing", dir.display());
        }
        let mut sleeper = Sleeper::spawn();
        cgroup.0.add_pid(sleeper.pid()).unwrap();
        assert_eq!(cgroup.0.pids().unwrap(), vec![sleeper.pid()]);
        for dir in &cgroup.0.dirs {
            assert_eq!(
                read_procs(dir).unwrap(),
                vec![sleeper.pid()],
                "{}",
                dir.display()
            );
        }

        cgroup.0.freeze().unwrap();
        if let Some(dir) = &cgroup.0.freezer_v1 {
            assert_eq!(
                read_file(&dir.join("freezer.state")).unwrap().trim(),
                "FROZEN"
            );
        } else {
            let events = read_file(&cgroup.0.unified.as_ref().unwrap().join("cgroup.events"));
            assert!(events.unwrap().contains("frozen 1"));
        }
        // v1 parks frozen tasks in D, v2 in S (a stopped-like sleep); either way not running.
        assert_ne!(proc_state(sleeper.pid()), 'R');
        cgroup.0.thaw().unwrap();
        // Thawed, it runs back into its sleep.
        let asleep = wait_until(|| Ok(proc_state(sleeper.pid()) == 'S')).unwrap();
        assert!(asleep, "state {} after thaw", proc_state(sleeper.pid()));

        // Frozen again, so remove must also thaw for SIGKILL to take effect.
        cgroup.0.freeze().unwrap();
        cgroup.0.remove().unwrap();
        let status = sleeper.0.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        for dir in &cgroup.0.dirs {
            assert!(!dir.exists(), "{} left behind", dir.display());
        }
        // Idempotent.
        cgroup.0.remove().unwrap();
    }

    #[test]
    fn create_add_freeze_remove_on_this_host() {
        assert_root();
        lifecycle(layout());
    }

    /// The v2-only code path, exercised on any cgroup2 mount this host has (on a hybrid host, the
    /// one at unified/).
    #[test]
    fn create_add_freeze_remove_v2_only() {
        assert_root();
        let Some(mount) = &layout().unified else {
            eprintln!("no cgroup2 mount here; v2 path not exercised");
            return;
        };
        let layout = Layout::v2(mount.clone());
        lifecycle(&layout);
        let cgroup = Guard(Cgroup::create_in(&layout, &unique_id()).unwrap());
        assert_eq!(cgroup.0.v2_dir(), cgroup.0.unified.as_deref());
        assert_eq!(cgroup.0.dirs.len(), 1);
    }

    #[test]
    fn hybrid_host_uses_v1_hierarchies_and_unified() {
        assert_root();
        let layout = layout();
        if layout.v2_only {
            return;
        }
        let mounts: Vec<_> = layout.v1.iter().map(|h| h.mount.clone()).collect();
        for name in ["pids", "memory", "freezer", "devices", "blkio"] {
            let mount = Path::new(CGROUP_ROOT).join(name);
            if mount.exists() {
                let mount = mount.canonicalize().unwrap();
                assert!(mounts.contains(&mount), "{name} not used: {mounts:?}");
            }
        }
        assert!(!mounts.iter().any(|m| m.ends_with("cpuset")));
        let cgroup = Guard(Cgroup::create_with_v1(&unique_id()).unwrap());
        assert!(cgroup.0.needs_add_pid());
        assert_eq!(
            cgroup.0.dirs.len(),
            mounts.len() + usize::from(layout.unified.is_some())
        );
        // Without limits a container gets its cgroup2 directory only, entered at clone time.
        if layout.unified.is_some() {
            let plain = Guard(Cgroup::create(&unique_id()).unwrap());
            assert!(!plain.0.needs_add_pid());
            assert_eq!(plain.0.v2_dir(), plain.0.unified.as_deref());
            assert_eq!(plain.0.dirs.len(), 1);
        }
    }

    #[test]
    fn devices_are_restricted_on_v1() {
        assert_root();
        let cgroup = Guard(Cgroup::create_with_v1(&unique_id()).unwrap());
        let Some(dir) = &cgroup.0.devices_v1 else {
            return;
        };
        let list = read_file(&dir.join("devices.list")).unwrap();
        let mut got: Vec<&str> = list.lines().collect();
        let lines: Vec<String> = devices::DEFAULT_ALLOW.iter().map(|r| r.v1_line()).collect();
        let mut want: Vec<&str> = lines.iter().map(String::as_str).collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn create_twice_fails_and_keeps_the_first() {
        assert_root();
        let id = unique_id();
        let first = Guard(Cgroup::create(&id).unwrap());
        let err = Cgroup::create(&id).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err:#}");
        for dir in &first.0.dirs {
            assert!(dir.is_dir(), "failed create removed {}", dir.display());
        }
    }

    #[test]
    fn failed_create_removes_what_it_made() {
        assert_root();
        let id = unique_id();
        // Occupy the last hierarchy only, so the earlier mkdirs succeed and must be undone.
        let all = Cgroup::for_id(layout(), &id);
        let last = all.dirs.last().unwrap().clone();
        make_parent(&last).unwrap();
        fs::create_dir(&last).unwrap();
        let occupied = Guard(Cgroup {
            dirs: vec![last.clone()],
            freezer_v1: None,
            devices_v1: None,
            unified: None,
        });
        assert!(Cgroup::create_with_v1(&id).is_err());
        for dir in &all.dirs[..all.dirs.len() - 1] {
            assert!(!dir.exists(), "{} left behind", dir.display());
        }
        assert!(last.is_dir());
        drop(occupied);
        assert!(!last.exists());
    }

    #[test]
    fn open_and_remove_of_unknown_id_is_a_no_op() {
        assert_root();
        let cgroup = Cgroup::open(&unique_id());
        cgroup.remove().unwrap();
        assert_eq!(cgroup.pids().unwrap(), Vec::<i32>::new());
    }

    #[test]
    fn ids_that_are_not_one_path_component_are_refused() {
        for id in ["", ".", "..", "a/b", "../../etc"] {
            assert!(Cgroup::create(id).is_err(), "{id:?}");
            assert!(Cgroup::open(id).dirs.is_empty(), "{id:?}");
        }
    }

    #[test]
    fn mountinfo_of_a_hybrid_host() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/net_cls rw,relatime - cgroup cgroup rw,net_cls
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:35 / /mnt/devices-again rw,relatime - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let layout = parse_mountinfo(mountinfo);
        let mounts: Vec<_> = layout
            .v1
            .iter()
            .map(|h| h.mount.to_str().unwrap())
            .collect();
        assert_eq!(
            mounts,
            [
                "/sys/fs/cgroup/cpu,cpuacct",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/freezer",
                "/sys/fs/cgroup/devices",
                "/sys/fs/cgroup/systemd",
            ]
        );
        assert!(layout.v1[2].freezer && layout.v1[3].devices && !layout.v1[0].freezer);
        assert_eq!(
            layout.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert!(!layout.v2_only);
    }

    /// Prints what `berth run` pays for its cgroup (`cargo test -- --nocapture cgroup_cost`).
    #[test]
    fn cgroup_cost() {
        assert_root();
        let start = Instant::now();
        let layout = detect_layout().unwrap();
        let detect = start.elapsed();
        let runs = 20;
        let (mut create, mut add, mut remove, mut remove_live) = (vec![], vec![], vec![], vec![]);
        for i in 0..runs {
            let sleeper = Sleeper::spawn();
            let start = Instant::now();
            let cgroup = Guard(Cgroup::create_in(&layout, &unique_id()).unwrap());
            create.push(start.elapsed());
            let start = Instant::now();
            cgroup.0.add_pid(sleeper.pid()).unwrap();
            add.push(start.elapsed());
            // Half the runs remove after the container exited (the usual case), half with it
            // still running (stop/rm -f).
            if i % 2 == 0 {
                drop(sleeper);
                let start = Instant::now();
                cgroup.0.remove().unwrap();
                remove.push(start.elapsed());
            } else {
                let start = Instant::now();
                cgroup.0.remove().unwrap();
                remove_live.push(start.elapsed());
            }
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        println!(
            "cgroup ({} hierarchies): detect {detect:?}, create {:?}, add_pid {:?}, \
             remove {:?}, remove with a live process {:?} (medians of {runs})",
            Cgroup::for_id(&layout, "x").dirs.len(),
            median(&mut create),
            median(&mut add),
            median(&mut remove),
            median(&mut remove_live),
        );
    }
}

//! Crash safety of `rm`: a `rm -f` killed with SIGKILL at any moment leaves the container
//! either whole (listed, and removable) or gone (its name free), never a half-deleted record
//! that `ps -a` hides while its name stays taken; and nothing of it behind — no mount, no
//! cgroup, no monitor, no file in the store.

use super::common::{stderr, unique, TestRoot};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A running container named `name` whose writable layer holds `copies` copies of /bin (a few
/// hundred entries each: deleting them takes a while), ready once its command wrote `/ready`.
/// Returns its ID.
fn run_container(root: &TestRoot, name: &str, copies: u32) -> String {
    let script =
        format!("for d in $(seq {copies}); do cp -a /bin /c$d; done; touch /ready; exec sleep 600");
    let id = root
        .ok(["run", "-d", "--name", name, "busybox", "sh", "-c", &script])
        .trim()
        .to_string();
    let ready = root.dir.join("containers").join(&id).join("upper/ready");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "container {name} never got ready"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    id
}

/// After an interrupted `rm -f NAME`: the container is listed and `rm -f` removes it, or it is
/// not listed and its name is free; then nothing of it is left.
fn assert_whole_or_gone(root: &TestRoot, name: &str, id: &str, what: &str) {
    let listed = root
        .ok(["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .any(|l| l == name);
    if listed {
        let out = root.run(["rm", "-f", name]);
        assert!(
            out.status.success(),
            "{what}: listed, but rm -f failed: {}",
            stderr(&out)
        );
    }
    let out = root.run([
        "run",
        "--rm",
        "--network",
        "none",
        "--name",
        name,
        "busybox",
        "true",
    ]);
    assert!(
        out.status.success(),
        "{what}: {} by ps -a, yet its name is taken: {}",
        if listed {
            "listed and removed"
        } else {
            "not listed"
        },
        stderr(&out)
    );
    assert_nothing_left(root, id, what);
}

fn assert_nothing_left(root: &TestRoot, id: &str, what: &str) {
    let store = root.dir.to_str().unwrap();
    let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(store))
        .map(String::from)
        .collect();
    assert!(mounts.is_empty(), "{what}: mounts left: {mounts:?}");
    let cgroups: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("berth").join(id))
        .chain([Path::new("/sys/fs/cgroup/berth").join(id)])
        .filter(|p| p.exists())
        .collect();
    assert!(cgroups.is_empty(), "{what}: cgroups left: {cgroups:?}");
    // A monitor that was told of the kill may take a moment to record it and leave.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Some(pid) = process_naming(id) {
        assert!(
            Instant::now() < deadline,
            "{what}: process {pid} of the container is left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let files = files_naming(&root.dir, id, 3);
    assert!(files.is_empty(), "{what}: files left: {files:?}");
}

/// A process whose command line names `id` (the container's monitor).
fn process_naming(id: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline)
            .contains(id)
            .then_some(pid)
    })
}

/// Entries of the store, `depth` levels deep, whose name holds `id`.
fn files_naming(dir: &Path, id: &str, depth: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(id) {
            found.push(path.display().to_string());
        } else if depth > 1 && entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(files_naming(&path, id, depth - 1));
        }
    }
    found
}

/// A small xorshift generator: the delays need no more, and the seed is printed for a rerun.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// SIGKILL `rm -f` at random moments of its life. The delays are spread over how long one
/// whole `rm -f` of the same container takes here (measured first), so that the kills land in
/// every step of it, on a fast machine as on a loaded one.
#[test]
fn rm_killed_at_random_leaves_container_whole_or_gone() {
    let root = TestRoot::with_busybox();
    let name = unique("crash");
    run_container(&root, &name, 5);
    let started = Instant::now();
    root.ok(["rm", "-f", &name]);
    let whole_rm = started.elapsed().min(Duration::from_secs(2));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut random = Random(seed);
    for round in 0..30 {
        let id = run_container(&root, &name, 5);
        let delay = Duration::from_micros(random.below(whole_rm.as_micros() as u64 + 1));
        let mut rm = root
            .berth(["rm", "-f", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = rm.kill();
        let _ = rm.wait();
        let what = format!("round {round}, rm killed after {delay:?} (seed {seed})");
        assert_whole_or_gone(&root, &name, &id, &what);
    }
}

/// The same at exact steps: `rm -f` is killed at its 1st, 2nd, … file deletion (strace(1)'s
/// syscall tampering delivers the SIGKILL as it enters its Nth unlinkat(2)), until a round in
/// which it deletes all it has to without being killed. The container's writable layer is
/// small, so that every step is a few rounds away.
#[test]
fn rm_killed_at_each_deletion_leaves_container_whole_or_gone() {
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: strace(1) is not installed");
        return;
    }
    let root = TestRoot::with_busybox();
    let name = unique("step");
    for nth in 1..=64 {
        let id = run_container(&root, &name, 0);
        let out = std::process::Command::new("strace")
            .args(["-f", "-o", "/dev/null", "-e", "trace=unlinkat"])
            .arg(format!("--inject=unlinkat:signal=KILL:when={nth}"))
            .arg(super::common::BERTH)
            .arg("--root")
            .arg(&root.dir)
            .args(["rm", "-f", &name])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let what = format!("rm killed at its unlinkat #{nth}");
        assert_whole_or_gone(&root, &name, &id, &what);
        if out.status.success() {
            return;
        }
    }
    panic!("rm was killed at 64 steps and never finished");
}

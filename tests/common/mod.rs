//! The integration tests' one helper: a private store (`--root`) in a fresh temporary directory,
//! a way to run the real `berth` binary against it, and cleanup on drop.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// Fixture archives built by `rootfs-fixtures/build` (see scripts/test).
pub fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("BERTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures/out"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "fixture {} is missing: run rootfs-fixtures/build (scripts/test does)",
        path.display()
    );
    path
}

/// Integration tests drive namespaces, mounts and cgroups: they need root, and say so loudly.
pub fn require_root() {
    assert!(
        nix_is_root(),
        "the integration tests need root (namespaces, mounts, cgroups): run them as root"
    );
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name for a container, network or file of one test.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A private store. Dropping it removes every container it holds and then the directory.
pub struct TestRoot {
    pub dir: PathBuf,
}

impl TestRoot {
    pub fn new() -> TestRoot {
        require_root();
        enter_private_network();
        let dir = std::env::temp_dir().join(unique("berth-test"));
        std::fs::create_dir_all(&dir).expect("create test root");
        TestRoot { dir }
    }

    /// A store with the busybox fixture loaded.
    pub fn with_busybox() -> TestRoot {
        let root = TestRoot::new();
        root.load("busybox-docker.tar");
        root
    }

    pub fn load(&self, fixture_name: &str) -> Output {
        let out = self
            .berth(["load", "-i"])
            .arg(fixture(fixture_name))
            .output()
            .unwrap();
        assert_ok(&out);
        out
    }

    /// `berth --root DIR ARGS…` ready to run, stdin from /dev/null.
    pub fn berth<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(BERTH);
        cmd.arg("--root")
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null());
        cmd.env_remove("BERTH_ROOT");
        cmd
    }

    /// Run berth to completion and capture its output.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.berth(args).output().expect("spawn berth")
    }

    /// Run berth, assert success, return stdout as a string.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.run(args);
        assert_ok(&out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait (bounded: 10 s) until `berth top CONTAINER` lists a process whose command line
    /// contains `command`: a key typed at a terminal after that reaches it, not a shell still
    /// starting it.
    pub fn wait_for_process(&self, container: &str, command: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let top = self.ok(["top", container]);
            if top.contains(command) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{command:?} never ran in {container}: {top}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Every regular file under `sub` of the store, relative paths, sorted.
    pub fn files_under(&self, sub: &str) -> Vec<String> {
        let mut found = Vec::new();
        walk(&self.dir.join(sub), &self.dir.join(sub), &mut found);
        found.sort();
        found
    }
}

/// `berth run --rm ARGS…` (ARGS: options, image, command) and its stdout, asserting success.
pub fn run_ok(root: &TestRoot, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    root.ok(&all)
}

/// Move this test's thread into a network namespace of its own (unshare(2) with CLONE_NEWNET
/// acts on the calling thread; libtest runs each test on its own thread) with `lo` up. Every
/// berth it spawns inherits it, so bridges, addresses and nftables rules never touch the host's,
/// and the kernel drops them all when the last process in the namespace is gone.
pub fn enter_private_network() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare network namespace");
    let ok = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "ip link set lo up failed in the test's network namespace"
    );
}

fn walk(base: &Path, dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ft = entry.file_type().unwrap();
        if ft.is_dir() {
            walk(base, &path, found);
        } else {
            found.push(path.strip_prefix(base).unwrap().display().to_string());
        }
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        // Remove every container the test left (running or not), then the store itself.
        if let Ok(entries) = std::fs::read_dir(self.dir.join("containers")) {
            let ids: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            if !ids.is_empty() {
                let _ = self
                    .berth(["rm", "-f"])
                    .args(&ids)
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // A store must never hold a mount once its containers are gone; if one is left, detach it
        // so the directory can go, and fail the test that leaked it.
        let leaked: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(self.dir.to_str().unwrap()))
            .map(String::from)
            .collect();
        for mount in leaked.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(mount).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if !leaked.is_empty() && !std::thread::panicking() {
            panic!("mounts left under the test root: {leaked:?}");
        }
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "berth failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

/// Assert the exit code and that the error is one clear line on stderr.
#[track_caller]
pub fn assert_fails(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\nstdout: {}\nstderr: {err}",
        stdout(out)
    );
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error is not one line: {err}"
    );
}

/// A berth command on a new pseudo-terminal, as on a user's terminal: what it prints
/// accumulates in `screen`.
pub struct OnPty {
    pub child: std::process::Child,
    pub master: std::fs::File,
    slave: std::os::fd::OwnedFd,
    /// The terminal's settings before the command started.
    pub initial: nix::sys::termios::Termios,
    pub screen: String,
}

impl OnPty {
    pub fn spawn(root: &TestRoot, args: &[&str], rows: u16, cols: u16) -> OnPty {
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&ws), None).unwrap();
        let initial = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
        let slave = std::fs::File::from(pty.slave.try_clone().unwrap());
        let child = root
            .berth(args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .unwrap();
        OnPty {
            child,
            master: std::fs::File::from(pty.master),
            slave: pty.slave,
            initial,
            screen: String::new(),
        }
    }

    /// Type `keys`.
    pub fn type_keys(&mut self, keys: &[u8]) {
        use std::io::Write;
        self.master.write_all(keys).unwrap();
    }

    /// Read until `needle` shows up on the screen (bounded: 10 s).
    pub fn read_until(&mut self, needle: &str) {
        use std::io::Read;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.screen.contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "never saw {needle:?} in {:?}",
                self.screen
            );
            let mut fds = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(&self.master),
                nix::poll::PollFlags::POLLIN,
            )];
            if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap() > 0 {
                let mut buf = [0u8; 4096];
                let n = self.master.read(&mut buf).unwrap_or(0);
                self.screen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    }

    /// Wait (bounded: 10 s) for the command to end.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the command on the terminal did not end; screen: {:?}",
                self.screen
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Whether the terminal is back in the mode it had before the command.
    pub fn assert_mode_restored(&self) {
        let now = nix::sys::termios::tcgetattr(&self.slave).unwrap();
        assert_eq!(
            self.initial.local_flags, now.local_flags,
            "terminal mode not restored"
        );
        assert_eq!(
            self.initial.input_flags, now.input_flags,
            "terminal mode not restored"
        );
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! CVE-2024-21626 class ("Leaky Vessels"): a working directory of `/proc/self/fd/N` where N is a
//! descriptor of the host that the engine left open in the process entering the container (in
//! runc, a cgroup directory). With it, the process's cwd is outside the container's root and
//! `../../..` climbs to the host's `/`. Every descriptor number from 3 to 64 is tried through
//! each way a working directory reaches a container: `run -w`, `run -d -w`, `exec -w`,
//! `exec -d -w` and an image's WorkingDir (with `run` and `run -d`).

use super::archive::{load_images, Image};
use super::common::*;
use super::running::Running;
use std::path::PathBuf;

const FDS: std::ops::RangeInclusive<u32> = 3..=64;

/// A directory of the host with a secret in it, that a process escaping through its cwd could
/// read (`../` many times, then this absolute path) and write into.
struct Canary {
    dir: PathBuf,
}

const SECRET: &str = "host-secret-21626";

impl Canary {
    fn new(root: &TestRoot) -> Canary {
        let dir = root.dir.with_extension("canary");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), SECRET).unwrap();
        Canary { dir }
    }

    /// A shell command that, run from an escaped cwd, prints the secret and leaves a file named
    /// `mark` beside it. From inside the container's root neither path exists.
    fn attack(&self, mark: &str) -> String {
        let up = "../".repeat(16);
        let dir = self.dir.to_str().unwrap().trim_start_matches('/');
        format!("cat {up}{dir}/secret; echo escaped > {up}{dir}/{mark}")
    }

    /// The marks that attacks left on the host.
    fn marks(&self) -> Vec<String> {
        let mut marks: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "secret")
            .collect();
        marks.sort();
        marks
    }

    #[track_caller]
    fn assert_untouched(&self, outputs: &[(String, std::process::Output)]) {
        for (what, out) in outputs {
            assert!(
                !stdout(out).contains(SECRET) && !stderr(out).contains(SECRET),
                "{what} read the host's file: {}",
                stdout(out)
            );
        }
        assert_eq!(
            self.marks(),
            Vec::<String>::new(),
            "attacks wrote on the host"
        );
        assert_eq!(
            std::fs::read_to_string(self.dir.join("secret")).unwrap(),
            SECRET
        );
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fd_dir(n: u32) -> String {
    format!("/proc/self/fd/{n}")
}

#[test]
fn cve_2024_21626_workdir_fd_run() {
    let root = TestRoot::with_busybox();
    let canary = Canary::new(&root);
    let mut outputs = Vec::new();
    for n in FDS {
        let attack = canary.attack(&format!("run-{n}"));
        let out = root.run([
            "run",
            "--rm",
            "-w",
            &fd_dir(n),
            "busybox",
            "sh",
            "-c",
            &attack,
        ]);
        outputs.push((format!("run -w {}", fd_dir(n)), out));
    }
    canary.assert_untouched(&outputs);
}

#[test]
fn cve_2024_21626_workdir_fd_run_detached() {
    let root = TestRoot::with_busybox();
    let canary = Canary::new(&root);
    let mut names = Vec::new();
    for n in FDS {
        let name = unique("wd-d");
        let attack = canary.attack(&format!("run-d-{n}"));
        // A detached container's command may fail to start (exit 126 at `run -d`) or run and
        // exit; either way it must not reach the host.
        let out = root.run([
            "run",
            "-d",
            "--name",
            &name,
            "-w",
            &fd_dir(n),
            "busybox",
            "sh",
            "-c",
            &attack,
        ]);
        if out.status.success() {
            names.push(name);
        }
    }
    assert_detached_untouched(&root, &canary, &names, Vec::new());
}

#[test]
fn cve_2024_21626_workdir_fd_exec() {
    let root = TestRoot::with_busybox();
    let canary = Canary::new(&root);
    let name = unique("wd-exec");
    let _running = Running::sleeping(&root, &name);
    let mut outputs = Vec::new();
    for n in FDS {
        let attack = canary.attack(&format!("exec-{n}"));
        let out = root.run(["exec", "-w", &fd_dir(n), &name, "sh", "-c", &attack]);
        outputs.push((format!("exec -w {}", fd_dir(n)), out));
        let attack = canary.attack(&format!("exec-d-{n}"));
        let out = root.run(["exec", "-d", "-w", &fd_dir(n), &name, "sh", "-c", &attack]);
        outputs.push((format!("exec -d -w {}", fd_dir(n)), out));
    }
    // Detached execs may still be running: give them the time a shell needs to write a file.
    wait_for_quiet(&root, &name);
    canary.assert_untouched(&outputs);
}

/// Once the detached containers `names` have exited, neither their logs nor the host show
/// that an attack got out; then they are removed.
#[track_caller]
fn assert_detached_untouched(
    root: &TestRoot,
    canary: &Canary,
    names: &[String],
    mut outputs: Vec<(String, std::process::Output)>,
) {
    for name in names {
        let _ = root.run(["wait", name]);
        outputs.push((format!("logs of {name}"), root.run(["logs", name])));
    }
    canary.assert_untouched(&outputs);
    if !names.is_empty() {
        root.ok(["rm", "-f"]
            .into_iter()
            .chain(names.iter().map(String::as_str)));
    }
}

/// Wait (bounded: 5 s) until the container runs nothing but its `sleep`.
fn wait_for_quiet(root: &TestRoot, name: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let top = root.ok(["top", name]);
        if !top.contains("sh -c cat") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn cve_2024_21626_workdir_fd_image() {
    let root = TestRoot::with_busybox();
    let canary = Canary::new(&root);
    let images: Vec<Image> = FDS
        .map(|n| {
            Image::busybox_with(
                &format!("wd{n}:latest"),
                serde_json::json!({
                    "WorkingDir": fd_dir(n),
                    "Entrypoint": ["sh", "-c"],
                }),
            )
        })
        .collect();
    load_images(&root, &images);
    let mut outputs = Vec::new();
    let mut names = Vec::new();
    for n in FDS {
        let image = format!("wd{n}");
        let out = root.run(["run", "--rm", &image, &canary.attack(&format!("img-{n}"))]);
        outputs.push((format!("run {image}"), out));
        let name = unique("wd-img-d");
        let out = root.run([
            "run",
            "-d",
            "--name",
            &name,
            &image,
            &canary.attack(&format!("img-d-{n}")),
        ]);
        if out.status.success() {
            names.push(name);
        }
    }
    assert_detached_untouched(&root, &canary, &names, outputs);
}

/// A working directory given through a symlink inside the image still works, and one that
/// climbs with `..` stays inside the root (resolved as if the root were `/`).
#[test]
fn workdir_resolves_inside_the_root() {
    let root = TestRoot::with_busybox();
    assert_eq!(
        root.ok(["run", "--rm", "-w", "/../../../etc", "busybox", "pwd"]),
        "/etc\n"
    );
    let made = root.ok([
        "run",
        "--rm",
        "-w",
        "/new/dir",
        "busybox",
        "sh",
        "-c",
        "pwd; ls -d /new/dir",
    ]);
    assert_eq!(made, "/new/dir\n/new/dir\n");
}

//! CVE-2021-41091 class (GHSA-3fwx-pjgw-3558; containerd's twin CVE-2021-41103): the store holds
//! what containers wrote (writable layers, volumes), their specs (with `-e` secrets) and their
//! logs. An unprivileged host user who can walk into it runs a setuid-root file a container left
//! there and becomes root, or reads the secrets. Each test attacks as `nobody` through
//! setpriv(1), from outside any container.

use super::common::{stderr, stdout, unique, TestRoot};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ENV_SECRET: &str = "env-secret-41091";
const LOG_SECRET: &str = "log-secret-41091";

/// Run a host command as the unprivileged user nobody (65534, no supplementary groups).
/// setpriv(1) keeps its capabilities until its own execve (PR_SET_KEEPCAPS), so the program
/// it runs is looked up with root's CAP_DAC_READ_SEARCH: env(1), which runs as nobody with no
/// capability left, is what looks up the program under attack.
fn as_nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "env",
        ])
        .args(args)
        .output()
        .expect("spawn setpriv")
}

/// What a hostile container leaves behind: the probe as a setuid-root file in its writable
/// layer and in a named volume, a secret in its environment and one in its log.
struct Leftovers {
    id: String,
    suid_in_layer: PathBuf,
    suid_in_volume: PathBuf,
}

fn leave_setuid_files(root: &TestRoot) -> Leftovers {
    let name = unique("suid");
    let volume = unique("suidvol");
    root.ok([
        "run",
        "--name",
        &name,
        "--network",
        "none",
        "-e",
        &format!("SECRET={ENV_SECRET}"),
        "-v",
        &format!("{volume}:/v"),
        "busybox",
        "sh",
        "-c",
        &format!(
            "cp /usr/local/bin/probe /suid && chmod 4755 /suid && \
             cp /usr/local/bin/probe /v/suid && chmod 4755 /v/suid && echo {LOG_SECRET}"
        ),
    ]);
    let id = root
        .ok(["inspect", "-f", "{{.Id}}", &name])
        .trim()
        .to_string();
    let left = Leftovers {
        suid_in_layer: root.dir.join("containers").join(&id).join("upper/suid"),
        suid_in_volume: root.dir.join("volumes").join(&volume).join("_data/suid"),
        id,
    };
    // The attack is real: the files are there, setuid root, and the secrets are on disk.
    for file in [&left.suid_in_layer, &left.suid_in_volume] {
        let meta = std::fs::metadata(file).expect("the container's setuid file");
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o4755), "{file:?}");
    }
    let container = root.dir.join("containers").join(&left.id);
    assert!(read(&container.join("config.json")).contains(ENV_SECRET));
    assert!(read(&container.join("log")).contains(LOG_SECRET));
    left
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// A setuid-root copy of the probe that an image's layer carries (the `layers` fixture's
/// `/data/suid`), found in the store's unpacked layers.
fn suid_in_image_layer(root: &TestRoot) -> PathBuf {
    root.load("layers-docker.tar");
    std::fs::read_dir(root.dir.join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("diff/data/suid"))
        .find(|p| p.exists())
        .expect("the layers fixture's /data/suid in the store")
}

/// Every attack of a host user on the store; each must fail.
fn assert_store_closed_to_nobody(root: &TestRoot, left: &Leftovers, image_suid: &Path) {
    for file in [&left.suid_in_layer, &left.suid_in_volume, image_suid] {
        let out = as_nobody(&[file.to_str().unwrap(), "ids"]);
        assert!(
            !stdout(&out).contains("euid=0"),
            "nobody became root through {file:?}: {}",
            stdout(&out)
        );
        assert!(
            !out.status.success(),
            "nobody ran the setuid file {file:?}: {}",
            stdout(&out)
        );
    }
    let container = root.dir.join("containers").join(&left.id);
    for (file, secret) in [
        (container.join("config.json"), ENV_SECRET),
        (container.join("log"), LOG_SECRET),
    ] {
        let out = as_nobody(&["cat", file.to_str().unwrap()]);
        assert!(
            !out.status.success() && !stdout(&out).contains(secret),
            "nobody read {file:?}: {}",
            stdout(&out)
        );
    }
    let containers = root.dir.join("containers");
    let out = as_nobody(&["ls", containers.to_str().unwrap()]);
    assert!(
        !out.status.success() && !stdout(&out).contains(&left.id),
        "nobody listed {containers:?}: {}",
        stdout(&out)
    );
}

#[test]
fn cve_2021_41091_store_not_reachable_by_host_users() {
    let root = TestRoot::with_busybox();
    let left = leave_setuid_files(&root);
    let image_suid = suid_in_image_layer(&root);
    assert_store_closed_to_nobody(&root, &left, &image_suid);
}

/// A store made before the store was closed (directories 0755, files 0644) is closed by the
/// next command, whatever it is.
#[test]
fn cve_2021_41091_old_store_closed_by_next_command() {
    let root = TestRoot::with_busybox();
    let left = leave_setuid_files(&root);
    let image_suid = suid_in_image_layer(&root);
    let container = root.dir.join("containers").join(&left.id);
    let volume = left.suid_in_volume.parent().unwrap().parent().unwrap();
    let layer = image_suid
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let old_modes = [
        (root.dir.clone(), 0o755),
        (root.dir.join("containers"), 0o755),
        (container.clone(), 0o755),
        (container.join("config.json"), 0o644),
        (container.join("log"), 0o644),
        (root.dir.join("volumes"), 0o755),
        (volume.to_path_buf(), 0o755),
        (root.dir.join("layers"), 0o755),
        (layer.to_path_buf(), 0o755),
    ];
    for (path, mode) in &old_modes {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    // The old store is open: the attack works (so the test below proves the fix).
    let out = as_nobody(&[left.suid_in_layer.to_str().unwrap(), "ids"]);
    assert!(out.status.success(), "{}", stderr(&out));

    root.ok(["ps", "-a"]);
    assert_store_closed_to_nobody(&root, &left, &image_suid);
    // Closed for good, not just at the door: every directory that leads to what a container
    // or an image wrote is closed to others, and the files with secrets are the owner's only.
    for (path, _) in &old_modes {
        let mode = std::fs::metadata(path).unwrap().mode() & 0o777;
        assert_eq!(
            mode & 0o077,
            0,
            "{path:?} is still open to others: {mode:o}"
        );
    }
    // The store still works.
    root.ok(["start", &left.id]);
}

/// The store closed to host users is still open to the container's own users: a container
/// run as an unprivileged user reaches its root filesystem, its named volume, a bind-mounted
/// host directory and its /etc files, and so does an `exec -u`.
#[test]
fn closed_store_still_serves_unprivileged_container_users() {
    let root = TestRoot::with_busybox();
    let volume = unique("uvol");
    let host_dir = HostDir::new();
    std::fs::write(host_dir.0.join("from-host"), "host file\n").unwrap();
    let bind = format!("{}:/b", host_dir.0.display());
    let vol = format!("{volume}:/v");
    root.ok([
        "run",
        "--rm",
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "echo vol > /v/f",
    ]);
    let out = root.ok([
        "run",
        "--rm",
        "-u",
        "1000",
        "-v",
        &vol,
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "id -u && cat /v/f /b/from-host && ls /bin/sh && cat /etc/hostname > /dev/null && echo ok",
    ]);
    assert_eq!(out, "1000\nvol\nhost file\n/bin/sh\nok\n");

    let name = unique("uexec");
    let _running = super::running::Running::start(
        &root,
        &name,
        &["-v", &vol, "-v", &bind, "busybox", "sleep", "600"],
    );
    let out = root.ok([
        "exec",
        "-u",
        "1000",
        &name,
        "sh",
        "-c",
        "id -u && cat /v/f /b/from-host",
    ]);
    assert_eq!(out, "1000\nvol\nhost file\n");
}

/// A host directory for a bind mount, outside the store, removed on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new() -> HostDir {
        let dir = std::env::temp_dir().join(unique("berth-bind"));
        std::fs::create_dir_all(&dir).unwrap();
        HostDir(dir)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

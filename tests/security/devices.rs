//! Device nodes (Docker's default device cgroup): a container may make any node (it has
//! CAP_MKNOD, as in Docker) but may open only the standard ones, wherever the node lives. A node
//! made on a bind mount or a volume, which are not mounted nodev, is otherwise a way to the
//! host's kernel log (/dev/kmsg), memory or disks (/dev/loop0, /dev/sda).

use super::common::*;
use super::running::Running;

/// A shell script that makes `/dev/kmsg`'s and `/dev/loop0`'s nodes in `dir` and tries to use
/// them, printing what worked.
fn attack(dir: &str) -> String {
    format!(
        "mknod {dir}/kmsg c 1 11 && echo made-kmsg; \
         echo berth-device-escape > {dir}/kmsg && echo wrote-kmsg; \
         mknod {dir}/loop0 b 7 0 && echo made-loop; \
         head -c 1 {dir}/loop0 > /dev/null && echo read-loop; \
         mknod {dir}/mem c 1 1 && head -c 1 {dir}/mem > /dev/null && echo read-mem; \
         true"
    )
}

#[track_caller]
fn assert_refused(what: &str, out: &std::process::Output) {
    let printed = stdout(out);
    assert!(
        printed.contains("made-kmsg"),
        "{what}: mknod failed: {out:?}"
    );
    for used in ["wrote-kmsg", "read-loop", "read-mem"] {
        assert!(!printed.contains(used), "{what}: {used}\n{printed}");
    }
    // EPERM from the device cgroup; /dev itself is also mounted nodev (EACCES).
    let err = stderr(out);
    assert!(
        err.contains("Operation not permitted") || err.contains("Permission denied"),
        "{what}: {err}"
    );
}

#[test]
fn device_nodes_outside_the_default_list_cannot_be_opened() {
    let root = TestRoot::with_busybox();
    let host_dir = root.dir.with_extension("devices");
    std::fs::create_dir_all(&host_dir).unwrap();
    let _cleanup = RemoveOnDrop(host_dir.clone());
    let bind = format!("{}:/bind", host_dir.display());
    let volume = format!("{}:/vol", unique("devvol"));
    for (what, dir) in [
        ("bind mount", "/bind"),
        ("volume", "/vol"),
        ("/dev", "/dev"),
    ] {
        let out = root.run([
            "run",
            "--rm",
            "-v",
            &bind,
            "-v",
            &volume,
            "busybox",
            "sh",
            "-c",
            &attack(dir),
        ]);
        assert_refused(what, &out);
        let _ = std::fs::remove_dir_all(&host_dir);
        std::fs::create_dir_all(&host_dir).unwrap();
    }
    // The same from a process exec'd into a running container.
    let name = unique("devices");
    let running = Running::start(&root, &name, &["-v", &bind, "busybox", "sleep", "600"]);
    let out = root.run(["exec", &name, "sh", "-c", &attack("/bind")]);
    assert_refused("exec", &out);
    drop(running);
}

/// Removes a directory of the test's when the test ends, passed or not.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_standard_devices_work() {
    let root = TestRoot::with_busybox();
    let out = root.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c \
         && head -c 4 /dev/random | wc -c && (echo x > /dev/full; echo full=$?)",
    ]);
    assert_eq!(out, "4\n4\n4\nfull=1\n");
}

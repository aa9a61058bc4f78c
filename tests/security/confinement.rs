//! What confines a default container's processes, as a hostile one meets it: Docker's masked
//! and read-only /proc and /sys paths, and a root filesystem on which a device node made with
//! CAP_MKNOD cannot be opened.

use super::common::*;

#[test]
fn proc_and_sys_are_masked_and_read_only() {
    let root = TestRoot::with_busybox();
    // Each that this kernel has (this one is built without /proc/kcore) reads as empty.
    for path in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/interrupts",
    ] {
        if std::path::Path::new(path).exists() {
            assert_eq!(
                run_ok(&root, &["busybox", "cat", path]),
                "",
                "{path} is not masked"
            );
        }
    }
    let out = root.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /proc/sys/kernel/ns_last_pid",
    ]);
    assert!(!out.status.success(), "/proc/sys is writable");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    let out = root.run(["run", "--rm", "busybox", "touch", "/sys/kernel/x"]);
    assert!(!out.status.success(), "/sys is writable");
    // A device node made with CAP_MKNOD cannot be opened (nodev root filesystem).
    let made = run_ok(&root, &["busybox", "probe", "try-mknod", "/tmp/mem"]);
    assert_ne!(
        made.trim(),
        "ok",
        "a new device node could be opened: {made}"
    );
    // The standard devices work.
    assert_eq!(
        run_ok(
            &root,
            &["busybox", "sh", "-c", "head -c 4 /dev/zero | wc -c"]
        )
        .trim(),
        "4"
    );
}

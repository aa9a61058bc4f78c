//! What confines a default container's processes, as a hostile one meets it: Docker's masked
//! and read-only /proc and /sys paths, a root filesystem on which a device node made with
//! CAP_MKNOD cannot be opened, Docker's 14 default capabilities (no CAP_SYS_ADMIN), and Docker's
//! default seccomp profile: no new user or mount namespace (the first step of the cgroup v1
//! `release_agent` escape, CVE-2022-0492), no mount, no keyring, no persona that turns ASLR off.

use super::common::*;
use super::running::Running;

/// Capability names by number (capability.h), up to CAP_CHECKPOINT_RESTORE.
#[rustfmt::skip]
const CAP_NAMES: [&str; 41] = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
];

/// Docker's default capability set (moby oci/caps/defaults.go), 0xa80425fb.
#[rustfmt::skip]
const DOCKER_DEFAULT_CAPS: [&str; 14] = [
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "MKNOD", "AUDIT_WRITE", "SETFCAP",
];

/// The names of the capabilities in a `CapXxx:` mask of /proc/PID/status.
fn cap_names(mask: &str) -> Vec<String> {
    let bits = u64::from_str_radix(mask.trim(), 16).unwrap_or_else(|_| panic!("mask {mask:?}"));
    (0..64)
        .filter(|bit| bits & (1u64 << bit) != 0)
        .map(|bit| match CAP_NAMES.get(bit) {
            Some(name) => name.to_string(),
            None => format!("cap{bit}"),
        })
        .collect()
}

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

/// CVE-2022-0492 class: the cgroup v1 `release_agent` escape starts with `unshare -UrmC` (a new
/// user namespace, in which the process holds CAP_SYS_ADMIN, to mount a cgroup v1 hierarchy and
/// write its release_agent). In a default container no user, mount or cgroup namespace can be
/// made (Docker's seccomp profile allows unshare, and namespace flags to clone, only with
/// CAP_SYS_ADMIN), so the attack never starts; nor can the container mount anything itself.
#[test]
fn cve_2022_0492_no_namespaces_or_mounts_for_a_release_agent_escape() {
    let root = TestRoot::with_busybox();
    let attack = "unshare -Urm sh -c 'mkdir -p /tmp/cg && mount -t cgroup -o rdma cgroup /tmp/cg \
        && echo escaped'; echo unshare=$?; \
        probe try-unshare user mnt; probe try-unshare user; probe try-unshare cgroup; \
        mkdir -p /mnt; mount -t tmpfs none /mnt; echo mount=$?; \
        grep -c ' /mnt ' /proc/self/mountinfo; true";
    let out = root.run(["run", "--rm", "busybox", "sh", "-c", attack]);
    assert_ok(&out);
    let (seen, err) = (stdout(&out), stderr(&out));
    assert!(!seen.contains("escaped"), "the escape ran: {seen}{err}");
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(
        lines,
        ["unshare=1", "EPERM", "EPERM", "EPERM", "mount=1", "0"],
        "what the container saw (stderr: {err})"
    );
    // busybox: `unshare(0x10020000)` is CLONE_NEWUSER | CLONE_NEWNS; mount reports EPERM so.
    assert!(
        err.contains("unshare(0x10020000): Operation not permitted"),
        "{err}"
    );
    assert!(err.contains("mount: permission denied"), "{err}");
}

/// Capabilities: a default container holds Docker's 14 default capabilities in its effective,
/// permitted, inheritable and bounding sets and none ambient, so nothing of CAP_SYS_ADMIN,
/// CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (open_by_handle_at, the
/// "shocker" escape) and the rest, and no way to gain one back. An operation that only a missing
/// capability stops (its syscall passes the seccomp profile) fails: taking the container's own
/// `lo` down needs CAP_NET_ADMIN.
#[test]
fn capabilities_are_docker_s_default_14_without_cap_sys_admin() {
    let root = TestRoot::with_busybox();
    let caps = run_ok(&root, &["busybox", "probe", "caps"]);
    let masks: std::collections::BTreeMap<&str, &str> =
        caps.lines().filter_map(|l| l.split_once(":\t")).collect();
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd"] {
        let mask = masks.get(set).unwrap_or_else(|| panic!("no {set}: {caps}"));
        assert_eq!(cap_names(mask), DOCKER_DEFAULT_CAPS, "{set} {mask}");
        assert_eq!(*mask, "00000000a80425fb", "{set}");
    }
    assert_eq!(masks.get("CapAmb"), Some(&"0000000000000000"), "{caps}");
    let out = root.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ip link set lo down; echo lo=$?; cat /sys/class/net/lo/operstate",
    ]);
    assert_ok(&out);
    // busybox ip exits 2 when the kernel refuses; lo stays up.
    assert_eq!(stdout(&out), "lo=2\nunknown\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
}

/// Seccomp: calls Docker's default profile refuses fail with EPERM inside a container, for its
/// first process and for one exec'd into it: the keyring (`keyctl`: keys are not namespaced, so
/// a container could read or plant the host's) and `personality(ADDR_NO_RANDOMIZE)` (address
/// space randomization off, for exploiting a host kernel or a setuid binary). An `exec
/// --privileged` process, which has no filter, makes the same calls: EPERM comes from the
/// filter, not from the kernel or the host.
#[test]
fn seccomp_refuses_the_keyring_and_turning_aslr_off() {
    let root = TestRoot::with_busybox();
    let calls = "probe status Seccomp; probe try-syscall keyctl; probe try-syscall personality";
    assert_eq!(
        run_ok(&root, &["busybox", "sh", "-c", calls]),
        "2\nEPERM\nEPERM\n",
        "the container's first process"
    );
    let name = unique("seccomp");
    let _ct = Running::sleeping(&root, &name);
    assert_eq!(
        root.ok(["exec", &name, "sh", "-c", calls]),
        "2\nEPERM\nEPERM\n",
        "an exec'd process"
    );
    assert_eq!(
        root.ok(["exec", "--privileged", &name, "sh", "-c", calls]),
        "0\nok\nok\n",
        "without a filter the calls go through: the test would not see a missing one"
    );
}

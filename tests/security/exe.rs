//! CVE-2019-5736 class: the engine's own binary, reached from inside a container. Every berth
//! process that enters a container runs berth's code there until it execs the container's
//! command, and `/proc/PID/exe` of such a process is berth's binary. An ordinary container
//! process must not reach it at all (CVE-2016-9962: the entering process is non-dumpable until
//! it has exec'd). A container process that may open it anyway (here an `exec --privileged`
//! one: CAP_SYS_PTRACE passes the dumpable check) keeps it open and, once nothing executes the
//! binary any more, opens it for writing and appends to it: the next berth the host runs would
//! run the container's code.
//!
//! In that second attack the berth doing the `exec` is a copy of the test binary that nothing
//! else runs (the container and its monitor are started by the ordinary one), as after an
//! upgrade with containers left running: a binary in use by another process cannot be written
//! at all (ETXTBSY), which would hide the attack.

use super::common::*;
use super::running::Running;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn cve_2019_5736_berth_binary_cannot_be_overwritten_from_a_container() {
    let root = TestRoot::with_busybox();
    let name = unique("exe");
    root.ok(["run", "-d", "--name", &name, "busybox", "sleep", "600"]);
    let copy = root.dir.with_extension("berth-copy");
    let copy_name = copy.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::copy(BERTH, &copy).unwrap();
    let original = std::fs::read(&copy).unwrap();

    // The attacker, started by the ordinary binary; its report comes line by line.
    let mut attacker = root
        .berth([
            "exec",
            "--privileged",
            &name,
            "probe",
            "grab-exe",
            &copy_name,
            "20",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let reader = BufReader::new(attacker.stdout.take().unwrap());
    let reading = std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });

    // Exec with the copy until the attacker has its hands on the binary.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut report = Vec::new();
    let mut execs = 0;
    while !report.iter().any(|l| l == "grabbed") && Instant::now() < deadline {
        let _ = std::process::Command::new(&copy)
            .arg("--root")
            .arg(&root.dir)
            .args(["exec", &name, "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        execs += 1;
        report.extend(lines.try_iter());
    }
    // The attacker gives up 20 s after it started at the latest.
    let _ = attacker.wait();
    reading.join().unwrap();
    report.extend(lines.try_iter());
    let after = std::fs::read(&copy).unwrap();
    let _ = std::fs::remove_file(&copy);
    root.ok(["rm", "-f", &name]);

    assert!(
        report.iter().any(|l| l == "grabbed"),
        "the attack never ran ({execs} execs): {report:?}"
    );
    assert!(
        !report.iter().any(|l| l == "wrote"),
        "the container wrote to berth's binary: {report:?}"
    );
    assert!(after == original, "berth's binary changed: {report:?}");
    // It is a read-only view of the binary that the container got hold of.
    assert!(report.iter().any(|l| l == "EROFS"), "{report:?}");
}

/// CVE-2016-9962 / CVE-2019-5736: while execs start, a process in the container watching for
/// new pids can never reach the engine's binary through /proc/PID/exe (the exec process is
/// non-dumpable until it has exec'd the container's command).
#[test]
fn cve_2016_9962_exec_process_is_not_reachable_from_the_container() {
    let root = TestRoot::with_busybox();
    let name = unique("ptrace");
    let _ct = Running::sleeping(&root, &name);
    let watcher = root
        .berth([
            "exec", &name, "sh", "-c",
            "end=$(( $(date +%s) + 3 )); while [ $(date +%s) -lt $end ]; do for p in /proc/[0-9]*; do readlink $p/exe; done; done 2>/dev/null | sort -u",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut execs = 0;
    while Instant::now() < deadline {
        root.ok(["exec", &name, "true"]);
        execs += 1;
    }
    let out = watcher.wait_with_output().unwrap();
    let seen = stdout(&out);
    assert!(execs > 5, "too few execs to mean anything: {execs}");
    assert!(seen.contains("busybox"), "the watcher saw nothing: {seen}");
    assert!(
        !seen.contains("berth"),
        "the engine's binary was reachable: {seen}"
    );
}

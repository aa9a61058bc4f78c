//! Detached containers and their lifecycle, as a user drives them: run -d, logs, ps, stop,
//! start, kill, restart policies, rm, inspect — and what is left when things are killed.

mod common;

use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Poll `check` (bounded) until it holds.
fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn inspect(root: &TestRoot, name: &str, format: &str) -> String {
    root.ok(["inspect", "-f", format, name]).trim().to_string()
}

/// `run -d --name NAME busybox sh -c SCRIPT`; its output (the ID).
fn run_sh_detached(root: &TestRoot, name: &str, script: &str) -> String {
    root.ok(["run", "-d", "--name", name, "busybox", "sh", "-c", script])
}

/// [`run_sh_detached`] with `--restart POLICY`.
fn run_sh_restarting(root: &TestRoot, name: &str, policy: &str, script: &str) {
    let args = [
        "run",
        "-d",
        "--name",
        name,
        "--restart",
        policy,
        "busybox",
        "sh",
        "-c",
        script,
    ];
    root.ok(args);
}

#[test]
fn run_detached_then_logs() {
    let root = TestRoot::with_busybox();
    let name = unique("logger");
    let id = run_sh_detached(
        &root,
        &name,
        "echo one; echo two; echo oops >&2; echo three",
    );
    assert_eq!(id.trim().len(), 64, "run -d prints the full ID: {id}");
    eventually("exit", Duration::from_secs(10), || {
        inspect(&root, &name, "{{.State.Status}}") == "exited"
    });
    let out = root.run(["logs", &name]);
    assert_eq!(stdout(&out), "one\ntwo\nthree\n");
    assert_eq!(stderr(&out), "oops\n");
    let out = root.run(["logs", "--tail", "2", &name]);
    assert_eq!(
        stdout(&out),
        "three\n",
        "the last two lines are 'oops' (stderr) and 'three'"
    );
    assert_eq!(stderr(&out), "oops\n");
    let out = root.run(["logs", "-t", &name]);
    let first = stdout(&out).lines().next().unwrap().to_string();
    let (time, text) = first.split_once(' ').unwrap();
    assert_eq!(text, "one");
    assert!(
        time.len() == 30 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
}

#[test]
fn logs_since_and_until_select_by_time() {
    let root = TestRoot::with_busybox();
    let name = unique("timed");
    run_sh_detached(&root, &name, "echo early; sleep 1.2; echo late");
    eventually("exit", Duration::from_secs(10), || {
        inspect(&root, &name, "{{.State.Status}}") == "exited"
    });
    let stamped = stdout(&root.run(["logs", "-t", &name]));
    let late_time = stamped
        .lines()
        .find_map(|l| l.strip_suffix(" late"))
        .unwrap_or_else(|| panic!("no 'late' line in {stamped:?}"))
        .to_string();
    // An RFC 3339 time, as `-t` prints it: --since keeps lines at or after it, --until before.
    assert_eq!(
        stdout(&root.run(["logs", "--since", &late_time, &name])),
        "late
"
    );
    assert_eq!(
        stdout(&root.run(["logs", "--until", &late_time, &name])),
        "early
"
    );
    // Relative durations count back from now; Unix seconds are absolute.
    assert_eq!(
        stdout(&root.run(["logs", "--since", "1h", &name])),
        "early
late
"
    );
    assert_eq!(stdout(&root.run(["logs", "--since", "0s", &name])), "");
    assert_eq!(stdout(&root.run(["logs", "--until", "10m", &name])), "");
    assert_eq!(
        stdout(&root.run(["logs", "--since", "1000000000", &name])),
        "early
late
"
    );
    let bad = root.run(["logs", "--since", "yesterday", &name]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("invalid time"), "{}", stderr(&bad));
}

#[test]
fn logs_follow_ends_when_the_container_exits() {
    use std::io::BufRead;
    let root = TestRoot::with_busybox();
    let name = unique("follow");
    run_sh_detached(
        &root,
        &name,
        "mkfifo /tmp/go; echo line1; read go < /tmp/go; echo line2; echo line3",
    );
    let mut follow = root
        .berth(["logs", "-f", &name])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(10)).ok();
    // Lines come as the container writes them, while it runs.
    assert_eq!(next().as_deref(), Some("line1"));
    assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "running");
    assert!(follow.try_wait().unwrap().is_none(), "-f ended early");
    // (The exec may be killed with the container, which can exit before the exec does.)
    let _ = root.run(["exec", &name, "sh", "-c", "echo > /tmp/go"]);
    assert_eq!(next().as_deref(), Some("line2"));
    assert_eq!(next().as_deref(), Some("line3"));
    // And it ends when the container exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "logs -f did not end at exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert_eq!(next(), None);
}

#[test]
fn ps_shapes_and_exited_containers_stay() {
    let root = TestRoot::with_busybox();
    let up = unique("up");
    let done = unique("done");
    root.ok(["run", "-d", "--name", &up, "busybox", "sleep", "30"]);
    let first = root.run([
        "run",
        "--name",
        &done,
        "busybox",
        "sh",
        "-c",
        "echo kept > /kept; exit 4",
    ]);
    assert_eq!(first.status.code(), Some(4));
    let ps = root.ok(["ps"]);
    let header = ps.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(ps.contains(&up) && !ps.contains(&done), "{ps}");
    let row = ps.lines().find(|l| l.contains(&up)).unwrap();
    assert!(row.contains("Up ") && row.contains("\"sleep 30\""), "{row}");
    let all = root.ok(["ps", "-a"]);
    let row = all.lines().find(|l| l.contains(&done)).unwrap();
    assert!(row.contains("Exited (4) "), "{row}");
    let quiet = root.ok(["ps", "-aq"]);
    assert_eq!(quiet.lines().count(), 2);
    assert!(quiet.lines().all(|l| l.len() == 12));
    let formatted = root.ok([
        "ps",
        "-a",
        "--format",
        "{{.Names}}|{{.State}}",
        "--filter",
        &format!("name={done}"),
    ]);
    assert_eq!(formatted, format!("{done}|exited\n"));
    let table = root.ok(["ps", "--format", "table {{.Names}}\t{{.Status}}"]);
    assert!(table.starts_with("NAMES"), "{table}");
    // The exited container keeps its exit code, files and logs until rm.
    assert_eq!(inspect(&root, &done, "{{.State.ExitCode}}"), "4");
    let out = root.run(["start", "-a", &done]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "start -a reruns the command and exits with its code"
    );
    root.ok(["rm", &done]);
    assert!(!root.ok(["ps", "-a"]).contains(&done));
}

#[test]
fn stop_kill_and_signals() {
    let root = TestRoot::with_busybox();
    // A process that ignores SIGTERM (PID 1 without a handler): stop waits -t, then kills.
    let stubborn = unique("stubborn");
    root.ok(["run", "-d", "--name", &stubborn, "busybox", "sleep", "60"]);
    let t = Instant::now();
    root.ok(["stop", "-t", "1", &stubborn]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "stop took {took:?}"
    );
    assert!(root
        .ok(["ps", "-a"])
        .lines()
        .any(|l| l.contains(&stubborn) && l.contains("Exited (137)")));
    // A process that handles SIGTERM stops at once.
    let polite = unique("polite");
    root.ok([
        "run", "-d", "--name", &polite, "busybox", "probe", "signals",
    ]);
    eventually("ready", Duration::from_secs(10), || {
        stdout(&root.run(["logs", &polite])).contains("ready")
    });
    let t = Instant::now();
    root.ok(["stop", &polite]);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stop of a polite process took {:?}",
        t.elapsed()
    );
    assert_eq!(inspect(&root, &polite, "{{.State.ExitCode}}"), "143");
    // kill -s USR1 reaches the process.
    let usr = unique("usr");
    root.ok(["run", "-d", "--name", &usr, "busybox", "probe", "signals"]);
    eventually("ready", Duration::from_secs(10), || {
        stdout(&root.run(["logs", &usr])).contains("ready")
    });
    root.ok(["kill", "-s", "USR1", &usr]);
    eventually("exit", Duration::from_secs(10), || {
        inspect(&root, &usr, "{{.State.Status}}") == "exited"
    });
    assert!(stdout(&root.run(["logs", &usr])).contains("got 10"));
    assert_eq!(root.ok(["wait", &usr]).trim(), "138");
    let out = root.run(["kill", &usr]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
}

#[test]
fn start_again_sees_the_first_runs_files() {
    let root = TestRoot::with_busybox();
    let name = unique("again");
    root.ok([
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo $$ >> /runs; cat /runs | wc -l",
    ]);
    root.ok(["start", &name]);
    assert_eq!(root.ok(["wait", &name]).trim(), "0");
    let logs = root.ok(["logs", &name]);
    assert_eq!(
        logs, "1\n2\n",
        "the second run did not see the first run's file"
    );
}

#[test]
fn concurrent_runs_with_one_name() {
    let root = TestRoot::with_busybox();
    let name = unique("same");
    let children: Vec<_> = (0..20)
        .map(|_| {
            root.berth(["run", "-d", "--name", &name, "busybox", "sleep", "20"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let ok = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "exactly one run may get the name");
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert_eq!(o.status.code(), Some(125));
        assert!(stderr(o).contains("is already in use"), "{}", stderr(o));
    }
    assert_eq!(root.ok(["ps", "-aq"]).lines().count(), 1);
    root.ok(["rm", "-f", &name]);
}

#[test]
fn fifty_in_parallel() {
    let root = TestRoot::with_busybox();
    let names: Vec<String> = (0..50).map(|i| unique(&format!("par{i}"))).collect();
    let children: Vec<_> = names
        .iter()
        .map(|n| {
            root.berth(["run", "-d", "--name", n, "busybox", "sleep", "60"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let running = root.ok(["ps", "-q"]);
    assert_eq!(running.lines().count(), 50);
    let mut args = vec!["rm".to_string(), "-f".to_string()];
    args.extend(names.iter().cloned());
    root.ok(&args);
    assert_eq!(root.ok(["ps", "-aq"]), "");
    assert_no_container_processes(&root);
}

/// No process of the store's containers or monitors is left.
fn assert_no_container_processes(root: &TestRoot) {
    let dir = root.dir.to_string_lossy().into_owned();
    eventually("monitors gone", Duration::from_secs(10), || {
        std::fs::read_dir("/proc").unwrap().flatten().all(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| !String::from_utf8_lossy(&c).contains(&dir))
                .unwrap_or(true)
        })
    });
}

/// `kill -9` of the monitor that owns container `id` (its pid is the record's owner).
fn kill_monitor(root: &TestRoot, id: &str) {
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.dir.join("containers").join(id).join("state.json")).unwrap(),
    )
    .unwrap();
    let monitor = state["owner"][0].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

/// Where a container's cgroup can be (hybrid hosts: the cgroup2 tree under unified/).
fn cgroup_dirs(id: &str) -> Vec<std::path::PathBuf> {
    ["unified", ""]
        .iter()
        .map(|h| {
            std::path::Path::new("/sys/fs/cgroup")
                .join(h)
                .join("berth")
                .join(id)
        })
        .collect()
}

/// `kill -9` of the CLI during `run -d`: where it stopped decides what remains, never an orphan.
/// strace(1) delivers the SIGKILL at an exact system call: before the monitor is started (the
/// record exists, nothing runs: the next command removes it and frees the name), and while the
/// CLI waits for the monitor's report (the monitor carries on: a normal running container).
#[test]
fn a_killed_cli_during_run_d_leaves_no_orphan() {
    let root = TestRoot::with_busybox();
    let name = unique("cut");
    let killed_at = |syscall: &str| {
        let out = std::process::Command::new("strace")
            .args(["-qq", "-o", "/dev/null", "-e"])
            .arg(format!("inject={syscall}:signal=KILL:when=1"))
            .arg(BERTH)
            .arg("--root")
            .arg(&root.dir)
            .args(["run", "-d", "--name", &name, "busybox", "sleep", "60"])
            .output()
            .expect("strace (scripts/setup installs it)");
        // strace ends the way its tracee did: killed by SIGKILL.
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            Some(9),
            "the CLI was not killed: {out:?}"
        );
    };
    // Before the monitor exists: the half-made record goes at the next command.
    killed_at("clone3");
    assert!(
        !root.files_under("containers").is_empty(),
        "the kill came after the record was written"
    );
    assert_eq!(root.ok(["ps", "-aq"]), "");
    assert!(root.files_under("containers").is_empty());
    // The name is free again; this time the CLI dies waiting for the monitor's report.
    killed_at("recvfrom");
    eventually("the container runs", Duration::from_secs(10), || {
        inspect(&root, &name, "{{.State.Status}}") == "running"
    });
    assert_eq!(root.ok(["ps", "-q"]).lines().count(), 1);
    root.ok(["rm", "-f", &name]);
    assert!(root.files_under("containers").is_empty());
    assert_no_container_processes(&root);
}

#[test]
fn a_killed_monitor_leaves_an_exited_container() {
    let root = TestRoot::with_busybox();
    let name = unique("orphan");
    root.ok([
        "run", "-d", "--name", &name, "-p", "18097:80", "busybox", "sleep", "60",
    ]);
    let id = inspect(&root, &name, "{{.Id}}");
    let address = inspect(&root, &name, "{{.NetworkSettings.IPAddress}}");
    assert!(address.starts_with("10.89."), "{address}");
    assert_eq!(
        inspect(&root, &name, "{{json .HostConfig.PortBindings}}"),
        r#"{"80/tcp":[{"HostIp":"","HostPort":"18097"}]}"#
    );
    assert_eq!(
        inspect(&root, &name, "{{json .NetworkSettings.Ports}}"),
        r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"18097"}]}"#
    );
    let table = || {
        let out = std::process::Command::new("nft")
            .args(["list", "table", "ip", "berth"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(table().contains("18097"), "{}", table());
    assert!(cgroup_dirs(&id).iter().any(|d| d.exists()));
    kill_monitor(&root, &id);
    eventually("exited", Duration::from_secs(10), || {
        root.ok(["ps", "-a"])
            .lines()
            .any(|l| l.contains(&name) && l.contains("Exited"))
    });
    // Berth commands release the container's published port, address and cgroup: the one that
    // finds it dead, or (when a step of that cleanup fails, seen rarely under load) the next.
    eventually("release", Duration::from_secs(10), || {
        let released = !table().contains("18097")
            && !root.ok(["network", "inspect", "bridge"]).contains(&address)
            && cgroup_dirs(&id).iter().all(|d| !d.exists());
        if !released {
            root.ok(["ps", "-a"]);
        }
        released
    });
    root.ok(["rm", &name]);
    assert_eq!(root.ok(["ps", "-aq"]), "");
    assert_no_container_processes(&root);
}

#[test]
fn restart_policies() {
    let root = TestRoot::with_busybox();
    let name = unique("flaky");
    run_sh_restarting(&root, &name, "on-failure:3", "echo run; exit 1");
    // Four runs logged and the last one's exit recorded; then nothing more happens.
    eventually("retries used up", Duration::from_secs(20), || {
        root.ok(["logs", &name]).lines().count() == 4
            && inspect(&root, &name, "{{.RestartCount}} {{.State.Status}}") == "3 exited"
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "exited");
    assert_eq!(
        root.ok(["logs", &name]),
        "run\nrun\nrun\nrun\n",
        "one run and exactly three restarts"
    );
    let out = root.run(["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert_fails(&out, 125, "Conflicting options: --restart and --rm");
}

/// Scripts chain verbs: `stop && start`, `wait && rm`, `stop && rm`. Each verb returns only
/// once the container's owner has let go, so the next one never finds it busy. Repeated
/// (bounded: 5 rounds) because a premature return shows only now and then.
#[test]
fn chained_verbs_find_the_container_free() {
    let root = TestRoot::with_busybox();
    for round in 0..5 {
        let name = unique("chain");
        root.ok(["run", "-d", "--name", &name, "busybox", "sleep", "60"]);
        root.ok(["stop", "-t", "0", &name]);
        root.ok(["start", &name]);
        assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "running");
        root.ok(["stop", "-t", "0", &name]);
        root.ok(["rm", &name]);
        let quick = unique("quick");
        root.ok([
            "run",
            "-d",
            "--name",
            &quick,
            "busybox",
            "sh",
            "-c",
            &format!("echo line-{round}; exit {round}"),
        ]);
        assert_eq!(root.ok(["wait", &quick]).trim(), round.to_string());
        // The last output is in the log once the exit is recorded.
        assert_eq!(root.ok(["logs", &quick]), format!("line-{round}\n"));
        root.ok(["rm", &quick]);
    }
    assert_eq!(root.ok(["ps", "-aq"]), "");
}

/// `stop` of an `always` container is never undone by its policy, whether it comes while a
/// run is up or while the policy is between two runs: no run starts after it.
#[test]
fn stop_is_final_under_a_restart_policy() {
    let root = TestRoot::with_busybox();
    for script in ["echo up; sleep 0.2", "echo up", "echo up"] {
        let name = unique("always");
        run_sh_restarting(&root, &name, "always", script);
        eventually("restarted", Duration::from_secs(20), || {
            root.ok(["logs", &name]).lines().count() >= 3
        });
        root.ok(["stop", "-t", "1", &name]);
        let count = root.ok(["logs", &name]).lines().count();
        assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "exited");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            root.ok(["logs", &name]).lines().count(),
            count,
            "stop was undone by the restart policy"
        );
        assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "exited");
        root.ok(["rm", &name]);
    }
}

#[test]
fn rm_force_of_running_containers_leaves_nothing() {
    let root = TestRoot::with_busybox();
    let a = unique("busy");
    root.ok(["run", "-d", "--name", &a, "busybox", "sleep", "60"]);
    let id = inspect(&root, &a, "{{.Id}}");
    let out = root.run(["rm", &a]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("You cannot remove a running container"));
    root.ok(["rm", "-f", &a]);
    assert!(!root.dir.join("containers").join(&id).exists());
    for hierarchy in ["pids", "memory", "unified", ""] {
        let p = std::path::Path::new("/sys/fs/cgroup")
            .join(hierarchy)
            .join("berth")
            .join(&id);
        assert!(!p.exists(), "cgroup left: {}", p.display());
    }
    assert_no_container_processes(&root);
}

#[test]
fn rename_pause_and_inspect() {
    let root = TestRoot::with_busybox();
    let a = unique("before");
    let b = unique("after");
    root.ok([
        "run", "-d", "--name", &a, "-e", "X=1", "busybox", "sleep", "60",
    ]);
    root.ok(["rename", &a, &b]);
    assert_eq!(inspect(&root, &b, "{{.Name}}"), format!("/{b}"));
    assert!(root.run(["inspect", &a]).status.code() == Some(1));
    root.ok(["pause", &b]);
    assert_eq!(
        inspect(&root, &b, "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    assert!(root.ok(["ps"]).contains("(Paused)"));
    root.ok(["unpause", &b]);
    assert_eq!(inspect(&root, &b, "{{.State.Status}}"), "running");
    let doc: serde_json::Value = serde_json::from_str(&root.ok(["inspect", &b])).unwrap();
    let c = &doc[0];
    assert!(c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "X=1"));
    assert_eq!(c["Config"]["Cmd"], serde_json::json!(["sleep", "60"]));
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "no");
    assert_eq!(
        inspect(&root, "busybox", "{{.Id}}").len(),
        71,
        "inspect resolves images too"
    );
    // Docker scripts' `rm -fv`: berth makes no volumes, the writable layer goes with the rest.
    let id = inspect(&root, &b, "{{.Id}}");
    root.ok(["rm", "-fv", &b]);
    assert!(!root.dir.join("containers").join(&id).exists());
    let out = root.ok(["container", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
}

#[test]
fn detached_terminal_attach_detach_and_reattach() {
    let root = TestRoot::with_busybox();
    let name = unique("tty");
    root.ok(["run", "-dit", "--name", &name, "busybox", "sh"]);
    let mut term = OnPty::spawn(&root, &["attach", &name], 40, 120);
    term.type_keys(b"echo hi-$((40+2)); stty size\r");
    term.read_until("hi-42");
    term.read_until("40 120");
    // Ctrl-P Ctrl-Q detaches: attach ends, the container keeps running.
    term.type_keys(&[0x10, 0x11]);
    assert_eq!(term.wait().code(), Some(0));
    assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "running");
    // A SIGTERM to attach ends it with the terminal restored; the container runs on.
    let mut term = OnPty::spawn(&root, &["attach", &name], 40, 120);
    term.type_keys(b"echo term-$((1+1))\r");
    term.read_until("term-2");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(term.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(term.wait().code(), Some(143));
    term.assert_mode_restored();
    assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "running");
    let mut term = OnPty::spawn(&root, &["attach", &name], 40, 120);
    term.type_keys(b"echo again\r");
    term.read_until("again");
    term.type_keys(b"exit 3\r");
    assert_eq!(term.wait().code(), Some(3), "{}", term.screen);
    eventually("exited", Duration::from_secs(10), || {
        inspect(&root, &name, "{{.State.ExitCode}} {{.State.Status}}") == "3 exited"
    });
    let out = root.run(["attach", &name]);
    assert_fails(&out, 1, "You cannot attach to a stopped container");
}

/// Docker's `run -it`: Ctrl-P Ctrl-Q leaves the container running; `attach` comes back to it;
/// with `--rm` it is removed once it exits, before `attach` returns its exit code.
#[test]
fn foreground_terminal_detaches_and_reattaches() {
    let root = TestRoot::with_busybox();
    let name = unique("fg");
    let run_it = ["run", "-it", "--rm", "--name", &name, "busybox", "sh"];
    let mut term = OnPty::spawn(&root, &run_it, 40, 120);
    // The shell's first prompt arrives: nothing the container printed before attaching is lost.
    term.read_until("# ");
    term.type_keys(b"echo fg-$((40+2)) > /tmp/mark; cat /tmp/mark; stty size\r");
    term.read_until("fg-42");
    term.read_until("40 120");
    term.type_keys(&[0x10, 0x11]);
    assert_eq!(term.wait().code(), Some(0));
    assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "running");
    let mut term = OnPty::spawn(&root, &["attach", &name], 40, 120);
    term.type_keys(b"cat /tmp/mark; exit 4\r");
    term.read_until("fg-42");
    assert_eq!(term.wait().code(), Some(4), "{}", term.screen);
    eventually("removal", Duration::from_secs(10), || {
        !root
            .ok(["ps", "-a", "--format", "{{.Names}}"])
            .contains(&name)
    });
    // Without detaching, `run -it --rm` returns the exit code after the container is gone.
    let name = unique("fg");
    let run_it = ["run", "-it", "--rm", "--name", &name, "busybox", "sh"];
    let mut term = OnPty::spawn(&root, &run_it, 40, 120);
    term.read_until("# ");
    term.type_keys(b"exit 6\r");
    assert_eq!(term.wait().code(), Some(6), "{}", term.screen);
    assert!(!root
        .ok(["ps", "-a", "--format", "{{.Names}}"])
        .contains(&name));
    // Its monitor killed: `run -it` returns at once, with the terminal restored and 137.
    let name = unique("cut");
    let run_it = ["run", "-it", "--name", &name, "busybox", "sh"];
    let mut term = OnPty::spawn(&root, &run_it, 40, 120);
    term.read_until("# ");
    let id = inspect(&root, &name, "{{.Id}}");
    kill_monitor(&root, &id);
    let started = Instant::now();
    let code = term.wait().code();
    let record = std::fs::read_to_string(root.dir.join("containers").join(&id).join("state.json"));
    assert_eq!(code, Some(137), "{} (record: {record:?})", term.screen);
    assert!(started.elapsed() < Duration::from_secs(5));
    term.assert_mode_restored();
    root.ok(["rm", &name]);
    // `start -ai` of a stopped terminal container: the same, Ctrl-P Ctrl-Q included.
    let name = unique("again");
    let run_it = ["run", "-it", "--name", &name, "busybox", "sh"];
    let mut term = OnPty::spawn(&root, &run_it, 40, 120);
    term.read_until("# ");
    term.type_keys(b"echo kept > /kept; exit\r");
    assert_eq!(term.wait().code(), Some(0), "{}", term.screen);
    let mut term = OnPty::spawn(&root, &["start", "-ai", &name], 40, 120);
    term.read_until("# ");
    term.type_keys(b"cat /kept\r");
    term.read_until("\nkept");
    term.type_keys(&[0x10, 0x11]);
    assert_eq!(term.wait().code(), Some(0));
    assert_eq!(inspect(&root, &name, "{{.State.Status}}"), "running");
    root.ok(["rm", "-f", &name]);
    assert_no_container_processes(&root);
}

/// A reboot ends every process; `system restore` brings back what the policies ask for.
#[test]
fn restore_after_a_reboot() {
    let root = TestRoot::with_busybox();
    let always = unique("always");
    let unless = unique("unless");
    let stopped = unique("stopped");
    let plain = unique("plain");
    for (name, policy) in [
        (&always, "always"),
        (&unless, "unless-stopped"),
        (&stopped, "unless-stopped"),
        (&plain, "no"),
    ] {
        root.ok([
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sleep",
            "60",
        ]);
    }
    root.ok(["stop", "-t", "0", &stopped]);
    // The "reboot": every monitor and container process dies at once.
    for name in [&always, &unless, &plain] {
        let id = inspect(&root, name, "{{.Id}}");
        let state: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.dir.join("containers").join(&id).join("state.json")).unwrap(),
        )
        .unwrap();
        let monitor = state["owner"][0].as_i64().unwrap() as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    eventually("all down", Duration::from_secs(10), || {
        root.ok(["ps", "-q"]).is_empty()
    });
    let out = root.ok(["system", "restore"]);
    let mut restored: Vec<&str> = out.lines().collect();
    restored.sort();
    let mut want = vec![always.as_str(), unless.as_str()];
    want.sort();
    assert_eq!(restored, want);
    let running = root.ok(["ps", "--format", "{{.Names}}"]);
    assert!(
        running.contains(&always) && running.contains(&unless),
        "{running}"
    );
    assert!(
        !running.contains(&stopped) && !running.contains(&plain),
        "{running}"
    );
}

/// The verbs and flags scripts use beyond the basics: create/start, restart, ps's selection
/// flags and filters, container inspect, generated names, ambiguous prefixes, and `run -d`
/// reporting an exec failure or removing an `--rm` container.
#[test]
fn verbs_and_flags_scripts_rely_on() {
    let root = TestRoot::with_busybox();
    // create, then start: Created, then running; a generated adjective_noun name.
    let id = root
        .ok(["create", "busybox", "sleep", "30"])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let generated = inspect(&root, &id, "{{.Name}}");
    let generated = generated.trim_start_matches('/');
    let (adjective, noun) = generated.split_once('_').unwrap();
    assert!(
        !adjective.is_empty()
            && !noun.is_empty()
            && generated
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'),
        "{generated}"
    );
    assert_eq!(inspect(&root, &id, "{{.State.Status}}"), "created");
    assert_eq!(
        inspect(&root, &id, "{{.State.StartedAt}}"),
        "0001-01-01T00:00:00Z"
    );
    root.ok(["start", generated]);
    assert_eq!(
        inspect(&root, generated, "{{.State.Status}} {{.State.Running}}"),
        "running true"
    );
    // restart: a new process and start time.
    let (pid, started) = (
        inspect(&root, &id, "{{.State.Pid}}"),
        inspect(&root, &id, "{{.State.StartedAt}}"),
    );
    root.ok(["restart", "-t", "1", &id[..12]]);
    assert_eq!(inspect(&root, &id, "{{.State.Status}}"), "running");
    assert_ne!(inspect(&root, &id, "{{.State.Pid}}"), pid);
    assert_ne!(inspect(&root, &id, "{{.State.StartedAt}}"), started);
    // A second container, exited; ps -n/-l/--no-trunc and filters pick as Docker's do.
    let done = unique("done");
    root.ok(["run", "--name", &done, "busybox", "true"]);
    assert_eq!(root.ok(["ps", "-q"]).trim(), &id[..12]);
    assert_eq!(root.ok(["ps", "-l", "--format", "{{.Names}}"]).trim(), done);
    assert_eq!(
        root.ok(["ps", "-n", "1", "--format", "{{.Names}}"]).trim(),
        done
    );
    assert_eq!(root.ok(["ps", "-a", "-n", "2", "-q"]).lines().count(), 2);
    assert_eq!(root.ok(["ps", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        root.ok([
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}"
        ])
        .trim(),
        done
    );
    assert_eq!(
        root.ok(["ps", "-a", "--filter", "ancestor=busybox", "-q"])
            .lines()
            .count(),
        2
    );
    assert_eq!(
        root.ok(["ps", "-a", "--filter", "ancestor=other", "-q"]),
        ""
    );
    // container inspect: containers only; FinishedAt of the exited one is an RFC 3339 time.
    let doc: serde_json::Value =
        serde_json::from_str(&root.ok(["container", "inspect", &done])).unwrap();
    let finished = doc[0]["State"]["FinishedAt"].as_str().unwrap();
    assert!(
        finished.ends_with('Z') && finished.as_bytes()[10] == b'T',
        "{finished}"
    );
    let out = root.run(["container", "inspect", "busybox"]);
    assert_fails(&out, 1, "No such container: busybox");
    // An ambiguous ID prefix is refused (16 containers: two share a first hex digit).
    let ids: Vec<String> = (0..16)
        .map(|_| root.ok(["create", "busybox"]).trim().to_string())
        .collect();
    let first = ids
        .iter()
        .find(|a| ids.iter().filter(|b| b[..1] == a[..1]).count() > 1)
        .unwrap();
    let out = root.run(["inspect", "-f", "{{.Id}}", &first[..1]]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("multiple"), "{}", stderr(&out));
    // run -d reports an exec failure with its code; -d --rm removes the container at exit.
    let out = root.run(["run", "-d", "busybox", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    let gone = unique("gone");
    root.ok(["run", "-d", "--rm", "--name", &gone, "busybox", "true"]);
    eventually("removal", Duration::from_secs(10), || {
        !root
            .ok(["ps", "-a", "--format", "{{.Names}}"])
            .contains(&gone)
    });
    root.ok(["rm", "-f", &id]);
}

/// The log is bounded: `--log-opt max-size/max-file` rotate it, `logs` reads across the files
/// without a torn line, and only the newest files are kept.
#[test]
fn logs_rotate_within_their_bound() {
    let root = TestRoot::with_busybox();
    let name = unique("chatty");
    // 3000 lines of 100 bytes: 300 KB through a 64 KB × 3 bound.
    let script = "i=0; while [ $i -lt 3000 ]; do printf '%05d%094d\\n' $i 0; i=$((i+1)); done";
    root.ok([
        "run",
        "--name",
        &name,
        "--log-opt",
        "max-size=64k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let id = inspect(&root, &name, "{{.Id}}");
    let dir = root.dir.join("containers").join(&id);
    let total: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("log"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(total <= 3 * 64 * 1024 + 4096, "the log holds {total} bytes");
    let out = root.ok(["logs", &name]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        !lines.is_empty() && lines.len() < 3000,
        "{} lines",
        lines.len()
    );
    // Whole lines, in order, ending with the last one written.
    for pair in lines.windows(2) {
        assert_eq!(pair[0].len(), 99, "torn line {:?}", pair[0]);
        let (a, b): (u32, u32) = (pair[0][..5].parse().unwrap(), pair[1][..5].parse().unwrap());
        assert_eq!(b, a + 1);
    }
    assert!(lines.last().unwrap().starts_with("02999"));
    assert_eq!(
        root.ok(["logs", "--tail", "1", &name])
            .lines()
            .next()
            .unwrap()[..5],
        *"02999"
    );
}

/// `top`: the container's processes as ps(1) shows them, with ps's options; errors as Docker's.
#[test]
fn top_lists_the_containers_processes() {
    let root = TestRoot::with_busybox();
    let name = unique("top");
    run_sh_detached(&root, &name, "sleep 101 & sleep 102; true");
    eventually("both sleeps", Duration::from_secs(10), || {
        root.ok(["top", &name])
            .lines()
            .filter(|l| l.ends_with(" sleep 101") || l.ends_with(" sleep 102"))
            .count()
            == 2
    });
    let out = root.ok(["top", &name]);
    let header = out.lines().next().unwrap();
    assert!(header.contains("PID") && header.contains("CMD"), "{out}");
    assert!(
        out.contains("sleep 101") && out.contains("sleep 102"),
        "{out}"
    );
    // Only the container's: no berth or host process.
    assert_eq!(out.lines().count(), 4, "sh and two sleeps: {out}");
    let out = root.ok(["top", &name, "-o", "pid,comm"]);
    assert!(
        out.starts_with("    PID COMMAND") || out.contains("PID COMMAND"),
        "{out}"
    );
    assert_fails(&root.run(["top", &name, "--bogus"]), 1, "ps --bogus");
    root.ok(["rm", "-f", &name]);
    assert_fails(&root.run(["top", &name]), 1, "No such container");
}

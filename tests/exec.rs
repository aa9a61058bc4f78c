//! `berth exec` as a user sees it: a second process inside a running container, with the same
//! namespaces, env, user and capabilities as its first; flags; exit codes; stdin; terminals;
//! detaching; refusals. Docker 20.10 (Debian's dockerd) was run side by side for the messages
//! and codes noted below. What a container can reach of an exec while it starts (CVE-2016-9962)
//! is in the security suite, tests/security/exe.rs.

mod common;
#[path = "common/running.rs"]
mod running;

use common::*;
use running::Running;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `berth exec ARGS…` stdout, asserting success.
fn exec_ok(root: &TestRoot, args: &[&str]) -> String {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    root.ok(&all)
}

/// The user's exercise: a web server in a container; exec in, change the page it serves, and
/// the page served changes (fetched from inside the container by a second exec, until
/// networking exists).
#[test]
fn edit_the_page_a_web_server_serves() {
    let root = TestRoot::with_busybox();
    let name = unique("web");
    let _web = Running::start(
        &root,
        &name,
        &["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"],
    );
    let fetch = || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = root.run([
                "exec",
                &name,
                "wget",
                "-qO-",
                "http://127.0.0.1:8080/index.html",
            ]);
            if out.status.success() {
                return stdout(&out);
            }
            assert!(Instant::now() < deadline, "httpd never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let before = fetch();
    assert!(!before.contains("changed by exec"), "{before}");
    exec_ok(
        &root,
        &[&name, "sh", "-c", "echo changed by exec > /www/index.html"],
    );
    assert_eq!(fetch(), "changed by exec\n");
    assert_eq!(
        exec_ok(&root, &[&name, "cat", "/www/index.html"]),
        "changed by exec\n"
    );
}

/// An exec'd process shares every namespace of PID 1, sees it in `ps`, and has the same
/// hostname, mounts, environment and capabilities.
#[test]
fn exec_joins_the_container() {
    let root = TestRoot::with_busybox();
    let name = unique("join");
    let _ct = Running::start(
        &root,
        &name,
        &[
            "-e",
            "FROM_RUN=yes",
            "-h",
            "box-1",
            "-w",
            "/tmp",
            "busybox",
            "sleep",
            "600",
        ],
    );
    let ps = exec_ok(&root, &[&name, "ps"]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().next() == Some("1") && l.contains("sleep 600")),
        "PID 1 not seen: {ps}"
    );
    for ns in ["mnt", "uts", "ipc", "net", "pid", "cgroup"] {
        let same = exec_ok(
            &root,
            &[
                &name,
                "sh",
                "-c",
                &format!("[ \"$(readlink /proc/1/ns/{ns})\" = \"$(readlink /proc/self/ns/{ns})\" ] && echo same"),
            ],
        );
        assert_eq!(same, "same\n", "{ns} namespace differs from PID 1's");
    }
    assert_eq!(exec_ok(&root, &[&name, "hostname"]), "box-1\n");
    assert_eq!(
        exec_ok(
            &root,
            &[
                &name,
                "sh",
                "-c",
                "cat /proc/1/mountinfo | cut -d' ' -f5 | sort"
            ]
        ),
        exec_ok(
            &root,
            &[
                &name,
                "sh",
                "-c",
                "cat /proc/self/mountinfo | cut -d' ' -f5 | sort"
            ]
        ),
    );
    let env = exec_ok(&root, &[&name, "probe", "env"]);
    assert!(env.contains("FROM_RUN=yes\n"), "{env}");
    assert!(env.contains("HOSTNAME=box-1\n"), "{env}");
    assert!(env.contains("HOME=/root\n"), "{env}");
    assert_eq!(
        exec_ok(&root, &[&name, "pwd"]),
        "/tmp\n",
        "the container's cwd"
    );
    // Same capabilities as PID 1 (root in both), no_new_privs and a seccomp filter.
    let mine = exec_ok(
        &root,
        &[
            &name,
            "sh",
            "-c",
            "grep -E '^Cap(Prm|Eff|Bnd)|^NoNewPrivs|^Seccomp:' /proc/self/status",
        ],
    );
    let init = exec_ok(
        &root,
        &[
            &name,
            "sh",
            "-c",
            "grep -E '^Cap(Prm|Eff|Bnd)|^NoNewPrivs|^Seccomp:' /proc/1/status",
        ],
    );
    assert_eq!(mine, init);
    assert!(
        mine.contains("NoNewPrivs:\t1") && mine.contains("Seccomp:\t2"),
        "{mine}"
    );
    // In the container's cgroup: the same cgroup as PID 1.
    assert_eq!(
        exec_ok(&root, &[&name, "cat", "/proc/self/cgroup"]),
        exec_ok(&root, &[&name, "cat", "/proc/1/cgroup"])
    );
    // No engine fd leaks into the exec'd process (CVE-2024-21626): only 0, 1, 2 (and the
    // directory fd `probe fds` itself opens).
    let fds = exec_ok(&root, &[&name, "probe", "fds"]);
    let numbers: Vec<&str> = fds
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert!(
        numbers.len() <= 4 && numbers.starts_with(&["0", "1", "2"]),
        "{fds}"
    );
}

#[test]
fn env_workdir_user_flags() {
    let root = TestRoot::with_busybox();
    let name = unique("flags");
    let _ct = Running::sleeping(&root, &name);
    let envfile = root.dir.join("envfile");
    std::fs::write(&envfile, "FROM_FILE=1\nOVER=file\n").unwrap();
    let out = exec_ok(
        &root,
        &[
            "--env-file",
            envfile.to_str().unwrap(),
            "-e",
            "OVER=flag",
            "-e",
            "PATH=/bin",
            &name,
            "sh",
            "-c",
            "echo $FROM_FILE $OVER $PATH",
        ],
    );
    assert_eq!(out, "1 flag /bin\n");
    assert_eq!(exec_ok(&root, &["-w", "/etc", &name, "pwd"]), "/etc\n");
    // HOME comes from the container's /etc/passwd entry of the user.
    let home = exec_ok(
        &root,
        &[&name, "sh", "-c", "grep ^nobody: /etc/passwd | cut -d: -f6"],
    );
    assert_eq!(
        exec_ok(
            &root,
            &[
                "-u",
                "nobody",
                &name,
                "sh",
                "-c",
                "id -u; id -g; echo $HOME"
            ]
        ),
        format!("65534\n65534\n{home}")
    );
    assert_eq!(
        exec_ok(
            &root,
            &[
                "-u",
                "1234:55",
                &name,
                "sh",
                "-c",
                "id -u; id -g; echo $HOME"
            ]
        ),
        "1234\n55\n/\n"
    );
    // Without CAP_* left for a non-root user, and still under seccomp.
    let caps = exec_ok(&root, &["-u", "1234", &name, "probe", "status", "CapEff"]);
    assert_eq!(caps.trim(), "0000000000000000");
}

/// Exit codes: the command's own, 126/127 when it cannot run (as `run`; Docker 20.10 answers
/// 126 for a missing command too, newer Dockers 127), 126 for a bad cwd or user (Docker 20.10:
/// 126 "chdir to cwd ... failed", 126 "unable to find user").
#[test]
fn exit_codes_and_failures() {
    let root = TestRoot::with_busybox();
    let name = unique("codes");
    let _ct = Running::sleeping(&root, &name);
    assert_eq!(
        root.run(["exec", &name, "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
    assert_eq!(
        root.run(["exec", &name, "probe", "segv"]).status.code(),
        Some(139)
    );
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["nosuchcmd"],
            127,
            "exec: \"nosuchcmd\": executable file not found in $PATH",
        ),
        (&["/nosuch/bin"], 127, "no such file or directory"),
        (
            &["/etc/passwd"],
            126,
            "exec: \"/etc/passwd\": permission denied",
        ),
        (
            &["-w", "/nonexistent", "@", "pwd"],
            126,
            "chdir to cwd (\"/nonexistent\") failed: no such file or directory",
        ),
        (
            &["-u", "nosuchuser", "@", "id"],
            126,
            "unable to find user nosuchuser: no matching entries in passwd file",
        ),
    ];
    for (args, code, needle) in cases {
        let mut argv: Vec<&str> = vec!["exec"];
        if args.contains(&"@") {
            argv.extend(
                args.iter()
                    .map(|a| if *a == "@" { name.as_str() } else { a }),
            );
        } else {
            argv.push(&name);
            argv.extend_from_slice(args);
        }
        assert_fails(&root.run(&argv), code, needle);
    }
}

#[test]
fn stdin_is_piped_only_with_i() {
    let root = TestRoot::with_busybox();
    let name = unique("stdin");
    let _ct = Running::sleeping(&root, &name);
    let mut child = root
        .berth(["exec", "-i", &name, "sh", "-c", "tr a-z A-Z; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped input\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out);
    assert_eq!(stdout(&out), "PIPED INPUT\ndone\n");
    let out = root
        .berth(["exec", &name, "cat"])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(stdout(&out), "", "without -i the command's stdin is empty");
    // Stderr stays apart from stdout.
    let out = root.run(["exec", &name, "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(
        (stdout(&out).as_str(), stderr(&out).as_str()),
        ("out\n", "err\n")
    );
}

/// Docker: "Error response from daemon: Container <id> is not running", exit 1; "Error: No
/// such container: nosuch", exit 1.
#[test]
fn exec_into_a_stopped_or_missing_container_is_refused() {
    let root = TestRoot::with_busybox();
    let name = unique("stopped");
    root.ok(["run", "--name", &name, "busybox", "true"]);
    let out = root.run(["exec", &name, "true"]);
    assert_fails(&out, 1, "is not running");
    let out = root.run(["exec", "nosuch-container", "true"]);
    assert_fails(&out, 1, "No such container: nosuch-container");
    let out = root.run(["exec", &name]);
    assert_eq!(out.status.code(), Some(125), "a command is required");
}

/// `-d` returns at once; the process goes on inside the container after berth has left, its
/// parent now the container's PID 1.
#[test]
fn detached_exec_keeps_running() {
    let root = TestRoot::with_busybox();
    let name = unique("detach");
    let _ct = Running::sleeping(&root, &name);
    let started = Instant::now();
    let out = root.run([
        "exec",
        "-d",
        &name,
        "sh",
        "-c",
        "echo $$ > /tmp/pid; sleep 1; echo done > /tmp/done",
    ]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "exec -d waited"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut parent_checked = false;
    loop {
        if !parent_checked {
            let out = root.run([
                "exec",
                &name,
                "sh",
                "-c",
                "grep PPid /proc/$(cat /tmp/pid)/status",
            ]);
            if out.status.success() {
                assert_eq!(
                    stdout(&out),
                    "PPid:\t1\n",
                    "reparented to the container's PID 1"
                );
                parent_checked = true;
            }
        }
        let out = root.run(["exec", &name, "cat", "/tmp/done"]);
        if out.status.success() {
            assert!(
                parent_checked,
                "the detached process was never seen running"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the detached command never finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--privileged`: every capability berth holds, and no seccomp filter (as Docker).
#[test]
fn privileged_exec() {
    let root = TestRoot::with_busybox();
    let name = unique("priv");
    let _ct = Running::sleeping(&root, &name);
    let status = exec_ok(
        &root,
        &[
            "--privileged",
            &name,
            "sh",
            "-c",
            "grep -E '^(CapBnd|Seccomp):' /proc/self/status",
        ],
    );
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let host_bnd = host.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    assert!(status.contains(host_bnd), "{status} vs {host_bnd}");
    assert!(status.contains("Seccomp:\t0"), "{status}");
}

/// `-it` on a real pty: a shell prompt, a command and its output, the window size, Ctrl-C
/// reaching the foreground process, the exit code, and the terminal restored.
#[test]
fn interactive_terminal() {
    let root = TestRoot::with_busybox();
    let name = unique("tty");
    let _ct = Running::sleeping(&root, &name);
    let mut term = OnPty::spawn(&root, &["exec", "-it", &name, "sh"], 33, 101);
    term.read_until("# ");
    term.type_keys(b"tty; stty size; echo $TERM; echo $((6*7))\r");
    term.read_until("42");
    assert!(term.screen.contains("/dev/pts/"), "{}", term.screen);
    assert!(
        term.screen.contains("33 101"),
        "window size not passed on: {}",
        term.screen
    );
    assert!(term.screen.contains("xterm"), "{}", term.screen);
    // Ctrl-C interrupts the foreground command, not the shell.
    term.type_keys(b"sleep 100; echo after-sleep\r");
    root.wait_for_process(&name, "sleep 100");
    term.type_keys(b"\x03");
    term.type_keys(b"echo still-$((1+1))\r");
    term.read_until("still-2");
    term.type_keys(b"exit 5\r");
    assert_eq!(term.wait().code(), Some(5), "{}", term.screen);
    term.assert_mode_restored();
}

#[test]
fn tty_and_stdin_without_a_terminal_is_refused() {
    let root = TestRoot::with_busybox();
    let out = root.run(["exec", "-it", "anything", "true"]);
    assert_fails(&out, 1, "the input device is not a TTY");
}

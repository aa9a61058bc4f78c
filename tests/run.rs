//! `berth run` in the foreground, as a user sees it: output, exit codes, what the container sees
//! inside (namespaces, env, user, caps), isolation of writes, terminals, bad input. The masked
//! and read-only /proc and /sys, seccomp and the capability set as a hostile container meets
//! them are in the security suite, tests/security/confinement.rs.

mod common;

use common::*;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn echo_hello() {
    let root = TestRoot::with_busybox();
    assert_eq!(run_ok(&root, &["busybox", "echo", "hello"]), "hello\n");
}

#[test]
fn exit_codes_are_the_containers() {
    let root = TestRoot::with_busybox();
    let out = root.run(["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = root.run(["run", "--rm", "busybox", "probe", "segv"]);
    assert_eq!(out.status.code(), Some(139), "SIGSEGV is 128+11");
}

#[test]
fn exec_failures_have_docker_codes_and_one_line() {
    let root = TestRoot::with_busybox();
    let out = root.run(["run", "--rm", "busybox", "nosuchcmd"]);
    assert_fails(
        &out,
        127,
        "exec: \"nosuchcmd\": executable file not found in $PATH",
    );
    let out = root.run(["run", "--rm", "busybox", "/nosuch/bin"]);
    assert_fails(&out, 127, "no such file or directory");
    let out = root.run(["run", "--rm", "busybox", "/etc/passwd"]);
    assert_fails(&out, 126, "permission denied");
    let out = root.run(["run", "--rm", "nosuchimage"]);
    assert_fails(&out, 125, "Unable to find image 'nosuchimage' locally");
    assert!(
        root.files_under("containers").is_empty(),
        "a failed run left a container"
    );
}

/// Forwarded signals reach the container's PID 1; its status is 128+N when it dies of them.
#[test]
fn foreground_signals_are_forwarded() {
    let root = TestRoot::with_busybox();
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut child = root
            .berth(["run", "--rm", "busybox", "probe", "signals"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !String::from_utf8_lossy(&seen).contains("ready") {
            assert!(Instant::now() < deadline, "probe never became ready");
            let mut buf = [0u8; 64];
            let n = out.read(&mut buf).unwrap();
            assert!(
                n > 0,
                "probe ended early: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
        // SAFETY-free: kill(2) through nix on the berth process we spawned.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::try_from(signal).unwrap(),
        )
        .unwrap();
        out.read_to_end(&mut seen).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(code),
            "output: {}",
            String::from_utf8_lossy(&seen)
        );
        assert!(String::from_utf8_lossy(&seen).contains(&format!("got {signal}")));
    }
}

#[test]
fn inside_the_container() {
    let root = TestRoot::with_busybox();
    assert_eq!(run_ok(&root, &["busybox", "probe", "pid"]), "1\n");
    // Only the container's own processes are visible: small pids of its own namespace, where
    // the host's run into the thousands.
    let pids = run_ok(
        &root,
        &["busybox", "sh", "-c", "ls /proc | grep -E '^[0-9]+$'"],
    );
    let pids: Vec<u32> = pids.lines().map(|p| p.parse().unwrap()).collect();
    assert!(
        pids.contains(&1) && pids.iter().all(|p| *p < 10),
        "host processes visible: {pids:?}"
    );
    // Own hostname: the short ID by default, --hostname when given.
    let host = run_ok(&root, &["busybox", "hostname"]);
    assert_eq!(host.trim().len(), 12);
    assert!(host.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        run_ok(&root, &["-h", "web-1", "busybox", "cat", "/etc/hostname"]),
        "web-1\n"
    );
    // With --network none only loopback, and it is up (the default bridge is in tests/net.rs).
    let links = run_ok(
        &root,
        &[
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "ls /sys/class/net",
        ],
    );
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    assert!(
        run_ok(&root, &["busybox", "ping", "-c1", "-W2", "127.0.0.1"])
            .contains("1 packets received")
    );
    // Docker's 14 default capabilities: bounding = effective = permitted = inheritable.
    let caps = run_ok(&root, &["busybox", "probe", "caps"]);
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd"] {
        assert!(
            caps.contains(&format!("{set}:\t00000000a80425fb")),
            "{set} wrong: {caps}"
        );
    }
    assert!(caps.contains("CapAmb:\t0000000000000000"));
    assert_eq!(
        run_ok(&root, &["busybox", "probe", "status", "NoNewPrivs"]).trim(),
        "1"
    );
    assert_eq!(
        run_ok(&root, &["busybox", "probe", "status", "Seccomp"]).trim(),
        "2"
    );
    assert_eq!(
        run_ok(&root, &["busybox", "probe", "try-unshare"]).trim(),
        "EPERM"
    );
    // Only the standard streams are open in the container's process.
    let fds = run_ok(&root, &["busybox", "probe", "fds"]);
    let numbers: Vec<&str> = fds.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(numbers, ["0", "1", "2"], "stray fds: {fds}");
}

#[test]
fn env_workdir_user_and_entrypoint() {
    let root = TestRoot::with_busybox();
    root.load("layers-docker.tar");
    // The image's ENTRYPOINT + CMD, its user, env and (created) workdir.
    assert_eq!(run_ok(&root, &["layers"]), "entry default-cmd\n");
    assert_eq!(run_ok(&root, &["layers", "x", "y"]), "entry x y\n");
    let env = run_ok(
        &root,
        &[
            "--entrypoint",
            "env",
            "-e",
            "GREETING=bye",
            "-e",
            "EXTRA=1",
            "layers",
        ],
    );
    assert!(env.contains("FIXTURE=layers\n"), "{env}");
    assert!(
        env.contains("GREETING=bye\n") && !env.contains("GREETING=hello"),
        "{env}"
    );
    assert!(env.contains("EXTRA=1\n"), "{env}");
    assert!(env.contains("HOME=/nonexistent\n"), "{env}");
    let ids = run_ok(&root, &["--entrypoint", "probe", "layers", "ids"]);
    assert!(ids.starts_with("uid=65534 gid=65534"), "{ids}");
    assert_eq!(
        run_ok(&root, &["--entrypoint", "pwd", "layers"]),
        "/data/work\n"
    );
    // Flags override the image.
    assert_eq!(
        run_ok(
            &root,
            &[
                "-w",
                "/tmp",
                "-u",
                "0:100",
                "--entrypoint",
                "sh",
                "layers",
                "-c",
                "pwd; id -u; id -g"
            ]
        ),
        "/tmp\n0\n100\n"
    );
    let env_file = root.dir.join("env.list");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n").unwrap();
    let env = run_ok(
        &root,
        &["--env-file", env_file.to_str().unwrap(), "busybox", "env"],
    );
    assert!(env.contains("FROM_FILE=yes\n"), "{env}");
}

#[test]
fn multi_layer_image_shows_the_right_files() {
    let root = TestRoot::with_busybox();
    root.load("layers-docker.tar");
    let script = "cd /data; ls -A; echo ---; ls -A olddir; echo ---; readlink link; \
                  [ $(stat -c %i hl-a) = $(stat -c %i hl-b) ] && echo same-inode; \
                  stat -c %A suid; [ -p fifo ] && echo fifo; ls replaced";
    let out = run_ok(
        &root,
        &["--entrypoint", "sh", "-u", "0", "layers", "-c", script],
    );
    let parts: Vec<&str> = out.split("---\n").collect();
    let top: Vec<&str> = parts[0].lines().collect();
    assert!(!top.contains(&"gone.txt"), "whiteout ignored: {out}");
    assert!(top.contains(&"keep.txt"), "{out}");
    assert_eq!(
        parts[1].trim(),
        "new.txt",
        "opaque dir shows old content: {out}"
    );
    let rest = parts[2];
    assert!(
        rest.starts_with("keep.txt\nsame-inode\n-rwsr-xr-x\nfifo\ninner.txt"),
        "{out}"
    );
}

#[test]
fn writes_stay_in_their_container() {
    let root = TestRoot::with_busybox();
    let name = unique("writer");
    root.ok([
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo mine > /tmp/secret; rm /bin/ls",
    ]);
    assert_eq!(
        run_ok(
            &root,
            &["busybox", "sh", "-c", "cat /tmp/secret 2>&1; ls /bin/ls"]
        ),
        "cat: can't open '/tmp/secret': No such file or directory\n/bin/ls\n"
    );
    // The image's layer is untouched.
    let layer_hits: Vec<String> = root
        .files_under("layers")
        .into_iter()
        .filter(|f| f.ends_with("tmp/secret"))
        .collect();
    assert!(
        layer_hits.is_empty(),
        "the write reached a layer: {layer_hits:?}"
    );
    // Without --rm the container stays until `rm`; its name is taken meanwhile.
    let out = root.run(["run", "--name", &name, "busybox", "true"]);
    assert_fails(&out, 125, "is already in use");
    assert_eq!(root.ok(["rm", &name]), format!("{name}\n"));
    assert!(root.files_under("containers").is_empty());
    root.ok(["run", "--rm", "--name", &name, "busybox", "true"]);
}

#[test]
fn interactive_stdin_through_pipes() {
    let root = TestRoot::with_busybox();
    let mut child = root
        .berth([
            "run",
            "--rm",
            "-i",
            "busybox",
            "sh",
            "-c",
            "tr a-z A-Z; echo done",
        ])
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
    // Without -i the container's stdin is empty.
    let out = root.run(["run", "--rm", "busybox", "cat"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "");
}

#[test]
fn stderr_stays_on_stderr() {
    let root = TestRoot::with_busybox();
    let out = root.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
}

#[test]
fn tty_without_a_terminal_is_refused() {
    let root = TestRoot::with_busybox();
    let out = root.run(["run", "--rm", "-t", "busybox", "true"]);
    assert_fails(&out, 1, "the input device is not a TTY");
}

/// `-it` on a real pty: prompt, a command and its output, window size, exit code, and the
/// terminal's mode restored afterwards.
#[test]
fn interactive_terminal() {
    let root = TestRoot::with_busybox();
    let name = unique("tty");
    let run_it = ["run", "-it", "--rm", "--name", &name, "busybox", "sh"];
    let mut term = OnPty::spawn(&root, &run_it, 33, 101);
    term.read_until("# ");
    term.type_keys(b"tty; stty size; echo $((6*7))\r");
    term.read_until("42");
    assert!(term.screen.contains("/dev/pts/0"), "{}", term.screen);
    assert!(
        term.screen.contains("33 101"),
        "window size not passed on: {}",
        term.screen
    );
    // Ctrl-C reaches the container: it interrupts a long sleep, the shell prompts again.
    term.type_keys(b"sleep 60\r");
    root.wait_for_process(&name, "sleep 60");
    term.type_keys(&[0x03]);
    term.type_keys(b"echo back-$((1+1))\r");
    term.read_until("back-2");
    term.type_keys(b"exit 5\r");
    assert_eq!(term.wait().code(), Some(5), "{}", term.screen);
    term.assert_mode_restored();
}

/// berth started with signals ignored (`nohup` ignores SIGHUP, a shell's background job
/// SIGINT and SIGQUIT; execve(2) keeps that) does not pass that on: the container's processes,
/// main and exec'd, ignore nothing, and Ctrl-C or a hangup reaches them.
#[test]
fn ignored_signals_are_not_inherited() {
    use std::os::unix::process::CommandExt;
    let root = TestRoot::with_busybox();
    let ignoring = |args: &[&str]| {
        let mut cmd = root.berth(args);
        // SAFETY: signal(2) is async-signal-safe, and the closure touches nothing else.
        unsafe {
            cmd.pre_exec(|| {
                for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
                    libc::signal(sig, libc::SIG_IGN);
                }
                Ok(())
            });
        }
        let out = cmd.output().expect("spawn berth");
        assert_ok(&out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let none = "SigIgn:\t0000000000000000";
    let status = ["busybox", "grep", "SigIgn", "/proc/self/status"];
    let mut run = vec!["run", "--rm"];
    run.extend_from_slice(&status);
    assert_eq!(ignoring(&run).trim(), none, "foreground run");
    let name = unique("ign");
    ignoring(&["run", "-d", "--name", &name, "busybox", "sleep", "60"]);
    let main = root.ok(["exec", &name, "grep", "SigIgn", "/proc/1/status"]);
    assert_eq!(main.trim(), none, "main process of run -d");
    let exec = ignoring(&["exec", &name, "grep", "SigIgn", "/proc/self/status"]);
    assert_eq!(exec.trim(), none, "exec");
    root.ok(["rm", "-f", &name]);
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_nothing() {
    let root = TestRoot::with_busybox();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "--rm", "Bad:Ref:"], "invalid reference format"),
        (
            vec!["run", "--rm", "-e", "=x", "busybox", "true"],
            "invalid environment variable",
        ),
        (
            vec![
                "run",
                "--rm",
                "--env-file",
                "/nonexistent/env.list",
                "busybox",
                "true",
            ],
            "/nonexistent/env.list",
        ),
        (
            vec!["run", "--rm", "-u", "nosuchuser", "busybox", "true"],
            "unable to find user nosuchuser",
        ),
        (
            vec!["run", "--rm", "-u", "a:b:c", "busybox", "true"],
            "invalid user",
        ),
        (
            vec![
                "run", "--rm", "-u", "nobody", "-w", "/root", "busybox", "true",
            ],
            "permission denied",
        ),
        (
            vec!["run", "--rm", "-w", "relative", "busybox", "true"],
            "needs to be an absolute path",
        ),
        (
            vec!["run", "--rm", "--name", "bad name", "busybox", "true"],
            "Invalid container name",
        ),
        (
            vec!["run", "--rm", "--network", "nosuchnet", "busybox", "true"],
            "network nosuchnet not found",
        ),
    ];
    for (args, needle) in cases {
        let out = root.run(&args);
        assert_fails(&out, 125, needle);
    }
    assert!(
        root.files_under("containers").is_empty(),
        "bad input left a container record"
    );
    assert!(
        root.files_under("names").is_empty(),
        "bad input left a name"
    );
}

/// `-v HOST:CTR[:ro]`: a host directory or file bound into the container, read-write or
/// read-only; the container path resolves inside the container; bad specifications are refused
/// in one line.
#[test]
fn bind_mounts_with_v() {
    let root = TestRoot::with_busybox();
    let host = root.dir.join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "from-host\n").unwrap();
    let spec = |ctr: &str, mode: &str| format!("{}:{ctr}{mode}", host.display());
    // Read-write: each side sees the other's files.
    let out = run_ok(
        &root,
        &[
            "-v",
            &spec("/data", ""),
            "busybox",
            "sh",
            "-c",
            "cat /data/f; echo from-ctr > /data/g",
        ],
    );
    assert_eq!(out, "from-host\n");
    assert_eq!(
        std::fs::read_to_string(host.join("g")).unwrap(),
        "from-ctr\n"
    );
    // Read-only: reads work, writes fail, the host is untouched.
    let out = root.run([
        "run",
        "--rm",
        "-v",
        &spec("/data", ":ro"),
        "busybox",
        "sh",
        "-c",
        "cat /data/f && echo x > /data/h",
    ]);
    assert_eq!(stdout(&out), "from-host\n");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert!(!host.join("h").exists());
    // A single file; a missing host directory is created, as Docker's -v does.
    let file = format!("{}:/etc/motd:ro", host.join("f").display());
    assert_eq!(
        run_ok(&root, &["-v", &file, "busybox", "cat", "/etc/motd"]),
        "from-host\n"
    );
    let fresh = root.dir.join("fresh");
    let fresh_spec = format!("{}:/fresh", fresh.display());
    run_ok(
        &root,
        &["-v", &fresh_spec, "busybox", "touch", "/fresh/made"],
    );
    assert!(fresh.join("made").exists());
    // `..` in the container path cannot climb out of the container's root.
    let escape = format!("/berth-escape-{}", std::process::id());
    let climbing = spec(&format!("/../../..{escape}"), "");
    assert_eq!(
        run_ok(
            &root,
            &["-v", &climbing, "busybox", "cat", &format!("{escape}/f")]
        ),
        "from-host\n"
    );
    assert!(
        !std::path::Path::new(&escape).exists(),
        "{escape} made on the host"
    );
    // inspect shows the mount.
    let name = unique("vol");
    root.ok([
        "create",
        "--name",
        &name,
        "-v",
        &spec("/data", ":ro"),
        "busybox",
    ]);
    let mounts = root.ok(["inspect", "-f", "{{json .Mounts}}", &name]);
    assert!(
        mounts.contains("\"Destination\":\"/data\"") && mounts.contains("\"RW\":false"),
        "{mounts}"
    );
    // Bad specifications: one line, exit 125.
    for (bad, needle) in [
        (
            "bad name:/data",
            "invalid characters for a local volume name",
        ),
        ("/tmp:/data:nocopy", "invalid mode: nocopy"),
        ("/tmp:data", "mount path must be absolute"),
        ("/tmp:/", "destination can't be '/'"),
        ("/tmp:/data:rx", "invalid mode: rx"),
    ] {
        let out = root.run(["run", "--rm", "-v", bad, "busybox", "true"]);
        assert_fails(&out, 125, needle);
    }
}

/// Volumes berth manages: a named one outlives its containers and starts as a copy of the
/// image's files at its path (not with `nocopy`); an anonymous one goes with `rm -v` and
/// `--rm`; `berth volume` lists, inspects, refuses to remove one in use, and prunes.
#[test]
fn named_and_anonymous_volumes() {
    let root = TestRoot::with_busybox();
    let vol = unique("web");
    // Copy-up: the image's /www (index.html) fills the new volume; a write there stays.
    let out = run_ok(
        &root,
        &[
            "-v",
            &format!("{vol}:/www"),
            "busybox",
            "sh",
            "-c",
            "ls /www; echo kept > /www/k",
        ],
    );
    assert_eq!(out, "index.html\n");
    let out = run_ok(
        &root,
        &["-v", &format!("{vol}:/srv:ro"), "busybox", "cat", "/srv/k"],
    );
    assert_eq!(out, "kept\n");
    let out = root.run([
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/srv:ro"),
        "busybox",
        "touch",
        "/srv/x",
    ]);
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    let empty = unique("empty");
    let out = run_ok(
        &root,
        &[
            "-v",
            &format!("{empty}:/www:nocopy"),
            "busybox",
            "ls",
            "/www",
        ],
    );
    assert_eq!(out, "");
    let ls = root.ok(["volume", "ls"]);
    assert!(
        ls.starts_with("DRIVER") && ls.contains(&vol) && ls.contains(&empty),
        "{ls}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&root.ok(["volume", "inspect", &vol])).unwrap();
    assert_eq!(doc[0]["Name"], vol.as_str());
    assert_eq!(doc[0]["Driver"], "local");
    // In use by a container (even a stopped one): not removed.
    let user = unique("user");
    root.ok([
        "create",
        "--name",
        &user,
        "-v",
        &format!("{vol}:/data"),
        "busybox",
    ]);
    assert_fails(&root.run(["volume", "rm", &vol]), 1, "volume is in use");
    assert!(root
        .ok(["inspect", "-f", "{{json .Mounts}}", &user])
        .contains("\"Type\":\"volume\""));
    root.ok(["rm", &user]);
    assert_eq!(root.ok(["volume", "rm", &vol]).trim(), vol);
    assert_fails(&root.run(["volume", "inspect", &vol]), 1, "no such volume");
    // Anonymous: kept by a plain rm, gone with rm -v and with --rm.
    let before = root.ok(["volume", "ls", "-q"]).lines().count();
    let anon = unique("anon");
    root.ok([
        "run", "--name", &anon, "-v", "/data", "busybox", "touch", "/data/x",
    ]);
    assert_eq!(root.ok(["volume", "ls", "-q"]).lines().count(), before + 1);
    root.ok(["rm", "-v", &anon]);
    assert_eq!(root.ok(["volume", "ls", "-q"]).lines().count(), before);
    run_ok(&root, &["-v", "/data", "busybox", "touch", "/data/x"]);
    assert_eq!(root.ok(["volume", "ls", "-q"]).lines().count(), before);
    root.ok(["run", "--name", &anon, "-v", "/data", "busybox", "true"]);
    root.ok(["rm", &anon]);
    // prune: the unused anonymous one; with -a, the named ones too.
    let pruned = root.ok(["volume", "prune", "-f"]);
    assert!(
        pruned.starts_with("Deleted Volumes:") && pruned.contains("Total reclaimed space"),
        "{pruned}"
    );
    assert_eq!(root.ok(["volume", "ls", "-q"]).trim(), empty);
    root.ok(["volume", "prune", "-f", "-a"]);
    assert_eq!(root.ok(["volume", "ls", "-q"]), "");
    assert_eq!(
        root.ok(["volume", "create", "made-by-hand"]).trim(),
        "made-by-hand"
    );
    assert_fails(
        &root.run(["volume", "create", "bad name"]),
        125,
        "invalid characters",
    );
}

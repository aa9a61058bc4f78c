//! Caller and image inputs that must be refused before they reach the kernel or the host: user
//! and group ids out of range, network names that are paths, host-file injection, mounts over
//! the kernel's filesystems, and layer entries that declare more bytes than they carry.

use super::archive::{load_images, Image};
use super::common::{assert_fails, stderr, stdout, unique, TestRoot};
use super::running::Running;
use serde_json::json;

/// An uncompressed layer tar holding `files` (path, contents), each a root-owned 0644 file.
fn layer_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_704_067_200);
        header.set_entry_type(tar::EntryType::Regular);
        out.append_data(&mut header, path, *data).unwrap();
    }
    out.into_inner().unwrap()
}

/// A run or exec that must be refused: the expected exit, one line naming the range, and no
/// `id` output at all (in particular never `uid=0`).
#[track_caller]
fn assert_refused_id(out: &std::process::Output, code: i32) {
    assert!(
        !stdout(out).contains("uid=0"),
        "ran as root: {}{}",
        stdout(out),
        stderr(out)
    );
    assert_fails(out, code, "uids and gids must be in range 0-2147483647");
    assert_eq!(stdout(out), "", "the command ran");
}

/// uid/gid 4294967295 is (uid_t)-1, which setresuid(2)/setresgid(2) read as "leave unchanged":
/// a process started as root stayed root. runc refuses every id above 2^31-1 (moby/sys/user's
/// maxID, "for 32-bit systems compatibility"); so does berth, whether the id comes from `-u`,
/// from the image's User or from the image's own /etc/passwd or /etc/group.
#[test]
fn uid_4294967295_is_refused_not_run_as_root() {
    let root = TestRoot::with_busybox();
    let passwd = b"root:x:0:0:root:/root:/bin/sh\nevil:x:4294967295:4294967295::/:/bin/sh\nhalf:x:1000:4294967295::/:/bin/sh\n";
    let group = b"root:x:0:\nevilgrp:x:4294967295:\nsupp:x:4294967295:half\n";
    let files = layer_of(&[("etc/passwd", passwd), ("etc/group", group)]);
    load_images(
        &root,
        &[
            Image::busybox_with("hugeuser:1", json!({"User": "4294967295", "Cmd": ["id"]})),
            Image::busybox_with(
                "hugepair:1",
                json!({"User": "4294967295:4294967295", "Cmd": ["id"]}),
            ),
            Image {
                tag: "hugepasswd:1".into(),
                config: json!({"Cmd": ["id"]}),
                layers: vec![files],
            },
        ],
    );
    let runs: [&[&str]; 9] = [
        &["-u", "4294967295", "busybox", "id"],
        &["-u", "4294967295:4294967295", "busybox", "id"],
        &["-u", "0:4294967295", "busybox", "id"],
        &["-u", "4294967296", "busybox", "id"],
        &["hugeuser:1"],
        &["hugepair:1"],
        &["-u", "evil", "hugepasswd:1"],
        &["-u", "half", "hugepasswd:1"],
        &["-u", "1000:evilgrp", "hugepasswd:1"],
    ];
    for args in runs {
        let mut argv = vec!["run", "--rm"];
        argv.extend_from_slice(args);
        assert_refused_id(&root.run(&argv), 125);
    }
    assert!(
        root.files_under("containers").is_empty(),
        "a refused run left a container record"
    );

    // exec into a running container: the same ids, the same refusal (exec's 126, as for an
    // unknown user).
    let name = unique("hugeid");
    let _ct = Running::start(&root, &name, &["hugepasswd:1", "sleep", "600"]);
    let execs: [&[&str]; 4] = [
        &["-u", "4294967295"],
        &["-u", "4294967295:4294967295"],
        &["-u", "evil"],
        &["-u", "1000:evilgrp"],
    ];
    for args in execs {
        let mut argv = vec!["exec"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&[&name, "id"]);
        assert_refused_id(&root.run(&argv), 126);
    }
    // An ordinary numeric user still works.
    assert_eq!(
        root.ok(["exec", "-u", "2147483647:2147483647", &name, "id", "-u"]),
        "2147483647\n"
    );
}

/// A file the test made outside the store, removed on drop.
struct Planted(std::path::PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn link_exists(name: &str) -> bool {
    std::process::Command::new("ip")
        .args(["link", "show", "dev", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// CVE-2024-9675 class (a name joined into a path): `--network ../../../x` read a network
/// definition from outside the store and created the bridge it named. Network names are
/// Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]*` wherever one enters, and the store never joins any
/// other text into a path.
#[test]
fn network_name_cannot_be_a_path_out_of_the_store() {
    let root = TestRoot::with_busybox();
    // A real definition, as `network create` writes it, retargeted at a bridge of our naming.
    let real = unique("realnet");
    root.ok(["network", "create", &real]);
    let written = root.dir.join("net/networks").join(format!("{real}.json"));
    let mut def: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&written).unwrap()).unwrap();
    root.ok(["network", "rm", &real]);
    let planted_name = unique("planted");
    let bridge = "evilbr0";
    def["name"] = json!(format!("../../../{planted_name}"));
    def["bridge"] = json!(bridge);
    def["subnet"] = json!("10.251.0.0");
    def["gateway"] = json!("10.251.0.1");
    def["prefix"] = json!(24);
    // The store's net/networks/../../../NAME.json is the store's parent directory's NAME.json.
    let target = root
        .dir
        .parent()
        .unwrap()
        .join(format!("{planted_name}.json"));
    let bytes = serde_json::to_vec_pretty(&def).unwrap();
    std::fs::write(&target, &bytes).unwrap();
    let _planted = Planted(target.clone());
    assert!(!link_exists(bridge));

    let traversal = format!("../../../{planted_name}");
    let needle = format!("invalid network name \"{traversal}\"");
    for verb in ["run", "create"] {
        let out = root.run([verb, "--rm", "--network", &traversal, "busybox", "true"]);
        assert_fails(&out, 125, &needle);
    }
    let name = unique("netpath");
    let _ct = Running::sleeping(&root, &name);
    let cases: [(&[&str], i32); 5] = [
        (&["network", "inspect", &traversal], 1),
        (&["network", "rm", &traversal], 1),
        (&["network", "create", &traversal], 125),
        (&["network", "connect", &traversal, &name], 125),
        (&["network", "disconnect", &traversal, &name], 125),
    ];
    for (args, code) in cases {
        let out = root.run(args);
        assert!(
            !stdout(&out).contains(bridge),
            "{args:?} read the planted file: {}",
            stdout(&out)
        );
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(&needle), "{args:?}: {}", stderr(&out));
    }
    assert!(!link_exists(bridge), "the planted bridge was created");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        bytes,
        "the planted file was changed"
    );
    assert!(
        !root.ok(["network", "ls"]).contains(&planted_name),
        "the planted network is listed"
    );
}

/// /etc/hosts injection: a newline in an `--add-host` name wrote a line of the caller's choosing
/// into the container's /etc/hosts (and, through the network record, into its peers'). Every
/// input that reaches /etc/hosts, /etc/hostname or /etc/resolv.conf is checked as Docker checks
/// it (docker/cli opts/hosts.go ValidateExtraHost: `host:ip`, the ip an IP address), and host
/// names are host names: no whitespace, control characters or `#`.
#[test]
fn etc_hosts_lines_cannot_be_injected() {
    let root = TestRoot::with_busybox();
    let cases: [(&[&str], &str); 10] = [
        (
            &["--add-host", "ok\n6.6.6.6 bank.example:10.0.0.1"],
            "invalid hostname in add-host",
        ),
        (
            &["--add-host", "two names:10.0.0.1"],
            "invalid hostname in add-host",
        ),
        (
            &["--add-host", "tab\tname:10.0.0.1"],
            "invalid hostname in add-host",
        ),
        (
            &["--add-host", "cr\rname:10.0.0.1"],
            "invalid hostname in add-host",
        ),
        (
            &["--add-host", "hash#comment:10.0.0.1"],
            "invalid hostname in add-host",
        ),
        (
            &["--add-host", "a:10.0.0.1\n6.6.6.6 bank.example"],
            "invalid IP address in add-host",
        ),
        (&["--add-host", ":10.0.0.1"], "bad format for add-host"),
        (
            &["--hostname", "h\n6.6.6.6 bank.example"],
            "invalid hostname format",
        ),
        (
            &["--dns", "1.1.1.1\nnameserver 6.6.6.6"],
            "is not an ip address",
        ),
        (&["--name", "n\n6.6.6.6"], "Invalid container name"),
    ];
    for (flags, needle) in cases {
        for verb in ["run", "create"] {
            let mut argv = vec![verb];
            if verb == "run" {
                argv.push("--rm");
            }
            argv.extend_from_slice(flags);
            argv.extend(["busybox", "cat", "/etc/hosts"]);
            let out = root.run(&argv);
            assert!(
                !stdout(&out).contains("6.6.6.6"),
                "{flags:?} injected: {}",
                stdout(&out)
            );
            assert_fails(&out, 125, needle);
        }
    }
    assert!(
        root.files_under("containers").is_empty(),
        "a refused run left a container record"
    );

    // A valid run: exactly the expected lines, in Docker's order.
    let name = unique("hosts");
    let out = root.ok([
        "run",
        "--rm",
        "--name",
        &name,
        "--hostname",
        "myhost",
        "--add-host",
        "db.local:10.0.0.9",
        "--add-host",
        "eq_host=10.0.0.10",
        "--add-host",
        "v6host:[::1]",
        "--dns",
        "192.0.2.53",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hosts; echo ---; cat /etc/hostname; echo ---; grep nameserver /etc/resolv.conf",
    ]);
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    let hosts: Vec<&str> = parts[0].lines().collect();
    let expected = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
        "10.0.0.9\tdb.local",
        "10.0.0.10\teq_host",
        "::1\tv6host",
    ];
    assert_eq!(hosts.len(), expected.len() + 1, "{}", parts[0]);
    assert_eq!(hosts[..expected.len()], expected, "{}", parts[0]);
    let (addr, names) = hosts[expected.len()].split_once('\t').unwrap();
    assert!(addr.parse::<std::net::Ipv4Addr>().is_ok(), "{}", parts[0]);
    assert_eq!(names, format!("myhost {name}"));
    assert_eq!(parts[1], "myhost\n");
    assert_eq!(parts[2], "nameserver 192.0.2.53\n");
}

/// A layer tar holding one symlink `path -> target`.
fn layer_with_symlink(path: &str, target: &str) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(0);
    header.set_mode(0o777);
    header.set_mtime(1_704_067_200);
    header.set_entry_type(tar::EntryType::Symlink);
    out.append_link(&mut header, path, target).unwrap();
    out.into_inner().unwrap()
}

/// CVE-2019-19921 / CVE-2023-27561 class: a mount over the kernel's /proc. `-v HOST:/proc`
/// replaced the container's procfs with a directory of the caller's (so the runtime's later
/// procfs reads and writes, and the container's, land in it); `-v HOST:/proc/sys` hid the
/// read-only sysctl tree. runc's checkProcMount refuses a mount on /proc unless its source is a
/// procfs, and any mount inside /proc except a few files lxcfs emulates; berth does the same,
/// on the normalised path and again on the path a symlink in the image leads to.
#[test]
fn volume_cannot_cover_proc() {
    let root = TestRoot::with_busybox();
    load_images(
        &root,
        &[
            Image {
                tag: "procdata:1".into(),
                config: json!({"Cmd": ["true"]}),
                layers: vec![layer_with_symlink("data", "/proc/sys")],
            },
            Image {
                tag: "procroot:1".into(),
                config: json!({"Cmd": ["true"]}),
                layers: vec![layer_with_symlink("data", "../proc")],
            },
        ],
    );
    let host = root.dir.join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("canary"), "host\n").unwrap();
    let missing = root.dir.join("never-made");
    let h = host.display().to_string();
    let m = missing.display().to_string();
    let vol = unique("procvol");
    let not_proc = "cannot be mounted because it is not of type proc";
    let inside = "cannot be mounted because it is inside /proc";
    let cases: Vec<(String, &str)> = vec![
        (format!("{h}:/proc"), not_proc),
        (format!("{h}:/proc/"), not_proc),
        (format!("{h}:/proc/../proc"), not_proc),
        (format!("{h}://proc/."), not_proc),
        (format!("{h}:/tmp/../../proc:ro"), not_proc),
        (format!("{m}:/proc"), not_proc),
        (format!("{vol}:/proc"), not_proc),
        ("/proc".to_string(), not_proc),
        (format!("{h}:/proc/sys"), inside),
        (format!("{h}:/proc/./sys/kernel/"), inside),
        (format!("{h}:/proc/self"), inside),
        (format!("{h}:/proc/1/root:ro"), inside),
        (format!("{vol}:/proc/sys"), inside),
        (format!("{h}:/tmp/../proc/sys"), inside),
    ];
    for (spec, needle) in &cases {
        for verb in ["run", "create"] {
            let mut argv = vec![verb];
            if verb == "run" {
                argv.push("--rm");
            }
            argv.extend(["-v", spec, "busybox", "ls", "/proc"]);
            let out = root.run(&argv);
            assert!(
                !stdout(&out).contains("canary"),
                "{spec}: the host directory covered /proc: {}",
                stdout(&out)
            );
            assert_fails(&out, 125, needle);
        }
    }
    assert!(
        root.files_under("containers").is_empty(),
        "a refused run left a container record"
    );
    assert!(!missing.exists(), "a refused run made its host directory");
    assert!(
        !root.ok(["volume", "ls", "-q"]).contains(&vol),
        "a refused run made its volume"
    );

    // A symlink in the image leading into /proc: refused where it leads.
    for (image, needle) in [("procdata:1", inside), ("procroot:1", not_proc)] {
        let spec = format!("{h}:/data");
        let out = root.run(["run", "--rm", "-v", &spec, image, "ls", "/data"]);
        assert!(
            !stdout(&out).contains("canary"),
            "{image}: {}",
            stdout(&out)
        );
        assert_fails(&out, 125, needle);
    }
    assert!(
        root.files_under("containers").is_empty(),
        "a refused run left a container record"
    );

    // Ordinary paths still take volumes; so do runc's lxcfs files and a real procfs on /proc.
    let uptime = root.dir.join("uptime");
    std::fs::write(&uptime, "12345.67 0.00\n").unwrap();
    let out = root.ok([
        "run",
        "--rm",
        "-v",
        &format!("{h}:/data"),
        "-v",
        &format!("{vol}:/vdata"),
        "-v",
        &format!("{}:/proc/uptime:ro", uptime.display()),
        "busybox",
        "sh",
        "-c",
        "cat /data/canary; touch /vdata/x && ls /vdata; cat /proc/uptime",
    ]);
    assert_eq!(out, "host\nx\n12345.67 0.00\n");
    root.ok(["run", "--rm", "-v", "/proc:/proc:ro", "busybox", "true"]);
}

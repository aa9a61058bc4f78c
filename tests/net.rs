//! Networking as a user sees it: the default bridge, published ports in every form (from
//! loopback, the bridge and other containers), user networks with names, none/host/container
//! modes, refused input, and nothing left behind. Each test runs in a network namespace of its
//! own (see `enter_private_network`): traffic only goes to loopback and to its own containers.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A foreground `berth run` in the background of the test, stopped and reaped on drop: SIGTERM
/// (forwarded to the container, where a PID 1 without a handler such as httpd ignores it), then
/// SIGKILL after a moment (the container dies with it by its parent-death signal).
struct Running {
    child: Child,
}

impl Running {
    fn start(root: &TestRoot, args: &[&str]) -> Running {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        let child = root
            .berth(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn berth run");
        Running { child }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_millis(300);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET / from `addr` (HTTP/1.0, one connection), the body; retried until `deadline` while the
/// server starts.
fn http_get(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match try_get(addr) {
            Ok(body) => return body,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(30));
            }
            Err(e) => panic!("GET http://{addr}/ failed: {e}"),
        }
    }
}

fn try_get(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    match text.split_once("\r\n\r\n") {
        Some((_, body)) if text.starts_with("HTTP/1.") => Ok(body.to_string()),
        _ => Err(std::io::Error::other(format!(
            "not an HTTP reply: {text:?}"
        ))),
    }
}

const PAGE: &str = "hello from berth\n";

/// The fixture's web server, serving PAGE on port 80.
const HTTPD: [&str; 7] = ["busybox", "httpd", "-f", "-p", "80", "-h", "/www"];

/// The kernel state berth may change, to compare before and after, once every dead
/// container's veth is gone: it goes with its namespace, which the kernel destroys
/// asynchronously (waits up to 10 s).
fn settled_snapshot(root: &TestRoot) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = snapshot(root);
        let first = now.lines().nth(1).unwrap_or("");
        if !first.split(' ').any(|l| l.starts_with("vb")) || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A host command's stdout.
fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn snapshot(root: &TestRoot) -> String {
    let leases: Vec<String> = root
        .files_under("net/leases")
        .iter()
        .map(|f| std::fs::read_to_string(root.dir.join("net/leases").join(f)).unwrap())
        .collect();
    format!(
        "links:\n{}\naddrs:\n{}\nnft:\n{}\nleases: {leases:?}\nendpoints: {:?}\n",
        run(&["ip", "-o", "link", "show"])
            .lines()
            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        run(&["ip", "-o", "-4", "addr", "show"]),
        run(&["nft", "list", "table", "ip", "berth"]),
        root.files_under("net/endpoints"),
    )
}

#[test]
fn default_bridge_reaches_containers_by_address_and_published_ports() {
    let root = TestRoot::with_busybox();
    let _web = Running::start(
        &root,
        &[
            &["--name", "web", "-p", "8088:80", "-p", "127.0.0.1:8089:80"][..],
            &HTTPD,
        ]
        .concat(),
    );
    // The user's exercise: a GET to 127.0.0.1:8088 returns the page.
    assert_eq!(http_get("127.0.0.1:8088"), PAGE);
    assert_eq!(http_get("127.0.0.1:8089"), PAGE);
    // The bridge's own address is a local address too (0.0.0.0 means every one).
    assert_eq!(http_get("10.89.0.1:8088"), PAGE);
    // Direct to the container's address (the first of the default /16).
    assert_eq!(http_get("10.89.0.2:80"), PAGE);
    // From another container: by address, and through the published port (hairpin NAT).
    let out = root.ok([
        "run", "--rm", "busybox", "sh", "-c",
        "wget -q -O- http://10.89.0.2/ && wget -q -O- http://10.89.0.1:8088/ && ip -o -4 addr show eth0 && ip route && cat /etc/hosts",
    ]);
    assert!(out.starts_with(&format!("{PAGE}{PAGE}")), "{out}");
    assert!(out.contains("inet 10.89.0.3/16"), "{out}");
    assert!(out.contains("default via 10.89.0.1 dev eth0"), "{out}");
    assert!(
        out.contains("10.89.0.3\t"),
        "own address in /etc/hosts: {out}"
    );
    // Published only on 127.0.0.1: not on the bridge address.
    assert!(try_get("10.89.0.1:8089").is_err());
}

#[test]
fn ephemeral_ports_show_in_berth_port() {
    let root = TestRoot::with_busybox();
    let _web = Running::start(
        &root,
        &[
            &["--name", "eph", "-p", "80", "-p", "127.0.0.1::80"][..],
            &HTTPD,
        ]
        .concat(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let out = root.run(["port", "eph"]);
        let text = stdout(&out);
        if text.lines().count() == 2 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no ports: {text} {}",
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(30));
    };
    let mut lines: Vec<&str> = lines.lines().collect();
    lines.sort();
    assert!(lines[0].starts_with("80/tcp -> 0.0.0.0:"), "{lines:?}");
    assert!(lines[1].starts_with("80/tcp -> 127.0.0.1:"), "{lines:?}");
    let any: u16 = lines[0].rsplit(':').next().unwrap().parse().unwrap();
    let local: u16 = lines[1].rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(http_get(&format!("127.0.0.1:{any}")), PAGE);
    assert_eq!(http_get(&format!("127.0.0.1:{local}")), PAGE);
    let one = root.ok(["port", "eph", "80/tcp"]);
    assert_eq!(one.lines().count(), 2, "{one}");
    assert_fails(
        &root.run(["port", "eph", "81"]),
        1,
        "No public port '81/tcp' published",
    );
}

#[test]
fn udp_and_ranges_are_published() {
    let root = TestRoot::with_busybox();
    let _echo = Running::start(
        &root,
        &[
            "-p",
            "127.0.0.1:9053:53/udp",
            "busybox",
            "probe",
            "udp-echo",
            "53",
        ],
    );
    let _web = Running::start(
        &root,
        &[
            "-p",
            "8000-8002:80-82",
            "busybox",
            "sh",
            "-c",
            "httpd -p 80 -h /www && httpd -p 81 -h /www && exec httpd -f -p 82 -h /www",
        ],
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 64];
    let echoed = loop {
        sock.send_to(b"ping-udp", "127.0.0.1:9053").unwrap();
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            break buf[..n].to_vec();
        }
        assert!(
            Instant::now() < deadline,
            "no UDP echo through 127.0.0.1:9053"
        );
    };
    assert_eq!(echoed, b"ping-udp");
    for port in 8000..=8002 {
        assert_eq!(http_get(&format!("127.0.0.1:{port}")), PAGE);
    }
}

#[test]
fn publish_all_maps_exposed_ports() {
    let root = TestRoot::new();
    root.load("layers-docker.tar");
    let _web = Running::start(
        &root,
        &[
            "--name",
            "exposed",
            "-P",
            "--entrypoint",
            "httpd",
            "layers",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = stdout(&root.run(["port", "exposed", "80"]));
        if !text.is_empty() {
            break text;
        }
        assert!(Instant::now() < deadline, "-P published nothing");
        std::thread::sleep(Duration::from_millis(30));
    };
    assert!(line.starts_with("0.0.0.0:"), "{line}");
    let port = line.trim().rsplit(':').next().unwrap();
    assert_eq!(http_get(&format!("127.0.0.1:{port}")), PAGE);
}

#[test]
fn user_network_containers_reach_each_other_by_name() {
    let root = TestRoot::with_busybox();
    let id = root.ok(["network", "create", "--subnet", "10.123.0.0/24", "appnet"]);
    assert_eq!(id.trim().len(), 64);
    let ls = root.ok(["network", "ls"]);
    assert!(ls.contains("appnet") && ls.contains("bridge"), "{ls}");
    let _db = Running::start(
        &root,
        &[
            &["--name", "db", "--network", "appnet", "--ip", "10.123.0.50"][..],
            &HTTPD,
        ]
        .concat(),
    );
    assert_eq!(http_get("10.123.0.50:80"), PAGE);
    let out = root.ok([
        "run",
        "--rm",
        "--name",
        "client",
        "--network",
        "appnet",
        "busybox",
        "sh",
        "-c",
        "wget -q -O- http://db/ && grep client /etc/hosts",
    ]);
    assert!(out.starts_with(PAGE), "{out}");
    // The running peer's hosts file learned the newcomer, and forgets it once it is gone.
    let inspect = root.ok(["network", "inspect", "appnet"]);
    assert!(inspect.contains("\"Name\": \"db\""), "{inspect}");
    assert!(inspect.contains("10.123.0.50/24"), "{inspect}");
    // A network in use cannot go; an unused one can.
    assert_fails(
        &root.run(["network", "rm", "appnet"]),
        1,
        "has active endpoints",
    );
    assert_fails(
        &root.run(["network", "create", "appnet"]),
        125,
        "already exists",
    );
    assert_fails(
        &root.run([
            "run",
            "--rm",
            "--network",
            "appnet",
            "--ip",
            "10.123.0.50",
            "busybox",
            "true",
        ]),
        125,
        "already in use",
    );
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let root = TestRoot::with_busybox();
    root.ok(["network", "create", "side"]);
    let _c = Running::start(
        &root,
        &[
            "--name", "multi", "busybox", "httpd", "-f", "-p", "80", "-h", "/www",
        ],
    );
    assert_eq!(http_get("10.89.0.2:80"), PAGE);
    root.ok(["network", "connect", "side", "multi"]);
    assert_eq!(http_get("10.90.0.2:80"), PAGE);
    let out = root.ok([
        "run",
        "--rm",
        "--network",
        "side",
        "busybox",
        "wget",
        "-q",
        "-O-",
        "http://multi/",
    ]);
    assert_eq!(out, PAGE);
    root.ok(["network", "disconnect", "side", "multi"]);
    assert!(try_get("10.90.0.2:80").is_err());
    root.ok(["network", "rm", "side"]);
}

#[test]
fn none_has_only_lo_and_host_sees_the_hosts_interfaces() {
    let root = TestRoot::with_busybox();
    let out = root.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("lo:"), "{out}");
    // The test's namespace is "the host" here: give it an interface to recognise.
    let ok = Command::new("ip")
        .args([
            "link",
            "add",
            "hostmark0",
            "type",
            "veth",
            "peer",
            "name",
            "hostmark1",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = root.ok([
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert!(out.contains("hostmark0"), "{out}");
    // container:NAME shares another container's namespace (and its address).
    let _a = Running::start(
        &root,
        &[
            "--name", "owner", "busybox", "httpd", "-f", "-p", "80", "-h", "/www",
        ],
    );
    assert_eq!(http_get("10.89.0.2:80"), PAGE);
    let out = root.ok([
        "run",
        "--rm",
        "--network",
        "container:owner",
        "busybox",
        "wget",
        "-q",
        "-O-",
        "http://127.0.0.1/",
    ]);
    assert_eq!(out, PAGE);
}

#[test]
fn refused_runs_leave_nothing() {
    let root = TestRoot::with_busybox();
    // Set up the default network once, so "before" includes its shared pieces.
    root.ok(["run", "--rm", "busybox", "true"]);
    let before = settled_snapshot(&root);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let spec = format!("127.0.0.1:{port}:80");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-p", &spec], "address already in use"),
        (
            vec!["-p", "7000:80", "-p", "7000:81"],
            "address already in use",
        ),
        (vec!["-p", "80:abc"], "invalid containerPort: abc"),
        (vec!["-p", "1.2.3.4.5:80:80"], "invalid IP address"),
        (
            vec!["--network", "nosuchnet"],
            "network nosuchnet not found",
        ),
        (vec!["--network", "none", "-p", "80"], "conflicting options"),
        (vec!["--ip", "10.89.0.9"], "user defined networks only"),
        (vec!["--add-host", "nohost"], "bad format for add-host"),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        assert_fails(&root.run(&args), 125, needle);
    }
    assert!(
        root.files_under("containers").is_empty(),
        "a refused run left a container"
    );
    assert_eq!(settled_snapshot(&root), before);
    drop(taken);
}

#[test]
fn many_containers_leave_table_links_and_allocations_as_before() {
    let root = TestRoot::with_busybox();
    root.ok(["run", "--rm", "busybox", "true"]);
    let before = settled_snapshot(&root);
    // The 100 containers with published ports, one after another.
    for i in 0..100 {
        let spec = format!("127.0.0.1:{}:80", 7100 + i);
        root.ok([
            "run", "--rm", "-p", &spec, "-p", "81/udp", "busybox", "true",
        ]);
    }
    assert_eq!(settled_snapshot(&root), before);
}

#[test]
fn killed_owner_is_released_by_the_next_command() {
    let root = TestRoot::with_busybox();
    root.ok(["run", "--rm", "busybox", "true"]);
    let before = settled_snapshot(&root);
    let web = Running::start(
        &root,
        &[&["--name", "victim", "-p", "127.0.0.1:8090:80"][..], &HTTPD].concat(),
    );
    assert_eq!(http_get("127.0.0.1:8090"), PAGE);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(web.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    drop(web);
    // The container dies with its owner (parent-death signal); the next command sweeps.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        root.ok(["network", "ls"]);
        if root.files_under("net/endpoints").is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "endpoint of a dead container not released"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    root.ok(["rm", "-f", "victim"]);
    assert_eq!(settled_snapshot(&root), before);
}

/// The user's whole exercise: a detached web server with a published port, `exec` in, edit
/// the page it serves, and the page on the host's port changes; `ps` shows the mapping.
#[test]
fn detached_web_server_edited_through_exec() {
    let root = TestRoot::with_busybox();
    let name = unique("web");
    root.ok([
        "run", "-d", "--name", &name, "-p", "8088:80", "busybox", "httpd", "-f", "-p", "80", "-h",
        "/www",
    ]);
    assert_eq!(http_get("127.0.0.1:8088"), PAGE);
    let ps = root.ok(["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert_eq!(ps, format!("{name} 0.0.0.0:8088->80/tcp\n"));
    root.ok(["exec", &name, "sh", "-c", "echo edited > /www/index.html"]);
    assert_eq!(http_get("127.0.0.1:8088"), "edited\n");
    // Stopped, its port is free again; started again, it serves the edited page.
    root.ok(["stop", "-t", "1", &name]);
    assert!(try_get("127.0.0.1:8088").is_err());
    root.ok(["start", &name]);
    assert_eq!(http_get("127.0.0.1:8088"), "edited\n");
    root.ok(["rm", "-f", &name]);
    assert!(try_get("127.0.0.1:8088").is_err());
}

/// A client in a network namespace of its own, joined to the test's by a veth pair
/// (192.168.77.2 there, 192.168.77.1 here): a machine on the host's network, as far as the
/// host can tell. Killed (and its namespace gone with it) on drop.
struct OutsideClient {
    holder: Child,
}

impl OutsideClient {
    fn new() -> OutsideClient {
        let holder = Command::new("unshare")
            .args(["--net", "sleep", "60"])
            .spawn()
            .expect("unshare");
        let pid = holder.id().to_string();
        let client = OutsideClient { holder };
        // The namespace exists once unshare has exec'd sleep.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| !p.ends_with("sleep"))
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "unshare did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(out.status.success(), "ip {args:?}: {out:?}");
        };
        ip(&[
            "link", "add", "xcl0", "type", "veth", "peer", "name", "xcl1", "netns", &pid,
        ]);
        ip(&["addr", "add", "192.168.77.1/24", "dev", "xcl0"]);
        ip(&["link", "set", "xcl0", "up"]);
        for args in [
            &["ip", "link", "set", "lo", "up"][..],
            &["ip", "addr", "add", "192.168.77.2/24", "dev", "xcl1"],
            &["ip", "link", "set", "xcl1", "up"],
        ] {
            let out = client.run(args);
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
        client
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("nsenter")
            .args(["-t", &self.holder.id().to_string(), "-n", "--"])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for OutsideClient {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Through a published port, the container sees the real address of a client from outside
/// (kernel DNAT, no proxy in between), as Docker shows it.
#[test]
fn a_published_port_shows_the_real_client_address() {
    let root = TestRoot::with_busybox();
    let cgi = "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho client=$REMOTE_ADDR\\n' > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 80 -h /www";
    let _web = Running::start(&root, &["-p", "8090:80", "busybox", "sh", "-c", cgi]);
    assert_eq!(http_get("127.0.0.1:8090"), PAGE);
    let outside = OutsideClient::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let out = outside.run(&[
            "busybox",
            "wget",
            "-q",
            "-O-",
            "http://192.168.77.1:8090/cgi-bin/ip",
        ]);
        if out.status.success() || Instant::now() > deadline {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // httpd listens on a dual-stack socket: the address comes IPv4-mapped.
    assert!(
        ["client=192.168.77.2", "client=[::ffff:192.168.77.2]"].contains(&body.trim()),
        "{body}"
    );
}

/// `--add-host` and `--dns` land in the container's files, eth0 has the bridge's MTU, and
/// `network prune` takes away what berth set up (bridge, table, forwarding) once nothing uses
/// it, leaving the namespace as it found it.
#[test]
fn extra_hosts_dns_mtu_and_prune() {
    let root = TestRoot::with_busybox();
    let forwarding = || std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let before = forwarding();
    let out = root.ok([
        "run",
        "--rm",
        "--add-host",
        "db.local:10.1.2.3",
        "--dns",
        "192.0.2.53",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hosts /etc/resolv.conf; cat /sys/class/net/eth0/mtu",
    ]);
    assert!(out.contains("10.1.2.3\tdb.local"), "{out}");
    assert!(out.contains("nameserver 192.0.2.53"), "{out}");
    assert!(!out.contains("nameserver 127."), "{out}");
    assert_eq!(out.lines().last(), Some("1500"), "{out}");
    root.ok(["network", "create", "spare"]);
    assert!(run(&["ip", "-o", "link"]).contains("berth0"));
    let pruned = root.ok(["network", "prune", "-f"]);
    assert!(pruned.contains("spare"), "{pruned}");
    assert!(!root.ok(["network", "ls"]).contains("spare"));
    assert!(!run(&["ip", "-o", "link"]).contains("berth0"));
    assert!(!run(&["nft", "list", "tables"]).contains("berth"));
    assert_eq!(forwarding(), before, "ip_forward not restored");
}

/// Networks are isolated from each other, as Docker's are: a container on one cannot reach a
/// container on another by address, while published ports stay open to everyone.
#[test]
fn networks_are_isolated_except_through_published_ports() {
    let root = TestRoot::with_busybox();
    root.ok(["network", "create", "--subnet", "10.124.0.0/24", "front"]);
    root.ok(["network", "create", "--subnet", "10.125.0.0/24", "back"]);
    let _web = Running::start(
        &root,
        &[
            &["--network", "back", "--ip", "10.125.0.10", "-p", "8091:80"][..],
            &HTTPD,
        ]
        .concat(),
    );
    assert_eq!(http_get("10.125.0.10:80"), PAGE);
    // (busybox 1.35's `wget -T` crashes: the time limit is timeout(1)'s, under a shell that
    // does not exec it, as a PID 1 would ignore its SIGTERM.)
    let from = |network: &str, url: &str| {
        root.run([
            "run",
            "--rm",
            "--network",
            network,
            "busybox",
            "sh",
            "-c",
            &format!("timeout 3 wget -q -O- {url}; exit $?"),
        ])
    };
    // Its own network reaches it; the other one does not, not even by address.
    assert_eq!(stdout(&from("back", "http://10.125.0.10/")), PAGE);
    let blocked = from("front", "http://10.125.0.10/");
    assert!(
        !blocked.status.success() && stdout(&blocked).is_empty(),
        "crossed networks: {blocked:?}"
    );
    // The published port is open to it, through the host's address on its own bridge.
    assert_eq!(stdout(&from("front", "http://10.124.0.1:8091/")), PAGE);
}

//! `berth diff`: added, changed and deleted paths of a container's writable layer, as Docker
//! 20.10 listed them for the same commands (Docker's order follows its map iteration; berth's
//! is sorted by path, so the lines are compared as sets plus berth's own order rule).

mod common;

use common::*;

#[test]
fn diff_lists_what_the_container_changed() {
    let root = TestRoot::with_busybox();
    let name = unique("diff");
    root.ok([
        "run", "--name", &name, "busybox", "sh", "-c",
        "rm -rf /www && mkdir /www && echo hi > /www/new; echo x >> /etc/passwd; mkdir -p /a/b/c; \
         touch /a/b/c/f; rm /bin/ls; touch /tmp/t; mkdir /tmp/z; rm /etc/group; ln -s /x /lnk; mkfifo /ff",
    ]);
    let out = root.ok(["diff", &name]);
    // What Docker 20.10 printed for these commands.
    let docker = [
        "C /www",
        "A /www/new",
        "D /www/index.html",
        "C /bin",
        "D /bin/ls",
        "A /ff",
        "A /lnk",
        "A /a",
        "A /a/b",
        "A /a/b/c",
        "A /a/b/c/f",
        "C /etc",
        "C /etc/passwd",
        "D /etc/group",
        "C /tmp",
        "A /tmp/t",
        "A /tmp/z",
    ];
    let mut ours: Vec<&str> = out.lines().collect();
    let in_order = ours.clone();
    ours.sort();
    let mut expected = docker.to_vec();
    expected.sort();
    assert_eq!(ours, expected, "{out}");
    // A directory comes before what is under it.
    let pos = |l: &str| in_order.iter().position(|x| *x == l).unwrap();
    assert!(pos("C /etc") < pos("C /etc/passwd") && pos("A /a") < pos("A /a/b/c/f"));

    // A container that changed nothing lists nothing (the engine's own mount targets are not
    // changes); an unknown container is Docker's error and exit 1.
    let quiet = unique("quiet");
    root.ok(["run", "--name", &quiet, "busybox", "true"]);
    assert_eq!(root.ok(["diff", &quiet]), "");
    assert_fails(
        &root.run(["diff", "nosuch-ct"]),
        1,
        "No such container: nosuch-ct",
    );
}

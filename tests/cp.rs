//! `berth cp` as a user sees it: Docker's path rules (a table checked against Docker 20.10, with
//! destination links followed inside the container, CVE-2019-10152), running and exited
//! containers, tar streams, and never running the container's own tools (CVE-2019-14271,
//! CVE-2026-41567). The attacks of a hostile container on cp (links to host paths, the
//! CVE-2018-15664 swap race, links swapped over the nodes cp makes) are in the security suite,
//! tests/security/cp.rs.

mod common;
#[path = "common/running.rs"]
mod running;

use common::*;
use running::Running;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

/// The container of the path-rule table (exited; it keeps its writable layer).
const SETUP: &str = "mkdir -p /d/sub /d/e; echo f1 > /d/f1; echo f2 > /d/sub/f2; echo f > /f; \
    ln -s /d /ln; ln -s /f /lnf; ln -s ../../../etc /esc; chmod 640 /d/f1; ln /d/f1 /d/hard; \
    mkfifo /d/fifo";

/// A fresh local directory for one case: edir/, efile ("old"), hf, hd/hx, hd/hsub/hy.
fn local_dir(base: &Path, case: &str) -> PathBuf {
    let dir = base.join(format!("case-{case}"));
    std::fs::create_dir_all(dir.join("edir")).unwrap();
    std::fs::create_dir_all(dir.join("hd/hsub")).unwrap();
    std::fs::write(dir.join("efile"), "old\n").unwrap();
    std::fs::write(dir.join("hf"), "hf\n").unwrap();
    std::fs::write(dir.join("hd/hx"), "x\n").unwrap();
    std::fs::write(dir.join("hd/hsub/hy"), "y\n").unwrap();
    dir
}

/// What a case left: `./path type mode;` for everything but the seeded files, sorted (as
/// `find -printf '%p %y %m'` printed it for Docker).
fn listing(dir: &Path) -> String {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let path = e.path();
            let rel = format!("./{}", path.strip_prefix(base).unwrap().display());
            let seeded = ["./hd", "./hf", "./efile", "./edir"];
            let under_hd = rel.starts_with("./hd/");
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let ft = meta.file_type();
            let t = if ft.is_dir() {
                "d"
            } else if ft.is_symlink() {
                "l"
            } else if ft.is_file() {
                "f"
            } else {
                "p"
            };
            if !seeded.contains(&rel.as_str()) && !under_hd {
                out.push(format!(
                    "{rel} {t} {:o}",
                    meta.permissions().mode() & 0o7777
                ));
            }
            if ft.is_dir() && !under_hd && rel != "./hd" {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out.iter().map(|l| format!("{l};")).collect()
}

/// `berth cp` in `dir`, with `C` in the arguments standing for the container.
fn cp_in(root: &TestRoot, dir: &Path, ct: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let args: Vec<String> = std::iter::once("cp".to_string())
        .chain(args.iter().map(|a| a.replacen("C:", &format!("{ct}:"), 1)))
        .collect();
    let mut cmd = root.berth(&args);
    cmd.current_dir(dir);
    match stdin {
        None => cmd.output().unwrap(),
        Some(data) => {
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(data).unwrap();
            child.wait_with_output().unwrap()
        }
    }
}

/// A tar archive of `hf` in `dir` (as `tar -c hf` makes it).
fn tar_of_hf(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_path_with_name(dir.join("hf"), "hf").unwrap();
    b.into_inner().unwrap()
}

enum Expect {
    /// Success, and what the local directory then holds.
    Tree(&'static str),
    /// Exit 1 with this in the one-line error.
    Fails(&'static str),
}

const D_TREE: &str =
    "d 755;@/e d 755;@/f1 f 640;@/fifo p 644;@/hard f 640;@/sub d 755;@/sub/f2 f 644;";
const HD_TREE: &str = "d 755;@/hsub d 755;@/hsub/hy f 644;@/hx f 644;";

/// `./X ` + D_TREE with @ = ./X.
fn tree_at(at: &str, tree: &str) -> String {
    format!("{at} {}", tree.replace('@', at))
}

/// Docker's path rules, case by case. Every expectation is what Docker 20.10.24 (Debian's
/// dockerd) did with the same container and files (its messages are quoted where berth's
/// differ in wording only; the outcome and exit code are the same). Cases run in order on one
/// container, as they did against Docker: the copies into it come last.
#[test]
fn cp_path_rules_table() {
    let root = TestRoot::with_busybox();
    let ct = unique("cpt");
    root.ok(["run", "--name", &ct, "busybox", "sh", "-c", SETUP]);
    let d_new = tree_at("./new", D_TREE);
    let d_x = tree_at("./x", D_TREE);
    let d_in_edir = tree_at("./edir/d", D_TREE);
    let d_dot_edir = D_TREE
        .split(';')
        .skip(1)
        .filter(|s| !s.is_empty())
        .map(|s| format!("{};", s.replace('@', "./edir")))
        .collect::<String>();
    let hd_out = tree_at("./out", HD_TREE);
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, &[&str], Option<&[&str]>, Expect)> = vec![
        (
            "file-new",
            &["C:/f", "new"],
            None,
            Expect::Tree("./new f 644;"),
        ),
        (
            "file-into-dir",
            &["C:/f", "edir"],
            None,
            Expect::Tree("./edir/f f 644;"),
        ),
        (
            "file-into-dir-slash",
            &["C:/f", "edir/"],
            None,
            Expect::Tree("./edir/f f 644;"),
        ),
        ("file-over-file", &["C:/f", "efile"], None, Expect::Tree("")),
        // Docker: "no such directory"
        (
            "file-to-missing-dir-slash",
            &["C:/f", "nodir/"],
            None,
            Expect::Fails("no such directory"),
        ),
        // Docker: "lstat …/merged/f/: not a directory"
        (
            "file-trailing-slash",
            &["C:/f/", "new"],
            None,
            Expect::Fails("not a directory"),
        ),
        (
            "file-slash-dot",
            &["C:/f/.", "new"],
            None,
            Expect::Fails("not a directory"),
        ),
        // Docker: invalid output path: directory "…/nodir" does not exist
        (
            "file-missing-parent",
            &["C:/f", "nodir/x"],
            None,
            Expect::Fails("does not exist"),
        ),
        (
            "dir-new",
            &["C:/d", "new"],
            None,
            Expect::Tree(leak(d_new.clone())),
        ),
        (
            "dir-new-slash",
            &["C:/d", "new/"],
            None,
            Expect::Tree(leak(d_new.clone())),
        ),
        (
            "dir-into-dir",
            &["C:/d", "edir"],
            None,
            Expect::Tree(leak(d_in_edir.clone())),
        ),
        (
            "dir-slash-into-dir",
            &["C:/d/", "edir"],
            None,
            Expect::Tree(leak(d_in_edir.clone())),
        ),
        (
            "dir-dot-into-dir",
            &["C:/d/.", "edir"],
            None,
            Expect::Tree(leak(d_dot_edir.clone())),
        ),
        (
            "dir-dot-new",
            &["C:/d/.", "new"],
            None,
            Expect::Tree(leak(d_new.clone())),
        ),
        // Docker: "cannot copy directory"
        (
            "dir-onto-file",
            &["C:/d", "efile"],
            None,
            Expect::Fails("cannot copy directory"),
        ),
        (
            "symlink-copied",
            &["C:/ln", "x"],
            None,
            Expect::Tree("./x l 777;"),
        ),
        (
            "symlink-L",
            &["-L", "C:/ln", "x"],
            None,
            Expect::Tree(leak(d_x.clone())),
        ),
        (
            "symlink-slash",
            &["C:/ln/", "x"],
            None,
            Expect::Tree(leak(d_x.clone())),
        ),
        (
            "symlink-file-L",
            &["-L", "C:/lnf", "x"],
            None,
            Expect::Tree("./x f 644;"),
        ),
        (
            "escape-link-stays-inside",
            &["C:/esc/passwd", "x"],
            None,
            Expect::Tree("./x f 644;"),
        ),
        // Docker: "Error: No such container:path: cpt:/nonexist"
        (
            "missing-path",
            &["C:/nonexist", "x"],
            None,
            Expect::Fails(":/nonexist"),
        ),
        (
            "missing-container",
            &["nosuch-ct:/f", "x"],
            None,
            Expect::Fails("No such container:path: nosuch-ct:/f"),
        ),
        (
            "dir-dot-into-cwd",
            &["C:/d/sub/.", "."],
            None,
            Expect::Tree("./f2 f 644;"),
        ),
        (
            "file-into-cwd",
            &["C:/d/f1", "."],
            None,
            Expect::Tree("./f1 f 640;"),
        ),
        (
            "both-local",
            &["hf", "x"],
            None,
            Expect::Fails("must specify at least one container source"),
        ),
        (
            "both-container",
            &["C:/f", "C:/g"],
            None,
            Expect::Fails("copying between containers is not supported"),
        ),
        (
            "in-file-new",
            &["hf", "C:/in1"],
            Some(&["C:/in1", "out"]),
            Expect::Tree("./out f 644;"),
        ),
        (
            "in-file-into-dir",
            &["hf", "C:/d"],
            Some(&["C:/d/hf", "out"]),
            Expect::Tree("./out f 644;"),
        ),
        (
            "in-file-over-file",
            &["hf", "C:/f"],
            Some(&["C:/f", "out"]),
            Expect::Tree("./out f 644;"),
        ),
        (
            "in-file-missing-dir-slash",
            &["hf", "C:/nodir/"],
            None,
            Expect::Fails("no such directory"),
        ),
        // Docker: "Error: No such container:path: cpt:/nodir"
        (
            "in-file-missing-parent",
            &["hf", "C:/nodir/x"],
            None,
            Expect::Fails(":/nodir"),
        ),
        (
            "in-file-slash-src",
            &["hf/", "C:/x"],
            None,
            Expect::Fails("not a directory"),
        ),
        (
            "in-dir-new",
            &["hd", "C:/in2"],
            Some(&["C:/in2", "out"]),
            Expect::Tree(leak(hd_out.clone())),
        ),
        (
            "in-dir-into-dir",
            &["hd", "C:/d"],
            Some(&["C:/d/hd", "out"]),
            Expect::Tree(leak(hd_out.clone())),
        ),
        (
            "in-dir-dot-into-dir",
            &["hd/.", "C:/d/e"],
            Some(&["C:/d/e", "out"]),
            Expect::Tree(leak(hd_out.clone())),
        ),
        (
            "in-dir-onto-file-link",
            &["hd", "C:/lnf"],
            None,
            Expect::Fails("cannot copy directory"),
        ),
        (
            "in-dir-onto-file",
            &["hd", "C:/f"],
            None,
            Expect::Fails("cannot copy directory"),
        ),
        // The destination symlink is followed inside the container (CVE-2019-10152).
        (
            "in-file-onto-symlink-dir",
            &["hf", "C:/ln"],
            Some(&["C:/d/hf", "out"]),
            Expect::Tree("./out f 644;"),
        ),
        (
            "in-file-onto-escape-link",
            &["hf", "C:/esc"],
            Some(&["C:/etc/hf", "out"]),
            Expect::Tree("./out f 644;"),
        ),
        // Docker: "lstat /abs/path/nosuch: no such file or directory"
        (
            "in-missing-src",
            &["nosuch", "C:/x"],
            None,
            Expect::Fails("nosuch: no such file or directory"),
        ),
        // Docker: destination "cpt:/f" must be a directory
        (
            "tar-in-not-a-dir",
            &["-", "C:/f"],
            None,
            Expect::Fails("must be a directory"),
        ),
        (
            "tar-in",
            &["-", "C:/d/e"],
            Some(&["C:/d/e/hf", "out"]),
            Expect::Tree("./out f 644;"),
        ),
    ];
    assert!(cases.len() >= 20);
    let base = root.dir.join("local");
    for (name, args, then, expect) in cases {
        let dir = local_dir(&base, name);
        let stdin = (args[0] == "-").then(|| tar_of_hf(&dir));
        let out = cp_in(&root, &dir, &ct, args, stdin.as_deref());
        match expect {
            Expect::Fails(needle) => {
                let err = stderr(&out);
                assert_eq!(out.status.code(), Some(1), "{name}: {err}");
                assert!(err.contains(needle), "{name}: {err:?} lacks {needle:?}");
                assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
                assert_eq!(listing(&dir), "", "{name}: left something behind");
            }
            Expect::Tree(tree) => {
                assert!(out.status.success(), "{name}: {}", stderr(&out));
                if let Some(then) = then {
                    let out = cp_in(&root, &dir, &ct, then, None);
                    assert!(out.status.success(), "{name} (copy back): {}", stderr(&out));
                }
                assert_eq!(listing(&dir), tree, "{name}");
            }
        }
        match name {
            "file-over-file" => {
                assert_eq!(std::fs::read_to_string(dir.join("efile")).unwrap(), "f\n")
            }
            "escape-link-stays-inside" => {
                let theirs = std::fs::read_to_string(dir.join("x")).unwrap();
                assert!(theirs.starts_with("root:x:0:0:"), "{theirs}");
                assert_ne!(
                    theirs,
                    std::fs::read_to_string("/etc/passwd").unwrap(),
                    "read the host's /etc/passwd"
                );
            }
            "in-file-onto-escape-link" => {
                assert!(!Path::new("/etc/hf").exists(), "wrote the host's /etc")
            }
            _ => {}
        }
    }
    // Modes, mtimes and hard links survive a copy out.
    let dir = local_dir(&base, "meta");
    assert_ok(&cp_in(&root, &dir, &ct, &["C:/d", "new"], None));
    let f1 = std::fs::metadata(dir.join("new/f1")).unwrap();
    let hard = std::fs::metadata(dir.join("new/hard")).unwrap();
    assert_eq!(f1.ino(), hard.ino(), "hard link not kept");
    assert_eq!(f1.nlink(), 2);
    let out = cp_in(&root, &dir, &ct, &["C:/d", "-"], None);
    assert_ok(&out);
    let mut archive = tar::Archive::new(&out.stdout[..]);
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        if entry.path().unwrap().ends_with("f1") {
            assert_eq!(entry.header().mtime().unwrap() as i64, f1.mtime());
        }
    }
}

/// The seed exercise: two containers from one image each write a random number and exit;
/// copying the file out of each gives two different files.
#[test]
fn seed_exercise_two_containers_two_numbers() {
    let root = TestRoot::with_busybox();
    let local = root.dir.join("local");
    std::fs::create_dir_all(&local).unwrap();
    let (rn1, rn2) = (unique("rn1"), unique("rn2"));
    for rn in [&rn1, &rn2] {
        root.ok([
            "run",
            "--name",
            rn,
            "busybox",
            "sh",
            "-c",
            "mkdir -p /random; head -c 16 /dev/urandom | od -An -tx1 > /random/number.txt",
        ]);
    }
    let one = local.join("number1.txt");
    let two = local.join("number2.txt");
    root.ok([
        "cp",
        &format!("{rn1}:/random/number.txt"),
        one.to_str().unwrap(),
    ]);
    root.ok([
        "cp",
        &format!("{rn2}:/random/number.txt"),
        two.to_str().unwrap(),
    ]);
    let (a, b) = (
        std::fs::read_to_string(&one).unwrap(),
        std::fs::read_to_string(&two).unwrap(),
    );
    assert!(!a.trim().is_empty() && !b.trim().is_empty());
    assert_ne!(a, b);
}

/// A copy into a running container is visible to its processes at once; one out of it sees
/// what they wrote; the filesystem of an exited one keeps what was copied in.
#[test]
fn running_and_exited_containers() {
    let root = TestRoot::with_busybox();
    let name = unique("live");
    let _ct = Running::sleeping(&root, &name);
    let local = root.dir.join("local");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("page.html"), "new page\n").unwrap();
    root.ok([
        "cp",
        local.join("page.html").to_str().unwrap(),
        &format!("{name}:/www/index.html"),
    ]);
    assert_eq!(
        root.ok(["exec", &name, "cat", "/www/index.html"]),
        "new page\n"
    );
    root.ok(["exec", &name, "sh", "-c", "echo from inside > /tmp/made"]);
    root.ok([
        "cp",
        &format!("{name}:/tmp/made"),
        local.join("made").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(local.join("made")).unwrap(),
        "from inside\n"
    );
    // Mount points of the running container are seen as it sees them.
    root.ok([
        "cp",
        &format!("{name}:/etc/hostname"),
        local.join("hostname").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(local.join("hostname"))
            .unwrap()
            .trim()
            .len(),
        12
    );

    let exited = unique("exited");
    root.ok([
        "run",
        "--name",
        &exited,
        "busybox",
        "sh",
        "-c",
        "cat /www/page.html 2>/dev/null || echo no page yet",
    ]);
    root.ok([
        "cp",
        local.join("page.html").to_str().unwrap(),
        &format!("{exited}:/www/"),
    ]);
    root.ok([
        "cp",
        &format!("{exited}:/www/page.html"),
        local.join("back").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(local.join("back")).unwrap(),
        "new page\n"
    );
    // Started again, the container finds what was copied into it while it was stopped.
    assert_eq!(root.ok(["start", "-a", &exited]), "new page\n");
    // The copy's mount lived only in a private namespace of a child: nothing is left mounted.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(root.dir.to_str().unwrap()),
        "a mount was left on the host"
    );
}

/// Ownership: without -a, what is copied in belongs to root and what is copied out to the
/// caller; with -a, the source's uid/gid are kept (Docker's documented rule; Docker 20.10
/// itself kept the source's ids on the way in even without -a, and never on the way out).
#[test]
fn ownership_with_and_without_archive_mode() {
    let root = TestRoot::with_busybox();
    let ct = unique("own");
    root.ok([
        "run",
        "--name",
        &ct,
        "busybox",
        "sh",
        "-c",
        "echo y > /cf; chown 1000:1001 /cf",
    ]);
    let local = root.dir.join("local");
    std::fs::create_dir_all(&local).unwrap();
    let f = local.join("f");
    std::fs::write(&f, "x").unwrap();
    std::os::unix::fs::chown(&f, Some(1234), Some(5678)).unwrap();
    root.ok(["cp", f.to_str().unwrap(), &format!("{ct}:/plain")]);
    root.ok(["cp", "-a", f.to_str().unwrap(), &format!("{ct}:/kept")]);
    for (path, ids) in [("/plain", (0, 0)), ("/kept", (1234, 5678))] {
        let back = local.join(format!("back{}", path.replace('/', "-")));
        root.ok(["cp", "-a", &format!("{ct}:{path}"), back.to_str().unwrap()]);
        let m = std::fs::metadata(&back).unwrap();
        assert_eq!((m.uid(), m.gid()), ids, "{path}");
    }
    let out = local.join("cf");
    root.ok(["cp", &format!("{ct}:/cf"), out.to_str().unwrap()]);
    let m = std::fs::metadata(&out).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
    let out = local.join("cf-a");
    root.ok(["cp", "-a", &format!("{ct}:/cf"), out.to_str().unwrap()]);
    let m = std::fs::metadata(&out).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1001));
}

/// A trojan decompressor in the container is never run (CVE-2026-41567): gzip is decoded
/// in-process; other compressions are refused with a clear error.
#[test]
fn compressed_archives_never_run_container_tools() {
    let root = TestRoot::with_busybox();
    let canary_path = root.dir.join("trojan-ran");
    let ct = unique("trojan");
    let trojan = format!("mkdir -p /in; for t in xz unpigz gzip gunzip zstd bzip2; do printf '#!/bin/sh\\ntouch {}\\n' > /usr/bin/$t; chmod 755 /usr/bin/$t; done", canary_path.display());
    root.ok(["run", "--name", &ct, "busybox", "sh", "-c", &trojan]);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "gz.txt", &b"gz\n"[..]).unwrap();
    let plain = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let send = |data: &[u8]| {
        let mut child = root
            .berth(["cp", "-", &format!("{ct}:/in")])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        child.wait_with_output().unwrap()
    };
    assert_ok(&send(&gz));
    assert!(root
        .ok(["cp", &format!("{ct}:/in/gz.txt"), "-"])
        .contains("gz"));
    let mut xz = b"\xfd7zXZ\0".to_vec();
    xz.extend_from_slice(&[0; 64]);
    assert_fails(&send(&xz), 1, "xz-compressed archives are not supported");
    assert!(
        !canary_path.exists(),
        "a decompressor from the container ran"
    );
}

/// Bad input: clear one-line errors, exit 1, nothing partial left at the destination.
#[test]
fn bad_input_leaves_nothing_behind() {
    let root = TestRoot::with_busybox();
    let ct = unique("bad");
    root.ok([
        "run",
        "--name",
        &ct,
        "busybox",
        "sh",
        "-c",
        "mkdir -p /d/sub; echo a > /d/a; echo b > /d/sub/b",
    ]);
    let local = root.dir.join("local");
    std::fs::create_dir_all(local.join("dst")).unwrap();
    let dst = local.join("dst");
    // A read-only destination (permission denied for writes): nothing is created.
    let ro = local.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    assert!(std::process::Command::new("mount")
        .args(["--bind", ro.to_str().unwrap(), ro.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    assert!(std::process::Command::new("mount")
        .args(["-o", "remount,bind,ro", ro.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let out = root.run(["cp", &format!("{ct}:/d"), ro.to_str().unwrap()]);
    let _ = std::process::Command::new("umount").arg(&ro).status();
    assert_fails(&out, 1, "Read-only file system");
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
    // Directory onto a file, missing things.
    std::fs::write(dst.join("file"), "keep").unwrap();
    assert_fails(
        &root.run([
            "cp",
            &format!("{ct}:/d"),
            dst.join("file").to_str().unwrap(),
        ]),
        1,
        "cannot copy directory",
    );
    assert_eq!(std::fs::read_to_string(dst.join("file")).unwrap(), "keep");
    assert_fails(
        &root.run(["cp", &format!("{ct}:/nope"), dst.to_str().unwrap()]),
        1,
        ":/nope",
    );
    assert_fails(
        &root.run(["cp", "nosuch-ct:/d", dst.to_str().unwrap()]),
        1,
        "No such container:path: nosuch-ct:/d",
    );
    assert_fails(
        &root.run(["cp", "-", dst.to_str().unwrap()]),
        1,
        "must specify at least one container source",
    );
    // A tar stream that turns bad half-way: the new directory it was building is removed.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "newdir/ok", &b"ok"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Link);
    h.set_link_name("not/in/archive").unwrap();
    b.append_data(&mut h, "newdir/bad", &b""[..]).unwrap();
    let bad = b.into_inner().unwrap();
    let mut child = root
        .berth(["cp", "-", &format!("{ct}:/d")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bad).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_fails(&out, 1, "hard link to an entry not in the archive");
    let listing = root.ok(["cp", &format!("{ct}:/d"), "-"]);
    assert!(
        !listing.contains("newdir") && !listing.contains(".berth-cp-"),
        "partial copy left: {listing}"
    );
    // Nothing temporary left locally either.
    let names: Vec<String> = std::fs::read_dir(&dst)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["file"]);
}

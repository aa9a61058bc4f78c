//! `berth cp` against a hostile container: links in the container that name host paths, `/` or
//! `../..` (CVE-2019-10152, CVE-2021-41089), a running container that swaps a path between a
//! directory and such links while cp goes in and out (CVE-2018-15664), one that swaps links over
//! the names cp creates its nodes under (so that metadata set by name lands on a host file, the
//! class of CVE-2021-32760 and CVE-2021-41089), and links copied out whose targets climb out of
//! the destination (Docker refuses them: moby pkg/archive, createTarFile, "invalid symlink").

use super::common::{assert_fails, assert_ok, stderr, unique, TestRoot};
use super::running::Running;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A host file that a link swapped in by the container points at: its mode, owner and mtime
/// must never change.
struct Canary {
    path: PathBuf,
    /// (mode in octal, uid, gid, mtime)
    before: (String, u32, u32, i64),
}

impl Canary {
    fn new(dir: &Path) -> Canary {
        let path = dir.join("canary");
        std::fs::write(&path, "host file\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let old = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &path,
            &old,
            &old,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
        let before = Canary::state(&path);
        assert_eq!(before, ("600".into(), 0, 0, 1_000_000_000), "canary set-up");
        Canary { path, before }
    }

    fn state(path: &Path) -> (String, u32, u32, i64) {
        let m = std::fs::symlink_metadata(path).unwrap();
        (
            format!("{:o}", m.mode() & 0o7777),
            m.uid(),
            m.gid(),
            m.mtime(),
        )
    }

    #[track_caller]
    fn check(&self, when: &str) {
        assert_eq!(
            Canary::state(&self.path),
            self.before,
            "the host canary's (mode, uid, gid, mtime) changed {when}"
        );
    }
}

/// cp into a running container makes fifos and device nodes under a temporary name beside their
/// final one (`.berth-cp-PID-SEQ-NAME`); the container swaps a symlink to a host file over every
/// such name it sees, as fast as a shell can, while 200 copies of a directory of fifos (with and
/// without -a) go in. Mode, owner and times are set on the node berth made, never through a link:
/// the host file keeps its mode, owner and mtime.
#[test]
fn cp_in_node_metadata_never_follows_a_swapped_link() {
    let root = TestRoot::with_busybox();
    let canary = Canary::new(&root.dir);
    // The source: fifos whose mode, owner and mtime all differ from the canary's, and files.
    let src = root.dir.join("src").join("d");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..24 {
        let fifo = src.join(format!("p{i:02}"));
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o757)).unwrap();
        std::os::unix::fs::lchown(&fifo, Some(1234), Some(1234)).unwrap();
        let t = nix::sys::time::TimeSpec::new(1_500_000_000, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &fifo,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
    for i in 0..4 {
        std::fs::write(src.join(format!("f{i}")), "file\n").unwrap();
    }
    let target = canary.path.to_str().unwrap();
    // Every non-directory `.berth-cp-*` name under /dst (top level, inside a new top-level
    // directory still under its temporary name, inside an existing one) becomes a link to the
    // canary: `ln -sf` replaces it in one process. Bounded: 60 s, and the guard kills it.
    let swap = format!(
        "mkdir -p /dst; end=$(( $(date +%s) + 60 )); n=0; \
         while [ $(date +%s) -lt $end ]; do \
           for f in /dst/.berth-cp-* /dst/*/.berth-cp-* /dst/.berth-cp-*/.berth-cp-*; do \
             if [ -L \"$f\" ] || [ -d \"$f\" ] || [ ! -e \"$f\" ]; then continue; fi; \
             ln -sf {target} \"$f\" 2>/dev/null && n=$((n+1)) && echo $n > /swaps; \
           done; \
         done"
    );
    let name = unique("cp-swap");
    let _ct = Running::start(&root, &name, &["busybox", "sh", "-c", &swap]);
    let src_arg = src.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut copies, mut failed) = (0, 0);
    let mut errors = std::collections::BTreeMap::<String, u32>::new();
    while copies < 200 && Instant::now() < deadline {
        // Alternately a merge into the existing /dst/d (nodes made in it directly) and a new
        // directory (nodes made inside its temporary name), with and without -a.
        let out = if copies % 2 == 0 {
            root.run(["cp", "-a", src_arg, &format!("{name}:/dst/")])
        } else {
            root.run(["cp", src_arg, &format!("{name}:/dst/n{copies}")])
        };
        if !out.status.success() {
            // A copy that lost a race may fail, with a clear error; it must not escape.
            failed += 1;
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            let err = stderr(&out);
            assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
            // Counted by what happened, not by which entry.
            let what = if err.contains("was replaced while it was being created") {
                "replaced".to_string()
            } else if err.contains("ENOENT") {
                "gone".to_string()
            } else {
                err.trim().to_string()
            };
            *errors.entry(what).or_default() += 1;
        }
        copies += 1;
        canary.check(&format!("after {copies} copies"));
    }
    assert_eq!(copies, 200, "only {copies} copies in 30 s");
    let swaps = root.ok(["exec", &name, "cat", "/swaps"]);
    let swaps: u32 = swaps.trim().parse().unwrap_or(0);
    assert!(
        swaps > 0,
        "the container never swapped a link in: the test proved nothing"
    );
    // Copies the container did not hit succeed.
    assert!(failed < copies, "every copy failed");
    eprintln!("{copies} copies, {failed} failed {errors:?}, {swaps} links swapped in");
    canary.check("at the end");
}

/// A copy out writes on the host a symlink from the container. Docker (20.10 as today) refuses,
/// when it extracts a copy, any symlink whose target, taken lexically from the link's directory,
/// climbs above the directory it extracts into (moby pkg/archive, createTarFile: a breakoutError
/// `invalid symlink "DEST/.../link" -> "TARGET"`): such a link left on the host leads whoever
/// follows it later to host files (`../../../../etc/shadow`). An absolute target is taken under
/// that directory too, so it passes as written. berth fails the whole copy the same way, exit 1,
/// and leaves nothing at the destination, not even the entries listed before the bad link; links
/// that stay inside still copy as they are.
#[test]
fn cp_out_refuses_links_that_climb_out_of_the_destination() {
    let root = TestRoot::with_busybox();
    let ct = unique("cp-links");
    let setup = "mkdir -p /d/sub /ok/sub; echo a > /d/a; echo a > /ok/a; \
        ln -s ../../../../etc/shadow /d/sub/up; ln -s ../../../../etc/shadow /up; \
        ln -s ../a /ok/sub/in; ln -s /etc/shadow /ok/abs; ln -s .. /ok/sub/parent; \
        ln -s sub/../../beside /ok/beside";
    root.ok(["run", "--name", &ct, "busybox", "sh", "-c", setup]);
    let local = root.dir.join("local");
    std::fs::create_dir_all(local.join("edir")).unwrap();
    std::fs::write(local.join("edir/keep"), "keep").unwrap();
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let shown = local.to_str().unwrap();
    let cases = [
        // A new directory (built under a temporary name), given as a relative path: the error
        // names the link where it would have been, as an absolute path (as Docker's CLI does).
        ("/d", "new", format!("{shown}/new/sub/up")),
        // Merged into an existing directory: `a` comes before `sub/up` and is not left behind.
        ("/d/.", "edir", format!("{shown}/edir/sub/up")),
        // The link alone.
        ("/up", "x", format!("{shown}/x")),
    ];
    for (src, dst, link) in cases {
        let out = root
            .berth(["cp", &format!("{ct}:{src}"), dst])
            .current_dir(&local)
            .output()
            .unwrap();
        let msg = format!("invalid symlink {link:?} -> \"../../../../etc/shadow\"");
        assert_fails(&out, 1, &msg);
        assert_eq!(names(&local), ["edir"], "{src}: left something");
        assert_eq!(
            names(&local.join("edir")),
            ["keep"],
            "{src}: left something"
        );
    }
    // As a tar stream the link goes out as it is (Docker's daemon sends it so; the check is
    // made where a copy is extracted).
    let tar = root.run(["cp", &format!("{ct}:/d"), "-"]);
    assert_ok(&tar);
    let mut archive = tar::Archive::new(&tar.stdout[..]);
    let up = archive
        .entries()
        .unwrap()
        .flatten()
        .find(|e| e.path().unwrap().ends_with("sub/up"))
        .expect("sub/up in the stream");
    assert_eq!(
        up.link_name().unwrap().unwrap().to_str(),
        Some("../../../../etc/shadow")
    );
    // Links that stay inside the destination copy as they are.
    let ok = local.join("okcopy");
    root.ok(["cp", &format!("{ct}:/ok"), ok.to_str().unwrap()]);
    for (link, target) in [
        ("sub/in", "../a"),
        ("abs", "/etc/shadow"),
        ("sub/parent", ".."),
        // `local/beside`: out of the copy but not of the directory it was extracted into.
        ("beside", "sub/../../beside"),
    ] {
        let got = std::fs::read_link(ok.join(link)).unwrap();
        assert_eq!(got.to_str(), Some(target), "{link}");
    }
    assert_eq!(std::fs::read_to_string(ok.join("sub/in")).unwrap(), "a\n");
}

/// Host canaries: a directory with a secret file. Its listing and content before a test must
/// be the same after, and the secret must never come out of a copy.
struct CanaryDir {
    dir: PathBuf,
}

const SECRET: &str = "HOST-SECRET-CANARY";

impl CanaryDir {
    fn new(root: &TestRoot) -> CanaryDir {
        let dir = root.dir.join("canary");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), SECRET).unwrap();
        std::fs::set_permissions(dir.join("secret"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        CanaryDir { dir }
    }
    #[track_caller]
    fn check(&self) {
        let names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["secret"],
            "something was written into the host canary dir"
        );
        let meta = std::fs::metadata(self.dir.join("secret")).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o7777,
            0o600,
            "canary mode changed"
        );
        assert_eq!(
            std::fs::read_to_string(self.dir.join("secret")).unwrap(),
            SECRET
        );
    }
}

/// Symlinks in the container that point at host paths, `/` or `../../..` resolve inside the
/// container, for reads and writes, with or without -L and -a (CVE-2019-10152, CVE-2021-41089).
#[test]
fn container_symlinks_never_reach_the_host() {
    let root = TestRoot::with_busybox();
    let canary = CanaryDir::new(&root);
    let host = canary.dir.to_str().unwrap().to_string();
    let ct = unique("links");
    let setup = format!("ln -s {host} /hostdir; ln -s {host}/secret /hostfile; ln -s ../../../../../../{host} /dots; ln -s /tmp /test; mkdir /w; ln -s / /w/root");
    root.ok(["run", "--name", &ct, "busybox", "sh", "-c", &setup]);
    let local = root.dir.join("local");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("hf"), "hf\n").unwrap();
    let hf = local.join("hf").to_str().unwrap().to_string();
    let c = |p: &str| format!("{ct}:{p}");
    // Reads: the host path does not exist inside the container.
    for src in [
        "/hostfile",
        "/hostdir/secret",
        "/dots/secret",
        "/w/root/../../hostdir/secret",
    ] {
        for flags in [&[][..], &["-L"][..]] {
            let dst = local.join("out");
            let mut args = vec!["cp"];
            args.extend_from_slice(flags);
            let src_arg = c(src);
            args.push(&src_arg);
            args.push(dst.to_str().unwrap());
            let out = root.run(&args);
            let meta = std::fs::symlink_metadata(&dst);
            if meta.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
                // Without -L the link itself is copied, as it is (what it names on the host is
                // the user's business, as with Docker); berth read nothing through it.
                assert!(flags.is_empty(), "{src} -L copied a link");
                let _ = std::fs::remove_file(&dst);
            } else if meta.is_ok() {
                let got = std::fs::read(&dst).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&got).contains(SECRET),
                    "{src} {flags:?} leaked the host file"
                );
                let _ = std::fs::remove_dir_all(&dst);
                let _ = std::fs::remove_file(&dst);
            } else {
                assert_eq!(out.status.code(), Some(1), "{src}: {}", stderr(&out));
            }
        }
        let out = root.run(["cp", &c(src), "-"]);
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(SECRET),
            "{src} as tar leaked"
        );
    }
    // Writes through links land inside the container (CVE-2019-10152: /test -> /tmp).
    root.ok(["cp", &hf, &c("/test")]);
    assert!(root.ok(["cp", &c("/tmp/hf"), "-"]).contains("hf"));
    for dst in [
        "/hostdir",
        "/hostdir/",
        "/dots/new",
        "/w/root/tmp/viaroot",
        "/hostfile",
    ] {
        let _ = root.run(["cp", "-a", &hf, &c(dst)]);
        canary.check();
    }
    assert!(!Path::new("/tmp/viaroot").exists(), "wrote the host's /tmp");
    // Tar entries cannot climb out either.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    // `append_data` refuses `..`; write the name into the header directly.
    h.as_gnu_mut().unwrap().name[..22].copy_from_slice(b"../../../../../../evil");
    h.set_cksum();
    b.append(&h, &b"evil"[..]).unwrap();
    let evil = b.into_inner().unwrap();
    let mut child = root
        .berth(["cp", "-", &c("/w")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&evil).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_fails(&out, 1, "leads out of the destination");
    assert!(!Path::new("/evil").exists());
    canary.check();
}

/// CVE-2018-15664: the running container swaps a path between a directory and symlinks to the
/// host canary and to `/` as fast as it can while cp goes in and out (bounded to ~3 s); the
/// canary is never read nor written.
#[test]
fn cve_2018_15664_symlink_swap_race() {
    let root = TestRoot::with_busybox();
    let canary = CanaryDir::new(&root);
    let host = canary.dir.to_str().unwrap().to_string();
    let name = unique("race");
    let swap = format!(
        "mkdir -p /w; end=$(( $(date +%s) + 60 )); while [ $(date +%s) -lt $end ]; do \
         rm -rf /w/d; mkdir /w/d; echo container > /w/d/secret; rm -rf /w/d; ln -s {host} /w/d; \
         rm -f /w/d; ln -s / /w/d; rm -f /w/d; done"
    );
    let _ct = Running::start(&root, &name, &["busybox", "sh", "-c", &swap]);
    let local = root.dir.join("local");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("hf"), "hf\n").unwrap();
    let hf = local.join("hf").to_str().unwrap().to_string();
    // When /w/d points at `/`, an escape would write the host's /hf or /secret.
    let host_root_files = [std::path::Path::new("/hf"), std::path::Path::new("/secret")];
    for f in host_root_files {
        assert!(
            !f.exists(),
            "{} exists already: the test could not tell",
            f.display()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut rounds = 0;
    while Instant::now() < deadline {
        let _ = root.run(["cp", &hf, &format!("{name}:/w/d/")]);
        let _ = root.run(["cp", "-a", &hf, &format!("{name}:/w/d/secret")]);
        let out = local.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_file(&out);
        let r = root.run(["cp", &format!("{name}:/w/d/secret"), out.to_str().unwrap()]);
        if let Ok(got) = std::fs::read_to_string(&out) {
            assert_ne!(got, SECRET, "read the host canary");
        }
        let r2 = root.run(["cp", &format!("{name}:/w/d"), "-"]);
        assert!(!String::from_utf8_lossy(&r2.stdout).contains(SECRET));
        let _ = r;
        canary.check();
        for f in host_root_files {
            assert!(!f.exists(), "cp wrote the host's {}", f.display());
        }
        rounds += 1;
    }
    assert!(rounds > 5, "too few rounds to mean anything: {rounds}");
    canary.check();
}

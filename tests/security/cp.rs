//! `berth cp` against a hostile container: a running container that swaps links over the names
//! cp creates its nodes under (so that metadata set by name lands on a host file, the class of
//! CVE-2021-32760 and CVE-2021-41089), and links copied out whose targets climb out of the
//! destination (Docker refuses them: moby pkg/archive, createTarFile, "invalid symlink").

use super::common::{assert_fails, assert_ok, stderr, unique, TestRoot};
use super::running::Running;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
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

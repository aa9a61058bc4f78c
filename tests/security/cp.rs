//! `berth cp` against a hostile container: a running container that swaps links over the names
//! cp creates its nodes under (so that metadata set by name lands on a host file, the class of
//! CVE-2021-32760 and CVE-2021-41089), and links copied out whose targets climb out of the
//! destination (Docker refuses them: moby pkg/archive, createTarFile, "invalid symlink").

use super::common::{stderr, unique, TestRoot};
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

//! Copy-up into a volume another container shares: it runs with the host's root before the new
//! container's pivot_root, so a name the other container plants in the volume while it runs (a
//! symlink to a host file) must never be followed; and a sparse file of the image stays sparse
//! in the volume, or one `run -v` could fill the disk.

use super::archive::{load_images, Image};
use super::common::{stderr, unique, TestRoot};
use super::layer_tar::{tar_bytes, Member};
use super::running::Running;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

const NAMES: usize = 100;

/// A root-owned 0600 host file outside the store, which the planted links point at.
struct Canary {
    dir: std::path::PathBuf,
}

impl Canary {
    fn new() -> Canary {
        let dir = std::env::temp_dir().join(unique("berth-copyup-canary"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("canary"), b"ORIGINAL").unwrap();
        std::fs::set_permissions(dir.join("canary"), PermissionsExt::from_mode(0o600)).unwrap();
        Canary { dir }
    }

    fn path(&self) -> String {
        self.dir.join("canary").to_string_lossy().into_owned()
    }

    #[track_caller]
    fn assert_untouched(&self) {
        let meta = std::fs::metadata(self.dir.join("canary")).unwrap();
        assert_eq!(
            std::fs::read(self.dir.join("canary")).unwrap(),
            b"ORIGINAL",
            "copy-up wrote the image's file through a planted link into the host file"
        );
        assert_eq!(
            meta.mode() & 0o7777,
            0o600,
            "copy-up chmodded the host file"
        );
        assert_eq!(
            (meta.uid(), meta.gid()),
            (0, 0),
            "copy-up chowned the host file"
        );
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Container A shares volume `shared` and, as soon as the copy-up of container B has put its
/// first entry there, plants a link to the host canary at each name B is about to copy
/// (/data/n0../data/n99, "PWNED", mode 0666, among eight 4 MiB files that give the race time).
/// Whether B's run fails or not, the host file keeps its content and mode.
#[test]
fn copy_up_never_follows_a_link_planted_by_a_sharing_container() {
    let root = TestRoot::with_busybox();
    let canary = Canary::new();
    let big = vec![b'x'; 4 << 20];
    let mut members = vec![Member::Dir("data", 0o755)];
    let bigs: Vec<String> = (0..8).map(|i| format!("data/a{i}")).collect();
    let smalls: Vec<String> = (0..NAMES).map(|i| format!("data/n{i}")).collect();
    for name in &bigs {
        members.push(Member::File(name, &big));
    }
    for name in &smalls {
        members.push(Member::Mode(name, 0o666, b"PWNED"));
    }
    let image = unique("copyup-race");
    load_images(
        &root,
        &[Image {
            tag: format!("{image}:latest"),
            config: json!({"Cmd": ["true"]}),
            layers: vec![tar_bytes(&members)],
        }],
    );

    let vol = unique("shared");
    // Wait (no fork per turn) until the volume has an entry, then link every name not yet there.
    let planter = format!(
        "end=$(( $(date +%s) + 60 )); \
         while [ $(date +%s) -lt $end ]; do set -- /x/*; [ -e \"$1\" ] && break; done; \
         i=0; while [ $i -lt {NAMES} ]; do ln -s {} /x/n$i 2>/dev/null; i=$((i+1)); done; \
         sleep 600",
        canary.path()
    );
    let a = Running::start(
        &root,
        &unique("planter"),
        &["-v", &format!("{vol}:/x"), "busybox", "sh", "-c", &planter],
    );
    let out = root.run(["run", "--rm", "-v", &format!("{vol}:/data"), &image]);
    let planted = (0..NAMES)
        .filter(|i| {
            let p = root.dir.join(format!("volumes/{vol}/_data/n{i}"));
            std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
        })
        .count();
    drop(a);
    canary.assert_untouched();
    eprintln!(
        "copy-up race: run {} ({}), {planted} of {NAMES} names planted",
        out.status,
        stderr(&out).trim()
    );
    if !out.status.success() {
        assert!(
            stderr(&out).contains("appeared in the volume while it was filled"),
            "{}",
            stderr(&out)
        );
    }
}

const GIB: u64 = 1 << 30;

/// A GNU sparse member (old GNU type 'S') of `real_size` bytes whose only data are `segments`
/// (offset, bytes), each a whole number of 512-byte blocks.
fn sparse_member(name: &str, segments: &[(u64, &[u8])], real_size: u64) -> Vec<u8> {
    let data: Vec<u8> = segments.iter().flat_map(|(_, d)| d.to_vec()).collect();
    let mut header = tar::Header::new_gnu();
    header.set_path(name).unwrap();
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_704_067_200);
    header.set_entry_type(tar::EntryType::GNUSparse);
    header.set_size(data.len() as u64);
    let gnu = header.as_gnu_mut().unwrap();
    gnu.set_real_size(real_size);
    for (slot, (off, d)) in gnu.sparse.iter_mut().zip(segments) {
        slot.set_offset(*off);
        slot.set_length(d.len() as u64);
    }
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(&data);
    while out.len() % 512 != 0 {
        out.push(0);
    }
    out
}

/// A 1 GiB sparse file with two 4 KiB data segments, copied up into a new volume, takes a few
/// blocks there (not a gigabyte) and reads back its data at its offsets.
#[test]
fn copy_up_keeps_a_sparse_file_sparse() {
    let root = TestRoot::with_busybox();
    let head = vec![b'h'; 4096];
    let tail = vec![b't'; 4096];
    let mut layer = tar_bytes(&[Member::Dir("data", 0o755)]);
    layer.truncate(layer.len() - 1024); // drop the end-of-archive blocks
    layer.extend(sparse_member(
        "data/big",
        &[(0, &head), (GIB - 4096, &tail)],
        GIB,
    ));
    layer.extend_from_slice(&[0u8; 1024]);
    let image = unique("copyup-sparse");
    load_images(
        &root,
        &[Image {
            tag: format!("{image}:latest"),
            config: json!({"Cmd": ["true"]}),
            layers: vec![layer],
        }],
    );
    let vol = unique("sparse");
    let started = Instant::now();
    let out = root.run(["run", "--rm", "-v", &format!("{vol}:/data"), &image]);
    super::common::assert_ok(&out);
    let big = root.dir.join(format!("volumes/{vol}/_data/big"));
    let meta = std::fs::metadata(&big).unwrap();
    assert_eq!(meta.len(), GIB);
    let on_disk = meta.blocks() * 512;
    assert!(
        on_disk <= 1 << 20,
        "the copy of a sparse 1 GiB file takes {on_disk} bytes on disk"
    );
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(&big).unwrap();
    let mut buf = vec![0u8; 4096];
    for (offset, want) in [(0, b'h'), (GIB / 2, 0), (GIB - 4096, b't')] {
        file.read_exact_at(&mut buf, offset).unwrap();
        assert!(buf.iter().all(|b| *b == want), "bytes at {offset}");
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}

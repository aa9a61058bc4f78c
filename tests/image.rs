//! The image verbs as a user meets them: `load` of every archive shape, `images`, `image
//! inspect`, reference resolution, and what a corrupt archive or a hostile layer must never do.
//! The evil fixture and archives with hostile member names are in the security suite,
//! tests/security/layers.rs.

mod common;
#[path = "common/layer_tar.rs"]
mod layer_tar;

use common::{assert_fails, assert_ok, fixture, stderr, stdout, unique, TestRoot};
use layer_tar::{layer_dirs, load_file, tar_bytes, HostCanary, Member};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

// ---------------------------------------------------------------------------------------------
// Helpers

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The image IDs the fixture build recorded (`image-ids.json`).
fn fixture_id(name: &str) -> String {
    let ids: Value =
        serde_json::from_slice(&std::fs::read(fixture("image-ids.json")).unwrap()).unwrap();
    ids[name]
        .as_str()
        .expect("image id in image-ids.json")
        .to_string()
}

/// `image inspect NAME`, the one object of its array.
fn inspect(root: &TestRoot, name: &str) -> Value {
    let out = root.ok(["image", "inspect", name]);
    let all: Value = serde_json::from_str(&out).expect("inspect prints JSON");
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{out}");
    all[0].clone()
}

/// Every path under the store (dirs too), relative, except the lock file.
fn store_paths(root: &TestRoot) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, found: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            found.insert(path.strip_prefix(base).unwrap().display().to_string());
            if entry.file_type().unwrap().is_dir() {
                walk(base, &path, found);
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(&root.dir, &root.dir, &mut found);
    found.remove("lock");
    found
}

/// A classic docker-archive of `layers` (uncompressed tars), returns its path and image ID.
fn docker_archive(dir: &Path, layers: &[Vec<u8>], tags: &[&str], salt: &str) -> (PathBuf, String) {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": [format!("SALT={salt}")]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string();
    let id = sha256_hex(config.as_bytes());
    let layer_names: Vec<String> = (0..layers.len())
        .map(|i| format!("layer{i}/layer.tar"))
        .collect();
    let manifest = serde_json::json!([{
        "Config": format!("{id}.json"), "RepoTags": tags, "Layers": layer_names,
    }])
    .to_string();
    let config_name = format!("{id}.json");
    let mut members: Vec<Member<'_>> = layer_names
        .iter()
        .zip(layers)
        .map(|(n, l)| Member::File(n.as_str(), l.as_slice()))
        .collect();
    members.push(Member::File(&config_name, config.as_bytes()));
    members.push(Member::File("manifest.json", manifest.as_bytes()));
    let path = dir.join(format!("{}.tar", unique("archive")));
    std::fs::write(&path, tar_bytes(&members)).unwrap();
    (path, format!("sha256:{id}"))
}

/// The members of a fixture archive: (name, data, symlink target).
fn read_members(path: &Path) -> Vec<(String, Vec<u8>, Option<String>)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut members = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap());
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        members.push((name, data, link));
    }
    members
}

/// A read-only overlay of an image's layers, unmounted on drop.
struct Overlay {
    target: PathBuf,
}

impl Overlay {
    fn mount(root: &TestRoot, diff_ids: &[Value]) -> Overlay {
        // overlay's lowerdir lists the top layer first.
        let lower: Vec<String> = diff_ids
            .iter()
            .rev()
            .map(|d| {
                let hex = d.as_str().unwrap().trim_start_matches("sha256:");
                root.dir
                    .join("layers")
                    .join(hex)
                    .join("diff")
                    .display()
                    .to_string()
            })
            .collect();
        let target = root.dir.join("overlay-check");
        std::fs::create_dir_all(&target).unwrap();
        nix::mount::mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            nix::mount::MsFlags::MS_RDONLY,
            Some(format!("lowerdir={}", lower.join(":")).as_str()),
        )
        .expect("mount overlay of the image's layers");
        Overlay { target }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.target, nix::mount::MntFlags::MNT_DETACH);
    }
}

// ---------------------------------------------------------------------------------------------
// load

#[test]
fn load_busybox_oci_archive() {
    let root = TestRoot::new();
    let out = root.load("busybox-oci.tar");
    assert_eq!(stdout(&out), "Loaded image: busybox:latest\n");
    let image = inspect(&root, "busybox");
    assert_eq!(image["Id"], fixture_id("busybox"));
    assert_eq!(image["RepoTags"], serde_json::json!(["busybox:latest"]));
    // The OCI layout names the manifest: it becomes a repo digest.
    let digests = image["RepoDigests"].as_array().unwrap();
    assert_eq!(digests.len(), 1);
    let pinned = digests[0].as_str().unwrap();
    assert!(pinned.starts_with("busybox@sha256:"), "{digests:?}");
    // name@digest resolves too, and a tag next to the digest is ignored, as in Docker.
    assert_eq!(inspect(&root, pinned)["Id"], fixture_id("busybox"));
    let tagged = pinned.replace('@', ":nosuchtag@");
    assert_eq!(inspect(&root, &tagged)["Id"], fixture_id("busybox"));
    assert_eq!(root.files_under("tmp"), Vec::<String>::new());
}

#[test]
fn load_busybox_docker_archive_gives_the_same_image() {
    let root = TestRoot::new();
    let out = root.load("busybox-docker.tar");
    assert_eq!(stdout(&out), "Loaded image: busybox:latest\n");
    assert_eq!(
        inspect(&root, "busybox:latest")["Id"],
        fixture_id("busybox")
    );
    // Loading the other shape of the same image changes nothing but the repo digest.
    root.load("busybox-oci.tar");
    assert_eq!(layer_dirs(&root).len(), 1);
    assert_eq!(root.ok(["images", "-q"]).lines().count(), 1);
}

#[test]
fn both_layers_archives_load_to_the_same_image() {
    for name in ["layers-oci.tar", "layers-docker.tar"] {
        let root = TestRoot::new();
        let out = root.load(name);
        assert_eq!(stdout(&out), "Loaded image: layers:latest\n", "{name}");
        let image = inspect(&root, "layers");
        assert_eq!(image["Id"], fixture_id("layers"), "{name}");
        assert_eq!(
            image["RootFS"]["Layers"].as_array().unwrap().len(),
            3,
            "{name}"
        );
    }
}

#[test]
fn the_shared_base_layer_is_stored_once() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    root.load("layers-oci.tar");
    let busybox = inspect(&root, "busybox");
    let layers = inspect(&root, "layers");
    let busybox_layers = busybox["RootFS"]["Layers"].as_array().unwrap().clone();
    let layers_layers = layers["RootFS"]["Layers"].as_array().unwrap().clone();
    // The layers image lists busybox's layer first (oldest first).
    assert_eq!(busybox_layers.len(), 1);
    assert_eq!(layers_layers[0], busybox_layers[0]);
    // 1 + 3 layers in the two images, 3 distinct: the base is one directory.
    let expected: BTreeSet<String> = busybox_layers
        .iter()
        .chain(&layers_layers)
        .map(|d| {
            d.as_str()
                .unwrap()
                .trim_start_matches("sha256:")
                .to_string()
        })
        .collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(layer_dirs(&root), expected.into_iter().collect::<Vec<_>>());
}

#[test]
fn load_from_stdin_plain_and_gzip() {
    let root = TestRoot::new();
    let archive = std::fs::read(fixture("busybox-docker.tar")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&archive).unwrap();
    let gz = gz.finish().unwrap();
    for input in [archive, gz] {
        let mut child = root
            .berth(["load"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_ok(&out);
        assert_eq!(stdout(&out), "Loaded image: busybox:latest\n");
        // The spooled copy went with the load.
        assert_eq!(std::fs::read_dir(root.dir.join("tmp")).unwrap().count(), 0);
    }
    assert_eq!(inspect(&root, "busybox")["Id"], fixture_id("busybox"));
}

#[test]
fn an_untagged_image_is_reported_by_id_and_listed_as_none() {
    let root = TestRoot::new();
    let layer = tar_bytes(&[Member::File("hello", b"hi")]);
    let (path, id) = docker_archive(&root.dir, &[layer], &[], "untagged");
    let out = load_file(&root, &path);
    assert_ok(&out);
    assert_eq!(stdout(&out), format!("Loaded image ID: {id}\n"));
    let listing = root.ok(["images"]);
    let row = listing.lines().nth(1).unwrap();
    assert!(row.starts_with("<none>       <none>    "), "{listing}");
    assert!(row.contains(&id[7..19]), "{listing}");
}

#[test]
fn reloading_a_tag_moves_it_and_says_so() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    // The same image again: no rename message.
    assert_eq!(
        stdout(&root.load("busybox-docker.tar")),
        "Loaded image: busybox:latest\n"
    );

    let layer = tar_bytes(&[Member::File("other", b"other")]);
    let (path, id) = docker_archive(&root.dir, &[layer], &["busybox:latest"], "other");
    let out = load_file(&root, &path);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        format!(
            "The image busybox:latest already exists, renaming the old one with ID {} to empty string\n\
             Loaded image: busybox:latest\n",
            fixture_id("busybox")
        )
    );
    assert_eq!(inspect(&root, "busybox")["Id"], id);
    // The old image is still there, untagged.
    let old = inspect(&root, &fixture_id("busybox"));
    assert_eq!(old["RepoTags"], serde_json::json!([]));
    assert!(root.ok(["images"]).contains(&format!(
        "<none>       <none>    {}",
        &fixture_id("busybox")[7..19]
    )));
}

#[test]
fn skopeo_and_docker_25_archive_shapes_load() {
    let root = TestRoot::new();
    let oci = read_members(&fixture("busybox-oci.tar"));
    let index: Value =
        serde_json::from_slice(&oci.iter().find(|(n, _, _)| n == "index.json").unwrap().1).unwrap();
    let manifest_hex = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let manifest: Value = serde_json::from_slice(
        &oci.iter()
            .find(|(n, _, _)| n.ends_with(&manifest_hex))
            .unwrap()
            .1,
    )
    .unwrap();
    let config_hex = &manifest["config"]["digest"].as_str().unwrap()[7..];
    let layer_hex = &manifest["layers"][0]["digest"].as_str().unwrap()[7..];

    // docker >= 25: the OCI layout plus a manifest.json that points into blobs/ (gzip layer).
    let combined = serde_json::json!([{
        "Config": format!("blobs/sha256/{config_hex}"),
        "RepoTags": ["combined:25"],
        "Layers": [format!("blobs/sha256/{layer_hex}")],
    }])
    .to_string();
    let mut members: Vec<Member<'_>> = oci
        .iter()
        .filter(|(n, _, _)| !n.ends_with('/'))
        .map(|(n, d, _)| Member::File(n.as_str(), d.as_slice()))
        .collect();
    members.push(Member::File("manifest.json", combined.as_bytes()));
    let path = root.dir.join("combined.tar");
    std::fs::write(&path, tar_bytes(&members)).unwrap();
    let out = load_file(&root, &path);
    assert_ok(&out);
    assert_eq!(stdout(&out), "Loaded image: combined:25\n");
    assert_eq!(inspect(&root, "combined:25")["Id"], fixture_id("busybox"));

    // skopeo: flat <diffid>.tar, a legacy <v1id>/layer.tar symlink to it, normalised RepoTags.
    let docker = read_members(&fixture("busybox-docker.tar"));
    let classic: Value = serde_json::from_slice(
        &docker
            .iter()
            .find(|(n, _, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let layer_name = classic[0]["Layers"][0].as_str().unwrap();
    let config_name = classic[0]["Config"].as_str().unwrap();
    let layer = &docker.iter().find(|(n, _, _)| n == layer_name).unwrap().1;
    let config = &docker.iter().find(|(n, _, _)| n == config_name).unwrap().1;
    let flat = format!("{}.tar", sha256_hex(layer));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["docker.io/library/skopeo:sk"],
        "Layers": ["legacy/layer.tar"],
    }])
    .to_string();
    let target = format!("../{flat}");
    let members = [
        Member::File(&flat, layer),
        Member::Dir("legacy/", 0o755),
        Member::Symlink("legacy/layer.tar", &target),
        Member::File(config_name, config),
        Member::File("manifest.json", manifest.as_bytes()),
    ];
    let path = root.dir.join("skopeo.tar");
    std::fs::write(&path, tar_bytes(&members)).unwrap();
    let out = load_file(&root, &path);
    assert_ok(&out);
    assert_eq!(stdout(&out), "Loaded image: skopeo:sk\n");
    assert_eq!(inspect(&root, "skopeo:sk")["Id"], fixture_id("busybox"));
    assert_eq!(layer_dirs(&root).len(), 1);
}

/// An OCI layout whose index.json points at a nested index with one manifest per platform:
/// the host's is loaded, the others are never read (their blobs are absent).
#[test]
fn oci_nested_index_picks_the_host_platform_and_bare_ref_names_load_untagged() {
    let root = TestRoot::new();
    let oci = read_members(&fixture("busybox-oci.tar"));
    let index: Value =
        serde_json::from_slice(&oci.iter().find(|(n, _, _)| n == "index.json").unwrap().1).unwrap();
    let manifest_desc = index["manifests"][0].clone();
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let other = if arch == "amd64" { "arm64" } else { "amd64" };
    let absent = format!("sha256:{}", "0".repeat(64));
    let mut host = manifest_desc.clone();
    host.as_object_mut().unwrap().remove("annotations");
    host["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
    let nested = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": absent,
             "size": 100, "platform": {"architecture": other, "os": "linux"}},
            host,
        ],
    })
    .to_string();
    let nested_hex = sha256_hex(nested.as_bytes());
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{nested_hex}"),
            "size": nested.len(),
            "annotations": {"io.containerd.image.name": "localhost:5000/multi:1"},
        }],
    })
    .to_string();
    let nested_name = format!("blobs/sha256/{nested_hex}");
    let mut members: Vec<Member<'_>> = oci
        .iter()
        .filter(|(n, _, _)| !n.ends_with('/') && n != "index.json")
        .map(|(n, d, _)| Member::File(n.as_str(), d.as_slice()))
        .collect();
    members.push(Member::File(&nested_name, nested.as_bytes()));
    members.push(Member::File("index.json", top.as_bytes()));
    let path = root.dir.join("nested.tar");
    std::fs::write(&path, tar_bytes(&members)).unwrap();
    let out = load_file(&root, &path);
    assert_ok(&out);
    assert_eq!(stdout(&out), "Loaded image: localhost:5000/multi:1\n");
    let image = inspect(&root, "localhost:5000/multi:1");
    assert_eq!(image["Id"], fixture_id("busybox"));
    assert_eq!(
        image["RepoDigests"],
        serde_json::json!([format!(
            "localhost:5000/multi@{}",
            manifest_desc["digest"].as_str().unwrap()
        )])
    );

    // Only `org.opencontainers.image.ref.name: latest` (what skopeo writes): no repository.
    let mut bare = manifest_desc.clone();
    bare["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "latest"});
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [bare]}).to_string();
    let mut members: Vec<Member<'_>> = oci
        .iter()
        .filter(|(n, _, _)| !n.ends_with('/') && n != "index.json")
        .map(|(n, d, _)| Member::File(n.as_str(), d.as_slice()))
        .collect();
    members.push(Member::File("index.json", top.as_bytes()));
    let root = TestRoot::new();
    let path = root.dir.join("bare.tar");
    std::fs::write(&path, tar_bytes(&members)).unwrap();
    let out = load_file(&root, &path);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        format!("Loaded image ID: {}\n", fixture_id("busybox"))
    );
}

#[test]
fn a_dead_load_s_staging_directory_is_swept_and_a_live_one_kept() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    let tmp = root.dir.join("tmp");
    // A load that died: its staging dir's lock is free.
    std::fs::create_dir_all(tmp.join("load-dead/layer-0/diff")).unwrap();
    std::fs::write(tmp.join("load-dead/lock"), b"").unwrap();
    // A load still running: its lock is held (here by this process).
    std::fs::create_dir_all(tmp.join("load-live")).unwrap();
    let held = std::fs::File::create(tmp.join("load-live/lock")).unwrap();
    let held = nix::fcntl::Flock::lock(held, nix::fcntl::FlockArg::LockExclusive).unwrap();
    root.load("busybox-oci.tar");
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["load-live"]);
    drop(held);
}

#[test]
fn concurrent_loads_do_not_corrupt_the_store() {
    let root = TestRoot::new();
    let children: Vec<_> = [
        "busybox-docker.tar",
        "layers-oci.tar",
        "busybox-oci.tar",
        "layers-docker.tar",
    ]
    .iter()
    .cycle()
    .take(6)
    .map(|name| {
        root.berth(["load", "-i"])
            .arg(fixture(name))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    })
    .collect();
    for child in children {
        assert_ok(&child.wait_with_output().unwrap());
    }
    assert_eq!(layer_dirs(&root).len(), 3);
    assert_eq!(std::fs::read_dir(root.dir.join("tmp")).unwrap().count(), 0);
    assert_eq!(inspect(&root, "busybox")["Id"], fixture_id("busybox"));
    assert_eq!(inspect(&root, "layers")["Id"], fixture_id("layers"));
}

// ---------------------------------------------------------------------------------------------
// Corrupt and hostile archives

#[test]
fn a_corrupt_archive_fails_in_one_line_and_adds_nothing() {
    for (name, needle) in [
        ("corrupt-docker.tar", "does not match its diff ID"),
        ("badconfig-oci.tar", "does not match its digest"),
    ] {
        let root = TestRoot::new();
        let before = store_paths(&root);
        let out = load_file(&root, &fixture(name));
        assert_fails(&out, 1, needle);
        assert!(
            stderr(&out).contains("sha256:"),
            "the error names the digest: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "");
        let after = store_paths(&root);
        // The first load creates the empty layout; nothing else may appear.
        let added: Vec<_> = after.difference(&before).cloned().collect();
        assert!(
            added.iter().all(|p| ["blobs", "blobs/sha256", "layers", "images", "tmp"].contains(&p.as_str())),
            "{name} left {added:?}"
        );
        assert_fails(
            &root.run(["image", "inspect", "busybox"]),
            1,
            "No such image",
        );
    }

    // Into a store that already holds images: they are untouched, and nothing new appears.
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    let before = store_paths(&root);
    let good = std::fs::read(fixture("layers-docker.tar")).unwrap();
    let truncated = root.dir.join("truncated.tar");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    assert_fails(&load_file(&root, &truncated), 1, "load:");
    // A corrupt copy of a layer the store already has is still caught.
    assert_fails(
        &load_file(&root, &fixture("corrupt-docker.tar")),
        1,
        "does not match its diff ID",
    );
    let mut flipped = good.clone();
    // Flip a byte inside the last layer's content (its data sits in the middle of the file).
    let members = read_members(&fixture("layers-docker.tar"));
    let classic: Value = serde_json::from_slice(
        &members
            .iter()
            .find(|(n, _, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let top = classic[0]["Layers"][2].as_str().unwrap();
    let top_data = &members.iter().find(|(n, _, _)| n == top).unwrap().1;
    let at = good
        .windows(top_data.len().min(4096))
        .position(|w| w == &top_data[..top_data.len().min(4096)])
        .unwrap()
        + 2048;
    flipped[at] ^= 0x55;
    let corrupt = root.dir.join("flipped.tar");
    std::fs::write(&corrupt, &flipped).unwrap();
    let out = load_file(&root, &corrupt);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end().lines().count(),
        1,
        "{}",
        stderr(&out)
    );
    let mut after = store_paths(&root);
    after.remove("truncated.tar");
    after.remove("flipped.tar");
    assert_eq!(after, before);
    assert_eq!(inspect(&root, "busybox")["Id"], fixture_id("busybox"));
}

/// CVE-2014-6407/9356, CVE-2021-32760, CVE-2026-17106: every hostile layer either fails to
/// load or lands inside its own layer directory; the host canary is never touched.
#[test]
fn malicious_layers_stay_inside_the_store() {
    let canary = HostCanary::new();
    let host_dir = canary.dir.display().to_string();
    let host_file = canary.dir.join("canary").display().to_string();
    let through = format!("{}/through", host_dir.trim_start_matches('/'));
    let escape = format!("../../../../../../..{host_dir}/escape");
    let abs = format!("{host_dir}/abs");
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "dot-dot name",
            tar_bytes(&[Member::File(&escape, b"x")]),
            false,
        ),
        (
            "hard link to ../../etc/passwd",
            tar_bytes(&[Member::HardLink("pw", "../../etc/passwd")]),
            false,
        ),
        (
            "hard link to a host file",
            tar_bytes(&[Member::HardLink("pw", &host_file)]),
            false,
        ),
        (
            "hard link through a symlink",
            tar_bytes(&[
                Member::Symlink("h", &host_dir),
                Member::HardLink("pw", "h/canary"),
            ]),
            false,
        ),
        (
            "absolute name",
            tar_bytes(&[Member::File(&abs, b"x")]),
            true,
        ),
        (
            "symlink to / then a file through it",
            tar_bytes(&[
                Member::Symlink("l", "/"),
                Member::File(&format!("l/{through}"), b"x"),
            ]),
            true,
        ),
        (
            "symlink to the host dir then a file through it",
            tar_bytes(&[
                Member::Symlink("l", &host_dir),
                Member::File("l/through", b"x"),
            ]),
            false,
        ),
        (
            "symlink to a host file then a file with mode",
            tar_bytes(&[
                Member::Symlink("x", &host_file),
                Member::Mode("x", 0o4777, b""),
            ]),
            true,
        ),
        (
            "symlink to the host dir then a dir with mode",
            tar_bytes(&[Member::Symlink("d", &host_dir), Member::Dir("d", 0o777)]),
            true,
        ),
    ];
    for (what, layer, loads) in cases {
        let root = TestRoot::new();
        let (path, _) = docker_archive(&root.dir, &[layer], &["evil:case"], what);
        let out = load_file(&root, &path);
        assert_eq!(out.status.success(), loads, "{what}: {}", stderr(&out));
        if !loads {
            assert_eq!(out.status.code(), Some(1), "{what}");
            assert_eq!(
                stderr(&out).trim_end().lines().count(),
                1,
                "{what}: {}",
                stderr(&out)
            );
            assert_eq!(layer_dirs(&root), Vec::<String>::new(), "{what}");
        }
        canary.assert_untouched();
    }

    // What did load landed inside the layer: the absolute name under the layer root.
    let root = TestRoot::new();
    let (path, _) = docker_archive(
        &root.dir,
        &[tar_bytes(&[
            Member::File(&abs, b"x"),
            Member::Symlink("d", &host_dir),
            Member::Dir("d", 0o777),
        ])],
        &["evil:inside"],
        "inside",
    );
    assert_ok(&load_file(&root, &path));
    let dir = root
        .dir
        .join("layers")
        .join(&layer_dirs(&root)[0])
        .join("diff");
    assert_eq!(
        std::fs::read(dir.join(abs.trim_start_matches('/'))).unwrap(),
        b"x"
    );
    let d = std::fs::symlink_metadata(dir.join("d")).unwrap();
    assert!(d.is_dir() && d.mode() & 0o7777 == 0o777);
    canary.assert_untouched();
}

// ---------------------------------------------------------------------------------------------
// What the layers image unpacks to

#[test]
fn the_layers_fixture_unpacks_to_exactly_the_right_files() {
    let root = TestRoot::new();
    root.load("layers-oci.tar");
    let image = inspect(&root, "layers");
    let diff_ids = image["RootFS"]["Layers"].as_array().unwrap().clone();

    // The top layer as stored: overlay's whiteout and opaque encodings.
    let top = root
        .dir
        .join("layers")
        .join(diff_ids[2].as_str().unwrap().trim_start_matches("sha256:"))
        .join("diff");
    let gone = std::fs::symlink_metadata(top.join("data/gone.txt")).unwrap();
    assert!(
        gone.file_type().is_char_device() && gone.rdev() == 0,
        "whiteout is a 0/0 char device"
    );
    assert!(std::fs::symlink_metadata(top.join("data/.wh.gone.txt")).is_err());
    assert!(std::fs::symlink_metadata(top.join("data/olddir/.wh..wh..opq")).is_err());
    let opaque = std::process::Command::new("python3")
        .args(["-c", "import os,sys; sys.stdout.buffer.write(os.getxattr(sys.argv[1], 'trusted.overlay.opaque'))"])
        .arg(top.join("data/olddir"))
        .output()
        .unwrap();
    assert_eq!(opaque.stdout, b"y", "{}", stderr(&opaque));

    // The merged view, as a container will see it.
    let overlay = Overlay::mount(&root, &diff_ids);
    let data = overlay.target.join("data");
    let mut names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["fifo", "hl-a", "hl-b", "keep.txt", "link", "olddir", "replaced", "suid"]
    );
    assert_eq!(
        std::fs::read_to_string(data.join("keep.txt")).unwrap(),
        "keep\n"
    );
    let olddir: Vec<String> = std::fs::read_dir(data.join("olddir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(olddir, ["new.txt"]);
    assert!(data.join("replaced/inner.txt").is_file());
    assert_eq!(
        std::fs::read_link(data.join("link")).unwrap(),
        Path::new("keep.txt")
    );
    let (a, b) = (
        std::fs::metadata(data.join("hl-a")).unwrap(),
        std::fs::metadata(data.join("hl-b")).unwrap(),
    );
    assert_eq!(
        (a.ino(), a.nlink()),
        (b.ino(), 2),
        "hard links share one inode"
    );
    let suid = std::fs::metadata(data.join("suid")).unwrap();
    assert_eq!(suid.mode() & 0o7777, 0o4755);
    assert!(std::fs::symlink_metadata(data.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(overlay.target.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::metadata(overlay.target.join("tmp"))
            .unwrap()
            .mode()
            & 0o7777,
        0o1777
    );
}

// ---------------------------------------------------------------------------------------------
// images and inspect

#[test]
fn images_lists_docker_s_columns() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    root.load("layers-oci.tar");
    let out = root.ok(["images"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header = lines[0];
    assert!(
        header.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED   "),
        "{out}"
    );
    assert!(header.ends_with("   SIZE"), "{out}");
    let created_at = header.find("CREATED").unwrap();
    let size_at = header.find("SIZE").unwrap();
    let row = |repo: &str| *lines.iter().find(|l| l.starts_with(repo)).unwrap();
    let busybox = row("busybox ");
    assert!(
        busybox.starts_with(&format!(
            "busybox      latest    {}   ",
            &fixture_id("busybox")[7..19]
        )),
        "{out}"
    );
    // Created 2024-01-01 (the fixtures' date): go-units' "N years ago", in its aligned column.
    let created = busybox[created_at..size_at].trim_end();
    let (n, unit) = created.split_once(' ').unwrap();
    assert!(
        n.parse::<u32>().unwrap() >= 2 && unit == "years ago",
        "{out}"
    );
    let size = &busybox[size_at..];
    assert!(
        size.ends_with("MB") && size[..size.len() - 2].parse::<f64>().is_ok(),
        "{out}"
    );
    assert_eq!(
        size,
        human_mb(inspect(&root, "busybox")["Size"].as_u64().unwrap())
    );
    assert!(row("layers ").starts_with(&format!(
        "layers       latest    {}",
        &fixture_id("layers")[7..19]
    )));

    assert_eq!(
        root.ok(["images", "-q", "busybox"]),
        format!("{}\n", &fixture_id("busybox")[7..19])
    );
    assert_eq!(
        root.ok(["images", "-q", "--no-trunc", "layers:latest"]),
        format!("{}\n", fixture_id("layers"))
    );
    assert_eq!(root.ok(["images", "-q", "layers:other"]), "");
    let digests = root.ok(["image", "ls", "--digests", "layers"]);
    assert!(
        digests.starts_with("REPOSITORY   TAG       DIGEST "),
        "{digests}"
    );
    assert!(
        digests.lines().nth(1).unwrap().contains("sha256:"),
        "{digests}"
    );
}

/// Docker's decimal size with three significant digits, for values in the megabytes.
fn human_mb(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    let s = if mb >= 100.0 {
        format!("{mb:.0}")
    } else if mb >= 10.0 {
        format!("{mb:.1}")
    } else {
        format!("{mb:.2}")
    };
    format!("{}MB", s.trim_end_matches('0').trim_end_matches('.'))
}

#[test]
fn inspect_shows_config_rootfs_and_size_like_docker() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    root.load("layers-docker.tar");
    let out = root.ok(["image", "inspect", "layers"]);
    assert!(
        out.starts_with("[\n    {\n        \"Id\": \"sha256:"),
        "four-space indent: {out}"
    );
    let image = inspect(&root, "layers");
    assert_eq!(image["RepoTags"], serde_json::json!(["layers:latest"]));
    assert_eq!(image["Architecture"], "amd64");
    assert_eq!(image["Os"], "linux");
    assert_eq!(image["Created"], "2024-01-01T00:00:00Z");
    let config = &image["Config"];
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/bin/echo", "entry"])
    );
    assert_eq!(config["Cmd"], serde_json::json!(["default-cmd"]));
    assert_eq!(config["WorkingDir"], "/data/work");
    assert_eq!(config["User"], "nobody");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"FIXTURE=layers") && env.iter().any(|e| e.starts_with("PATH=")),
        "{env:?}"
    );
    assert_eq!(config["ExposedPorts"], serde_json::json!({"80/tcp": {}}));
    assert_eq!(config["Labels"]["org.example.fixture"], "layers");
    assert_eq!(config["StopSignal"], "SIGTERM");
    assert_eq!(image["RootFS"]["Type"], "layers");
    let busybox = inspect(&root, "busybox");
    assert_eq!(image["RootFS"]["Layers"][0], busybox["RootFS"]["Layers"][0]);
    // Size is the sum of the layers' content.
    let sizes: u64 = image["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let hex = d.as_str().unwrap().trim_start_matches("sha256:");
            let rec: Value = serde_json::from_slice(
                &std::fs::read(root.dir.join("layers").join(hex).join("layer.json")).unwrap(),
            )
            .unwrap();
            rec["size"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(image["Size"].as_u64().unwrap(), sizes);
    assert!(sizes > busybox["Size"].as_u64().unwrap());

    // Several at once: one array.
    let both: Value =
        serde_json::from_str(&root.ok(["image", "inspect", "busybox", "layers"])).unwrap();
    assert_eq!(both.as_array().unwrap().len(), 2);
}

#[test]
fn inspect_of_an_unknown_image_fails_like_docker() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    let out = root.run(["image", "inspect", "nosuch"]);
    assert_fails(&out, 1, "No such image: nosuch");
    assert_eq!(stdout(&out).trim(), "[]");
    // Found ones are still printed.
    let out = root.run(["image", "inspect", "busybox", "nosuch:1"]);
    assert_fails(&out, 1, "No such image: nosuch:1");
    let found: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
}

#[test]
fn references_resolve_as_docker_resolves_them() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    root.load("layers-docker.tar");
    let id = fixture_id("busybox");
    let hex = &id[7..];
    for reference in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        "index.docker.io/library/busybox",
        id.as_str(),
        hex,
        &hex[..12],
        &format!("sha256:{}", &hex[..12]),
    ] {
        assert_eq!(inspect(&root, reference)["Id"], id, "{reference}");
    }
    assert_fails(
        &root.run(["image", "inspect", "busybox:1.0"]),
        1,
        "No such image: busybox:1.0",
    );
    assert_fails(
        &root.run(["image", "inspect", "localhost/busybox"]),
        1,
        "No such image",
    );
    // A prefix that matches no image.
    let unused = (b'0'..=b'9')
        .chain(b'a'..=b'f')
        .map(char::from)
        .find(|c| !id[7..].starts_with(*c) && !fixture_id("layers")[7..].starts_with(*c))
        .unwrap();
    assert_fails(
        &root.run(["image", "inspect", &format!("{unused}{unused}{unused}")]),
        1,
        "No such image",
    );
}

#[test]
fn an_ambiguous_id_prefix_fails() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    let first = &fixture_id("busybox")[7..8];
    // Make images until one's ID starts with the same hex digit (1 in 16 per try).
    let layer = tar_bytes(&[Member::File("x", b"x")]);
    let mut found = false;
    for salt in 0..128 {
        let (path, id) = docker_archive(
            &root.dir,
            std::slice::from_ref(&layer),
            &[],
            &salt.to_string(),
        );
        if &id[7..8] == first {
            assert_ok(&load_file(&root, &path));
            found = true;
            break;
        }
    }
    assert!(found);
    assert_fails(&root.run(["image", "inspect", first]), 125, "ambiguous");
}

#[test]
fn malformed_references_fail_in_one_line() {
    let root = TestRoot::new();
    root.load("busybox-docker.tar");
    assert_fails(
        &root.run(["image", "inspect", "Busybox"]),
        125,
        "invalid reference format: repository name must be lowercase",
    );
    assert_fails(
        &root.run(["image", "inspect", "bad::ref"]),
        125,
        "invalid reference format",
    );
    assert_fails(
        &root.run(["images", "busybox:"]),
        125,
        "invalid reference format",
    );
}

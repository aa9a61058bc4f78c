//! Hostile image archives (`berth load`): the evil fixture, whose layer holds `..` names, an
//! absolute name, a file written through a symlink to /tmp and a hard link to the host's
//! /etc/passwd, and archives whose manifest and config name paths where keys and digests belong
//! (CVE-2014-9358). Nothing may be written outside the store; nothing of a refused archive may
//! be kept.

use super::common::{assert_fails, fixture, TestRoot};
use super::layer_tar::{layer_dirs, load_file, tar_bytes, HostCanary, Member};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[test]
fn the_evil_fixture_never_writes_outside_the_store() {
    let root = TestRoot::new();
    let before: Vec<bool> = [
        "/escape-canary",
        "/abs-canary",
        "/tmp/through-link-canary",
        "/tmp/escape-canary",
    ]
    .iter()
    .map(|p| Path::new(p).exists())
    .collect();
    let passwd_links = std::fs::metadata("/etc/passwd").unwrap().nlink();
    let out = load_file(&root, &fixture("evil-docker.tar"));
    assert_fails(&out, 1, "escapes the layer");
    let after: Vec<bool> = [
        "/escape-canary",
        "/abs-canary",
        "/tmp/through-link-canary",
        "/tmp/escape-canary",
    ]
    .iter()
    .map(|p| Path::new(p).exists())
    .collect();
    assert_eq!(before, after);
    assert_eq!(
        std::fs::metadata("/etc/passwd").unwrap().nlink(),
        passwd_links
    );
    assert_eq!(layer_dirs(&root), Vec::<String>::new());
    assert_eq!(std::fs::read_dir(root.dir.join("tmp")).unwrap().count(), 0);
}

#[test]
fn hostile_archive_member_names_are_not_paths() {
    let canary = HostCanary::new();
    let root = TestRoot::new();
    // CVE-2014-9358: the manifest names files outside the archive; only keys, never paths.
    let outside = format!("../../../../../..{}/canary", canary.dir.display());
    let manifest = serde_json::json!([{
        "Config": outside, "RepoTags": ["evil:names"], "Layers": [],
    }])
    .to_string();
    let path = root.dir.join("names.tar");
    std::fs::write(
        &path,
        tar_bytes(&[Member::File("manifest.json", manifest.as_bytes())]),
    )
    .unwrap();
    assert_fails(&load_file(&root, &path), 1, "load:");
    // A config digest that is not a digest.
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:../../../etc/passwd"]},
    })
    .to_string();
    let manifest = serde_json::json!([{
        "Config": "c.json", "RepoTags": ["evil:digest"], "Layers": ["l.tar"],
    }])
    .to_string();
    std::fs::write(
        &path,
        tar_bytes(&[
            Member::File("c.json", config.as_bytes()),
            Member::File("l.tar", &tar_bytes(&[Member::File("a", b"a")])),
            Member::File("manifest.json", manifest.as_bytes()),
        ]),
    )
    .unwrap();
    assert_fails(&load_file(&root, &path), 1, "invalid digest");
    canary.assert_untouched();
    assert_eq!(layer_dirs(&root), Vec::<String>::new());
}

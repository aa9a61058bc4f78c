//! Image archives made by a test, for images no fixture has (a hostile WorkingDir or User, a
//! layer with crafted tar headers): a docker-archive (`docker save` layout) whose images are the
//! busybox fixture's layer plus any layers and config the test gives.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::Read;

/// One image of an archive.
pub struct Image {
    /// `name:tag`.
    pub tag: String,
    /// The image config's `config` object (`{"Cmd": [...], "WorkingDir": "..."}`); Env gets
    /// busybox's PATH when it has none.
    pub config: serde_json::Value,
    /// Uncompressed layer tars stacked on busybox's layer, lowest first.
    pub layers: Vec<Vec<u8>>,
}

impl Image {
    /// busybox with `config` as its config (and no layer of its own).
    pub fn busybox_with(tag: &str, config: serde_json::Value) -> Image {
        Image {
            tag: tag.to_string(),
            config,
            layers: Vec::new(),
        }
    }
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The busybox fixture's one layer, as an uncompressed tar.
pub fn busybox_layer() -> Vec<u8> {
    let file = std::fs::File::open(super::common::fixture("busybox-docker.tar")).unwrap();
    let mut archive = tar::Archive::new(file);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().ends_with("layer.tar") {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            return bytes;
        }
    }
    panic!("busybox-docker.tar has no layer.tar");
}

/// A docker-archive holding `images` (layers shared between them are stored once).
pub fn docker_archive(images: &[Image]) -> Vec<u8> {
    let base = busybox_layer();
    let mut out = tar::Builder::new(Vec::new());
    let mut stored = std::collections::HashSet::new();
    let mut manifest = Vec::new();
    for image in images {
        let mut layer_paths = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in std::iter::once(&base).chain(image.layers.iter()) {
            let hex = sha256_hex(layer);
            let path = format!("{hex}/layer.tar");
            if stored.insert(hex.clone()) {
                add(&mut out, &path, layer);
            }
            layer_paths.push(path);
            diff_ids.push(format!("sha256:{hex}"));
        }
        let mut config = image.config.clone();
        if config.get("Env").is_none() {
            config["Env"] = serde_json::json!([
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            ]);
        }
        let doc = serde_json::json!({
            "architecture": host_arch(),
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let bytes = serde_json::to_vec(&doc).unwrap();
        let config_path = format!("{}.json", sha256_hex(&bytes));
        add(&mut out, &config_path, &bytes);
        manifest.push(serde_json::json!({
            "Config": config_path,
            "Layers": layer_paths,
            "RepoTags": [image.tag],
        }));
    }
    add(
        &mut out,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    out.into_inner().unwrap()
}

fn add(out: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(1_704_067_200);
    header.set_entry_type(tar::EntryType::Regular);
    out.append_data(&mut header, path, data).unwrap();
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Write `images` as an archive into the store's parent directory and `berth load` it.
pub fn load_images(root: &super::common::TestRoot, images: &[Image]) {
    let path = root.dir.with_extension("archive.tar");
    std::fs::write(&path, docker_archive(images)).unwrap();
    let out = root.berth(["load", "-i"]).arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    super::common::assert_ok(&out);
}

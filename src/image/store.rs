//! The image store: content-addressed blobs, layers unpacked once and shared, image records and
//! the tag index, all under one root directory (default /var/lib/berth).
//!
//! ```text
//! ROOT/                     0700 (see crate::fs::store_access)
//!   lock                    flock(2)ed exclusively for every change of the records below
//!   repositories.json       reference index: {"refs": {"docker.io/library/busybox:latest": ID,
//!                           "docker.io/library/busybox@sha256:<manifest>": ID}}
//!   images/<hex>.json       one record per image ID (config digest): its diff IDs, size, created
//!   blobs/sha256/<hex>      configs and manifests, every byte verified against its name
//!   layers/<diffid-hex>/    one per distinct layer, shared by every image that has it
//!     diff/                 the unpacked layer: an overlay lower dir (whiteouts as 0/0 devices)
//!     layer.json            {"diff_id", "size"}: content bytes, for `images` and `inspect`
//!   tmp/load-*/             a load in progress: spooled stdin, layers being unpacked, blobs
//! ```
//!
//! Layer blobs (the tar or tar+gzip as shipped) are not kept: a layer is verified against its diff
//! ID (and its blob digest where the archive names one) while it is unpacked, and the unpacked
//! directory is what every later step uses. Keeping them would double the disk use of every
//! image; `save`/`push` recreate the tar from `diff/`.
//!
//! Keyed by diff ID (not chain ID) because with overlay each layer directory holds only its own
//! diff: the same tar is the same directory whatever sits below it.
//!
//! Atomicity: a load stages everything under `tmp/load-*/`, verifies every digest, and only then,
//! under the store lock, renames layers and blobs into place and writes the image record and the
//! index (each a temp file + fsync + rename). A layer whose directory already exists (another
//! load won the race) is discarded. A failed load removes its staging directory; one that died
//! (SIGKILL, power) is swept by the next load — its staging lock is no longer held. Readers take
//! no lock: every file they read is replaced atomically.

use super::digest::{is_sha256_hex, parse_sha256, sha256_hex};
use super::layer;
use super::reference::Reference;
use super::Image;
use crate::error::NotFound;
use crate::fs::atomic;
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{renameat2, Flock, FlockArg, RenameFlags, AT_FDCWD};
use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{DirBuilder, File};
use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

const INDEX_FILE: &str = "repositories.json";
const LOCK_FILE: &str = "lock";
const STAGING_PREFIX: &str = "load-";

pub struct Store {
    root: PathBuf,
}

/// What the store keeps about an image besides its config blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config.
    pub id: String,
    /// Diff IDs, lowest layer first, as the config's rootfs lists them.
    pub layers: Vec<String>,
    /// Sum of the layers' content sizes.
    pub size: u64,
    /// The config's `created`, for listing without reading every config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// An image as `images` and `inspect` show it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub record: ImageRecord,
    /// References with a tag, full form, sorted.
    pub tags: Vec<Reference>,
    /// References with a digest (`repo@sha256:<manifest>`), full form, sorted.
    pub digests: Vec<Reference>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RefIndex {
    /// Full reference → image ID.
    refs: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LayerRecord {
    diff_id: String,
    size: u64,
}

/// One image a load is about to commit.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub id_hex: String,
    pub diff_ids: Vec<String>,
    pub created: Option<String>,
    /// Tags to point at this image (full references with a tag).
    pub tags: Vec<Reference>,
    /// `repo@digest` references for this image.
    pub digests: Vec<Reference>,
}

/// A tag a commit pointed at an image, and the image it pointed at before, if another.
#[derive(Debug, Clone)]
pub struct TagUpdate {
    pub tag: Reference,
    pub previous: Option<String>,
}

impl Store {
    /// Open the store at `root`, creating its layout if missing.
    pub fn open(root: &Path) -> Result<Store> {
        DirBuilder::new()
            .recursive(true)
            .mode(crate::fs::store_access::DIR_MODE)
            .create(root)
            .with_context(|| format!("create store {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("open store {}", root.display()))?;
        let store = Store { root };
        for dir in ["blobs/sha256", "layers", "images", "tmp"] {
            let path = store.root.join(dir);
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .with_context(|| format!("create {}", path.display()))?;
        }
        Ok(store)
    }

    /// Find an image by reference (`busybox`, `name:tag`, `name@sha256:…`), full ID (with or
    /// without `sha256:`) or unique ID prefix: one index read, one record, one config.
    // The runtime's `run` is its caller; until it lands only the tests call it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn resolve_image(&self, reference: &str) -> Result<Image> {
        let index = self.read_index()?;
        let hex = self.find_id(&index, reference)?;
        let record = self.read_record(&hex)?;
        let config = self.read_config(&hex)?;
        let mut layer_dirs: Vec<PathBuf> = Vec::with_capacity(record.layers.len());
        // The same layer twice in one stack (e.g. two empty layers): keep the higher one only.
        // Every entry of the lower copy is provided again by the higher, above anything between,
        // so the merged view is the same and overlay never sees one lower dir twice.
        for (i, diff_id) in record.layers.iter().enumerate() {
            if record.layers[i + 1..].contains(diff_id) {
                continue;
            }
            let dir = self.layer_dir(parse_sha256(diff_id)?).join("diff");
            if !dir.is_dir() {
                bail!(
                    "image {}: layer {diff_id} is missing from the store",
                    record.id
                );
            }
            layer_dirs.push(dir);
        }
        let repo_tags = tags_of(&index, &record.id)
            .into_iter()
            .filter(|r| r.tag().is_some())
            .map(|r| r.familiar())
            .collect();
        Ok(Image {
            id: record.id,
            repo_tags,
            config,
            layer_dirs,
        })
    }

    /// The image a reference names, with its tags and digests, and its config.
    pub fn inspect_image(&self, reference: &str) -> Result<(ImageSummary, ImageConfiguration)> {
        let index = self.read_index()?;
        let hex = self.find_id(&index, reference)?;
        let record = self.read_record(&hex)?;
        let config = self.read_config(&hex)?;
        Ok((summary(&index, record), config))
    }

    /// Every image in the store, newest first (as `docker images` sorts).
    pub fn list_images(&self) -> Result<Vec<ImageSummary>> {
        let index = self.read_index()?;
        let mut images = Vec::new();
        for hex in self.image_ids()? {
            images.push(summary(&index, self.read_record(&hex)?));
        }
        images.sort_by(|a, b| {
            let key = |s: &ImageSummary| {
                s.record
                    .created
                    .as_deref()
                    .and_then(super::units::parse_rfc3339)
            };
            key(b)
                .cmp(&key(a))
                .then_with(|| a.record.id.cmp(&b.record.id))
        });
        Ok(images)
    }

    /// The ID hex a reference names. Docker's order (daemon/images `GetImage`): a full ID, then
    /// the reference index, then a unique ID prefix.
    fn find_id(&self, index: &RefIndex, reference: &str) -> Result<String> {
        let not_found = || anyhow::Error::new(NotFound::Image(reference.to_string()));
        let bare = reference.strip_prefix("sha256:").unwrap_or(reference);
        if is_sha256_hex(bare) {
            return if self.record_path(bare).exists() {
                Ok(bare.to_string())
            } else {
                Err(not_found())
            };
        }
        let parsed = Reference::parse(reference)?.with_default_tag();
        // With both, the digest decides and the tag is dropped (distribution's ParseDockerRef).
        let key = match parsed.digest() {
            Some(digest) => parsed.with_digest(digest).to_string(),
            None => parsed.to_string(),
        };
        if let Some(id) = index.refs.get(&key) {
            return Ok(parse_sha256(id)?.to_string());
        }
        let is_prefix = !bare.is_empty()
            && bare
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if is_prefix {
            let matches: Vec<String> = self
                .image_ids()?
                .into_iter()
                .filter(|id| id.starts_with(bare))
                .collect();
            match matches.len() {
                0 => {}
                1 => return Ok(matches.into_iter().next().unwrap_or_default()),
                n => bail!("image ID prefix {bare} is ambiguous: it matches {n} images"),
            }
        }
        Err(not_found())
    }

    fn image_ids(&self) -> Result<Vec<String>> {
        let dir = self.root.join("images");
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
            let name = entry
                .with_context(|| format!("read {}", dir.display()))?
                .file_name();
            if let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
                if is_sha256_hex(hex) {
                    ids.push(hex.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn read_index(&self) -> Result<RefIndex> {
        let path = self.root.join(INDEX_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RefIndex::default()),
            Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
        }
    }

    fn record_path(&self, hex: &str) -> PathBuf {
        self.root.join("images").join(format!("{hex}.json"))
    }

    fn read_record(&self, hex: &str) -> Result<ImageRecord> {
        let path = self.record_path(hex);
        let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
    }

    fn read_config(&self, hex: &str) -> Result<ImageConfiguration> {
        let path = self.blob_path(hex);
        let bytes =
            std::fs::read(&path).with_context(|| format!("read config {}", path.display()))?;
        ImageConfiguration::from_reader(&bytes[..])
            .with_context(|| format!("parse config sha256:{hex}"))
    }

    pub(crate) fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex)
    }

    pub(crate) fn layer_dir(&self, diff_hex: &str) -> PathBuf {
        self.root.join("layers").join(diff_hex)
    }

    /// True once a layer is committed (its directory appears only by an atomic rename).
    pub(crate) fn has_layer(&self, diff_hex: &str) -> bool {
        self.layer_dir(diff_hex).join("diff").is_dir()
    }

    pub(crate) fn has_blob(&self, hex: &str) -> bool {
        self.blob_path(hex).is_file()
    }

    fn lock(&self) -> Result<Flock<File>> {
        let path = self.root.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("lock {}", path.display()))
    }

    /// Start a load: a private staging directory, locked for as long as the load lives. Stale
    /// ones (their lock is free: the load that made them is gone) are removed first.
    pub fn begin_load(&self) -> Result<Staging<'_>> {
        let _guard = self.lock()?;
        let tmp = self.root.join("tmp");
        for entry in std::fs::read_dir(&tmp).with_context(|| format!("read {}", tmp.display()))? {
            let Ok(entry) = entry else { continue };
            if !entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX)
            {
                continue;
            }
            let stale = match File::open(entry.path().join(LOCK_FILE)) {
                Ok(f) => Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok(),
                Err(_) => true,
            };
            if stale {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = tmp.join(format!("{STAGING_PREFIX}{}-{nanos}", std::process::id()));
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("create {}", dir.display()))?;
        let lock_path = dir.join(LOCK_FILE);
        let file =
            File::create(&lock_path).with_context(|| format!("create {}", lock_path.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("lock {}", lock_path.display()))?;
        Ok(Staging {
            store: self,
            dir,
            _lock: lock,
            layers: Vec::new(),
            blobs: Vec::new(),
        })
    }

    /// Move a load's verified layers and blobs into place and point the image records and
    /// tags at them, under the store lock. Returns, per image, the tags it now holds.
    fn commit(&self, staged: &Staging<'_>, images: &[NewImage]) -> Result<Vec<Vec<TagUpdate>>> {
        let _guard = self.lock()?;
        let mut added: Vec<PathBuf> = Vec::new();
        let result = self.commit_locked(staged, images, &mut added);
        if result.is_err() {
            for path in added.iter().rev() {
                let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
            }
        }
        result
    }

    fn commit_locked(
        &self,
        staged: &Staging<'_>,
        images: &[NewImage],
        added: &mut Vec<PathBuf>,
    ) -> Result<Vec<Vec<TagUpdate>>> {
        for (diff_hex, dir) in &staged.layers {
            let target = self.layer_dir(diff_hex);
            if rename_noreplace(dir, &target)? {
                added.push(target);
            }
        }
        for (hex, file) in &staged.blobs {
            let target = self.blob_path(hex);
            if rename_noreplace(file, &target)? {
                added.push(target);
            }
        }
        let mut records = Vec::new();
        for image in images {
            let mut size = 0;
            for diff_id in &image.diff_ids {
                let hex = parse_sha256(diff_id)?;
                if !self.has_layer(hex) {
                    bail!("layer {diff_id} disappeared from the store while loading; try again");
                }
                size += self.layer_size(hex)?;
            }
            if !self.has_blob(&image.id_hex) {
                bail!(
                    "config sha256:{} disappeared from the store while loading",
                    image.id_hex
                );
            }
            records.push(ImageRecord {
                id: format!("sha256:{}", image.id_hex),
                layers: image.diff_ids.clone(),
                size,
                created: image.created.clone(),
            });
        }
        atomic::sync_dir(&self.root.join("layers"))?;
        atomic::sync_dir(&self.root.join("blobs/sha256"))?;
        for record in &records {
            let hex = parse_sha256(&record.id)?;
            let json = serde_json::to_vec(record).context("encode image record")?;
            atomic::write_file(&self.record_path(hex), &json)?;
        }

        let mut index = self.read_index()?;
        let mut updates = Vec::new();
        for (image, record) in images.iter().zip(&records) {
            let mut mine = Vec::new();
            for tag in &image.tags {
                let previous = index.refs.insert(tag.to_string(), record.id.clone());
                mine.push(TagUpdate {
                    tag: tag.clone(),
                    previous,
                });
            }
            for digest in &image.digests {
                index.refs.insert(digest.to_string(), record.id.clone());
            }
            updates.push(mine);
        }
        let json = serde_json::to_vec_pretty(&index).context("encode reference index")?;
        atomic::write_file(&self.root.join(INDEX_FILE), &json)?;
        Ok(updates)
    }

    fn layer_size(&self, diff_hex: &str) -> Result<u64> {
        let path = self.layer_dir(diff_hex).join("layer.json");
        let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        let record: LayerRecord =
            serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))?;
        Ok(record.size)
    }
}

/// One load in progress: what it has verified so far, waiting in its staging directory. Dropped
/// without [`Staging::commit`], it leaves nothing behind.
pub struct Staging<'s> {
    store: &'s Store,
    dir: PathBuf,
    _lock: Flock<File>,
    /// (diff ID hex, staged layer directory)
    layers: Vec<(String, PathBuf)>,
    /// (digest hex, staged blob file)
    blobs: Vec<(String, PathBuf)>,
}

impl Staging<'_> {
    /// The staging directory (for spooling an archive that arrives on stdin).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when the layer is in the store or already staged: no need to read it again.
    pub fn has_layer(&self, diff_hex: &str) -> bool {
        self.layers.iter().any(|(h, _)| h == diff_hex) || self.store.has_layer(diff_hex)
    }

    /// Unpack a layer stream and keep it only if it hashes to `diff_hex` (and, when the archive
    /// names the blob by digest, if the stream as given hashes to `blob_hex`).
    pub fn unpack_layer(
        &mut self,
        stream: impl Read,
        diff_hex: &str,
        blob_hex: Option<&str>,
    ) -> Result<()> {
        let dir = self.dir.join(format!("layer-{}", self.layers.len()));
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("create {}", dir.display()))?;
        let diff = dir.join("diff");
        DirBuilder::new()
            .mode(0o755)
            .create(&diff)
            .with_context(|| format!("create {}", diff.display()))?;
        let got =
            layer::unpack(stream, &diff).with_context(|| format!("layer sha256:{diff_hex}"))?;
        if let Some(blob_hex) = blob_hex {
            if got.blob_digest != blob_hex {
                bail!(
                    "layer blob sha256:{blob_hex} does not match its digest (read sha256:{})",
                    got.blob_digest
                );
            }
        }
        if got.diff_id != diff_hex {
            bail!(
                "layer sha256:{diff_hex} does not match its diff ID (read sha256:{})",
                got.diff_id
            );
        }
        let record = LayerRecord {
            diff_id: format!("sha256:{diff_hex}"),
            size: got.content_size,
        };
        let json = serde_json::to_vec(&record).context("encode layer record")?;
        atomic::write_file(&dir.join("layer.json"), &json)?;
        self.layers.push((diff_hex.to_string(), dir));
        Ok(())
    }

    /// Stage a blob (config, manifest, index) whose bytes must hash to `hex`.
    pub fn add_blob(&mut self, hex: &str, bytes: &[u8]) -> Result<()> {
        let got = sha256_hex(bytes);
        if got != hex {
            bail!("blob sha256:{hex} does not match its digest (read sha256:{got})");
        }
        if self.blobs.iter().any(|(h, _)| h == hex) || self.store.has_blob(hex) {
            return Ok(());
        }
        let path = self.dir.join(format!("blob-{hex}"));
        let mut file = File::create(&path).with_context(|| format!("create {}", path.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("write {}", path.display()))?;
        file.sync_all()
            .with_context(|| format!("fsync {}", path.display()))?;
        self.blobs.push((hex.to_string(), path));
        Ok(())
    }

    /// Commit every staged layer and blob and the images' records and tags, atomically with
    /// respect to other loads.
    pub fn commit(self, images: &[NewImage]) -> Result<Vec<Vec<TagUpdate>>> {
        if !self.layers.is_empty() {
            // Unpacked files are written without a per-file fsync; one syncfs makes them durable
            // before the rename publishes them.
            let dir =
                File::open(&self.dir).with_context(|| format!("open {}", self.dir.display()))?;
            nix::unistd::syncfs(&dir).with_context(|| format!("syncfs {}", self.dir.display()))?;
        }
        self.store.commit(&self, images)
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        // Whatever was committed has been renamed out; the rest is garbage.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Rename `from` to `to` unless `to` exists; false when it did (someone else committed the same
/// content first: theirs is as good as ours).
fn rename_noreplace(from: &Path, to: &Path) -> Result<bool> {
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EEXIST | Errno::ENOTEMPTY) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("rename {} to {}", from.display(), to.display())),
    }
}

fn tags_of(index: &RefIndex, id: &str) -> Vec<Reference> {
    let mut refs: Vec<Reference> = index
        .refs
        .iter()
        .filter(|(_, v)| v.as_str() == id)
        .filter_map(|(k, _)| Reference::parse(k).ok())
        .collect();
    refs.sort_by_key(|r| r.familiar());
    refs
}

fn summary(index: &RefIndex, record: ImageRecord) -> ImageSummary {
    let (tags, digests) = tags_of(index, &record.id)
        .into_iter()
        .partition(|r| r.tag().is_some());
    ImageSummary {
        record,
        tags,
        digests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::archive::{self, Input};

    /// A scratch store plus a place for archives; removed on drop.
    struct Scratch {
        dir: PathBuf,
        store: Store,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("berth-store-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let store = Store::open(&dir.join("root")).unwrap();
            Scratch { dir, store }
        }

        /// A docker-archive with one single-file layer per entry of `layers`, tagged `tags`.
        fn archive(&self, name: &str, layers: &[&str], tags: &[&str], salt: &str) -> PathBuf {
            let mut tars = Vec::new();
            for content in layers {
                let mut b = tar::Builder::new(Vec::new());
                let mut h = tar::Header::new_ustar();
                h.set_path("file").unwrap();
                h.set_size(content.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append(&h, content.as_bytes()).unwrap();
                tars.push(b.into_inner().unwrap());
            }
            let diff_ids: Vec<String> = tars
                .iter()
                .map(|t| format!("sha256:{}", sha256_hex(t)))
                .collect();
            let config = serde_json::json!({
                "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                "config": {"Env": [format!("SALT={salt}")]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            })
            .to_string();
            let config_name = format!("{}.json", sha256_hex(config.as_bytes()));
            let layer_names: Vec<String> =
                (0..tars.len()).map(|i| format!("l{i}/layer.tar")).collect();
            let manifest = serde_json::json!([{
                "Config": config_name, "RepoTags": tags, "Layers": layer_names,
            }])
            .to_string();
            let path = self.dir.join(name);
            let mut b = tar::Builder::new(File::create(&path).unwrap());
            let mut add = |name: &str, data: &[u8]| {
                let mut h = tar::Header::new_ustar();
                h.set_path(name).unwrap();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append(&h, data).unwrap();
            };
            for (name, data) in layer_names.iter().zip(&tars) {
                add(name, data);
            }
            add(&config_name, config.as_bytes());
            add("manifest.json", manifest.as_bytes());
            b.finish().unwrap();
            path
        }

        fn load(&self, path: &Path) -> String {
            let loaded = archive::load(&self.store, Input::File(path)).unwrap();
            loaded[0].id.clone()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn not_found(err: anyhow::Error) -> bool {
        err.downcast_ref::<NotFound>().is_some()
    }

    #[test]
    fn resolves_by_every_form_docker_accepts() {
        let s = Scratch::new("resolve");
        let id = s.load(&s.archive("a.tar", &["base", "top"], &["app:1", "app:latest"], "a"));
        let hex = id.trim_start_matches("sha256:");
        for reference in [
            "app",
            "app:1",
            "docker.io/library/app:latest",
            id.as_str(),
            hex,
            &hex[..12],
            &hex[..5],
        ] {
            let image = s.store.resolve_image(reference).unwrap();
            assert_eq!(image.id, id, "{reference}");
            assert_eq!(image.repo_tags, ["app:1", "app:latest"]);
            assert_eq!(image.layer_dirs.len(), 2);
            assert!(image.layer_dirs[0].join("file").is_file());
            assert_eq!(
                std::fs::read(image.layer_dirs[1].join("file")).unwrap(),
                b"top"
            );
            assert_eq!(
                image
                    .config
                    .config()
                    .as_ref()
                    .unwrap()
                    .env()
                    .as_ref()
                    .unwrap()[0],
                "SALT=a"
            );
        }
        assert!(not_found(s.store.resolve_image("app:2").unwrap_err()));
        assert!(not_found(s.store.resolve_image("other").unwrap_err()));
        assert!(not_found(
            s.store.resolve_image(&"0".repeat(64)).unwrap_err()
        ));
        let err = s.store.resolve_image("App").unwrap_err();
        assert!(!not_found(err));
    }

    #[test]
    fn an_ambiguous_id_prefix_is_an_error_and_shared_layers_are_stored_once() {
        let s = Scratch::new("ambiguous");
        let first = s.load(&s.archive("a.tar", &["base", "one"], &["a:1"], "a"));
        // Find a second image whose ID starts with the same hex digit as the first.
        let mut second = String::new();
        for salt in 0..200 {
            let path = s.archive(
                &format!("b{salt}.tar"),
                &["base", "two"],
                &[],
                &salt.to_string(),
            );
            let config_id = {
                let loaded = archive::load(&s.store, Input::File(&path)).unwrap();
                loaded[0].id.clone()
            };
            if config_id[7..8] == first[7..8] {
                second = config_id;
                break;
            }
        }
        assert!(!second.is_empty());
        let err = s.store.resolve_image(&first[7..8]).unwrap_err();
        assert!(err.to_string().contains("ambiguous"), "{err}");
        assert_eq!(
            s.store.resolve_image(&second).unwrap().repo_tags,
            Vec::<String>::new()
        );
        // "base" is one directory however many images have it.
        let layers = std::fs::read_dir(s.store.root.join("layers"))
            .unwrap()
            .count();
        let mut distinct: Vec<String> = s
            .store
            .list_images()
            .unwrap()
            .iter()
            .flat_map(|i| i.record.layers.clone())
            .collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(layers, distinct.len());
    }

    #[test]
    fn a_repeated_layer_is_listed_once_at_its_highest_position() {
        let s = Scratch::new("repeat");
        s.load(&s.archive("a.tar", &["x", "y", "x"], &["rep:1"], "r"));
        let image = s.store.resolve_image("rep:1").unwrap();
        assert_eq!(image.layer_dirs.len(), 2);
        assert_eq!(
            std::fs::read(image.layer_dirs[0].join("file")).unwrap(),
            b"y"
        );
        assert_eq!(
            std::fs::read(image.layer_dirs[1].join("file")).unwrap(),
            b"x"
        );
    }

    #[test]
    fn retagging_reports_the_previous_image_and_failed_loads_leave_nothing() {
        let s = Scratch::new("retag");
        let first = s.load(&s.archive("a.tar", &["one"], &["t:1"], "a"));
        let loaded = archive::load(
            &s.store,
            Input::File(&s.archive("b.tar", &["two"], &["t:1"], "b")),
        )
        .unwrap();
        assert_eq!(loaded[0].tags[0].previous.as_deref(), Some(first.as_str()));
        assert_ne!(loaded[0].id, first);
        // The old image stays, untagged.
        assert!(s.store.resolve_image(&first).unwrap().repo_tags.is_empty());

        let before = std::fs::read_dir(s.store.root.join("layers"))
            .unwrap()
            .count();
        let bad = s.dir.join("bad.tar");
        std::fs::write(&bad, b"not a tar at all, and too short").unwrap();
        assert!(archive::load(&s.store, Input::File(&bad)).is_err());
        assert_eq!(
            std::fs::read_dir(s.store.root.join("layers"))
                .unwrap()
                .count(),
            before
        );
        assert_eq!(
            std::fs::read_dir(s.store.root.join("tmp")).unwrap().count(),
            0
        );
    }
}

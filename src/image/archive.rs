//! `load`: read an image archive — docker-archive (classic `docker save`, skopeo's flat layout
//! with symlinked legacy layer paths, docker ≥ 25's combined OCI + manifest.json) or a plain OCI
//! image layout tar — verify every digest, and commit it to the store.
//!
//! The outer tar is only ever read, never extracted: its member names are keys into an index of
//! (offset, size), so a hostile name cannot touch the file system. A file is read in place; stdin
//! (which cannot seek, and docker-archive puts manifest.json last) is spooled into the load's
//! staging directory first and goes with it.
//!
//! What is verified before anything is committed (reference/security.md, "digest discipline"):
//! the config against the digest its file name carries (`<hex>.json`, `blobs/sha256/<hex>`; the
//! image ID is its sha256 either way), every layer's uncompressed stream against the config's
//! `rootfs.diff_ids`, and every OCI blob (index, manifest, config, layer) against its
//! descriptor's digest and size.

use super::digest::{parse_sha256, sha256_hex};
use super::layer::{self, clean_name};
use super::reference::Reference;
use super::store::{NewImage, Staging, Store, TagUpdate};
use anyhow::{bail, Context, Result};
use oci_spec::image::ImageConfiguration;
use serde::Deserialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// JSON documents (manifests, configs, indexes) larger than this are refused, not read.
const MAX_JSON: u64 = 32 << 20;
/// Symlink hops followed between archive members.
const MAX_LINK_HOPS: usize = 16;

const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Where the archive comes from.
pub enum Input<'a> {
    File(&'a Path),
    Stdin,
}

/// One image the load added, with the tags now pointing at it.
#[derive(Debug)]
pub struct LoadedImage {
    pub id: String,
    pub tags: Vec<TagUpdate>,
}

/// Load every image of an archive into the store; all or nothing.
pub fn load(store: &Store, input: Input<'_>) -> Result<Vec<LoadedImage>> {
    let mut staging = store.begin_load()?;
    let file = match input {
        Input::File(path) => {
            let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
            if is_gzip(&file)? {
                spool(&staging, file)?
            } else {
                file
            }
        }
        Input::Stdin => spool(&staging, io::stdin().lock())?,
    };
    let archive = Archive::index(&file)?;
    let images = if archive.members.contains_key("manifest.json") {
        load_docker_archive(&archive, &mut staging)?
    } else if archive.members.contains_key("index.json") {
        load_oci_layout(&archive, &mut staging)?
    } else {
        bail!("archive has neither manifest.json nor an OCI index.json: not an image archive");
    };
    if images.is_empty() {
        bail!("archive holds no image");
    }
    let updates = staging.commit(&images)?;
    Ok(images
        .iter()
        .zip(updates)
        .map(|(image, tags)| LoadedImage {
            id: format!("sha256:{}", image.id_hex),
            tags,
        })
        .collect())
}

fn is_gzip(mut file: &File) -> Result<bool> {
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).context("read archive")?;
    file.rewind().context("read archive")?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

/// Copy a stream (gunzipped if it is gzip) into the staging directory and return it opened.
fn spool(staging: &Staging<'_>, reader: impl Read) -> Result<File> {
    let path = staging.dir().join("archive.tar");
    let mut out = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("create {}", path.display()))?;
    let mut reader = BufReader::new(reader);
    let gzip = reader
        .fill_buf()
        .context("read archive")?
        .starts_with(&[0x1f, 0x8b]);
    if gzip {
        io::copy(&mut flate2::bufread::MultiGzDecoder::new(reader), &mut out)
    } else {
        io::copy(&mut reader, &mut out)
    }
    .context("read archive")?;
    out.rewind().context("read archive")?;
    Ok(out)
}

#[derive(Debug, Clone)]
enum MemberKind {
    File { offset: u64, size: u64 },
    Symlink(String),
    HardLink(String),
    Other,
}

/// The outer tar's members by cleaned name; their bytes are read in place.
struct Archive<'f> {
    file: &'f File,
    members: HashMap<String, MemberKind>,
}

impl<'f> Archive<'f> {
    fn index(file: &'f File) -> Result<Archive<'f>> {
        let mut members = HashMap::new();
        let mut tar = tar::Archive::new(file);
        for entry in tar.entries_with_seek().context("read archive")? {
            let entry = entry.context("read archive")?;
            let Ok(name) = String::from_utf8(entry.path_bytes().into_owned()) else {
                continue;
            };
            let Some(key) = clean_key(&name) else {
                continue;
            };
            let link = || {
                entry
                    .link_name_bytes()
                    .and_then(|l| String::from_utf8(l.into_owned()).ok())
                    .unwrap_or_default()
            };
            let kind = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => MemberKind::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                tar::EntryType::Symlink => MemberKind::Symlink(link()),
                tar::EntryType::Link => MemberKind::HardLink(link()),
                _ => MemberKind::Other,
            };
            members.insert(key, kind);
        }
        Ok(Archive { file, members })
    }

    /// The (offset, size) of a regular member, following symlinks and hard links inside the
    /// archive (skopeo's `<v1id>/layer.tar -> ../<diffid>.tar`).
    fn locate(&self, name: &str) -> Result<(u64, u64)> {
        let mut key = clean_key(name).with_context(|| format!("bad member name {name:?}"))?;
        for _ in 0..MAX_LINK_HOPS {
            match self.members.get(&key) {
                Some(MemberKind::File { offset, size }) => return Ok((*offset, *size)),
                Some(MemberKind::Symlink(target)) => {
                    let base = key.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
                    let joined = if target.starts_with('/') {
                        target.clone()
                    } else {
                        format!("{base}/{target}")
                    };
                    key = clean_key(&joined)
                        .with_context(|| format!("{name} links outside the archive"))?;
                }
                Some(MemberKind::HardLink(target)) => {
                    key = clean_key(target)
                        .with_context(|| format!("{name} links outside the archive"))?;
                }
                Some(MemberKind::Other) => bail!("{name} in the archive is not a file"),
                None => bail!("{name} is missing from the archive"),
            }
        }
        bail!("{name}: too many levels of links in the archive")
    }

    fn open(&self, name: &str) -> Result<MemberReader<'f>> {
        let (offset, size) = self.locate(name)?;
        Ok(MemberReader {
            file: self.file,
            pos: offset,
            end: offset + size,
        })
    }

    fn read_json_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let (_, size) = self.locate(name)?;
        if size > MAX_JSON {
            bail!("{name} is too large ({size} bytes)");
        }
        let mut bytes = Vec::with_capacity(size as usize);
        self.open(name)?
            .read_to_end(&mut bytes)
            .with_context(|| format!("read {name}"))?;
        Ok(bytes)
    }

    /// A blob of an OCI layout, verified against its descriptor.
    fn read_blob(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let hex = parse_sha256(&desc.digest)?;
        let bytes = self.read_json_bytes(&format!("blobs/sha256/{hex}"))?;
        if sha256_hex(&bytes) != hex || desc.size.is_some_and(|s| s != bytes.len() as u64) {
            bail!("blob {} does not match its digest", desc.digest);
        }
        Ok(bytes)
    }
}

/// A member name as a lookup key: cleaned like a layer entry name; `None` if it escapes.
fn clean_key(name: &str) -> Option<String> {
    let comps = clean_name(name.as_bytes()).ok()?;
    let parts: Vec<&str> = comps
        .iter()
        .map(|c| std::str::from_utf8(c).ok())
        .collect::<Option<_>>()?;
    Some(parts.join("/"))
}

/// Reads one member's bytes with positioned reads (no shared file offset).
struct MemberReader<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
}

impl Read for MemberReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// One entry of docker-archive's manifest.json.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

fn load_docker_archive(archive: &Archive<'_>, staging: &mut Staging<'_>) -> Result<Vec<NewImage>> {
    let bytes = archive.read_json_bytes("manifest.json")?;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&bytes).context("parse manifest.json")?;
    let mut images = Vec::new();
    for entry in entries {
        let config = archive.read_json_bytes(&entry.config)?;
        let id_hex = sha256_hex(&config);
        if let Some(named) = digest_in_name(&entry.config) {
            if named != id_hex {
                bail!("config sha256:{named} does not match its digest (read sha256:{id_hex})");
            }
        }
        let layers = entry
            .layers
            .iter()
            .map(|path| LayerSource {
                path: path.clone(),
                blob_hex: blob_digest_in_name(path),
            })
            .collect();
        let mut tags = Vec::new();
        for tag in entry.repo_tags.unwrap_or_default() {
            let reference = Reference::parse(&tag).with_context(|| format!("repo tag {tag:?}"))?;
            if reference.tag().is_none() || reference.digest().is_some() {
                bail!("repo tag {tag:?} is not a name:tag");
            }
            tags.push(reference);
        }
        images.push(stage_image(
            archive,
            staging,
            &config,
            &id_hex,
            layers,
            tags,
            Vec::new(),
        )?);
    }
    Ok(images)
}

/// The hex digest a config's member name carries: `blobs/sha256/<hex>`, `<hex>.json`.
fn digest_in_name(path: &str) -> Option<String> {
    let key = clean_key(path)?;
    let hex = match key.strip_prefix("blobs/sha256/") {
        Some(hex) => hex,
        None => key.strip_suffix(".json")?,
    };
    super::digest::is_sha256_hex(hex).then(|| hex.to_string())
}

/// The digest of an OCI blob path (`blobs/sha256/<hex>`). A `<diffid>.tar` name is the diff ID
/// again, which the diff ID check covers (and the member may be compressed).
fn blob_digest_in_name(path: &str) -> Option<String> {
    let key = clean_key(path)?;
    let hex = key.strip_prefix("blobs/sha256/")?;
    super::digest::is_sha256_hex(hex).then(|| hex.to_string())
}

struct LayerSource {
    path: String,
    /// The digest of the member as stored, when its name says it (OCI blob paths).
    blob_hex: Option<String>,
}

/// Verify and stage one image: its config, then each layer not yet in the store.
fn stage_image(
    archive: &Archive<'_>,
    staging: &mut Staging<'_>,
    config_bytes: &[u8],
    id_hex: &str,
    layers: Vec<LayerSource>,
    tags: Vec<Reference>,
    digests: Vec<Reference>,
) -> Result<NewImage> {
    let config = ImageConfiguration::from_reader(config_bytes)
        .with_context(|| format!("parse config sha256:{id_hex}"))?;
    let diff_ids = config.rootfs().diff_ids().clone();
    if diff_ids.len() != layers.len() {
        bail!(
            "image sha256:{id_hex}: its config lists {} layers but the archive has {}",
            diff_ids.len(),
            layers.len()
        );
    }
    for (diff_id, source) in diff_ids.iter().zip(&layers) {
        let diff_hex = parse_sha256(diff_id).with_context(|| format!("config sha256:{id_hex}"))?;
        if staging.has_layer(diff_hex) {
            // Stored already; the archive's copy must still match, or the archive is corrupt.
            let (blob, diff) = layer::digests(archive.open(&source.path)?)
                .with_context(|| format!("layer sha256:{diff_hex}"))?;
            if source.blob_hex.as_deref().is_some_and(|b| b != blob) {
                bail!(
                    "layer blob sha256:{} does not match its digest (read sha256:{blob})",
                    source.blob_hex.as_deref().unwrap_or_default()
                );
            }
            if diff != diff_hex {
                bail!("layer sha256:{diff_hex} does not match its diff ID (read sha256:{diff})");
            }
            continue;
        }
        let stream = archive.open(&source.path)?;
        staging.unpack_layer(stream, diff_hex, source.blob_hex.as_deref())?;
    }
    staging.add_blob(id_hex, config_bytes)?;
    Ok(NewImage {
        id_hex: id_hex.to_string(),
        diff_ids,
        created: config.created().clone(),
        tags,
        digests,
    })
}

#[derive(Debug, Clone, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Clone, Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Debug, Deserialize)]
struct IndexDoc {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
    #[serde(default)]
    layers: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ManifestDoc {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

fn load_oci_layout(archive: &Archive<'_>, staging: &mut Staging<'_>) -> Result<Vec<NewImage>> {
    let bytes = archive.read_json_bytes("index.json")?;
    let index: IndexDoc = serde_json::from_slice(&bytes).context("parse index.json")?;
    check_index(&index, "index.json")?;
    let mut images: Vec<NewImage> = Vec::new();
    for desc in &index.manifests {
        if desc.platform.as_ref().is_some_and(|p| !host_platform(p)) {
            continue;
        }
        let name = image_name(desc)?;
        let Some((manifest_digest, manifest)) = resolve_manifest(archive, desc, 0)? else {
            continue;
        };
        let config_bytes = archive.read_blob(&manifest.config)?;
        let id_hex = parse_sha256(&manifest.config.digest)?.to_string();
        let tags: Vec<Reference> = name.iter().filter(|r| r.tag().is_some()).cloned().collect();
        let digests: Vec<Reference> = name
            .iter()
            .map(|r| r.with_digest(&manifest_digest))
            .collect();
        if let Some(existing) = images.iter_mut().find(|i| i.id_hex == id_hex) {
            existing.tags.extend(tags);
            existing.digests.extend(digests);
            continue;
        }
        let layers = manifest
            .layers
            .iter()
            .map(|l| {
                let hex = parse_sha256(&l.digest)?;
                Ok(LayerSource {
                    path: format!("blobs/sha256/{hex}"),
                    blob_hex: Some(hex.to_string()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        images.push(stage_image(
            archive,
            staging,
            &config_bytes,
            &id_hex,
            layers,
            tags,
            digests,
        )?);
    }
    if images.is_empty() && !index.manifests.is_empty() {
        bail!("the archive has no image for linux/{}", host_arch());
    }
    Ok(images)
}

/// The name an OCI layout gives a manifest: containerd's full name, else a ref.name that is a
/// full reference. A bare tag (`latest`, what skopeo writes) names no repository.
fn image_name(desc: &Descriptor) -> Result<Option<Reference>> {
    let full = desc
        .annotations
        .get(ANNOTATION_CONTAINERD_NAME)
        .or_else(|| {
            desc.annotations
                .get(ANNOTATION_REF_NAME)
                .filter(|n| n.contains(['/', ':', '@']))
        });
    match full {
        Some(name) => Ok(Some(
            Reference::parse(name)
                .with_context(|| format!("image name {name:?}"))?
                .with_default_tag(),
        )),
        None => Ok(None),
    }
}

/// Follow an index descriptor down to one image manifest for this host. `None` when nothing
/// in it is for this platform.
fn resolve_manifest(
    archive: &Archive<'_>,
    desc: &Descriptor,
    depth: usize,
) -> Result<Option<(String, ManifestDoc)>> {
    if depth > 4 {
        bail!("indexes nested too deeply in the archive");
    }
    let bytes = archive.read_blob(desc)?;
    match desc.media_type.as_str() {
        MT_OCI_INDEX | MT_DOCKER_LIST => {
            let index: IndexDoc = serde_json::from_slice(&bytes)
                .with_context(|| format!("parse index {}", desc.digest))?;
            check_index(&index, &desc.digest)?;
            let candidates: Vec<&Descriptor> = index
                .manifests
                .iter()
                .filter(|d| d.platform.as_ref().is_none_or(host_platform))
                .collect();
            for child in candidates {
                if let Some(found) = resolve_manifest(archive, child, depth + 1)? {
                    return Ok(Some(found));
                }
            }
            Ok(None)
        }
        MT_OCI_MANIFEST | MT_DOCKER_MANIFEST | "" => {
            let manifest: ManifestDoc = serde_json::from_slice(&bytes)
                .with_context(|| format!("parse manifest {}", desc.digest))?;
            // CVE-2021-41190: a document that is both manifest and index is refused.
            if manifest.manifests.is_some() {
                bail!(
                    "manifest {} is ambiguous: it also lists manifests",
                    desc.digest
                );
            }
            if let Some(mt) = manifest.media_type.as_deref() {
                if !desc.media_type.is_empty() && mt != desc.media_type {
                    bail!(
                        "manifest {} has media type {mt}, its descriptor says {}",
                        desc.digest,
                        desc.media_type
                    );
                }
            }
            Ok(Some((desc.digest.clone(), manifest)))
        }
        other => bail!("unsupported media type {other} for {}", desc.digest),
    }
}

fn check_index(index: &IndexDoc, what: &str) -> Result<()> {
    if index.layers.is_some() || index.config.is_some() {
        bail!("{what} is ambiguous: an index that also has layers or a config");
    }
    if let Some(mt) = index.media_type.as_deref() {
        if mt != MT_OCI_INDEX && mt != MT_DOCKER_LIST {
            bail!("{what} has media type {mt}, not an index");
        }
    }
    Ok(())
}

/// GOARCH of this machine, as image platforms spell it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "arm" => "arm",
        other => other,
    }
}

fn host_platform(p: &Platform) -> bool {
    p.os == "linux" && p.architecture == host_arch()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_read_from_member_names() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(digest_in_name(&format!("{hex}.json")).as_deref(), Some(hex));
        assert_eq!(
            digest_in_name(&format!("./blobs/sha256/{hex}")).as_deref(),
            Some(hex)
        );
        assert_eq!(
            blob_digest_in_name(&format!("blobs/sha256/{hex}")).as_deref(),
            Some(hex)
        );
        assert_eq!(blob_digest_in_name(&format!("{hex}.tar")), None);
        assert_eq!(digest_in_name(&format!("{hex}/layer.tar")), None);
        assert_eq!(digest_in_name("config.json"), None);
    }

    #[test]
    fn member_keys_are_cleaned_and_escapes_dropped() {
        assert_eq!(
            clean_key("./manifest.json").as_deref(),
            Some("manifest.json")
        );
        assert_eq!(clean_key("/a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(clean_key("../../etc/passwd"), None);
    }

    #[test]
    fn oci_names_come_from_containerd_or_a_full_ref_name() {
        let desc = |pairs: &[(&str, &str)]| Descriptor {
            media_type: MT_OCI_MANIFEST.into(),
            digest: String::new(),
            size: None,
            annotations: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            platform: None,
        };
        let name = |d: Descriptor| image_name(&d).unwrap().map(|r| r.to_string());
        assert_eq!(
            name(desc(&[
                (
                    ANNOTATION_CONTAINERD_NAME,
                    "docker.io/library/busybox:latest"
                ),
                (ANNOTATION_REF_NAME, "latest")
            ])),
            Some("docker.io/library/busybox:latest".into())
        );
        assert_eq!(name(desc(&[(ANNOTATION_REF_NAME, "latest")])), None);
        assert_eq!(
            name(desc(&[(ANNOTATION_REF_NAME, "localhost/app:1")])),
            Some("localhost/app:1".into())
        );
        assert!(image_name(&desc(&[(ANNOTATION_CONTAINERD_NAME, "Bad")])).is_err());
    }
}

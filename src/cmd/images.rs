//! `berth images` and `berth image inspect`: the store as Docker shows it — the same columns,
//! units and JSON keys, so scripts written against `docker` read our output.

use crate::cli::images::{ImagesArgs, InspectArgs};
use crate::error::NotFound;
use crate::image::reference::Reference;
use crate::image::store::{ImageSummary, Store};
use crate::image::units::{human_duration, human_size, parse_rfc3339, table};
use anyhow::Result;
use oci_spec::image::ImageConfiguration;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

const NONE: &str = "<none>";

/// `docker image inspect` exits 1 when an image is missing (its CLI's generic error code).
const EXIT_INSPECT_MISSING: i32 = 1;

pub fn list(root: &Path, args: &ImagesArgs) -> Result<i32> {
    let store = Store::open(root)?;
    let filter = args
        .reference
        .as_deref()
        .map(Reference::parse)
        .transpose()?;
    // -a shows intermediate images; a store without `build` has none.
    let _intermediate = args.all;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();

    let mut rows = Vec::new();
    for image in store.list_images()? {
        for row in image_rows(&image, args.digests) {
            if let Some(filter) = &filter {
                let same_repo = row.repo.as_ref().is_some_and(|r| r.name() == filter.name());
                let same_tag = filter.tag().is_none() || filter.tag() == row.tag.as_deref();
                if !same_repo || !same_tag {
                    continue;
                }
            }
            rows.push((image.clone(), row));
        }
    }

    let mut out = std::io::stdout().lock();
    if args.quiet {
        for (image, _) in &rows {
            writeln!(out, "{}", display_id(&image.record.id, args.no_trunc))?;
        }
        return Ok(0);
    }
    let mut cells = vec![header(args.digests)];
    for (image, row) in &rows {
        let mut line = vec![
            row.repo
                .as_ref()
                .map_or_else(|| NONE.to_string(), Reference::familiar_name),
            row.tag.clone().unwrap_or_else(|| NONE.to_string()),
        ];
        if args.digests {
            line.push(row.digest.clone().unwrap_or_else(|| NONE.to_string()));
        }
        line.push(display_id(&image.record.id, args.no_trunc));
        line.push(created_since(image.record.created.as_deref(), now));
        line.push(human_size(image.record.size));
        cells.push(line);
    }
    out.write_all(table(&cells).as_bytes())?;
    Ok(0)
}

fn header(digests: bool) -> Vec<String> {
    let mut h = vec!["REPOSITORY", "TAG"];
    if digests {
        h.push("DIGEST");
    }
    h.extend(["IMAGE ID", "CREATED", "SIZE"]);
    h.into_iter().map(String::from).collect()
}

/// One line of `images`.
#[derive(Debug, Clone)]
struct Row {
    repo: Option<Reference>,
    tag: Option<String>,
    digest: Option<String>,
}

/// Docker CLI's rows for one image (cli/command/formatter/image.go): one per tag; a repository
/// known only by digest gets a `<none>` tag; an image with neither is `<none> <none>`.
fn image_rows(image: &ImageSummary, show_digests: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    let digest_of = |repo: &Reference| {
        image
            .digests
            .iter()
            .find(|d| d.name() == repo.name())
            .and_then(|d| d.digest().map(str::to_string))
    };
    for tag in &image.tags {
        rows.push(Row {
            repo: Some(tag.clone()),
            tag: tag.tag().map(str::to_string),
            digest: if show_digests { digest_of(tag) } else { None },
        });
    }
    for d in &image.digests {
        if !image.tags.iter().any(|t| t.name() == d.name()) {
            rows.push(Row {
                repo: Some(d.clone()),
                tag: None,
                digest: if show_digests {
                    d.digest().map(str::to_string)
                } else {
                    None
                },
            });
        }
    }
    if rows.is_empty() {
        rows.push(Row {
            repo: None,
            tag: None,
            digest: None,
        });
    }
    rows
}

/// 12 hex digits, or the whole `sha256:…` with --no-trunc (Docker's `stringid.TruncateID`).
fn display_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.trim_start_matches("sha256:").chars().take(12).collect()
    }
}

fn created_since(created: Option<&str>, now: i64) -> String {
    match created.and_then(parse_rfc3339) {
        Some(t) => format!("{} ago", human_duration(now - t)),
        None => "N/A".to_string(),
    }
}

pub fn inspect(root: &Path, args: &InspectArgs) -> Result<i32> {
    let store = Store::open(root)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in &args.images {
        match store.inspect_image(name) {
            Ok((summary, config)) => found.push(inspect_json(&summary, &config)),
            Err(e) if e.downcast_ref::<NotFound>().is_some() => missing.push(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    // Docker's CLI indents inspect output with four spaces.
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    found.serialize(&mut ser)?;
    buf.push(b'\n');
    std::io::stdout().lock().write_all(&buf)?;
    if !missing.is_empty() {
        return Err(crate::error::coded(
            EXIT_INSPECT_MISSING,
            missing.join(", "),
        ));
    }
    Ok(0)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InspectImage {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: String,
    comment: String,
    created: String,
    docker_version: String,
    author: String,
    config: InspectConfig,
    architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
    os: String,
    size: u64,
    #[serde(rename = "RootFS")]
    root_fs: InspectRootFs,
}

/// The container config as Docker's image inspect shows it (Go struct field names).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfig {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<BTreeMap<String, Empty>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    image: String,
    volumes: Option<BTreeMap<String, Empty>>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    on_build: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<String>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct InspectRootFs {
    #[serde(rename = "Type")]
    typ: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

pub(crate) fn inspect_json(summary: &ImageSummary, config: &ImageConfiguration) -> InspectImage {
    let c = config.config().clone().unwrap_or_default();
    let set = |v: &Option<Vec<String>>| {
        v.as_ref().map(|v| {
            v.iter()
                .map(|k| (k.clone(), Empty {}))
                .collect::<BTreeMap<_, _>>()
        })
    };
    InspectImage {
        id: summary.record.id.clone(),
        repo_tags: summary.tags.iter().map(Reference::familiar).collect(),
        repo_digests: summary.digests.iter().map(Reference::familiar).collect(),
        parent: String::new(),
        comment: String::new(),
        created: config
            .created()
            .clone()
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
        docker_version: String::new(),
        author: config.author().clone().unwrap_or_default(),
        config: InspectConfig {
            hostname: String::new(),
            domainname: String::new(),
            user: c.user().clone().unwrap_or_default(),
            attach_stdin: false,
            attach_stdout: false,
            attach_stderr: false,
            exposed_ports: set(c.exposed_ports()),
            tty: false,
            open_stdin: false,
            stdin_once: false,
            env: c.env().clone(),
            cmd: c.cmd().clone(),
            image: String::new(),
            volumes: set(c.volumes()),
            working_dir: c.working_dir().clone().unwrap_or_default(),
            entrypoint: c.entrypoint().clone(),
            on_build: None,
            labels: c.labels().as_ref().map(|l| l.clone().into_iter().collect()),
            stop_signal: c.stop_signal().clone(),
        },
        architecture: config.architecture().to_string(),
        variant: config.variant().clone(),
        os: config.os().to_string(),
        size: summary.record.size,
        root_fs: InspectRootFs {
            typ: "layers".to_string(),
            layers: summary.record.layers.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::store::ImageRecord;

    fn summary(tags: &[&str], digests: &[&str]) -> ImageSummary {
        let parse = |s: &&str| Reference::parse(s).unwrap();
        ImageSummary {
            record: ImageRecord {
                id: format!("sha256:{}", "ab".repeat(32)),
                layers: vec![],
                size: 0,
                created: None,
            },
            tags: tags.iter().map(parse).collect(),
            digests: digests.iter().map(parse).collect(),
        }
    }

    #[test]
    fn rows_are_one_per_tag_and_none_for_untagged() {
        let rows = image_rows(&summary(&["busybox:latest", "busybox:1"], &[]), false);
        let shown: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.repo.as_ref().unwrap().familiar_name(),
                    r.tag.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("busybox".into(), "latest".into()),
                ("busybox".into(), "1".into())
            ]
        );

        let rows = image_rows(&summary(&[], &[]), true);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].repo.is_none() && rows[0].tag.is_none() && rows[0].digest.is_none());

        let digest = format!("sha256:{}", "cd".repeat(32));
        let rows = image_rows(
            &summary(&["busybox:latest"], &[&format!("busybox@{digest}")]),
            true,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].digest.as_deref(), Some(digest.as_str()));
        let rows = image_rows(&summary(&[], &[&format!("busybox@{digest}")]), false);
        assert_eq!(
            (rows[0].tag.as_deref(), rows[0].digest.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn ids_are_truncated_like_docker() {
        let id = format!("sha256:{}", "0123456789ab".repeat(5) + "cdef");
        assert_eq!(display_id(&id, false), "0123456789ab");
        assert_eq!(display_id(&id, true), id);
        assert_eq!(
            created_since(Some("1970-01-01T00:00:00Z"), 3 * 60),
            "3 minutes ago"
        );
        assert_eq!(created_since(None, 0), "N/A");
    }
}

//! `berth ps`: the containers, in Docker's columns (CONTAINER ID, IMAGE, COMMAND, CREATED,
//! STATUS, PORTS, NAMES), newest first; `--format` with Go-style templates.

use crate::cli::lifecycle::PsArgs;
use crate::container::lifecycle::settle;
use crate::container::state::{self, ContainerDir, State, Status};
use crate::image::units::{human_duration, parse_rfc3339, table};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::path::Path;

/// A container as `ps` sees it.
pub struct Entry {
    pub state: State,
    pub command: String,
    /// Docker's PORTS text (`0.0.0.0:8080->80/tcp, …`).
    pub ports: String,
}

/// Every container of the store with its record brought up to date; records of a `create` or
/// `run` whose process died before it finished are removed (no orphans).
pub fn entries(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for id in state::list_ids(root)? {
        let c = ContainerDir::new(root, &id);
        let Ok(record) = settle(&c) else { continue };
        if record.status == Status::Created && record.owner.is_some() && !record.owner_alive() {
            crate::container::remove_with_volumes(root, &c, &record.name);
            continue;
        }
        let command = command_of(&c);
        let ports = if record.is_up() {
            crate::net::ports::format_ps_column(&crate::net::published(root, &id))
        } else {
            String::new()
        };
        out.push(Entry {
            state: record,
            command,
            ports,
        });
    }
    // Network state a dead owner left, and a release that failed before: tried again here.
    crate::net::sweep(root);
    out.sort_by(|a, b| b.state.created.cmp(&a.state.created));
    Ok(out)
}

fn command_of(c: &ContainerDir) -> String {
    crate::container::spec::Stored::load(&c.config())
        .map(|s| s.process.args.join(" "))
        .unwrap_or_default()
}

/// Docker's STATUS column.
pub fn status_text(s: &State, now: i64) -> String {
    let ago = |t: &Option<String>| {
        t.as_deref()
            .and_then(parse_rfc3339)
            .map(|t| human_duration(now - t))
            .unwrap_or_default()
    };
    if s.is_up() {
        let paused = if s.paused { " (Paused)" } else { "" };
        return format!("Up {}{paused}", ago(&s.started_at));
    }
    match s.status {
        Status::Created => "Created".to_string(),
        _ => format!(
            "Exited ({}) {} ago",
            s.exit_code.unwrap_or(0),
            ago(&s.finished_at)
        ),
    }
}

/// Docker's State word: created, running, paused, exited.
pub fn state_word(s: &State) -> &'static str {
    if s.is_up() {
        if s.paused {
            "paused"
        } else {
            "running"
        }
    } else if s.status == Status::Created {
        "created"
    } else {
        "exited"
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

fn matches(entry: &Entry, filter: &str) -> Result<bool> {
    let Some((key, value)) = filter.split_once('=') else {
        bail!("bad format of filter (expected name=value)");
    };
    let s = &entry.state;
    Ok(match key {
        "status" => state_word(s) == value,
        "name" => s.name.contains(value),
        "id" => s.id.starts_with(value),
        "ancestor" => {
            s.image == value
                || s.image_id == value
                || s.image_id.trim_start_matches("sha256:").starts_with(value)
                || format!("{}:latest", s.image) == value
        }
        _ => bail!("invalid filter '{key}'"),
    })
}

pub fn ps(root: &Path, args: &PsArgs) -> Result<i32> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut list = entries(root)?;
    let limit = if args.latest { Some(1) } else { args.last };
    let show_all =
        args.all || limit.is_some() || args.filter.iter().any(|f| f.starts_with("status="));
    let mut kept = Vec::new();
    for e in list.drain(..) {
        if !show_all && !e.state.is_up() {
            continue;
        }
        let mut ok = true;
        for f in &args.filter {
            ok &= matches(&e, f)?;
        }
        if ok {
            kept.push(e);
        }
    }
    if let Some(n) = limit {
        kept.truncate(n);
    }
    if args.quiet {
        for e in &kept {
            println!(
                "{}",
                if args.no_trunc {
                    e.state.id.clone()
                } else {
                    e.state.id[..12].to_string()
                }
            );
        }
        return Ok(0);
    }
    let rows: Vec<Value> = kept.iter().map(|e| row(e, now, args.no_trunc)).collect();
    if let Some(format) = &args.format {
        let (header, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, format.as_str()),
        };
        let mut lines = Vec::new();
        if header {
            lines.push(super::template::render(body, &header_row())?);
        }
        for r in &rows {
            lines.push(super::template::render(body, r)?);
        }
        if header {
            let cells: Vec<Vec<String>> = lines
                .iter()
                .map(|l| l.split('\t').map(String::from).collect())
                .collect();
            print!("{}", table(&cells));
        } else {
            for l in lines {
                println!("{l}");
            }
        }
        return Ok(0);
    }
    let mut cells = vec![[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for r in &rows {
        let get = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        cells.push(vec![
            get("ID"),
            get("Image"),
            get("Command"),
            get("RunningFor"),
            get("Status"),
            get("Ports"),
            get("Names"),
        ]);
    }
    print!("{}", table(&cells));
    Ok(0)
}

fn header_row() -> Value {
    json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "Status": "STATUS", "Names": "NAMES",
        "State": "STATE", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS"
    })
}

fn row(e: &Entry, now: i64, no_trunc: bool) -> Value {
    let s = &e.state;
    let created = parse_rfc3339(&s.created).unwrap_or(now);
    let command = format!(
        "\"{}\"",
        if no_trunc {
            e.command.clone()
        } else {
            truncate(&e.command, 20)
        }
    );
    json!({
        "ID": if no_trunc { s.id.clone() } else { s.id[..12].to_string() },
        "Image": s.image,
        "Command": command,
        "CreatedAt": s.created,
        "RunningFor": format!("{} ago", human_duration(now - created)),
        "Ports": e.ports,
        "Status": status_text(s, now),
        "State": state_word(s),
        "Names": s.name,
        "Size": "",
        "Labels": "",
        "Mounts": "",
        "Networks": s.config.net.parse().map(|o| o.mode.name()).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_truncated_like_docker() {
        assert_eq!(
            truncate("sh -c 'while true; do sleep 1; done'", 20),
            "sh -c 'while true; …"
        );
        assert_eq!(truncate("sh", 20), "sh");
    }
}

//! `berth inspect` and `berth container inspect`: Docker's JSON for containers (the fields
//! users script against), images through the image store; `-f` renders a Go-style template.

use crate::cli::lifecycle::InspectArgs;
use crate::container::lifecycle::settle;
use crate::container::spec::ANN_NETWORK;
use crate::container::state::{self, ContainerDir};
use crate::error::NotFound;
use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;

pub fn inspect(root: &Path, args: &InspectArgs, only: Option<&str>) -> Result<i32> {
    let kind = only.or(args.kind.as_deref());
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in &args.objects {
        let value = match kind {
            Some("image") => image_json(root, name)?,
            Some("container") => container_json(root, name)?,
            _ => match container_json(root, name)? {
                Some(v) => Some(v),
                None => image_json(root, name)?,
            },
        };
        match value {
            Some(v) => found.push(v),
            None => missing.push(name.clone()),
        }
    }
    let mut out = std::io::stdout().lock();
    if let Some(format) = &args.format {
        for v in &found {
            writeln!(out, "{}", super::template::render(format, v)?)?;
        }
    } else {
        let mut buf = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
        found.serialize(&mut ser)?;
        buf.push(b'\n');
        out.write_all(&buf)?;
    }
    if let Some(first) = missing.first() {
        let what = match kind {
            Some("container") => format!("No such container: {first}"),
            Some("image") => format!("No such image: {first}"),
            _ => format!("No such object: {first}"),
        };
        return Err(crate::error::coded(1, what));
    }
    Ok(0)
}

fn image_json(root: &Path, name: &str) -> Result<Option<Value>> {
    let store = crate::image::store::Store::open(root)?;
    match store.inspect_image(name) {
        Ok((summary, config)) => Ok(Some(serde_json::to_value(super::images::inspect_json(
            &summary, &config,
        ))?)),
        Err(e) if e.downcast_ref::<NotFound>().is_some() => Ok(None),
        Err(_) => Ok(None),
    }
}

fn container_json(root: &Path, name: &str) -> Result<Option<Value>> {
    let container = match state::resolve(root, name) {
        Ok(c) => c,
        Err(e) if e.downcast_ref::<NotFound>().is_some() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(describe(&container)?))
}

/// Docker's inspect document of one container.
pub fn describe(c: &ContainerDir) -> Result<Value> {
    let s = settle(c)?;
    let spec = crate::container::spec::Stored::load(&c.config())?;
    let process = &spec.process;
    let args = process.args.clone();
    let ann = &spec.annotations;
    let running = s.is_up();
    let word = super::ps::state_word(&s);
    let zero_time = "0001-01-01T00:00:00Z".to_string();
    let lowers: Vec<String> = s
        .config
        .layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let image_cfg = image_config(c, &s.image_id);
    let exposed = image_cfg
        .as_ref()
        .and_then(|v| v.get("ExposedPorts").cloned())
        .unwrap_or(Value::Null);
    let labels = image_cfg
        .as_ref()
        .and_then(|v| v.get("Labels").cloned())
        .unwrap_or(json!({}));
    let network = ann
        .get(ANN_NETWORK)
        .cloned()
        .unwrap_or_else(|| "none".into());
    Ok(json!({
        "Id": s.id,
        "Created": s.created,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": word,
            "Running": running,
            "Paused": running && s.paused,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": if running { s.pid.unwrap_or(0) } else { 0 },
            "ExitCode": s.exit_code.unwrap_or(0),
            "Error": "",
            "StartedAt": s.started_at.clone().unwrap_or_else(|| zero_time.clone()),
            "FinishedAt": s.finished_at.clone().unwrap_or_else(|| zero_time.clone()),
        },
        "Image": s.image_id,
        "ResolvConfPath": c.file("resolv.conf"),
        "HostnamePath": c.file("hostname"),
        "HostsPath": c.file("hosts"),
        "LogPath": c.log(),
        "Name": format!("/{}", s.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "NetworkMode": network,
            "PortBindings": port_bindings(&s.config.net),
            "RestartPolicy": s.config.restart,
            "AutoRemove": s.config.auto_remove,
            "LogConfig": {
                "Type": "berth",
                "Config": {"max-size": s.config.log_max_size.to_string(), "max-file": s.config.log_max_file.to_string()},
            },
        },
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": lowers.join(":"),
                "UpperDir": c.upper(),
                "WorkDir": c.work(),
                "MergedDir": c.merged(),
            },
        },
        "Mounts": mounts_json(c, &spec),
        "Config": {
            "Hostname": spec.hostname.clone().unwrap_or_default(),
            "Domainname": "",
            "User": ann.get(crate::container::spec::ANN_USER).cloned().unwrap_or_default(),
            "AttachStdin": s.config.interactive,
            "AttachStdout": true,
            "AttachStderr": true,
            "ExposedPorts": exposed,
            "Tty": s.config.tty,
            "OpenStdin": s.config.interactive,
            "StdinOnce": false,
            "Env": process.env,
            "Cmd": s.config.cmd,
            "Image": s.image,
            "WorkingDir": process.cwd,
            "Entrypoint": s.config.entrypoint,
            "Labels": labels,
            "StopSignal": s.config.stop_signal,
        },
        "NetworkSettings": network_settings(c, &network, running, &exposed),
    }))
}

/// `Mounts`: `-v` binds of host paths (`bind`) and of volumes (`volume`, with its name).
fn mounts_json(c: &ContainerDir, spec: &crate::container::spec::Stored) -> Value {
    let volumes = crate::container::volume::Volumes::new(&c.root());
    let list: Vec<Value> = spec
        .mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("bind"))
        .map(|m| {
            let rw = !m
                .options()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|o| o == "ro");
            let source = m.source().clone().unwrap_or_default();
            let volume = volumes.name_of(&source);
            let mut doc = json!({
                "Type": if volume.is_some() { "volume" } else { "bind" },
                "Source": source,
                "Destination": m.destination(),
                "Mode": if rw { "" } else { "ro" },
                "RW": rw,
                "Propagation": if volume.is_some() { "" } else { "rprivate" },
            });
            if let Some(name) = volume {
                doc["Name"] = json!(name);
                doc["Driver"] = json!("local");
            }
            doc
        })
        .collect();
    Value::Array(list)
}

/// `HostConfig.PortBindings`: the `-p` flags as asked (a range is one entry per port; an
/// ephemeral host port is `""`).
fn port_bindings(flags: &crate::container::state::NetFlags) -> Value {
    let mut out = serde_json::Map::new();
    let Ok(opts) = flags.parse() else {
        return Value::Object(out);
    };
    for spec in &opts.publish {
        for (i, ctr) in (spec.ctr_ports.0..=spec.ctr_ports.1).enumerate() {
            let host = spec
                .host_ports
                .map(|(first, _)| (first as usize + i).to_string())
                .unwrap_or_default();
            let key = format!("{ctr}/{}", spec.proto.name());
            let binding = json!({
                "HostIp": spec.host_ip.map(|a| a.to_string()).unwrap_or_default(),
                "HostPort": host,
            });
            push_binding(&mut out, key, binding);
        }
    }
    Value::Object(out)
}

/// Add `binding` to the list of port `key` (`80/tcp`), making the list when it has none.
fn push_binding(ports: &mut serde_json::Map<String, Value>, key: String, binding: Value) {
    match ports.entry(key).or_insert(Value::Null) {
        Value::Array(list) => list.push(binding),
        other => *other = json!([binding]),
    }
}

/// `NetworkSettings`: each network's address, gateway and MAC while the container runs, and
/// its ports (published ones with their host side, exposed ones as null). As in Docker, the
/// top-level address fields are the default bridge's.
fn network_settings(c: &ContainerDir, mode: &str, running: bool, exposed: &Value) -> Value {
    let store = crate::net::store::NetStore::new(&c.root());
    let record = running
        .then(|| store.load_record(&c.id))
        .and_then(|r| r.ok().flatten());
    let mut networks = serde_json::Map::new();
    let mut top = json!({"IPAddress": "", "Gateway": "", "MacAddress": "", "IPPrefixLen": 0});
    for ep in record.iter().flat_map(|r| &r.endpoints) {
        let net = store.load_network(&ep.network).ok().flatten();
        let mac = crate::net::link::mac_for(ep.addr)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        let entry = json!({
            "NetworkID": net.as_ref().map(|n| n.id.clone()).unwrap_or_default(),
            "IPAddress": ep.addr.to_string(),
            "IPPrefixLen": net.as_ref().map(|n| n.prefix).unwrap_or(0),
            "Gateway": net.as_ref().map(|n| n.gateway.to_string()).unwrap_or_default(),
            "MacAddress": mac,
        });
        if ep.network == crate::net::DEFAULT_NETWORK {
            for key in ["IPAddress", "Gateway", "MacAddress", "IPPrefixLen"] {
                top[key] = entry[key].clone();
            }
        }
        networks.insert(ep.network.clone(), entry);
    }
    if networks.is_empty() && !mode.starts_with("container:") {
        networks.insert(
            mode.to_string(),
            json!({"NetworkID": "", "IPAddress": "", "IPPrefixLen": 0, "Gateway": "", "MacAddress": ""}),
        );
    }
    let mut ports = serde_json::Map::new();
    if running {
        if let Value::Object(exposed) = exposed {
            for key in exposed.keys() {
                ports.insert(key.clone(), Value::Null);
            }
        }
        for p in record.iter().flat_map(|r| &r.published) {
            let key = format!("{}/{}", p.ctr_port, p.proto.name());
            let binding =
                json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()});
            push_binding(&mut ports, key, binding);
        }
    }
    json!({
        "Networks": networks,
        "Ports": ports,
        "IPAddress": top["IPAddress"],
        "IPPrefixLen": top["IPPrefixLen"],
        "Gateway": top["Gateway"],
        "MacAddress": top["MacAddress"],
    })
}

/// The image's config section as image inspect shows it (for ExposedPorts, Labels).
fn image_config(c: &ContainerDir, image_id: &str) -> Option<Value> {
    let root = c.dir.parent()?.parent()?;
    image_json(root, image_id)
        .ok()
        .flatten()
        .and_then(|v| v.get("Config").cloned())
}

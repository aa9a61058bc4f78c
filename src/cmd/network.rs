//! `berth network …` and `berth port`: user-defined networks and published ports, as Docker
//! prints them.

use crate::cli::network::{NetworkCommand, PortArgs};
use crate::image::units::table;
use crate::net::{self, network, store::Network};
use anyhow::{anyhow, Result};
use serde_json::json;
use std::path::Path;

pub fn network(root: &Path, cmd: NetworkCommand) -> Result<i32> {
    net::sweep(root);
    match cmd {
        NetworkCommand::Create(args) => {
            if args.driver != "bridge" {
                return Err(anyhow!("plugin \"{}\" not found", args.driver));
            }
            let net = network::create(root, &args.name, args.subnet.as_deref())?;
            println!("{}", net.id);
        }
        NetworkCommand::Ls(args) => {
            let nets = network::all(root)?;
            if args.quiet {
                for n in &nets {
                    println!("{}", &n.id[..12]);
                }
                return Ok(0);
            }
            let mut rows = vec![vec![
                "NETWORK ID".to_string(),
                "NAME".into(),
                "DRIVER".into(),
                "SCOPE".into(),
            ]];
            for n in &nets {
                rows.push(vec![
                    n.id[..12].to_string(),
                    n.name.clone(),
                    "bridge".into(),
                    "local".into(),
                ]);
            }
            for (name, driver) in [("host", "host"), ("none", "null")] {
                let id = net::network_id(name);
                rows.push(vec![
                    id[..12].to_string(),
                    name.into(),
                    driver.into(),
                    "local".into(),
                ]);
            }
            print!("{}", table(&rows));
        }
        NetworkCommand::Inspect(args) => {
            let mut out = Vec::new();
            let mut missing = false;
            for q in &args.networks {
                match network::find(root, q) {
                    Ok(n) => out.push(inspect_json(root, &n)?),
                    Err(e) => {
                        eprintln!("Error response from daemon: {}", crate::error::one_line(&e));
                        missing = true;
                    }
                }
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(i32::from(missing));
        }
        NetworkCommand::Rm(args) => {
            let mut failed = false;
            for q in &args.networks {
                match network::remove(root, q) {
                    Ok(_) => println!("{q}"),
                    Err(e) => {
                        eprintln!("Error response from daemon: {}", crate::error::one_line(&e));
                        failed = true;
                    }
                }
            }
            return Ok(i32::from(failed));
        }
        NetworkCommand::Prune(_) => {
            let removed = network::prune(root)?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                for name in removed {
                    println!("{name}");
                }
            }
        }
        NetworkCommand::Connect(args) => {
            let ip = match &args.ip {
                Some(t) => Some(
                    t.parse()
                        .map_err(|_| anyhow!("invalid IPv4 address: {t}"))?,
                ),
                None => None,
            };
            network::connect(root, &args.network, &args.container, ip)?;
        }
        NetworkCommand::Disconnect(args) => {
            network::disconnect(root, &args.network, &args.container)?;
        }
    }
    Ok(0)
}

fn inspect_json(root: &Path, n: &Network) -> Result<serde_json::Value> {
    let mut containers = serde_json::Map::new();
    for (id, name, addr) in network::users(root, &n.name)? {
        containers.insert(
            id,
            json!({ "Name": name, "IPv4Address": format!("{addr}/{}", n.prefix) }),
        );
    }
    Ok(json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Config": [{ "Subnet": format!("{}/{}", n.subnet, n.prefix), "Gateway": n.gateway.to_string() }]
        },
        "Internal": false,
        "Containers": containers,
        "Options": { "com.docker.network.bridge.name": n.bridge },
        "Labels": {}
    }))
}

/// `docker port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub fn port(root: &Path, args: &PortArgs) -> Result<i32> {
    net::sweep(root);
    let c = crate::container::state::resolve(root, &args.container)?;
    let published = net::published(root, &c.id);
    let lines = net::ports::format_port_lines(&published, args.port.as_deref())?;
    if lines.is_empty() {
        if let Some(p) = &args.port {
            let p = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            };
            return Err(crate::error::coded(
                1,
                format!("No public port '{p}' published for {}", args.container),
            ));
        }
    }
    for line in lines {
        println!("{line}");
    }
    Ok(0)
}

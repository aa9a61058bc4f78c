//! `berth volume …`: the volumes berth manages, as Docker prints them.

use crate::cli::volume::VolumeCommand;
use crate::container::{state, volume::Volumes};
use crate::image::units::{human_size, table};
use anyhow::{bail, Result};
use serde_json::json;
use std::path::Path;

pub fn volume(root: &Path, cmd: VolumeCommand) -> Result<i32> {
    let volumes = Volumes::new(root);
    match cmd {
        VolumeCommand::Create(args) => {
            let name = match args.name {
                Some(name) => name,
                None => state::new_id()?,
            };
            volumes.ensure(&name, false)?;
            println!("{name}");
        }
        VolumeCommand::Ls(args) => {
            let all = volumes.list();
            if args.quiet {
                for v in &all {
                    println!("{}", v.name);
                }
                return Ok(0);
            }
            let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".into()]];
            rows.extend(
                all.iter()
                    .map(|v| vec!["local".to_string(), v.name.clone()]),
            );
            print!("{}", table(&rows));
        }
        VolumeCommand::Inspect(args) => {
            let mut docs = Vec::new();
            let mut missing = false;
            for name in &args.volumes {
                match volumes.get(name) {
                    Some(v) => docs.push(json!({
                        "CreatedAt": v.created_at,
                        "Driver": "local",
                        "Labels": null,
                        "Mountpoint": volumes.data(&v.name),
                        "Name": v.name,
                        "Options": null,
                        "Scope": "local",
                    })),
                    None => {
                        eprintln!("Error response from daemon: get {name}: no such volume");
                        missing = true;
                    }
                }
            }
            println!("{}", serde_json::to_string_pretty(&docs)?);
            return Ok(if missing { 1 } else { 0 });
        }
        VolumeCommand::Rm(args) => {
            let mut failed = false;
            for name in &args.volumes {
                match remove(root, &volumes, name, args.force) {
                    Ok(true) => println!("{name}"),
                    Ok(false) => {}
                    Err(e) => {
                        eprintln!("Error response from daemon: {}", crate::error::one_line(&e));
                        failed = true;
                    }
                }
            }
            return Ok(if failed { 1 } else { 0 });
        }
        VolumeCommand::Prune(args) => {
            let mut reclaimed = 0;
            println!("Deleted Volumes:");
            let users = volumes.users(root);
            for v in volumes.list() {
                if (v.anonymous || args.all) && !users.contains_key(&v.name) {
                    let size = super::lifecycle::dir_size(&volumes.data(&v.name));
                    if volumes.remove(&v.name).is_ok() {
                        println!("{}", v.name);
                        reclaimed += size;
                    }
                }
            }
            println!("\nTotal reclaimed space: {}", human_size(reclaimed));
        }
    }
    Ok(0)
}

/// Remove one volume; Ok(false) when it is missing and `force` says that is fine.
fn remove(root: &Path, volumes: &Volumes, name: &str, force: bool) -> Result<bool> {
    if volumes.get(name).is_none() {
        if force {
            return Ok(false);
        }
        bail!("get {name}: no such volume");
    }
    if let Some(users) = volumes.users(root).get(name) {
        bail!("remove {name}: volume is in use - [{}]", users.join(", "));
    }
    volumes.remove(name)?;
    Ok(true)
}

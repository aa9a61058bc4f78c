//! What berth remembers about networks, under `<root>/net/`: one lock for every change, the
//! networks (`networks/<name>.json`), their address allocations (`leases/<name>.json`, address
//! → container id) and one endpoint record per attached container (`endpoints/<id>.json`). The
//! records, not any process, drive teardown: a later berth command releases whatever a dead
//! container left (see [`super::sweep`]).

use super::ports::Published;
use crate::container::state::{process_start_time, write_atomic};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Refuse a network name that is not Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. Names become file
/// names under `net/`: one with a `/` (`../../x`) would read or write outside the store, as the
/// cache ids of CVE-2024-9675 did; every path here is made from a name that passed this check.
pub fn validate_network_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        bail!("invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    Ok(())
}

/// A bridge network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub bridge: String,
    pub subnet: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub created: String,
    /// Containers resolve each other by name (user-defined networks, as in Docker).
    pub names: bool,
}

/// One container's attachment to one network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub network: String,
    pub addr: Ipv4Addr,
    /// The host side of the veth pair.
    pub veth: String,
    /// The interface inside the container.
    pub ifname: String,
}

/// Everything berth set up for one container, enough to undo it without the container.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub hostname: String,
    /// `--add-host` entries, kept so that peers can rebuild this container's /etc/hosts.
    pub extra_hosts: Vec<(String, String)>,
    pub endpoints: Vec<Endpoint>,
    pub published: Vec<Published>,
    /// The container's first process, once it exists, and its start time.
    pub pid: Option<i32>,
    pub pid_start: Option<u64>,
    /// The berth process that set it up, until the container's pid is known.
    pub owner: i32,
    pub owner_start: Option<u64>,
}

impl Record {
    /// Whether whoever needs these resources is still alive.
    pub fn is_live(&self) -> bool {
        match (self.pid, self.pid_start) {
            (Some(pid), Some(start)) => process_start_time(pid) == Some(start),
            (Some(_), None) => false,
            (None, _) => process_start_time(self.owner) == self.owner_start,
        }
    }
}

/// The `net/` directory of a store.
#[derive(Debug, Clone)]
pub struct NetStore {
    pub dir: PathBuf,
}

/// The exclusive lock over every network change (flock(2); released when dropped).
pub struct Locked {
    _lock: nix::fcntl::Flock<File>,
}

impl NetStore {
    pub fn new(root: &Path) -> NetStore {
        NetStore {
            dir: root.join("net"),
        }
    }

    pub fn lock(&self) -> Result<Locked> {
        for sub in ["networks", "leases", "endpoints"] {
            let d = self.dir.join(sub);
            std::fs::create_dir_all(&d).with_context(|| format!("create {}", d.display()))?;
        }
        let path = self.dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow!("lock {}: {}", path.display(), e.desc().to_lowercase()))?;
        Ok(Locked { _lock: lock })
    }

    fn network_file(&self, name: &str) -> Result<PathBuf> {
        validate_network_name(name)?;
        Ok(self.dir.join("networks").join(format!("{name}.json")))
    }
    fn lease_file(&self, name: &str) -> Result<PathBuf> {
        validate_network_name(name)?;
        Ok(self.dir.join("leases").join(format!("{name}.json")))
    }
    fn record_file(&self, id: &str) -> PathBuf {
        self.dir.join("endpoints").join(format!("{id}.json"))
    }

    pub fn load_network(&self, name: &str) -> Result<Option<Network>> {
        read_json(&self.network_file(name)?)
    }

    pub fn save_network(&self, _lock: &Locked, net: &Network) -> Result<()> {
        write_atomic(
            &self.network_file(&net.name)?,
            &serde_json::to_vec_pretty(net)?,
        )
    }

    pub fn remove_network(&self, _lock: &Locked, name: &str) -> Result<()> {
        for file in [self.network_file(name)?, self.lease_file(name)?] {
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("remove {}", file.display())),
            }
        }
        Ok(())
    }

    /// Every stored network, by name.
    pub fn networks(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        for path in json_files(&self.dir.join("networks"))? {
            if let Some(n) = read_json::<Network>(&path)? {
                out.push(n);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn leases(&self, network: &str) -> Result<BTreeMap<Ipv4Addr, String>> {
        Ok(read_json(&self.lease_file(network)?)?.unwrap_or_default())
    }

    /// Take `want` (or the lowest free address) in `net` for container `id`.
    pub fn allocate(
        &self,
        _lock: &Locked,
        net: &Network,
        id: &str,
        want: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr> {
        let mut leases = self.leases(&net.name)?;
        let base = u32::from(net.subnet);
        let size = 1u32 << (32 - net.prefix);
        let usable = |a: Ipv4Addr| {
            let n = u32::from(a);
            n > base && n < base + size - 1 && a != net.gateway
        };
        let addr = match want {
            Some(a) => {
                if !usable(a) {
                    bail!(
                        "invalid address {a}: it does not belong to any of this network's subnets ({}/{})",
                        net.subnet,
                        net.prefix
                    );
                }
                if leases.contains_key(&a) {
                    bail!("address {a} is already in use on network {}", net.name);
                }
                a
            }
            None => (base + 1..base + size - 1)
                .map(Ipv4Addr::from)
                .find(|a| usable(*a) && !leases.contains_key(a))
                .ok_or_else(|| anyhow!("no available addresses on network {}", net.name))?,
        };
        leases.insert(addr, id.to_string());
        write_atomic(&self.lease_file(&net.name)?, &serde_json::to_vec(&leases)?)?;
        Ok(addr)
    }

    /// Give `addr` back if `id` holds it.
    pub fn free(&self, _lock: &Locked, network: &str, addr: Ipv4Addr, id: &str) -> Result<()> {
        let mut leases = self.leases(network)?;
        if leases.get(&addr).is_some_and(|owner| owner == id) {
            leases.remove(&addr);
            write_atomic(&self.lease_file(network)?, &serde_json::to_vec(&leases)?)?;
        }
        Ok(())
    }

    pub fn load_record(&self, id: &str) -> Result<Option<Record>> {
        read_json(&self.record_file(id))
    }

    pub fn save_record(&self, _lock: &Locked, rec: &Record) -> Result<()> {
        write_atomic(&self.record_file(&rec.id), &serde_json::to_vec(rec)?)
    }

    pub fn remove_record(&self, _lock: &Locked, id: &str) -> Result<()> {
        match std::fs::remove_file(self.record_file(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("remove network record of {id}")),
        }
    }

    /// Every endpoint record.
    pub fn records(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for path in json_files(&self.dir.join("endpoints"))? {
            if let Some(r) = read_json::<Record>(&path)? {
                out.push(r);
            }
        }
        Ok(out)
    }
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read {}", dir.display())),
    };
    Ok(entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_takes_the_lowest_free_and_refuses_taken_or_foreign() {
        let dir = std::env::temp_dir().join(format!("berth-ipam-{}", std::process::id()));
        let store = NetStore::new(&dir);
        let lock = store.lock().unwrap();
        let net = Network {
            name: "n".into(),
            id: "x".into(),
            bridge: "b".into(),
            subnet: Ipv4Addr::new(10, 1, 0, 0),
            prefix: 30,
            gateway: Ipv4Addr::new(10, 1, 0, 1),
            created: String::new(),
            names: true,
        };
        let a = store.allocate(&lock, &net, "c1", None).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 1, 0, 2));
        assert!(
            store.allocate(&lock, &net, "c2", None).is_err(),
            "/30 has one"
        );
        store.free(&lock, "n", a, "other").unwrap();
        assert!(store.allocate(&lock, &net, "c2", Some(a)).is_err());
        store.free(&lock, "n", a, "c1").unwrap();
        assert!(store.leases("n").unwrap().is_empty());
        assert!(store
            .allocate(&lock, &net, "c2", Some(Ipv4Addr::new(10, 2, 0, 2)))
            .is_err());
        drop(lock);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn network_names_are_never_paths() {
        for good in ["n", "bridge", "my-net_1.a", "0abc"] {
            validate_network_name(good).unwrap();
        }
        for bad in [
            "", "../x", "a/b", ".x", "-x", "_x", "a b", "a\nb", "/abs", "a:b",
        ] {
            assert!(validate_network_name(bad).is_err(), "{bad:?}");
        }
        let store = NetStore::new(Path::new("/nonexistent-store"));
        let err = store.load_network("../../../x").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid network name \"../../../x\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        );
        assert!(store.leases("../x").is_err());
    }
}

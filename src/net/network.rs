//! User-defined networks: create, remove, prune, and connecting a running container to one more
//! network (or taking it off one).

use super::link::{self, Netlink};
use super::store::{validate_network_name, Endpoint, NetStore, Network};
use super::{
    default_network, nft, refresh_hosts, setup_bridge, teardown_bridge, veth_name, DEFAULT_BRIDGE,
    DEFAULT_NETWORK, MTU,
};
use anyhow::{anyhow, bail, Context, Result};
use std::net::Ipv4Addr;
use std::path::Path;

/// Names Docker reserves for its predefined networks.
const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// `a.b.c.d/n` (IPv4), with the host bits zero.
pub fn parse_subnet(text: &str) -> Result<(Ipv4Addr, u8)> {
    let (addr, prefix) = text
        .split_once('/')
        .ok_or_else(|| anyhow!("invalid subnet {text}: expected CIDR notation"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| anyhow!("invalid subnet {text}: not an IPv4 address"))?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| (8..=30).contains(p))
        .ok_or_else(|| anyhow!("invalid subnet {text}: prefix must be 8 to 30"))?;
    let mask = u32::MAX << (32 - prefix);
    if u32::from(addr) & !mask != 0 {
        bail!("invalid subnet {text}: host bits are set");
    }
    Ok((addr, prefix))
}

fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let p = a.1.min(b.1);
    let mask = u32::MAX << (32 - p);
    u32::from(a.0) & mask == u32::from(b.0) & mask
}

/// Every network: the default one (whether or not its bridge exists yet) and the stored ones.
pub fn all(root: &Path) -> Result<Vec<Network>> {
    let mut nets = NetStore::new(root).networks()?;
    if !nets.iter().any(|n| n.name == DEFAULT_NETWORK) {
        nets.insert(0, default_network());
    }
    Ok(nets)
}

/// A network by name, full ID or unique ID prefix (IDs are hex: a valid name too).
pub fn find(root: &Path, query: &str) -> Result<Network> {
    validate_network_name(query)?;
    let nets = all(root)?;
    if let Some(n) = nets.iter().find(|n| n.name == query || n.id == query) {
        return Ok(n.clone());
    }
    let by_prefix: Vec<&Network> = nets
        .iter()
        .filter(|n| !query.is_empty() && n.id.starts_with(query))
        .collect();
    match by_prefix.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(crate::error::coded(
            crate::error::EXIT_ENGINE,
            format!("network {query} not found"),
        )),
        _ => bail!("network {query} is ambiguous ({} matches)", by_prefix.len()),
    }
}

pub fn create(root: &Path, name: &str, subnet: Option<&str>) -> Result<Network> {
    validate_network_name(name)?;
    if PREDEFINED.contains(&name) {
        bail!("operation is not permitted on predefined {name} network");
    }
    let store = NetStore::new(root);
    let lock = store.lock()?;
    let existing = all(root)?;
    if existing.iter().any(|n| n.name == name) {
        bail!("network with name {name} already exists");
    }
    let (subnet, prefix) = match subnet {
        Some(text) => {
            let s = parse_subnet(text)?;
            if let Some(n) = existing.iter().find(|n| overlaps((n.subnet, n.prefix), s)) {
                bail!(
                    "invalid pool request: pool {text} overlaps with network {} ({}/{})",
                    n.name,
                    n.subnet,
                    n.prefix
                );
            }
            s
        }
        // 10.90/16 … 10.199/16, after the default 10.89/16.
        None => (90u8..200)
            .map(|b| (Ipv4Addr::new(10, b, 0, 0), 16))
            .find(|s| !existing.iter().any(|n| overlaps((n.subnet, n.prefix), *s)))
            .ok_or_else(|| anyhow!("no free address pool for network {name}"))?,
    };
    let id = crate::container::state::new_id()?;
    let net = Network {
        name: name.to_string(),
        bridge: format!("br-{}", &id[..12]),
        id,
        subnet,
        prefix,
        gateway: Ipv4Addr::from(u32::from(subnet) + 1),
        created: crate::container::state::now_rfc3339(),
        names: true,
    };
    let mut nl = Netlink::open()?;
    setup_bridge(root, &mut nl, &net)?;
    if let Err(e) = store.save_network(&lock, &net) {
        let _ = teardown_bridge(&net);
        return Err(e);
    }
    Ok(net)
}

/// Containers attached to `network` (ids).
pub fn users(root: &Path, network: &str) -> Result<Vec<(String, String, Ipv4Addr)>> {
    Ok(NetStore::new(root)
        .records()?
        .into_iter()
        .flat_map(|r| {
            r.endpoints
                .iter()
                .filter(|e| e.network == network)
                .map(|e| (r.id.clone(), r.name.clone(), e.addr))
                .collect::<Vec<_>>()
        })
        .collect())
}

pub fn remove(root: &Path, query: &str) -> Result<Network> {
    super::sweep(root);
    let net = find(root, query)?;
    if net.name == DEFAULT_NETWORK {
        bail!(
            "{} is a pre-defined network and cannot be removed",
            net.name
        );
    }
    let store = NetStore::new(root);
    let lock = store.lock()?;
    if !users(root, &net.name)?.is_empty() {
        bail!(
            "error while removing network: network {} id {} has active endpoints",
            net.name,
            net.id
        );
    }
    teardown_bridge(&net)?;
    store.remove_network(&lock, &net.name)?;
    Ok(net)
}

/// Remove every user network without containers; then, with no container on any berth
/// network, the default bridge, the nftables table and (if berth switched it on) forwarding.
pub fn prune(root: &Path) -> Result<Vec<String>> {
    super::sweep(root);
    let mut removed = Vec::new();
    for net in NetStore::new(root).networks()? {
        if net.name != DEFAULT_NETWORK && users(root, &net.name)?.is_empty() {
            remove(root, &net.name)?;
            removed.push(net.name);
        }
    }
    let store = NetStore::new(root);
    let lock = store.lock()?;
    if store.records()?.is_empty() && store.networks()?.iter().all(|n| n.name == DEFAULT_NETWORK) {
        let mut nl = Netlink::open()?;
        nl.delete_link(DEFAULT_BRIDGE)?;
        nft::delete_table()?;
        let marker = store.dir.join("forwarding-enabled");
        if marker.exists() {
            link::sysctl("ipv4/ip_forward", "0")?;
            std::fs::remove_file(&marker)
                .with_context(|| format!("remove {}", marker.display()))?;
        }
        store.remove_network(&lock, DEFAULT_NETWORK)?;
    }
    Ok(removed)
}

/// Attach a running container to one more network: a new veth (`ethN` inside), an address, the
/// network's subnet route (the default route stays on the first network, as in Docker).
pub fn connect(root: &Path, query: &str, container: &str, ip: Option<Ipv4Addr>) -> Result<()> {
    super::sweep(root);
    let c = crate::container::state::resolve(root, container)?;
    let state = c.load_state()?;
    if !state.is_running() {
        bail!("container {container} is not running");
    }
    let pid = state.pid.context("container has no pid")?;
    let net = find(root, query)?;
    let net = super::ensure_network(root, &net.name)?;
    let store = NetStore::new(root);
    let lock = store.lock()?;
    let mut rec = store
        .load_record(&c.id)?
        .ok_or_else(|| anyhow!("container {container} is not on a bridge network"))?;
    if rec.endpoints.iter().any(|e| e.network == net.name) {
        bail!(
            "endpoint with name {} already exists in network {}",
            rec.name,
            net.name
        );
    }
    let index = (0..16)
        .find(|i| !rec.endpoints.iter().any(|e| e.ifname == format!("eth{i}")))
        .context("too many networks")?;
    let addr = store.allocate(&lock, &net, &c.id, ip)?;
    let ep = Endpoint {
        network: net.name.clone(),
        addr,
        veth: veth_name(&c.id, index),
        ifname: format!("eth{index}"),
    };
    let wired = (|| -> Result<()> {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .with_context(|| format!("open network namespace of container {container}"))?
            .into();
        let mut nl = Netlink::open()?;
        let master = nl
            .index_of(&net.bridge)?
            .ok_or_else(|| anyhow!("bridge {} is missing", net.bridge))?;
        nl.create_veth(&ep.veth, master, &ep.ifname, &ns, link::mac_for(addr), MTU)?;
        let mut inside = Netlink::open_in(&ns)?;
        let idx = inside
            .index_of(&ep.ifname)?
            .with_context(|| format!("{} missing in the container", ep.ifname))?;
        inside.add_address(idx, addr, net.prefix)?;
        inside.set_up(idx)
    })();
    if let Err(e) = wired {
        let _ = Netlink::open().and_then(|mut nl| nl.delete_link(&ep.veth));
        store.free(&lock, &net.name, addr, &c.id)?;
        return Err(e);
    }
    rec.endpoints.push(ep);
    store.save_record(&lock, &rec)?;
    refresh_hosts(root, &store, &net.name, None)
}

pub fn disconnect(root: &Path, query: &str, container: &str) -> Result<()> {
    super::sweep(root);
    let c = crate::container::state::resolve(root, container)?;
    let net = find(root, query)?;
    let store = NetStore::new(root);
    let lock = store.lock()?;
    let mut rec = store
        .load_record(&c.id)?
        .ok_or_else(|| anyhow!("container {container} is not connected to network {query}"))?;
    let Some(pos) = rec.endpoints.iter().position(|e| e.network == net.name) else {
        bail!(
            "container {container} is not connected to network {}",
            net.name
        );
    };
    let ep = rec.endpoints.remove(pos);
    if pos == 0 && !rec.published.is_empty() {
        nft::unpublish(&rec.published)?;
        rec.published.clear();
    }
    Netlink::open()?.delete_link(&ep.veth)?;
    store.free(&lock, &net.name, ep.addr, &c.id)?;
    store.save_record(&lock, &rec)?;
    refresh_hosts(root, &store, &net.name, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_overlap() {
        assert_eq!(
            parse_subnet("10.90.0.0/16").unwrap(),
            (Ipv4Addr::new(10, 90, 0, 0), 16)
        );
        assert!(parse_subnet("10.90.0.1/16").is_err());
        assert!(parse_subnet("10.90.0.0").is_err());
        assert!(parse_subnet("10.90.0.0/31").is_err());
        let a = (Ipv4Addr::new(10, 89, 0, 0), 16);
        assert!(overlaps(a, (Ipv4Addr::new(10, 89, 4, 0), 24)));
        assert!(!overlaps(a, (Ipv4Addr::new(10, 90, 0, 0), 16)));
    }
}

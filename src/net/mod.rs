//! Container networking: bridges, veth pairs, addresses, outbound NAT, published ports and
//! names, with no resident process.
//!
//! `run` calls this module at three points:
//! 1. [`prepare`], before the clone: validates the request against the store (network exists,
//!    `--ip` fits), reserves host ports by binding them, allocates an address under the network
//!    lock, writes the endpoint record and gives the /etc/hosts and /etc/resolv.conf texts and the
//!    namespace the container gets ([`Namespace`]). Creates the network's bridge the first time.
//! 2. [`Plan::attach`], in the parent while the cloned child builds its root filesystem: a veth
//!    pair whose peer is created directly inside the child's namespace as `eth0`, its address,
//!    default route and MTU, the DNAT elements of published ports, and the peers' hosts files.
//! 3. Teardown: dropping the [`Plan`] (or [`release`] by id, idempotent) frees the address, the
//!    DNAT elements and the record; the kernel deletes the veth pair with the container's
//!    namespace (asynchronously, so `run` does not wait ~20 ms for it). [`sweep`], called by later berth commands, releases what
//!    a SIGKILLed owner left: every record whose container (or owner) is gone.
//!
//! The shared pieces, each created once and kept (harmless without containers, and `network
//! prune` removes them when unused): the default bridge `berth0` (10.89.0.0/16: neither Docker's
//! 172.17/16 nor Podman's 10.88/16) with `route_localnet` on it, the nftables table `ip berth`
//! (see [`nft`]), and `net.ipv4.ip_forward` (switched on only if it was off, with a forward rule
//! that keeps every non-berth interface pair from routing, so the host routes nothing it did not
//! route before).
//!
//! Names on user-defined networks: maintained hosts files rather than a DNS responder. A DNS
//! server would need a resident process per network (berth has no daemon, and a monitor per
//! container cannot serve a whole network), while every container's /etc/hosts is already a
//! file berth bind-mounts: on each attach and release berth rewrites, under the network lock, the
//! hosts file of every container on that network, in place (the bind mount pins the inode, so
//! rename cannot be used). What this does not give: names of containers on *other* networks, and
//! names for a process that cached a lookup before its peer started.

pub mod etc;
pub mod link;
pub mod network;
pub mod nft;
pub mod ports;
pub mod store;

use anyhow::{anyhow, bail, Context, Result};
use etc::HostEntry;
use link::Netlink;
use ports::{PortSpec, Published, Reservations};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use store::{Endpoint, NetStore, Network, Record};

pub const DEFAULT_NETWORK: &str = "bridge";
pub const DEFAULT_BRIDGE: &str = "berth0";
pub const DEFAULT_SUBNET: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 0);
pub const DEFAULT_PREFIX: u8 = 16;
/// Ethernet's MTU, as Docker's default bridge uses.
pub const MTU: u32 = 1500;

/// `--network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Only `lo`.
    None,
    /// The host's (caller's) network namespace.
    Host,
    /// A bridge network by name (`bridge` is the default one).
    Bridge(String),
    /// Another container's network namespace.
    Container(String),
}

impl Mode {
    pub fn parse(text: &str) -> Result<Mode> {
        Ok(match text {
            "none" => Mode::None,
            "host" => Mode::Host,
            "" | "default" | "bridge" => Mode::Bridge(DEFAULT_NETWORK.to_string()),
            other => match other.strip_prefix("container:") {
                Some("") => bail!("invalid network mode {other:?}: no container named"),
                Some(c) => Mode::Container(c.to_string()),
                None => {
                    store::validate_network_name(other)?;
                    Mode::Bridge(other.to_string())
                }
            },
        })
    }

    /// Docker's `HostConfig.NetworkMode` text.
    pub fn name(&self) -> String {
        match self {
            Mode::None => "none".into(),
            Mode::Host => "host".into(),
            Mode::Bridge(n) => n.clone(),
            Mode::Container(c) => format!("container:{c}"),
        }
    }
}

/// The networking flags of `run`, validated (no syscalls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetOptions {
    pub mode: Mode,
    pub publish: Vec<PortSpec>,
    pub publish_all: bool,
    pub ip: Option<Ipv4Addr>,
    /// `--add-host NAME:ADDR`.
    pub add_hosts: Vec<(String, String)>,
    pub dns: Vec<IpAddr>,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            mode: Mode::Bridge(DEFAULT_NETWORK.into()),
            publish: Vec::new(),
            publish_all: false,
            ip: None,
            add_hosts: Vec::new(),
            dns: Vec::new(),
        }
    }
}

impl NetOptions {
    /// Validate the flags as `docker run` does.
    pub fn parse(
        network: &str,
        publish: &[String],
        publish_all: bool,
        ip: Option<&str>,
        add_hosts: &[String],
        dns: &[String],
    ) -> Result<NetOptions> {
        let mode = Mode::parse(network)?;
        let publish = publish
            .iter()
            .map(|p| ports::parse_publish(p))
            .collect::<Result<Vec<_>>>()?;
        if (!publish.is_empty() || publish_all) && matches!(mode, Mode::None | Mode::Container(_)) {
            bail!("conflicting options: port publishing and the container type network mode");
        }
        let ip = match ip {
            None => None,
            Some(text) => Some(
                text.parse::<Ipv4Addr>()
                    .map_err(|_| anyhow!("invalid IPv4 address: {text}"))?,
            ),
        };
        if ip.is_some() && !matches!(&mode, Mode::Bridge(n) if n != DEFAULT_NETWORK) {
            bail!("user specified IP address is supported on user defined networks only");
        }
        let add_hosts = add_hosts
            .iter()
            .map(|h| parse_add_host(h))
            .collect::<Result<Vec<_>>>()?;
        let dns = dns
            .iter()
            .map(|d| {
                d.parse::<IpAddr>()
                    .map_err(|_| anyhow!("{d} is not an ip address"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(NetOptions {
            mode,
            publish,
            publish_all,
            ip,
            add_hosts,
            dns,
        })
    }
}

/// `--add-host NAME:ADDR` (or `NAME=ADDR`), as docker/cli's opts.ValidateExtraHost reads it:
/// split at the first `=`, else at the first `:` (an IPv6 address keeps its colons); the
/// address, optionally in brackets, must parse as an IP address. The name is written into
/// /etc/hosts as it is, so it must be a host name: Docker only refuses `:` in it, berth takes
/// `[a-zA-Z0-9_][a-zA-Z0-9_.-]*` — a newline, blank or `#` would add or end a line of the
/// file (hosts(5)).
fn parse_add_host(text: &str) -> Result<(String, String)> {
    let (name, addr) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .filter(|(name, _)| !name.is_empty() && !name.contains(':'))
        .ok_or_else(|| anyhow!("bad format for add-host: {text:?}"))?;
    let addr = match addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        Some(inner) if !inner.is_empty() => inner,
        _ => addr,
    };
    if addr.parse::<IpAddr>().is_err() {
        bail!("invalid IP address in add-host: {addr:?}");
    }
    let mut chars = name.chars();
    let ok = name.len() <= 253
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        bail!("invalid hostname in add-host: {name:?}");
    }
    Ok((name.to_string(), addr.to_string()))
}

/// The network namespace the container's first process gets.
pub enum Namespace {
    /// A new one (configured by [`Plan::attach`] or left with only `lo`).
    New,
    /// The caller's.
    Host,
    /// Another container's (an open /proc/PID/ns/net).
    Join(OwnedFd),
}

/// Who is being attached.
pub struct Who<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub hostname: &'a str,
    /// The image's ExposedPorts keys (for `-P`).
    pub exposed: &'a [String],
}

/// A bridge attachment in progress (see [`prepare`]).
struct Bridged {
    network: Network,
    addr: Ipv4Addr,
    veth: String,
}

/// What [`prepare`] decided; owns the address, the port reservations and the record, and
/// releases them when dropped.
pub struct Plan {
    root: PathBuf,
    id: String,
    namespace: Option<Namespace>,
    bridged: Option<Bridged>,
    reservations: Reservations,
    hosts: String,
    resolv: String,
}

/// Step 1: everything that can fail before the container exists.
pub fn prepare(root: &Path, opts: &NetOptions, who: &Who) -> Result<Plan> {
    sweep(root);
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let extra: Vec<HostEntry> = opts
        .add_hosts
        .iter()
        .map(|(n, a)| HostEntry {
            addr: a.clone(),
            names: vec![n.clone()],
        })
        .collect();
    let mut plan = Plan {
        root: root.to_path_buf(),
        id: who.id.to_string(),
        namespace: Some(Namespace::New),
        bridged: None,
        reservations: Reservations::default(),
        hosts: etc::hosts(&extra, None, &[]),
        resolv: etc::resolv_conf(&host_resolv, &opts.dns),
    };
    match &opts.mode {
        Mode::None => {}
        Mode::Host => {
            plan.namespace = Some(Namespace::Host);
            let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            plan.hosts = host_hosts + &etc::hosts(&extra, None, &[])[etc_localhost_len()..];
            plan.resolv = if opts.dns.is_empty() {
                host_resolv
            } else {
                etc::resolv_conf(&host_resolv, &opts.dns)
            };
        }
        Mode::Container(other) => {
            let c = crate::container::state::resolve(root, other)?;
            let state = c.load_state()?;
            if !state.is_running() {
                bail!("cannot join network of a non running container: {other}");
            }
            let pid = state.pid.context("container has no pid")?;
            let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
                .with_context(|| format!("open network namespace of container {other}"))?;
            plan.namespace = Some(Namespace::Join(ns.into()));
            if let Ok(text) = std::fs::read_to_string(c.file("hosts")) {
                plan.hosts = text;
            }
            if let Ok(text) = std::fs::read_to_string(c.file("resolv.conf")) {
                plan.resolv = text;
            }
        }
        Mode::Bridge(name) => {
            let network = ensure_network(root, name)?;
            let mut specs = opts.publish.clone();
            if opts.publish_all {
                for key in who.exposed {
                    specs.push(ports::parse_exposed(key)?);
                }
            }
            plan.reservations = ports::reserve(&specs)?;
            let store = NetStore::new(root);
            let lock = store.lock()?;
            let addr = store.allocate(&lock, &network, who.id, opts.ip)?;
            let veth = veth_name(who.id, 0);
            let record = Record {
                id: who.id.to_string(),
                name: who.name.to_string(),
                hostname: who.hostname.to_string(),
                extra_hosts: opts.add_hosts.clone(),
                endpoints: vec![Endpoint {
                    network: network.name.clone(),
                    addr,
                    veth: veth.clone(),
                    ifname: "eth0".into(),
                }],
                published: plan.reservations.published.clone(),
                pid: None,
                pid_start: None,
                owner: std::process::id() as i32,
                owner_start: crate::container::state::process_start_time(std::process::id() as i32),
            };
            store.save_record(&lock, &record)?;
            plan.bridged = Some(Bridged {
                network: network.clone(),
                addr,
                veth,
            });
            let peers = if network.names {
                peer_entries(&store.records()?, &network.name, who.id)
            } else {
                Vec::new()
            };
            plan.hosts = etc::hosts(&extra, Some(own_entry(&record, addr)), &peers);
        }
    }
    Ok(plan)
}

fn etc_localhost_len() -> usize {
    etc::hosts(&[], None, &[]).len()
}

impl Plan {
    /// The namespace for the container's first process (taken once).
    pub fn namespace(&mut self) -> Namespace {
        self.namespace.take().unwrap_or(Namespace::New)
    }

    /// /etc/hosts for the container.
    pub fn hosts(&self) -> &str {
        &self.hosts
    }

    /// /etc/resolv.conf for the container.
    pub fn resolv_conf(&self) -> &str {
        &self.resolv
    }

    /// Step 2: wire the cloned child (host pid `pid`, still waiting for GO) into its network.
    pub fn attach(&mut self, pid: i32) -> Result<()> {
        let Some(b) = &self.bridged else {
            return Ok(());
        };
        let ns: OwnedFd = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .with_context(|| format!("open network namespace of process {pid}"))?
            .into();
        let net = &b.network;
        let mut nl = Netlink::open()?;
        let master = nl
            .index_of(&net.bridge)?
            .ok_or_else(|| anyhow!("bridge {} of network {} is missing", net.bridge, net.name))?;
        nl.create_veth(&b.veth, master, "eth0", &ns, link::mac_for(b.addr), MTU)?;
        // Docker lets any user bind any port in a container's own namespace (ip-sysctl.rst,
        // ip_unprivileged_port_start), so images that drop root can still serve on port 80.
        let (inside, sysctl) = link::in_netns(&ns, || {
            (
                Netlink::open(),
                link::sysctl("ipv4/ip_unprivileged_port_start", "0"),
            )
        })?;
        let mut inside = inside?;
        sysctl?;
        let eth0 = inside
            .index_of("eth0")?
            .context("eth0 missing in the container")?;
        inside.add_address(eth0, b.addr, net.prefix)?;
        inside.set_up(eth0)?;
        inside.add_default_route(net.gateway, eth0)?;
        nft::publish(&self.reservations.published, b.addr)?;

        let store = NetStore::new(&self.root);
        let lock = store.lock()?;
        if let Some(mut rec) = store.load_record(&self.id)? {
            rec.pid = Some(pid);
            rec.pid_start = crate::container::state::process_start_time(pid);
            store.save_record(&lock, &rec)?;
        }
        if net.names {
            refresh_hosts(&self.root, &store, &net.name, Some(&self.id))?;
        }
        Ok(())
    }
}

impl Drop for Plan {
    fn drop(&mut self) {
        if self.bridged.is_some() {
            let _ = release(&self.root, &self.id);
        }
    }
}

/// Step 3: undo everything berth set up for container `id` (idempotent).
pub fn release(root: &Path, id: &str) -> Result<()> {
    let store = NetStore::new(root);
    if !store
        .dir
        .join("endpoints")
        .join(format!("{id}.json"))
        .exists()
    {
        return Ok(());
    }
    let lock = store.lock()?;
    let Some(rec) = store.load_record(id)? else {
        return Ok(());
    };
    nft::unpublish(&rec.published)?;
    // Deleting a veth waits for an RCU grace period (~20 ms measured here). When the container
    // is gone its namespace is being destroyed, and the kernel deletes both ends of every veth
    // in it (veth(4)): only a live container's links are deleted here.
    let live = rec.pid.is_some() && rec.is_live();
    let mut nl = if live { Some(Netlink::open()?) } else { None };
    for ep in &rec.endpoints {
        if let Some(nl) = nl.as_mut() {
            nl.delete_link(&ep.veth)?;
        }
        store.free(&lock, &ep.network, ep.addr, id)?;
    }
    store.remove_record(&lock, id)?;
    let mut refreshed = Vec::new();
    for ep in &rec.endpoints {
        if !refreshed.contains(&ep.network)
            && store.load_network(&ep.network)?.is_some_and(|n| n.names)
        {
            refresh_hosts(root, &store, &ep.network, None)?;
            refreshed.push(ep.network.clone());
        }
    }
    Ok(())
}

/// Release what dead containers left (their owner was killed before it could); errors are
/// ignored, the next command tries again.
pub fn sweep(root: &Path) {
    let store = NetStore::new(root);
    let Ok(records) = store.records() else {
        return;
    };
    for rec in records.iter().filter(|r| !r.is_live()) {
        let _ = release(root, &rec.id);
    }
}

/// Published ports of container `id` (empty when it has none or is not running).
pub fn published(root: &Path, id: &str) -> Vec<Published> {
    NetStore::new(root)
        .load_record(id)
        .ok()
        .flatten()
        .map(|r| r.published)
        .unwrap_or_default()
}

/// `veth` + 10 hex of the id + the endpoint's index: unique, and within IFNAMSIZ.
fn veth_name(id: &str, index: usize) -> String {
    format!("vb{}{}", &id[..12.min(id.len())], index)
}

fn own_entry(rec: &Record, addr: Ipv4Addr) -> HostEntry {
    let mut names = vec![rec.hostname.clone()];
    if !rec.name.is_empty() && rec.name != rec.hostname {
        names.push(rec.name.clone());
    }
    HostEntry {
        addr: addr.to_string(),
        names,
    }
}

/// The other containers of `network`, for a hosts file.
fn peer_entries(records: &[Record], network: &str, except: &str) -> Vec<HostEntry> {
    let mut peers: Vec<HostEntry> = records
        .iter()
        .filter(|r| r.id != except)
        .flat_map(|r| {
            r.endpoints
                .iter()
                .filter(|e| e.network == network)
                .map(move |e| HostEntry {
                    addr: e.addr.to_string(),
                    names: vec![r.name.clone(), r.id[..12.min(r.id.len())].to_string()],
                })
        })
        .collect();
    peers.sort_by(|a, b| a.addr.cmp(&b.addr));
    peers
}

/// Rewrite the hosts file of every container on `network` (except `skip`, whose file is
/// fresh): in place, because each is bind-mounted by inode into its container.
fn refresh_hosts(root: &Path, store: &NetStore, network: &str, skip: Option<&str>) -> Result<()> {
    use std::io::{Seek, Write};
    let records = store.records()?;
    for rec in records.iter().filter(|r| Some(r.id.as_str()) != skip) {
        let mut peers = Vec::new();
        let mut own = None;
        for ep in &rec.endpoints {
            if let Some(n) = store.load_network(&ep.network)? {
                if n.names {
                    peers.extend(peer_entries(&records, &n.name, &rec.id));
                }
            }
            own.get_or_insert_with(|| own_entry(rec, ep.addr));
        }
        if !rec.endpoints.iter().any(|e| e.network == network) {
            continue;
        }
        let extra: Vec<HostEntry> = rec
            .extra_hosts
            .iter()
            .map(|(n, a)| HostEntry {
                addr: a.clone(),
                names: vec![n.clone()],
            })
            .collect();
        let text = etc::hosts(&extra, own, &peers);
        let path = crate::container::state::ContainerDir::new(root, &rec.id).file("hosts");
        let Ok(mut file) = std::fs::OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        file.rewind()
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|_| file.set_len(text.len() as u64))
            .with_context(|| format!("rewrite {}", path.display()))?;
    }
    Ok(())
}

/// The network `name`, its bridge created and registered if it is not there yet (the default
/// network is made on first use).
pub fn ensure_network(root: &Path, name: &str) -> Result<Network> {
    let store = NetStore::new(root);
    let network = match store.load_network(name)? {
        Some(n) => n,
        None if name == DEFAULT_NETWORK => default_network(),
        None => {
            return Err(crate::error::coded(
                crate::error::EXIT_ENGINE,
                format!("network {name} not found"),
            ))
        }
    };
    let mut nl = Netlink::open()?;
    if nl.index_of(&network.bridge)?.is_some() {
        return Ok(network);
    }
    let lock = store.lock()?;
    if nl.index_of(&network.bridge)?.is_none() {
        setup_bridge(root, &mut nl, &network)?;
    }
    if store.load_network(name)?.is_none() {
        store.save_network(&lock, &network)?;
    }
    Ok(network)
}

/// The default network as it is before its first use.
fn default_network() -> Network {
    Network {
        name: DEFAULT_NETWORK.into(),
        id: network_id(DEFAULT_NETWORK),
        bridge: DEFAULT_BRIDGE.into(),
        subnet: DEFAULT_SUBNET,
        prefix: DEFAULT_PREFIX,
        gateway: Ipv4Addr::from(u32::from(DEFAULT_SUBNET) + 1),
        created: crate::container::state::now_rfc3339(),
        names: false,
    }
}

/// The shared pieces of one bridge network: the table (first time), the bridge with its
/// gateway address, its sysctls and its nftables registration. Forwarding is switched on only
/// if it was off, and then remembered (`net/forwarding-enabled`) so that prune can undo it.
fn setup_bridge(root: &Path, nl: &mut Netlink, net: &Network) -> Result<()> {
    link::check_ifname(&net.bridge)?;
    let forwarding_was_off = link::read_sysctl("ipv4/ip_forward")? == "0";
    nft::ensure_table(forwarding_was_off)?;
    if forwarding_was_off {
        let marker = NetStore::new(root).dir.join("forwarding-enabled");
        std::fs::write(&marker, "").with_context(|| format!("write {}", marker.display()))?;
        link::sysctl("ipv4/ip_forward", "1")?;
    }
    let index = nl.create_bridge(&net.bridge, link::mac_for(net.gateway), MTU)?;
    nl.add_address(index, net.gateway, net.prefix)?;
    link::sysctl(&format!("ipv4/conf/{}/route_localnet", net.bridge), "1")?;
    nft::add_network(&net.bridge, net.subnet, net.prefix)?;
    Ok(())
}

/// Take a bridge network's shared pieces down (the network must have no container).
pub fn teardown_bridge(net: &Network) -> Result<()> {
    let mut nl = Netlink::open()?;
    nl.delete_link(&net.bridge)?;
    if nft::table_exists() {
        nft::remove_network(&net.bridge, net.subnet, net.prefix)?;
    }
    Ok(())
}

/// A stable 64-hex id for a network name.
pub fn network_id(name: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("berth-network:{name}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_flags_validate_like_docker() {
        assert_eq!(Mode::parse("none").unwrap(), Mode::None);
        assert_eq!(
            Mode::parse("bridge").unwrap(),
            Mode::Bridge("bridge".into())
        );
        assert_eq!(
            Mode::parse("container:web").unwrap(),
            Mode::Container("web".into())
        );
        assert!(Mode::parse("container:").is_err());
        let ok = |n: &str, p: &[&str], ip: Option<&str>| {
            let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
            NetOptions::parse(n, &p, false, ip, &[], &[])
        };
        assert!(ok("none", &["80"], None).is_err());
        assert!(ok("bridge", &["80"], None).is_ok());
        assert!(ok("bridge", &[], Some("10.89.0.5")).is_err());
        assert!(ok("mynet", &[], Some("10.90.0.5")).is_ok());
        assert!(ok("mynet", &[], Some("x")).is_err());
        let hosts = NetOptions::parse("bridge", &[], false, None, &["db:10.0.0.9".into()], &[])
            .unwrap()
            .add_hosts;
        assert_eq!(hosts, [("db".to_string(), "10.0.0.9".to_string())]);
        assert!(NetOptions::parse("bridge", &[], false, None, &["db".into()], &[]).is_err());
        assert!(NetOptions::parse("bridge", &[], false, None, &[], &["x".into()]).is_err());
    }

    #[test]
    fn add_host_is_docker_s_host_ip_with_a_real_host_name() {
        let pair = |n: &str, a: &str| (n.to_string(), a.to_string());
        assert_eq!(
            parse_add_host("db:10.0.0.9").unwrap(),
            pair("db", "10.0.0.9")
        );
        assert_eq!(
            parse_add_host("db=10.0.0.9").unwrap(),
            pair("db", "10.0.0.9")
        );
        assert_eq!(parse_add_host("v6:::1").unwrap(), pair("v6", "::1"));
        assert_eq!(
            parse_add_host("v6=[fe80::1]").unwrap(),
            pair("v6", "fe80::1")
        );
        assert_eq!(
            parse_add_host("_svc.a-b:[10.0.0.1]").unwrap(),
            pair("_svc.a-b", "10.0.0.1")
        );
        for (bad, err) in [
            ("db", "bad format for add-host: \"db\""),
            (":10.0.0.1", "bad format for add-host: \":10.0.0.1\""),
            ("a:b=10.0.0.1", "bad format for add-host: \"a:b=10.0.0.1\""),
            ("db:nope", "invalid IP address in add-host: \"nope\""),
            (
                "db:10.0.0.1\n6.6.6.6 x",
                "invalid IP address in add-host: \"10.0.0.1\\n6.6.6.6 x\"",
            ),
            (
                "a\n6.6.6.6 x:10.0.0.1",
                "invalid hostname in add-host: \"a\\n6.6.6.6 x\"",
            ),
            ("a b:10.0.0.1", "invalid hostname in add-host: \"a b\""),
            ("a#b:10.0.0.1", "invalid hostname in add-host: \"a#b\""),
            ("-a:10.0.0.1", "invalid hostname in add-host: \"-a\""),
        ] {
            assert_eq!(parse_add_host(bad).unwrap_err().to_string(), err, "{bad:?}");
        }
    }

    #[test]
    fn veth_names_fit_ifnamsiz() {
        let id = "0123456789abcdef".repeat(4);
        assert!(link::check_ifname(&veth_name(&id, 9)).is_ok());
    }
}

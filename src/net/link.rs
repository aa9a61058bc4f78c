//! Links, addresses and routes over rtnetlink (rtnetlink(7)), in-process and synchronous: the
//! run path makes a handful of netlink round trips instead of forking `ip` (milliseconds each).
//!
//! A netlink socket belongs to the network namespace it was created in, so configuring the
//! inside of a container is: setns into its namespace, open a socket, setns back.

use anyhow::{anyhow, bail, Context, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// A route netlink socket in one network namespace.
pub struct Netlink {
    sock: Socket,
    seq: u32,
}

/// errno of a failed request, for callers that branch on it (EEXIST, ENODEV).
#[derive(Debug)]
pub struct NetlinkError(pub i32);

impl std::fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = nix::errno::Errno::from_raw(self.0);
        write!(f, "{}", e.desc().to_lowercase())
    }
}
impl std::error::Error for NetlinkError {}

/// Whether `err` is a netlink error with this errno.
pub fn is_errno(err: &anyhow::Error, errno: i32) -> bool {
    err.downcast_ref::<NetlinkError>()
        .is_some_and(|e| e.0 == errno)
}

impl Netlink {
    /// A socket in the current network namespace.
    pub fn open() -> Result<Netlink> {
        let mut sock = Socket::new(NETLINK_ROUTE).context("open netlink socket")?;
        sock.bind_auto().context("bind netlink socket")?;
        sock.connect(&SocketAddr::new(0, 0))
            .context("connect netlink socket")?;
        Ok(Netlink { sock, seq: 0 })
    }

    /// A socket in the network namespace `ns` (an fd of /proc/PID/ns/net).
    pub fn open_in(ns: &OwnedFd) -> Result<Netlink> {
        in_netns(ns, Netlink::open)?
    }

    /// Send one request and wait for its acknowledgement (or the first reply message).
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut req = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        req.finalize();
        let mut buf = vec![0; req.header.length as usize];
        req.serialize(&mut buf);
        self.sock.send(&buf, 0).context("send netlink request")?;
        let mut replies = Vec::new();
        let mut rx = vec![0u8; 32 * 1024];
        loop {
            let n = self
                .sock
                .recv(&mut &mut rx[..], 0)
                .context("read netlink reply")?;
            let mut offset = 0;
            while offset < n {
                let msg: NetlinkMessage<RouteNetlinkMessage> =
                    NetlinkMessage::deserialize(&rx[offset..n]).context("parse netlink reply")?;
                let len = msg.header.length as usize;
                if msg.header.sequence_number == self.seq {
                    match msg.payload {
                        NetlinkPayload::Error(e) => {
                            return match e.code {
                                None => Ok(replies),
                                Some(code) => Err(NetlinkError(-code.get()).into()),
                            };
                        }
                        NetlinkPayload::Done(_) => return Ok(replies),
                        NetlinkPayload::InnerMessage(inner) => replies.push(inner),
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    /// The index of interface `name`, or None when there is none.
    pub fn index_of(&mut self, name: &str) -> Result<Option<u32>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("look up link {name}")),
        }
    }

    /// Create bridge `name` with a fixed MAC (a bridge otherwise takes the lowest MAC of its
    /// ports, which changes as containers come and go) and bring it up.
    pub fn create_bridge(&mut self, name: &str, mac: [u8; 6], mtu: u32) -> Result<u32> {
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        msg.attributes.push(LinkAttribute::Mtu(mtu));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
            .with_context(|| format!("create bridge {name}"))?;
        self.index_of(name)?
            .ok_or_else(|| anyhow!("bridge {name} vanished after creation"))
    }

    /// Create a veth pair: `host` here, up and enslaved to bridge `master`; the peer is created
    /// directly inside the namespace `peer_ns` as `peer` with `mac` (no move needed).
    pub fn create_veth(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        peer_ns: &OwnedFd,
        mac: [u8; 6],
        mtu: u32,
    ) -> Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        peer_msg
            .attributes
            .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
        peer_msg
            .attributes
            .push(LinkAttribute::Address(mac.to_vec()));
        peer_msg.attributes.push(LinkAttribute::Mtu(mtu));
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        msg.attributes.push(LinkAttribute::Mtu(mtu));
        msg.attributes.push(LinkAttribute::Controller(master));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        match self.request(
            RouteNetlinkMessage::NewLink(msg.clone()),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if is_errno(&e, libc::EEXIST) => {
                // The name is this container's own: a link left by its previous run, whose
                // namespace the kernel is still tearing down in the background (network
                // namespaces are destroyed asynchronously, and their veths with them). Delete
                // it and create ours.
                self.delete_link(host)?;
                self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
            }
            other => other,
        }
        .with_context(|| format!("create veth pair {host}"))?;
        Ok(())
    }

    /// Bring link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(msg), 0)
            .context("bring link up")?;
        Ok(())
    }

    /// Delete link `name`; a missing link is not an error (teardown is idempotent).
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::DelLink(msg), 0) {
            Ok(_) => Ok(()),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("delete link {name}")),
        }
    }

    /// Add `addr/prefix` to link `index`.
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes
            .push(AddressAttribute::Local(IpAddr::V4(addr)));
        msg.attributes
            .push(AddressAttribute::Address(IpAddr::V4(addr)));
        let bcast = u32::from(addr) | (u32::MAX >> prefix.min(31));
        msg.attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(bcast)));
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_errno(&e, libc::EEXIST) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("add address {addr}/{prefix}")),
        }
    }

    /// The default route via `gateway`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header = RouteHeader {
            address_family: AddressFamily::Inet,
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Boot,
            scope: RouteScope::Universe,
            kind: RouteType::Unicast,
            ..Default::default()
        };
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        msg.attributes.push(RouteAttribute::Oif(index));
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .with_context(|| format!("add default route via {gateway}"))?;
        Ok(())
    }
}

/// Run `f` with the calling thread in network namespace `ns`, then go back (setns(2)). Sockets
/// and /proc/sys/net files opened meanwhile belong to `ns` for good.
pub fn in_netns<T>(ns: &OwnedFd, f: impl FnOnce() -> T) -> Result<T> {
    use nix::sched::{setns, CloneFlags};
    let own =
        std::fs::File::open("/proc/thread-self/ns/net").context("open own network namespace")?;
    setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).context("enter container network namespace")?;
    let result = f();
    setns(own.as_fd(), CloneFlags::CLONE_NEWNET).context("return to own network namespace")?;
    Ok(result)
}

/// Write a sysctl under /proc/sys/net (per network namespace).
pub fn sysctl(path: &str, value: &str) -> Result<()> {
    let file = format!("/proc/sys/net/{path}");
    std::fs::write(&file, value).with_context(|| format!("write {file}"))
}

pub fn read_sysctl(path: &str) -> Result<String> {
    let file = format!("/proc/sys/net/{path}");
    Ok(std::fs::read_to_string(&file)
        .with_context(|| format!("read {file}"))?
        .trim()
        .to_string())
}

/// A MAC address derived from an IPv4 address, locally administered (the 0x02 bit, IEEE 802):
/// the same address always gets the same MAC, so peers' ARP caches stay right.
pub fn mac_for(addr: Ipv4Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// Fail unless `name` fits IFNAMSIZ (15 bytes and a NUL, netdevice(7)).
pub fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', ':']) {
        bail!("invalid interface name {name:?}");
    }
    Ok(())
}

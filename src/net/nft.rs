//! berth's one nftables table (`ip berth`): outbound masquerade, published ports as DNAT maps,
//! and the guards that go with them. Programmed by one `nft -f -` batch per change.
//!
//! Why `nft -f -` and not nftables netlink in-process: nft(8) batches are atomic, the rule
//! language is reviewable in one screen (below), and the crates that speak nftables netlink
//! either wrap libnftnl (a C dependency) or cannot express concatenated DNAT maps. One fork of
//! nft measured 3-4 ms here, and the run path forks it only when it publishes ports: the table is
//! static, containers only add and delete map elements, and a container without `-p` needs no
//! nftables change at all (its masquerade is the subnet's, installed with its bridge).
//!
//! The design choices, each from the kernel's documentation:
//! - DNAT for every local address (`fib daddr type local`, nft(8) FIB EXPRESSIONS) in
//!   prerouting (traffic from outside and from containers) and output (the host itself).
//! - Locally generated traffic to 127.0.0.1 is routed out of the bridge only with
//!   `route_localnet` on the bridge (Documentation/networking/ip-sysctl.rst), then masqueraded;
//!   packets from containers to 127/8 are dropped on the bridges (the CVE-2020-8558 class of bug).
//! - A container reaching a published port of its own network (hairpin) is masqueraded, or the
//!   reply would bypass the DNAT and be dropped by the client.
//! - Networks are isolated from each other, as Docker's are: traffic routed from one berth
//!   bridge to another is dropped unless it goes to a published port (DNAT), which anyone who
//!   can reach the host may use. `same_bridge` holds `bridge . bridge` for every bridge, since
//!   nft compares a packet's fields with constants and sets, not with each other.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use super::ports::{Proto, Published};

pub const TABLE: &str = "berth";

/// The whole table; created once, the first time a berth bridge is made in a namespace.
fn table_text(guard_forwarding: bool) -> String {
    let forward = if guard_forwarding {
        // berth switched IPv4 forwarding on: keep every other interface pair from routing.
        "    iifname != @bridges oifname != @bridges drop\n"
    } else {
        ""
    };
    format!(
        "table ip {TABLE} {{
  set bridges {{ type ifname; }}
  set same_bridge {{ type ifname . ifname; }}
  set subnets {{ type ipv4_addr; flags interval; }}
  map pub_tcp {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  map pub_udp {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  map pub_tcp_any {{ type inet_service : ipv4_addr . inet_service; }}
  map pub_udp_any {{ type inet_service : ipv4_addr . inet_service; }}
  chain guard {{
    type filter hook prerouting priority raw; policy accept;
    iifname @bridges ip daddr 127.0.0.0/8 drop
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump published
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    fib daddr type local jump published
  }}
  chain published {{
    meta l4proto tcp dnat to ip daddr . tcp dport map @pub_tcp
    meta l4proto tcp dnat to tcp dport map @pub_tcp_any
    meta l4proto udp dnat to ip daddr . udp dport map @pub_udp
    meta l4proto udp dnat to udp dport map @pub_udp_any
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr @subnets oifname != @bridges masquerade
    oifname @bridges ip saddr 127.0.0.0/8 masquerade
    oifname @bridges iifname @bridges ct status dnat masquerade
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
{forward}    iifname @bridges oifname @bridges ct status dnat accept
    iifname @bridges oifname @bridges iifname . oifname != @same_bridge drop
  }}
}}
"
    )
}

/// Run one atomic nft batch. A batch that meets a concurrent change of the ruleset (the
/// kernel interrupts nft's dump, EINTR, or the commit finds it busy) is tried again, twice.
fn apply(batch: &str) -> Result<()> {
    let mut attempt = 0;
    loop {
        match apply_once(batch) {
            Err(e) if attempt < 2 && is_transient(&e) => attempt += 1,
            other => return other,
        }
    }
}

fn is_transient(err: &anyhow::Error) -> bool {
    let text = err.to_string();
    text.contains("Interrupted system call") || text.contains("Device or resource busy")
}

/// Whether nft refused a deletion because the element was not there.
fn is_missing(err: &anyhow::Error) -> bool {
    err.to_string().contains("No such file or directory")
}

fn apply_once(batch: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("run nft (is the nftables package installed?)")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(batch.as_bytes())
            .context("write nft batch")?;
    }
    let out = child.wait_with_output().context("wait for nft")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("failed").trim();
        bail!("nft: {first}");
    }
    Ok(())
}

pub fn table_exists() -> bool {
    Command::new("nft")
        .args(["list", "table", "ip", TABLE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Create the table unless it is there.
pub fn ensure_table(guard_forwarding: bool) -> Result<()> {
    if table_exists() {
        return Ok(());
    }
    apply(&table_text(guard_forwarding)).context("create nftables table ip berth")
}

pub fn delete_table() -> Result<()> {
    if !table_exists() {
        return Ok(());
    }
    apply(&format!("delete table ip {TABLE}\n")).context("delete nftables table ip berth")
}

/// Register a bridge and its subnet: masquerade and the guards apply to it from now on.
pub fn add_network(bridge: &str, subnet: Ipv4Addr, prefix: u8) -> Result<()> {
    apply(&format!(
        "add element ip {TABLE} bridges {{ \"{bridge}\" }}\n\
         add element ip {TABLE} same_bridge {{ \"{bridge}\" . \"{bridge}\" }}\n\
         add element ip {TABLE} subnets {{ {subnet}/{prefix} }}\n"
    ))
    .with_context(|| format!("add network {bridge} to nftables"))
}

/// Forget a bridge and its subnet; elements already gone are fine.
pub fn remove_network(bridge: &str, subnet: Ipv4Addr, prefix: u8) -> Result<()> {
    let lines = [
        format!("delete element ip {TABLE} bridges {{ \"{bridge}\" }}\n"),
        format!("delete element ip {TABLE} same_bridge {{ \"{bridge}\" . \"{bridge}\" }}\n"),
        format!("delete element ip {TABLE} subnets {{ {subnet}/{prefix} }}\n"),
    ];
    delete_each(&lines)
}

fn map_name(p: &Published) -> &'static str {
    match (p.proto, p.host_ip.is_unspecified()) {
        (Proto::Tcp, false) => "pub_tcp",
        (Proto::Udp, false) => "pub_udp",
        (Proto::Tcp, true) => "pub_tcp_any",
        (Proto::Udp, true) => "pub_udp_any",
    }
}

fn key(p: &Published) -> String {
    if p.host_ip.is_unspecified() {
        p.host_port.to_string()
    } else {
        format!("{} . {}", p.host_ip, p.host_port)
    }
}

/// DNAT each published port to `addr`, in one batch.
pub fn publish(ports: &[Published], addr: Ipv4Addr) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let batch: String = ports
        .iter()
        .map(|p| {
            format!(
                "add element ip {TABLE} {} {{ {} : {addr} . {} }}\n",
                map_name(p),
                key(p),
                p.ctr_port
            )
        })
        .collect();
    apply(&batch).context("publish ports")
}

/// Remove the DNAT of each port. One batch; if an element is already gone the batch fails as a
/// whole, and then each is deleted alone (teardown must be idempotent).
pub fn unpublish(ports: &[Published]) -> Result<()> {
    let lines: Vec<String> = ports
        .iter()
        .map(|p| {
            format!(
                "delete element ip {TABLE} {} {{ {} }}\n",
                map_name(p),
                key(p)
            )
        })
        .collect();
    delete_each(&lines)
}

/// Delete elements: one batch, or, when that fails (one element already gone fails a batch as
/// a whole), one at a time. An element that is not there (or a table that is not) is fine;
/// any other failure is returned, so that the caller keeps its record and a later command
/// tries again rather than forgetting a rule that is still in the kernel.
fn delete_each(lines: &[String]) -> Result<()> {
    if lines.is_empty() || apply(&lines.concat()).is_ok() {
        return Ok(());
    }
    let mut failed = None;
    for line in lines {
        match apply(line) {
            Err(e) if !is_missing(&e) => {
                failed.get_or_insert(e);
            }
            _ => {}
        }
    }
    match failed {
        Some(e) => Err(e.context("delete nftables elements")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_guard_only_when_asked() {
        assert!(!table_text(false).contains("oifname != @bridges drop"));
        assert!(table_text(true).contains("iifname != @bridges oifname != @bridges drop"));
    }

    #[test]
    fn keys_name_the_address_only_when_bound_to_one() {
        let any = Published {
            proto: Proto::Udp,
            host_ip: Ipv4Addr::UNSPECIFIED,
            host_port: 53,
            ctr_port: 5353,
        };
        let one = Published {
            host_ip: Ipv4Addr::LOCALHOST,
            proto: Proto::Tcp,
            ..any
        };
        assert_eq!((map_name(&any), key(&any)), ("pub_udp_any", "53".into()));
        assert_eq!(
            (map_name(&one), key(&one)),
            ("pub_tcp", "127.0.0.1 . 53".into())
        );
    }
}

//! The /etc/hosts and /etc/resolv.conf a container gets (pure text functions).

use std::net::{IpAddr, Ipv4Addr};

const LOCALHOST: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// A line of /etc/hosts beyond localhost: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub addr: String,
    pub names: Vec<String>,
}

/// localhost, then `--add-host` entries, then the container's own address (hostname and name,
/// as Docker writes it), then the other containers of its user networks.
pub fn hosts(extra: &[HostEntry], own: Option<HostEntry>, peers: &[HostEntry]) -> String {
    let mut text = LOCALHOST.to_string();
    for e in extra.iter().chain(own.iter()).chain(peers) {
        text.push_str(&e.addr);
        text.push('\t');
        text.push_str(&e.names.join(" "));
        text.push('\n');
    }
    text
}

/// The host's resolv.conf for a container in its own network namespace: loopback resolvers
/// (a local stub such as systemd-resolved's 127.0.0.53) cannot be reached from there and are
/// dropped; with none left Docker's fallback (Google's public resolvers) is used. `--dns`
/// replaces the nameservers and keeps search and options.
pub fn resolv_conf(host: &str, dns: &[IpAddr]) -> String {
    let mut kept = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or_default();
            let loopback = addr.parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
            if loopback || !dns.is_empty() {
                continue;
            }
            servers += 1;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    for addr in dns {
        kept.push_str(&format!("nameserver {addr}\n"));
    }
    if dns.is_empty() && servers == 0 {
        for addr in [Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(8, 8, 4, 4)] {
            kept.push_str(&format!("nameserver {addr}\n"));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_dropped() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.org\nnameserver ::1\n";
        assert_eq!(
            resolv_conf(host, &[]),
            "# generated\nnameserver 10.0.0.2\nsearch example.org\n"
        );
        assert_eq!(
            resolv_conf("nameserver 127.0.0.53\noptions edns0\n", &[]),
            "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf(host, &["1.1.1.1".parse().unwrap()]),
            "# generated\nsearch example.org\nnameserver 1.1.1.1\n"
        );
    }

    #[test]
    fn hosts_lists_extra_own_and_peers() {
        let e = |a: &str, n: &[&str]| HostEntry {
            addr: a.into(),
            names: n.iter().map(|s| s.to_string()).collect(),
        };
        let text = hosts(
            &[e("10.0.0.9", &["db"])],
            Some(e("10.89.0.2", &["abc", "web"])),
            &[e("10.89.0.3", &["api"])],
        );
        assert!(text.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(text.ends_with("10.0.0.9\tdb\n10.89.0.2\tabc web\n10.89.0.3\tapi\n"));
    }
}

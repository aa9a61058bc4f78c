//! Published ports: `-p` in every Docker form parsed into typed specs (pure), host ports
//! reserved by binding them, and Docker's `port` output format.
//!
//! A host port is reserved by a socket bound to it (never listening) that lives as long as the
//! process that owns the container. The bind is the conflict check against every other program
//! and every other berth container alike, and the reservation ends by itself when its owner
//! dies, even by SIGKILL. The socket never sees a packet: the DNAT rule rewrites traffic before
//! local delivery (nf_nat runs in PREROUTING/OUTPUT, before the socket lookup).

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One `-p` argument: a host address (None = every local address), host ports (None =
/// ephemeral), container ports, protocol. Ranges are inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<Ipv4Addr>,
    pub host_ports: Option<(u16, u16)>,
    pub ctr_ports: (u16, u16),
    pub proto: Proto,
}

/// One published port as set up: where it listens on the host and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub proto: Proto,
    /// 0.0.0.0 = every local address.
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub ctr_port: u16,
}

/// Parse `[[IP:][HOST]:]CTR[/PROTO]` with ranges (`8000-8002:80-82`), as `docker run -p`.
pub fn parse_publish(arg: &str) -> Result<PortSpec> {
    let (rest, proto) = match arg.rsplit_once('/') {
        Some((r, p)) => (r, p),
        None => (arg, "tcp"),
    };
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        other => bail!("invalid proto: {other}"),
    };
    // An IPv6 host address comes in brackets; we only publish on IPv4 (the DNAT is `ip` family).
    if rest.starts_with('[') {
        bail!("invalid publish spec {arg:?}: IPv6 host addresses are not supported");
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, ctr) = match parts.as_slice() {
        [ctr] => (None, "", *ctr),
        [host, ctr] => (None, *host, *ctr),
        [ip, host, ctr] => (Some(*ip), *host, *ctr),
        _ => bail!("invalid publish spec {arg:?}: expected [[IP:][HOST]:]CTR[/PROTO]"),
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(ip) => {
            let addr: Ipv4Addr = ip
                .parse()
                .map_err(|_| anyhow!("invalid IP address: {ip}"))?;
            (!addr.is_unspecified()).then_some(addr)
        }
    };
    if ctr.is_empty() {
        bail!("no port specified: {arg}<empty>");
    }
    let ctr_ports = parse_range(ctr).with_context(|| format!("invalid containerPort: {ctr}"))?;
    let host_ports = if host.is_empty() {
        None
    } else {
        Some(parse_range(host).with_context(|| format!("invalid hostPort: {host}"))?)
    };
    if let Some((lo, hi)) = host_ports {
        let host_len = hi - lo;
        let ctr_len = ctr_ports.1 - ctr_ports.0;
        // Docker: equal lengths map one to one; a single container port takes one host port
        // out of a host range.
        if host_len != ctr_len && ctr_len != 0 {
            bail!("invalid ranges specified for container and host ports: {ctr} and {host}");
        }
    }
    Ok(PortSpec {
        host_ip,
        host_ports,
        ctr_ports,
        proto,
    })
}

fn parse_range(text: &str) -> Result<(u16, u16)> {
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    let lo: u16 = lo.parse().map_err(|_| anyhow!("not a port number"))?;
    let hi: u16 = hi.parse().map_err(|_| anyhow!("not a port number"))?;
    if lo == 0 || hi < lo {
        bail!("port out of range");
    }
    Ok((lo, hi))
}

/// An image's `ExposedPorts` key (`80/tcp`, `53/udp`, `8000-8002/tcp`) as a `-P` spec.
pub fn parse_exposed(key: &str) -> Result<PortSpec> {
    let spec = parse_publish(key).with_context(|| format!("image exposes {key:?}"))?;
    if spec.host_ports.is_some() || spec.host_ip.is_some() {
        bail!("image exposes {key:?}: not a port");
    }
    Ok(spec)
}

/// Host ports bound (not listening) for as long as this value lives.
#[derive(Default)]
pub struct Reservations {
    pub published: Vec<Published>,
    _sockets: Vec<OwnedFd>,
}

/// Reserve a host port for every container port of `specs`: bind each host address and port
/// (port 0 lets the kernel pick an ephemeral one, like Docker's). Fails with Docker's message on
/// the first port in use; what was bound so far is released when the error drops it.
pub fn reserve(specs: &[PortSpec]) -> Result<Reservations> {
    let mut r = Reservations::default();
    for spec in specs {
        let ip = spec.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        for (i, ctr_port) in (spec.ctr_ports.0..=spec.ctr_ports.1).enumerate() {
            let (fd, host_port) = match spec.host_ports {
                None => bind(spec.proto, ip, 0)?,
                Some((lo, hi)) if spec.ctr_ports.0 == spec.ctr_ports.1 && lo != hi => {
                    bind_any_in(spec.proto, ip, lo, hi)?
                }
                Some((lo, _)) => bind(spec.proto, ip, lo + i as u16)?,
            };
            r._sockets.push(fd);
            r.published.push(Published {
                proto: spec.proto,
                host_ip: ip,
                host_port,
                ctr_port,
            });
        }
    }
    Ok(r)
}

fn bind_any_in(proto: Proto, ip: Ipv4Addr, lo: u16, hi: u16) -> Result<(OwnedFd, u16)> {
    for port in lo..=hi {
        if let Ok(found) = bind(proto, ip, port) {
            return Ok(found);
        }
    }
    Err(crate::error::coded(
        crate::error::EXIT_ENGINE,
        format!("no free host port in {ip}:{lo}-{hi}/{}", proto.name()),
    ))
}

/// Bind one socket without SO_REUSEADDR, so that no other socket can take the port either
/// (socket(7): the reuse exception needs the flag on both sockets).
fn bind(proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(OwnedFd, u16)> {
    use nix::sys::socket::{bind, getsockname, socket, SockFlag, SockType, SockaddrIn};
    let typ = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let fd = socket(
        nix::sys::socket::AddressFamily::Inet,
        typ,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("create socket")?;
    let addr = SockaddrIn::from(SocketAddrV4::new(ip, port));
    if let Err(e) = bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr) {
        let what = format!("{ip}:{port}/{}", proto.name());
        return Err(match e {
            nix::errno::Errno::EADDRINUSE => {
                anyhow!("failed to bind host port {what}: address already in use")
            }
            nix::errno::Errno::EADDRNOTAVAIL => {
                anyhow!("failed to bind host port {what}: cannot assign requested address")
            }
            e => anyhow!(
                "failed to bind host port {what}: {}",
                e.desc().to_lowercase()
            ),
        });
    }
    let bound: SockaddrIn =
        getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd)).context("read bound port")?;
    Ok((fd, bound.port()))
}

/// `docker port` lines: `80/tcp -> 0.0.0.0:8088`, or with a port filter only `0.0.0.0:8088`.
pub fn format_port_lines(published: &[Published], filter: Option<&str>) -> Result<Vec<String>> {
    let wanted = match filter {
        None => None,
        Some(f) => {
            let (port, proto) = f.split_once('/').unwrap_or((f, "tcp"));
            let port: u16 = port.parse().map_err(|_| anyhow!("invalid port {f:?}"))?;
            Some((port, proto.to_ascii_lowercase()))
        }
    };
    let mut sorted = published.to_vec();
    sorted.sort_by_key(|p| (p.ctr_port, p.proto.name(), p.host_ip, p.host_port));
    let mut lines = Vec::new();
    for p in sorted {
        match &wanted {
            None => lines.push(format!(
                "{}/{} -> {}:{}",
                p.ctr_port,
                p.proto.name(),
                p.host_ip,
                p.host_port
            )),
            Some((port, proto)) if *port == p.ctr_port && proto == p.proto.name() => {
                lines.push(format!("{}:{}", p.host_ip, p.host_port))
            }
            Some(_) => {}
        }
    }
    Ok(lines)
}

/// `ps`'s PORTS column: `0.0.0.0:8088->80/tcp, 127.0.0.1:9000->9000/udp` (for `ps`, issue 3,
/// with [`super::published`]).
#[allow(dead_code)]
pub fn format_ps_column(published: &[Published]) -> String {
    published
        .iter()
        .map(|p| {
            format!(
                "{}:{}->{}/{}",
                p.host_ip,
                p.host_port,
                p.ctr_port,
                p.proto.name()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        ip: Option<[u8; 4]>,
        host: Option<(u16, u16)>,
        ctr: (u16, u16),
        proto: Proto,
    ) -> PortSpec {
        PortSpec {
            host_ip: ip.map(Ipv4Addr::from),
            host_ports: host,
            ctr_ports: ctr,
            proto,
        }
    }

    #[test]
    fn every_docker_form_parses() {
        use Proto::*;
        assert_eq!(
            parse_publish("80").unwrap(),
            spec(None, None, (80, 80), Tcp)
        );
        assert_eq!(
            parse_publish("53/udp").unwrap(),
            spec(None, None, (53, 53), Udp)
        );
        assert_eq!(
            parse_publish("8088:80").unwrap(),
            spec(None, Some((8088, 8088)), (80, 80), Tcp)
        );
        assert_eq!(
            parse_publish("127.0.0.1:8088:80/tcp").unwrap(),
            spec(Some([127, 0, 0, 1]), Some((8088, 8088)), (80, 80), Tcp)
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            spec(Some([127, 0, 0, 1]), None, (80, 80), Tcp)
        );
        assert_eq!(
            parse_publish("0.0.0.0:8000-8002:80-82/udp").unwrap(),
            spec(None, Some((8000, 8002)), (80, 82), Udp)
        );
        assert_eq!(
            parse_publish("8000-8010:80").unwrap(),
            spec(None, Some((8000, 8010)), (80, 80), Tcp)
        );
        assert_eq!(
            parse_publish("80-82").unwrap(),
            spec(None, None, (80, 82), Tcp)
        );
    }

    #[test]
    fn bad_forms_are_refused_with_docker_words() {
        for (arg, needle) in [
            ("abc", "invalid containerPort: abc"),
            ("x:80", "invalid hostPort: x"),
            ("80/sctpx", "invalid proto: sctpx"),
            ("1.2.3:80:80", "invalid IP address: 1.2.3"),
            ("8000-8001:80-82", "invalid ranges"),
            ("0", "invalid containerPort"),
            ("70000", "invalid containerPort"),
            ("1:2:3:4", "expected"),
            ("8080:", "no port specified"),
            ("[::1]:80:80", "IPv6"),
        ] {
            let err = format!("{:#}", parse_publish(arg).unwrap_err());
            assert!(err.contains(needle), "{arg}: {err}");
        }
    }

    #[test]
    fn port_output_is_dockers() {
        let p = [
            Published {
                proto: Proto::Udp,
                host_ip: Ipv4Addr::UNSPECIFIED,
                host_port: 5353,
                ctr_port: 53,
            },
            Published {
                proto: Proto::Tcp,
                host_ip: Ipv4Addr::LOCALHOST,
                host_port: 8088,
                ctr_port: 80,
            },
        ];
        assert_eq!(
            format_port_lines(&p, None).unwrap(),
            ["53/udp -> 0.0.0.0:5353", "80/tcp -> 127.0.0.1:8088"]
        );
        assert_eq!(
            format_port_lines(&p, Some("80")).unwrap(),
            ["127.0.0.1:8088"]
        );
        assert_eq!(
            format_port_lines(&p, Some("53/udp")).unwrap(),
            ["0.0.0.0:5353"]
        );
        assert!(format_port_lines(&p, Some("53")).unwrap().is_empty());
        assert_eq!(
            format_ps_column(&p),
            "0.0.0.0:5353->53/udp, 127.0.0.1:8088->80/tcp"
        );
    }

    #[test]
    fn taken_ports_are_refused_and_ephemeral_ones_are_picked() {
        let first = reserve(&[parse_publish("127.0.0.1::80").unwrap()]).unwrap();
        let port = first.published[0].host_port;
        assert_ne!(port, 0);
        let again = format!("127.0.0.1:{port}:80");
        let err = reserve(&[parse_publish(&again).unwrap()]).err().unwrap();
        assert!(err.to_string().contains("address already in use"), "{err}");
        drop(first);
        assert!(reserve(&[parse_publish(&again).unwrap()]).is_ok());
    }
}

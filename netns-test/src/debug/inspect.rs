//! The topology as the kernel holds it, read back over netlink: what a failing test prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use netlink_packet_route::RouteNetlinkMessage;

use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteType};

use crate::interfaces;
use crate::middlebox;
use crate::net::Net;
use crate::requests;
use crate::sys::netfilter::NetfilterSocket;
use crate::sys::netlink::Socket;

struct Interface {
    name: String,
    state: String,
    mtu: u32,
    addresses: Vec<String>,
}

/// Every node's interfaces (name, state, MTU, addresses; link-local IPv6 left out) and routes
/// (main table), one aligned block per node; for a NAT, its live mappings, and for a NAT or
/// firewall, what each rule has stopped.
fn describe(net: &Net) -> String {
    let mut out = String::new();
    let read = |node: &crate::node::Node| {
        let mut text = read_node()?;
        if let Some(spec) = node.middlebox() {
            text.push_str(&read_middlebox(&spec)?);
        }
        Ok(text)
    };
    for (node, text) in net.nodes().zip(net.in_each_node(read)) {
        let _ = writeln!(out, "{}", node.name());
        match text {
            Ok(text) => out.push_str(&text),
            Err(e) => {
                let _ = writeln!(out, "  (cannot read: {e})");
            }
        }
    }
    out
}

/// The live topology as the kernel holds it, as a failing test's dump prints it: each node's
/// interfaces (name, state, MTU, addresses), its routes, and for NATs and firewalls their
/// mappings and what each rule stopped. Read over netlink when formatted.
///
/// ```no_run
/// let net = netns_test::Net::build("a -- b")?;
/// println!("{net}");
/// # Ok::<(), netns_test::Error>(())
/// ```
impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(self))
    }
}

/// A NAT's mappings and the packets each NAT or firewall rule stopped, read from inside the node.
fn read_middlebox(spec: &netns_test_topology::Node) -> std::io::Result<String> {
    let mut socket = NetfilterSocket::open()?;
    let mut out = String::new();
    if let Some(nat) = &spec.nat {
        let mappings = middlebox::mappings(&mut socket)?;
        let _ = writeln!(
            out,
            "  nat {} {} on {}: {} live mapping{}",
            nat.kind.word(),
            nat.address,
            spec.interfaces[nat.outside].name,
            mappings.len(),
            if mappings.len() == 1 { "" } else { "s" }
        );
        for m in mappings {
            let _ = writeln!(out, "    {m}");
        }
    }
    for stopped in middlebox::stopped(&mut socket, spec)? {
        let plural = if stopped.packets == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "  {}: {} packet{plural} stopped",
            stopped.rule, stopped.packets
        );
    }
    Ok(out)
}

fn read_node() -> std::io::Result<String> {
    let mut socket = Socket::open()?;
    let ifaces: BTreeMap<u32, Interface> = interfaces::read(&mut socket)?
        .into_iter()
        .map(|i| {
            let state = match (i.up, i.running) {
                (false, _) => "DOWN",
                (true, true) => "UP",
                (true, false) => "NO-CARRIER",
            };
            let addresses = i
                .addresses
                .iter()
                .filter(
                    |(ip, _)| !matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80),
                )
                .map(|(ip, prefix)| format!("{ip}/{prefix}"))
                .collect();
            let iface = Interface {
                name: i.name,
                state: state.into(),
                mtu: i.mtu,
                addresses,
            };
            (i.index, iface)
        })
        .collect();
    let mut routes = Vec::new();
    for ipv6 in [false, true] {
        for m in socket.dump(requests::get_routes(ipv6), &mut |_| {})? {
            if let RouteNetlinkMessage::NewRoute(r) = m {
                if r.header.table != RouteHeader::RT_TABLE_MAIN
                    || r.header.kind != RouteType::Unicast
                {
                    continue;
                }
                let (mut dest, mut via, mut dev) = (None, None, None);
                for a in &r.attributes {
                    match a {
                        RouteAttribute::Destination(d) => dest = address(d),
                        RouteAttribute::Gateway(g) => via = address(g),
                        RouteAttribute::Oif(i) => dev = ifaces.get(i).map(|i| i.name.clone()),
                        _ => {}
                    }
                }
                let dest = match dest {
                    Some(d) => format!("{d}/{}", r.header.destination_prefix_length),
                    None => "default".to_string(),
                };
                if dest.starts_with("fe80:") || dest.starts_with("ff00:") {
                    continue;
                }
                let mut line = dest;
                if let Some(via) = via {
                    let _ = write!(line, " via {via}");
                }
                if let Some(dev) = dev {
                    let _ = write!(line, " dev {dev}");
                }
                routes.push(line);
            }
        }
    }
    let width = ifaces
        .values()
        .map(|i| i.name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = String::new();
    for iface in ifaces.values() {
        let addrs = if iface.addresses.is_empty() {
            "-".to_string()
        } else {
            iface.addresses.join(" ")
        };
        let _ = writeln!(
            out,
            "  {:width$}  {:10}  mtu {:<5}  {addrs}",
            iface.name, iface.state, iface.mtu
        );
    }
    for route in routes {
        let _ = writeln!(out, "  {:width$}  {route}", "route");
    }
    Ok(out)
}

fn address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

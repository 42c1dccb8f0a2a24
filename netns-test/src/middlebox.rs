//! NATs and firewalls at run time: a NAT's live mappings read from its connection tracking, its
//! mappings forgotten, and what each rule has dropped or refused.

use std::net::{IpAddr, SocketAddr};

use netlink_packet_core::DefaultNla;
use netlink_packet_netfilter::NetfilterMessageInner;
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoTuple, Protocol as CtProtocol, Status,
    Tuple,
};
use netlink_packet_netfilter::nftables::{NfTablesMessage, RuleAttribute};
pub use netns_test_topology::Protocol;
use netns_test_topology::{Node as NodeSpec, Rule};

use crate::error::Error;
use crate::requests::conntrack;
use crate::requests::nftables::{self, Family, expr};
use crate::sys::netfilter::NetfilterSocket;

/// One translated flow of a NAT, read from the node's connection tracking.
///
/// ```no_run
/// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
/// use netns_test::Protocol;
/// let udp: Vec<_> = net.node("home").nat_mappings()?
///     .into_iter()
///     .filter(|m| m.protocol == Protocol::Udp)
///     .collect();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// TCP, UDP, or ICMP echo (whose identifier stands for the ports).
    pub protocol: Protocol,
    /// The inside endpoint, as its host sees itself.
    pub inside: SocketAddr,
    /// The NAT's outside address and the port it mapped the inside endpoint to.
    pub outside: SocketAddr,
    /// The endpoint outside the NAT it talks to.
    pub remote: SocketAddr,
}

impl std::fmt::Display for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} -> {} -> {}",
            self.protocol.word(),
            self.inside,
            self.outside,
            self.remote
        )
    }
}

/// What one rule of a node's NAT or firewall has stopped: its words and its packet count.
///
/// ```no_run
/// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
/// let dropped: u64 = net.node("hotel").stopped()?.iter().map(|s| s.packets).sum();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// The rule: `nat: unsolicited from outside`, or a firewall rule as written
    /// (`drop udp`, `allow tcp/80 (others)`).
    pub rule: String,
    /// Packets it has dropped or refused so far.
    pub packets: u64,
}

/// The calling thread's namespace's NAT mappings (it is a NAT's node).
pub(crate) fn mappings(socket: &mut NetfilterSocket) -> std::io::Result<Vec<Mapping>> {
    let mut out = Vec::new();
    for message in socket.dump(conntrack::get_connections())? {
        let NetfilterMessageInner::Conntrack(ConntrackMessage::New(attributes)) = message.inner
        else {
            continue;
        };
        let (mut original, mut reply, mut status) = (None, None, Status::empty());
        for a in attributes {
            match a {
                ConntrackAttribute::CtaTupleOrig(t) => original = endpoints(&t),
                ConntrackAttribute::CtaTupleReply(t) => reply = endpoints(&t),
                ConntrackAttribute::CtaStatus(s) => status = s,
                _ => {}
            }
        }
        let (Some((protocol, o_src, o_dst)), Some((_, r_src, r_dst))) = (original, reply) else {
            continue;
        };
        let mapping = if status.contains(Status::SrcNat) {
            Mapping {
                protocol,
                inside: o_src,
                outside: r_dst,
                remote: o_dst,
            }
        } else if status.contains(Status::DstNat) {
            Mapping {
                protocol,
                inside: r_src,
                outside: o_dst,
                remote: o_src,
            }
        } else {
            continue;
        };
        out.push(mapping);
    }
    out.sort_by_key(|m| (m.inside, m.remote, m.outside));
    Ok(out)
}

/// A tuple's protocol and its source and destination endpoints (for ICMP echo, the identifier
/// as both ports).
fn endpoints(tuple: &[Tuple]) -> Option<(Protocol, SocketAddr, SocketAddr)> {
    let (mut src, mut dst, mut protocol) = (None, None, None);
    let (mut sport, mut dport, mut id) = (0, 0, None);
    for part in tuple {
        match part {
            Tuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(a) => src = Some(*a),
                        IPTuple::DestinationAddress(a) => dst = Some(*a),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(parts) => {
                for p in parts {
                    match p {
                        ProtoTuple::Protocol(CtProtocol::Tcp) => protocol = Some(Protocol::Tcp),
                        ProtoTuple::Protocol(CtProtocol::Udp) => protocol = Some(Protocol::Udp),
                        ProtoTuple::Protocol(CtProtocol::Icmp) => protocol = Some(Protocol::Icmp),
                        ProtoTuple::SourcePort(p) => sport = *p,
                        ProtoTuple::DestinationPort(p) => dport = *p,
                        ProtoTuple::Other(nla) => id = icmp_id(nla).or(id),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(id) = id {
        (sport, dport) = (id, id);
    }
    let (src, dst): (IpAddr, IpAddr) = (src?, dst?);
    Some((
        protocol?,
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
    ))
}

/// `CTA_PROTO_ICMP_ID`, big-endian.
fn icmp_id(nla: &DefaultNla) -> Option<u16> {
    use netlink_packet_core::Nla;
    const CTA_PROTO_ICMP_ID: u16 = 4;
    if nla.kind() & 0x3fff != CTA_PROTO_ICMP_ID || nla.value_len() != 2 {
        return None;
    }
    let mut value = [0u8; 2];
    nla.emit_value(&mut value);
    Some(u16::from_be_bytes(value))
}

/// Forgets every mapping of the NAT in the calling thread's namespace: its connection tracking
/// and its learned sets, so not even a full cone's strangers get in any more.
pub(crate) fn flush(socket: &mut NetfilterSocket, spec: &NodeSpec) -> Result<(), Error> {
    let node = spec.name.as_str();
    let context = |e| Error::io("forgetting the NAT's mappings", e).on_node(node);
    let sets = spec
        .nat
        .as_ref()
        .map(nftables::nat_sets)
        .unwrap_or_default();
    let requests: Vec<_> = sets
        .iter()
        .map(|set| {
            let r = nftables::flush_set(Family::Ip, nftables::NAT_TABLE, set);
            (r.message, r.flags)
        })
        .collect();
    if let Err((_, refusal)) = socket.transaction(requests).map_err(context)? {
        return Err(Error::kernel(
            "emptying the NAT's learned mappings",
            refusal.errno,
            refusal.detail,
        )
        .on_node(node));
    }
    match socket
        .request(conntrack::flush_connections())
        .map_err(context)?
    {
        // Nothing tracked yet is not an error.
        Ok(())
        | Err(crate::sys::netlink::Refusal {
            errno: nix::errno::Errno::ENOENT,
            ..
        }) => Ok(()),
        Err(r) => {
            Err(Error::kernel("flushing connection tracking", r.errno, r.detail).on_node(node))
        }
    }
}

/// What each rule of the node's NAT and firewall has stopped, in the order written.
pub(crate) fn stopped(
    socket: &mut NetfilterSocket,
    spec: &NodeSpec,
) -> std::io::Result<Vec<Stopped>> {
    let mut counts: Vec<(String, u64)> = Vec::new();
    let mut tables = Vec::new();
    if spec.nat.is_some() {
        tables.push((Family::Ip, nftables::NAT_TABLE));
    }
    if !spec.firewalls.is_empty() {
        tables.push((Family::Inet, nftables::FILTER_TABLE));
    }
    for (family, table) in tables {
        for message in socket.dump(nftables::get_rules(family, table))? {
            let NetfilterMessageInner::NfTables(NfTablesMessage::NewRule(rule)) = message.inner
            else {
                continue;
            };
            let (mut tag, mut packets) = (None, None);
            for a in &rule.attributes {
                match a {
                    RuleAttribute::UserData(d) => {
                        tag = Some(String::from_utf8_lossy(d).into_owned())
                    }
                    RuleAttribute::Expressions(exprs) => packets = expr::counted(exprs),
                    _ => {}
                }
            }
            if let (Some(tag), Some(packets)) = (tag, packets) {
                match counts.iter_mut().find(|(t, _)| *t == tag) {
                    Some((_, n)) => *n += packets,
                    None => counts.push((tag, packets)),
                }
            }
        }
    }
    Ok(counts
        .into_iter()
        .map(|(tag, packets)| Stopped {
            rule: describe(spec, &tag),
            packets,
        })
        .collect())
}

/// A rule's tag in words.
fn describe(spec: &NodeSpec, tag: &str) -> String {
    if tag == nftables::UNSOLICITED {
        return "nat: unsolicited from outside".into();
    }
    let mut parts = tag.split(':').skip(1);
    let (Some(s), Some(k)) = (parts.next(), parts.next()) else {
        return tag.into();
    };
    let Some(firewall) = s.parse::<usize>().ok().and_then(|s| spec.firewalls.get(s)) else {
        return tag.into();
    };
    let scope = firewall
        .iface
        .map(|i| format!("in {} ", spec.interfaces[i].name))
        .unwrap_or_default();
    match k.parse::<usize>().ok().and_then(|k| firewall.rules.get(k)) {
        Some(rule) => format!("firewall {scope}{rule}"),
        None => {
            let allowed: Vec<String> = firewall
                .rules
                .iter()
                .filter(|r| matches!(r, Rule::Allow(_)))
                .map(Rule::to_string)
                .collect();
            format!("firewall {scope}not allowed ({})", allowed.join(", "))
        }
    }
}

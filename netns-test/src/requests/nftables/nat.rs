//! A node's NAT as an nf_tables table of family `ip` (IPv6 is routed untranslated), in RFC 4787's
//! terms:
//!
//! - mapping: endpoint-independent types look the inside endpoint up in `eim` and keep the
//!   outside port it had; a new endpoint keeps its own port unless another endpoint has it
//!   (`taken`), then gets a random one; `symmetric` takes a random port per connection;
//! - learning, in a postrouting chain after source NAT (where `ct reply proto-dst` is the
//!   mapped port): `eim`, `taken`, `inbound` (outside port to inside endpoint) and, for
//!   `address-restricted`, `allowed` (outside port and remote address), each element living as
//!   long as the mapping, refreshed by every packet out;
//! - filtering: `full-cone` sends anything arriving at a mapped port to its inside endpoint,
//!   `address-restricted` only from an address in `allowed`; everything else from outside that
//!   is not a reply is dropped in the input and forward hooks, before connection tracking
//!   confirms it (so a hole punch's first packet leaves no state that would move a mapping);
//! - `hairpin`: inside hosts reach mapped ports through the outside address.

use netlink_packet_netfilter::nftables::{MetaKey, Operator};
use netns_test_topology::{Nat, NatKind};

use super::expr::{
    Base, CT_DNAT, CT_ESTABLISHED, CT_RELATED, CT_SNAT, CtKey, Dir, Expr, NAT_FULLY_RANDOM,
    NatSide, cmp, counter, ct, ct_bits, immediate, interface, lookup, meta, nat as nat_expr,
    payload, update, verdict,
};
use super::{Family, HookPoint, Request, chain, rule, set, table};

/// The NAT's table in its node.
pub(crate) const NAT_TABLE: &str = "netns_test_nat";
/// The learned sets a NAT of this kind needs: mappings (`eim`, `taken`) for the
/// endpoint-independent types, `inbound` where packets are mapped in (cones, hairpin),
/// `allowed` for address-restricted filtering. A flush empties them.
pub(crate) fn nat_sets(nat: &Nat) -> Vec<&'static str> {
    let mut sets = Vec::new();
    if nat.kind.independent_mapping() {
        sets.extend(["eim", "taken"]);
    }
    if maps_inbound(nat) {
        sets.push("inbound");
    }
    if nat.kind == NatKind::AddressRestricted {
        sets.push("allowed");
    }
    sets
}

/// Whether packets from outside (or hairpinned ones) are mapped to inside endpoints.
fn maps_inbound(nat: &Nat) -> bool {
    nat.hairpin || matches!(nat.kind, NatKind::FullCone | NatKind::AddressRestricted)
}
/// The tag of the rules that drop unsolicited packets from outside.
pub(crate) const UNSOLICITED: &str = "nat:unsolicited";
/// How long a learned mapping lives idle without `timeout=`: the kernel's default for a UDP
/// flow that has seen replies (`nf_conntrack_udp_timeout_stream`).
const DEFAULT_TIMEOUT_SECS: u64 = 120;
const TCP: u8 = 6;
const UDP: u8 = 17;

const F: Family = Family::Ip;

/// The table, sets, chains and rules of `nat`, whose outside interface is called `outside`.
pub(crate) fn nat(nat: &Nat, outside: &str) -> Vec<Request> {
    let the = Rules {
        nat,
        outside,
        addr: nat.address.octets().to_vec(),
    };
    let mut out = vec![table(F, NAT_TABLE)];
    out.extend(sets(nat));
    // Only the chains with rules: each base chain is a hook the kernel registers and runs.
    let rules = [
        ("dstnat", "nat", HookPoint::Prerouting, -100, the.inbound()),
        ("srcnat", "nat", HookPoint::Postrouting, 100, the.outbound()),
        (
            "learn",
            "filter",
            HookPoint::Postrouting,
            101,
            the.learning(),
        ),
    ];
    for (name, kind, hook, priority, list) in rules {
        if list.is_empty() {
            continue;
        }
        out.push(chain(F, NAT_TABLE, name, kind, hook, priority));
        out.extend(
            list.into_iter()
                .map(|exprs| rule(F, NAT_TABLE, name, exprs, "")),
        );
    }
    out.extend([
        chain(F, NAT_TABLE, "input", "filter", HookPoint::Input, 0),
        chain(F, NAT_TABLE, "forward", "filter", HookPoint::Forward, 0),
    ]);
    for chain in ["input", "forward"] {
        out.extend(the.unsolicited(chain == "forward"));
    }
    out
}

/// The learned sets, each element living as long as an idle mapping.
fn sets(nat: &Nat) -> Vec<Request> {
    let timeout_ms = nat.timeout_secs.map_or(DEFAULT_TIMEOUT_SECS, u64::from) * 1000;
    // Keys and data are 32-bit registers concatenated: a protocol, an address or a port each.
    // The types are nft's own, so `nft list ruleset` in the node shows them readably.
    let (proto, ip, port) = (TYPE_INET_PROTOCOL, TYPE_IPADDR, TYPE_INET_SERVICE);
    let wanted = nat_sets(nat);
    [
        ("eim", concat(&[proto, ip, port]), Some((port, 2))),
        ("taken", concat(&[proto, port]), None),
        ("inbound", concat(&[proto, port]), Some(concat(&[ip, port]))),
        ("allowed", concat(&[proto, port, ip]), None),
    ]
    .into_iter()
    .enumerate()
    .filter(|(_, (name, _, _))| wanted.contains(name))
    .map(|(id, (name, key, data))| set(F, NAT_TABLE, name, id as u32 + 1, key, data, timeout_ms))
    .collect()
}

/// The rules of one NAT, with what they need at hand.
struct Rules<'a> {
    nat: &'a Nat,
    outside: &'a str,
    /// The outside address, as the packet carries it.
    addr: Vec<u8>,
}

impl Rules<'_> {
    /// Inbound: to the endpoint a mapped port belongs to, as the filtering allows, and hairpin.
    fn inbound(&self) -> Vec<Vec<Expr>> {
        let mut rules = Vec::new();
        let to_mapped = |from_outside: bool, restricted: bool| {
            let mut exprs: Vec<Expr> = interface(true, self.outside, from_outside, 0).into();
            exprs.extend([
                payload(Base::Network, 16, 4, 0),
                cmp(0, Operator::Equal, self.addr.clone()),
            ]);
            exprs.extend(key_port(2));
            if restricted {
                exprs.extend([payload(Base::Network, 12, 4, 2), lookup("allowed", 0, None)]);
            }
            exprs.extend([
                lookup("inbound", 0, Some(4)),
                nat_expr(NatSide::Destination, 4, Some(5), None, 0),
            ]);
            exprs
        };
        if matches!(
            self.nat.kind,
            NatKind::FullCone | NatKind::AddressRestricted
        ) {
            rules.push(to_mapped(true, self.nat.kind == NatKind::AddressRestricted));
        }
        if self.nat.hairpin {
            rules.push(to_mapped(false, false));
        }
        rules
    }

    /// Outbound, and hairpinned traffic going back in: the source becomes the outside address.
    fn outbound(&self) -> Vec<Vec<Expr>> {
        let addr = &self.addr;
        let mut selectors: Vec<Vec<Expr>> = vec![interface(false, self.outside, true, 0).into()];
        if self.nat.hairpin {
            let mut hairpinned: Vec<Expr> = interface(false, self.outside, false, 0).into();
            hairpinned.extend(ct_bits(CtKey::Status, CT_DNAT, 0));
            selectors.push(hairpinned);
        }
        let mut rules = Vec::new();
        for selector in selectors {
            let with = |tail: Vec<Expr>| selector.iter().cloned().chain(tail).collect::<Vec<_>>();
            if self.nat.kind.independent_mapping() {
                // The endpoint's mapping, if it has one.
                rules.push(with(vec![
                    meta(MetaKey::L4Proto, 0),
                    payload(Base::Network, 12, 4, 1),
                    payload(Base::Transport, 0, 2, 2),
                    lookup("eim", 0, Some(3)),
                    immediate(4, addr.clone()),
                    nat_expr(NatSide::Source, 4, Some(3), None, 0),
                ]));
                // A new endpoint whose port another endpoint holds: a random free one.
                let mut taken = key_port(0).to_vec();
                taken.push(lookup("taken", 0, None));
                taken.extend(random_port(addr));
                rules.push(with(taken));
            } else {
                for proto in [TCP, UDP] {
                    let mut random = vec![
                        meta(MetaKey::L4Proto, 0),
                        cmp(0, Operator::Equal, vec![proto]),
                    ];
                    random.extend(random_port(addr));
                    rules.push(with(random));
                }
            }
            // Its own port where free (and ICMP echo, whose identifier the kernel keeps unique).
            rules.push(with(vec![
                immediate(0, addr.clone()),
                nat_expr(NatSide::Source, 0, None, None, 0),
            ]));
        }
        rules
    }

    /// Learning, after source NAT, from connections the inside started.
    fn learning(&self) -> Vec<Vec<Expr>> {
        if nat_sets(self.nat).is_empty() {
            return Vec::new();
        }
        [TCP, UDP]
            .into_iter()
            .map(|proto| {
                let mut exprs: Vec<Expr> = interface(false, self.outside, true, 0).into();
                exprs.extend([
                    ct(CtKey::Direction, None, 0),
                    cmp(0, Operator::Equal, vec![Dir::Original as u8]),
                ]);
                exprs.extend(ct_bits(CtKey::Status, CT_SNAT, 0));
                exprs.extend([
                    meta(MetaKey::L4Proto, 0),
                    cmp(0, Operator::Equal, vec![proto]),
                    ct(CtKey::SrcIp, Some(Dir::Original), 1),
                    ct(CtKey::ProtoSrc, Some(Dir::Original), 2),
                    meta(MetaKey::L4Proto, 3),
                    ct(CtKey::ProtoDst, Some(Dir::Reply), 4),
                    ct(CtKey::DstIp, Some(Dir::Original), 5),
                ]);
                if maps_inbound(self.nat) {
                    exprs.push(update("inbound", 3, Some(1)));
                }
                if self.nat.kind.independent_mapping() {
                    exprs.extend([update("eim", 0, Some(4)), update("taken", 3, None)]);
                }
                if self.nat.kind == NatKind::AddressRestricted {
                    exprs.push(update("allowed", 3, None));
                }
                exprs
            })
            .collect()
    }

    /// The NAT is its inside's firewall: from outside, only replies and what it maps in pass.
    fn unsolicited(&self, forward: bool) -> Vec<Request> {
        let chain = if forward { "forward" } else { "input" };
        let from_outside = || -> Vec<Expr> { interface(true, self.outside, true, 0).into() };
        let mut accepted = vec![CtKey::State];
        if forward {
            accepted.push(CtKey::Status);
        }
        let mut out: Vec<Request> = accepted
            .into_iter()
            .map(|key| {
                let bits = match key {
                    CtKey::State => CT_ESTABLISHED | CT_RELATED,
                    _ => CT_DNAT,
                };
                let mut exprs = from_outside();
                exprs.extend(ct_bits(key, bits, 0));
                exprs.push(verdict(true));
                rule(F, NAT_TABLE, chain, exprs, "")
            })
            .collect();
        let mut exprs = from_outside();
        exprs.extend([counter(), verdict(false)]);
        out.push(rule(F, NAT_TABLE, chain, exprs, UNSOLICITED));
        out
    }
}

/// The protocol and the port at `offset` of the transport header, into registers 0 and 1.
fn key_port(offset: u32) -> [Expr; 2] {
    [
        meta(MetaKey::L4Proto, 0),
        payload(Base::Transport, offset, 2, 1),
    ]
}

/// nft's data types (its `enum datatypes`), for the sets' declared types.
const TYPE_IPADDR: u32 = 7;
const TYPE_INET_PROTOCOL: u32 = 12;
const TYPE_INET_SERVICE: u32 = 13;

/// A concatenation of data types as nft declares it, with the key length it takes in
/// 32-bit registers: `(type, length)`.
fn concat(types: &[u32]) -> (u32, u32) {
    let id = types.iter().fold(0, |id, t| (id << 6) | t);
    (id, 4 * types.len() as u32)
}

/// Source NAT to `addr` on a random port from 1024 up.
fn random_port(addr: &[u8]) -> [Expr; 4] {
    [
        immediate(5, addr.to_vec()),
        immediate(6, 1024u16.to_be_bytes().to_vec()),
        immediate(7, 65535u16.to_be_bytes().to_vec()),
        nat_expr(NatSide::Source, 5, Some(6), Some(7), NAT_FULLY_RANDOM),
    ]
}

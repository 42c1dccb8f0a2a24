//! A node's firewall as an nf_tables table of family `inet` (IPv4 and IPv6): replies and their
//! ICMP errors pass, then each rule acts on new packets in the order written, each with a
//! counter and a tag naming it (`fw:STATEMENT:RULE`), read back for the failure dump.

use netlink_packet_netfilter::nftables::{MetaKey, Operator};
use netns_test_topology::{Firewall, Match, Node, Protocol, Rule};

use super::expr::{
    Base, CT_ESTABLISHED, CT_NEW, CT_RELATED, CtKey, Expr, cmp, counter, ct_bits, interface, meta,
    payload, reject, verdict,
};
use super::{Family, HookPoint, Request, chain, rule, table};

/// The firewall's table in its node.
pub(crate) const FILTER_TABLE: &str = "netns_test_filter";

const F: Family = Family::Inet;

/// The table, chains and rules of every `firewall` statement of `node`.
pub(crate) fn firewall(node: &Node) -> Vec<Request> {
    let mut out = vec![
        table(F, FILTER_TABLE),
        chain(F, FILTER_TABLE, "input", "filter", HookPoint::Input, 0),
        chain(F, FILTER_TABLE, "forward", "filter", HookPoint::Forward, 0),
    ];
    for chain in ["input", "forward"] {
        let mut exprs: Vec<Expr> = ct_bits(CtKey::State, CT_ESTABLISHED | CT_RELATED, 0).into();
        exprs.push(verdict(true));
        out.push(rule(F, FILTER_TABLE, chain, exprs, ""));
        if chain == "input" {
            let mut exprs: Vec<Expr> = interface(true, "lo", true, 0).into();
            exprs.push(verdict(true));
            out.push(rule(F, FILTER_TABLE, chain, exprs, ""));
        }
        for (s, firewall) in node.firewalls.iter().enumerate() {
            for (k, r) in firewall.rules.iter().enumerate() {
                let tag = format!("fw:{s}:{k}");
                for exprs in rule_exprs(node, firewall, r) {
                    out.push(rule(F, FILTER_TABLE, chain, exprs, &tag));
                }
            }
            if firewall.allow_list() {
                let mut exprs = scope(node, firewall.iface);
                exprs.extend(ct_bits(CtKey::State, CT_NEW, 0));
                exprs.extend([counter(), verdict(false)]);
                out.push(rule(F, FILTER_TABLE, chain, exprs, &format!("fw:{s}:rest")));
            }
        }
    }
    out
}

/// What restricts a statement to the packets entering by its interface.
fn scope(node: &Node, iface: Option<usize>) -> Vec<Expr> {
    match iface {
        Some(i) => interface(true, &node.interfaces[i].name, true, 0).into(),
        None => Vec::new(),
    }
}

/// One rule's nf_tables rules (two for ICMP: ICMP and ICMPv6).
fn rule_exprs(node: &Node, firewall: &Firewall, r: &Rule) -> Vec<Vec<Expr>> {
    let (m, last): (Option<&Match>, Vec<Expr>) = match r {
        Rule::BlockInbound => (None, vec![counter(), verdict(false)]),
        Rule::Drop(m) => (Some(m), vec![counter(), verdict(false)]),
        Rule::Reject(m) => (
            Some(m),
            vec![counter(), reject(m.protocol == Protocol::Tcp)],
        ),
        Rule::Allow(m) => (Some(m), vec![counter(), verdict(true)]),
    };
    // On a NAT, `block-inbound` without `in` watches the outside interface.
    let iface = match (r, firewall.iface, node.nat) {
        (Rule::BlockInbound, None, Some(nat)) => Some(nat.outside),
        (_, iface, _) => iface,
    };
    let protocols: &[u8] = match m.map(|m| m.protocol) {
        None => &[0],
        Some(Protocol::Tcp) => &[6],
        Some(Protocol::Udp) => &[17],
        Some(Protocol::Icmp) => &[1, 58],
    };
    protocols
        .iter()
        .map(|&proto| {
            let mut exprs = scope(node, iface);
            exprs.extend(ct_bits(CtKey::State, CT_NEW, 0));
            if let Some(m) = m {
                exprs.extend([
                    meta(MetaKey::L4Proto, 0),
                    cmp(0, Operator::Equal, vec![proto]),
                ]);
                if let Some((first, last)) = m.ports {
                    exprs.push(payload(Base::Transport, 2, 2, 1));
                    if first == last {
                        exprs.push(cmp(1, Operator::Equal, first.to_be_bytes().to_vec()));
                    } else {
                        exprs.extend([
                            cmp(1, Operator::GreatherThanEqual, first.to_be_bytes().to_vec()),
                            cmp(1, Operator::LessThanEqual, last.to_be_bytes().to_vec()),
                        ]);
                    }
                }
            }
            exprs.extend(last.iter().cloned());
            exprs
        })
        .collect()
}

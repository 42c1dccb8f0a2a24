//! Which pings a topology's own NATs and firewalls stop, by declaration: a new ICMP echo that
//! enters a NAT from its outside toward the NAT or its inside, or meets a firewall rule that
//! stops new ICMP where it enters. Worked out from the links alone (which side of a middlebox
//! each node is on), so `up --pingall` can tell these from pairs that fail.

use std::collections::VecDeque;

use netns_test::topology::{Firewall, InterfaceKind, Protocol, Rule, Topology};

/// Why a ping from node `from` to node `to` is stopped by declaration, if it is: `nat home`,
/// `firewall office`, naming the middlebox the ping meets first.
pub fn blocked(topology: &Topology, from: usize, to: usize) -> Option<String> {
    let distance = distances(topology, from);
    let mut first: Option<(usize, String)> = None;
    for (m, node) in topology.nodes().iter().enumerate() {
        if m == from || (node.nat.is_none() && node.firewalls.is_empty()) {
            continue;
        }
        let sides = sides(topology, m);
        let (Some(entry), to_side) = (sides[from], sides[to]) else {
            continue;
        };
        // The ping reaches `m` itself, or crosses it toward another side.
        let crosses = to == m || to_side.is_some_and(|s| s != entry);
        if !crosses {
            continue;
        }
        let nat_outside = node.nat.map(|n| n.outside);
        let reason = if nat_outside == Some(entry) {
            format!("nat {}", node.name)
        } else if node
            .firewalls
            .iter()
            .any(|f| stops_icmp(f, entry, nat_outside))
        {
            format!("firewall {}", node.name)
        } else {
            continue;
        };
        if first.as_ref().is_none_or(|(d, _)| distance[m] < *d) {
            first = Some((distance[m], reason));
        }
    }
    first.map(|(_, reason)| reason)
}

/// Hops from node `from` to every node, over links.
fn distances(topology: &Topology, from: usize) -> Vec<usize> {
    let mut distance = vec![usize::MAX; topology.nodes().len()];
    distance[from] = 0;
    let mut queue = VecDeque::from([from]);
    while let Some(n) = queue.pop_front() {
        for iface in &topology.nodes()[n].interfaces {
            if let InterfaceKind::Veth { link, .. } = iface.kind {
                let peer = other_end(topology, link, n);
                if distance[peer] == usize::MAX {
                    distance[peer] = distance[n] + 1;
                    queue.push_back(peer);
                }
            }
        }
    }
    distance
}

/// For each node, the interface of node `m` through which it is reached without crossing `m`
/// (`None` for `m` itself and for nodes it cannot reach).
fn sides(topology: &Topology, m: usize) -> Vec<Option<usize>> {
    let nodes = topology.nodes();
    let mut side = vec![None; nodes.len()];
    let mut queue = VecDeque::new();
    for (i, iface) in nodes[m].interfaces.iter().enumerate() {
        if let InterfaceKind::Veth { link, .. } = iface.kind {
            let peer = other_end(topology, link, m);
            if side[peer].is_none() && peer != m {
                side[peer] = Some(i);
                queue.push_back(peer);
            }
        }
    }
    while let Some(n) = queue.pop_front() {
        for iface in &nodes[n].interfaces {
            if let InterfaceKind::Veth { link, .. } = iface.kind {
                let peer = other_end(topology, link, n);
                if peer != m && side[peer].is_none() {
                    side[peer] = side[n];
                    queue.push_back(peer);
                }
            }
        }
    }
    side
}

fn other_end(topology: &Topology, link: usize, node: usize) -> usize {
    let [a, b] = topology.links()[link].ends;
    if a.node == node { b.node } else { a.node }
}

/// Whether firewall `f` stops a new ICMP echo entering by interface `entry`.
fn stops_icmp(f: &Firewall, entry: usize, nat_outside: Option<usize>) -> bool {
    if f.iface.is_some_and(|i| i != entry) {
        return false;
    }
    for rule in &f.rules {
        match rule {
            Rule::BlockInbound => {
                let scope = f.iface.or(nat_outside);
                if scope.is_none_or(|i| i == entry) {
                    return true;
                }
            }
            Rule::Drop(m) | Rule::Reject(m) if m.protocol == Protocol::Icmp => return true,
            Rule::Allow(m) if m.protocol == Protocol::Icmp => return false,
            _ => {}
        }
    }
    f.allow_list()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nat_fixture_blocks_pings_from_outside_each_nat() {
        let t = netns_test::topology::parse(include_str!("../../fixtures/nat.topo")).unwrap();
        let index = |n: &str| t.node_index(n).unwrap();
        let verdict = |a: &str, b: &str| blocked(&t, index(a), index(b));
        for (a, b) in [
            ("laptop", "home"),
            ("laptop", "server"),
            ("home", "server"),
            ("isp", "server"),
            ("home", "laptop"),
        ] {
            assert_eq!(verdict(a, b), None, "{a} -> {b}");
        }
        assert_eq!(verdict("server", "laptop").as_deref(), Some("nat isp"));
        assert_eq!(verdict("server", "isp").as_deref(), Some("nat isp"));
        assert_eq!(verdict("isp", "laptop").as_deref(), Some("nat home"));
        let fw = netns_test::topology::parse(
            "a -- f\nf -- b\nnode f forward\nfirewall f in eth1 allow tcp/80",
        )
        .unwrap();
        let (a, f, b) = (0, 1, 2);
        assert_eq!(blocked(&fw, a, b), None, "a enters f by eth0");
        assert_eq!(blocked(&fw, b, a).as_deref(), Some("firewall f"));
        assert_eq!(blocked(&fw, b, f).as_deref(), Some("firewall f"));
    }
}

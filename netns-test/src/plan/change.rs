//! The plan of a change to a running topology: only what differs between the running topology
//! and the changed one, in the changed one's terms. Pure, as the build plan is.

use netns_test_topology::Topology;

use std::collections::HashMap;

use super::segment::Bridges;
use super::{
    IFINDEX_BASE, Plan, Step, add_addresses, add_interface, add_link, add_relay, route_step,
};

/// What a change asks of the kernel, besides its plan's steps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    /// The steps, per node of the changed topology (the relay namespace last, when a new link
    /// has conditions): only new interfaces, addresses and routes.
    pub plan: Plan,
    /// How many nodes were running: the changed topology's nodes from here on are new.
    pub running: usize,
    /// How many links were running: the changed topology's links from here on are new.
    pub running_links: usize,
    /// Per node, how many of its interfaces were running (the first ones; none of a new node's).
    pub kept: Vec<usize>,
    /// Per node, the settings (sysctls) to write: all of a new node's, a running node's new ones.
    pub settings: Vec<Vec<(String, String)>>,
    /// The nodes whose NAT and firewall are installed anew (a running one's replaced).
    pub middleboxes: Vec<usize>,
    /// The switches that gained a port.
    pub grown_switches: Vec<usize>,
    /// The switches this change makes big enough to keep quiet, each with whether a router on
    /// it keeps its hosts' solicitations (see `segment::quiet`).
    pub quieted: Vec<(usize, bool)>,
    /// The first interface index this change gives: every interface from there on is new.
    pub first_ifindex: u32,
    /// The next interface index no interface holds, after this change's.
    pub next_ifindex: u32,
}

/// Plans the change from `old` (running, its interfaces at `ifindex`, switch ports in the
/// bridges `masters` says) to `new` (which keeps `old`'s nodes and links first, in order, as
/// `netns_test_topology::change` makes it). New interfaces get indexes from `next_ifindex` on,
/// new relay ports from `first_port` on.
pub(crate) fn change(
    old: &Topology,
    new: &Topology,
    ifindex: &[Vec<u32>],
    masters: &HashMap<u32, usize>,
    next_ifindex: u32,
    first_port: u32,
) -> Change {
    let n = new.nodes().len();
    let running = old.nodes().len();
    let mut plan = Plan::empty(n);
    let mut next = next_ifindex.max(IFINDEX_BASE);
    let first_ifindex = next;
    let mut settings = vec![Vec::new(); n];
    let mut middleboxes = Vec::new();
    for (i, node) in new.nodes().iter().enumerate() {
        let was = old.nodes().get(i);
        let kept = was.map_or(0, |w| w.interfaces.len());
        let mut indexes = ifindex.get(i).cloned().unwrap_or_default();
        // A switch's inner bridges are listed after its interfaces, new ones included.
        let inner = indexes.split_off(kept.min(indexes.len()));
        indexes.extend(next..next + (node.interfaces.len() - kept) as u32);
        next += (node.interfaces.len() - kept) as u32;
        indexes.extend(inner);
        plan.ifindex.push(indexes);
        for j in kept..node.interfaces.len() {
            add_interface(&mut plan, new, i, j);
        }
        let Some(was) = was else {
            // A new node: set up as a build sets up a node.
            plan.create[i].insert(0, Step::LoopbackUp);
            if node.forward {
                settings[i].extend(forwarding("1"));
            }
            if node.is_switch {
                settings[i].push(("net.ipv6.conf.br0.disable_ipv6".into(), "0".into()));
            }
            settings[i].extend(node.sysctls.iter().cloned());
            if node.nat.is_some() || !node.firewalls.is_empty() {
                middleboxes.push(i);
            }
            continue;
        };
        if node.forward && !was.forward {
            settings[i].extend(forwarding("1"));
        }
        settings[i].extend(node.sysctls.iter().skip(was.sysctls.len()).cloned());
        if (node.nat, &node.firewalls) != (was.nat, &was.firewalls) {
            middleboxes.push(i);
        }
    }
    let mut relay_steps = Vec::new();
    let mut bridges = Bridges::running(old, new, ifindex, masters);
    for k in old.links().len()..new.links().len() {
        add_link(&mut plan, new, k, &mut relay_steps, &mut bridges, &mut next);
    }
    // Peer ends up first, then addresses, then routes (which need them), as in a build.
    for (i, node) in new.nodes().iter().enumerate() {
        let kept = old.nodes().get(i).map_or(0, |w| w.interfaces.len());
        for j in kept..node.interfaces.len() {
            add_addresses(&mut plan, i, j, node);
        }
        let was = old.nodes().get(i).map_or(&[][..], |w| &w.routes[..]);
        for route in node.routes.iter().filter(|r| !was.contains(r)) {
            // A route to a destination the node routes already replaces it.
            let replace = was.iter().any(|w| w.dest == route.dest);
            plan.configure[i].push(route_step(route, replace));
        }
    }
    let grown_switches = (0..running)
        .filter(|&i| {
            new.nodes()[i].is_switch
                && new.nodes()[i].interfaces.len() > old.nodes()[i].interfaces.len()
        })
        .collect();
    add_relay(&mut plan, relay_steps, first_port);
    Change {
        plan,
        running,
        running_links: old.links().len(),
        kept: (0..n)
            .map(|i| old.nodes().get(i).map_or(0, |w| w.interfaces.len()))
            .collect(),
        settings,
        middleboxes,
        grown_switches,
        quieted: (0..n)
            .filter(|&i| i >= running || super::segment::quiet(old, i).is_none())
            .filter_map(|i| super::segment::quiet(new, i).map(|router| (i, router)))
            .collect(),
        first_ifindex,
        next_ifindex: next,
    }
}

fn forwarding(value: &str) -> [(String, String); 2] {
    [
        ("net.ipv4.ip_forward".into(), value.into()),
        ("net.ipv6.conf.all.forwarding".into(), value.into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use netns_test_topology::{change as apply, parse};

    fn ifindex(t: &Topology) -> Vec<Vec<u32>> {
        super::super::plan(t, 0).ifindex
    }

    #[test]
    fn a_node_added_to_a_switch_makes_only_its_port() {
        let old = parse("switch s\na -- s\nb -- s").unwrap();
        let new = apply(&old, "c -- s").unwrap();
        let c = change(&old, &new, &ifindex(&old), &HashMap::new(), 200, 0);
        assert_eq!(
            (c.running, c.running_links, c.grown_switches.clone()),
            (3, 2, vec![0])
        );
        // The switch side makes the pair, so its end joins the running bridge at once.
        assert_eq!(
            c.plan.create,
            [
                vec![Step::Veth {
                    iface: 3,
                    peer_node: 3,
                    peer_iface: 0,
                    mtu: None,
                    bridge: Some(0)
                }],
                vec![],
                vec![],
                vec![Step::LoopbackUp],
            ]
        );
        assert_eq!(c.plan.ifindex[0], [100, 101, 102, 200]);
        assert_eq!(c.plan.ifindex[3], [201]);
        assert_eq!(c.next_ifindex, 202);
        assert!(c.plan.configure[..3].iter().all(Vec::is_empty));
        assert!(matches!(
            c.plan.configure[3][..],
            [
                Step::OwnLinkLocal { .. },
                Step::PeerUp { .. },
                Step::Address { .. },
                Step::Address { .. }
            ]
        ));
    }

    #[test]
    fn a_route_said_again_replaces_and_a_new_nat_reinstalls() {
        let old = parse("node r forward\nh -- r\nr -- s\nroute h default via 198.18.0.2").unwrap();
        let new = apply(
            &old,
            "route h default via 198.18.0.2\nroute h 192.0.2.0/24 via 198.18.0.2\nnat r eth1\nnode s sysctl net.ipv4.tcp_ecn=1",
        )
        .unwrap();
        let c = change(&old, &new, &ifindex(&old), &HashMap::new(), 200, 0);
        assert!(
            c.plan.create.iter().all(Vec::is_empty),
            "nothing new to make"
        );
        assert!(matches!(
            c.plan.configure[1][..],
            [Step::Route { replace: false, .. }]
        ));
        assert_eq!(c.middleboxes, [0]);
        assert_eq!(
            c.settings[2],
            [("net.ipv4.tcp_ecn".to_string(), "1".to_string())]
        );
        let new = apply(&old, "route h default dev eth0").unwrap();
        let c = change(&old, &new, &ifindex(&old), &HashMap::new(), 200, 0);
        assert!(matches!(
            c.plan.configure[1][..],
            [
                Step::Route { replace: true, .. },
                Step::Route { replace: false, .. }
            ]
        ));
    }
}

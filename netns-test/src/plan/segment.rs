//! A switch's bridges: which bridge each port joins, and the inner bridges (with their trunks to
//! `br0`) planned when a switch outgrows one kernel bridge (see `netns_test_topology::switch`).
//!
//! A switch's inner interfaces come after its topology interfaces in the plan's interface list,
//! three per inner bridge `N`: the bridge, its trunk end on `br0`, its trunk end on `brN`.

use std::borrow::Cow;
use std::collections::HashMap;

use netns_test_topology::{InnerInterface, InterfaceKind, Node, SWITCH_BRIDGE_PORTS, Topology};

use super::{Plan, Step};

/// The interfaces each inner bridge adds to its switch's list.
const PER_BRIDGE: usize = 3;

/// A trunk's MTU: the largest a veth takes, so no frame a port carries is too big for it.
const TRUNK_MTU: u32 = 65_535;

/// The name of interface `j` of `node`: a topology interface's, or an inner one's.
pub(crate) fn name(node: &Node, j: usize) -> Cow<'_, str> {
    match inner(node, j) {
        None => Cow::Borrowed(&node.interfaces[j].name),
        Some(inner) => Cow::Owned(inner.name()),
    }
}

/// Which inner interface `j` of `node` is, if it is not one of the topology's.
fn inner(node: &Node, j: usize) -> Option<InnerInterface> {
    let h = j.checked_sub(node.interfaces.len())?;
    let n = h / PER_BRIDGE + 1;
    Some(match h % PER_BRIDGE {
        0 => InnerInterface::Bridge(n),
        1 => InnerInterface::Down(n),
        _ => InnerInterface::Up(n),
    })
}

/// The positions of a switch's bridges in its interface list (`br0` first), given how many
/// interfaces the list holds.
pub(crate) fn bridges(node: &Node, listed: usize) -> impl Iterator<Item = usize> + '_ {
    let inner = (listed - node.interfaces.len()) / PER_BRIDGE;
    std::iter::once(0).chain((0..inner).map(|k| node.interfaces.len() + k * PER_BRIDGE))
}

/// Whether the build need not wait for interface `iface` of `node` itself: a switch's port on a
/// plain link to a node that is not a switch. Opening the node's end turns the carrier of both
/// ends on at once, and the kernel brings both up in the same run of its link events, so the
/// node's end being up (awaited in the node, then a request under the routing lock) means the
/// port is up too. Waiting for the ports themselves meant reading every port of the switch's
/// namespace, each answer costing time in proportion to the switch's peers: 0.9 s at 4,000.
pub(crate) fn awaited_by_peer(topology: &Topology, node: usize, iface: usize) -> bool {
    let n = &topology.nodes()[node];
    let InterfaceKind::Veth { link, .. } = n.interfaces[iface].kind else {
        return false;
    };
    let link = &topology.links()[link];
    n.is_switch
        && link.conditions.is_none()
        && link
            .ends
            .iter()
            .all(|e| e.node == node || !topology.nodes()[e.node].is_switch)
}

/// Whether switch `node` is kept quiet (see `requests::nftables::quiet`): it has more ports
/// than one of its bridges holds. `Some(true)` if a router (a `forward` node) is among its
/// hosts, whose solicitations are then kept; `None` for a node that is not such a switch.
pub(crate) fn quiet(topology: &Topology, node: usize) -> Option<bool> {
    let n = &topology.nodes()[node];
    if !n.is_switch || n.interfaces.len() - 1 <= SWITCH_BRIDGE_PORTS {
        return None;
    }
    let router = topology.links().iter().any(|l| {
        l.ends.iter().any(|e| e.node == node)
            && l.ends.iter().any(|e| topology.nodes()[e.node].forward)
    });
    Some(router)
}

/// The bridges of every switch being planned, and how many ports each holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Bridges {
    /// Per node, per bridge (`br0` first), the ports it holds; empty for a node that is not a
    /// switch.
    ports: Vec<Vec<usize>>,
}

impl Bridges {
    /// The bridges of `topology`'s switches before any port is planned: `br0` alone.
    pub fn new(topology: &Topology) -> Bridges {
        Bridges {
            ports: topology
                .nodes()
                .iter()
                .map(|n| if n.is_switch { vec![0] } else { Vec::new() })
                .collect(),
        }
    }

    /// The bridges of running switches, read from their interfaces' indexes (`ifindex`, the
    /// inner ones listed last) and the bridge each port joined (`masters`); `new` node
    /// numbering as in `running`, whose nodes come first.
    pub fn running(
        running: &Topology,
        new: &Topology,
        ifindex: &[Vec<u32>],
        masters: &HashMap<u32, usize>,
    ) -> Bridges {
        let mut bridges = Bridges::new(new);
        for (i, node) in running.nodes().iter().enumerate() {
            if !node.is_switch {
                continue;
            }
            let ports = &mut bridges.ports[i];
            let inner = (ifindex[i].len() - node.interfaces.len()) / PER_BRIDGE;
            ports.resize(1 + inner, 0);
            for index in &ifindex[i][1..node.interfaces.len()] {
                ports[masters.get(index).copied().unwrap_or(0)] += 1;
            }
        }
        bridges
    }

    /// The bridge port `iface` of switch `node` joins: the first with room, or a new inner
    /// bridge, planned here with its trunk (indexes from `next` on). Records the choice in
    /// `plan.masters` and returns the bridge's position in the switch's interface list.
    pub fn join(
        &mut self,
        plan: &mut Plan,
        topology: &Topology,
        node: usize,
        iface: usize,
        next: &mut u32,
    ) -> usize {
        let ports = &mut self.ports[node];
        let k = match (0..ports.len()).find(|&k| ports[k] < SWITCH_BRIDGE_PORTS) {
            Some(k) => k,
            None => {
                ports.push(0);
                let k = ports.len() - 1;
                add_inner_bridge(plan, topology.nodes()[node].interfaces.len(), node, k, next);
                k
            }
        };
        ports[k] += 1;
        plan.masters.push((plan.ifindex[node][iface], k));
        position(topology.nodes()[node].interfaces.len(), k)
    }
}

/// The position of bridge `k` (0 for `br0`) in the interface list of a switch whose topology
/// interfaces number `base`.
fn position(base: usize, k: usize) -> usize {
    if k == 0 {
        0
    } else {
        base + (k - 1) * PER_BRIDGE
    }
}

/// Plans inner bridge `k` of switch `node` (whose topology interfaces number `base`): the
/// bridge, down until the switch is finished; a veth pair from a port of the bridge before it
/// to a port of the bridge, whose two ends must be up before the body starts.
fn add_inner_bridge(plan: &mut Plan, base: usize, node: usize, k: usize, next: &mut u32) {
    let bridge = position(base, k);
    let (down, up) = (bridge + 1, bridge + 2);
    assert_eq!(
        plan.ifindex[node].len(),
        bridge,
        "inner bridges are listed after every topology interface, in order"
    );
    plan.ifindex[node].extend(*next..*next + PER_BRIDGE as u32);
    *next += PER_BRIDGE as u32;
    plan.create[node].extend([
        Step::Bridge { iface: bridge },
        Step::Veth {
            iface: down,
            peer_node: node,
            peer_iface: up,
            mtu: Some(TRUNK_MTU),
            bridge: Some(position(base, k - 1)),
        },
    ]);
    plan.configure[node].push(Step::PeerUp {
        iface: up,
        bridge: Some(bridge),
    });
    plan.finish[node].push(Step::BridgeUp { iface: bridge });
    plan.wait_up[node].extend([down, up]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;

    #[test]
    fn a_switch_past_one_bridge_chains_a_second_behind_the_first() {
        let hosts = SWITCH_BRIDGE_PORTS + 1;
        let text: String = (0..hosts).map(|i| format!("h{i} -- s\n")).collect();
        let t = netns_test_topology::parse(&format!("switch s\n{text}")).unwrap();
        let p = plan(&t, 0);
        let s = &t.nodes()[0];
        let base = s.interfaces.len();
        assert_eq!(p.ifindex[0].len(), base + PER_BRIDGE, "br1 and its trunk");
        assert_eq!(name(s, base), "br1");
        assert_eq!(
            [name(s, base + 1), name(s, base + 2)],
            ["br1-down", "br1-up"]
        );
        assert_eq!(
            bridges(s, p.ifindex[0].len()).collect::<Vec<_>>(),
            [0, base]
        );
        // The trunk is a port of br0 and of br1; the last host's port joins br1.
        assert!(p.create[0].contains(&Step::Veth {
            iface: base + 1,
            peer_node: 0,
            peer_iface: base + 2,
            mtu: Some(TRUNK_MTU),
            bridge: Some(0),
        }));
        assert!(p.configure[0].contains(&Step::PeerUp {
            iface: base + 2,
            bridge: Some(base),
        }));
        let last_port = s.interfaces.len() - 1;
        let joins = |iface| {
            p.create[0].iter().find_map(|step| match *step {
                Step::Veth {
                    iface: j, bridge, ..
                } if j == iface => bridge,
                _ => None,
            })
        };
        assert_eq!((joins(1), joins(last_port)), (Some(0), Some(base)));
        let on_br1 = p.masters.iter().filter(|&&(_, k)| k == 1).count();
        assert_eq!(on_br1, 1);
    }

    #[test]
    fn only_a_switch_past_one_bridge_is_quiet_and_its_router_keeps_solicitations() {
        let hosts = |n: usize| (0..n).map(|i| format!("h{i} -- s\n")).collect::<String>();
        let parse = |text: String| netns_test_topology::parse(&text).unwrap();
        let small = parse(format!("switch s\n{}", hosts(SWITCH_BRIDGE_PORTS)));
        assert_eq!(quiet(&small, 0), None);
        let big = parse(format!("switch s\n{}", hosts(SWITCH_BRIDGE_PORTS + 1)));
        assert_eq!(quiet(&big, 0), Some(false));
        let routed = parse(format!(
            "switch s\nnode r forward\nr -- s\n{}",
            hosts(SWITCH_BRIDGE_PORTS)
        ));
        assert_eq!(quiet(&routed, 0), Some(true));
        assert_eq!(quiet(&routed, 1), None, "not a switch");
    }
}

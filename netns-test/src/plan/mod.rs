//! The build plan: what to ask the kernel for, in which namespace and in which order. Pure: no
//! syscalls, so the order that makes the batches valid is visible and tested on its own.
//!
//! Every interface gets a fixed ifindex, chosen here and nowhere else: `IFINDEX_BASE` plus its
//! position in the whole topology, and for the relay's ports (whose namespace the process
//! shares) consecutive indexes from the block the relay reserved for this build. Namespaces are fresh, so the indexes are free, and no request
//! ever has to wait for the kernel to tell us an index: each namespace's work goes out in one
//! batch. The indexes are unique across the topology on purpose: the kernel treats a veth whose
//! peer has a different index as an urgent link event and brings it up at once, while one whose
//! peer has the same index waits for the next once-a-second link-event run.

pub(crate) mod change;
pub(crate) mod link_local;
pub(crate) mod segment;

use std::net::IpAddr;

use netns_test_topology::{Cidr, InterfaceKind, Route, RouteVia, Topology};

use crate::conditions::{Conditions, Wire};
use segment::Bridges;

/// The first ifindex handed out; `lo` is 1 and the kernel's own devices stay below.
pub(crate) const IFINDEX_BASE: u32 = 100;

/// One request, described in the topology's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Bring `lo` up.
    LoopbackUp,
    /// Create the switch's bridge, down (see [`Plan::finish`]).
    Bridge { iface: usize },
    /// Bring the switch's bridge up.
    BridgeUp { iface: usize },
    /// Create a veth pair: `iface` here, up; `peer_iface` directly in `peer_node`, down (the
    /// kernel cannot open a peer before the pair is complete).
    Veth {
        iface: usize,
        peer_node: usize,
        peer_iface: usize,
        mtu: Option<u32>,
        bridge: Option<usize>,
    },
    /// Bring up the peer end `iface` of a veth pair, joining it to the node's bridge if it is a
    /// switch port.
    PeerUp { iface: usize, bridge: Option<usize> },
    /// In the relay namespace: create port `port` of the relay, up, paired with side `side` of
    /// conditioned link `link`, whose end is created down in its node's namespace (with
    /// segmentation offload limited to one packet when `per_packet`).
    RelayPort {
        port: usize,
        link: usize,
        side: usize,
        mtu: Option<u32>,
        per_packet: bool,
    },
    /// Turn the kernel's IPv6 address generation off on a veth end (see [`link_local`]).
    OwnLinkLocal { iface: usize },
    /// Add an address.
    Address { iface: usize, cidr: Cidr },
    /// Add a route (`replace`: or replace the node's route to the same destination).
    Route {
        dest: Cidr,
        gateway: Option<IpAddr>,
        iface: Option<usize>,
        replace: bool,
    },
}

impl Step {
    /// The other node whose namespace this step needs besides its own: a veth pair's peer.
    pub fn peer_node(&self, topology: &Topology) -> Option<usize> {
        match *self {
            Step::Veth { peer_node, .. } => Some(peer_node),
            Step::RelayPort { link, side, .. } => Some(topology.links()[link].ends[side].node),
            _ => None,
        }
    }

    /// The nodes (at most two) in which this step, sent by node `node`, makes an interface.
    pub fn interfaces_made(&self, node: usize, topology: &Topology) -> [Option<usize>; 2] {
        match *self {
            Step::Bridge { .. } => [Some(node), None],
            Step::Veth { peer_node, .. } => [Some(node), Some(peer_node)],
            Step::RelayPort { link, side, .. } => {
                [Some(topology.links()[link].ends[side].node), None]
            }
            _ => [None, None],
        }
    }
}

/// The whole build: per node (indexed as in the topology), the steps of each phase.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// Phase 1, per node: `lo`, bridges, and the veth pairs this node creates. After this phase
    /// every interface of every node exists.
    pub create: Vec<Vec<Step>>,
    /// Phase 2, per node: peer ends up, addresses, then routes (which need the addresses).
    pub configure: Vec<Vec<Step>>,
    /// Phase 3, per node: bridges up. A bridge opened once its ports have carrier gets carrier
    /// and starts transmitting at once, instead of at the next once-a-second link-event run.
    pub finish: Vec<Vec<Step>>,
    /// Per node and interface, the ifindex.
    pub ifindex: Vec<Vec<u32>>,
    /// Per node, veth ends whose operational state must be up before the body starts.
    pub wait_up: Vec<Vec<usize>>,
    /// Per node, IPv6 addresses whose local route must exist before the body starts.
    pub wait_ipv6: Vec<Vec<IpAddr>>,
    /// The conditioned links, in order, with the conditions the relay applies, when there are
    /// any. The relay namespace comes after the nodes in every per-node list above; link
    /// `relayed[c]` has its relay ports at that namespace's interfaces `2c` and `2c + 1`.
    pub relayed: Vec<(usize, Wire)>,
    /// The switch ports planned, each by its ifindex with the bridge it joins (0 for `br0`,
    /// `N` for inner bridge `brN`; see [`segment`]).
    pub masters: Vec<(u32, usize)>,
}

impl Plan {
    /// A plan of `n` nodes with nothing to do yet.
    pub fn empty(n: usize) -> Plan {
        Plan {
            create: vec![Vec::new(); n],
            configure: vec![Vec::new(); n],
            finish: vec![Vec::new(); n],
            ifindex: Vec::with_capacity(n),
            wait_up: vec![Vec::new(); n],
            wait_ipv6: vec![Vec::new(); n],
            relayed: Vec::new(),
            masters: Vec::new(),
        }
    }

    /// The index of the relay namespace in the per-node lists, if the topology needs one.
    pub fn relay(&self) -> Option<usize> {
        (!self.relayed.is_empty()).then(|| self.create.len() - 1)
    }
}

/// How many relay ports the build of `topology` needs: two per conditioned link.
pub(crate) fn relay_ports(topology: &Topology) -> u32 {
    2 * topology
        .links()
        .iter()
        .filter(|l| l.conditions.is_some())
        .count() as u32
}

/// Plans the build of `topology`, whose relay ports (if any) take the [`relay_ports`] indexes
/// from `first_port` on.
pub(crate) fn plan(topology: &Topology, first_port: u32) -> Plan {
    let n = topology.nodes().len();
    let mut plan = Plan::empty(n);
    plan.create = vec![vec![Step::LoopbackUp]; n];
    let mut next = IFINDEX_BASE;
    for (i, node) in topology.nodes().iter().enumerate() {
        let count = node.interfaces.len() as u32;
        plan.ifindex.push((next..next + count).collect());
        next += count;
        for j in 0..node.interfaces.len() {
            add_interface(&mut plan, topology, i, j);
        }
    }
    let (mut relay_steps, mut bridges) = (Vec::new(), Bridges::new(topology));
    for k in 0..topology.links().len() {
        add_link(
            &mut plan,
            topology,
            k,
            &mut relay_steps,
            &mut bridges,
            &mut next,
        );
    }
    for (i, node) in topology.nodes().iter().enumerate() {
        for j in 0..node.interfaces.len() {
            add_addresses(&mut plan, i, j, node);
        }
        for route in &node.routes {
            plan.configure[i].push(route_step(route, false));
        }
    }
    add_relay(&mut plan, relay_steps, first_port);
    plan
}

/// Adds what interface `j` of node `i` needs besides its link: a bridge is made (down until the
/// finish), any other interface awaited, unless its peer's end stands for it.
fn add_interface(plan: &mut Plan, topology: &Topology, i: usize, j: usize) {
    if topology.nodes()[i].interfaces[j].kind == InterfaceKind::Bridge {
        plan.create[i].push(Step::Bridge { iface: j });
        plan.finish[i].push(Step::BridgeUp { iface: j });
    } else if !segment::awaited_by_peer(topology, i, j) {
        plan.wait_up[i].push(j);
    }
}

/// Adds the addresses of interface `j` of `node` (node `i`): its own link-local one first, then
/// the topology's, the IPv6 ones awaited.
fn add_addresses(plan: &mut Plan, i: usize, j: usize, node: &netns_test_topology::Node) {
    link_local::add_address(plan, i, j, node);
    for &cidr in &node.interfaces[j].addresses {
        plan.configure[i].push(Step::Address { iface: j, cidr });
        if !cidr.is_ipv4() {
            plan.wait_ipv6[i].push(cidr.addr);
        }
    }
}

/// Adds the steps that make link `k` of `topology`: a veth pair, or two through the relay
/// namespace (their steps pushed to `relay_steps`) for a conditioned link. A switch's end joins
/// one of its `bridges` (a new inner bridge takes indexes from `next` on).
fn add_link(
    plan: &mut Plan,
    topology: &Topology,
    k: usize,
    relay_steps: &mut Vec<Step>,
    bridges: &mut Bridges,
    next: &mut u32,
) {
    let link = &topology.links()[k];
    let mut bridge = |plan: &mut Plan, end: netns_test_topology::LinkEnd| {
        topology.nodes()[end.node]
            .is_switch
            .then(|| bridges.join(plan, topology, end.node, end.iface, next))
    };
    if let Some(conditions) = &link.conditions {
        // Two pairs through the relay namespace, each created from there (see `relay`).
        let wire = Conditions::from_topology(conditions)
            .validate()
            .expect("the topology language checks conditions as `validate` does");
        let c = plan.relayed.len();
        plan.relayed.push((k, wire));
        for (side, end) in link.ends.iter().enumerate() {
            relay_steps.push(Step::RelayPort {
                port: 2 * c + side,
                link: k,
                side,
                mtu: link.mtu,
                per_packet: wire.per_packet(),
            });
            let bridge = bridge(plan, *end);
            link_local::add(
                plan,
                end.node,
                end.iface,
                &topology.nodes()[end.node],
                false,
            );
            plan.configure[end.node].push(Step::PeerUp {
                iface: end.iface,
                bridge,
            });
        }
        return;
    }
    // The switch side creates the pair, so its end joins the bridge in the same request.
    let [a, b] = link.ends;
    let is_port = |end: netns_test_topology::LinkEnd| topology.nodes()[end.node].is_switch;
    let (local, peer) = if is_port(b) && !is_port(a) {
        (b, a)
    } else {
        (a, b)
    };
    let local_bridge = bridge(plan, local);
    plan.create[local.node].push(Step::Veth {
        iface: local.iface,
        peer_node: peer.node,
        peer_iface: peer.iface,
        mtu: link.mtu,
        bridge: local_bridge,
    });
    link_local::add(
        plan,
        local.node,
        local.iface,
        &topology.nodes()[local.node],
        true,
    );
    let bridge = bridge(plan, peer);
    link_local::add(
        plan,
        peer.node,
        peer.iface,
        &topology.nodes()[peer.node],
        false,
    );
    plan.configure[peer.node].push(Step::PeerUp {
        iface: peer.iface,
        bridge,
    });
}

/// Adds the relay namespace after the nodes, with `relay_steps` (if any) and their ports'
/// indexes from `first_port` on.
fn add_relay(plan: &mut Plan, relay_steps: Vec<Step>, first_port: u32) {
    if relay_steps.is_empty() {
        return;
    }
    let ports = relay_steps.len() as u32;
    plan.ifindex
        .push((first_port..first_port + ports).collect());
    plan.create.push(relay_steps);
    plan.configure.push(Vec::new());
    plan.finish.push(Vec::new());
    plan.wait_up.push(Vec::new());
    plan.wait_ipv6.push(Vec::new());
}

/// The step adding `route` (`replace`: or replacing the route to its destination).
fn route_step(route: &Route, replace: bool) -> Step {
    match route.via {
        RouteVia::Gateway(gw) => Step::Route {
            dest: route.dest,
            gateway: Some(gw),
            iface: None,
            replace,
        },
        RouteVia::Dev(j) => Step::Route {
            dest: route.dest,
            gateway: None,
            iface: Some(j),
            replace,
        },
    }
}

#[cfg(test)]
mod tests;

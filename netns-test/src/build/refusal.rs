//! Refusals named: which node, interface and operation a refused step was, and what to do.

use netns_test_topology::Topology;
use nix::errno::Errno;

use crate::error::Error;
use crate::plan::{Step, segment};
use crate::sys::netlink::Refusal;

/// Names what failed and, where the errno says it, what to do.
pub(super) fn step_error(topology: &Topology, node: usize, step: &Step, refusal: Refusal) -> Error {
    if let Step::RelayPort { link, side, .. } = *step {
        // Made from the relay namespace, but what fails is the node's end of the link.
        let end = topology.links()[link].ends[side];
        let n = &topology.nodes()[end.node];
        let other = &topology.nodes()[topology.links()[link].ends[1 - side].node].name;
        return Error::kernel(
            format!("creating the conditioned link's interface toward node `{other}`"),
            refusal.errno,
            refusal.detail,
        )
        .on_node(&n.name)
        .on_interface(&n.interfaces[end.iface].name);
    }
    let n = &topology.nodes()[node];
    let name = |j: usize| segment::name(n, j);
    let (iface, operation, hint) = match *step {
        Step::LoopbackUp => (Some("lo".into()), "bringing lo up".to_string(), None),
        Step::Bridge { iface } => (
            Some(name(iface)),
            "creating the switch's bridge".to_string(),
            Some(
                "the kernel has no bridge support: load the `bridge` module (`modprobe bridge`) \
                 or use a kernel built with CONFIG_BRIDGE",
            ),
        ),
        Step::BridgeUp { iface } => (
            Some(name(iface)),
            "bringing the switch's bridge up".to_string(),
            None,
        ),
        Step::RelayPort { .. } => unreachable!("handled above"),
        Step::Veth {
            iface,
            peer_node,
            peer_iface,
            ..
        } => (
            Some(name(iface)),
            format!(
                "creating the veth pair to node `{}` (interface `{}`)",
                topology.nodes()[peer_node].name,
                segment::name(&topology.nodes()[peer_node], peer_iface)
            ),
            Some(
                "the kernel has no veth support: load the `veth` module (`modprobe veth`) or use \
                 a kernel built with CONFIG_VETH",
            ),
        ),
        Step::PeerUp {
            iface,
            bridge: Some(_),
        } => (
            Some(name(iface)),
            "bringing up a port of the switch's bridge".to_string(),
            None,
        ),
        Step::PeerUp {
            iface,
            bridge: None,
        } => (
            Some(name(iface)),
            "bringing the interface up".to_string(),
            None,
        ),
        Step::OwnLinkLocal { iface } => (
            Some(name(iface)),
            "turning the kernel's IPv6 address generation off".to_string(),
            None,
        ),
        Step::Address { iface, cidr } => {
            (Some(name(iface)), format!("adding address {cidr}"), None)
        }
        Step::Route {
            dest,
            gateway,
            iface,
            ..
        } => (
            iface.map(name),
            match gateway {
                Some(gw) => format!("adding route to {dest} via {gw}"),
                None => format!("adding on-link route to {dest}"),
            },
            None,
        ),
    };
    let mut error = Error::kernel(operation, refusal.errno, refusal.detail).on_node(&n.name);
    if let Some(iface) = iface {
        error = error.on_interface(&iface);
    }
    match (refusal.errno, hint) {
        (Errno::EOPNOTSUPP, Some(hint)) => error.with_hint(hint),
        _ => error,
    }
}

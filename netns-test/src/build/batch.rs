//! A node's steps sent as netlink batches: each step translated into its request, transient
//! refusals sent again (bounded), the first lasting refusal named by [`refusal`](super::refusal).

use std::os::fd::RawFd;

use netlink_packet_route::RouteNetlinkMessage;
use netns_test_topology::Topology;

use super::refusal::step_error;
use crate::error::Error;
use crate::plan::{Plan, Step, link_local, segment};
use crate::relay;
use crate::requests;
use crate::sys::netlink::{Kind, Refusal, Socket};
use crate::sys::retry::{TRANSIENT_RETRIES, back_off, is_transient};

/// Sends one node's steps as batches and turns the first refusal into an error naming the node,
/// the interface and the operation.
pub(super) fn run_steps(
    topology: &Topology,
    plan: &Plan,
    node: usize,
    steps: &[Step],
    socket: &mut Socket,
    namespaces: &[Option<RawFd>],
) -> Result<(), Error> {
    if steps.is_empty() {
        return Ok(());
    }
    let mut pending: Vec<&Step> = steps.iter().collect();
    let mut round = 0;
    while !pending.is_empty() {
        let requests = pending
            .iter()
            .map(|step| request(topology, plan, node, step, namespaces))
            .collect();
        let results = socket.execute(requests, &mut |_| {}).map_err(|e| {
            Error::io("talking to the kernel over netlink", e).on_node(&topology.nodes()[node].name)
        })?;
        match next_round(&pending, results, round) {
            Round::Done => return Ok(()),
            Round::Again(refused) => {
                back_off(round);
                round += 1;
                pending = refused;
            }
            Round::Fail(step, refusal) => {
                let mut error = step_error(topology, node, step, refusal);
                if round > 0 {
                    error = error.with_hint(format!(
                        "still refused after {round} retries; run fewer tests at once \
                         (`--test-threads`)"
                    ));
                }
                return Err(error);
            }
        }
    }
    Ok(())
}

/// What to do after a batch's answers.
#[derive(Debug, PartialEq)]
enum Round<'s, S> {
    /// Every request succeeded.
    Done,
    /// Send these again, in this order.
    Again(Vec<&'s S>),
    /// Give up: this request's refusal is the error.
    Fail(&'s S, Refusal),
}

/// The retry policy for one batch. A first refusal the kernel means as "not now" is sent again
/// together with every later refusal of the batch (they may have failed only for want of it), in
/// order; what succeeded is not sent again. Any other first refusal, or a transient one after
/// `TRANSIENT_RETRIES` rounds, fails.
fn next_round<'s, S>(
    pending: &[&'s S],
    results: Vec<Result<(), Refusal>>,
    round: u32,
) -> Round<'s, S> {
    let mut refused = pending
        .iter()
        .zip(results)
        .filter_map(|(step, result)| result.err().map(|refusal| (*step, refusal)))
        .peekable();
    match refused.peek() {
        None => Round::Done,
        Some((_, first)) if is_transient(first.errno) && round < TRANSIENT_RETRIES => {
            Round::Again(refused.map(|(step, _)| step).collect())
        }
        Some(_) => {
            let (step, refusal) = refused.next().expect("peeked");
            Round::Fail(step, refusal)
        }
    }
}

/// The MAC address a veth end is made with: one chosen by the plan where the end has its own
/// link-local address, else the kernel's random one.
fn mac(node: &netns_test_topology::Node, iface: usize, index: u32) -> Option<[u8; 6]> {
    link_local::has_own(node, iface).then(|| link_local::mac(index))
}

fn request(
    topology: &Topology,
    plan: &Plan,
    node: usize,
    step: &Step,
    namespaces: &[Option<RawFd>],
) -> (Kind, RouteNetlinkMessage) {
    let namespace = |node: usize| namespaces[node].expect("sent only once its namespace exists");
    let index = |j: usize| plan.ifindex[node][j];
    // Only steps of the topology's nodes name interfaces this way (the relay names its ports).
    let this = || &topology.nodes()[node];
    match *step {
        Step::LoopbackUp => (Kind::Change, requests::set_up(1)),
        Step::Bridge { iface } => (
            Kind::Create,
            requests::new_bridge(&segment::name(this(), iface), index(iface)),
        ),
        Step::Veth {
            iface,
            peer_node,
            peer_iface,
            mtu,
            bridge,
        } => {
            let local = requests::VethEnd {
                name: &segment::name(this(), iface),
                index: index(iface),
                mtu,
                max_segments: None,
                mac: mac(this(), iface, index(iface)),
            };
            let peer_index = plan.ifindex[peer_node][peer_iface];
            let peer = requests::VethEnd {
                name: &segment::name(&topology.nodes()[peer_node], peer_iface),
                index: peer_index,
                mtu,
                max_segments: None,
                mac: mac(&topology.nodes()[peer_node], peer_iface, peer_index),
            };
            let peer_ns = namespace(peer_node);
            (
                Kind::Create,
                requests::new_veth(local, bridge.map(index), peer, peer_ns),
            )
        }
        Step::RelayPort {
            port,
            link,
            side,
            mtu,
            per_packet,
        } => {
            let end = topology.links()[link].ends[side];
            let name = relay::port_name(index(port));
            let local = requests::VethEnd {
                name: &name,
                index: index(port),
                mtu,
                max_segments: None,
                mac: None,
            };
            let (node_end, end_index) = (
                &topology.nodes()[end.node],
                plan.ifindex[end.node][end.iface],
            );
            let peer = requests::VethEnd {
                name: &node_end.interfaces[end.iface].name,
                index: end_index,
                mtu,
                max_segments: per_packet.then_some(1),
                mac: mac(node_end, end.iface, end_index),
            };
            let peer_ns = namespace(end.node);
            (Kind::Create, requests::new_veth(local, None, peer, peer_ns))
        }
        Step::PeerUp { iface, bridge } => (
            Kind::Change,
            requests::set_up_in(index(iface), bridge.map(index)),
        ),
        Step::BridgeUp { iface } => (Kind::Change, requests::set_up_in(index(iface), None)),
        Step::OwnLinkLocal { iface } => (Kind::Change, requests::own_link_local(index(iface))),
        Step::Address { iface, cidr } => (Kind::Create, requests::new_address(index(iface), cidr)),
        Step::Route {
            dest,
            gateway,
            iface,
            replace,
        } => (
            if replace { Kind::Replace } else { Kind::Create },
            requests::new_route(dest, gateway, iface.map(index)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    fn refused(errno: Errno) -> Result<(), Refusal> {
        Err(Refusal {
            errno,
            detail: None,
        })
    }

    #[test]
    fn a_transient_refusal_is_sent_again_with_what_failed_after_it() {
        let steps = ["lo", "veth", "address", "route"];
        let pending: Vec<&&str> = steps.iter().collect();
        let results = vec![
            Ok(()),
            refused(Errno::EBUSY),
            refused(Errno::ENODEV),
            Ok(()),
        ];
        assert_eq!(
            next_round(&pending, results, 0),
            Round::Again(vec![&"veth", &"address"])
        );
    }

    #[test]
    fn a_lasting_refusal_fails_at_once_and_a_transient_one_after_the_bound() {
        let steps = ["veth", "address"];
        let pending: Vec<&&str> = steps.iter().collect();
        let eexist = Refusal {
            errno: Errno::EEXIST,
            detail: None,
        };
        assert_eq!(
            next_round(&pending, vec![Ok(()), Err(eexist.clone())], 0),
            Round::Fail(&"address", eexist)
        );
        let enomem = Refusal {
            errno: Errno::ENOMEM,
            detail: None,
        };
        assert_eq!(
            next_round(
                &pending,
                vec![Err(enomem.clone()), Ok(())],
                TRANSIENT_RETRIES - 1
            ),
            Round::Again(vec![&"veth"])
        );
        assert_eq!(
            next_round(
                &pending,
                vec![Err(enomem.clone()), Ok(())],
                TRANSIENT_RETRIES
            ),
            Round::Fail(&"veth", enomem)
        );
        assert_eq!(next_round(&pending, vec![Ok(()), Ok(())], 3), Round::Done);
    }
}

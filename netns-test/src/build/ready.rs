//! The end of a build: a wait on kernel events (never a timer) until every interface is
//! operationally up and every IPv6 address usable, so the body's first packet is not lost.

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;

use netlink_packet_route::link::{LinkAttribute, State};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netns_test_topology::Node;

use crate::error::Error;
use crate::plan::{Plan, segment};
use crate::requests;
use crate::sys::netlink::{Kind, Payload, Socket};

pub(super) const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV6_ROUTE: u32 = 11;

/// Makes the kernel apply the bridge's pending carrier change now. A bridge whose carrier came on
/// while it was being opened gets no urgent link event: its state stays down (and it sends
/// nothing of its own) until the once-a-second link-event run. Its ports are up by now, so its
/// carrier is on; asking for the one link makes the kernel run its pending event first.
fn sync_bridge(socket: &mut Socket, node: &Node, index: u32) -> Result<(), Error> {
    socket
        .execute_one(
            (Kind::Change, requests::get_link(index)),
            "reading the switch's bridge",
        )
        .map_err(|e| {
            e.on_node(&node.name)
                .on_interface(netns_test_topology::BRIDGE_NAME)
        })
}

/// Waits until node `i`'s interfaces the plan awaits are up and its IPv6 addresses usable (see
/// [`await_ready`]), then, for a switch, has the kernel apply its bridges' pending carrier
/// changes. Returns whether there was anything to wait for.
pub(super) fn await_node(
    socket: &mut Socket,
    plan: &Plan,
    i: usize,
    node: &Node,
) -> Result<bool, Error> {
    let names: Vec<_> = plan.wait_up[i]
        .iter()
        .map(|&j| segment::name(node, j))
        .collect();
    let links: Vec<(u32, &str)> = plan.wait_up[i]
        .iter()
        .zip(&names)
        .map(|(&j, name)| (plan.ifindex[i][j], &**name))
        .collect();
    let awaited = await_ready(socket, node, &links, &plan.wait_ipv6[i])?.is_some();
    if node.is_switch {
        for j in segment::bridges(node, plan.ifindex[i].len()) {
            sync_bridge(socket, node, plan.ifindex[i][j])?;
        }
    }
    Ok(awaited)
}

/// Waits, on netlink events, until the interfaces `links` are operationally up and the IPv6
/// addresses `ipv6` have their local routes. Returns `None` if there was nothing to wait for,
/// else how many times lost events (a receive buffer overrun) made it read the state afresh;
/// 10 s without any event is an error.
fn await_ready(
    socket: &mut Socket,
    node: &Node,
    links: &[(u32, &str)],
    ipv6: &[IpAddr],
) -> Result<Option<u32>, Error> {
    if links.is_empty() && ipv6.is_empty() {
        return Ok(None);
    }
    let context =
        |e: io::Error| Error::io("waiting for interfaces to come up", e).on_node(&node.name);
    let groups: &[u32] = if ipv6.is_empty() {
        &[RTNLGRP_LINK]
    } else {
        &[RTNLGRP_LINK, RTNLGRP_IPV6_ROUTE]
    };
    for &group in groups {
        socket.join(group).map_err(context)?;
    }
    let outcome = follow_events(socket, node, links, ipv6);
    // Leave the groups and drop what is queued: the socket carries requests again.
    for &group in groups {
        socket.leave(group).map_err(context)?;
    }
    outcome.map(Some)
}

/// The wait itself: state read afresh, then events, until everything is ready.
fn follow_events(
    socket: &mut Socket,
    node: &Node,
    links: &[(u32, &str)],
    ipv6: &[IpAddr],
) -> Result<u32, Error> {
    let context =
        |e: io::Error| Error::io("waiting for interfaces to come up", e).on_node(&node.name);
    let names = links;
    let mut links: HashSet<u32> = links.iter().map(|&(index, _)| index).collect();
    let mut ipv6: HashSet<IpAddr> = ipv6.iter().copied().collect();
    let want_ipv6 = !ipv6.is_empty();
    let overrun = |e: &io::Error| e.raw_os_error() == Some(libc::ENOBUFS);
    // Each round reads the state afresh, then follows events; a lost event (the receive buffer
    // overran) starts a new round. The bound only guards against a kernel flooding us forever.
    for resyncs in 0..64 {
        let mut seen = |m: &RouteNetlinkMessage| settle(m, &mut links, &mut ipv6);
        let state = socket
            .dump(requests::get_links(), &mut seen)
            .and_then(|mut state| {
                if want_ipv6 {
                    state.extend(socket.dump(requests::get_routes(true), &mut seen)?);
                }
                Ok(state)
            });
        match state {
            Ok(state) => state.iter().for_each(&mut seen),
            Err(e) if overrun(&e) => continue,
            Err(e) => return Err(context(e)),
        }
        let mut lost = false;
        while !(links.is_empty() && ipv6.is_empty()) {
            let result = socket.receive(&mut |_, payload| {
                if let Payload::Message(m) = payload {
                    settle(&m, &mut links, &mut ipv6);
                }
                Ok(())
            });
            match result {
                Ok(()) => {}
                Err(e) if overrun(&e) => {
                    lost = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    let names: Vec<&str> = names
                        .iter()
                        .filter(|(index, _)| links.contains(index))
                        .map(|&(_, n)| n)
                        .collect();
                    return Err(Error::io("waiting for interfaces to come up", e)
                        .on_node(&node.name)
                        .with_hint(format!(
                            "still not up after 10 s: {names:?}; IPv6 addresses without a route: {ipv6:?}"
                        )));
                }
                Err(e) => return Err(context(e)),
            }
        }
        if !lost {
            return Ok(resyncs);
        }
    }
    Err(Error::io(
        "waiting for interfaces to come up",
        io::Error::from_raw_os_error(libc::ENOBUFS),
    )
    .on_node(&node.name)
    .with_hint("link events kept overrunning the netlink receive buffer (64 rounds)"))
}

/// Crosses off what a link or route message shows to be ready.
fn settle(message: &RouteNetlinkMessage, links: &mut HashSet<u32>, ipv6: &mut HashSet<IpAddr>) {
    match message {
        RouteNetlinkMessage::NewLink(m)
            if m.header.interface_family == AddressFamily::Unspec
                && m.attributes
                    .iter()
                    .any(|a| matches!(a, LinkAttribute::OperState(State::Up))) =>
        {
            links.remove(&m.header.index);
        }
        RouteNetlinkMessage::NewRoute(m) if m.header.kind == RouteType::Local => {
            for a in &m.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet6(addr)) = a {
                    ipv6.remove(&IpAddr::V6(*addr));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;
    use crate::sys::namespace;

    /// A receive buffer far too small for a switch's link events: the kernel overruns it
    /// (ENOBUFS) while the wait runs, and the wait must read the state afresh and still see every
    /// port come back up. Real namespaces, real ports, real events.
    #[test]
    fn an_overrun_receive_buffer_is_not_an_error() {
        let text: String =
            (1..=40).map(|i| format!("h{i} -- s\n")).collect::<String>() + "switch s";
        let net = crate::Net::build(&text).unwrap();
        let plan = plan::plan(net.topology(), 0);
        let s = net.topology().node_index("s").unwrap();
        let switch = &net.topology().nodes()[s];
        let ports: Vec<(u32, &str)> = (1..switch.interfaces.len())
            .map(|j| (plan.ifindex[s][j], switch.interfaces[j].name.as_str()))
            .collect();
        assert_eq!(ports.len(), 40);
        let ns = net.node("s").ns().clone();
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    namespace::enter(&*ns).unwrap();
                    let mut watcher = Socket::open().unwrap();
                    watcher.set_receive_buffer(1).unwrap(); // the kernel's minimum
                    watcher.join(RTNLGRP_LINK).unwrap();
                    let mut control = Socket::open().unwrap();
                    for up in [false, true] {
                        let toggles = ports
                            .iter()
                            .map(|&(index, _)| {
                                let mut m = netlink_packet_route::link::LinkMessage::default();
                                m.header.index = index;
                                m.header.change_mask = netlink_packet_route::link::LinkFlags::Up;
                                if up {
                                    m.header.flags = netlink_packet_route::link::LinkFlags::Up;
                                }
                                (Kind::Change, RouteNetlinkMessage::SetLink(m))
                            })
                            .collect();
                        let results = control.execute(toggles, &mut |_| {}).unwrap();
                        assert!(results.iter().all(Result::is_ok));
                    }
                    // 80 state changes have overrun the watcher by now: the wait meets ENOBUFS.
                    let switch_node = &net.topology().nodes()[s];
                    let resyncs = await_ready(&mut watcher, switch_node, &ports, &[]).unwrap();
                    assert!(
                        resyncs.is_some_and(|n| n >= 1),
                        "no overrun happened: {resyncs:?}"
                    );
                })
                .join()
                .unwrap()
        });
    }
}

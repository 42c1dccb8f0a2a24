//! The executor: turns a [`Plan`](crate::plan::Plan) into namespaces and netlink batches.
//!
//! Order of work, for N nodes:
//! 1. N × `unshare(CLONE_NEWNET)` (on up to one thread per core for big topologies), each
//!    namespace held by an fd, with a netlink socket opened inside it and duplicate address
//!    detection turned off ([`namespaces`]);
//! 2. meanwhile, on the build thread, as soon as the namespaces a step needs exist: per node,
//!    batches creating `lo`, bridges and veth pairs (peers born in their namespace); then, once
//!    all of a node's interfaces exist, its sysctls and one batch bringing up peer ends (joining
//!    bridges), adding addresses and routes ([`progress`], sent by [`batch`]). Making
//!    namespaces is mostly work outside the routing lock and making interfaces mostly work
//!    under it, so the two overlap;
//! 3. the bridges up, once their ports have carrier;
//! 4. a wait on kernel events (never a timer) until every interface is operationally up and
//!    every IPv6 address has its local route, so the body's first packet is not lost
//!    ([`ready`]);
//! 5. the conditioned links handed to the relay.
//!
//! All of it happens on short-lived threads; no caller's thread ever changes namespace.

mod batch;
pub(crate) mod change;
pub(crate) mod middlebox;
mod namespaces;
mod progress;
mod ready;
mod refusal;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use netns_test_topology::Topology;

use crate::error::Error;
use crate::plan::{self, Plan};
use crate::relay::{self, Relay, RelayedLink};
use crate::requests;
use crate::sys::namespace;
use crate::sys::netlink::{Kind, Socket};
use crate::sys::privilege::{self, Privilege};

/// A node's namespace, as built.
pub(crate) struct Built {
    /// The descriptor that keeps the namespace alive.
    pub ns: OwnedFd,
    /// Its inode, which identifies it.
    pub inode: u64,
}

/// What a build hands to the runtime.
pub(crate) struct Output {
    /// One namespace per node, in the topology's node order.
    pub nodes: Vec<Built>,
    /// Per conditioned link: its index and its share of the relay.
    pub relayed: Vec<(usize, RelayedLink)>,
    /// Per node and interface, its index (a switch's inner bridges listed last).
    pub ifindex: Vec<Vec<u32>>,
    /// Per switch port, by its index, the bridge it joined (see `plan::segment`).
    pub masters: Vec<(u32, usize)>,
}

/// Builds `topology` and returns one namespace per node, in the topology's node order; the
/// conditioned links' random choices derive from `test_seed` where the topology gives no seed.
///
/// The work runs on a thread of its own, which hops from namespace to namespace and ends with the
/// build: in a user namespace a thread can never return to the host's namespace, and this way no
/// caller's thread is ever moved.
pub(crate) fn build(topology: &Topology, test_seed: u64) -> Result<Output, Error> {
    if let Privilege::Unsupported { reason, errno } = privilege::privilege() {
        return Err(Error::unsupported(
            "creating network namespaces",
            *errno,
            reason.clone(),
        ));
    }
    let host = namespace::host_inode(); // read before any thread moves
    let home = namespace::current_inode()
        .map_err(|e| Error::io("reading the current network namespace", e))?;
    std::thread::scope(|scope| {
        let builder = std::thread::Builder::new().name("netns-test-build".into());
        let worker = builder
            .spawn_scoped(scope, || build_here(topology, test_seed, host, home))
            .map_err(|e| Error::io("starting the build thread", e))?;
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn build_here(
    topology: &Topology,
    test_seed: u64,
    host: u64,
    home_inode: u64,
) -> Result<Output, Error> {
    let ports = plan::relay_ports(topology);
    // The process's relay is shared: its ports get indexes no one else holds.
    let relay = if ports > 0 { Some(relay::get()?) } else { None };
    let plan = plan::plan(topology, relay.map_or(0, |r| r.reserve_ports(ports)));
    let nodes = topology.nodes();
    namespaces::check_open_file_limit(nodes.len())?;

    let mut progress = progress::Progress::new(topology, &plan);
    let mut slots = namespaces::create_namespaces(nodes, host, home_inode, |slots| {
        progress.advance(slots, None)
    })?;
    let mut relay_socket = match relay {
        Some(relay) => {
            let context = |e: std::io::Error| Error::io("opening a netlink socket in the relay", e);
            namespace::enter(relay.ns()).map_err(context)?;
            Some(Socket::open().map_err(context)?)
        }
        None => None,
    };
    progress.advance(&mut slots, relay_socket.as_mut())?;
    assert!(
        progress.configured.iter().all(|&c| c),
        "every node's interfaces exist once every creation step has been sent"
    );
    let (mut namespaces, mut inodes, mut sockets) = (Vec::new(), Vec::new(), Vec::new());
    for fresh in slots.into_iter().flatten() {
        namespaces.push(fresh.ns);
        inodes.push(fresh.inode);
        sockets.push(fresh.socket);
    }
    sockets.extend(relay_socket);

    let fds: Vec<Option<RawFd>> = namespaces.iter().map(|ns| Some(ns.as_raw_fd())).collect();
    for (i, steps) in plan.finish.iter().enumerate() {
        batch::run_steps(topology, &plan, i, steps, &mut sockets[i], &fds)?;
    }
    await_all(topology, &plan, &mut sockets)?;
    let relayed = match relay {
        Some(relay) => carry(topology, &plan, relay, &|k| {
            relay::fate::link_seed(test_seed, k)
        })?,
        None => Vec::new(),
    };
    Ok(Output {
        ifindex: plan.ifindex[..nodes.len()].to_vec(),
        masters: plan.masters.clone(),
        nodes: namespaces
            .into_iter()
            .zip(inodes)
            .map(|(ns, inode)| Built { ns, inode })
            .collect(),
        relayed,
    })
}

/// Waits until every node's interfaces are up and its IPv6 addresses usable.
fn await_all(topology: &Topology, plan: &Plan, sockets: &mut [Socket]) -> Result<(), Error> {
    let mut awaited = None;
    for (i, node) in topology.nodes().iter().enumerate() {
        if ready::await_node(&mut sockets[i], plan, i, node)? {
            awaited = Some(i);
        }
    }
    if let Some(socket) = awaited.map(|i| &mut sockets[i]) {
        // The kernel sets a link's state up an instant before it finishes bringing it up, all
        // under the routing lock; a request that takes the lock waits for that instant to pass.
        socket.execute_one(
            (Kind::Change, requests::barrier()),
            "waiting for the kernel to settle",
        )?;
    }
    Ok(())
}

/// Hands each conditioned link to the relay, with its conditions and its seed: the one written
/// on the link, else `seed(k)` for link `k`.
fn carry(
    topology: &Topology,
    plan: &Plan,
    relay: &'static Relay,
    seed: &(dyn Fn(usize) -> u64 + Sync),
) -> Result<Vec<(usize, RelayedLink)>, Error> {
    let r = plan
        .relay()
        .expect("a relay is used only for conditioned links");
    plan.relayed
        .iter()
        .enumerate()
        .map(|(c, &(k, wire))| {
            let link = &topology.links()[k];
            let link_seed = link
                .conditions
                .and_then(|c| c.seed)
                .unwrap_or_else(|| seed(k));
            let ports = [plan.ifindex[r][2 * c], plan.ifindex[r][2 * c + 1]];
            let carried = relay.carry(ports, wire, link_seed).map_err(|e| {
                let [a, b] = link.ends.map(|e| topology.nodes()[e.node].name.as_str());
                Error::io(format!("starting the relay of link {a} -- {b}"), e)
            })?;
            Ok((k, carried))
        })
        .collect()
}

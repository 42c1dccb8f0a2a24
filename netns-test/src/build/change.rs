//! The executor of a change to a running topology: new namespaces made as a build makes them,
//! the planned steps sent in the nodes they concern, rule sets replaced, and the same wait for
//! every new interface and address as a build's.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use netns_test_topology::Topology;

use super::batch::run_steps;
use super::{Built, carry, middlebox, namespaces, ready};
use crate::error::Error;
use crate::plan::change::Change;
use crate::relay::{Relay, RelayedLink};
use crate::requests::{self, nftables};
use crate::sys::namespace;
use crate::sys::netlink::{Kind, Socket};

/// What a change hands to the runtime.
pub(crate) struct Changed {
    /// One namespace per new node, in order.
    pub nodes: Vec<Built>,
    /// Per new conditioned link (by its index in the changed topology), its share of the relay.
    pub relayed: Vec<(usize, RelayedLink)>,
}

/// Makes the change `change` to the running nodes (`running[i]` is node `i`'s namespace),
/// giving `new` (the changed topology). A new conditioned link's random choices derive from
/// `seed(k)` for link `k` unless the link gives its own seed.
pub(crate) fn apply(
    new: &Topology,
    change: &Change,
    running: &[&OwnedFd],
    relay: Option<&'static Relay>,
    seed: &(dyn Fn(usize) -> u64 + Sync),
) -> Result<Changed, Error> {
    let host = namespace::host_inode();
    let home = namespace::current_inode()
        .map_err(|e| Error::io("reading the current network namespace", e))?;
    std::thread::scope(|scope| {
        let builder = std::thread::Builder::new().name("netns-test-change".into());
        builder
            .spawn_scoped(scope, || {
                apply_here(new, change, running, relay, seed, host, home)
            })
            .map_err(|e| Error::io("starting the change's thread", e))?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn apply_here(
    new: &Topology,
    change: &Change,
    running: &[&OwnedFd],
    relay: Option<&'static Relay>,
    seed: &(dyn Fn(usize) -> u64 + Sync),
    host: u64,
    home: u64,
) -> Result<Changed, Error> {
    let plan = &change.plan;
    let nodes = new.nodes();
    namespaces::check_open_file_limit(nodes.len() - change.running)?;
    let fresh = namespaces::create_namespaces(&nodes[change.running..], host, home, |_| Ok(()))?;
    let count = plan.create.len();
    let mut sockets: Vec<Option<Socket>> = (0..count).map(|_| None).collect();
    // A new node comes with its socket; a running one (or the relay) gets one if it has work.
    let (mut made, mut inherited) = (Vec::with_capacity(fresh.len()), false);
    for (k, f) in fresh.into_iter().flatten().enumerate() {
        inherited |= f.inherited_forwarding;
        sockets[change.running + k] = Some(f.socket);
        made.push(Built {
            ns: f.ns,
            inode: f.inode,
        });
    }
    let namespace_of = |i: usize| -> &OwnedFd {
        match i.checked_sub(change.running) {
            Some(k) if k < made.len() => &made[k].ns,
            Some(_) => relay
                .expect("a relay namespace when a new link has conditions")
                .ns(),
            None => running[i],
        }
    };
    let fds: Vec<Option<RawFd>> = (0..count)
        .map(|i| Some(namespace_of(i).as_raw_fd()))
        .collect();
    let busy = |i: usize| {
        !(plan.create[i].is_empty()
            && plan.configure[i].is_empty()
            && plan.finish[i].is_empty()
            && plan.wait_up[i].is_empty()
            && plan.wait_ipv6[i].is_empty())
            || change.grown_switches.contains(&i)
    };
    for (i, socket) in sockets.iter_mut().enumerate() {
        if socket.is_some() || !busy(i) {
            continue;
        }
        let name = nodes.get(i).map_or("the relay", |n| n.name.as_str());
        let context =
            |e: std::io::Error| Error::io("opening a netlink socket in the node", e).on_node(name);
        namespace::enter(namespace_of(i)).map_err(context)?;
        *socket = Some(Socket::open().map_err(context)?);
    }
    // Everything is sent in one go; a refusal undoes the interfaces made in running nodes
    // and the relay (new nodes' namespaces close with their interfaces).
    let sent = (|| -> Result<Vec<(usize, RelayedLink)>, Error> {
        // A switch this change makes big is kept quiet from now on (decided once, as it grows
        // past one bridge).
        for &(i, router) in &change.quieted {
            let node = &nodes[i];
            namespace::enter(namespace_of(i))
                .map_err(|e| Error::io("entering the node's namespace", e).on_node(&node.name))?;
            middlebox::send(node, nftables::quiet(router))?;
        }
        for (i, socket) in sockets.iter_mut().enumerate() {
            if let Some(socket) = socket {
                run_steps(new, plan, i, &plan.create[i], socket, &fds)?;
            }
        }
        for (i, node) in nodes.iter().enumerate() {
            let mut settings: Vec<(&str, &str)> = Vec::new();
            if inherited && i >= change.running && !node.forward {
                settings.extend([
                    ("net.ipv4.ip_forward", "0"),
                    ("net.ipv6.conf.all.forwarding", "0"),
                ]);
            }
            settings.extend(
                change.settings[i]
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
            if !settings.is_empty() {
                super::progress::write_node_sysctls(node, namespace_of(i), &settings, false)?;
            }
            if let Some(socket) = sockets[i].as_mut() {
                run_steps(new, plan, i, &plan.configure[i], socket, &fds)?;
            }
            if change.middleboxes.contains(&i) {
                install(node, namespace_of(i), i < change.running)?;
            }
        }
        for (i, socket) in sockets.iter_mut().enumerate() {
            if let Some(socket) = socket {
                run_steps(new, plan, i, &plan.finish[i], socket, &fds)?;
            }
        }
        let mut awaited = None;
        for (i, node) in nodes.iter().enumerate() {
            let Some(socket) = sockets[i].as_mut() else {
                continue;
            };
            if ready::await_node(socket, plan, i, node)? {
                awaited = Some(i);
            }
        }
        if let Some(socket) = awaited.and_then(|i| sockets[i].as_mut()) {
            socket.execute_one(
                (Kind::Change, requests::barrier()),
                "waiting for the kernel to settle",
            )?;
        }
        match relay {
            Some(relay) if !plan.relayed.is_empty() => carry(new, plan, relay, seed),
            _ => Ok(Vec::new()),
        }
    })();
    let relayed = sent.inspect_err(|_| undo(change, &mut sockets))?;
    Ok(Changed {
        nodes: made,
        relayed,
    })
}

/// Deletes the interfaces a failed change made in running nodes and in the relay, from each
/// one's socket; each veth takes its peer along. What cannot be deleted was not made.
fn undo(change: &Change, sockets: &mut [Option<Socket>]) {
    let fresh = change.running..change.kept.len();
    for (i, socket) in sockets.iter_mut().enumerate() {
        let Some(socket) = socket.as_mut().filter(|_| !fresh.contains(&i)) else {
            continue;
        };
        // A running node's new interfaces have the change's indexes; the relay's are all new.
        let relay = i >= change.kept.len();
        let made = change.plan.ifindex[i]
            .iter()
            .filter(|&&index| relay || index >= change.first_ifindex);
        for &index in made {
            let request = (Kind::Change, requests::delete_link(index));
            let _ = socket.execute_one(request, "undoing a refused change");
        }
    }
}

/// Installs `node`'s NAT and firewall in `ns`, in one transaction with the removal of what it
/// had (`replacing`), so packets meet either the old rule set or the new one.
fn install(node: &netns_test_topology::Node, ns: &OwnedFd, replacing: bool) -> Result<(), Error> {
    if !replacing {
        return middlebox::install(node, ns);
    }
    namespace::enter(ns)
        .map_err(|e| Error::io("entering the node's namespace", e).on_node(&node.name))?;
    let mut requests = nftables::clear();
    requests.extend(nftables::ruleset(node));
    middlebox::send(node, requests)?;
    middlebox::install_timeout(node)
}

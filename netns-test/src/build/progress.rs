//! The pipelined part of a build: creation and configuration steps sent as soon as the
//! namespaces they need exist, while other namespaces are still being made.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use netns_test_topology::{Node, Topology};

use super::batch::run_steps;
use super::namespaces::Fresh;
use crate::error::Error;
use crate::plan::{Plan, segment};
use crate::requests::nftables;
use crate::sys::netlink::Socket;
use crate::sys::{namespace, sysctl};

/// The build's creation and configuration, sent as far as the namespaces made so far allow: a
/// veth pair goes out as soon as its two namespaces exist, and a node is configured as soon as
/// all its interfaces do, while other namespaces are still being made.
pub(super) struct Progress<'t> {
    topology: &'t Topology,
    plan: &'t Plan,
    /// Per node (and the relay), how many of its creation steps have been sent.
    created: Vec<usize>,
    /// Per node, how many of its interfaces do not exist yet.
    missing: Vec<usize>,
    /// Per node, whether its namespace has been prepared for its interfaces.
    prepared: Vec<bool>,
    /// Per node, whether its settings are written and its configuration steps sent.
    pub configured: Vec<bool>,
}

impl<'t> Progress<'t> {
    pub fn new(topology: &'t Topology, plan: &'t Plan) -> Self {
        let n = topology.nodes().len();
        Progress {
            topology,
            plan,
            created: vec![0; plan.create.len()],
            // A switch's inner bridges and trunks count with its interfaces.
            missing: plan.ifindex[..n].iter().map(Vec::len).collect(),
            prepared: vec![false; n],
            configured: vec![false; n],
        }
    }

    /// Sends everything the namespaces in `slots` allow. The relay's ports go once `relay` is
    /// given, which is only once every namespace exists.
    pub fn advance(
        &mut self,
        slots: &mut [Option<Fresh>],
        relay: Option<&mut Socket>,
    ) -> Result<(), Error> {
        let (topology, plan) = (self.topology, self.plan);
        let nodes = topology.nodes();
        let fds: Vec<Option<RawFd>> = slots
            .iter()
            .map(|s| s.as_ref().map(|f| f.ns.as_raw_fd()))
            .collect();
        for (i, slot) in slots.iter_mut().enumerate() {
            let Some(fresh) = slot else { continue };
            if !self.prepared[i] && nodes[i].is_switch {
                // A switch's ports carry frames, not addresses: without IPv6 they send no
                // router solicitations and no multicast reports, which the bridge would flood
                // to every other port, which slows a big switch's build. Its bridge gets
                // IPv6 back before it is configured. Written here, once no namespace will be
                // made from inside this one (see `create_namespaces`), so none inherits it.
                write_node_sysctls(
                    &nodes[i],
                    &fresh.ns,
                    &[("net.ipv6.conf.default.disable_ipv6", "1")],
                    true,
                )?;
                // Before any host's address comes up: a big switch's quiet.
                if let Some(router) = segment::quiet(topology, i) {
                    super::middlebox::send(&nodes[i], nftables::quiet(router))?;
                }
            }
            self.prepared[i] = true;
            let steps = &plan.create[i][self.created[i]..];
            let ready = steps
                .iter()
                .take_while(|step| step.peer_node(topology).is_none_or(|p| fds[p].is_some()))
                .count();
            self.send_creation(i, ready, &mut fresh.socket, &fds)?;
        }
        if let (Some(socket), Some(r)) = (relay, plan.relay()) {
            let ready = plan.create[r].len() - self.created[r];
            self.send_creation(r, ready, socket, &fds)?;
        }
        // Whether new namespaces came with forwarding on: the first node's tells.
        let Some(reset_forwarding) = slots[0].as_ref().map(|f| f.inherited_forwarding) else {
            return Ok(());
        };
        for (i, slot) in slots.iter_mut().enumerate() {
            let Some(fresh) = slot else { continue };
            if self.configured[i] || self.missing[i] > 0 || self.created[i] < plan.create[i].len() {
                continue;
            }
            configure(topology, plan, i, fresh, reset_forwarding, &fds)?;
            self.configured[i] = true;
        }
        Ok(())
    }

    /// Sends node `i`'s next `count` creation steps and counts the interfaces they make.
    fn send_creation(
        &mut self,
        i: usize,
        count: usize,
        socket: &mut Socket,
        fds: &[Option<RawFd>],
    ) -> Result<(), Error> {
        let start = self.created[i];
        let steps = &self.plan.create[i][start..start + count];
        run_steps(self.topology, self.plan, i, steps, socket, fds)?;
        for step in steps {
            for node in step.interfaces_made(i, self.topology).into_iter().flatten() {
                self.missing[node] -= 1;
            }
        }
        self.created[i] += count;
        Ok(())
    }
}

/// Writes node `i`'s settings in its namespace, then sends its configuration steps.
fn configure(
    topology: &Topology,
    plan: &Plan,
    i: usize,
    fresh: &mut Fresh,
    reset_forwarding: bool,
    fds: &[Option<RawFd>],
) -> Result<(), Error> {
    let node = &topology.nodes()[i];
    let mut settings: Vec<(&str, &str)> = Vec::new();
    if node.forward || reset_forwarding {
        let v = if node.forward { "1" } else { "0" };
        settings.extend([
            ("net.ipv4.ip_forward", v),
            ("net.ipv6.conf.all.forwarding", v),
        ]);
    }
    if node.is_switch {
        settings.push(("net.ipv6.conf.br0.disable_ipv6", "0"));
    }
    settings.extend(node.sysctls.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !settings.is_empty() {
        write_node_sysctls(node, &fresh.ns, &settings, false)?;
    }
    run_steps(
        topology,
        plan,
        i,
        &plan.configure[i],
        &mut fresh.socket,
        fds,
    )?;
    super::middlebox::install(node, &fresh.ns)
}

/// Moves the calling thread into `node`'s namespace `ns` and writes `settings` there
/// (`missing_ok`: as for [`sysctl::write`]).
pub(super) fn write_node_sysctls(
    node: &Node,
    ns: &OwnedFd,
    settings: &[(&str, &str)],
    missing_ok: bool,
) -> Result<(), Error> {
    namespace::enter(ns)
        .map_err(|e| Error::io("entering the node's namespace", e).on_node(&node.name))?;
    for (key, value) in settings {
        sysctl::write(key, value, missing_ok).map_err(|e| e.on_node(&node.name))?;
    }
    Ok(())
}

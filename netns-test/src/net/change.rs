//! A running topology changed: [`Net::apply`], [`Node::remove`] and [`Link::remove`]. Each
//! change is checked whole before the kernel is asked for anything, holds the net's lock while
//! it runs (changes from several threads take turns), and leaves every handle taken earlier
//! valid.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Core, Live, Net};
use crate::build;
use crate::error::Error;
use crate::link::Link;
use crate::node::{Node, Owner};
use crate::plan;
use crate::relay::{self, fate};
use crate::requests;
use crate::sys::netlink::{Kind, Socket};

impl Net {
    /// Applies statements of the topology language to the running topology: new nodes,
    /// switches, links (to new or running nodes, switch ports included), routes, sysctls,
    /// `nat`, `firewall` and `hosts`. A route to a destination the node routes already
    /// replaces it; a `nat` or `firewall` statement for a node that has one replaces it (all
    /// its `firewall` statements), as one nf_tables transaction; a `node` statement for a
    /// running node adds its settings. Auto-addressing hands out subnets and switch host
    /// numbers never handed out before in this net.
    ///
    /// The statements are checked against the running topology by the same parser, with the
    /// same messages, as at compile time (positions are inside `statements`); if any is wrong,
    /// nothing changes. If the kernel refuses a step (an address it reserves, a feature it
    /// lacks), the interfaces the change made are deleted again and the running topology is
    /// as it was, but for a route, sysctl or rule set the change had already replaced.
    /// Returns once every new interface is up and every new address usable,
    /// as a build does; new nodes resolve by name everywhere from then on. Handles taken
    /// earlier stay valid.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// // A laptop leaves the Wi-Fi for the phone's hotspot: a new link, a new address, a new way out.
    /// net.link("laptop", "wifi").remove()?;
    /// net.apply("laptop -- cell\nroute laptop default via 198.18.9.2")?;
    /// # Ok(()) }
    /// ```
    pub fn apply(&self, statements: &str) -> Result<(), Error> {
        self.core().apply(statements)
    }
}

impl Node {
    /// Removes this node from the running topology: the processes started in it are killed,
    /// its links go from both ends (routes through them with them), and its name stops
    /// resolving. Its handle, and those of its links, answer with an
    /// [`ErrorKind::Removed`](crate::ErrorKind::Removed) error from then on (or panic, for
    /// the calls that return no `Result`). A node of the same name can be added again with
    /// [`Net::apply`].
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// net.node("router").remove()?; // the router dies
    /// assert!(net.try_node("router").is_none());
    /// # Ok(()) }
    /// ```
    pub fn remove(&self) -> Result<(), Error> {
        self.alive("removing the node")?;
        let net = self.net().ok_or_else(|| {
            Error::removed("removing the node", &format!("node `{}`", self.name()))
        })?;
        net.remove_node(self.slot())
    }
}

impl Link<'_> {
    /// Removes this link from the running topology: the veth pair goes from both nodes, and
    /// with it the addresses on its ends and the routes through them. Traffic through it stops
    /// at once; sockets bound to its addresses stop working. The handle answers with an
    /// [`ErrorKind::Removed`](crate::ErrorKind::Removed) error from then on.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// net.link("laptop", "wifi").remove()?; // out of the Wi-Fi's range
    /// assert!(net.try_link("laptop", "wifi").is_none());
    /// # Ok(()) }
    /// ```
    pub fn remove(&self) -> Result<(), Error> {
        let core = self.net().core();
        let mut live = core.live();
        core.remove_link(&mut live, self.index())
    }
}

impl Core {
    fn apply(self: &Arc<Core>, text: &str) -> Result<(), Error> {
        let mut live = self.live();
        let old = self.topology();
        let new = netns_test_topology::change(old, text)
            .map_err(|e| Error::topology(Some("Net::apply".into()), e))?;
        let running_links = old.links().len();
        let conditioned = new.links()[running_links..]
            .iter()
            .filter(|l| l.conditions.is_some())
            .count() as u32;
        let relay = if conditioned > 0 {
            if live.seed.is_none() {
                live.seed = Some(fate::test_seed()?);
            }
            Some(relay::get()?)
        } else {
            None
        };
        let first_port = relay.map_or(0, |r| r.reserve_ports(2 * conditioned));
        let change = plan::change::change(
            old,
            &new,
            &live.ifindex,
            &live.masters,
            live.next_ifindex,
            first_port,
        );
        let running: Vec<Arc<OwnedFd>> =
            live.nodes.iter().map(|&s| self.nodes.get(s).ns()).collect();
        let running: Vec<&OwnedFd> = running.iter().map(|ns| &**ns).collect();
        let (test_seed, first_slot) = (live.seed.map_or(0, |s| s.0), self.links.len());
        let seed = |k: usize| fate::link_seed(test_seed, first_slot + k - running_links);
        let changed = build::change::apply(&new, &change, &running, relay, &seed)?;

        // Everything is made: the runtime takes it in.
        live.ifindex = change.plan.ifindex[..new.nodes().len()].to_vec();
        live.next_ifindex = change.next_ifindex;
        live.masters.extend(change.plan.masters.iter().copied());
        self.take_in(
            &mut live,
            &new,
            changed.nodes,
            running_links,
            changed.relayed,
        );
        for &i in &change.middleboxes {
            self.nodes.get(live.nodes[i]).set_middlebox(&new.nodes()[i]);
        }
        // The net is changed from here on, whatever showing it costs.
        self.versions.push(new);
        let new = self.topology();
        let watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        for (i, node) in new.nodes().iter().enumerate() {
            let grown = old
                .nodes()
                .get(i)
                .is_none_or(|n| node.interfaces.len() > n.interfaces.len());
            if grown {
                let node = self.nodes.get(live.nodes[i]);
                watchers.iter().for_each(|watch| watch(node));
            }
        }
        self.show_names(&live, old, new)
    }

    /// Shows the changed topology's names: new nodes', running nodes' new addresses, `hosts`.
    fn show_names(
        &self,
        live: &Live,
        old: &netns_test_topology::Topology,
        new: &netns_test_topology::Topology,
    ) -> Result<(), Error> {
        self.names
            .change_all(|nodes, hosts| {
                for (i, node) in new.nodes().iter().enumerate() {
                    let kept = old.nodes().get(i).map_or(0, |n| n.interfaces.len());
                    let added = node.interfaces[kept..]
                        .iter()
                        .flat_map(|iface| iface.addresses.iter().map(|c| c.addr));
                    let slot = live.nodes[i];
                    if slot == nodes.len() {
                        nodes.push((node.name.clone(), Vec::new()));
                    }
                    nodes[slot].1.extend(added);
                }
                *hosts = new.hosts().to_vec();
            })
            .map_err(|e| Error::io("showing the changed topology's names in its nodes", e))
    }

    /// Removes the link at `slot` of the net's links, under the net's lock (`live`).
    fn remove_link(&self, live: &mut Live, slot: usize) -> Result<(), Error> {
        let state = self.links.get(slot);
        let name = || {
            let [(a, ai), (b, bi)] = &state.ends;
            let [a, b] = [a, b].map(|&s| self.nodes.get(s).name());
            format!("{a}:{ai} -- {b}:{bi}")
        };
        if state.removed.load(Ordering::Acquire) {
            return Err(Error::removed(
                format!("removing link {}", name()),
                &format!("link {}", name()),
            ));
        }
        let operation = format!("removing link {}", name());
        let k = live
            .links
            .iter()
            .position(|&s| s == slot)
            .expect("a link not removed runs");
        // A conditioned link is two pairs through the relay: each node's end goes, taking its
        // relay port along; a plain pair goes with either end.
        let sides = match &state.relay {
            Some(relayed) => {
                relayed.forget().map_err(|e| Error::io(&operation, e))?;
                2
            }
            None => 1,
        };
        for side in 0..sides {
            let (node, iface) = &state.ends[side];
            let node = self.nodes.get(*node);
            node.in_netns(|| {
                let mut socket = Socket::open().map_err(|e| Error::io(&operation, e))?;
                let request = requests::delete_link(state.ifindex[side]);
                socket.execute_one((Kind::Change, request), &operation)
            })
            .map_err(|e| e.on_node(node.name()).on_interface(iface))?;
        }
        state.removed.store(true, Ordering::Release);
        let topology = self.topology();
        let link = topology.links()[k];
        let gone: Vec<(usize, Vec<std::net::IpAddr>)> = link
            .ends
            .iter()
            .map(|e| {
                let iface = &topology.nodes()[e.node].interfaces[e.iface];
                (
                    live.nodes[e.node],
                    iface.addresses.iter().map(|c| c.addr).collect(),
                )
            })
            .collect();
        for end in link.ends {
            let index = live.ifindex[end.node].remove(end.iface);
            live.masters.remove(&index);
        }
        live.links.remove(k);
        self.versions.push(topology.without_link(k));
        self.names
            .change_all(|nodes, _| {
                for (slot, addresses) in &gone {
                    nodes[*slot].1.retain(|a| !addresses.contains(a));
                }
            })
            .map_err(|e| Error::io(format!("{operation}: showing the names without it"), e))
    }
}

impl Owner for Core {
    /// Removes the node at `slot` of the net's nodes: its processes, its links, the node.
    fn remove_node(&self, slot: usize) -> Result<(), Error> {
        let mut live = self.live();
        let node = self.nodes.get(slot);
        node.alive("removing the node")?;
        if self.commands.load(Ordering::Relaxed) {
            crate::command::kill_processes_in(&[node.netns_inode()]);
        }
        let links: Vec<usize> = live
            .links
            .iter()
            .copied()
            .filter(|&l| self.links.get(l).ends.iter().any(|(s, _)| *s == slot))
            .collect();
        for link in links {
            self.remove_link(&mut live, link)?;
        }
        let i = live
            .nodes
            .iter()
            .position(|&s| s == slot)
            .expect("a node not removed runs");
        node.mark_removed();
        node.release();
        live.nodes.remove(i);
        live.ifindex.remove(i);
        self.versions.push(self.topology().without_node(i));
        self.names
            .change_all(|nodes, _| nodes[slot].1.clear())
            .map_err(|e| {
                Error::io("removing the node: showing the names without it", e).on_node(node.name())
            })
    }
}

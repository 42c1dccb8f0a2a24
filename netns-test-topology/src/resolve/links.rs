//! Pass 4, links: each link's two interfaces, with the addresses written, auto-addressed (a
//! fresh /24 for a plain link), or handed out by the switch the link joins.

use std::collections::HashMap;

use super::Resolver;
use super::addresses::{Allocator, SwitchSubnets, exhausted, switch_host};
use super::interfaces::iface_name;
use crate::Cidr;
use crate::conditions::LinkOptions;
use crate::error::TopologyError;
use crate::model::{Interface, InterfaceKind, Link, LinkEnd};
use crate::syntax::{End, Statement};

/// What the link pass carries from one statement to the next.
struct Links {
    allocator: Allocator,
    /// Per node, the next `ethN` to try.
    next_eth: Vec<usize>,
    /// Per switch, the last host number handed out.
    next_host: HashMap<usize, u128>,
}

impl Resolver<'_> {
    /// Makes every link, and allocates switch subnets in order of first appearance.
    pub(super) fn make_links(&mut self) -> Result<(), TopologyError> {
        let written = self.addresses.subnets.clone();
        let auto_hosts = self.auto_hosts();
        let switch_cidrs = std::mem::take(&mut self.switch_cidrs);
        let mut subnets = SwitchSubnets {
            cidrs: &switch_cidrs,
            auto_hosts: &auto_hosts,
            written: &written,
            allocated: HashMap::new(),
        };
        let mut state = Links {
            allocator: Allocator::new(),
            next_eth: vec![0; self.nodes.nodes.len()],
            next_host: HashMap::new(),
        };
        // A change goes on from what the running topology handed out.
        state.allocator.skip_to(self.memory.auto_next);
        for (name, cidrs, last) in &self.memory.switches {
            if let Some(i) = self
                .nodes
                .find(name)
                .filter(|&i| self.nodes.nodes[i].is_switch)
            {
                subnets.allocated.insert(i, cidrs.clone());
                state.next_host.insert(i, *last);
            }
        }
        for statement in self.statements {
            match statement {
                Statement::Switch { name, .. } => {
                    let i = self.nodes.index(&name.value);
                    subnets.of(i, name, &mut state.allocator)?;
                }
                Statement::Link { ends, options } => {
                    self.link(ends, options, &mut subnets, &mut state)?;
                }
                _ => {}
            }
        }
        self.memory.auto_next = state.allocator.position();
        let mut switches: Vec<_> = subnets.allocated.into_iter().collect();
        self.switch_cidrs = switch_cidrs;
        switches.sort_by_key(|(i, _)| *i);
        self.memory.switches = switches
            .into_iter()
            .map(|(i, cidrs)| {
                let last = state.next_host.get(&i).copied().unwrap_or(0);
                (self.nodes.nodes[i].name.clone(), cidrs, last)
            })
            .collect();
        Ok(())
    }

    /// Per switch, how many of its hosts name no address: the size of its auto subnet.
    fn auto_hosts(&self) -> HashMap<usize, usize> {
        let nodes = &self.nodes.nodes;
        let mut auto_hosts: HashMap<usize, usize> = HashMap::new();
        for statement in self.statements {
            if let Statement::Link { ends, .. } = statement {
                let [l, r] = ends.each_ref().map(|e| self.nodes.index(&e.node.value));
                for (sw, host, host_end) in [(l, r, &ends[1]), (r, l, &ends[0])] {
                    if nodes[sw].is_switch && !nodes[host].is_switch && host_end.cidrs.is_empty() {
                        *auto_hosts.entry(sw).or_default() += 1;
                    }
                }
            }
        }
        auto_hosts
    }

    /// One link statement: its ends' addresses, then its two interfaces.
    fn link(
        &mut self,
        ends: &[End; 2],
        options: &LinkOptions,
        subnets: &mut SwitchSubnets<'_>,
        state: &mut Links,
    ) -> Result<(), TopologyError> {
        let [l, r] = ends.each_ref().map(|e| self.nodes.index(&e.node.value));
        if l == r {
            return Err(ends[1].node.error(format!(
                "a link from node `{}` to itself: a link joins two different nodes",
                ends[1].node.value
            )));
        }
        let mut assigned = self.addresses_of(ends, [l, r], subnets, state)?;
        let link_index = self.links.len();
        let mut link_ends = [LinkEnd { node: 0, iface: 0 }; 2];
        for (side, end) in ends.iter().enumerate() {
            let n = [l, r][side];
            let name = iface_name(end, &self.explicit[n], &mut state.next_eth[n]);
            let node = &mut self.nodes.nodes[n];
            if node.is_switch && node.interfaces.len() > crate::MAX_SWITCH_PORTS {
                return Err(end.node.error(format!(
                    "switch `{}` would have {} ports; a switch has at most {} ports (it chains \
                     at most {} bridges of {} ports each)",
                    node.name,
                    node.interfaces.len(),
                    crate::MAX_SWITCH_PORTS,
                    crate::INNER_BRIDGES + 1,
                    crate::SWITCH_BRIDGE_PORTS
                )));
            }
            let bridge = node.is_switch.then_some(0);
            node.interfaces.push(Interface {
                name,
                kind: InterfaceKind::Veth {
                    link: link_index,
                    bridge,
                },
                addresses: std::mem::take(&mut assigned[side]),
                mtu: options.mtu,
            });
            link_ends[side] = LinkEnd {
                node: n,
                iface: node.interfaces.len() - 1,
            };
        }
        self.links.push(Link {
            ends: link_ends,
            mtu: options.mtu,
            conditions: options.conditions,
        });
        Ok(())
    }

    /// The addresses of a link's two ends (nodes `[l, r]`): as written; else a fresh /24 for a
    /// link between two plain nodes; else, for a host on a switch, the switch's next free one.
    fn addresses_of(
        &mut self,
        ends: &[End; 2],
        [l, r]: [usize; 2],
        subnets: &mut SwitchSubnets<'_>,
        state: &mut Links,
    ) -> Result<[Vec<Cidr>; 2], TopologyError> {
        let nodes = &self.nodes.nodes;
        let mut assigned: [Vec<Cidr>; 2] = ends
            .each_ref()
            .map(|e| e.cidrs.iter().map(|c| c.value).collect());
        let (ls, rs) = (nodes[l].is_switch, nodes[r].is_switch);
        if !ls && !rs && assigned.iter().all(Vec::is_empty) {
            let subnet = state
                .allocator
                .subnet(2, subnets.written)
                .ok_or_else(|| exhausted(&ends[0].node))?;
            return Ok([
                vec![subnet.host(1).expect("/24 has .1")],
                vec![subnet.host(2).expect("/24 has .2")],
            ]);
        }
        for (side, (sw, host)) in [(1usize, (l, r)), (0, (r, l))] {
            if nodes[sw].is_switch && !nodes[host].is_switch && assigned[side].is_empty() {
                let sw_subnets = subnets.of(sw, &ends[1 - side].node, &mut state.allocator)?;
                let next = state.next_host.entry(sw).or_default();
                assigned[side] =
                    switch_host(sw_subnets, next, &mut self.addresses).ok_or_else(|| {
                        ends[side].node.error(format!(
                            "switch `{}` has no free address left for `{}`: give it a wider \
                             subnet or give the host an address",
                            nodes[sw].name, ends[side].node.value
                        ))
                    })?;
            }
        }
        Ok(assigned)
    }
}

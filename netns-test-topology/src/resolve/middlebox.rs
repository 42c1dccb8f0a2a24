//! Pass 6, middleboxes: each `nat` and `firewall` statement resolved against its node's
//! interfaces, addresses and routes.

use std::net::IpAddr;

use super::Resolver;
use crate::error::TopologyError;
use crate::middlebox::{Firewall, Nat};
use crate::model::{Node, RouteVia};
use crate::syntax::{Spanned, Statement};

impl Resolver<'_> {
    /// Gives each node its NAT and firewalls; a NAT's node forwards.
    pub(super) fn add_middleboxes(&mut self) -> Result<(), TopologyError> {
        for statement in self.statements {
            match statement {
                Statement::Nat {
                    node,
                    iface,
                    kind,
                    hairpin,
                    timeout_secs,
                } => {
                    let n = self.middlebox_node(node, "nat")?;
                    let target = &self.nodes.nodes[n];
                    if target.nat.is_some() {
                        return Err(node.error(format!(
                            "node `{}` has a NAT already: one `nat` statement per node",
                            node.value
                        )));
                    }
                    let outside = match iface {
                        Some(name) => interface(target, name, NAT_TYPES)?,
                        None => default_route_interface(target).ok_or_else(|| {
                            let names: Vec<&str> =
                                target.interfaces.iter().map(|i| i.name.as_str()).collect();
                            node.error(format!(
                                "node `{}` has no IPv4 default route to tell its outside \
                                 interface: name it, `nat {} IFACE` (its interfaces: {})",
                                node.value,
                                node.value,
                                names.join(", ")
                            ))
                        })?,
                    };
                    let address = target.interfaces[outside]
                        .addresses
                        .iter()
                        .find_map(|c| match c.addr {
                            IpAddr::V4(a) => Some(a),
                            IpAddr::V6(_) => None,
                        })
                        .ok_or_else(|| {
                            let at = iface.as_ref().map_or(node, |i| i);
                            at.error(format!(
                                "interface `{}` of node `{}` has no IPv4 address to translate to",
                                target.interfaces[outside].name, node.value
                            ))
                        })?;
                    let target = &mut self.nodes.nodes[n];
                    target.forward = true;
                    target.nat = Some(Nat {
                        outside,
                        address,
                        kind: *kind,
                        hairpin: *hairpin,
                        timeout_secs: *timeout_secs,
                    });
                }
                Statement::Firewall { node, iface, rules } => {
                    let n = self.middlebox_node(node, "firewall")?;
                    let target = &self.nodes.nodes[n];
                    let count: usize = target.firewalls.iter().map(|f| f.rules.len()).sum();
                    if count + rules.len() > crate::MAX_RULES {
                        return Err(node.error(format!(
                            "node `{}` would have {} firewall rules; a node has at most {}",
                            node.value,
                            count + rules.len(),
                            crate::MAX_RULES
                        )));
                    }
                    let iface = match iface {
                        Some(name) => Some(interface(target, name, "")?),
                        None => None,
                    };
                    self.nodes.nodes[n].firewalls.push(Firewall {
                        iface,
                        rules: rules.clone(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The node a `nat` or `firewall` statement names: it must exist and not be a switch.
    fn middlebox_node(&self, node: &Spanned<String>, what: &str) -> Result<usize, TopologyError> {
        let Some(n) = self.nodes.find(&node.value) else {
            let known: Vec<&str> = self.nodes.nodes.iter().map(|n| n.name.as_str()).collect();
            return Err(node.error(format!(
                "{what} on unknown node `{}` (nodes: {})",
                node.value,
                known.join(", ")
            )));
        };
        if self.nodes.nodes[n].is_switch {
            return Err(node.error(format!(
                "{what} on switch `{}`: a switch carries frames, not IP packets; put the {what} \
                 on a node that routes",
                node.value
            )));
        }
        Ok(n)
    }
}

const NAT_TYPES: &str =
    "; a NAT type is one of full-cone, address-restricted, port-restricted, symmetric";

/// The index of the interface `name` of `node`, or an error listing the node's interfaces.
fn interface(node: &Node, name: &Spanned<String>, also: &str) -> Result<usize, TopologyError> {
    node.interface_index(&name.value).ok_or_else(|| {
        let names: Vec<&str> = node.interfaces.iter().map(|i| i.name.as_str()).collect();
        let have = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        name.error(format!(
            "node `{}` has no interface `{}` (its interfaces: {have}){also}",
            node.name, name.value
        ))
    })
}

/// The interface of the node's IPv4 default route: the one it names, or the one whose subnet
/// holds its gateway.
fn default_route_interface(node: &Node) -> Option<usize> {
    let route = node
        .routes
        .iter()
        .find(|r| r.dest.prefix == 0 && r.dest.is_ipv4())?;
    match route.via {
        RouteVia::Dev(i) => Some(i),
        RouteVia::Gateway(gw) => node
            .interfaces
            .iter()
            .position(|i| i.addresses.iter().any(|c| c.contains(gw))),
    }
}

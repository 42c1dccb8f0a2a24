//! Pass 5, routes: each route resolved against its node's interfaces and addresses, now that
//! every node has them; a second route to one destination is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Resolver;
use crate::Cidr;
use crate::error::TopologyError;
use crate::model::{Node, Route, RouteVia};
use crate::syntax::{Dest, Spanned, Statement, Via};

impl Resolver<'_> {
    /// Adds every route statement's routes to its node.
    pub(super) fn add_routes(&mut self) -> Result<(), TopologyError> {
        for statement in self.statements {
            if let Statement::Route { node, dest, via } = statement {
                let Some(n) = self.nodes.find(&node.value) else {
                    let known: Vec<&str> =
                        self.nodes.nodes.iter().map(|n| n.name.as_str()).collect();
                    return Err(node.error(format!(
                        "route on unknown node `{}` (nodes: {})",
                        node.value,
                        known.join(", ")
                    )));
                };
                let routes = route(&self.nodes.nodes[n], dest, via)?;
                for r in routes {
                    if self.nodes.nodes[n].routes.iter().any(|x| x.dest == r.dest) {
                        return Err(dest.error(format!(
                            "node `{}` already has a route to {}",
                            node.value, r.dest
                        )));
                    }
                    self.nodes.nodes[n].routes.push(r);
                }
            }
        }
        Ok(())
    }
}

/// The routes one statement gives `node`: one, or two for `default dev` (both families).
fn route(node: &Node, dest: &Spanned<Dest>, via: &Via) -> Result<Vec<Route>, TopologyError> {
    let any4 = Cidr {
        addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        prefix: 0,
    };
    let any6 = Cidr {
        addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        prefix: 0,
    };
    match via {
        Via::Gateway(gw) => {
            let dest = match dest.value {
                Dest::Default if gw.value.is_ipv4() => any4,
                Dest::Default => any6,
                Dest::Cidr(c) if c.is_ipv4() != gw.value.is_ipv4() => {
                    return Err(gw.error(format!(
                        "gateway `{}` is not of the same IP family as the destination {c}",
                        gw.text
                    )));
                }
                Dest::Cidr(c) => c,
            };
            let own: Vec<Cidr> = node.addresses().collect();
            if own.iter().any(|c| c.addr == gw.value) {
                return Err(gw.error(format!(
                    "gateway `{}` is node `{}`'s own address: route via a neighbour's address",
                    gw.text, node.name
                )));
            }
            if !own.iter().any(|c| c.contains(gw.value)) {
                let subnets: Vec<String> = own
                    .iter()
                    .map(|c| format!("{}/{}", c.network(), c.prefix))
                    .collect();
                let have = if subnets.is_empty() {
                    "none".to_string()
                } else {
                    subnets.join(", ")
                };
                return Err(gw.error(format!(
                    "gateway `{}` is on no subnet of node `{}` (its subnets: {have})",
                    gw.text, node.name
                )));
            }
            Ok(vec![Route {
                dest,
                via: RouteVia::Gateway(gw.value),
            }])
        }
        Via::Dev(iface) => {
            let Some(i) = node.interface_index(&iface.value) else {
                let names: Vec<&str> = node.interfaces.iter().map(|i| i.name.as_str()).collect();
                let have = if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                };
                return Err(iface.error(format!(
                    "node `{}` has no interface `{}` (its interfaces: {have})",
                    node.name, iface.value
                )));
            };
            let dests = match dest.value {
                Dest::Default => vec![any4, any6],
                Dest::Cidr(c) => vec![c],
            };
            Ok(dests
                .into_iter()
                .map(|dest| Route {
                    dest,
                    via: RouteVia::Dev(i),
                })
                .collect())
        }
    }
}

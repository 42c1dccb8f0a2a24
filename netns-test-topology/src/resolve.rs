//! Cross-statement validation and resolution: node registry, interface names, auto-addressing,
//! duplicate addresses, routes.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Pos, TopologyError};
use crate::model::{Interface, InterfaceKind, Link, LinkEnd, Node, Route, RouteVia, Topology};
use crate::syntax::{Dest, End, Spanned, Statement, Via};
use crate::{AUTO_BLOCK, BRIDGE_NAME, Cidr};

struct Builder {
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
    declared: HashMap<String, Pos>,
}

impl Builder {
    fn node(&mut self, name: &Spanned<String>) -> Result<usize, TopologyError> {
        if let Some(&i) = self.index.get(&name.value) {
            return Ok(i);
        }
        if self.nodes.len() == crate::MAX_NODES {
            return Err(name.error(format!(
                "node `{}` would be node {}; a topology has at most {} nodes",
                name.value,
                crate::MAX_NODES + 1,
                crate::MAX_NODES
            )));
        }
        let name = &name.value;
        self.nodes.push(Node {
            name: name.to_string(),
            is_switch: false,
            forward: false,
            sysctls: Vec::new(),
            interfaces: Vec::new(),
            routes: Vec::new(),
        });
        self.index.insert(name.to_string(), self.nodes.len() - 1);
        Ok(self.nodes.len() - 1)
    }

    fn declare(&mut self, name: &Spanned<String>) -> Result<usize, TopologyError> {
        if let Some(first) = self.declared.get(&name.value) {
            return Err(name.error(format!(
                "node `{}` is declared twice (first at line {}, column {})",
                name.value, first.line, first.column
            )));
        }
        self.declared.insert(name.value.clone(), name.pos);
        self.node(name)
    }
}

/// Addresses written in the text, to refuse duplicates and keep auto-addressing clear of them.
#[derive(Default)]
struct Addresses {
    used: HashMap<IpAddr, Pos>,
    subnets: Vec<Cidr>,
}

impl Addresses {
    fn claim(&mut self, cidr: &Spanned<Cidr>) -> Result<(), TopologyError> {
        if let Some(first) = self.used.insert(cidr.value.addr, cidr.pos) {
            return Err(cidr.error(format!(
                "address `{}` is used twice: {} is already taken (at line {}, column {})",
                cidr.text, cidr.value.addr, first.line, first.column
            )));
        }
        self.subnets.push(cidr.value);
        Ok(())
    }
}

/// Hands out auto-addressed IPv4 subnets from 198.18.0.0/15, skipping any that overlap an
/// address written in the text.
struct Allocator {
    next: u32,
    end: u32,
}

impl Allocator {
    fn new() -> Self {
        let block: Cidr = AUTO_BLOCK.parse().expect("AUTO_BLOCK is a CIDR");
        let IpAddr::V4(base) = block.addr else {
            unreachable!("AUTO_BLOCK is IPv4")
        };
        let start = u32::from(base);
        Allocator {
            next: start,
            end: start + (1 << (32 - block.prefix)),
        }
    }

    /// The next free subnet with room for `hosts` hosts: a /24, or wider for bigger switches.
    fn subnet(&mut self, hosts: usize, written: &[Cidr]) -> Option<Cidr> {
        let mut prefix = 24u8;
        while prefix > 15 && (1usize << (32 - prefix)) - 2 < hosts {
            prefix -= 1;
        }
        let size = 1u32 << (32 - prefix);
        let mut start = self.next.div_ceil(size) * size;
        while start + size <= self.end {
            let candidate = Cidr {
                addr: IpAddr::V4(Ipv4Addr::from(start)),
                prefix,
            };
            if written.iter().all(|w| !w.overlaps(&candidate)) {
                self.next = start + size;
                return Some(candidate);
            }
            start += size;
        }
        None
    }
}

fn exhausted(at: &Spanned<String>) -> TopologyError {
    at.error(format!(
        "auto-addressing ran out of {AUTO_BLOCK} at `{}`: give some links or switches explicit addresses",
        at.value
    ))
}

pub(crate) fn resolve(statements: Vec<Statement>) -> Result<Topology, TopologyError> {
    let mut b = Builder {
        nodes: Vec::new(),
        index: HashMap::new(),
        declared: HashMap::new(),
    };
    let mut switch_cidrs: HashMap<usize, Vec<Spanned<Cidr>>> = HashMap::new();

    // Pass 1: every node, in order of first appearance, and its own settings.
    for statement in &statements {
        match statement {
            Statement::Node {
                name,
                forward,
                sysctls,
            } => {
                let i = b.declare(name)?;
                b.nodes[i].forward = *forward;
                b.nodes[i].sysctls = sysctls
                    .iter()
                    .map(|(k, v)| (k.value.clone(), v.clone()))
                    .collect();
            }
            Statement::Switch { name, cidrs } => {
                let i = b.declare(name)?;
                b.nodes[i].is_switch = true;
                switch_cidrs.insert(i, cidrs.clone());
            }
            Statement::Link { ends, .. } => {
                for end in ends {
                    b.node(&end.node)?;
                }
            }
            Statement::Route { .. } => {}
        }
    }

    // Every address written in the text, in order: duplicates are refused here.
    let mut addresses = Addresses::default();
    for statement in &statements {
        match statement {
            Statement::Switch { cidrs, .. } => cidrs.iter().try_for_each(|c| addresses.claim(c))?,
            Statement::Link { ends, .. } => {
                for end in ends {
                    let node = &b.nodes[b.index[&end.node.value]];
                    if let (true, Some(c)) = (node.is_switch, end.cidrs.first()) {
                        return Err(c.error(format!(
                            "address `{}` on a port of switch `{}`: a switch port has no address; \
                             put it on the switch itself (`switch {} {}`) or on the host end",
                            c.text, node.name, node.name, c.value
                        )));
                    }
                    end.cidrs.iter().try_for_each(|c| addresses.claim(c))?;
                }
            }
            _ => {}
        }
    }

    // Interface names: explicit ones first (so auto names never take them), then ethN in order.
    let mut explicit: Vec<HashSet<String>> = vec![HashSet::new(); b.nodes.len()];
    for (i, node) in b.nodes.iter_mut().enumerate() {
        if node.is_switch {
            explicit[i].insert(BRIDGE_NAME.to_string());
            node.interfaces.push(Interface {
                name: BRIDGE_NAME.to_string(),
                kind: InterfaceKind::Bridge,
                addresses: switch_cidrs[&i].iter().map(|c| c.value).collect(),
                mtu: None,
            });
        }
    }
    for statement in &statements {
        if let Statement::Link { ends, .. } = statement {
            for end in ends {
                if let Some(iface) = &end.iface {
                    let n = b.index[&end.node.value];
                    if !explicit[n].insert(iface.value.clone()) {
                        let what = if iface.value == BRIDGE_NAME && b.nodes[n].is_switch {
                            format!(
                                "`{BRIDGE_NAME}` is the bridge of switch `{}`",
                                end.node.value
                            )
                        } else {
                            format!(
                                "interface `{}` appears twice on node `{}`",
                                iface.value, end.node.value
                            )
                        };
                        return Err(iface.error(what));
                    }
                }
            }
        }
    }

    // Links, auto-addressing, switch hosts.
    let mut allocator = Allocator::new();
    let mut next_eth = vec![0usize; b.nodes.len()];
    let mut links = Vec::new();
    let mut switch_next_host: HashMap<usize, u128> = HashMap::new();
    let written = addresses.subnets.clone();

    // Hosts per switch that name no address, to size auto subnets.
    let mut auto_hosts: HashMap<usize, usize> = HashMap::new();
    for statement in &statements {
        if let Statement::Link { ends, .. } = statement {
            let [l, r] = ends.each_ref().map(|e| b.index[&e.node.value]);
            for (sw, host, host_end) in [(l, r, &ends[1]), (r, l, &ends[0])] {
                if b.nodes[sw].is_switch && !b.nodes[host].is_switch && host_end.cidrs.is_empty() {
                    *auto_hosts.entry(sw).or_default() += 1;
                }
            }
        }
    }

    let mut subnets = SwitchSubnets {
        cidrs: &switch_cidrs,
        auto_hosts: &auto_hosts,
        written: &written,
        allocated: HashMap::new(),
    };
    for statement in &statements {
        match statement {
            Statement::Switch { name, .. } => {
                let i = b.index[&name.value];
                subnets.of(i, name, &mut allocator)?;
            }
            Statement::Link { ends, options } => {
                let mtu = &options.mtu;
                let [l, r] = ends.each_ref().map(|e| b.index[&e.node.value]);
                if l == r {
                    return Err(ends[1].node.error(format!(
                        "a link from node `{}` to itself: a link joins two different nodes",
                        ends[1].node.value
                    )));
                }
                let mut assigned: [Vec<Cidr>; 2] = ends
                    .each_ref()
                    .map(|e| e.cidrs.iter().map(|c| c.value).collect());
                let (ls, rs) = (b.nodes[l].is_switch, b.nodes[r].is_switch);
                if !ls && !rs && assigned.iter().all(Vec::is_empty) {
                    let subnet = allocator
                        .subnet(2, &written)
                        .ok_or_else(|| exhausted(&ends[0].node))?;
                    assigned = [
                        vec![subnet.host(1).expect("/24 has .1")],
                        vec![subnet.host(2).expect("/24 has .2")],
                    ];
                }
                for (side, (sw, host)) in [(1usize, (l, r)), (0, (r, l))] {
                    if b.nodes[sw].is_switch
                        && !b.nodes[host].is_switch
                        && assigned[side].is_empty()
                    {
                        let sw_subnets = subnets.of(sw, &ends[1 - side].node, &mut allocator)?;
                        assigned[side] = switch_host(
                            sw_subnets,
                            switch_next_host.entry(sw).or_default(),
                            &mut addresses,
                        )
                        .ok_or_else(|| {
                            ends[side].node.error(format!(
                                "switch `{}` has no free address left for `{}`: give it a wider subnet \
                                 or give the host an address",
                                b.nodes[sw].name, ends[side].node.value
                            ))
                        })?;
                    }
                }
                let link_index = links.len();
                let mut link_ends = [LinkEnd { node: 0, iface: 0 }; 2];
                for (side, end) in ends.iter().enumerate() {
                    let n = [l, r][side];
                    let name = iface_name(end, &explicit[n], &mut next_eth[n]);
                    let node = &mut b.nodes[n];
                    let bridge = node.is_switch.then_some(0);
                    node.interfaces.push(Interface {
                        name,
                        kind: InterfaceKind::Veth {
                            link: link_index,
                            bridge,
                        },
                        addresses: std::mem::take(&mut assigned[side]),
                        mtu: *mtu,
                    });
                    link_ends[side] = LinkEnd {
                        node: n,
                        iface: node.interfaces.len() - 1,
                    };
                }
                links.push(Link {
                    ends: link_ends,
                    mtu: *mtu,
                    conditions: options.conditions,
                });
            }
            _ => {}
        }
    }

    // Routes, now that every node has its interfaces and addresses.
    for statement in &statements {
        if let Statement::Route { node, dest, via } = statement {
            let Some(&n) = b.index.get(&node.value) else {
                let known: Vec<&str> = b.nodes.iter().map(|n| n.name.as_str()).collect();
                return Err(node.error(format!(
                    "route on unknown node `{}` (nodes: {})",
                    node.value,
                    known.join(", ")
                )));
            };
            let routes = route(&b.nodes[n], dest, via)?;
            for r in routes {
                if b.nodes[n].routes.iter().any(|x| x.dest == r.dest) {
                    return Err(dest.error(format!(
                        "node `{}` already has a route to {}",
                        node.value, r.dest
                    )));
                }
                b.nodes[n].routes.push(r);
            }
        }
    }

    Ok(Topology {
        nodes: b.nodes,
        links,
    })
}

/// The subnets of each switch: its own addresses', or an auto-addressed one allocated the first
/// time the switch appears in a statement that needs it.
struct SwitchSubnets<'a> {
    cidrs: &'a HashMap<usize, Vec<Spanned<Cidr>>>,
    auto_hosts: &'a HashMap<usize, usize>,
    written: &'a [Cidr],
    allocated: HashMap<usize, Vec<Cidr>>,
}

impl SwitchSubnets<'_> {
    fn of(
        &mut self,
        sw: usize,
        at: &Spanned<String>,
        allocator: &mut Allocator,
    ) -> Result<&[Cidr], TopologyError> {
        if !self.allocated.contains_key(&sw) {
            let cidrs = &self.cidrs[&sw];
            let subnets = if cidrs.is_empty() {
                let hosts = self.auto_hosts.get(&sw).copied().unwrap_or(0);
                vec![
                    allocator
                        .subnet(hosts, self.written)
                        .ok_or_else(|| exhausted(at))?,
                ]
            } else {
                cidrs.iter().map(|c| c.value).collect()
            };
            self.allocated.insert(sw, subnets);
        }
        Ok(&self.allocated[&sw])
    }
}

/// The next free address in each of a switch's subnets, for a host that names none.
fn switch_host(subnets: &[Cidr], next: &mut u128, addresses: &mut Addresses) -> Option<Vec<Cidr>> {
    loop {
        *next += 1;
        let picks: Vec<Cidr> = subnets
            .iter()
            .map(|s| s.host(*next))
            .collect::<Option<_>>()?;
        if picks.iter().all(|p| !addresses.used.contains_key(&p.addr)) {
            for p in &picks {
                addresses.used.insert(p.addr, Pos::default());
            }
            return Some(picks);
        }
    }
}

fn iface_name(end: &End, explicit: &HashSet<String>, next: &mut usize) -> String {
    if let Some(iface) = &end.iface {
        return iface.value.clone();
    }
    loop {
        let name = format!("eth{next}");
        *next += 1;
        if !explicit.contains(&name) {
            return name;
        }
    }
}

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

//! Pass 2, addresses: every address written in the text claimed once (a repeat is refused), and
//! the allocators that hand out the rest: auto-addressed subnets and switch hosts.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use super::Resolver;
use crate::error::{Pos, TopologyError};
use crate::syntax::{Spanned, Statement};
use crate::{AUTO_BLOCK, Cidr};

impl Resolver<'_> {
    /// Claims every address written in the text, in order: an address may repeat in separate
    /// networks (that is what namespaces are for), never on one segment or one node. Refuses an
    /// address on a switch port.
    pub(super) fn claim_addresses(&mut self) -> Result<(), TopologyError> {
        let segments = SwitchSegments::new(self);
        for (k, statement) in self.statements.iter().enumerate() {
            match statement {
                Statement::Switch { name, cidrs } => {
                    let n = self.nodes.index(&name.value);
                    let segment = Segment::Switch(segments.root(n));
                    cidrs
                        .iter()
                        .try_for_each(|c| self.addresses.claim(c, n, segment))?
                }
                Statement::Link { ends, .. } => {
                    let [l, r] = ends.each_ref().map(|e| self.nodes.index(&e.node.value));
                    for (side, end) in ends.iter().enumerate() {
                        let (n, other) = if side == 0 { (l, r) } else { (r, l) };
                        let node = &self.nodes.nodes[n];
                        if let (true, Some(c)) = (node.is_switch, end.cidrs.first()) {
                            return Err(c.error(format!(
                                "address `{}` on a port of switch `{}`: a switch port has no \
                                 address; put it on the switch itself (`switch {} {}`) or on the \
                                 host end",
                                c.text, node.name, node.name, c.value
                            )));
                        }
                        let segment = if self.nodes.nodes[other].is_switch {
                            Segment::Switch(segments.root(other))
                        } else {
                            Segment::Link(k)
                        };
                        end.cidrs
                            .iter()
                            .try_for_each(|c| self.addresses.claim(c, n, segment))?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// One Ethernet segment: the two ends of a plain link (by statement), or a switch with every
/// switch linked to it (by the first of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Segment {
    Link(usize),
    Switch(usize),
}

/// Switches joined by links, as one segment each (union-find over node indexes).
struct SwitchSegments {
    parent: Vec<usize>,
}

impl SwitchSegments {
    fn new(r: &Resolver<'_>) -> SwitchSegments {
        let mut parent: Vec<usize> = (0..r.nodes.nodes.len()).collect();
        fn find(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for statement in r.statements {
            if let Statement::Link { ends, .. } = statement {
                let [a, b] = ends.each_ref().map(|e| r.nodes.index(&e.node.value));
                if r.nodes.nodes[a].is_switch && r.nodes.nodes[b].is_switch {
                    let (x, y) = (find(&mut parent, a), find(&mut parent, b));
                    parent[x.max(y)] = x.min(y);
                }
            }
        }
        for i in 0..parent.len() {
            parent[i] = find(&mut parent, i);
        }
        SwitchSegments { parent }
    }

    fn root(&self, switch: usize) -> usize {
        self.parent[switch]
    }
}

/// Addresses written in the text, to refuse conflicts and keep auto-addressing clear of them.
#[derive(Default)]
pub(super) struct Addresses {
    /// Every address written or handed out, anywhere: auto-addressing never reuses one.
    pub used: HashMap<IpAddr, Pos>,
    /// The subnets written, which auto-addressing keeps clear of.
    pub subnets: Vec<Cidr>,
    /// Where each address is taken: per segment and per node.
    on_segment: HashMap<(Segment, IpAddr), Pos>,
    on_node: HashMap<(usize, IpAddr), Pos>,
}

impl Addresses {
    /// Takes `cidr` for node `node` on `segment`, refusing it if either holds it already.
    fn claim(
        &mut self,
        cidr: &Spanned<Cidr>,
        node: usize,
        segment: Segment,
    ) -> Result<(), TopologyError> {
        let addr = cidr.value.addr;
        let first = self
            .on_segment
            .insert((segment, addr), cidr.pos)
            .or(self.on_node.insert((node, addr), cidr.pos));
        if let Some(first) = first {
            return Err(cidr.error(format!(
                "address `{}` is used twice: {} is already taken (at line {}, column {})",
                cidr.text, addr, first.line, first.column
            )));
        }
        self.on_node.insert((node, addr), cidr.pos);
        self.used.entry(addr).or_insert(cidr.pos);
        self.subnets.push(cidr.value);
        Ok(())
    }
}

/// Hands out auto-addressed IPv4 subnets from 198.18.0.0/15, skipping any that overlap an
/// address written in the text.
pub(super) struct Allocator {
    next: u32,
    end: u32,
}

impl Allocator {
    pub fn new() -> Self {
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

    /// Goes on from `next` (an earlier [`Allocator::position`]) if that is further along.
    pub fn skip_to(&mut self, next: u32) {
        self.next = self.next.max(next);
    }

    /// Where the allocator stands: nothing before it is handed out again.
    pub fn position(&self) -> u32 {
        self.next
    }

    /// The next free subnet with room for `hosts` hosts: a /24, or wider for bigger switches.
    pub fn subnet(&mut self, hosts: usize, written: &[Cidr]) -> Option<Cidr> {
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

pub(super) fn exhausted(at: &Spanned<String>) -> TopologyError {
    at.error(format!(
        "auto-addressing ran out of {AUTO_BLOCK} at `{}`: give some links or switches explicit addresses",
        at.value
    ))
}

/// The subnets of each switch: its own addresses', or an auto-addressed one allocated the first
/// time the switch appears in a statement that needs it.
pub(super) struct SwitchSubnets<'a> {
    pub cidrs: &'a HashMap<usize, Vec<Spanned<Cidr>>>,
    pub auto_hosts: &'a HashMap<usize, usize>,
    pub written: &'a [Cidr],
    pub allocated: HashMap<usize, Vec<Cidr>>,
}

impl SwitchSubnets<'_> {
    pub fn of(
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

/// The next free address in each of a switch's subnets, for a host that names none: after the
/// last one handed out, and once the subnet's end is reached (hosts removed from a running
/// topology free theirs), from its start again.
pub(super) fn switch_host(
    subnets: &[Cidr],
    next: &mut u128,
    addresses: &mut Addresses,
) -> Option<Vec<Cidr>> {
    let mut wrapped = false;
    loop {
        *next += 1;
        let picks: Option<Vec<Cidr>> = subnets.iter().map(|s| s.host(*next)).collect();
        let Some(picks) = picks else {
            if wrapped || *next == 1 {
                return None;
            }
            (wrapped, *next) = (true, 0);
            continue;
        };
        if picks.iter().all(|p| !addresses.used.contains_key(&p.addr)) {
            for p in &picks {
                addresses.used.insert(p.addr, Pos::default());
            }
            return Some(picks);
        }
    }
}

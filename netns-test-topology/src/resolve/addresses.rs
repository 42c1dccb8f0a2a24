//! Pass 2, addresses: every address written in the text claimed once (a repeat is refused), and
//! the allocators that hand out the rest: auto-addressed subnets and switch hosts.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use super::Resolver;
use crate::error::{Pos, TopologyError};
use crate::syntax::{Spanned, Statement};
use crate::{AUTO_BLOCK, Cidr};

impl Resolver<'_> {
    /// Claims every address written in the text, in order; refuses an address on a switch port.
    pub(super) fn claim_addresses(&mut self) -> Result<(), TopologyError> {
        for statement in self.statements {
            match statement {
                Statement::Switch { cidrs, .. } => {
                    cidrs.iter().try_for_each(|c| self.addresses.claim(c))?
                }
                Statement::Link { ends, .. } => {
                    for end in ends {
                        let node = &self.nodes.nodes[self.nodes.index(&end.node.value)];
                        if let (true, Some(c)) = (node.is_switch, end.cidrs.first()) {
                            return Err(c.error(format!(
                            "address `{}` on a port of switch `{}`: a switch port has no address; \
                             put it on the switch itself (`switch {} {}`) or on the host end",
                            c.text, node.name, node.name, c.value
                        )));
                        }
                        end.cidrs.iter().try_for_each(|c| self.addresses.claim(c))?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Addresses written in the text, to refuse duplicates and keep auto-addressing clear of them.
#[derive(Default)]
pub(super) struct Addresses {
    pub used: HashMap<IpAddr, Pos>,
    pub subnets: Vec<Cidr>,
}

impl Addresses {
    pub fn claim(&mut self, cidr: &Spanned<Cidr>) -> Result<(), TopologyError> {
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

/// The next free address in each of a switch's subnets, for a host that names none.
pub(super) fn switch_host(
    subnets: &[Cidr],
    next: &mut u128,
    addresses: &mut Addresses,
) -> Option<Vec<Cidr>> {
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

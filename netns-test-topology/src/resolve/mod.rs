//! Cross-statement resolution, as named passes over the parsed statements, in order: nodes,
//! addresses, interface names, links (with auto-addressing and switch hosts), `set` (new options
//! for existing links), routes, and middleboxes (NATs and firewalls). Each pass
//! refuses what it is the first to see wrong.

mod addresses;
mod interfaces;
mod links;
mod middlebox;
mod nodes;
mod routes;
mod set;

use std::net::IpAddr;

use std::collections::{HashMap, HashSet};

use crate::Cidr;
use crate::error::TopologyError;
use crate::model::{Link, Memory, Topology};
use crate::syntax::{Spanned, Statement};
use addresses::Addresses;
use nodes::Nodes;

/// What the passes know so far.
struct Resolver<'s> {
    statements: &'s [Statement],
    nodes: Nodes,
    /// Per switch, the addresses written on it.
    switch_cidrs: HashMap<usize, Vec<Spanned<Cidr>>>,
    addresses: Addresses,
    /// Per node, the interface names written in the text (auto names skip them).
    explicit: Vec<HashSet<String>>,
    links: Vec<Link>,
    /// What auto-addressing handed out before (for a change), then after.
    memory: Memory,
}

/// Resolves parsed statements into a checked topology.
pub(crate) fn resolve(statements: Vec<Statement>) -> Result<Topology, TopologyError> {
    resolve_after(statements, Memory::default())
}

/// Resolves parsed statements into a checked topology, auto-addressing on from `memory`.
pub(crate) fn resolve_after(
    statements: Vec<Statement>,
    memory: Memory,
) -> Result<Topology, TopologyError> {
    let mut r = Resolver {
        statements: &statements,
        nodes: Nodes::default(),
        switch_cidrs: HashMap::new(),
        addresses: Addresses::default(),
        explicit: Vec::new(),
        links: Vec::new(),
        memory,
    };
    r.declare_nodes()?;
    r.claim_addresses()?;
    r.name_interfaces()?;
    r.make_links()?;
    r.set_links()?;
    r.add_routes()?;
    r.add_middleboxes()?;
    let hosts = r.hosts()?;
    Ok(Topology {
        nodes: r.nodes.into_nodes(),
        links: r.links,
        hosts,
        memory: r.memory,
    })
}

impl Resolver<'_> {
    /// The `hosts` entries, in order; a name that is a node's, or given twice, is refused.
    fn hosts(&self) -> Result<Vec<(String, Vec<IpAddr>)>, TopologyError> {
        let mut out: Vec<(String, Vec<IpAddr>)> = Vec::new();
        for statement in self.statements {
            let Statement::Hosts { name, addresses } = statement else {
                continue;
            };
            if self.nodes.find(&name.value).is_some() {
                return Err(name.error(format!(
                    "`{}` is a node: every node's name resolves to its addresses already",
                    name.value
                )));
            }
            if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name.value)) {
                return Err(name.error(format!(
                    "`{}` is given twice: one `hosts` statement per name, with all its addresses",
                    name.value
                )));
            }
            out.push((name.value.clone(), addresses.clone()));
        }
        Ok(out)
    }
}

//! Pass 1, nodes: every node in order of first appearance, declared at most once, with its own
//! settings.

use std::collections::HashMap;

use super::Resolver;
use crate::error::{Pos, TopologyError};
use crate::model::Node;
use crate::syntax::{Spanned, Statement};

/// The node registry: every node in order of first appearance, by name.
#[derive(Default)]
pub(super) struct Nodes {
    pub nodes: Vec<Node>,
    index: HashMap<String, usize>,
    declared: HashMap<String, Pos>,
}

impl Nodes {
    /// The index of node `name`, registered on first sight.
    pub fn node(&mut self, name: &Spanned<String>) -> Result<usize, TopologyError> {
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
            nat: None,
            firewalls: Vec::new(),
        });
        self.index.insert(name.to_string(), self.nodes.len() - 1);
        Ok(self.nodes.len() - 1)
    }

    /// Registers a `node` or `switch` statement's node: a second declaration is refused.
    pub fn declare(&mut self, name: &Spanned<String>) -> Result<usize, TopologyError> {
        if let Some(first) = self.declared.get(&name.value) {
            return Err(name.error(format!(
                "node `{}` is declared twice (first at line {}, column {})",
                name.value, first.line, first.column
            )));
        }
        self.declared.insert(name.value.clone(), name.pos);
        self.node(name)
    }

    /// The index of a node already registered.
    pub fn index(&self, name: &str) -> usize {
        self.index[name]
    }

    /// The index of node `name`, if it exists.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The nodes, for the topology.
    pub fn into_nodes(self) -> Vec<Node> {
        self.nodes
    }
}

impl Resolver<'_> {
    /// Registers every node, in order of first appearance, with its own settings.
    pub(super) fn declare_nodes(&mut self) -> Result<(), TopologyError> {
        let b = &mut self.nodes;
        for statement in self.statements {
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
                    self.switch_cidrs.insert(i, cidrs.clone());
                }
                Statement::Link { ends, .. } => {
                    for end in ends {
                        b.node(&end.node)?;
                    }
                }
                Statement::Route { .. }
                | Statement::Nat { .. }
                | Statement::Firewall { .. }
                | Statement::Set { .. }
                | Statement::Hosts { .. } => {}
            }
        }
        Ok(())
    }
}

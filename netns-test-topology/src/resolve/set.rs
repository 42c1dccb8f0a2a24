//! Pass 4b, `set`: new options for a link written earlier (a fixture reused with conditions),
//! replacing its conditions with the ones written, and its MTU if one is.

use super::Resolver;
use crate::error::TopologyError;
use crate::syntax::{End, Statement};

impl Resolver<'_> {
    /// Applies every `set` statement to the link it names.
    pub(super) fn set_links(&mut self) -> Result<(), TopologyError> {
        for statement in self.statements {
            let Statement::Set { ends, options, at } = statement else {
                continue;
            };
            let k = self.find_link(ends).ok_or_else(|| {
                at.error(format!(
                    "`set`: no link {} -- {} to set (`set` changes a link written earlier; write \
                     a new link without `set`)",
                    written(&ends[0]),
                    written(&ends[1])
                ))
            })?;
            let link = &mut self.links[k];
            if options.conditions.is_some() {
                link.conditions = options.conditions;
            }
            if let Some(mtu) = options.mtu {
                link.mtu = Some(mtu);
                for end in link.ends {
                    self.nodes.nodes[end.node].interfaces[end.iface].mtu = Some(mtu);
                }
            }
        }
        Ok(())
    }

    /// The first link whose ends are these (either order; an interface, where written, must
    /// match).
    fn find_link(&self, ends: &[End; 2]) -> Option<usize> {
        let nodes = &self.nodes.nodes;
        let matches = |end: &End, node: usize, iface: usize| {
            nodes[node].name == end.node.value
                && end
                    .iface
                    .as_ref()
                    .is_none_or(|i| nodes[node].interfaces[iface].name == i.value)
        };
        self.links.iter().position(|link| {
            let [a, b] = link.ends;
            (matches(&ends[0], a.node, a.iface) && matches(&ends[1], b.node, b.iface))
                || (matches(&ends[0], b.node, b.iface) && matches(&ends[1], a.node, a.iface))
        })
    }
}

fn written(end: &End) -> String {
    match &end.iface {
        Some(i) => format!("{}:{}", end.node.value, i.value),
        None => end.node.value.clone(),
    }
}

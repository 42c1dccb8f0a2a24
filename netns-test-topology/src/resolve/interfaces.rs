//! Pass 3, interface names: the names written in the text first, each once per node (so auto
//! names never take them), then `ethN` in order of appearance.

use std::collections::HashSet;

use super::Resolver;
use crate::error::TopologyError;
use crate::model::{Interface, InterfaceKind};
use crate::syntax::{End, Statement};
use crate::{BRIDGE_NAME, SWITCH_BRIDGE_PORTS, is_switch_name};

impl Resolver<'_> {
    /// Gives each switch its bridge and records every interface name written in the text.
    pub(super) fn name_interfaces(&mut self) -> Result<(), TopologyError> {
        let explicit = &mut self.explicit;
        *explicit = vec![HashSet::new(); self.nodes.nodes.len()];
        for (i, node) in self.nodes.nodes.iter_mut().enumerate() {
            if node.is_switch {
                explicit[i].insert(BRIDGE_NAME.to_string());
                node.interfaces.push(Interface {
                    name: BRIDGE_NAME.to_string(),
                    kind: InterfaceKind::Bridge,
                    addresses: self.switch_cidrs[&i].iter().map(|c| c.value).collect(),
                    mtu: None,
                });
            }
        }
        for statement in self.statements {
            if let Statement::Link { ends, .. } = statement {
                for end in ends {
                    if let Some(iface) = &end.iface {
                        let n = self.nodes.index(&end.node.value);
                        let switch = self.nodes.nodes[n].is_switch;
                        if switch && iface.value != BRIDGE_NAME && is_switch_name(&iface.value) {
                            return Err(iface.error(format!(
                                "`{}` is kept for switch `{}`'s own bridges (a switch of more than \
                                 {SWITCH_BRIDGE_PORTS} ports is built from `br0`, `br1`, ... joined by \
                                 `brN-up`/`brN-down`): name the port otherwise",
                                iface.value, end.node.value
                            )));
                        }
                        if !explicit[n].insert(iface.value.clone()) {
                            let what =
                                if iface.value == BRIDGE_NAME && self.nodes.nodes[n].is_switch {
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
        Ok(())
    }
}

/// The name of a link end's interface: the one written, else the next free `ethN`.
pub(super) fn iface_name(end: &End, explicit: &HashSet<String>, next: &mut usize) -> String {
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

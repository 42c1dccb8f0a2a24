//! Statements applied to a running topology: the topology's own text and the new statements
//! resolved as one, so a change is checked exactly as a whole topology is, with the same messages.

use crate::error::{Pos, TopologyError};
use crate::model::Topology;
use crate::resolve;
use crate::syntax::{self, Dest, Statement, Via};
use crate::{Cidr, MAX_TEXT_BYTES};

/// The topology `base` with `text`'s statements added: new nodes, switches, links (switch ports
/// included), routes, sysctls, `nat`, `firewall` and `hosts`. What the text says again replaces
/// what `base` has: a route to a destination the node routes already, a node's NAT, a node's
/// firewall statements (all of them), a `hosts` name; a `node` statement for a node of `base`
/// adds its settings to the node's. Auto-addressing hands out subnets and switch host numbers
/// `base` has never handed out.
///
/// Errors carry the line and column inside `text`; a clash with a statement of `base` says so.
///
/// ```
/// let base = netns_test_topology::parse("a -- b").unwrap();
/// let t = netns_test_topology::change(&base, "c -- b").unwrap();
/// assert_eq!(t.nodes().len(), 3);
/// assert_eq!(t.node("c").unwrap().interfaces[0].addresses[0].to_string(), "198.18.1.1/24");
/// let e = netns_test_topology::change(&base, "route a default via 203.0.113.1").unwrap_err();
/// assert_eq!((e.line, e.column), (1, 21));
/// ```
pub fn change(base: &Topology, text: &str) -> Result<Topology, TopologyError> {
    let own = base.to_string();
    if own.len() + text.len() > MAX_TEXT_BYTES {
        return Err(TopologyError::at(
            Pos { line: 1, column: 1 },
            "",
            format!(
                "the running topology and these statements come to more than {MAX_TEXT_BYTES} bytes"
            ),
        ));
    }
    // Checked alone first, so a mistake in `text` is reported against `text` alone.
    let added = syntax::parse(text)?;
    let lines = own.lines().count();
    let mut statements = if lines == 0 {
        Vec::new()
    } else {
        syntax::parse(&own).expect("a topology's own text parses")
    };
    statements.iter_mut().for_each(mark_running);
    for statement in added {
        let running = statements.iter().position(|old| same_node(old, &statement));
        match running {
            // In place: the node keeps its place in the order of nodes.
            Some(k) => statements[k] = merged(statements[k].clone(), statement),
            None => {
                statements.retain(|old| !replaced_by(old, &statement));
                statements.push(statement);
            }
        }
    }
    let resolved = resolve::resolve_after(statements.clone(), base.memory.clone())
        .map_err(|e| into_text(e, &own))?;
    for (k, (was, now)) in base.links.iter().zip(&resolved.links).enumerate() {
        if was != now {
            let [a, b] = was.ends.map(|e| base.nodes[e.node].name.as_str());
            let at = statements
                .iter()
                .rev()
                .find_map(|s| match s {
                    Statement::Set { at, .. } => Some(at.pos),
                    _ => None,
                })
                .unwrap_or(Pos { line: 1, column: 1 });
            return Err(TopologyError::at(
                at,
                "set",
                format!(
                    "link {k} ({a} -- {b}) is running: change its conditions with `Link::set`, \
                     or remove it and add a new one"
                ),
            ));
        }
    }
    Ok(resolved)
}

/// Whether `new` (from the added text) replaces `old` (from the running topology's text).
fn replaced_by(old: &Statement, new: &Statement) -> bool {
    match (old, new) {
        (
            Statement::Route {
                node: a, dest: old, ..
            },
            Statement::Route { node: b, dest, via },
        ) if a.value == b.value => {
            let Dest::Cidr(old) = old.value else {
                return false;
            };
            destinations(&dest.value, via)
                .iter()
                .any(|d| d.network() == old.network() && d.prefix == old.prefix)
        }
        (Statement::Nat { node: a, .. }, Statement::Nat { node: b, .. })
        | (Statement::Firewall { node: a, .. }, Statement::Firewall { node: b, .. }) => {
            a.value == b.value
        }
        (Statement::Hosts { name: a, .. }, Statement::Hosts { name: b, .. }) => {
            a.value.eq_ignore_ascii_case(&b.value)
        }
        _ => false,
    }
}

/// The destinations a route statement writes.
fn destinations(dest: &Dest, via: &Via) -> Vec<Cidr> {
    let any = |v4: bool| -> Cidr {
        let text = if v4 { "0.0.0.0/0" } else { "::/0" };
        text.parse().expect("a default route's destination")
    };
    match (dest, via) {
        (Dest::Cidr(c), _) => vec![*c],
        (Dest::Default, Via::Gateway(gw)) => vec![any(gw.value.is_ipv4())],
        (Dest::Default, Via::Dev(_)) => vec![any(true), any(false)],
    }
}

/// Whether both are `node` statements for one node.
fn same_node(old: &Statement, new: &Statement) -> bool {
    matches!((old, new), (Statement::Node { name: a, .. }, Statement::Node { name: b, .. }) if a.value == b.value)
}

/// A `node` statement for a running node keeps the node's settings and adds its own.
fn merged(old: Statement, new: Statement) -> Statement {
    match (old, new) {
        (
            Statement::Node {
                name,
                forward: was,
                sysctls: mut all,
            },
            Statement::Node {
                forward, sysctls, ..
            },
        ) => {
            all.extend(sysctls);
            Statement::Node {
                name,
                forward: forward || was,
                sysctls: all,
            }
        }
        (_, new) => new,
    }
}

/// Lines of the running topology's text are numbered from here, so an error can tell them
/// from the added text's (which has fewer lines than [`MAX_TEXT_BYTES`]).
const RUNNING: usize = usize::MAX / 2;

/// Moves every position in a running statement past [`RUNNING`].
fn mark_running(statement: &mut Statement) {
    fn mark<T>(s: &mut crate::syntax::Spanned<T>) {
        s.pos.line += RUNNING;
    }
    fn end(e: &mut crate::syntax::End) {
        mark(&mut e.node);
        e.iface.iter_mut().for_each(mark);
        e.cidrs.iter_mut().for_each(mark);
    }
    match statement {
        Statement::Node { name, sysctls, .. } => {
            mark(name);
            sysctls.iter_mut().for_each(|(k, _)| mark(k));
        }
        Statement::Switch { name, cidrs } => {
            mark(name);
            cidrs.iter_mut().for_each(mark);
        }
        Statement::Link { ends, .. } => ends.iter_mut().for_each(end),
        Statement::Set { ends, at, .. } => {
            ends.iter_mut().for_each(end);
            mark(at);
        }
        Statement::Route { node, dest, via } => {
            mark(node);
            mark(dest);
            match via {
                Via::Gateway(gw) => mark(gw),
                Via::Dev(dev) => mark(dev),
            }
        }
        Statement::Hosts { name, .. } => mark(name),
        Statement::Nat { node, iface, .. } | Statement::Firewall { node, iface, .. } => {
            mark(node);
            iface.iter_mut().for_each(mark);
        }
    }
}

/// An error raised while resolving both texts, put in terms of the added text: a position in
/// the running topology's text becomes the statement it is, quoted.
fn into_text(mut e: TopologyError, own: &str) -> TopologyError {
    let quote = |line: usize| {
        let text = own.lines().nth(line - RUNNING - 1).unwrap_or_default();
        format!("the running topology's `{text}`")
    };
    let mut message = String::new();
    let mut rest = e.message.as_str();
    while let Some(at) = rest.find("at line ") {
        let tail = &rest[at + 8..];
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        let line: usize = tail[..digits].parse().unwrap_or(0);
        let after = &tail[digits..];
        let column = after.strip_prefix(", column ").map_or(0, |c| {
            9 + c.chars().take_while(char::is_ascii_digit).count()
        });
        if line > RUNNING {
            message.push_str(&rest[..at]);
            message.push_str(&format!("in {}", quote(line)));
            rest = &after[column..];
        } else {
            message.push_str(&rest[..at + 8]);
            rest = tail;
        }
    }
    message.push_str(rest);
    e.message = message;
    if e.line > RUNNING {
        e.message = format!("{} (in {})", e.message, quote(e.line));
        (e.line, e.column, e.token) = (1, 1, String::new());
    }
    e
}

//! The topology language of `netns-test`, parsed and validated without a single syscall.
//!
//! This crate is the one parser of the language. The `#[netns_test]` attribute runs it at compile
//! time, and `Net::build`, `Net::from_file` and the `netns-test` command line run it at run time,
//! so a topology is accepted or refused the same way, with the same message, everywhere.
//!
//! ```
//! let topo = netns_test_topology::parse("h1 -- r\nr -- h2 198.51.100.10/24").unwrap();
//! assert_eq!(topo.nodes().len(), 3);
//! assert_eq!(topo.node("h1").unwrap().interfaces[0].name, "eth0");
//! ```
//!
//! The grammar, one statement per line or per `;`, `#` starting a comment:
//!
//! ```text
//! node   NAME [forward] [sysctl KEY=VALUE]...
//! switch NAME [CIDR]...
//! [link] END -- END [OPTION]...          END = NODE[:IFACE] [CIDR]...
//!        OPTION = mtu=N | delay=DUR | jitter=DUR | loss=PCT | rate=RATE | seed=N
//!        DUR: 500us, 20ms, 1s   PCT: 1%, 0.5%   RATE: 500kbit, 10mbit, 1gbit
//! route  NODE DEST via GATEWAY           DEST = CIDR | default
//! route  NODE DEST dev IFACE
//! nat    NODE [IFACE] [TYPE] [hairpin] [timeout=DUR]
//!        TYPE = full-cone | address-restricted | port-restricted | symmetric
//! firewall NODE [in IFACE] RULE...       RULE = block-inbound | drop|reject|allow PROTO[/PORTS]...
//! ```

#![warn(missing_docs)]

mod change;
mod cidr;
mod conditions;
mod error;
mod lex;
mod middlebox;
mod model;
mod removal;
mod render;
mod resolve;
mod switch;
mod syntax;

pub use change::change;
pub use cidr::{Cidr, CidrError};
pub use error::TopologyError;
pub use middlebox::{Firewall, Match, Nat, NatKind, Protocol, Rule};
pub use model::{
    Interface, InterfaceKind, Link, LinkConditions, LinkEnd, Node, Route, RouteVia, Topology,
};
pub use switch::{
    BRIDGE_PORTS, INNER_BRIDGES, InnerInterface, MAX_SWITCH_PORTS, SWITCH_BRIDGE_PORTS,
    is_switch_name,
};

/// The interface name of the bridge inside every switch node.
///
/// ```
/// let t = netns_test_topology::parse("switch s\na -- s").unwrap();
/// assert_eq!(t.node("s").unwrap().interfaces[0].name, netns_test_topology::BRIDGE_NAME);
/// ```
pub const BRIDGE_NAME: &str = "br0";

/// The longest node name accepted, in bytes.
///
/// ```
/// let long = "n".repeat(netns_test_topology::MAX_NODE_NAME + 1);
/// assert!(netns_test_topology::parse(&format!("node {long}")).is_err());
/// ```
pub const MAX_NODE_NAME: usize = 32;

/// The longest interface name the kernel accepts, in bytes (IFNAMSIZ - 1).
///
/// ```
/// let long = "i".repeat(netns_test_topology::MAX_IFACE_NAME + 1);
/// assert!(netns_test_topology::parse(&format!("a:{long} -- b")).is_err());
/// ```
pub const MAX_IFACE_NAME: usize = 15;

/// The longest topology text accepted, in bytes: far above any real topology, low enough that
/// hostile input cannot make the parser or the kernel work without bound.
///
/// ```
/// let huge = "# a comment\n".repeat(netns_test_topology::MAX_TEXT_BYTES / 10);
/// assert!(netns_test_topology::parse(&huge).is_err());
/// ```
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// The most nodes a topology may have (each is a network namespace).
///
/// ```
/// let text: String = (0..=netns_test_topology::MAX_NODES).map(|i| format!("node n{i}\n")).collect();
/// assert!(netns_test_topology::parse(&text).is_err());
/// ```
pub const MAX_NODES: usize = 4096;

/// The most firewall rules one node may have: each is an nf_tables rule sent in the node's batch.
///
/// ```
/// let rules = "allow tcp/80 ".repeat(netns_test_topology::MAX_RULES + 1);
/// assert!(netns_test_topology::parse(&format!("a -- b\nfirewall b {rules}")).is_err());
/// ```
pub const MAX_RULES: usize = 1024;

/// The longest `delay=` or `jitter=` accepted, in nanoseconds (an hour).
///
/// ```
/// assert!(netns_test_topology::parse("a -- b delay=3601s").is_err());
/// ```
pub const MAX_DELAY_NS: u64 = 3_600 * 1_000_000_000;

/// The block auto-addressing draws its /24 subnets from (RFC 2544's range for network tests).
///
/// ```
/// let t = netns_test_topology::parse("a -- b").unwrap();
/// let block: netns_test_topology::Cidr = netns_test_topology::AUTO_BLOCK.parse().unwrap();
/// assert!(t.node("a").unwrap().addresses().all(|c| block.contains(c.addr)));
/// ```
pub const AUTO_BLOCK: &str = "198.18.0.0/15";

/// Parses and validates topology text into a [`Topology`].
///
/// Every error carries the line and column inside `text` and the offending token.
///
/// ```
/// let t = netns_test_topology::parse("h1 -- r\nr -- h2\nnode r forward").unwrap();
/// assert!(t.node("r").unwrap().forward);
/// let e = netns_test_topology::parse("h1 -- h1").unwrap_err();
/// assert_eq!((e.line, e.column, e.token.as_str()), (1, 7, "h1"));
/// ```
pub fn parse(text: &str) -> Result<Topology, TopologyError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(TopologyError {
            line: 1,
            column: 1,
            token: String::new(),
            message: format!(
                "topology text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                text.len()
            ),
        });
    }
    let statements = syntax::parse(text)?;
    resolve::resolve(statements)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod middlebox_tests;

#[cfg(test)]
mod change_tests;

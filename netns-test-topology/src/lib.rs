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

mod cidr;
mod conditions;
mod error;
mod lex;
mod middlebox;
mod model;
mod resolve;
mod syntax;

pub use cidr::{Cidr, CidrError};
pub use error::TopologyError;
pub use middlebox::{Firewall, Match, Nat, NatKind, Protocol, Rule};
pub use model::{
    Interface, InterfaceKind, Link, LinkConditions, LinkEnd, Node, Route, RouteVia, Topology,
};

/// The interface name of the bridge inside every switch node.
pub const BRIDGE_NAME: &str = "br0";

/// The longest node name accepted, in bytes.
pub const MAX_NODE_NAME: usize = 32;

/// The longest interface name the kernel accepts, in bytes (IFNAMSIZ - 1).
pub const MAX_IFACE_NAME: usize = 15;

/// The longest topology text accepted, in bytes: far above any real topology, low enough that
/// hostile input cannot make the parser or the kernel work without bound.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// The most nodes a topology may have (each is a network namespace).
pub const MAX_NODES: usize = 4096;

/// The most firewall rules one node may have: each is an nf_tables rule sent in the node's batch.
pub const MAX_RULES: usize = 1024;

/// The longest `delay=` or `jitter=` accepted, in nanoseconds (an hour).
pub const MAX_DELAY_NS: u64 = 3_600 * 1_000_000_000;

/// The block auto-addressing draws its /24 subnets from (RFC 2544's range for network tests).
pub const AUTO_BLOCK: &str = "198.18.0.0/15";

/// Parses and validates topology text into a [`Topology`].
///
/// Every error carries the line and column inside `text` and the offending token.
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

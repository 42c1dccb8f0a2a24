//! The topology's names: every node's name for its addresses, and the `hosts` entries, as the
//! `/etc/hosts` every node sees.

use std::fmt::Write as _;

use netns_test_topology::Topology;

/// The `/etc/hosts` of a topology's nodes: localhost, each node's addresses under its name (in
/// declaration order, so a lookup's first answer is the node's `ip()` family-wise), and each
/// `hosts` entry.
pub(crate) fn hosts_file(topology: &Topology) -> String {
    let mut out = String::from(
        "# The topology's names, seen inside its nodes only (netns-test)\n\
         127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
    );
    for node in topology.nodes() {
        for cidr in node.addresses() {
            let _ = writeln!(out, "{} {}", cidr.addr, node.name);
        }
    }
    for (name, addresses) in topology.hosts() {
        for addr in addresses {
            let _ = writeln!(out, "{addr} {name}");
        }
    }
    out
}

//! A node's own IPv6 link-local addresses: each veth end of a node that is not a switch gets a
//! MAC address chosen from its interface index, and the link-local address made from that MAC
//! (as the kernel would make it), added without duplicate address detection. The kernel makes
//! none itself (its address generation is turned off on these ends), so no node needs a sysctl
//! written to turn detection off: a `/proc/sys/net` lookup costs time in proportion to the
//! namespaces on the machine, which made a 4,000-node build quadratic.

use std::net::{IpAddr, Ipv6Addr};

use netns_test_topology::{Cidr, InterfaceKind, Node};

use super::{Plan, Step};

/// The MAC address of the veth end with interface index `index`: locally administered, unique
/// within the topology (as its indexes are), the same from run to run.
pub(crate) fn mac(index: u32) -> [u8; 6] {
    let [_, a, b, c] = index.to_be_bytes();
    [0x02, b'n', b't', a, b, c]
}

/// The link-local address of the veth end with interface index `index` (modified EUI-64).
pub(crate) fn address(index: u32) -> Cidr {
    let m = mac(index);
    let id = [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]];
    let mut octets = [0u8; 16];
    octets[..2].copy_from_slice(&[0xfe, 0x80]);
    octets[8..].copy_from_slice(&id);
    Cidr {
        addr: IpAddr::V6(Ipv6Addr::from(octets)),
        prefix: 64,
    }
}

/// Whether interface `iface` of `node` has an own link-local address: a veth end of a node that
/// is not a switch (a switch's ports have IPv6 off).
pub(crate) fn has_own(node: &Node, iface: usize) -> bool {
    !node.is_switch
        && node
            .interfaces
            .get(iface)
            .is_some_and(|i| matches!(i.kind, InterfaceKind::Veth { .. }))
}

/// Plans the own link-local address of interface `iface` of node `i`: its address generation
/// off (in `steps`, before the interface can have carrier), its address among the node's
/// configuration, awaited before the body starts.
pub(super) fn add(plan: &mut Plan, i: usize, iface: usize, node: &Node, creating: bool) {
    if !has_own(node, iface) {
        return;
    }
    let step = Step::OwnLinkLocal { iface };
    if creating {
        plan.create[i].push(step);
    } else {
        plan.configure[i].push(step);
    }
}

/// Adds the address step of interface `iface` of node `i`, if it has an own link-local address.
pub(super) fn add_address(plan: &mut Plan, i: usize, iface: usize, node: &Node) {
    if !has_own(node, iface) {
        return;
    }
    let cidr = address(plan.ifindex[i][iface]);
    plan.configure[i].push(Step::Address { iface, cidr });
    plan.wait_ipv6[i].push(cidr.addr);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_modified_eui_64_of_the_mac() {
        assert_eq!(mac(0x0001_0203), [0x02, 0x6e, 0x74, 0x01, 0x02, 0x03]);
        assert_eq!(
            address(0x0001_0203).to_string(),
            "fe80::6e:74ff:fe01:203/64",
            "the universal/local bit flipped, ff:fe in the middle"
        );
    }
}

//! Addresses.

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netns_test_topology::Cidr;

use super::family;

/// The address `cidr` on interface `index`, as both requests name it.
fn address(index: u32, cidr: Cidr) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family(cidr.addr);
    m.header.prefix_len = cidr.prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Address(cidr.addr));
    if cidr.is_ipv4() {
        m.attributes.push(AddressAttribute::Local(cidr.addr));
    }
    m
}

/// An address, usable at once: IPv6 skips duplicate address detection.
pub(crate) fn new_address(index: u32, cidr: Cidr) -> RouteNetlinkMessage {
    let mut m = address(index, cidr);
    if !cidr.is_ipv4() {
        m.header.flags = AddressHeaderFlags::Nodad;
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    RouteNetlinkMessage::NewAddress(m)
}

/// Removes an address.
pub(crate) fn delete_address(index: u32, cidr: Cidr) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelAddress(address(index, cidr))
}

/// Dumps every address of the namespace.
pub(crate) fn get_addresses() -> RouteNetlinkMessage {
    RouteNetlinkMessage::GetAddress(AddressMessage::default())
}

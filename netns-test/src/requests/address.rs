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

/// An address, usable at once: IPv6 skips duplicate address detection. An IPv4 address of a
/// subnet with room for one has its subnet's broadcast address, as a DHCP client or `ip address
/// add ... brd +` gives it (without, a datagram to it would be unicast, and nothing answers).
pub(crate) fn new_address(index: u32, cidr: Cidr) -> RouteNetlinkMessage {
    let mut m = address(index, cidr);
    if let std::net::IpAddr::V4(v4) = cidr.addr
        && cidr.prefix < 31
    {
        let broadcast = u32::from(v4) | (u32::MAX >> cidr.prefix);
        m.attributes
            .push(AddressAttribute::Broadcast(std::net::Ipv4Addr::from(
                broadcast,
            )));
    }
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

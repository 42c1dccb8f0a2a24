//! Routes.

use std::net::IpAddr;

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netns_test_topology::Cidr;

use super::family;

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

/// A static route in the main table, via a gateway or on-link out of `oif`.
pub(crate) fn new_route(
    dest: Cidr,
    gateway: Option<IpAddr>,
    oif: Option<u32>,
) -> RouteNetlinkMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family(dest.addr);
    m.header.destination_prefix_length = dest.prefix;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Static;
    m.header.kind = RouteType::Unicast;
    m.header.scope = if gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    if dest.prefix > 0 {
        m.attributes
            .push(RouteAttribute::Destination(route_address(dest.addr)));
    }
    m.attributes
        .extend(gateway.map(|g| RouteAttribute::Gateway(route_address(g))));
    m.attributes.extend(oif.map(RouteAttribute::Oif));
    RouteNetlinkMessage::NewRoute(m)
}

/// Dumps the routes of one family, every table.
pub(crate) fn get_routes(ipv6: bool) -> RouteNetlinkMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = if ipv6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    RouteNetlinkMessage::GetRoute(m)
}

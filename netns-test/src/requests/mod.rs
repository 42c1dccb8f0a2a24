//! The rtnetlink requests netns-test sends, as netlink-packet-route messages: one module per
//! kernel object, each a handful of small builders.

mod address;
mod link;
mod qdisc;
mod route;

use std::net::IpAddr;

use netlink_packet_route::AddressFamily;

pub(crate) use address::{get_addresses, new_address};
pub(crate) use link::{
    DEFAULT_MAX_SEGMENTS, VethEnd, barrier, get_link, get_links, new_bridge, new_veth,
    set_max_segments, set_up, set_up_in,
};
pub(crate) use qdisc::{delete_root_queue, drop_everything};
pub(crate) use route::{get_routes, new_route};

/// The address family of `ip`.
pub(super) fn family(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

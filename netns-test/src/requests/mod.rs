//! The netlink requests netns-test sends: rtnetlink ones as netlink-packet-route messages, one
//! module per kernel object, and netfilter ones (`nftables`, `conntrack`) as
//! netlink-packet-netfilter messages.

mod address;
pub(crate) mod conntrack;
mod link;
pub(crate) mod nftables;
mod qdisc;
mod route;

use std::net::IpAddr;

use netlink_packet_route::AddressFamily;

pub(crate) use address::{delete_address, get_addresses, new_address};
pub(crate) use link::{
    DEFAULT_MAX_SEGMENTS, VethEnd, barrier, delete_link, get_link, get_links, new_bridge, new_veth,
    own_link_local, set_max_segments, set_up, set_up_in,
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

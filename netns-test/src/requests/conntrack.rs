//! Connection tracking requests: the IPv4 table dumped (a NAT's live mappings) or flushed.

use netlink_packet_netfilter::conntrack::ConntrackMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

fn ipv4(message: ConntrackMessage) -> NetfilterMessage {
    NetfilterMessage::new(
        NetfilterHeader::new(NetfilterProtoFamily::IPv4, 0, 0),
        message,
    )
}

/// Every IPv4 connection the namespace tracks (a dump).
pub(crate) fn get_connections() -> NetfilterMessage {
    ipv4(ConntrackMessage::Get(Vec::new()))
}

/// Forgets every IPv4 connection: a delete with no tuple flushes the family.
pub(crate) fn flush_connections() -> NetfilterMessage {
    ipv4(ConntrackMessage::Delete(Vec::new()))
}

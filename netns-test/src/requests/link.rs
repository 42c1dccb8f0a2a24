//! Links: veth pairs, bridges, and their state.

use std::os::fd::RawFd;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoKind, InfoVeth, LinkAttribute,
    LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
};

fn link(index: u32, up: bool, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    if up {
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
    }
    m.attributes = attributes;
    m
}

/// Sets a link up.
pub(crate) fn set_up(index: u32) -> RouteNetlinkMessage {
    RouteNetlinkMessage::SetLink(link(index, true, Vec::new()))
}

/// Changes nothing, under the routing lock: every kernel action holding that lock when this is
/// sent has finished when it is acknowledged.
pub(crate) fn barrier() -> RouteNetlinkMessage {
    RouteNetlinkMessage::SetLink(link(1, false, Vec::new()))
}

/// Sets a link up, as a port of the bridge `master` if given.
pub(crate) fn set_up_in(index: u32, master: Option<u32>) -> RouteNetlinkMessage {
    RouteNetlinkMessage::SetLink(link(
        index,
        true,
        master.map(LinkAttribute::Controller).into_iter().collect(),
    ))
}

/// A bridge, created down.
pub(crate) fn new_bridge(name: &str, index: u32) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewLink(link(
        index,
        false,
        vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ],
    ))
}

/// One end of a veth pair.
pub(crate) struct VethEnd<'a> {
    pub name: &'a str,
    pub index: u32,
    pub mtu: Option<u32>,
    /// The most segments one offloaded packet may carry (`None`: the kernel's default).
    pub max_segments: Option<u32>,
    /// Its MAC address (`None`: a random one, the kernel's choice).
    pub mac: Option<[u8; 6]>,
}

/// A veth pair: `local`, up, in the namespace of the socket that sends this; `peer`, down,
/// created directly in the namespace `peer_ns`, so no name ever exists in a shared namespace.
/// (The kernel refuses to open a peer during the pair's creation: ENOTCONN.)
pub(crate) fn new_veth(
    local: VethEnd<'_>,
    master: Option<u32>,
    peer: VethEnd<'_>,
    peer_ns: RawFd,
) -> RouteNetlinkMessage {
    // One queue each way, as for the local end: the kernel's default is one per possible CPU,
    // each with its own sysfs entries to register and remove (dozens on a big machine).
    let mut peer_attrs = vec![
        LinkAttribute::IfName(peer.name.into()),
        LinkAttribute::NetNsFd(peer_ns),
        LinkAttribute::NumTxQueues(1),
        LinkAttribute::NumRxQueues(1),
    ];
    peer_attrs.extend(peer.mtu.map(LinkAttribute::Mtu));
    peer_attrs.extend(peer.max_segments.map(LinkAttribute::GsoMaxSegs));
    peer_attrs.extend(peer.mac.map(|m| LinkAttribute::Address(m.to_vec())));
    let peer_msg = link(peer.index, false, peer_attrs);
    let mut attrs = vec![
        LinkAttribute::IfName(local.name.into()),
        LinkAttribute::NumTxQueues(1),
        LinkAttribute::NumRxQueues(1),
    ];
    attrs.extend(local.mtu.map(LinkAttribute::Mtu));
    attrs.extend(local.max_segments.map(LinkAttribute::GsoMaxSegs));
    attrs.extend(local.mac.map(|m| LinkAttribute::Address(m.to_vec())));
    attrs.extend(master.map(LinkAttribute::Controller));
    attrs.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
    ]));
    RouteNetlinkMessage::NewLink(link(local.index, true, attrs))
}

/// Turns the kernel's IPv6 address generation off on a link: it makes no link-local address
/// there (netns-test adds its own, without duplicate address detection). The kernel takes this
/// only for a link that exists, not in the request that creates it (EAFNOSUPPORT).
pub(crate) fn own_link_local(index: u32) -> RouteNetlinkMessage {
    RouteNetlinkMessage::SetLink(link(
        index,
        false,
        vec![LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
            vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
        )])],
    ))
}

/// The most segments one offloaded packet may carry on a link: 1 makes every packet cross alone.
pub(crate) fn set_max_segments(index: u32, segments: u32) -> RouteNetlinkMessage {
    RouteNetlinkMessage::SetLink(link(
        index,
        false,
        vec![LinkAttribute::GsoMaxSegs(segments)],
    ))
}

/// The kernel's default for [`set_max_segments`] (GSO_MAX_SEGS).
pub(crate) const DEFAULT_MAX_SEGMENTS: u32 = 65_535;

/// Deletes a link (a veth end takes its peer along, wherever it is).
pub(crate) fn delete_link(index: u32) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelLink(link(index, false, Vec::new()))
}

/// Reads one link (which also makes the kernel apply its pending carrier change).
pub(crate) fn get_link(index: u32) -> RouteNetlinkMessage {
    RouteNetlinkMessage::GetLink(link(index, false, Vec::new()))
}

/// Dumps every link of the namespace, without their counters (a third of each answer, and all
/// the kernel has to sum over its CPUs).
pub(crate) fn get_links() -> RouteNetlinkMessage {
    let mut m = LinkMessage::default();
    m.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    RouteNetlinkMessage::GetLink(m)
}

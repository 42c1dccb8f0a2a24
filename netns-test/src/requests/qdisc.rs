//! Queueing disciplines: the empty root queue that cuts a plain link.

use netlink_packet_core::DefaultNla;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};

/// A root queue that holds nothing: `pfifo` with a limit of 0 drops every packet sent out of
/// the link, and nothing else about the link changes (addresses, routes and carrier stay).
pub(crate) fn drop_everything(index: u32) -> RouteNetlinkMessage {
    const TCA_OPTIONS: u16 = 2;
    let mut m = TcMessage::default();
    m.header.index = index as i32;
    m.header.parent = TcHandle::ROOT;
    m.attributes = vec![
        TcAttribute::Kind("pfifo".into()),
        // struct tc_fifo_qopt { __u32 limit; }
        TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, 0u32.to_ne_bytes().to_vec())),
    ];
    RouteNetlinkMessage::NewQueueDiscipline(m)
}

/// Removes the root queue, which restores the link's default (none, for a veth).
pub(crate) fn delete_root_queue(index: u32) -> RouteNetlinkMessage {
    let mut m = TcMessage::default();
    m.header.index = index as i32;
    m.header.parent = TcHandle::ROOT;
    RouteNetlinkMessage::DelQueueDiscipline(m)
}

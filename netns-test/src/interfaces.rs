//! A node's interfaces as the kernel holds them now, read over netlink: [`InterfaceState`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, State};

use crate::requests;
use crate::sys::netlink::Socket;

/// One interface of a node as the kernel holds it now, from [`Node::interfaces`](crate::Node::interfaces).
///
/// ```no_run
/// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
/// for iface in net.node("b").interfaces()? {
///     println!("{} #{} mtu {} {:?} {:?}", iface.name, iface.index, iface.mtu, iface.mac, iface.addresses);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceState {
    /// Its index in the node's namespace.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// Its hardware address (`None` for `lo`).
    pub mac: Option<[u8; 6]>,
    /// Its MTU.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// Operationally up: up, with carrier (a cut plain link stays up: its carrier is there).
    pub running: bool,
    /// Its addresses with their prefix lengths (IPv6 link-local ones included), as the kernel
    /// lists them.
    pub addresses: Vec<(IpAddr, u8)>,
}

/// The calling thread's namespace's interfaces, by index.
pub(crate) fn read(socket: &mut Socket) -> std::io::Result<Vec<InterfaceState>> {
    let mut ifaces: BTreeMap<u32, InterfaceState> = BTreeMap::new();
    for m in socket.dump(requests::get_links(), &mut |_| {})? {
        let RouteNetlinkMessage::NewLink(l) = m else {
            continue;
        };
        let up = l.header.flags.contains(LinkFlags::Up);
        let mut iface = InterfaceState {
            index: l.header.index,
            name: String::new(),
            mac: None,
            mtu: 0,
            up,
            running: false,
            addresses: Vec::new(),
        };
        for a in &l.attributes {
            match a {
                LinkAttribute::IfName(n) => iface.name = n.clone(),
                LinkAttribute::Mtu(m) => iface.mtu = *m,
                LinkAttribute::Address(bytes)
                    if bytes.len() == 6 && bytes.iter().any(|&b| b != 0) =>
                {
                    iface.mac = bytes.as_slice().try_into().ok();
                }
                LinkAttribute::OperState(s) => {
                    iface.running = up && matches!(s, State::Up | State::Unknown);
                }
                _ => {}
            }
        }
        ifaces.insert(iface.index, iface);
    }
    for m in socket.dump(requests::get_addresses(), &mut |_| {})? {
        let RouteNetlinkMessage::NewAddress(a) = m else {
            continue;
        };
        let addr = a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        });
        if let (Some(ip), Some(iface)) = (addr, ifaces.get_mut(&a.header.index)) {
            iface.addresses.push((ip, a.header.prefix_len));
        }
    }
    Ok(ifaces.into_values().collect())
}

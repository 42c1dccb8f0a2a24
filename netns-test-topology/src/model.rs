//! The validated topology: nodes with named interfaces, addresses and routes, and the links
//! between them. Everything is resolved: interface names, auto-assigned addresses, route families.

use std::net::IpAddr;

use crate::Cidr;
use crate::middlebox::{Firewall, Nat};

/// A validated topology. Nodes are in order of first appearance in the text.
///
/// ```
/// let t = netns_test_topology::parse("a -- b\nb -- c").unwrap();
/// assert_eq!((t.nodes().len(), t.links().len()), (3, 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub(crate) nodes: Vec<Node>,
    pub(crate) links: Vec<Link>,
    pub(crate) hosts: Vec<(String, Vec<IpAddr>)>,
    /// What auto-addressing handed out, so a change keeps handing out fresh addresses.
    pub(crate) memory: Memory,
}

/// What auto-addressing has handed out so far: a change to a running topology continues from
/// here rather than reusing a subnet or a switch host number that was given out before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Memory {
    /// Where the allocator of auto-addressed subnets stands.
    pub auto_next: u32,
    /// Per switch (by name): its subnets and the last host number handed out.
    pub switches: Vec<(String, Vec<Cidr>, u128)>,
}

impl Topology {
    /// The nodes, in order of first appearance in the text.
    ///
    /// ```
    /// let t = netns_test_topology::parse("b -- a").unwrap();
    /// let names: Vec<&str> = t.nodes().iter().map(|n| n.name.as_str()).collect();
    /// assert_eq!(names, ["b", "a"]);
    /// ```
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The links (veth pairs), in order of appearance.
    ///
    /// ```
    /// let t = netns_test_topology::parse("a -- b mtu=1400").unwrap();
    /// assert_eq!(t.links()[0].mtu, Some(1400));
    /// ```
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// The node called `name`, if there is one.
    ///
    /// ```
    /// let t = netns_test_topology::parse("a -- b").unwrap();
    /// assert!(t.node("b").is_some() && t.node("c").is_none());
    /// ```
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The `hosts NAME ADDR...` entries, in order of appearance.
    ///
    /// ```
    /// let t = netns_test_topology::parse("a -- b\nhosts relay.example.test 198.51.100.10").unwrap();
    /// assert_eq!(t.hosts()[0].0, "relay.example.test");
    /// ```
    pub fn hosts(&self) -> &[(String, Vec<IpAddr>)] {
        &self.hosts
    }

    /// The index of the node called `name` in [`Topology::nodes`].
    ///
    /// ```
    /// let t = netns_test_topology::parse("a -- b").unwrap();
    /// assert_eq!(t.node_index("b"), Some(1));
    /// ```
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

/// One node: a network namespace of its own.
///
/// ```
/// let t = netns_test_topology::parse("node r forward sysctl net.ipv4.conf.all.rp_filter=2\nr -- h").unwrap();
/// let r = t.node("r").unwrap();
/// assert!(r.forward && !r.is_switch);
/// assert_eq!(r.sysctls[0].0, "net.ipv4.conf.all.rp_filter");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's name.
    pub name: String,
    /// True for a switch: the node holds the bridge `br0` and its links are the bridge's ports.
    pub is_switch: bool,
    /// `forward`: IPv4 and IPv6 forwarding on in this node.
    pub forward: bool,
    /// `sysctl KEY=VALUE` settings, in order, every key under `net.`.
    pub sysctls: Vec<(String, String)>,
    /// The interfaces, in order of appearance (a switch's `br0` first).
    pub interfaces: Vec<Interface>,
    /// Static routes, in order of appearance.
    pub routes: Vec<Route>,
    /// `nat NODE ...`: the node's NAT, if it is one.
    pub nat: Option<Nat>,
    /// `firewall NODE ...` statements, in order.
    pub firewalls: Vec<Firewall>,
}

impl Node {
    /// Every address of the node, in declaration order.
    ///
    /// ```
    /// let t = netns_test_topology::parse("a 203.0.113.1/24 2001:db8::1/64 -- b").unwrap();
    /// assert_eq!(t.node("a").unwrap().addresses().count(), 2);
    /// ```
    pub fn addresses(&self) -> impl Iterator<Item = Cidr> + '_ {
        self.interfaces
            .iter()
            .flat_map(|i| i.addresses.iter().copied())
    }

    /// The index of the interface called `name`.
    ///
    /// ```
    /// let t = netns_test_topology::parse("a:uplink -- b").unwrap();
    /// assert_eq!(t.node("a").unwrap().interface_index("uplink"), Some(0));
    /// ```
    pub fn interface_index(&self, name: &str) -> Option<usize> {
        self.interfaces.iter().position(|i| i.name == name)
    }
}

/// An interface of a node.
///
/// ```
/// let t = netns_test_topology::parse("a -- b mtu=1280").unwrap();
/// let eth0 = &t.node("a").unwrap().interfaces[0];
/// assert_eq!((eth0.name.as_str(), eth0.mtu), ("eth0", Some(1280)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// The interface name inside the node's namespace.
    pub name: String,
    /// What the interface is.
    pub kind: InterfaceKind,
    /// Its addresses, in declaration order.
    pub addresses: Vec<Cidr>,
    /// The MTU, when the topology sets one.
    pub mtu: Option<u32>,
}

/// What an interface is.
///
/// ```
/// use netns_test_topology::InterfaceKind;
/// let t = netns_test_topology::parse("switch s\nh -- s").unwrap();
/// let s = t.node("s").unwrap();
/// assert_eq!(s.interfaces[0].kind, InterfaceKind::Bridge);
/// assert_eq!(s.interfaces[1].kind, InterfaceKind::Veth { link: 0, bridge: Some(0) });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceKind {
    /// A switch's bridge.
    Bridge,
    /// One end of the link with this index in [`Topology::links`]; `bridge` is the index of the
    /// node's bridge interface when this end is a switch port.
    Veth {
        /// Index of the link in [`Topology::links`].
        link: usize,
        /// For a switch port: the index of the switch's bridge among the node's interfaces.
        bridge: Option<usize>,
    },
}

/// A veth pair between two nodes.
///
/// ```
/// let t = netns_test_topology::parse("a -- b delay=5ms").unwrap();
/// let link = &t.links()[0];
/// assert_eq!(t.nodes()[link.ends[1].node].name, "b");
/// assert!(link.conditions.is_some());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The two ends, left then right as written.
    pub ends: [LinkEnd; 2],
    /// The MTU of both ends, when set.
    pub mtu: Option<u32>,
    /// The link's conditions, when any of `delay=`, `jitter=`, `loss=`, `rate=`, `seed=`,
    /// `reorder=`, `duplicate=` or `corrupt=` is
    /// written (even as zero): such a link carries its traffic through a relay that applies them.
    pub conditions: Option<LinkConditions>,
}

/// The conditions written on a link, applied in both directions, in whole units.
///
/// ```
/// let t = netns_test_topology::parse("a -- b delay=5ms loss=1% seed=9").unwrap();
/// let c = t.links()[0].conditions.unwrap();
/// assert_eq!((c.delay_ns, c.loss_ppb, c.seed), (5_000_000, 10_000_000, Some(9)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LinkConditions {
    /// `delay=`: the one-way delay, in nanoseconds.
    pub delay_ns: u64,
    /// `jitter=`: each packet's delay varies uniformly by up to this much either way, in
    /// nanoseconds, without reordering the packets of a flow.
    pub jitter_ns: u64,
    /// `loss=`: the share of packets lost, in parts per billion (100% is 1,000,000,000).
    pub loss_ppb: u32,
    /// `reorder=`: the share of packets held back so the next ones overtake them, in parts per
    /// billion.
    pub reorder_ppb: u32,
    /// `duplicate=`: the share of packets delivered twice, in parts per billion.
    pub duplicate_ppb: u32,
    /// `corrupt=`: the share of packets with one payload bit flipped, in parts per billion.
    pub corrupt_ppb: u32,
    /// `rate=`: the link's rate in bits per second; `None` for as fast as the relay goes.
    pub rate_bps: Option<u64>,
    /// `seed=`: the seed of the link's random choices; `None` to derive one from the test.
    pub seed: Option<u64>,
}

/// One end of a link.
///
/// ```
/// let t = netns_test_topology::parse("a -- b:up").unwrap();
/// let end = t.links()[0].ends[1];
/// assert_eq!(t.nodes()[end.node].interfaces[end.iface].name, "up");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkEnd {
    /// Index of the node in [`Topology::nodes`].
    pub node: usize,
    /// Index of the interface in that node's [`Node::interfaces`].
    pub iface: usize,
}

/// A static route of a node.
///
/// ```
/// let t = netns_test_topology::parse("a -- b\nroute a default via 198.18.0.2").unwrap();
/// assert_eq!(t.node("a").unwrap().routes[0].dest.to_string(), "0.0.0.0/0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The destination subnet (`default` is `0.0.0.0/0` or `::/0`).
    pub dest: Cidr,
    /// How to reach it.
    pub via: RouteVia,
}

/// The next hop of a route.
///
/// ```
/// use netns_test_topology::RouteVia;
/// let t = netns_test_topology::parse("a -- b\nroute a 203.0.113.0/24 dev eth0").unwrap();
/// assert_eq!(t.node("a").unwrap().routes[0].via, RouteVia::Dev(0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteVia {
    /// Through a gateway on one of the node's subnets.
    Gateway(IpAddr),
    /// On-link, out of the node's interface with this index.
    Dev(usize),
}

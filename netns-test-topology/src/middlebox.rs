//! The middleboxes of a topology, resolved: a node's NAT and its firewall rules.

use std::net::Ipv4Addr;

/// `nat NODE [IFACE] [TYPE] [hairpin] [timeout=DUR]`: the node translates IPv4 leaving its
/// outside interface to that interface's first IPv4 address.
///
/// ```
/// let t = netns_test_topology::parse("h -- r\nr:wan 203.0.113.1/24 -- s\nnat r wan full-cone timeout=30s").unwrap();
/// let nat = t.node("r").unwrap().nat.unwrap();
/// assert_eq!((nat.address.to_string(), nat.timeout_secs), ("203.0.113.1".to_string(), Some(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nat {
    /// The index of the outside interface in the node's interfaces.
    pub outside: usize,
    /// The outside address: the outside interface's first IPv4 address.
    pub address: Ipv4Addr,
    /// How it maps and filters, in RFC 4787's terms.
    pub kind: NatKind,
    /// Whether inside hosts reach each other through the outside address and mapped ports.
    pub hairpin: bool,
    /// How long an idle UDP mapping lives, in whole seconds; `None`: the kernel's default.
    pub timeout_secs: Option<u32>,
}

/// A NAT's behaviour, in RFC 4787's terms (mapping x filtering).
///
/// ```
/// use netns_test_topology::NatKind;
/// let t = netns_test_topology::parse("h -- r\nr:wan 203.0.113.1/24 -- s\nnat r wan").unwrap();
/// assert_eq!(t.node("r").unwrap().nat.unwrap().kind, NatKind::PortRestricted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatKind {
    /// `full-cone`: endpoint-independent mapping and filtering.
    FullCone,
    /// `address-restricted`: endpoint-independent mapping, address-dependent filtering.
    AddressRestricted,
    /// `port-restricted` (the default): endpoint-independent mapping, address-and-port-dependent
    /// filtering, as a typical home router.
    PortRestricted,
    /// `symmetric`: address-and-port-dependent mapping and filtering, as a carrier's NAT.
    Symmetric,
}

impl NatKind {
    /// Every kind, with the word the language uses for it.
    ///
    /// ```
    /// let words: Vec<&str> = netns_test_topology::NatKind::ALL.iter().map(|(_, w)| *w).collect();
    /// assert_eq!(words[3], "symmetric");
    /// ```
    pub const ALL: [(NatKind, &'static str); 4] = [
        (NatKind::FullCone, "full-cone"),
        (NatKind::AddressRestricted, "address-restricted"),
        (NatKind::PortRestricted, "port-restricted"),
        (NatKind::Symmetric, "symmetric"),
    ];

    /// The word the language uses for this kind.
    ///
    /// ```
    /// assert_eq!(netns_test_topology::NatKind::FullCone.word(), "full-cone");
    /// ```
    pub fn word(self) -> &'static str {
        NatKind::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, w)| w)
    }

    /// Whether one inside endpoint keeps one outside port for every destination.
    ///
    /// ```
    /// use netns_test_topology::NatKind;
    /// assert!(NatKind::PortRestricted.independent_mapping());
    /// assert!(!NatKind::Symmetric.independent_mapping());
    /// ```
    pub fn independent_mapping(self) -> bool {
        self != NatKind::Symmetric
    }
}

/// `firewall NODE [in IFACE] RULE...`: a stateful filter for packets the node receives or
/// forwards that enter through the interface (every interface when `None`).
///
/// ```
/// let t = netns_test_topology::parse("a -- b\nfirewall b in eth0 allow tcp/22").unwrap();
/// let f = &t.node("b").unwrap().firewalls[0];
/// assert_eq!((f.iface, f.rules.len()), (Some(0), 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firewall {
    /// The index of the interface the rules watch, or `None` for every interface.
    pub iface: Option<usize>,
    /// The rules, in the order written: the first that matches a new packet decides.
    pub rules: Vec<Rule>,
}

impl Firewall {
    /// Whether new packets that match no rule are dropped (the statement has an `allow`).
    ///
    /// ```
    /// let t = netns_test_topology::parse("a -- b\nfirewall b allow tcp/22\nfirewall b drop udp").unwrap();
    /// let b = t.node("b").unwrap();
    /// assert!(b.firewalls[0].allow_list() && !b.firewalls[1].allow_list());
    /// ```
    pub fn allow_list(&self) -> bool {
        self.rules.iter().any(|r| matches!(r, Rule::Allow(_)))
    }
}

/// One firewall rule, acting on new packets (replies and their ICMP errors always pass).
///
/// ```
/// let t = netns_test_topology::parse("a -- b\nfirewall b reject tcp/1-1023 block-inbound").unwrap();
/// let rules: Vec<String> = t.node("b").unwrap().firewalls[0].rules.iter().map(|r| r.to_string()).collect();
/// assert_eq!(rules, ["reject tcp/1-1023", "block-inbound"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `block-inbound`: every new connection entering is dropped.
    BlockInbound,
    /// `drop PROTO[/PORTS]`: dropped silently.
    Drop(Match),
    /// `reject PROTO[/PORTS]`: refused at once (TCP reset, ICMP port unreachable).
    Reject(Match),
    /// `allow PROTO[/PORTS]`: let through.
    Allow(Match),
}

/// Which packets a rule is about: a protocol and, for TCP and UDP, destination ports.
///
/// ```
/// use netns_test_topology::{Protocol, Rule};
/// let t = netns_test_topology::parse("a -- b\nfirewall b drop udp/53").unwrap();
/// let Rule::Drop(m) = t.node("b").unwrap().firewalls[0].rules[0] else { unreachable!() };
/// assert_eq!((m.protocol, m.ports), (Protocol::Udp, Some((53, 53))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// The protocol.
    pub protocol: Protocol,
    /// The destination ports, first to last inclusive; `None` for every port.
    pub ports: Option<(u16, u16)>,
}

/// A transport protocol a rule or a NAT mapping is about.
///
/// ```
/// assert_eq!(netns_test_topology::Protocol::Icmp.word(), "icmp");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (and ICMPv6 for IPv6 packets); for a NAT mapping, ICMP echo, whose identifier
    /// stands for the port.
    Icmp,
}

impl Protocol {
    /// The word the language uses.
    ///
    /// ```
    /// assert_eq!(netns_test_topology::Protocol::Tcp.word(), "tcp");
    /// ```
    pub fn word(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (verb, m) = match self {
            Rule::BlockInbound => return f.write_str("block-inbound"),
            Rule::Drop(m) => ("drop", m),
            Rule::Reject(m) => ("reject", m),
            Rule::Allow(m) => ("allow", m),
        };
        write!(f, "{verb} {}", m.protocol.word())?;
        match m.ports {
            Some((a, b)) if a == b => write!(f, "/{a}"),
            Some((a, b)) => write!(f, "/{a}-{b}"),
            None => Ok(()),
        }
    }
}

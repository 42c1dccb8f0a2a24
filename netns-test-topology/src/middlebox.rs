//! The middleboxes of a topology, resolved: a node's NAT and its firewall rules.

use std::net::Ipv4Addr;

/// `nat NODE [IFACE] [TYPE] [hairpin] [timeout=DUR]`: the node translates IPv4 leaving its
/// outside interface to that interface's first IPv4 address.
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
    pub const ALL: [(NatKind, &'static str); 4] = [
        (NatKind::FullCone, "full-cone"),
        (NatKind::AddressRestricted, "address-restricted"),
        (NatKind::PortRestricted, "port-restricted"),
        (NatKind::Symmetric, "symmetric"),
    ];

    /// The word the language uses for this kind.
    pub fn word(self) -> &'static str {
        NatKind::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, w)| w)
    }

    /// Whether one inside endpoint keeps one outside port for every destination.
    pub fn independent_mapping(self) -> bool {
        self != NatKind::Symmetric
    }
}

/// `firewall NODE [in IFACE] RULE...`: a stateful filter for packets the node receives or
/// forwards that enter through the interface (every interface when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firewall {
    /// The index of the interface the rules watch, or `None` for every interface.
    pub iface: Option<usize>,
    /// The rules, in the order written: the first that matches a new packet decides.
    pub rules: Vec<Rule>,
}

impl Firewall {
    /// Whether new packets that match no rule are dropped (the statement has an `allow`).
    pub fn allow_list(&self) -> bool {
        self.rules.iter().any(|r| matches!(r, Rule::Allow(_)))
    }
}

/// One firewall rule, acting on new packets (replies and their ICMP errors always pass).
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// The protocol.
    pub protocol: Protocol,
    /// The destination ports, first to last inclusive; `None` for every port.
    pub ports: Option<(u16, u16)>,
}

/// A transport protocol a rule or a NAT mapping is about.
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

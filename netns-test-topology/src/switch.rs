//! A switch's size: how many ports one of its bridges holds, and the names of the bridges a
//! larger switch is made of.
//!
//! A Linux bridge holds at most 1,023 ports, but it cannot deliver a broadcast to many more than
//! 500 veth ports at once: each copy waits in the one receive backlog of the sending CPU, whose
//! length the host sets for all namespaces (`net.core.netdev_max_backlog`, 1,000 by default),
//! and copies past it are dropped, so the ports first joined never hear an ARP request. A switch
//! with more ports is built from several bridges in its namespace: `br0`, which keeps the
//! switch's addresses, then `br1`, `br2`, ..., each joined to the one before by a veth pair
//! (`brN-up` a port of `brN`, `brN-down` a port of the bridge before). A chain of bridges has
//! no loop, so the switch stays one Ethernet segment (one subnet, one IP hop, broadcast and
//! multicast flooded to every port), and each bridge floods at most [`BRIDGE_PORTS`] copies at a
//! time.

/// The ports one of a switch's bridges holds, trunks included: about half the kernel's default
/// receive backlog, so a broadcast's copies fit in it with room for other traffic.
pub const BRIDGE_PORTS: usize = 500;

/// The most bridges a switch chains after `br0`.
pub const INNER_BRIDGES: usize = 8;

/// The most ports (links) one switch may have: every bridge's ports less the two it keeps for
/// the trunks to its neighbours in the chain.
///
/// ```
/// use netns_test_topology::MAX_SWITCH_PORTS;
/// let text: String = (0..=MAX_SWITCH_PORTS).map(|i| format!("h{} -- s\n", i % 4000)).collect();
/// let error = netns_test_topology::parse(&format!("switch s\n{text}")).unwrap_err();
/// assert!(error.to_string().contains("at most 4482 ports"), "{error}");
/// ```
pub const MAX_SWITCH_PORTS: usize = (INNER_BRIDGES + 1) * SWITCH_BRIDGE_PORTS;

/// The ports each of a switch's bridges holds besides its trunks.
pub const SWITCH_BRIDGE_PORTS: usize = BRIDGE_PORTS - 2;

/// One of the interfaces a switch is built from besides `br0` and its ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerInterface {
    /// Inner bridge `N` (from 1).
    Bridge(usize),
    /// The trunk end of inner bridge `N` that is a port of the bridge before it.
    Down(usize),
    /// The trunk end of inner bridge `N` that is a port of bridge `N`.
    Up(usize),
}

impl InnerInterface {
    /// The interface's name in the switch's namespace.
    ///
    /// ```
    /// use netns_test_topology::InnerInterface;
    /// assert_eq!(InnerInterface::Bridge(1).name(), "br1");
    /// assert_eq!(InnerInterface::Down(2).name(), "br2-down");
    /// assert_eq!(InnerInterface::Up(7).name(), "br7-up");
    /// ```
    pub fn name(self) -> String {
        match self {
            InnerInterface::Bridge(n) => format!("br{n}"),
            InnerInterface::Down(n) => format!("br{n}-down"),
            InnerInterface::Up(n) => format!("br{n}-up"),
        }
    }
}

/// Whether `name` is kept for a switch's own interfaces (`br0` and those of inner bridges), so a
/// link end on a switch may not take it.
///
/// ```
/// use netns_test_topology::is_switch_name;
/// assert!(is_switch_name("br0") && is_switch_name("br3") && is_switch_name("br3-up"));
/// assert!(!is_switch_name("br") && !is_switch_name("bridge1") && !is_switch_name("eth1"));
/// ```
pub fn is_switch_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("br") else {
        return false;
    };
    let number = rest
        .strip_suffix("-up")
        .or_else(|| rest.strip_suffix("-down"))
        .unwrap_or(rest);
    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
}

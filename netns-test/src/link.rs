//! Links at run time: [`Link`], to cut, mend and condition a link between two nodes mid-test.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use netns_test_topology::Topology;

use netlink_packet_route::RouteNetlinkMessage;

use crate::conditions::Conditions;
use crate::error::Error;
use crate::net::Net;
use crate::relay::RelayedLink;
use crate::requests;
use crate::sys::netlink::{Kind, Socket};

/// What the runtime keeps of each link the net has had.
pub(crate) struct LinkState {
    /// Each end: its node's place among the net's nodes, and its interface's name there.
    pub ends: [(usize, String); 2],
    /// The interface index of each end in its node.
    pub ifindex: [u32; 2],
    /// The relay of a conditioned link.
    pub relay: Option<RelayedLink>,
    /// Whether the topology writes the link's seed.
    pub written_seed: bool,
    /// For a plain link, per end, whether what that end sends is cut; the lock also orders
    /// concurrent cuts and mends.
    pub cut: Mutex<[bool; 2]>,
    /// Whether the link was removed.
    pub removed: AtomicBool,
}

impl LinkState {
    /// A link of `topology` whose end nodes are at places `slots` of the net's nodes.
    pub fn new(
        topology: &Topology,
        slots: [usize; 2],
        link: &netns_test_topology::Link,
        ifindex: [u32; 2],
        relay: Option<RelayedLink>,
    ) -> LinkState {
        let names = link.ends.map(|e| {
            let node = &topology.nodes()[e.node];
            node.interfaces[e.iface].name.clone()
        });
        let [a, b] = names;
        LinkState {
            ends: [(slots[0], a), (slots[1], b)],
            ifindex,
            relay,
            written_seed: link.conditions.and_then(|c| c.seed).is_some(),
            cut: Mutex::new([false; 2]),
            removed: AtomicBool::new(false),
        }
    }
}

/// A link between two nodes, from [`Net::link`]: cut it, mend it, change its conditions.
///
/// ```no_run
/// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
/// let link = net.link("a", "b");
/// link.down()?; // nothing crosses, either way
/// link.up()?; // traffic flows again: same interfaces, addresses and routes
/// # Ok(()) }
/// ```
pub struct Link<'n> {
    net: &'n Net,
    index: usize,
}

impl<'n> Link<'n> {
    pub(crate) fn new(net: &'n Net, index: usize) -> Link<'n> {
        Link { net, index }
    }

    pub(crate) fn net(&self) -> &'n Net {
        self.net
    }

    fn state(&self) -> &'n LinkState {
        self.net.link_state(self.index)
    }

    /// The link's number among every link the net has had, in order of creation: for a net
    /// that no link was removed from, its index in [`netns_test_topology::Topology::links`].
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let link = net.link("a", "b");
    /// let written = &net.topology().links()[link.index()];
    /// # }
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether the link was removed ([`Link::remove`], [`Node::remove`](crate::Node::remove)).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// let link = net.link("laptop", "wifi");
    /// link.remove()?;
    /// assert!(link.is_removed());
    /// # Ok(()) }
    /// ```
    pub fn is_removed(&self) -> bool {
        self.state().removed.load(Ordering::Acquire)
    }

    /// An error if the link was removed.
    fn alive(&self, operation: &str) -> Result<(), Error> {
        if self.is_removed() {
            return Err(Error::removed(
                format!("{operation} link {self}"),
                &format!("link {self}"),
            ));
        }
        Ok(())
    }

    /// The two ends as `(node, interface)`, left then right as written in the topology.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let [(a, a_iface), (b, b_iface)] = net.link("a", "b").ends(); // ("a", "eth0"), ("b", "eth0")
    /// # }
    /// ```
    pub fn ends(&self) -> [(&'n str, &'n str); 2] {
        let state = self.state();
        let [(a, ai), (b, bi)] = &state.ends;
        [
            (self.net.node_at(*a).name(), ai.as_str()),
            (self.net.node_at(*b).name(), bi.as_str()),
        ]
    }

    /// Cuts the link: from the moment this returns, no frame crosses it either way (frames in
    /// flight on a conditioned link are lost too). Interfaces, addresses, carrier and routes stay
    /// as they are, as when a cable breaks beyond the next switch; sockets see silence. Cutting a
    /// cut link does nothing.
    ///
    /// A plain link is cut by a root queue that holds nothing (`pfifo limit 0`) on both ends: a
    /// queue the test installed there itself is replaced, and removed by [`Link::up`].
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// let uplink = net.link("phone", "tower");
    /// uplink.down()?; // into a tunnel
    /// assert!(uplink.is_down());
    /// # Ok(()) }
    /// ```
    pub fn down(&self) -> Result<(), Error> {
        self.set_cut([true, true], "cutting")
    }

    /// Cuts the link one way: from the moment this returns, frames `node` sends into it are
    /// lost, and frames toward `node` still arrive: a half-dead link, an asymmetric partition.
    /// [`Link::up`] restores both directions.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// let link = net.link("client", "server");
    /// link.down_from("client")?; // the server still talks, the client is not heard
    /// assert!(link.is_down());
    /// # Ok(()) }
    /// ```
    pub fn down_from(&self, node: &str) -> Result<(), Error> {
        self.alive("cutting")?;
        let [(a, _), (b, _)] = self.ends();
        let side = match node {
            n if n == a => 0,
            n if n == b => 1,
            _ => {
                return Err(Error::usage(
                    format!("cutting link {self} from node `{node}`"),
                    format!("`{node}` is not an end of this link (its ends: `{a}`, `{b}`)"),
                ));
            }
        };
        let mut cut = self.cut_state();
        cut[side] = true;
        self.set_cut(cut, "cutting one way")
    }

    /// Mends the link: traffic flows again at once, through the same interfaces, with the same
    /// addresses, routes and conditions. Mending a link that is up does nothing.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// net.link("phone", "tower").up()?; // out of the tunnel
    /// # Ok(()) }
    /// ```
    pub fn up(&self) -> Result<(), Error> {
        self.set_cut([false, false], "mending")
    }

    /// Whether the link is cut, either way or both.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// assert!(!net.link("a", "b").is_down());
    /// # }
    /// ```
    pub fn is_down(&self) -> bool {
        self.cut_state().contains(&true)
    }

    /// Per end, whether what it sends is cut.
    fn cut_state(&self) -> [bool; 2] {
        match &self.state().relay {
            Some(relay) => relay.cut(),
            None => *self.state().cut.lock().expect("link state"),
        }
    }

    /// Cuts or mends each direction, by the end that sends it.
    fn set_cut(&self, cut: [bool; 2], operation: &str) -> Result<(), Error> {
        self.alive(operation)?;
        let operation = format!("{operation} link {self}");
        let state = self.state();
        if let Some(relay) = &state.relay {
            return relay.set_cut(cut).map_err(|e| Error::io(operation, e));
        }
        // A plain link: a root queue that holds nothing on each cut end's interface.
        let mut current = state.cut.lock().expect("link state");
        let changed = [0, 1].map(|side| current[side] != cut[side]);
        self.on_ends(&operation, changed, |side, index| {
            if cut[side] {
                (Kind::Create, requests::drop_everything(index))
            } else {
                (Kind::Change, requests::delete_root_queue(index))
            }
        })?;
        *current = cut;
        Ok(())
    }

    /// The conditions in force, or `None` for a plain link (a veth pair at full speed).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// // Built from `a -- b delay=20ms loss=1%`:
    /// let c = net.link("a", "b").conditions().unwrap();
    /// assert_eq!(c.delay, std::time::Duration::from_millis(20));
    /// # }
    /// ```
    pub fn conditions(&self) -> Option<Conditions> {
        self.state().relay.as_ref().map(|r| r.wire().conditions())
    }

    /// The seed of the link's random choices (loss, jitter), or `None` for a plain link.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// // `seed=7` on the link, or one derived from the test's name (NETNS_TEST_SEED replays it).
    /// println!("replay with seed={}", net.link("a", "b").seed().unwrap());
    /// # }
    /// ```
    pub fn seed(&self) -> Option<u64> {
        self.state().relay.as_ref().map(RelayedLink::seed)
    }

    /// Changes the link's conditions mid-test, without rebuilding anything: packets already in
    /// flight keep the fate they were given, the next ones meet the new conditions.
    ///
    /// Only a link written with conditions in the topology carries traffic through the relay
    /// that applies them; a plain link (a veth pair at full speed) refuses with
    /// [`crate::ErrorKind::Usage`]. Write `delay=0ms` on a link to condition it later.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// use std::time::Duration;
    /// net.link("a", "b").set(netns_test::Conditions {
    ///     delay: Duration::from_millis(80),
    ///     ..Default::default()
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn set(&self, conditions: Conditions) -> Result<(), Error> {
        self.alive("setting the conditions of")?;
        let wire = conditions.validate()?;
        let operation = format!("setting the conditions of link {self}");
        let Some(relay) = &self.state().relay else {
            return Err(Error::usage(
                operation,
                "it is a plain veth pair, which carries no conditions",
            )
            .with_hint(
                "write a condition on the link in the topology (e.g. `a -- b delay=0ms`) so its \
                 traffic goes through the relay that applies them",
            ));
        };
        if relay.wire().per_packet() != wire.per_packet() {
            // Loss and rate act per packet: the nodes stop (or resume) handing over 64 KiB
            // bursts, before the relay starts judging packets one by one.
            let segments = if wire.per_packet() {
                1
            } else {
                requests::DEFAULT_MAX_SEGMENTS
            };
            self.on_ends(&operation, [true, true], |_, index| {
                (Kind::Change, requests::set_max_segments(index, segments))
            })?;
        }
        relay
            .set_wire(wire)
            .map_err(|e| Error::io(operation.clone(), e))
    }

    /// Sends one request about each chosen end's interface, from inside that end's node.
    fn on_ends(
        &self,
        operation: &str,
        which: [bool; 2],
        request: impl Fn(usize, u32) -> (Kind, RouteNetlinkMessage) + Sync,
    ) -> Result<(), Error> {
        let state = self.state();
        for (side, ((slot, iface), index)) in state.ends.iter().zip(state.ifindex).enumerate() {
            if !which[side] {
                continue;
            }
            let node = self.net.node_at(*slot);
            node.in_netns(|| {
                let mut socket = Socket::open().map_err(|e| Error::io(operation, e))?;
                socket.execute_one(request(side, index), operation)
            })
            .map_err(|e| e.on_node(node.name()).on_interface(iface))?;
        }
        Ok(())
    }
}

impl fmt::Display for Link<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [(a, ai), (b, bi)] = self.ends();
        write!(f, "{a}:{ai} -- {b}:{bi}")
    }
}

impl fmt::Debug for Link<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("ends", &self.ends())
            .field("conditions", &self.conditions())
            .field("seed", &self.seed())
            .finish()
    }
}

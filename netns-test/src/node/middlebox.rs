//! A node's NAT and firewall at run time: its mappings, forgetting them, what its rules stopped.

use std::sync::Arc;

use netns_test_topology::Node as NodeSpec;

use super::Node;
use crate::error::Error;
use crate::middlebox::{self, Mapping, Stopped};
use crate::sys::netfilter::NetfilterSocket;

impl Node {
    /// This NAT's live mappings, read from its connection tracking: one per translated flow
    /// (TCP, UDP, ICMP echo), inbound ones through a cone included.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// for m in net.node("home").nat_mappings()? {
    ///     println!("{} seen outside as {} by {}", m.inside, m.outside, m.remote);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn nat_mappings(&self) -> Result<Vec<Mapping>, Error> {
        self.alive("reading the NAT's mappings")?;
        self.nat_spec("reading the NAT's mappings")?;
        self.in_netns(|| {
            let mut socket = NetfilterSocket::open()?;
            middlebox::mappings(&mut socket)
        })
        .map_err(|e| Error::io("reading the NAT's mappings", e).on_node(&self.name))
    }

    /// Forgets every mapping of this NAT now, as a reboot would: its connections and what it
    /// learned from them (a full cone lets no stranger in any more). Inside hosts get new
    /// mappings with their next packet out.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// net.node("home").flush_nat()?; // the home router reboots
    /// assert!(net.node("home").nat_mappings()?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn flush_nat(&self) -> Result<(), Error> {
        self.alive("forgetting the NAT's mappings")?;
        let spec = self.nat_spec("forgetting the NAT's mappings")?;
        self.in_netns(|| {
            let mut socket = NetfilterSocket::open()
                .map_err(|e| Error::io("forgetting the NAT's mappings", e).on_node(&self.name))?;
            middlebox::flush(&mut socket, &spec)
        })
    }

    /// What each rule of this node's NAT and firewall has dropped or refused so far, in the
    /// order written (empty for a node with neither): the failure dump prints the same.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// for s in net.node("hotel").stopped()? {
    ///     println!("{}: {} packets", s.rule, s.packets); // firewall drop udp: 12 packets
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stopped(&self) -> Result<Vec<Stopped>, Error> {
        self.alive("reading the firewall's counters")?;
        let Some(spec) = self.middlebox() else {
            return Ok(Vec::new());
        };
        self.in_netns(|| {
            let mut socket = NetfilterSocket::open()?;
            middlebox::stopped(&mut socket, &spec)
        })
        .map_err(|e| Error::io("reading the firewall's counters", e).on_node(&self.name))
    }

    fn nat_spec(&self, operation: &str) -> Result<Arc<NodeSpec>, Error> {
        self.middlebox().filter(|s| s.nat.is_some()).ok_or_else(|| {
            Error::usage(operation, format!("node `{}` is not a NAT", self.name))
                .with_hint("declare it with `nat NODE` in the topology")
        })
    }

    /// The node as declared, when it has a NAT or a firewall (for the failure dump).
    pub(crate) fn middlebox(&self) -> Option<Arc<NodeSpec>> {
        self.middlebox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

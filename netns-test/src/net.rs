//! The runtime handle of a whole topology: [`Net`], which owns its [`Node`]s and links.

use std::fmt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use netns_test_topology::Topology;

use crate::build;
use crate::command;
use crate::error::Error;
use crate::link::{Link, LinkState};
use crate::node::Node;
use crate::relay::fate::{self, SeedSource};
use crate::sys::namespace;

/// A topology built in fresh network namespaces, one per node. Dropping it tears everything down:
/// the namespaces' fds close and the kernel frees every link, address and route.
///
/// ```no_run
/// let net = netns_test::Net::build("client -- router\nrouter -- server\nnode router forward")?;
/// for node in net.nodes() {
///     println!("{} {:?}", node.name(), node.ips());
/// }
/// drop(net); // every namespace, link, address and route is gone
/// # Ok::<(), netns_test::Error>(())
/// ```
pub struct Net {
    // Dropped in this order: the relay forgets the links before their namespaces close.
    links: Vec<LinkState>,
    topology: Topology,
    nodes: Vec<Node>,
    /// The test's seed and where it came from, when a link has conditions.
    seed: Option<(u64, SeedSource)>,
}

impl Net {
    /// Builds a topology written in the topology language (see the crate docs).
    ///
    /// ```no_run
    /// let net = netns_test::Net::build("a -- b")?;
    /// assert_eq!(net.node("b").ip().to_string(), "198.18.0.2");
    /// # Ok::<(), netns_test::Error>(())
    /// ```
    pub fn build(topology: &str) -> Result<Net, Error> {
        Self::build_from(topology, None)
    }

    /// Builds the topology in the file at `path`.
    ///
    /// ```no_run
    /// let net = netns_test::Net::from_file("fixtures/router.topo")?;
    /// # Ok::<(), netns_test::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Net, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading topology file {}", path.display()), e))?;
        Self::build_from(&text, Some(path.display().to_string()))
    }

    pub(crate) fn build_from(text: &str, source: Option<String>) -> Result<Net, Error> {
        let topology = netns_test_topology::parse(text).map_err(|e| Error::topology(source, e))?;
        Self::from_topology(topology)
    }

    /// Builds an already parsed topology.
    ///
    /// ```no_run
    /// let topology = netns_test::topology::parse("a -- b")?;
    /// let net = netns_test::Net::from_topology(topology)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_topology(topology: Topology) -> Result<Net, Error> {
        let conditioned = topology.links().iter().any(|l| l.conditions.is_some());
        // Read on the caller's thread, whose name is the test's.
        let seed = if conditioned {
            Some(fate::test_seed()?)
        } else {
            None
        };
        let build::Output {
            nodes: built,
            relayed,
            link_ifindex,
        } = build::build(&topology, seed.map_or(0, |s| s.0))?;
        let mut links: Vec<LinkState> = link_ifindex
            .into_iter()
            .map(|ifindex| LinkState {
                ifindex,
                relay: None,
                cut: Mutex::new([false; 2]),
            })
            .collect();
        for (k, relayed) in relayed {
            links[k].relay = Some(relayed);
        }
        let commands = Arc::new(AtomicBool::new(false));
        let names = Arc::new(crate::names::Names::new(&topology));
        let nodes = topology
            .nodes()
            .iter()
            .enumerate()
            .zip(built)
            .map(|(spec, build::Built { ns, inode })| {
                Node::new(spec, ns, inode, commands.clone(), names.clone())
            })
            .collect();
        Ok(Net {
            links,
            topology,
            nodes,
            seed,
        })
    }

    /// The first link between nodes `a` and `b` (in either order).
    ///
    /// # Panics
    /// If there is none; the message lists the links there are.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// net.link("server", "client").down()?; // either order
    /// # Ok(()) }
    /// ```
    pub fn link(&self, a: &str, b: &str) -> Link<'_> {
        self.try_link(a, b).unwrap_or_else(|| {
            let known: Vec<String> = (0..self.links.len())
                .map(|k| Link::new(self, k).to_string())
                .collect();
            panic!(
                "netns-test: no link between `{a}` and `{b}` in this topology (links: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })
    }

    /// The first link between nodes `a` and `b` (in either order), if there is one.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// assert!(net.try_link("client", "nowhere").is_none());
    /// # }
    /// ```
    pub fn try_link(&self, a: &str, b: &str) -> Option<Link<'_>> {
        let nodes = self.topology.nodes();
        self.topology
            .links()
            .iter()
            .position(|l| {
                let [x, y] = l.ends.map(|e| nodes[e.node].name.as_str());
                (x, y) == (a, b) || (x, y) == (b, a)
            })
            .map(|k| Link::new(self, k))
    }

    /// Every link, in order of appearance in the topology.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// for link in net.links() {
    ///     println!("{link}: {:?}", link.conditions()); // a:eth0 -- b:eth0: None
    /// }
    /// # }
    /// ```
    pub fn links(&self) -> impl Iterator<Item = Link<'_>> {
        (0..self.links.len()).map(|k| Link::new(self, k))
    }

    pub(crate) fn link_state(&self, index: usize) -> &LinkState {
        &self.links[index]
    }

    /// For a failure report: each conditioned link's conditions and seed, and how to replay
    /// them. `None` when no link has conditions.
    pub(crate) fn seed_report(&self) -> Option<String> {
        let (test_seed, source) = self.seed?;
        let mut out = String::new();
        for link in self.links().filter(|l| l.seed().is_some()) {
            let written = self.topology.links()[link.index()]
                .conditions
                .and_then(|c| c.seed)
                .is_some();
            out.push_str(&format!(
                "  link {link}: {} seed={}{}\n",
                link.conditions().unwrap_or_default(),
                link.seed().unwrap_or_default(),
                if written {
                    " (written on the link)"
                } else {
                    ""
                },
            ));
        }
        let from = match source {
            SeedSource::Environment => "from NETNS_TEST_SEED",
            SeedSource::TestName => "derived from the test's name",
        };
        Some(format!(
            "netns-test: random link conditions ran with test seed {test_seed} ({from}); \
             NETNS_TEST_SEED={test_seed} replays the same fates:\n{out}"
        ))
    }

    /// The node called `name`.
    ///
    /// # Panics
    /// If there is none; the message lists the nodes there are.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let server = net.node("server");
    /// # }
    /// ```
    pub fn node(&self, name: &str) -> &Node {
        self.try_node(name).unwrap_or_else(|| {
            let known: Vec<&str> = self.nodes.iter().map(Node::name).collect();
            panic!(
                "netns-test: no node `{name}` in this topology (nodes: {})",
                known.join(", ")
            )
        })
    }

    /// The node called `name`, if there is one.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// if let Some(monitor) = net.try_node("monitor") {
    ///     println!("monitoring from {}", monitor.ip());
    /// }
    /// # }
    /// ```
    pub fn try_node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name() == name)
    }

    /// Every node, in order of first appearance in the topology.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let names: Vec<&str> = net.nodes().map(|n| n.name()).collect();
    /// # }
    /// ```
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// Runs `f` inside each node in turn, on one short-lived thread that hops from node to node
    /// (a thread of a user namespace cannot return to the host's namespace, so no caller's thread
    /// is used). Returns each node's result, in node order.
    pub(crate) fn in_each_node<T: Send>(
        &self,
        mut f: impl FnMut(&Node) -> std::io::Result<T> + Send,
    ) -> Vec<std::io::Result<T>> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.nodes
                        .iter()
                        .map(|node| namespace::enter(&**node.ns()).and_then(|()| f(node)))
                        .collect()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// The validated topology this net was built from.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let links = net.topology().links().len();
    /// # }
    /// ```
    pub fn topology(&self) -> &Topology {
        &self.topology
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if self.nodes.first().is_some_and(Node::started_processes) {
            let inodes: Vec<u64> = self.nodes.iter().map(Node::netns_inode).collect();
            command::kill_processes_in(&inodes);
        }
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net").field("nodes", &self.nodes).finish()
    }
}

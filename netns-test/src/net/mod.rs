//! The runtime handle of a whole topology: [`Net`], which owns its [`Node`]s and links.

mod change;
mod slots;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use netns_test_topology::Topology;

use crate::build;
use crate::command;
use crate::error::Error;
use crate::link::{Link, LinkState};
use crate::names::Names;
use crate::node::Node;
use crate::relay::RelayedLink;
use crate::relay::fate::{self, SeedSource};
use crate::sys::namespace;
use slots::Slots;

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
    core: Arc<Core>,
}

/// What a [`Net`] holds, shared (weakly) with its nodes so that a node can remove itself.
pub(crate) struct Core {
    // Dropped in this order: the relay forgets the links before their namespaces close.
    /// Every link the net has had, removed ones too (their handles answer that they were).
    links: Slots<LinkState>,
    /// Every version of the topology, the running one last.
    versions: Slots<Topology>,
    /// Every node the net has had, removed ones too.
    nodes: Slots<Node>,
    /// What runs now, in the running topology's terms; held while the net changes.
    live: Mutex<Live>,
    /// Shared by the nodes: whether any started a process.
    commands: Arc<AtomicBool>,
    /// The net's names, shared by the nodes.
    names: Arc<Names>,
    /// Told of each node with new interfaces (a new node included) before a change returns:
    /// the packet capture, which covers them from then on.
    watchers: Mutex<Vec<Watcher>>,
}

/// A function told of a node that gained interfaces.
pub(crate) type Watcher = Box<dyn Fn(&Node) + Send + Sync>;

/// The running topology's nodes and links, as places in the net's lists, and its interfaces'
/// indexes.
pub(crate) struct Live {
    /// Per node of the running topology, its place in `Net::nodes`.
    pub nodes: Vec<usize>,
    /// Per link of the running topology, its place in `Net::links`.
    pub links: Vec<usize>,
    /// Per node and interface of the running topology, the interface's index.
    pub ifindex: Vec<Vec<u32>>,
    /// Per switch port, by its interface index, the bridge it joined (see `plan::segment`).
    pub masters: HashMap<u32, usize>,
    /// The next interface index never handed out in this net.
    pub next_ifindex: u32,
    /// The test's seed and where it came from, once a link has conditions.
    pub seed: Option<(u64, SeedSource)>,
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
            ifindex,
            masters,
        } = build::build(&topology, seed.map_or(0, |s| s.0))?;
        let next_ifindex = ifindex.iter().flatten().max().map_or(0, |i| i + 1);
        let live = Live {
            nodes: Vec::new(),
            links: Vec::new(),
            ifindex,
            masters: masters.into_iter().collect(),
            next_ifindex,
            seed,
        };
        let core = Arc::new(Core {
            links: Slots::new(),
            versions: Slots::new(),
            nodes: Slots::new(),
            live: Mutex::new(live),
            commands: Arc::new(AtomicBool::new(false)),
            names: Arc::new(Names::new(&topology)),
            watchers: Mutex::new(Vec::new()),
        });
        core.take_in(&mut core.live(), &topology, built, 0, relayed);
        core.versions.push(topology);
        Ok(Net { core })
    }

    /// What runs now; held, it keeps the net from changing.
    pub(crate) fn live(&self) -> MutexGuard<'_, Live> {
        self.core.live()
    }

    /// The node at place `slot` of the net's nodes (a removed one included).
    pub(crate) fn node_at(&self, slot: usize) -> &Node {
        self.core.nodes.get(slot)
    }

    /// Has `watcher` told of every node that gains interfaces from now on.
    pub(crate) fn on_change(&self, watcher: Watcher) {
        self.core
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(watcher);
    }

    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
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
            let known: Vec<String> = self.links().map(|l| l.to_string()).collect();
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
        self.links().find(|l| {
            let [(x, _), (y, _)] = l.ends();
            (x, y) == (a, b) || (x, y) == (b, a)
        })
    }

    /// Every link, in order of appearance in the topology (links added by [`Net::apply`]
    /// last; removed ones are left out).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// for link in net.links() {
    ///     println!("{link}: {:?}", link.conditions()); // a:eth0 -- b:eth0: None
    /// }
    /// # }
    /// ```
    pub fn links(&self) -> impl Iterator<Item = Link<'_>> {
        let slots = self.live().links.clone();
        slots.into_iter().map(|k| Link::new(self, k))
    }

    pub(crate) fn link_state(&self, index: usize) -> &LinkState {
        self.core.links.get(index)
    }

    /// For a failure report: each conditioned link's conditions and seed, and how to replay
    /// them. `None` when no link has conditions.
    pub(crate) fn seed_report(&self) -> Option<String> {
        let (test_seed, source) = self.live().seed?;
        let mut out = String::new();
        for link in self.links().filter(|l| l.seed().is_some()) {
            let written = self.link_state(link.index()).written_seed;
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
            let known: Vec<&str> = self.nodes().map(Node::name).collect();
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
        self.nodes().find(|n| n.name() == name)
    }

    /// Every node, in order of first appearance in the topology (nodes added by
    /// [`Net::apply`] last; removed ones are left out).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let names: Vec<&str> = net.nodes().map(|n| n.name()).collect();
    /// # }
    /// ```
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        let slots = self.live().nodes.clone();
        slots.into_iter().map(|i| self.core.nodes.get(i))
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
                    self.nodes()
                        .map(|node| namespace::enter(&*node.ns()).and_then(|()| f(node)))
                        .collect()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// The running topology: the one the net was built from, with what [`Net::apply`] added
    /// and less what was removed since.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let links = net.topology().links().len();
    /// # }
    /// ```
    pub fn topology(&self) -> &Topology {
        self.core.topology()
    }
}

impl Core {
    /// What runs now; held, it keeps the net from changing.
    pub(crate) fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The running topology.
    pub(crate) fn topology(&self) -> &Topology {
        self.versions.last().expect("a net has its first topology")
    }

    /// Takes in what a build or a change made of `topology`: its nodes after the running ones
    /// (their namespaces `built`, in order) and its links from `running_links` on (their
    /// interfaces' indexes read from `live.ifindex`, a conditioned one's share of the relay
    /// from `relayed`), each at the next place of the net's lists.
    pub(crate) fn take_in(
        self: &Arc<Core>,
        live: &mut Live,
        topology: &Topology,
        built: Vec<build::Built>,
        running_links: usize,
        mut relayed: Vec<(usize, RelayedLink)>,
    ) {
        let owner: std::sync::Weak<dyn crate::node::Owner> = Arc::downgrade(self) as _;
        let running = live.nodes.len();
        for (i, build::Built { ns, inode }) in (running..).zip(built) {
            let spec = &topology.nodes()[i];
            let (commands, names) = (self.commands.clone(), self.names.clone());
            let node = Node::new(
                (self.nodes.len(), spec),
                ns,
                inode,
                commands,
                names,
                owner.clone(),
            );
            live.nodes.push(self.nodes.push(node));
        }
        for (k, link) in topology.links().iter().enumerate().skip(running_links) {
            let slots = link.ends.map(|e| live.nodes[e.node]);
            let ifindex = link.ends.map(|e| live.ifindex[e.node][e.iface]);
            let relay = relayed.iter().position(|(j, _)| *j == k);
            let relay = relay.map(|p| relayed.swap_remove(p).1);
            let state = LinkState::new(topology, slots, link, ifindex, relay);
            live.links.push(self.links.push(state));
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if self.commands.load(std::sync::atomic::Ordering::Relaxed) {
            let inodes: Vec<u64> = (0..self.nodes.len())
                .map(|i| self.nodes.get(i).netns_inode())
                .collect();
            command::kill_processes_in(&inodes);
        }
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes: Vec<&Node> = self.nodes().collect();
        f.debug_struct("Net").field("nodes", &nodes).finish()
    }
}

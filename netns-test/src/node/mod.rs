//! The runtime handle of one node: [`Node`], to run code, tasks and processes inside it.

use std::ffi::OsStr;
use std::fmt;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

mod addresses;
mod middlebox;
mod threads;

use netns_test_topology::Node as NodeSpec;

use crate::command;
use crate::error::Error;
use crate::interfaces::InterfaceState;
use crate::names::Names;
use crate::sys::namespace;
use crate::sys::view;

/// What a node needs of the net that owns it: to be removed from it.
pub(crate) trait Owner:
    Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe
{
    /// Removes the node at place `slot` of the net's nodes.
    fn remove_node(&self, slot: usize) -> Result<(), Error>;
}

/// One node of a [`Net`](crate::Net): a network namespace of its own.
///
/// ```no_run
/// # fn demo(net: &netns_test::Net) {
/// let b = net.node("b");
/// println!("{} is at {} in namespace {}", b.name(), b.ip(), b.netns_inode());
/// # }
/// ```
pub struct Node {
    name: String,
    /// Its place in the topology's nodes.
    index: usize,
    /// Its namespace, held until the node is removed or the net dropped.
    ns: Mutex<Option<Arc<OwnedFd>>>,
    inode: u64,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    /// Shared by the net's nodes: whether any started a process, to be killed at teardown.
    commands: Arc<AtomicBool>,
    /// The node as the topology declares it, when it has a NAT or a firewall.
    middlebox: Mutex<Option<Arc<NodeSpec>>>,
    /// The net's names (this node's addresses among them), shared by its nodes.
    names: Arc<Names>,
    /// Its view of the file system, made on first use.
    view: Mutex<Option<Arc<OwnedFd>>>,
    /// The net it belongs to, to remove itself from.
    net: Weak<dyn Owner>,
    /// Whether it was removed.
    removed: AtomicBool,
}

impl Node {
    /// The node's name.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// assert_eq!(net.node("b").name(), "b");
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's first IPv4 address in declaration order, or else its first IPv6 address.
    ///
    /// # Panics
    /// If the node has no address at all (a switch without one, or a node with no links).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let to = std::net::SocketAddr::new(net.node("b").ip(), 7000);
    /// # }
    /// ```
    pub fn ip(&self) -> IpAddr {
        let ips = self.ips();
        ips.iter()
            .find(|ip| ip.is_ipv4())
            .or_else(|| ips.first())
            .copied()
            .unwrap_or_else(|| {
                self.assert_alive("Node::ip");
                panic!("netns-test: node `{}` has no address", self.name)
            })
    }

    /// Every address of the node, in declaration order (then those added by
    /// [`Node::add_address`], less those removed).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let v6 = net.node("b").ips().into_iter().find(|ip| ip.is_ipv6());
    /// # }
    /// ```
    pub fn ips(&self) -> Vec<IpAddr> {
        self.names.addresses(self.index)
    }

    /// Runs `f` on a new thread inside this node and returns what it returns. A panic in `f`
    /// is resumed in the caller.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> std::io::Result<()> {
    /// let b = net.node("b");
    /// // A socket made inside b stays b's, whichever thread uses it later.
    /// let listener = b.run(|| std::net::TcpListener::bind((b.ip(), 7000)))?;
    /// # Ok(()) }
    /// ```
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.assert_alive("Node::run");
        let view = self
            .view()
            .unwrap_or_else(|e| panic!("netns-test: cannot make node `{}`'s view: {e}", self.name));
        self.in_netns(move || {
            view::enter(&view).unwrap_or_else(|e| {
                panic!("netns-test: cannot enter node `{}`'s view: {e}", self.name)
            });
            f()
        })
    }

    /// Runs `f` on a new thread inside this node's network namespace only (the library's own
    /// netlink work, which needs no names).
    pub(crate) fn in_netns<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        std::thread::scope(|scope| {
            let handle = scope.spawn(|| {
                namespace::enter(&*self.ns()).unwrap_or_else(|e| {
                    panic!("netns-test: cannot enter node `{}`: {e}", self.name)
                });
                f()
            });
            match handle.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Spawns `fut` on a tokio runtime whose threads all live inside this node. The runtime is
    /// made on first use and shut down when the [`Net`](crate::Net) is dropped.
    ///
    /// ```no_run
    /// # async fn demo(net: &netns_test::Net) {
    /// let b = net.node("b");
    /// let ip = b.ip();
    /// let server = b.spawn(async move {
    ///     let listener = tokio::net::TcpListener::bind((ip, 7000)).await.unwrap();
    ///     listener.accept().await.map(|(_, peer)| peer)
    /// });
    /// # }
    /// ```
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.assert_alive("Node::spawn");
        let mut runtime = self.runtime();
        let runtime = runtime.get_or_insert_with(|| {
            self.runtime_with(true, 1).unwrap_or_else(|e| {
                panic!(
                    "netns-test: cannot start a runtime in node `{}`: {e}",
                    self.name
                )
            })
        });
        runtime.spawn(fut)
    }

    /// The `index`th node as built: its name, namespace, the net's process flag and the net's
    /// names.
    pub(crate) fn new(
        (index, spec): (usize, &NodeSpec),
        ns: OwnedFd,
        inode: u64,
        commands: Arc<AtomicBool>,
        names: Arc<Names>,
        net: Weak<dyn Owner>,
    ) -> Node {
        let middlebox =
            (spec.nat.is_some() || !spec.firewalls.is_empty()).then(|| Arc::new(spec.clone()));
        Node {
            name: spec.name.clone(),
            index,
            ns: Mutex::new(Some(Arc::new(ns))),
            inode,
            runtime: Mutex::new(None),
            commands,
            middlebox: Mutex::new(middlebox),
            names,
            view: Mutex::new(None),
            net,
            removed: AtomicBool::new(false),
        }
    }

    /// Whether the node was removed ([`Node::remove`]).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// let old = net.node("router");
    /// old.remove()?;
    /// assert!(old.is_removed() && net.try_node("router").is_none());
    /// # Ok(()) }
    /// ```
    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    /// An error if the node was removed.
    pub(crate) fn alive(&self, operation: &str) -> Result<(), Error> {
        if self.is_removed() {
            return Err(Error::removed(operation, &format!("node `{}`", self.name)));
        }
        Ok(())
    }

    /// Panics if the node was removed, for the calls that answer no `Result`.
    fn assert_alive(&self, call: &str) {
        if self.is_removed() {
            panic!(
                "netns-test: {call} on node `{}`, which was removed from the running topology",
                self.name
            );
        }
    }

    /// Marks the node removed: from now on its handle answers so.
    pub(crate) fn mark_removed(&self) {
        self.removed.store(true, Ordering::Release);
    }

    /// The net, for a change made through the node.
    pub(crate) fn net(&self) -> Option<Arc<dyn Owner>> {
        self.net.upgrade()
    }

    /// Its place among the net's nodes.
    pub(crate) fn slot(&self) -> usize {
        self.index
    }

    /// Replaces what the failure dump and the counters know of its NAT and firewall.
    pub(crate) fn set_middlebox(&self, spec: &NodeSpec) {
        let middlebox =
            (spec.nat.is_some() || !spec.firewalls.is_empty()).then(|| Arc::new(spec.clone()));
        *self.middlebox.lock().unwrap_or_else(|e| e.into_inner()) = middlebox;
    }

    /// This node's interfaces as the kernel holds them now: index, name, MAC, MTU, state and
    /// addresses, in index order (`lo` first).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// let eth0 = net.node("b").interfaces()?.into_iter().find(|i| i.name == "eth0").unwrap();
    /// assert_eq!(eth0.mtu, 1500);
    /// # Ok(()) }
    /// ```
    pub fn interfaces(&self) -> Result<Vec<InterfaceState>, Error> {
        self.alive("reading the node's interfaces")?;
        self.in_netns(|| {
            let mut socket = crate::sys::netlink::Socket::open()?;
            crate::interfaces::read(&mut socket)
        })
        .map_err(|e| Error::io("reading the node's interfaces", e).on_node(&self.name))
    }

    /// A [`std::process::Command`] whose process runs inside this node: it sees the node's
    /// interfaces in `/proc/net` and `/sys/class/net`, and is killed when the [`Net`](crate::Net) is dropped.
    ///
    /// For async code, `tokio::process::Command::from` it (tokio's `process` feature): what
    /// this sets up, entering the node, goes along.
    ///
    /// ```no_run
    /// # async fn demo(net: &netns_test::Net) -> std::io::Result<()> {
    /// let status = net.node("b").command("ip").args(["addr", "show"]).status()?;
    /// let mut ls = tokio::process::Command::from(net.node("b").command("ls"));
    /// let output = ls.arg("/sys/class/net").output().await?; // b's interfaces
    /// # Ok(()) }
    /// ```
    pub fn command(&self, program: impl AsRef<OsStr>) -> std::process::Command {
        self.assert_alive("Node::command");
        self.commands.store(true, Ordering::Relaxed);
        let view = self
            .view()
            .unwrap_or_else(|e| panic!("netns-test: cannot make node `{}`'s view: {e}", self.name));
        command::command(self.ns(), view, program.as_ref())
    }

    /// A path naming this node's namespace while the [`Net`](crate::Net) lives, for `nsenter --net=PATH`
    /// or `ip netns exec`-like tools.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> std::io::Result<()> {
    /// let path = net.node("b").netns_path();
    /// std::process::Command::new("nsenter")
    ///     .arg(format!("--net={}", path.display()))
    ///     .args(["ip", "addr"])
    ///     .status()?;
    /// # Ok(()) }
    /// ```
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.ns().as_raw_fd()
        ))
    }

    /// The inode of this node's network namespace, as `stat -L /proc/thread-self/ns/net` shows
    /// it from a thread inside the node (compare with [`crate::current_netns_inode`]).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let b = net.node("b");
    /// assert_eq!(b.run(netns_test::current_netns_inode), b.netns_inode());
    /// # }
    /// ```
    pub fn netns_inode(&self) -> u64 {
        self.inode
    }

    /// Its namespace.
    ///
    /// # Panics
    /// If the node was removed (callers that answer a `Result` check first).
    pub(crate) fn ns(&self) -> Arc<OwnedFd> {
        let ns = self.ns.lock().unwrap_or_else(|e| e.into_inner());
        ns.clone().unwrap_or_else(|| {
            panic!(
                "netns-test: node `{}` was removed from the running topology",
                self.name
            )
        })
    }

    /// Lets go of what keeps the removed node's namespace alive: its descriptor, its view and
    /// its runtime (whose tasks are dropped, as a machine switched off stops its programs).
    pub(crate) fn release(&self) {
        self.ns.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.view.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(runtime) = self.runtime().take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("ips", &self.ips())
            .finish()
    }
}

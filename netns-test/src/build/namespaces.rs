//! The build's namespaces: one per node, made on up to one thread per core, each with a netlink
//! socket inside, handed over as they appear.

use std::os::fd::OwnedFd;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use netns_test_topology::Node;
use nix::errno::Errno;

use crate::error::Error;
use crate::sys::netlink::Socket;
use crate::sys::privilege::{self, Privilege};
use crate::sys::{namespace, sysctl};

/// Nodes per thread above which namespaces are made on several threads at once (one per core at
/// most). Creating a namespace is mostly kernel work that two threads overlap well (the
/// benchmark's floor rows show it); below this, a thread start buys nothing.
const NODES_PER_THREAD: usize = 4;

/// Creates one namespace per node (each with a netlink socket inside). With several creating
/// threads, `arrived` is called on this thread each time new namespaces have appeared in their
/// slots, so work that needs only those can start while the rest are still being made. Returns
/// them all, in node order.
pub(super) fn create_namespaces(
    nodes: &[Node],
    host: u64,
    home: u64,
    mut arrived: impl FnMut(&mut [Option<Fresh>]) -> Result<(), Error>,
) -> Result<Vec<Option<Fresh>>, Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = nodes.len().div_ceil(NODES_PER_THREAD).clamp(1, cores);
    let mut slots: Vec<Option<Fresh>> = nodes.iter().map(|_| None).collect();
    if threads == 1 {
        for (i, node) in nodes.iter().enumerate() {
            slots[i] = Some(create_one(node, i, host, home)?);
        }
    } else {
        // Thread t makes nodes t, t + threads, ...: namespaces appear roughly in node order, so
        // the steps between early nodes can go out early.
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<(usize, Result<Fresh, Error>)>();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let (tx, stop) = (tx.clone(), &stop);
                    scope.spawn(move || {
                        // A namespace is handed over only once this thread has made the next
                        // one from inside it: with net.core.devconf_inherit_init_net=3 a new
                        // namespace copies the settings of the one it is made from, and the
                        // build thread writes settings into the namespaces handed to it.
                        let mut made: Option<(usize, Fresh)> = None;
                        for i in (t..nodes.len()).step_by(threads) {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            let fresh = create_one(&nodes[i], i, host, home);
                            if let Some((j, previous)) = made.take()
                                && tx.send((j, Ok(previous))).is_err()
                            {
                                return;
                            }
                            match fresh {
                                Ok(fresh) => made = Some((i, fresh)),
                                Err(e) => {
                                    let _ = tx.send((i, Err(e)));
                                    return;
                                }
                            }
                        }
                        if let Some((i, fresh)) = made {
                            let _ = tx.send((i, Ok(fresh)));
                        }
                    })
                })
                .collect();
            drop(tx);
            let mut outcome = Ok(());
            while let Ok(first) = rx.recv() {
                // Everything that arrived meanwhile goes into one round of `arrived`.
                for (i, fresh) in std::iter::once(first).chain(rx.try_iter()) {
                    match fresh {
                        Ok(fresh) => slots[i] = Some(fresh),
                        Err(e) if outcome.is_ok() => outcome = Err(e),
                        Err(_) => {}
                    }
                }
                if outcome.is_ok() {
                    outcome = arrived(&mut slots);
                }
                if outcome.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            for worker in workers {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            }
            outcome
        })?;
    }
    Ok(slots)
}

/// A node's new namespace, its inode, its netlink socket, and whether it came with forwarding on.
pub(super) struct Fresh {
    /// The descriptor that keeps the namespace alive.
    pub ns: OwnedFd,
    /// Its inode.
    pub inode: u64,
    /// A netlink socket inside it.
    pub socket: Socket,
    /// Whether it came with forwarding on (read in the first node only).
    pub inherited_forwarding: bool,
}

/// Creates the namespace of `node` (number `index`) on the calling thread, which stays in it.
fn create_one(node: &Node, index: usize, host: u64, home: u64) -> Result<Fresh, Error> {
    let fd = namespace::create_and_enter().map_err(|(errno, retries)| {
        let error = namespace_error(errno, &node.name);
        if retries > 0 {
            error.with_hint(format!(
                "the kernel kept refusing after {retries} retries over about 0.25 s; run fewer \
                 tests at once (`--test-threads`)"
            ))
        } else {
            error
        }
    })?;
    let inode = namespace::inode(&fd).map_err(|e| Error::io("reading a new namespace", e))?;
    namespace::ensure_new(inode, home, host).map_err(|e| e.on_node(&node.name))?;
    // A switch's bridge makes its own link-local address (the plan gives every other node's
    // interfaces theirs, without detection: see `plan::link_local`), and must not wait to use
    // it. Written before any interface exists, so the bridge inherits it. `all` counts too when
    // the host lets new namespaces inherit it (net.core.devconf_inherit_init_net).
    if node.is_switch {
        for key in [
            "net.ipv6.conf.default.accept_dad",
            "net.ipv6.conf.all.accept_dad",
        ] {
            sysctl::write(key, "0", true).map_err(|e| e.on_node(&node.name))?;
        }
    }
    // New namespaces may inherit forwarding (net.core.devconf_inherit_init_net), all in the
    // same way: the first tells, and forwarding is reset where the topology did not ask for it.
    let inherited = index == 0
        && ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]
            .iter()
            .any(|k| sysctl::is_on(k));
    let socket =
        Socket::open().map_err(|e| Error::io("opening a netlink socket", e).on_node(&node.name))?;
    Ok(Fresh {
        ns: fd,
        inode,
        socket,
        inherited_forwarding: inherited,
    })
}

/// Why a namespace could not be made, and what to do.
fn namespace_error(errno: Errno, node: &str) -> Error {
    let operation = format!("node `{node}`: creating a network namespace");
    match (errno, privilege::privilege()) {
        (Errno::EPERM | Errno::EACCES, Privilege::Root) => Error::unsupported(
            operation,
            Some(errno),
            "this process lacks CAP_SYS_ADMIN and NET_ADMIN, and NETNS_TEST_MODE=root forbids a \
             user namespace: unset NETNS_TEST_MODE (or set it to auto or userns) to run \
             rootless, run the tests as root, or in a container add `--cap-add SYS_ADMIN \
             --cap-add NET_ADMIN`"
                .into(),
        ),
        (Errno::EPERM | Errno::EACCES, Privilege::UserNamespace { .. }) => {
            let reason = match privilege::unsupported_after_userns(errno) {
                Privilege::Unsupported { reason, .. } => reason,
                _ => String::new(),
            };
            Error::unsupported(operation, Some(errno), reason)
        }
        _ => Error::kernel("creating the node's network namespace", errno, None).on_node(node),
    }
}

/// Open files a build needs per node: the namespace's descriptor and its netlink socket.
const FILES_PER_NODE: u64 = 2;

/// Open files kept free for everything else (the relay, the names, the test's own sockets).
const SPARE_FILES: u64 = 256;

/// Namespaces are held by descriptors: a build of `nodes` nodes needs [`FILES_PER_NODE`] each.
/// Raises the soft limit to the hard one once per process, as Go's runtime does; then, if the
/// build would still run out, says so before anything is made, with the numbers and the fix.
pub(super) fn check_open_file_limit(nodes: usize) -> Result<(), Error> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
            && soft < hard
        {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    });
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(());
    };
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let needed = open + FILES_PER_NODE * nodes as u64 + SPARE_FILES;
    if needed <= soft {
        return Ok(());
    }
    Err(Error::unsupported(
        format!("building {nodes} nodes"),
        Some(Errno::EMFILE),
        format!(
            "the build needs about {needed} open files ({FILES_PER_NODE} per node, {open} open \
             already, {SPARE_FILES} spare) but this process may open {soft} (hard limit \
             {hard}): raise the limit before the tests start, e.g. `ulimit -n {needed}` in the \
             shell (as root, or after raising the hard limit in /etc/security/limits.conf), \
             `LimitNOFILE={needed}` for a systemd unit, or `--ulimit nofile={needed}` for docker"
        ),
    ))
}

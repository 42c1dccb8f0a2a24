//! The process's relay, which carries conditioned links' traffic, for kernels without
//! `sch_netem` (and with it, for the same behaviour everywhere).
//!
//! A conditioned link `a -- b` is two veth pairs: `a`'s interface pairs with a port in the
//! relay's namespace, and so does `b`'s. Each node sees an ordinary veth with its addresses and
//! MTU. The relay's worker reads every frame arriving at a port (a packet socket with virtio-net
//! headers, so offloaded 64 KiB TCP bursts cross as one frame), decides its fate ([`fate`]),
//! holds it until its time, and sends it out of the link's other port.
//!
//! One relay serves the whole process: one namespace, one packet socket bound to all its ports,
//! one thread, made on the first conditioned build. Closing a packet socket costs the kernel a
//! grace period, which a relay per topology would pay at every drop; ports, by contrast, cost
//! what any veth costs, and vanish with their node's namespace.
//!
//! No `/dev/net/tun` is needed (on many hosts only root may open it), so it works rootless too.

mod control;
pub(crate) mod fate;
mod flow;
mod frame;
mod worker;

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::conditions::Wire;
use crate::error::Error;
use crate::sys::namespace;
use crate::sys::packet::PacketSocket;
use crate::sys::sysctl;
use control::{Control, LinkControl};

/// Socket buffers asked for on the relay's socket.
const SOCKET_BUFFER: usize = 16 << 20;
/// The first interface index handed to relay ports: far above any node's (see `plan`), so a
/// port never has its peer's index (the kernel would delay such a pair's link events).
const FIRST_PORT_INDEX: u32 = 1 << 20;
/// The name errors give the relay where they would give a node's.
const NAME: &str = "(link relay)";

/// The process's relay: its namespace, its socket and its worker's controls.
pub(crate) struct Relay {
    ns: OwnedFd,
    socket: PacketSocket,
    control: Control,
    next_index: AtomicU32,
    next_id: AtomicU64,
    /// Whether the worker thread runs (a failed start is tried again by the next caller).
    started: AtomicBool,
}

/// The relay, made on first use. A failure is returned, not kept: the next conditioned build
/// tries again (the cause may pass, as a namespace limit does).
pub(crate) fn get() -> Result<&'static Relay, Error> {
    static RELAY: OnceLock<Relay> = OnceLock::new();
    static MAKING: Mutex<()> = Mutex::new(());
    if let Some(relay) = RELAY.get().filter(|r| r.started.load(Ordering::Acquire)) {
        return Ok(relay);
    }
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let relay = match RELAY.get() {
        Some(relay) => relay,
        None => {
            // Made on a thread of its own, which moves into the new namespace and ends.
            let made = std::thread::scope(|scope| {
                scope
                    .spawn(make)
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .map_err(|e| e.on_node(NAME))?;
            RELAY.get_or_init(|| made)
        }
    };
    if !relay.started.load(Ordering::Acquire) {
        worker::start(relay)
            .map_err(|e| Error::io("starting the relay's thread", e).on_node(NAME))?;
        relay.started.store(true, Ordering::Release);
    }
    Ok(relay)
}

fn make() -> Result<Relay, Error> {
    let home = namespace::current_inode()
        .map_err(|e| Error::io("reading the current network namespace", e))?;
    let ns = namespace::create_and_enter().map_err(|(errno, _)| {
        Error::kernel(
            "creating the namespace of the conditioned links' relay",
            errno,
            None,
        )
    })?;
    let inode = namespace::inode(&ns).map_err(|e| Error::io("reading a new namespace", e))?;
    namespace::ensure_new(inode, home, namespace::host_inode())?;
    // IPv6 off before any port exists: the ports never send solicitations or multicast reports
    // into the nodes' links. (A kernel without IPv6 has no such setting, and needs none.)
    for key in [
        "net.ipv6.conf.all.disable_ipv6",
        "net.ipv6.conf.default.disable_ipv6",
    ] {
        sysctl::write(key, "1", true)?;
    }
    let socket = PacketSocket::open(SOCKET_BUFFER)
        .and_then(|s| s.relay_mode().map(|()| s))
        .map_err(|e| {
            let error = Error::io("opening the relay's packet socket", e);
            if error.errno() == Some(libc::EAFNOSUPPORT) {
                error
                    .with_hint("conditioned links need packet sockets: a kernel with CONFIG_PACKET")
            } else {
                error
            }
        })?;
    let control = Control::new().map_err(|e| Error::io("making the relay's eventfd", e))?;
    Ok(Relay {
        ns,
        socket,
        control,
        next_index: AtomicU32::new(FIRST_PORT_INDEX),
        next_id: AtomicU64::new(1),
        started: AtomicBool::new(false),
    })
}

impl Relay {
    /// The relay's namespace, where a build creates the ports.
    pub fn ns(&self) -> &OwnedFd {
        &self.ns
    }

    /// Reserves `count` consecutive interface indexes for ports, never handed out before in this
    /// process, and returns the first.
    pub fn reserve_ports(&self, count: u32) -> u32 {
        self.next_index.fetch_add(count, Ordering::Relaxed)
    }

    /// Starts carrying a link's frames between the ports with indexes `ports` (paired with the
    /// link's ends 0 and 1) under `wire`, with random choices from `seed`, until the returned
    /// handle drops.
    pub fn carry(&'static self, ports: [u32; 2], wire: Wire, seed: u64) -> io::Result<RelayedLink> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = LinkControl {
            ports,
            wire,
            down: [false; 2],
            seed,
        };
        self.control.change(|links| {
            links.insert(id, state);
        })?;
        Ok(RelayedLink {
            relay: self,
            id,
            seed,
        })
    }
}

/// Port names in the relay's namespace: unique, because indexes are.
pub(crate) fn port_name(index: u32) -> String {
    format!("r{index}")
}

/// One conditioned link's share of the relay: the relay stops carrying it when this drops.
pub(crate) struct RelayedLink {
    relay: &'static Relay,
    id: u64,
    seed: u64,
}

impl RelayedLink {
    /// The seed of the link's random choices.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The conditions in force.
    pub fn wire(&self) -> Wire {
        self.relay.control.get(self.id).wire
    }

    /// Per side, whether frames sent by that end are cut.
    pub fn cut(&self) -> [bool; 2] {
        self.relay.control.get(self.id).down
    }

    /// Sets the conditions.
    pub fn set_wire(&self, wire: Wire) -> io::Result<()> {
        self.relay.control.change(|links| {
            if let Some(l) = links.get_mut(&self.id) {
                l.wire = wire;
            }
        })
    }

    /// Stops carrying the link now (its ports are about to go).
    pub fn forget(&self) -> io::Result<()> {
        self.relay.control.change(|links| {
            links.remove(&self.id);
        })
    }

    /// Cuts or mends each direction (by the side that sends it).
    pub fn set_cut(&self, down: [bool; 2]) -> io::Result<()> {
        self.relay.control.change(|links| {
            if let Some(l) = links.get_mut(&self.id) {
                l.down = down;
            }
        })
    }
}

impl Drop for RelayedLink {
    fn drop(&mut self) {
        // Its ports vanish with the nodes' namespaces; the worker forgets them first.
        let _ = self.relay.control.change(|links| {
            links.remove(&self.id);
        });
    }
}

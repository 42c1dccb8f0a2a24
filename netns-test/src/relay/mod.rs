//! The relay that carries conditioned links' traffic, for kernels without `sch_netem` (and
//! with it, for the same behaviour everywhere).
//!
//! A conditioned link `a -- b` is two veth pairs: `a`'s interface pairs with a port in the
//! relay namespace, and so does `b`'s. Each node sees an ordinary veth with its addresses and
//! MTU. The relay reads every frame arriving at a port (an `AF_PACKET` socket with virtio-net
//! headers, so offloaded 64 KiB TCP bursts cross as one frame), decides its fate
//! (`conditions.rs`), holds it until its time, and sends it out of the link's other port.
//!
//! One relay serves the whole process: one namespace, one packet socket bound to all its ports,
//! one thread, made on the first conditioned build. Closing a packet socket costs the kernel a
//! grace period (about 15 ms here), which a relay per topology paid at every drop; ports, by
//! contrast, cost what any veth costs, and vanish with their node's namespace.
//!
//! No `/dev/net/tun` is needed (on many hosts only root may open it), so it works rootless too.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::conditions::{self, Wire};
use crate::error::Error;
use crate::namespace;

/// Size of the virtio-net header in front of every frame (`struct virtio_net_hdr`).
const VNET_HDR: usize = 10;
/// The largest frame: a 64 KiB offloaded burst plus its Ethernet and virtio-net headers.
const FRAME_MAX: usize = VNET_HDR + 65_536 + 64;
/// Frames held per direction at most while a rate limits the link (as netem's default limit),
/// so a bulk sender sees a queue of realistic depth.
const RATE_QUEUE_FRAMES: usize = 1_000;
/// Frames held per direction at most otherwise (a delay line at 1 Gbit/s and 50 ms holds ~4,200
/// full-size frames).
const DELAY_QUEUE_FRAMES: usize = 50_000;
/// Bytes held per direction at most, whatever the frame count.
const QUEUE_BYTES: usize = 64 << 20;
/// Frames read per wake-up before due frames get their turn.
const BURST: usize = 64;
/// Socket buffers asked for on the relay's socket.
const SOCKET_BUFFER: usize = 16 << 20;
/// Flows remembered per direction before their packet counters start over.
const MAX_FLOWS: usize = 1 << 16;
/// The first interface index handed to relay ports: far above any node's (see plan.rs), so a
/// port never has its peer's index (the kernel would delay such a pair's link events).
const FIRST_PORT_INDEX: u32 = 1 << 20;

const SOL_PACKET: libc::c_int = 263;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const ETH_P_ALL: u16 = 0x0003;

/// The process's relay: its namespace, its socket and the thread's controls.
pub(crate) struct Host {
    ns: OwnedFd,
    socket: OwnedFd,
    control: Control,
    next_index: AtomicU32,
    next_id: AtomicU64,
}

/// The relay, made on first use. A failure is returned, not kept: the next conditioned build
/// tries again (the cause may pass, as a namespace limit does).
pub(crate) fn host() -> Result<&'static Host, Error> {
    static HOST: OnceLock<&'static Host> = OnceLock::new();
    static MAKING: Mutex<()> = Mutex::new(());
    if let Some(host) = HOST.get() {
        return Ok(host);
    }
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(host) = HOST.get() {
        return Ok(host);
    }
    // Made on a thread of its own, which moves into the new namespace and ends.
    let made = std::thread::scope(|scope| {
        scope
            .spawn(make_host)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
    .map_err(|e| e.on_node("(link relay)"))?;
    // It lives as long as the process: its thread refers to it.
    let host: &'static Host = Box::leak(Box::new(made));
    if let Err(e) = start(host) {
        // SAFETY: no thread was started, so nothing else refers to `host`.
        drop(unsafe { Box::from_raw(std::ptr::from_ref(host).cast_mut()) });
        return Err(e.on_node("(link relay)"));
    }
    Ok(HOST.get_or_init(|| host))
}

fn make_host() -> Result<Host, Error> {
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
        crate::build::write_sysctl(key, "1", true)?;
    }
    let socket = open_socket().map_err(|e| {
        let error = Error::io("opening the relay's packet socket", e);
        if error.errno() == Some(libc::EAFNOSUPPORT) {
            error.with_hint("conditioned links need packet sockets: a kernel with CONFIG_PACKET")
        } else {
            error
        }
    })?;
    // SAFETY: no pointer is passed; the result is checked before use.
    let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if wake < 0 {
        return Err(Error::io(
            "making the relay's eventfd",
            io::Error::last_os_error(),
        ));
    }
    let host = Host {
        ns,
        socket,
        control: Control {
            links: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            seen: Mutex::new(0),
            applied: Condvar::new(),
            // SAFETY: a fresh descriptor from eventfd, owned by nothing else.
            wake: unsafe { OwnedFd::from_raw_fd(wake) },
            dead: AtomicBool::new(false),
        },
        next_index: AtomicU32::new(FIRST_PORT_INDEX),
        next_id: AtomicU64::new(1),
    };
    Ok(host)
}

/// Starts the relay's thread from a thread inside the relay's namespace, so that is where it
/// lives: a thread holds its namespace alive, and the caller may be in a node's.
fn start(host: &'static Host) -> Result<(), Error> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                namespace::enter(&host.ns)?;
                std::thread::Builder::new()
                    .name("netns-test-relay".into())
                    .spawn(move || {
                        Worker::new(host).run();
                        host.control.dead.store(true, Ordering::Release);
                        host.control.applied.notify_all();
                    })
                    .map(drop)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
    .map_err(|e| Error::io("starting the relay's thread", e))
}

/// A packet socket that sees every frame arriving at any port of the calling thread's namespace.
fn open_socket() -> io::Result<OwnedFd> {
    // SAFETY: no pointer is passed; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ALL.to_be()),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor from socket, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int(raw, SOL_PACKET, PACKET_VNET_HDR, 1)?;
    // Our own sends would otherwise come back to us as outgoing frames.
    set_int(raw, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{e} (PACKET_IGNORE_OUTGOING needs Linux 4.20 or later)"),
        )
    })?;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        // Forced past the system limit where we may (root); else as much as it allows.
        if set_int(raw, libc::SOL_SOCKET, force, SOCKET_BUFFER as i32).is_err() {
            let _ = set_int(raw, libc::SOL_SOCKET, plain, SOCKET_BUFFER as i32);
        }
    }
    Ok(fd)
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: i32) -> io::Result<()> {
    // SAFETY: `value` lives across the call and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<i32>() as u32,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Host {
    /// The relay's namespace, where a build creates the ports.
    pub fn ns(&self) -> &OwnedFd {
        &self.ns
    }

    /// A fresh interface index for a port, never handed out before in this process.
    pub fn port_index(&self) -> u32 {
        self.next_index.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts relaying between the ports with indexes `ports` (paired with a link's ends 0 and
    /// 1) under `wire`, with random choices from `seed`, until the returned handle drops.
    pub fn relay(&'static self, ports: [u32; 2], wire: Wire, seed: u64) -> io::Result<Relay> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let relay = Relay {
            host: self,
            id,
            seed,
        };
        let state = LinkControl {
            ports,
            wire,
            down: false,
            seed,
        };
        self.control.change(|links| {
            links.insert(id, state);
        })?;
        Ok(relay)
    }
}

/// Port names in the relay namespace: unique, because indexes are.
pub(crate) fn port_name(index: u32) -> String {
    format!("r{index}")
}

/// What the caller controls of one link, shared with the relay thread.
#[derive(Debug, Clone, Copy)]
struct LinkControl {
    ports: [u32; 2],
    wire: Wire,
    down: bool,
    seed: u64,
}

struct Control {
    links: Mutex<HashMap<u64, LinkControl>>,
    /// Bumped by every change; the thread re-reads `links` when it differs from what it saw.
    generation: AtomicU64,
    /// The generation the thread has applied, announced on `applied`.
    seen: Mutex<u64>,
    applied: Condvar,
    /// An eventfd that wakes the thread from its wait.
    wake: OwnedFd,
    /// Set if the thread died (it cannot, short of a bug); changes then fail instead of hanging.
    dead: AtomicBool,
}

impl Control {
    /// Changes the links and returns once the thread has applied the change: after a link is
    /// cut, no frame of it crosses, not even one that was in flight.
    fn change(&self, f: impl FnOnce(&mut HashMap<u64, LinkControl>)) -> io::Result<()> {
        let generation = {
            let mut links = self.links.lock().expect("relay links");
            f(&mut links);
            self.generation.fetch_add(1, Ordering::AcqRel) + 1
        };
        wake(&self.wake);
        let seen = self.seen.lock().expect("relay seen");
        let (_seen, timeout) = self
            .applied
            .wait_timeout_while(seen, Duration::from_secs(5), |seen| {
                *seen < generation && !self.dead.load(Ordering::Acquire)
            })
            .expect("relay seen");
        if timeout.timed_out() || self.dead.load(Ordering::Acquire) {
            return Err(io::Error::other("the link relay's thread does not answer"));
        }
        Ok(())
    }

    fn get(&self, id: u64) -> LinkControl {
        self.links.lock().expect("relay links")[&id]
    }
}

/// One link's share of the relay: stops relaying it when dropped.
pub(crate) struct Relay {
    host: &'static Host,
    id: u64,
    seed: u64,
}

impl Relay {
    /// The seed of the link's random choices.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The conditions in force.
    pub fn wire(&self) -> Wire {
        self.host.control.get(self.id).wire
    }

    /// Whether the link is cut.
    pub fn is_down(&self) -> bool {
        self.host.control.get(self.id).down
    }

    /// Sets the conditions.
    pub fn set_wire(&self, wire: Wire) -> io::Result<()> {
        self.host.control.change(|links| {
            if let Some(l) = links.get_mut(&self.id) {
                l.wire = wire;
            }
        })
    }

    /// Cuts or mends the link.
    pub fn set_down(&self, down: bool) -> io::Result<()> {
        self.host.control.change(|links| {
            if let Some(l) = links.get_mut(&self.id) {
                l.down = down;
            }
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Its ports vanish with the nodes' namespaces; the thread forgets them first.
        let _ = self.host.control.change(|links| {
            links.remove(&self.id);
        });
    }
}

fn wake(fd: &OwnedFd) {
    let one: u64 = 1;
    // A full counter (never, in practice) still wakes the thread.
    // SAFETY: writes the 8 bytes of `one`, which lives across the call.
    let _ = unsafe { libc::write(fd.as_raw_fd(), (&raw const one).cast(), 8) };
}

/// One direction of the link: frames read on one port, waiting to leave by the other.
struct Lane {
    direction: u8,
    queue: VecDeque<(u64, Vec<u8>)>,
    bytes: usize,
    /// When the wire is free again (rate), and when the last queued frame leaves (order).
    wire_free: u64,
    last_due: u64,
    flows: HashMap<u64, u64>,
}

impl Lane {
    fn new(direction: u8) -> Lane {
        Lane {
            direction,
            queue: VecDeque::new(),
            bytes: 0,
            wire_free: 0,
            last_due: 0,
            flows: HashMap::new(),
        }
    }

    fn flush(&mut self) {
        self.queue.clear();
        self.bytes = 0;
    }

    /// Decides the fate of `frame` (virtio-net header first) read at `now`: `None` if lost,
    /// else when it leaves.
    fn fate(&mut self, frame: &[u8], now: u64, wire: &Wire, seed: u64) -> Option<u64> {
        let flow = conditions::flow_of(&frame[VNET_HDR..]);
        if self.flows.len() >= MAX_FLOWS && !self.flows.contains_key(&flow) {
            self.flows.clear();
        }
        let counter = self.flows.entry(flow).or_insert(0);
        let n = *counter;
        *counter += 1;
        let (loss, jitter) = conditions::draws(seed, self.direction, flow, n);
        if wire.lost(loss) {
            return None;
        }
        let limit = if wire.rate_bps.is_some() {
            RATE_QUEUE_FRAMES
        } else {
            DELAY_QUEUE_FRAMES
        };
        if self.queue.len() >= limit || self.bytes + frame.len() > QUEUE_BYTES {
            return None; // tail drop, as a full queue does
        }
        let sent = match wire.rate_bps {
            Some(bps) => {
                let bits = ((frame.len() - VNET_HDR) * 8) as u128;
                let start = self.wire_free.max(now);
                self.wire_free = start + (bits * 1_000_000_000 / u128::from(bps)) as u64;
                self.wire_free
            }
            None => now,
        };
        // Never before the frame ahead of it: jitter does not reorder.
        let due = (sent + wire.delay_of(jitter)).max(self.last_due);
        self.last_due = due;
        Some(due)
    }
}

/// A link as the thread runs it.
struct Active {
    control: LinkControl,
    /// Lane `s` carries frames that arrived at port `s` toward port `1 - s`.
    lanes: [Lane; 2],
}

struct Worker {
    host: &'static Host,
    links: HashMap<u64, Active>,
    /// Port index to (link id, side).
    ports: HashMap<u32, (u64, usize)>,
    generation: u64,
    epoch: Instant,
    buf: Vec<u8>,
}

impl Worker {
    fn new(host: &'static Host) -> Worker {
        Worker {
            host,
            links: HashMap::new(),
            ports: HashMap::new(),
            generation: 0,
            epoch: Instant::now(),
            buf: vec![0; FRAME_MAX],
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Takes in what callers changed.
    fn sync(&mut self) {
        let control = &self.host.control;
        let generation = control.generation.load(Ordering::Acquire);
        if generation == self.generation {
            return;
        }
        {
            let wanted = control.links.lock().expect("relay links");
            self.links.retain(|id, _| wanted.contains_key(id));
            self.ports.retain(|_, (id, _)| wanted.contains_key(id));
            for (&id, &c) in wanted.iter() {
                let active = self.links.entry(id).or_insert_with(|| Active {
                    control: c,
                    lanes: [Lane::new(0), Lane::new(1)],
                });
                if c.down && !active.control.down {
                    // Frames in flight die with the cable.
                    active.lanes.iter_mut().for_each(Lane::flush);
                }
                active.control = c;
                for (side, &port) in c.ports.iter().enumerate() {
                    self.ports.insert(port, (id, side));
                }
            }
        }
        self.generation = generation;
        *control.seen.lock().expect("relay seen") = generation;
        control.applied.notify_all();
    }

    fn run(&mut self) {
        let socket = self.host.socket.as_raw_fd();
        let wake = self.host.control.wake.as_raw_fd();
        loop {
            self.sync();
            let now = self.now();
            self.deliver(now);
            let next = self
                .links
                .values()
                .flat_map(|l| l.lanes.iter().filter_map(|lane| lane.queue.front()))
                .map(|f| f.0)
                .min();
            let timeout = next.map(|due| due.saturating_sub(self.now()));
            let mut fds = [poll_in(socket), poll_in(wake)];
            let spec = timeout.map(|ns| libc::timespec {
                tv_sec: (ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (ns % 1_000_000_000) as libc::c_long,
            });
            // SAFETY: `fds` and `spec` live across the call; the length is `fds`'.
            let rc = unsafe {
                libc::ppoll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    spec.as_ref().map_or(std::ptr::null(), |t| t as *const _),
                    std::ptr::null(),
                )
            };
            if rc < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            if fds[1].revents != 0 {
                let mut count = 0u64;
                // SAFETY: reads at most the 8 bytes of `count`.
                let _ = unsafe { libc::read(wake, (&raw mut count).cast(), 8) };
                self.sync();
            }
            if fds[0].revents & libc::POLLIN != 0 {
                self.receive(socket);
            }
        }
    }

    /// Reads up to `BURST` frames and queues (or drops) each.
    fn receive(&mut self, socket: RawFd) {
        for _ in 0..BURST {
            // SAFETY: a plain C struct, valid all zeros.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: the buffer and address live across the call, with their sizes passed.
            let n = unsafe {
                libc::recvfrom(
                    socket,
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_DONTWAIT,
                    (&raw mut from).cast(),
                    &mut len,
                )
            };
            if n <= VNET_HDR as isize {
                return; // EAGAIN, or nothing a frame could be
            }
            let Some(&(id, side)) = self.ports.get(&(from.sll_ifindex as u32)) else {
                continue; // a port not (or no longer) relayed
            };
            let now = self.now();
            let frame = &self.buf[..n as usize];
            let link = self.links.get_mut(&id).expect("ports follow links");
            if link.control.down {
                continue;
            }
            let out = link.control.ports[1 - side];
            let lane = &mut link.lanes[side];
            let Some(due) = lane.fate(frame, now, &link.control.wire, link.control.seed) else {
                continue;
            };
            if due <= now && lane.queue.is_empty() {
                send(socket, out, frame);
            } else {
                lane.bytes += frame.len();
                lane.queue.push_back((due, frame.to_vec()));
            }
        }
    }

    /// Sends every queued frame that is due at `now`.
    fn deliver(&mut self, now: u64) {
        let socket = self.host.socket.as_raw_fd();
        for link in self.links.values_mut() {
            for (side, lane) in link.lanes.iter_mut().enumerate() {
                let out = link.control.ports[1 - side];
                while lane.queue.front().is_some_and(|f| f.0 <= now) {
                    let (_, frame) = lane.queue.pop_front().expect("front");
                    lane.bytes -= frame.len();
                    send(socket, out, &frame);
                }
            }
        }
    }
}

fn poll_in(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Sends one frame out of the port with index `port`. A refusal (the port is gone, no buffer)
/// loses the frame, as a wire would.
fn send(socket: RawFd, port: u32, frame: &[u8]) {
    // SAFETY: a plain C struct, valid all zeros.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_protocol = ETH_P_ALL.to_be();
    to.sll_ifindex = port as i32;
    // SAFETY: the frame and address live across the call, with their sizes passed.
    let _ = unsafe {
        libc::sendto(
            socket,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&raw const to).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Vec<u8> {
        vec![0; VNET_HDR + len]
    }

    #[test]
    fn rate_paces_frames_back_to_back_and_delay_adds_on_top() {
        let wire = Wire {
            delay_ns: 1_000,
            rate_bps: Some(8_000_000_000), // 1 byte per ns
            ..Default::default()
        };
        let mut lane = Lane::new(0);
        assert_eq!(lane.fate(&frame(100), 0, &wire, 1), Some(1_100));
        assert_eq!(lane.fate(&frame(100), 0, &wire, 1), Some(1_200));
        assert_eq!(
            lane.fate(&frame(100), 10_000, &wire, 1),
            Some(11_100),
            "an idle wire starts at once"
        );
    }

    #[test]
    fn jitter_never_reorders_a_lane() {
        let wire = Wire {
            delay_ns: 50_000,
            jitter_ns: 40_000,
            ..Default::default()
        };
        let mut lane = Lane::new(0);
        let dues: Vec<u64> = (0..1000)
            .map(|t| lane.fate(&frame(60), t * 10, &wire, 7).unwrap())
            .collect();
        assert!(dues.windows(2).all(|w| w[0] <= w[1]));
        assert!(
            dues.iter().any(|&d| d > 89_000),
            "the window's top is reached"
        );
    }

    #[test]
    fn a_full_rate_queue_drops_the_tail() {
        let wire = Wire {
            rate_bps: Some(1_000),
            ..Default::default()
        };
        let mut lane = Lane::new(0);
        for _ in 0..RATE_QUEUE_FRAMES {
            assert!(lane.fate(&frame(60), 0, &wire, 1).is_some());
            lane.queue.push_back((0, Vec::new()));
        }
        assert_eq!(lane.fate(&frame(60), 0, &wire, 1), None);
    }
}

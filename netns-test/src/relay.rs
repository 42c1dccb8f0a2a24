//! The relay that carries a conditioned link's traffic, for kernels without `sch_netem` (and
//! with it, for the same behaviour everywhere).
//!
//! A conditioned link `a -- b` is two veth pairs: `a`'s interface pairs with port 0 of a hidden
//! relay namespace, `b`'s with port 1. Each node sees an ordinary veth with its addresses and
//! MTU. One thread per link reads every frame arriving at either port (an `AF_PACKET` socket with
//! virtio-net headers, so offloaded 64 KiB TCP bursts cross as one frame), decides its fate
//! (`conditions.rs`), holds it until its time, and sends it out of the other port.
//!
//! No `/dev/net/tun` is needed (on many hosts only root may open it), so it works rootless too.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::conditions::{self, Wire};

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
/// Frames read from one port per wake-up before the other port gets its turn.
const BURST: usize = 64;
/// Socket buffers asked for on the relay's ports.
const PORT_BUFFER: usize = 4 << 20;
/// Flows remembered per direction before their packet counters start over.
const MAX_FLOWS: usize = 1 << 16;

const SOL_PACKET: libc::c_int = 263;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const ETH_P_ALL: u16 = 0x0003;

/// Opens the relay's socket on the port with index `ifindex`, in the calling thread's namespace.
pub(crate) fn open_port(ifindex: u32) -> io::Result<OwnedFd> {
    // Protocol 0 receives nothing until bound, so no frame of another port slips in.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int(raw, SOL_PACKET, PACKET_VNET_HDR, 1)?;
    // Our own sends would otherwise come back to us as outgoing frames.
    set_int(raw, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)?;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        // Forced past the system limit where we may (root); else as much as it allows.
        if set_int(raw, libc::SOL_SOCKET, force, PORT_BUFFER as i32).is_err() {
            let _ = set_int(raw, libc::SOL_SOCKET, plain, PORT_BUFFER as i32);
        }
    }
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETH_P_ALL.to_be();
    addr.sll_ifindex = ifindex as i32;
    let rc = unsafe {
        libc::bind(
            raw,
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: i32) -> io::Result<()> {
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

/// What the caller controls, shared with the relay thread.
struct State {
    wire: Wire,
    down: bool,
    stop: bool,
}

struct Control {
    state: Mutex<State>,
    /// Bumped by every change; the thread re-reads `state` when it differs from what it saw.
    generation: AtomicU64,
    /// The generation the thread has applied, under `state`'s lock, announced on `applied`.
    seen: Mutex<u64>,
    applied: Condvar,
    /// An eventfd that wakes the thread from its wait.
    wake: OwnedFd,
    /// Set if the thread died (it cannot, short of a bug); changes then fail instead of hanging.
    dead: AtomicBool,
}

/// A running relay: stops, and its thread ends, when dropped.
pub(crate) struct Relay {
    control: Arc<Control>,
    /// In a mutex only so that a `Net` stays `RefUnwindSafe` (a `JoinHandle` is not).
    thread: Mutex<Option<JoinHandle<()>>>,
    seed: u64,
}

impl Relay {
    /// Starts relaying between `ports` under `wire`, with random choices from `seed`.
    pub fn start(ports: [OwnedFd; 2], wire: Wire, seed: u64, name: &str) -> io::Result<Relay> {
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if wake < 0 {
            return Err(io::Error::last_os_error());
        }
        let control = Arc::new(Control {
            state: Mutex::new(State {
                wire,
                down: false,
                stop: false,
            }),
            generation: AtomicU64::new(0),
            seen: Mutex::new(0),
            applied: Condvar::new(),
            wake: unsafe { OwnedFd::from_raw_fd(wake) },
            dead: AtomicBool::new(false),
        });
        let shared = control.clone();
        let thread = std::thread::Builder::new()
            .name(format!("netns-test-relay {name}"))
            .spawn(move || {
                let mut relay = Worker::new(ports, seed, &shared);
                relay.run(&shared);
                shared.dead.store(true, Ordering::Release);
                shared.applied.notify_all();
            })?;
        Ok(Relay {
            control,
            thread: Mutex::new(Some(thread)),
            seed,
        })
    }

    /// The seed of the relay's random choices.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The conditions in force.
    pub fn wire(&self) -> Wire {
        self.control.state.lock().expect("relay state").wire
    }

    /// Whether the link is down.
    pub fn is_down(&self) -> bool {
        self.control.state.lock().expect("relay state").down
    }

    /// Changes the state and returns once the thread has applied it: after `set_down(true)`
    /// returns, no frame crosses, not even one that was in flight.
    fn change(&self, f: impl FnOnce(&mut State)) -> io::Result<()> {
        let generation = {
            let mut state = self.control.state.lock().expect("relay state");
            f(&mut state);
            self.control.generation.fetch_add(1, Ordering::AcqRel) + 1
        };
        wake(&self.control.wake);
        let seen = self.control.seen.lock().expect("relay seen");
        let (_seen, timeout) = self
            .control
            .applied
            .wait_timeout_while(seen, Duration::from_secs(5), |seen| {
                *seen < generation && !self.control.dead.load(Ordering::Acquire)
            })
            .expect("relay seen");
        if timeout.timed_out() || self.control.dead.load(Ordering::Acquire) {
            return Err(io::Error::other("the link's relay thread does not answer"));
        }
        Ok(())
    }

    /// Sets the conditions.
    pub fn set_wire(&self, wire: Wire) -> io::Result<()> {
        self.change(|s| s.wire = wire)
    }

    /// Cuts or mends the link.
    pub fn set_down(&self, down: bool) -> io::Result<()> {
        self.change(|s| s.down = down)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Ok(mut state) = self.control.state.lock() {
            state.stop = true;
        }
        self.control.generation.fetch_add(1, Ordering::AcqRel);
        wake(&self.control.wake);
        let thread = self.thread.get_mut().map_or(None, Option::take);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

fn wake(fd: &OwnedFd) {
    let one: u64 = 1;
    // A full counter (never, in practice) still wakes the thread.
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

struct Worker {
    ports: [OwnedFd; 2],
    lanes: [Lane; 2],
    seed: u64,
    wire: Wire,
    down: bool,
    generation: u64,
    epoch: Instant,
    buf: Vec<u8>,
}

impl Worker {
    fn new(ports: [OwnedFd; 2], seed: u64, control: &Control) -> Worker {
        let state = control.state.lock().expect("relay state");
        Worker {
            ports,
            lanes: [Lane::new(0), Lane::new(1)],
            seed,
            wire: state.wire,
            down: state.down,
            generation: 0,
            epoch: Instant::now(),
            buf: vec![0; FRAME_MAX],
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Takes in what the caller changed; false when told to stop.
    fn sync(&mut self, control: &Control) -> bool {
        let generation = control.generation.load(Ordering::Acquire);
        if generation == self.generation {
            return true;
        }
        let state = control.state.lock().expect("relay state");
        self.wire = state.wire;
        if state.down && !self.down {
            // Frames in flight die with the cable.
            self.lanes.iter_mut().for_each(Lane::flush);
        }
        self.down = state.down;
        let stop = state.stop;
        drop(state);
        self.generation = generation;
        *control.seen.lock().expect("relay seen") = generation;
        control.applied.notify_all();
        !stop
    }

    fn run(&mut self, control: &Control) {
        loop {
            if !self.sync(control) {
                return;
            }
            let now = self.now();
            for lane in 0..2 {
                self.deliver(lane, now);
            }
            let next = self
                .lanes
                .iter()
                .filter_map(|l| l.queue.front().map(|f| f.0))
                .min();
            let timeout = next.map(|due| due.saturating_sub(self.now()));
            let mut fds = [
                poll_in(self.ports[0].as_raw_fd()),
                poll_in(self.ports[1].as_raw_fd()),
                poll_in(control.wake.as_raw_fd()),
            ];
            let spec = timeout.map(|ns| libc::timespec {
                tv_sec: (ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (ns % 1_000_000_000) as libc::c_long,
            });
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
            if fds[2].revents != 0 {
                let mut count = 0u64;
                let _ = unsafe { libc::read(control.wake.as_raw_fd(), (&raw mut count).cast(), 8) };
            }
            if !self.sync(control) {
                return;
            }
            for (port, fd) in fds.iter().take(2).enumerate() {
                if fd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
                    return; // the namespace is gone
                }
                if fd.revents & libc::POLLIN != 0 {
                    self.receive(port);
                }
            }
        }
    }

    /// Reads up to `BURST` frames arriving at `port` and queues (or drops) each.
    fn receive(&mut self, port: usize) {
        for _ in 0..BURST {
            let n = unsafe {
                libc::recv(
                    self.ports[port].as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= VNET_HDR as isize {
                return; // EAGAIN, or nothing a frame could be
            }
            if self.down {
                continue;
            }
            let now = self.now();
            let frame = &self.buf[..n as usize];
            let lane = &mut self.lanes[port];
            let Some(due) = lane.fate(frame, now, &self.wire, self.seed) else {
                continue;
            };
            if due <= now && lane.queue.is_empty() {
                send(&self.ports[1 - port], frame);
            } else {
                lane.bytes += frame.len();
                lane.queue.push_back((due, frame.to_vec()));
            }
        }
    }

    /// Sends every frame of lane `lane` that is due at `now`.
    fn deliver(&mut self, lane: usize, now: u64) {
        let out = &self.ports[1 - lane];
        let lane = &mut self.lanes[lane];
        while lane.queue.front().is_some_and(|f| f.0 <= now) {
            let (_, frame) = lane.queue.pop_front().expect("front");
            lane.bytes -= frame.len();
            send(out, &frame);
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

/// Sends one frame out of a port. A refusal (the peer went down, no buffer) loses the frame, as
/// a wire would.
fn send(port: &OwnedFd, frame: &[u8]) {
    let _ = unsafe { libc::send(port.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
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

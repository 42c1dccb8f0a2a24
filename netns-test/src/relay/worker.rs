//! The relay's worker: one thread in the relay's namespace that reads frames from every port,
//! queues each by its fate, and sends it out of its link's other port when it is due.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::time::TimeSpec;

use super::Relay;
use super::control::LinkControl;
use super::fate::{Lane, VNET_HDR};
use super::flow::Flows;
use crate::sys::namespace;

/// The largest frame: a 64 KiB offloaded burst plus its Ethernet and virtio-net headers.
const FRAME_MAX: usize = VNET_HDR + 65_536 + 64;
/// Frames read per wake-up before due frames get their turn.
const BURST: usize = 64;

/// Starts the worker from a thread inside the relay's namespace, so that is where it lives: a
/// thread holds its namespace alive, and the caller may be in a node's.
pub(super) fn start(relay: &'static Relay) -> io::Result<()> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                namespace::enter(relay.ns())?;
                std::thread::Builder::new()
                    .name("netns-test-relay".into())
                    .spawn(move || {
                        Worker::new(relay).run();
                        relay.control.died();
                    })
                    .map(drop)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A link as the worker runs it.
struct Active {
    control: LinkControl,
    /// The names of the flows it has carried, shared by both directions.
    flows: Flows,
    /// Lane `s` carries frames that arrived at port `s` toward port `1 - s`.
    lanes: [Lane; 2],
}

struct Worker {
    relay: &'static Relay,
    links: HashMap<u64, Active>,
    /// Port index to (link id, side).
    ports: HashMap<u32, (u64, usize)>,
    generation: u64,
    epoch: Instant,
    buf: Vec<u8>,
}

impl Worker {
    fn new(relay: &'static Relay) -> Worker {
        Worker {
            relay,
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
        let control = &self.relay.control;
        let generation = control
            .generation
            .load(std::sync::atomic::Ordering::Acquire);
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
                    flows: Flows::default(),
                    lanes: [Lane::new(0), Lane::new(1)],
                });
                for (side, lane) in active.lanes.iter_mut().enumerate() {
                    if c.down[side] && !active.control.down[side] {
                        // Frames in flight die with the cable.
                        lane.flush();
                    }
                }
                active.control = c;
                for (side, &port) in c.ports.iter().enumerate() {
                    self.ports.insert(port, (id, side));
                }
            }
        }
        self.generation = generation;
        control.applied(generation);
    }

    fn run(&mut self) {
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
            let timeout = next.map(|due| {
                TimeSpec::from_duration(Duration::from_nanos(due.saturating_sub(self.now())))
            });
            let (socket_ready, woken) = {
                let mut fds = [
                    PollFd::new(self.relay.socket.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.relay.control.wake.as_fd(), PollFlags::POLLIN),
                ];
                match ppoll(&mut fds, timeout, None) {
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(_) => return,
                }
                let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
                (
                    fds[0]
                        .revents()
                        .is_some_and(|r| r.contains(PollFlags::POLLIN)),
                    ready(&fds[1]),
                )
            };
            if woken {
                let _ = self.relay.control.wake.read();
                self.sync();
            }
            if socket_ready {
                self.receive();
            }
        }
    }

    /// Reads up to `BURST` frames and queues (or drops) each.
    fn receive(&mut self) {
        let socket = &self.relay.socket;
        for _ in 0..BURST {
            let Ok(Some(got)) = socket.receive(&mut self.buf) else {
                return; // nothing waiting
            };
            if got.copied <= VNET_HDR || got.copied < got.length {
                continue; // nothing a frame could be, or more than any frame
            }
            let Some(&(id, side)) = self.ports.get(&got.ifindex) else {
                continue; // a port not (or no longer) relayed
            };
            let now = self.now();
            let frame = &self.buf[..got.copied];
            let link = self.links.get_mut(&id).expect("ports follow links");
            if link.control.down[side] {
                continue;
            }
            let out = link.control.ports[1 - side];
            let flow = link.flows.name(&frame[VNET_HDR..]);
            let lane = &mut link.lanes[side];
            let Some(fate) = lane.fate(frame, flow, now, &link.control.wire, link.control.seed)
            else {
                continue;
            };
            let mut frame = std::borrow::Cow::Borrowed(frame);
            if let Some(draw) = fate.corrupt {
                super::frame::corrupt(frame.to_mut(), draw);
            }
            let copies = 1 + usize::from(fate.duplicate);
            if fate.due <= now && lane.queue.is_empty() {
                for _ in 0..copies {
                    // A refusal (the port is gone, no buffer) loses the frame, as a wire would.
                    let _ = socket.send(out, &frame);
                }
            } else {
                for _ in 0..copies {
                    lane.push(fate.due, frame.to_vec());
                }
            }
        }
    }

    /// Sends every queued frame that is due at `now`.
    fn deliver(&mut self, now: u64) {
        let socket = &self.relay.socket;
        for link in self.links.values_mut() {
            for (side, lane) in link.lanes.iter_mut().enumerate() {
                let out = link.control.ports[1 - side];
                while lane.queue.front().is_some_and(|f| f.0 <= now) {
                    let (_, frame) = lane.queue.pop_front().expect("front");
                    lane.bytes -= frame.len();
                    let _ = socket.send(out, &frame);
                }
            }
        }
    }
}

//! The handshake between callers and the relay's worker: callers change the set of links, the
//! worker applies the change and says so, and the caller returns only then.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::conditions::Wire;

/// What the caller controls of one link, shared with the worker.
#[derive(Debug, Clone, Copy)]
pub(super) struct LinkControl {
    /// The relay's port paired with each end of the link.
    pub ports: [u32; 2],
    /// The conditions in force.
    pub wire: Wire,
    /// Per side, whether frames sent by that end are cut (both: the link is down).
    pub down: [bool; 2],
    /// The seed of its random choices.
    pub seed: u64,
}

/// The links the worker carries, and the means to tell it of a change.
pub(super) struct Control {
    /// Every link, by id.
    pub links: Mutex<HashMap<u64, LinkControl>>,
    /// Bumped by every change; the worker re-reads `links` when it differs from what it saw.
    pub generation: AtomicU64,
    /// The generation the worker has applied, announced on `applied`.
    seen: Mutex<u64>,
    applied: Condvar,
    /// Wakes the worker from its wait.
    pub wake: EventFd,
    /// Set if the worker died (it cannot, short of a bug); changes then fail instead of hanging.
    dead: AtomicBool,
}

impl Control {
    /// Controls with no link.
    pub fn new() -> io::Result<Control> {
        Ok(Control {
            links: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            seen: Mutex::new(0),
            applied: Condvar::new(),
            wake: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
            dead: AtomicBool::new(false),
        })
    }

    /// Changes the links and returns once the worker has applied the change: after a link is
    /// cut, no frame of it crosses, not even one that was in flight.
    pub fn change(&self, f: impl FnOnce(&mut HashMap<u64, LinkControl>)) -> io::Result<()> {
        let generation = {
            let mut links = self.links.lock().expect("relay links");
            f(&mut links);
            self.generation.fetch_add(1, Ordering::AcqRel) + 1
        };
        // A full counter (never, in practice) still wakes the worker.
        let _ = self.wake.write(1);
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

    /// One link's controls.
    pub fn get(&self, id: u64) -> LinkControl {
        self.links.lock().expect("relay links")[&id]
    }

    /// The worker has applied `generation`.
    pub fn applied(&self, generation: u64) {
        *self.seen.lock().expect("relay seen") = generation;
        self.applied.notify_all();
    }

    /// The worker has ended: changes fail from now on.
    pub fn died(&self) {
        self.dead.store(true, Ordering::Release);
        self.applied.notify_all();
    }
}

//! The fate of each frame on a conditioned link, decided purely: its flow, its random draws from
//! the link's seed, whether it is lost, and when it leaves. The relay's worker asks, this answers.
//!
//! Every random choice is a hash of the link's seed, the direction, the packet's flow (its
//! addresses, protocol and ports) and the packet's number within that flow. So the same seed
//! gives the same sequence of packets of one flow the same fate in every run, however other
//! flows (neighbour discovery, a second connection) interleave with it.

use std::collections::{HashMap, VecDeque};

use crate::conditions::Wire;
use crate::error::Error;

/// Size of the virtio-net header in front of every frame (`struct virtio_net_hdr`).
pub(crate) const VNET_HDR: usize = 10;
/// Frames held per direction at most while a rate limits the link (as netem's default limit),
/// so a bulk sender sees a queue of realistic depth.
pub(crate) const RATE_QUEUE_FRAMES: usize = 1_000;
/// Frames held per direction at most otherwise: a delay line at 1 Gbit/s and 50 ms holds some
/// 4,200 full-size frames.
const DELAY_QUEUE_FRAMES: usize = 50_000;
/// Bytes held per direction at most, whatever the frame count.
const QUEUE_BYTES: usize = 64 << 20;
/// Flows remembered per direction before their packet counters start over.
const MAX_FLOWS: usize = 1 << 16;

/// The splitmix64 finaliser: a fixed, well-mixed hash of one word, the same on every platform
/// and Rust version (unlike `std`'s hashers), so a seed means the same thing forever.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: the flow key's hash.
pub(super) fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub(super) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The draws for packet number `n` of flow `flow` in direction `direction` of a link seeded with
/// `seed`: one for loss, one for jitter.
pub(crate) fn draws(seed: u64, direction: u8, flow: u64, n: u64) -> (u64, u64) {
    // The seed is mixed before the direction joins it: seeds 2 and 3 must not share lanes.
    let base = mix(mix(mix(mix(seed) ^ u64::from(direction)) ^ flow) ^ n);
    (base, mix(base ^ 0x6a09_e667_f3bc_c908))
}

/// The further draws of the same packet: held back, doubled, corrupted (and which bit).
fn fault_draws(loss: u64) -> (u64, u64, u64) {
    (
        mix(loss ^ 0xbb67_ae85_84ca_a73b),
        mix(loss ^ 0x3c6e_f372_fe94_f82b),
        mix(loss ^ 0xa54f_f53a_5f1d_36f1),
    )
}

/// How long a held-back packet waits beyond its delay (at least): long enough for the packets
/// sent right after it to overtake it.
const HOLD_NS: u64 = 1_000_000;

/// What becomes of a frame that is not lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fate {
    /// When it leaves.
    pub due: u64,
    /// It leaves twice.
    pub duplicate: bool,
    /// One bit of it is flipped first: this draw picks which.
    pub corrupt: Option<u64>,
}

/// The seed of link number `link` when the topology gives none: mixed from the test's seed.
pub(crate) fn link_seed(test_seed: u64, link: usize) -> u64 {
    mix(test_seed ^ mix(link as u64))
}

/// The test's seed: `NETNS_TEST_SEED` if set, else a hash of the test's name (the calling
/// thread's name: libtest names each test's thread after the test).
pub(crate) fn test_seed() -> Result<(u64, SeedSource), Error> {
    if let Some(value) = std::env::var_os("NETNS_TEST_SEED") {
        let text = value.to_string_lossy();
        return text
            .trim()
            .parse::<u64>()
            .map(|s| (s, SeedSource::Environment))
            .map_err(|_| {
                Error::usage(
                    "reading NETNS_TEST_SEED",
                    format!("`{text}` is not a whole number from 0 to {}", u64::MAX),
                )
                .with_hint("set NETNS_TEST_SEED to the seed a failed test printed, or unset it")
            });
    }
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("unnamed");
    Ok((mix(fnv(FNV_OFFSET, name.as_bytes())), SeedSource::TestName))
}

/// Where a test's seed came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeedSource {
    /// `NETNS_TEST_SEED`.
    Environment,
    /// A hash of the test's name.
    TestName,
}

/// One direction of the link: frames read on one port, waiting to leave by the other.
pub(crate) struct Lane {
    direction: u8,
    /// Frames waiting, with the time each leaves.
    pub queue: VecDeque<(u64, Vec<u8>)>,
    /// Bytes waiting.
    pub bytes: usize,
    /// When the wire is free again (rate), and when the last queued frame leaves (order).
    wire_free: u64,
    last_due: u64,
    flows: HashMap<u64, u64>,
}

impl Lane {
    pub fn new(direction: u8) -> Lane {
        Lane {
            direction,
            queue: VecDeque::new(),
            bytes: 0,
            wire_free: 0,
            last_due: 0,
            flows: HashMap::new(),
        }
    }

    /// Forgets every frame waiting: they die with the cable.
    pub fn flush(&mut self) {
        self.queue.clear();
        self.bytes = 0;
    }

    /// Decides the fate of `frame` (virtio-net header first) of flow `flow` read at `now`:
    /// `None` if lost, else when it leaves and what happens to it.
    pub fn fate(
        &mut self,
        frame: &[u8],
        flow: u64,
        now: u64,
        wire: &Wire,
        seed: u64,
    ) -> Option<Fate> {
        if self.flows.len() >= MAX_FLOWS && !self.flows.contains_key(&flow) {
            self.flows.clear();
        }
        let counter = self.flows.entry(flow).or_insert(0);
        let n = *counter;
        *counter += 1;
        let (loss, jitter) = draws(seed, self.direction, flow, n);
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
        let (reorder, duplicate, corrupt) = fault_draws(loss);
        let (held, duplicate, corrupted) = wire.faults((reorder, duplicate, corrupt));
        let delay = wire.delay_of(jitter);
        let due = if held {
            // Held back: later than the frames behind it, which do not wait for it.
            sent + delay + delay.max(HOLD_NS)
        } else {
            // Never before the frame ahead of it: jitter does not reorder.
            let due = (sent + delay).max(self.last_due);
            self.last_due = due;
            due
        };
        Some(Fate {
            due,
            duplicate,
            corrupt: corrupted.then_some(mix(corrupt)),
        })
    }

    /// Queues `frame` to leave at `due`, behind every frame due no later.
    pub fn push(&mut self, due: u64, frame: Vec<u8>) {
        self.bytes += frame.len();
        let at = self.queue.partition_point(|f| f.0 <= due);
        self.queue.insert(at, (due, frame));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::Conditions;

    #[test]
    fn loss_follows_the_seed_and_the_rate() {
        let wire = Conditions {
            loss_percent: 20.0,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let lost = |seed| -> Vec<bool> {
            (0..2000)
                .map(|n| wire.lost(draws(seed, 0, 42, n).0))
                .collect()
        };
        assert_eq!(lost(1), lost(1));
        assert_ne!(lost(1), lost(2));
        let count = lost(1).iter().filter(|&&l| l).count();
        assert!((330..=470).contains(&count), "{count} of 2000 lost at 20%");
        let all = Conditions {
            loss_percent: 100.0,
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert!(all.lost(u64::MAX));
        assert!(!Wire::default().lost(0));
    }

    #[test]
    fn jitter_spans_the_window_and_never_goes_below_zero() {
        let wire = Wire {
            delay_ns: 50,
            jitter_ns: 10,
            ..Default::default()
        };
        let delays: Vec<u64> = (0..1000).map(|n| wire.delay_of(mix(n))).collect();
        assert_eq!(delays.iter().min(), Some(&40));
        assert_eq!(delays.iter().max(), Some(&60));
        let short = Wire {
            delay_ns: 5,
            jitter_ns: 10,
            ..Default::default()
        };
        assert!((0..100).all(|n| short.delay_of(mix(n)) <= 15));
    }

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
        let due = |lane: &mut Lane, now| lane.fate(&frame(100), 0, now, &wire, 1).map(|f| f.due);
        assert_eq!(due(&mut lane, 0), Some(1_100));
        assert_eq!(due(&mut lane, 0), Some(1_200));
        assert_eq!(
            due(&mut lane, 10_000),
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
            .map(|t| lane.fate(&frame(60), 0, t * 10, &wire, 7).unwrap().due)
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
            assert!(lane.fate(&frame(60), 0, 0, &wire, 1).is_some());
            lane.queue.push_back((0, Vec::new()));
        }
        assert_eq!(lane.fate(&frame(60), 0, 0, &wire, 1), None);
    }
}

#[cfg(test)]
mod fault_tests {
    use super::*;
    use crate::conditions::Conditions;

    fn shares(reorder: f64, duplicate: f64, corrupt: f64) -> (usize, usize, usize) {
        let wire = Conditions {
            reorder_percent: reorder,
            duplicate_percent: duplicate,
            corrupt_percent: corrupt,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let mut lane = Lane::new(0);
        let (mut held, mut doubled, mut corrupted) = (0, 0, 0);
        for n in 0..10_000u64 {
            let fate = lane.fate(&[0; VNET_HDR + 60], 9, n, &wire, 3).unwrap();
            // Without delay a frame leaves when it arrives, unless it is held back.
            held += usize::from(fate.due >= n + HOLD_NS);
            doubled += usize::from(fate.duplicate);
            corrupted += usize::from(fate.corrupt.is_some());
        }
        (held, doubled, corrupted)
    }

    #[test]
    fn each_fault_takes_its_share_and_only_its_own() {
        // 10,000 packets at 10%: 1,000 expected, binomial sd 30; the bounds are 5 sd.
        let (held, doubled, corrupted) = shares(10.0, 0.0, 0.0);
        assert!((850..=1150).contains(&held), "{held} held back");
        assert_eq!((doubled, corrupted), (0, 0));
        let (held, doubled, corrupted) = shares(0.0, 10.0, 0.0);
        assert!((850..=1150).contains(&doubled), "{doubled} doubled");
        assert_eq!((held, corrupted), (0, 0));
        let (held, doubled, corrupted) = shares(0.0, 0.0, 10.0);
        assert!((850..=1150).contains(&corrupted), "{corrupted} corrupted");
        assert_eq!((held, doubled), (0, 0));
    }

    #[test]
    fn a_held_back_frame_is_overtaken_and_queued_in_due_order() {
        let mut lane = Lane::new(0);
        lane.push(5_000, vec![1]);
        lane.push(1_000, vec![2]);
        lane.push(3_000, vec![3]);
        let order: Vec<u8> = lane.queue.iter().map(|f| f.1[0]).collect();
        assert_eq!(order, [2, 3, 1]);
    }
}

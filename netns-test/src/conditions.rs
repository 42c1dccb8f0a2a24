//! Link conditions and the fate of each packet under them: lost or not, and how long it is
//! delayed. Pure: the relay (`relay.rs`) asks, this answers.
//!
//! Every random choice is a hash of the link's seed, the direction, the packet's flow (its
//! addresses, protocol and ports) and the packet's number within that flow. So the same seed
//! gives the same sequence of packets of one flow the same fate in every run, however other
//! flows (neighbour discovery, a second connection) interleave with it.

use std::time::Duration;

use netns_test_topology::{LinkConditions, MAX_DELAY_NS};

use crate::error::Error;

/// The conditions of a link, applied in both directions: see [`crate::Link::set`].
///
/// ```
/// use std::time::Duration;
/// let slow = netns_test::Conditions {
///     delay: Duration::from_millis(50),
///     rate_bps: Some(10_000_000),
///     ..Default::default()
/// };
/// assert_eq!(slow.loss_percent, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Conditions {
    /// One-way delay added to every packet.
    pub delay: Duration,
    /// Each packet's delay varies uniformly within `delay ± jitter` (never below zero); the
    /// packets of a flow keep their order.
    pub jitter: Duration,
    /// The share of packets lost, from 0.0 to 100.0.
    pub loss_percent: f64,
    /// The link's rate in bits per second (frames with their Ethernet header); `None` for as fast
    /// as the relay goes.
    pub rate_bps: Option<u64>,
}

impl Conditions {
    /// The conditions written in a topology.
    pub(crate) fn from_topology(c: &LinkConditions) -> Conditions {
        Conditions {
            delay: Duration::from_nanos(c.delay_ns),
            jitter: Duration::from_nanos(c.jitter_ns),
            loss_percent: f64::from(c.loss_ppb) / 10_000_000.0,
            rate_bps: c.rate_bps,
        }
    }

    /// Checks the values as the topology language would, naming the bad field.
    pub(crate) fn validate(&self) -> Result<Wire, Error> {
        let bad = |what: String| {
            Err(Error::usage("setting link conditions", what).with_hint(
                "delay and jitter are at most an hour, loss_percent is from 0.0 to 100.0, \
                 rate_bps is None or above zero",
            ))
        };
        let max = Duration::from_nanos(MAX_DELAY_NS);
        if self.delay > max || self.jitter > max {
            return bad(format!(
                "delay {:?} or jitter {:?} is over an hour",
                self.delay, self.jitter
            ));
        }
        if !(0.0..=100.0).contains(&self.loss_percent) {
            return bad(format!(
                "loss_percent {} is not from 0.0 to 100.0",
                self.loss_percent
            ));
        }
        if self.rate_bps == Some(0) {
            return bad("rate_bps is Some(0): a link that carries nothing is Link::down".into());
        }
        Ok(Wire {
            conditions: *self,
            delay_ns: self.delay.as_nanos() as u64,
            jitter_ns: self.jitter.as_nanos() as u64,
            loss_threshold: loss_threshold(self.loss_percent),
            rate_bps: self.rate_bps,
        })
    }
}

/// The conditions as topology options, e.g. `delay=50ms jitter=10ms loss=20% rate=10mbit`:
/// what a topology would say to give a link these conditions (`delay=` always, so the text still
/// asks for a conditioned link when everything is zero).
impl std::fmt::Display for Conditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn duration(d: Duration) -> String {
            let ns = d.as_nanos();
            match ns {
                0 => "0ms".into(),
                n if n % 1_000_000_000 == 0 => format!("{}s", n / 1_000_000_000),
                n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
                n if n % 1_000 == 0 => format!("{}us", n / 1_000),
                n => format!("{n}ns"),
            }
        }
        write!(f, "delay={}", duration(self.delay))?;
        if !self.jitter.is_zero() {
            write!(f, " jitter={}", duration(self.jitter))?;
        }
        if self.loss_percent != 0.0 {
            write!(f, " loss={}%", self.loss_percent)?;
        }
        if let Some(bps) = self.rate_bps {
            let rate = match bps {
                b if b % 1_000_000_000 == 0 => format!("{}gbit", b / 1_000_000_000),
                b if b % 1_000_000 == 0 => format!("{}mbit", b / 1_000_000),
                b if b % 1_000 == 0 => format!("{}kbit", b / 1_000),
                b => format!("{b}bit"),
            };
            write!(f, " rate={rate}")?;
        }
        Ok(())
    }
}

/// Conditions as the relay applies them, in whole units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Wire {
    /// The conditions as given.
    pub conditions: Conditions,
    pub delay_ns: u64,
    pub jitter_ns: u64,
    /// A packet is lost when its draw is below this; `u64::MAX` with 100% loses every packet.
    pub loss_threshold: u64,
    pub rate_bps: Option<u64>,
}

impl Wire {
    /// The conditions as given.
    pub fn conditions(&self) -> Conditions {
        self.conditions
    }

    /// Whether packets must cross one by one (no segmentation offload): loss and rate act per
    /// packet, and a 64 KiB offloaded burst would be lost or paced as one.
    pub fn per_packet(&self) -> bool {
        self.loss_threshold > 0 || self.rate_bps.is_some()
    }

    /// The delay of a packet whose jitter draw is `draw`, in nanoseconds.
    pub fn delay_of(&self, draw: u64) -> u64 {
        if self.jitter_ns == 0 {
            return self.delay_ns;
        }
        let span = 2 * u128::from(self.jitter_ns) + 1;
        let offset = (u128::from(draw) % span) as u64; // 0 ..= 2 * jitter
        (self.delay_ns + offset).saturating_sub(self.jitter_ns)
    }

    /// Whether a packet whose loss draw is `draw` is lost.
    pub fn lost(&self, draw: u64) -> bool {
        self.loss_threshold == u64::MAX || draw < self.loss_threshold
    }
}

fn loss_threshold(percent: f64) -> u64 {
    if percent >= 100.0 {
        u64::MAX
    } else {
        // 2^64 * percent / 100, exact enough for any percentage written with 7 decimals.
        (percent / 100.0 * 18_446_744_073_709_551_616.0) as u64
    }
}

/// The splitmix64 finaliser: a fixed, well-mixed hash of one word, the same on every platform
/// and Rust version (unlike `std`'s hashers), so a seed means the same thing forever.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: the flow key's hash.
fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The flow an Ethernet frame belongs to, as a hash: for IP, the addresses, the protocol and
/// (TCP, UDP, SCTP, not for later fragments) the ports; for ARP, the two protocol addresses;
/// otherwise the EtherType and destination.
pub(crate) fn flow_of(frame: &[u8]) -> u64 {
    let at = |range: std::ops::Range<usize>| frame.get(range).unwrap_or(&[]);
    let ethertype = at(12..14);
    let mut h = fnv(FNV_OFFSET, ethertype);
    let ports = |proto: u8, offset: usize| -> &[u8] {
        if matches!(proto, 6 | 17 | 132 | 136) {
            at(offset..offset + 4)
        } else {
            &[]
        }
    };
    match ethertype {
        [0x08, 0x00] => {
            let ip = 14;
            let ihl = usize::from(at(ip..ip + 1).first().copied().unwrap_or(0x45) & 0x0f) * 4;
            let proto = at(ip + 9..ip + 10).first().copied().unwrap_or(0);
            let fragment_offset = at(ip + 6..ip + 8);
            let later_fragment = fragment_offset.len() == 2
                && (fragment_offset[0] & 0x1f != 0 || fragment_offset[1] != 0);
            h = fnv(h, &[proto]);
            h = fnv(h, at(ip + 12..ip + 20));
            if !later_fragment {
                h = fnv(h, ports(proto, ip + ihl));
            }
        }
        [0x86, 0xdd] => {
            let ip = 14;
            let next = at(ip + 6..ip + 7).first().copied().unwrap_or(0);
            h = fnv(h, &[next]);
            h = fnv(h, at(ip + 8..ip + 40));
            h = fnv(h, ports(next, ip + 40));
        }
        [0x08, 0x06] => {
            // Sender and target protocol addresses (MACs differ from run to run).
            h = fnv(h, at(14 + 14..14 + 18));
            h = fnv(h, at(14 + 24..14 + 28));
        }
        _ => h = fnv(h, at(0..6)),
    }
    h
}

/// The draws for packet number `n` of flow `flow` in direction `direction` of a link seeded with
/// `seed`: one for loss, one for jitter.
pub(crate) fn draws(seed: u64, direction: u8, flow: u64, n: u64) -> (u64, u64) {
    let base = mix(mix(mix(seed ^ u64::from(direction)) ^ flow) ^ n);
    (base, mix(base ^ 0x6a09_e667_f3bc_c908))
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
    Environment,
    TestName,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp4(src_port: u16, payload: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8 + 1];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[14 + 9] = 17;
        f[14 + 12..14 + 16].copy_from_slice(&[203, 0, 113, 1]);
        f[14 + 16..14 + 20].copy_from_slice(&[203, 0, 113, 2]);
        f[34..36].copy_from_slice(&src_port.to_be_bytes());
        f[36..38].copy_from_slice(&9000u16.to_be_bytes());
        f[42] = payload;
        f
    }

    #[test]
    fn a_flow_is_its_addresses_protocol_and_ports_not_its_payload_or_macs() {
        let a = udp4(5000, 1);
        let mut b = udp4(5000, 2);
        b[0..12].copy_from_slice(&[9; 12]);
        assert_eq!(flow_of(&a), flow_of(&b));
        assert_ne!(flow_of(&a), flow_of(&udp4(5001, 1)));
        assert_eq!(flow_of(&[]), flow_of(&[0; 3]), "short frames do not panic");
    }

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

    #[test]
    fn conditions_print_as_the_options_that_make_them() {
        for text in [
            "delay=50ms jitter=10ms loss=20% rate=10mbit",
            "delay=0ms",
            "delay=1500us loss=0.5% rate=1500kbit",
            "delay=2s rate=1gbit",
        ] {
            let topology = netns_test_topology::parse(&format!("a -- b {text}")).unwrap();
            let c = Conditions::from_topology(&topology.links()[0].conditions.unwrap());
            assert_eq!(c.to_string(), text);
        }
    }

    #[test]
    fn bad_conditions_are_refused_by_field() {
        for bad in [
            Conditions {
                loss_percent: 101.0,
                ..Default::default()
            },
            Conditions {
                loss_percent: f64::NAN,
                ..Default::default()
            },
            Conditions {
                rate_bps: Some(0),
                ..Default::default()
            },
            Conditions {
                delay: Duration::from_secs(7200),
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}

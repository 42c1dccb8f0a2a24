//! Link conditions: [`Conditions`] as the user gives them, checked into the [`Wire`] the relay
//! applies. Whether a link must carry packets one by one is decided here, once.

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
    /// The share of packets held back so that the next packets of their direction overtake
    /// them, from 0.0 to 100.0.
    pub reorder_percent: f64,
    /// The share of packets delivered twice, from 0.0 to 100.0.
    pub duplicate_percent: f64,
    /// The share of packets with one bit of their payload flipped (their receiver's checksum
    /// drops them), from 0.0 to 100.0.
    pub corrupt_percent: f64,
}

/// A share in parts per billion as a percentage.
fn percent(ppb: u32) -> f64 {
    f64::from(ppb) / 10_000_000.0
}

impl Conditions {
    /// The conditions written in a topology.
    pub(crate) fn from_topology(c: &LinkConditions) -> Conditions {
        Conditions {
            delay: Duration::from_nanos(c.delay_ns),
            jitter: Duration::from_nanos(c.jitter_ns),
            loss_percent: percent(c.loss_ppb),
            rate_bps: c.rate_bps,
            reorder_percent: percent(c.reorder_ppb),
            duplicate_percent: percent(c.duplicate_ppb),
            corrupt_percent: percent(c.corrupt_ppb),
        }
    }

    /// Checks the values as the topology language would, naming the bad field.
    pub(crate) fn validate(&self) -> Result<Wire, Error> {
        let bad = |what: String| {
            Err(Error::usage("setting link conditions", what).with_hint(
                "delay and jitter are at most an hour, the percentages are from 0.0 to 100.0, \
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
        for (name, value) in [
            ("loss_percent", self.loss_percent),
            ("reorder_percent", self.reorder_percent),
            ("duplicate_percent", self.duplicate_percent),
            ("corrupt_percent", self.corrupt_percent),
        ] {
            if !(0.0..=100.0).contains(&value) {
                return bad(format!("{name} {value} is not from 0.0 to 100.0"));
            }
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
            reorder_threshold: loss_threshold(self.reorder_percent),
            duplicate_threshold: loss_threshold(self.duplicate_percent),
            corrupt_threshold: loss_threshold(self.corrupt_percent),
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
        for (name, value) in [
            ("loss", self.loss_percent),
            ("reorder", self.reorder_percent),
            ("duplicate", self.duplicate_percent),
            ("corrupt", self.corrupt_percent),
        ] {
            if value != 0.0 {
                write!(f, " {name}={value}%")?;
            }
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
    /// Likewise for being held back, delivered twice, and corrupted.
    pub reorder_threshold: u64,
    pub duplicate_threshold: u64,
    pub corrupt_threshold: u64,
}

impl Wire {
    /// The conditions as given.
    pub fn conditions(&self) -> Conditions {
        self.conditions
    }

    /// Whether packets must cross one by one (no segmentation offload): loss and rate act per
    /// packet, and a 64 KiB offloaded burst would be lost or paced as one.
    pub fn per_packet(&self) -> bool {
        self.loss_threshold > 0
            || self.rate_bps.is_some()
            || self.reorder_threshold > 0
            || self.duplicate_threshold > 0
            || self.corrupt_threshold > 0
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
        hits(self.loss_threshold, draw)
    }

    /// Whether a packet whose draws are `(reorder, duplicate, corrupt)` is held back, doubled,
    /// corrupted.
    pub fn faults(&self, draws: (u64, u64, u64)) -> (bool, bool, bool) {
        (
            hits(self.reorder_threshold, draws.0),
            hits(self.duplicate_threshold, draws.1),
            hits(self.corrupt_threshold, draws.2),
        )
    }
}

/// Whether a draw falls within a share's threshold (`u64::MAX`: every draw).
fn hits(threshold: u64, draw: u64) -> bool {
    threshold == u64::MAX || draw < threshold
}

fn loss_threshold(percent: f64) -> u64 {
    if percent >= 100.0 {
        u64::MAX
    } else {
        // 2^64 * percent / 100, exact enough for any percentage written with 7 decimals.
        (percent / 100.0 * 18_446_744_073_709_551_616.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

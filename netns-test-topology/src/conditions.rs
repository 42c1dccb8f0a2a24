//! Link options: `mtu=`, and the conditions `delay=`, `jitter=`, `loss=`, `rate=`, `seed=`,
//! `reorder=`, `duplicate=`, `corrupt=`.
//! Values are parsed into whole numbers (nanoseconds, parts per billion, bits per second) so a
//! topology stays comparable and hashable.

use crate::lex::Token;
use crate::model::LinkConditions;
use crate::{MAX_DELAY_NS, TopologyError};

/// The options of one link, as written after its second end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LinkOptions {
    pub mtu: Option<u32>,
    /// Set as soon as any condition option is written, even `delay=0ms`.
    pub conditions: Option<LinkConditions>,
}

const EXPECTED: &str = "expected `mtu=N`, `delay=DUR`, `jitter=DUR`, `loss=PCT`, `rate=RATE`, \
                        `seed=N`, `reorder=PCT`, `duplicate=PCT` or `corrupt=PCT`";

/// Parses the option tokens of a link.
pub(crate) fn parse(options: &[Token<'_>]) -> Result<LinkOptions, TopologyError> {
    let mut out = LinkOptions::default();
    let mut seen: Vec<&str> = Vec::new();
    for option in options {
        let err = |message: String| TopologyError::at(option.pos, option.text, message);
        let Some((key, value)) = option.text.split_once('=') else {
            return Err(err(format!(
                "unexpected `{}` after the link's ends: {EXPECTED}",
                option.text
            )));
        };
        if seen.contains(&key) {
            return Err(err(format!(
                "`{key}=` is given twice for this link: keep one"
            )));
        }
        let conditions = || out.conditions.unwrap_or_default();
        match key {
            "mtu" => {
                let n = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (68..=65535).contains(n))
                    .ok_or_else(|| {
                        err(format!(
                            "bad MTU in `{}`: an MTU is a whole number from 68 to 65535",
                            option.text
                        ))
                    })?;
                out.mtu = Some(n);
            }
            "delay" | "jitter" => {
                let ns = duration(value).map_err(|why| {
                    err(format!(
                        "bad duration in `{}`: {why}; write e.g. `{key}=20ms`, `{key}=500us` or \
                         `{key}=1s`",
                        option.text
                    ))
                })?;
                let mut c = conditions();
                if key == "delay" {
                    c.delay_ns = ns;
                } else {
                    c.jitter_ns = ns;
                }
                out.conditions = Some(c);
            }
            "loss" | "reorder" | "duplicate" | "corrupt" => {
                let ppb = percent(value).map_err(|why| {
                    err(format!(
                        "bad {key} in `{}`: {why}; write a percentage from 0% to 100%, e.g. \
                         `{key}=1%` or `{key}=0.5%`",
                        option.text
                    ))
                })?;
                let mut c = conditions();
                *match key {
                    "loss" => &mut c.loss_ppb,
                    "reorder" => &mut c.reorder_ppb,
                    "duplicate" => &mut c.duplicate_ppb,
                    _ => &mut c.corrupt_ppb,
                } = ppb;
                out.conditions = Some(c);
            }
            "rate" => {
                let bps = rate(value).map_err(|why| {
                    err(format!(
                        "bad rate in `{}`: {why}; write bits per second with a unit, e.g. \
                         `rate=500kbit`, `rate=10mbit` or `rate=1gbit`",
                        option.text
                    ))
                })?;
                out.conditions = Some(LinkConditions {
                    rate_bps: Some(bps),
                    ..conditions()
                });
            }
            "seed" => {
                let seed = value.parse::<u64>().map_err(|_| {
                    err(format!(
                        "bad seed in `{}`: a seed is a whole number from 0 to {}",
                        option.text,
                        u64::MAX
                    ))
                })?;
                out.conditions = Some(LinkConditions {
                    seed: Some(seed),
                    ..conditions()
                });
            }
            _ => {
                return Err(err(format!(
                    "unknown link option `{}`: {EXPECTED}",
                    option.text
                )));
            }
        }
        seen.push(key);
    }
    Ok(out)
}

/// Splits `value` into a non-negative decimal number and its unit, as `(whole, fraction digits,
/// unit)`, refusing signs, exponents and empty parts.
fn number(value: &str) -> Result<(u128, String, &str), String> {
    if value.starts_with('-') {
        return Err("it is negative".into());
    }
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(end);
    if digits.is_empty() {
        return Err("it has no number".into());
    }
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || fraction.contains('.') || (digits.contains('.') && fraction.is_empty()) {
        return Err(format!("`{digits}` is not a number"));
    }
    if whole.len() > 20 || fraction.len() > 9 {
        return Err(format!("`{digits}` has too many digits"));
    }
    let whole: u128 = whole
        .parse()
        .map_err(|_| format!("`{digits}` is not a number"))?;
    Ok((whole, fraction.to_string(), unit))
}

/// `whole.fraction` times `scale`, exactly, refusing what does not come out whole.
fn scaled(whole: u128, fraction: &str, scale: u128) -> Option<u128> {
    let mut value = whole.checked_mul(scale)?;
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        let d = u128::from(digit - b'0');
        if place == 0 {
            if d != 0 {
                return None;
            }
            continue;
        }
        value += d * place;
    }
    Some(value)
}

/// A duration such as `20ms`, `500us`, `1.5s`, in nanoseconds.
pub(crate) fn duration(value: &str) -> Result<u64, String> {
    let (whole, fraction, unit) = number(value)?;
    let scale: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" => return Err("it has no unit (`us`, `ms` or `s`)".into()),
        other => {
            return Err(format!(
                "`{other}` is not a unit of time (`us`, `ms` or `s`)"
            ));
        }
    };
    let ns = scaled(whole, &fraction, scale).ok_or("it is finer than a nanosecond")?;
    if ns > u128::from(MAX_DELAY_NS) {
        return Err(format!(
            "it is longer than the limit of {} s",
            MAX_DELAY_NS / 1_000_000_000
        ));
    }
    Ok(ns as u64)
}

/// A percentage such as `1%` or `0.5%`, in parts per billion of all packets.
pub(crate) fn percent(value: &str) -> Result<u32, String> {
    let (whole, fraction, unit) = number(value)?;
    if unit != "%" {
        return Err(if unit.is_empty() {
            "it has no `%`".into()
        } else {
            format!("`{unit}` is not `%`")
        });
    }
    // 1% is 10,000,000 parts per billion.
    let ppb = scaled(whole, &fraction, 10_000_000).ok_or("it is finer than 0.0000001%")?;
    if ppb > 1_000_000_000 {
        return Err("it is over 100%".into());
    }
    Ok(ppb as u32)
}

/// A rate such as `500kbit`, `10mbit`, `1gbit`, in bits per second.
pub(crate) fn rate(value: &str) -> Result<u64, String> {
    let (whole, fraction, unit) = number(value)?;
    let scale: u128 = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1,
        "kbit" => 1_000,
        "mbit" => 1_000_000,
        "gbit" => 1_000_000_000,
        "" => return Err("it has no unit (`kbit`, `mbit` or `gbit`)".into()),
        "kbps" | "mbps" | "gbps" | "bps" => {
            return Err(format!(
                "`{unit}` is ambiguous (tc reads it as bytes per second)"
            ));
        }
        _ => {
            return Err(format!(
                "`{unit}` is not a unit of rate (`kbit`, `mbit` or `gbit`)"
            ));
        }
    };
    let bps = scaled(whole, &fraction, scale).ok_or("it is finer than a bit per second")?;
    match bps {
        0 => Err("it is zero: a link that carries nothing is `Link::down`, not a rate".into()),
        b if b > 1_000_000_000_000 => Err("it is over 1000gbit".into()),
        b => Ok(b as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("20ms"), Ok(20_000_000));
        assert_eq!(duration("500us"), Ok(500_000));
        assert_eq!(duration("1s"), Ok(1_000_000_000));
        assert_eq!(duration("1.5ms"), Ok(1_500_000));
        assert_eq!(duration("0ms"), Ok(0));
        for bad in [
            "20", "-5ms", "ms", "1.ms", ".5ms", "5 ms", "5min", "1e3ms", "1.2.3ms",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert!(duration("3601s").unwrap_err().contains("limit"));
        assert!(duration("0.1ns").unwrap_err().contains("finer"));
        assert!(duration("99999999999999999999999s").is_err());
    }

    #[test]
    fn percentages() {
        assert_eq!(percent("20%"), Ok(200_000_000));
        assert_eq!(percent("0.5%"), Ok(5_000_000));
        assert_eq!(percent("100%"), Ok(1_000_000_000));
        assert_eq!(percent("0%"), Ok(0));
        assert!(percent("100.1%").unwrap_err().contains("over 100%"));
        assert!(percent("-1%").unwrap_err().contains("negative"));
        assert!(percent("5").unwrap_err().contains("no `%`"));
    }

    #[test]
    fn rates() {
        assert_eq!(rate("10mbit"), Ok(10_000_000));
        assert_eq!(rate("500kbit"), Ok(500_000));
        assert_eq!(rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(rate("1.5Mbit"), Ok(1_500_000));
        assert!(rate("10mbps").unwrap_err().contains("ambiguous"));
        assert!(rate("0mbit").unwrap_err().contains("zero"));
        assert!(rate("10").unwrap_err().contains("no unit"));
    }
}

//! `nat` and `firewall` statements.

use super::names::{check_iface, node_name};
use super::{Spanned, Statement, err, missing};
use crate::conditions::duration;
use crate::error::TopologyError;
use crate::lex::Token;
use crate::middlebox::{Match, NatKind, Protocol, Rule};

/// The longest `timeout=` of a NAT: a day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

const NAT_OPTIONS: &str = "a type (full-cone, address-restricted, port-restricted, symmetric), \
                           `hairpin` or `timeout=DUR`";

fn nat_kind(word: &str) -> Option<NatKind> {
    NatKind::ALL
        .iter()
        .find(|(_, w)| *w == word)
        .map(|(k, _)| *k)
}

fn is_nat_option(word: &str) -> bool {
    nat_kind(word).is_some() || word == "hairpin" || word.starts_with("timeout=")
}

/// `nat NODE [IFACE] [TYPE] [hairpin] [timeout=DUR]`.
pub(super) fn nat(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let node = node_name(
        tokens
            .get(1)
            .ok_or_else(|| missing(&tokens[0], "the NAT's node"))?,
    )?;
    let mut rest = &tokens[2..];
    let mut iface = None;
    if let Some(first) = rest.first().filter(|t| !is_nat_option(t.text)) {
        check_iface(first.text, first.pos, first.text)?;
        iface = Some(Spanned::new(first.text.to_string(), first));
        rest = &rest[1..];
    }
    let (mut kind, mut hairpin, mut timeout_secs) = (None, false, None);
    for token in rest {
        if let Some(k) = nat_kind(token.text) {
            if kind.replace(k).is_some() {
                return Err(err(
                    token,
                    format!("a NAT has one type: `{}` is given twice", token.text),
                ));
            }
        } else if token.text == "hairpin" {
            hairpin = true;
        } else if let Some(value) = token.text.strip_prefix("timeout=") {
            timeout_secs = Some(timeout(token, value)?);
        } else {
            return Err(err(
                token,
                format!(
                    "unknown NAT option `{}`: expected {NAT_OPTIONS} (the outside interface, if \
                     named, comes right after the node)",
                    token.text
                ),
            ));
        }
    }
    Ok(Statement::Nat {
        node,
        iface,
        kind: kind.unwrap_or(NatKind::PortRestricted),
        hairpin,
        timeout_secs,
    })
}

fn timeout(token: &Token<'_>, value: &str) -> Result<u32, TopologyError> {
    let bad = |why: String| err(token, format!("bad NAT timeout `{}`: {why}", token.text));
    let ns = duration(value).map_err(bad)?;
    if ns % 1_000_000_000 != 0 || ns == 0 || ns / 1_000_000_000 > MAX_TIMEOUT_SECS {
        return Err(bad(format!(
            "a NAT timeout is whole seconds from 1s to {MAX_TIMEOUT_SECS}s (the kernel counts \
             UDP timeouts in seconds)"
        )));
    }
    Ok((ns / 1_000_000_000) as u32)
}

/// `firewall NODE [in IFACE] RULE...`.
pub(super) fn firewall(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let node = node_name(
        tokens
            .get(1)
            .ok_or_else(|| missing(&tokens[0], "the firewall's node"))?,
    )?;
    let mut i = 2;
    let mut iface = None;
    if tokens.get(i).is_some_and(|t| t.text == "in") {
        let name = tokens
            .get(i + 1)
            .ok_or_else(|| missing(&tokens[i], "an interface name"))?;
        check_iface(name.text, name.pos, name.text)?;
        iface = Some(Spanned::new(name.text.to_string(), name));
        i += 2;
    }
    let mut rules = Vec::new();
    while let Some(token) = tokens.get(i) {
        i += 1;
        let verb: fn(Match) -> Rule = match token.text {
            "block-inbound" => {
                rules.push(Rule::BlockInbound);
                continue;
            }
            "drop" => Rule::Drop,
            "reject" => Rule::Reject,
            "allow" => Rule::Allow,
            other => {
                return Err(err(
                    token,
                    format!(
                        "unknown firewall rule `{other}`: expected `block-inbound`, or `drop`, \
                         `reject` or `allow` followed by PROTO[/PORTS] (tcp, udp, icmp)"
                    ),
                ));
            }
        };
        let before = rules.len();
        while let Some(m) = tokens.get(i).filter(|t| is_match(t.text)) {
            rules.push(verb(protocol_match(m)?));
            i += 1;
        }
        if rules.len() == before {
            return Err(missing(
                token,
                "a protocol: `tcp`, `udp` or `icmp`, with ports for tcp and udp (`tcp/443`, `udp/1000-2000`)",
            ));
        }
    }
    if rules.is_empty() {
        let last = &tokens[i - 1];
        return Err(missing(
            last,
            "a rule: `block-inbound`, `drop PROTO[/PORTS]`, `reject PROTO[/PORTS]` or `allow PROTO[/PORTS]`",
        ));
    }
    Ok(Statement::Firewall { node, iface, rules })
}

/// Whether a word is a protocol match (`tcp`, `udp/53`, `icmp`, or a malformed one of them).
fn is_match(word: &str) -> bool {
    let proto = word.split('/').next().unwrap_or("");
    matches!(proto, "tcp" | "udp" | "icmp")
}

fn protocol_match(token: &Token<'_>) -> Result<Match, TopologyError> {
    let (proto, ports) = match token.text.split_once('/') {
        Some((p, ports)) => (p, Some(ports)),
        None => (token.text, None),
    };
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => Protocol::Icmp,
    };
    let Some(ports) = ports else {
        return Ok(Match {
            protocol,
            ports: None,
        });
    };
    if protocol == Protocol::Icmp {
        return Err(err(
            token,
            format!(
                "icmp has no ports: write `icmp` alone, not `{}`",
                token.text
            ),
        ));
    }
    let port = |text: &str| -> Result<u16, TopologyError> {
        match text.parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
            Ok(p) => Err(err(
                token,
                format!(
                    "port {p} in `{}` is out of range: a port is 1 to 65535",
                    token.text
                ),
            )),
            Err(_) => Err(err(
                token,
                format!(
                    "`{text}` in `{}` is not a port: write N or N-M, e.g. `tcp/443`, `udp/1000-2000`",
                    token.text
                ),
            )),
        }
    };
    let (first, last) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(ports)?;
            (p, p)
        }
    };
    if first > last {
        return Err(err(
            token,
            format!(
                "port range {first}-{last} in `{}` is reversed: write {last}-{first}",
                token.text
            ),
        ));
    }
    Ok(Match {
        protocol,
        ports: Some((first, last)),
    })
}

//! `node`, `switch` and `hosts` statements, and `sysctl` settings.

use super::names::{cidr, node_name};
use super::{Spanned, Statement, err, missing};
use crate::error::TopologyError;
use crate::lex::Token;

pub(super) fn node(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let name = node_name(
        tokens
            .get(1)
            .ok_or_else(|| missing(&tokens[0], "a node name"))?,
    )?;
    let mut forward = false;
    let mut sysctls = Vec::new();
    let mut i = 2;
    while let Some(token) = tokens.get(i) {
        match token.text {
            "forward" => forward = true,
            "sysctl" => {
                let kv = tokens
                    .get(i + 1)
                    .ok_or_else(|| missing(token, "KEY=VALUE"))?;
                sysctls.push(sysctl(kv)?);
                i += 1;
            }
            other => {
                return Err(err(
                    token,
                    format!(
                        "unknown node option `{other}`: expected `forward` or `sysctl KEY=VALUE`"
                    ),
                ));
            }
        }
        i += 1;
    }
    Ok(Statement::Node {
        name,
        forward,
        sysctls,
    })
}

pub(super) fn sysctl(token: &Token<'_>) -> Result<(Spanned<String>, String), TopologyError> {
    let Some((key, value)) = token.text.split_once('=') else {
        return Err(err(
            token,
            format!("`sysctl` takes KEY=VALUE, found `{}`", token.text),
        ));
    };
    if !key.starts_with("net.") {
        return Err(err(
            token,
            format!(
                "sysctl `{}` is outside `net.`: only network-namespace sysctls can be set, \
                 the harness never writes a host-wide setting",
                token.text
            ),
        ));
    }
    let bad_part = key.split('.').find(|part| {
        part.is_empty()
            || part
                .bytes()
                .any(|b| b == b'/' || b == 0 || b.is_ascii_whitespace())
    });
    if bad_part.is_some() || key.len() > 256 {
        return Err(err(
            token,
            format!(
                "malformed sysctl `{}`: write dot-separated names, e.g. `net.ipv4.ip_forward=1`",
                token.text
            ),
        ));
    }
    if value.is_empty() {
        return Err(err(
            token,
            format!("sysctl `{key}` has no value: write `{key}=VALUE`"),
        ));
    }
    Ok((Spanned::new(key.to_string(), token), value.to_string()))
}

pub(super) fn switch(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let name = node_name(
        tokens
            .get(1)
            .ok_or_else(|| missing(&tokens[0], "a switch name"))?,
    )?;
    let cidrs = tokens[2..].iter().map(cidr).collect::<Result<_, _>>()?;
    Ok(Statement::Switch { name, cidrs })
}

/// The longest name `hosts` accepts, as DNS allows.
const MAX_HOST_NAME: usize = 253;

/// `hosts NAME ADDR...`: letters, digits, `-` and `.`, then one or more IP addresses.
pub(super) fn hosts(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let token = tokens
        .get(1)
        .ok_or_else(|| missing(&tokens[0], "a name and its addresses"))?;
    let valid = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if token.text.len() > MAX_HOST_NAME || !token.text.split('.').all(valid) {
        return Err(err(
            token,
            format!(
                "`{}` is not a host name: labels of letters, digits and `-`, joined by `.`, at \
                 most {MAX_HOST_NAME} bytes (e.g. `relay.example.test`)",
                token.text
            ),
        ));
    }
    let mut addresses = Vec::new();
    for t in &tokens[2..] {
        let ip = t.text.parse::<std::net::IpAddr>().map_err(|_| {
            err(
                t,
                format!(
                    "`{}` is not an IP address: `hosts NAME ADDR...` takes addresses without \
                     prefix, e.g. `198.51.100.10` or `2001:db8::10`",
                    t.text
                ),
            )
        })?;
        addresses.push(ip);
    }
    if addresses.is_empty() {
        return Err(missing(token, "one or more IP addresses"));
    }
    Ok(Statement::Hosts {
        name: Spanned::new(token.text.to_string(), token),
        addresses,
    })
}

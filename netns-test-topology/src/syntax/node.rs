//! `node` and `switch` statements, and `sysctl` settings.

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

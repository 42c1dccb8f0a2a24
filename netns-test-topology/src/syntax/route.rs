//! `route` statements.

use super::names::{check_iface, cidr, node_name};
use super::{Dest, Spanned, Statement, Via, err, missing};
use std::net::IpAddr;

use crate::error::TopologyError;
use crate::lex::Token;

pub(super) fn route(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let node = node_name(
        tokens
            .get(1)
            .ok_or_else(|| missing(&tokens[0], "a node name"))?,
    )?;
    let dest_token = tokens
        .get(2)
        .ok_or_else(|| missing(&tokens[1], "a destination (CIDR or `default`)"))?;
    let dest = if dest_token.text == "default" {
        Spanned::new(Dest::Default, dest_token)
    } else {
        let c = cidr(dest_token)?;
        if c.value.addr != c.value.network() {
            return Err(err(
                dest_token,
                format!(
                    "route destination `{}` has host bits set: write `{}/{}`",
                    c.value,
                    c.value.network(),
                    c.value.prefix
                ),
            ));
        }
        Spanned::new(Dest::Cidr(c.value), dest_token)
    };
    let kind = tokens
        .get(3)
        .ok_or_else(|| missing(dest_token, "`via GATEWAY` or `dev IFACE`"))?;
    let via = match kind.text {
        "via" => {
            let gw = tokens
                .get(4)
                .ok_or_else(|| missing(kind, "a gateway address"))?;
            let addr: IpAddr = gw.text.parse().map_err(|_| {
                let hint = if gw.text.contains('/') {
                    " (a gateway has no prefix length)"
                } else {
                    ""
                };
                err(gw, format!("malformed gateway address `{}`{hint}", gw.text))
            })?;
            Via::Gateway(Spanned::new(addr, gw))
        }
        "dev" => {
            let iface = tokens
                .get(4)
                .ok_or_else(|| missing(kind, "an interface name"))?;
            check_iface(iface.text, iface.pos, iface.text)?;
            Via::Dev(Spanned::new(iface.text.to_string(), iface))
        }
        other => {
            return Err(err(
                kind,
                format!("unknown route keyword `{other}`: expected `via` or `dev`"),
            ));
        }
    };
    if let Some(extra) = tokens.get(5) {
        return Err(err(
            extra,
            format!("unexpected `{}` after the route", extra.text),
        ));
    }
    Ok(Statement::Route { node, dest, via })
}

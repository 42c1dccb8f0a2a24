//! Link statements: `A -- B [OPTION]...` and their ends.

use super::names::{check_iface, cidr, node_name};
use super::{End, Spanned, Statement, err, missing};
use std::net::IpAddr;

use crate::error::{Pos, TopologyError};
use crate::lex::Token;

/// `set A -- B OPTION...`: the ends name an existing link (interfaces may pick one of several);
/// addresses belong to the link's own statement.
pub(super) fn set(keyword: &Token<'_>, tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    if !tokens.iter().any(|t| t.text == "--") {
        return Err(err(
            keyword,
            "`set` needs the link's two ends and its new options, e.g. `set a -- b delay=20ms`",
        ));
    }
    let Statement::Link { ends, options } = link(tokens)? else {
        unreachable!("link() makes links")
    };
    if let Some(cidr) = ends.iter().find_map(|e| e.cidrs.first()) {
        return Err(cidr.error(format!(
            "`set` changes a link's options; address `{}` belongs in the link's own statement",
            cidr.text
        )));
    }
    if options == crate::conditions::LinkOptions::default() {
        return Err(missing(
            tokens.last().expect("ends were parsed"),
            "the link's new options, e.g. `delay=20ms` or `loss=1%`",
        ));
    }
    Ok(Statement::Set {
        ends,
        options,
        at: Spanned::new(keyword.text.to_string(), keyword),
    })
}

pub(super) fn link(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let dashes: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| t.text == "--")
        .map(|(i, _)| i)
        .collect();
    if dashes.len() > 1 {
        return Err(err(
            &tokens[dashes[1]],
            "a second `--`: a link joins exactly two ends, write one link per statement",
        ));
    }
    let dash = dashes[0];
    if dash == 0 {
        return Err(err(
            &tokens[0],
            "a link needs an end before `--`, e.g. `a -- b`",
        ));
    }
    let right_tokens = &tokens[dash + 1..];
    if right_tokens.is_empty() {
        return Err(missing(&tokens[dash], "the link's second end"));
    }
    let (left, left_rest) = end(&tokens[..dash])?;
    if let Some(extra) = left_rest.first() {
        let hint = if extra.text.contains('=') {
            "link options go after the second end, e.g. `a -- b mtu=1400`".to_string()
        } else {
            unknown_word(extra)
        };
        return Err(err(extra, hint));
    }
    let (right, options) = end(right_tokens)?;
    if let Some(word) = options.iter().find(|t| !t.text.contains('=')) {
        return Err(err(word, unknown_word(word)));
    }
    let options = crate::conditions::parse(options)?;
    Ok(Statement::Link {
        ends: [left, right],
        options,
    })
}

/// What to say about a word that is neither an address nor an option.
pub(super) fn unknown_word(token: &Token<'_>) -> String {
    if token.text.contains('=') {
        format!(
            "unknown link option `{}`: expected `mtu=N`, `delay=DUR`, `jitter=DUR`, `loss=PCT`, \
             `rate=RATE` or `seed=N`",
            token.text
        )
    } else if looks_like_address(token.text) {
        cidr(token).err().map(|e| e.message).unwrap_or_default()
    } else {
        format!(
            "unexpected `{}`: a link end is NODE[:IFACE] followed by addresses like 203.0.113.1/24",
            token.text
        )
    }
}

pub(super) fn looks_like_address(text: &str) -> bool {
    text.contains('/')
        || text.parse::<IpAddr>().is_ok()
        || text.starts_with(|c: char| c.is_ascii_digit())
}

/// One end: the node (and interface), then its addresses. Returns the tokens after the addresses.
pub(super) fn end<'t, 'a>(
    tokens: &'t [Token<'a>],
) -> Result<(End, &'t [Token<'a>]), TopologyError> {
    let head = &tokens[0];
    let (node_text, iface) = match head.text.split_once(':') {
        Some((node, iface)) => {
            let pos = Pos {
                line: head.pos.line,
                column: head.pos.column + node.chars().count() + 1,
            };
            check_iface(iface, pos, head.text)?;
            (
                node,
                Some(Spanned {
                    value: iface.to_string(),
                    pos,
                    text: iface.to_string(),
                }),
            )
        }
        None => (head.text, None),
    };
    let node = node_name(&Token {
        text: node_text,
        pos: head.pos,
    })?;
    let mut cidrs = Vec::new();
    let mut i = 1;
    while let Some(token) = tokens.get(i) {
        if token.text.contains('=') || !looks_like_address(token.text) {
            break;
        }
        cidrs.push(cidr(token)?);
        i += 1;
    }
    Ok((End { node, iface, cidrs }, &tokens[i..]))
}

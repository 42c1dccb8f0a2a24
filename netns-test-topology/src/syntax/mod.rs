//! Statements of the language, each checked on its own: names, interface names, addresses,
//! options and sysctl keys. Cross-statement checks live in `resolve`.

use std::net::IpAddr;

mod link;
mod middlebox;
mod names;
mod node;
mod route;

use crate::cidr::Cidr;
use crate::error::{Pos, TopologyError};
use crate::lex::{self, Token};
use link::{link, set};
use middlebox::{firewall, nat};
use node::{hosts, node, switch};
use route::route;

const KEYWORDS: &[&str] = &[
    "node", "switch", "link", "route", "forward", "sysctl", "via", "dev", "default", "nat",
    "firewall", "in", "set", "hosts",
];

/// A word and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
    pub text: String,
}

impl<T> Spanned<T> {
    pub(super) fn new(value: T, token: &Token<'_>) -> Self {
        Spanned {
            value,
            pos: token.pos,
            text: token.text.to_string(),
        }
    }

    pub fn error(&self, message: impl Into<String>) -> TopologyError {
        TopologyError::at(self.pos, self.text.clone(), message)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct End {
    pub node: Spanned<String>,
    pub iface: Option<Spanned<String>>,
    pub cidrs: Vec<Spanned<Cidr>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Dest {
    Default,
    Cidr(Cidr),
}

#[derive(Debug, Clone)]
pub(crate) enum Via {
    Gateway(Spanned<IpAddr>),
    Dev(Spanned<String>),
}

#[derive(Debug, Clone)]
pub(crate) enum Statement {
    Node {
        name: Spanned<String>,
        forward: bool,
        sysctls: Vec<(Spanned<String>, String)>,
    },
    Switch {
        name: Spanned<String>,
        cidrs: Vec<Spanned<Cidr>>,
    },
    Link {
        ends: [End; 2],
        options: crate::conditions::LinkOptions,
    },
    Route {
        node: Spanned<String>,
        dest: Spanned<Dest>,
        via: Via,
    },
    /// `hosts NAME ADDR...`: a name every node resolves.
    Hosts {
        name: Spanned<String>,
        addresses: Vec<IpAddr>,
    },
    /// `set A -- B OPTION...`: new options for the existing link between A and B.
    Set {
        ends: [End; 2],
        options: crate::conditions::LinkOptions,
        /// Where the statement starts, for a link that does not exist.
        at: Spanned<String>,
    },
    Nat {
        node: Spanned<String>,
        iface: Option<Spanned<String>>,
        kind: crate::middlebox::NatKind,
        hairpin: bool,
        timeout_secs: Option<u32>,
    },
    Firewall {
        node: Spanned<String>,
        iface: Option<Spanned<String>>,
        rules: Vec<crate::middlebox::Rule>,
    },
}

pub(crate) fn parse(text: &str) -> Result<Vec<Statement>, TopologyError> {
    let mut out = Vec::new();
    for tokens in lex::statements(text) {
        out.push(statement(&tokens)?);
    }
    if out.is_empty() {
        return Err(TopologyError::at(
            Pos { line: 1, column: 1 },
            "",
            "empty topology: declare at least one node, e.g. `node a` or `a -- b`",
        ));
    }
    Ok(out)
}

fn statement(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let first = &tokens[0];
    if first.text == "set" {
        return set(first, &tokens[1..]);
    }
    if tokens.iter().any(|t| t.text == "--") {
        let rest = if first.text == "link" && tokens.get(1).is_some_and(|t| t.text != "--") {
            &tokens[1..]
        } else {
            tokens
        };
        return link(rest);
    }
    match first.text {
        "node" => node(tokens),
        "switch" => switch(tokens),
        "route" => route(tokens),
        "nat" => nat(tokens),
        "hosts" => hosts(tokens),
        "firewall" => firewall(tokens),
        "link" => Err(err(
            first,
            "a link needs two ends joined by ` -- `, e.g. `link a -- b`",
        )),
        word if word.contains("--") => Err(err(
            first,
            format!(
                "unknown keyword `{word}`; tokens are separated by whitespace: write `{}`",
                word.replacen("--", " -- ", 1)
            ),
        )),
        word => Err(err(
            first,
            format!(
                "unknown keyword `{word}`: a statement is `node`, `switch`, `route`, `nat`, `firewall`, `set`, `hosts`, or a link `A -- B`"
            ),
        )),
    }
}

pub(super) fn err(token: &Token<'_>, message: impl Into<String>) -> TopologyError {
    TopologyError::at(token.pos, token.text, message)
}

pub(super) fn missing(after: &Token<'_>, what: &str) -> TopologyError {
    let column = after.pos.column + after.text.chars().count() + 1;
    TopologyError::at(
        Pos {
            line: after.pos.line,
            column,
        },
        "",
        format!("`{}` must be followed by {what}", after.text),
    )
}

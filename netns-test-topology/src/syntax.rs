//! Statements of the language, each checked on its own: names, interface names, addresses,
//! options and sysctl keys. Cross-statement checks live in `resolve`.

use std::net::IpAddr;

use crate::cidr::Cidr;
use crate::error::{Pos, TopologyError};
use crate::lex::{self, Token};
use crate::{MAX_IFACE_NAME, MAX_NODE_NAME};

const KEYWORDS: &[&str] = &[
    "node", "switch", "link", "route", "forward", "sysctl", "via", "dev", "default",
];

/// A word and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
    pub text: String,
}

impl<T> Spanned<T> {
    fn new(value: T, token: &Token<'_>) -> Self {
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
                "unknown keyword `{word}`: a statement is `node`, `switch`, `route`, or a link `A -- B`"
            ),
        )),
    }
}

fn err(token: &Token<'_>, message: impl Into<String>) -> TopologyError {
    TopologyError::at(token.pos, token.text, message)
}

fn missing(after: &Token<'_>, what: &str) -> TopologyError {
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

fn node(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
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

fn sysctl(token: &Token<'_>) -> Result<(Spanned<String>, String), TopologyError> {
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

fn switch(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
    let name = node_name(
        tokens
            .get(1)
            .ok_or_else(|| missing(&tokens[0], "a switch name"))?,
    )?;
    let cidrs = tokens[2..].iter().map(cidr).collect::<Result<_, _>>()?;
    Ok(Statement::Switch { name, cidrs })
}

fn route(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
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

fn link(tokens: &[Token<'_>]) -> Result<Statement, TopologyError> {
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
fn unknown_word(token: &Token<'_>) -> String {
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

fn looks_like_address(text: &str) -> bool {
    text.contains('/')
        || text.parse::<IpAddr>().is_ok()
        || text.starts_with(|c: char| c.is_ascii_digit())
}

/// One end: the node (and interface), then its addresses. Returns the tokens after the addresses.
fn end<'t, 'a>(tokens: &'t [Token<'a>]) -> Result<(End, &'t [Token<'a>]), TopologyError> {
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

fn node_name(token: &Token<'_>) -> Result<Spanned<String>, TopologyError> {
    let name = token.text;
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed {
        return Err(err(
            token,
            format!(
                "bad node name `{name}`: a name starts with a letter and holds only letters, digits, `_` and `-`"
            ),
        ));
    }
    if name.len() > MAX_NODE_NAME {
        return Err(err(
            token,
            format!(
                "node name `{name}` is {} bytes long; the limit is {MAX_NODE_NAME}",
                name.len()
            ),
        ));
    }
    if KEYWORDS.contains(&name) {
        return Err(err(
            token,
            format!("`{name}` is a keyword and cannot name a node"),
        ));
    }
    Ok(Spanned::new(name.to_string(), token))
}

fn check_iface(name: &str, pos: Pos, token: &str) -> Result<(), TopologyError> {
    let refused = |message: String| {
        let shown = if name.is_empty() { token } else { name };
        Err(TopologyError::at(pos, shown, message))
    };
    if name.is_empty() {
        return refused(format!("an empty interface name in `{token}`"));
    }
    if name.len() > MAX_IFACE_NAME {
        return refused(format!(
            "interface name `{name}` is {} bytes long; the kernel's limit is {MAX_IFACE_NAME}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return refused(format!("`{name}` cannot name an interface"));
    }
    let bad = |c: &char| matches!(c, '/' | ':' | '=' | '%') || c.is_whitespace() || c.is_control();
    if let Some(c) = name.chars().find(bad) {
        return refused(format!(
            "interface name `{name}` holds `{}`, which the kernel does not accept",
            c.escape_default()
        ));
    }
    Ok(())
}

fn cidr(token: &Token<'_>) -> Result<Spanned<Cidr>, TopologyError> {
    token
        .text
        .parse::<Cidr>()
        .map(|c| Spanned::new(c, token))
        .map_err(|e| err(token, format!("malformed CIDR `{}`: {e}", token.text)))
}

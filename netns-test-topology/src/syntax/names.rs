//! The words of a statement checked on their own: node names, interface names, addresses.

use super::{KEYWORDS, Spanned, err};
use crate::cidr::Cidr;
use crate::error::{Pos, TopologyError};
use crate::lex::Token;
use crate::{MAX_IFACE_NAME, MAX_NODE_NAME};

pub(super) fn node_name(token: &Token<'_>) -> Result<Spanned<String>, TopologyError> {
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

pub(super) fn check_iface(name: &str, pos: Pos, token: &str) -> Result<(), TopologyError> {
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

pub(super) fn cidr(token: &Token<'_>) -> Result<Spanned<Cidr>, TopologyError> {
    token
        .text
        .parse::<Cidr>()
        .map(|c| Spanned::new(c, token))
        .map_err(|e| err(token, format!("malformed CIDR `{}`: {e}", token.text)))
}

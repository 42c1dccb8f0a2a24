//! The test's topology at compile time: read from the argument or the file, checked by the one
//! parser, and the `node` argument checked against it.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::Errors;
use crate::config::Config;

/// A topology the parser accepted, and the tokens that give its text at run time.
pub(crate) struct Checked {
    /// The expression of the text: the literal, or `include_str!` of the file (so cargo
    /// rebuilds the test when the file changes).
    pub text: TokenStream,
    /// The file, as written in the argument.
    pub source: Option<String>,
}

/// Reads and checks the topology; `None` (with the errors recorded) if it is not usable.
pub(crate) fn check(config: &Config, errors: &mut Errors) -> Option<Checked> {
    let (text, tokens, source, span) = match (&config.topology, &config.topology_file) {
        (Some(t), _) => (t.value(), quote!(#t), None, t.span()),
        (None, Some(f)) => {
            let dir = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_default();
            let path = dir.join(f.value());
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    errors.push(syn::Error::new(
                        f.span(),
                        format!("cannot read topology file `{}`: {e}", path.display()),
                    ));
                    return None;
                }
            };
            let path = path.to_string_lossy().into_owned();
            let tokens = quote_spanned!(f.span()=> include_str!(#path));
            (text, tokens, Some(f.value()), f.span())
        }
        (None, None) => (
            "node main".to_string(),
            quote!("node main"),
            None,
            Span::call_site(),
        ),
    };
    let topology = match netns_test_topology::parse(&text) {
        Ok(topology) => topology,
        Err(e) => {
            let place = source
                .as_ref()
                .map(|s| format!(" in {s}"))
                .unwrap_or_default();
            errors.push(syn::Error::new(
                span,
                format!("invalid topology{place}: {e}"),
            ));
            return None;
        }
    };
    if let Some(node) = &config.node
        && topology.node(&node.value()).is_none()
    {
        let known: Vec<&str> = topology.nodes().iter().map(|n| n.name.as_str()).collect();
        errors.push(syn::Error::new(
            node.span(),
            format!(
                "node `{}` is not in the topology (nodes: {})",
                node.value(),
                known.join(", ")
            ),
        ));
    }
    Some(Checked {
        text: tokens,
        source,
    })
}

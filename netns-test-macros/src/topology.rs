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
    // A file, inline text, or both: the file's statements, then the inline ones (a fixture
    // reused with more, e.g. `set a -- b delay=20ms`).
    let file = match &config.topology_file {
        Some(f) => {
            let dir = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_default();
            let path = dir.join(f.value());
            match std::fs::read_to_string(&path) {
                Ok(text) => Some((f, path.to_string_lossy().into_owned(), text)),
                Err(e) => {
                    errors.push(syn::Error::new(
                        f.span(),
                        format!("cannot read topology file `{}`: {e}", path.display()),
                    ));
                    return None;
                }
            }
        }
        None => None,
    };
    let (text, tokens) = match (&file, &config.topology) {
        (Some((f, path, text)), Some(inline)) => (
            format!("{text}\n{}", inline.value()),
            quote_spanned!(f.span()=> concat!(include_str!(#path), "\n", #inline)),
        ),
        (Some((f, path, text)), None) => {
            (text.clone(), quote_spanned!(f.span()=> include_str!(#path)))
        }
        (None, Some(inline)) => (inline.value(), quote!(#inline)),
        (None, None) => ("node main".to_string(), quote!("node main")),
    };
    let source = config.topology_file.as_ref().map(|f| f.value());
    let topology = match netns_test_topology::parse(&text) {
        Ok(topology) => topology,
        Err(mut e) => {
            // Blame the part the mistake is in: the file, or the inline text after it.
            // The inline text starts after the file's newlines and the one joining them.
            let file_lines = file
                .as_ref()
                .map_or(0, |(_, _, t)| t.matches('\n').count() + 1);
            let (span, place) = match (&file, &config.topology) {
                (Some(_), Some(inline)) if e.line > file_lines => {
                    e.line -= file_lines;
                    (
                        inline.span(),
                        format!(" added to {}", source.as_deref().unwrap_or("")),
                    )
                }
                (Some((f, ..)), _) => (f.span(), format!(" in {}", f.value())),
                (None, Some(inline)) => (inline.span(), String::new()),
                (None, None) => (Span::call_site(), String::new()),
            };
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

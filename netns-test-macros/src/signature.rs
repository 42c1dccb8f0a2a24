//! The checks on the test function itself: its attributes and its signature.

use syn::spanned::Spanned;
use syn::{FnArg, ItemFn};

use crate::Errors;

/// Every way `function` cannot be a `#[netns_test]`, each at its own span.
pub(crate) fn check(function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    for attr in &function.attrs {
        if let Some(message) = other_test_attribute(attr.path()) {
            errors.push(syn::Error::new(attr.span(), message));
        }
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "a `#[netns_test]` function cannot be generic",
        ));
    }
    if let Some(extra) = sig.inputs.iter().nth(1) {
        errors.push(syn::Error::new(
            extra.span(),
            "a `#[netns_test]` function takes no argument or one `&Net`",
        ));
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) => errors.push(syn::Error::new(
            r.span(),
            "a `#[netns_test]` function takes no `self`",
        )),
        Some(FnArg::Typed(t)) if !matches!(*t.ty, syn::Type::Reference(_)) => {
            errors.push(syn::Error::new(
                t.ty.span(),
                "the argument of a `#[netns_test]` function is `&Net`",
            ))
        }
        _ => {}
    }
}

/// Why another test attribute cannot sit with `#[netns_test]`, if `path` is one: `#[test]`,
/// `#[tokio::test]` (or any `*::test`), or the `#[::core::prelude::v1::test]` such an attribute
/// leaves behind when it is written above `#[netns_test]` and expands first.
fn other_test_attribute(path: &syn::Path) -> Option<String> {
    let last = path.segments.last()?;
    if last.ident != "test" {
        return None;
    }
    let written: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    Some(match written.first().map(String::as_str) {
        Some("test") => {
            "remove `#[test]`: `#[netns_test]` already makes the function a test".into()
        }
        Some("core" | "std") => "another test attribute above `#[netns_test]` (such as \
             `#[tokio::test]`) has already made this function a test: remove it; \
             `#[netns_test]` makes the test and runs `async fn` bodies on its own tokio runtime, \
             inside the node (`flavor`, `worker_threads` as in `#[tokio::test]`)"
            .into(),
        _ => format!(
            "remove `#[{}]`: `#[netns_test]` makes the test and runs `async fn` bodies on its \
             own tokio runtime, inside the node (`flavor`, `worker_threads` as in \
             `#[tokio::test]`)",
            written.join("::")
        ),
    })
}

/// The `expected` message of `#[should_panic(expected = "...")]` or `#[should_panic = "..."]`:
/// `None` without the attribute, `Some("")` when it names no message.
pub(crate) fn should_panic(function: &ItemFn) -> Option<String> {
    use syn::punctuated::Punctuated;
    use syn::{Expr, ExprLit, Lit, MetaNameValue, Token};
    let attr = function
        .attrs
        .iter()
        .find(|a| a.path().is_ident("should_panic"))?;
    let text = |value: &Expr| match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    };
    let expected = match &attr.meta {
        syn::Meta::NameValue(nv) => text(&nv.value),
        syn::Meta::List(list) => list
            .parse_args_with(Punctuated::<MetaNameValue, Token![,]>::parse_terminated)
            .ok()
            .and_then(|metas| {
                metas
                    .iter()
                    .find(|m| m.path.is_ident("expected"))
                    .and_then(|m| text(&m.value))
            }),
        syn::Meta::Path(_) => None,
    };
    Some(expected.unwrap_or_default())
}

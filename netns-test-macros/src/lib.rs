//! The `#[netns_test]` attribute. Use it through the `netns-test` crate, which re-exports it.

#![warn(missing_docs)]

use std::path::PathBuf;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, ItemFn, Lit, LitStr, MetaNameValue, Token};

const ARGUMENTS: &str = "topology, topology_file, node, flavor, worker_threads";

/// Turns a function into a test that runs inside fresh network namespaces wired as a topology.
///
/// ```ignore
/// #[netns_test(topology = "a -- b")]
/// fn talks(net: &Net) { /* runs in node `a` */ }
/// ```
///
/// Arguments (all optional): `topology = "TEXT"`, `topology_file = "PATH"` (relative to
/// `CARGO_MANIFEST_DIR`), `node = "NAME"` (where the body runs; default: the first node named),
/// and for `async fn`: `flavor = "current_thread" | "multi_thread"`, `worker_threads = N`.
/// Every mistake, including one in the topology text, is a compile error.
#[proc_macro_attribute]
pub fn netns_test(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Args {
    topology: Option<LitStr>,
    topology_file: Option<LitStr>,
    node: Option<LitStr>,
    flavor: Option<LitStr>,
    worker_threads: Option<(usize, Span)>,
}

fn parse_args(args: TokenStream2) -> syn::Result<Args> {
    let metas = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(args)?;
    let mut out = Args {
        topology: None,
        topology_file: None,
        node: None,
        flavor: None,
        worker_threads: None,
    };
    for meta in metas {
        let name = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let string = || match literal(&meta.value) {
            Some(Lit::Str(s)) => Ok(s.clone()),
            _ => Err(syn::Error::new(
                meta.value.span(),
                format!("`{name}` takes a string literal"),
            )),
        };
        let slot = match name.as_str() {
            "topology" => &mut out.topology,
            "topology_file" => &mut out.topology_file,
            "node" => &mut out.node,
            "flavor" => &mut out.flavor,
            "worker_threads" => {
                let n = match literal(&meta.value) {
                    Some(Lit::Int(i)) => i.base10_parse::<usize>()?,
                    _ => {
                        return Err(syn::Error::new(
                            meta.value.span(),
                            "`worker_threads` takes a number",
                        ));
                    }
                };
                if n == 0 {
                    return Err(syn::Error::new(
                        meta.value.span(),
                        "`worker_threads` must be at least 1",
                    ));
                }
                if out.worker_threads.replace((n, meta.path.span())).is_some() {
                    return Err(syn::Error::new(
                        meta.path.span(),
                        "`worker_threads` is given twice",
                    ));
                }
                continue;
            }
            _ => {
                return Err(syn::Error::new(
                    meta.path.span(),
                    format!(
                        "unknown argument `{}`; expected one of: {ARGUMENTS}",
                        quote!(#meta)
                            .to_string()
                            .split('=')
                            .next()
                            .unwrap_or("")
                            .trim()
                    ),
                ));
            }
        };
        if slot.replace(string()?).is_some() {
            return Err(syn::Error::new(
                meta.path.span(),
                format!("`{name}` is given twice"),
            ));
        }
    }
    Ok(out)
}

/// The literal an argument's value is, seen through the invisible groups `macro_rules!` wraps
/// its fragments in, so `#[netns_test(topology = $t)]` works inside a declarative macro.
fn literal(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(g) => literal(&g.expr),
        Expr::Paren(p) => literal(&p.expr),
        _ => None,
    }
}

fn expand(args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let args = parse_args(args)?;
    let mut function: ItemFn = syn::parse2(item)?;
    let sig = &function.sig;

    if let Some(attr) = function.attrs.iter().find(|a| a.path().is_ident("test")) {
        return Err(syn::Error::new(
            attr.span(),
            "remove `#[test]`: `#[netns_test]` already makes the function a test",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a `#[netns_test]` function cannot be generic",
        ));
    }
    if let Some(extra) = sig.inputs.iter().nth(1) {
        return Err(syn::Error::new(
            extra.span(),
            "a `#[netns_test]` function takes no argument or one `&Net`",
        ));
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        return Err(syn::Error::new(
            r.span(),
            "a `#[netns_test]` function takes no `self`",
        ));
    }
    if let Some(FnArg::Typed(t)) = sig.inputs.first() {
        if !matches!(*t.ty, syn::Type::Reference(_)) {
            return Err(syn::Error::new(
                t.ty.span(),
                "the argument of a `#[netns_test]` function is `&Net`",
            ));
        }
    }
    let is_async = sig.asyncness.is_some();
    if !is_async {
        if let Some(flavor) = &args.flavor {
            return Err(syn::Error::new(
                flavor.span(),
                "`flavor` applies to `async fn` tests only",
            ));
        }
        if let Some((_, span)) = args.worker_threads {
            return Err(syn::Error::new(
                span,
                "`worker_threads` applies to `async fn` tests only",
            ));
        }
    }
    let multi_thread = match args.flavor.as_ref().map(|f| (f.value(), f)) {
        None => false,
        Some((f, _)) if f == "current_thread" => false,
        Some((f, _)) if f == "multi_thread" => true,
        Some((f, lit)) => {
            return Err(syn::Error::new(
                lit.span(),
                format!("unknown flavor `{f}`; expected `current_thread` or `multi_thread`"),
            ));
        }
    };
    if let (false, Some((_, span))) = (multi_thread, args.worker_threads) {
        return Err(syn::Error::new(
            span,
            "`worker_threads` needs `flavor = \"multi_thread\"`",
        ));
    }

    // The topology: text, where it came from, checked by the one parser.
    let (text_tokens, text, source) = match (&args.topology, &args.topology_file) {
        (Some(t), Some(f)) => {
            let _ = t;
            return Err(syn::Error::new(
                f.span(),
                "give `topology` or `topology_file`, not both",
            ));
        }
        (Some(t), None) => (quote!(#t), t.value(), None),
        (None, Some(f)) => {
            let dir = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_default();
            let path = dir.join(f.value());
            let text = std::fs::read_to_string(&path).map_err(|e| {
                syn::Error::new(
                    f.span(),
                    format!("cannot read topology file `{}`: {e}", path.display()),
                )
            })?;
            let path_str = path.to_string_lossy().into_owned();
            // include_str! makes cargo rebuild the test when the file changes.
            (
                quote_spanned!(f.span()=> include_str!(#path_str)),
                text,
                Some(f.value()),
            )
        }
        (None, None) => (quote!("node main"), "node main".to_string(), None),
    };
    let topology = netns_test_topology::parse(&text).map_err(|e| {
        let span = args
            .topology
            .as_ref()
            .or(args.topology_file.as_ref())
            .map_or_else(Span::call_site, |l| l.span());
        let place = source
            .as_ref()
            .map(|s| format!(" in {s}"))
            .unwrap_or_default();
        syn::Error::new(span, format!("invalid topology{place}: {e}"))
    })?;
    if let Some(node) = &args.node {
        if topology.node(&node.value()).is_none() {
            let known: Vec<&str> = topology.nodes().iter().map(|n| n.name.as_str()).collect();
            return Err(syn::Error::new(
                node.span(),
                format!(
                    "node `{}` is not in the topology (nodes: {})",
                    node.value(),
                    known.join(", ")
                ),
            ));
        }
    }

    // The user's function becomes an inner function, unchanged but for its name, so `return`,
    // `?` and the argument's pattern all work as written.
    let name = function.sig.ident.clone();
    let vis = function.vis.clone();
    let attrs = std::mem::take(&mut function.attrs);
    let output = function.sig.output.clone();
    let body_name = format_ident!("__netns_test_body");
    function.sig.ident = body_name.clone();
    let call_args = if function.sig.inputs.is_empty() {
        quote!()
    } else {
        quote!(__net)
    };
    let node_tokens = match &args.node {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let source_tokens = match &source {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    let workers = args.worker_threads.map_or(2, |(n, _)| n);
    let should_panic = match attrs.iter().find(|a| a.path().is_ident("should_panic")) {
        None => quote!(::core::option::Option::None),
        Some(attr) => {
            let expected = should_panic_expected(attr).unwrap_or_default();
            quote!(::core::option::Option::Some(#expected))
        }
    };
    let call = if is_async {
        quote! {
            ::netns_test::private::runtime(__net, #node_tokens, #multi_thread, #workers)
                .block_on(#body_name(#call_args))
        }
    } else {
        quote!(#body_name(#call_args))
    };
    Ok(quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() #output {
            #function
            static __NETNS_TEST_SPEC: ::netns_test::private::TestSpec = ::netns_test::private::TestSpec {
                name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                topology: #text_tokens,
                source: #source_tokens,
                node: #node_tokens,
                should_panic: #should_panic,
            };
            ::netns_test::private::run(&__NETNS_TEST_SPEC, |__net: &::netns_test::Net| #call)
        }
    })
}

/// The `expected` message of `#[should_panic(expected = "...")]` or `#[should_panic = "..."]`.
fn should_panic_expected(attr: &syn::Attribute) -> Option<String> {
    match &attr.meta {
        syn::Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        syn::Meta::List(list) => {
            let metas = list
                .parse_args_with(Punctuated::<MetaNameValue, Token![,]>::parse_terminated)
                .ok()?;
            metas
                .iter()
                .find(|m| m.path.is_ident("expected"))
                .and_then(|m| match &m.value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => Some(s.value()),
                    _ => None,
                })
        }
        syn::Meta::Path(_) => None,
    }
}

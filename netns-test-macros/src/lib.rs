//! The `#[netns_test]` attribute. Use it through the `netns-test` crate, which re-exports it.
//!
//! Shaped as tokio-macros is: the arguments are parsed into a `Config`, the checks
//! that span several arguments are made in one place, and only then is the test rendered. On
//! any error the user's function is emitted unchanged beside every error found, so the editor
//! keeps checking its body.

#![warn(missing_docs)]

mod config;
mod render;
mod signature;
mod topology;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::ItemFn;

/// Every error found, reported together.
type Errors = Vec<syn::Error>;

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
    expand(args.into(), item.into()).into()
}

fn expand(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut errors = Errors::new();
    let config = config::Config::parse(args, &mut errors);
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(e) => {
            // Not a function: give the item back as it came, with the reason.
            let e = e.to_compile_error();
            return quote!(#e #item);
        }
    };
    signature::check(&function, &mut errors);
    config.check(function.sig.asyncness.is_some(), &mut errors);
    let topology = topology::check(&config, &mut errors);
    match topology {
        Some(topology) if errors.is_empty() => {
            let should_panic = signature::should_panic(&function);
            render::render(&config, topology, should_panic, function)
        }
        _ => {
            // The function as written, so its body is still type-checked and an editor keeps
            // working; unused, as a test that did not expand.
            let errors = errors.iter().map(syn::Error::to_compile_error);
            quote! {
                #(#errors)*
                #[allow(dead_code)]
                #item
            }
        }
    }
}

//! The test the attribute generates, once every check has passed.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemFn;

use crate::config::Config;
use crate::topology::Checked;

/// The test function: libtest's `#[test]` around the user's function, kept whole as an inner
/// function (so `return`, `?` and the argument's pattern work as written), run by a static
/// `netns_test::Test`.
pub(crate) fn render(
    config: &Config,
    topology: Checked,
    should_panic: Option<String>,
    mut function: ItemFn,
) -> TokenStream {
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
    let node = config.node.as_ref().map(|n| quote!(.node(#n)));
    let node_arg = match &config.node {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let source = topology.source.as_ref().map(|s| quote!(.source(#s)));
    let should_panic = should_panic.map(|expected| quote!(.should_panic(#expected)));
    let call = if function.sig.asyncness.is_some() {
        let multi_thread = config.multi_thread();
        let workers = config.worker_threads.map_or(2, |(n, _)| n);
        quote! {
            ::netns_test::__private::runtime(__net, #node_arg, #multi_thread, #workers)
                .block_on(#body_name(#call_args))
        }
    } else {
        quote!(#body_name(#call_args))
    };
    let text = topology.text;
    quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() #output {
            #function
            static __NETNS_TEST: ::netns_test::Test<'static> = ::netns_test::Test::new(
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                #text,
            ) #source #node #should_panic;
            __NETNS_TEST.run(|__net: &::netns_test::Net| #call)
        }
    }
}

//! The attribute's arguments, parsed into a [`Config`]: one setter per argument, a repeated or
//! malformed argument an error at its own span, every error kept.

use proc_macro2::Span;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, LitStr, MetaNameValue, Token};

use crate::Errors;

const ARGUMENTS: &str = "topology, topology_file, node, flavor, worker_threads";

/// The runtime flavor of an `async fn` test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    CurrentThread,
    MultiThread,
}

/// What the arguments say, each with the span to blame.
#[derive(Default)]
pub(crate) struct Config {
    pub topology: Option<LitStr>,
    pub topology_file: Option<LitStr>,
    pub node: Option<LitStr>,
    pub flavor: Option<(Flavor, Span)>,
    pub worker_threads: Option<(usize, Span)>,
}

impl Config {
    /// Parses the arguments; what cannot be read goes into `errors`, and the rest still counts.
    pub fn parse(args: proc_macro2::TokenStream, errors: &mut Errors) -> Config {
        let mut config = Config::default();
        let metas = match Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(args) {
            Ok(metas) => metas,
            Err(e) => {
                errors.push(e);
                return config;
            }
        };
        for meta in metas {
            if let Err(e) = config.set(&meta) {
                errors.push(e);
            }
        }
        config
    }

    fn set(&mut self, meta: &MetaNameValue) -> syn::Result<()> {
        let name = meta.path.get_ident().map(|i| i.to_string());
        let span = meta.path.span();
        match name.as_deref() {
            Some("topology") => set_once(&mut self.topology, string(meta)?, "topology", span),
            Some("topology_file") => set_once(
                &mut self.topology_file,
                string(meta)?,
                "topology_file",
                span,
            ),
            Some("node") => set_once(&mut self.node, string(meta)?, "node", span),
            Some("flavor") => self.set_flavor(string(meta)?, span),
            Some("worker_threads") => self.set_worker_threads(meta, span),
            _ => {
                let written = quote::quote!(#meta).to_string();
                let written = written.split('=').next().unwrap_or("").trim().to_string();
                Err(syn::Error::new(
                    span,
                    format!("unknown argument `{written}`; expected one of: {ARGUMENTS}"),
                ))
            }
        }
    }

    fn set_flavor(&mut self, value: LitStr, span: Span) -> syn::Result<()> {
        let flavor = match value.value().as_str() {
            "current_thread" => Flavor::CurrentThread,
            "multi_thread" => Flavor::MultiThread,
            other => {
                return Err(syn::Error::new(
                    value.span(),
                    format!(
                        "unknown flavor `{other}`; expected `current_thread` or `multi_thread`"
                    ),
                ));
            }
        };
        set_once(&mut self.flavor, (flavor, value.span()), "flavor", span)
    }

    fn set_worker_threads(&mut self, meta: &MetaNameValue, span: Span) -> syn::Result<()> {
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
        set_once(&mut self.worker_threads, (n, span), "worker_threads", span)
    }

    /// The checks that involve several arguments, or an argument and the function: all here.
    pub fn check(&self, is_async: bool, errors: &mut Errors) {
        if !is_async {
            if let Some((_, span)) = self.flavor {
                errors.push(syn::Error::new(
                    span,
                    "`flavor` applies to `async fn` tests only",
                ));
            }
            if let Some((_, span)) = self.worker_threads {
                errors.push(syn::Error::new(
                    span,
                    "`worker_threads` applies to `async fn` tests only",
                ));
            }
        } else if let Some((_, span)) = self.worker_threads
            && self.flavor.map(|f| f.0) != Some(Flavor::MultiThread)
        {
            errors.push(syn::Error::new(
                span,
                "`worker_threads` needs `flavor = \"multi_thread\"`",
            ));
        }
    }

    /// Whether the body's runtime has several threads.
    pub fn multi_thread(&self) -> bool {
        self.flavor.map(|f| f.0) == Some(Flavor::MultiThread)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &str, span: Span) -> syn::Result<()> {
    if slot.replace(value).is_some() {
        return Err(syn::Error::new(span, format!("`{name}` is given twice")));
    }
    Ok(())
}

fn string(meta: &MetaNameValue) -> syn::Result<LitStr> {
    match literal(&meta.value) {
        Some(Lit::Str(s)) => Ok(s.clone()),
        _ => {
            let name = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            Err(syn::Error::new(
                meta.value.span(),
                format!("`{name}` takes a string literal"),
            ))
        }
    }
}

/// The literal an argument's value is, seen through the invisible groups `macro_rules!` wraps
/// its fragments in, so `#[netns_test(topology = $t)]` works inside a declarative macro.
pub(crate) fn literal(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(g) => literal(&g.expr),
        Expr::Paren(p) => literal(&p.expr),
        _ => None,
    }
}

//! Support for the code `#[netns_test]` generates. Not a public API: it may change in any release.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::ErrorKind;
use crate::namespace;
use crate::net::Net;

/// What the attribute knows at compile time.
#[derive(Debug, Clone, Copy)]
pub struct TestSpec {
    /// The test's full path, `module::name`.
    pub name: &'static str,
    /// The topology text (checked at compile time).
    pub topology: &'static str,
    /// The file the topology came from, if any, for messages.
    pub source: Option<&'static str>,
    /// The node the body runs in; `None`: the first node.
    pub node: Option<&'static str>,
    /// `Some(expected)` for a `#[should_panic]` test (`""` when it names no message).
    pub should_panic: Option<&'static str>,
}

/// What a test body returns, and what a skipped test returns instead.
pub trait TestOutput {
    /// The value of a test that passes without running.
    fn skipped() -> Self;
}

impl TestOutput for () {
    fn skipped() {}
}

impl<E> TestOutput for Result<(), E> {
    fn skipped() -> Self {
        Ok(())
    }
}

/// `NETNS_TEST_UNSUPPORTED=skip`: a test that cannot get namespaces passes after saying why.
fn skip_unsupported() -> bool {
    std::env::var("NETNS_TEST_UNSUPPORTED").is_ok_and(|v| v == "skip")
}

/// Builds the topology, runs `body` on the calling thread inside the body's node, and moves the
/// thread back. Panics (failing the test) if the topology cannot be built or the thread is not in
/// the node's namespace when the body would start.
pub fn run<R: TestOutput>(spec: &TestSpec, body: impl FnOnce(&Net) -> R) -> R {
    let net = match Net::build_from(spec.topology, spec.source.map(str::to_string)) {
        Ok(net) => net,
        Err(e) if e.kind() == ErrorKind::Unsupported && skip_unsupported() => {
            // Straight to fd 2: libtest's capture would hide the line of a passing test.
            let line = format!("netns-test: skipped: {}: {e}\n", spec.name);
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            if let Some(expected) = spec.should_panic {
                panic!("netns-test: skipped (expected panic: {expected}): {e}");
            }
            return R::skipped();
        }
        Err(e) => panic!(
            "netns-test: cannot build the topology of {}: {e}",
            spec.name
        ),
    };
    let node = match spec.node {
        Some(name) => net.node(name),
        None => net
            .nodes()
            .next()
            .expect("a topology has at least one node"),
    };
    let entered = node
        .enter()
        .unwrap_or_else(|e| panic!("netns-test: cannot enter node `{}`: {e}", node.name()));
    let here = namespace::current_inode().unwrap_or(0);
    if here != node.netns_inode() || here == namespace::host_inode() {
        panic!(
            "netns-test: refusing to run {} outside its node `{}`: the thread is in network namespace \
             {here}, the node is {}, the host is {}",
            spec.name,
            node.name(),
            node.netns_inode(),
            namespace::host_inode()
        );
    }
    let result = body(&net);
    drop(entered);
    drop(net);
    result
}

/// A tokio runtime whose every thread (workers and blocking pool) lives inside the namespace
/// `ns`. Built from any thread: each new runtime thread moves itself into the node when it starts.
pub fn runtime(
    net: &Net,
    node: Option<&str>,
    multi_thread: bool,
    workers: usize,
) -> tokio::runtime::Runtime {
    let node = match node {
        Some(name) => net.node(name),
        None => net
            .nodes()
            .next()
            .expect("a topology has at least one node"),
    };
    runtime_in(node.ns(), node.name(), multi_thread, workers).unwrap_or_else(|e| {
        panic!(
            "netns-test: cannot start a tokio runtime in node `{}`: {e}",
            node.name()
        )
    })
}

pub(crate) fn runtime_in(
    ns: &Arc<OwnedFd>,
    name: &str,
    multi_thread: bool,
    workers: usize,
) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if multi_thread {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers.max(1));
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let ns = ns.clone();
    let node = name.to_string();
    builder
        .enable_all()
        .thread_name(format!("netns-{name}"))
        .on_thread_start(move || {
            if let Err(e) = namespace::enter(&*ns) {
                // A runtime thread outside its node would send from the wrong namespace.
                eprintln!("netns-test: a runtime thread cannot enter node `{node}`: {e}");
                std::process::abort();
            }
        })
        .build()
}

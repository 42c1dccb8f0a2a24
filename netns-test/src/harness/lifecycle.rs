//! Support for the code `#[netns_test]` generates. Not a public API: it may change in any release.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::ErrorKind;
use crate::capture::Capture;
use crate::namespace;
use crate::net::Net;
use crate::{inspect, keep};

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
    /// True if this value fails the test.
    fn is_failure(&self) -> bool;
}

impl TestOutput for () {
    fn skipped() {}
    fn is_failure(&self) -> bool {
        false
    }
}

impl<E> TestOutput for Result<(), E> {
    fn skipped() -> Self {
        Ok(())
    }
    fn is_failure(&self) -> bool {
        self.is_err()
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
    let node = body_node(&net, spec.node);
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
    let capture = start_capture(&net, spec);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&net)));
    drop(entered);
    if failed(spec, &outcome) {
        report_failure(&net, spec, capture);
    } else if let Some(capture) = capture {
        capture.finish(std::env::var_os("NETNS_TEST_PCAP_ALL").is_some_and(|v| v == "1"));
    }
    drop(net);
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Whether libtest will call this test failed: a panic it did not expect, an `Err`, or an
/// expected panic that did not come (or came with another message).
fn failed<R: TestOutput>(spec: &TestSpec, outcome: &std::thread::Result<R>) -> bool {
    match (outcome, spec.should_panic) {
        (Ok(result), None) => result.is_failure(),
        (Ok(_), Some(_)) => true,
        (Err(_), None) => true,
        (Err(payload), Some(expected)) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            !message.contains(expected)
        }
    }
}

/// `NETNS_TEST_PCAP=DIR`: start capturing before the body sends anything.
fn start_capture(net: &Net, spec: &TestSpec) -> Option<Capture> {
    let dir = std::env::var_os("NETNS_TEST_PCAP").filter(|d| !d.is_empty())?;
    match Capture::start(net, std::path::Path::new(&dir), spec.name) {
        Ok(capture) => Some(capture),
        Err(e) => {
            eprintln!(
                "netns-test: cannot capture packets into {}: {e}",
                dir.to_string_lossy()
            );
            None
        }
    }
}

/// What a failing test prints: the topology as the kernel holds it now, where its captures are,
/// and (`NETNS_TEST_KEEP=1`) how to enter its kept nodes.
fn report_failure(net: &Net, spec: &TestSpec, capture: Option<Capture>) {
    let mut report = format!(
        "netns-test: {} failed; its topology as the kernel holds it:\n{}",
        spec.name,
        inspect::describe(net)
    );
    if let Some(seeds) = net.seed_report() {
        report.push_str(&seeds);
    }
    if let Some(dir) = capture.and_then(|c| c.finish(true)) {
        report.push_str(&format!(
            "netns-test: packet captures in {}\n",
            dir.display()
        ));
    }
    if std::env::var_os("NETNS_TEST_KEEP").is_some_and(|v| v == "1") {
        for line in keep::pin(net, spec.name) {
            report.push_str(&line);
            report.push('\n');
        }
    }
    eprint!("{report}");
}

/// The node a body runs in: the one named, else the first of the topology.
fn body_node<'n>(net: &'n Net, name: Option<&str>) -> &'n crate::Node {
    match name {
        Some(name) => net.node(name),
        None => net
            .nodes()
            .next()
            .expect("a topology has at least one node"),
    }
}

/// A tokio runtime whose every thread (workers and blocking pool) lives inside the namespace
/// `ns`. Built from any thread: each new runtime thread moves itself into the node when it starts.
pub fn runtime(
    net: &Net,
    node: Option<&str>,
    multi_thread: bool,
    workers: usize,
) -> tokio::runtime::Runtime {
    let node = body_node(net, node);
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

/// How many transient kernel refusals this process has retried so far (namespace creation and
/// netlink batches together). For tests of the retry policy.
pub fn transient_retries() -> u64 {
    crate::error::RETRIES.load(std::sync::atomic::Ordering::Relaxed)
}

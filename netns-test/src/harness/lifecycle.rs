//! A test's life: build its topology, run its body inside its node, report a failure with
//! what the kernel holds, tear everything down. [`Test`] is what `#[netns_test]` expands to.

use crate::debug::capture::Capture;
use crate::debug::keep;
use crate::error::ErrorKind;
use crate::net::Net;
use crate::node::Node;
use crate::sys::namespace;

/// A test as `#[netns_test]` runs it: its topology built in fresh namespaces, the body run on
/// the calling thread inside one node, a failure reported with the topology as the kernel holds
/// it (and the captures and kept nodes the environment asks for), everything torn down.
///
/// The attribute makes one of these for each test; use it directly in a custom harness
/// (libtest-mimic, generated test tables) or a benchmark. Every constructor is `const`, so a
/// `Test` can be a `static`.
///
/// ```no_run
/// use netns_test::{Net, Test};
///
/// static PAIR: Test = Test::new("pair_talks", "a -- b").node("b");
///
/// PAIR.run(|net: &Net| {
///     netns_test::assert_not_in_host_netns();
///     assert_eq!(netns_test::current_netns_inode(), net.node("b").netns_inode());
/// });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Test<'a> {
    name: &'a str,
    topology: &'a str,
    source: Option<&'a str>,
    node: Option<&'a str>,
    should_panic: Option<&'a str>,
}

impl<'a> Test<'a> {
    /// A test called `name` (its full path, as libtest names it, for messages and capture
    /// folders) on the topology `topology`; the body runs in the first node named.
    ///
    /// ```
    /// static T: netns_test::Test = netns_test::Test::new("suite::pair", "a -- b");
    /// ```
    pub const fn new(name: &'a str, topology: &'a str) -> Test<'a> {
        Test {
            name,
            topology,
            source: None,
            node: None,
            should_panic: None,
        }
    }

    /// The file the topology text came from, named in messages about it.
    ///
    /// ```
    /// const TEXT: &str = "a -- b"; // e.g. include_str!("../fixtures/pair.topo")
    /// static T: netns_test::Test = netns_test::Test::new("suite::pair", TEXT).source("fixtures/pair.topo");
    /// ```
    pub const fn source(mut self, file: &'a str) -> Test<'a> {
        self.source = Some(file);
        self
    }

    /// The node the body runs in.
    ///
    /// ```
    /// static T: netns_test::Test = netns_test::Test::new("suite::in_b", "a -- b").node("b");
    /// ```
    pub const fn node(mut self, node: &'a str) -> Test<'a> {
        self.node = Some(node);
        self
    }

    /// The test is expected to panic with a message containing `expected` (`""` for any), as
    /// with `#[should_panic]`: the failure report is printed when it does not.
    ///
    /// ```
    /// static T: netns_test::Test =
    ///     netns_test::Test::new("suite::refused", "a -- b").should_panic("connection refused");
    /// ```
    pub const fn should_panic(mut self, expected: &'a str) -> Test<'a> {
        self.should_panic = Some(expected);
        self
    }

    /// Builds the topology, runs `body` on the calling thread inside the body's node, and moves
    /// the thread back (where the kernel lets it: see the README's rootless section).
    ///
    /// # Panics
    /// If the topology cannot be built (unless `NETNS_TEST_UNSUPPORTED=skip` and the environment
    /// cannot make namespaces: then it returns [`Outcome::skipped`]), if the thread is not in the
    /// node's namespace when the body would start, and with the body's own panic.
    ///
    /// ```no_run
    /// let outcome: Result<(), String> = netns_test::Test::new("suite::udp", "a -- b").run(|net| {
    ///     let b = net.node("b").ip();
    ///     std::net::UdpSocket::bind("0.0.0.0:0")
    ///         .and_then(|s| s.send_to(b"x", (b, 9)))
    ///         .map(drop)
    ///         .map_err(|e| e.to_string())
    /// });
    /// ```
    pub fn run<R: Outcome>(&self, body: impl FnOnce(&Net) -> R) -> R {
        run(self, body)
    }
}

/// What a test body returns: `()` or `Result<(), E>`.
///
/// ```no_run
/// fn io_body(net: &netns_test::Net) -> Result<(), std::io::Error> { Ok(()) }
/// netns_test::Test::new("suite::io", "a -- b").run(io_body).unwrap();
/// ```
pub trait Outcome {
    /// The value of a test that passes without running.
    fn skipped() -> Self;
    /// True if this value fails the test.
    fn is_failure(&self) -> bool;
}

impl Outcome for () {
    fn skipped() {}
    fn is_failure(&self) -> bool {
        false
    }
}

impl<E> Outcome for Result<(), E> {
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

fn run<R: Outcome>(spec: &Test<'_>, body: impl FnOnce(&Net) -> R) -> R {
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
        .enter_with_view()
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
fn failed<R: Outcome>(spec: &Test<'_>, outcome: &std::thread::Result<R>) -> bool {
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
fn start_capture(net: &Net, spec: &Test<'_>) -> Option<Capture> {
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
fn report_failure(net: &Net, spec: &Test<'_>, capture: Option<Capture>) {
    let node = body_node(net, spec.node).name();
    let chosen = if spec.node.is_some() {
        "named by `node =`"
    } else {
        "the first node of the topology; `node = \"...\"` picks another"
    };
    let mut report = format!(
        "netns-test: {} failed; its body ran in node `{node}` ({chosen}); its topology as the \
         kernel holds it:\n{}",
        spec.name, net
    );
    if let Some(seeds) = net.seed_report() {
        report.push_str(&seeds);
    }
    if let Some(dir) = capture.and_then(|c| c.finish(true)) {
        // A picture of the topology beside the captures, to read them by.
        let picture = dir.join("topology.svg");
        if let Err(e) = std::fs::write(&picture, crate::picture::svg(net.topology())) {
            report.push_str(&format!(
                "netns-test: cannot write {}: {e}\n",
                picture.display()
            ));
        }
        report.push_str(&format!(
            "netns-test: packet captures and topology.svg in {}\n",
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
pub(super) fn body_node<'n>(net: &'n Net, name: Option<&str>) -> &'n Node {
    match name {
        Some(name) => net.node(name),
        None => net
            .nodes()
            .next()
            .expect("a topology has at least one node"),
    }
}

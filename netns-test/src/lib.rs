#![doc = include_str!("../guide.md")]
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

// The pipeline, in order: the topology (parsed and checked by `netns_test_topology`) ->
// `plan` (pure) -> `build` (the executor, in namespaces) -> the runtime handles `net`, `node`,
// `link`, `command`. Beside it: `relay` (conditioned links), `debug` (what a failure leaves),
// `harness` (what the attribute's code calls), `requests` (netlink messages), `sys` (syscalls).
mod build;
mod command;
mod conditions;
mod debug;
mod error;
mod harness;
mod interfaces;
mod link;
mod middlebox;
mod names;
mod net;
mod node;
mod plan;
mod relay;
mod requests;
mod sys;

/// What `#[netns_test]`'s generated code names. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::harness::runtime;
}

pub use conditions::Conditions;
pub use debug::keep::{PIN_DIR, clean as clean_stale_pins, clean_stale_names};
pub use debug::picture;
pub use error::{Error, ErrorKind};
pub use harness::{Outcome, Test};
pub use interfaces::InterfaceState;
pub use link::Link;
pub use middlebox::{Mapping, Protocol, Stopped};
pub use net::Net;
pub use netns_test_macros::netns_test;
pub use netns_test_topology as topology;
pub use node::Node;
pub use sys::namespace::host_inode;

/// The inode of the calling thread's network namespace (`/proc/thread-self/ns/net`).
///
/// ```
/// let here = netns_test::current_netns_inode();
/// assert_eq!(here == netns_test::host_inode(), true); // a test's main thread starts on the host
/// ```
pub fn current_netns_inode() -> u64 {
    sys::namespace::current_inode().unwrap_or(0)
}

/// Panics unless the calling thread is outside the host's network namespace. Every test that
/// sends traffic calls this first: a packet from the host namespace could reach a real network.
///
/// ```no_run
/// # fn demo(net: &netns_test::Net) {
/// net.node("a").run(|| {
///     netns_test::assert_not_in_host_netns(); // before the first packet
///     std::net::UdpSocket::bind("0.0.0.0:0").unwrap().send_to(b"x", "198.18.0.2:9").unwrap();
/// });
/// # }
/// ```
pub fn assert_not_in_host_netns() {
    let here = current_netns_inode();
    assert!(
        here != 0 && here != host_inode(),
        "netns-test: this thread is in the host's network namespace ({here}); refusing to send traffic"
    );
}

/// How many times this process has sent a request again because the kernel refused it for a
/// moment (EAGAIN, EBUSY, ENOMEM, ENOBUFS, or a namespace limit still held by namespaces being
/// freed). A number that grows in a run means the machine is loaded: run fewer tests at once.
///
/// ```
/// let before = netns_test::transient_retries();
/// // ... build many topologies at once ...
/// println!("the kernel asked for patience {} times", netns_test::transient_retries() - before);
/// ```
pub fn transient_retries() -> u64 {
    sys::retry::retries()
}

//! The tokio runtime an `async` test body runs on, all its threads inside the body's node.

use super::lifecycle::body_node;
use crate::net::Net;

/// A tokio runtime whose every thread (workers and blocking pool) lives inside the body's node.
/// Built from any thread: each new runtime thread moves itself into the node when it starts.
pub fn runtime(
    net: &Net,
    node: Option<&str>,
    multi_thread: bool,
    workers: usize,
) -> tokio::runtime::Runtime {
    let node = body_node(net, node);
    node.runtime_with(multi_thread, workers)
        .unwrap_or_else(|e| {
            panic!(
                "netns-test: cannot start a tokio runtime in node `{}`: {e}",
                node.name()
            )
        })
}

//! The live-change rows: one node and its link added to a running topology by `Net::apply`,
//! removed by `Node::remove`, and a route replaced, next to building a two-node pair from
//! nothing (the same kernel work plus a second namespace).

use std::time::{Duration, Instant};

use netns_test::Net;

use crate::{median, ms};

/// Read when the bench runs (from the workspace), so the crate packages on its own.
fn lan() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/lan.topo");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Prints the table: medians of `runs` samples each, all taken in this one run.
pub fn table(runs: usize) {
    let net = Net::build(&lan()).unwrap();
    let (mut apply, mut remove, mut route) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs + 5 {
        let name = format!("n{i}");
        let start = Instant::now();
        net.apply(&format!("{name} -- s")).unwrap();
        let applied = start.elapsed();
        let gateway = if i % 2 == 0 {
            "198.18.0.1"
        } else {
            "198.18.0.2"
        };
        let start = Instant::now();
        net.apply(&format!("route {name} 203.0.113.0/24 via {gateway}"))
            .unwrap();
        let routed = start.elapsed();
        let start = Instant::now();
        net.node(&name).remove().unwrap();
        let removed = start.elapsed();
        if i >= 5 {
            apply.push(applied);
            route.push(routed);
            remove.push(removed);
        }
    }
    drop(net);
    let pair: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let net = Net::build("a -- b").unwrap();
            let built = start.elapsed();
            drop(net);
            built
        })
        .collect();
    let pair = median(pair);
    let apply = median(apply);
    println!("| change to the running `fixtures/lan.topo` (a switch, 4 hosts) | median | ratio |");
    println!("|---|---|---|");
    println!(
        "| `apply(\"nX -- s\")`: a new host and its switch port, up and addressed | {} | {:.2}x a pair's build |",
        ms(apply),
        apply.as_secs_f64() / pair.as_secs_f64()
    );
    println!(
        "| `apply(\"route nX ...\")`: a route added or replaced | {} | |",
        ms(median(route))
    );
    println!(
        "| `node(\"nX\").remove()`: the host, its port and its name gone | {} | |",
        ms(median(remove))
    );
    println!(
        "| build of a pair `a -- b` (no drop), for scale | {} | 1.00x |",
        ms(pair)
    );
}

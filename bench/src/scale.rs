//! The scale rows: topologies of 1,000 to 4,000 nodes (one switch, or LANs of 99 hosts behind
//! one forwarding router) built and dropped, next to the floor of as many empty namespaces.

use std::time::{Duration, Instant};

use netns_test::Net;

use crate::{SETTLE, floor, median, ms, switch};

/// `lans` switches of 99 hosts each, every switch also linked to one forwarding router `r`.
fn lans(lans: usize) -> String {
    let mut text = String::from("node r forward\n");
    for s in 0..lans {
        text.push_str(&format!("switch s{s}\nr -- s{s}\n"));
        for h in 0..99 {
            text.push_str(&format!("h{s}x{h} -- s{s}\n"));
        }
    }
    text
}

/// Build and drop of `text`, then the floor of as many namespaces, `runs` times each, the
/// kernel settled before every sample (a big teardown goes on for seconds after the drop).
fn sample(text: &str, runs: usize) -> (usize, Duration, Duration, Duration) {
    let nodes = netns_test::topology::parse(text).unwrap().nodes().len();
    let (mut built, mut total, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        std::thread::sleep(SETTLE * 4);
        let start = Instant::now();
        let net = Net::build(text).unwrap();
        built.push(start.elapsed());
        drop(net);
        total.push(start.elapsed());
        std::thread::sleep(SETTLE * 4);
        let start = Instant::now();
        floor(nodes);
        bare.push(start.elapsed());
    }
    (nodes, median(built), median(total), median(bare))
}

/// Prints the table: medians of `runs` samples each, all taken in this one run.
pub fn table(runs: usize) {
    println!(
        "| topology, kernel settled before each sample (medians of {runs}) | nodes | build | build + drop | floor (as many empty namespaces, made and closed) | build / floor | per node |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, text) in [
        ("one switch, 1,000 hosts", switch(1000)),
        ("one switch, 2,000 hosts", switch(2000)),
        ("one switch, 4,000 hosts", switch(4000)),
        ("10 LANs of 99 hosts behind one router", lans(10)),
        ("20 LANs of 99 hosts behind one router", lans(20)),
        ("40 LANs of 99 hosts behind one router", lans(40)),
    ] {
        let (nodes, built, total, bare) = sample(&text, runs);
        println!(
            "| {label} | {nodes} | {} | {} | {} | {:.2}x | {:.3} ms |",
            ms(built),
            ms(total),
            ms(bare),
            built.as_secs_f64() / bare.as_secs_f64(),
            built.as_secs_f64() * 1e3 / nodes as f64
        );
    }
}

//! Soak: 10,000 build/drop cycles of a four-node topology in one process. File descriptors and
//! threads return to their starting count, and resident memory after the run is within 10% of
//! what it was after the first 100 cycles. Ignored by default (about four minutes: each cycle
//! drops a switch, whose teardown holds the kernel's routing lock for ~20 ms; see the README's
//! teardown table); CI runs it.

use netns_test::Net;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[ignore = "four minutes long: run with --ignored (CI does)"]
fn ten_thousand_cycles_return_every_fd_thread_and_page() {
    const TOPOLOGY: &str = "switch s\na -- s\nb -- s\nnode r forward\nr -- s";
    let (fds, threads) = (netns_test_e2e::open_fds(), netns_test_e2e::thread_ids());
    let mut after_100 = 0;
    for cycle in 1..=10_000 {
        let net = Net::build(TOPOLOGY).unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        assert_eq!(net.nodes().count(), 4);
        drop(net);
        if cycle == 100 {
            after_100 = rss_kib();
        }
    }
    assert_eq!(netns_test_e2e::open_fds(), fds, "file descriptors leaked");
    assert_eq!(netns_test_e2e::threads_left(&threads), [], "threads leaked");
    let end = rss_kib();
    assert!(
        end * 10 <= after_100 * 11,
        "RSS grew from {after_100} KiB to {end} KiB"
    );
    eprintln!("soak: RSS {after_100} KiB after 100 cycles, {end} KiB after 10,000");
}

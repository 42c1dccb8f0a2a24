//! Thousands of nodes come and go whole: three build/drop cycles of 4,001 nodes (40 LANs of 99
//! hosts behind one forwarding router) leave the process with the file descriptors and threads
//! it had, and each cycle builds as the first did (nothing the kernel still tears down gets in
//! the way of the next build).

use netns_test::Net;
use netns_test_e2e::{open_fds, thread_ids, threads_left, udp_once};

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

#[test]
#[ignore = "12,003 namespaces, 16 s in a debug build: run with --ignored (CI does, once)"]
fn three_cycles_of_four_thousand_nodes_leak_nothing() {
    let text = lans(40);
    let (fds, threads) = (open_fds(), thread_ids());
    for _ in 0..3 {
        let net = Net::build(&text).unwrap();
        assert_eq!(net.nodes().count(), 4001);
        let (first, neighbour) = (net.node("h0x0"), net.node("h0x98"));
        first.run(|| {
            netns_test::assert_not_in_host_netns();
            assert_eq!(
                udp_once(neighbour, neighbour.ip(), 9700, b"one of 4,001").unwrap(),
                b"one of 4,001"
            );
        });
        drop(net);
        assert_eq!(open_fds(), fds, "file descriptors outlived the net");
        assert_eq!(threads_left(&threads), [], "threads outlived the net");
    }
}

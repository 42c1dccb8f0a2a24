//! A thousand changes from four threads at once, with traffic flowing all along: nodes and
//! links (plain and conditioned) added by `Net::apply` and taken out by `Node::remove` and
//! `Link::remove`. Nothing piles up while the net lives (a removed node's namespace is let go at
//! once), and nothing is left once it is dropped: the leak test's counts of file descriptors and
//! threads. (A binary of its own: a test beside it would move the counts.)

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use netns_test::Net;
use netns_test_e2e::{open_fds, thread_ids, threads_left, udp_once};

const THREADS: u16 = 4;
const ROUNDS: u16 = 250;

#[test]
fn a_thousand_changes_from_four_threads_leave_nothing_behind() {
    // The process-wide relay is made by a first conditioned net, before counting.
    drop(Net::build("a -- b delay=0ms").unwrap());
    let (fds, threads) = (open_fds(), thread_ids());
    let net = Net::build("switch hub\nsrv -- hub\nh -- hub").unwrap();
    let (srv, h) = (net.node("srv"), net.node("h"));
    let built_fds = open_fds();
    let stop = AtomicBool::new(false);
    let echoed = AtomicU64::new(0);
    std::thread::scope(|scope| {
        // Traffic between two nodes that stay, all along.
        scope.spawn(|| {
            let (rx, tx) = (
                srv.run(|| UdpSocket::bind("0.0.0.0:9000").unwrap()),
                h.run(|| UdpSocket::bind("0.0.0.0:0").unwrap()),
            );
            rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let to = (srv.ip(), 9000);
            while !stop.load(Ordering::Relaxed) {
                tx.send_to(b"flow", to).unwrap();
                rx.recv(&mut [0u8; 8]).expect("traffic keeps flowing");
                echoed.fetch_add(1, Ordering::Relaxed);
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let net = &net;
                scope.spawn(move || {
                    for round in 0..ROUNDS {
                        let name = format!("t{t}x{round}");
                        let conditions = if round % 4 == 0 { " delay=0ms" } else { "" };
                        net.apply(&format!("{name} -- hub{conditions}")).unwrap();
                        let node = net.node(&name);
                        let port = 7000 + t;
                        let got = node.run(|| udp_once(srv, srv.ip(), port, b"x"));
                        assert_eq!(got.unwrap(), b"x", "{name}");
                        if round % 2 == 0 {
                            net.link(&name, "hub").remove().unwrap();
                        }
                        node.remove().unwrap();
                    }
                })
            })
            .collect();
        let outcomes: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        stop.store(true, Ordering::Relaxed);
        for outcome in outcomes {
            outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
    assert!(echoed.load(Ordering::Relaxed) > 0);
    assert_eq!(net.nodes().count(), 3);
    assert_eq!(net.links().count(), 2);
    // Removed nodes hold nothing while the net lives.
    let during = open_fds();
    assert!(
        during <= built_fds + 4,
        "{during} descriptors open after 1,000 changes, {built_fds} after the build"
    );
    drop(net);
    assert_eq!(open_fds(), fds, "file descriptors leaked");
    assert_eq!(threads_left(&threads), [], "threads leaked");
}

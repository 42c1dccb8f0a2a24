//! Through a router: traffic crosses only when the router forwards.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use netns_test::{Net, netns_test};
use netns_test_e2e::{tcp_echo, udp_once};

#[netns_test(topology_file = "../fixtures/router.topo", node = "h1")]
fn tcp_and_udp_cross_a_forwarding_router(net: &Net) {
    netns_test::assert_not_in_host_netns();
    assert_eq!(
        netns_test::current_netns_inode(),
        net.node("h1").netns_inode(),
        "body runs in h1"
    );
    let h2 = net.node("h2");
    assert_eq!(h2.ip().to_string(), "198.51.100.10");
    assert_eq!(
        tcp_echo(h2, h2.ip(), 8000, b"through r").unwrap(),
        b"through r"
    );
    assert_eq!(
        udp_once(h2, h2.ip(), 8001, b"datagram through r").unwrap(),
        b"datagram through r"
    );
}

#[netns_test(topology_file = "../fixtures/router.topo", node = "h2")]
fn the_body_can_run_in_any_node(net: &Net) {
    netns_test::assert_not_in_host_netns();
    assert_eq!(
        netns_test::current_netns_inode(),
        net.node("h2").netns_inode()
    );
    let h1 = net.node("h1");
    assert_eq!(tcp_echo(h1, h1.ip(), 8000, b"back").unwrap(), b"back");
}

#[netns_test(topology_file = "../fixtures/router.topo")]
fn forwarding_is_on_in_the_router_only(net: &Net) {
    let read = |node: &str, key: &str| {
        net.node(node).run(|| {
            std::fs::read_to_string(format!("/proc/sys/{key}"))
                .unwrap()
                .trim()
                .to_string()
        })
    };
    assert_eq!(read("r", "net/ipv4/ip_forward"), "1");
    assert_eq!(read("r", "net/ipv6/conf/all/forwarding"), "1");
    assert_eq!(read("h1", "net/ipv4/ip_forward"), "0");
    assert_eq!(read("h2", "net/ipv6/conf/all/forwarding"), "0");
}

/// The same router without `forward`: the router drops what it would have to forward.
#[netns_test(topology = "
    h1 203.0.113.10/24 -- r 203.0.113.1/24
    r 198.51.100.1/24 -- h2 198.51.100.10/24
    route h1 default via 203.0.113.1
    route h2 default via 198.51.100.1")]
fn nothing_crosses_a_router_without_forward(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let h2 = net.node("h2");
    let _listener = h2.run(|| std::net::TcpListener::bind("0.0.0.0:8000").unwrap());
    // The router answers with ICMP unreachable, or drops: either way no connection.
    let attempt =
        TcpStream::connect_timeout(&SocketAddr::new(h2.ip(), 8000), Duration::from_secs(1));
    assert!(
        attempt.is_err(),
        "connected through a router that does not forward"
    );
    // The router itself is reachable, so the failure is the forwarding, not the wiring.
    let r = net.node("r");
    assert_eq!(
        tcp_echo(r, "203.0.113.1".parse().unwrap(), 8002, b"r").unwrap(),
        b"r"
    );
}

/// A fixture reused with statements added: the router's first link slowed by `set`, a monitor
/// node added; the fixture's text is not copied.
#[netns_test(
    topology_file = "../fixtures/router.topo",
    topology = "set h1 -- r delay=30ms\nmonitor -- r",
    node = "h1"
)]
fn a_fixture_gains_conditions_and_nodes_without_copying_it(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let link = net.link("h1", "r");
    assert_eq!(link.conditions().unwrap().delay, Duration::from_millis(30));
    assert!(net.try_node("monitor").is_some());
    let h2 = net.node("h2");
    let listener = h2.run(|| std::net::TcpListener::bind((h2.ip(), 8080)).unwrap());
    let started = std::time::Instant::now();
    let _stream =
        TcpStream::connect_timeout(&SocketAddr::new(h2.ip(), 8080), Duration::from_secs(3))
            .unwrap();
    listener.accept().unwrap();
    // The SYN and the SYN-ACK each cross the slowed link: at least 60 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(60),
        "{:?}",
        started.elapsed()
    );
}

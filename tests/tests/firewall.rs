//! Firewalls: each rule with real traffic, replies passing, and every drop seen in the rule's
//! own counter before the test says a packet did not get through.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use netns_test::{Net, Node, netns_test};
use netns_test_e2e::{PATIENCE, tcp_echo, udp_once};

/// Waits until `node`'s rules have stopped `count` packets in all, the ones whose words hold
/// `rule`.
fn await_stopped(node: &Node, rule: &str, count: u64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stopped: u64 = node
            .stopped()
            .unwrap()
            .iter()
            .filter(|s| s.rule.contains(rule))
            .map(|s| s.packets)
            .sum();
        if stopped >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{rule}: {stopped} of {count} stopped"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A TCP connection attempt that the firewall drops: it does not complete, and the rule counts
/// its SYN.
fn connect_dropped(node: &Node, to: SocketAddr, rule: &str) {
    let _listener = node.run(|| TcpListener::bind(to).unwrap());
    let attempt = TcpStream::connect_timeout(&to, Duration::from_millis(300));
    assert_eq!(attempt.unwrap_err().kind(), ErrorKind::TimedOut);
    await_stopped(node, rule, 1);
}

#[netns_test(topology = "client -- office\nfirewall office allow tcp/80 udp/53")]
fn an_allow_list_lets_through_only_what_it_names(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let office = net.node("office");
    assert_eq!(tcp_echo(office, office.ip(), 80, b"web").unwrap(), b"web");
    assert_eq!(udp_once(office, office.ip(), 53, b"dns").unwrap(), b"dns");
    connect_dropped(office, SocketAddr::new(office.ip(), 8080), "not allowed");
    let stopped = office.stopped().unwrap();
    assert_eq!(stopped.len(), 3, "{stopped:?}");
    assert_eq!(stopped[0].rule, "firewall allow tcp/80");
    assert_eq!(
        stopped[2].rule,
        "firewall not allowed (allow tcp/80, allow udp/53)"
    );
}

#[netns_test(topology = "client -- hotel\nfirewall hotel drop udp")]
fn drop_udp_kills_quic_and_leaves_tcp(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let hotel = net.node("hotel");
    assert_eq!(tcp_echo(hotel, hotel.ip(), 443, b"tcp").unwrap(), b"tcp");
    let receiver = hotel.run(|| UdpSocket::bind((hotel.ip(), 443)).unwrap());
    let sender = UdpSocket::bind("0.0.0.0:0").unwrap();
    sender.send_to(b"quic initial", (hotel.ip(), 443)).unwrap();
    await_stopped(hotel, "drop udp", 1);
    receiver.set_nonblocking(true).unwrap();
    assert_eq!(
        receiver.recv(&mut [0u8; 64]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

#[netns_test(topology = "client -- cafe\nfirewall cafe reject tcp/22 reject udp/53")]
fn reject_refuses_at_once(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let cafe = net.node("cafe");
    let _ssh = cafe.run(|| TcpListener::bind((cafe.ip(), 22)).unwrap());
    let started = Instant::now();
    let e = TcpStream::connect_timeout(&SocketAddr::new(cafe.ip(), 22), PATIENCE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
    assert!(started.elapsed() < PATIENCE, "refused, not timed out");
    let _dns = cafe.run(|| UdpSocket::bind((cafe.ip(), 53)).unwrap());
    let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
    udp.set_read_timeout(Some(PATIENCE)).unwrap();
    udp.connect((cafe.ip(), 53)).unwrap();
    udp.send(b"query").unwrap();
    let e = udp.recv(&mut [0u8; 64]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
    await_stopped(cafe, "reject", 2);
}

#[netns_test(
    topology = "laptop 203.0.113.1/24 2001:db8::1/64 -- host 203.0.113.2/24 2001:db8::2/64\nfirewall host block-inbound",
    node = "laptop"
)]
fn block_inbound_stops_new_connections_in_both_families_and_lets_replies_through(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let host = net.node("host");
    for to in ["203.0.113.2:9000", "[2001:db8::2]:9000"] {
        connect_dropped(host, to.parse().unwrap(), "block-inbound");
    }
    await_stopped(host, "block-inbound", 2);
    // The host's own connections out get their replies.
    let laptop = net.node("laptop");
    for ip in ["203.0.113.1", "2001:db8::1"] {
        let ip = ip.parse().unwrap();
        let reply = host
            .run(|| tcp_echo(laptop, ip, 9001, b"out and back"))
            .unwrap();
        assert_eq!(reply, b"out and back");
    }
}

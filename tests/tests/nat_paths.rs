//! What crosses NATs besides UDP: TCP and ICMP echo translated through a NAT behind a NAT,
//! IPv6 routed untranslated, and path MTU discovery through a NAT that blocks inbound.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};

use netns_test::{Net, Protocol, netns_test};
use netns_test_e2e::{PATIENCE, echo};

#[netns_test(topology_file = "../fixtures/nat.topo", node = "laptop")]
fn tcp_through_a_nat_behind_a_nat_shows_the_carriers_address(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let server = net.node("server");
    let listener = server.run(|| TcpListener::bind("203.0.113.10:8080").unwrap());
    let mut stream =
        TcpStream::connect_timeout(&"203.0.113.10:8080".parse().unwrap(), PATIENCE).unwrap();
    let (mut accepted, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip().to_string(), "203.0.113.1", "the carrier's NAT");
    stream.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    accepted.read_exact(&mut buf).unwrap();
    // Each NAT lists its own leg of the flow.
    let home = net.node("home").nat_mappings().unwrap();
    let isp = net.node("isp").nat_mappings().unwrap();
    assert_eq!((home.len(), isp.len()), (1, 1), "{home:?} {isp:?}");
    assert_eq!(home[0].protocol, Protocol::Tcp);
    assert_eq!(home[0].inside, stream.local_addr().unwrap());
    assert_eq!(home[0].outside.ip().to_string(), "198.19.0.2");
    assert_eq!(isp[0].inside, home[0].outside);
    assert_eq!(isp[0].outside, peer);
    assert_eq!(
        isp[0].remote,
        "203.0.113.10:8080".parse::<SocketAddr>().unwrap()
    );
}

#[netns_test(topology_file = "../fixtures/nat.topo", node = "laptop")]
fn icmp_echo_is_translated_with_its_identifier(net: &Net) {
    assert!(
        echo([203, 0, 113, 10], 0x4e54),
        "the echo reply came back through both NATs"
    );
    let home = net.node("home").nat_mappings().unwrap();
    assert_eq!(home.len(), 1, "{home:?}");
    assert_eq!(home[0].protocol, Protocol::Icmp);
    assert_eq!(home[0].inside.port(), 0x4e54, "the identifier is kept");
}

#[netns_test(
    topology = "inside 198.18.1.10/24 2001:db8:1::10/64 -- r:lan 198.18.1.1/24 2001:db8:1::1/64
r:wan 203.0.113.1/24 2001:db8:2::1/64 -- server 203.0.113.10/24 2001:db8:2::10/64
route inside default via 198.18.1.1
route inside default via 2001:db8:1::1
route server default via 2001:db8:2::1
nat r wan",
    node = "inside"
)]
fn ipv6_is_routed_untranslated(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let server = net.node("server");
    for (to, seen_from) in [
        ("203.0.113.10:7000", "203.0.113.1"),
        ("[2001:db8:2::10]:7000", "2001:db8:1::10"),
    ] {
        let to: SocketAddr = to.parse().unwrap();
        let listener = server.run(|| TcpListener::bind(to).unwrap());
        let _stream = TcpStream::connect_timeout(&to, PATIENCE).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), seen_from.parse::<IpAddr>().unwrap());
    }
}

#[netns_test(
    topology = "laptop 198.18.1.10/24 -- home:lan 198.18.1.1/24
home:wan 198.19.0.2/24 -- r2 198.19.0.1/24
r2 198.19.1.1/24 -- r3 198.19.1.2/24 mtu=1280
r3 203.0.113.1/24 -- server 203.0.113.10/24
node r2 forward
node r3 forward
route laptop default via 198.18.1.1
route home default via 198.19.0.1
route r2 default via 198.19.1.2
route r3 198.19.0.0/24 via 198.19.1.1
route server default via 203.0.113.1
nat home
firewall home block-inbound",
    node = "laptop"
)]
fn path_mtu_discovery_works_through_a_nat_that_blocks_inbound(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let server = net.node("server");
    let listener = server.run(|| TcpListener::bind("203.0.113.10:9000").unwrap());
    let sink = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).map(|_| received.len())
    });
    let megabyte = vec![0x5au8; 1 << 20];
    let mut stream =
        TcpStream::connect_timeout(&"203.0.113.10:9000".parse().unwrap(), PATIENCE).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(&megabyte).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    // Without the ICMP "fragmentation needed" crossing the NAT and its firewall back to the
    // laptop, full-size segments would vanish at the 1280-byte hop and the transfer stall.
    assert_eq!(sink.join().unwrap().unwrap(), 1 << 20);
    let too_big = net.node("r2").run(|| icmp_counter("OutDestUnreachs"));
    assert!(
        too_big >= 1,
        "r2 never said the segments were too big: no PMTU discovery ran"
    );
    let stopped = net.node("home").stopped().unwrap();
    assert!(
        stopped.iter().any(|s| s.rule == "firewall block-inbound"),
        "{stopped:?}"
    );
}

/// A counter of the `Icmp:` lines of the calling thread's namespace's `/proc/net/snmp`.
fn icmp_counter(name: &str) -> u64 {
    let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap();
    let mut icmp = snmp.lines().filter(|l| l.starts_with("Icmp:"));
    let (names, values) = (icmp.next().unwrap(), icmp.next().unwrap());
    let at = names.split_whitespace().position(|n| n == name).unwrap();
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}

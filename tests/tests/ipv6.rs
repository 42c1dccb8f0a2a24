//! IPv6: addresses usable the instant the body starts, routed through a dual-stack router.

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

use netns_test::{Net, netns_test};
use netns_test_e2e::{tcp_echo, udp_once};

#[netns_test(topology_file = "../fixtures/dualstack.topo", node = "a")]
fn ipv6_is_bound_at_once_and_routed(net: &Net) {
    netns_test::assert_not_in_host_netns();
    // First thing in the body: no duplicate address detection to wait for.
    let mine: IpAddr = "2001:db8:1::2".parse().unwrap();
    let _bound =
        TcpListener::bind(SocketAddr::new(mine, 9100)).expect("IPv6 address usable at once");
    let _udp = UdpSocket::bind(SocketAddr::new(mine, 9100)).expect("IPv6 address usable at once");
    let b = net.node("b");
    let b6: IpAddr = "2001:db8:2::2".parse().unwrap();
    assert_eq!(b.ip().to_string(), "198.51.100.2", "ip() prefers IPv4");
    assert_eq!(b.ips(), [IpAddr::from([198, 51, 100, 2]), b6]);
    assert_eq!(tcp_echo(b, b6, 9101, b"v6 via r").unwrap(), b"v6 via r");
    assert_eq!(
        udp_once(b, b6, 9102, b"v6 datagram").unwrap(),
        b"v6 datagram"
    );
    assert_eq!(tcp_echo(b, b.ip(), 9103, b"v4 via r").unwrap(), b"v4 via r");
}

#[netns_test(topology = "a 2001:db8::1/64 -- b 2001:db8::2/64")]
fn ipv6_only_nodes_report_their_ipv6_address(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let b = net.node("b");
    assert_eq!(b.ip(), "2001:db8::2".parse::<IpAddr>().unwrap());
    assert_eq!(
        udp_once(b, b.ip(), 9104, b"first packet").unwrap(),
        b"first packet"
    );
}

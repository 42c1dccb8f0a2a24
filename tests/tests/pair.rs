use netns_test::{Net, netns_test};
use netns_test_e2e::{tcp_echo, udp_once};

#[netns_test(topology = "a -- b")]
fn tcp_and_udp_cross_an_auto_addressed_pair(net: &Net) {
    netns_test::assert_not_in_host_netns();
    assert_eq!(net.node("a").ip().to_string(), "198.18.0.1");
    assert_eq!(net.node("b").ip().to_string(), "198.18.0.2");
    let b = net.node("b");
    assert_eq!(tcp_echo(b, b.ip(), 7000, b"hello").unwrap(), b"hello");
    assert_eq!(udp_once(b, b.ip(), 7001, b"datagram").unwrap(), b"datagram");
}

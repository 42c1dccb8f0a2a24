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

#[netns_test(topology = "a 203.0.113.1/24 2001:db8::1/64 -- b:up 203.0.113.2/24 mtu=1400")]
fn a_node_reads_its_interfaces_as_the_kernel_holds_them(net: &Net) {
    let b = net.node("b").interfaces().unwrap();
    let names: Vec<&str> = b.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["lo", "up"]);
    let up = &b[1];
    assert_eq!((up.mtu, up.up, up.running), (1400, true, true));
    assert!(up.mac.is_some_and(|m| m != [0; 6]), "{up:?}");
    assert!(
        up.addresses.contains(&("203.0.113.2".parse().unwrap(), 24)),
        "{up:?}"
    );
    assert_eq!(b[0].mac, None, "lo has no hardware address");
    let a = net.node("a").interfaces().unwrap();
    assert!(
        a[1].addresses
            .contains(&("2001:db8::1".parse().unwrap(), 64)),
        "{a:?}"
    );
    assert_ne!(
        a[1].mac, up.mac,
        "each end has a hardware address of its own"
    );
}

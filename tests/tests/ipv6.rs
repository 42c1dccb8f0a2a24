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

/// One line of `/proc/thread-self/net/if_inet6`: an address of the calling thread's namespace.
#[derive(Debug)]
struct Inet6 {
    addr: std::net::Ipv6Addr,
    ifindex: u32,
    scope: u32,
    flags: u32,
    dev: String,
}

fn inet6_addresses() -> Vec<Inet6> {
    std::fs::read_to_string("/proc/thread-self/net/if_inet6")
        .unwrap()
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let hex = |s: &str| u32::from_str_radix(s, 16).unwrap();
            Inet6 {
                addr: u128::from_str_radix(f[0], 16).unwrap().into(),
                ifindex: hex(f[1]),
                scope: hex(f[3]),
                flags: hex(f[4]),
                dev: f[5].to_string(),
            }
        })
        .collect()
}

const IFA_F_TENTATIVE: u32 = 0x40;
const SCOPE_LINK: u32 = 0x20;

/// Every address netns-test gives a node, link-local ones included, skips duplicate address
/// detection, so it is usable the instant the body starts: on a pair (its namespaces made on the
/// build thread) and on a switch LAN (made on several threads while the build thread already
/// wires the first ones). The link-local address is netns-test's own (the kernel makes none on
/// these interfaces), from a MAC chosen by interface index, so no sysctl is written: the node's
/// `accept_dad` settings stay the kernel's.
#[test]
fn link_local_addresses_are_usable_at_once_in_every_node() {
    let mut lan = String::from("switch s\n");
    for i in 0..12 {
        lan.push_str(&format!("h{i} -- s\n"));
    }
    for (text, from, to) in [("a -- b", "a", "b"), (lan.as_str(), "h0", "h11")] {
        let net = Net::build(text).unwrap();
        for node in net.nodes().filter(|n| n.name() != "s") {
            node.run(|| {
                netns_test::assert_not_in_host_netns();
                let path = "/proc/sys/net/ipv6/conf/default/accept_dad";
                assert_eq!(std::fs::read_to_string(path).unwrap().trim(), "1");
                let eth0: Vec<Inet6> = inet6_addresses()
                    .into_iter()
                    .filter(|a| a.dev == "eth0")
                    .collect();
                let link_local: Vec<_> = eth0.iter().filter(|a| a.scope == SCOPE_LINK).collect();
                assert_eq!(link_local.len(), 1, "{}: {eth0:?}", node.name());
                assert!(
                    link_local[0].addr.segments()[..7] == [0xfe80, 0, 0, 0, 0x6e, 0x74ff, 0xfe00],
                    "{}: {} is netns-test's own",
                    node.name(),
                    link_local[0].addr
                );
                for a in eth0 {
                    assert_eq!(
                        a.flags & IFA_F_TENTATIVE,
                        0,
                        "{} {} tentative",
                        node.name(),
                        a.addr
                    );
                }
            });
        }
        // A datagram to the peer's link-local address, sent as the first thing after the build.
        let peer = net
            .node(to)
            .run(|| {
                inet6_addresses()
                    .into_iter()
                    .find(|a| a.dev == "eth0" && a.scope == SCOPE_LINK)
            })
            .unwrap();
        let receiver = net
            .node(to)
            .run(|| UdpSocket::bind((std::net::Ipv6Addr::UNSPECIFIED, 9105)))
            .unwrap();
        receiver
            .set_read_timeout(Some(netns_test_e2e::PATIENCE))
            .unwrap();
        net.node(from).run(|| {
            netns_test::assert_not_in_host_netns();
            let out = inet6_addresses()
                .into_iter()
                .find(|a| a.dev == "eth0")
                .unwrap()
                .ifindex;
            let sender = UdpSocket::bind((std::net::Ipv6Addr::UNSPECIFIED, 0)).unwrap();
            let to = std::net::SocketAddrV6::new(peer.addr, 9105, 0, out);
            sender.send_to(b"link-local", to).unwrap();
        });
        let mut buf = [0u8; 64];
        let (n, _) = receiver.recv_from(&mut buf).expect("the datagram arrives");
        assert_eq!(&buf[..n], b"link-local", "{text}");
    }
}

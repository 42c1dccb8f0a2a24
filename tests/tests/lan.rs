//! A switch: every host reaches every other host.

use std::net::{SocketAddr, UdpSocket};

use netns_test::{Net, netns_test};
use netns_test_e2e::{PATIENCE, tcp_echo};

#[netns_test(topology_file = "../fixtures/lan.topo", node = "h1")]
fn every_pair_of_hosts_talks_across_the_switch(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let hosts: Vec<_> = net.nodes().filter(|n| n.name() != "s").collect();
    assert_eq!(hosts.len(), 4);
    let ips: Vec<String> = hosts.iter().map(|h| h.ip().to_string()).collect();
    assert_eq!(
        ips,
        ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4"]
    );
    let sockets: Vec<UdpSocket> = hosts
        .iter()
        .map(|h| {
            let ip = h.ip();
            h.run(move || {
                netns_test::assert_not_in_host_netns();
                let s = UdpSocket::bind(SocketAddr::new(ip, 9000)).unwrap();
                s.set_read_timeout(Some(PATIENCE)).unwrap();
                s
            })
        })
        .collect();
    for (i, from) in sockets.iter().enumerate() {
        for (j, to) in hosts.iter().enumerate() {
            if i != j {
                from.send_to(
                    format!("{i}->{j}").as_bytes(),
                    SocketAddr::new(to.ip(), 9000),
                )
                .unwrap();
            }
        }
    }
    for (j, socket) in sockets.iter().enumerate() {
        let mut got: Vec<String> = (0..3)
            .map(|_| {
                let mut buf = [0u8; 64];
                let (n, _) = socket
                    .recv_from(&mut buf)
                    .unwrap_or_else(|e| panic!("host {j}: {e}"));
                String::from_utf8_lossy(&buf[..n]).into_owned()
            })
            .collect();
        got.sort();
        let want: Vec<String> = (0..4)
            .filter(|&i| i != j)
            .map(|i| format!("{i}->{j}"))
            .collect();
        assert_eq!(got, want);
    }
    // And TCP, host to host.
    assert_eq!(
        tcp_echo(hosts[3], hosts[3].ip(), 9001, b"tcp over the switch").unwrap(),
        b"tcp over the switch"
    );
}

#[netns_test(topology = "switch s 203.0.113.254/24 2001:db8::ff/64\ns -- a\ns -- b")]
fn a_switch_with_its_own_addresses_is_reachable_and_hands_out_both_families(net: &Net) {
    netns_test::assert_not_in_host_netns();
    assert_eq!(
        net.node("a").ips(),
        [
            "203.0.113.1".parse::<std::net::IpAddr>().unwrap(),
            "2001:db8::1".parse().unwrap()
        ]
    );
    let s = net.node("s");
    assert_eq!(
        tcp_echo(s, "203.0.113.254".parse().unwrap(), 9002, b"to the switch").unwrap(),
        b"to the switch"
    );
    let b = net.node("b");
    let b6 = b.ips()[1];
    assert_eq!(tcp_echo(b, b6, 9003, b"v6 across").unwrap(), b"v6 across");
}

#[netns_test(
    topology = "switch s 203.0.113.254/24 2001:db8::ff/64\na -- s\nb -- s",
    node = "a"
)]
fn switch_ports_carry_ipv6_without_speaking_it_and_the_bridge_keeps_it(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let out = net
        .node("s")
        .command("ip")
        .args(["-6", "-o", "address"])
        .output()
        .unwrap();
    let v6 = String::from_utf8_lossy(&out.stdout);
    let on = |iface: &str| {
        v6.lines()
            .any(|l| l.split_whitespace().nth(1) == Some(iface))
    };
    assert!(on("br0") && v6.contains("2001:db8::ff/64"), "{v6}");
    assert!(
        !on("eth0") && !on("eth1"),
        "ports have no IPv6 of their own: {v6}"
    );
    // The hosts keep theirs, and IPv6 crosses the switch and reaches its bridge.
    let b = net.node("b");
    let b6 = b.ips()[1];
    assert_eq!(tcp_echo(b, b6, 9004, b"v6 across").unwrap(), b"v6 across");
    let s = net.node("s");
    assert_eq!(
        tcp_echo(
            s,
            "2001:db8::ff".parse().unwrap(),
            9005,
            b"v6 to the switch"
        )
        .unwrap(),
        b"v6 to the switch"
    );
}

/// Big enough that the namespaces are made on several threads: every node still gets its own,
/// in order, and every host reaches the first.
#[test]
fn a_forty_host_switch_is_wired_in_order() {
    let text: String = (1..=40).map(|i| format!("h{i} -- s\n")).collect::<String>() + "switch s";
    let net = Net::build(&text).unwrap();
    let inodes: std::collections::HashSet<u64> = net.nodes().map(|n| n.netns_inode()).collect();
    assert_eq!(inodes.len(), 41, "one namespace per node");
    for (i, node) in net.nodes().filter(|n| n.name() != "s").enumerate() {
        assert_eq!(node.name(), format!("h{}", i + 1));
        assert_eq!(node.ip().to_string(), format!("198.18.0.{}", i + 1));
        assert_eq!(
            node.run(netns_test::current_netns_inode),
            node.netns_inode()
        );
    }
    let h1 = net.node("h1");
    let inbox = h1.run(|| {
        let s = UdpSocket::bind((h1.ip(), 9300)).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s
    });
    for node in net.nodes().filter(|n| n.name() != "s" && n.name() != "h1") {
        node.run(|| {
            netns_test::assert_not_in_host_netns();
            let s = UdpSocket::bind((node.ip(), 0)).unwrap();
            s.send_to(node.name().as_bytes(), (h1.ip(), 9300)).unwrap();
        });
    }
    let mut from: Vec<String> = (0..39)
        .map(|_| {
            let mut buf = [0u8; 16];
            let (n, _) = inbox.recv_from(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        })
        .collect();
    from.sort();
    let mut want: Vec<String> = (2..=40).map(|i| format!("h{i}")).collect();
    want.sort();
    assert_eq!(from, want);
}

/// 500 ports, the size the benchmark builds (where a 500-port switch once failed with ENOBUFS
/// while waiting for link events): it builds, and the last host is reachable from the first.
#[test]
fn a_five_hundred_port_switch_builds() {
    let text: String = (1..=500)
        .map(|i| format!("h{i} -- s\n"))
        .collect::<String>()
        + "switch s";
    let net = Net::build(&text).unwrap();
    assert_eq!(net.nodes().count(), 501);
    let (first, last) = (net.node("h1"), net.node("h500"));
    assert_eq!(last.ip().to_string(), "198.18.1.244");
    first.run(|| {
        netns_test::assert_not_in_host_netns();
        assert_eq!(
            tcp_echo(last, last.ip(), 9400, b"across 500 ports").unwrap(),
            b"across 500 ports"
        );
    });
}

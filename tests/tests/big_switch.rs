//! A switch larger than one kernel bridge (which holds 1,023 ports) is still one Ethernet
//! segment: unicast, ICMP, broadcast and IPv6 multicast reach hosts on every bridge.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};

use netns_test::Net;
use netns_test_e2e::{PATIENCE, echo, udp_once};

/// Hosts on the switch: 498 on each of `br0` to `br3`, 8 on `br4`.
const HOSTS: usize = 2000;

fn lan(hosts: usize) -> String {
    let mut text = String::from("switch s\n");
    for i in 0..hosts {
        text.push_str(&format!("h{i} -- s\n"));
    }
    text
}

/// The lines of `ip -o link show ARGS` run in node `node`'s namespace.
fn links(net: &Net, node: &str, args: &[&str]) -> Vec<String> {
    let out = net
        .node(node)
        .command("ip")
        .args(["-o", "link", "show"])
        .args(args)
        .output()
        .expect("iproute2's `ip`");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A socket on `node` bound to `addr`.
fn inbox(net: &Net, node: &str, addr: SocketAddr) -> UdpSocket {
    net.node(node).run(|| UdpSocket::bind(addr).unwrap())
}

/// Sends once with `send`; every one of `inboxes` must receive `message` within PATIENCE.
fn reaches_all(inboxes: &[UdpSocket], message: &[u8], send: impl Fn()) {
    send();
    for socket in inboxes {
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("nothing arrived on {:?}: {e}", socket.local_addr()));
        assert_eq!(&buf[..n], message);
    }
}

/// The switch's quiet rule set (see the README, "Thousands of peers"), as `nft` lists it.
fn quiet(net: &Net) -> String {
    let out = net
        .node("s")
        .command("nft")
        .args(["list", "table", "bridge", "netns_test_quiet"])
        .output()
        .expect("nftables' `nft`");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_two_thousand_host_switch_is_one_segment() {
    let net = Net::build(&lan(HOSTS)).unwrap();
    let bridges = links(&net, "s", &["type", "bridge"]);
    assert_eq!(bridges.len(), 5, "{bridges:?}");
    let on = |bridge: &str| links(&net, "s", &["master", bridge]).len();
    // 498 hosts on each bridge, with the trunks to its neighbours in the chain; 8 on the last.
    let ports: Vec<usize> = (0..5).map(|k| on(&format!("br{k}"))).collect();
    assert_eq!(ports, [499, 500, 500, 500, 9]);
    // Its hosts' listener reports and router solicitations are dropped, not flooded.
    let rules = quiet(&net);
    assert!(
        rules.contains("mld2-listener-report counter packets")
            && rules.contains("nd-router-solicit counter packets")
            && !rules.contains("mld2-listener-report counter packets 0 "),
        "{rules}"
    );
    let address = |i: usize| net.node(&format!("h{i}")).ip();
    let (first, last) = (net.node("h0"), net.node(&format!("h{}", HOSTS - 1)));

    // Unicast and ICMP between hosts on different bridges, one IP hop apart.
    first.run(|| {
        netns_test::assert_not_in_host_netns();
        assert_eq!(
            udp_once(last, last.ip(), 9600, b"first to last").unwrap(),
            b"first to last"
        );
        let IpAddr::V4(to) = last.ip() else {
            unreachable!()
        };
        assert!(echo(to.octets(), 0x6e74), "ping from h0 to the last host");
    });
    last.run(|| {
        assert_eq!(
            udp_once(first, first.ip(), 9601, b"last to first").unwrap(),
            b"last to first"
        );
    });

    // A subnet broadcast from the first host reaches hosts on every bridge.
    let cidr = net.topology().node("h0").unwrap().interfaces[0].addresses[0];
    let IpAddr::V4(base) = cidr.addr else {
        unreachable!()
    };
    let broadcast = Ipv4Addr::from(u32::from(base) | (u32::MAX >> cidr.prefix));
    let listeners = [1, 497, 498, 1500, HOSTS - 1];
    let inboxes: Vec<UdpSocket> = listeners
        .iter()
        .map(|&i| inbox(&net, &format!("h{i}"), (Ipv4Addr::UNSPECIFIED, 9602).into()))
        .collect();
    let sender = first.run(|| {
        netns_test::assert_not_in_host_netns();
        let socket = UdpSocket::bind((address(0), 0)).unwrap();
        socket.set_broadcast(true).unwrap();
        socket
    });
    reaches_all(&inboxes, b"to all", || {
        sender.send_to(b"to all", (broadcast, 9602)).unwrap();
    });

    // IPv6 multicast to all nodes, from the last host, reaches hosts on every bridge.
    let inboxes: Vec<UdpSocket> = listeners[..4]
        .iter()
        .map(|&i| inbox(&net, &format!("h{i}"), (Ipv6Addr::UNSPECIFIED, 9603).into()))
        .collect();
    let (sender, all_nodes) = last.run(|| {
        netns_test::assert_not_in_host_netns();
        // SAFETY: a NUL-terminated name that outlives the call.
        let eth0 = unsafe { libc::if_nametoindex(c"eth0".as_ptr()) };
        assert_ne!(eth0, 0, "{}", std::io::Error::last_os_error());
        let socket = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).unwrap();
        let all_nodes = SocketAddrV6::new("ff02::1".parse().unwrap(), 9603, 0, eth0);
        (socket, all_nodes)
    });
    reaches_all(&inboxes, b"to all, v6", || {
        sender.send_to(b"to all, v6", all_nodes).unwrap();
    });
}

/// A running switch that fills its first bridge grows a second when hosts join it mid-test.
#[test]
fn a_switch_grows_a_bridge_when_hosts_join_mid_test() {
    let full = netns_test::topology::SWITCH_BRIDGE_PORTS;
    let net = Net::build(&lan(full)).unwrap();
    assert_eq!(links(&net, "s", &["type", "bridge"]).len(), 1);
    assert_eq!(quiet(&net), "", "a switch of one bridge floods as any");
    net.apply(&format!("h{full} -- s\nh{} -- s", full + 1))
        .unwrap();
    assert_eq!(
        links(&net, "s", &["master", "br1"]).len(),
        3,
        "two hosts and the trunk"
    );
    assert!(
        quiet(&net).contains("mld2-listener-report"),
        "quiet once big"
    );
    let (first, newest) = (net.node("h0"), net.node(&format!("h{}", full + 1)));
    newest.run(|| {
        netns_test::assert_not_in_host_netns();
        assert_eq!(
            udp_once(first, first.ip(), 9610, b"joined").unwrap(),
            b"joined"
        );
    });
    // A host leaves and another joins: it takes the free port on br1, no third bridge.
    newest.remove().unwrap();
    net.apply(&format!("h{} -- s", full + 2)).unwrap();
    assert_eq!(links(&net, "s", &["type", "bridge"]).len(), 2);
    assert_eq!(links(&net, "s", &["master", "br1"]).len(), 3);
}

//! A topology changed while the test runs (SPEC §11): `Net::apply`, `Node::remove`,
//! `Link::remove`. Each test shows the change in real traffic, names and kernel state, and that
//! handles taken before stay valid (or say they were removed).

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use netns_test::{ErrorKind, Net, netns_test};

fn resolve(name: &str) -> Vec<IpAddr> {
    (name, 80)
        .to_socket_addrs()
        .map(|a| a.map(|s| s.ip()).collect())
        .unwrap_or_default()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A laptop on a Wi-Fi router and a cell router, both in front of one server.
#[netns_test(
    topology = "
node wifi forward
node cell forward
laptop 203.0.113.10/24 -- wifi 203.0.113.1/24
wifi 198.51.100.1/24 -- server 198.51.100.10/24
cell 198.18.50.1/24 -- server 198.18.50.10/24
route laptop default via 203.0.113.1
route server 203.0.113.0/24 via 198.51.100.1
",
    node = "laptop"
)]
fn a_laptop_roams_from_wifi_to_cell(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let server = net.node("server");
    let listener = server.run(|| TcpListener::bind("0.0.0.0:7000").unwrap());
    let mut old = TcpStream::connect("198.51.100.10:7000").unwrap();
    let (mut accepted, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), ip("203.0.113.10"));
    old.write_all(b"before").unwrap();
    let mut buf = [0u8; 6];
    accepted.read_exact(&mut buf).unwrap();

    let wifi = net.link("laptop", "wifi");
    wifi.remove().unwrap();
    net.apply(
        "laptop -- cell\n\
         route laptop default via 198.18.0.2\n\
         route server 198.18.0.0/24 via 198.18.50.1\n\
         route cell 198.51.100.0/24 via 198.18.50.10",
    )
    .unwrap();

    // A new address, from a subnet never handed out before, and the name follows it.
    let laptop = net.node("laptop");
    assert_eq!(laptop.ips(), [ip("198.18.0.1")]);
    assert_eq!(server.run(|| resolve("laptop")), [ip("198.18.0.1")]);
    // The server is reachable again, from the new address.
    let mut new = TcpStream::connect("198.51.100.10:7000").unwrap();
    let (mut accepted_new, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), ip("198.18.0.1"));
    new.write_all(b"after").unwrap();
    let mut buf = [0u8; 5];
    accepted_new.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"after");
    // The old path is dead: its address is gone, and what the old connection sends is never
    // answered; the kernel gives up after the connection's user timeout.
    let e = TcpListener::bind("203.0.113.10:0").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
    let timeout: libc::c_uint = 300;
    // SAFETY: a valid socket, and a pointer to a c_uint of the size given.
    let set = unsafe {
        libc::setsockopt(
            old.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            (&raw const timeout).cast(),
            size_of::<libc::c_uint>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0);
    old.write_all(b"lost").unwrap();
    let e = old.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e}");
    // The removed link's handle says so; the running topology agrees.
    let e = wifi.down().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Removed);
    assert!(e.to_string().contains("removed"), "{e}");
    assert!(net.try_link("laptop", "wifi").is_none());
    assert_eq!(net.link("laptop", "cell").ends()[0], ("laptop", "eth0"));
    assert!(
        net.topology()
            .to_string()
            .contains("laptop:eth0 198.18.0.1/24 -- cell:eth1")
    );
}

#[netns_test(topology = "switch s\na -- s\nb -- s", node = "a")]
fn a_host_added_to_a_switch_is_reached_by_name(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let a = net.node("a"); // taken before the change, valid after
    net.apply("c -- s").unwrap();
    let c = net.node("c");
    assert_eq!(c.ip(), ip("198.18.0.3"));
    assert_eq!(resolve("c"), [ip("198.18.0.3")]);
    assert_eq!(c.run(|| resolve("a")), [a.ip()]);
    let socket = c.run(|| UdpSocket::bind("0.0.0.0:7000").unwrap());
    UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .send_to(b"hello", ("c", 7000))
        .unwrap();
    let mut buf = [0u8; 8];
    let (n, from) = socket.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from.ip()), (&b"hello"[..], a.ip()));
    let names: Vec<&str> = net.nodes().map(|n| n.name()).collect();
    assert_eq!(names, ["s", "a", "b", "c"]);
    // A `hosts` entry added, then said again: every node resolves the latest.
    net.apply("hosts api.example.test 198.51.100.10").unwrap();
    assert_eq!(c.run(|| resolve("api.example.test")), [ip("198.51.100.10")]);
    net.apply("hosts api.example.test 198.51.100.11").unwrap();
    assert_eq!(resolve("api.example.test"), [ip("198.51.100.11")]);
    assert_eq!(c.run(|| resolve("api.example.test")), [ip("198.51.100.11")]);
}

#[netns_test(topology = "a -- b\nb -- c", node = "a")]
fn a_removed_node_takes_its_links_processes_and_name(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let b = net.node("b");
    let mut sleeper = b.command("sleep").arg("1000").spawn().unwrap();
    assert_eq!(resolve("b"), [ip("198.18.0.2"), ip("198.18.1.1")]);
    b.remove().unwrap();
    // Its process is killed, its links gone from both ends, its name no longer resolves.
    let status = sleeper.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(net.links().next().is_none());
    let a_ifaces = net.node("a").interfaces().unwrap();
    assert_eq!(
        a_ifaces.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["lo"]
    );
    let c_ifaces = net.node("c").interfaces().unwrap();
    assert_eq!(c_ifaces.len(), 1);
    assert!(resolve("b").is_empty());
    // Its handle says it was removed.
    assert!(b.is_removed() && net.try_node("b").is_none());
    let e = b.interfaces().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Removed);
    assert!(e.to_string().contains("node `b` was removed"), "{e}");
    assert_eq!(b.remove().unwrap_err().kind(), ErrorKind::Removed);
    // A node of the same name can come back, in a new namespace, reached as before.
    net.apply("a -- b").unwrap();
    let again = net.node("b");
    assert_ne!(again.netns_inode(), b.netns_inode());
    assert_eq!(resolve("b"), [again.ip()]);
    assert_eq!(
        netns_test_e2e::udp_once(again, again.ip(), 7001, b"back").unwrap(),
        b"back"
    );
}

#[netns_test(
    topology = "
node r1 forward
node r2 forward
a 203.0.113.10/24 -- r1 203.0.113.1/24
a 198.51.100.10/24 -- r2 198.51.100.1/24
r1 192.0.2.1/28 -- s 192.0.2.10/28
r2 192.0.2.17/28 -- s 192.0.2.20/28
route a 192.0.2.0/24 via 203.0.113.1
route s default via 192.0.2.1
",
    node = "a"
)]
fn a_route_said_again_replaces_the_running_one(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let s = net.node("s");
    assert_eq!(
        netns_test_e2e::udp_once(s, ip("192.0.2.10"), 7000, b"one").unwrap(),
        b"one"
    );
    net.apply("route a 192.0.2.0/24 via 198.51.100.1\nroute s default via 192.0.2.17")
        .unwrap();
    // With the old way cut, traffic still flows: it takes the new one.
    net.link("a", "r1").down().unwrap();
    assert_eq!(
        netns_test_e2e::udp_once(s, ip("192.0.2.20"), 7000, b"two").unwrap(),
        b"two"
    );
    assert_eq!(net.topology().node("a").unwrap().routes.len(), 1);
}

#[netns_test(topology = "a -- b", node = "a")]
fn a_wrong_statement_changes_nothing(net: &Net) {
    let before = net.topology().clone();
    let e = net.apply("c -- b\nc -- c").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Topology);
    let t = e.topology_error().unwrap();
    assert_eq!((t.line, t.column, t.token.as_str()), (2, 6, "c"));
    assert!(e.to_string().contains("Net::apply"), "{e}");
    assert_eq!(net.topology(), &before);
    assert!(net.try_node("c").is_none());
    let e = net.apply("route a default via 203.0.113.1").unwrap_err();
    assert!(e.to_string().contains("on no subnet of node `a`"), "{e}");
}

#[netns_test(
    topology = "a 203.0.113.1/24 -- b 203.0.113.2/24\nfirewall b drop udp",
    node = "a"
)]
fn a_firewall_said_again_replaces_the_running_one(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let b = net.node("b");
    let socket = b.run(|| UdpSocket::bind("203.0.113.2:7000").unwrap());
    let sender = UdpSocket::bind("0.0.0.0:0").unwrap();
    sender.send_to(b"dropped", "203.0.113.2:7000").unwrap();
    // Seen dropped in the rule's own counter, not waited out.
    while b.stopped().unwrap()[0].packets == 0 {
        std::thread::yield_now();
    }
    net.apply("firewall b allow udp/7000").unwrap();
    let rules: Vec<String> = b.stopped().unwrap().into_iter().map(|s| s.rule).collect();
    assert!(rules.iter().all(|r| !r.contains("drop")), "{rules:?}");
    sender.send_to(b"let in", "203.0.113.2:7000").unwrap();
    let mut buf = [0u8; 16];
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"let in");
}

#[netns_test(topology = "a -- b", node = "a")]
fn a_conditioned_link_can_be_added(net: &Net) {
    netns_test::assert_not_in_host_netns();
    net.apply("a -- c delay=20ms").unwrap();
    let c = net.node("c");
    let link = net.link("a", "c");
    assert_eq!(link.conditions().unwrap().delay, Duration::from_millis(20));
    assert!(link.seed().is_some());
    let started = std::time::Instant::now();
    assert_eq!(
        netns_test_e2e::udp_once(c, c.ip(), 7000, b"slow").unwrap(),
        b"slow"
    );
    assert!(started.elapsed() >= Duration::from_millis(20));
    link.remove().unwrap();
    assert!(net.try_link("a", "c").is_none());
}

#[test]
fn changes_from_several_threads_take_turns() {
    let net = Net::build("switch hub\nsrv -- hub").unwrap();
    let srv = net.node("srv");
    std::thread::scope(|scope| {
        for t in 0..4 {
            let net = &net;
            scope.spawn(move || {
                for round in 0..10 {
                    let name = format!("t{t}r{round}");
                    net.apply(&format!("{name} -- hub")).unwrap();
                    let node = net.node(&name);
                    let echoed =
                        node.run(|| netns_test_e2e::udp_once(srv, srv.ip(), 7000 + t, b"x"));
                    assert_eq!(echoed.unwrap(), b"x");
                    node.remove().unwrap();
                }
            });
        }
    });
    assert_eq!(net.nodes().count(), 2);
    assert_eq!(net.topology().nodes().len(), 2);
}

// The README's example ("Changing the network mid-test"), as printed there.
#[netns_test(
    topology = "
node wifi forward
node cell forward
laptop -- wifi
wifi 198.51.100.1/24 -- server 198.51.100.10/24
cell 198.18.50.1/24 -- server 198.18.50.10/24
route laptop default via 198.18.0.2
route server 198.18.0.0/24 via 198.51.100.1
route cell 198.51.100.0/24 via 198.18.50.10
",
    node = "laptop"
)]
fn rides_out_a_roam(net: &Net) -> Result<(), netns_test::Error> {
    netns_test::assert_not_in_host_netns();
    net.link("laptop", "wifi").remove()?; // out of the Wi-Fi's range
    net.apply(
        "laptop -- cell\n\
               route laptop default via 198.18.1.2\n\
               route server 198.18.1.0/24 via 198.18.50.1",
    )?; // onto the hotspot
    assert_eq!(net.node("laptop").ip().to_string(), "198.18.1.1"); // a subnet never used before
    let refused = std::net::TcpStream::connect("198.51.100.10:22").unwrap_err(); // no listener:
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused); // the server answered
    net.apply("c -- cell\nhosts api.example.test 198.51.100.10")?; // a new node, a new name
    net.node("c").remove()?; // gone: its links, processes and name
    Ok(())
}

#[netns_test(topology = "a -- b", node = "a")]
fn new_addresses_are_usable_when_apply_returns(net: &Net) {
    netns_test::assert_not_in_host_netns();
    net.apply("a 2001:db8::1/64 -- c 2001:db8::2/64").unwrap();
    // No duplicate address detection, no wait: bound and answered at once, both ends.
    let c = net.node("c");
    let rx = c.run(|| UdpSocket::bind("[2001:db8::2]:7000").unwrap());
    rx.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let tx = UdpSocket::bind("[2001:db8::1]:0").unwrap();
    tx.send_to(b"v6", "[2001:db8::2]:7000").unwrap();
    let mut buf = [0u8; 4];
    let (n, from) = rx.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from.ip()), (&b"v6"[..], ip("2001:db8::1")));
}

#[netns_test(topology = "a -- b", node = "a")]
fn a_change_the_kernel_refuses_is_undone(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let before = net.topology().clone();
    let names = |node: &str| -> Vec<String> {
        let ifaces = net.node(node).interfaces().unwrap();
        ifaces.into_iter().map(|i| i.name).collect()
    };
    let (a, b) = (names("a"), names("b"));
    // The language accepts it; the kernel keeps ::1 for `lo` and refuses it on `x`.
    for statements in ["a:x ::1/128 -- c\nb -- c", "b -- a:x ::1/128 delay=1ms"] {
        let e = net.apply(statements).unwrap_err();
        assert_eq!(
            (e.node(), e.operation()),
            (Some("a"), "adding address ::1/128"),
            "{e}"
        );
        assert_eq!(
            (names("a"), names("b")),
            (a.clone(), b.clone()),
            "{statements}"
        );
        assert_eq!(net.topology(), &before);
        assert!(net.try_node("c").is_none());
    }
    // The same names are free for a change that holds.
    net.apply("a:x -- c").unwrap();
    assert_eq!(net.node("c").ip(), ip("198.18.1.2")); // nothing was handed out
}

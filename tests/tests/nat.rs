//! NATs of every RFC 4787 type, with real UDP through real nf_tables: the mapping each gives,
//! the filtering each does, and what a peer behind each can reach. Every packet that must not
//! arrive is shown dropped by the NAT's own counter before the test says it did not arrive.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use netns_test::{Net, Node, Protocol};
use netns_test_e2e::PATIENCE;

/// An inside host (and a second one on the same LAN) behind NAT `r`, two servers outside; `s1`
/// even has a route to the inside range through the NAT.
const HOME: &str = "inside 198.18.1.10/24 -- lan
inside2 198.18.1.11/24 -- lan
r:lan 198.18.1.1/24 -- lan
switch lan
r:wan 203.0.113.1/24 -- net
s1 203.0.113.10/24 -- net
s2 203.0.113.20/24 -- net
switch net
route inside default via 198.18.1.1
route inside2 default via 198.18.1.1
route s1 198.18.1.0/24 via 203.0.113.1
";

fn home(kind: &str) -> Net {
    Net::build(&format!("{HOME}nat r wan {kind}")).unwrap()
}

/// A UDP socket bound inside `node` (made there, so it sends from there).
fn bind(node: &Node, addr: &str) -> UdpSocket {
    let addr: SocketAddr = addr.parse().unwrap();
    node.run(|| {
        netns_test::assert_not_in_host_netns();
        let socket = UdpSocket::bind(addr).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        socket
    })
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// The next datagram: its payload and its source.
fn receive(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 1500];
    let (n, from) = socket
        .recv_from(&mut buf)
        .expect("a datagram within PATIENCE");
    (buf[..n].to_vec(), from)
}

/// Whatever is already waiting on `socket`, without waiting.
fn waiting(socket: &UdpSocket) -> Vec<Vec<u8>> {
    socket.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    while let Ok(n) = socket.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    socket.set_nonblocking(false).unwrap();
    out
}

/// How many packets `node`'s NAT has dropped as unsolicited.
fn unsolicited(node: &Node) -> u64 {
    node.stopped()
        .unwrap()
        .iter()
        .filter(|s| s.rule.starts_with("nat:"))
        .map(|s| s.packets)
        .sum()
}

/// Waits until `node`'s NAT has dropped `count` unsolicited packets in all: the evidence that
/// packets sent to it will not arrive.
fn await_dropped(node: &Node, count: u64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let dropped = unsolicited(node);
        if dropped >= count {
            assert_eq!(dropped, count, "more drops than packets sent to be dropped");
            return;
        }
        assert!(Instant::now() < deadline, "{dropped} of {count} drops seen");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What each type does with one inside endpoint talking to two servers: the outside ports.
fn outside_ports(kind: &str) -> (u16, u16) {
    let net = home(kind);
    let inside = bind(net.node("inside"), "198.18.1.10:40000");
    let s1 = bind(net.node("s1"), "203.0.113.10:7000");
    let s2 = bind(net.node("s2"), "203.0.113.20:7000");
    inside.send_to(b"to s1", addr("203.0.113.10:7000")).unwrap();
    inside.send_to(b"to s2", addr("203.0.113.20:7000")).unwrap();
    let (_, from1) = receive(&s1);
    let (_, from2) = receive(&s2);
    for from in [from1, from2] {
        assert_eq!(
            from.ip().to_string(),
            "203.0.113.1",
            "servers see only the NAT"
        );
    }
    (from1.port(), from2.port())
}

#[test]
fn endpoint_independent_types_keep_one_port_for_every_destination_and_the_inside_port() {
    for kind in ["full-cone", "address-restricted", "port-restricted"] {
        assert_eq!(outside_ports(kind), (40000, 40000), "{kind}");
    }
}

#[test]
fn symmetric_takes_another_port_for_each_destination() {
    let (a, b) = outside_ports("symmetric");
    assert_ne!(a, b);
}

#[test]
fn two_inside_hosts_on_one_port_get_outside_ports_of_their_own() {
    for kind in ["full-cone", "port-restricted"] {
        let net = home(kind);
        let one = bind(net.node("inside"), "198.18.1.10:40000");
        let two = bind(net.node("inside2"), "198.18.1.11:40000");
        let s1 = bind(net.node("s1"), "203.0.113.10:7000");
        let s2 = bind(net.node("s2"), "203.0.113.20:7000");
        one.send_to(b"1", addr("203.0.113.10:7000")).unwrap();
        two.send_to(b"2", addr("203.0.113.20:7000")).unwrap();
        let (_, from_one) = receive(&s1);
        let (_, from_two) = receive(&s2);
        assert_eq!(from_one.port(), 40000, "{kind}: the first keeps its port");
        assert_ne!(from_two.port(), 40000, "{kind}: the second gets another");
        // And keeps it for the other server too.
        two.send_to(b"2 again", addr("203.0.113.10:7000")).unwrap();
        assert_eq!(receive(&s1).1, from_two, "{kind}");
    }
}

/// Which of four senders reach an inside endpoint that has sent to s1:7000 only: another port
/// of s1, another server, the exact endpoint, and s1 writing to a port nothing is mapped to.
fn filtering(kind: &str) -> [bool; 4] {
    let net = home(kind);
    let r = net.node("r");
    let inside = bind(net.node("inside"), "198.18.1.10:40000");
    let s1 = bind(net.node("s1"), "203.0.113.10:7000");
    let s1_other = bind(net.node("s1"), "203.0.113.10:7001");
    let s2 = bind(net.node("s2"), "203.0.113.20:7000");
    inside.send_to(b"out", addr("203.0.113.10:7000")).unwrap();
    let (_, mapped) = receive(&s1);
    let unmapped = SocketAddr::new(mapped.ip(), mapped.port() + 1);
    let probes: [(&UdpSocket, SocketAddr, &[u8]); 4] = [
        (&s1_other, mapped, b"other port"),
        (&s2, mapped, b"other server"),
        (&s1, mapped, b"exact"),
        (&s1, unmapped, b"unmapped"),
    ];
    let before = unsolicited(r);
    let mut expected_drops = 0;
    let mut arrived = [false; 4];
    for (i, (socket, to, payload)) in probes.iter().enumerate() {
        socket.send_to(payload, to).unwrap();
        // Each probe is settled before the next: arrived, or counted as dropped by the NAT.
        let deadline = Instant::now() + PATIENCE;
        loop {
            if waiting(&inside).iter().any(|p| p == payload) {
                arrived[i] = true;
                break;
            }
            if unsolicited(r) > before + expected_drops {
                expected_drops += 1;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{kind}: probe {i} neither arrived nor dropped"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    arrived
}

#[test]
fn each_type_filters_as_rfc_4787_says() {
    //                                       other port, other server, exact, unmapped
    assert_eq!(filtering("full-cone"), [true, true, true, false]);
    assert_eq!(filtering("address-restricted"), [true, false, true, false]);
    assert_eq!(filtering("port-restricted"), [false, false, true, false]);
    assert_eq!(filtering("symmetric"), [false, false, true, false]);
}

#[test]
fn a_new_connection_to_an_inside_address_is_dropped_even_with_a_route() {
    for kind in ["full-cone", "port-restricted"] {
        let net = home(kind);
        let inside = bind(net.node("inside"), "198.18.1.10:40000");
        let s1 = bind(net.node("s1"), "203.0.113.10:7000");
        s1.send_to(b"straight in", addr("198.18.1.10:40000"))
            .unwrap();
        await_dropped(net.node("r"), 1);
        assert!(waiting(&inside).is_empty(), "{kind}");
    }
}

/// Two peers behind NATs of types `a` and `b`, with the same inside range, and a rendezvous
/// server: whether they reach each other by simultaneous UDP hole punching.
fn hole_punch(a: &str, b: &str) -> bool {
    let text = format!(
        "pa 198.18.1.10/24 -- na:lan 198.18.1.1/24
pb 198.18.1.10/24 -- nb:lan 198.18.1.1/24
na:wan 203.0.113.1/24 -- net
nb:wan 203.0.113.2/24 -- net
rv 203.0.113.10/24 -- net
switch net
route pa default via 198.18.1.1
route pb default via 198.18.1.1
nat na wan {a}
nat nb wan {b}"
    );
    let net = Net::build(&text).unwrap();
    let pa = bind(net.node("pa"), "198.18.1.10:5000");
    let pb = bind(net.node("pb"), "198.18.1.10:5000");
    let rv = bind(net.node("rv"), "203.0.113.10:3478");
    // Each registers; the rendezvous server sees their public endpoints.
    pa.send_to(b"register", addr("203.0.113.10:3478")).unwrap();
    let (_, a_public) = receive(&rv);
    pb.send_to(b"register", addr("203.0.113.10:3478")).unwrap();
    let (_, b_public) = receive(&rv);
    // a punches first: the packet dies at b's NAT unless b's NAT lets strangers in, and must
    // leave no state there that would move b's mapping.
    let b_first = send(&net, (&pa, b_public), ("nb", &pb), b"punch from a");
    // b punches toward a's public endpoint; a answers wherever b's packet came from.
    let Some(b_seen_by_a) = send(&net, (&pb, a_public), ("na", &pa), b"punch from b") else {
        return b_first.is_some();
    };
    if b_first.is_none() && b != "symmetric" {
        // The dead first punch left nothing at b's NAT that moved b's mapping.
        assert_eq!(b_seen_by_a, b_public, "b's mapping moved ({a} x {b})");
    }
    send(&net, (&pa, b_seen_by_a), ("nb", &pb), b"hello b").is_some()
}

/// Sends `payload` from a socket to an address, and waits until it reaches `socket` behind NAT
/// `nat` (its source) or that NAT counts one more unsolicited drop (`None`).
fn send(
    net: &Net,
    (from, to): (&UdpSocket, SocketAddr),
    (nat, socket): (&str, &UdpSocket),
    payload: &[u8],
) -> Option<SocketAddr> {
    let node = net.node(nat);
    let before = unsolicited(node);
    from.send_to(payload, to).unwrap();
    let deadline = Instant::now() + PATIENCE;
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1500];
    let outcome = loop {
        if let Ok((n, from)) = socket.recv_from(&mut buf)
            && &buf[..n] == payload
        {
            break Some(from);
        }
        if unsolicited(node) > before {
            break None;
        }
        assert!(
            Instant::now() < deadline,
            "{payload:?} neither arrived nor dropped"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    socket.set_nonblocking(false).unwrap();
    outcome
}

#[test]
fn hole_punching_works_where_rfc_4787_says_and_fails_symmetric_to_symmetric() {
    assert!(hole_punch("port-restricted", "port-restricted"));
    assert!(hole_punch("full-cone", "symmetric"));
    assert!(hole_punch("address-restricted", "port-restricted"));
    assert!(!hole_punch("symmetric", "symmetric"));
}

#[test]
fn mappings_are_listed_and_flushed() {
    let net = home("full-cone");
    let r = net.node("r");
    let inside = bind(net.node("inside"), "198.18.1.10:40000");
    let s1 = bind(net.node("s1"), "203.0.113.10:7000");
    let s2 = bind(net.node("s2"), "203.0.113.20:7000");
    inside.send_to(b"out", addr("203.0.113.10:7000")).unwrap();
    let (_, mapped) = receive(&s1);
    let mappings = r.nat_mappings().unwrap();
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    let m = mappings[0];
    assert_eq!(m.protocol, Protocol::Udp);
    assert_eq!(m.inside, addr("198.18.1.10:40000"));
    assert_eq!(m.outside, mapped);
    assert_eq!(m.remote, addr("203.0.113.10:7000"));
    // A full cone lets a stranger in until the NAT forgets everything.
    s2.send_to(b"stranger", mapped).unwrap();
    assert_eq!(receive(&inside).0, b"stranger");
    r.flush_nat().unwrap();
    assert!(r.nat_mappings().unwrap().is_empty());
    s2.send_to(b"stranger again", mapped).unwrap();
    await_dropped(r, 1);
    assert!(waiting(&inside).is_empty());
    let e = net.node("s1").nat_mappings().unwrap_err();
    assert!(e.to_string().contains("is not a NAT"), "{e}");
}

#[test]
fn a_short_timeout_forgets_idle_mappings() {
    let net = Net::build(&format!("{HOME}nat r wan full-cone timeout=1s")).unwrap();
    let r = net.node("r");
    let inside = bind(net.node("inside"), "198.18.1.10:40000");
    let s1 = bind(net.node("s1"), "203.0.113.10:7000");
    inside.send_to(b"out", addr("203.0.113.10:7000")).unwrap();
    let (_, mapped) = receive(&s1);
    s1.send_to(b"reply", mapped).unwrap();
    assert_eq!(receive(&inside).0, b"reply");
    assert_eq!(r.nat_mappings().unwrap().len(), 1);
    // The mapping's lifetime is the thing under test: 2.5 s of idleness, 1 s allowed.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(r.nat_mappings().unwrap().is_empty());
    s1.send_to(b"too late", mapped).unwrap();
    await_dropped(r, 1);
    assert!(waiting(&inside).is_empty());
}

#[test]
fn hairpin_lets_inside_hosts_meet_at_the_outside_address_and_without_it_they_cannot() {
    for hairpin in [true, false] {
        let kind = if hairpin {
            "port-restricted hairpin"
        } else {
            "port-restricted"
        };
        let net = home(kind);
        let one = bind(net.node("inside"), "198.18.1.10:40000");
        let two = bind(net.node("inside2"), "198.18.1.11:41000");
        let s1 = bind(net.node("s1"), "203.0.113.10:7000");
        two.send_to(b"map me", addr("203.0.113.10:7000")).unwrap();
        let (_, two_public) = receive(&s1);
        one.connect(two_public).unwrap();
        one.send(b"via the outside address").unwrap();
        if hairpin {
            let (payload, from) = receive(&two);
            assert_eq!(payload, b"via the outside address");
            assert_eq!(
                from.ip().to_string(),
                "203.0.113.1",
                "seen from the NAT's address"
            );
        } else {
            // The NAT answers for its own address: nothing listens there.
            let mut buf = [0u8; 64];
            let e = one.recv(&mut buf).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
            assert!(waiting(&two).is_empty());
        }
    }
}

#[netns_test::netns_test(
    topology = "inside 198.18.1.10/24 -- r:lan 198.18.1.1/24
r:wan 203.0.113.1/24 -- server 203.0.113.10/24
route inside default via 198.18.1.1
nat r wan port-restricted
firewall r in lan drop tcp/25",
    node = "inside"
)]
#[ignore = "run by the test below in a child process"]
fn failing_nat_probe(net: &Net) {
    let inside = bind(net.node("inside"), "198.18.1.10:40000");
    let server = bind(net.node("server"), "203.0.113.10:7000");
    inside.send_to(b"out", addr("203.0.113.10:7000")).unwrap();
    let (_, mapped) = receive(&server);
    let stranger = bind(net.node("server"), "203.0.113.10:7001");
    stranger.send_to(b"stranger", mapped).unwrap();
    await_dropped(net.node("r"), 1);
    panic!("deliberate failure");
}

#[test]
fn a_failure_dump_shows_each_nats_mappings_and_each_rules_drops() {
    let out = netns_test_e2e::probe_command(&[], "failing_nat_probe")
        .output()
        .unwrap();
    let text = netns_test_e2e::output_text(&out);
    assert!(!out.status.success(), "{text}");
    for want in [
        "  nat port-restricted 203.0.113.1 on wan: 1 live mapping\n",
        "    udp 198.18.1.10:40000 -> 203.0.113.1:40000 -> 203.0.113.10:7000\n",
        "  nat: unsolicited from outside: 1 packet stopped\n",
        "  firewall in lan drop tcp/25: 0 packets stopped\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

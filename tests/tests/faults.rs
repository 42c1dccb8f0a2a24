//! Faults beyond loss, each a seeded share of packets measured against binomial bounds: held
//! back and overtaken, delivered twice, corrupted (and dropped by the receiver's checksum); and a
//! one-way cut.

use std::net::UdpSocket;
use std::time::Duration;

use netns_test::{Net, netns_test};
use netns_test_e2e::{PATIENCE, udp_burst};

const COUNT: u16 = 2000;

/// 2,000 at 10%: 200 expected, binomial sd 13.4; the bounds are about 5 sd.
fn about_ten_percent(what: &str, n: usize) {
    assert!((130..=270).contains(&n), "{n} of {COUNT} {what} at 10%");
}

#[netns_test(topology = "client -- server reorder=10% seed=1")]
fn reorder_holds_back_a_share_that_later_datagrams_overtake(net: &Net) {
    let (arrived, _) = udp_burst(net, COUNT, 0);
    assert_eq!(arrived.len(), usize::from(COUNT), "nothing lost or doubled");
    let mut highest = 0;
    let mut overtaken = 0;
    for &n in &arrived {
        if n < highest {
            overtaken += 1;
        }
        highest = highest.max(n);
    }
    about_ten_percent("overtaken", overtaken);
}

#[netns_test(topology = "client -- server duplicate=10% seed=2")]
fn duplicate_delivers_a_share_twice(net: &Net) {
    let (arrived, _) = udp_burst(net, COUNT, 0);
    let mut unique = arrived.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        usize::from(COUNT),
        "every datagram at least once"
    );
    about_ten_percent("doubled", arrived.len() - unique.len());
}

#[netns_test(topology = "client -- server corrupt=10% seed=3")]
fn corrupt_flips_a_bit_that_the_receivers_checksum_catches(net: &Net) {
    let before = net.node("server").run(|| udp_counter("InCsumErrors"));
    let (arrived, _) = udp_burst(net, COUNT, 0);
    let corrupted = usize::from(COUNT) - arrived.len();
    about_ten_percent("corrupted", corrupted);
    let caught = net.node("server").run(|| udp_counter("InCsumErrors")) - before;
    // Every missing datagram failed its checksum; so did any corrupted warm-up or end marker.
    assert!(
        (corrupted as u64..=corrupted as u64 + 15).contains(&caught),
        "{caught} checksum failures for {corrupted} missing datagrams"
    );
}

/// One way cut, the other flowing, for a plain and a conditioned link.
fn one_way(net: &Net) {
    let (client, server) = (net.node("client"), net.node("server"));
    let at_server = server.run(|| UdpSocket::bind((server.ip(), 9000)).unwrap());
    let at_client = client.run(|| {
        netns_test::assert_not_in_host_netns();
        UdpSocket::bind((client.ip(), 9000)).unwrap()
    });
    for s in [&at_server, &at_client] {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    // Each learns the other's MAC first: a one-way cut also cuts the answers to ARP.
    let mut buf = [0u8; 16];
    at_client.send_to(b"hello", (server.ip(), 9000)).unwrap();
    assert_eq!(at_server.recv(&mut buf).unwrap(), 5);
    at_server.send_to(b"hello", (client.ip(), 9000)).unwrap();
    assert_eq!(at_client.recv(&mut buf).unwrap(), 5);
    let link = net.link("client", "server");
    link.down_from("client").unwrap();
    assert!(link.is_down());
    // The server is still heard.
    at_server.send_to(b"down", (client.ip(), 9000)).unwrap();
    assert_eq!(at_client.recv(&mut buf).unwrap(), 4);
    // The client is not: absence is the measurement, as for down().
    at_client.send_to(b"up", (server.ip(), 9000)).unwrap();
    assert!(
        at_server.recv(&mut buf).is_err(),
        "crossed a link cut from its sender"
    );
    let e = link.down_from("stranger").unwrap_err();
    assert!(e.to_string().contains("not an end of this link"), "{e}");
    link.up().unwrap();
    assert!(!link.is_down());
    at_client.send_to(b"again", (server.ip(), 9000)).unwrap();
    at_server.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(at_server.recv(&mut buf).unwrap(), 5);
}

#[netns_test(topology = "client -- server")]
fn down_from_cuts_a_plain_link_one_way(net: &Net) {
    one_way(net);
}

#[netns_test(topology = "client -- server delay=1ms")]
fn down_from_cuts_a_conditioned_link_one_way(net: &Net) {
    one_way(net);
}

/// A counter of the `Udp:` lines of the calling thread's namespace's `/proc/net/snmp`.
fn udp_counter(name: &str) -> u64 {
    let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next().unwrap(), udp.next().unwrap());
    let at = names.split_whitespace().position(|n| n == name).unwrap();
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}

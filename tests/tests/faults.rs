//! Faults beyond loss, each a seeded share of packets measured against binomial bounds: held
//! back and overtaken, delivered twice, corrupted (and dropped by the receiver's checksum); and a
//! one-way cut.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use netns_test::{Net, netns_test};
use netns_test_e2e::PATIENCE;

const COUNT: u16 = 2000;

/// 2,000 numbered datagrams from `client` to `server` over the topology's one link, in a burst;
/// what arrived, in order (duplicates included).
fn burst(net: &Net) -> Vec<u16> {
    let server = net.node("server");
    let receiver = server.run(|| UdpSocket::bind((server.ip(), 9000)).unwrap());
    force_receive_buffer(&receiver, 8 << 20);
    receiver.set_read_timeout(Some(PATIENCE)).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut arrived, mut buf, mut ended) = (Vec::new(), [0u8; 8], false);
        loop {
            match receiver.recv_from(&mut buf) {
                Ok((3, _)) if &buf[..3] == b"end" => {
                    // Stragglers (a held-back or doubled datagram) are a millisecond behind.
                    ended = true;
                    receiver
                        .set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                }
                Ok((2, _)) => arrived.push(u16::from_be_bytes([buf[0], buf[1]])),
                Ok(_) => {}
                Err(_) if ended => return arrived,
                Err(e) => panic!("no end marker: {e}"),
            }
        }
    });
    let client = net.node("client").run(|| {
        netns_test::assert_not_in_host_netns();
        UdpSocket::bind("0.0.0.0:0").unwrap()
    });
    let to = SocketAddr::new(server.ip(), 9000);
    // The MAC first, so no datagram of the burst waits in the neighbour queue.
    let warm = server.run(|| UdpSocket::bind((server.ip(), 9001)).unwrap());
    warm.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while {
        client.send_to(b"warm", (server.ip(), 9001)).unwrap();
        warm.recv(&mut [0u8; 8]).is_err()
    } {}
    for n in 0..COUNT {
        client.send_to(&n.to_be_bytes(), to).unwrap();
    }
    for _ in 0..10 {
        client.send_to(b"end", to).unwrap();
    }
    reader.join().expect("the reader")
}

/// 2,000 at 10%: 200 expected, binomial sd 13.4; the bounds are about 5 sd.
fn about_ten_percent(what: &str, n: usize) {
    assert!((130..=270).contains(&n), "{n} of {COUNT} {what} at 10%");
}

#[netns_test(topology = "client -- server reorder=10% seed=1")]
fn reorder_holds_back_a_share_that_later_datagrams_overtake(net: &Net) {
    let arrived = burst(net);
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
    let arrived = burst(net);
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
    let arrived = burst(net);
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

/// A receive buffer big enough for the whole burst (root of the node's namespace may force it).
fn force_receive_buffer(socket: &UdpSocket, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: the option value lives across the call, its size is passed; the fd is open.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&raw const bytes).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
}

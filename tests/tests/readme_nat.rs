//! The README's hole-punching example, compiled and run as it is printed there.

use std::net::UdpSocket;

use netns_test::{Net, netns_test};

#[netns_test(topology = "
alice 198.18.1.10/24 -- nat_a:lan 198.18.1.1/24
bob   198.18.1.10/24 -- nat_b:lan 198.18.1.1/24     # the same home range: separate networks
nat_a:wan 203.0.113.1/24 -- internet
nat_b:wan 203.0.113.2/24 -- internet
rendezvous 203.0.113.10/24 -- internet
switch internet
route alice default via 198.18.1.1
route bob default via 198.18.1.1
nat nat_a wan port-restricted
nat nat_b wan port-restricted
")]
fn two_peers_punch_through_two_home_routers(net: &Net) -> Result<(), Box<dyn std::error::Error>> {
    netns_test::assert_not_in_host_netns();
    let socket_in = |node: &str| net.node(node).run(|| UdpSocket::bind("0.0.0.0:5000"));
    let (alice, bob, server) = (
        socket_in("alice")?,
        socket_in("bob")?,
        socket_in("rendezvous")?,
    );
    for s in [&alice, &bob, &server] {
        s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
    }
    let mut buf = [0u8; 64];
    // Each peer tells the rendezvous server who it is; the server sees their public endpoints.
    alice.send_to(b"alice", "203.0.113.10:5000")?;
    let (_, alice_public) = server.recv_from(&mut buf)?;
    bob.send_to(b"bob", "203.0.113.10:5000")?;
    let (_, bob_public) = server.recv_from(&mut buf)?;
    // Alice's first punch dies at Bob's NAT; it opens hers for Bob's.
    alice.send_to(b"punch", bob_public)?;
    bob.send_to(b"hello alice", alice_public)?;
    let (n, from) = alice.recv_from(&mut buf)?;
    assert_eq!((&buf[..n], from), (&b"hello alice"[..], bob_public));
    alice.send_to(b"hello bob", bob_public)?;
    let (n, _) = bob.recv_from(&mut buf)?;
    assert_eq!(&buf[..n], b"hello bob");
    println!("{:?}", net.node("nat_a").nat_mappings()?);
    Ok(())
}

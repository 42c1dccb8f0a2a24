//! Two peers behind two home routers with the same inside range find each other through a
//! rendezvous server and talk directly, by simultaneous UDP hole punching.
//!
//! `cargo run --example hole_punch` (as root, or as any user where user namespaces work).

use std::net::UdpSocket;
use std::time::Duration;

use netns_test::Net;

const TOPOLOGY: &str = "
alice 198.18.1.10/24 -- nat_a:lan 198.18.1.1/24
bob   198.18.1.10/24 -- nat_b:lan 198.18.1.1/24
nat_a:wan 203.0.113.1/24 -- internet
nat_b:wan 203.0.113.2/24 -- internet
rendezvous 203.0.113.10/24 -- internet
switch internet
route alice default via 198.18.1.1
route bob default via 198.18.1.1
nat nat_a wan port-restricted
nat nat_b wan port-restricted
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = Net::build(TOPOLOGY)?;
    let socket_in = |node: &str| {
        net.node(node).run(|| {
            netns_test::assert_not_in_host_netns();
            let socket = UdpSocket::bind("0.0.0.0:5000")?;
            socket.set_read_timeout(Some(Duration::from_secs(3)))?;
            Ok::<_, std::io::Error>(socket)
        })
    };
    let (alice, bob, server) = (
        socket_in("alice")?,
        socket_in("bob")?,
        socket_in("rendezvous")?,
    );
    let mut buf = [0u8; 64];
    alice.send_to(b"alice", "203.0.113.10:5000")?;
    let (_, alice_public) = server.recv_from(&mut buf)?;
    bob.send_to(b"bob", "203.0.113.10:5000")?;
    let (_, bob_public) = server.recv_from(&mut buf)?;
    println!("the rendezvous server sees alice as {alice_public} and bob as {bob_public}");
    alice.send_to(b"punch", bob_public)?; // dies at bob's NAT, opens alice's for bob
    bob.send_to(b"hello alice", alice_public)?;
    let (n, from) = alice.recv_from(&mut buf)?;
    println!(
        "alice got {:?} from {from}",
        String::from_utf8_lossy(&buf[..n])
    );
    alice.send_to(b"hello bob", bob_public)?;
    let (n, from) = bob.recv_from(&mut buf)?;
    println!(
        "bob got {:?} from {from}",
        String::from_utf8_lossy(&buf[..n])
    );
    for m in net.node("nat_a").nat_mappings()? {
        println!("nat_a maps {m}");
    }
    Ok(())
}

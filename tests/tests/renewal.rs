//! Addresses renewed mid-test (SPEC §11): `Node::add_address` / `remove_address` change the
//! kernel's addresses, usable on return (IPv6 included), and the names every node resolves;
//! mistakes are usage errors naming the node and the interface.

use std::net::{IpAddr, TcpListener, TcpStream, ToSocketAddrs};

use netns_test::{ErrorKind, Net, netns_test};

fn resolve(name: &str) -> Vec<IpAddr> {
    (name, 80)
        .to_socket_addrs()
        .map(|a| a.map(|s| s.ip()).collect())
        .unwrap_or_default()
}

#[netns_test(
    topology = "laptop 203.0.113.1/24 2001:db8::1/64 -- server 203.0.113.2/24 2001:db8::2/64"
)]
fn a_renewed_address_carries_new_connections_and_the_name(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let (laptop, server) = (net.node("laptop"), net.node("server"));
    let listener = server.run(|| TcpListener::bind("0.0.0.0:7000").unwrap());
    // The server's view exists before the change: it must be told, not rebuilt.
    assert_eq!(server.run(|| resolve("laptop")).len(), 2);

    laptop.add_address("eth0", "203.0.113.50/24").unwrap();
    laptop.remove_address("eth0", "203.0.113.1/24").unwrap();
    let new: IpAddr = "203.0.113.50".parse().unwrap();
    assert_eq!(laptop.ip(), new);
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(laptop.ips(), [v6, new]);
    // The old address is gone from the kernel: nothing binds it any more.
    let old = TcpListener::bind("203.0.113.1:0").unwrap_err();
    assert_eq!(old.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{old}");
    // A new connection leaves from the new address.
    let _client = TcpStream::connect("203.0.113.2:7000").unwrap();
    assert_eq!(listener.accept().unwrap().1.ip(), new);
    // Every node's names follow: the server's view (made before) and the laptop's own.
    let mut by_server = server.run(|| resolve("laptop"));
    by_server.sort();
    assert_eq!(by_server, [new, v6]);
    assert!(resolve("laptop").contains(&new));
    assert!(!resolve("laptop").contains(&"203.0.113.1".parse().unwrap()));
    let getent = server
        .command("getent")
        .args(["ahostsv4", "laptop"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&getent.stdout);
    assert!(
        text.contains("203.0.113.50") && !text.contains("203.0.113.1 "),
        "{text}"
    );
}

#[netns_test(topology = "a 2001:db8::1/64 -- b 2001:db8::2/64")]
fn an_added_ipv6_address_is_usable_on_return(net: &Net) {
    netns_test::assert_not_in_host_netns();
    net.node("b")
        .add_address("eth0", "2001:db8::22/64")
        .unwrap();
    // Bound and reached at once: no duplicate address detection to wait out.
    let listener = net
        .node("b")
        .run(|| TcpListener::bind("[2001:db8::22]:7000").unwrap());
    let _client = TcpStream::connect("[2001:db8::22]:7000").unwrap();
    assert_eq!(
        listener.accept().unwrap().1.ip(),
        "2001:db8::1".parse::<IpAddr>().unwrap()
    );
}

#[netns_test(topology = "a 203.0.113.1/24 -- b 203.0.113.2/24")]
fn mistakes_name_the_node_and_the_interface(net: &Net) {
    let b = net.node("b");
    let e = b.add_address("eth9", "203.0.113.9/24").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert_eq!((e.node(), e.interface()), (Some("b"), Some("eth9")));
    assert!(
        e.to_string().contains("eth0, lo") || e.to_string().contains("lo, eth0"),
        "{e}"
    );
    let e = b.add_address("eth0", "203.0.113.9").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert!(e.to_string().contains("prefix"), "{e}");
    let e = b.add_address("eth0", "203.0.113.2/24").unwrap_err();
    assert_eq!(
        (e.kind(), e.errno()),
        (ErrorKind::Kernel, Some(libc::EEXIST)),
        "{e}"
    );
    let e = b.remove_address("eth0", "203.0.113.77/24").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Kernel, "{e}");
    assert_eq!(e.node(), Some("b"));
    // Nothing changed.
    assert_eq!(b.ips(), ["203.0.113.2".parse::<IpAddr>().unwrap()]);
}

// The README's example ("Changing the network mid-test"), as printed there.
#[netns_test(topology = "laptop 203.0.113.1/24 -- server 203.0.113.2/24")]
fn survives_a_new_address(net: &Net) -> Result<(), netns_test::Error> {
    let laptop = net.node("laptop");
    laptop.add_address("eth0", "203.0.113.50/24")?; // usable on return, IPv6 too (no DAD)
    laptop.remove_address("eth0", "203.0.113.1/24")?; // sockets bound to it stop working
    assert_eq!(laptop.ip().to_string(), "203.0.113.50");
    // Every node resolves `laptop` to the new address from now on.
    net.link("laptop", "server").down_from("server")?; // a one-way cut (see Link conditions)
    Ok(())
}

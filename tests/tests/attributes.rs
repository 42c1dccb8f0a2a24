//! Every form of the attribute: arguments, sync and async, `()` and `Result`, `#[ignore]` and
//! `#[should_panic]` in either order.

use netns_test::{Net, netns_test};

#[netns_test]
fn the_default_is_one_node_with_loopback_up() {
    netns_test::assert_not_in_host_netns();
    // Every parallel test binds the same port in its own namespace.
    let listener = std::net::TcpListener::bind("127.0.0.1:8080").unwrap();
    std::net::TcpStream::connect("127.0.0.1:8080").unwrap();
    drop(listener);
}

#[netns_test]
fn the_default_node_is_called_main(net: &Net) {
    assert_eq!(net.nodes().map(|n| n.name()).collect::<Vec<_>>(), ["main"]);
    assert_eq!(
        netns_test::current_netns_inode(),
        net.node("main").netns_inode()
    );
}

#[netns_test(topology = "a -- b")]
fn a_result_body_may_use_the_question_mark(net: &Net) -> Result<(), std::io::Error> {
    netns_test::assert_not_in_host_netns();
    let s = std::net::UdpSocket::bind((net.node("a").ip(), 0))?;
    s.send_to(b"x", (net.node("b").ip(), 9))?;
    Ok(())
}

#[netns_test(topology = "a -- b")]
#[should_panic(expected = "deliberate")]
fn should_panic_after_the_attribute(_net: &Net) {
    panic!("deliberate");
}

#[should_panic(expected = "deliberate")]
#[netns_test(topology = "a -- b")]
fn should_panic_before_the_attribute() {
    panic!("deliberate");
}

#[netns_test(topology = "a -- b")]
#[should_panic(expected = "no node `zz`")]
fn an_unknown_node_panics_naming_the_nodes(net: &Net) {
    net.node("zz");
}

#[netns_test(topology = "a -- b")]
#[ignore = "proves #[ignore] is kept: this would fail"]
fn ignored_after_the_attribute() {
    panic!("an ignored test ran");
}

#[ignore = "proves #[ignore] is kept: this would fail"]
#[netns_test]
fn ignored_before_the_attribute() {
    panic!("an ignored test ran");
}

#[netns_test(topology = "a -- b", node = "b")]
#[should_panic(expected = "async deliberate")]
async fn async_should_panic() {
    panic!("async deliberate");
}

#[netns_test(topology = "
    # comments, blank lines, `;` and explicit names all parse
    node a sysctl net.ipv4.conf.all.rp_filter=2 sysctl net.ipv4.conf.eth0.arp_ignore=1

    a 203.0.113.1/24 -- b 203.0.113.2/24 198.51.100.7/32 mtu=1400 ; route a 198.51.100.7/32 dev eth0
")]
fn sysctls_mtu_and_on_link_routes_take_effect(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let read = |path: &str| std::fs::read_to_string(path).unwrap().trim().to_string();
    assert_eq!(read("/proc/sys/net/ipv4/conf/all/rp_filter"), "2");
    assert_eq!(read("/proc/sys/net/ipv4/conf/eth0/arp_ignore"), "1");
    let b = net.node("b");
    assert_eq!(
        b.run(|| read("/proc/sys/net/ipv4/conf/all/rp_filter")),
        "0",
        "only in a"
    );
    let mtu = b
        .command("cat")
        .arg("/sys/class/net/eth0/mtu")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&mtu.stdout).trim(), "1400");
    // 198.51.100.7 is only reachable through the on-link route out of eth0.
    let to = "198.51.100.7".parse().unwrap();
    assert_eq!(
        netns_test_e2e::udp_once(b, to, 9200, b"on-link").unwrap(),
        b"on-link"
    );
}

// Inside a declarative macro, arguments arrive as fragments (`$t:literal`): they work the same.
macro_rules! in_a_macro {
    ($topology:literal, $node:literal; $name:ident) => {
        #[netns_test(topology = $topology, node = $node, )]
        fn $name(net: &Net) {
            assert_eq!(
                netns_test::current_netns_inode(),
                net.node($node).netns_inode()
            );
        }
    };
}

in_a_macro!("switch s\nh1 -- s", "h1"; arguments_from_macro_fragments);

//! Changes to a running topology, and the text a topology is written back as.

use crate::{RouteVia, change, parse};

const FIXTURES: [&str; 5] = [
    include_str!("../../fixtures/dualstack.topo"),
    include_str!("../../fixtures/lan.topo"),
    include_str!("../../fixtures/nat.topo"),
    include_str!("../../fixtures/pair.topo"),
    include_str!("../../fixtures/router.topo"),
];

#[test]
fn every_fixture_written_back_parses_to_itself() {
    for text in FIXTURES {
        let t = parse(text).unwrap();
        let again = parse(&t.to_string()).unwrap();
        assert_eq!(again.nodes(), t.nodes(), "{t}");
        assert_eq!((again.links(), again.hosts()), (t.links(), t.hosts()));
    }
}

#[test]
fn a_link_added_gets_a_subnet_never_handed_out_before() {
    let base = parse("laptop -- wifi\nwifi -- server").unwrap();
    let roamed = change(&base.without_link(0), "laptop -- cell").unwrap();
    let laptop = roamed.node("laptop").unwrap();
    assert_eq!(laptop.interfaces[0].name, "eth0");
    assert_eq!(
        laptop.interfaces[0].addresses[0].to_string(),
        "198.18.2.1/24"
    );
    // The running links keep their addresses.
    assert_eq!(roamed.links()[0], base.without_link(0).links()[0]);
}

#[test]
fn a_host_added_to_a_switch_gets_the_next_host_number() {
    let base = parse("switch s\na -- s\nb -- s").unwrap();
    let base = base.without_node(base.node_index("b").unwrap());
    let t = change(&base, "c -- s").unwrap();
    let c = &t.node("c").unwrap().interfaces[0];
    assert_eq!(c.addresses[0].to_string(), "198.18.0.3/24");
    assert_eq!(t.node("s").unwrap().interfaces.len(), 3); // br0 and two ports
}

#[test]
fn what_is_said_again_replaces_what_runs() {
    let base = parse(
        "node r forward\nh 203.0.113.2/24 -- r 203.0.113.1/24\nr:wan 198.51.100.1/24 -- s 198.51.100.2/24\n\
         route h default via 203.0.113.1\nroute h 192.0.2.0/24 via 203.0.113.1\nnat r wan\n\
         firewall s allow tcp/80\nfirewall s drop udp\nhosts relay.test 198.51.100.7",
    )
    .unwrap();
    let t = change(
        &base,
        "route h default dev eth0\nnat r wan symmetric\nfirewall s block-inbound\n\
         hosts RELAY.test 198.51.100.8\nnode h sysctl net.ipv4.tcp_ecn=1",
    )
    .unwrap();
    let h = t.node("h").unwrap();
    let dests: Vec<String> = h.routes.iter().map(|r| r.dest.to_string()).collect();
    assert_eq!(dests, ["192.0.2.0/24", "0.0.0.0/0", "::/0"]);
    assert_eq!(h.routes[1].via, RouteVia::Dev(0));
    assert_eq!(h.sysctls.len(), 1);
    let r = t.node("r").unwrap();
    assert_eq!(r.nat.unwrap().kind, crate::NatKind::Symmetric);
    assert!(r.forward, "a node statement keeps what the node had");
    assert_eq!(t.node("s").unwrap().firewalls.len(), 1);
    assert_eq!(t.hosts().len(), 1);
    assert_eq!(t.hosts()[0].1[0].to_string(), "198.51.100.8");
}

#[test]
fn mistakes_are_placed_in_the_added_text() {
    let base = parse("a -- b").unwrap();
    let e = change(&base, "c -- b\nc -- c").unwrap_err();
    assert_eq!((e.line, e.column, e.token.as_str()), (2, 6, "c"));
    let e = change(&base, "\nc -- b:eth0").unwrap_err();
    assert_eq!((e.line, e.token.as_str()), (2, "eth0"));
    assert!(e.message.contains("twice"), "{e}");
    // `a`'s running address is on the same node: the clash names the running statement.
    let e = change(&base, "a:x 198.18.0.1/24 -- c").unwrap_err();
    assert!(
        e.message
            .contains("in the running topology's `a:eth0 198.18.0.1/24 -- b:eth0 198.18.0.2/24`"),
        "{e}"
    );
    let e = change(&base, "switch a").unwrap_err();
    assert_eq!((e.line, e.column), (1, 8));
    assert!(e.message.contains("running topology's `node a`"), "{e}");
    let e = change(&base, "set a -- b delay=5ms").unwrap_err();
    assert!(e.message.contains("Link::set"), "{e}");
    assert!(change(&base, "  # nothing\n").is_err());
}

#[test]
fn removing_a_link_takes_what_used_it() {
    let t = parse(
        "node r forward\nh -- r\nr:wan 198.51.100.1/24 -- s 198.51.100.2/24\n\
         route h default via 198.18.0.2\nroute s 198.18.0.0/24 dev eth0\nnat r wan\nfirewall r in eth0 drop udp",
    )
    .unwrap();
    let t = t.without_link(1);
    let r = t.node("r").unwrap();
    assert!(r.nat.is_none() && r.firewalls.len() == 1);
    assert!(t.node("s").unwrap().routes.is_empty());
    assert_eq!(t.node("h").unwrap().routes.len(), 1);
    let t = t.without_link(0);
    assert!(t.node("h").unwrap().routes.is_empty());
    assert!(t.node("r").unwrap().firewalls.is_empty());
}

#[test]
fn a_switch_hands_out_freed_host_numbers_once_it_reaches_its_end() {
    let mut t = parse("switch s 198.51.100.0/29\na -- s").unwrap();
    let mut seen = Vec::new();
    for round in 0..12 {
        t = change(&t, &format!("h{round} -- s")).unwrap();
        let h = t.node_index(&format!("h{round}")).unwrap();
        seen.push(t.nodes()[h].interfaces[0].addresses[0].to_string());
        t = t.without_node(h);
    }
    // .1 is a's, .0 the switch's own network number; .7 the broadcast address.
    assert_eq!(
        seen[..6],
        [
            "198.51.100.2/29",
            "198.51.100.3/29",
            "198.51.100.4/29",
            "198.51.100.5/29",
            "198.51.100.6/29",
            "198.51.100.2/29"
        ]
    );
    let full = change(&t, "x1 -- s\nx2 -- s\nx3 -- s\nx4 -- s\nx5 -- s").unwrap();
    let e = change(&full, "x6 -- s").unwrap_err();
    assert!(e.message.contains("no free address left"), "{e}");
}

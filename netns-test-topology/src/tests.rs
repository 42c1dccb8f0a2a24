use super::*;

fn ips(t: &Topology, node: &str) -> Vec<String> {
    t.node(node)
        .unwrap()
        .addresses()
        .map(|c| c.to_string())
        .collect()
}

pub(crate) fn fails(text: &str) -> (usize, usize, String, String) {
    let e = parse(text).expect_err(text);
    (e.line, e.column, e.token, e.message)
}

#[test]
fn pair_is_auto_addressed_from_rfc2544() {
    let t = parse("a -- b").unwrap();
    assert_eq!(ips(&t, "a"), ["198.18.0.1/24"]);
    assert_eq!(ips(&t, "b"), ["198.18.0.2/24"]);
    assert_eq!(t.node("a").unwrap().interfaces[0].name, "eth0");
    assert_eq!(t.links().len(), 1);
}

#[test]
fn each_auto_link_gets_the_next_subnet_and_explicit_ones_are_skipped() {
    let t = parse("a -- b\nb 198.18.1.5/24 -- c 198.18.1.6/24\nc -- d").unwrap();
    assert_eq!(ips(&t, "a"), ["198.18.0.1/24"]);
    assert_eq!(ips(&t, "c"), ["198.18.1.6/24", "198.18.2.1/24"]);
    assert_eq!(t.node("c").unwrap().interfaces[1].name, "eth1");
}

#[test]
fn router_fixture() {
    let t = parse(
        "node r forward\nh1 203.0.113.10/24 -- r 203.0.113.1/24\nr 198.51.100.1/24 -- h2 198.51.100.10/24\n\
         route h1 default via 203.0.113.1\nroute h2 default via 198.51.100.1",
    )
    .unwrap();
    let names: Vec<&str> = t.nodes().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["r", "h1", "h2"]);
    assert!(t.node("r").unwrap().forward);
    assert!(!t.node("h1").unwrap().forward);
    let r = &t.node("h1").unwrap().routes[0];
    assert_eq!(r.dest.to_string(), "0.0.0.0/0");
    assert_eq!(r.via, RouteVia::Gateway("203.0.113.1".parse().unwrap()));
}

#[test]
fn switch_hosts_get_addresses_in_order() {
    let t = parse("switch s\nh1 -- s\ns -- h2\nh3 203.0.113.9/24 -- s\nh4 -- s").unwrap();
    assert_eq!(ips(&t, "h1"), ["198.18.0.1/24"]);
    assert_eq!(ips(&t, "h2"), ["198.18.0.2/24"]);
    assert_eq!(ips(&t, "h3"), ["203.0.113.9/24"]);
    assert_eq!(ips(&t, "h4"), ["198.18.0.3/24"]);
    let s = t.node("s").unwrap();
    assert!(s.is_switch);
    assert_eq!(s.interfaces[0].name, "br0");
    assert!(s.addresses().next().is_none());
    assert_eq!(
        s.interfaces[1].kind,
        InterfaceKind::Veth {
            link: 0,
            bridge: Some(0)
        }
    );
}

#[test]
fn dual_stack_switch_hands_out_both_families_and_skips_its_own() {
    let t = parse("switch s 203.0.113.1/24 2001:db8::1/64\ns -- a\ns -- b").unwrap();
    assert_eq!(ips(&t, "a"), ["203.0.113.2/24", "2001:db8::2/64"]);
    assert_eq!(ips(&t, "b"), ["203.0.113.3/24", "2001:db8::3/64"]);
    assert_eq!(ips(&t, "s"), ["203.0.113.1/24", "2001:db8::1/64"]);
}

#[test]
fn big_switches_get_a_wider_auto_subnet() {
    let text: String = (0..500).map(|i| format!("s -- h{i}\n")).collect::<String>() + "switch s";
    let t = parse(&text).unwrap();
    assert_eq!(ips(&t, "h0"), ["198.18.0.1/23"]);
    assert_eq!(ips(&t, "h499"), ["198.18.1.244/23"]);
}

#[test]
fn explicit_interface_names_are_kept_and_auto_names_avoid_them() {
    let t = parse("a:eth0 -- b:up\na -- c\nlink a:x -- c").unwrap();
    let a = t.node("a").unwrap();
    let names: Vec<&str> = a.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["eth0", "eth1", "x"]);
    assert_eq!(t.node("c").unwrap().interfaces[1].name, "eth1");
}

#[test]
fn mtu_sysctl_dev_routes_and_semicolons() {
    let t = parse("node a sysctl net.ipv4.conf.all.rp_filter=2 ; a -- b mtu=1400 # c\nroute a 203.0.113.0/24 dev eth0\nroute b default dev eth0")
        .unwrap();
    assert_eq!(t.links()[0].mtu, Some(1400));
    assert_eq!(
        t.node("a").unwrap().sysctls,
        [("net.ipv4.conf.all.rp_filter".into(), "2".into())]
    );
    assert_eq!(t.node("a").unwrap().routes[0].via, RouteVia::Dev(0));
    assert_eq!(
        t.node("b").unwrap().routes.len(),
        2,
        "default dev covers both families"
    );
}

#[test]
fn ipv6_gateway_and_default() {
    let t = parse("a 2001:db8:1::1/64 -- b 2001:db8:1::2/64\nroute a default via 2001:db8:1::2")
        .unwrap();
    assert_eq!(t.node("a").unwrap().routes[0].dest.to_string(), "::/0");
}

#[test]
fn every_rejection_names_line_column_and_token() {
    let cases: &[(&str, (usize, usize, &str), &str)] = &[
        ("nod a", (1, 1, "nod"), "unknown keyword"),
        ("a -- b foo=1", (1, 8, "foo=1"), "unknown link option"),
        (
            "a -- b\n  a 203.0.113.1/33 -- c",
            (2, 5, "203.0.113.1/33"),
            "malformed CIDR",
        ),
        ("a 203.0.113.1 -- c", (1, 3, "203.0.113.1"), "prefix length"),
        ("1a -- b", (1, 1, "1a"), "bad node name"),
        (
            "a -- bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            (1, 6, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
            "limit is 32",
        ),
        ("a:e0 -- b\na:e0 -- c", (2, 3, "e0"), "appears twice"),
        ("a -- a", (1, 6, "a"), "to itself"),
        (
            "a 203.0.113.1/24 -- b 203.0.113.1/24",
            (1, 23, "203.0.113.1/24"),
            "used twice",
        ),
        (
            "a -- b\nroute x default via 198.18.0.2",
            (2, 7, "x"),
            "unknown node",
        ),
        (
            "a -- b\nroute a default via 203.0.113.1",
            (2, 21, "203.0.113.1"),
            "no subnet",
        ),
        (
            "a -- b\nroute a 203.0.113.0/24 dev eth7",
            (2, 28, "eth7"),
            "no interface",
        ),
        (
            "switch s\ns 203.0.113.1/24 -- h",
            (2, 3, "203.0.113.1/24"),
            "switch port",
        ),
        (
            "node a sysctl kernel.panic=1",
            (1, 15, "kernel.panic=1"),
            "outside `net.`",
        ),
        (
            "node a sysctl net.ipv4..x=1",
            (1, 15, "net.ipv4..x=1"),
            "malformed sysctl",
        ),
        ("# nothing\n\n", (1, 1, ""), "empty topology"),
        (
            "a:abcdefghijklmnop -- b",
            (1, 3, "abcdefghijklmnop"),
            "limit is 15",
        ),
        ("a:x/y -- b", (1, 3, "x/y"), "does not accept"),
        ("a -- b mtu=67", (1, 8, "mtu=67"), "bad MTU"),
        ("a--b", (1, 1, "a--b"), "write `a -- b`"),
        ("node a\nnode a", (2, 6, "a"), "declared twice"),
        (
            "a -- b\nroute a 198.18.0.7/16 via 198.18.0.2",
            (2, 9, "198.18.0.7/16"),
            "host bits",
        ),
        ("a -- b -- c", (1, 8, "--"), "exactly two ends"),
        ("switch s\ns:br0 -- h", (2, 3, "br0"), "bridge of switch"),
        (
            "switch s\nh -- s:br2-up",
            (2, 8, "br2-up"),
            "kept for switch `s`",
        ),
        (
            "a -- b\nroute a default via 198.18.0.1",
            (2, 21, "198.18.0.1"),
            "own address",
        ),
        (
            "a 2001:db8::1/64 -- b 2001:db8::2/64\nroute a 203.0.113.0/24 via 2001:db8::2",
            (2, 28, "2001:db8::2"),
            "same IP family",
        ),
    ];
    assert_rejections("", cases);
}

/// Each text (after `prefix`) is refused at its line, column and token, with a message that
/// holds the needle and names the token.
pub(crate) fn assert_rejections(prefix: &str, cases: &[(&str, (usize, usize, &str), &str)]) {
    for (text, (line, column, token), needle) in cases {
        let (l, c, t, m) = fails(&format!("{prefix}{text}"));
        assert_eq!(
            (l, c, t.as_str()),
            (*line, *column, *token),
            "{text:?}: {m}"
        );
        assert!(
            m.contains(needle),
            "{text:?}: message {m:?} lacks {needle:?}"
        );
        if !t.is_empty() {
            assert!(
                m.contains(&format!("`{t}`")) || m.contains(&t),
                "{text:?}: message {m:?} does not name the token"
            );
        }
    }
}

#[test]
fn link_conditions_are_parsed_in_whole_units() {
    let t = parse(
        "a -- b delay=50ms jitter=10ms loss=20% rate=10mbit seed=7 mtu=1400 reorder=5% \
         duplicate=1% corrupt=0.5%\nb -- c",
    )
    .unwrap();
    let c = t.links()[0].conditions.expect("conditions");
    assert_eq!(
        c,
        LinkConditions {
            delay_ns: 50_000_000,
            jitter_ns: 10_000_000,
            loss_ppb: 200_000_000,
            rate_bps: Some(10_000_000),
            seed: Some(7),
            reorder_ppb: 50_000_000,
            duplicate_ppb: 10_000_000,
            corrupt_ppb: 5_000_000,
        }
    );
    for bad in ["reorder=101%", "duplicate=-1%", "corrupt=5"] {
        let e = parse(&format!("a -- b {bad}")).unwrap_err();
        assert_eq!(e.token, bad, "{e}");
        assert!(e.message.contains("a percentage from 0% to 100%"), "{e}");
    }
    assert_eq!(t.links()[0].mtu, Some(1400));
    assert_eq!(t.links()[1].conditions, None, "a plain link stays plain");
    let zero = parse("a -- b delay=0ms").unwrap();
    assert_eq!(
        zero.links()[0].conditions,
        Some(LinkConditions::default()),
        "a written zero still asks for a conditioned link"
    );
}

#[test]
fn bad_link_conditions_name_the_token() {
    let (line, column, token, message) = fails("a -- b\na -- c delay=50");
    assert_eq!((line, column, token.as_str()), (2, 8, "delay=50"));
    assert!(message.contains("no unit"), "{message}");
    let (_, column, token, message) = fails("a -- b loss=120%");
    assert_eq!((column, token.as_str()), (8, "loss=120%"));
    assert!(message.contains("over 100%"), "{message}");
    let (_, _, token, message) = fails("a -- b jitter=-5ms");
    assert_eq!(token, "jitter=-5ms");
    assert!(message.contains("negative"), "{message}");
    let (_, _, token, message) = fails("a -- b rate=10mbps");
    assert_eq!(token, "rate=10mbps");
    assert!(message.contains("ambiguous"), "{message}");
    let (_, _, token, message) = fails("a -- b delay=1ms delay=2ms");
    assert_eq!(token, "delay=2ms");
    assert!(message.contains("twice"), "{message}");
    let (_, _, _, message) = fails("a -- b seed=x");
    assert!(message.contains("bad seed"), "{message}");
    let (_, _, _, message) = fails("a -- b color=red");
    assert!(message.contains("delay=DUR"), "{message}");
}

#[test]
fn condition_limits_are_exact() {
    let t = parse("a -- b delay=3600s loss=0.0000001% rate=1000gbit seed=18446744073709551615")
        .unwrap();
    let c = t.links()[0].conditions.unwrap();
    assert_eq!(c.delay_ns, MAX_DELAY_NS);
    assert_eq!(c.loss_ppb, 1);
    assert_eq!(c.rate_bps, Some(1_000_000_000_000));
    assert_eq!(c.seed, Some(u64::MAX));
    for over in [
        "a -- b delay=3600.000000001s",
        "a -- b loss=0.00000001%",
        "a -- b rate=1000.000000001gbit",
        "a -- b seed=18446744073709551616",
    ] {
        assert!(parse(over).is_err(), "{over}");
    }
}

#[test]
fn set_gives_a_written_link_new_options() {
    let t = parse("a -- b loss=1%\nb -- c\nset b -- a delay=20ms mtu=1400\nset c:eth0 -- b seed=3")
        .unwrap();
    let ab = &t.links()[0];
    let c = ab.conditions.unwrap();
    assert_eq!(
        (c.delay_ns, c.loss_ppb),
        (20_000_000, 0),
        "the written conditions replace the old"
    );
    assert_eq!(ab.mtu, Some(1400));
    assert_eq!(t.node("a").unwrap().interfaces[0].mtu, Some(1400));
    assert_eq!(
        t.links()[1].conditions.unwrap().seed,
        Some(3),
        "a plain link becomes conditioned"
    );
    assert_rejections(
        "a -- b\n",
        &[
            ("set a -- c delay=1ms", (2, 1, "set"), "no link a -- c"),
            (
                "set a:eth9 -- b delay=1ms",
                (2, 1, "set"),
                "no link a:eth9 -- b",
            ),
            (
                "set a 203.0.113.1/24 -- b delay=1ms",
                (2, 7, "203.0.113.1/24"),
                "belongs in the link's own statement",
            ),
            ("set a -- b", (2, 12, ""), "the link's new options"),
            ("set a b", (2, 1, "set"), "two ends"),
        ],
    );
}

#[test]
fn hosts_names_more_addresses_and_refuses_clashes() {
    let t = parse("a -- b\nhosts relay.example.test 198.51.100.10 2001:db8::10").unwrap();
    assert_eq!(t.hosts()[0].1.len(), 2);
    assert_rejections(
        "a -- b\n",
        &[
            (
                "hosts -bad- 198.51.100.1",
                (2, 7, "-bad-"),
                "not a host name",
            ),
            (
                "hosts relay 198.51.100.1/24",
                (2, 13, "198.51.100.1/24"),
                "not an IP address",
            ),
            ("hosts relay", (2, 13, ""), "one or more IP addresses"),
            ("hosts b 198.51.100.1", (2, 7, "b"), "is a node"),
            (
                "hosts r 198.51.100.1\nhosts R 198.51.100.2",
                (3, 7, "R"),
                "given twice",
            ),
        ],
    );
}

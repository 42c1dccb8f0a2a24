//! The `nat` and `firewall` statements: what they resolve to, and every rejection SPEC §10
//! lists, each naming line, column and token.

use super::*;

const HOME: &str = "laptop 198.18.1.10/24 -- home:lan 198.18.1.1/24
home:wan 198.19.0.2/24 -- isp:sub 198.19.0.1/24
isp:up 203.0.113.1/24 -- server 203.0.113.10/24
route laptop default via 198.18.1.1
route home default via 198.19.0.1
";

use crate::tests::{assert_rejections, fails};

#[test]
fn the_spec_fixture_resolves_outside_interfaces_addresses_and_types() {
    let t = parse(&format!(
        "{HOME}nat home\nnat isp up symmetric hairpin timeout=30s"
    ))
    .unwrap();
    let home = t.node("home").unwrap();
    let nat = home.nat.expect("home is a NAT");
    assert_eq!(
        home.interfaces[nat.outside].name, "wan",
        "from the default route"
    );
    assert_eq!(nat.address.to_string(), "198.19.0.2");
    assert_eq!(nat.kind, NatKind::PortRestricted, "the default type");
    assert!(home.forward, "a NAT forwards");
    let isp = t.node("isp").unwrap().nat.unwrap();
    assert_eq!(
        (isp.kind, isp.hairpin, isp.timeout_secs),
        (NatKind::Symmetric, true, Some(30))
    );
    assert_eq!(isp.address.to_string(), "203.0.113.1");
}

#[test]
fn firewall_rules_keep_their_order_and_scope() {
    let t = parse(&format!(
        "{HOME}firewall home in wan allow tcp/80 tcp/443 udp/53 reject tcp/22\nfirewall home block-inbound"
    ))
    .unwrap();
    let home = t.node("home").unwrap();
    assert_eq!(home.firewalls.len(), 2);
    let rules: Vec<String> = home.firewalls[0]
        .rules
        .iter()
        .map(Rule::to_string)
        .collect();
    assert_eq!(
        rules,
        [
            "allow tcp/80",
            "allow tcp/443",
            "allow udp/53",
            "reject tcp/22"
        ]
    );
    assert_eq!(home.firewalls[0].iface, home.interface_index("wan"));
    assert!(home.firewalls[0].allow_list());
    assert_eq!(home.firewalls[1].rules, [Rule::BlockInbound]);
    assert_eq!(home.firewalls[1].iface, None);
    assert!(!home.forward, "a firewall alone does not make a router");
}

#[test]
fn the_same_addresses_in_separate_networks_are_fine() {
    let t = parse("a 203.0.113.1/24 -- b 203.0.113.2/24\nc 203.0.113.1/24 -- d 203.0.113.2/24")
        .unwrap();
    assert_eq!(t.nodes().len(), 4);
    // Two homes with identical inside ranges behind two NATs.
    let homes = parse(
        "a 198.18.1.10/24 -- r1 198.18.1.1/24\nb 198.18.1.10/24 -- r2 198.18.1.1/24\n\
         r1 203.0.113.1/24 -- s\nr2 203.0.113.2/24 -- s\nswitch s\nnat r1 eth1\nnat r2 eth1",
    );
    assert!(homes.is_ok(), "{homes:?}");
}

#[test]
fn every_middlebox_rejection_names_line_column_and_token() {
    let cases: &[(&str, (usize, usize, &str), &str)] = &[
        ("nat home wan fancy", (6, 14, "fancy"), "unknown NAT option"),
        ("nat home fancy", (6, 10, "fancy"), "a NAT type is one of"),
        (
            "nat home wan symmetric full-cone",
            (6, 24, "full-cone"),
            "given twice",
        ),
        (
            "nat home wan timeout=500ms",
            (6, 14, "timeout=500ms"),
            "whole seconds",
        ),
        ("nat ghost", (6, 5, "ghost"), "unknown node"),
        ("switch s\nnat s", (7, 5, "s"), "on switch `s`"),
        ("nat server", (6, 5, "server"), "name it"),
        (
            "nat home wan\nnat home lan",
            (7, 5, "home"),
            "one `nat` statement per node",
        ),
        ("firewall home drop tcp/0", (6, 20, "tcp/0"), "out of range"),
        (
            "firewall home drop udp/70000",
            (6, 20, "udp/70000"),
            "out of range",
        ),
        ("firewall home drop tcp/9-8", (6, 20, "tcp/9-8"), "reversed"),
        (
            "firewall home drop icmp/3",
            (6, 20, "icmp/3"),
            "icmp has no ports",
        ),
        (
            "firewall home deny tcp",
            (6, 15, "deny"),
            "unknown firewall rule",
        ),
        (
            "firewall home in dmz drop tcp",
            (6, 18, "dmz"),
            "no interface `dmz`",
        ),
        (
            "firewall ghost block-inbound",
            (6, 10, "ghost"),
            "unknown node",
        ),
        (
            "switch s\nfirewall s block-inbound",
            (7, 10, "s"),
            "on switch",
        ),
        ("firewall home drop", (6, 20, ""), "a protocol"),
        ("firewall home", (6, 15, ""), "a rule"),
    ];
    assert_rejections(HOME, cases);
    let ipv6_only = "a 2001:db8::1/64 -- r 2001:db8::2/64\nnat r eth0";
    let (_, _, token, m) = fails(ipv6_only);
    assert_eq!(token, "eth0");
    assert!(m.contains("no IPv4 address"), "{m}");
    let many: String = format!(
        "{HOME}firewall home {}",
        (1..=1025)
            .map(|p| format!("allow tcp/{p}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (_, _, _, m) = fails(&many);
    assert!(m.contains("at most 1024"), "{m}");
}

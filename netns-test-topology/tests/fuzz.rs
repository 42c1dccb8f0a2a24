//! Fuzzing the parser and validator: any input makes `parse` return `Ok` or `Err` (never panic,
//! never run without bound), and every `Ok` is a consistent topology. The checked-in corpus
//! (`tests/corpus/`) keeps the inputs that once found a problem or sit on an edge.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use netns_test_topology::{
    InterfaceKind, MAX_DELAY_NS, MAX_NODES, Protocol, Rule, Topology, change, parse,
};
use proptest::prelude::*;

/// What must hold of every topology `parse` accepts.
fn check(text: &str) {
    let started = Instant::now();
    let result = parse(text);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "parse took {:?} on {text:?}",
        started.elapsed()
    );
    match result {
        Ok(t) => {
            consistent(&t);
            // Written back, it parses to itself: a change to a running topology starts there.
            let again = parse(&t.to_string()).unwrap_or_else(|e| panic!("{t}\n{e}"));
            assert_eq!(
                (again.nodes(), again.links(), again.hosts()),
                (t.nodes(), t.links(), t.hosts()),
                "{text:?} written back as {t}"
            );
        }
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1, "{e:?}");
            assert!(
                e.line <= text.lines().count().max(1),
                "{e:?} past the end of {text:?}"
            );
            assert!(!e.message.is_empty());
        }
    }
}

/// What must hold of every change to a running topology: refused with a position inside the
/// added text, or a consistent topology that keeps every running node and link as it was.
fn check_change(base: &Topology, text: &str) {
    match change(base, text) {
        Ok(t) => {
            consistent(&t);
            assert_eq!(&t.links()[..base.links().len()], base.links(), "{text:?}");
            for (was, now) in base.nodes().iter().zip(t.nodes()) {
                assert_eq!(was.name, now.name);
                assert_eq!(was.interfaces[..], now.interfaces[..was.interfaces.len()]);
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1, "{e:?}");
            assert!(
                e.line <= text.lines().count().max(1),
                "{e:?} past the end of {text:?}"
            );
            assert!(!e.message.contains(&(usize::MAX / 2).to_string()), "{e:?}");
        }
    }
}

fn consistent(t: &Topology) {
    assert!(!t.nodes().is_empty() && t.nodes().len() <= MAX_NODES);
    for node in t.nodes() {
        // An address may repeat in separate networks, never on one node.
        let mut addresses = HashSet::new();
        let mut names = HashSet::new();
        for iface in &node.interfaces {
            assert!(
                names.insert(iface.name.as_str()),
                "interface {} twice on {}",
                iface.name,
                node.name
            );
            assert!(
                !iface.name.is_empty()
                    && iface.name.len() <= 15
                    && !iface.name.contains(['/', ':'])
            );
            for a in &iface.addresses {
                assert!(addresses.insert(a.addr), "address {} twice", a.addr);
            }
            if let InterfaceKind::Veth { link, .. } = iface.kind {
                assert!(link < t.links().len());
            }
        }
        for (key, _) in &node.sysctls {
            assert!(
                key.starts_with("net.") && !key.contains('/') && !key.contains(".."),
                "{key}"
            );
        }
    }
    for node in t.nodes() {
        if let Some(nat) = node.nat {
            assert!(!node.is_switch && node.forward, "{}", node.name);
            let outside = &node.interfaces[nat.outside];
            assert!(outside.addresses.iter().any(|c| c.addr == nat.address));
        }
        for firewall in &node.firewalls {
            assert!(!node.is_switch && !firewall.rules.is_empty());
            assert!(firewall.iface.is_none_or(|i| i < node.interfaces.len()));
            for rule in &firewall.rules {
                if let Rule::Drop(m) | Rule::Reject(m) | Rule::Allow(m) = rule {
                    assert!(m.ports.is_none_or(|(a, b)| 1 <= a && a <= b), "{rule}");
                    assert!(m.protocol != Protocol::Icmp || m.ports.is_none(), "{rule}");
                }
            }
        }
    }
    for link in t.links() {
        assert_ne!(link.ends[0].node, link.ends[1].node);
        if let Some(c) = link.conditions {
            assert!(c.loss_ppb <= 1_000_000_000, "{c:?}");
            assert!(
                c.delay_ns <= MAX_DELAY_NS && c.jitter_ns <= MAX_DELAY_NS,
                "{c:?}"
            );
            assert_ne!(c.rate_bps, Some(0));
        }
    }
}

const WORDS: &[&str] = &[
    "node",
    "switch",
    "link",
    "route",
    "via",
    "dev",
    "default",
    "forward",
    "sysctl",
    "--",
    ";",
    "\n",
    "#",
    " ",
    "  ",
    "\t",
    "a",
    "b",
    "s",
    "r",
    "h1",
    "eth0",
    "eth1",
    "br0",
    ":",
    "/",
    "=",
    "mtu=1400",
    "mtu=",
    "delay=50ms",
    "delay=",
    "jitter=1.5ms",
    "loss=20%",
    "loss=100.00000001%",
    "rate=10mbit",
    "rate=0bit",
    "seed=18446744073709551616",
    "µs",
    "%",
    ".",
    "-",
    "203.0.113.1/24",
    "203.0.113.2/24",
    "203.0.113.1",
    "2001:db8::1/64",
    "2001:db8::2",
    "198.18.0.1/24",
    "198.18.0.0/15",
    "0.0.0.0/0",
    "::/0",
    "net.ipv4.ip_forward=1",
    "kernel.x=1",
    "net..=",
    "é",
    "\0",
    "..",
    "0",
    "99999999999999999999",
    "a:b",
    "a:",
    ":x",
    "x/y",
    "set",
    "hosts",
    "relay.example.test",
    "reorder=5%",
    "duplicate=",
    "corrupt=101%",
    "nat",
    "firewall",
    "in",
    "full-cone",
    "address-restricted",
    "port-restricted",
    "symmetric",
    "hairpin",
    "timeout=1s",
    "timeout=0s",
    "timeout=1.5s",
    "block-inbound",
    "drop",
    "reject",
    "allow",
    "tcp",
    "udp/53",
    "tcp/1-65535",
    "udp/0",
    "udp/70000",
    "tcp/5-1",
    "icmp/3",
    "icmp",
];

fn word_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..60).prop_map(|w| w.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn any_word_soup_parses_or_is_refused(text in word_soup()) {
        check(&text);
    }

    #[test]
    fn any_string_parses_or_is_refused(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn any_link_line_parses_or_is_refused(
        a in "[a-z]{1,3}(:[a-z0-9]{0,17})?",
        b in "[a-z]{1,3}(:[a-z0-9]{0,17})?",
        octet in 0u16..300,
        prefix in 0u8..40,
        option in "(mtu=[0-9]{0,7})?",
        condition in "((delay|jitter)=-?[0-9.]{0,25}(ns|us|µs|ms|s|min)?|(loss|reorder|duplicate|corrupt)=-?[0-9.]{0,12}%?|rate=[0-9.]{0,16}(bit|kbit|Mbit|gbit|kbps)?|seed=-?[0-9]{0,22})?",
    ) {
        check(&format!("{a} 203.0.113.{octet}/{prefix} -- {b} {option} {condition}"));
    }

    #[test]
    fn any_middlebox_line_parses_or_is_refused(
        iface in "(eth0|eth1|wan|symmetric|hairpin|in)?",
        kind in "(full-cone|address-restricted|port-restricted|symmetric|cone)?",
        extra in "(hairpin|timeout=[0-9.]{0,8}(ms|s|h)?)?",
        rules in prop::collection::vec("(block-inbound|drop|reject|allow|deny) (tcp|udp|icmp|sctp)(/[0-9]{0,6}(-[0-9]{0,6})?)?", 0..4),
    ) {
        let base = "a 203.0.113.1/24 -- r 203.0.113.2/24\nr:wan 198.51.100.1/24 -- b 198.51.100.2/24\n";
        check(&format!("{base}nat r {iface} {kind} {extra}"));
        check(&format!("{base}firewall r {}", rules.join(" ")));
        check(&format!("{base}firewall r in {iface} {}", rules.join(" ")));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    #[test]
    fn any_change_applies_or_is_refused(text in word_soup(), removed in 0usize..4) {
        let base = parse(
            "switch s\nnode r forward\nh1 -- s\nh2 -- s\ns -- r\n\
             r:wan 203.0.113.1/24 -- srv 203.0.113.10/24\nroute h1 default via 198.18.0.3\n\
             nat r wan\nfirewall srv allow tcp/80\nhosts relay.test 198.51.100.7",
        )
        .unwrap();
        let base = if removed < base.links().len() { base.without_link(removed) } else { base };
        check_change(&base, &text);
    }
}

#[test]
fn the_corpus_parses_or_is_refused() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        check(&String::from_utf8_lossy(&bytes));
        seen += 1;
    }
    assert!(seen >= 20, "the corpus is there");
}

#[test]
fn hostile_sizes_are_refused_quickly() {
    let ten_mb = "a -- b\n".repeat(10 * 1024 * 1024 / 7);
    let e = parse(&ten_mb).unwrap_err();
    assert!(e.message.contains("the limit is 1048576"), "{e}");
    let many: String = (0..100_000).map(|i| format!("node n{i}\n")).collect();
    assert!(parse(&many).is_err());
    let just_over: String = (0..=MAX_NODES).map(|i| format!("node n{i}\n")).collect();
    let e = parse(&just_over).unwrap_err();
    assert_eq!(
        (e.line, e.token.as_str()),
        (MAX_NODES + 1, format!("n{MAX_NODES}").as_str())
    );
    assert!(e.message.contains("at most 4096 nodes"), "{e}");
}

//! The build plan's tests: the order of steps, the indexes, what is awaited.

use super::*;

#[test]
fn pair_creates_from_the_left_and_addresses_both_ends() {
    let t = netns_test_topology::parse("a -- b").unwrap();
    let p = plan(&t, 0);
    assert_eq!(
        p.create[0],
        [
            Step::LoopbackUp,
            Step::Veth {
                iface: 0,
                peer_node: 1,
                peer_iface: 0,
                mtu: None,
                bridge: None
            },
            Step::OwnLinkLocal { iface: 0 },
        ]
    );
    assert_eq!(p.create[1], [Step::LoopbackUp]);
    assert_eq!(
        p.configure[1],
        [
            Step::OwnLinkLocal { iface: 0 },
            Step::PeerUp {
                iface: 0,
                bridge: None
            },
            Step::Address {
                iface: 0,
                cidr: link_local::address(101),
            },
            Step::Address {
                iface: 0,
                cidr: "198.18.0.2/24".parse().unwrap()
            }
        ]
    );
    assert_eq!(p.wait_ipv6[1], [link_local::address(101).addr]);
    assert_eq!(p.wait_up, [vec![0], vec![0]]);
    assert_eq!(
        p.ifindex,
        [vec![100], vec![101]],
        "the two ends of a pair never share an index"
    );
}

#[test]
fn switch_side_creates_ports_and_a_switch_to_switch_link_joins_both_bridges() {
    let t = netns_test_topology::parse("switch s\nswitch t\nh -- s\ns -- t").unwrap();
    let p = plan(&t, 0);
    // nodes: s, t, h
    assert_eq!(p.create[0][1], Step::Bridge { iface: 0 });
    assert_eq!(
        p.create[0][2],
        Step::Veth {
            iface: 1,
            peer_node: 2,
            peer_iface: 0,
            mtu: None,
            bridge: Some(0)
        }
    );
    assert_eq!(
        p.configure[1],
        [Step::PeerUp {
            iface: 1,
            bridge: Some(0)
        }]
    );
    assert_eq!(
        p.wait_up[0],
        [2],
        "the link to the other switch is awaited, the host's port with the host's end \
         (see segment::awaited_by_peer); bridges are opened last"
    );
    assert_eq!(p.wait_up[2], [0]);
    assert_eq!(p.finish[0], [Step::BridgeUp { iface: 0 }]);
    assert_eq!(p.ifindex[0], [100, 101, 102]);
    assert_eq!(p.ifindex[1], [103, 104]);
}

#[test]
fn a_conditioned_link_pairs_each_end_with_a_relay_port() {
    let t =
        netns_test_topology::parse("a -- b\nb -- c loss=1%\nswitch s\nc -- s delay=1ms").unwrap();
    assert_eq!(relay_ports(&t), 4);
    let p = plan(&t, 1 << 20);
    // nodes a, b, c, s; the relay namespace is index 4.
    let relayed: Vec<usize> = p.relayed.iter().map(|r| r.0).collect();
    assert_eq!(relayed, [1, 2]);
    assert_eq!(p.relay(), Some(4));
    assert_eq!(p.create.len(), 5);
    assert_eq!(
        p.create[4][0],
        Step::RelayPort {
            port: 0,
            link: 1,
            side: 0,
            mtu: None,
            per_packet: true
        }
    );
    assert!(matches!(
        p.create[4][3],
        Step::RelayPort {
            port: 3,
            link: 2,
            side: 1,
            per_packet: false,
            ..
        }
    ));
    assert_eq!(
        p.create[1],
        [Step::LoopbackUp],
        "b creates no veth toward c"
    );
    assert!(p.configure[3].contains(&Step::PeerUp {
        iface: 1,
        bridge: Some(0)
    }));
    let all: Vec<u32> = p.ifindex.iter().flatten().copied().collect();
    let unique: std::collections::HashSet<u32> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        unique.len(),
        "indexes stay unique, relay ports included"
    );
    assert_eq!(
        p.ifindex[4],
        [1 << 20, (1 << 20) + 1, (1 << 20) + 2, (1 << 20) + 3]
    );
    assert_eq!(
        plan(&netns_test_topology::parse("a -- b").unwrap(), 0).relay(),
        None
    );
}

/// The builder configures a node once its creation steps have made all its interfaces, so
/// each interface must be made by exactly one of them, and each step must name the other
/// namespace it needs.
#[test]
fn every_interface_is_made_by_exactly_one_creation_step() {
    for text in [
        "a -- b",
        "switch s\nswitch t\nh -- s\ns -- t\ni -- t",
        "a -- r\nr -- b\nr -- c delay=1ms\nswitch s\nd -- s loss=1%",
        "switch s\nswitch t\ns -- t delay=5ms",
    ] {
        let t = netns_test_topology::parse(text).unwrap();
        let p = plan(&t, 0);
        let mut made: Vec<usize> = vec![0; t.nodes().len()];
        for (i, steps) in p.create.iter().enumerate() {
            for step in steps {
                for node in step.interfaces_made(i, &t).into_iter().flatten() {
                    made[node] += 1;
                }
                if let Step::Veth { peer_node, .. } = step {
                    assert_eq!(step.peer_node(&t), Some(*peer_node));
                }
            }
        }
        let interfaces: Vec<usize> = t.nodes().iter().map(|n| n.interfaces.len()).collect();
        assert_eq!(made, interfaces, "{text}");
    }
}

#[test]
fn routes_follow_addresses_and_ipv6_addresses_are_awaited() {
    let t = netns_test_topology::parse(
        "a 2001:db8::1/64 -- b 2001:db8::2/64\nroute a 2001:db8:1::/48 via 2001:db8::2",
    )
    .unwrap();
    let p = plan(&t, 0);
    assert!(matches!(
        p.configure[0][..],
        [
            Step::Address { .. },
            Step::Address { .. },
            Step::Route { .. }
        ]
    ));
    assert!(matches!(
        p.configure[1][..2],
        [Step::OwnLinkLocal { .. }, Step::PeerUp { .. }]
    ));
    assert_eq!(
        p.wait_ipv6[0],
        [
            link_local::address(100).addr,
            "2001:db8::1".parse::<IpAddr>().unwrap()
        ]
    );
}

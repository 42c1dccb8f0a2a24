//! A big switch's quiet: its bridges drop the IPv6 listener reports and (when no router is on
//! the switch) router solicitations its hosts send, instead of flooding them to every port.
//!
//! Every IPv6 host reports its solicited-node groups when an address comes up (two MLDv2
//! reports each, to ff02::16) and solicits routers (to ff02::2); a bridge without a querier
//! floods both to every port. On a switch of thousands of hosts that is millions of frames in
//! its first seconds: measured on a 2,000-host switch, delivering them took a third of the
//! build's CPU, and the kernel dropped some, user frames among them, in the shared receive
//! backlog. No host on a switch listens for reports (no querier runs on it), and a solicitation
//! only matters to a router.

use netlink_packet_netfilter::nftables::{MetaKey, Operator};

use super::expr::{Base, cmp, counter, meta, payload, verdict};
use super::{Family, HookPoint, Request, chain, rule, table};

/// The table holding a switch's quiet.
const QUIET_TABLE: &str = "netns_test_quiet";

/// ICMPv6 types dropped: MLDv1 report and done, MLDv2 report.
const LISTENER_MESSAGES: [u8; 3] = [131, 132, 143];

/// ICMPv6 router solicitation.
const ROUTER_SOLICITATION: u8 = 133;

/// The rule set, in the switch's namespace: a bridge-family table whose prerouting chain drops,
/// before any bridge floods them, listener messages, and router solicitations unless
/// `keep_solicitations` (a router is on the switch).
pub(crate) fn quiet(keep_solicitations: bool) -> Vec<Request> {
    let family = Family::Bridge;
    let mut requests = vec![
        table(family, QUIET_TABLE),
        chain(
            family,
            QUIET_TABLE,
            "flood",
            "filter",
            HookPoint::Prerouting,
            0,
        ),
    ];
    let mut types = LISTENER_MESSAGES.to_vec();
    if !keep_solicitations {
        types.push(ROUTER_SOLICITATION);
    }
    for kind in types {
        let exprs = vec![
            meta(MetaKey::L4Proto, 0),
            cmp(0, Operator::Equal, vec![58]),
            payload(Base::Transport, 0, 1, 1),
            cmp(1, Operator::Equal, vec![kind]),
            counter(),
            verdict(false),
        ];
        requests.push(rule(family, QUIET_TABLE, "flood", exprs, ""));
    }
    requests
}

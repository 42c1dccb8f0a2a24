//! nf_tables requests: a node's NAT and firewall as tables, chains, sets and rules, sent as one
//! batch. `expr` builds the expressions; `nat`, `firewall` and a big switch's `quiet` the rule
//! sets.

pub(crate) mod expr;
mod firewall;
mod nat;
mod quiet;

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, Hook, HookNumber, InetHookNumber, NfTablesMessage, RuleAttribute,
    RuleMessage, SetAttribute, SetElementList, SetElementMessage, SetFlags, SetMessage,
    TableAttribute, TableMessage,
};
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

pub(crate) use expr::Expr;
pub(crate) use firewall::{FILTER_TABLE, firewall};
pub(crate) use nat::{NAT_TABLE, UNSOLICITED, nat, nat_sets};
pub(crate) use quiet::quiet;

/// One message of an nf_tables batch, with the netlink flags it is sent with.
pub(crate) struct Request {
    /// The message.
    pub message: NetfilterMessage,
    /// `NLM_F_CREATE`, `NLM_F_APPEND`, ...
    pub flags: u16,
    /// What it does, for an error: `adding a rule to chain srcnat of table netns_test_nat`.
    pub what: String,
    /// The kernel features it needs, for an error's hint.
    pub needs: Vec<&'static str>,
}

/// A table family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// IPv4 only.
    Ip,
    /// IPv4 and IPv6.
    Inet,
    /// Frames crossing a bridge.
    Bridge,
}

impl Family {
    fn header(self) -> NetfilterHeader {
        let family = match self {
            Family::Ip => NetfilterProtoFamily::IPv4,
            Family::Inet => NetfilterProtoFamily::Inet,
            Family::Bridge => NetfilterProtoFamily::Bridge,
        };
        NetfilterHeader::new(family, 0, 0)
    }
}

fn request(family: Family, message: NfTablesMessage, flags: u16, what: String) -> Request {
    Request {
        message: NetfilterMessage::new(family.header(), message),
        flags,
        what,
        needs: vec!["nf_tables (CONFIG_NF_TABLES)"],
    }
}

/// A new table.
pub(crate) fn table(family: Family, name: &str) -> Request {
    request(
        family,
        NfTablesMessage::NewTable(TableMessage {
            attributes: vec![TableAttribute::Name(name.into())],
        }),
        NLM_F_CREATE,
        format!("creating table {name}"),
    )
}

/// The node's tables gone, whether it had them or not (each is made first if missing, so the
/// transaction holds either way): what comes before a rule set that replaces the node's.
pub(crate) fn clear() -> Vec<Request> {
    let mut out = Vec::new();
    for (family, name) in [(Family::Ip, NAT_TABLE), (Family::Inet, FILTER_TABLE)] {
        out.push(table(family, name));
        out.push(request(
            family,
            NfTablesMessage::DeleteTable(TableMessage {
                attributes: vec![TableAttribute::Name(name.into())],
            }),
            0,
            format!("removing table {name}"),
        ));
    }
    out
}

/// Where a base chain hooks in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HookPoint {
    Prerouting,
    Input,
    Forward,
    Postrouting,
}

/// A new base chain of `kind` (`filter` or `nat`) at `hook` with `priority`; its policy accepts.
pub(crate) fn chain(
    family: Family,
    table: &str,
    name: &str,
    kind: &str,
    hook: HookPoint,
    priority: i32,
) -> Request {
    let number = match hook {
        HookPoint::Prerouting => InetHookNumber::PreRouting,
        HookPoint::Input => InetHookNumber::LocalIn,
        HookPoint::Forward => InetHookNumber::Forward,
        HookPoint::Postrouting => InetHookNumber::PostRouting,
    };
    request(
        family,
        NfTablesMessage::NewChain(ChainMessage {
            attributes: vec![
                ChainAttribute::Table(table.into()),
                ChainAttribute::Name(name.into()),
                ChainAttribute::Hook(vec![
                    Hook::Number(HookNumber::Inet(number)),
                    Hook::Priority(priority as u32),
                ]),
                ChainAttribute::Policy(1), // NF_ACCEPT
                ChainAttribute::Type(kind.into()),
            ],
        }),
        NLM_F_CREATE,
        format!("creating chain {name} ({kind}) of table {table}"),
    )
}

/// A set the packet path fills (`dynamic`), whose elements expire `timeout_ms` after their last
/// update; with `data`, a map. Key and data are `(type, length)`.
pub(crate) fn set(
    family: Family,
    table: &str,
    name: &str,
    id: u32,
    key: (u32, u32),
    data: Option<(u32, u32)>,
    timeout_ms: u64,
) -> Request {
    let mut flags = SetFlags::Timeout | SetFlags::Eval;
    if data.is_some() {
        flags |= SetFlags::Map;
    }
    let mut attributes = vec![
        SetAttribute::Table(table.into()),
        SetAttribute::Name(name.into()),
        SetAttribute::Flags(flags),
        SetAttribute::KeyType(key.0),
        SetAttribute::KeyLen(key.1),
        SetAttribute::Id(id),
        SetAttribute::Timeout(timeout_ms),
    ];
    if let Some((kind, len)) = data {
        attributes.extend([SetAttribute::DataType(kind), SetAttribute::DataLen(len)]);
    }
    let mut request = request(
        family,
        NfTablesMessage::NewSet(SetMessage { attributes }),
        NLM_F_CREATE,
        format!("creating set {name} of table {table}"),
    );
    request
        .needs
        .push("sets with timeouts (CONFIG_NF_TABLES_SET)");
    request
}

/// Removes every element of a set.
pub(crate) fn flush_set(family: Family, table: &str, name: &str) -> Request {
    request(
        family,
        NfTablesMessage::DeleteSetElement(SetElementMessage {
            attributes: vec![
                SetElementList::Table(table.into()),
                SetElementList::Set(name.into()),
            ],
        }),
        0,
        format!("emptying set {name} of table {table}"),
    )
}

/// A rule appended to `chain`, tagged with `tag` (read back with its counter).
pub(crate) fn rule(
    family: Family,
    table: &str,
    chain: &str,
    exprs: Vec<Expr>,
    tag: &str,
) -> Request {
    let needs = expr::features(&exprs);
    let mut attributes = vec![
        RuleAttribute::Table(table.into()),
        RuleAttribute::Chain(chain.into()),
        RuleAttribute::Expressions(exprs),
    ];
    if !tag.is_empty() {
        attributes.push(RuleAttribute::UserData(tag.as_bytes().to_vec()));
    }
    let mut request = request(
        family,
        NfTablesMessage::NewRule(RuleMessage { attributes }),
        NLM_F_CREATE | NLM_F_APPEND,
        format!("adding a rule to chain {chain} of table {table}"),
    );
    request.needs.extend(needs);
    request
}

/// Asks for every rule of `table` (a dump), with their counters and tags.
pub(crate) fn get_rules(family: Family, table: &str) -> NetfilterMessage {
    NetfilterMessage::new(
        family.header(),
        NfTablesMessage::GetRule(RuleMessage {
            attributes: vec![RuleAttribute::Table(table.into())],
        }),
    )
}

/// The whole rule set of a node: its NAT's table and its firewall's, in one batch.
pub(crate) fn ruleset(node: &netns_test_topology::Node) -> Vec<Request> {
    let mut requests = Vec::new();
    if let Some(n) = &node.nat {
        requests.extend(nat(n, &node.interfaces[n.outside].name));
    }
    if !node.firewalls.is_empty() {
        requests.extend(firewall(node));
    }
    requests
}

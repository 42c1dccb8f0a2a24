//! nf_tables expressions as netlink attributes: the ones netlink-packet-netfilter types
//! (meta, payload, cmp, bitwise, immediate, lookup) through its types, the rest (ct, dynset, nat,
//! counter, reject) on its raw-attribute variant, each attribute as the kernel's
//! `include/uapi/linux/netfilter/nf_tables.h` defines it.

use netlink_packet_core::DefaultNla;
use netlink_packet_netfilter::nftables::{
    Bitwise, Cmp, DataAttribute, ExpressionAttribute, Expressions, Immediate, ListAttribute,
    Lookup, Meta, MetaKey, Operator, Payload, Register, Verdict, VerdictAttribute,
};

/// One expression of a rule.
pub(crate) type Expr = ListAttribute<ExpressionAttribute>;

/// A 32-bit register, `NFT_REG32_00 + n`: concatenations take consecutive ones.
pub(crate) fn reg(n: u32) -> Register {
    match n {
        0 => Register::Reg32_00,
        1 => Register::Reg32_01,
        2 => Register::Reg32_02,
        3 => Register::Reg32_03,
        4 => Register::Reg32_04,
        5 => Register::Reg32_05,
        6 => Register::Reg32_06,
        7 => Register::Reg32_07,
        _ => Register::Other(8 + n),
    }
}

fn raw_u32(n: u32) -> u32 {
    8 + n
}

fn be32(kind: u16, value: u32) -> DefaultNla {
    DefaultNla::new(kind, value.to_be_bytes().to_vec())
}

fn raw(name: &str, attributes: Vec<DefaultNla>) -> Expr {
    Expressions::Other {
        expression_type: name.to_string(),
        attributes,
    }
    .into()
}

/// `meta KEY` into register `dreg`.
pub(crate) fn meta(key: MetaKey, dreg: u32) -> Expr {
    Expressions::Meta(vec![Meta::Key(key), Meta::DestinationRegister(reg(dreg))]).into()
}

/// Where a payload load starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Base {
    /// The IP header.
    Network = 1,
    /// The TCP, UDP or ICMP header.
    Transport = 2,
}

/// `len` bytes of the packet at `offset` from `base` into register `dreg`.
pub(crate) fn payload(base: Base, offset: u32, len: u32, dreg: u32) -> Expr {
    Expressions::Payload(vec![
        Payload::DestinationRegister(reg(dreg)),
        Payload::Base(base as u32),
        Payload::Offset(offset),
        Payload::Len(len),
    ])
    .into()
}

/// Compares register `sreg` with `data`; the rule goes on only if it holds.
pub(crate) fn cmp(sreg: u32, op: Operator, data: Vec<u8>) -> Expr {
    Expressions::Cmp(vec![
        Cmp::SourceRegister(reg(sreg)),
        Cmp::Op(op),
        Cmp::Data(DataAttribute::Value(data)),
    ])
    .into()
}

/// `sreg & mask` into `dreg` (`len` bytes).
pub(crate) fn and(sreg: u32, dreg: u32, mask: Vec<u8>) -> Expr {
    let len = mask.len();
    Expressions::Bitwise(vec![
        Bitwise::SourceRegister(reg(sreg)),
        Bitwise::DestinationRegister(reg(dreg)),
        Bitwise::Length(len as u32),
        Bitwise::Mask(DataAttribute::Value(mask)),
        Bitwise::Xor(DataAttribute::Value(vec![0; len])),
    ])
    .into()
}

/// Loads `data` into register `dreg`.
pub(crate) fn immediate(dreg: u32, data: Vec<u8>) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(reg(dreg)),
        Immediate::Data(DataAttribute::Value(data)),
    ])
    .into()
}

/// The rule's verdict.
pub(crate) fn verdict(accept: bool) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(Register::Verdict),
        Immediate::Data(DataAttribute::Verdict(vec![VerdictAttribute::Code(
            Verdict::Other(u32::from(accept)),
        )])),
    ])
    .into()
}

/// Looks the key in registers from `sreg` up in `set`; with `dreg`, a map, loads its data there.
/// The rule goes on only if the key is there.
pub(crate) fn lookup(set: &str, sreg: u32, dreg: Option<u32>) -> Expr {
    let mut attributes = vec![
        Lookup::Set(set.to_string()),
        Lookup::SourceRegister(reg(sreg)),
    ];
    attributes.extend(dreg.map(|d| Lookup::DestinationRegister(reg(d))));
    Expressions::Lookup(attributes).into()
}

/// Connection tracking keys (`enum nft_ct_keys`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum CtKey {
    State = 0,
    Direction = 1,
    Status = 2,
    ProtoSrc = 11,
    ProtoDst = 12,
    SrcIp = 19,
    DstIp = 20,
}

/// Which direction of a connection a `ct` key reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dir {
    Original = 0,
    Reply = 1,
}

/// `ct [DIR] KEY` into register `dreg`.
pub(crate) fn ct(key: CtKey, dir: Option<Dir>, dreg: u32) -> Expr {
    const DREG: u16 = 1;
    const KEY: u16 = 2;
    const DIRECTION: u16 = 3;
    let mut attributes = vec![be32(DREG, raw_u32(dreg)), be32(KEY, key as u32)];
    attributes.extend(dir.map(|d| DefaultNla::new(DIRECTION, vec![d as u8])));
    raw("ct", attributes)
}

/// `ct state` bits (`NF_CT_STATE_BIT`).
pub(crate) const CT_ESTABLISHED: u32 = 1 << 1;
pub(crate) const CT_RELATED: u32 = 1 << 2;
pub(crate) const CT_NEW: u32 = 1 << 3;
/// `ct status` bit of a connection whose destination was translated (`IPS_DST_NAT`).
pub(crate) const CT_DNAT: u32 = 1 << 5;
/// `ct status` bit of a connection whose source was translated (`IPS_SRC_NAT`).
pub(crate) const CT_SNAT: u32 = 1 << 4;

/// The rule goes on only if `ct KEY` (a 32-bit bit field) has one of `bits`, in register `r`.
pub(crate) fn ct_bits(key: CtKey, bits: u32, r: u32) -> [Expr; 3] {
    [
        ct(key, None, r),
        and(r, r, bits.to_ne_bytes().to_vec()),
        cmp(r, Operator::NotEqual, vec![0; 4]),
    ]
}

/// Adds or refreshes, in `set`, the key in registers from `sreg_key` (with the data from
/// `sreg_data`, for a map); the element's timeout starts again.
pub(crate) fn update(set: &str, sreg_key: u32, sreg_data: Option<u32>) -> Expr {
    const SET_NAME: u16 = 1;
    const OP: u16 = 3;
    const SREG_KEY: u16 = 4;
    const SREG_DATA: u16 = 5;
    const OP_UPDATE: u32 = 1;
    let mut name = set.as_bytes().to_vec();
    name.push(0);
    let mut attributes = vec![
        DefaultNla::new(SET_NAME, name),
        be32(OP, OP_UPDATE),
        be32(SREG_KEY, raw_u32(sreg_key)),
    ];
    attributes.extend(sreg_data.map(|d| be32(SREG_DATA, raw_u32(d))));
    raw("dynset", attributes)
}

/// Which side a NAT expression rewrites.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NatSide {
    Source = 0,
    Destination = 1,
}

/// `snat`/`dnat` to the IPv4 address in register `addr`, with the port (or the port range
/// `port..=port_max`) from registers, and `NF_NAT_RANGE_*` `flags`.
pub(crate) fn nat(
    side: NatSide,
    addr: u32,
    port: Option<u32>,
    port_max: Option<u32>,
    flags: u32,
) -> Expr {
    const TYPE: u16 = 1;
    const FAMILY: u16 = 2;
    const REG_ADDR_MIN: u16 = 3;
    const REG_PROTO_MIN: u16 = 5;
    const REG_PROTO_MAX: u16 = 6;
    const FLAGS: u16 = 7;
    const NFPROTO_IPV4: u32 = 2;
    let mut attributes = vec![
        be32(TYPE, side as u32),
        be32(FAMILY, NFPROTO_IPV4),
        be32(REG_ADDR_MIN, raw_u32(addr)),
    ];
    attributes.extend(port.map(|p| be32(REG_PROTO_MIN, raw_u32(p))));
    attributes.extend(port_max.map(|p| be32(REG_PROTO_MAX, raw_u32(p))));
    if flags != 0 {
        attributes.push(be32(FLAGS, flags));
    }
    raw("nat", attributes)
}

/// `NF_NAT_RANGE_PROTO_RANDOM_FULLY`: every new mapping takes a random port.
pub(crate) const NAT_FULLY_RANDOM: u32 = 1 << 4;

/// `counter`: counts the packets (and bytes) that reach it.
pub(crate) fn counter() -> Expr {
    const BYTES: u16 = 1;
    const PACKETS: u16 = 2;
    raw(
        "counter",
        vec![
            DefaultNla::new(BYTES, 0u64.to_be_bytes().to_vec()),
            DefaultNla::new(PACKETS, 0u64.to_be_bytes().to_vec()),
        ],
    )
}

/// `reject`: a TCP reset, or an ICMP (ICMPv6) port unreachable.
pub(crate) fn reject(tcp_reset: bool) -> Expr {
    const TYPE: u16 = 1;
    const ICMP_CODE: u16 = 2;
    const TCP_RST: u32 = 1;
    const ICMPX_UNREACH: u32 = 2;
    const ICMPX_PORT_UNREACH: u8 = 1;
    if tcp_reset {
        raw("reject", vec![be32(TYPE, TCP_RST)])
    } else {
        raw(
            "reject",
            vec![
                be32(TYPE, ICMPX_UNREACH),
                DefaultNla::new(ICMP_CODE, vec![ICMPX_PORT_UNREACH]),
            ],
        )
    }
}

/// An interface name as `iifname`/`oifname` compare it: the name, NUL-padded to IFNAMSIZ.
pub(crate) fn ifname(name: &str) -> Vec<u8> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.resize(16, 0);
    bytes
}

/// The rule goes on only if the packet entered (`input`) or leaves by interface `name`, or
/// (`equal` false) by any other.
pub(crate) fn interface(input: bool, name: &str, equal: bool, r: u32) -> [Expr; 2] {
    let key = if input {
        MetaKey::Iifname
    } else {
        MetaKey::Oifname
    };
    let op = if equal {
        Operator::Equal
    } else {
        Operator::NotEqual
    };
    [meta(key, r), cmp(r, op, ifname(name))]
}

/// The kernel features the expressions of a rule need, as the kernel's configuration names them.
pub(crate) fn features(exprs: &[Expr]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for e in exprs {
        let ListAttribute::Element(attributes) = e else {
            continue;
        };
        for a in attributes {
            let ExpressionAttribute::Name(name) = a else {
                continue;
            };
            let feature = match name.as_str() {
                "nat" => "NAT (CONFIG_NFT_NAT, CONFIG_NF_NAT)",
                "ct" => "connection tracking (CONFIG_NFT_CT, CONFIG_NF_CONNTRACK)",
                "dynset" | "lookup" => "sets (CONFIG_NF_TABLES_SET)",
                "reject" => "reject (CONFIG_NFT_REJECT, CONFIG_NFT_REJECT_INET)",
                _ => continue,
            };
            if !out.contains(&feature) {
                out.push(feature);
            }
        }
    }
    out
}

/// The packets a rule's `counter` has counted, read back from a rule dump.
pub(crate) fn counted(exprs: &[Expr]) -> Option<u64> {
    const PACKETS: u16 = 2;
    for e in exprs {
        let ListAttribute::Element(attributes) = e else {
            continue;
        };
        let is_counter = attributes
            .iter()
            .any(|a| matches!(a, ExpressionAttribute::Name(n) if n == "counter"));
        if !is_counter {
            continue;
        }
        for a in attributes {
            if let ExpressionAttribute::Data(Expressions::Other { attributes, .. }) = a {
                for nla in attributes {
                    let value = nla_value(nla);
                    if nla_kind(nla) == PACKETS && value.len() == 8 {
                        return Some(u64::from_be_bytes(value.try_into().ok()?));
                    }
                }
            }
        }
    }
    None
}

fn nla_kind(nla: &DefaultNla) -> u16 {
    netlink_packet_core::Nla::kind(nla) & 0x3fff
}

fn nla_value(nla: &DefaultNla) -> Vec<u8> {
    let len = netlink_packet_core::Nla::value_len(nla);
    let mut value = vec![0; len];
    netlink_packet_core::Nla::emit_value(nla, &mut value);
    value
}

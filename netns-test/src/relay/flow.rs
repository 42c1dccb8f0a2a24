//! Naming the flow a frame belongs to so that the name replays: nothing the kernel picks at random
//! (a client's ephemeral port, an ICMP identifier, a MAC) is part of it.
//!
//! A flow is named by its protocol, its client's and server's addresses, the server's port and
//! its order among the flows from that client to that port. The server's port is the destination
//! port of the flow's first frame (whoever speaks first is the client). Both directions of a flow
//! get the same name; each direction draws its fates separately.

use std::collections::HashMap;

/// Flows remembered per link before the table starts over (a link that saw this many flows is
/// not replaying anything subtle).
const MAX_FLOWS: usize = 1 << 16;

/// What identifies a frame's flow as it travels: both endpoints, in either direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Endpoints {
    /// EtherType, and for IP the protocol.
    kind: (u16, u8),
    /// The two endpoints, in sorted order: address bytes and port (0 without ports).
    low: Endpoint,
    high: Endpoint,
}

/// One endpoint: its address bytes and its port (0 without ports).
type Endpoint = (Vec<u8>, u16);

/// A flow's client and server, and the server's port: what its order is counted by.
type Pair = (u16, u8, Vec<u8>, Vec<u8>, u16);

/// A frame's endpoints as it travels: EtherType, IP protocol, source, destination.
fn endpoints(frame: &[u8]) -> (u16, u8, Endpoint, Endpoint) {
    let at = |range: std::ops::Range<usize>| frame.get(range).unwrap_or(&[]).to_vec();
    let byte = |i: usize| frame.get(i).copied().unwrap_or(0);
    let port = |i: usize| u16::from_be_bytes([byte(i), byte(i + 1)]);
    let ethertype = u16::from_be_bytes([byte(12), byte(13)]);
    let has_ports = |proto: u8| matches!(proto, 6 | 17 | 132 | 136);
    match ethertype {
        0x0800 => {
            let ip = 14;
            let ihl = usize::from(frame.get(ip).copied().unwrap_or(0x45) & 0x0f) * 4;
            let proto = byte(ip + 9);
            let later_fragment = byte(ip + 6) & 0x1f != 0 || byte(ip + 7) != 0;
            let (sport, dport) = if has_ports(proto) && !later_fragment {
                (port(ip + ihl), port(ip + ihl + 2))
            } else {
                (0, 0)
            };
            let (src, dst) = (at(ip + 12..ip + 16), at(ip + 16..ip + 20));
            (ethertype, proto, (src, sport), (dst, dport))
        }
        0x86dd => {
            let ip = 14;
            let next = byte(ip + 6);
            let (sport, dport) = if has_ports(next) {
                (port(ip + 40), port(ip + 42))
            } else {
                (0, 0)
            };
            (
                ethertype,
                next,
                (at(ip + 8..ip + 24), sport),
                (at(ip + 24..ip + 40), dport),
            )
        }
        // ARP: the sender's and target's protocol addresses.
        0x0806 => (ethertype, 0, (at(28..32), 0), (at(38..42), 0)),
        _ => (ethertype, 0, (Vec::new(), 0), (at(0..6), 0)),
    }
}

/// The flows one link has seen, by their endpoints, with their names.
#[derive(Default)]
pub(crate) struct Flows {
    names: HashMap<Endpoints, u64>,
    /// How many flows each (kind, client, server, server port) has had.
    order: HashMap<Pair, u64>,
}

impl Flows {
    /// The name of the flow `frame` (an Ethernet frame) belongs to.
    pub fn name(&mut self, frame: &[u8]) -> u64 {
        let (ethertype, proto, src, dst) = endpoints(frame);
        let (low, high) = if src <= dst {
            (src.clone(), dst.clone())
        } else {
            (dst.clone(), src.clone())
        };
        let key = Endpoints {
            kind: (ethertype, proto),
            low,
            high,
        };
        if let Some(&name) = self.names.get(&key) {
            return name;
        }
        if self.names.len() >= MAX_FLOWS {
            self.names.clear();
            self.order.clear();
        }
        // First frame: the source is the client, the destination port the server's.
        let (client, server) = (src.0, dst.0);
        let counter = self
            .order
            .entry((ethertype, proto, client.clone(), server.clone(), dst.1))
            .or_insert(0);
        let order = *counter;
        *counter += 1;
        let mut h = super::fate::FNV_OFFSET;
        for part in [
            &ethertype.to_be_bytes()[..],
            &[proto],
            &client,
            &server,
            &dst.1.to_be_bytes(),
            &order.to_be_bytes(),
        ] {
            h = super::fate::fnv(h, part);
        }
        self.names.insert(key, h);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8 + 1];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[14 + 9] = 17;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    const C: [u8; 4] = [203, 0, 113, 1];
    const S: [u8; 4] = [203, 0, 113, 2];

    #[test]
    fn a_client_on_another_ephemeral_port_is_the_same_flow_in_every_run() {
        // Two runs: the kernel picked 40001 then 40002 for the first connection, 51234 then
        // 39999 for the second.
        let run = |ports: [u16; 2]| {
            let mut flows = Flows::default();
            ports
                .iter()
                .flat_map(|&p| {
                    [
                        flows.name(&udp4(C, p, S, 53)),
                        flows.name(&udp4(S, 53, C, p)), // the reply: the same flow
                    ]
                })
                .collect::<Vec<_>>()
        };
        let first = run([40001, 51234]);
        assert_eq!(first, run([40002, 39999]));
        assert_eq!(first[0], first[1], "both directions");
        assert_ne!(first[0], first[2], "the second flow to port 53 is another");
    }

    #[test]
    fn the_server_port_and_the_addresses_are_part_of_the_name() {
        let mut flows = Flows::default();
        let to_53 = flows.name(&udp4(C, 40000, S, 53));
        let to_54 = flows.name(&udp4(C, 40001, S, 54));
        let mut other = Flows::default();
        let reversed = other.name(&udp4(S, 40000, C, 53));
        assert_ne!(to_53, to_54);
        assert_ne!(to_53, reversed, "who speaks first is the client");
        assert_eq!(
            Flows::default().name(&[]),
            Flows::default().name(&[0; 3]),
            "short frames"
        );
    }
}

//! ICMP echo over raw sockets (root, or root of the user namespace, has CAP_NET_RAW in the
//! node's namespace). Waits on the socket with `poll`, never sleeps.

use std::io;
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn, SockaddrIn6,
    SockaddrStorage, recvfrom, sendto, socket,
};

const PAYLOAD: &[u8] = b"netns-test pingall";

/// Sends one echo request to `to` from the calling thread's namespace and waits up to `timeout`
/// for the matching reply; returns the round-trip time.
pub fn ping(to: IpAddr, id: u16, timeout: Duration) -> io::Result<Duration> {
    // Never a packet from the host's namespace.
    let here = netns_test::current_netns_inode();
    if here == 0 || here == netns_test::host_inode() {
        return Err(io::Error::other(
            "refusing to ping from the host's network namespace",
        ));
    }
    let (family, protocol, request, reply) = match to {
        IpAddr::V4(_) => (AddressFamily::Inet, SockProtocol::Icmp, 8u8, 0u8),
        IpAddr::V6(_) => (AddressFamily::Inet6, SockProtocol::IcmpV6, 128u8, 129u8),
    };
    let fd = socket(family, SockType::Raw, SockFlag::SOCK_CLOEXEC, protocol)?;
    let seq = 1u16;
    let mut packet = vec![request, 0, 0, 0];
    packet.extend(id.to_be_bytes());
    packet.extend(seq.to_be_bytes());
    packet.extend(PAYLOAD);
    if to.is_ipv4() {
        // The kernel fills in the ICMPv6 checksum, not the ICMPv4 one.
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    let started = Instant::now();
    match to {
        IpAddr::V4(a) => sendto(
            fd.as_raw_fd(),
            &packet,
            &SockaddrIn::from(SocketAddrV4::new(a, 0)),
            MsgFlags::empty(),
        )?,
        IpAddr::V6(a) => sendto(
            fd.as_raw_fd(),
            &packet,
            &SockaddrIn6::from(SocketAddrV6::new(a, 0, 0, 0)),
            MsgFlags::empty(),
        )?,
    };
    let mut buf = [0u8; 1500];
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let ready = poll(
            &mut fds,
            PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
        )?;
        if ready == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no reply from {to}"),
            ));
        }
        let (n, from) = recvfrom::<SockaddrStorage>(fd.as_raw_fd(), &mut buf)?;
        let from_ip = from.and_then(|f| {
            f.as_sockaddr_in()
                .map(|a| IpAddr::V4(a.ip()))
                .or_else(|| f.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
        });
        // An IPv4 raw socket hands over the IP header too.
        let icmp = if to.is_ipv4() {
            &buf[((buf[0] & 0x0f) as usize * 4).min(n)..n]
        } else {
            &buf[..n]
        };
        if from_ip == Some(to)
            && icmp.len() >= 8
            && icmp[0] == reply
            && icmp[4..6] == id.to_be_bytes()
            && icmp[6..8] == seq.to_be_bytes()
        {
            return Ok(started.elapsed());
        }
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

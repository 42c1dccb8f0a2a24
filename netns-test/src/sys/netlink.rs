//! A minimal synchronous rtnetlink client: one socket per namespace, requests batched into one
//! `sendmsg`, every acknowledgement matched to the operation that asked for it.
//!
//! The kernel processes a batch in the sender's context, in order, before `sendmsg` returns, so
//! the acknowledgements are waiting when we read them: no round trip per request, no timer.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;
use nix::sys::socket::{
    self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, setsockopt,
    sockopt,
};

use super::raw;
use crate::error::Error;

/// How long a reply or an awaited event may take before it is an error.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The receive buffer asked for (the kernel doubles it for bookkeeping).
const RECEIVE_BUFFER: usize = 1 << 20;

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_ADD_MEMBERSHIP: libc::c_int = 1;
const NETLINK_DROP_MEMBERSHIP: libc::c_int = 2;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLM_F_DUMP_INTR: u16 = 0x10;

/// How a request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Create something that must not exist yet.
    Create,
    /// Change something that exists.
    Change,
    /// Create something, or replace what is there under the same key (a route).
    Replace,
}

/// A kernel refusal of one request: the errno and the kernel's own explanation, if it gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub errno: Errno,
    pub detail: Option<String>,
}

/// A rtnetlink socket bound to the network namespace it was created in.
pub(crate) struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
    /// Dumps the kernel marked as interrupted by a concurrent change, and which were redone.
    interrupted: u32,
}

impl Socket {
    /// Opens a socket in the calling thread's current network namespace.
    pub fn open() -> io::Result<Socket> {
        let fd = open_netlink(SockProtocol::NetlinkRoute)?;
        Ok(Socket {
            fd,
            seq: 0,
            buf: vec![0; 64 * 1024],
            interrupted: 0,
        })
    }

    /// Unsubscribes from a multicast group and discards whatever is queued, lost-event errors
    /// included, so the socket can carry requests again.
    pub fn leave(&mut self, group: u32) -> io::Result<()> {
        raw::set_int_option(
            self.fd.as_fd(),
            SOL_NETLINK,
            NETLINK_DROP_MEMBERSHIP,
            group as libc::c_int,
        )?;
        loop {
            match socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::MSG_DONTWAIT) {
                Ok(_) | Err(Errno::ENOBUFS) | Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Shrinks (or grows) the receive buffer, within the system's limits; tests use it to make
    /// the kernel overrun it.
    #[cfg(test)]
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<()> {
        Ok(setsockopt(&self.fd, sockopt::RcvBuf, &bytes)?)
    }

    /// Subscribes to a multicast group (`RTNLGRP_*`).
    pub fn join(&self, group: u32) -> io::Result<()> {
        raw::set_int_option(
            self.fd.as_fd(),
            SOL_NETLINK,
            NETLINK_ADD_MEMBERSHIP,
            group as libc::c_int,
        )
    }

    /// Sends one request; a failure is an [`Error`] naming `operation`.
    pub fn execute_one(
        &mut self,
        request: (Kind, RouteNetlinkMessage),
        operation: &str,
    ) -> Result<(), Error> {
        let results = self
            .execute(vec![request], &mut |_| {})
            .map_err(|e| Error::io(operation, e))?;
        match results.into_iter().next() {
            Some(Err(r)) => Err(Error::kernel(operation, r.errno, r.detail)),
            _ => Ok(()),
        }
    }

    /// Sends the requests in batches and returns, for each, `Ok` or the kernel's refusal.
    /// Multicast notifications that arrive meanwhile are handed to `notify`.
    pub fn execute(
        &mut self,
        requests: Vec<(Kind, RouteNetlinkMessage)>,
        notify: &mut dyn FnMut(&RouteNetlinkMessage),
    ) -> io::Result<Vec<Result<(), Refusal>>> {
        let mut results = Vec::with_capacity(requests.len());
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            // Acknowledgements (and notifications) must fit the receive buffer between two sends.
            let chunk: Vec<_> = requests.by_ref().take(32).collect();
            let first = self.seq.wrapping_add(1);
            let mut out = Vec::new();
            let count = chunk.len();
            for (kind, message) in chunk {
                let flags = match kind {
                    Kind::Create => NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                    Kind::Change => NLM_F_REQUEST | NLM_F_ACK,
                    Kind::Replace => NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
                };
                self.seq = self.seq.wrapping_add(1);
                serialize(&mut out, message, flags, self.seq);
            }
            socket::send(self.fd.as_raw_fd(), &out, MsgFlags::empty())?;
            let mut pending: Vec<Option<Result<(), Refusal>>> = vec![None; count];
            let mut left = count;
            while left > 0 {
                self.receive(&mut |header, payload| {
                    let index = header.sequence_number.wrapping_sub(first) as usize;
                    match payload {
                        Payload::Ack(result)
                            if index < pending.len() && pending[index].is_none() =>
                        {
                            pending[index] = Some(result);
                            left -= 1;
                        }
                        Payload::Message(m) => notify(&m),
                        _ => {}
                    }
                    Ok(())
                })?;
            }
            results.extend(
                pending
                    .into_iter()
                    .map(|r| r.expect("every request answered")),
            );
        }
        Ok(results)
    }

    /// Dumps a table (`GetLink`, `GetAddress`, `GetRoute`). Retries a dump the kernel marks as
    /// interrupted by a concurrent change, a bounded number of times.
    /// Notifications that arrive meanwhile are handed to `notify`.
    pub fn dump(
        &mut self,
        request: RouteNetlinkMessage,
        notify: &mut dyn FnMut(&RouteNetlinkMessage),
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..16 {
            self.seq = self.seq.wrapping_add(1);
            let seq = self.seq;
            let mut out = Vec::new();
            serialize(&mut out, request.clone(), NLM_F_REQUEST | NLM_F_DUMP, seq);
            socket::send(self.fd.as_raw_fd(), &out, MsgFlags::empty())?;
            let mut messages = Vec::new();
            let mut done = false;
            let mut interrupted = false;
            let mut overrun = false;
            let mut failure = None;
            while !done {
                let received = self.receive(&mut |header, payload| {
                    if header.sequence_number != seq {
                        if let Payload::Message(m) = payload {
                            notify(&m);
                        }
                        return Ok(());
                    }
                    interrupted |= header.flags & NLM_F_DUMP_INTR != 0;
                    match payload {
                        Payload::Done => done = true,
                        Payload::Ack(Err(refusal)) => {
                            failure = Some(io::Error::from(refusal.errno));
                            done = true;
                        }
                        Payload::Ack(Ok(())) => done = true,
                        Payload::Message(m) => messages.push(m),
                    }
                    Ok(())
                });
                match received {
                    // Notifications were lost; the dump itself is flow-controlled and goes on.
                    // Read it to its end (a new dump cannot start before), then say so.
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => overrun = true,
                    other => other?,
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
            if overrun {
                return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
            }
            if !interrupted {
                return Ok(messages);
            }
            self.interrupted += 1;
        }
        Err(io::Error::other(
            "netlink dump kept being interrupted by concurrent changes (tried 16 times)",
        ))
    }

    /// How many dumps were interrupted by a concurrent change and redone.
    #[cfg(test)]
    pub fn interrupted_dumps(&self) -> u32 {
        self.interrupted
    }

    /// Waits for the next datagram and hands each message in it to `each`.
    pub fn receive(
        &mut self,
        each: &mut dyn FnMut(&NetlinkHeader, Payload) -> io::Result<()>,
    ) -> io::Result<()> {
        let n = loop {
            match socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()) {
                Ok(n) => break n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the kernel did not answer a netlink request within 10 s",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        };
        for (header, raw) in frames(&self.buf[..n]) {
            let payload = match header.message_type {
                NLMSG_ERROR => Payload::Ack(parse_ack(&header, &raw[16..])),
                NLMSG_DONE => Payload::Done,
                _ => match NetlinkMessage::<RouteNetlinkMessage>::deserialize(raw) {
                    Ok(NetlinkMessage {
                        payload: NetlinkPayload::InnerMessage(m),
                        ..
                    }) => Payload::Message(m),
                    // A message this crate version cannot decode is not ours to act on.
                    _ => continue,
                },
            };
            each(&header, payload)?;
        }
        Ok(())
    }
}

/// A netlink socket of `protocol` in the calling thread's namespace, bound, asking for extended
/// acknowledgements, with a large receive buffer and a reply timeout.
pub(super) fn open_netlink(protocol: SockProtocol) -> io::Result<OwnedFd> {
    let fd = socket::socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        protocol,
    )?;
    socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
    for opt in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
        // Best effort: older kernels lack extended acks, and we only lose the detail string.
        let _ = raw::set_int_option(fd.as_fd(), SOL_NETLINK, opt, 1);
    }
    // Room for a burst of link events (a switch with hundreds of ports) or a big batch's
    // acknowledgements: forced past the system limit where we may (root), else as much as the
    // system allows.
    if setsockopt(&fd, sockopt::RcvBufForce, &RECEIVE_BUFFER).is_err() {
        let _ = setsockopt(&fd, sockopt::RcvBuf, &RECEIVE_BUFFER);
    }
    // A reply never waits longer than this: a kernel that stops answering is an error, not a hang.
    setsockopt(
        &fd,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(REPLY_TIMEOUT.as_secs() as _, 0),
    )?;
    Ok(fd)
}

/// The netlink messages of one datagram, each with its header.
pub(super) fn frames(buf: &[u8]) -> impl Iterator<Item = (NetlinkHeader, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at + 16 > buf.len() {
            return None;
        }
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
        if len < 16 || at + len > buf.len() {
            return None;
        }
        let raw = &buf[at..at + len];
        let mut header = NetlinkHeader::default();
        header.length = len as u32;
        header.message_type = u16::from_ne_bytes([raw[4], raw[5]]);
        header.flags = u16::from_ne_bytes([raw[6], raw[7]]);
        header.sequence_number = u32::from_ne_bytes(raw[8..12].try_into().unwrap());
        at += (len + 3) & !3;
        Some((header, raw))
    })
}

/// One decoded message.
pub(crate) enum Payload {
    Ack(Result<(), Refusal>),
    Done,
    Message(RouteNetlinkMessage),
}

/// Appends `message` to `out` as one netlink message with `flags` and `seq`, padded to 4 bytes.
pub(super) fn serialize<M>(out: &mut Vec<u8>, message: M, flags: u16, seq: u32)
where
    M: netlink_packet_core::NetlinkSerializable + std::fmt::Debug,
    NetlinkPayload<M>: From<M>,
{
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
    packet.finalize();
    let start = out.len();
    let len = packet.header.length as usize;
    out.resize(start + ((len + 3) & !3), 0);
    packet.serialize(&mut out[start..start + len]);
}

/// An `NLMSG_ERROR`: errno 0 is an acknowledgement; extended-ack TLVs follow the echoed header.
pub(super) fn parse_ack(header: &NetlinkHeader, body: &[u8]) -> Result<(), Refusal> {
    let code = body
        .get(..4)
        .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
        .unwrap_or(0);
    if code == 0 {
        return Ok(());
    }
    let mut detail = None;
    if header.flags & NLM_F_ACK_TLVS != 0 && body.len() >= 20 {
        // With NETLINK_CAP_ACK, only the 16-byte header of the request is echoed.
        let echoed = if header.flags & 0x100 != 0 {
            16
        } else {
            u32::from_ne_bytes(body[4..8].try_into().unwrap()) as usize
        };
        let mut tlvs = body.get(4 + echoed..).unwrap_or(&[]);
        while tlvs.len() >= 4 {
            let len = u16::from_ne_bytes([tlvs[0], tlvs[1]]) as usize;
            let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]);
            if len < 4 || len > tlvs.len() {
                break;
            }
            if kind == NLMSGERR_ATTR_MSG {
                let text = &tlvs[4..len];
                let text = text.split(|&b| b == 0).next().unwrap_or(&[]);
                detail = Some(String::from_utf8_lossy(text).into_owned());
            }
            tlvs = &tlvs[((len + 3) & !3).min(tlvs.len())..];
        }
    }
    Err(Refusal {
        errno: Errno::from_raw(-code),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use netlink_packet_route::AddressFamily;

    use super::*;
    use crate::requests;
    use crate::sys::namespace;

    /// A dump the kernel marks interrupted (NLM_F_DUMP_INTR: the table changed between two parts
    /// of a multi-part dump) is redone, and gives up with a clear error after 16 tries rather
    /// than return a torn table. Provoked for real: 1500 addresses make every address dump span
    /// several parts, while a second thread adds and removes another address as fast as it can.
    #[test]
    fn an_interrupted_dump_is_redone_and_never_returns_a_torn_table() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let net = crate::Net::build("a -- b").unwrap();
        let a = net.node("a");
        let index = crate::plan::plan(net.topology(), 0).ifindex[0][0];
        let many: Vec<(Kind, RouteNetlinkMessage)> = (0..1500u32)
            .map(|i| {
                let cidr = format!("198.19.{}.{}/32", i / 250, 1 + i % 250)
                    .parse()
                    .unwrap();
                (Kind::Create, requests::new_address(index, cidr))
            })
            .collect();
        let churn: netns_test_topology::Cidr = "198.19.200.1/32".parse().unwrap();
        let stop = AtomicBool::new(false);
        let count_ipv4 = |messages: &[RouteNetlinkMessage]| {
            messages
                .iter()
                .filter(|m| {
                    matches!(m, RouteNetlinkMessage::NewAddress(a)
                        if a.header.family == AddressFamily::Inet && a.header.index == index)
                })
                .count()
        };
        std::thread::scope(|scope| {
            let ns = a.ns();
            let setup = scope.spawn(move || {
                namespace::enter(&*ns).unwrap();
                let mut socket = Socket::open().unwrap();
                let results = socket.execute(many, &mut |_| {}).unwrap();
                assert!(results.iter().all(Result::is_ok));
                count_ipv4(&socket.dump(requests::get_addresses(), &mut |_| {}).unwrap())
            });
            let base = setup.join().unwrap();
            assert_eq!(base, 1501, "the link's own address and the 1500");
            let ns = a.ns();
            let stop = &stop;
            let churner = scope.spawn(move || {
                namespace::enter(&*ns).unwrap();
                let mut socket = Socket::open().unwrap();
                let mut changes = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let add = (Kind::Create, requests::new_address(index, churn));
                    let mut del = requests::new_address(index, churn);
                    if let RouteNetlinkMessage::NewAddress(m) = del {
                        del = RouteNetlinkMessage::DelAddress(m);
                    }
                    socket
                        .execute(vec![add, (Kind::Change, del)], &mut |_| {})
                        .unwrap();
                    changes += 2;
                }
                changes
            });
            let ns = a.ns();
            let dumper = scope.spawn(move || {
                namespace::enter(&*ns).unwrap();
                let mut socket = Socket::open().unwrap();
                let (mut complete, mut gave_up) = (0, 0);
                for _ in 0..200 {
                    match socket.dump(requests::get_addresses(), &mut |_| {}) {
                        Ok(messages) => {
                            // Plus the churned address if the dump caught it present.
                            let n = count_ipv4(&messages);
                            assert!(n == base || n == base + 1, "a torn dump: {n} addresses");
                            complete += 1;
                        }
                        Err(e) => {
                            assert!(e.to_string().contains("tried 16 times"), "{e}");
                            gave_up += 1;
                        }
                    }
                    if socket.interrupted_dumps() >= 10 {
                        break;
                    }
                }
                (socket, complete, gave_up)
            });
            let (mut socket, complete, gave_up) = dumper.join().unwrap();
            stop.store(true, Ordering::Relaxed);
            let changes = churner.join().unwrap();
            let interrupted = socket.interrupted_dumps();
            eprintln!(
                "{changes} concurrent changes: {interrupted} dumps interrupted and redone, \
                 {complete} complete, {gave_up} gave up after 16 tries"
            );
            assert!(interrupted > 0, "no dump was interrupted");
            // Quiet again: the same socket dumps the whole table at once.
            let ns = a.ns();
            let last = scope
                .spawn(move || {
                    namespace::enter(&*ns).unwrap();
                    socket.dump(requests::get_addresses(), &mut |_| {}).unwrap()
                })
                .join()
                .unwrap();
            assert_eq!(count_ipv4(&last), base);

            // Short bursts of churn: a dump whose first tries are interrupted completes on a
            // later one, whole.
            let ns = a.ns();
            let redone_then_complete = (0..50).any(|_| {
                let burst_ns = ns.clone();
                let burst = scope.spawn(move || {
                    namespace::enter(&*burst_ns).unwrap();
                    let mut socket = Socket::open().unwrap();
                    for _ in 0..20 {
                        let add = (Kind::Create, requests::new_address(index, churn));
                        let del = match requests::new_address(index, churn) {
                            RouteNetlinkMessage::NewAddress(m) => {
                                RouteNetlinkMessage::DelAddress(m)
                            }
                            other => other,
                        };
                        socket
                            .execute(vec![add, (Kind::Change, del)], &mut |_| {})
                            .unwrap();
                    }
                });
                let ns = ns.clone();
                let dump = scope.spawn(move || {
                    namespace::enter(&*ns).unwrap();
                    let mut socket = Socket::open().unwrap();
                    let result = socket.dump(requests::get_addresses(), &mut |_| {});
                    (result, socket.interrupted_dumps())
                });
                burst.join().unwrap();
                match dump.join().unwrap() {
                    (Ok(messages), redone) if redone > 0 => {
                        let n = count_ipv4(&messages);
                        assert!(n == base || n == base + 1, "a torn dump: {n} addresses");
                        true
                    }
                    _ => false,
                }
            });
            assert!(
                redone_then_complete,
                "in 50 bursts, no dump was interrupted and then completed"
            );
        });
    }
}

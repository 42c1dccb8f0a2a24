//! A minimal synchronous nfnetlink client: nf_tables batches (one transaction, one `send`) and
//! connection tracking requests and dumps, in the calling thread's network namespace.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterProtoFamily, none::ControlMessage,
};
use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, SockProtocol};

use super::netlink::{
    NLMSG_DONE, NLMSG_ERROR, Refusal, frames, open_netlink, parse_ack, serialize,
};

/// The subsystem a batch's begin and end messages name.
const NFNL_SUBSYS_NFTABLES: u16 = 10;

/// An nfnetlink socket bound to the namespace it was opened in.
pub(crate) struct NetfilterSocket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl NetfilterSocket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<NetfilterSocket> {
        let fd = open_netlink(SockProtocol::NetlinkNetFilter)?;
        Ok(NetfilterSocket {
            fd,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `messages` (each with its extra netlink flags) as one nf_tables transaction: all
    /// of it applies, or none. Returns the index of the refused message and why.
    pub fn transaction(
        &mut self,
        messages: Vec<(NetfilterMessage, u16)>,
    ) -> io::Result<Result<(), (usize, Refusal)>> {
        if messages.is_empty() {
            return Ok(Ok(()));
        }
        let control = |m: ControlMessage| {
            NetfilterMessage::new(
                NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES),
                m,
            )
        };
        let mut out = Vec::new();
        let begin = self.next_seq();
        serialize(
            &mut out,
            control(ControlMessage::BatchBegin),
            NLM_F_REQUEST,
            begin,
        );
        let count = messages.len();
        for (message, flags) in messages {
            let seq = self.next_seq();
            serialize(&mut out, message, NLM_F_REQUEST | NLM_F_ACK | flags, seq);
        }
        let end = self.next_seq();
        serialize(
            &mut out,
            control(ControlMessage::BatchEnd),
            NLM_F_REQUEST,
            end,
        );
        socket::send(self.fd.as_raw_fd(), &out, MsgFlags::empty())?;
        // The kernel runs the batch within `send`: every answer is queued by now. A refused
        // batch answers for the messages up to the refusal only.
        let mut acked = 0;
        let mut refusal = None;
        while acked < count && refusal.is_none() {
            let n = self.receive(MsgFlags::empty())?;
            for (header, raw) in frames(&self.buf[..n]) {
                if header.message_type != NLMSG_ERROR {
                    continue;
                }
                let index = header.sequence_number.wrapping_sub(begin + 1) as usize;
                match parse_ack(&header, &raw[16..]) {
                    Ok(()) if index < count => acked += 1,
                    Ok(()) => {}
                    Err(r) => refusal = refusal.or(Some((index.min(count - 1), r))),
                }
            }
        }
        // Whatever else is queued belongs to this batch.
        while self.receive(MsgFlags::MSG_DONTWAIT).is_ok() {}
        Ok(refusal.map_or(Ok(()), Err))
    }

    /// Sends one request outside a transaction (connection tracking) and waits for its answer.
    pub fn request(&mut self, message: NetfilterMessage) -> io::Result<Result<(), Refusal>> {
        let seq = self.next_seq();
        let mut out = Vec::new();
        serialize(&mut out, message, NLM_F_REQUEST | NLM_F_ACK, seq);
        socket::send(self.fd.as_raw_fd(), &out, MsgFlags::empty())?;
        loop {
            let n = self.receive(MsgFlags::empty())?;
            for (header, raw) in frames(&self.buf[..n]) {
                if header.message_type == NLMSG_ERROR && header.sequence_number == seq {
                    return Ok(parse_ack(&header, &raw[16..]));
                }
            }
        }
    }

    /// Dumps a table (connection tracking entries, nf_tables rules).
    pub fn dump(&mut self, message: NetfilterMessage) -> io::Result<Vec<NetfilterMessage>> {
        let seq = self.next_seq();
        let mut out = Vec::new();
        serialize(&mut out, message, NLM_F_REQUEST | NLM_F_DUMP, seq);
        socket::send(self.fd.as_raw_fd(), &out, MsgFlags::empty())?;
        let mut messages = Vec::new();
        loop {
            let n = self.receive(MsgFlags::empty())?;
            for (header, raw) in frames(&self.buf[..n]) {
                if header.sequence_number != seq {
                    continue;
                }
                match header.message_type {
                    NLMSG_DONE => return Ok(messages),
                    NLMSG_ERROR => {
                        return match parse_ack(&header, &raw[16..]) {
                            Ok(()) => Ok(messages),
                            Err(r) => Err(io::Error::from(r.errno)),
                        };
                    }
                    _ => {
                        if let Ok(NetlinkMessage {
                            payload: NetlinkPayload::InnerMessage(m),
                            ..
                        }) = NetlinkMessage::<NetfilterMessage>::deserialize(raw)
                        {
                            messages.push(m);
                        }
                    }
                }
            }
        }
    }

    fn receive(&mut self, flags: MsgFlags) -> io::Result<usize> {
        loop {
            match socket::recv(self.fd.as_raw_fd(), &mut self.buf, flags) {
                Ok(n) => return Ok(n),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) if flags.is_empty() => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the kernel did not answer a netfilter request within 10 s",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

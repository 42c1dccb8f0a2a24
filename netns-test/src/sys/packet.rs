//! Packet sockets (`AF_PACKET`): every frame of every interface of a namespace, read and sent
//! whole. The relay carries conditioned links' frames through one; captures read through them.

use std::io;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    self, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType, setsockopt, sockopt,
};

use super::raw;

const SOL_PACKET: libc::c_int = 263;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// A packet socket bound to no interface: it sees the frames of every interface of the
/// namespace it was opened in.
pub(crate) struct PacketSocket {
    fd: OwnedFd,
}

/// One frame read: how many bytes were copied, how long it was, and where it arrived.
pub(crate) struct Received {
    /// Bytes copied into the buffer.
    pub copied: usize,
    /// The frame's whole length (more than `copied` when the buffer was shorter).
    pub length: usize,
    /// The interface it arrived at (or left by, for outgoing frames).
    pub ifindex: u32,
}

impl PacketSocket {
    /// Opens a packet socket for all protocols in the calling thread's namespace, asking for
    /// `buffer` bytes of receive and send buffer (forced past the system limit where the process
    /// may, as root; else as much as the system allows).
    pub fn open(buffer: usize) -> io::Result<PacketSocket> {
        let fd = socket::socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::EthAll,
        )?;
        if setsockopt(&fd, sockopt::RcvBufForce, &buffer).is_err() {
            let _ = setsockopt(&fd, sockopt::RcvBuf, &buffer);
        }
        if setsockopt(&fd, sockopt::SndBufForce, &buffer).is_err() {
            let _ = setsockopt(&fd, sockopt::SndBuf, &buffer);
        }
        Ok(PacketSocket { fd })
    }

    /// Frames come and go with a virtio-net header in front (so offloaded 64 KiB bursts cross
    /// as one frame), and the socket's own sends do not come back to it.
    pub fn relay_mode(&self) -> io::Result<()> {
        raw::set_int_option(self.fd.as_fd(), SOL_PACKET, PACKET_VNET_HDR, 1)?;
        raw::set_int_option(self.fd.as_fd(), SOL_PACKET, PACKET_IGNORE_OUTGOING, 1).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{e} (PACKET_IGNORE_OUTGOING needs Linux 4.20 or later)"),
            )
        })
    }

    /// Reads one waiting frame into `buf` without blocking; `None` when none is waiting.
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        let mut iov = [IoSliceMut::new(buf)];
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC;
        let copied_max = iov[0].len();
        match socket::recvmsg::<LinkAddr>(
            std::os::fd::AsRawFd::as_raw_fd(&self.fd),
            &mut iov,
            None,
            flags,
        ) {
            Ok(message) => Ok(Some(Received {
                copied: message.bytes.min(copied_max),
                length: message.bytes,
                ifindex: message.address.map_or(0, |a| a.ifindex() as u32),
            })),
            Err(Errno::EAGAIN) => Ok(None),
            Err(Errno::EINTR) => self.receive(buf),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends `frame` out of the interface with index `ifindex`.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        raw::send_to_ifindex(self.fd.as_fd(), ifindex, frame)
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

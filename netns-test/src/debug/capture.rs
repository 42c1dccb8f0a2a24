//! `NETNS_TEST_PCAP=DIR`: every interface of every node captured to pcap files from the moment
//! the topology is up. Without the variable nothing here runs.
//!
//! One packet socket per node (`AF_PACKET`, all protocols, all interfaces), opened inside the
//! node before the body starts, so the kernel buffers the body's first packets until the one
//! capture thread reads them; that thread waits on `poll` for packets or for the stop signal.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkAttribute;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::net::Net;
use crate::requests;
use crate::sys::netlink::Socket;
use crate::sys::packet::PacketSocket;

const SNAPLEN: usize = 65535;
const LINKTYPE_ETHERNET: u32 = 1;
/// Room for the packets of a busy body between two reads.
const CAPTURE_BUFFER: usize = 4 << 20;

/// A running capture of one topology.
pub(crate) struct Capture {
    stop: OwnedFd,
    thread: Option<JoinHandle<()>>,
    files: Vec<PathBuf>,
    dir: PathBuf,
}

/// A node's packet socket and its interfaces (index, name), as opened inside the node.
type Opened = (PacketSocket, Vec<(u32, String)>);

/// One node's packet socket and its interfaces' pcap files.
struct Tap {
    socket: PacketSocket,
    files: HashMap<u32, BufWriter<File>>,
}

impl Capture {
    /// Starts capturing every interface of every node into `root/<test path>/<node>-<iface>.pcap`.
    pub fn start(net: &Net, root: &Path, test: &str) -> io::Result<Capture> {
        let dir = test
            .split("::")
            .fold(root.to_path_buf(), |p, part| p.join(part));
        std::fs::create_dir_all(&dir)?;
        let mut files = Vec::new();
        let mut taps = Vec::new();
        // Sockets and interface names are read inside each node.
        let opened: io::Result<Vec<Opened>> = net
            .in_each_node(|_| Ok((PacketSocket::open(CAPTURE_BUFFER)?, interfaces()?)))
            .into_iter()
            .collect();
        for (node, (socket, ifaces)) in net.nodes().zip(opened?) {
            let mut writers = HashMap::new();
            for (index, name) in ifaces {
                let path = dir.join(format!("{}-{name}.pcap", node.name()));
                let mut w = BufWriter::new(File::create(&path)?);
                write_header(&mut w)?;
                writers.insert(index, w);
                files.push(path);
            }
            taps.push(Tap {
                socket,
                files: writers,
            });
        }
        let (stop_read, stop) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let thread = std::thread::Builder::new()
            .name("netns-test-pcap".into())
            .spawn(move || run(taps, stop_read))?;
        Ok(Capture {
            stop,
            thread: Some(thread),
            files,
            dir,
        })
    }

    /// Stops capturing and flushes every file. `keep`: leave the files; else remove them.
    /// Returns the directory the files are in when kept.
    pub fn finish(mut self, keep: bool) -> Option<PathBuf> {
        self.halt();
        if keep {
            return Some(self.dir.clone());
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_dir(&self.dir);
        None
    }

    fn halt(&mut self) {
        let _ = nix::unistd::write(&self.stop, b"x");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run(mut taps: Vec<Tap>, stop: OwnedFd) {
    let mut buf = vec![0u8; SNAPLEN];
    loop {
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd<'_>> = taps
                .iter()
                .map(|t| PollFd::new(t.socket.as_fd(), PollFlags::POLLIN))
                .collect();
            fds.push(PollFd::new(stop.as_fd(), PollFlags::POLLIN));
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            fds.iter()
                .enumerate()
                .filter(|(_, f)| f.any().unwrap_or(false))
                .map(|(i, _)| i)
                .collect()
        };
        let count = taps.len();
        let stopping = ready.contains(&count);
        for &i in ready.iter().filter(|&&i| i < count) {
            drain(&mut taps[i], &mut buf);
        }
        if stopping {
            for tap in &mut taps {
                drain(tap, &mut buf);
                tap.files.values_mut().for_each(|w| drop(w.flush()));
            }
            return;
        }
    }
}

/// Reads every packet waiting on the tap's socket, without blocking.
fn drain(tap: &mut Tap, buf: &mut [u8]) {
    while let Ok(Some(got)) = tap.socket.receive(buf) {
        if let Some(w) = tap.files.get_mut(&got.ifindex) {
            let _ = write_record(w, &buf[..got.copied], got.length);
        }
    }
}

/// The calling thread's namespace's interfaces: index and name.
fn interfaces() -> io::Result<Vec<(u32, String)>> {
    let mut socket = Socket::open()?;
    Ok(socket
        .dump(requests::get_links(), &mut |_| {})?
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => l.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some((l.header.index, n.clone())),
                _ => None,
            }),
            _ => None,
        })
        .collect())
}

fn write_header(w: &mut impl Write) -> io::Result<()> {
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&0i32.to_le_bytes())?;
    w.write_all(&0u32.to_le_bytes())?;
    w.write_all(&(SNAPLEN as u32).to_le_bytes())?;
    w.write_all(&LINKTYPE_ETHERNET.to_le_bytes())
}

fn write_record(w: &mut impl Write, data: &[u8], original: usize) -> io::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    w.write_all(&(now.as_secs() as u32).to_le_bytes())?;
    w.write_all(&now.subsec_micros().to_le_bytes())?;
    w.write_all(&(data.len() as u32).to_le_bytes())?;
    w.write_all(&(original as u32).to_le_bytes())?;
    w.write_all(data)
}

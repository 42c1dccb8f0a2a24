//! `NETNS_TEST_PCAP=DIR`: every interface of every node captured to pcap files from the moment
//! the topology is up. Without the variable nothing here runs.
//!
//! One packet socket per node (`AF_PACKET`, all protocols, all interfaces), opened inside the
//! node before the body starts, so the kernel buffers the body's first packets until the one
//! capture thread reads them; that thread waits on `poll` for packets or for the stop signal.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkAttribute;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::net::Net;
use crate::node::Node;
use crate::requests;
use crate::sys::netlink::Socket;
use crate::sys::packet::PacketSocket;

const SNAPLEN: usize = 65535;
const LINKTYPE_ETHERNET: u32 = 1;
/// Room for the packets of a busy body between two reads.
const CAPTURE_BUFFER: usize = 4 << 20;

/// A running capture of one topology.
pub(crate) struct Capture {
    stop: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

/// What the capture and the net's changes share: where the files go, which exist, and the way
/// to hand the capture thread a node's socket or new files.
struct Shared {
    dir: PathBuf,
    /// Every file made, and per node the interfaces that have one.
    files: Mutex<Files>,
    to_thread: Mutex<mpsc::Sender<Added>>,
    /// Written to wake the capture thread: `w` for news on the channel, `s` to stop.
    wake: Arc<OwnedFd>,
}

/// Every pcap file made, and per node (by namespace inode) the interfaces that have one.
type Files = (Vec<PathBuf>, HashMap<u64, HashSet<u32>>);

/// News for the capture thread: a node's socket (the first time the node is seen) and files
/// for interfaces it has not captured yet.
struct Added {
    node: u64,
    socket: Option<PacketSocket>,
    files: HashMap<u32, BufWriter<File>>,
}

/// One node's packet socket and its interfaces' pcap files.
struct Tap {
    socket: PacketSocket,
    files: HashMap<u32, BufWriter<File>>,
}

impl Capture {
    /// Starts capturing every interface of every node into `root/<test path>/<node>-<iface>.pcap`,
    /// and, through the net's changes, every interface and node added later.
    pub fn start(net: &Net, root: &Path, test: &str) -> io::Result<Capture> {
        let dir = test
            .split("::")
            .fold(root.to_path_buf(), |p, part| p.join(part));
        std::fs::create_dir_all(&dir)?;
        let (stop_read, stop) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(stop);
        let shared = Arc::new(Shared {
            dir,
            files: Mutex::new((Vec::new(), HashMap::new())),
            to_thread: Mutex::new(tx),
            wake: stop.clone(),
        });
        for node in net.nodes() {
            shared.add(node)?;
        }
        let watcher = Arc::downgrade(&shared);
        net.on_change(Box::new(move |node| {
            if let Some(shared) = watcher.upgrade()
                && let Err(e) = shared.add(node)
            {
                eprintln!(
                    "netns-test: cannot capture node `{}`'s new interfaces: {e}",
                    node.name()
                );
            }
        }));
        let thread = std::thread::Builder::new()
            .name("netns-test-pcap".into())
            .spawn(move || run(rx, stop_read))?;
        Ok(Capture {
            stop,
            thread: Some(thread),
            shared,
        })
    }

    /// Stops capturing and flushes every file. `keep`: leave the files; else remove them.
    /// Returns the directory the files are in when kept.
    pub fn finish(mut self, keep: bool) -> Option<PathBuf> {
        self.halt();
        let dir = self.shared.dir.clone();
        if keep {
            return Some(dir);
        }
        let files = self.shared.files.lock().unwrap_or_else(|e| e.into_inner());
        for f in &files.0 {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_dir(&dir);
        None
    }

    fn halt(&mut self) {
        let _ = nix::unistd::write(&*self.stop, b"s");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    /// Hands the capture thread `node`'s socket (the first time) and files for its interfaces
    /// that have none yet; the socket is opened and the interfaces read inside the node.
    fn add(&self, node: &Node) -> io::Result<()> {
        let inode = node.netns_inode();
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let (paths, known) = &mut *files;
        let seen = known.contains_key(&inode);
        let (socket, interfaces) = node.in_netns(|| -> io::Result<_> {
            let socket = if seen {
                None
            } else {
                Some(PacketSocket::open(CAPTURE_BUFFER)?)
            };
            Ok((socket, interfaces()?))
        })?;
        let captured = known.entry(inode).or_default();
        let mut writers = HashMap::new();
        for (index, name) in interfaces {
            if !captured.insert(index) {
                continue;
            }
            let mut path = self.dir.join(format!("{}-{name}.pcap", node.name()));
            if paths.contains(&path) {
                // A node of the same name again, or an interface name used twice.
                path = self
                    .dir
                    .join(format!("{}-{name}-{index}.pcap", node.name()));
            }
            let mut w = BufWriter::new(File::create(&path)?);
            write_header(&mut w)?;
            writers.insert(index, w);
            paths.push(path);
        }
        let added = Added {
            node: inode,
            socket,
            files: writers,
        };
        let sent = self
            .to_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(added);
        // Sent before the change returns, so the thread takes it before the next packet.
        if sent.is_ok() {
            let _ = nix::unistd::write(&*self.wake, b"w");
        }
        Ok(())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run(news: mpsc::Receiver<Added>, wake: OwnedFd) {
    let mut buf = vec![0u8; SNAPLEN];
    let mut taps: Vec<(u64, Tap)> = Vec::new();
    loop {
        // News first: files for new interfaces exist before their packets are read.
        for added in news.try_iter() {
            match (
                taps.iter_mut().find(|(n, _)| *n == added.node),
                added.socket,
            ) {
                (Some((_, tap)), _) => tap.files.extend(added.files),
                (None, Some(socket)) => taps.push((
                    added.node,
                    Tap {
                        socket,
                        files: added.files,
                    },
                )),
                (None, None) => {}
            }
        }
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd<'_>> = taps
                .iter()
                .map(|(_, t)| PollFd::new(t.socket.as_fd(), PollFlags::POLLIN))
                .collect();
            fds.push(PollFd::new(wake.as_fd(), PollFlags::POLLIN));
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
        let mut stopping = false;
        if ready.contains(&count) {
            let mut signal = [0u8; 64];
            if let Ok(n) = nix::unistd::read(&wake, &mut signal) {
                stopping = signal[..n].contains(&b's');
            }
        }
        for &i in ready.iter().filter(|&&i| i < count) {
            drain(&mut taps[i].1, &mut buf);
        }
        if stopping {
            for (_, tap) in &mut taps {
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

//! Helpers shared by the end-to-end tests: traffic that proves a topology works.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output};
use std::time::Duration;

use netns_test::{Net, Node};

/// How long a test waits for a packet that should arrive. Replies normally take microseconds; a
/// wait that runs out means the packet was lost.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// Sends a TCP message from the calling thread (which must be inside a test namespace) to an
/// echo server on `server` and returns the echo.
pub fn tcp_echo(server: &Node, to: IpAddr, port: u16, message: &[u8]) -> std::io::Result<Vec<u8>> {
    netns_test::assert_not_in_host_netns();
    let listener = server.run(|| TcpListener::bind(SocketAddr::new(unspecified(to), port)))?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf)?;
        stream.write_all(&buf[..n])
    });
    let mut stream = TcpStream::connect_timeout(&SocketAddr::new(to, port), PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.write_all(message)?;
    let mut reply = vec![0u8; message.len()];
    stream.read_exact(&mut reply)?;
    echo.join().expect("echo thread")?;
    Ok(reply)
}

/// Sends one UDP datagram from the calling thread to a socket bound on `server` and returns
/// what arrived there (an error if nothing arrived within [`PATIENCE`]).
pub fn udp_once(server: &Node, to: IpAddr, port: u16, message: &[u8]) -> std::io::Result<Vec<u8>> {
    netns_test::assert_not_in_host_netns();
    let receiver = server.run(|| UdpSocket::bind(SocketAddr::new(unspecified(to), port)))?;
    receiver.set_read_timeout(Some(PATIENCE))?;
    let sender = UdpSocket::bind(SocketAddr::new(unspecified(to), 0))?;
    sender.send_to(message, SocketAddr::new(to, port))?;
    let mut buf = [0u8; 1500];
    let (n, _) = receiver.recv_from(&mut buf)?;
    Ok(buf[..n].to_vec())
}

/// The unspecified address of `ip`'s family.
pub fn unspecified(ip: IpAddr) -> IpAddr {
    if ip.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u16; 8])
    }
}

/// From the calling thread (inside a test namespace), one datagram to node `to`'s `ip()` on
/// `port`; panics unless it arrives intact.
pub fn udp_across(net: &Net, to: &str, port: u16) {
    netns_test::assert_not_in_host_netns();
    let node = net.node(to);
    let message = b"seen on the wire";
    assert_eq!(udp_once(node, node.ip(), port, message).unwrap(), message);
}

/// This test binary again, started by `wrapper` (a program and its arguments, such as
/// `unshare --user`; empty for none), running only the ignored probe test `probe`. Callers add
/// libtest flags and the environment.
pub fn probe_command(wrapper: &[&str], probe: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(exe);
            command
        }
        None => Command::new(exe),
    };
    command.args(["--ignored", "--exact", probe]);
    command
}

/// What a finished child printed: its stdout, then its stderr.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One test per name, each building `topology`, running in node `node` and sending a datagram to
/// node `to` on `port` ([`udp_across`]): the generated suites (stress, the timed 200) are made of
/// these.
#[macro_export]
macro_rules! udp_tests {
    ($topology:literal, $node:literal, $to:literal, $port:literal; $($name:ident)*) => {$(
        #[::netns_test::netns_test(topology = $topology, node = $node)]
        fn $name(net: &::netns_test::Net) {
            $crate::udp_across(net, $to, $port);
        }
    )*};
}

/// How many file descriptors this process holds.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The ids of this process's threads.
pub fn thread_ids() -> std::collections::HashSet<i32> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| t.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether thread `tid` of this process finishes exiting within a second. A thread that has
/// been joined may still be listed, in its namespace, for an instant: the kernel wakes the
/// joiner before it lets go of the thread's namespaces and removes it from the process. Waits
/// on the kernel's exit notification (a thread pidfd), not on a timer.
pub fn thread_exits(tid: i32) -> bool {
    const PIDFD_THREAD: libc::c_long = libc::O_EXCL as libc::c_long;
    // SAFETY: pidfd_open takes a thread id and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid as libc::c_long, PIDFD_THREAD) };
    if fd < 0 {
        // Already gone (ESRCH).
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let fd = fd as libc::c_int;
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, then the descriptor we own is closed once.
    let ready = unsafe {
        let ready = libc::poll(&mut poll, 1, 1000);
        libc::close(fd);
        ready
    };
    ready == 1
}

/// This process's threads that were not among `before` and do not finish exiting: the threads
/// a test left behind.
pub fn threads_left(before: &std::collections::HashSet<i32>) -> Vec<i32> {
    thread_ids()
        .into_iter()
        .filter(|tid| !before.contains(tid) && !thread_exits(*tid))
        .collect()
}

/// Datagrams [`udp_burst`] sends before it waits for the reader to catch up.
const BATCH: u16 = 200;

/// `count` numbered datagrams from node `client` (from `port`, 0: the kernel picks) to node
/// `server`, in a burst over whatever link joins them; what arrived, in order (duplicates
/// included), and the client's port. The client learns the server's MAC first, so no datagram
/// waits in the neighbour queue; the sender stays at most a batch ahead of the reader, so no
/// socket buffer overruns, even where it cannot be enlarged (rootless).
pub fn udp_burst(net: &Net, count: u16, port: u16) -> (Vec<u16>, u16) {
    let server = net.node("server");
    let receiver = server.run(|| UdpSocket::bind((server.ip(), 9000)).unwrap());
    force_receive_buffer(&receiver, 8 << 20);
    receiver.set_read_timeout(Some(PATIENCE)).unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let progress = seen.clone();
    let reader = std::thread::spawn(move || {
        let (mut arrived, mut buf, mut ended) = (Vec::new(), [0u8; 8], false);
        loop {
            match receiver.recv_from(&mut buf) {
                Ok((3, _)) if &buf[..3] == b"end" => {
                    // Stragglers (a held-back or doubled datagram) are a millisecond behind.
                    ended = true;
                    receiver
                        .set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                }
                Ok((2, _)) => {
                    arrived.push(u16::from_be_bytes([buf[0], buf[1]]));
                    progress.store(arrived.len(), std::sync::atomic::Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) if ended => return arrived,
                Err(e) => panic!("no end marker: {e}"),
            }
        }
    });
    let client = net.node("client").run(|| {
        netns_test::assert_not_in_host_netns();
        UdpSocket::bind(("0.0.0.0", port)).unwrap()
    });
    let to = SocketAddr::new(server.ip(), 9000);
    // The MAC first, so no datagram of the burst waits in the neighbour queue.
    let warm = server.run(|| UdpSocket::bind((server.ip(), 9001)).unwrap());
    warm.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while {
        client.send_to(b"warm", (server.ip(), 9001)).unwrap();
        warm.recv(&mut [0u8; 8]).is_err()
    } {}
    for n in 0..count {
        client.send_to(&n.to_be_bytes(), to).unwrap();
        if n % BATCH == BATCH - 1 {
            // 70% of what was sent has arrived (the faults tested take about 10%).
            let deadline = std::time::Instant::now() + PATIENCE;
            while seen.load(std::sync::atomic::Ordering::Relaxed) * 10 < usize::from(n) * 7 {
                assert!(std::time::Instant::now() < deadline, "the reader stalled");
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
    for _ in 0..10 {
        client.send_to(b"end", to).unwrap();
    }
    let port = client.local_addr().unwrap().port();
    (reader.join().expect("the reader"), port)
}

/// A receive buffer big enough for the whole burst: forced past the host's limit where the
/// process may (root), else as big as that limit allows (rootless: the reader keeps up).
fn force_receive_buffer(socket: &UdpSocket, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: the option value lives across the call, its size is passed; the fd is open.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&raw const bytes).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// One ICMP echo request from the calling thread's namespace to `to`, over a raw socket; true
/// when its reply arrives within PATIENCE.
pub fn echo(to: [u8; 4], id: u16) -> bool {
    netns_test::assert_not_in_host_netns();
    // SAFETY: plain socket(2); the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    let mut request = [8u8, 0, 0, 0, (id >> 8) as u8, id as u8, 0, 1, b'n', b't'];
    let sum = checksum(&request);
    request[2..4].copy_from_slice(&sum.to_be_bytes());
    let dest = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(to),
        },
        sin_zero: [0; 8],
    };
    let timeout = libc::timeval {
        tv_sec: PATIENCE.as_secs() as _,
        tv_usec: 0,
    };
    // SAFETY: the buffers, address and option live across each call, with their sizes passed.
    let replied = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            size_of::<libc::timeval>() as u32,
        );
        libc::sendto(
            fd,
            request.as_ptr().cast(),
            request.len(),
            0,
            (&raw const dest).cast(),
            size_of::<libc::sockaddr_in>() as u32,
        );
        let mut buf = [0u8; 256];
        loop {
            let n = libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0);
            if n < 0 {
                break false;
            }
            let header = usize::from(buf[0] & 0x0f) * 4;
            let icmp = &buf[header..n as usize];
            if icmp.len() >= 8 && icmp[0] == 0 && u16::from_be_bytes([icmp[4], icmp[5]]) == id {
                break true;
            }
        }
    };
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    replied
}

/// The internet checksum of `bytes`.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

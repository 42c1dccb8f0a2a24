//! Link conditions and faults (SPEC §7), measured with real traffic between real namespaces.
//! Each test states its tolerance next to the assertion that uses it.
//!
//! Receivers signal each arrival on a channel the moment it happens, so the tests wait on events.
//! The only timeouts are where absence is the thing measured (a lost or cut datagram).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use netns_test::{Conditions, ErrorKind, Net, netns_test};
use netns_test_e2e::PATIENCE;

const PORT: u16 = 9000;
const STOP: u32 = u32::MAX;

/// A UDP socket bound in a node, read on a thread that reports `(sequence number, arrival)` of
/// every datagram (its first four bytes) and, as an echo, sends it back. Dropping it stops the
/// thread with a datagram over the node's loopback.
struct Peer {
    arrivals: Receiver<(u32, Instant)>,
    stopper: UdpSocket,
    port: u16,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    fn start(net: &Net, node: &str, port: u16, echo: bool) -> Peer {
        let node = net.node(node);
        let (socket, stopper) = node.run(|| {
            (
                UdpSocket::bind(("0.0.0.0", port)).unwrap(),
                UdpSocket::bind("127.0.0.1:0").unwrap(),
            )
        });
        // Room for a burst released at once (jitter without reordering holds packets back
        // behind a slower one): as much as the system allows without privilege.
        let size: libc::c_int = 4 << 20;
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&socket),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const size).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_RCVBUF");
        let (tx, arrivals) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let at = Instant::now();
                let seq = u32::from_be_bytes(buf[..4].try_into().unwrap());
                if seq == STOP && from.ip().is_loopback() {
                    return;
                }
                if echo {
                    let _ = socket.send_to(&buf[..n], from);
                }
                let _ = tx.send((seq, at));
            }
        });
        Peer {
            arrivals,
            stopper,
            port,
            thread: Some(thread),
        }
    }

    /// The next arrival, or `None` if nothing arrives within `wait`.
    fn next(&self, wait: Duration) -> Option<(u32, Instant)> {
        match self.arrivals.recv_timeout(wait) {
            Ok(a) => Some(a),
            Err(RecvTimeoutError::Timeout) => None,
            Err(e) => panic!("receiver thread ended: {e}"),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self
            .stopper
            .send_to(&STOP.to_be_bytes(), ("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn send(socket: &UdpSocket, to: IpAddr, seq: u32) {
    socket
        .send_to(&seq.to_be_bytes(), SocketAddr::new(to, PORT))
        .unwrap();
}

/// A socket in the calling thread's node, with replies awaited for at most `PATIENCE`.
fn client(port: u16) -> UdpSocket {
    netns_test::assert_not_in_host_netns();
    let socket = UdpSocket::bind(("0.0.0.0", port)).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket
}

/// One UDP round trip to an echoing [`Peer`].
fn round_trip(socket: &UdpSocket, to: IpAddr, seq: u32) -> Duration {
    let start = Instant::now();
    send(socket, to, seq);
    let mut buf = [0u8; 16];
    loop {
        let (n, _) = socket.recv_from(&mut buf).expect("an echo within PATIENCE");
        if n >= 4 && u32::from_be_bytes(buf[..4].try_into().unwrap()) == seq {
            return start.elapsed();
        }
    }
}

/// A sink on `b`, a socket in the calling thread's node, and the proof that datagrams flow
/// (which also resolves the neighbours, so from then on only the test's datagrams cross).
fn flowing(net: &Net) -> (Peer, UdpSocket, IpAddr) {
    let b = net.node("b").ip();
    let sink = Peer::start(net, "b", PORT, false);
    let socket = client(0);
    send(&socket, b, 0);
    assert_eq!(sink.next(PATIENCE).map(|a| a.0), Some(0), "flows before");
    (sink, socket, b)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[netns_test(topology = "a -- b delay=50ms")]
fn delay_50ms_makes_udp_round_trips_and_tcp_connects_take_100_to_130ms(net: &Net) {
    let b = net.node("b").ip();
    let _echo = Peer::start(net, "b", PORT, true);
    let socket = client(0);
    round_trip(&socket, b, 0); // also resolves the neighbours, which costs a round trip more
    // Tolerance: 100 ms of delay (50 ms each way), plus up to 30 ms of scheduling on a busy
    // 2-core machine.
    for seq in 1..=10 {
        let rtt = round_trip(&socket, b, seq);
        assert!(
            (100.0..=130.0).contains(&ms(rtt)),
            "UDP round trip {seq}: {rtt:?}"
        );
    }
    let listener = net
        .node("b")
        .run(|| TcpListener::bind(("0.0.0.0", 7000)))
        .unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let stream = TcpStream::connect_timeout(&SocketAddr::new(b, 7000), PATIENCE).unwrap();
        let connect = start.elapsed();
        assert!(
            (100.0..=130.0).contains(&ms(connect)),
            "TCP connect: {connect:?}"
        );
        drop(stream);
        drop(listener.accept().unwrap());
    }
}

#[netns_test(topology = "a -- b delay=50ms jitter=10ms seed=11")]
fn jitter_spreads_delays_over_the_window_without_reordering(net: &Net) {
    let (sink, socket, b) = flowing(net);

    // One-way delays, one probe at a time (each sent when the last arrived, 40 ms or more
    // apart, so order never holds a probe back): every delay in 40..=60 ms, plus 10 ms for
    // scheduling, and the window covered: some below 43 ms, some above 57 ms.
    let mut delays = Vec::new();
    for seq in 1..=60 {
        let sent = Instant::now();
        send(&socket, b, seq);
        let (got, at) = sink.next(PATIENCE).expect("no loss is configured");
        assert_eq!(got, seq);
        delays.push(ms(at - sent));
    }
    let min = delays.iter().copied().fold(f64::MAX, f64::min);
    let max = delays.iter().copied().fold(0.0, f64::max);
    // A loaded machine can only add to a delay, never take from it: every delay is at least
    // 40 ms, and all but 2 of the 60 (a wake-up missed under load) at most 60 ms + 10.
    assert!(
        delays.iter().all(|d| *d >= 40.0) && delays.iter().filter(|d| **d > 70.0).count() <= 2,
        "one-way delays out of 40..=60 ms (+10): {delays:?}"
    );
    assert!(
        min < 43.0 && max > 57.0,
        "delays do not span the window: {min:.1}..{max:.1} ms"
    );

    // Round trips: two jittered legs, so 80..=120 ms (+10 ms for scheduling), spread over
    // at least 15 ms of the 40 ms window.
    drop(sink);
    let _echo = Peer::start(net, "b", PORT, true);
    let rtts: Vec<f64> = (100..130)
        .map(|seq| ms(round_trip(&socket, b, seq)))
        .collect();
    assert!(
        rtts.iter().all(|r| *r >= 80.0) && rtts.iter().filter(|r| **r > 130.0).count() <= 1,
        "round trips out of 80..=120 ms (+10, one late allowed): {rtts:?}"
    );
    let spread =
        rtts.iter().copied().fold(0.0, f64::max) - rtts.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        spread >= 15.0,
        "round trips spread over only {spread:.1} ms: {rtts:?}"
    );
}

#[netns_test(topology = "a -- b delay=50ms jitter=10ms seed=12")]
fn jitter_never_reorders_a_flow(net: &Net) {
    let (sink, socket, b) = flowing(net);
    // A burst, back to back: the jitter draws of neighbours differ by up to 20 ms, far more than
    // the microseconds between them, yet they must arrive in order, none lost (no loss is set).
    for seq in 1..=300 {
        send(&socket, b, seq);
    }
    let arrived: Vec<u32> = (1..=300)
        .map(|_| sink.next(PATIENCE).expect("every datagram arrives").0)
        .collect();
    assert_eq!(arrived, (1..=300).collect::<Vec<u32>>());
}

/// Sends `count` numbered datagrams from port 40000 of the calling thread's node (`a`) to a sink
/// on `b`, `batch` at a time, and returns the numbers lost. Before the first batch and after
/// each, a marker goes from port 40001 (another flow, with fates of its own) until it arrives:
/// the relay keeps a direction in order, so the marker's arrival means every datagram before it
/// arrived or was lost. The first marker also resolves the neighbours.
fn lost_of(net: &Net, count: u32, batch: u32) -> Vec<u32> {
    let b = net.node("b").ip();
    let sink = Peer::start(net, "b", PORT, false);
    let data = client(40_000);
    let marker = client(40_001);
    let mut received = Vec::new();
    let fence = |mark: u32, received: &mut Vec<u32>| {
        for _ in 0..50 {
            send(&marker, b, mark);
            // Nothing else is in flight, so an arrival takes well under a millisecond; a
            // marker not seen in 200 ms was lost.
            while let Some((seq, _)) = sink.next(Duration::from_millis(200)) {
                if seq == mark {
                    return;
                }
                if seq < count {
                    received.push(seq);
                }
            }
        }
        panic!("50 markers lost in a row");
    };
    fence(1_000_000, &mut received);
    for (n, first) in (0..count).step_by(batch as usize).enumerate() {
        for seq in first..(first + batch).min(count) {
            send(&data, b, seq);
        }
        fence(1_000_001 + n as u32, &mut received);
    }
    received.sort_unstable();
    received.dedup();
    (0..count)
        .filter(|s| received.binary_search(s).is_err())
        .collect()
}

/// The datagrams lost of 2000 across `a -- b loss=20% seed=SEED`.
fn lost_with_seed(seed: u64) -> Vec<u32> {
    let net = Net::build(&format!(
        "a 198.51.100.1/24 -- b 198.51.100.2/24 loss=20% seed={seed}"
    ))
    .unwrap();
    net.node("a").run(|| lost_of(&net, 2000, 100))
}

#[test]
fn loss_20_percent_is_within_the_binomial_bound_and_replays_by_seed() {
    let first = lost_with_seed(7);
    // Binomial(2000, 0.2): mean 400, sd 17.9; the two-sided 99.9% interval is ±3.29 sd.
    assert!(
        (341..=459).contains(&first.len()),
        "{} of 2000 lost at 20%",
        first.len()
    );
    assert_eq!(
        lost_with_seed(7),
        first,
        "the same seed must lose the same datagrams"
    );
    let other = lost_with_seed(8);
    assert!((341..=459).contains(&other.len()), "{}", other.len());
    assert_ne!(other, first, "another seed must lose other datagrams");
}

#[netns_test(topology = "a -- b rate=10mbit")]
fn rate_10mbit_carries_a_tcp_bulk_transfer_at_8_5_to_10_5_mbit(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let b = net.node("b").ip();
    let listener = net
        .node("b")
        .run(|| TcpListener::bind(("0.0.0.0", 7001)))
        .unwrap();
    let stop = AtomicBool::new(false);
    let mbit = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut stream = TcpStream::connect((b, 7001)).unwrap();
            stream
                .set_write_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let chunk = vec![0x5a; 64 * 1024];
            while !stop.load(Ordering::Relaxed) {
                let _ = stream.write(&chunk);
            }
        });
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).unwrap(); // the first byte starts the clock
        // Two seconds from the first byte on, counting TCP payload only.
        let start = Instant::now();
        let mut bytes = 0usize;
        while start.elapsed() < Duration::from_secs(2) {
            bytes += stream.read(&mut buf).unwrap();
        }
        let mbit = bytes as f64 * 8.0 / start.elapsed().as_secs_f64() / 1e6;
        stop.store(true, Ordering::Relaxed);
        drop(stream);
        mbit
    });
    // Tolerance from the issue: 8.5 to 10.5 Mbit/s. The rate counts whole frames, so TCP payload
    // tops out near 9.6 Mbit/s (1448 of every 1514 bytes).
    assert!((8.5..=10.5).contains(&mbit), "{mbit:.2} Mbit/s");
}

/// What the two nodes' interfaces, addresses and routes look like, as `ip` prints them.
fn snapshot(net: &Net) -> String {
    let mut out = String::new();
    for node in ["a", "b"] {
        for args in [
            &["-o", "link"][..],
            &["-o", "address"],
            &["route"],
            &["-6", "route"],
        ] {
            let o = net.node(node).command("ip").args(args).output().unwrap();
            assert!(o.status.success(), "ip {args:?} in {node}");
            out.push_str(&String::from_utf8_lossy(&o.stdout));
        }
    }
    out
}

/// Cuts the link mid-flow and mends it: nothing crosses after `down()` returns (100 ms of
/// datagrams are sent into the cut), traffic flows within 100 ms of `up()` (plus the link's
/// delay), and interfaces, addresses and routes are what they were.
fn cut_and_mend(net: &Net, delay: Duration) {
    let (sink, socket, b) = flowing(net);
    let before = snapshot(net);
    let link = net.link("a", "b");

    link.down().unwrap();
    assert!(link.is_down());
    let cut = Instant::now();
    for seq in 1..=20 {
        send(&socket, b, seq);
        std::thread::sleep(Duration::from_millis(5)); // paces the probes across 100 ms
    }
    // Absence is the measurement: wait out the 100 ms plus the link's delay.
    let late = sink.next(Duration::from_millis(100) + delay);
    assert!(
        late.is_none(),
        "datagram {late:?} crossed a cut link, {:?} after down()",
        late.map(|(_, at)| at - cut)
    );
    link.down().unwrap(); // cutting a cut link does nothing

    link.up().unwrap();
    let mended = Instant::now();
    send(&socket, b, 100);
    let (seq, at) = sink.next(PATIENCE).expect("flows again after up()");
    assert_eq!(seq, 100, "only the datagram sent after up() arrives");
    assert!(
        at - mended <= Duration::from_millis(100) + delay,
        "flowed again only after {:?}",
        at - mended
    );
    assert!(!link.is_down());
    assert_eq!(
        snapshot(net),
        before,
        "the same interfaces, addresses and routes"
    );
}

#[netns_test(topology = "a 2001:db8::1/64 198.51.100.1/24 -- b 2001:db8::2/64 198.51.100.2/24")]
fn down_and_up_on_a_plain_link(net: &Net) {
    cut_and_mend(net, Duration::ZERO);
}

#[netns_test(
    topology = "a 2001:db8::1/64 198.51.100.1/24 -- b 2001:db8::2/64 198.51.100.2/24 delay=10ms"
)]
fn down_and_up_on_a_conditioned_link(net: &Net) {
    cut_and_mend(net, Duration::from_millis(10));
}

#[netns_test(topology = "a -- b delay=10ms")]
fn set_changes_the_delay_without_rebuilding_the_link(net: &Net) {
    let b = net.node("b").ip();
    let _echo = Peer::start(net, "b", PORT, true);
    let socket = client(0);
    round_trip(&socket, b, 0);
    let before = snapshot(net);
    let link = net.link("b", "a");
    // Tolerance: the configured round trip plus up to 25 ms of scheduling.
    let rtt = ms(round_trip(&socket, b, 1));
    assert!((20.0..=45.0).contains(&rtt), "before: {rtt:.1} ms");
    link.set(Conditions {
        delay: Duration::from_millis(60),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(link.conditions().unwrap().delay, Duration::from_millis(60));
    for seq in 2..5 {
        let rtt = ms(round_trip(&socket, b, seq));
        assert!((120.0..=145.0).contains(&rtt), "after set: {rtt:.1} ms");
    }
    // Loss acts per packet: the nodes stop handing over offloaded bursts and back again.
    link.set(Conditions {
        loss_percent: 100.0,
        ..Default::default()
    })
    .unwrap();
    send(&socket, b, 10);
    let mut buf = [0u8; 16];
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        socket.recv_from(&mut buf).is_err(),
        "100% loss lets nothing through"
    );
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    link.set(Conditions::default()).unwrap();
    let rtt = ms(round_trip(&socket, b, 11));
    assert!(rtt < 25.0, "no conditions: {rtt:.1} ms");
    assert_eq!(snapshot(net), before, "nothing was rebuilt");
}

#[netns_test(topology = "a -- b\nb -- c delay=1ms")]
fn links_are_found_either_way_and_plain_ones_refuse_conditions(net: &Net) {
    let plain = net.link("b", "a");
    assert_eq!(plain.ends(), [("a", "eth0"), ("b", "eth0")]);
    assert_eq!(plain.conditions(), None);
    assert_eq!(plain.seed(), None);
    let err = plain
        .set(Conditions {
            delay: Duration::from_millis(5),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    let text = err.to_string();
    assert!(
        text.contains("a:eth0 -- b:eth0") && text.contains("delay=0ms"),
        "{text}"
    );
    let bad = net.link("c", "b").set(Conditions {
        loss_percent: 150.0,
        ..Default::default()
    });
    assert!(bad.unwrap_err().to_string().contains("loss_percent 150"));
    assert!(net.try_link("a", "c").is_none());
    let panic = std::panic::catch_unwind(|| {
        net.link("a", "c");
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("b:eth1 -- c:eth0"), "{message}");
}

#[netns_test(topology = "switch s\nh1 -- s delay=20ms\nh2 -- s", node = "h1")]
fn a_switch_port_can_be_conditioned(net: &Net) {
    let h2 = net.node("h2").ip();
    let _echo = Peer::start(net, "h2", PORT, true);
    let socket = client(0);
    round_trip(&socket, h2, 0);
    // Only the h1 port is delayed: 40 ms per round trip, plus up to 25 ms of scheduling.
    let rtt = ms(round_trip(&socket, h2, 1));
    assert!((40.0..=65.0).contains(&rtt), "{rtt:.1} ms");
}

/// Run by `a_failure_prints_the_seed_and_the_seed_replays_it` in a child process: loses some of
/// 200 datagrams and fails, listing them.
#[netns_test(topology = "a 198.51.100.1/24 -- b 198.51.100.2/24 loss=30%")]
#[ignore = "run by the test below in a child process"]
fn lossy_probe(net: &Net) {
    let lost = lost_of(net, 200, 200);
    panic!("lost: {lost:?}");
}

fn run_probe(seed: Option<&str>) -> (String, String) {
    let mut command = netns_test_e2e::probe_command(&[], "lossy_probe");
    command.arg("--test-threads=1");
    command.env_remove("NETNS_TEST_SEED");
    if let Some(seed) = seed {
        command.env("NETNS_TEST_SEED", seed);
    }
    let out: Output = command.output().unwrap();
    let text = netns_test_e2e::output_text(&out);
    assert!(!out.status.success(), "the probe fails: {text}");
    let lost = text
        .lines()
        .find_map(|l| l.split_once("lost: [").map(|(_, rest)| rest.to_string()))
        .unwrap_or_else(|| panic!("no lost list in: {text}"));
    (lost, text)
}

#[test]
fn a_failure_prints_the_seed_and_the_seed_replays_it() {
    let (lost, text) = run_probe(None);
    let seed = text
        .split("NETNS_TEST_SEED=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no seed printed: {text}"))
        .to_string();
    assert!(
        text.contains(&format!("test seed {seed} (derived from the test's name)")),
        "{text}"
    );
    assert!(text.contains("link a:eth0 -- b:eth0"), "{text}");
    let (replayed, text) = run_probe(Some(&seed));
    assert_eq!(
        replayed, lost,
        "NETNS_TEST_SEED={seed} replays the same losses"
    );
    assert!(text.contains("(from NETNS_TEST_SEED)"), "{text}");
    let other: u64 = seed.parse::<u64>().unwrap().wrapping_add(1);
    let (different, _) = run_probe(Some(&other.to_string()));
    assert_ne!(different, lost, "another seed loses other datagrams");
}

#[netns_test(
    topology = "switch s 203.0.113.254/24\nh1 -- s delay=1ms\nh2 -- s",
    node = "h1"
)]
fn a_switch_whose_first_port_is_conditioned_is_up_when_the_body_starts(net: &Net) {
    // Found while writing these tests: such a bridge got its carrier while being opened, which
    // the kernel handles at its next once-a-second link-event run; until then the switch's own
    // address sent nothing. The build now makes the kernel apply it before the body starts.
    let out = net
        .node("s")
        .command("ip")
        .args(["-br", "link", "show", "br0"])
        .output()
        .unwrap();
    let state = String::from_utf8_lossy(&out.stdout);
    assert!(
        state.contains(" UP ") && !state.contains("NO-CARRIER"),
        "br0 is not up yet: {state}"
    );
    let s = net.node("s").ip();
    let _echo = Peer::start(net, "s", PORT, true);
    round_trip(&client(0), s, 1);
}

//! `netns-bench`: what netns-test costs, next to what projects do today (an iproute2 script) and
//! next to what the kernel itself needs (bare `unshare`). Prints medians and ratios.
//!
//! Run as root: `cargo run --release -p netns-test-bench` (`-- --switch-only` for the switch
//! table alone, `-- --throughput-only` for the TCP table alone, `-- --nat-only` for the NAT
//! table alone, `-- --change-only` for the live-change table alone, `-- --scale-only [RUNS]`
//! for the 1,000- to 4,000-node table alone). It needs `ip` (iproute2), `nft` (nftables) and util-linux `unshare`/`setpriv`
//! for the comparison columns; the script runs in a private mount
//! namespace whose `/run/netns` is a tmpfs, so the host's `/run/netns` never sees an entry.

mod change;
mod nat;
mod scale;

use std::fs::File;
use std::os::fd::OwnedFd;
use std::process::Command;
use std::time::{Duration, Instant};

use netns_test::Net;
use nix::sched::{CloneFlags, setns, unshare};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn time<T>(runs: usize, warmup: usize, mut f: impl FnMut() -> T) -> Duration {
    for _ in 0..warmup {
        drop(f());
    }
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                drop(f());
                start.elapsed()
            })
            .collect(),
    )
}

/// Medians of `a` and `b`, sampled alternately so both meet the same machine noise. With
/// `settle`, each sample starts after the kernel has finished tearing down the previous one (see
/// the README: the benchmark sleeps, the library never does).
fn versus<A, B>(
    runs: usize,
    settle: Option<Duration>,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (Duration, Duration) {
    for _ in 0..2 {
        drop(a());
        drop(b());
    }
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        if let Some(pause) = settle {
            std::thread::sleep(pause);
        }
        let start = Instant::now();
        drop(a());
        sa.push(start.elapsed());
        if let Some(pause) = settle {
            std::thread::sleep(pause);
        }
        let start = Instant::now();
        drop(b());
        sb.push(start.elapsed());
    }
    (median(sa), median(sb))
}

/// The kernel floor: `n` empty network namespaces created with bare `unshare`, held by fds, and
/// dropped, on the calling thread (which returns to its namespace).
fn floor(n: usize) {
    drop(empty_namespaces(n));
}

/// `n` empty network namespaces made with bare `unshare` on the calling thread, which returns
/// to its own namespace; held by the returned fds.
fn empty_namespaces(n: usize) -> Vec<OwnedFd> {
    let home: OwnedFd = File::open("/proc/thread-self/ns/net").unwrap().into();
    let held = (0..n).map(|_| enter_new_namespace()).collect();
    setns(&home, CloneFlags::CLONE_NEWNET).unwrap();
    held
}

/// A new empty network namespace, entered by the calling thread and held by the returned fd.
fn enter_new_namespace() -> OwnedFd {
    unshare(CloneFlags::CLONE_NEWNET).unwrap();
    File::open("/proc/thread-self/ns/net").unwrap().into()
}

/// How long a "settled" sample waits first, for the kernel to finish tearing down whatever the
/// previous sample dropped.
const SETTLE: Duration = Duration::from_millis(1500);

/// What a dropped topology costs whoever comes next: right after the drop, this thread makes
/// empty namespaces for 300 ms (held, so their own teardown does not interfere). One normally
/// takes a third of a millisecond; the kernel tears the dropped devices down meanwhile, partly
/// under the routing lock that making a namespace also takes. Returns the longest single wait
/// and the sum of all waits over 1 ms.
fn waits_after(drop_it: impl FnOnce()) -> (Duration, Duration) {
    let home: OwnedFd = File::open("/proc/thread-self/ns/net").unwrap().into();
    let mut held = Vec::new();
    let (mut longest, mut stalled) = (Duration::ZERO, Duration::ZERO);
    let start = Instant::now();
    drop_it();
    while start.elapsed() < Duration::from_millis(300) {
        let t = Instant::now();
        held.push(enter_new_namespace());
        let took = t.elapsed();
        longest = longest.max(took);
        if took > Duration::from_millis(1) {
            stalled += took;
        }
    }
    setns(&home, CloneFlags::CLONE_NEWNET).unwrap();
    drop(held);
    (longest, stalled)
}

/// The teardown table: waits met by namespace creation in the 300 ms after a drop, medians of
/// 7, the kernel settled before each sample.
fn teardown_table() {
    let sample = |make: &dyn Fn() -> Box<dyn FnOnce()>| {
        let (longest, stalled): (Vec<Duration>, Vec<Duration>) = (0..7)
            .map(|_| {
                std::thread::sleep(SETTLE);
                waits_after(make())
            })
            .unzip();
        (median(longest), median(stalled))
    };
    println!(
        "| dropped, then 300 ms of making empty namespaces (medians of 7) | longest single wait | all waits over 1 ms |"
    );
    println!("|---|---|---|");
    let row = |label: &str, (longest, stalled): (Duration, Duration)| {
        println!("| {label} | {} | {} |", ms(longest), ms(stalled));
    };
    row("nothing", sample(&|| Box::new(|| ())));
    let empty = sample(&|| {
        let held = empty_namespaces(11);
        Box::new(move || drop(held))
    });
    row("11 empty namespaces (the floor of a 10-host switch)", empty);
    for (label, text) in [
        ("pair `a -- b`", "a -- b".to_string()),
        ("a switch with one host", "switch s\nh -- s".to_string()),
        ("a switch with 10 hosts", switch(10)),
        ("a switch with 100 hosts", switch(100)),
    ] {
        row(
            label,
            sample(&|| {
                let net = Net::build(&text).unwrap();
                Box::new(move || drop(net))
            }),
        );
    }
}

const PAIR_SCRIPT: &str = r#"
set -e
# A tmpfs over /run in this private mount namespace: /run/netns is made there, never on the host.
mount -t tmpfs netns-bench /run && mkdir /run/netns
for i in $(seq "$RUNS"); do
  s=$(date +%s%N)
  ip netns add bench-a; ip netns add bench-b
  ip -n bench-a link add eth0 type veth peer name eth0 netns bench-b
  ip -n bench-a addr add 198.18.0.1/24 dev eth0
  ip -n bench-b addr add 198.18.0.2/24 dev eth0
  ip -n bench-a link set eth0 up; ip -n bench-b link set eth0 up
  ip -n bench-a link set lo up; ip -n bench-b link set lo up
  ip netns del bench-a; ip netns del bench-b
  e=$(date +%s%N)
  echo $((e - s))
done
"#;

/// The pair built and removed by an iproute2 script, as most projects do, per-iteration times.
fn iproute2_pair(runs: usize) -> Option<Duration> {
    run_script(PAIR_SCRIPT, runs, &[])
}

/// Runs a bash `script` that prints one iteration's time in ns per line, `RUNS` times, in a
/// private mount namespace, with `env` set; the median after three warm-up iterations.
fn run_script(script: &str, runs: usize, env: &[(&str, &std::ffi::OsStr)]) -> Option<Duration> {
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c", script])
        .env("RUNS", runs.to_string())
        .envs(env.iter().copied())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("script failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let samples: Vec<Duration> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .map(Duration::from_nanos)
        .collect();
    (!samples.is_empty()).then(|| median(samples[samples.len().min(3)..].to_vec()))
}

fn switch(n: usize) -> String {
    let mut text = String::from("switch s\n");
    for i in 0..n {
        text.push_str(&format!("h{i} -- s\n"));
    }
    text
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What `#[netns_test] fn empty() {}` expands to.
static EMPTY: netns_test::Test = netns_test::Test::new("bench::empty", "node main");

/// The same with a `hosts` line: the body's view of the file system carries one more name.
static NAMED: netns_test::Test = netns_test::Test::new(
    "bench::named",
    "node main\nhosts relay.example.test 198.51.100.10 2001:db8::10",
);

/// Empty `#[netns_test]` bodies (plain, and with a `hosts` line) against a plain `#[test]`
/// body: what the harness adds. Every body runs in its node's view (a mount namespace with the
/// topology's names), so both columns pay for names.
fn empty_test_overhead(runs: usize) -> [Duration; 3] {
    // Each libtest test runs on a fresh thread; so does each of these.
    let harnessed = time(runs, 10, || {
        std::thread::spawn(|| EMPTY.run(|_| ())).join().unwrap()
    });
    let named = time(runs, 10, || {
        std::thread::spawn(|| NAMED.run(|_| ())).join().unwrap()
    });
    let plain = time(runs, 10, || std::thread::spawn(|| ()).join().unwrap());
    [harnessed, named, plain]
}

/// `--X-only RUNS`: the runs given after the flag, else `default`.
fn arg_runs(args: &[String], default: usize) -> usize {
    args.get(2).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--empty-test-only") {
        // The rootless column: this binary again, as another user.
        let [h, n, p] = empty_test_overhead(200);
        println!("{} {} {}", h.as_nanos(), n.as_nanos(), p.as_nanos());
        return;
    }
    if args.get(1).map(String::as_str) == Some("--throughput-only") {
        throughput();
        return;
    }
    if args.get(1).map(String::as_str) == Some("--change-only") {
        change::table(200);
        return;
    }
    if args.get(1).map(String::as_str) == Some("--scale-only") {
        scale::table(arg_runs(&args, 5));
        return;
    }
    if args.get(1).map(String::as_str) == Some("--nat-only") {
        nat::table(100);
        return;
    }
    if args.get(1).map(String::as_str) == Some("--switch-only") {
        switch_table();
        println!();
        teardown_table();
        return;
    }
    if args.get(1).map(String::as_str) == Some("--teardown-probe") {
        let text = switch(arg_runs(&args, 4000));
        let net = Net::build(&text).unwrap();
        let start = Instant::now();
        drop(net);
        for _ in 0..40 {
            let t = Instant::now();
            floor(100);
            eprintln!(
                "{:>6.1} s: 100 namespaces {}",
                start.elapsed().as_secs_f64(),
                ms(t.elapsed())
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("--switch-loop") {
        // `--switch-loop N COUNT PAUSE_MS`, for a profiler (`perf record -a -g`): builds and
        // drops a switch LAN of N hosts COUNT times, PAUSE_MS apart, printing each build's time.
        let arg =
            |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
        let (n, count, pause) = (arg(2, 100), arg(3, usize::MAX), arg(4, 0) as u64);
        let text = switch(n);
        for _ in 0..count {
            std::thread::sleep(Duration::from_millis(pause));
            let start = Instant::now();
            let net = Net::build(&text).unwrap();
            let built = start.elapsed();
            drop(net);
            eprintln!("build {} total {}", ms(built), ms(start.elapsed()));
        }
        return;
    }
    let runs = 200;
    println!(
        "netns-bench: medians of {runs} runs unless noted; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();

    let (pair, floor2) = versus(runs, None, || Net::build("a -- b").unwrap(), || floor(2));
    let script = iproute2_pair(30);
    println!("| pair `a -- b` (2 nodes, 1 veth, 2 addresses, up), build + drop | median | ratio |");
    println!("|---|---|---|");
    println!("| netns-test `Net::build` + drop | {} | 1 |", ms(pair));
    match script {
        Some(s) => println!(
            "| iproute2 script (`ip netns add`, `ip -n A link add ... netns B`, `ip addr`, `ip link set up`, `ip netns del`; 30 runs) | {} | netns-test is {:.1}x faster |",
            ms(s),
            s.as_secs_f64() / pair.as_secs_f64()
        ),
        None => println!("| iproute2 script | not run (needs `ip` and `unshare`) | |"),
    }
    println!(
        "| kernel floor: 2 empty namespaces, bare `unshare` + close | {} | netns-test is {:.2}x the floor |",
        ms(floor2),
        pair.as_secs_f64() / floor2.as_secs_f64()
    );
    println!();

    nat::table(runs);
    println!();
    change::table(runs);
    println!();

    switch_table();
    println!();
    teardown_table();
    println!();
    scale::table(3);
    println!();

    let [harnessed, named, plain] = empty_test_overhead(runs);
    println!(
        "| empty test body | `#[netns_test]` | with a `hosts` line | plain `#[test]` | added | added with `hosts` |"
    );
    println!("|---|---|---|---|---|---|");
    let overhead_row = |label: &str, [h, n, p]: [Duration; 3]| {
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            ms(h),
            ms(n),
            ms(p),
            ms(h.saturating_sub(p)),
            ms(n.saturating_sub(p))
        );
    };
    overhead_row("root", [harnessed, named, plain]);
    for (label, command) in [
        (
            "rootless (uid 65534, `setpriv`)",
            vec![
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ],
        ),
        (
            "forced user namespace as root (`NETNS_TEST_MODE=userns`)",
            vec!["env", "NETNS_TEST_MODE=userns"],
        ),
    ] {
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(command[0])
            .args(&command[1..])
            .arg(&exe)
            .arg("--empty-test-only")
            .output();
        match out.ok().filter(|o| o.status.success()) {
            Some(o) => {
                let text = String::from_utf8_lossy(&o.stdout);
                let v: Vec<u64> = text
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                overhead_row(label, [0, 1, 2].map(|i| Duration::from_nanos(v[i])));
            }
            None => println!("| {label} | not run | | | | |"),
        }
    }
    println!();

    let before = rss_kib();
    let big = Net::build(&switch(500)).unwrap();
    let during = rss_kib();
    println!(
        "user-space memory per live node: {:.1} KiB (RSS {} KiB before, {} KiB with a 501-node switch LAN alive)",
        (during.saturating_sub(before)) as f64 / 501.0,
        before,
        during
    );
    drop(big);
    println!();
    let (conditioned, plain) = versus(
        runs,
        None,
        || Net::build("a -- b delay=1ms").unwrap(),
        || Net::build("a -- b").unwrap(),
    );
    println!(
        "conditioned pair `a -- b delay=1ms`, build + drop: {} (plain pair in the same run: {}; the link is two veth pairs through the process's relay, made once)",
        ms(conditioned),
        ms(plain)
    );
    println!();
    throughput();
    println!();
    suite();
}

/// A switch LAN of N hosts against the floor of N+1 namespaces, back to back and settled.
fn switch_table() {
    println!(
        "| switch with N hosts, build + drop | netns-test | floor (N+1 namespaces) | ratio | per node |"
    );
    println!("|---|---|---|---|---|");
    for (n, runs, settled) in [
        (10usize, 41usize, false),
        (10, 9, true),
        (100, 9, false),
        (100, 5, true),
        (500, 5, false),
        (500, 5, true),
    ] {
        let text = switch(n);
        let (built, bare) = versus(
            runs,
            settled.then_some(SETTLE),
            || Net::build(&text).unwrap(),
            || floor(n + 1),
        );
        let how = if settled {
            "kernel settled between runs"
        } else {
            "back to back"
        };
        println!(
            "| {n}, {how} | {} | {} | {:.2}x | {:.3} ms |",
            ms(built),
            ms(bare),
            built.as_secs_f64() / bare.as_secs_f64(),
            built.as_secs_f64() * 1e3 / (n + 1) as f64
        );
    }
}

/// TCP bulk throughput between two nodes, plain veth against conditioned links with delay only:
/// one connection, 2 s from the first byte, median of 3.
fn throughput() {
    println!("| TCP, one connection, `a` to `b`, 2 s, median of 3 | Gbit/s |");
    println!("|---|---|");
    for topology in [
        "a -- b",
        "a -- b delay=0ms",
        "a -- b delay=1ms",
        "a -- b delay=5ms",
        "a -- b delay=20ms",
    ] {
        let mut runs: Vec<f64> = (0..3).map(|_| bulk(topology, false)).collect();
        runs.sort_by(f64::total_cmp);
        println!("| `{topology}` | {:.2} |", runs[1]);
    }
    // At 40 ms of round trip the default socket buffers (4 MiB to send, 6 MiB to receive) are
    // the bound, not the relay: raised to 32 MiB in both nodes, the same link goes faster.
    let mut runs: Vec<f64> = (0..3).map(|_| bulk("a -- b delay=20ms", true)).collect();
    runs.sort_by(f64::total_cmp);
    println!(
        "| `a -- b delay=20ms`, TCP buffers raised to 32 MiB in both nodes | {:.2} |",
        runs[1]
    );
}

fn bulk(topology: &str, big_buffers: bool) -> f64 {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let net = Net::build(topology).unwrap();
    if big_buffers {
        for node in net.nodes() {
            node.run(|| {
                // Per-namespace settings, written from a thread inside the node.
                for key in ["tcp_rmem", "tcp_wmem"] {
                    std::fs::write(format!("/proc/sys/net/ipv4/{key}"), "4096 131072 33554432")
                        .unwrap();
                }
            });
        }
    }
    let b = net.node("b");
    let listener = b.run(|| std::net::TcpListener::bind("0.0.0.0:9001").unwrap());
    let to = b.ip();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            net.node("a").run(|| {
                netns_test::assert_not_in_host_netns();
                let mut stream = std::net::TcpStream::connect((to, 9001)).unwrap();
                stream
                    .set_write_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let chunk = vec![0u8; 1 << 20];
                while !stop.load(Ordering::Relaxed) {
                    let _ = stream.write(&chunk);
                }
            })
        });
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).unwrap();
        let start = Instant::now();
        let mut bytes = 0usize;
        while start.elapsed() < Duration::from_secs(2) {
            bytes += stream.read(&mut buf).unwrap();
        }
        let gbit = bytes as f64 * 8.0 / start.elapsed().as_secs_f64() / 1e9;
        stop.store(true, Ordering::Relaxed);
        gbit
    })
}

/// Wall time of the 200 generated pair tests (`tests/tests/suite200.rs`), run by libtest with
/// its default parallelism, median of 5 runs.
fn suite() {
    let build = Command::new(env!("CARGO"))
        .args([
            "test",
            "--release",
            "-p",
            "netns-test-e2e",
            "--test",
            "suite200",
            "--no-run",
            "--message-format=json",
        ])
        .output();
    let Some(exe) = build.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("\"executable\":\"") && l.contains("suite200"))
            .find_map(|l| {
                l.split("\"executable\":\"")
                    .nth(1)?
                    .split('"')
                    .next()
                    .map(String::from)
            })
    }) else {
        println!("200-test suite: not run (cannot build it)");
        return;
    };
    let walls: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new(&exe).arg("-q").output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
            start.elapsed()
        })
        .collect();
    println!(
        "200 pair-topology tests (`cargo test` binary, default threads): {} wall, median of 5",
        ms(median(walls))
    );
}

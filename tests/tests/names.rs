//! Names (SPEC §12): every node's name and every `hosts` entry resolve in every node, through
//! glibc's resolver, for the body, `Node::run`, `Node::spawn` and `Node::command` alike (std,
//! tokio, getent, Python, curl); the host's `/etc/hosts` never changes. And the body's
//! `/sys/class/net` is its node's.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use netns_test::{Net, netns_test};

const TOPOLOGY: &str = "a 203.0.113.1/24 2001:db8::1/64 -- b 203.0.113.2/24
hosts relay.example.test 198.51.100.10 2001:db8:1::10";

fn resolve(name: &str) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = (name, 80)
        .to_socket_addrs()
        .map(|a| a.map(|s| s.ip()).collect())
        .unwrap_or_default();
    ips.sort();
    ips.dedup();
    ips
}

fn ips(text: &[&str]) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = text.iter().map(|t| t.parse().unwrap()).collect();
    ips.sort();
    ips
}

#[netns_test(topology = "a 203.0.113.1/24 2001:db8::1/64 -- b 203.0.113.2/24
hosts relay.example.test 198.51.100.10 2001:db8:1::10")]
fn the_body_resolves_every_node_and_hosts_entry(net: &Net) {
    netns_test::assert_not_in_host_netns();
    assert_eq!(resolve("a"), ips(&["203.0.113.1", "2001:db8::1"]));
    assert_eq!(resolve("b"), ips(&["203.0.113.2"]));
    assert_eq!(
        resolve("relay.example.test"),
        ips(&["198.51.100.10", "2001:db8:1::10"])
    );
    // A real client by name: the server's node, found by its name.
    let b = net.node("b");
    let listener = b.run(|| std::net::TcpListener::bind("203.0.113.2:7000").unwrap());
    let stream = std::net::TcpStream::connect("b:7000").unwrap();
    assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    // The body's /sys/class/net is its node's.
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["eth0", "lo"]);
}

#[netns_test(topology = "a 203.0.113.1/24 2001:db8::1/64 -- b 203.0.113.2/24
hosts relay.example.test 198.51.100.10 2001:db8:1::10")]
fn run_spawn_and_command_resolve_the_same_names(net: &Net) {
    let b = net.node("b");
    assert_eq!(b.run(|| resolve("a")), ips(&["203.0.113.1", "2001:db8::1"]));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let spawned = runtime
        .block_on(b.spawn(async {
            let by_tokio: Vec<SocketAddr> = tokio::net::lookup_host("relay.example.test:80")
                .await
                .unwrap()
                .collect();
            // The blocking pool's threads are in the node too.
            let by_pool = tokio::task::spawn_blocking(|| resolve("a")).await.unwrap();
            (by_tokio.len(), by_pool)
        }))
        .unwrap();
    assert_eq!(spawned, (2, ips(&["203.0.113.1", "2001:db8::1"])));
    let getent = b
        .command("getent")
        .args(["hosts", "relay.example.test"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&getent.stdout);
    assert!(text.contains("relay.example.test"), "{text}");
    let python = b
        .command("python3")
        .args(["-c", "import socket; print(socket.gethostbyname('a'))"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&python.stdout).trim(),
        "203.0.113.1"
    );
}

/// curl, a client with resolver of its own choosing (glibc here), fetches from a node by name.
#[netns_test(topology = "a 203.0.113.1/24 2001:db8::1/64 -- b 203.0.113.2/24
hosts relay.example.test 198.51.100.10 2001:db8:1::10")]
fn curl_fetches_from_a_node_by_name(net: &Net) {
    netns_test::assert_not_in_host_netns();
    use std::io::{Read as _, Write as _};
    let listener = net
        .node("b")
        .run(|| std::net::TcpListener::bind("203.0.113.2:8080").unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let n = stream.read(&mut request).unwrap();
        let request = String::from_utf8_lossy(&request[..n]).into_owned();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
            .unwrap();
        request
    });
    let curl = net
        .node("a")
        .command("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "http://b:8080/",
        ])
        .output()
        .expect("curl is installed (.ci/run installs it)");
    assert_eq!(
        String::from_utf8_lossy(&curl.stdout),
        "hello",
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    assert!(server.join().unwrap().contains("Host: b:8080"));
}

/// Alone in a process of its own (other tests' nets would hold files of the same process).
#[test]
fn the_hosts_own_etc_hosts_never_changes() {
    if std::env::var_os("NAMES_ALONE").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "the_hosts_own_etc_hosts_never_changes",
                "--nocapture",
            ])
            .env("NAMES_ALONE", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            netns_test_e2e::output_text(&out)
        );
        return;
    }
    let before = std::fs::read_to_string("/etc/hosts").unwrap();
    let net = Net::build(TOPOLOGY).unwrap();
    // Views are made as the nodes are used: use them all.
    for node in net.nodes() {
        node.run(|| assert_eq!(resolve("b"), ips(&["203.0.113.2"])));
    }
    let _ = net.node("a").command("true").status().unwrap();
    // An address renewed rewrites the names the views show, not the host's.
    net.node("b")
        .add_address("eth0", "203.0.113.20/24")
        .unwrap();
    // This thread is outside every node: the file it reads is the host's, unchanged (and no
    // name is looked up from here: that would be traffic from the host).
    assert_eq!(std::fs::read_to_string("/etc/hosts").unwrap(), before);
    assert!(!before.contains("relay.example.test"));
    drop(net);
    let leftover: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("netns-test-hosts-{}-", std::process::id()))
        })
        .collect();
    assert!(leftover.is_empty(), "{leftover:?}");
}

/// The thread that ran a body leaves the node's view with it: what it does next (a report, a
/// pin, the next test on the same thread) sees the file system it had before.
#[test]
fn the_body_thread_comes_back_from_the_view() {
    let mount_ns = || std::fs::read_link("/proc/thread-self/ns/mnt").unwrap();
    let before = (mount_ns(), std::env::current_dir().unwrap());
    let mut inside = None;
    netns_test::Test::new("comes_back", TOPOLOGY).run(|_net| {
        netns_test::assert_not_in_host_netns();
        inside = Some((mount_ns(), std::env::current_dir().unwrap(), resolve("b")));
    });
    let inside = inside.unwrap();
    assert_ne!(inside.0, before.0, "the body ran outside the node's view");
    assert_eq!(inside.1, before.1, "the body lost its working directory");
    assert_eq!(inside.2, ips(&["203.0.113.2"]));
    assert_eq!((mount_ns(), std::env::current_dir().unwrap()), before);
}

// The README's example ("Names"), as printed there.
#[netns_test(topology = "client -- server\nhosts api.example.test 198.18.0.2")]
fn by_name(net: &Net) {
    let server = net.node("server");
    let _listener = server.run(|| std::net::TcpListener::bind("0.0.0.0:7000").unwrap());
    std::net::TcpStream::connect("server:7000").unwrap(); // a node's name
    std::net::TcpStream::connect("api.example.test:7000").unwrap(); // a hosts entry
}

/// A test process killed before its nets dropped leaves its names directories; the sweep
/// (`netns-test clean`) removes those of ended runs only.
#[test]
fn a_killed_runs_names_are_swept_and_a_live_runs_kept() {
    let dir = std::env::temp_dir().join(format!("names-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let live = format!("netns-test-hosts-{}.{start}-3", std::process::id());
    // The same pid with another start time is a run that ended (its pid reused by us).
    let reused = format!("netns-test-hosts-{}.1-0", std::process::id());
    let dead = "netns-test-hosts-4194300.77-0";
    for name in [live.as_str(), reused.as_str(), dead, "unrelated-dir"] {
        std::fs::create_dir(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("hosts.1"), "203.0.113.1 a\n").unwrap();
    }
    let mut removed = netns_test::clean_stale_names(&dir).unwrap();
    removed.sort();
    let mut expected = [dir.join(dead), dir.join(&reused)];
    expected.sort();
    assert_eq!(removed, expected);
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [live.as_str(), "unrelated-dir"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

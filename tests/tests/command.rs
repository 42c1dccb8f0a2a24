//! Processes started with `Node::command` live in their node: its interfaces in `/proc/net` and
//! `/sys/class/net`, its addresses for their traffic.

use std::io::Read;

use netns_test::{Net, netns_test};

#[netns_test(topology = "a:uplink0 -- b:downlink7")]
fn a_process_sees_its_node_in_proc_and_sys(net: &Net) {
    let b = net.node("b");
    let out = b.command("cat").arg("/proc/net/dev").output().unwrap();
    let proc_net = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(proc_net.contains("downlink7:"), "{proc_net}");
    assert!(!proc_net.contains("uplink0:"), "{proc_net}");

    let out = b.command("ls").arg("/sys/class/net").output().unwrap();
    let mut sys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    sys.sort();
    assert_eq!(sys, ["downlink7", "lo"], "only b's interfaces");

    let mtu = b
        .command("cat")
        .arg("/sys/class/net/downlink7/operstate")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&mtu.stdout).trim(), "up");
    // The host's /sys is untouched by the process's private mount.
    assert!(!std::path::Path::new("/sys/class/net/downlink7").exists());
}

#[netns_test(topology = "a -- b")]
fn a_process_sends_real_traffic_from_its_node(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let b = net.node("b");
    let listener = b.run(|| std::net::TcpListener::bind((b.ip(), 7200)).unwrap());
    // bash's /dev/tcp: a connection made by another process, from node a.
    let status = net
        .node("a")
        .command("bash")
        .arg("-c")
        .arg(format!("echo from-a-process > /dev/tcp/{}/7200", b.ip()))
        .status()
        .unwrap();
    assert!(status.success());
    let (mut stream, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), net.node("a").ip());
    let mut got = String::new();
    stream.read_to_string(&mut got).unwrap();
    assert_eq!(got, "from-a-process\n");
}

#[netns_test(topology = "a -- b")]
fn processes_die_with_the_net(net: &Net) {
    let mut child = net.node("b").command("sleep").arg("1000").spawn().unwrap();
    let pid = child.id();
    let again = netns_test::Net::build("x -- y").unwrap();
    let mut other = again
        .node("y")
        .command("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    drop(again);
    // Dropping a Net kills what was started in it, and only that.
    let status = other.wait().unwrap();
    assert!(!status.success(), "the process outlived its Net");
    assert!(
        child.try_wait().unwrap().is_none(),
        "a process of another Net was killed"
    );
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[netns_test(topology = "a -- b\nb -- c")]
async fn a_tokio_process_from_node_command_runs_inside_the_node(net: &Net) {
    let mut ls = tokio::process::Command::from(net.node("b").command("ls"));
    let output = ls.arg("/sys/class/net").output().await.unwrap();
    assert!(output.status.success());
    let names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(names, ["eth0", "eth1", "lo"]);
}

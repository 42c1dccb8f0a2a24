//! Nothing outlives a dropped `Net`: after 100 build/drop cycles of a five-node topology, with a
//! runtime, a thread and a process started in it each time, the process holds exactly the file
//! descriptors and threads it held before. The same for conditioned links (ports in the relay
//! namespace, per-link relay state), cut and conditioned mid-test, and for builds the kernel
//! refuses halfway; the process's one relay is made by the first cycle, before counting.

use netns_test::Net;
use netns_test_e2e::{open_fds, thread_exits, thread_ids, threads_left};

const LAN: &str = include_str!("../../fixtures/lan.topo");

fn cycle() {
    let net = Net::build(LAN).unwrap();
    let h1 = net.node("h1");
    let (tx, rx) = std::sync::mpsc::channel();
    h1.spawn(async move { tx.send(netns_test::current_netns_inode()).unwrap() });
    assert_eq!(rx.recv().unwrap(), h1.netns_inode());
    assert_eq!(
        net.node("h2").run(netns_test::current_netns_inode),
        net.node("h2").netns_inode()
    );
    let status = net.node("h3").command("true").status().unwrap();
    assert!(status.success());
    drop(net);
}

/// Every thread of this process, with the inode of its network namespace.
fn thread_namespaces() -> Vec<(i32, u64)> {
    use std::os::unix::fs::MetadataExt;
    thread_ids()
        .into_iter()
        .filter_map(|tid| {
            let ns = std::fs::metadata(format!("/proc/self/task/{tid}/ns/net")).ok()?;
            Some((tid, ns.ino()))
        })
        .collect()
}

/// The checks here can fail: a node's runtime thread lives in the node's namespace as long as
/// the `Net` does, and is reported, as left behind and as in a node, until the `Net` is
/// dropped. (Part of the one test below: a second test in this binary would run beside it and
/// move its counts.)
fn a_thread_that_stays_in_a_node_is_seen() {
    let before = thread_ids();
    let net = Net::build("a -- b").unwrap();
    let a = net.node("a");
    let (tx, rx) = std::sync::mpsc::channel();
    a.spawn(async move { tx.send(()).unwrap() });
    rx.recv().unwrap();
    let staying = threads_left(&before);
    assert_eq!(staying.len(), 1, "the runtime thread of `a`: {staying:?}");
    assert!(
        thread_namespaces().contains(&(staying[0], a.netns_inode())),
        "it runs in `a`"
    );
    drop(net);
    assert!(
        thread_exits(staying[0]),
        "the runtime thread ends with the Net"
    );
}

fn conditioned_cycle() {
    let net = Net::build("a -- b delay=1ms loss=1%\nswitch s\nb -- s jitter=1ms\nc -- s").unwrap();
    let inodes: Vec<u64> = net.nodes().map(|n| n.netns_inode()).collect();
    let link = net.link("a", "b");
    link.down().unwrap();
    link.up().unwrap();
    link.set(netns_test::Conditions::default()).unwrap();
    assert!(net.try_link("b", "c").is_none(), "b and c meet through s");
    net.link("s", "b")
        .set(netns_test::Conditions::default())
        .unwrap();
    drop(net);
    // A thread holds its namespace alive: none may be left in a node's (the relay's thread,
    // made by the first conditioned build, once was).
    let held: Vec<(i32, u64)> = thread_namespaces()
        .into_iter()
        .filter(|(tid, ns)| inodes.contains(ns) && !thread_exits(*tid))
        .collect();
    assert!(
        held.is_empty(),
        "threads still in the nodes' namespaces: {held:?}"
    );
}

/// A build the kernel refuses halfway: the namespaces are made on several threads while the
/// build thread already configures the first nodes, and one node's address is refused (the
/// kernel keeps `::1` for `lo`). The error names it; every namespace made so far is released.
fn refused_cycle() {
    let mut text = String::from("switch s\n");
    for i in 0..16 {
        let address = if i == 9 { " ::1/128" } else { "" };
        text.push_str(&format!("h{i}{address} -- s\n"));
    }
    let err = Net::build(&text).map(drop).unwrap_err();
    assert_eq!(err.node(), Some("h9"), "{err}");
    assert_eq!(err.operation(), "adding address ::1/128", "{err}");
}

#[test]
fn a_hundred_build_drop_cycles_leak_no_fd_and_no_thread() {
    a_thread_that_stays_in_a_node_is_seen();
    cycle(); // first use sets up process-wide state once
    conditioned_cycle();
    refused_cycle();
    let (fds, threads) = (open_fds(), thread_ids());
    for _ in 0..100 {
        cycle();
        conditioned_cycle();
        refused_cycle();
    }
    assert_eq!(open_fds(), fds, "file descriptors leaked");
    assert_eq!(threads_left(&threads), [], "threads leaked");
}

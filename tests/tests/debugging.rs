//! What a failing test leaves behind: the topology as the kernel holds it on stderr, and with
//! `NETNS_TEST_PCAP=DIR` a pcap file per interface that tcpdump reads. Passing tests print and
//! keep nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netns_test::{Net, netns_test};
use netns_test_e2e::output_text as text;

const TOPOLOGY: &str =
    "a 203.0.113.1/24 -- b 203.0.113.2/24\nroute a 198.51.100.0/24 via 203.0.113.2";

fn send(net: &Net) {
    netns_test_e2e::udp_across(net, "b", 4000);
}

#[netns_test(
    topology = "a 203.0.113.1/24 -- b 203.0.113.2/24\nroute a 198.51.100.0/24 via 203.0.113.2"
)]
#[ignore = "run by the tests below in a child process"]
fn failing_probe(net: &Net) {
    send(net);
    panic!("deliberate failure");
}

#[netns_test(
    topology = "a 203.0.113.1/24 -- b 203.0.113.2/24\nroute a 198.51.100.0/24 via 203.0.113.2"
)]
#[ignore = "run by the tests below in a child process"]
fn err_probe(net: &Net) -> Result<(), String> {
    send(net);
    Err("deliberate error".into())
}

#[netns_test(
    topology = "a 203.0.113.1/24 -- b 203.0.113.2/24\nroute a 198.51.100.0/24 via 203.0.113.2"
)]
#[should_panic(expected = "never comes")]
#[ignore = "run by the tests below in a child process"]
fn should_panic_probe(net: &Net) {
    send(net);
}

#[netns_test(
    topology = "a 203.0.113.1/24 -- b 203.0.113.2/24\nroute a 198.51.100.0/24 via 203.0.113.2"
)]
#[ignore = "run by the tests below in a child process"]
fn passing_probe(net: &Net) {
    send(net);
}

#[netns_test(topology = "a -- b")]
#[ignore = "run by the tests below in a child process"]
fn blocking_task_probe(net: &Net) {
    // A task that blocks its runtime thread, still blocking when the Net drops.
    drop(
        net.node("b")
            .spawn(async { std::thread::sleep(std::time::Duration::from_secs(30)) }),
    );
}

#[netns_test(topology = "a -- b")]
#[ignore = "run by the tests below in a child process"]
fn changing_probe(net: &Net) {
    net.apply("a -- c").unwrap();
    netns_test_e2e::udp_across(net, "c", 4000);
    panic!("deliberate failure after a change");
}

fn probe(name: &str, env: &[(&str, &str)]) -> Output {
    let mut command = netns_test_e2e::probe_command(&[], name);
    command.arg("--test-threads=1");
    for var in ["NETNS_TEST_PCAP", "NETNS_TEST_PCAP_ALL", "NETNS_TEST_KEEP"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netns-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_panic_prints_the_live_topology() {
    assert_eq!(TOPOLOGY.lines().count(), 2);
    let out = probe("failing_probe", &[]);
    let text = text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(
            "netns-test: debugging::failing_probe failed; its body ran in node `a` (the first \
             node of the topology; `node = \"...\"` picks another); its topology as the kernel \
             holds it:"
        ),
        "{text}"
    );
    let block = text.split("as the kernel holds it:\n").nth(1).unwrap();
    let lines: Vec<&str> = block.lines().take(9).collect();
    assert_eq!(lines[0], "a", "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  lo ") && l.contains("127.0.0.1/8")),
        "{text}"
    );
    let eth0 = lines.iter().find(|l| l.starts_with("  eth0 ")).unwrap();
    for want in ["UP", "mtu 1500", "203.0.113.1/24"] {
        assert!(eth0.contains(want), "{eth0}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("route  198.51.100.0/24 via 203.0.113.2 dev eth0")),
        "{text}"
    );
    assert!(lines.contains(&"b"), "{text}");
}

#[test]
fn an_err_and_a_missing_panic_print_it_too() {
    for name in ["err_probe", "should_panic_probe"] {
        let out = probe(name, &[]);
        let text = text(&out);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains(&format!("netns-test: debugging::{name} failed;")),
            "{text}"
        );
        assert!(text.contains("203.0.113.2/24"), "{text}");
    }
}

#[test]
fn a_passing_test_prints_nothing() {
    let mut command = Command::new(std::env::current_exe().unwrap());
    let out = command
        .args(["--ignored", "--exact", "passing_probe", "--nocapture"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!text(&out).contains("netns-test:"), "{}", text(&out));
}

fn tcpdump(file: &Path) -> String {
    // Run as a non-root view of ourselves (`unshare --user`): tcpdump run as uid 0 tries to switch
    // to its own user, which uid 0 of a user namespace may not.
    let out = Command::new("unshare")
        .args(["--user", "tcpdump", "-nn", "-r"])
        .arg(file)
        .output()
        .expect("tcpdump installed");
    assert!(
        out.status.success(),
        "tcpdump -r {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_failed_test_keeps_a_pcap_per_interface_that_tcpdump_reads() {
    let dir = scratch("pcap-failed");
    let out = probe(
        "failing_probe",
        &[("NETNS_TEST_PCAP", dir.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let test_dir = dir.join("debugging").join("failing_probe");
    assert!(
        text(&out).contains(&format!(
            "packet captures and topology.svg in {}",
            test_dir.display()
        )),
        "{}",
        text(&out)
    );
    assert_eq!(
        files_in(&test_dir),
        [
            "a-eth0.pcap",
            "a-lo.pcap",
            "b-eth0.pcap",
            "b-lo.pcap",
            "topology.svg"
        ]
    );
    let picture = std::fs::read_to_string(test_dir.join("topology.svg")).unwrap();
    assert!(picture.contains("<svg") && picture.contains(">a<") && picture.contains(">b<"));
    // The body's very first exchange is there: the ARP that precedes the first datagram.
    let a = tcpdump(&test_dir.join("a-eth0.pcap"));
    assert!(
        a.contains("ARP, Request who-has 203.0.113.2 tell 203.0.113.1"),
        "{a}"
    );
    assert!(
        a.contains("203.0.113.1.") && a.contains("> 203.0.113.2.4000: UDP, length 16"),
        "{a}"
    );
    let b = tcpdump(&test_dir.join("b-eth0.pcap"));
    assert!(b.contains("> 203.0.113.2.4000: UDP, length 16"), "{b}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn what_a_change_adds_is_captured_and_drawn() {
    let dir = scratch("pcap-changed");
    let out = probe(
        "changing_probe",
        &[("NETNS_TEST_PCAP", dir.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let test_dir = dir.join("debugging").join("changing_probe");
    assert_eq!(
        files_in(&test_dir),
        [
            "a-eth0.pcap",
            "a-eth1.pcap",
            "a-lo.pcap",
            "b-eth0.pcap",
            "b-lo.pcap",
            "c-eth0.pcap",
            "c-lo.pcap",
            "topology.svg"
        ]
    );
    // The first datagram over the new link, on both of its ends.
    for end in ["a-eth1.pcap", "c-eth0.pcap"] {
        let seen = tcpdump(&test_dir.join(end));
        assert!(seen.contains(".4000: UDP, length 16"), "{end}: {seen}");
    }
    let picture = std::fs::read_to_string(test_dir.join("topology.svg")).unwrap();
    assert!(
        picture.contains(">c<"),
        "the picture is of the changed topology"
    );
    assert!(text(&out).lines().any(|l| l == "c"), "{}", text(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_passing_test_keeps_no_capture_unless_asked() {
    let dir = scratch("pcap-passed");
    let out = probe(
        "passing_probe",
        &[("NETNS_TEST_PCAP", dir.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!dir.join("debugging").join("passing_probe").exists());

    let out = probe(
        "passing_probe",
        &[
            ("NETNS_TEST_PCAP", dir.to_str().unwrap()),
            ("NETNS_TEST_PCAP_ALL", "1"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let kept = dir
        .join("debugging")
        .join("passing_probe")
        .join("b-eth0.pcap");
    assert!(tcpdump(&kept).contains("UDP, length 16"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[netns_test(
    topology = "a 203.0.113.1/24 -- b 203.0.113.2/24\nroute a 198.51.100.0/24 via 203.0.113.2"
)]
fn a_net_prints_itself_as_the_failure_dump_does(net: &Net) {
    let text = net.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "a", "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  eth0   UP") && l.contains("203.0.113.1/24")),
        "{text}"
    );
    assert!(
        text.contains("route  198.51.100.0/24 via 203.0.113.2 dev eth0"),
        "{text}"
    );
    assert!(lines.contains(&"b"), "{text}");
}

#[test]
fn a_task_that_blocks_teardown_is_named_on_stderr() {
    let out = probe("blocking_task_probe", &[]);
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("netns-test: node `b`: a task from Node::spawn was still blocking a runtime thread 5 s after the Net was dropped"),
        "{text}"
    );
}

//! `NETNS_TEST_KEEP=1` pins a failed test's nodes under /run/netns; `netns-test clean` removes the
//! pins (and names directories) whose test process is gone and nothing else. Run in a private
//! mount namespace whose /run is a fresh tmpfs (TMPDIR inside it), so the host's /run/netns and
//! /tmp never see a pin or a name.

use std::process::Command;

use netns_test::{Net, netns_test};

#[netns_test(topology = "a -- b")]
#[ignore = "run by the tests below in a child process"]
fn kept_probe(net: &Net) {
    assert_eq!(net.nodes().count(), 2);
    panic!("deliberate failure, to be kept");
}

/// Root outside any user namespace (pins need the host's mount namespace).
fn real_root() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

const SCRIPT: &str = r#"
set -e
mount -t tmpfs netns-test-check /run
mkdir /run/netns /run/tmp
export TMPDIR=/run/tmp
NETNS_TEST_KEEP=1 "$PROBE" --ignored --exact kept_probe --test-threads=1 > /run/out 2>&1 || true
echo "== probe"; cat /run/out
echo "== pins"; ls /run/netns
echo "== inside"
for pin in /run/netns/*; do nsenter --net="$pin" cat /proc/net/dev | grep -o 'eth0:' ; done
live="/run/netns/netns-test-$$.$(cut -d' ' -f22 /proc/$$/stat)-live-x"
touch "$live"
mkdir "/run/tmp/netns-test-hosts-4194300.77-0" "/run/tmp/netns-test-hosts-$$.$(cut -d' ' -f22 /proc/$$/stat)-0"
echo "== clean"; "$CLI" clean
echo "== left"; ls /run/netns
echo "== names left"; ls /run/tmp
"#;

#[test]
fn a_failed_test_is_kept_and_clean_removes_only_stale_pins() {
    let probe = std::env::current_exe().unwrap();
    if !real_root() {
        let out = Command::new(&probe)
            .args(["--ignored", "--exact", "kept_probe"])
            .env("NETNS_TEST_KEEP", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("NETNS_TEST_KEEP=1 needs root"), "{text}");
        return;
    }
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", SCRIPT])
        .env("PROBE", &probe)
        .env("CLI", env!("CARGO_BIN_EXE_netns-test"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let section = |name: &str| -> Vec<String> {
        text.split(&format!("== {name}\n"))
            .nth(1)
            .unwrap()
            .split("\n== ")
            .next()
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let kept: Vec<String> = section("probe")
        .into_iter()
        .filter(|l| l.starts_with("netns-test: kept node"))
        .collect();
    assert_eq!(kept.len(), 2, "{text}");
    let pins = section("pins");
    assert_eq!(pins.len(), 2, "{text}");
    for (line, node) in kept.iter().zip(["a", "b"]) {
        let pin = pins
            .iter()
            .find(|p| p.ends_with(&format!("-keep.kept_probe-{node}")))
            .expect("pin per node");
        assert!(pin.starts_with("netns-test-"), "{pin}");
        assert_eq!(
            line,
            &format!("netns-test: kept node `{node}`: ip netns exec {pin} bash")
        );
    }
    assert_eq!(
        section("inside"),
        ["eth0:", "eth0:"],
        "each pin holds its node's namespace: {text}"
    );
    let cleaned = section("clean");
    assert_eq!(cleaned.len(), 3, "{text}");
    assert!(
        cleaned[..2]
            .iter()
            .all(|l| l.starts_with("removed /run/netns/netns-test-")),
        "{text}"
    );
    // The names of a killed run go; a live run's stay (the probe's own went with its net).
    assert_eq!(
        cleaned[2], "removed /run/tmp/netns-test-hosts-4194300.77-0",
        "{text}"
    );
    let names_left = section("names left");
    assert_eq!(names_left.len(), 1, "{text}");
    assert!(
        names_left[0].starts_with("netns-test-hosts-") && !names_left[0].contains("4194300"),
        "{text}"
    );
    let left = section("left");
    assert_eq!(left.len(), 1, "{text}");
    assert!(
        left[0].ends_with("-live-x"),
        "a live process's pin stays: {text}"
    );
}

//! The command line, run as a user would run it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn netns_test(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netns-test"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn temp_topology(name: &str, text: &str) -> String {
    // Per process: the suite also runs as another user, who cannot overwrite root's files.
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn up_builds_the_embedded_router_and_every_node_answers_every_other() {
    let out = netns_test(&["up", "--pingall"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("fixtures/router.topo (embedded): built 3 nodes and 2 links in"),
        "{stdout}"
    );
    assert!(stdout.contains("203.0.113.10/24"), "{stdout}");
    assert!(stdout.contains("6/6 pairs answered"), "{stdout}");
}

#[test]
fn pingall_fails_when_the_router_does_not_forward() {
    let file = temp_topology(
        "noforward.topo",
        "h1 203.0.113.10/24 -- r 203.0.113.1/24\nr 198.51.100.1/24 -- h2 198.51.100.10/24\n\
         route h1 default via 203.0.113.1\nroute h2 default via 198.51.100.1\n",
    );
    let out = netns_test(&["up", &file, "--pingall"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");
    // h1 and h2 still reach the router itself: 4 of 6.
    assert!(stdout.contains("4/6 pairs answered"), "{stdout}");
}

#[test]
fn up_prints_each_conditioned_link_and_pings_through_it() {
    let file = temp_topology(
        "conditioned.topo",
        "switch s\na -- s delay=10ms jitter=1ms seed=5\nb -- s rate=100mbit\n",
    );
    let out = netns_test(&["up", &file, "--pingall"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("link a:eth0 -- s:eth0: delay=10ms jitter=1ms seed=5"),
        "{stdout}"
    );
    assert!(
        stdout.contains("link b:eth0 -- s:eth1: delay=0ms rate=100mbit seed="),
        "{stdout}"
    );
    assert!(stdout.contains("2/2 pairs answered"), "{stdout}");
}

#[test]
fn pingall_covers_a_switch_and_ipv6() {
    for file in ["lan.topo", "dualstack.topo"] {
        let out = netns_test(&["up", &fixture(file), "--pingall"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file}: {stdout}");
        assert!(!stdout.contains("FAIL"), "{stdout}");
    }
}

#[test]
fn check_accepts_the_fixtures_and_reports_mistakes_as_the_macro_does() {
    let fixtures: Vec<String> = ["pair.topo", "router.topo", "lan.topo", "dualstack.topo"]
        .iter()
        .map(|f| fixture(f))
        .collect();
    let mut args = vec!["check"];
    args.extend(fixtures.iter().map(String::as_str));
    let out = netns_test(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = temp_topology("bad.topo", "a -- b\nroute a default via 203.0.113.1\n");
    let out = netns_test(&["check", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: invalid topology in {bad}: line 2, column 21: gateway `203.0.113.1` is on no subnet of node `a` (its subnets: 198.18.0.0/24)\n"
        )
    );
}

#[test]
fn run_executes_in_the_node_and_returns_its_status() {
    let out = netns_test(&[
        "run",
        &fixture("lan.topo"),
        "--node",
        "h3",
        "--",
        "sh",
        "-c",
        "ls /sys/class/net; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "eth0\nlo\n");
    let out = netns_test(&["run", &fixture("pair.topo"), "--node", "zz", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node `zz`"));
}

#[test]
fn up_shows_nats_and_firewalls_and_pingall_tells_declared_stops_from_failures() {
    let out = netns_test(&["up", &fixture("nat.topo"), "--pingall"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "  nat port-restricted on wan (198.19.0.2)",
        "  nat symmetric on up (203.0.113.1)",
        "7/12 pairs answered, 5 stopped by a declared NAT or firewall, 0 failed",
        "stopped by declaration: server -> laptop (nat isp)",
        "stopped by declaration: isp -> laptop (nat home)",
    ] {
        assert!(stdout.contains(want), "missing {want:?}:\n{stdout}");
    }
    // The same topology with a firewall that stops pings the server sends, and a router that
    // forgets to forward: the first is a declared stop, the second a failure.
    let text = format!(
        "{}firewall laptop block-inbound\nextra -- server\n",
        std::fs::read_to_string(fixture("nat.topo")).unwrap()
    );
    let out = netns_test(&["up", &temp_topology("nat-broken.topo", &text), "--pingall"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("  firewall block-inbound"), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn every_subcommand_has_help_and_mistakes_are_usage_errors() {
    for sub in [
        &["--help"][..],
        &["check", "--help"],
        &["up", "--help"],
        &["run", "--help"],
        &["clean", "--help"],
    ] {
        let out = netns_test(sub);
        assert!(out.status.success(), "{sub:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: netns-test"),
            "{sub:?}"
        );
    }
    let out = netns_test(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("netns-test {}", env!("CARGO_PKG_VERSION"))
    );
    for wrong in [
        &["bogus"][..],
        &["up", "--ping-all"],
        &["check"],
        &["run", "x.topo"],
    ] {
        let out = netns_test(wrong);
        assert_eq!(out.status.code(), Some(2), "{wrong:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains("Usage: netns-test"),
            "{wrong:?}: {stderr}"
        );
    }
}

/// A process whose open-file limit cannot hold the topology is told so, with the numbers and
/// the fix, before any namespace is made (the limit set by util-linux `prlimit`, soft and hard).
#[test]
fn too_low_an_open_file_limit_is_an_error_before_the_build() {
    let text: String = (0..300).map(|i| format!("h{i} -- s\n")).collect();
    let file = temp_topology("fd-limit.topo", &format!("switch s\n{text}"));
    let out = Command::new("prlimit")
        .args([
            "--nofile=400:400",
            env!("CARGO_BIN_EXE_netns-test"),
            "up",
            &file,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("building 301 nodes")
            && stderr.contains("may open 400")
            && stderr.contains("ulimit -n"),
        "{stderr}"
    );
}

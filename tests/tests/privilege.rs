//! Where namespaces cannot be made, a test fails naming the cause and the fix, or with
//! `NETNS_TEST_UNSUPPORTED=skip` passes saying why. Each cause is provoked for real in a child
//! process (util-linux `unshare`), never by changing the host.

use std::process::Output;

use netns_test::{Net, netns_test};
use netns_test_e2e::output_text as text;

#[netns_test(topology = "a -- b")]
#[ignore = "run by the tests below in a child process"]
fn probe(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let b = net.node("b");
    assert_eq!(
        netns_test_e2e::udp_once(b, b.ip(), 5000, b"probe").unwrap(),
        b"probe"
    );
}

#[netns_test(topology = "a -- b")]
#[should_panic(expected = "boom")]
#[ignore = "run by the tests below in a child process"]
fn probe_should_panic() {
    panic!("boom");
}

/// This test binary, one ignored probe, in a child made by `unshare ARGS`.
fn probe_under(unshare: &[&str], probe: &str, env: &[(&str, &str)]) -> Output {
    let wrapper: Vec<&str> = std::iter::once("unshare")
        .chain(unshare.iter().copied())
        .collect();
    let mut command = netns_test_e2e::probe_command(&wrapper, probe);
    command.arg("--nocapture");
    command
        .env_remove("NETNS_TEST_MODE")
        .env_remove("NETNS_TEST_UNSUPPORTED");
    command.envs(env.iter().copied());
    command.output().unwrap()
}

// `unshare --user` without a uid map: the child runs as the overflow uid with no capability.
const STRIPPED: &[&str] = &["--user"];

#[test]
fn without_capabilities_and_user_namespaces_forbidden_the_test_fails_with_cause_and_fix() {
    let out = probe_under(STRIPPED, "probe", &[("NETNS_TEST_MODE", "root")]);
    let text = text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("lacks CAP_SYS_ADMIN"), "{text}");
    assert!(text.contains("run the tests as root"), "{text}");
}

#[test]
fn skip_mode_passes_with_one_line_saying_why() {
    let out = probe_under(
        STRIPPED,
        "probe",
        &[
            ("NETNS_TEST_MODE", "root"),
            ("NETNS_TEST_UNSUPPORTED", "skip"),
        ],
    );
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("netns-test: skipped: "))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("lacks CAP_SYS_ADMIN"), "{text}");

    let out = probe_under(
        STRIPPED,
        "probe_should_panic",
        &[
            ("NETNS_TEST_MODE", "root"),
            ("NETNS_TEST_UNSUPPORTED", "skip"),
        ],
    );
    assert!(
        out.status.success(),
        "a skipped #[should_panic] test passes too: {}",
        self::text(&out)
    );
}

#[test]
fn disabled_user_namespaces_are_named_with_the_sysctl_that_enables_them() {
    // A user namespace of our own whose limit on nested user namespaces is 0.
    let out = probe_under(
        &[
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" \"$@\"",
        ],
        "probe",
        &[("NETNS_TEST_MODE", "userns")],
    );
    let text = text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("user.max_user_namespaces"), "{text}");
    assert!(
        text.contains("sysctl -w user.max_user_namespaces=15000"),
        "{text}"
    );
}

#[test]
fn userns_mode_works_whoever_runs_it() {
    let out = probe_under(
        &["--user", "--map-root-user"],
        "probe",
        &[("NETNS_TEST_MODE", "userns")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 passed"));
}

#[test]
fn an_unknown_mode_is_refused() {
    let out = probe_under(
        &["--user", "--map-root-user"],
        "probe",
        &[("NETNS_TEST_MODE", "sometimes")],
    );
    let text = text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("NETNS_TEST_MODE=sometimes is not a mode"),
        "{text}"
    );
}

//! A real transient refusal, provoked without touching the host: a network namespace counts
//! against `user.max_net_namespaces` until the kernel has freed it, which it does asynchronously,
//! milliseconds after the last descriptor closes. In a user namespace of our own whose limit is
//! exactly one topology's worth, building again right after a drop meets ENOSPC: the builder
//! must retry (bounded) and succeed, and say so when the bound is hit.

use std::process::Output;

use netns_test::Net;
use netns_test_e2e::output_text as text;

fn probe_under(limit: u32, probe: &str) -> Output {
    let script = format!("echo {limit} > /proc/sys/user/max_net_namespaces && exec \"$0\" \"$@\"");
    let wrapper = ["unshare", "--user", "--map-root-user", "sh", "-c", &script];
    netns_test_e2e::probe_command(&wrapper, probe)
        .args(["--nocapture", "--test-threads=1"])
        // Root inside our own user namespace: namespaces are made there, and counted there.
        .env("NETNS_TEST_MODE", "root")
        .env_remove("NETNS_TEST_UNSUPPORTED")
        .output()
        .unwrap()
}

#[test]
#[ignore = "run by the tests below under a namespace limit"]
fn rebuild_right_after_drop_probe() {
    // The kernel frees namespaces on one queue for the whole machine: behind a backlog of other
    // tests' namespaces, a round may exhaust its retries. That round must say so; most rounds
    // must succeed after retrying.
    let before = netns_test::transient_retries();
    let (mut built, mut reported) = (0, 0);
    for _ in 0..30 {
        match Net::build("a -- b") {
            Ok(net) => {
                net.node("a").run(netns_test::assert_not_in_host_netns);
                built += 1;
            }
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains("No space left on device") && text.contains("after 8 retries"),
                    "{text}"
                );
                reported += 1;
            }
        }
    }
    let retries = netns_test::transient_retries() - before;
    println!("transient retries: {retries}; built: {built}; reported: {reported}");
}

#[test]
#[ignore = "run by the tests below under a namespace limit"]
fn over_the_limit_probe() {
    let err = Net::build("a -- b\nb -- c").map(drop).unwrap_err();
    println!("error: {err}");
}

#[test]
fn a_namespace_limit_still_held_by_freed_namespaces_is_waited_out() {
    let out = probe_under(2, "rebuild_right_after_drop_probe");
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    let retries: u64 = text
        .split("transient retries: ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {text}"));
    assert!(
        retries > 0,
        "30 rebuilds at the limit never met ENOSPC, so this test proves nothing: {text}"
    );
    let built: u32 = text
        .split("built: ")
        .nth(1)
        .and_then(|r| r.trim_start().split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {text}"));
    assert!(
        built >= 15,
        "most rebuilds must get through by retrying: {text}"
    );
}

#[test]
fn a_limit_that_never_frees_up_is_reported_after_the_bounded_retries() {
    // Three nodes under a limit of two: the third namespace can never be made.
    let out = probe_under(2, "over_the_limit_probe");
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("after 8 retries"), "{text}");
}

#[test]
#[ignore = "run by the tests below under a namespace limit"]
fn relay_failure_probe() {
    // A limit of 0: the relay's namespace, made before the nodes', cannot be made.
    let err = Net::build("a -- b delay=1ms").map(drop).unwrap_err();
    println!("first: {err}");
    // Room for it now: the next conditioned build makes the relay, and traffic crosses it.
    std::fs::write("/proc/sys/user/max_net_namespaces", "3").unwrap();
    let net = Net::build("a -- b delay=1ms").unwrap();
    net.node("a")
        .run(|| netns_test_e2e::udp_across(&net, "b", 4200));
    println!("second: built and crossed");
}

#[test]
fn a_relay_that_could_not_be_made_is_tried_again_by_the_next_build() {
    let out = probe_under(0, "relay_failure_probe");
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("first: node `(link relay)`: creating the namespace of the conditioned links' relay failed: No space left on device"),
        "{text}"
    );
    assert!(text.contains("second: built and crossed"), "{text}");
}

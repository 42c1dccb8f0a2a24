//! Mistakes at run time are `Err`s with the same words as at compile time; kernel refusals name
//! the node, the interface and the operation.

use netns_test::{ErrorKind, Net};

#[test]
fn a_topology_error_at_run_time_reads_as_at_compile_time() {
    let err = Net::build("nod a").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Topology);
    let message = err.to_string();
    assert_eq!(
        message,
        "invalid topology: line 1, column 1: unknown keyword `nod`: a statement is `node`, `switch`, `route`, `nat`, `firewall`, `set`, `hosts`, or a link `A -- B`"
    );
    let compile_time = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ui/topo_unknown_keyword.stderr"
    ))
    .unwrap();
    assert!(
        compile_time.starts_with(&format!("error: {message}\n")),
        "{compile_time}"
    );
    let e = err.topology_error().unwrap();
    assert_eq!((e.line, e.column, e.token.as_str()), (1, 1, "nod"));
}

#[test]
fn every_checked_in_compile_error_is_the_run_time_error_too() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/ui");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("topo_")
            || path.extension().unwrap() != "rs"
        {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let literal = source
            .split("topology = ")
            .nth(1)
            .unwrap()
            .split(")]")
            .next()
            .unwrap();
        let text: String = unescape(literal.trim_matches('"'));
        let expected = std::fs::read_to_string(path.with_extension("stderr")).unwrap();
        let err = Net::build(&text).unwrap_err();
        assert!(
            expected.starts_with(&format!("error: {err}\n")),
            "{}: run time says {err}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} cases");
}

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n")
}

#[test]
fn a_missing_file_names_the_path() {
    let err = Net::from_file("no/such/file.topo").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("no/such/file.topo"), "{err}");
}

#[test]
fn a_file_error_names_the_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/broken.topo");
    let err = Net::from_file(path).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("invalid topology in {path}: line 3, column 21:")),
        "{err}"
    );
}

#[test]
fn a_kernel_refusal_names_node_interface_and_operation() {
    // The kernel refuses a loopback address on anything but lo.
    let err = Net::build("a -- b ::1/128").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Kernel);
    assert_eq!(err.node(), Some("b"));
    assert_eq!(err.interface(), Some("eth0"));
    assert_eq!(err.operation(), "adding address ::1/128");
    assert_eq!(err.errno(), Some(libc_eaddrnotavail()));
    let message = err.to_string();
    assert!(
        message.starts_with("node `b`, interface `eth0`: adding address ::1/128 failed:"),
        "{message}"
    );
}

fn libc_eaddrnotavail() -> i32 {
    99
}

#[test]
fn a_sysctl_the_kernel_lacks_names_the_node_and_the_key() {
    let err = Net::build("node a sysctl net.ipv4.conf.eth9.rp_filter=1\na -- b").unwrap_err();
    assert_eq!(err.node(), Some("a"));
    let message = err.to_string();
    assert!(
        message.contains("setting sysctl net.ipv4.conf.eth9.rp_filter=1"),
        "{message}"
    );
    assert!(message.contains("interface it names exists"), "{message}");
}

#[test]
fn hostile_input_is_a_clear_error_and_writes_nothing() {
    let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let ten_mb = "a -- b\n".repeat(10 << 20 >> 3);
    let hundred_thousand_nodes: String = (0..100_000).map(|i| format!("n{i} -- m{i}\n")).collect();
    let cases: [(&str, &str); 8] = [
        ("a:x/y -- b", "does not accept"),
        ("a:.. -- b", "cannot name an interface"),
        ("a:x\0y -- b", "does not accept"),
        ("a:abcdefghijklmnop -- b", "the kernel's limit is 15"),
        (
            "node a sysctl net.ipv4/../../kernel/core_pattern=x",
            "malformed sysctl",
        ),
        (
            "node a sysctl net.../kernel.core_pattern=x",
            "malformed sysctl",
        ),
        (&ten_mb, "the limit is 1048576"),
        (&hundred_thousand_nodes, "the limit is 1048576"),
    ];
    for (text, why) in cases {
        let err = Net::build(text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Topology, "{err}");
        assert!(err.to_string().contains(why), "{err}");
    }
    let many: String = (0..5000).map(|i| format!("node n{i}\n")).collect();
    assert!(
        Net::build(&many)
            .unwrap_err()
            .to_string()
            .contains("at most 4096 nodes")
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core_pattern
    );
}

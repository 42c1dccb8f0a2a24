//! A `tokio::process::Command` made from `Node::command`: the process runs inside the node (its
//! own interfaces in `/sys/class/net`, its own routes), awaited without blocking a thread.
//!
//! `cargo run --example tokio_process`.

use netns_test::Net;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = Net::build("a -- b\nb -- c")?;
    let b = net.node("b");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let output = runtime.block_on(async {
        // `From<std::process::Command>` keeps what Node::command set up: entering the node.
        let mut command = tokio::process::Command::from(b.command("ls"));
        command.arg("/sys/class/net");
        command.output().await
    })?;
    let interfaces = String::from_utf8_lossy(&output.stdout);
    println!(
        "node b sees: {}",
        interfaces.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    assert_eq!(
        interfaces.split_whitespace().collect::<Vec<_>>(),
        ["eth0", "eth1", "lo"]
    );
    Ok(())
}

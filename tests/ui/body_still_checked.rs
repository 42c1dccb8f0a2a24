// A mistake in the topology does not hide the function: its body is still type-checked, and
// both errors are reported together.
use netns_test::{Net, netns_test};

#[netns_test(topology = "a -- a", worker_threads = 2)]
fn t(net: &Net) {
    let _port: u16 = net.node("a").name();
}

fn main() {}

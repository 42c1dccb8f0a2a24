use netns_test::netns_test;

// A fixture with statements added: a mistake in them is blamed on them, counted from their start.
#[netns_test(topology_file = "../../../../fixtures/router.topo", topology = "set h1 -- h2 delay=5ms")]
fn t() {}

fn main() {}

use netns_test::netns_test;

#[netns_test(topology = "a -- b", flavor = "multi_thread")]
fn t() {}

fn main() {}

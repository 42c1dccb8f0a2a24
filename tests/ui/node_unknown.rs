use netns_test::netns_test;

#[netns_test(topology = "a -- b", node = "c")]
fn t() {}

fn main() {}

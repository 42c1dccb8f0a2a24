use netns_test::netns_test;

#[netns_test(topology = "a -- b\nroute a default via 203.0.113.1")]
fn t() {}

fn main() {}

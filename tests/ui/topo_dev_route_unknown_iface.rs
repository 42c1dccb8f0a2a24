use netns_test::netns_test;

#[netns_test(topology = "a -- b\nroute a 203.0.113.0/24 dev eth9")]
fn t() {}

fn main() {}

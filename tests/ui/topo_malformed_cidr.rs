use netns_test::netns_test;

#[netns_test(topology = "a -- b\na 203.0.113.300/24 -- c")]
fn t() {}

fn main() {}

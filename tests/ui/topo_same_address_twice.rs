use netns_test::netns_test;

#[netns_test(topology = "a 203.0.113.1/24 -- b 203.0.113.1/24")]
fn t() {}

fn main() {}

use netns_test::netns_test;

#[netns_test(topology = "switch s\ns 203.0.113.1/24 -- h")]
fn t() {}

fn main() {}

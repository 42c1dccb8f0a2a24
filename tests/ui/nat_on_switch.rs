use netns_test::netns_test;

#[netns_test(topology = "switch s; a -- s; nat s")]
fn t() {}

fn main() {}

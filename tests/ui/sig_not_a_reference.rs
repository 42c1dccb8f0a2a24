use netns_test::netns_test;

#[netns_test(topology = "a -- b")]
fn t(_net: netns_test::Net) {}

fn main() {}

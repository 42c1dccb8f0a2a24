use netns_test::netns_test;

#[netns_test(topology = "node 9lives")]
fn t() {}

fn main() {}

use netns_test::netns_test;

#[netns_test(topology = "a -- b\nhosts relay_1 198.51.100.10")]
fn t() {}

fn main() {}

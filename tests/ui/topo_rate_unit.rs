use netns_test::netns_test;

#[netns_test(topology = "a -- b rate=10mbps")]
fn t() {}

fn main() {}

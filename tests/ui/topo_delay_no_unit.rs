use netns_test::netns_test;

#[netns_test(topology = "a -- b delay=50")]
fn t() {}

fn main() {}

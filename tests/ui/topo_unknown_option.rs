use netns_test::netns_test;

#[netns_test(topology = "a -- b speed=1")]
fn t() {}

fn main() {}

use netns_test::netns_test;

#[netns_test(topology = "a:up -- b\na:up -- c")]
fn t() {}

fn main() {}

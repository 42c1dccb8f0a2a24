use netns_test::netns_test;

#[netns_test(topology = "a -- b\nb -- b")]
fn t() {}

fn main() {}

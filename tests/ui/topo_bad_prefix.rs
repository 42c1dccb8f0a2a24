use netns_test::netns_test;

#[netns_test(topology = "a 2001:db8::1/129 -- b")]
fn t() {}

fn main() {}

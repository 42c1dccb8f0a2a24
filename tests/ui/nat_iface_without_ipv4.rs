use netns_test::netns_test;

#[netns_test(topology = "a 2001:db8::1/64 -- r 2001:db8::2/64; nat r eth0")]
fn t() {}

fn main() {}

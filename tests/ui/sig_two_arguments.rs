use netns_test::netns_test;

#[netns_test(topology = "a -- b")]
fn t(_a: &netns_test::Net, _b: u32) {}

fn main() {}

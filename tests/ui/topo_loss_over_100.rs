use netns_test::netns_test;

#[netns_test(topology = "a -- b loss=120%")]
fn t() {}

fn main() {}

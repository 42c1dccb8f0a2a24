use netns_test::netns_test;

#[netns_test(topologie = "a -- b")]
fn t() {}

fn main() {}

use netns_test::netns_test;

#[netns_test(topology = "nod a")]
fn t() {}

fn main() {}

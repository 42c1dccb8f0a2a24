use netns_test::netns_test;

#[netns_test(topology = "  # nothing here\n")]
fn t() {}

fn main() {}

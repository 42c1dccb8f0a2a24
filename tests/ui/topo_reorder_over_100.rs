use netns_test::netns_test;

#[netns_test(topology = "a -- b reorder=150%")]
fn t() {}

fn main() {}

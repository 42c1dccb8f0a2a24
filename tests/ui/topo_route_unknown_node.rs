use netns_test::netns_test;

#[netns_test(topology = "a -- b\nroute c default via 198.18.0.1")]
fn t() {}

fn main() {}

use netns_test::netns_test;

#[netns_test(topology_file = "no/such.topo")]
fn t() {}

fn main() {}

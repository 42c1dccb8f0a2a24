use netns_test::netns_test;

#[netns_test(topology_file = "../../../../tests/ui/broken.topo")]
fn t() {}

fn main() {}

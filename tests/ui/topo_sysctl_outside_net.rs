use netns_test::netns_test;

#[netns_test(topology = "node a sysctl kernel.panic=1")]
fn t() {}

fn main() {}

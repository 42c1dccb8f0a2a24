use netns_test::netns_test;

#[netns_test(topology = "switch s; a -- s; firewall s block-inbound")]
fn t() {}

fn main() {}

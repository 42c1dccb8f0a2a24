use netns_test::netns_test;

#[netns_test(topology = "a 198.18.1.10/24 -- r 198.18.1.1/24; r:wan 203.0.113.1/24 -- s 203.0.113.2/24; firewall r drop tcp/0")]
fn t() {}

fn main() {}

use netns_test::netns_test;

#[netns_test(topology = "node abcdefghijklmnopqrstuvwxyz0123456789")]
fn t() {}

fn main() {}

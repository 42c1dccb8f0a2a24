use netns_test::netns_test;

#[netns_test(topology = "a:averyveryverylongname -- b")]
fn t() {}

fn main() {}

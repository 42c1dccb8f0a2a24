use netns_test::netns_test;

#[netns_test]
#[test]
fn t() {}

fn main() {}

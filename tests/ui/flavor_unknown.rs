use netns_test::netns_test;

#[netns_test(topology = "a -- b", flavor = "many")]
async fn t() {}

fn main() {}

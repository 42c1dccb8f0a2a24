use netns_test::netns_test;

#[netns_test(topology = "a -- b delay=50ms jitter=-5ms")]
fn t() {}

fn main() {}

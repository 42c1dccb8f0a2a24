use netns_test::netns_test;

#[netns_test(topology = "a -- b", worker_threads = 2)]
async fn t() {}

fn main() {}

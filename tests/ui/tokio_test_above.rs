use netns_test::netns_test;

#[tokio::test]
#[netns_test]
async fn t() {}

fn main() {}

use netns_test::netns_test;

#[netns_test]
#[tokio::test]
async fn t() {}

fn main() {}

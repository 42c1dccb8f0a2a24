//! What `#[netns_test]`'s generated code calls: the test's life from build to teardown, and the
//! tokio runtime an `async` body runs on.

mod lifecycle;
mod runtime;

pub use lifecycle::{Outcome, Test};
pub use runtime::runtime;

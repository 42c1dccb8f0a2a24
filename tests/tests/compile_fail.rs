//! Every mistake a user can make in the attribute or its topology is a compile error that names
//! the problem, with line, column and token for topology text. The expected messages are checked
//! in under `tests/ui/*.stderr`.

#[test]
fn mistakes_are_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}

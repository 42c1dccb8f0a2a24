use std::fmt;

/// A mistake in topology text: where it is (line and column, both counted from 1), the token at
/// fault, and what is wrong with it.
///
/// ```
/// let e = netns_test_topology::parse("a -- b\nroute x default via 198.18.0.2").unwrap_err();
/// assert_eq!((e.line, e.column, e.token.as_str()), (2, 7, "x"));
/// assert!(e.message.contains("unknown node"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyError {
    /// Line of the offending token, from 1.
    pub line: usize,
    /// Column of the offending token, in characters, from 1.
    pub column: usize,
    /// The offending token as written (empty where the problem is the absence of one).
    pub token: String,
    /// What is wrong, and where it helps, what to write instead.
    pub message: String,
}

impl TopologyError {
    pub(crate) fn at(pos: Pos, token: impl Into<String>, message: impl Into<String>) -> Self {
        TopologyError {
            line: pos.line,
            column: pos.column,
            token: token.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TopologyError {}

/// A position in topology text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

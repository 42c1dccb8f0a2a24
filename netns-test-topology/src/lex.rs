//! Splits topology text into statements of whitespace-separated tokens, each with its position.

use crate::error::Pos;

/// One word of topology text and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub text: &'a str,
    pub pos: Pos,
}

/// Statements (separated by newlines or `;`), each a non-empty list of tokens. `#` starts a
/// comment that runs to the end of the line.
pub(crate) fn statements(text: &str) -> Vec<Vec<Token<'_>>> {
    let mut out = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        let mut current: Vec<Token<'_>> = Vec::new();
        let mut start: Option<(usize, usize)> = None; // (byte offset, column)
        let mut column = 0;
        for (offset, ch) in line
            .char_indices()
            .chain(std::iter::once((line.len(), ';')))
        {
            column += 1;
            let separator = ch == ';';
            if ch.is_whitespace() || separator {
                if let Some((from, col)) = start.take() {
                    current.push(Token {
                        text: &line[from..offset],
                        pos: Pos {
                            line: line_index + 1,
                            column: col,
                        },
                    });
                }
                if separator && !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            } else if start.is_none() {
                start = Some((offset, column));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<(&str, usize, usize)>> {
        statements(text)
            .into_iter()
            .map(|s| {
                s.into_iter()
                    .map(|t| (t.text, t.pos.line, t.pos.column))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn splits_lines_semicolons_and_comments() {
        assert_eq!(
            words("a -- b # c -- d\n\n  node  r;route r default via 1.2.3.4 ;;"),
            vec![
                vec![("a", 1, 1), ("--", 1, 3), ("b", 1, 6)],
                vec![("node", 3, 3), ("r", 3, 9)],
                vec![
                    ("route", 3, 11),
                    ("r", 3, 17),
                    ("default", 3, 19),
                    ("via", 3, 27),
                    ("1.2.3.4", 3, 31)
                ],
            ]
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(words("é x")[0][1], ("x", 1, 3));
    }
}

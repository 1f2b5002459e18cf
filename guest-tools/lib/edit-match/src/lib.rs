/*!
Finds the text an edit's `oldString` means, and replaces it.

Models quote code imperfectly: a line's trailing spaces go missing, a block is
pasted with two spaces of indentation where the file has eight, tabs become
spaces. Refusing every such edit wastes a turn; guessing wrongly corrupts a
file. So matching is a ladder of strategies, strict to lenient, and the first
strategy that finds anything decides:

1. [`Strategy::Exact`]: the bytes as given.
2. [`Strategy::LineTrimmed`]: the same lines, ignoring leading and trailing
   whitespace on each (which covers a block quoted at another indentation).
3. [`Strategy::WhitespaceNormalized`]: the same lines with every run of
   whitespace inside a line collapsed.
4. [`Strategy::TrimmedBoundary`]: the given text without its leading and
   trailing blank space.

A strategy that finds more than one place is ambiguous and the edit is refused
(unless the caller asked to replace all), because a lenient match that is also
ambiguous is exactly the case where guessing corrupts files. When a lenient
strategy matched lines at another indentation, the replacement is re-indented
by the same shift, so the edit lands the way the model meant it.

This crate is pure: it is compiled into the `files` guest component and unit
tested natively by the host workspace.
*/

#![deny(missing_docs)]

use std::ops::Range;

/// How an `oldString` was found in the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Byte-for-byte.
    Exact,
    /// Line by line, each line compared with its surrounding whitespace trimmed.
    LineTrimmed,
    /// Line by line, with runs of whitespace collapsed to one space.
    WhitespaceNormalized,
    /// The search text with leading and trailing whitespace removed.
    TrimmedBoundary,
}

/// Why an edit could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// `oldString` and `newString` are the same: the edit would change nothing.
    Identical,
    /// No strategy found `oldString`.
    NotFound,
    /// The first strategy that found `oldString` found it `count` times.
    Ambiguous {
        /// How many places matched.
        count: usize,
        /// The strategy that found them.
        strategy: Strategy,
    },
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Identical => f.write_str("No changes to apply: oldString and newString are identical."),
            EditError::NotFound => f.write_str(
                "oldString not found in content. It must match the file exactly, \
                 or line by line apart from whitespace and indentation.",
            ),
            EditError::Ambiguous { count, .. } => write!(
                f,
                "Found {count} matches for oldString. Provide more surrounding lines in \
                 oldString to identify the correct match, or set replaceAll to change every one.",
            ),
        }
    }
}

impl std::error::Error for EditError {}

/// A successful edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The content after the edit.
    pub content: String,
    /// How many places were replaced.
    pub replacements: usize,
    /// The strategy that found them.
    pub strategy: Strategy,
}

/// One place `oldString` matched.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    range: Range<usize>,
    /// Set for line-based matches, whose replacement is fitted to the file.
    fit: Option<Fit>,
}

/// How a line-based match fits the replacement to the file: its first line
/// starts where the matched first line's text starts (after the file's own
/// indentation), and each later line has the search block's indentation
/// swapped for the file's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fit {
    from: String,
    to: String,
}

/// Replaces `old` with `new` in `content`: once (the match must be unique), or
/// everywhere with `replace_all`.
pub fn replace(content: &str, old: &str, new: &str, replace_all: bool) -> Result<Edited, EditError> {
    if old == new {
        return Err(EditError::Identical);
    }
    for strategy in STRATEGIES {
        let found = find_with(strategy, content, old);
        if found.is_empty() {
            continue;
        }
        if found.len() > 1 && !replace_all {
            return Err(EditError::Ambiguous { count: found.len(), strategy });
        }
        let mut out = String::with_capacity(content.len() + new.len());
        let mut last = 0;
        for f in &found {
            out.push_str(&content[last..f.range.start]);
            match &f.fit {
                Some(fit) => out.push_str(&fit.apply(new)),
                None => out.push_str(new),
            }
            last = f.range.end;
        }
        out.push_str(&content[last..]);
        return Ok(Edited { content: out, replacements: found.len(), strategy });
    }
    Err(EditError::NotFound)
}

/// Every place `old` matches in `content` under the first strategy that finds
/// any, with that strategy.
pub fn find(content: &str, old: &str) -> Option<(Strategy, Vec<Range<usize>>)> {
    STRATEGIES.into_iter().find_map(|strategy| {
        let found = find_with(strategy, content, old);
        (!found.is_empty()).then(|| (strategy, found.into_iter().map(|f| f.range).collect()))
    })
}

const STRATEGIES: [Strategy; 4] =
    [Strategy::Exact, Strategy::LineTrimmed, Strategy::WhitespaceNormalized, Strategy::TrimmedBoundary];

fn find_with(strategy: Strategy, content: &str, old: &str) -> Vec<Found> {
    if old.is_empty() {
        return Vec::new();
    }
    match strategy {
        Strategy::Exact => exact(content, old),
        Strategy::LineTrimmed => by_lines(content, old, |a, b| a.trim() == b.trim()),
        Strategy::WhitespaceNormalized => by_lines(content, old, |a, b| collapse(a) == collapse(b)),
        Strategy::TrimmedBoundary => {
            let trimmed = old.trim();
            if trimmed.is_empty() || trimmed == old { Vec::new() } else { exact(content, trimmed) }
        }
    }
}

fn exact(content: &str, old: &str) -> Vec<Found> {
    content.match_indices(old).map(|(start, m)| Found { range: start..start + m.len(), fit: None }).collect()
}

/// A line of the content: its text without the line break, and where it starts.
struct Line<'a> {
    text: &'a str,
    start: usize,
}

fn lines_of(content: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for piece in content.split_inclusive('\n') {
        let text = piece.strip_suffix('\n').unwrap_or(piece);
        let text = text.strip_suffix('\r').unwrap_or(text);
        lines.push(Line { text, start });
        start += piece.len();
    }
    lines
}

/// The search text as lines, without a trailing empty line from a final `\n`.
fn search_lines(old: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = old.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    if lines.len() > 1 && lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

/// Non-overlapping windows of whole lines where every line pair satisfies `same`.
/// The matched range runs from the first line's text (after its indentation)
/// to the end of the last line, including its line break only when the search
/// text ended with one.
fn by_lines(content: &str, old: &str, same: impl Fn(&str, &str) -> bool) -> Vec<Found> {
    let wanted = search_lines(old);
    if wanted.iter().all(|l| l.trim().is_empty()) {
        return Vec::new();
    }
    let lines = lines_of(content);
    let mut found = Vec::new();
    let mut i = 0;
    while i + wanted.len() <= lines.len() {
        let window = &lines[i..i + wanted.len()];
        if window.iter().zip(&wanted).all(|(line, want)| same(line.text, want)) {
            let first = &window[0];
            let last = &window[window.len() - 1];
            let mut end = last.start + last.text.len();
            if old.ends_with('\n') {
                end = line_end_with_break(content, end);
            }
            let indent = first.text.len() - first.text.trim_start().len();
            found.push(Found {
                range: first.start + indent..end,
                fit: Some(Fit {
                    from: common_indent(wanted[1..].iter().copied()).to_string(),
                    to: common_indent(window[1..].iter().map(|l| l.text)).to_string(),
                }),
            });
            i += wanted.len();
        } else {
            i += 1;
        }
    }
    found
}

fn line_end_with_break(content: &str, end: usize) -> usize {
    let rest = &content[end..];
    if rest.starts_with("\r\n") {
        end + 2
    } else if rest.starts_with('\n') {
        end + 1
    } else {
        end
    }
}

/// The leading whitespace shared by every non-blank line.
fn common_indent<'a>(lines: impl Iterator<Item = &'a str>) -> &'a str {
    let mut common: Option<&str> = None;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let indent = &line[..line.len() - line.trim_start().len()];
        common = Some(match common {
            None => indent,
            Some(c) => {
                let shared = c.bytes().zip(indent.bytes()).take_while(|(a, b)| a == b).count();
                &c[..shared]
            }
        });
    }
    common.unwrap_or("")
}

impl Fit {
    fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.split('\n').enumerate() {
            if i == 0 {
                out.push_str(line.trim_start());
                continue;
            }
            out.push('\n');
            if line.trim().is_empty() || self.from == self.to {
                out.push_str(line);
            } else {
                out.push_str(&self.to);
                out.push_str(line.strip_prefix(self.from.as_str()).unwrap_or_else(|| line.trim_start()));
            }
        }
        out
    }
}

fn collapse(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(content: &str, old: &str, new: &str) -> Result<(String, Strategy), EditError> {
        replace(content, old, new, false).map(|e| (e.content, e.strategy))
    }

    #[test]
    fn exact_match_replaces_once() {
        let (out, strategy) = apply("let a = 1;\nlet b = 2;\n", "let b = 2;", "let b = 3;").unwrap();
        assert_eq!(out, "let a = 1;\nlet b = 3;\n");
        assert_eq!(strategy, Strategy::Exact);
    }

    #[test]
    fn identical_strings_are_refused() {
        assert_eq!(apply("x", "x", "x"), Err(EditError::Identical));
    }

    #[test]
    fn missing_text_is_not_found() {
        assert_eq!(apply("fn main() {}\n", "fn other()", "fn x()"), Err(EditError::NotFound));
    }

    #[test]
    fn two_exact_matches_are_ambiguous() {
        let err = apply("a();\nb();\na();\n", "a();", "c();").unwrap_err();
        assert_eq!(err, EditError::Ambiguous { count: 2, strategy: Strategy::Exact });
        assert!(err.to_string().contains("Found 2 matches"));
    }

    #[test]
    fn replace_all_changes_every_match() {
        let edited = replace("a();\nb();\na();\n", "a();", "c();", true).unwrap();
        assert_eq!(edited.content, "c();\nb();\nc();\n");
        assert_eq!(edited.replacements, 2);
    }

    #[test]
    fn trailing_whitespace_differences_match_line_trimmed() {
        let content = "fn f() {\n    let x = 1;   \n    x\n}\n";
        let (out, strategy) = apply(content, "let x = 1;\n    x", "let x = 2;\n    x").unwrap();
        assert_eq!(strategy, Strategy::LineTrimmed);
        assert_eq!(out, "fn f() {\n    let x = 2;\n    x\n}\n");
    }

    #[test]
    fn a_block_at_another_depth_is_reindented() {
        let content = "impl A {\n        fn f() {\n            g();\n        }\n}\n";
        let old = "fn f() {\n    g();\n}";
        let new = "fn f() {\n    h();\n    g();\n}";
        let (out, strategy) = apply(content, old, new).unwrap();
        assert_eq!(strategy, Strategy::LineTrimmed);
        assert_eq!(out, "impl A {\n        fn f() {\n            h();\n            g();\n        }\n}\n");
    }

    #[test]
    fn tabs_quoted_as_spaces_are_reindented_with_tabs() {
        let content = "\t\tif x {\n\t\t\ty();\n\t\t}\n";
        let old = "  if x {\n  \ty();\n  }";
        let (out, strategy) = apply(content, old, "  if x {\n  \tz();\n  }").unwrap();
        assert_eq!(strategy, Strategy::LineTrimmed);
        assert_eq!(out, "\t\tif x {\n\t\t\tz();\n\t\t}\n");
    }

    #[test]
    fn collapsed_whitespace_matches_whitespace_normalized() {
        let content = "let  total =   a +  b;\n";
        let (out, strategy) = apply(content, "let total = a + b;", "let total = a - b;").unwrap();
        assert_eq!(strategy, Strategy::WhitespaceNormalized);
        assert_eq!(out, "let total = a - b;\n");
    }

    #[test]
    fn surrounding_blank_space_is_trimmed_last() {
        let content = "alpha beta gamma";
        let (out, strategy) = apply(content, "  beta \n", "BETA").unwrap();
        assert_eq!(strategy, Strategy::TrimmedBoundary);
        assert_eq!(out, "alpha BETA gamma");
    }

    #[test]
    fn ambiguous_lenient_match_is_refused() {
        let content = "    x = 1;\n    y = 2;\n        x = 1;\n";
        let err = apply(content, "x = 1;  ", "x = 9;").unwrap_err();
        assert!(matches!(err, EditError::Ambiguous { count: 2, strategy: Strategy::LineTrimmed }));
    }

    #[test]
    fn a_line_match_ending_in_a_break_takes_the_crlf_too() {
        let content = "a\r\n  b  \r\nc\r\n";
        let (out, _) = apply(content, "b\n", "B\n").unwrap();
        assert_eq!(out, "a\r\n  B\nc\r\n");
    }

    #[test]
    fn blank_search_text_matches_nothing() {
        assert_eq!(apply("a\n \nb\n", "\n\n", "x"), Err(EditError::NotFound));
    }

    #[test]
    fn find_reports_the_deciding_strategy() {
        let (strategy, ranges) = find("one\n  two\n", "two").unwrap();
        assert_eq!(strategy, Strategy::Exact);
        assert_eq!(ranges, vec![6..9]);
    }
}

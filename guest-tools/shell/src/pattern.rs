//! Shell patterns (`*.rs`, `[a-z]?`) matched against strings: `case`,
//! `[[ x == pattern ]]` and `${var#pattern}`. brush-parser turns a pattern
//! into a regular expression; the `regex` crate matches it. Quoted parts of
//! a pattern arrive escaped (see `expand::pattern`), so they match as text.

use regex::Regex;

/// A compiled pattern.
pub struct Pattern(Regex);

impl Pattern {
    pub fn new(pattern: &str) -> Result<Self, String> {
        let body = brush_parser::pattern::pattern_to_regex_str(pattern, false)
            .map_err(|e| format!("{pattern}: bad pattern: {e}"))?;
        Regex::new(&format!("^(?s:{body})$")).map(Pattern).map_err(|e| format!("{pattern}: bad pattern: {e}"))
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    /// The length in bytes of the shortest (or longest) prefix of `text`
    /// that matches.
    pub fn prefix(&self, text: &str, longest: bool) -> Option<usize> {
        let mut ends: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        if longest {
            ends.reverse();
        }
        ends.into_iter().find(|&end| self.matches(&text[..end]))
    }

    /// Where the shortest (or longest) suffix of `text` that matches starts.
    pub fn suffix(&self, text: &str, longest: bool) -> Option<usize> {
        let mut starts: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        if !longest {
            starts.reverse();
        }
        starts.into_iter().find(|&start| self.matches(&text[start..]))
    }

    /// The first (leftmost, then longest) match within `text`: its range.
    pub fn find(&self, text: &str, from: usize) -> Option<(usize, usize)> {
        let starts = text.char_indices().map(|(i, _)| i).chain([text.len()]).filter(|&i| i >= from);
        for start in starts {
            let mut ends: Vec<usize> =
                text[start..].char_indices().map(|(i, _)| start + i).chain([text.len()]).collect();
            ends.reverse();
            if let Some(end) = ends.into_iter().find(|&end| end > start && self.matches(&text[start..end])) {
                return Some((start, end));
            }
        }
        None
    }
}

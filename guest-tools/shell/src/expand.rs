//! Word expansion: what `$HOME/*.rs` or `"a b"` becomes before a command runs.
//!
//! In bash's order: the word is parsed into pieces (brush-parser), parameters
//! (`$VAR`, `${VAR}`, `${VAR:-default}`, `$?`, `$#`), command substitutions
//! (`$(...)`, backquotes) and `~` are expanded, unquoted expansion results are
//! split into fields on whitespace, and unquoted glob characters are matched
//! against the workspace (sorted, hidden files only for a pattern starting
//! with `.`, the pattern kept as is when nothing matches). Quoted text is
//! never split or globbed.

use crate::interp::Shell;
use brush_parser::ParserOptions;
use brush_parser::word::{Parameter, ParameterExpr, ParameterTestType, SpecialParameter, TildeExpr, WordPiece};

/// Expands a word into fields, as for a command's arguments.
pub fn fields(shell: &mut Shell, word: &str) -> Result<Vec<String>, String> {
    let chunks = chunks(shell, word)?;
    let mut out = Vec::new();
    for field in split(&chunks) {
        if field.has_glob {
            let matches = crate::expand::glob(shell, &field.pattern);
            if !matches.is_empty() {
                out.extend(matches);
                continue;
            }
        }
        out.push(field.text);
    }
    Ok(out)
}

/// Expands a word into one string, with no splitting or globbing, as for an
/// assignment's value or a redirect's target.
pub fn string(shell: &mut Shell, word: &str) -> Result<String, String> {
    Ok(chunks(shell, word)?.into_iter().map(|c| c.text).collect())
}

/// A run of text and how it came to be.
struct Chunk {
    text: String,
    quoted: bool,
    expanded: bool,
}

fn chunks(shell: &mut Shell, word: &str) -> Result<Vec<Chunk>, String> {
    let pieces = brush_parser::word::parse(word, &ParserOptions::default()).map_err(|e| format!("{e}"))?;
    let mut out = Vec::new();
    for piece in pieces {
        expand_piece(shell, piece.piece, false, &mut out)?;
    }
    Ok(out)
}

fn expand_piece(shell: &mut Shell, piece: WordPiece, quoted: bool, out: &mut Vec<Chunk>) -> Result<(), String> {
    let literal = |text: String| Chunk { text, quoted, expanded: false };
    match piece {
        WordPiece::Text(text) => out.push(literal(text)),
        WordPiece::SingleQuotedText(text) => out.push(Chunk { text, quoted: true, expanded: false }),
        WordPiece::AnsiCQuotedText(text) => {
            out.push(Chunk { text: backslash_escapes(&text), quoted: true, expanded: false })
        }
        WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
            // An empty "" still makes a (quoted, empty) field.
            out.push(Chunk { text: String::new(), quoted: true, expanded: false });
            for piece in inner {
                expand_piece(shell, piece.piece, true, out)?;
            }
        }
        WordPiece::EscapeSequence(text) => {
            let escaped = text.strip_prefix('\\').unwrap_or(&text);
            let text = if escaped == "\n" {
                String::new()
            } else if quoted && !matches!(escaped.chars().next(), Some('$' | '`' | '"' | '\\')) {
                text.clone()
            } else {
                escaped.to_string()
            };
            out.push(Chunk { text, quoted: true, expanded: false });
        }
        WordPiece::TildeExpansion(TildeExpr::Home) => {
            out.push(Chunk { text: shell.var("HOME"), quoted: true, expanded: false })
        }
        WordPiece::TildeExpansion(TildeExpr::WorkingDir) => {
            out.push(Chunk { text: shell.var("PWD"), quoted: true, expanded: false })
        }
        WordPiece::TildeExpansion(other) => return Err(format!("unsupported tilde expansion {other:?}")),
        WordPiece::ParameterExpansion(expr) => {
            let text = parameter(shell, expr)?;
            out.push(Chunk { text, quoted, expanded: true });
        }
        WordPiece::CommandSubstitution(command) | WordPiece::BackquotedCommandSubstitution(command) => {
            let mut text = shell.capture(&command);
            while text.ends_with('\n') {
                text.pop();
            }
            out.push(Chunk { text, quoted, expanded: true });
        }
        WordPiece::ArithmeticExpression(expr) => {
            return Err(format!("arithmetic expansion $(({})) is not supported", expr.value));
        }
    }
    Ok(())
}

fn parameter(shell: &mut Shell, expr: ParameterExpr) -> Result<String, String> {
    match expr {
        ParameterExpr::Parameter { parameter, indirect: false } => Ok(value(shell, &parameter).unwrap_or_default()),
        ParameterExpr::UseDefaultValues { parameter, indirect: false, test_type, default_value } => {
            match value(shell, &parameter) {
                Some(v) if !(v.is_empty() && matches!(test_type, ParameterTestType::UnsetOrNull)) => Ok(v),
                _ => string(shell, default_value.as_deref().unwrap_or("")),
            }
        }
        other => Err(format!("unsupported parameter expansion {other:?}")),
    }
}

fn value(shell: &Shell, parameter: &Parameter) -> Option<String> {
    match parameter {
        Parameter::Named(name) => shell.vars.get(name).cloned(),
        Parameter::Special(SpecialParameter::LastExitStatus) => Some(shell.status.to_string()),
        Parameter::Special(SpecialParameter::PositionalParameterCount) => Some("0".into()),
        Parameter::Special(SpecialParameter::AllPositionalParameters { .. }) => Some(String::new()),
        Parameter::Special(SpecialParameter::ShellName) | Parameter::Positional(0) => Some("bash".into()),
        Parameter::Special(SpecialParameter::ProcessId) => Some("1".into()),
        Parameter::Positional(_) => None,
        _ => None,
    }
}

/// Backslash escapes as `$'...'`, `echo -e` and `printf` read them; an
/// escape it does not know is kept as written.
pub fn backslash_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// One field before globbing: its text, and the same text as a glob
/// pattern with the quoted parts escaped.
#[derive(Default)]
struct Field {
    text: String,
    pattern: String,
    has_glob: bool,
}

impl Field {
    fn push(&mut self, c: char, quoted: bool) {
        self.text.push(c);
        let meta = matches!(c, '*' | '?' | '[' | ']' | '\\' | '{' | '}');
        if meta && quoted {
            self.pattern.push('\\');
        } else if matches!(c, '*' | '?' | '[') {
            self.has_glob = true;
        }
        self.pattern.push(c);
    }
}

fn split(chunks: &[Chunk]) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut current = Field::default();
    let mut started = false;
    for chunk in chunks {
        if chunk.expanded && !chunk.quoted {
            for c in chunk.text.chars() {
                if c.is_ascii_whitespace() {
                    if started {
                        fields.push(std::mem::take(&mut current));
                        started = false;
                    }
                } else {
                    current.push(c, false);
                    started = true;
                }
            }
        } else {
            for c in chunk.text.chars() {
                current.push(c, chunk.quoted);
            }
            started |= chunk.quoted || !chunk.text.is_empty();
        }
    }
    if started {
        fields.push(current);
    }
    fields
}

/// The paths matching a glob pattern, relative to the shell's folder as the
/// pattern was written, sorted; empty when nothing matches.
pub fn glob(shell: &Shell, pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    // (the path as shown, the path to read on disk)
    let start = if absolute { (String::from("/"), "/".to_string()) } else { (String::new(), shell.cwd_abs()) };
    let mut candidates = vec![start];
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let mut next = Vec::new();
        let is_glob = segment.contains(['*', '?', '[']);
        for (shown, disk) in &candidates {
            let join = |base: &str, name: &str| {
                if base.is_empty() || base.ends_with('/') { format!("{base}{name}") } else { format!("{base}/{name}") }
            };
            if !is_glob {
                let name = unescape(segment);
                let disk_path = join(disk, &name);
                if std::fs::symlink_metadata(&disk_path).is_ok() {
                    next.push((join(shown, &name), disk_path));
                }
                continue;
            }
            let Ok(matcher) = globset::GlobBuilder::new(segment).literal_separator(true).build() else {
                return Vec::new();
            };
            let matcher = matcher.compile_matcher();
            let Ok(entries) = std::fs::read_dir(disk) else { continue };
            let mut names: Vec<String> = entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| (!name.starts_with('.') || segment.starts_with('.')) && matcher.is_match(name))
                .filter(|name| {
                    (last && !pattern.ends_with('/')) || std::fs::metadata(join(disk, name)).is_ok_and(|m| m.is_dir())
                })
                .collect();
            names.sort();
            for name in names {
                next.push((join(shown, &name), join(disk, &name)));
            }
        }
        candidates = next;
    }
    let mut shown: Vec<String> = candidates.into_iter().map(|(shown, _)| shown).collect();
    shown.sort();
    if pattern.ends_with('/') {
        shown.iter_mut().for_each(|s| s.push('/'));
    }
    shown
}

fn unescape(segment: &str) -> String {
    let mut out = String::new();
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

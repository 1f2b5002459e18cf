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
use crate::pattern::Pattern;
use brush_parser::ParserOptions;
use brush_parser::word::{
    BraceExpressionMember, BraceExpressionOrText, Parameter, ParameterExpr, ParameterTestType, SpecialParameter,
    SubstringMatchKind, TildeExpr, WordPiece,
};

/// Expands a word into fields, as for a command's arguments: braces
/// first (`{a,b}`, `{1..5}`), then the rest of each word they make.
pub fn fields(shell: &mut Shell, word: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for word in braces(word)? {
        let chunks = chunks(shell, &word)?;
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
    }
    Ok(out)
}

/// The most words one brace expansion may make.
const MAX_BRACE_WORDS: usize = 100_000;

/// Brace expansion, on the word as written (quotes and `$` untouched, as
/// bash does it before any other expansion).
fn braces(word: &str) -> Result<Vec<String>, String> {
    if !word.contains('{') {
        return Ok(vec![word.to_string()]);
    }
    match brush_parser::word::parse_brace_expansions(word, &ParserOptions::default()) {
        Ok(Some(pieces)) => brace_words(&pieces).map_err(|()| format!("{word}: brace expansion makes too many words")),
        _ => Ok(vec![word.to_string()]),
    }
}

fn brace_words(pieces: &[BraceExpressionOrText]) -> Result<Vec<String>, ()> {
    let mut words = vec![String::new()];
    for piece in pieces {
        let alternatives = match piece {
            BraceExpressionOrText::Text(text) => vec![text.clone()],
            BraceExpressionOrText::Expr(members) => {
                let mut alternatives = Vec::new();
                for member in members {
                    match member {
                        BraceExpressionMember::NumberSequence { start, end, increment } => {
                            for n in sequence(*start, *end, *increment)? {
                                alternatives.push(n.to_string());
                            }
                        }
                        BraceExpressionMember::CharSequence { start, end, increment } => {
                            for n in sequence(*start as i64, *end as i64, *increment)? {
                                alternatives.extend(char::from_u32(n as u32).map(String::from));
                            }
                        }
                        BraceExpressionMember::Child(children) => alternatives.extend(brace_words(children)?),
                    }
                }
                alternatives
            }
        };
        if words.len().saturating_mul(alternatives.len()) > MAX_BRACE_WORDS {
            return Err(());
        }
        words = words.iter().flat_map(|word| alternatives.iter().map(move |a| format!("{word}{a}"))).collect();
    }
    Ok(words)
}

/// `{start..end..increment}`: counting towards `end` whichever way it lies.
fn sequence(start: i64, end: i64, increment: i64) -> Result<Vec<i64>, ()> {
    let step = increment.unsigned_abs().max(1);
    let count = start.abs_diff(end) / step + 1;
    if count as usize > MAX_BRACE_WORDS {
        return Err(());
    }
    let step = step as i64;
    Ok((0..count as i64).map(|i| if start <= end { start + i * step } else { start - i * step }).collect())
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
    /// Ends the field before it even inside quotes: between the elements
    /// of `"$@"` and `"${a[@]}"`.
    breaks: bool,
}

impl Chunk {
    fn new(text: String, quoted: bool, expanded: bool) -> Self {
        Chunk { text, quoted, expanded, breaks: false }
    }
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
    let literal = |text: String| Chunk::new(text, quoted, false);
    match piece {
        WordPiece::Text(text) => out.push(literal(text)),
        WordPiece::SingleQuotedText(text) => out.push(Chunk::new(text, true, false)),
        WordPiece::AnsiCQuotedText(text) => out.push(Chunk::new(backslash_escapes(&text), true, false)),
        WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
            // `"$@"` with no parameters makes no field at all.
            if let [only] = inner.as_slice()
                && let WordPiece::ParameterExpansion(expr) = &only.piece
                && let Some(values) = list(shell, expr)
                && values.is_empty()
            {
                return Ok(());
            }
            // An empty "" still makes a (quoted, empty) field.
            out.push(Chunk::new(String::new(), true, false));
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
            out.push(Chunk::new(text, true, false));
        }
        WordPiece::TildeExpansion(TildeExpr::Home) => out.push(Chunk::new(shell.var("HOME"), true, false)),
        WordPiece::TildeExpansion(TildeExpr::WorkingDir) => out.push(Chunk::new(shell.var("PWD"), true, false)),
        WordPiece::TildeExpansion(other) => return Err(format!("unsupported tilde expansion {other:?}")),
        WordPiece::ParameterExpansion(expr) => match list(shell, &expr) {
            // `"$@"`, `"${a[@]}"`: a field each.
            Some(values) if quoted => {
                for (i, text) in values.into_iter().enumerate() {
                    if i > 0 {
                        out.push(Chunk { breaks: true, ..Chunk::new(String::new(), true, true) });
                    }
                    out.push(Chunk::new(text, true, true));
                }
            }
            _ => {
                let text = parameter(shell, expr)?;
                out.push(Chunk::new(text, quoted, true));
            }
        },
        WordPiece::CommandSubstitution(command) | WordPiece::BackquotedCommandSubstitution(command) => {
            let mut text = shell.capture(&command);
            while text.ends_with('\n') {
                text.pop();
            }
            out.push(Chunk::new(text, quoted, true));
        }
        WordPiece::ArithmeticExpression(expr) => {
            // An error here ends the script, as in bash.
            let value = crate::arith::evaluate(shell, &expr.value).map_err(|e| shell.fatal_with(1, e))?;
            out.push(Chunk::new(value.to_string(), quoted, true));
        }
    }
    Ok(())
}

/// The values of `$@` and `${name[@]}`, which quoted make a field each;
/// `None` for any other expansion.
fn list(shell: &Shell, expr: &ParameterExpr) -> Option<Vec<String>> {
    match expr {
        ParameterExpr::Parameter { parameter, indirect: false } => match parameter {
            Parameter::Special(SpecialParameter::AllPositionalParameters { concatenate: false }) => {
                Some(shell.vars.positional.clone())
            }
            Parameter::NamedWithAllIndices { name, concatenate: false } => Some(shell.vars.elements(name)),
            _ => None,
        },
        ParameterExpr::MemberKeys { variable_name, concatenate: false } => Some(shell.vars.keys(variable_name)),
        _ => None,
    }
}

fn parameter(shell: &mut Shell, expr: ParameterExpr) -> Result<String, String> {
    let unset_or_null = |test: &ParameterTestType, value: &Option<String>| match value {
        None => true,
        Some(v) => v.is_empty() && matches!(test, ParameterTestType::UnsetOrNull),
    };
    match expr {
        ParameterExpr::Parameter { parameter, indirect } => {
            let value = lookup(shell, &parameter, indirect)?;
            match value {
                Some(value) => Ok(value),
                None => shell.unset_reference(&parameter.to_string()).map(|()| String::new()),
            }
        }
        ParameterExpr::UseDefaultValues { parameter, indirect, test_type, default_value } => {
            match lookup(shell, &parameter, indirect)? {
                value if unset_or_null(&test_type, &value) => string(shell, default_value.as_deref().unwrap_or("")),
                value => Ok(value.unwrap_or_default()),
            }
        }
        ParameterExpr::AssignDefaultValues { parameter, indirect, test_type, default_value } => {
            match lookup(shell, &parameter, indirect)? {
                value if unset_or_null(&test_type, &value) => {
                    let value = string(shell, default_value.as_deref().unwrap_or(""))?;
                    match &parameter {
                        Parameter::Named(name) => shell.set_var(name, value.clone())?,
                        Parameter::NamedWithIndex { name, index } => {
                            let key = shell.subscript(name, index)?;
                            shell.vars.set_element(name, &key, value.clone())?;
                        }
                        other => return Err(format!("${other}: cannot assign in this way")),
                    }
                    Ok(value)
                }
                value => Ok(value.unwrap_or_default()),
            }
        }
        ParameterExpr::IndicateErrorIfNullOrUnset { parameter, indirect, test_type, error_message } => {
            match lookup(shell, &parameter, indirect)? {
                value if unset_or_null(&test_type, &value) => {
                    let message = string(shell, error_message.as_deref().unwrap_or(""))?;
                    let message = if message.is_empty() { "parameter null or not set".into() } else { message };
                    let name = parameter.to_string();
                    let name = name.trim_start_matches('$').trim_start_matches('{').trim_end_matches('}');
                    Err(shell.fatal(format!("{name}: {message}")))
                }
                value => Ok(value.unwrap_or_default()),
            }
        }
        ParameterExpr::UseAlternativeValue { parameter, indirect, test_type, alternative_value } => {
            match lookup(shell, &parameter, indirect)? {
                value if unset_or_null(&test_type, &value) => Ok(String::new()),
                _ => string(shell, alternative_value.as_deref().unwrap_or("")),
            }
        }
        ParameterExpr::ParameterLength { parameter, indirect } => match &parameter {
            Parameter::NamedWithAllIndices { name, .. } => Ok(shell.vars.elements(name).len().to_string()),
            Parameter::Special(SpecialParameter::AllPositionalParameters { .. }) => {
                Ok(shell.vars.positional.len().to_string())
            }
            _ => Ok(lookup(shell, &parameter, indirect)?.unwrap_or_default().chars().count().to_string()),
        },
        ParameterExpr::RemoveSmallestSuffixPattern { parameter, indirect, pattern } => {
            each(shell, &parameter, indirect, |shell, value| trim(shell, value, pattern.as_deref(), true, false))
        }
        ParameterExpr::RemoveLargestSuffixPattern { parameter, indirect, pattern } => {
            each(shell, &parameter, indirect, |shell, value| trim(shell, value, pattern.as_deref(), true, true))
        }
        ParameterExpr::RemoveSmallestPrefixPattern { parameter, indirect, pattern } => {
            each(shell, &parameter, indirect, |shell, value| trim(shell, value, pattern.as_deref(), false, false))
        }
        ParameterExpr::RemoveLargestPrefixPattern { parameter, indirect, pattern } => {
            each(shell, &parameter, indirect, |shell, value| trim(shell, value, pattern.as_deref(), false, true))
        }
        ParameterExpr::Substring { parameter, indirect, offset, length } => {
            let offset = crate::arith::evaluate(shell, &offset.value)?;
            let length = match length {
                Some(length) => Some(crate::arith::evaluate(shell, &length.value)?),
                None => None,
            };
            // `${a[@]:1:2}`, `${@:2}`: a slice of the elements.
            let elements = match &parameter {
                Parameter::NamedWithAllIndices { name, .. } => Some(shell.vars.elements(name)),
                Parameter::Special(SpecialParameter::AllPositionalParameters { .. }) => {
                    Some(std::iter::once("bash".to_string()).chain(shell.vars.positional.clone()).collect())
                }
                _ => None,
            };
            if let Some(elements) = elements {
                let (start, end) = slice(elements.len() as i64, offset, length)?;
                return Ok(elements[start..end].join(" "));
            }
            let value = lookup(shell, &parameter, indirect)?.unwrap_or_default();
            let chars: Vec<char> = value.chars().collect();
            let (start, end) = slice(chars.len() as i64, offset, length)?;
            Ok(chars[start..end].iter().collect())
        }
        ParameterExpr::ReplaceSubstring { parameter, indirect, pattern, replacement, match_kind } => {
            let matcher = Pattern::new(&self::pattern(shell, &pattern)?)?;
            let replacement = string(shell, replacement.as_deref().unwrap_or(""))?;
            each(shell, &parameter, indirect, |_, value| Ok(replace(value, &matcher, &replacement, &match_kind)))
        }
        ParameterExpr::UppercasePattern { parameter, indirect, pattern } => {
            change_case(shell, &parameter, indirect, pattern.as_deref(), true, true)
        }
        ParameterExpr::LowercasePattern { parameter, indirect, pattern } => {
            change_case(shell, &parameter, indirect, pattern.as_deref(), false, true)
        }
        ParameterExpr::UppercaseFirstChar { parameter, indirect, pattern } => {
            change_case(shell, &parameter, indirect, pattern.as_deref(), true, false)
        }
        ParameterExpr::LowercaseFirstChar { parameter, indirect, pattern } => {
            change_case(shell, &parameter, indirect, pattern.as_deref(), false, false)
        }
        ParameterExpr::MemberKeys { variable_name, .. } => Ok(shell.vars.keys(&variable_name).join(" ")),
        other => Err(format!("this parameter expansion is not supported: {}", describe(&other))),
    }
}
/// The range `${x:offset:length}` takes of `count` items (negative
/// offsets and lengths count from the end).
fn slice(count: i64, offset: i64, length: Option<i64>) -> Result<(usize, usize), String> {
    let start = if offset < 0 { (count + offset).max(0) } else { offset.min(count) };
    let end = match length {
        None => count,
        Some(length) if length < 0 => {
            let end = count + length;
            if end < start {
                return Err(format!("{length}: substring expression < 0"));
            }
            end
        }
        Some(length) => (start + length).min(count),
    };
    Ok((start as usize, end as usize))
}

/// A parameter's value; `None` when unset. `${!name}` looks the value up
/// as a name in turn.
fn lookup(shell: &mut Shell, parameter: &Parameter, indirect: bool) -> Result<Option<String>, String> {
    let value = match parameter {
        Parameter::Named(name) => shell.vars.get(name),
        Parameter::NamedWithIndex { name, index } => {
            let key = shell.subscript(name, index)?;
            shell.vars.element(name, &key)
        }
        Parameter::NamedWithAllIndices { name, .. } => {
            let values = shell.vars.elements(name);
            (!values.is_empty()).then(|| values.join(" "))
        }
        Parameter::Positional(0) => Some("bash".into()),
        Parameter::Positional(n) => shell.vars.positional.get(*n as usize - 1).cloned(),
        Parameter::Special(special) => Some(match special {
            SpecialParameter::LastExitStatus => shell.status.to_string(),
            SpecialParameter::PositionalParameterCount => shell.vars.positional.len().to_string(),
            SpecialParameter::AllPositionalParameters { concatenate } => {
                // `"$*"` joins with IFS's first character (none if IFS is
                // empty, a space if it is unset).
                let separator = match (concatenate, shell.vars.get("IFS")) {
                    (true, Some(ifs)) => ifs.chars().next().map(String::from).unwrap_or_default(),
                    _ => " ".to_string(),
                };
                shell.vars.positional.join(&separator)
            }
            SpecialParameter::ShellName => "bash".into(),
            SpecialParameter::ProcessId => "1".into(),
            SpecialParameter::CurrentOptionFlags => shell.option_flags(),
            SpecialParameter::LastBackgroundProcessId => return Ok(None),
        }),
    };
    match (indirect, value) {
        (true, Some(name)) if !name.is_empty() => {
            match brush_parser::word::parse_parameter(&name, &ParserOptions::default()) {
                Ok(target) => lookup(shell, &target, false),
                Err(_) => Err(format!("{name}: invalid indirect expansion")),
            }
        }
        (true, _) => Ok(None),
        (false, value) => Ok(value),
    }
}

/// Applies `operation` to a parameter's value, or to each element of
/// `$@` / `${a[@]}` (joined by spaces).
fn each(
    shell: &mut Shell,
    parameter: &Parameter,
    indirect: bool,
    mut operation: impl FnMut(&mut Shell, &str) -> Result<String, String>,
) -> Result<String, String> {
    let values = match parameter {
        Parameter::Special(SpecialParameter::AllPositionalParameters { .. }) => shell.vars.positional.clone(),
        Parameter::NamedWithAllIndices { name, .. } => shell.vars.elements(name),
        _ => vec![lookup(shell, parameter, indirect)?.unwrap_or_default()],
    };
    let results = values.iter().map(|value| operation(shell, value)).collect::<Result<Vec<_>, _>>()?;
    Ok(results.join(" "))
}

/// `${v^^}`, `${v,,}` (every character), `${v^}`, `${v,}` (the first),
/// each limited to the characters matching a pattern when one is given.
fn change_case(
    shell: &mut Shell,
    parameter: &Parameter,
    indirect: bool,
    pattern: Option<&str>,
    upper: bool,
    all: bool,
) -> Result<String, String> {
    let matcher = match pattern.filter(|p| !p.is_empty()) {
        Some(pattern) => Some(Pattern::new(&self::pattern(shell, pattern)?)?),
        None => None,
    };
    each(shell, parameter, indirect, |_, value| {
        let mut out = String::with_capacity(value.len());
        for (i, c) in value.chars().enumerate() {
            let selected = (all || i == 0) && matcher.as_ref().is_none_or(|m| m.matches(c.encode_utf8(&mut [0; 4])));
            match (selected, upper) {
                (true, true) => out.extend(c.to_uppercase()),
                (true, false) => out.extend(c.to_lowercase()),
                (false, _) => out.push(c),
            }
        }
        Ok(out)
    })
}

/// `value` without its shortest or longest prefix or suffix matching `pattern`.
fn trim(shell: &mut Shell, value: &str, pattern: Option<&str>, suffix: bool, longest: bool) -> Result<String, String> {
    let matcher = Pattern::new(&self::pattern(shell, pattern.unwrap_or(""))?)?;
    Ok(match suffix {
        true => matcher.suffix(value, longest).map_or(value, |start| &value[..start]).to_string(),
        false => matcher.prefix(value, longest).map_or(value, |end| &value[end..]).to_string(),
    })
}

/// `${value/pattern/replacement}` and its kinds (`//` all, `/#` prefix, `/%` suffix).
fn replace(value: &str, matcher: &Pattern, replacement: &str, kind: &SubstringMatchKind) -> String {
    match kind {
        SubstringMatchKind::Prefix => match matcher.prefix(value, true) {
            Some(end) => format!("{replacement}{}", &value[end..]),
            None => value.to_string(),
        },
        SubstringMatchKind::Suffix => match matcher.suffix(value, true) {
            Some(start) => format!("{}{replacement}", &value[..start]),
            None => value.to_string(),
        },
        SubstringMatchKind::FirstOccurrence | SubstringMatchKind::Anywhere => {
            let all = matches!(kind, SubstringMatchKind::Anywhere);
            let (mut out, mut at) = (String::new(), 0);
            while let Some((start, end)) = matcher.find(value, at) {
                out.push_str(&value[at..start]);
                out.push_str(replacement);
                at = end;
                if !all {
                    break;
                }
            }
            out.push_str(&value[at..]);
            out
        }
    }
}

/// A parameter expansion's kind, for an error message.
fn describe(expr: &ParameterExpr) -> String {
    format!("{expr:?}").split([' ', '{']).next().unwrap_or("").to_string()
}

/// Expands a word into a shell pattern: expansions and unquoted text keep
/// their pattern characters, quoted text is escaped to match as text.
pub fn pattern(shell: &mut Shell, word: &str) -> Result<String, String> {
    let mut out = String::new();
    for chunk in chunks(shell, word)? {
        for c in chunk.text.chars() {
            if chunk.quoted && matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    Ok(out)
}

/// Expands a word into a regular expression for `=~`: quoted text is
/// escaped to match as text.
pub fn regex(shell: &mut Shell, word: &str) -> Result<String, String> {
    let mut out = String::new();
    for chunk in chunks(shell, word)? {
        match chunk.quoted {
            true => out.push_str(&regex::escape(&chunk.text)),
            false => out.push_str(&chunk.text),
        }
    }
    Ok(out)
}

/// Expands `text` as inside double quotes (`$x`, `$(cmd)`, `\$`), as an
/// arithmetic expression or a here-document is.
pub fn quoted_text(shell: &mut Shell, text: &str) -> Result<String, String> {
    if !text.contains(['$', '`', '\\']) {
        return Ok(text.to_string());
    }
    string(shell, &format!("\"{}\"", text.replace('"', "\\\"")))
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
        if chunk.breaks {
            fields.push(std::mem::take(&mut current));
            started = true;
            continue;
        }
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

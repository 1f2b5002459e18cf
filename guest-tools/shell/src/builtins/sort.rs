//! `sort` as GNU sort orders lines in the C locale: keys (`-k F[.C][opts]
//! [,F[.C][opts]]`, several), a field separator (`-t`), numeric (`-n`,
//! `-g`), human sizes (`-h`), folded case (`-f`), leading blanks ignored
//! (`-b`), reversed (`-r`), unique by key (`-u`), stable (`-s`), checked
//! (`-c`), written to a file (`-o`). Lines equal by every key are ordered
//! by the whole line, unless `-s` or `-u`.

use crate::interp::Shell;
use crate::io::{Io, err, out};
use std::cmp::Ordering;

/// How a key compares.
#[derive(Clone, Copy, Default, PartialEq)]
struct Collation {
    numeric: bool,
    general: bool,
    human: bool,
    fold: bool,
    blanks: bool,
    reverse: bool,
}

impl Collation {
    /// Both orderings' modifiers.
    fn union(self, other: Collation) -> Collation {
        Collation {
            numeric: self.numeric || other.numeric,
            general: self.general || other.general,
            human: self.human || other.human,
            fold: self.fold || other.fold,
            blanks: self.blanks || other.blanks,
            reverse: self.reverse || other.reverse,
        }
    }

    fn any(&self) -> bool {
        *self != Collation::default()
    }

    /// Takes the letters of `text` that set an ordering; false for others.
    fn take(&mut self, text: &str) -> bool {
        for c in text.chars() {
            match c {
                'n' => self.numeric = true,
                'g' => self.general = true,
                'h' => self.human = true,
                'f' => self.fold = true,
                'b' => self.blanks = true,
                'r' => self.reverse = true,
                'd' | 'i' | 'M' | 'V' | 'R' => {}
                _ => return false,
            }
        }
        true
    }
}

/// One `-k`: from field.char to field.char (char 0 at the end: the
/// field's last).
struct Key {
    start: (usize, usize),
    end: Option<(usize, usize)>,
    ordering: Collation,
    /// Blanks skipped at the end position too (`b` on it).
    end_blanks: bool,
}

struct Options {
    keys: Vec<Key>,
    global: Collation,
    separator: Option<char>,
    unique: bool,
    stable: bool,
    check: bool,
    output: Option<String>,
}

pub fn sort(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (options, files) = match parse(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            err!(io, "sort: {message}\n");
            return 2;
        }
    };
    let (inputs, status) = super::inputs(shell, "sort", &files, io);
    if status != 0 {
        return 2;
    }
    let text: String = inputs.iter().map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned()).collect();
    let mut lines: Vec<&str> = text.lines().collect();
    let compare = |a: &&str, b: &&str| compare(&options, a, b);
    if options.check {
        for (i, pair) in lines.windows(2).enumerate() {
            let order = compare(&pair[0], &pair[1]);
            if order == Ordering::Greater || (options.unique && order == Ordering::Equal) {
                let name = files.first().map_or("-", String::as_str);
                err!(io, "sort: {name}:{}: disorder: {}\n", i + 2, pair[1]);
                return 1;
            }
        }
        return 0;
    }
    lines.sort_by(compare);
    if options.unique {
        lines.dedup_by(|b, a| compare(a, b) == Ordering::Equal);
    }
    let mut sorted = String::new();
    for line in lines {
        sorted.push_str(line);
        sorted.push('\n');
    }
    match &options.output {
        Some(file) => match shell
            .resolve(file)
            .and_then(|p| std::fs::write(&p.abs, &sorted).map_err(|e| crate::interp::describe(&e).to_string()))
        {
            Ok(()) => 0,
            Err(message) => {
                err!(io, "sort: cannot create {file}: {message}\n");
                2
            }
        },
        None => {
            out!(io, "{sorted}");
            0
        }
    }
}

fn parse(args: &[String]) -> Result<(Options, Vec<String>), String> {
    let mut options = Options {
        keys: Vec::new(),
        global: Collation::default(),
        separator: None,
        unique: false,
        stable: false,
        check: false,
        output: None,
    };
    let mut files = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            files.extend(args.by_ref().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            files.push(arg.clone());
            continue;
        }
        // Letters run together (`-rn`); `k`, `t` and `o` take the rest of
        // the word or the next one.
        for (at, letter) in arg[1..].char_indices() {
            let mut value = || {
                let rest = &arg[1 + at + letter.len_utf8()..];
                if rest.is_empty() { args.next().cloned() } else { Some(rest.to_string()) }
                    .ok_or_else(|| format!("option requires an argument -- '{letter}'"))
            };
            match letter {
                'k' => {
                    options.keys.push(key(&value()?)?);
                    break;
                }
                't' => {
                    let separator = value()?;
                    let mut chars = separator.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => options.separator = Some(c),
                        _ => return Err(format!("multi-character tab '{separator}'")),
                    }
                    break;
                }
                'o' => {
                    options.output = Some(value()?);
                    break;
                }
                'u' => options.unique = true,
                's' => options.stable = true,
                'c' | 'C' => options.check = true,
                letter if options.global.take(&letter.to_string()) => {}
                letter => return Err(format!("invalid option -- '{letter}'")),
            }
        }
    }
    Ok((options, files))
}

/// `F[.C][opts][,F[.C][opts]]`.
fn key(spec: &str) -> Result<Key, String> {
    let invalid = || format!("invalid number at field start: invalid count at start of '{spec}'");
    let position = |text: &str, ordering: &mut Collation| -> Result<(usize, usize), String> {
        let digits_end = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let field_end = digits_end(text);
        let field: usize = text[..field_end].parse().map_err(|_| invalid())?;
        let mut rest = &text[field_end..];
        let mut char = 0;
        if let Some(after) = rest.strip_prefix('.') {
            let end = digits_end(after);
            char = after[..end].parse().map_err(|_| invalid())?;
            rest = &after[end..];
        }
        if !ordering.take(rest) {
            return Err(format!("invalid key modifier in '{spec}'"));
        }
        Ok((field, char))
    };
    let (start_text, end_text) = match spec.split_once(',') {
        Some((start, end)) => (start, Some(end)),
        None => (spec, None),
    };
    let mut ordering = Collation::default();
    let start = position(start_text, &mut ordering)?;
    if start.0 == 0 {
        return Err("invalid number at field start: field number is zero".into());
    }
    let (mut end_collation, mut end) = (Collation::default(), None);
    if let Some(text) = end_text {
        end = Some(position(text, &mut end_collation)?);
    }
    // Modifiers on the end position apply to the key, as in GNU sort, but
    // for `b`, which skips blanks at the end position only.
    let end_blanks = end_collation.blanks;
    let ordering = ordering.union(Collation { blanks: false, ..end_collation });
    Ok(Key { start: (start.0, start.1.max(1)), end, ordering, end_blanks })
}

fn compare(options: &Options, a: &str, b: &str) -> Ordering {
    for key in &options.keys {
        let ordering = if key.ordering.any() { key.ordering } else { options.global };
        let (x, y) = (extract(options, key, &ordering, a), extract(options, key, &ordering, b));
        let order = compare_text(&ordering, x, y);
        let order = if ordering.reverse { order.reverse() } else { order };
        if order != Ordering::Equal {
            return order;
        }
    }
    if options.keys.is_empty() {
        let order = compare_text(&options.global, a, b);
        let order = if options.global.reverse { order.reverse() } else { order };
        if order != Ordering::Equal {
            return order;
        }
    }
    if options.stable || options.unique {
        return Ordering::Equal;
    }
    let order = a.as_bytes().cmp(b.as_bytes());
    if options.global.reverse { order.reverse() } else { order }
}

/// Where each field starts and ends in `line`: with a separator, between
/// separators; without, a field is its leading blanks and what follows
/// up to the next blank.
fn fields(separator: Option<char>, line: &str) -> Vec<(usize, usize)> {
    let mut fields = Vec::new();
    match separator {
        Some(separator) => {
            let mut start = 0;
            for (at, c) in line.char_indices() {
                if c == separator {
                    fields.push((start, at));
                    start = at + c.len_utf8();
                }
            }
            fields.push((start, line.len()));
        }
        None => {
            let bytes = line.as_bytes();
            let mut at = 0;
            while at < bytes.len() {
                let start = at;
                while at < bytes.len() && is_blank(bytes[at]) {
                    at += 1;
                }
                while at < bytes.len() && !is_blank(bytes[at]) {
                    at += 1;
                }
                fields.push((start, at));
            }
        }
    }
    fields
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// The text of `key` in `line`.
fn extract<'a>(options: &Options, key: &Key, ordering: &Collation, line: &'a str) -> &'a str {
    let fields = fields(options.separator, line);
    let skip_blanks = |at: usize, end: usize| {
        let mut at = at;
        while at < end && is_blank(line.as_bytes()[at]) {
            at += 1;
        }
        at
    };
    let advance = |from: usize, limit: usize, chars: usize| {
        line[from..limit].char_indices().nth(chars).map_or(limit, |(offset, _)| from + offset)
    };
    let start = match fields.get(key.start.0 - 1) {
        None => return "",
        Some(&(from, to)) => {
            let from = if ordering.blanks { skip_blanks(from, to) } else { from };
            advance(from, to, key.start.1 - 1)
        }
    };
    let end = match key.end {
        None => line.len(),
        Some((field, char)) => match fields.get(field.saturating_sub(1)) {
            None => line.len(),
            Some(&(_, to)) if char == 0 => to,
            Some(&(from, to)) => {
                let from = if key.end_blanks { skip_blanks(from, to) } else { from };
                advance(from, to, char)
            }
        },
    };
    if end <= start { "" } else { &line[start..end] }
}

fn compare_text(ordering: &Collation, a: &str, b: &str) -> Ordering {
    if ordering.numeric || ordering.general || ordering.human {
        let (x, y) = (number(a, ordering.human), number(b, ordering.human));
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    let (a, b) =
        if ordering.blanks { (a.trim_start_matches([' ', '\t']), b.trim_start_matches([' ', '\t'])) } else { (a, b) };
    if ordering.fold {
        let upper = |s: &str| s.bytes().map(|c| c.to_ascii_uppercase()).collect::<Vec<u8>>();
        return upper(a).cmp(&upper(b));
    }
    a.as_bytes().cmp(b.as_bytes())
}

/// The number a key starts with (after blanks): 0 when there is none; with
/// `human`, a size suffix (K, M, G, ...) scales it.
fn number(text: &str, human: bool) -> f64 {
    let text = text.trim_start_matches([' ', '\t']);
    let bytes = text.as_bytes();
    let mut end = usize::from(bytes.first() == Some(&b'-'));
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end < bytes.len() && bytes[end] == b'.' {
        end += 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    let value: f64 = text[..end].parse().unwrap_or(0.0);
    if !human {
        return value;
    }
    let scale = match bytes.get(end) {
        Some(b'K' | b'k') => 1e3,
        Some(b'M') => 1e6,
        Some(b'G') => 1e9,
        Some(b'T') => 1e12,
        Some(b'P') => 1e15,
        _ => 1.0,
    };
    value * scale
}

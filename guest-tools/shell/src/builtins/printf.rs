//! `printf [-v NAME] FORMAT [ARGUMENTS]`, as bash's built-in formats.
//!
//! Conversions `d i u o x X c s b q f F e E g G %`, the flags `- + space # 0`,
//! widths and precisions (`*` takes them from the arguments), and the
//! format used again while arguments remain. A number that does not read
//! is reported (`printf: x: invalid number`), printed as 0 (or as far as it
//! read) and makes the status 1, as in bash; `'c` is the code of `c`.

use crate::expand::backslash_escapes;
use crate::interp::Shell;
use crate::io::{Io, err, out};

pub fn printf(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (target, args) = match args {
        [flag, name, rest @ ..] if flag == "-v" => (Some(name.clone()), rest),
        _ => (None, args),
    };
    // `printf -- FORMAT`: the format may then start with `-`.
    let args = args.strip_prefix(&["--".to_string()]).unwrap_or(args);
    let Some((format, mut rest)) = args.split_first() else {
        err!(io, "bash: printf: usage: printf [-v var] format [arguments]\n");
        return 2;
    };
    let format: Vec<char> = backslash_escapes(format).chars().collect();
    let mut output = String::new();
    let mut failed = false;
    loop {
        let mut arguments = Arguments { values: rest, used: 0, failed: &mut failed, io };
        format_once(&format, &mut arguments, &mut output);
        let used = arguments.used;
        if used == 0 || used >= rest.len() {
            break;
        }
        rest = &rest[used..];
    }
    match target {
        Some(name) => shell.vars.set(&name, output),
        None => out!(io, "{output}"),
    }
    i32::from(failed)
}

/// The arguments a format takes from, in turn.
struct Arguments<'a> {
    values: &'a [String],
    used: usize,
    failed: &'a mut bool,
    io: &'a Io,
}

impl Arguments<'_> {
    fn next(&mut self) -> &str {
        let value = self.values.get(self.used).map_or("", String::as_str);
        self.used += 1;
        value
    }

    fn integer(&mut self) -> i64 {
        let text = self.next().to_string();
        match integer(&text) {
            Ok(n) => n,
            Err(n) => {
                err!(self.io, "bash: printf: {text}: invalid number\n");
                *self.failed = true;
                n
            }
        }
    }

    fn float(&mut self) -> f64 {
        let text = self.next().to_string();
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return 0.0;
        }
        if let Some(c) = trimmed.strip_prefix(['\'', '"']) {
            return c.chars().next().map_or(0.0, |c| c as u32 as f64);
        }
        match trimmed.parse::<f64>() {
            Ok(n) => n,
            Err(_) => match integer(trimmed) {
                Ok(n) => n as f64,
                Err(n) => {
                    err!(self.io, "bash: printf: {text}: invalid number\n");
                    *self.failed = true;
                    n as f64
                }
            },
        }
    }
}

/// A number as printf reads one: decimal, `0x` hex, `0` octal, `'c`; the
/// error carries what was read before the first bad character.
fn integer(text: &str) -> Result<i64, i64> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(0);
    }
    if let Some(c) = trimmed.strip_prefix(['\'', '"']) {
        return Ok(c.chars().next().map_or(0, |c| c as i64));
    }
    if let Ok(n) = crate::arith::parse_number(trimmed) {
        return Ok(n);
    }
    let (sign, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let read: String = digits.chars().take_while(char::is_ascii_digit).collect();
    Err(sign * read.parse::<i64>().unwrap_or(0))
}

/// One conversion's flags, width and precision.
#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alternate: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

fn format_once(format: &[char], arguments: &mut Arguments, output: &mut String) {
    let mut i = 0;
    while i < format.len() {
        let c = format[i];
        i += 1;
        if c != '%' {
            output.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = format.get(i) {
            match flag {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alternate = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if format.get(i) == Some(&'*') {
            let width = arguments.integer();
            spec.left |= width < 0;
            spec.width = width.unsigned_abs() as usize;
            i += 1;
        } else {
            while let Some(digit) = format.get(i).and_then(|c| c.to_digit(10)) {
                spec.width = spec.width * 10 + digit as usize;
                i += 1;
            }
        }
        if format.get(i) == Some(&'.') {
            i += 1;
            if format.get(i) == Some(&'*') {
                spec.precision = Some(arguments.integer().max(0) as usize);
                i += 1;
            } else {
                let mut precision = 0;
                while let Some(digit) = format.get(i).and_then(|c| c.to_digit(10)) {
                    precision = precision * 10 + digit as usize;
                    i += 1;
                }
                spec.precision = Some(precision);
            }
        }
        // Length modifiers mean nothing to the shell.
        while matches!(format.get(i), Some('l' | 'h' | 'j' | 'z' | 't' | 'L')) && format.get(i + 1).is_some() {
            i += 1;
        }
        let Some(&conversion) = format.get(i) else {
            output.push('%');
            break;
        };
        i += 1;
        let text = match conversion {
            '%' => "%".to_string(),
            'd' | 'i' => signed(arguments.integer(), &spec),
            'u' => unsigned(arguments.integer() as u64, 10, false, &spec),
            'o' => unsigned(arguments.integer() as u64, 8, false, &spec),
            'x' => unsigned(arguments.integer() as u64, 16, false, &spec),
            'X' => unsigned(arguments.integer() as u64, 16, true, &spec),
            'f' | 'F' | 'e' | 'E' | 'g' | 'G' => float(arguments.float(), conversion, &spec),
            'c' => arguments.next().chars().next().map(String::from).unwrap_or_default(),
            's' => truncate(arguments.next(), spec.precision),
            'b' => truncate(&backslash_escapes(arguments.next()), spec.precision),
            'q' => quote(arguments.next()),
            other => {
                err!(arguments.io, "bash: printf: `{other}': invalid format character\n");
                *arguments.failed = true;
                return;
            }
        };
        let numeric = matches!(conversion, 'd' | 'i' | 'u' | 'o' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G');
        output.push_str(&pad(text, &spec, numeric && !(spec.precision.is_some() && "diuoxX".contains(conversion))));
    }
}

fn truncate(text: &str, precision: Option<usize>) -> String {
    match precision {
        Some(p) => text.chars().take(p).collect(),
        None => text.to_string(),
    }
}

fn sign(negative: bool, spec: &Spec) -> &'static str {
    match (negative, spec.plus, spec.space) {
        (true, _, _) => "-",
        (false, true, _) => "+",
        (false, false, true) => " ",
        _ => "",
    }
}

fn signed(n: i64, spec: &Spec) -> String {
    let digits = n.unsigned_abs().to_string();
    let digits = min_digits(digits, spec.precision);
    format!("{}{digits}", sign(n < 0, spec))
}

fn unsigned(n: u64, radix: u32, upper: bool, spec: &Spec) -> String {
    let digits = match (radix, upper) {
        (8, _) => format!("{n:o}"),
        (16, false) => format!("{n:x}"),
        (16, true) => format!("{n:X}"),
        _ => n.to_string(),
    };
    let digits = min_digits(digits, spec.precision);
    match (spec.alternate && n != 0, radix, upper) {
        (true, 8, _) if !digits.starts_with('0') => format!("0{digits}"),
        (true, 16, false) => format!("0x{digits}"),
        (true, 16, true) => format!("0X{digits}"),
        _ => digits,
    }
}

/// An integer's precision: at least that many digits.
fn min_digits(digits: String, precision: Option<usize>) -> String {
    match precision {
        Some(0) if digits == "0" => String::new(),
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    }
}

fn float(n: f64, conversion: char, spec: &Spec) -> String {
    let upper = conversion.is_ascii_uppercase();
    let precision = spec.precision.unwrap_or(6);
    let body = if !n.is_finite() {
        let text = if n.is_nan() { "nan" } else { "inf" };
        if upper { text.to_uppercase() } else { text.to_string() }
    } else {
        match conversion.to_ascii_lowercase() {
            'f' => format!("{:.*}", precision, n.abs()),
            'e' => exponent(n.abs(), precision, upper),
            _ => general(n.abs(), precision, spec.alternate, upper),
        }
    };
    format!("{}{body}", sign(n.is_sign_negative() && !n.is_nan(), spec))
}

/// `%e`: `d.ddde+XX`.
fn exponent(n: f64, precision: usize, upper: bool) -> String {
    let text = format!("{:.*e}", precision, n);
    let (mantissa, power) = text.split_once('e').unwrap_or((&text, "0"));
    let power: i32 = power.parse().unwrap_or(0);
    let e = if upper { 'E' } else { 'e' };
    format!("{mantissa}{e}{}{:02}", if power < 0 { '-' } else { '+' }, power.abs())
}

/// `%g`: `%e` for very small or large numbers, `%f` otherwise, without
/// trailing zeros (unless `#`).
fn general(n: f64, precision: usize, alternate: bool, upper: bool) -> String {
    let precision = precision.max(1);
    let power = if n == 0.0 {
        0
    } else {
        let text = format!("{:.*e}", precision - 1, n);
        text.split_once('e').and_then(|(_, p)| p.parse::<i32>().ok()).unwrap_or(0)
    };
    let text = if power < -4 || power >= precision as i32 {
        exponent(n, precision - 1, upper)
    } else {
        format!("{:.*}", (precision as i32 - 1 - power).max(0) as usize, n)
    };
    if alternate {
        return text;
    }
    match text.split_once(['e', 'E']) {
        Some((mantissa, power)) => {
            let e = if upper { 'E' } else { 'e' };
            format!("{}{e}{power}", strip_zeros(mantissa))
        }
        None => strip_zeros(&text),
    }
}

fn strip_zeros(text: &str) -> String {
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text.to_string(),
    }
}

/// Pads to the width: left (`-`), with zeros after the sign (`0`, numbers
/// only), or with spaces before.
fn pad(text: String, spec: &Spec, zeros: bool) -> String {
    let len = text.chars().count();
    if len >= spec.width {
        return text;
    }
    let fill = spec.width - len;
    if spec.left {
        format!("{text}{}", " ".repeat(fill))
    } else if spec.zero && zeros {
        let split = text.find(|c: char| c.is_ascii_alphanumeric()).unwrap_or(0);
        let (sign, digits) = text.split_at(split);
        let (prefix, digits) = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
            Some(rest) => (&digits[..2], rest),
            None => ("", digits),
        };
        format!("{sign}{prefix}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

/// `%q`: the argument quoted so the shell reads it back as it is.
fn quote(text: &str) -> String {
    if text.is_empty() {
        return "''".into();
    }
    let mut out = String::new();
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || "_-./:=+,@%^".contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

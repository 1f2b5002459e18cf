//! `jq`: JSON queries, by jaq (a jq implementation in Rust) rather than a
//! hand-written one.
//!
//! The options agents use: `-r`, `-j`, `-c`, `-n`, `-s`, `-e`, `-S`, `-R`,
//! `--tab`, `--indent N`, `--arg NAME TEXT`, `--argjson NAME JSON`, and
//! files or stdin. Output is jq's: two-space indentation, `"key": value`,
//! compact with `-c`. Exit statuses are jq's: 2 for unreadable input, 3 for
//! a filter that does not compile, 5 for an error while running, and with
//! `-e` 1 when the last output is `false` or `null` (4 when there is none).

use crate::interp::Shell;
use crate::io::{Io, err};
use jaq_all::data::{Runner, funs, run};
use jaq_all::jaq_core::Vars;
use jaq_all::json::write::{Pp, write};
use jaq_all::json::{Num, Val, read};
use jaq_all::load::FileReportsDisp;
use std::io::Write;

#[derive(Default)]
struct Options {
    raw: bool,
    join: bool,
    compact: bool,
    null_input: bool,
    slurp: bool,
    exit_status: bool,
    sort_keys: bool,
    raw_input: bool,
    indent: Option<String>,
    /// `--arg` and `--argjson`, in order.
    vars: Vec<(String, Val)>,
}

pub fn jq(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (options, filter, files) = match parse(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            err!(
                io,
                "jq: {message}\nUse jq --help for help with command-line options,\nor see the jq manpage, or online docs  at https://jqlang.github.io/jq\n"
            );
            return 2;
        }
    };
    let names: Vec<String> = options.vars.iter().map(|(name, _)| name.clone()).collect();
    let filter = match jaq_all::compile_with(&filter, jaq_all::defs(), funs(), &names) {
        Ok(filter) => filter,
        Err(reports) => {
            for report in &reports {
                err!(io, "jq: error: {}", FileReportsDisp::new(report));
            }
            err!(io, "jq: 1 compile error\n");
            return 3;
        }
    };
    let (inputs, status) = super::inputs(shell, "jq", &files, io);
    if status != 0 {
        return 2;
    }
    let values = match parse_inputs(&options, inputs) {
        Ok(values) => values,
        Err(message) => {
            err!(io, "jq: error (at <stdin>:0): {message}\n");
            return 2;
        }
    };
    let pp = Pp {
        indent: (!options.compact).then(|| options.indent.clone().unwrap_or_else(|| "  ".into())),
        sort_keys: options.sort_keys,
        sep_space: !options.compact,
        ..Pp::default()
    };
    let runner = Runner { null_input: options.null_input, ..Runner::default() };
    let vars = Vars::new(options.vars.into_iter().map(|(_, value)| value));
    let mut last = None;
    let mut out = io.out.borrow_mut();
    let result = run(
        &runner,
        &filter,
        vars,
        (&Val::from("<stdin>".to_string()), values.into_iter().map(Ok::<_, String>)),
        |message| message,
        |output| {
            let value = output.map_err(|e| match e.get_err() {
                Ok(error) => format!("{error}"),
                Err(_) => "halted".to_string(),
            })?;
            print(&mut *out, &pp, options.raw || options.join, !options.join, &value).map_err(|e| e.to_string())?;
            last = Some(value);
            Ok(())
        },
    );
    drop(out);
    if let Err(message) = result {
        err!(io, "jq: error (at <stdin>:0): {message}\n");
        return 5;
    }
    match (options.exit_status, last) {
        (false, _) => 0,
        (true, None) => 4,
        (true, Some(Val::Null | Val::Bool(false))) => 1,
        (true, Some(_)) => 0,
    }
}

/// One output value, as jq prints it: strings as they are when `raw`, and
/// a newline after each unless joined.
fn print(out: &mut dyn Write, pp: &Pp, raw: bool, newline: bool, value: &Val) -> std::io::Result<()> {
    match value {
        Val::TStr(text) if raw => out.write_all(text)?,
        _ => write(out, pp, 0, &whole_numbers_as_integers(value))?,
    }
    if newline {
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// jq prints a whole number without a fraction (`2`, not `2.0`), however
/// it was computed.
fn whole_numbers_as_integers(value: &Val) -> Val {
    match value {
        Val::Num(Num::Float(f)) if f.fract() == 0.0 && f.abs() < 1e17 => Val::Num(Num::Int(*f as isize)),
        Val::Arr(items) => items.iter().map(whole_numbers_as_integers).collect(),
        Val::Obj(entries) => Val::obj(entries.iter().map(|(k, v)| (k.clone(), whole_numbers_as_integers(v))).collect()),
        other => other.clone(),
    }
}

/// The long spelling of each one-letter flag.
const LONG_FLAGS: &[(&str, char)] = &[
    ("--raw-output", 'r'),
    ("--join-output", 'j'),
    ("--compact-output", 'c'),
    ("--null-input", 'n'),
    ("--slurp", 's'),
    ("--exit-status", 'e'),
    ("--sort-keys", 'S'),
    ("--raw-input", 'R'),
];

impl Options {
    /// Sets the flag `letter` names (`-M`, `-C` and `-a` change nothing here).
    fn set(&mut self, letter: char) -> Result<(), String> {
        match letter {
            'r' => self.raw = true,
            'j' => self.join = true,
            'c' => self.compact = true,
            'n' => self.null_input = true,
            's' => self.slurp = true,
            'e' => self.exit_status = true,
            'S' => self.sort_keys = true,
            'R' => self.raw_input = true,
            'M' | 'C' | 'a' => {}
            other => return Err(format!("Unknown option: -{other}")),
        }
        Ok(())
    }
}

fn parse(args: &[String]) -> Result<(Options, String, Vec<String>), String> {
    let mut options = Options::default();
    let mut filter = None;
    let mut files = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().ok_or_else(|| format!("{name} takes a parameter"));
        match arg.as_str() {
            long if let Some(&(_, letter)) = LONG_FLAGS.iter().find(|(name, _)| *name == long) => {
                options.set(letter)?;
            }
            "--tab" => options.indent = Some("\t".into()),
            "--indent" => {
                let n: usize = value("--indent")?.parse().map_err(|_| "--indent takes a number".to_string())?;
                options.indent = Some(" ".repeat(n.min(7)));
                options.compact |= n == 0;
            }
            "--arg" => {
                let name = value("--arg")?;
                let text = value("--arg")?;
                options.vars.push((name, Val::from(text)));
            }
            "--argjson" => {
                let name = value("--argjson")?;
                let text = value("--argjson")?;
                let json = read::parse_single(text.as_bytes())
                    .map_err(|_| "Invalid JSON text passed to --argjson".to_string())?;
                options.vars.push((name, json));
            }
            "--" => {
                files.extend(args.by_ref().cloned());
            }
            flag if flag.starts_with('-') && flag.len() > 1 && !flag.starts_with("--") => {
                for letter in flag[1..].chars() {
                    options.set(letter)?;
                }
            }
            flag if flag.starts_with("--") => return Err(format!("Unknown option: {flag}")),
            operand if filter.is_none() => filter = Some(operand.to_string()),
            file => files.push(file.to_string()),
        }
    }
    let filter = filter.unwrap_or_else(|| ".".into());
    Ok((options, filter, files))
}

/// The input values: JSON texts one after another, or with `-R` lines;
/// `-s` makes them one array (one string with `-R`).
fn parse_inputs(options: &Options, inputs: Vec<(String, Vec<u8>)>) -> Result<Vec<Val>, String> {
    let bytes: Vec<u8> = inputs.into_iter().flat_map(|(_, bytes)| bytes).collect();
    if options.raw_input {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if options.slurp {
            return Ok(vec![Val::from(text)]);
        }
        return Ok(text.lines().map(|line| Val::from(line.to_string())).collect());
    }
    let values: Vec<Val> = read::parse_many(&bytes).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    Ok(if options.slurp { vec![values.into_iter().collect()] } else { values })
}

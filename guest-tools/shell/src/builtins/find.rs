//! `find` with GNU find's expressions: tests (`-name`, `-iname`, `-path`,
//! `-ipath`, `-type`, `-size`, `-newer`, `-mtime`, `-mmin`, `-empty`),
//! operators (`!`/`-not`, `-a`/`-and`, `-o`/`-or`, parentheses), actions
//! (`-print`, `-print0`, `-delete`, `-exec CMD {} ;`, `-exec CMD {} +`,
//! `-prune`) and the options `-maxdepth`/`-mindepth`. Without an action,
//! what the expression matches is printed. Everything is looked up inside
//! the workspace; `-exec` runs a command of this shell.

use crate::interp::Shell;
use crate::io::{Io, err, out};
use std::time::SystemTime;

/// A find expression.
enum Expr {
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Name(globset::GlobMatcher),
    Path(globset::GlobMatcher),
    Type(char),
    Size(Compare, u64, u64),
    Newer(SystemTime),
    /// Age in units of the second field (seconds): 86400 for `-mtime`.
    Age(Compare, i64, u64),
    Empty,
    True(bool),
    Print(char),
    Delete,
    Exec(Vec<String>, bool),
    Prune,
}

#[derive(Clone, Copy)]
enum Compare {
    Less,
    Exactly,
    More,
}

impl Compare {
    fn holds(self, value: i64, n: i64) -> bool {
        match self {
            Compare::Less => value < n,
            Compare::Exactly => value == n,
            Compare::More => value > n,
        }
    }
}

/// What one file is, for the tests.
struct Entry<'a> {
    shown: &'a str,
    metadata: Option<std::fs::Metadata>,
}

struct Parser<'a> {
    shell: &'a Shell,
    args: &'a [String],
    at: usize,
    /// Whether an action appears (else matches are printed).
    acts: bool,
    max_depth: usize,
    min_depth: usize,
}

pub fn find(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let first_expr =
        args.iter().position(|a| a.starts_with('-') && a.len() > 1 || a == "!" || a == "(").unwrap_or(args.len());
    let mut starts: Vec<String> = args[..first_expr].to_vec();
    if starts.is_empty() {
        starts.push(".".into());
    }
    let mut parser =
        Parser { shell, args: &args[first_expr..], at: 0, acts: false, max_depth: usize::MAX, min_depth: 0 };
    let parsed = if parser.args.is_empty() { Ok(Expr::True(true)) } else { parser.expression() };
    let expr = match parsed {
        Ok(expr) if parser.at == parser.args.len() => expr,
        Ok(_) => return usage(io, &format!("paths must precede expression: `{}'", parser.args[parser.at])),
        Err(message) => return usage(io, &message),
    };
    let deletes = contains_delete(&expr);
    let expr = if parser.acts { expr } else { Expr::And(Box::new(expr), Box::new(Expr::Print('\n'))) };
    let (max_depth, min_depth) = (parser.max_depth, parser.min_depth);
    let mut status = 0;
    let mut batches: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for start in &starts {
        let Ok(path) = shell.resolve(start) else {
            err!(io, "find: '{start}': outside the workspace\n");
            status = 1;
            continue;
        };
        if std::fs::symlink_metadata(&path.abs).is_err() {
            err!(io, "find: '{start}': No such file or directory\n");
            status = 1;
            continue;
        }
        let mut entries = vec![start.clone()];
        super::search::walk(shell, start, &mut entries, io, false);
        // `-delete` works from the deepest files up, as GNU find's -depth.
        if deletes {
            entries.reverse();
        }
        let mut pruned: Vec<String> = Vec::new();
        for shown in entries {
            if pruned.iter().any(|p| shown.starts_with(&format!("{}/", p.trim_end_matches('/')))) {
                continue;
            }
            let depth = shown.strip_prefix(start.as_str()).unwrap_or(&shown).matches('/').count();
            if depth > max_depth {
                continue;
            }
            let metadata = shell.resolve(&shown).ok().and_then(|p| std::fs::symlink_metadata(p.abs).ok());
            let entry = Entry { shown: &shown, metadata };
            let mut prune = false;
            if depth >= min_depth {
                evaluate(shell, &expr, &entry, io, &mut batches, &mut prune, &mut status);
            }
            if prune || depth == max_depth {
                pruned.push(shown.clone());
            }
        }
    }
    for (command, paths) in batches {
        let argv: Vec<String> = command.into_iter().chain(paths).collect();
        if shell.run_command_named(&argv, io) != 0 {
            status = 1;
        }
    }
    status
}

fn contains_delete(expr: &Expr) -> bool {
    match expr {
        Expr::Delete => true,
        Expr::Not(inner) => contains_delete(inner),
        Expr::And(a, b) | Expr::Or(a, b) => contains_delete(a) || contains_delete(b),
        _ => false,
    }
}

fn usage(io: &Io, message: &str) -> i32 {
    err!(io, "find: {message}\n");
    1
}

fn evaluate(
    shell: &mut Shell,
    expr: &Expr,
    entry: &Entry,
    io: &Io,
    batches: &mut Vec<(Vec<String>, Vec<String>)>,
    prune: &mut bool,
    status: &mut i32,
) -> bool {
    let name = entry.shown.trim_end_matches('/').rsplit('/').next().unwrap_or(entry.shown);
    let name = if name.is_empty() { entry.shown } else { name };
    let metadata = entry.metadata.as_ref();
    match expr {
        Expr::Not(inner) => !evaluate(shell, inner, entry, io, batches, prune, status),
        Expr::And(a, b) => {
            evaluate(shell, a, entry, io, batches, prune, status)
                && evaluate(shell, b, entry, io, batches, prune, status)
        }
        Expr::Or(a, b) => {
            evaluate(shell, a, entry, io, batches, prune, status)
                || evaluate(shell, b, entry, io, batches, prune, status)
        }
        Expr::Name(glob) => glob.is_match(name),
        Expr::Path(glob) => glob.is_match(entry.shown),
        Expr::Type(kind) => metadata.is_some_and(|m| match kind {
            'f' => m.is_file(),
            'd' => m.is_dir(),
            'l' => m.file_type().is_symlink(),
            _ => false,
        }),
        Expr::Size(compare, n, unit) => metadata.is_some_and(|m| {
            // Sizes count in whole units, rounded up, as GNU find's.
            let units = m.len().div_ceil(*unit);
            compare.holds(units as i64, *n as i64)
        }),
        Expr::Newer(than) => metadata.and_then(|m| m.modified().ok()).is_some_and(|t| t > *than),
        Expr::Age(compare, n, unit) => metadata.and_then(|m| m.modified().ok()).is_some_and(|t| {
            let age = SystemTime::now().duration_since(t).map_or(0, |d| d.as_secs());
            compare.holds((age / unit) as i64, *n)
        }),
        Expr::Empty => metadata.is_some_and(|m| {
            if m.is_dir() {
                shell
                    .resolve(entry.shown)
                    .ok()
                    .and_then(|p| std::fs::read_dir(p.abs).ok())
                    .is_some_and(|mut d| d.next().is_none())
            } else {
                m.is_file() && m.len() == 0
            }
        }),
        Expr::True(value) => *value,
        Expr::Print(end) => {
            out!(io, "{}{end}", entry.shown);
            true
        }
        Expr::Prune => {
            *prune = true;
            true
        }
        // GNU find never deletes the starting point `.`.
        Expr::Delete if entry.shown == "." => true,
        Expr::Delete => {
            let removed = shell.resolve(entry.shown).map_err(|e| e.to_string()).and_then(|p| {
                let result = if metadata.is_some_and(|m| m.is_dir()) {
                    std::fs::remove_dir(&p.abs)
                } else {
                    std::fs::remove_file(&p.abs)
                };
                result.map_err(|e| crate::interp::describe(&e).to_string())
            });
            match removed {
                Ok(()) => true,
                Err(message) => {
                    err!(io, "find: cannot delete '{}': {message}\n", entry.shown);
                    *status = 1;
                    false
                }
            }
        }
        Expr::Exec(command, true) => {
            match batches.iter_mut().find(|(c, _)| c == command) {
                Some((_, paths)) => paths.push(entry.shown.to_string()),
                None => batches.push((command.clone(), vec![entry.shown.to_string()])),
            }
            true
        }
        Expr::Exec(command, false) => {
            let argv: Vec<String> = command.iter().map(|a| a.replace("{}", entry.shown)).collect();
            shell.run_command_named(&argv, io) == 0
        }
    }
}

impl Parser<'_> {
    fn next(&mut self) -> Option<&str> {
        let arg = self.args.get(self.at)?;
        self.at += 1;
        Some(arg)
    }

    fn peek(&self) -> Option<&str> {
        self.args.get(self.at).map(String::as_str)
    }

    fn expression(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("-o" | "-or")) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            match self.peek() {
                Some("-a" | "-and") => self.at += 1,
                Some("-o" | "-or" | ")") | None => return Ok(left),
                Some(_) => {}
            }
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some("!" | "-not") => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.at += 1;
                let inner = self.expression()?;
                match self.next() {
                    Some(")") => Ok(inner),
                    _ => Err("invalid expression; I was expecting to find a ')' somewhere".into()),
                }
            }
            _ => self.primary(),
        }
    }

    fn value(&mut self, test: &str) -> Result<String, String> {
        self.next().map(str::to_string).ok_or_else(|| format!("missing argument to `{test}'"))
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some(test) = self.next().map(str::to_string) else {
            return Err("invalid expression".into());
        };
        let glob = |pattern: &str, insensitive: bool, whole_path: bool| {
            globset::GlobBuilder::new(pattern)
                .case_insensitive(insensitive)
                .literal_separator(!whole_path)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| format!("bad pattern: {e}"))
        };
        Ok(match test.as_str() {
            "-name" | "-iname" => Expr::Name(glob(&self.value(&test)?, test == "-iname", false)?),
            "-path" | "-ipath" | "-wholename" => Expr::Path(glob(&self.value(&test)?, test == "-ipath", true)?),
            "-type" => match self.value(&test)?.as_str() {
                kind @ ("f" | "d" | "l") => Expr::Type(kind.chars().next().unwrap_or('f')),
                other => return Err(format!("Unknown argument to -type: {other}")),
            },
            "-size" => {
                let spec = self.value(&test)?;
                let (compare, rest) = comparison(&spec);
                let (digits, unit) = match rest.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                    Some((at, _)) => rest.split_at(at),
                    None => (rest, ""),
                };
                let unit = match unit {
                    "" | "b" => 512,
                    "c" => 1,
                    "w" => 2,
                    "k" => 1024,
                    "M" => 1 << 20,
                    "G" => 1 << 30,
                    _ => return Err(format!("invalid -size type `{unit}'")),
                };
                let n = digits.parse().map_err(|_| format!("invalid argument `{spec}' to `-size'"))?;
                Expr::Size(compare, n, unit)
            }
            "-newer" => {
                let file = self.value(&test)?;
                let modified = self
                    .shell
                    .resolve(&file)
                    .ok()
                    .and_then(|p| std::fs::metadata(p.abs).ok())
                    .and_then(|m| m.modified().ok());
                Expr::Newer(modified.ok_or_else(|| format!("'{file}': No such file or directory"))?)
            }
            "-mtime" | "-mmin" => {
                let spec = self.value(&test)?;
                let (compare, digits) = comparison(&spec);
                let n = digits.parse().map_err(|_| format!("invalid argument `{spec}' to `{test}'"))?;
                Expr::Age(compare, n, if test == "-mtime" { 86_400 } else { 60 })
            }
            "-empty" => Expr::Empty,
            "-true" => Expr::True(true),
            "-false" => Expr::True(false),
            "-maxdepth" | "-mindepth" => {
                let depth = self.value(&test)?.parse().map_err(|_| format!("invalid argument to {test}"))?;
                if test == "-maxdepth" {
                    self.max_depth = depth
                } else {
                    self.min_depth = depth
                }
                Expr::True(true)
            }
            "-print" | "-print0" => {
                self.acts = true;
                Expr::Print(if test == "-print" { '\n' } else { '\0' })
            }
            "-delete" => {
                self.acts = true;
                Expr::Delete
            }
            "-prune" => Expr::Prune,
            "-exec" => {
                self.acts = true;
                let mut command = Vec::new();
                loop {
                    match self.next() {
                        Some(";") => return Ok(Expr::Exec(command, false)),
                        Some("+") if command.last().is_some_and(|a| a == "{}") => {
                            command.pop();
                            return Ok(Expr::Exec(command, true));
                        }
                        Some(arg) => command.push(arg.to_string()),
                        None => return Err("missing argument to `-exec'".into()),
                    }
                }
            }
            other if other.starts_with('-') => return Err(format!("unknown predicate `{other}'")),
            other => return Err(format!("paths must precede expression: `{other}'")),
        })
    }
}

/// `+N`, `-N` or `N`.
fn comparison(spec: &str) -> (Compare, &str) {
    match spec.as_bytes().first() {
        Some(b'+') => (Compare::More, &spec[1..]),
        Some(b'-') => (Compare::Less, &spec[1..]),
        _ => (Compare::Exactly, spec),
    }
}

//! What a bash script would run, for the permission rules of `bash`.
//!
//! A rule like `"rm *": "ask"` is about running `rm`, wherever it sits in the
//! script: `ls && rm x`, `echo $(rm x)`, `(cd d; rm x)`, `f() { rm x; }; f`,
//! `xargs rm`, `sh -c 'rm x'`. So the script is parsed with the shell's own
//! parser (`brush-parser`) and every simple command in it is listed: in
//! pipelines and lists, subshells and groups, loops, conditionals, case arms
//! and function bodies, command and process substitutions (in arguments,
//! assignments, redirects and here-documents), the strings of `eval`,
//! `sh -c` and `bash -c`, and the commands wrappers such as `env`, `xargs`,
//! `timeout` or `find -exec` start. Each is listed as it would run, with
//! quotes and escapes taken away (`"r"m x` is `rm x`).
//!
//! Where the script cannot say what runs (it does not parse, a command's name
//! is computed, an `eval` string is not literal, arithmetic or parameter
//! expansions hide a substitution), it is marked [`Commands::opaque`], and
//! the caller asks a person rather than allow it.

use brush_parser::ParserOptions;
use brush_parser::ast::{
    Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList, IoFileRedirectTarget, IoRedirect, Pipeline,
    SimpleCommand,
};
use brush_parser::word::{WordPiece, WordPieceWithSource};

/// How deep `sh -c`, `eval` and substitutions may nest before the script is
/// called opaque rather than read further.
const MAX_DEPTH: usize = 8;

/// The simple commands of a script.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Commands {
    /// Each command as it would run (`rm -f x`), in script order, once each.
    pub commands: Vec<String>,
    /// Whether some of what runs could not be read from the text.
    pub opaque: bool,
}

/// Lists what `script` would run.
pub fn commands(script: &str) -> Commands {
    let mut found = Commands::default();
    read_script(script, 0, &mut found);
    found
}

fn read_script(script: &str, depth: usize, found: &mut Commands) {
    if depth > MAX_DEPTH {
        found.opaque = true;
        return;
    }
    let options = ParserOptions::default();
    let mut parser = brush_parser::Parser::new(std::io::BufReader::new(script.as_bytes()), &options);
    match parser.parse_program() {
        Ok(program) => {
            for list in &program.complete_commands {
                read_list(list, depth, found);
            }
        }
        Err(_) => found.opaque = true,
    }
}

fn read_list(list: &CompoundList, depth: usize, found: &mut Commands) {
    for item in &list.0 {
        let and_or = &item.0;
        read_pipeline(&and_or.first, depth, found);
        for next in &and_or.additional {
            match next {
                brush_parser::ast::AndOr::And(pipeline) | brush_parser::ast::AndOr::Or(pipeline) => {
                    read_pipeline(pipeline, depth, found)
                }
            }
        }
    }
}

fn read_pipeline(pipeline: &Pipeline, depth: usize, found: &mut Commands) {
    for command in &pipeline.seq {
        match command {
            Command::Simple(simple) => read_simple(simple, depth, found),
            Command::Compound(compound, redirects) => {
                read_compound(compound, depth, found);
                for redirect in redirects.iter().flat_map(|r| &r.0) {
                    read_redirect(redirect, depth, found);
                }
            }
            Command::Function(function) => read_compound(&function.body.0, depth, found),
            // `[[ ... ]]` and `(( ... ))` may hide substitutions the parser
            // keeps as text.
            Command::ExtendedTest(..) => found.opaque = true,
        }
    }
}

fn read_compound(compound: &CompoundCommand, depth: usize, found: &mut Commands) {
    match compound {
        CompoundCommand::BraceGroup(group) => read_list(&group.list, depth, found),
        CompoundCommand::Subshell(subshell) => read_list(&subshell.list, depth, found),
        CompoundCommand::ForClause(clause) => {
            for word in clause.values.iter().flatten() {
                word_value(&word.value, depth, found);
            }
            read_list(&clause.body.list, depth, found);
        }
        CompoundCommand::CaseClause(clause) => {
            word_value(&clause.value.value, depth, found);
            for case in &clause.cases {
                for pattern in &case.patterns {
                    word_value(&pattern.value, depth, found);
                }
                if let Some(list) = &case.cmd {
                    read_list(list, depth, found);
                }
            }
        }
        CompoundCommand::IfClause(clause) => {
            read_list(&clause.condition, depth, found);
            read_list(&clause.then, depth, found);
            for branch in clause.elses.iter().flatten() {
                if let Some(condition) = &branch.condition {
                    read_list(condition, depth, found);
                }
                read_list(&branch.body, depth, found);
            }
        }
        CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
            read_list(&clause.0, depth, found);
            read_list(&clause.1.list, depth, found);
        }
        CompoundCommand::ArithmeticForClause(clause) => {
            found.opaque = true;
            read_list(&clause.body.list, depth, found);
        }
        CompoundCommand::Arithmetic(_) | CompoundCommand::Coprocess(_) => found.opaque = true,
    }
}

fn read_redirect(redirect: &IoRedirect, depth: usize, found: &mut Commands) {
    match redirect {
        IoRedirect::File(_, _, IoFileRedirectTarget::Filename(word) | IoFileRedirectTarget::Duplicate(word))
        | IoRedirect::HereString(_, word)
        | IoRedirect::OutputAndError(word, _) => {
            word_value(&word.value, depth, found);
        }
        IoRedirect::File(_, _, IoFileRedirectTarget::ProcessSubstitution(_, subshell)) => {
            read_list(&subshell.list, depth, found)
        }
        IoRedirect::File(_, _, IoFileRedirectTarget::Fd(_)) => {}
        IoRedirect::HereDocument(_, doc) => {
            if doc.requires_expansion {
                // The body expands as a double-quoted string would.
                let quoted = format!("\"{}\"", doc.doc.value.replace('\\', "\\\\").replace('"', "\\\""));
                word_value(&quoted, depth, found);
            }
        }
    }
}

fn read_simple(simple: &SimpleCommand, depth: usize, found: &mut Commands) {
    let mut words: Vec<Option<String>> = Vec::new();
    let mut raw: Vec<&str> = Vec::new();
    if let Some(name) = &simple.word_or_name {
        words.push(word_value(&name.value, depth, found));
        raw.push(&name.value);
    }
    let prefix = simple.prefix.iter().flat_map(|p| &p.0).map(|item| (item, true));
    let suffix = simple.suffix.iter().flat_map(|s| &s.0).map(|item| (item, false));
    for (item, in_prefix) in prefix.chain(suffix) {
        match item {
            CommandPrefixOrSuffixItem::IoRedirect(redirect) => read_redirect(redirect, depth, found),
            // After the name, `A=1` is an argument (`env A=1 rm x`).
            CommandPrefixOrSuffixItem::AssignmentWord(_, word) if !in_prefix => {
                words.push(word_value(&word.value, depth, found));
                raw.push(&word.value);
            }
            CommandPrefixOrSuffixItem::AssignmentWord(_, word) => {
                // `X=$(rm y) cmd`: the value's substitutions run.
                let value = word.value.split_once('=').map_or(word.value.as_str(), |(_, v)| v);
                word_value(value, depth, found);
            }
            CommandPrefixOrSuffixItem::ProcessSubstitution(_, subshell) => {
                read_list(&subshell.list, depth, found);
                words.push(None);
                raw.push("<(...)");
            }
            CommandPrefixOrSuffixItem::Word(word) => {
                words.push(word_value(&word.value, depth, found));
                raw.push(&word.value);
            }
        }
    }
    if simple.word_or_name.is_none() {
        return; // only assignments or redirects
    }
    record(&words, &raw, depth, found);
}

/// Adds one command, and what it starts in turn when it is a wrapper.
fn record(words: &[Option<String>], raw: &[&str], depth: usize, found: &mut Commands) {
    let shown: Vec<&str> = words.iter().zip(raw).map(|(word, raw)| word.as_deref().unwrap_or(raw)).collect();
    let text = shown.join(" ");
    if !found.commands.contains(&text) {
        found.commands.push(text);
    }
    let Some(name) = &words[0] else {
        // `$CMD x`, `$(which rm) x`: what runs is computed.
        found.opaque = true;
        return;
    };
    let name = name.rsplit('/').next().unwrap_or(name);
    if name != words[0].as_deref().unwrap_or_default() {
        // `/bin/rm x` is `rm x` to a rule.
        let mut bare: Vec<&str> = shown.clone();
        bare[0] = name;
        let bare = bare.join(" ");
        if !found.commands.contains(&bare) {
            found.commands.push(bare);
        }
    }
    let args = &words[1..];
    match name {
        "eval" => match literal_all(args) {
            Some(text) => read_script(&text.join(" "), depth + 1, found),
            None => found.opaque = true,
        },
        "sh" | "bash" | "dash" | "zsh" | "ksh" => {
            if let Some(at) =
                args.iter().position(|a| a.as_deref().is_some_and(|a| a.starts_with('-') && a.contains('c')))
            {
                match args.get(at + 1) {
                    Some(Some(script)) => read_script(script, depth + 1, found),
                    _ => found.opaque = true,
                }
            }
        }
        "find" => {
            // `-exec CMD ... ;` (or `+`), as often as it appears.
            let mut at = 1;
            while at < words.len() {
                let starts = matches!(words[at].as_deref(), Some("-exec" | "-execdir" | "-ok" | "-okdir"));
                at += 1;
                if starts {
                    let end = (at..words.len())
                        .find(|&i| matches!(words[i].as_deref(), Some(";" | "+")))
                        .unwrap_or(words.len());
                    if end > at {
                        record(&words[at..end], &raw[at..end], depth, found);
                    }
                    at = end + 1;
                }
            }
        }
        _ => {
            let Some(first) = wrapped_at(name, args).map(|operand| operand + 1) else { return };
            // An option may take a value (`nice -n 5 rm x`, `xargs -I {} rm {}`),
            // so the command may start at any later word: each that could be
            // a command's name is listed, which can only make the answer stricter.
            for at in first..words.len() {
                match words[at].as_deref() {
                    Some(word) if looks_like_a_name(word) => record(&words[at..], &raw[at..], depth, found),
                    Some(_) => {}
                    None if at == first => found.opaque = true,
                    None => {}
                }
            }
        }
    }
}

/// Whether a word could name a command: not an option, a number or an
/// assignment.
fn looks_like_a_name(word: &str) -> bool {
    !word.is_empty() && !word.starts_with('-') && !word.contains('=') && !word.bytes().all(|b| b.is_ascii_digit())
}

/// Where a wrapper's first operand is among its arguments, for the wrappers
/// that run a command (`env X=1 rm x`, `xargs -0 rm`, `timeout 5 rm x`).
fn wrapped_at(name: &str, args: &[Option<String>]) -> Option<usize> {
    match name {
        "command" | "builtin" | "exec" | "nohup" | "time" | "nice" | "env" | "sudo" | "doas" | "stdbuf" | "setsid"
        | "xargs" | "chroot" | "ionice" | "unbuffer" | "timeout" | "watch" | "flock" | "strace" => {
            args.iter().position(|a| !a.as_deref().is_some_and(|a| a.starts_with('-') || a.contains('=')))
        }
        _ => None,
    }
}

fn literal_all(words: &[Option<String>]) -> Option<Vec<String>> {
    words.iter().cloned().collect()
}

/// Reads one word: records the commands its substitutions run, and returns
/// its value when the text alone says it (quotes and escapes removed).
fn word_value(word: &str, depth: usize, found: &mut Commands) -> Option<String> {
    let Ok(pieces) = brush_parser::word::parse(word, &ParserOptions::default()) else {
        found.opaque = true;
        return None;
    };
    pieces_value(word, &pieces, depth, found)
}

fn pieces_value(word: &str, pieces: &[WordPieceWithSource], depth: usize, found: &mut Commands) -> Option<String> {
    let mut value = Some(String::new());
    for piece in pieces {
        let source = word.get(piece.start_index..piece.end_index).unwrap_or(word);
        let text: Option<String> = match &piece.piece {
            WordPiece::Text(text) | WordPiece::SingleQuotedText(text) => Some(text.clone()),
            WordPiece::EscapeSequence(escaped) => Some(escaped.trim_start_matches('\\').to_string()),
            WordPiece::AnsiCQuotedText(text) => (!text.contains('\\')).then(|| text.clone()),
            WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
                pieces_value(word, inner, depth, found)
            }
            WordPiece::TildeExpansion(_) => Some("~".into()),
            WordPiece::CommandSubstitution(script) | WordPiece::BackquotedCommandSubstitution(script) => {
                read_script(script, depth + 1, found);
                None
            }
            WordPiece::ParameterExpansion(_) | WordPiece::ArithmeticExpression(_) => {
                // `${x:-$(rm y)}`, `$(( $(rm y) ))`: a substitution the
                // parser keeps as text.
                if source.contains("$(") || source.contains('`') || source.contains("<(") || source.contains(">(") {
                    found.opaque = true;
                }
                None
            }
        };
        value = match (value, text) {
            (Some(mut value), Some(text)) => {
                value.push_str(&text);
                Some(value)
            }
            _ => None,
        };
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(script: &str) -> Vec<String> {
        commands(script).commands
    }

    #[test]
    fn every_simple_command_is_listed() {
        assert_eq!(listed("ls && rm x"), ["ls", "rm x"]);
        assert_eq!(listed("echo hi; rm x"), ["echo hi", "rm x"]);
        assert_eq!(listed("ls | rm x"), ["ls", "rm x"]);
        assert_eq!(listed("echo $(rm x)"), ["rm x", "echo $(rm x)"]);
        assert_eq!(listed("echo `rm x`"), ["rm x", "echo `rm x`"]);
        assert_eq!(listed("(cd d; rm -rf x)"), ["cd d", "rm -rf x"]);
        assert_eq!(listed("if true; then git push; fi"), ["true", "git push"]);
        assert_eq!(listed("for f in *; do rm \"$f\"; done"), ["rm \"$f\""]);
        assert_eq!(listed("f() { rm x; }; f"), ["rm x", "f"]);
        assert_eq!(listed("cat <(rm x)"), ["rm x", "cat <(...)"]);
        assert_eq!(listed("X=$(rm y) ls"), ["rm y", "ls"]);
        assert_eq!(listed("ls > $(rm z)"), ["rm z", "ls"]);
        assert!(!commands("ls -la && echo ok").opaque);
    }

    #[test]
    fn quotes_and_escapes_do_not_hide_a_name() {
        assert_eq!(listed("\"rm\" x"), ["rm x"]);
        assert_eq!(listed("'r'm x"), ["rm x"]);
        assert_eq!(listed("\\rm x"), ["rm x"]);
        assert_eq!(listed("/bin/rm x"), ["/bin/rm x", "rm x"]);
    }

    #[test]
    fn wrappers_and_nested_shells_are_read() {
        assert_eq!(listed("sh -c 'rm x'"), ["sh -c rm x", "rm x"]);
        assert_eq!(listed("bash -lc \"git push\""), ["bash -lc git push", "git push"]);
        assert_eq!(listed("eval rm x"), ["eval rm x", "rm x"]);
        assert_eq!(listed("env A=1 rm x"), ["env A=1 rm x", "rm x", "x"]);
        assert_eq!(listed("xargs -0 rm -f"), ["xargs -0 rm -f", "rm -f"]);
        assert_eq!(listed("timeout 5 rm x"), ["timeout 5 rm x", "rm x", "x"]);
        assert!(listed("nice -n 5 rm x").contains(&"rm x".to_string()));
        assert!(listed("xargs -I {} -P 4 rm {}").contains(&"rm {}".to_string()));
        assert!(listed("env -u HOME sh -c 'git push'").contains(&"git push".to_string()));
        assert_eq!(listed("find . -name a -exec rm {} \\;"), ["find . -name a -exec rm {} ;", "rm {}"]);
    }

    #[test]
    fn what_the_text_cannot_say_is_opaque() {
        for script in [
            "$CMD x",
            "$(echo rm) x",
            "eval \"$X\"",
            "sh -c \"$X\"",
            "echo ${x:-$(rm y)}",
            "if then fi (",
            "[[ $(rm x) ]]",
        ] {
            assert!(commands(script).opaque, "{script}");
        }
    }
}

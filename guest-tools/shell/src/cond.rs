//! `[[ ... ]]`: tests on strings, patterns, regular expressions, numbers
//! and files.
//!
//! Operands are expanded without field splitting or globbing. The right
//! side of `==` and `!=` is a pattern (quoted parts match as text), of `=~`
//! a regular expression (quoted parts match as text; the match and its
//! groups go to `BASH_REMATCH`). `-eq` and the like evaluate both sides as
//! arithmetic, as bash does inside `[[ ]]`. Files are looked up inside the
//! workspace only.

use crate::expand;
use crate::interp::Shell;
use crate::pattern::Pattern;
use brush_parser::ast::{BinaryPredicate, ExtendedTestExpr, UnaryPredicate, Word};

pub fn evaluate(shell: &mut Shell, expr: &ExtendedTestExpr) -> Result<bool, String> {
    Ok(match expr {
        ExtendedTestExpr::And(left, right) => evaluate(shell, left)? && evaluate(shell, right)?,
        ExtendedTestExpr::Or(left, right) => evaluate(shell, left)? || evaluate(shell, right)?,
        ExtendedTestExpr::Not(inner) => !evaluate(shell, inner)?,
        ExtendedTestExpr::Parenthesized(inner) => evaluate(shell, inner)?,
        ExtendedTestExpr::UnaryTest(predicate, word) => unary(shell, predicate, word)?,
        ExtendedTestExpr::BinaryTest(predicate, left, right) => binary(shell, predicate, left, right)?,
    })
}

fn unary(shell: &mut Shell, predicate: &UnaryPredicate, word: &Word) -> Result<bool, String> {
    let operand = expand::string(shell, &word.value)?;
    // File tests are `test`'s, so `[[ -f x ]]` and `[ -f x ]` agree.
    let file_test = |op: &str| crate::builtins::test::unary(shell, op, &operand);
    Ok(match predicate {
        UnaryPredicate::StringHasZeroLength => operand.is_empty(),
        UnaryPredicate::StringHasNonZeroLength => !operand.is_empty(),
        UnaryPredicate::FileExists => file_test("-e")?,
        UnaryPredicate::FileExistsAndIsRegularFile => file_test("-f")?,
        UnaryPredicate::FileExistsAndIsDir => file_test("-d")?,
        UnaryPredicate::FileExistsAndIsNotZeroLength => file_test("-s")?,
        UnaryPredicate::FileExistsAndIsReadable => file_test("-r")?,
        UnaryPredicate::FileExistsAndIsWritable => file_test("-w")?,
        UnaryPredicate::FileExistsAndIsExecutable => file_test("-x")?,
        UnaryPredicate::FileExistsAndIsSymlink => file_test("-L")?,
        UnaryPredicate::ShellVariableIsSetAndAssigned => match operand.split_once('[') {
            Some((name, index)) => {
                let key = shell.subscript(name, index.trim_end_matches(']'))?;
                shell.vars.element(name, &key).is_some()
            }
            None => shell.vars.is_set(&operand),
        },
        // WASI tells neither ownership, nor modes beyond read-only, nor
        // special files: what the shell cannot know tests false.
        _ => false,
    })
}

fn binary(shell: &mut Shell, predicate: &BinaryPredicate, left: &Word, right: &Word) -> Result<bool, String> {
    let text = expand::string(shell, &left.value)?;
    let number = |shell: &mut Shell, word: &Word| -> Result<i64, String> {
        let text = expand::string(shell, &word.value)?;
        crate::arith::evaluate(shell, &text)
    };
    Ok(match predicate {
        BinaryPredicate::StringExactlyMatchesPattern | BinaryPredicate::StringDoesNotExactlyMatchPattern => {
            let pattern = Pattern::new(&expand::pattern(shell, &right.value)?)?;
            pattern.matches(&text) == matches!(predicate, BinaryPredicate::StringExactlyMatchesPattern)
        }
        BinaryPredicate::StringExactlyMatchesString => text == expand::string(shell, &right.value)?,
        BinaryPredicate::StringDoesNotExactlyMatchString => text != expand::string(shell, &right.value)?,
        BinaryPredicate::StringContainsSubstring => text.contains(&expand::string(shell, &right.value)?),
        BinaryPredicate::LeftSortsBeforeRight => text < expand::string(shell, &right.value)?,
        BinaryPredicate::LeftSortsAfterRight => text > expand::string(shell, &right.value)?,
        BinaryPredicate::StringMatchesRegex => matches_regex(shell, &text, right)?,
        BinaryPredicate::ArithmeticEqualTo => crate::arith::evaluate(shell, &text)? == number(shell, right)?,
        BinaryPredicate::ArithmeticNotEqualTo => crate::arith::evaluate(shell, &text)? != number(shell, right)?,
        BinaryPredicate::ArithmeticLessThan => crate::arith::evaluate(shell, &text)? < number(shell, right)?,
        BinaryPredicate::ArithmeticLessThanOrEqualTo => crate::arith::evaluate(shell, &text)? <= number(shell, right)?,
        BinaryPredicate::ArithmeticGreaterThan => crate::arith::evaluate(shell, &text)? > number(shell, right)?,
        BinaryPredicate::ArithmeticGreaterThanOrEqualTo => {
            crate::arith::evaluate(shell, &text)? >= number(shell, right)?
        }
        BinaryPredicate::LeftFileIsNewerOrExistsWhenRightDoesNot
        | BinaryPredicate::LeftFileIsOlderOrDoesNotExistWhenRightDoes => {
            let right = expand::string(shell, &right.value)?;
            let modified = |name: &str| {
                shell.resolve(name).ok().and_then(|p| std::fs::metadata(p.abs).ok()).and_then(|m| m.modified().ok())
            };
            let (left, right) = (modified(&text), modified(&right));
            match predicate {
                BinaryPredicate::LeftFileIsNewerOrExistsWhenRightDoesNot => match (left, right) {
                    (Some(l), Some(r)) => l > r,
                    (l, r) => l.is_some() && r.is_none(),
                },
                _ => match (left, right) {
                    (Some(l), Some(r)) => l < r,
                    (l, r) => l.is_none() && r.is_some(),
                },
            }
        }
        BinaryPredicate::FilesReferToSameDeviceAndInodeNumbers => false,
    })
}

/// `text =~ regex`: sets `BASH_REMATCH` to the match and its groups.
fn matches_regex(shell: &mut Shell, text: &str, right: &Word) -> Result<bool, String> {
    let source = expand::regex(shell, &right.value)?;
    let regex = regex::Regex::new(&source).map_err(|_| format!("{source}: invalid regular expression"))?;
    let Some(captures) = regex.captures(text) else {
        shell.vars.set_list("BASH_REMATCH", Vec::new());
        return Ok(false);
    };
    let groups = captures.iter().map(|group| group.map_or("", |g| g.as_str()).to_string()).collect();
    shell.vars.set_list("BASH_REMATCH", groups);
    Ok(true)
}

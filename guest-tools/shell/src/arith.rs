//! Shell arithmetic: `$((...))`, `((...))` and `for ((...))`.
//!
//! The text is expanded first (`$x`, `$(cmd)`, as in double quotes), then
//! parsed by brush-parser into an expression and evaluated here in 64-bit
//! integers, wrapping on overflow as bash does. Names are variables (an
//! unset or empty one is 0, a value is itself evaluated as an expression,
//! as bash does for `x=y+1`); assignments (`=`, `+=`, `++`...) store back.
//! Division by zero is an error, as is a negative exponent.

use crate::interp::Shell;
use crate::variables::Key;
use brush_parser::ast::{ArithmeticExpr, ArithmeticTarget, BinaryOperator, UnaryAssignmentOperator, UnaryOperator};

/// How deep a variable's value may be evaluated as an expression in turn
/// (`a=b; b=a` would loop for ever).
const MAX_DEPTH: usize = 64;

/// Expands and evaluates `text`.
pub fn evaluate(shell: &mut Shell, text: &str) -> Result<i64, String> {
    let expanded = crate::expand::quoted_text(shell, text)?;
    evaluate_expanded(shell, &expanded, 0)
}

fn evaluate_expanded(shell: &mut Shell, text: &str, depth: usize) -> Result<i64, String> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    let expr =
        brush_parser::arithmetic::parse(text).map_err(|_| format!("{}: syntax error in expression", text.trim()))?;
    Evaluator { shell, depth }.eval(&expr)
}

struct Evaluator<'s> {
    shell: &'s mut Shell,
    depth: usize,
}

impl Evaluator<'_> {
    fn eval(&mut self, expr: &ArithmeticExpr) -> Result<i64, String> {
        Ok(match expr {
            ArithmeticExpr::Literal(n) => *n,
            ArithmeticExpr::Reference(target) => self.load(target)?,
            ArithmeticExpr::UnaryOp(op, inner) => {
                let value = self.eval(inner)?;
                match op {
                    UnaryOperator::UnaryPlus => value,
                    UnaryOperator::UnaryMinus => value.wrapping_neg(),
                    UnaryOperator::BitwiseNot => !value,
                    UnaryOperator::LogicalNot => i64::from(value == 0),
                }
            }
            ArithmeticExpr::BinaryOp(BinaryOperator::LogicalAnd, left, right) => {
                i64::from(self.eval(left)? != 0 && self.eval(right)? != 0)
            }
            ArithmeticExpr::BinaryOp(BinaryOperator::LogicalOr, left, right) => {
                i64::from(self.eval(left)? != 0 || self.eval(right)? != 0)
            }
            ArithmeticExpr::BinaryOp(op, left, right) => {
                let (left, right) = (self.eval(left)?, self.eval(right)?);
                apply(op, left, right)?
            }
            ArithmeticExpr::Conditional(condition, then, otherwise) => {
                if self.eval(condition)? != 0 {
                    self.eval(then)?
                } else {
                    self.eval(otherwise)?
                }
            }
            ArithmeticExpr::Assignment(target, value) => {
                let value = self.eval(value)?;
                self.store(target, value)?
            }
            ArithmeticExpr::BinaryAssignment(op, target, value) => {
                let (current, value) = (self.load(target)?, self.eval(value)?);
                let result = apply(op, current, value)?;
                self.store(target, result)?
            }
            ArithmeticExpr::UnaryAssignment(op, target) => {
                let current = self.load(target)?;
                let (stored, result) = match op {
                    UnaryAssignmentOperator::PrefixIncrement => (current.wrapping_add(1), current.wrapping_add(1)),
                    UnaryAssignmentOperator::PrefixDecrement => (current.wrapping_sub(1), current.wrapping_sub(1)),
                    UnaryAssignmentOperator::PostfixIncrement => (current.wrapping_add(1), current),
                    UnaryAssignmentOperator::PostfixDecrement => (current.wrapping_sub(1), current),
                };
                self.store(target, stored)?;
                result
            }
        })
    }

    fn load(&mut self, target: &ArithmeticTarget) -> Result<i64, String> {
        let text = match target {
            ArithmeticTarget::Variable(name) => self.shell.var(name),
            ArithmeticTarget::ArrayElement(name, index) => {
                let key = self.key(name, index)?;
                self.shell.vars.element(name, &key).unwrap_or_default()
            }
        };
        let text = text.trim();
        if text.is_empty() {
            return Ok(0);
        }
        if let Ok(n) = parse_number(text) {
            return Ok(n);
        }
        if self.depth >= MAX_DEPTH {
            return Err(format!("{text}: expression recursion level exceeded"));
        }
        evaluate_expanded(self.shell, text, self.depth + 1)
    }

    fn store(&mut self, target: &ArithmeticTarget, value: i64) -> Result<i64, String> {
        match target {
            ArithmeticTarget::Variable(name) => self.shell.set_var(name, value.to_string())?,
            ArithmeticTarget::ArrayElement(name, index) => {
                let key = self.key(name, index)?;
                self.shell.vars.set_element(name, &key, value.to_string())?;
            }
        }
        Ok(value)
    }

    /// A subscript: evaluated for an indexed array; for an associative one,
    /// its text (`count[$word]` has had `$word` expanded already).
    fn key(&mut self, name: &str, index: &ArithmeticExpr) -> Result<Key, String> {
        Ok(match self.shell.vars.is_associative(name) {
            true => Key::Name(index.to_string()),
            false => Key::Index(self.eval(index)?),
        })
    }
}

fn apply(op: &BinaryOperator, left: i64, right: i64) -> Result<i64, String> {
    Ok(match op {
        BinaryOperator::Power => {
            if right < 0 {
                return Err("exponent less than 0".into());
            }
            left.wrapping_pow(u32::try_from(right).unwrap_or(u32::MAX))
        }
        BinaryOperator::Multiply => left.wrapping_mul(right),
        BinaryOperator::Divide | BinaryOperator::Modulo if right == 0 => {
            return Err("division by 0".into());
        }
        BinaryOperator::Divide => left.wrapping_div(right),
        BinaryOperator::Modulo => left.wrapping_rem(right),
        BinaryOperator::Comma => right,
        BinaryOperator::Add => left.wrapping_add(right),
        BinaryOperator::Subtract => left.wrapping_sub(right),
        BinaryOperator::ShiftLeft => left.wrapping_shl(right as u32),
        BinaryOperator::ShiftRight => left.wrapping_shr(right as u32),
        BinaryOperator::LessThan => i64::from(left < right),
        BinaryOperator::LessThanOrEqualTo => i64::from(left <= right),
        BinaryOperator::GreaterThan => i64::from(left > right),
        BinaryOperator::GreaterThanOrEqualTo => i64::from(left >= right),
        BinaryOperator::Equals => i64::from(left == right),
        BinaryOperator::NotEquals => i64::from(left != right),
        BinaryOperator::BitwiseAnd => left & right,
        BinaryOperator::BitwiseXor => left ^ right,
        BinaryOperator::BitwiseOr => left | right,
        BinaryOperator::LogicalAnd => i64::from(left != 0 && right != 0),
        BinaryOperator::LogicalOr => i64::from(left != 0 || right != 0),
    })
}

/// A number as bash writes one: decimal, `0x1f` hex, `017` octal, or
/// `base#digits`.
pub fn parse_number(text: &str) -> Result<i64, ()> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).map_err(drop)?
    } else if let Some((base, rest)) = digits.split_once('#') {
        let base: u32 = base.parse().map_err(drop)?;
        if !(2..=36).contains(&base) {
            return Err(());
        }
        i64::from_str_radix(rest, base).map_err(drop)?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).map_err(drop)?
    } else {
        digits.parse().map_err(drop)?
    };
    Ok(if negative { value.wrapping_neg() } else { value })
}

//! Compound commands: `if`, the loops (`for`, `for ((;;))`, `while`,
//! `until`), `case`, `((...))`, `{ }` and `( )`, and calling a function.
//!
//! A loop counts itself in `loops`, so `break` and `continue` know whether
//! they are in one; `return`, `break N` and `continue N` travel up as
//! [`Flow`] until the function or loop they leave takes them. Conditions
//! run as "tested" (see `Shell::test`), where a failure does not stop a
//! `set -e` script.

use crate::expand;
use crate::interp::{Flow, Shell, write_failures};
use crate::io::{Io, err};
use crate::pattern::Pattern;
use brush_parser::ast::{
    ArithmeticForClauseCommand, CaseClauseCommand, CaseItemPostAction, CompoundCommand, CompoundList,
    FunctionDefinition, IoRedirect, UnexpandedArithmeticExpr,
};

/// How deep functions may call each other (a recursion of the interpreter).
const MAX_CALL_DEPTH: usize = 200;

impl Shell {
    /// Whether a loop goes on after its body ran: not after `break`,
    /// `return` or `exit`, nor after a `continue N` meant for an outer loop.
    fn loop_goes_on(&mut self) -> bool {
        match self.flow.take() {
            None => self.exit.is_none(),
            Some(Flow::Continue(1)) => true,
            Some(Flow::Break(1)) => false,
            Some(Flow::Continue(n)) => {
                self.flow = Some(Flow::Continue(n - 1));
                false
            }
            Some(Flow::Break(n)) => {
                self.flow = Some(Flow::Break(n - 1));
                false
            }
            Some(Flow::Return) => {
                self.flow = Some(Flow::Return);
                false
            }
        }
    }

    /// Runs `list` as a condition (`if`, `while`): a failure there does
    /// not stop a `set -e` script.
    fn test(&mut self, list: &CompoundList, io: &Io) -> i32 {
        self.tested += 1;
        let status = self.run_list(list, io);
        self.tested -= 1;
        status
    }

    pub(crate) fn run_compound(&mut self, compound: &CompoundCommand, io: &Io) -> i32 {
        match compound {
            CompoundCommand::BraceGroup(group) => self.run_list(&group.list, io),
            CompoundCommand::Subshell(sub) => {
                let saved = self.save();
                let status = self.run_list(&sub.list, io);
                let status = self.exit.take().unwrap_or(status);
                self.flow = None;
                self.restore(saved);
                status
            }
            CompoundCommand::IfClause(clause) => {
                if self.test(&clause.condition, io) == 0 {
                    return self.run_list(&clause.then, io);
                }
                if self.interrupted() {
                    return self.status;
                }
                for branch in clause.elses.iter().flatten() {
                    match &branch.condition {
                        Some(condition) if self.test(condition, io) != 0 => continue,
                        _ => return self.run_list(&branch.body, io),
                    }
                }
                0
            }
            CompoundCommand::ForClause(clause) => {
                // `for x; do` goes through the positional parameters.
                let mut values = match &clause.values {
                    Some(_) => Vec::new(),
                    None => self.vars.positional.clone(),
                };
                for word in clause.values.iter().flatten() {
                    match expand::fields(self, &word.value) {
                        Ok(fields) => values.extend(fields),
                        Err(e) => return self.expansion_error(&e, io),
                    }
                }
                let mut status = 0;
                self.loops += 1;
                for value in values {
                    self.vars.set(&clause.variable_name, value);
                    status = self.run_list(&clause.body.list, io);
                    if !self.loop_goes_on() {
                        break;
                    }
                }
                self.loops -= 1;
                status
            }
            CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
                let until = matches!(compound, CompoundCommand::UntilClause(_));
                let mut status = 0;
                self.loops += 1;
                while (self.test(&clause.0, io) == 0) != until && !self.interrupted() {
                    status = self.run_list(&clause.1.list, io);
                    if !self.loop_goes_on() {
                        break;
                    }
                }
                self.loops -= 1;
                status
            }
            CompoundCommand::Arithmetic(command) => match crate::arith::evaluate(self, &command.expr.value) {
                Ok(value) => i32::from(value == 0),
                Err(e) => self.expansion_error(&e, io),
            },
            CompoundCommand::ArithmeticForClause(clause) => self.run_arithmetic_for(clause, io),
            CompoundCommand::CaseClause(clause) => self.run_case(clause, io),
            CompoundCommand::Coprocess(_) => self.unsupported("coprocesses", io),
        }
    }

    fn run_arithmetic_for(&mut self, clause: &ArithmeticForClauseCommand, io: &Io) -> i32 {
        let evaluate = |shell: &mut Self, expr: &Option<UnexpandedArithmeticExpr>| {
            expr.as_ref().map_or(Ok(1), |expr| crate::arith::evaluate(shell, &expr.value))
        };
        if let Err(e) = evaluate(self, &clause.initializer) {
            return self.expansion_error(&e, io);
        }
        let mut status = 0;
        self.loops += 1;
        loop {
            match evaluate(self, &clause.condition) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    status = self.expansion_error(&e, io);
                    break;
                }
            }
            status = self.run_list(&clause.body.list, io);
            if !self.loop_goes_on() {
                break;
            }
            if let Err(e) = evaluate(self, &clause.updater) {
                status = self.expansion_error(&e, io);
                break;
            }
        }
        self.loops -= 1;
        status
    }

    fn run_case(&mut self, clause: &CaseClauseCommand, io: &Io) -> i32 {
        let value = match expand::string(self, &clause.value.value) {
            Ok(value) => value,
            Err(e) => return self.expansion_error(&e, io),
        };
        let mut status = 0;
        let mut fall_through = false;
        for item in &clause.cases {
            let mut matched = fall_through;
            for pattern in &item.patterns {
                if matched {
                    break;
                }
                let pattern = match expand::pattern(self, &pattern.value) {
                    Ok(pattern) => pattern,
                    Err(e) => return self.expansion_error(&e, io),
                };
                match Pattern::new(&pattern) {
                    Ok(pattern) => matched = pattern.matches(&value),
                    Err(e) => return self.expansion_error(&e, io),
                }
            }
            if !matched {
                continue;
            }
            status = item.cmd.as_ref().map_or(0, |list| self.run_list(list, io));
            if self.interrupted() {
                break;
            }
            match item.post_action {
                CaseItemPostAction::ExitCase => break,
                CaseItemPostAction::UnconditionallyExecuteNextCaseItem => fall_through = true,
                CaseItemPostAction::ContinueEvaluatingCases => fall_through = false,
            }
        }
        status
    }

    /// Runs a function with `argv[1..]` as its positional parameters.
    pub(crate) fn call_function(&mut self, function: &FunctionDefinition, argv: &[String], io: &Io) -> i32 {
        if self.calls >= MAX_CALL_DEPTH {
            err!(io, "bash: {}: maximum function nesting level exceeded ({MAX_CALL_DEPTH})\n", argv[0]);
            self.exit = Some(1);
            return 1;
        }
        let caller = self.vars.enter(argv[1..].to_vec());
        let loops = std::mem::take(&mut self.loops);
        self.calls += 1;
        let redirects: Vec<&IoRedirect> = function.body.1.iter().flat_map(|r| r.0.iter()).collect();
        let status = match self.redirect(&redirects, io) {
            Ok((io, files)) => {
                let status = self.run_compound(&function.body.0, &io);
                write_failures(&argv[0], &files, &io, status)
            }
            Err(status) => status,
        };
        self.calls -= 1;
        self.loops = loops;
        let status = match self.flow {
            Some(Flow::Return) => {
                self.flow = None;
                self.status
            }
            _ => status,
        };
        self.vars.leave(caller);
        status
    }
}

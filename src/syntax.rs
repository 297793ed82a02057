//! Text to spanned AST. The only module that knows pest exists.
//!
//! `grammar/casepol.pest` is the grammar. A file that parses is parsed once, by pest. Only after
//! an error does `recover` run: it parses each top-level declaration on its own, reports one
//! error for each that fails, and repairs it (a missing `;` written in, a bad statement left
//! out), so one mistake gives one error and the rest of the file still reaches the checker.

mod error;
mod grammar;
mod hidden;
mod lower;
mod recover;
mod tokens;

use crate::ast::PolicyAst;
use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use crate::limits::{self, MAX_POLICY_FILE_BYTES, MAX_SYNTAX_ERRORS, MAX_TOKENS};
use pest::Parser;

pub use error::expected_words;

/// Parses one file. Always returns an AST (possibly partial) together with any syntax errors,
/// misleading characters (CP0002) and names over the length limit (CP0112).
pub fn parse(file: FileId, text: &str) -> (PolicyAst, Vec<Diagnostic>) {
    let mut ast = PolicyAst::default();
    if text.len() > MAX_POLICY_FILE_BYTES {
        let d = Diagnostic::new(
            Code::Limit,
            Span::new(file, 0, 0),
            format!(
                "this file is {}, more than the limit of {} for one policy file",
                limits::bytes(text.len()),
                limits::bytes(MAX_POLICY_FILE_BYTES)
            ),
        )
        .with_help("split the policy into several files in one directory");
        return (ast, vec![d]);
    }
    if let Some(at) = tokens::past_limit(text, MAX_TOKENS) {
        let d = Diagnostic::new(
            Code::Limit,
            Span::new(file, at, at),
            format!(
                "this file has more than {} tokens (names, numbers, strings and marks), the \
                 limit for one policy file; token number {} is here",
                crate::diagnostic::words::thousands(MAX_TOKENS),
                crate::diagnostic::words::thousands(MAX_TOKENS + 1)
            ),
        )
        .with_help("split the policy into several files in one directory");
        return (ast, vec![d]);
    }
    // A misleading character is reported once, as itself: the syntax error it causes where a
    // token belongs would only name it again.
    let (hidden, hidden_at) = hidden::scan(file, text);
    let is_hidden = |at: usize| hidden_at.binary_search(&at).is_ok();
    let mut names = Vec::new();
    let mut diags = Vec::new();
    match grammar::PolicyParser::parse(grammar::Rule::policy, text) {
        Ok(mut pairs) => {
            if let Some(p) = pairs.next() {
                lower::lower_policy(p, file, 0, &mut ast, &mut names);
            }
        }
        // Only now, after an error, does the slower recovery run.
        Err(_) => diags = recover::recover(file, text, &is_hidden, &mut ast, &mut names),
    }
    if names.len() > MAX_SYNTAX_ERRORS {
        let more = names.len() - MAX_SYNTAX_ERRORS;
        names.truncate(MAX_SYNTAX_ERRORS);
        if let Some(last) = names.last_mut() {
            last.message.push_str(&format!(
                "; {more} more name(s) over the limit are not reported"
            ));
        }
    }
    let mut all = hidden;
    all.append(&mut diags);
    all.append(&mut names);
    all.sort_by_key(|d| d.span().start);
    (ast, all)
}

/// Parses a condition on its own: the text of `--where` (`casepol list`, `filter`), the terms of
/// a rule's `when` without the `when`. Returns its terms, or none and the syntax error (CP0001),
/// a misleading character (CP0002), or the text over [`limits::MAX_WHERE_BYTES`] (CP0112). The
/// checker checks the terms (`check::condition`).
pub fn parse_condition(file: FileId, text: &str) -> (Vec<crate::ast::Term>, Vec<Diagnostic>) {
    if text.len() > limits::MAX_WHERE_BYTES {
        let d = Diagnostic::new(
            Code::Limit,
            Span::new(file, 0, 0),
            format!(
                "this condition is {}, more than the limit of {} for one condition",
                limits::bytes(text.len()),
                limits::bytes(limits::MAX_WHERE_BYTES)
            ),
        )
        .with_help("a condition has at most 32 terms: ask with fewer terms, or shorter values");
        return (Vec::new(), vec![d]);
    }
    let (hidden, _) = hidden::scan(file, text);
    if !hidden.is_empty() {
        return (Vec::new(), hidden);
    }
    match grammar::PolicyParser::parse(grammar::Rule::where_condition, text) {
        Ok(mut pairs) => {
            let mut names = Vec::new();
            let terms = pairs
                .next()
                .map(|p| lower::lower_where(p, file, &mut names))
                .unwrap_or_default();
            if names.is_empty() {
                (terms, Vec::new())
            } else {
                (Vec::new(), names)
            }
        }
        Err(e) => {
            let detailed = with_error_detail(|| {
                grammar::PolicyParser::parse(grammar::Rule::where_condition, text).err()
            });
            let e = detailed.unwrap_or(e);
            let at = error::position(&e);
            let mut d = error::to_diagnostic(&e, file, 0, text, text);
            let rest = text.get(at..).unwrap_or("");
            let word_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if &rest[..word_end] == "or" {
                d.help = Some(
                    "a condition has no `or`: ask once for each alternative, or test one value against several: `case.status in [open, closed]`"
                        .into(),
                );
            }
            // The input is one condition, not a file.
            d.message = d.message.replace("end of file", "the end of the condition");
            for l in &mut d.labels {
                l.message = l.message.replace("end of file", "the end of the condition");
            }
            (Vec::new(), vec![d])
        }
    }
}

/// Parses again with pest's error tracking on, which names the expected literal tokens too.
/// It costs time, so it runs only once an error is known.
pub(super) fn detailed(text: &str) -> Option<pest::error::Error<grammar::Rule>> {
    with_error_detail(|| grammar::PolicyParser::parse(grammar::Rule::policy, text).err())
}

/// Runs `parse` with pest's error tracking on. The switch is one for the whole process, read
/// when a parse starts, so the detailed parses take turns: otherwise one thread could turn it
/// off while another's detailed parse was about to start, and that thread's message would
/// depend on timing. A parse on another thread meanwhile only runs slower (its result is the
/// same).
fn with_error_detail<T>(parse: impl FnOnce() -> T) -> T {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A panic while holding the turn leaves nothing half-done behind: the switch is set below.
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    pest::set_error_detail(true);
    let result = parse();
    pest::set_error_detail(false);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a failed parse tracked its attempts: pest keeps them only with the switch on.
    fn tracked(e: Option<pest::error::Error<grammar::Rule>>) -> Option<bool> {
        e.map(|e| e.parse_attempts().is_some())
    }

    /// A detailed parse keeps pest's switch on until it is done, even when another thread asks
    /// for one meanwhile: that thread waits its turn instead of turning the switch off under it.
    #[test]
    fn a_detailed_parse_is_not_cut_short_by_another_thread() {
        let text = "allow Adjuster view;\n";
        let parse = || grammar::PolicyParser::parse(grammar::Rule::policy, text).err();
        // (Whether `parse()` alone tracks depends on other tests' detailed parses meanwhile.)
        assert_eq!(tracked(detailed(text)), Some(true));
        let (inside, go) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let first = s.spawn(|| {
                with_error_detail(|| {
                    let _ = inside.send(());
                    // The other thread's detailed parse would start and end meanwhile.
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    tracked(parse())
                })
            });
            let _ = go.recv();
            let second = s.spawn(|| tracked(detailed(text)));
            assert_eq!(first.join().ok(), Some(Some(true)));
            assert_eq!(second.join().ok(), Some(Some(true)));
        });
    }
}

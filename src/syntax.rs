//! Text to spanned AST. The only module that knows pest exists.
//!
//! `grammar/casepol.pest` is the grammar. Parsing reports every syntax error it can find: after an
//! error it resumes at the next top-level declaration, so one run shows all of them.

mod error;
mod grammar;
mod lower;

use crate::ast::PolicyAst;
use crate::diagnostic::{Diagnostic, FileId};
use pest::Parser;

pub use error::expected_words;

/// Parses one file. Always returns an AST (possibly partial) together with any syntax errors.
pub fn parse(file: FileId, text: &str) -> (PolicyAst, Vec<Diagnostic>) {
    let mut ast = PolicyAst::default();
    let mut diags = Vec::new();
    let mut offset = 0usize;
    // Each round parses from `offset`; on an error it keeps what parsed before the failing
    // declaration and restarts after it.
    while offset <= text.len() {
        let rest = &text[offset..];
        match grammar::PolicyParser::parse(grammar::Rule::policy, rest) {
            Ok(mut pairs) => {
                if let Some(p) = pairs.next() {
                    lower::lower_policy(p, file, offset, &mut ast);
                }
                break;
            }
            Err(e) => {
                let e = detailed(rest).unwrap_or(e);
                let pos = error::position(&e);
                diags.push(error::to_diagnostic(&e, file, offset, rest));
                let item_start = error::item_start(rest, pos);
                if item_start > 0 {
                    if let Ok(mut pairs) =
                        grammar::PolicyParser::parse(grammar::Rule::policy, &rest[..item_start])
                    {
                        if let Some(p) = pairs.next() {
                            lower::lower_policy(p, file, offset, &mut ast);
                        }
                    }
                }
                match error::next_item(rest, pos) {
                    Some(next) => offset += next,
                    None => break,
                }
            }
        }
    }
    (ast, diags)
}

/// Parses again with pest's error tracking on, which names the expected literal tokens too.
/// It costs time, so it runs only once an error is known.
fn detailed(text: &str) -> Option<pest::error::Error<grammar::Rule>> {
    pest::set_error_detail(true);
    let result = grammar::PolicyParser::parse(grammar::Rule::policy, text).err();
    pest::set_error_detail(false);
    result
}

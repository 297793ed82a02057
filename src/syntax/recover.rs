//! Error recovery, which runs only after pest has rejected a file: one mistake, one error.
//!
//! A tolerant scan, which never fails, cuts the file into its top-level declarations at the
//! keywords that start them (`role`, `case`, `casetype`, …, first on their line), and each is
//! parsed on its own. A declaration that fails is reported once, then repaired in a working copy
//! of the text whose byte offsets match the original, so every span stays true:
//!
//! - a `;` or `}` missing at the end of a line is written into the layout after the last token
//!   (so `role Adjuster, Investigator` without `;` is one error, and the roles are declared);
//! - a block comment (`/* … */`) or a line starting with `#` is blanked out;
//! - otherwise the statement that holds the error (or, inside a `table` or an `enum`, the whole
//!   block) is blanked out with spaces, and kept as a [`Skipped`] stretch: the checker reports
//!   nothing about the names it mentions, nor within the declaration it was part of.
//!
//! A declaration is parsed at most [`MAX_REPAIRS`] + 2 times (the last two with pest's detailed
//! errors), then left out whole, so recovery stays linear in the file.

use super::grammar::{PolicyParser, Rule};
use super::{error, lower};
use crate::ast::{PolicyAst, Skipped};
use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use crate::limits::MAX_SYNTAX_ERRORS;
use pest::Parser;

/// Repairs tried on one declaration before it is left out whole.
const MAX_REPAIRS: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Word,
    Open,
    Close,
    Semi,
    /// `/* … */`, which casepol does not have: one token from `/*` to `*/`.
    BlockComment,
    /// `#`, a comment in other languages.
    Hash,
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    start: usize,
    end: usize,
    kind: Kind,
    /// The first token on its line.
    line_first: bool,
    /// Starts in column one.
    column_one: bool,
}

/// The tokens of `text[from..to]`, with offsets into `text`: words, strings, marks, and the two
/// kinds of comment casepol does not have. Layout and `//` comments are skipped.
fn lex(text: &str, from: usize, to: usize) -> Vec<Tok> {
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = from;
    let mut line_first = true;
    let mut line_start = from;
    while i < to {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            b'\n' | b'\r' | 0x0B | 0x0C => {
                i += 1;
                line_first = true;
                line_start = i;
                continue;
            }
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..to]
                    .char_indices()
                    .find(|&(_, c)| super::hidden::is_line_break(c))
                    .map_or(to, |(at, _)| i + at);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..to].find("*/").map_or(to, |at| i + 2 + at + 2);
                Kind::BlockComment
            }
            b'#' => {
                i += 1;
                Kind::Hash
            }
            b'"' => {
                i += 1;
                while i < to {
                    match bytes[i] {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' => i += 2,
                        b'\n' | b'\r' => break,
                        _ => i += 1,
                    }
                }
                i = i.min(to);
                Kind::Other
            }
            b if b.is_ascii_alphanumeric() || b == b'_' => {
                while i < to && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                Kind::Word
            }
            b'{' => {
                i += 1;
                Kind::Open
            }
            b'}' => {
                i += 1;
                Kind::Close
            }
            b';' => {
                i += 1;
                Kind::Semi
            }
            _ => {
                let c = text[i..].chars().next().unwrap_or(' ');
                i += c.len_utf8();
                if super::hidden::is_line_break(c) {
                    line_first = true;
                    line_start = i;
                    continue;
                }
                if c == '\u{FEFF}' {
                    continue;
                }
                Kind::Other
            }
        };
        toks.push(Tok {
            start,
            end: i,
            kind,
            line_first,
            column_one: start == line_start,
        });
        line_first = false;
    }
    toks
}

/// Where each top-level declaration starts: at a keyword that starts one, first on its line,
/// outside any block, or in column one even inside one (a `}` is missing before it). The first
/// declaration starts at 0, and each runs to the start of the next.
fn split(text: &str, toks: &[Tok]) -> Vec<(usize, usize)> {
    let mut starts = vec![0];
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => depth = depth.saturating_sub(1),
            Kind::Word if t.line_first && t.start > 0 => {
                let word = &text[t.start..t.end];
                // `case.amount` on a line of its own continues a condition.
                let path = toks
                    .get(i + 1)
                    .is_some_and(|n| &text[n.start..n.end] == ".");
                let rule = matches!(word, "allow" | "deny");
                if error::TOP_LEVEL.contains(&word)
                    && !path
                    && (depth == 0 || (t.column_one && !rule))
                {
                    starts.push(t.start);
                    depth = 0;
                }
            }
            _ => {}
        }
    }
    let mut pieces: Vec<(usize, usize)> = starts
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(a, b)| a < b)
        .collect();
    let last = starts.last().copied().unwrap_or(0);
    pieces.push((last, text.len()));
    pieces
}

/// What to do about an error.
enum Repair {
    /// Write this token into the layout at this offset.
    Insert(usize, &'static str),
    /// Blank this stretch out.
    Blank(usize, usize),
}

/// Parses a file pest rejected as a whole: every declaration that parses is lowered into `ast`,
/// each one that does not gives one syntax error and is repaired or left out. Returns the
/// syntax errors; `names` collects names over the length limit, as in [`lower::lower_policy`].
pub(super) fn recover(
    file: FileId,
    text: &str,
    is_hidden: &dyn Fn(usize) -> bool,
    ast: &mut PolicyAst,
    names: &mut Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let toks = lex(text, 0, text.len());
    let pieces = split(text, &toks);
    drop(toks);
    // INVARIANT: `buf` has the byte length of `text`; a repair writes ASCII over whole
    // characters only, so it stays UTF-8 and every offset means the same in both.
    let mut buf = text.to_string();
    let mut diags = Vec::new();
    let mut reported = 0usize;
    for (start, end) in pieces {
        let mut first = true;
        let mut repairs = 0usize;
        loop {
            let piece = &buf[start..end];
            let e = match PolicyParser::parse(Rule::policy, piece) {
                Ok(mut pairs) => {
                    if let Some(p) = pairs.next() {
                        lower::lower_policy(p, file, start, ast, names);
                    }
                    break;
                }
                Err(e) => e,
            };
            if repairs >= MAX_REPAIRS || reported > MAX_SYNTAX_ERRORS {
                // Left out whole: what it declares is unknown.
                skip(file, text, start, end, (start, end), ast);
                break;
            }
            let e = super::detailed(piece).unwrap_or(e);
            let pos = start + error::furthest(&e);
            if first && reported < MAX_SYNTAX_ERRORS {
                let d = error::to_diagnostic(&e, file, start, &buf, text);
                reported += 1;
                if !is_hidden(pos) && !is_hidden(d.span().start as usize) {
                    diags.push(d);
                }
            } else if first && reported == MAX_SYNTAX_ERRORS {
                reported += 1;
                diags.push(
                    Diagnostic::new(
                        Code::Syntax,
                        Span::new(file, pos, pos),
                        format!("too many syntax errors; stopped after {MAX_SYNTAX_ERRORS}"),
                    )
                    .with_help("fix the errors above and check again"),
                );
            }
            first = false;
            repairs += 1;
            let expects = |t: &str| error::expects_token(&e, t);
            match repair(&buf, start, end, pos, expects(";"), expects("}")) {
                Some(Repair::Insert(at, token)) => buf.replace_range(at..at + 1, token),
                Some(Repair::Blank(a, b)) => {
                    blank(&mut buf, a, b);
                    skip(file, text, a, b, (start, end), ast);
                }
                None => {
                    skip(file, text, start, end, (start, end), ast);
                    break;
                }
            }
        }
    }
    diags
}

/// Overwrites `buf[a..b]` with spaces.
fn blank(buf: &mut String, a: usize, b: usize) {
    buf.replace_range(a..b, &" ".repeat(b - a));
}

/// Records `text[a..b]`, part of the declaration `within`, as left out of the AST.
fn skip(file: FileId, text: &str, a: usize, b: usize, within: (usize, usize), ast: &mut PolicyAst) {
    let names = lex(text, a, b)
        .into_iter()
        .filter(|t| t.kind == Kind::Word)
        .map(|t| text[t.start..t.end].to_string())
        .collect();
    ast.skipped.push(Skipped {
        span: Span::new(file, a, b),
        within: Span::new(file, within.0, within.1),
        names,
    });
}

/// How to repair an error at `pos` in the declaration `buf[start..end]`: `None` to leave the
/// declaration out whole.
fn repair(
    buf: &str,
    start: usize,
    end: usize,
    pos: usize,
    expects_semi: bool,
    expects_close: bool,
) -> Option<Repair> {
    let toks = lex(buf, start, end);
    // The token the error is at (`toks.len()` at the end of the declaration).
    let k = toks.iter().position(|t| t.end > pos).unwrap_or(toks.len());
    let at = toks.get(k);
    let bytes = buf.as_bytes();
    match at.map(|t| t.kind) {
        Some(Kind::BlockComment) => return at.map(|t| Repair::Blank(t.start, t.end)),
        Some(Kind::Hash) => {
            let t = at?;
            let line_end = toks[k..]
                .iter()
                .take_while(|n| n.start == t.start || !n.line_first)
                .last()
                .map_or(t.end, |n| n.end);
            return Some(Repair::Blank(t.start, line_end));
        }
        _ => {}
    }
    // A `;` or `}` missing at the end of a line, or of the file.
    // A `}` only at the end of the declaration: before that, a word on a new line in a block
    // is more likely a mistake of its own than the end of the block.
    let expects_close = expects_close && at.is_none();
    if (expects_semi || expects_close) && k > 0 {
        let prev_end = toks[k - 1].end;
        let next_line = at.is_none_or(|t| t.line_first);
        let gap = &bytes[prev_end..at.map_or(end, |t| t.start)];
        let room = gap
            .iter()
            .position(|b| matches!(b, b' ' | b'\t'))
            .or_else(|| gap.iter().position(|&b| b == b'\r'))
            .or_else(|| gap.iter().position(|&b| b == b'\n'));
        if let (true, Some(r)) = (next_line, room) {
            let token = if expects_semi { ";" } else { "}" };
            return Some(Repair::Insert(prev_end + r, token));
        }
    }
    // The innermost block still open at the error, and the nearest statement boundary.
    let mut depth = 0usize;
    let mut boundary = None;
    let mut open = None;
    for i in (0..k).rev() {
        match toks[i].kind {
            Kind::Semi if depth == 0 => {
                boundary.get_or_insert(i);
            }
            Kind::Close => {
                if depth == 0 {
                    boundary.get_or_insert(i);
                }
                depth += 1;
            }
            Kind::Open => {
                if depth == 0 {
                    boundary.get_or_insert(i);
                    open = Some(i);
                    break;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    let word = |i: usize| toks.get(i).map(|t| &buf[t.start..t.end]);
    // Inside a table or an enum, whose entries are not statements: the whole block.
    if let Some(o) = open {
        let table = o >= 1 && word(o - 1) == Some("table");
        let enumeration = o >= 2 && word(o - 2) == Some("enum");
        if table || enumeration {
            let from = toks[o - if table { 1 } else { 2 }].start;
            let mut d = 0usize;
            let to = toks[o..]
                .iter()
                .find(|t| {
                    match t.kind {
                        Kind::Open => d += 1,
                        Kind::Close => d = d.saturating_sub(1),
                        _ => {}
                    }
                    d == 0
                })
                .map_or(end, |t| t.end);
            return whole_or(toks.first()?.start, toks.last()?.end, from, to);
        }
    }
    // The statement: from the token after the boundary to the next `;` at its depth, or to the
    // end of a block it opens, or up to the `}` that closes the block it is in.
    let first = boundary.map_or(0, |b| b + 1);
    let mut d = 0usize;
    let mut to = end;
    for t in &toks[k.min(toks.len())..] {
        match t.kind {
            Kind::Open => d += 1,
            Kind::Close if d == 0 => {
                to = t.start;
                break;
            }
            Kind::Close => {
                d -= 1;
                if d == 0 {
                    to = t.end;
                    break;
                }
            }
            Kind::Semi if d == 0 => {
                to = t.end;
                break;
            }
            _ => {}
        }
    }
    // A stray line that starts a statement of several lines goes alone: what follows it may be
    // whole (a word left inside a block before its next statement).
    if let Some(t) = at {
        let line_end = toks[k..]
            .iter()
            .take_while(|n| n.start == t.start || !n.line_first)
            .last()
            .map_or(t.end, |n| n.end);
        if first == k && t.line_first && line_end < to && !matches!(t.kind, Kind::Open) {
            return Some(Repair::Blank(t.start, line_end));
        }
    }
    let from = match toks.get(first) {
        Some(t) if t.start < to => t.start,
        // Nothing before the closing `}`: the token at the error goes.
        _ => return at.map(|t| Repair::Blank(t.start, t.end)),
    };
    whole_or(toks.first()?.start, toks.last()?.end, from, to)
}

/// Blanks `from..to`, or `None` when that is the whole declaration `first..last`.
fn whole_or(first: usize, last: usize, from: usize, to: usize) -> Option<Repair> {
    (from > first || to < last).then_some(Repair::Blank(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        split(text, &lex(text, 0, text.len()))
            .into_iter()
            .map(|(a, b)| &text[a..b])
            .collect()
    }

    #[test]
    fn declarations_start_at_keywords_first_on_their_line() {
        let text =
            "role A\naction v;\ncase C {\n  allow A: v\n    when case.x == 1;\n}\n  deny A: v;";
        assert_eq!(
            pieces(text),
            vec![
                "role A\n",
                "action v;\n",
                "case C {\n  allow A: v\n    when case.x == 1;\n}\n  ",
                "deny A: v;"
            ]
        );
        // A block that is not closed ends at a keyword in column one.
        assert_eq!(
            pieces("case C {\n attr a: int;\nrole A;"),
            vec!["case C {\n attr a: int;\n", "role A;"]
        );
        // A block comment is one token, however many keywords it holds.
        assert_eq!(pieces("/* a\nrole */\nrole A;").len(), 2);
    }

    /// Every deletion of one character, and every insertion of a few marks, anywhere in a small
    /// policy: recovery never panics, and a text pest rejects always gets an error.
    #[test]
    fn recovery_survives_every_small_edit() {
        let base = "role A, B;\naction v, e;\nenum P { lo, hi }\ncase C {\n  attr p: P;\n  \
                    relation h;\n}\ncasetype T {\n  states S, R;\n  initial S;\n  \
                    transition e: S -> R by A;\n  allow h: v when case.p == hi;\n  table {\n  \
                    | A | B\n    S | +v | .\n  }\n}\n";
        let mut edits = 0;
        for (i, c) in base.char_indices() {
            let mut texts = vec![format!("{}{}", &base[..i], &base[i + c.len_utf8()..])];
            for mark in [";", "}", "/*", "\"", "é"] {
                texts.push(format!("{}{mark}{}", &base[..i], &base[i..]));
            }
            for text in texts {
                edits += 1;
                let rejected = PolicyParser::parse(Rule::policy, &text).is_err();
                let (_, diags) = super::super::parse(FileId(0), &text);
                if rejected {
                    assert!(
                        diags.iter().any(|d| d.is_error()),
                        "no error for a text pest rejects:\n{text}"
                    );
                }
            }
        }
        assert!(edits > 1000, "{edits} edits");
    }

    #[test]
    fn a_missing_semicolon_is_written_into_the_layout() {
        let text = "role A, B\naction v;";
        match repair(text, 0, 10, 10, true, false) {
            Some(Repair::Insert(at, ";")) => assert_eq!(at, 9),
            _ => panic!("expected an insertion"),
        }
    }

    #[test]
    fn a_declaration_repaired_by_a_semicolon_is_kept() {
        let (ast, diags) = super::super::parse(FileId(0), "role A, B\naction v;\n");
        assert_eq!(diags.len(), 1);
        assert!(ast.skipped.is_empty(), "{:?}", ast.skipped);
        assert_eq!(ast.items.len(), 2, "{:?}", ast.items);
    }

    #[test]
    fn a_stray_word_in_a_block_goes_alone() {
        let text = "case C {\n  attr a: int;\n  oops\n  relation r;\n}";
        let at = text.find("oops").unwrap_or(0);
        match repair(text, 0, text.len(), at, false, true) {
            Some(Repair::Blank(a, b)) => assert_eq!(&text[a..b], "oops"),
            _ => panic!("expected a blank"),
        }
    }
}

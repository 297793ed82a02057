//! The formatter: one canonical layout for `.casepol` files, keeping every comment.
//!
//! [`format_source`] is a pure function from text to text. It parses the text first and refuses
//! text with syntax errors. It then reads the tokens and comments itself (`format/lex.rs`),
//! builds a layout tree in source order with each comment attached to a place
//! (`format/tree.rs`), and prints the tree (`format/print.rs`). The layout is described in
//! docs/formatting.md.
//!
//! Before returning, it checks its own work: the output must parse to the same AST as the input
//! with spans ignored (`format/spanless.rs`), hold the same comments, and format to itself. A
//! failed check is a [`Code::FormatterBug`], never a silently changed policy.

mod lex;
mod print;
mod spanless;
mod tree;

pub use spanless::erase as erase_spans;

use crate::ast::PolicyAst;
use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use crate::syntax;

/// Why a file could not be formatted.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatError {
    /// The text has syntax errors (every one found); it is not formatted.
    Syntax(Vec<Diagnostic>),
    /// The formatter's output failed its soundness check: a bug in casepol. A
    /// [`Code::FormatterBug`] diagnostic.
    Bug(Diagnostic),
}

/// Formats one file's text in the canonical layout. `file` is the id that spans in diagnostics
/// point into.
///
/// The result keeps the text's line endings: `\r\n` if its first line ends in `\r\n`, otherwise
/// `\n`. It ends with one line break, unless the file holds nothing at all.
pub fn format_source(file: FileId, text: &str) -> Result<String, FormatError> {
    let (mut ast, diags) = syntax::parse(file, text);
    if !diags.is_empty() {
        return Err(FormatError::Syntax(diags));
    }
    spanless::erase(&mut ast);
    let formatted = layout(text).map_err(|why| FormatError::Bug(bug(file, text, &why)))?;
    verify(text, &ast, &formatted).map_err(|why| FormatError::Bug(bug(file, text, &why)))?;
    Ok(if uses_crlf(text) {
        formatted.replace('\n', "\r\n")
    } else {
        formatted
    })
}

/// The byte range of the first line of `original` that differs from `formatted` (without its
/// line break), or `None` if the two are equal. If every line of `original` is in `formatted`
/// and more follow, the range is empty, at the end of `original`.
pub fn first_difference(original: &str, formatted: &str) -> Option<std::ops::Range<usize>> {
    if original == formatted {
        return None;
    }
    let mut offset = 0;
    let mut theirs = lines(formatted);
    for line in lines(original) {
        if theirs.next() != Some(line) {
            let content = line.trim_end_matches(['\n', '\r']);
            return Some(offset..offset + content.len());
        }
        offset += line.len();
    }
    Some(original.len()..original.len())
}

/// The lines of `text`, each with its line break: `\n`, `\r\n`, or a lone `\r`, as in the
/// grammar.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let rest = &bytes[start..];
        let end = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => start + i + 2,
            Some(i) => start + i + 1,
            None => bytes.len(),
        };
        let line = &text[start..end];
        start = end;
        Some(line)
    })
}

/// The finding for a file that formatting would change: a [`Code::NotFormatted`] diagnostic at
/// the first line that differs. `None` if the file is already formatted. Its help says to
/// format the file; a caller that knows how it is formatted (the command line) says so instead.
pub fn not_formatted(file: FileId, original: &str, formatted: &str) -> Option<Diagnostic> {
    let at = first_difference(original, formatted)?;
    Some(
        Diagnostic::new(
            Code::NotFormatted,
            Span::new(file, at.start, at.end),
            "this file is not in the canonical layout",
        )
        .with_label("formatting changes this line first")
        .with_help("format the file, which rewrites it in the canonical layout"),
    )
}

/// Tokens, tree, text; an error only if the text is not a policy the grammar accepts.
fn layout(text: &str) -> Result<String, String> {
    let toks = lex::lex(text).map_err(|at| {
        let c = text[at..].chars().next().unwrap_or(' ');
        format!("the formatter cannot read `{c}` at byte {at}")
    })?;
    let tree = tree::build(&toks).map_err(|e| format!("the formatter {}", e.0))?;
    Ok(print::print(&tree))
}

/// The soundness check: `formatted` means what `original` means (its AST with spans erased is
/// `ast`), holds the same comments, and is its own canonical layout.
fn verify(original: &str, ast: &PolicyAst, formatted: &str) -> Result<(), String> {
    let (mut again, diags) = syntax::parse(FileId(0), formatted);
    if let Some(d) = diags.first() {
        return Err(format!("the formatted text does not parse ({})", d.message));
    }
    spanless::erase(&mut again);
    if &again != ast {
        return Err("the formatted text parses to a different policy".to_string());
    }
    let (mut before, mut after) = (comments(original)?, comments(formatted)?);
    before.sort_unstable();
    after.sort_unstable();
    if before != after {
        let lost = before.iter().find(|c| !after.contains(c));
        return Err(match lost {
            Some(c) => format!("the formatted text loses the comment `{c}`"),
            None => "the formatted text does not hold the same comments".to_string(),
        });
    }
    if layout(formatted)? != formatted {
        return Err("formatting the formatted text changes it again".to_string());
    }
    Ok(())
}

/// Every comment's text, without trailing whitespace.
fn comments(text: &str) -> Result<Vec<&str>, String> {
    let toks = lex::lex(text).map_err(|at| format!("the formatter cannot read byte {at}"))?;
    Ok(toks
        .into_iter()
        .filter(|t| t.kind == lex::Kind::Comment)
        .map(|t| t.text)
        .collect())
}

/// Whether the text's first line ends in `\r\n`.
fn uses_crlf(text: &str) -> bool {
    text.find('\n').is_some_and(|i| text[..i].ends_with('\r'))
}

/// A [`Code::FormatterBug`] diagnostic, pointing at the file's first line.
#[cold]
fn bug(file: FileId, text: &str, why: &str) -> Diagnostic {
    let first_line = text.find('\n').unwrap_or(text.len());
    let first_line = text[..first_line].trim_end_matches('\r').len();
    Diagnostic::new(
        Code::FormatterBug,
        Span::new(file, 0, first_line),
        format!("the formatter failed its own soundness check: {why}"),
    )
    .with_label("while formatting this file")
    .with_help(
        "this is a bug in casepol, not in your policy, and the file was left unchanged; \
         please report it to the casepol maintainers with this file attached",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        match format_source(FileId(0), text) {
            Ok(s) => s,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_changed_meaning_is_a_bug_not_an_output() {
        let original = "role A, B;\n";
        let (mut ast, _) = syntax::parse(FileId(0), original);
        spanless::erase(&mut ast);
        assert_eq!(verify(original, &ast, "role A, B;\n"), Ok(()));
        assert_eq!(
            verify(original, &ast, "role B, A;\n").unwrap_err(),
            "the formatted text parses to a different policy"
        );
        assert!(verify(original, &ast, "role A, B\n")
            .unwrap_err()
            .starts_with("the formatted text does not parse"));
        let commented = "role A, B;  // why\n";
        assert_eq!(
            verify(commented, &ast, "role A, B;\n").unwrap_err(),
            "the formatted text loses the comment `// why`"
        );
        assert_eq!(
            verify(original, &ast, "role  A, B;\n").unwrap_err(),
            "formatting the formatted text changes it again"
        );
    }

    #[test]
    fn the_bug_diagnostic_says_whose_bug_it_is() {
        let d = bug(
            FileId(3),
            "role A;\r\nrole B;",
            "the formatted text parses to a different policy",
        );
        assert_eq!(d.code, Code::FormatterBug);
        assert_eq!(d.span(), Span::new(FileId(3), 0, 7));
        assert!(d.help.as_deref().unwrap_or("").contains("bug in casepol"));
    }

    #[test]
    fn syntax_errors_are_returned_not_formatted() {
        match format_source(FileId(0), "role A") {
            Err(FormatError::Syntax(d)) => assert_eq!(d[0].code, Code::Syntax),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn line_endings_follow_the_first_line() {
        assert_eq!(fmt("role A;\r\nrole B;\n"), "role A;\r\nrole B;\r\n");
        assert_eq!(fmt("role A;\nrole B;\r\n"), "role A;\nrole B;\n");
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n  \n"), "");
    }

    #[test]
    fn first_difference_points_at_a_line() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(first_difference("a\nbb  \nc\n", "a\nbb\nc\n"), Some(2..6));
        assert_eq!(first_difference("a", "a\n"), Some(0..1));
        assert_eq!(first_difference("a\n\n\n", "a\n"), Some(2..2));
        assert_eq!(first_difference("a\r\nb\r\n", "a\r\nc\r\n"), Some(3..4));
        // A lone `\r` ends a line, as in the grammar.
        assert_eq!(first_difference("a\nb\rc\n", "a\nb\nc\n"), Some(2..3));
    }
}

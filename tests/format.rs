//! The formatter over every policy we have: the shipped policies, the whole test corpus and the
//! `casepol` blocks of the documentation. Each must format soundly (the output parses to the same
//! AST, spans aside), keep every comment, and be stable (formatting twice changes nothing).
//!
//! `tests/data/format/*.casepol` are deliberately messy files; their formatted text is
//! snapshotted, next to the input.

mod common;

use common::casepol_blocks;

use casepol::diagnostic::FileId;
use casepol::internal::ast::PolicyAst;
use casepol::internal::format::{erase_spans, format_source, FormatError};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn casepol_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            casepol_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "casepol") {
            out.push(p);
        }
    }
}

/// Every text to format: (name, text, or why it cannot be read as UTF-8).
fn corpus() -> Vec<(String, Result<String, String>)> {
    let mut files = Vec::new();
    casepol_files(&root().join("policies"), &mut files);
    casepol_files(&root().join("tests/data"), &mut files);
    let mut out: Vec<(String, Result<String, String>)> = files
        .iter()
        .map(|f| {
            let text = String::from_utf8(std::fs::read(f).unwrap()).map_err(|e| e.to_string());
            (rel(f), text)
        })
        .collect();
    let mut docs = vec![root().join("README.md")];
    let mut entries: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    entries.sort();
    docs.extend(entries);
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (line, block) in casepol_blocks(&text) {
            out.push((format!("{}:{line}", rel(&doc)), Ok(block)));
        }
    }
    out
}

/// The comments of a text, found independently of the formatter's own scanner: `//` outside a
/// string literal, to the end of the line, without trailing whitespace. Sorted, as a multiset.
fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let mut in_string = false;
        let mut escaped = false;
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    _ => {}
                }
            } else if c == '"' {
                in_string = true;
            } else if c == '/' && chars.peek().is_some_and(|&(_, n)| n == '/') {
                out.push(line[i..].trim_end().to_string());
                break;
            }
        }
    }
    out.sort();
    out
}

fn spanless(text: &str) -> PolicyAst {
    let (mut ast, diags) = casepol::internal::syntax::parse(FileId(0), text);
    assert!(diags.is_empty(), "does not parse: {diags:?}");
    erase_spans(&mut ast);
    ast
}

#[test]
fn the_whole_corpus_formats_soundly_and_stably() {
    let mut formatted = 0;
    let mut changed = 0;
    let mut skipped = Vec::new();
    for (name, text) in corpus() {
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                skipped.push(format!("{name}: not UTF-8 ({e})"));
                continue;
            }
        };
        let once = match format_source(FileId(0), &text) {
            Ok(s) => s,
            Err(FormatError::Syntax(d)) => {
                skipped.push(format!("{name}: syntax error: {}", d[0].message));
                continue;
            }
            Err(FormatError::Bug(d)) => panic!("{name}: {}", d.message),
        };
        let twice = format_source(FileId(0), &once)
            .unwrap_or_else(|e| panic!("{name}: the formatted text does not format: {e:?}"));
        assert_eq!(once, twice, "{name}: formatting twice changes the text");
        assert_eq!(
            spanless(&text),
            spanless(&once),
            "{name}: formatting changes the policy"
        );
        assert_eq!(
            comments(&text),
            comments(&once),
            "{name}: formatting changes the comments"
        );
        if !text.is_empty() {
            assert!(once.ends_with('\n'), "{name}: no line break at the end");
        }
        for line in once.lines() {
            assert_eq!(line, line.trim_end(), "{name}: a line ends in whitespace");
        }
        formatted += 1;
        changed += usize::from(once != text);
    }
    // The skipped files are the syntax-error corpus; the list is reviewed in the snapshot.
    insta::assert_snapshot!(format!(
        "formatted: {formatted}\nalready formatted: {}\nskipped:\n{}",
        formatted - changed,
        skipped.join("\n")
    ));
}

/// Makes the invisible visible: tabs, trailing spaces, carriage returns and a byte-order mark.
fn visible(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let body = line.trim_end_matches([' ', '\r']);
            let tail = &line[body.len()..];
            let tail: String = tail
                .chars()
                .map(|c| if c == '\r' { '␍' } else { '·' })
                .collect();
            format!(
                "{}{tail}",
                body.replace('\t', "⇥").replace('\u{FEFF}', "<BOM>")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn messy_files_snapshots() {
    insta::glob!("data/format/*.casepol", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let once =
            format_source(FileId(0), &text).unwrap_or_else(|e| panic!("{}: {e:?}", rel(path)));
        if text.contains("\r\n") {
            assert_eq!(
                once.matches('\n').count(),
                once.matches("\r\n").count(),
                "CRLF is kept on every line"
            );
        }
        insta::assert_snapshot!(format!(
            "--- input ---\n{}\n--- formatted ---\n{}",
            visible(&text),
            visible(&once)
        ));
    });
}

#[test]
fn a_file_with_syntax_errors_is_not_formatted() {
    let text =
        std::fs::read_to_string(root().join("tests/data/check/err/syntax_two_errors.casepol"))
            .unwrap();
    match format_source(FileId(0), &text) {
        Err(FormatError::Syntax(diags)) => assert_eq!(diags.len(), 2, "{diags:?}"),
        other => panic!("expected syntax errors, got {other:?}"),
    }
}

#[test]
fn the_shipped_policies_keep_their_tables_aligned() {
    // The eFOB table is written aligned; formatting leaves its rows as they are.
    let path = root().join("policies/efob/policy.casepol");
    let text = std::fs::read_to_string(path).unwrap();
    let once = format_source(FileId(0), &text).unwrap();
    let table = |s: &str| -> Vec<String> {
        s.lines()
            .skip_while(|l| !l.trim_start().starts_with("table {"))
            .take_while(|l| l.trim() != "}")
            .map(str::to_string)
            .collect()
    };
    assert!(table(&text).len() > 3);
    assert_eq!(table(&text), table(&once));
}

#[test]
fn the_formatting_guide_shows_the_canonical_layout() {
    let text = std::fs::read_to_string(root().join("docs/formatting.md")).unwrap();
    let mut checked = 0;
    for (line, block) in casepol_blocks(&text) {
        let once = format_source(FileId(0), &block)
            .unwrap_or_else(|e| panic!("docs/formatting.md:{line} does not format: {e:?}"));
        assert_eq!(
            once, block,
            "docs/formatting.md:{line} is not in the canonical layout"
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} examples found");
}

/// Byte offsets between two tokens of `text`, outside strings and comments: wherever there is
/// whitespace, and on both sides of punctuation that ends or separates things.
fn token_boundaries(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut in_string, mut escaped, mut in_comment) = (false, false, false);
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '/' if bytes.get(i + 1) == Some(&b'/') => in_comment = true,
            ' ' | '\n' => out.push(i),
            ';' | ',' | ':' | '{' | '}' | '[' | ']' | '|' => {
                out.push(i);
                out.push(i + 1);
            }
            _ => {}
        }
    }
    out.dedup();
    out
}

#[test]
fn a_comment_between_any_two_tokens_survives() {
    // Small files that hold every construct between them; `format_source` checks stability and
    // meaning itself, and this test checks the comments independently.
    let files = [
        "tests/data/format/comments_everywhere.casepol",
        "tests/data/format/literals.casepol",
        "tests/data/format/one_line_blocks.casepol",
        "tests/data/format/unaligned_tables.casepol",
    ];
    let mut tried = 0;
    for file in files {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        for at in token_boundaries(&text) {
            for insert in [" // inserted\n", "\n\n// inserted\n"] {
                let mutated = format!("{}{insert}{}", &text[..at], &text[at..]);
                let once = match format_source(FileId(0), &mutated) {
                    Ok(s) => s,
                    // Some places split what the grammar reads as one token (`+ // x` in a cell).
                    Err(FormatError::Syntax(_)) => continue,
                    Err(FormatError::Bug(d)) => {
                        panic!("{file} + comment at {at}: {}\n{mutated}", d.message)
                    }
                };
                assert_eq!(
                    comments(&mutated),
                    comments(&once),
                    "{file} + comment at {at}"
                );
                tried += 1;
            }
        }
    }
    assert!(tried > 500, "only {tried} placements tried");
}

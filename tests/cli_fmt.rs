//! `casepol fmt`, run as a user runs it: files are rewritten only when they change, `--check`
//! changes nothing and lists what would change, every report format, and bad input.
//!
//! Tests that write work on copies in a fresh directory under Cargo's temporary directory; its
//! path is shown as `[TMP]` in snapshots. Fixtures live in `tests/data/format/cli/`.

mod common;

use casepol::diagnostic::FileId;
use common::*;
use std::path::{Path, PathBuf};

const FIXTURES: &str = "tests/data/format/cli";
const CLEAN: &str = "tests/data/format/cli/clean.casepol";
const DIRTY: &str = "tests/data/format/cli/dirty.casepol";
const SYNTAX_ERROR: &str = "tests/data/format/cli/syntax_error.casepol";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies a fixture file or directory (recursively) into `dir`; returns the copy's path.
fn copy(fixture: &str, dir: &Path) -> PathBuf {
    fn copy_tree(from: &Path, to: &Path) {
        if from.is_dir() {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap() {
                let e = e.unwrap();
                copy_tree(&e.path(), &to.join(e.file_name()));
            }
        } else {
            std::fs::copy(from, to).unwrap();
        }
    }
    let from = root().join(fixture);
    let to = dir.join(from.file_name().unwrap());
    copy_tree(&from, &to);
    to
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

fn formatted(text: &str) -> String {
    casepol::internal::format::format_source(FileId(0), text).unwrap()
}

// ---- writing --------------------------------------------------------------------------------

#[test]
fn fmt_rewrites_a_file_and_then_leaves_it_alone() {
    let dir = scratch("cli_fmt", "rewrite");
    let file = copy(DIRTY, &dir);
    let run = expect(&["fmt", &arg(&file)], OK);
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(after, formatted(&read(DIRTY)));
    assert_ne!(after, read(DIRTY));
    insta::assert_snapshot!(run.transcript_in(&dir));

    let again = expect(&["fmt", &arg(&file)], OK);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), after);
    insta::assert_snapshot!(again.transcript_in(&dir));
}

#[test]
fn fmt_formats_every_casepol_file_under_a_directory() {
    let dir = scratch("cli_fmt", "directory");
    let tree = copy(FIXTURES, &dir);
    let run = expect(&["fmt", &arg(&tree)], FAIL);
    insta::assert_snapshot!(run.transcript_in(&dir));
    // Formatted: the dirty file and the one in a sub-directory.
    for name in ["dirty.casepol", "nested/messy.casepol", "clean.casepol"] {
        let original = read(format!("{FIXTURES}/{name}"));
        let now = std::fs::read_to_string(tree.join(name)).unwrap();
        assert_eq!(now, formatted(&original), "{name}");
    }
    // Untouched: the file with a syntax error, a hidden directory, and other files.
    for name in [
        "syntax_error.casepol",
        "nested/.hidden/skipped.casepol",
        "nested/notes.txt",
    ] {
        let original = read(format!("{FIXTURES}/{name}"));
        let now = std::fs::read_to_string(tree.join(name)).unwrap();
        assert_eq!(now, original, "{name} was changed");
    }
}

#[test]
fn fmt_never_touches_a_file_with_syntax_errors() {
    let dir = scratch("cli_fmt", "syntax_error");
    let file = copy(SYNTAX_ERROR, &dir);
    let run = expect(&["fmt", &arg(&file)], FAIL);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), read(SYNTAX_ERROR));
    insta::assert_snapshot!(run.transcript_in(&dir));
}

#[test]
fn fmt_keeps_crlf_line_endings() {
    let dir = scratch("cli_fmt", "crlf");
    let file = copy("tests/data/format/crlf.casepol", &dir);
    expect(&["fmt", &arg(&file)], OK);
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(after.contains("\r\n"));
    assert_eq!(after.matches('\n').count(), after.matches("\r\n").count());
}

// ---- --check --------------------------------------------------------------------------------

#[test]
fn check_passes_a_formatted_file() {
    let run = expect(&["fmt", "--check", CLEAN], OK);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_lists_a_file_that_would_change_and_changes_nothing() {
    let dir = scratch("cli_fmt", "check_dirty");
    let file = copy(DIRTY, &dir);
    let run = expect(&["fmt", "--check", CLEAN, &arg(&file)], FAIL);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), read(DIRTY));
    insta::assert_snapshot!(run.transcript_in(&dir));
}

#[test]
fn check_a_directory() {
    let run = expect(&["fmt", "--check", FIXTURES], FAIL);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_json() {
    let run = expect(&["fmt", "--check", "--format", "json", FIXTURES], FAIL);
    assert_eq!(run.stderr, "", "JSON mode prints nothing to stderr");
    let v = run.json();
    assert_eq!(v["check"], true);
    let statuses: Vec<(&str, &str)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("tests/data/format/cli/clean.casepol", "unchanged"),
            ("tests/data/format/cli/dirty.casepol", "would_reformat"),
            (
                "tests/data/format/cli/nested/messy.casepol",
                "would_reformat"
            ),
            ("tests/data/format/cli/syntax_error.casepol", "syntax_error"),
        ]
    );
    assert_eq!(v["files"][1]["line"], 4);
    assert_eq!(v["files"][3]["diagnostics"][0]["code"], "CP0001");
    insta::assert_json_snapshot!(v);
}

#[test]
fn check_github_annotations() {
    let run = expect(&["fmt", "--check", "--format", "github", FIXTURES], FAIL);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_sarif_is_json() {
    // The SARIF renderer is shared with `validate`; here only that `fmt` hands it a log.
    let run = expect(&["fmt", "--check", "--format", "sarif", DIRTY], FAIL);
    assert_eq!(run.json()["version"], "2.1.0");
}

#[test]
fn fmt_json_without_check_reports_what_it_rewrote() {
    let dir = scratch("cli_fmt", "json_write");
    let file = copy(DIRTY, &dir);
    let run = expect(&["fmt", "--format", "json", &arg(&file)], OK);
    let v = run.json();
    assert_eq!(v["check"], false);
    assert_eq!(v["files"][0]["status"], "reformatted");
    assert_eq!(v["files"][0]["line"], 4);
}

// ---- bad input ------------------------------------------------------------------------------

#[test]
fn a_missing_file_is_an_input_error() {
    let run = expect(
        &["fmt", "--check", "tests/data/format/cli/missing.casepol"],
        ERROR,
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn a_missing_file_outranks_a_file_that_would_change() {
    let run = expect(
        &[
            "fmt",
            "--check",
            "--format",
            "json",
            DIRTY,
            "tests/data/format/cli/missing.casepol",
        ],
        ERROR,
    );
    let v = run.json();
    assert_eq!(v["files"][0]["status"], "would_reformat");
    assert_eq!(v["files"][1]["status"], "unreadable");
    assert!(v["files"][1]["error"]
        .as_str()
        .unwrap()
        .contains("cannot read"));
}

#[test]
fn a_directory_without_policies_is_an_input_error() {
    let dir = scratch("cli_fmt", "empty_dir");
    let run = expect(&["fmt", &arg(&dir)], ERROR);
    insta::assert_snapshot!(run.transcript_in(&dir));
}

#[test]
fn a_file_that_is_not_utf8_is_an_input_error() {
    let run = expect(&["fmt", "--check", "tests/data/cli/latin1.casepol"], ERROR);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn a_file_named_twice_is_formatted_once() {
    let run = expect(
        &["fmt", "--check", "--format", "json", DIRTY, FIXTURES],
        FAIL,
    );
    let files = run.json()["files"].as_array().unwrap().len();
    assert_eq!(files, 4, "{}", run.stdout);
}

//! Documentation stays true: every `casepol` code block in README.md and docs/ type-checks
//! (docs/errors.md has its own, stronger test in tests/errors_doc.rs), every source file starts
//! with a `//!` line saying what it is for.

mod common;

use common::casepol_blocks;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn casepol_examples_in_docs_check() {
    let mut docs = vec![root().join("README.md")];
    let mut entries: Vec<_> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    // docs/errors.md shows wrong policies on purpose; tests/errors_doc.rs checks that each of
    // its examples produces (or, when corrected, does not produce) its code.
    docs.extend(
        entries
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "md") && !p.ends_with("docs/errors.md")),
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        for (line, block) in casepol_blocks(&text) {
            // A block marked `// fragment` is part of a larger policy and is not checked alone.
            if block.trim_start().starts_with("// fragment") {
                continue;
            }
            checked += 1;
            let name = format!("{}:{line}", doc.strip_prefix(root()).unwrap().display());
            if let Err(e) = casepol::Policy::from_source(&name, &block) {
                failures.push(e.render());
            }
        }
    }
    assert!(checked > 0, "no casepol examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        // Build output (fuzz/target/ holds generated .rs files) is not source.
        if p.is_dir() && p.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "fuzz"] {
        rust_files(&root().join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` line: {missing:?}"
    );
}

/// Every limit of `src/limits.rs` is named in docs/limits.md, so a limit added later cannot go
/// undocumented.
#[test]
fn every_limit_is_documented() {
    let source = std::fs::read_to_string(root().join("src/limits.rs")).unwrap();
    let doc = std::fs::read_to_string(root().join("docs/limits.md")).unwrap();
    let names: Vec<&str> = source
        .lines()
        .filter_map(|l| l.strip_prefix("pub const "))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert!(names.len() > 30, "only {} limits found", names.len());
    let missing: Vec<&&str> = names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "limits not named in docs/limits.md: {missing:?}"
    );
}

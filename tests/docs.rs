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

// ---- command lines in the docs ----------------------------------------------------------------

/// One command shown in a doc: where, its arguments, the file on standard input, and the output
/// shown under it (`None` when the doc shows none).
struct Example {
    place: String,
    args: Vec<String>,
    stdin: Option<String>,
    output: Option<Vec<String>>,
}

/// Splits a command line as a POSIX shell would for the forms the docs use: words, '…' and
/// "…" quoting, `\` escapes, a trailing `# comment`, and `< FILE` (returned apart). `None` for
/// anything else (a pipe, `>`, `$VAR`), which a doc must mark as not run.
fn shell_words(line: &str) -> Option<(Vec<String>, Option<String>)> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => w.push(ch),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => w.push(chars.next()?),
                        '$' | '`' => return None,
                        ch => w.push(ch),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            '#' if word.is_none() => break,
            '|' | '>' | '$' | '`' | ';' | '&' => return None,
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word.take());
    let mut stdin = None;
    if let Some(i) = words.iter().position(|w| w == "<") {
        stdin = Some(words.get(i + 1)?.clone());
        words.drain(i..);
    }
    Some((words, stdin))
}

/// The docs whose command lines are run: README.md and docs/*.md.
fn markdown_docs() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut entries: Vec<_> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    entries.sort();
    docs.extend(entries);
    docs
}

/// The examples of one doc, by the convention of docs/testing.md ("Docs that cannot drift"):
/// in a fenced block, a line `$ casepol ARGS` is a command, and the lines after it up to the
/// next `$ ` line or the end of the block are its output; in a ```sh block, every line that
/// starts with `casepol ` is a command whose output is not shown. A block right after a line
/// `<!-- not run: REASON -->` is skipped, and so is a command holding `…`, which abbreviates
/// one shown in full before it. Returns the examples and how many commands were skipped.
fn examples(doc: &Path) -> (Vec<Example>, usize) {
    let rel = doc.strip_prefix(root()).unwrap().display().to_string();
    let text = std::fs::read_to_string(doc).unwrap();
    let mut out: Vec<Example> = Vec::new();
    let mut skipped = 0;
    let mut fence: Option<(String, bool)> = None;
    let mut previous = "";
    let mut pending: Option<String> = None;
    let mut open = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("```") {
            match fence {
                None => {
                    let skip = previous.trim_start().starts_with("<!-- not run:");
                    fence = Some((rest.trim().to_string(), skip));
                }
                Some(_) => {
                    fence = None;
                    open = false;
                }
            }
            previous = line;
            continue;
        }
        if !line.trim().is_empty() {
            previous = line;
        }
        let Some((lang, skip)) = &fence else {
            continue;
        };
        // A command continued on the next line with `\`.
        let mut line = line.to_string();
        if let Some(head) = pending.take() {
            line = format!("{head} {}", line.trim());
        }
        let command = match trimmed.strip_prefix("$ ") {
            Some(_) => line.trim_start().strip_prefix("$ ").map(str::to_string),
            None if lang == "sh" && line.trim_start().starts_with("casepol ") => {
                Some(line.trim_start().to_string())
            }
            None => None,
        };
        let Some(command) = command else {
            if open {
                if let Some(e) = out.last_mut() {
                    e.output.get_or_insert_with(Vec::new).push(line.clone());
                }
            }
            continue;
        };
        if let Some(head) = command.strip_suffix('\\') {
            pending = Some(format!("$ {}", head.trim_end()));
            continue;
        }
        open = false;
        if !command.starts_with("casepol ") {
            continue;
        }
        if *skip || command.contains('…') {
            skipped += 1;
            continue;
        }
        let place = format!("{rel}:{}", i + 1);
        let Some((words, stdin)) = shell_words(&command) else {
            panic!(
                "{place}: `{command}` is not a plain command; mark the block `<!-- not run: … -->`"
            );
        };
        out.push(Example {
            place,
            args: words[1..].to_vec(),
            stdin,
            output: None,
        });
        open = trimmed.starts_with("$ ");
    }
    (out, skipped)
}

/// Whether `actual` is `expected`, where a line `…` in `expected` stands for any lines.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "…" => {
            (0..=actual.len()).any(|k| matches(rest, &actual[k..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| a.trim_end() == first.trim_end() && matches(rest, more)),
    }
}

/// Every `casepol` command line in README.md and docs/*.md runs, in the repository root, and
/// prints what the doc shows under it (standard output, then standard error). A command whose
/// output is not shown must exit 0.
#[test]
fn command_lines_in_docs_run_as_shown() {
    use std::io::Write;
    let (mut ran, mut compared, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for doc in markdown_docs() {
        let (found, n) = examples(&doc);
        skipped += n;
        for e in found {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_casepol"));
            cmd.args(&e.args)
                .current_dir(root())
                .env("NO_COLOR", "1")
                .env_remove("CLICOLOR_FORCE")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            let input = e
                .stdin
                .as_ref()
                .map(|f| {
                    std::fs::read(root().join(f))
                        .unwrap_or_else(|err| panic!("{}: {f}: {err}", e.place))
                })
                .unwrap_or_default();
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(&input);
            drop(stdin);
            let run = child.wait_with_output().unwrap();
            ran += 1;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            );
            let actual: Vec<&str> = text.trim_end().lines().collect();
            let shown = format!("$ casepol {}", e.args.join(" "));
            match &e.output {
                Some(expected) => {
                    let mut expected = expected.clone();
                    while expected.last().is_some_and(|l| l.trim().is_empty()) {
                        expected.pop();
                    }
                    compared += 1;
                    if !matches(&expected, &actual) {
                        failures.push(format!(
                            "{}: {shown}\n--- the doc shows ---\n{}\n--- casepol prints (exit {:?}) ---\n{}\n",
                            e.place,
                            expected.join("\n"),
                            run.status.code(),
                            actual.join("\n")
                        ));
                    }
                }
                None if !run.status.success() => failures.push(format!(
                    "{}: {shown}\nexits {:?} (the doc shows no output, so it must succeed):\n{}",
                    e.place,
                    run.status.code(),
                    actual.join("\n")
                )),
                None => {}
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} doc commands differ:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Guards against a convention that silently matches nothing.
    assert!(
        ran >= 12 && compared >= 10,
        "only {ran} commands run, {compared} compared ({skipped} skipped)"
    );
    assert!(skipped <= ran, "{skipped} commands skipped, {ran} run");
}

#[test]
fn the_doc_matcher_elides_and_fails() {
    let exp = |s: &str| s.lines().map(str::to_string).collect::<Vec<_>>();
    assert!(matches(&exp("a\n…\nd"), &["a", "b", "c", "d"]));
    assert!(matches(&exp("a\n…\nd"), &["a", "d"]));
    assert!(!matches(&exp("a\n…\nd"), &["a", "b"]));
    assert!(!matches(&exp("a\nb"), &["a", "c"]));
    assert_eq!(
        shell_words(r#"check p --request '{"a": 1}' < x.json # note"#),
        Some((
            vec![
                "check".into(),
                "p".into(),
                "--request".into(),
                r#"{"a": 1}"#.into()
            ],
            Some("x.json".into())
        ))
    );
    assert_eq!(shell_words("fmt --diff p | git apply"), None);
}

/// The policy of README.md's tour is in the canonical layout: a reader who copies it and runs
/// `casepol fmt --check` sees it pass.
#[test]
fn the_readme_policies_are_formatted() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut checked = 0;
    for (line, block) in casepol_blocks(&text) {
        if block.trim_start().starts_with("// fragment") {
            continue;
        }
        let id = casepol::diagnostic::FileId(0);
        let formatted = casepol::internal::format::format_source(id, &block)
            .unwrap_or_else(|_| panic!("README.md:{line} does not format"));
        assert_eq!(
            formatted, block,
            "README.md:{line} is not formatted (`casepol fmt --diff` shows how)"
        );
        checked += 1;
    }
    assert!(checked >= 1, "no policy in README.md");
}

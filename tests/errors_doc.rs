//! `docs/errors.md` explains every diagnostic code, and its examples are true: each **Wrong**
//! policy produces its section's code, and each **Corrected** policy does not.
//!
//! A new `Code` without a section fails `every_code_has_one_section`.

use casepol::diagnostic::{self, Code, Diagnostic, Severity, Sources};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wrong,
    Corrected,
}

/// One fenced code block of a section.
struct Example {
    kind: Option<Kind>,
    language: String,
    /// One-based line of docs/errors.md where the block's text starts.
    line: usize,
    text: String,
}

/// The code blocks of a section, each marked by the nearest `**Wrong` or `**Corrected` line
/// before it, if that line comes after the previous block.
fn examples(section: &str, first_line: usize) -> Vec<Example> {
    let mut out = Vec::new();
    let mut marker = None;
    let mut open: Option<Example> = None;
    for (i, line) in section.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            Some(_) if trimmed.starts_with("```") => out.extend(open.take()),
            Some(example) => {
                example.text.push_str(line);
                example.text.push('\n');
            }
            None if trimmed.starts_with("```") => {
                open = Some(Example {
                    kind: marker.take(),
                    language: trimmed.trim_start_matches('`').trim().to_string(),
                    line: first_line + i + 1,
                    text: String::new(),
                });
            }
            None if trimmed.starts_with("**Wrong") => marker = Some(Kind::Wrong),
            None if trimmed.starts_with("**Corrected") => marker = Some(Kind::Corrected),
            None => {}
        }
    }
    assert!(open.is_none(), "unclosed code block in:\n{section}");
    out
}

/// Every `## CP…` section: its code, the line it starts on, and its text.
fn code_sections() -> Vec<(Code, usize, &'static str)> {
    let doc = diagnostic::ERRORS_DOC;
    diagnostic::sections(doc)
        .filter(|(_, text)| text.starts_with("## CP"))
        .map(|(code, text)| {
            let heading = text.lines().next().unwrap_or_default();
            let code = code.unwrap_or_else(|| panic!("`{heading}` names no known code"));
            let offset = text.as_ptr() as usize - doc.as_ptr() as usize;
            let line = doc[..offset].matches('\n').count() + 1;
            (code, line, text)
        })
        .collect()
}

fn check(name: &str, text: &str) -> Vec<Diagnostic> {
    let mut sources = Sources::new();
    sources.add(name, text);
    casepol::internal::check_sources(&sources).1
}

fn codes(diags: &[Diagnostic]) -> Vec<&'static str> {
    diags.iter().map(|d| d.code.as_str()).collect()
}

fn is_policy_code(code: Code) -> bool {
    code.as_str() < "CP0300"
}

#[test]
fn every_code_has_one_section() {
    let sections = code_sections();
    let found: Vec<Code> = sections.iter().map(|(c, _, _)| *c).collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !found.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "docs/errors.md has no section for {missing:?}"
    );
    assert_eq!(found, Code::ALL, "one section per code, in code order");
    for (code, line, text) in &sections {
        let heading = text.lines().next().unwrap_or_default();
        assert_eq!(
            heading,
            format!("## {}: {}", code.as_str(), code.title()),
            "docs/errors.md:{line}: the heading is the code and its title"
        );
        assert_eq!(diagnostic::explanation(*code), Some(*text));
    }
}

#[test]
fn every_section_says_what_why_and_how() {
    for (code, line, text) in code_sections() {
        let severity = match code.severity() {
            Severity::Error => "**Error",
            Severity::Warning => "**Warning",
            other => panic!("docs/errors.md has no heading style for {other:?}"),
        };
        let body = text.lines().nth(2).unwrap_or_default();
        assert!(
            body.starts_with(severity),
            "docs/errors.md:{line}: {} starts with its severity, `{severity}`",
            code.as_str()
        );
        assert!(
            text.contains("Why it matters:"),
            "docs/errors.md:{line}: {} says why it matters",
            code.as_str()
        );
        assert!(
            text.contains("How to fix:"),
            "docs/errors.md:{line}: {} says how to fix it",
            code.as_str()
        );
        let examples = examples(text, line);
        for kind in [Kind::Wrong, Kind::Corrected] {
            assert!(
                examples.iter().any(|e| e.kind == Some(kind)),
                "docs/errors.md:{line}: {} has no {kind:?} example",
                code.as_str()
            );
        }
        for e in &examples {
            if is_policy_code(code) {
                assert!(
                    e.language != "casepol" || e.kind.is_some(),
                    "docs/errors.md:{}: a casepol example is marked **Wrong** or **Corrected**",
                    e.line
                );
                if e.kind.is_some() {
                    assert_eq!(e.language, "casepol", "docs/errors.md:{}", e.line);
                }
            } else {
                assert_ne!(
                    e.language, "casepol",
                    "docs/errors.md:{}: {} is not about a policy's text; its examples are not `casepol` blocks",
                    e.line,
                    code.as_str()
                );
            }
        }
    }
}

#[test]
fn the_anchor_is_the_headings() {
    assert_eq!(
        diagnostic::explanation_anchor(Code::Undefined),
        "cp0101-undefined-name"
    );
    assert_eq!(
        diagnostic::explanation_anchor(Code::FormatterBug),
        "cp0302-formatter-changed-the-policys-meaning"
    );
}

/// Checks the examples of the policy codes in `codes`; returns every failure.
fn check_examples(which: impl Fn(Code) -> bool) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (code, line, text) in code_sections() {
        if !is_policy_code(code) || !which(code) {
            continue;
        }
        for e in examples(text, line) {
            let Some(kind) = e.kind else { continue };
            checked += 1;
            let name = format!("docs/errors.md:{}", e.line);
            let diags = check(&name, &e.text);
            let found = codes(&diags);
            let errors: Vec<&str> = diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.code.as_str())
                .collect();
            let produces = diags.iter().any(|d| d.code == code);
            match kind {
                Kind::Wrong if !produces => failures.push(format!(
                    "{name}: the wrong example of {} produces {found:?}, not {}",
                    code.as_str(),
                    code.as_str()
                )),
                // A warning is about a valid policy: its wrong example has no errors.
                Kind::Wrong if code.severity() == Severity::Warning && !errors.is_empty() => {
                    failures.push(format!(
                        "{name}: the wrong example of {} has errors {errors:?}",
                        code.as_str()
                    ))
                }
                Kind::Corrected if produces || !errors.is_empty() => failures.push(format!(
                    "{name}: the corrected example of {} still produces {found:?}",
                    code.as_str()
                )),
                _ => {}
            }
        }
    }
    (checked, failures)
}

#[test]
fn examples_produce_their_code() {
    let (checked, failures) = check_examples(|_| true);
    assert!(checked >= 44, "only {checked} examples checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

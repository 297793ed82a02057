//! Every built-in limit of `src/limits.rs`, exceeded: each gives a clear error (snapshotted),
//! never a crash, a hang or an allow. The inputs are generated here rather than committed.

mod common;

use casepol::diagnostic::{render, Sources};
use casepol::limits::*;
use casepol::Policy;
use common::*;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Checks `text` as a one-file policy and renders its diagnostics (the source is not shown).
fn diagnostics(text: &str) -> String {
    let mut sources = Sources::new();
    sources.add("limits.casepol", text);
    let (ir, diags) = casepol::check_sources(&sources);
    assert!(ir.is_none(), "a policy over a limit must not check");
    diags
        .iter()
        .take(3)
        .map(|d| render::human(d, &sources, false))
        .collect::<String>()
        + &format!("({} diagnostic(s) in all)\n", diags.len())
}

/// A scratch directory under `target/`, unique to one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("limits-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn policy_file_too_large() {
    let line = "// padding padding padding padding padding padding padding padding padding\n";
    let text = line.repeat(MAX_POLICY_FILE_BYTES / line.len() + 1);
    insta::assert_snapshot!(diagnostics(&text));

    // The command line refuses the file before reading it.
    let dir = scratch("policy-size");
    let path = dir.join("huge.casepol");
    std::fs::write(&path, &text).unwrap();
    let run = expect(&["validate", path.to_str().unwrap()], ERROR);
    assert!(
        run.stderr
            .contains("more than the limit of 16 MiB for a policy file"),
        "{}",
        run.stderr
    );
}

#[test]
fn too_many_declarations() {
    let mut text = String::new();
    for i in 0..=MAX_DECLARATIONS / 2 {
        writeln!(text, "action a{i}, b{i};").unwrap();
    }
    insta::assert_snapshot!(diagnostics(&text));
}

#[test]
fn too_many_syntax_errors() {
    let text = "role ;\n".repeat(MAX_SYNTAX_ERRORS * 3);
    let mut sources = Sources::new();
    let file = sources.add("errors.casepol", text.as_str());
    let (_, diags) = casepol::syntax::parse(file, &text);
    assert_eq!(diags.len(), MAX_SYNTAX_ERRORS + 1);
    insta::assert_snapshot!(render::human(&diags[MAX_SYNTAX_ERRORS], &sources, false));
}

#[test]
fn deep_nesting_is_a_syntax_error_not_a_stack_overflow() {
    // The grammar has no recursive rule, so no input can nest deeper than three blocks.
    let deep = |n: usize| format!("role R;\ngroup G {}", "{".repeat(n));
    diagnostics(&deep(1_000_000));
    insta::assert_snapshot!(diagnostics(&deep(20)));
}

#[test]
fn groups_nested_too_deep() {
    let mut text = String::from("role R;\ngroup G0 { grants R; }\n");
    // A chain of MAX_GROUP_DEPTH + 1 groups: G0 and G1 … G32.
    for i in 1..=MAX_GROUP_DEPTH {
        writeln!(text, "group G{i} in G{} {{ }}", i - 1).unwrap();
    }
    insta::assert_snapshot!(diagnostics(&text));
    // One level less is fine.
    let ok = text
        .lines()
        .take(text.lines().count() - 1)
        .collect::<Vec<_>>()
        .join("\n");
    Policy::from_source("ok.casepol", &ok).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn kinds_nested_too_deep() {
    let mut text = String::from("case K0 { }\n");
    // A chain of MAX_KIND_DEPTH + 1 kinds: K0 and K1 … K32.
    for i in 1..=MAX_KIND_DEPTH {
        writeln!(text, "resource K{i} under K{} {{ }}", i - 1).unwrap();
    }
    insta::assert_snapshot!(diagnostics(&text));
    let ok: Vec<&str> = text.lines().take(MAX_KIND_DEPTH).collect();
    Policy::from_source("ok.casepol", &ok.join("\n")).unwrap_or_else(|e| panic!("{e}"));
}

fn tiny_policy() -> Policy {
    Policy::from_source(
        "tiny.casepol",
        "role R;\naction view;\nresource Note { allow R: view; }",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn units_nested_too_deep() {
    let units: Vec<String> = (0..=MAX_UNIT_DEPTH)
        .map(|i| match i {
            0 => r#"{"id": "u0"}"#.to_string(),
            i => format!(r#"{{"id": "u{i}", "parent": "u{}"}}"#, i - 1),
        })
        .collect();
    let json = format!(r#"{{"units": [{}]}}"#, units.join(",\n"));
    let errors = tiny_policy().load_entities(&json).unwrap_err();
    insta::assert_snapshot!(errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n"));
    // The deepest allowed chain loads.
    let ok = format!(r#"{{"units": [{}]}}"#, units[..MAX_UNIT_DEPTH].join(",\n"));
    tiny_policy().load_entities(&ok).unwrap();
}

#[test]
fn entities_file_too_large_is_refused_before_reading() {
    let dir = scratch("entities-size");
    let path = dir.join("entities.json");
    // A sparse file: its size is over the limit, but it takes no space on disk.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(MAX_ENTITIES_BYTES as u64 + 1).unwrap();
    let run = expect(
        &[
            "check",
            "tests/data/cli/policy.casepol",
            "--entities",
            path.to_str().unwrap(),
            "--request",
            r#"{"principal": "a", "action": "view", "resource": "n"}"#,
        ],
        ERROR,
    );
    assert!(run.stdout.is_empty(), "{}", run.transcript());
    assert!(
        run.stderr
            .contains("more than the limit of 1 GiB for an entities file"),
        "{}",
        run.stderr
    );
}

#[test]
fn request_too_large() {
    let big = format!(
        r#"{{"principal": "{}", "action": "view", "resource": "n"}}"#,
        "x".repeat(MAX_REQUEST_BYTES)
    );
    let policy = "tests/data/cli/policy.casepol";
    let entities = "tests/data/cli/entities.json";
    let run = expect(
        &["check", policy, "--entities", entities, "--request", &big],
        ERROR,
    );
    assert!(run.stdout.is_empty());
    insta::assert_snapshot!("inline", run.stderr);

    // In a batch, only the long line is an error; the lines around it are decided.
    let dir = scratch("request-size");
    let batch = dir.join("requests.jsonl");
    let ok = r#"{"principal": "nobody", "action": "view", "resource": "n"}"#;
    std::fs::write(&batch, format!("{ok}\n{big}\n{ok}\n")).unwrap();
    let run = expect(
        &[
            "check",
            policy,
            "--entities",
            entities,
            "--requests",
            batch.to_str().unwrap(),
        ],
        ERROR,
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.transcript());
    assert!(!lines[1].starts_with("allow"));
    insta::assert_snapshot!("batch_line", lines[1]);
}

/// The entities' errors, one per line.
fn entity_errors(policy: &Policy, json: &str) -> String {
    policy
        .load_entities(json)
        .map(|_| "(loaded)".to_string())
        .unwrap_or_else(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
}

/// Ids, terms and codes longer than `MAX_ID_BYTES` are refused, named by their place; the
/// longest allowed load.
#[test]
fn entity_ids_and_codes_too_long() {
    let policy = tiny_policy();
    let long = "x".repeat(MAX_ID_BYTES + 1);
    let ok = "y".repeat(MAX_ID_BYTES);
    let json = format!(
        r#"{{"units": [{{"id": "{long}"}}], "users": [{{"id": "u{long}"}}, {{"id": "t", "terms": ["{long}"]}}],
            "resources": [{{"id": "n{long}", "kind": "Note"}}, {{"id": "n", "kind": "Note", "read": "[A] & [B|{long}]"}}]}}"#
    );
    insta::assert_snapshot!(entity_errors(&policy, &json));
    let term = "z".repeat(MAX_ID_BYTES);
    let json = format!(
        r#"{{"users": [{{"id": "{ok}", "terms": ["{term}"]}}], "resources": [{{"id": "n", "kind": "Note", "read": "{ok}"}}]}}"#
    );
    policy.load_entities(&json).unwrap();
}

/// An access-code string of more than `MAX_CODE_LEVELS` levels, or a level of more than
/// `MAX_LEVEL_CODES` codes, is refused before its levels are stored.
#[test]
fn access_codes_too_large() {
    let policy = tiny_policy();
    let levels = |n: usize| vec!["A"; n].join(" & ");
    let codes = |n: usize| {
        (0..n)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join("|")
    };
    let json = format!(
        r#"{{"resources": [{{"id": "n1", "kind": "Note", "read": "{}"}}, {{"id": "n2", "kind": "Note", "write": "[X] & [{}]"}}]}}"#,
        levels(MAX_CODE_LEVELS + 1),
        codes(MAX_LEVEL_CODES + 1)
    );
    insta::assert_snapshot!(entity_errors(&policy, &json));
    // The issue's file: one level per code, a million levels, refused at once.
    let json = format!(
        r#"{{"resources": [{{"id": "n1", "kind": "Note", "read": "{}"}}]}}"#,
        levels(1_000_000)
    );
    let errors = policy.load_entities(&json).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0]
        .message
        .contains("more than the limit of 64 levels"));
    let json = format!(
        r#"{{"resources": [{{"id": "n1", "kind": "Note", "read": "{}", "write": "{}"}}]}}"#,
        levels(MAX_CODE_LEVELS),
        codes(MAX_LEVEL_CODES)
    );
    policy.load_entities(&json).unwrap();
}

/// An `attrs` object of 80,000 keys is one error about its size, found in one linear pass, not
/// 80,000 errors found by comparing every key with every other.
#[test]
fn attrs_object_too_large() {
    let policy = Policy::from_source(
        "attrs.casepol",
        "role R;\naction view;\nuser { attr a0: string; }\nresource Note { attr a0: string; }\nallow R: view;",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let attrs = |n: usize| {
        (0..n)
            .map(|i| format!(r#""a{i}": "v""#))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let json = format!(
        r#"{{"resources": [{{"id": "n", "kind": "Note", "attrs": {{{}}}}}]}}"#,
        attrs(80_000)
    );
    let errors = policy.load_entities(&json).unwrap_err();
    assert_eq!(errors.len(), 1, "{}", errors[0]);
    assert!(
        errors[0].message.contains(&format!(
            "has 80000 keys, more than the limit of {MAX_ENTITY_ATTRS}"
        )),
        "{}",
        errors[0]
    );
    let json = format!(
        r#"{{"users": [{{"id": "u", "attrs": {{{}}}}}], "resources": [{{"id": "n", "kind": "Note", "attrs": {{{}}}}}]}}"#,
        attrs(MAX_ENTITY_ATTRS + 1),
        attrs(80_000)
    );
    insta::assert_snapshot!(entity_errors(&policy, &json));
}

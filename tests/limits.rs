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

#[test]
fn name_too_long() {
    let long = "n".repeat(MAX_NAME_CHARS + 1);
    let text =
        format!("role R;\naction view, {long};\ngroup G {{ grants R; }}\nallow R: view, {long};\n");
    insta::assert_snapshot!(diagnostics(&text));
    // A name at the limit is fine.
    let ok = text.replace(&long, &long[1..]);
    Policy::from_source("ok.casepol", &ok).unwrap_or_else(|e| panic!("{e}"));
}

/// Names longer than a format width can be (65,535) once crashed `fmt` and `actions`; now they
/// are refused, with the same error as any name over the limit.
#[test]
fn names_past_a_format_width_are_an_error_not_a_crash() {
    let long = "n".repeat(70_000);
    let dir = scratch("long-names");
    // `fmt` aligned table columns to the widest cell …
    let table = dir.join("table.casepol");
    std::fs::write(
        &table,
        format!("casetype T {{\n  states S;\n  initial S;\n  table {{\n    | R | Q\n    S | +{long} | .\n  }}\n}}\n"),
    )
    .unwrap();
    let run = expect(&["fmt", "--check", table.to_str().unwrap()], FAIL);
    assert!(run.stderr.contains("CP0112"), "{}", run.stderr);
    // … and `actions` padded denied actions to the longest name.
    let policy = dir.join("policy.casepol");
    std::fs::write(
        &policy,
        format!("role R;\naction view, {long};\ngroup G {{ grants R; }}\nresource Note {{ }}\nallow R: view;\n"),
    )
    .unwrap();
    let entities = dir.join("entities.json");
    std::fs::write(
        &entities,
        r#"{"users": [{"id": "u", "groups": ["G"]}], "resources": [{"id": "n", "kind": "Note"}]}"#,
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let run = expect(
        &[
            "actions",
            policy,
            "--entities",
            entities.to_str().unwrap(),
            "--principal",
            "u",
            "--resource",
            "n",
        ],
        ERROR,
    );
    assert!(run.stderr.contains("CP0112"), "{}", run.stderr);
}

/// A table cell wider than a format width can be (65,535 characters) is formatted, not a crash:
/// names are short, but a cell may hold any number of entries.
#[test]
fn fmt_writes_table_cells_of_any_width() {
    let cell = "+a ".repeat(25_000);
    let text = format!(
        "casetype T {{\n  states S;\n  initial S;\n  table {{\n    | R | Q\n    S | {cell}| .\n  }}\n}}\n"
    );
    let formatted = casepol::format::format_source(casepol::diagnostic::FileId(0), &text)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(formatted.contains(cell.trim_end()));
}

/// `fmt` pads a table column only up to MAX_ALIGN_CHARS, so one wide cell no longer pads every
/// row to its width: the output stays within a constant factor of the input.
#[test]
fn fmt_output_is_linear_in_its_input() {
    let wide = "+a ".repeat(10_000);
    let mut text =
        String::from("casetype T {\n  states S;\n  initial S;\n  table {\n    | R | Q\n");
    writeln!(text, "    S | {wide}| .").unwrap();
    for _ in 0..2_000 {
        text.push_str("    S | +a | .\n");
    }
    text.push_str("  }\n}\n");
    let formatted = casepol::format::format_source(casepol::diagnostic::FileId(0), &text)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        formatted.len() < 2 * text.len(),
        "{} bytes formatted from {} bytes",
        formatted.len(),
        text.len()
    );
    // A short cell is still padded to its column (`+a` to the header's `R`) …
    assert!(
        formatted.contains("\n    S | +a | .\n"),
        "{}",
        &formatted[..300]
    );
    // … and the wide cell is written as it is, one space before the next `|`.
    assert!(formatted.contains(&format!("{} | .\n", wide.trim_end())));
}

/// One line declaring thousands of unused actions: each warning shows only a window of the line
/// around its action, and a run shows at most MAX_SHOWN_DIAGNOSTICS of them.
#[test]
fn diagnostic_output_is_bounded() {
    let n = 3_000;
    let names: Vec<String> = (0..n).map(|i| format!("unused_action_{i}")).collect();
    let text = format!(
        "role R;\ngroup G {{ grants R; }}\naction view, {};\nallow R: view;\n",
        names.join(", ")
    );
    let dir = scratch("many-diagnostics");
    let path = dir.join("policy.casepol");
    std::fs::write(&path, &text).unwrap();
    let run = expect(&["validate", path.to_str().unwrap()], OK);
    let shown = run.stderr.matches("[CP0205]").count();
    assert_eq!(shown, MAX_SHOWN_DIAGNOSTICS, "{}", &run.stderr[..2000]);
    let longest = run.stderr.lines().map(|l| l.chars().count()).max();
    assert!(longest < Some(400), "a line of {longest:?} characters");
    assert!(
        run.stderr.len() < 1000 * MAX_SHOWN_DIAGNOSTICS,
        "{} bytes on stderr",
        run.stderr.len()
    );
    // The rest are counted, and the summary line counts them all.
    let last = run.stderr.lines().last().unwrap_or_default().to_string();
    insta::assert_snapshot!("more_diagnostics", last);
    assert!(
        run.stdout.contains(&format!("{n} warning(s)")),
        "{}",
        run.stdout
    );
    // The last shown diagnostic, with its clipped line and true line and column numbers.
    let reports: Vec<&str> = run.stderr.split("Warning: ").collect();
    insta::assert_snapshot!(
        "clipped_line",
        reports[MAX_SHOWN_DIAGNOSTICS].replace(dir.to_str().unwrap(), "DIR")
    );
}

#[test]
fn policy_directory_too_large() {
    // Files each under the per-file limit, together over the policy limit: refused before any
    // is read. The files are sparse, so they take no space on disk.
    let dir = scratch("policy-total");
    let files = MAX_POLICY_BYTES / MAX_POLICY_FILE_BYTES + 1;
    for i in 0..files {
        let file = std::fs::File::create(dir.join(format!("part{i}.casepol"))).unwrap();
        file.set_len(MAX_POLICY_FILE_BYTES as u64).unwrap();
    }
    let run = expect(&["validate", dir.to_str().unwrap()], ERROR);
    insta::assert_snapshot!(run.stderr.replace(dir.to_str().unwrap(), "DIR"));

    // The library refuses the same policy as sources.
    let part = "//".repeat(MAX_POLICY_FILE_BYTES / 2);
    let mut sources = Sources::new();
    for i in 0..files {
        sources.add(format!("part{i}.casepol"), part.as_str());
    }
    let (ir, diags) = casepol::check_sources(&sources);
    assert!(ir.is_none());
    assert_eq!(diags.len(), 1, "{diags:?}");
    insta::assert_snapshot!(
        "library",
        diags
            .iter()
            .map(|d| render::human(d, &sources, false))
            .collect::<String>()
    );
}

#[test]
fn too_many_policy_files() {
    let dir = scratch("policy-files");
    for i in 0..=MAX_POLICY_FILES {
        std::fs::write(dir.join(format!("f{i:05}.casepol")), "").unwrap();
    }
    let run = expect(&["validate", dir.to_str().unwrap()], ERROR);
    insta::assert_snapshot!(run.stderr.replace(dir.to_str().unwrap(), "DIR"));
    let mut sources = Sources::new();
    for i in 0..=MAX_POLICY_FILES {
        sources.add(format!("f{i:05}.casepol"), "");
    }
    let (ir, diags) = casepol::check_sources(&sources);
    assert!(ir.is_none());
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].message.contains("files"), "{}", diags[0].message);
}

/// `explain` shows each matching rule under its source line: many rules on one long line are
/// each shown with the part of the line around them, not with the whole line.
#[test]
fn explain_cuts_long_lines_around_each_rule() {
    let rules = "allow R: view; ".repeat(400);
    let text =
        format!("role R;\naction view;\ngroup G {{ grants R; }}\nresource Note {{ }}\n{rules}\n");
    let policy = Policy::from_source("rules.casepol", &text).unwrap_or_else(|e| panic!("{e}"));
    let entities = policy
        .load_entities(
            r#"{"users": [{"id": "u", "groups": ["G"]}], "resources": [{"id": "n", "kind": "Note"}]}"#,
        )
        .unwrap();
    let trace = policy.explain(&entities, &casepol::Request::new("u", "view", Some("n")));
    assert!(trace.decision.allowed);
    let out = policy.explain_text(&trace);
    let longest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest < 200, "a line of {longest} characters");
    assert!(out.len() < 400 * 400, "{} bytes for 400 rules", out.len());
    let shown: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("rules.casepol:5:"))
        .collect();
    assert!(!shown.is_empty(), "{out}");
    // The 100th rule starts at column 1486: its line is shown from 40 characters before it.
    let at = out
        .find("rules.casepol:5:1486")
        .unwrap_or_else(|| panic!("{out}"));
    insta::assert_snapshot!(out[at..].lines().take(3).collect::<Vec<_>>().join("\n"));
}

/// A diagnostic with more labels than MAX_SHOWN_LABELS shows that many and counts the rest.
#[test]
fn labels_shown_per_diagnostic() {
    let groups = MAX_SHOWN_LABELS + 4;
    let mut text = String::from("role Unused;\naction view;\nresource Note { }\n");
    for i in 0..groups {
        writeln!(text, "group G{i} {{ grants Unused; }}").unwrap();
    }
    let mut sources = Sources::new();
    sources.add("labels.casepol", text.as_str());
    let (_, diags) = casepol::check_sources(&sources);
    let d = diags
        .iter()
        .find(|d| d.labels.len() > MAX_SHOWN_LABELS)
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert_eq!(d.labels.len(), groups + 1);
    let out = render::human(d, &sources, false);
    insta::assert_snapshot!(out);
}

/// `actions` pads denied actions into a column of at most MAX_ALIGN_CHARS characters.
#[test]
fn actions_column_is_padded_to_a_bound() {
    let long = "a_long_action_name_that_is_wider_than_the_padded_column";
    assert!(long.len() > MAX_ALIGN_CHARS);
    let dir = scratch("actions-column");
    let policy = dir.join("policy.casepol");
    std::fs::write(
        &policy,
        format!("role R;\naction view, edit, {long};\ngroup G {{ grants R; }}\nresource Note {{ }}\nallow R: view;\n"),
    )
    .unwrap();
    let entities = dir.join("entities.json");
    std::fs::write(
        &entities,
        r#"{"users": [{"id": "u", "groups": ["G"]}], "resources": [{"id": "n", "kind": "Note"}]}"#,
    )
    .unwrap();
    let run = expect(
        &[
            "actions",
            policy.to_str().unwrap(),
            "--entities",
            entities.to_str().unwrap(),
            "--principal",
            "u",
            "--resource",
            "n",
        ],
        OK,
    );
    insta::assert_snapshot!(run.stdout);
}

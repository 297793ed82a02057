//! Every help can be followed (issue 13, item 4): each snippet a help line suggests, between
//! backticks, is something the user can type where it goes. The test collects every help of the
//! snapshot corpus (the human `Help:`/`help:` lines and the JSON `"help"` fields of every
//! `.snap` under `tests/snapshots` and `src/**/snapshots`) and checks each snippet:
//!
//! - a policy snippet parses, at the top of a file or in the body it belongs in (a case type, a
//!   group, a kind, a table cell, a scope filter's condition, a rule's condition and its
//!   comparison, an attribute's type, a value);
//! - a JSON snippet (of an entities or test file) parses as JSON, alone or as an object's member;
//! - an access code of an entities file (`[A|B] & [C]`) parses as one;
//! - one word (a name, a keyword, an id, a file name) or one character can be typed as it is;
//! - an escape (`\n`) parses inside a string, and a single character (`"`) is a key to press;
//! - a command (`casepol SUB …`) names a subcommand the binary has.
//!
//! A snippet with a placeholder (`…`, `...`) cannot be typed and fails.

use casepol::diagnostic::FileId;
use casepol::internal::{access_code, syntax};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn snapshot_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                snapshot_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "snap") {
            out.push(p);
        }
    }
}

/// Every help text of the snapshot corpus, with the file it was found in.
fn helps() -> Vec<(String, String)> {
    let mut files = Vec::new();
    snapshot_files(&root().join("tests/snapshots"), &mut files);
    snapshot_files(&root().join("src"), &mut files);
    files.sort();
    assert!(files.len() > 100, "found only {} snapshots", files.len());
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.strip_prefix(root()).unwrap().display().to_string();
        for line in text.lines() {
            let t = line.trim_start_matches([' ', '│', '|']).trim();
            if let Some(h) = t
                .strip_prefix("Help: ")
                .or_else(|| t.strip_prefix("help: "))
            {
                out.push((name.clone(), h.to_string()));
            } else if let Some(rest) = t.strip_prefix("\"help\": ") {
                let rest = rest.trim_end_matches(',');
                if let Ok(serde_json::Value::String(h)) = serde_json::from_str(rest) {
                    out.push((name.clone(), h));
                }
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// The snippets of a help: the text between pairs of backticks.
fn snippets(help: &str) -> Vec<&str> {
    help.split('`').skip(1).step_by(2).collect()
}

fn parses(text: &str) -> bool {
    let (_, diags) = syntax::parse(FileId(0), text);
    !diags.iter().any(|d| d.is_error())
}

/// The places a policy snippet may go, `{}` standing for it.
const POLICY_PLACES: &[&str] = &[
    "{}",
    "{};",
    "casetype T {{ {} }}",
    "casetype T {{ module M {{ {} }} }}",
    "module M {{ {} }}",
    "group G {{ {} }}",
    "case C {{ {} }}",
    "resource R under C {{ {} }}",
    "group G {{ scope filter {{ {}; }} }}",
    "group G {{ scope filter {{ {} }} }}",
    "group G {{ scope filter {{ a == {}; }} }}",
    "group G {{ scope filter {{ a {} b; }} }}",
    "case C {{ attr a: {}; }}",
    "casetype T {{ table {{ | R\n{} }} }}",
    "casetype T {{ table {{ | R\nA | {} }} }}",
    "case C {{ mode m {{ {} }} }}",
    "action {};",
    "allow R: a when {};",
    "allow R: a when context.x {} 1;",
];

fn policy_snippet_parses(s: &str) -> bool {
    POLICY_PLACES
        .iter()
        .any(|place| parses(&place.replace("{}", s).replace("{{", "{").replace("}}", "}")))
}

/// An escape (`\"`, `\n`) inside a string literal.
fn escape_parses(s: &str) -> bool {
    s.starts_with('\\')
        && parses(&format!(
            "case C {{ attr a: string; }}\ngroup G {{ scope filter {{ a == \"{s}\"; }} }}"
        ))
}

fn json_snippet_parses(s: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(s).is_ok()
        || serde_json::from_str::<serde_json::Value>(&format!("{{{s}}}")).is_ok()
}

/// Subcommands of the binary, from its `--help`.
fn subcommands() -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_casepol"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn check(s: &str, commands: &[String]) -> Result<(), &'static str> {
    if s.contains('…') || s.contains("...") {
        return Err("a placeholder cannot be typed");
    }
    if let Some(rest) = s.strip_prefix("casepol ") {
        let sub = rest.split_whitespace().next().unwrap_or("");
        return if commands.iter().any(|c| c == sub) {
            Ok(())
        } else {
            Err("no such subcommand")
        };
    }
    // One character to type, such as the `"` that closes a string, or one word: a name, a
    // keyword, an id, a file name.
    let one_char = s.chars().count() == 1;
    let word = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let code = access_code::parse(s).is_ok();
    if one_char
        || word
        || code
        || policy_snippet_parses(s)
        || escape_parses(s)
        || json_snippet_parses(s)
    {
        Ok(())
    } else {
        Err("parses nowhere it could go")
    }
}

#[test]
fn every_help_snippet_can_be_typed() {
    let commands = subcommands();
    assert!(commands.iter().any(|c| c == "validate"), "{commands:?}");
    let helps = helps();
    let mut checked = 0;
    let mut bad = Vec::new();
    for (file, help) in &helps {
        for s in snippets(help) {
            checked += 1;
            if let Err(why) = check(s, &commands) {
                bad.push(format!("{file}: `{s}` ({why}) in: {help}"));
            }
        }
    }
    // The corpus holds hundreds of helps; a broken collector would find none.
    assert!(helps.len() > 150, "only {} helps found", helps.len());
    assert!(checked > 150, "only {checked} snippets found");
    assert!(
        bad.is_empty(),
        "{} of {checked} snippets cannot be typed:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The checks refuse what cannot be typed, so the test above can fail.
#[test]
fn the_checks_refuse_what_cannot_be_typed() {
    let commands = subcommands();
    for bad in [
        "case Case { attr …; }",
        "in [...]",
        "allow R view;",
        "Review | . .",
        "{\"<name>\": <value>}",
        "issue_types == set<string>",
        "casepol frobnicate x",
        "transition act: Open -> by Role;",
    ] {
        assert!(check(bad, &commands).is_err(), "{bad} passed");
    }
    for good in [
        "issue_types contains \"Fraud\"",
        "role Auditor;",
        "final Closed;",
        "grants Auditor;",
        "+view",
        "set<string>",
        "\"error\": \"unknown_principal\"",
        "casepol validate policy",
    ] {
        assert!(check(good, &commands).is_ok(), "{good} failed");
    }
}

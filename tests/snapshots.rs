//! Data-driven snapshot tests: adding a test means adding a file.
//!
//! - `tests/data/check/{ok,err}/*.casepol`: the source, then every diagnostic as rendered for a
//!   person (colour off) and as JSON.
//! - `tests/data/multi/{ok,err}/<name>/`: a policy split over several files, loaded as a
//!   directory; diagnostics must name the right file.
//! - `policies/**/*.casepol`: every shipped policy checks cleanly, and its compiled form
//!   (the disassembly) is snapshotted.
//! - `tests/data/explain/*.json`: `{"policy": dir, "entities": file, "request": {…}}`; the
//!   explanation as text and as JSON.

use casepol::diagnostic::{render, Sources};
use casepol::{Policy, Request};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path relative to the repository root, with `/` separators, for stable snapshots.
fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn policy_sources(path: &Path) -> Sources {
    let mut sources = Sources::new();
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
            .collect();
        files.sort();
        for f in files {
            sources.add(rel(&f), std::fs::read_to_string(&f).unwrap());
        }
    } else {
        sources.add(rel(path), std::fs::read_to_string(path).unwrap());
    }
    sources
}

/// The source of every file, then every diagnostic as rendered for a person and as JSON.
fn checked(path: &Path) -> String {
    let sources = policy_sources(path);
    let (_, diags) = casepol::internal::check_sources(&sources);
    let is_err = rel(path).contains("/err/");
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if is_err {
        assert!(errors > 0, "{} should have errors", rel(path));
    } else {
        assert_eq!(errors, 0, "{} should check cleanly", rel(path));
    }
    let human: String = diags
        .iter()
        .map(|d| render::human(d, &sources, false))
        .collect();
    let json: Vec<_> = diags.iter().map(|d| render::json(d, &sources)).collect();
    let text: String = if path.is_dir() {
        sources
            .iter()
            .map(|(_, name, text)| format!("==== {name} ====\n{text}"))
            .collect()
    } else {
        sources
            .iter()
            .map(|(_, _, text)| text.to_string())
            .collect()
    };
    format!(
        "{text}\n==== diagnostics ====\n{human}\n==== json ====\n{}",
        serde_json::to_string_pretty(&json).unwrap()
    )
}

#[test]
fn check_corpus() {
    insta::glob!("data/check/**/*.casepol", |path| {
        insta::assert_snapshot!(checked(path));
    });
}

#[test]
fn multi_file_policies() {
    let mut dirs = Vec::new();
    for class in ["ok", "err"] {
        for entry in std::fs::read_dir(root().join("tests/data/multi").join(class)).unwrap() {
            dirs.push(entry.unwrap().path());
        }
    }
    dirs.sort();
    assert!(dirs.len() >= 3, "the multi-file corpus is missing");
    for dir in dirs {
        let name = rel(&dir).replace('/', "__");
        insta::assert_snapshot!(name, checked(&dir));
    }
}

#[test]
fn shipped_policies_check_and_compile() {
    // Every policy directory ships an entities file; the policy is the directory.
    insta::glob!("../policies", "*/entities.json", |entities| {
        let dir = entities.parent().unwrap();
        let sources = policy_sources(dir);
        let policy = Policy::from_sources(sources).unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(policy.warnings().is_empty(), "{:?}", policy.warnings());
        insta::assert_snapshot!(policy.compiled().to_string());
    });
}

#[derive(serde::Deserialize)]
struct ExplainCase {
    policy: String,
    entities: String,
    request: Request,
}

#[test]
fn explanations() {
    insta::glob!("data/explain/*.json", |path| {
        let case: ExplainCase =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let policy = Policy::from_sources(policy_sources(&root().join(&case.policy))).unwrap();
        let entities = policy
            .load_entities(&std::fs::read_to_string(root().join(&case.entities)).unwrap())
            .unwrap();
        let trace = policy.explain(&entities, &case.request);
        // The explanation's decision is the compiled evaluator's decision.
        assert_eq!(trace.decision, policy.is_allowed(&entities, &case.request));
        insta::assert_snapshot!("text", policy.explain_text(&trace));
        insta::assert_json_snapshot!("json", trace);
    });
}

/// Grammar rules that cannot fail on their own: whitespace and comments, pure alternations and
/// single tokens whose failure is reported by the rule that tried them, and the `kw_*` keywords.
const RULES_THAT_CANNOT_FAIL: &[&str] = &[
    "WHITESPACE",
    "COMMENT",
    "item",
    "casetype_item",
    "operand",
    "action_ref",
    "ident_char",
    "principal",
    "everyone",
    "effect",
    "empty_cell",
    "star",
    "bool_lit",
    "cell_sign",
    "filter_mode",
    "term_bool",
    "term_value",
    "cmp_op",
    "path_root",
];

/// Every rule of `grammar/casepol.pest`, by name.
fn grammar_rules() -> Vec<String> {
    let grammar = std::fs::read_to_string(root().join("grammar/casepol.pest")).unwrap();
    grammar
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once('=')?;
            let name = name.trim();
            let is_rule = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && rest.trim_start().starts_with(['{', '_', '@', '$', '!']);
            is_rule.then(|| name.to_string())
        })
        .collect()
}

/// `tests/data/syntax/<rule>.casepol` fails inside grammar rule `<rule>`: one parser message per
/// rule that can fail, in words a user knows.
#[test]
fn syntax_message_per_grammar_rule() {
    let rules = grammar_rules();
    assert!(rules.len() > 50, "could not read the grammar's rules");
    let fixtures: Vec<String> = std::fs::read_dir(root().join("tests/data/syntax"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            path.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    for rule in &rules {
        // `where_condition` is the entry of `--where`, not of a policy file: its syntax errors
        // are snapshotted by the query commands' fixtures (tests/data/queries/cli/).
        let exempt = rule.starts_with("kw_")
            || RULES_THAT_CANNOT_FAIL.contains(&rule.as_str())
            || rule == "where_condition";
        assert!(
            exempt || fixtures.contains(rule),
            "grammar rule `{rule}` has no fixture tests/data/syntax/{rule}.casepol"
        );
    }
    for fixture in &fixtures {
        assert!(
            rules.contains(fixture),
            "tests/data/syntax/{fixture}.casepol names no grammar rule"
        );
    }
    insta::glob!("data/syntax/*.casepol", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let mut sources = Sources::new();
        let file = sources.add(rel(path), text.clone());
        let (_, diags) = casepol::internal::syntax::parse(file, &text);
        assert!(
            diags.iter().any(|d| d.code.as_str() == "CP0001"),
            "{} should have a syntax error",
            rel(path)
        );
        // No message, label or help may mention a grammar rule by its internal name.
        for d in &diags {
            let words = std::iter::once(d.message.as_str())
                .chain(d.labels.iter().map(|l| l.message.as_str()))
                .chain(d.help.as_deref());
            for w in words {
                // Rules named by a plain word (`table`, `transition`) may appear as keywords.
                let internal =
                    |r: &&String| r.contains('_') || ["ident", "keyword"].contains(&r.as_str());
                for rule in rules.iter().filter(internal) {
                    assert!(
                        !w.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                            .any(|word| word == rule),
                        "{}: `{w}` mentions grammar rule `{rule}`",
                        rel(path)
                    );
                }
            }
        }
        let human: String = diags
            .iter()
            .map(|d| render::human(d, &sources, false))
            .collect();
        insta::assert_snapshot!(format!("{text}\n==== diagnostics ====\n{human}"));
    });
}

/// `tests/data/mistakes/*.casepol`: a small policy with one realistic mistake each (a `;`
/// missing, a keyword misspelt, a habit from another language). Each gives exactly one error,
/// of the syntax phase, and nothing that follows from it: the source, then what a person sees.
#[test]
fn mistakes_give_one_error_each() {
    let mut files = 0;
    insta::glob!("data/mistakes/*.casepol", |path| {
        files += 1;
        let sources = policy_sources(path);
        let (policy, diags) = casepol::internal::check_sources(&sources);
        assert!(policy.is_none(), "{} should not check", rel(path));
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
        let human: String = diags
            .iter()
            .map(|d| render::human(d, &sources, false))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "{}: one error expected\n{human}",
            rel(path)
        );
        assert!(
            matches!(errors[0].code.as_str(), "CP0001" | "CP0002"),
            "{}: a syntax error expected\n{human}",
            rel(path)
        );
        let text = sources.text(casepol::diagnostic::FileId(0));
        insta::assert_snapshot!(format!("{text}\n==== diagnostics ====\n{human}"));
    });
    assert!(files >= 30, "the corpus of mistakes has {files} files");
}

//! CI output of `casepol validate`: SARIF checked against the bundled OASIS schema
//! (tests/data/sarif/), GitHub annotations, JSON, `--deny-warnings` and `--allow`, and
//! `casepol explain-code`.

mod common;
use common::*;

use casepol::diagnostic::{render, Sources};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const ERRORS: &str = "tests/data/cli/errors.casepol";
const WARNING: &str = "tests/data/cli/warning.casepol";
const CLEAN: &str = "tests/data/cli/policy.casepol";
const MULTI: &str = "tests/data/sarif/multi";
const UNICODE: &str = "tests/data/sarif/unicode.casepol";

/// The bundled SARIF 2.1.0 schema, compiled with format assertions (`uri`, `uri-reference`) on.
struct SarifSchema {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

fn sarif_validator() -> SarifSchema {
    let text = std::fs::read_to_string(root().join("tests/data/sarif/sarif-schema-2.1.0.json"))
        .expect("the bundled SARIF schema is readable");
    let schema: Value = serde_json::from_str(&text).expect("the bundled SARIF schema is JSON");
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let url = "file:///casepol/tests/data/sarif/sarif-schema-2.1.0.json";
    compiler
        .add_resource(url, schema)
        .expect("the bundled SARIF schema loads");
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(url, &mut schemas)
        .unwrap_or_else(|e| panic!("the bundled SARIF schema compiles: {e:#}"));
    SarifSchema { schemas, index }
}

/// Every schema violation of `log`; empty when it is valid.
fn schema_errors(validator: &SarifSchema, log: &Value) -> String {
    match validator.schemas.validate(log, validator.index) {
        Ok(()) => String::new(),
        Err(e) => format!("{e:#}"),
    }
}

/// A transcript with casepol's version replaced, so that SARIF snapshots survive a release.
fn versionless(run: &Run) -> String {
    let version = format!("\"{}\"", env!("CARGO_PKG_VERSION"));
    run.transcript().replace(&version, "\"[version]\"")
}

fn assert_valid_sarif(log: &Value) {
    let errors = schema_errors(&sarif_validator(), log);
    assert!(
        errors.is_empty(),
        "SARIF does not match the schema:\n{errors}\n{log:#}"
    );
}

/// Every `.casepol` file of the checker's error corpus, sorted.
fn error_fixtures() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("tests/data/check/err"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
        .map(|p| {
            p.strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    files.sort();
    assert!(files.len() > 50, "the error corpus is missing");
    files
}

// ---- SARIF ----------------------------------------------------------------------------------

#[test]
fn the_schema_rejects_invalid_sarif() {
    // The validator is not vacuous: logs that break the schema are rejected.
    let validator = sarif_validator();
    let valid = casepol(&["validate", "--format", "sarif", ERRORS]).json();
    assert_eq!(schema_errors(&validator, &valid), "");
    let mut bad_level = valid.clone();
    bad_level["runs"][0]["results"][0]["level"] = "fatal".into();
    assert_ne!(schema_errors(&validator, &bad_level), "");
    let mut no_version = valid.clone();
    no_version.as_object_mut().unwrap().remove("version");
    assert_ne!(schema_errors(&validator, &no_version), "");
    let mut extra = valid.clone();
    extra["runs"][0]["results"][0]["severity"] = "error".into();
    assert_ne!(schema_errors(&validator, &extra), "");
    let mut bad_uri = valid;
    bad_uri["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"] = "tests data/errors.casepol".into();
    assert_ne!(schema_errors(&validator, &bad_uri), "");
}

#[test]
fn sarif_of_the_whole_error_corpus_validates() {
    let files = error_fixtures();
    let mut args = vec!["validate", "--format", "sarif", MULTI, UNICODE];
    args.extend(files.iter().map(String::as_str));
    let run = expect(&args, FAIL);
    assert_eq!(run.stderr, "", "SARIF mode prints nothing to stderr");
    let log = run.json();
    assert_valid_sarif(&log);

    let run0 = &log["runs"][0];
    let rules = run0["rules"].as_array();
    assert!(rules.is_none(), "rules belong to the driver, not the run");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    let artifacts = run0["artifacts"].as_array().unwrap();
    assert_eq!(
        artifacts.len(),
        files.len() + 3,
        "one artifact per file read"
    );
    // Every file of the corpus has at least one result, and every result points at a file of
    // the run through a valid index and at its rule through `ruleIndex`.
    for file in &files {
        assert!(
            results.iter().any(
                |r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    == file.as_str()
            ),
            "no result for {file}"
        );
    }
    for r in results {
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        let location = &r["locations"][0]["physicalLocation"];
        let index = location["artifactLocation"]["index"].as_u64().unwrap() as usize;
        assert_eq!(
            artifacts[index]["location"]["uri"],
            location["artifactLocation"]["uri"]
        );
        let region = &location["region"];
        let start = (region["startLine"].as_u64(), region["startColumn"].as_u64());
        let end = (region["endLine"].as_u64(), region["endColumn"].as_u64());
        assert!(start.0 >= Some(1) && start.1 >= Some(1), "{r:#}");
        assert!(start <= end, "a region ends after it starts: {r:#}");
    }
    // Rules are the codes that occur, once each, in code order.
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted);
    for code in ["CP0001", "CP0101", "CP0102", "CP0108", "CP0112"] {
        assert!(ids.contains(&code), "{code} missing from {ids:?}");
    }
}

#[test]
fn sarif_key_fields() {
    let run = expect(&["validate", "--format", "sarif", ERRORS], FAIL);
    let log = run.json();
    assert_valid_sarif(&log);
    assert_eq!(log["version"], "2.1.0");
    let run0 = &log["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "casepol");
    assert_eq!(run0["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(run0["columnKind"], "unicodeCodePoints");
    let results = run0["results"].as_array().unwrap();
    let summary: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["ruleId"].as_str().unwrap(), r["level"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("CP0101", "error"),
            ("CP0201", "warning"),
            ("CP0105", "error")
        ]
    );
    // `Clerck` on line 5, columns 23 to 29 (the end column is just after the span).
    let loc = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], ERRORS);
    assert_eq!(
        loc["region"],
        serde_json::json!({"startLine": 5, "startColumn": 23, "endLine": 5, "endColumn": 29})
    );
    assert_eq!(
        results[0]["message"]["text"],
        "unknown role `Clerck`\nhelp: did you mean `Clerk`?"
    );
    // The secondary label of CP0105 (where `Clerks` is declared) is a related location.
    let related = &results[2]["relatedLocations"][0];
    assert_eq!(related["physicalLocation"]["region"]["startLine"], 5);
    assert_eq!(
        related["message"]["text"],
        "`Clerks` is declared as an access group here"
    );
    // Rules carry the title and the explanation from docs/errors.md.
    let rule = &run0["tool"]["driver"]["rules"][0];
    assert_eq!(rule["id"], "CP0101");
    assert_eq!(rule["shortDescription"]["text"], "undefined name");
    assert_eq!(rule["defaultConfiguration"]["level"], "error");
    let full = rule["fullDescription"]["text"].as_str().unwrap();
    assert!(
        full.starts_with("Error. A name is used but never declared"),
        "{full}"
    );
    let help = rule["help"]["text"].as_str().unwrap();
    assert!(
        help.contains("Corrected:") && help.contains("    group Managers"),
        "{help}"
    );
}

#[test]
fn sarif_columns_count_characters() {
    let log = expect(&["validate", "--format", "sarif", UNICODE], FAIL).json();
    assert_valid_sarif(&log);
    let region = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    // `region` starts at character 83 of the line; in bytes it would be 85.
    assert_eq!(region["startColumn"], 83);
    assert_eq!(region["endColumn"], 89);
}

#[test]
fn sarif_of_a_clean_policy_is_an_empty_valid_log() {
    let run = expect(&["validate", "--format", "sarif", CLEAN], OK);
    assert_eq!(run.stderr, "");
    let log = run.json();
    assert_valid_sarif(&log);
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"],
        serde_json::json!([])
    );
    insta::assert_snapshot!("validate_sarif_clean", versionless(&run));
}

#[test]
fn sarif_snapshot() {
    let run = expect(&["validate", "--format", "sarif", ERRORS, WARNING], FAIL);
    insta::assert_snapshot!("validate_sarif_errors_warning", versionless(&run));
}

#[test]
fn sarif_multi_file_policy() {
    let run = expect(&["validate", "--format", "sarif", MULTI], FAIL);
    let log = run.json();
    assert_valid_sarif(&log);
    let uris: Vec<&str> = log["runs"][0]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["location"]["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        [
            "tests/data/sarif/multi/roles.casepol",
            "tests/data/sarif/multi/rules.casepol"
        ]
    );
    // The duplicate is reported in one file with a related location in the other.
    let duplicate = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "CP0102")
        .unwrap();
    let uri = |location: &Value| location["physicalLocation"]["artifactLocation"].clone();
    assert_eq!(
        uri(&duplicate["locations"][0]),
        serde_json::json!({"uri": "tests/data/sarif/multi/rules.casepol", "index": 1})
    );
    assert_eq!(
        uri(&duplicate["relatedLocations"][0]),
        serde_json::json!({"uri": "tests/data/sarif/multi/roles.casepol", "index": 0})
    );
    insta::assert_snapshot!("validate_sarif_multi_file", versionless(&run));
}

#[test]
fn sarif_with_a_missing_policy_reports_the_rest() {
    let run = expect(
        &[
            "validate",
            "--format",
            "sarif",
            "tests/data/cli/missing.casepol",
            ERRORS,
        ],
        ERROR,
    );
    let log = run.json();
    assert_valid_sarif(&log);
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 3);
    assert!(
        run.stderr
            .starts_with("error: cannot read `tests/data/cli/missing.casepol`"),
        "{}",
        run.stderr
    );
}

#[test]
fn sarif_help_links_validate_when_a_repository_is_known() {
    // The binary links rule help to docs/errors.md only when Cargo.toml names a repository;
    // the library is checked here with one, so the absolute links are validated too.
    let mut sources = Sources::new();
    let path = "tests/data/cli/errors.casepol";
    sources.add(path, std::fs::read_to_string(root().join(path)).unwrap());
    let (_, diags) = casepol::internal::check_sources(&sources);
    let log = render::sarif_with_repository(
        &[(&sources, diags.as_slice())],
        "https://example.org/casepol/",
    );
    assert_valid_sarif(&log);
    let driver = &log["runs"][0]["tool"]["driver"];
    assert_eq!(driver["informationUri"], "https://example.org/casepol");
    assert_eq!(
        driver["rules"][0]["helpUri"],
        "https://example.org/casepol/blob/HEAD/docs/errors.md#cp0101-undefined-name"
    );
}

#[test]
fn sarif_uris_are_encoded() {
    let mut sources = Sources::new();
    let text = "role R;\nallow Q: x;\n";
    sources.add("./my policies/ärende.casepol", text);
    sources.add("/abs/dir/p.casepol", text);
    let (_, a) = casepol::internal::check_sources(&sources);
    let log = render::sarif(&[(&sources, a.as_slice())]);
    assert_valid_sarif(&log);
    let uris: Vec<&str> = log["runs"][0]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["location"]["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        [
            "my%20policies/%C3%A4rende.casepol",
            "file:///abs/dir/p.casepol"
        ]
    );
}

// ---- GitHub and JSON ------------------------------------------------------------------------

#[test]
fn github_annotations() {
    let run = expect(&["validate", "--format", "github", ERRORS, WARNING], FAIL);
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout.lines().count(), 4, "one line per diagnostic");
    assert!(run.stdout.lines().all(|l| l.starts_with("::")));
    insta::assert_snapshot!("validate_github", run.transcript());
}

#[test]
fn github_of_a_clean_policy_prints_nothing() {
    let run = expect(&["validate", "--format", "github", CLEAN], OK);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
}

#[test]
fn json_snapshot() {
    let run = expect(&["validate", "--format", "json", ERRORS, WARNING], FAIL);
    assert_eq!(run.stderr, "");
    insta::assert_snapshot!("validate_json", run.transcript());
}

// ---- --deny-warnings and --allow ------------------------------------------------------------

#[test]
fn deny_warnings_in_every_format() {
    let human = expect(&["validate", "--deny-warnings", WARNING], FAIL);
    insta::assert_snapshot!("deny_warnings_human", human.transcript());

    let json = expect(
        &["validate", "--deny-warnings", "--format", "json", WARNING],
        FAIL,
    )
    .json();
    let p = &json["policies"][0];
    assert_eq!(
        (p["ok"].as_bool(), p["errors"].as_u64()),
        (Some(false), Some(1))
    );
    assert_eq!(p["warnings"], 0);
    assert_eq!(p["diagnostics"][0]["severity"], "error");

    let github = expect(
        &["validate", "--deny-warnings", "--format", "github", WARNING],
        FAIL,
    );
    assert!(
        github.stdout.starts_with("::error file="),
        "{}",
        github.stdout
    );

    let sarif = expect(
        &["validate", "--deny-warnings", "--format", "sarif", WARNING],
        FAIL,
    )
    .json();
    assert_valid_sarif(&sarif);
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        (result["ruleId"].as_str(), result["level"].as_str()),
        (Some("CP0201"), Some("error"))
    );
    // The rule's default stays a warning: the run raised it.
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"],
        "warning"
    );
}

#[test]
fn deny_warnings_without_warnings_passes() {
    expect(&["validate", "--deny-warnings", CLEAN], OK);
}

#[test]
fn allow_silences_a_warning_code() {
    let run = expect(&["validate", "--allow", "CP0201", WARNING], OK);
    assert_eq!(run.stderr, "");
    insta::assert_snapshot!("allow_warning", run.transcript());
    // Lower case, and together with --deny-warnings: what is allowed is not denied.
    let run = expect(
        &["validate", "--deny-warnings", "--allow", "cp0201", WARNING],
        OK,
    );
    assert_eq!(run.stderr, "");
    // Errors are still reported; only the allowed code is gone.
    let json = expect(
        &["validate", "--format", "json", "--allow", "CP0201", ERRORS],
        FAIL,
    )
    .json();
    let codes: Vec<&str> = json["policies"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["CP0101", "CP0105"]);
    // Allowing another warning changes nothing.
    let run = expect(
        &[
            "validate", "--allow", "CP0205", "--allow", "CP0202", WARNING,
        ],
        OK,
    );
    assert!(run.stderr.contains("CP0201"), "{}", run.stderr);
}

#[test]
fn allow_rejects_error_codes_and_unknown_codes() {
    let run = expect(&["validate", "--allow", "CP0101", WARNING], ERROR);
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!("allow_error_code", run.transcript());
    let run = expect(&["validate", "--allow", "CP0250", WARNING], ERROR);
    insta::assert_snapshot!("allow_unknown_code", run.transcript());
}

// ---- explain-code ---------------------------------------------------------------------------

#[test]
fn explain_code_prints_the_section() {
    let run = expect(&["explain-code", "CP0101"], OK);
    assert_eq!(run.stderr, "");
    insta::assert_snapshot!("explain_code_cp0101", run.transcript());
    // Lower case and a missing `CP` name the same code.
    for alias in ["cp0101", "0101", " CP0101 "] {
        assert_eq!(
            expect(&["explain-code", alias], OK).stdout,
            run.stdout,
            "{alias}"
        );
    }
}

#[test]
fn explain_code_every_code() {
    for code in casepol::diagnostic::Code::ALL {
        let run = expect(&["explain-code", code.as_str()], OK);
        let first = run.stdout.lines().next().unwrap_or_default();
        assert_eq!(first, format!("{}: {}", code.as_str(), code.title()));
        assert!(
            !run.stdout.contains("```"),
            "fences are stripped:\n{}",
            run.stdout
        );
        assert!(
            !run.stdout.contains("**"),
            "emphasis is stripped:\n{}",
            run.stdout
        );
    }
}

#[test]
fn explain_code_unknown() {
    // The prefix and leading zeros are optional (docs/errors.md): `203` is `CP0203`.
    let full = expect(&["explain-code", "CP0203"], OK);
    for short in ["203", "0203", "cp203"] {
        let run = expect(&["explain-code", short], OK);
        assert_eq!(run.stdout, full.stdout, "{short}");
    }
    assert!(full.stdout.starts_with("CP0203: "), "{}", full.stdout);
    let run = expect(&["explain-code", "CP0250"], ERROR);
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!("explain_code_unknown", run.transcript());
    let run = expect(&["explain-code", "1011"], ERROR);
    assert!(
        run.stderr.contains("did you mean `CP0111`?"),
        "{}",
        run.stderr
    );
    let run = expect(&["explain-code", "banana"], ERROR);
    insta::assert_snapshot!("explain_code_not_a_code", run.transcript());
}

//! `casepol test`, run as a user runs it: every fixture in `tests/data/test/` is run and its
//! transcript snapshotted, with the exit code its name promises (`pass_*` 0, `fail_*` 1,
//! `invalid_*` 2); then the shipped examples, the output formats and the command-line edges.

mod common;

use common::*;

const PASS: &str = "tests/data/test/pass_all.test.json";
const BROKEN: &str = "tests/data/test/fail_broken_expectation.test.json";

#[test]
fn fixtures() {
    insta::glob!("data/test/*.test.json", |path| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let code = if name.starts_with("pass_") {
            OK
        } else if name.starts_with("fail_") {
            FAIL
        } else if name.starts_with("invalid_") {
            ERROR
        } else {
            panic!("{name}: a fixture's name starts with pass_, fail_ or invalid_")
        };
        let arg = format!("tests/data/test/{name}");
        let run = expect(&["test", &arg], code);
        match code {
            OK => assert!(run.stdout.contains(" 0 failed\n"), "{}", run.stdout),
            FAIL => assert!(run.stdout.contains("FAIL "), "{}", run.stdout),
            _ => assert!(run.stderr.contains("[CP0402]"), "{}", run.stderr),
        }
        insta::assert_snapshot!(run.transcript());
    });
}

/// The acceptance check: every shipped example passes, with a coverage figure.
#[test]
fn shipped_examples_pass() {
    let run = expect(&["test", "policies/"], OK);
    assert_eq!(run.stderr, "");
    assert!(run.stdout.contains(" passed, 0 failed\n"), "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("coverage: ") && l.ends_with("(100.0%)")),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn shipped_examples_json() {
    let run = expect(&["test", "policies/", "--format", "json"], OK);
    assert_eq!(run.stderr, "");
    let v = run.json();
    let passed = v["passed"].as_u64().unwrap();
    assert!(passed >= 150, "{passed}");
    assert_eq!(v["failed"], 0);
    assert_eq!(v["coverage"]["covered"], v["coverage"]["total"]);
    assert_eq!(v["coverage"]["percent"], 100.0);
    assert_eq!(v["coverage"]["policies"].as_array().unwrap().len(), 7);
    assert_eq!(v["errors"], serde_json::json!([]));
    let files = v["files"].as_array().unwrap();
    let cases: u64 = files
        .iter()
        .map(|f| f["cases"].as_array().unwrap().len() as u64)
        .sum();
    assert_eq!(cases, passed);
    // A passing case carries no explanation.
    assert!(files[0]["cases"][0].get("explain").is_none());
}

#[test]
fn failures_as_json() {
    let run = expect(&["test", BROKEN, "--format", "json"], FAIL);
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout.lines().count(), 1, "one JSON object on one line");
    let v = run.json();
    assert_eq!(
        (v["passed"].as_u64(), v["failed"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        v["files"][0]["cases"][1]["explain"]["decision"]["layer"],
        "data"
    );
    // Keys come out in the documented order.
    assert!(
        run.stdout
            .starts_with(r#"{"passed":1,"failed":2,"coverage":{"covered":"#),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!(serde_json::to_string_pretty(&v).unwrap());
}

#[test]
fn invalid_file_as_json() {
    let run = expect(
        &[
            "test",
            "tests/data/test/invalid_unknown_rule.test.json",
            "--format",
            "json",
        ],
        ERROR,
    );
    assert_eq!(run.stderr, "");
    let v = run.json();
    let codes: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["CP0402"; 5]);
    assert_eq!(v["passed"], 1, "the valid case still ran");
    insta::assert_snapshot!(serde_json::to_string_pretty(&v["errors"]).unwrap());
}

#[test]
fn github_annotations() {
    let run = expect(
        &[
            "test",
            BROKEN,
            "tests/data/test/invalid_unknown_key.test.json",
            "--format",
            "github",
        ],
        ERROR,
    );
    assert_eq!(run.stderr, "");
    let annotations: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(annotations.len(), 3, "{}", run.stdout);
    assert!(annotations.iter().any(|a| a.contains("CP0401")));
    assert!(annotations.iter().any(|a| a.contains("CP0402")));
    insta::assert_snapshot!(run.transcript());
}

/// SARIF rendering belongs to another change; here only the exit code and that the output is
/// one JSON log.
#[test]
fn sarif_is_one_log() {
    let run = expect(&["test", BROKEN, "--format", "sarif"], FAIL);
    assert_eq!(run.stderr, "");
    assert_eq!(run.json()["version"], "2.1.0");
}

#[test]
fn coverage_listing() {
    let run = expect(&["test", PASS, "--coverage"], OK);
    assert!(run
        .stdout
        .contains("not exercised by any test of tests/data/test (7):"));
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn minimum_coverage() {
    let run = expect(&["test", PASS, "--min-coverage", "90"], FAIL);
    insta::assert_snapshot!(run.transcript());
    expect(&["test", PASS, "--min-coverage", "50%"], OK);
    let run = expect(&["test", PASS, "--min-coverage", "150"], ERROR);
    assert!(run.stderr.contains("not a percentage"), "{}", run.stderr);
}

#[test]
fn directory_runs_every_test_file() {
    let run = expect(&["test", "tests/data/test"], ERROR);
    let fixtures = std::fs::read_dir("tests/data/test")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".test.json")
        })
        .count();
    let per_file = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("tests/data/test/") && l.contains(".test.json: "))
        .count();
    assert_eq!(per_file, fixtures, "{}", run.stdout);
    // One policy serves every fixture that loads it, so its items are counted once.
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("coverage: ") && l.contains(" of 15 rules")),
        "{}",
        run.stdout
    );
}

#[test]
fn no_test_files() {
    let run = expect(&["test", "tests/data/cli"], ERROR);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn missing_path() {
    let run = expect(&["test", "tests/data/no_such_dir"], ERROR);
    insta::assert_snapshot!(run.transcript());
}

//! One rule for directories (docs/data-formats.md, "Directories"): every command that takes a
//! directory reads the same files under it: sub-directories included, hidden entries and what
//! `.gitignore` or `.casepolignore` excludes skipped. And `casepol test` at the repository root
//! runs the tests of `policies/`, not the deliberately failing fixtures under `tests/data`.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A fresh, empty directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_dirs")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A policy split over a top-level file and a nested one (each needs the other), beside files
/// that would break it if read: a hidden directory, one `.casepolignore` excludes and one
/// `.gitignore` excludes (each with a syntax error and a failing test).
fn tree(test: &str) -> PathBuf {
    let dir = scratch(test);
    write(
        &dir,
        "roles.casepol",
        "role Clerk;\naction view;\ngroup Clerks { grants Clerk; }\ncase Case {}\ncasetype T { states Open; initial Open; }\n",
    );
    write(&dir, "rules/allow.casepol", "allow Clerk: view;\n");
    write(&dir, "rules/rules.test.json", &test_file("allow"));
    write(
        &dir,
        "entities.json",
        r#"{"users": [{"id": "ann", "groups": ["Clerks"]}],
            "resources": [{"id": "c1", "kind": "Case", "type": "T", "state": "Open"}]}"#,
    );
    for (name, ignore) in [
        (".hidden", None),
        ("skipped", Some((".casepolignore", "skipped/\n"))),
        ("built", Some((".gitignore", "/built\n"))),
    ] {
        write(
            &dir,
            &format!("{name}/broken.casepol"),
            "allow Clerk view\n",
        );
        write(
            &dir,
            &format!("{name}/broken.test.json"),
            &test_file("deny"),
        );
        if let Some((file, text)) = ignore {
            write(&dir, file, text);
        }
    }
    dir
}

/// A test file for the policy of its directory's parent: ann may or may not view.
fn test_file(expect: &str) -> String {
    format!(
        r#"{{"policy": "..", "entities": "../entities.json", "tests": [
  {{"name": "ann views", "request": {{"principal": "ann", "action": "view", "resource": "c1"}}, "expect": "{expect}"}}
]}}"#
    )
}

fn arg(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn validate_reads_sub_directories_and_skips_what_is_ignored() {
    let dir = tree("validate");
    let run = expect(&["validate", &arg(&dir)], OK);
    assert!(run.stdout.contains("ok"), "{}", run.transcript());
    // The nested file is part of the policy: without it, `role Clerk` is unused and nothing
    // allows `view`; with the skipped files, there would be syntax errors.
    let json = expect(&["validate", &arg(&dir), "--format", "json"], OK).json();
    let text = json.to_string();
    assert!(!text.contains("broken"), "{text}");
}

#[test]
fn check_decides_with_the_nested_rule() {
    let dir = tree("check");
    let request = r#"{"principal": "ann", "action": "view", "resource": "c1"}"#;
    let entities = arg(&dir.join("entities.json"));
    let run = expect(
        &[
            "check",
            &arg(&dir),
            "--entities",
            &entities,
            "--request",
            request,
        ],
        OK,
    );
    assert_eq!(run.stdout, "allow\n");
}

#[test]
fn fmt_and_test_find_the_same_files() {
    let dir = tree("fmt_test");
    // roles.casepol is not formatted (one line per declaration), so `--check` fails.
    let run = expect(&["fmt", "--check", &arg(&dir), "--format", "json"], FAIL);
    let files: Vec<String> = run.json()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().replace(&arg(&dir), "DIR"))
        .collect();
    assert_eq!(files, ["DIR/roles.casepol", "DIR/rules/allow.casepol"]);
    let run = expect(&["test", &arg(&dir)], OK);
    assert!(
        run.stdout.contains("1 passed, 0 failed"),
        "{}",
        run.transcript()
    );
    assert!(!run.stdout.contains("broken"), "{}", run.transcript());
}

/// The skipped files are there and do fail: named directly, each is read.
#[test]
fn a_directory_named_is_read_whole_by_its_own_rule() {
    let dir = tree("named");
    for name in ["skipped", "built", ".hidden"] {
        let sub = arg(&dir.join(name));
        let run = expect(&["validate", &sub], FAIL);
        assert!(
            run.stderr.contains("broken.casepol"),
            "{}",
            run.transcript()
        );
        // Its test expects the opposite of what the policy of the whole tree decides.
        let run = expect(&["test", &sub], FAIL);
        assert!(run.stdout.contains("FAIL "), "{}", run.transcript());
    }
    // Without the ignore files, the walk takes everything but the hidden directory.
    std::fs::remove_file(dir.join(".casepolignore")).unwrap();
    std::fs::remove_file(dir.join(".gitignore")).unwrap();
    let run = expect(&["validate", &arg(&dir)], FAIL);
    assert!(
        run.stderr.contains("skipped/broken.casepol"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("built/broken.casepol"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(".hidden"), "{}", run.stderr);
}

/// `casepol test` with no argument, at the repository root, runs the tests of `policies/` (and
/// of the files `casepol init` writes) and passes: the repository's `.casepolignore` keeps the
/// fixtures of `tests/data` out.
#[test]
fn test_at_the_repository_root_passes() {
    let run = expect(&["test"], OK);
    let files: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(".test.json: "))
        .collect();
    assert!(files.len() >= 7, "{}", run.stdout);
    // The examples, and the files `casepol init` writes (kept in src/cli/init); nothing of
    // tests/data.
    assert!(
        files
            .iter()
            .all(|l| l.starts_with("./policies/") || l.starts_with("./src/cli/init/")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("tests/data"), "{}", run.stdout);
    assert!(run.stdout.contains(" 0 failed"), "{}", run.stdout);
}

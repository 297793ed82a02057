//! `casepol init`: what it writes validates, is formatted, passes its own tests and decides a
//! request; it never overwrites a file.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_init")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn arg(p: &Path) -> String {
    p.display().to_string()
}

fn transcript(run: &Run, dir: &Path) -> String {
    run.transcript().replace(&arg(dir), "[TMP]")
}

#[test]
fn init_writes_a_policy_that_validates_and_passes_its_tests() {
    let root = scratch("fresh");
    // A directory that does not exist yet is created.
    let dir = root.join("claims");
    let run = expect(&["init", &arg(&dir)], OK);
    insta::assert_snapshot!(transcript(&run, &root));
    for name in ["policy.casepol", "entities.json", "policy.test.json"] {
        assert!(dir.join(name).is_file(), "{name} not written");
    }
    let run = expect(&["validate", &arg(&dir), "--deny-warnings"], OK);
    assert!(
        run.stdout.contains("ok (0 error(s), 0 warning(s))"),
        "{}",
        run.stdout
    );
    let entities = arg(&dir.join("entities.json"));
    expect(&["validate", &arg(&dir), "--entities", &entities], OK);
    expect(&["fmt", "--check", &arg(&dir)], OK);
    let run = expect(&["test", &arg(&dir), "--min-coverage", "100"], OK);
    assert!(run.stdout.contains("6 passed, 0 failed"), "{}", run.stdout);
    // The request `init` suggests is allowed.
    let request = r#"{"principal": "ann", "action": "view", "resource": "case-1"}"#;
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
fn init_never_overwrites() {
    let dir = scratch("existing");
    std::fs::write(dir.join("entities.json"), "mine").unwrap();
    let run = expect(&["init", &arg(&dir)], ERROR);
    insta::assert_snapshot!(transcript(&run, &dir));
    // Nothing was written, and the existing file is as it was.
    assert_eq!(
        std::fs::read_to_string(dir.join("entities.json")).unwrap(),
        "mine"
    );
    assert!(!dir.join("policy.casepol").exists());
    assert!(!dir.join("policy.test.json").exists());
    // A second init over a first is refused the same way.
    let fresh = scratch("twice");
    expect(&["init", &arg(&fresh)], OK);
    let policy = std::fs::read_to_string(fresh.join("policy.casepol")).unwrap();
    std::fs::write(fresh.join("policy.casepol"), format!("{policy}// edited\n")).unwrap();
    let run = expect(&["init", &arg(&fresh)], ERROR);
    assert!(run.stderr.contains("never overwrites"), "{}", run.stderr);
    assert!(std::fs::read_to_string(fresh.join("policy.casepol"))
        .unwrap()
        .ends_with("// edited\n"));
}

#[test]
fn init_into_a_file_is_refused() {
    let dir = scratch("file");
    let file = dir.join("policy.casepol");
    std::fs::write(&file, "").unwrap();
    let run = expect(&["init", &arg(&file)], ERROR);
    assert!(run.stderr.contains("is a file"), "{}", run.stderr);
}

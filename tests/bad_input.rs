//! The bad-input catalogue: `tests/data/bad_input/<case>/case.json` names a command, its exit
//! code, and whether it may allow. Every case runs the binary and snapshots what it printed, and
//! checks that it did not panic, that it allowed only where the input is in fact fine (a BOM, CRLF
//! line endings, odd but valid ids), and that it wrote or changed no file.
//!
//! `{dir}` in an argument is the case's directory. The 100 MB entities file is generated here.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    args: Vec<String>,
    exit: i32,
    /// The input is fine and the request is allowed.
    #[serde(default)]
    allowed: bool,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` with its contents, to see that a run changed nothing.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn catalogue() {
    let data = root().join("tests/data");
    let mut names: Vec<String> = std::fs::read_dir(data.join("bad_input"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 25, "the catalogue is missing cases");
    let before = contents(&data);
    for name in names {
        let dir = format!("tests/data/bad_input/{name}");
        let case: Case = serde_json::from_str(
            &std::fs::read_to_string(root().join(&dir).join("case.json")).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{dir}/case.json: {e}"));
        let args: Vec<String> = case.args.iter().map(|a| a.replace("{dir}", &dir)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = casepol(&args);
        let transcript = run.transcript();
        assert_eq!(run.code, case.exit, "{name}: wrong exit code\n{transcript}");
        assert!(
            !run.stderr.contains("panicked"),
            "{name} panicked\n{transcript}"
        );
        let allowed = run.stdout.lines().any(|l| l.starts_with("allow"));
        assert_eq!(
            allowed, case.allowed,
            "{name}: allowed is wrong\n{transcript}"
        );
        insta::assert_snapshot!(name, format!("{}\n\n{transcript}", case.description));
    }
    assert!(
        contents(&data) == before,
        "a run wrote or changed a file under tests/data"
    );
}

/// A 100 MB entities file: 400,000 resources, each with a long title. It loads, and the
/// request is decided as in a small file.
#[test]
fn hundred_megabyte_entities_file() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-input-100mb");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("entities.json");
    let title = "t".repeat(200);
    let mut json = String::with_capacity(110 << 20);
    json.push_str(r#"{"users": [{"id": "ann", "groups": ["Clerks"]}], "resources": ["#);
    let n = 400_000;
    for i in 0..n {
        if i > 0 {
            json.push_str(",\n");
        }
        json.push_str(&format!(
            r#"{{"id": "case-{i}", "kind": "Case", "type": "Standard", "state": "{}", "attrs": {{"title": "{title}"}}}}"#,
            if i % 2 == 0 { "Open" } else { "Closed" }
        ));
    }
    json.push_str("]}\n");
    assert!(json.len() > 100 << 20, "only {} bytes", json.len());
    std::fs::write(&path, &json).unwrap();
    drop(json);
    let entities = path.to_str().unwrap();
    for (resource, expected) in [("case-0", OK), ("case-1", FAIL), ("case-x", ERROR)] {
        let request =
            format!(r#"{{"principal": "ann", "action": "view", "resource": "{resource}"}}"#);
        let run = expect(
            &[
                "check",
                "tests/data/cli/policy.casepol",
                "--entities",
                entities,
                "--request",
                &request,
            ],
            expected,
        );
        assert_eq!(run.stdout.starts_with("allow"), expected == OK);
    }
    let _ = std::fs::remove_file(&path);
}

/// The line and column of the first `marker` in `text`, the column counted in characters, and
/// the column serde_json gives it, which counts bytes.
fn position_of(text: &str, marker: &str) -> (usize, usize, usize) {
    let at = text.find(marker).expect("the text has the marker");
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..at].matches('\n').count() + 1;
    let column = text[line_start..at].chars().count() + 1;
    (line, column, at - line_start + 1)
}

/// Columns count characters, as editors show them and docs/data-formats.md says, not bytes as
/// serde_json does: with `é€😀` (two, three and four bytes) or `Ärzte–Überprüfung` before the
/// mistake on its line, an entities file that is not JSON or has fields of the wrong structure,
/// a request (inline and in a batch), and a policy test file (its entities file, its inline
/// entities and its own JSON) each give the column of the mistake as an editor shows it.
#[test]
fn columns_count_characters_after_non_ascii_text() {
    let cases = "tests/data/bad_input";
    let entities = format!("{cases}/entities_non_ascii_error_position/entities.json");
    let text = std::fs::read_to_string(root().join(&entities)).unwrap();
    let (line, column, bytes) = position_of(&text, "x");
    assert_eq!((line, column, bytes), (2, 27, 33), "the fixture moved");
    let run = casepol(&[
        "check",
        "tests/data/cli/policy.casepol",
        "--entities",
        &entities,
        "--request",
        r#"{"principal": "ann", "action": "view", "resource": "case-open"}"#,
    ]);
    let want = format!("{entities}: {line}:{column}: expected value");
    assert!(run.stderr.contains(&want), "{want}\n{}", run.transcript());

    // Mistakes of structure, found field by field, after `Ärzte–Überprüfung` on their lines.
    let entities = format!("{cases}/entities_non_ascii_structure_error_position/entities.json");
    let text = std::fs::read_to_string(root().join(&entities)).unwrap();
    let run = casepol(&[
        "check",
        "tests/data/cli/policy.casepol",
        "--entities",
        &entities,
        "--request",
        r#"{"principal": "ann", "action": "view", "resource": "case-open"}"#,
    ]);
    for marker in ["5}", "\"HR\"", "7}"] {
        let (line, column, bytes) = position_of(&text, marker);
        assert!(
            bytes > column,
            "{marker}: `Ärzte–Überprüfung` is before the mistake"
        );
        let want = format!("{entities}: {line}:{column}: ");
        assert!(run.stderr.contains(&want), "{want}\n{}", run.transcript());
    }

    let request = r#"{"principal": "é€😀", "action": x}"#;
    let (line, column, bytes) = position_of(request, "x");
    assert_eq!((line, column, bytes), (1, 32, 38), "the request moved");
    let run = casepol(&[
        "check",
        "tests/data/cli/policy.casepol",
        "--entities",
        "tests/data/cli/entities.json",
        "--request",
        request,
    ]);
    let want =
        format!("invalid request in --request at line {line}, column {column}: expected value");
    assert!(run.stderr.contains(&want), "{want}\n{}", run.transcript());

    // The same request as line 2 of a batch.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-input-columns");
    std::fs::create_dir_all(&dir).unwrap();
    let batch = dir.join("requests.jsonl");
    std::fs::write(
        &batch,
        format!("{{\"principal\": \"ann\", \"action\": \"view\", \"resource\": \"case-open\"}}\n{request}\n"),
    )
    .unwrap();
    let run = casepol(&[
        "check",
        "tests/data/cli/policy.casepol",
        "--entities",
        "tests/data/cli/entities.json",
        "--requests",
        batch.to_str().unwrap(),
    ]);
    let want = format!("invalid request at line 2, column {column}: expected value");
    assert!(run.stdout.contains(&want), "{want}\n{}", run.transcript());

    // Policy test files: one naming that entities file, one that is not JSON itself, and one
    // with inline entities of the wrong structure. The last two draw the place in the test
    // file, and the report's header gives its line and column.
    let tests = format!("{cases}/test_file_non_ascii_error_position");
    let read = |name: &str| std::fs::read_to_string(root().join(&tests).join(name)).unwrap();
    let (line, column, _) = position_of(&read("entities.json"), "x");
    let run = casepol(&["test", &format!("{tests}/columns.test.json")]);
    let want = format!("at line {line}, column {column}: expected value");
    assert!(run.stderr.contains(&want), "{want}\n{}", run.transcript());
    for (name, marker) in [("syntax.test.json", "x"), ("inline.test.json", "5}")] {
        let (line, column, bytes) = position_of(&read(name), marker);
        assert_eq!(bytes, column + 6, "{name}: `é€😀` is before the mistake");
        let path = format!("{tests}/{name}");
        let run = casepol(&["test", &path]);
        let want = format!("╭─[ {path}:{line}:{column} ]");
        assert!(run.stderr.contains(&want), "{want}\n{}", run.transcript());
    }
}

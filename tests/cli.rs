//! The `casepol` binary, run as a user runs it: exit codes are asserted exactly, and standard
//! output and standard error are snapshotted.
//!
//! Every command runs in the repository root with relative paths, so the snapshots hold the same
//! paths on every machine. `NO_COLOR` is set, so no escape codes reach the snapshots.
//! Fixtures live in `tests/data/cli/`.

mod common;

use common::*;
use std::path::PathBuf;

const POLICY: &str = "tests/data/cli/policy.casepol";
const ENTITIES: &str = "tests/data/cli/entities.json";

fn check(request: &str) -> Vec<&str> {
    vec![
        "check",
        POLICY,
        "--entities",
        ENTITIES,
        "--request",
        request,
    ]
}

// ---- validate -------------------------------------------------------------------------------

#[test]
fn validate_clean_policy() {
    let run = expect(&["validate", POLICY], OK);
    assert_eq!(run.stderr, "");
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn validate_policy_with_errors() {
    let run = expect(&["validate", "tests/data/cli/errors.casepol"], FAIL);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn validate_policy_with_errors_json() {
    let run = expect(
        &[
            "validate",
            "--format",
            "json",
            "tests/data/cli/errors.casepol",
        ],
        FAIL,
    );
    assert_eq!(run.stderr, "", "JSON mode prints nothing to stderr");
    let v = run.json();
    let p = &v["policies"][0];
    assert_eq!(p["policy"], "tests/data/cli/errors.casepol");
    assert_eq!(p["ok"], false);
    assert_eq!(
        (p["errors"].as_u64(), p["warnings"].as_u64()),
        (Some(2), Some(1))
    );
    let codes: Vec<&str> = p["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["CP0101", "CP0201", "CP0105"]);
    // Keys come out in the documented order, not alphabetically.
    assert!(
        run.stdout.starts_with(
            r#"{"policies":[{"policy":"tests/data/cli/errors.casepol","ok":false,"errors":2,"warnings":1,"diagnostics":[{"code":"CP0101","severity":"error","message":"#
        ),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 1, "one JSON object on one line");
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn validate_warnings_do_not_fail() {
    let run = expect(&["validate", "tests/data/cli/warning.casepol"], OK);
    assert!(
        run.stderr.contains("CP0201"),
        "the warning is shown:\n{}",
        run.stderr
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn validate_directory_policy() {
    // Two files that only check together: one uses what the other declares.
    let run = expect(&["validate", "tests/data/cli/split"], OK);
    insta::assert_snapshot!(run.transcript());
    expect(&["validate", "tests/data/cli/split/rules.casepol"], FAIL);
}

#[test]
fn validate_several_policies_exits_with_the_worst() {
    let run = expect(
        &[
            "validate",
            POLICY,
            "tests/data/cli/errors.casepol",
            "tests/data/cli/warning.casepol",
        ],
        FAIL,
    );
    insta::assert_snapshot!("validate_clean_errors_warning", run.transcript());
    let run = expect(
        &[
            "validate",
            "tests/data/cli/missing.casepol",
            "tests/data/cli/errors.casepol",
            POLICY,
        ],
        ERROR,
    );
    insta::assert_snapshot!("validate_missing_errors_clean", run.transcript());
}

#[test]
fn validate_missing_file() {
    let run = expect(&["validate", "tests/data/cli/missing.casepol"], ERROR);
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn validate_missing_file_json() {
    let run = expect(
        &[
            "validate",
            "--format",
            "json",
            "tests/data/cli/missing.casepol",
            POLICY,
        ],
        ERROR,
    );
    let v = run.json();
    assert!(v["policies"][0]["error"].is_string());
    assert_eq!(v["policies"][1]["ok"], true);
    assert_eq!(run.stderr, "", "JSON mode prints nothing to stderr");
    assert!(
        run.stdout
            .contains(r#"{"policy":"tests/data/cli/missing.casepol","error":"cannot read "#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(r#"{"policy":"tests/data/cli/policy.casepol","ok":true,"errors":0,"warnings":0,"diagnostics":[]}"#),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn validate_directory_without_policy_files() {
    let run = expect(&["validate", "tests/data/cli/no_policy"], ERROR);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn validate_non_utf8_file() {
    let run = expect(&["validate", "tests/data/cli/latin1.casepol"], ERROR);
    // The file's first line is `// This file is Latin-1, not UTF-8: caf\xE9`: 39 characters, then é.
    assert!(
        run.stderr.contains("byte 0xE9 at line 1, column 40"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn validate_without_arguments_is_a_usage_error() {
    let run = expect(&["validate"], ERROR);
    insta::assert_snapshot!(run.transcript());
}

// ---- check: one request ---------------------------------------------------------------------

#[test]
fn check_allow() {
    let run = expect(&check("tests/data/cli/request_allow.json"), OK);
    assert_eq!(run.stderr, "");
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_deny_explicit() {
    let run = expect(&check("tests/data/cli/request_deny.json"), FAIL);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_deny_not_permitted() {
    let run = expect(
        &check(r#"{"principal": "ann", "action": "edit", "resource": "case-open"}"#),
        FAIL,
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_account_permission() {
    let run = expect(&check(r#"{"principal": "max", "action": "billing"}"#), OK);
    insta::assert_snapshot!("check_permission_held", run.transcript());
    let run = expect(&check(r#"{"principal": "ann", "action": "billing"}"#), FAIL);
    insta::assert_snapshot!("check_permission_not_held", run.transcript());
}

#[test]
fn check_inline_request_and_request_file_agree() {
    for (file, code) in [
        ("tests/data/cli/request_allow.json", OK),
        ("tests/data/cli/request_deny.json", FAIL),
    ] {
        let text =
            std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        let from_file = expect(&check(file), code);
        let inline = expect(&check(text.trim()), code);
        assert_eq!(
            (&from_file.stdout, &from_file.stderr),
            (&inline.stdout, &inline.stderr)
        );
        // Leading whitespace before the `{` still means inline JSON.
        let padded = format!("  {}", text.trim());
        let padded = expect(&check(&padded), code);
        assert_eq!(padded.stdout, inline.stdout);
    }
}

#[test]
fn check_unresolvable_requests_are_denied_with_exit_2() {
    let cases = [
        (
            "unknown_principal",
            r#"{"principal": "anne", "action": "view", "resource": "case-open"}"#,
        ),
        (
            "role_as_principal",
            r#"{"principal": "Clerk", "action": "view", "resource": "case-open"}"#,
        ),
        (
            "group_as_principal",
            r#"{"principal": "Managers", "action": "view", "resource": "case-open"}"#,
        ),
        (
            "unknown_action",
            r#"{"principal": "ann", "action": "veiw", "resource": "case-open"}"#,
        ),
        (
            "unknown_resource",
            r#"{"principal": "ann", "action": "view", "resource": "case-opn"}"#,
        ),
        (
            "action_without_resource",
            r#"{"principal": "ann", "action": "view"}"#,
        ),
        (
            "permission_with_resource",
            r#"{"principal": "max", "action": "billing", "resource": "case-open"}"#,
        ),
        (
            "unknown_module",
            r#"{"principal": "ann", "action": "view", "resource": "case-open", "module": "Cases"}"#,
        ),
        (
            "unknown_action_nothing_close",
            r#"{"principal": "ann", "action": "approve", "resource": "case-open"}"#,
        ),
        (
            "unknown_resource_nothing_close",
            r#"{"principal": "ann", "action": "view", "resource": "invoice-7"}"#,
        ),
        (
            "user_as_resource",
            r#"{"principal": "ann", "action": "view", "resource": "zoe"}"#,
        ),
    ];
    for (name, request) in cases {
        let run = expect(&check(request), ERROR);
        assert!(
            run.stdout.starts_with("deny (error: "),
            "{name}: an unresolvable request is a deny:\n{}",
            run.stdout
        );
        assert_eq!(
            run.stdout.lines().count(),
            1,
            "{name}: one result, on one line:\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("; help: "),
            "{name}: every resolution error says how to fix it:\n{}",
            run.stdout
        );
        assert_eq!(run.stderr, "", "{name}");
        insta::assert_snapshot!(format!("check_error_{name}"), run.transcript());
    }
}

#[test]
fn check_unknown_module_help_names_the_declared_modules() {
    let entities = "policies/efob/entities.json";
    let request = |module: &str| {
        format!(
            r#"{{"principal": "emma", "action": "access", "resource": "case-start", "module": "{module}"}}"#
        )
    };
    let run = expect(
        &[
            "check",
            "policies/efob",
            "--entities",
            entities,
            "--request",
            &request("Casse"),
            "--format",
            "json",
        ],
        ERROR,
    );
    assert_eq!(run.json()["error"]["help"], "did you mean `Cases`?");
    let run = expect(
        &[
            "check",
            "policies/efob",
            "--entities",
            entities,
            "--request",
            &request("Payroll"),
            "--format",
            "json",
        ],
        ERROR,
    );
    assert_eq!(
        run.json()["error"]["help"],
        "the policy declares the modules `Cases` and `MyMatters`"
    );
    // The small CLI policy declares none.
    let request =
        r#"{"principal": "ann", "action": "view", "resource": "case-open", "module": "Cases"}"#;
    let run = expect(
        &[&check(request)[..], &["--format", "json"]].concat(),
        ERROR,
    );
    assert_eq!(
        run.json()["error"]["help"],
        "the policy declares no modules; remove `module` from the request"
    );
}

#[test]
fn check_json() {
    // Exact text: the keys come out in the documented order, and a single request has no `line`.
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            ENTITIES,
            "--request",
            "tests/data/cli/request_allow.json",
            "--format",
            "json",
        ],
        OK,
    );
    assert_eq!(
        run.stdout,
        "{\"decision\":\"allow\",\"layer\":\"data\",\"reason\":\"allowed\"}\n"
    );
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            ENTITIES,
            "--request",
            "tests/data/cli/request_deny.json",
            "--format",
            "json",
        ],
        FAIL,
    );
    assert_eq!(
        run.stdout,
        "{\"decision\":\"deny\",\"layer\":\"data\",\"reason\":\"explicitly_denied\"}\n"
    );
    let request = r#"{"principal": "Clerk", "action": "view", "resource": "case-open"}"#;
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            ENTITIES,
            "--request",
            request,
            "--format",
            "json",
        ],
        ERROR,
    );
    let v = run.json();
    assert_eq!(
        (
            v["decision"].as_str(),
            v["layer"].as_str(),
            v["reason"].as_str()
        ),
        (Some("deny"), Some("request"), Some("error"))
    );
    assert_eq!(v["error"]["kind"], "unknown_principal");
    assert_eq!(
        v["error"]["help"],
        "`Clerk` is a role; the principal must be a user id"
    );
    assert!(run.stdout.starts_with(r#"{"decision":"deny","layer":"request","reason":"error","error":{"kind":"unknown_principal","message":"#));
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_malformed_request() {
    let run = expect(&check(r#"{"principal": "ann", "action": "view""#), ERROR);
    assert_eq!(run.stdout, "", "nothing is decided");
    insta::assert_snapshot!("check_malformed_request_inline", run.transcript());
    let run = expect(&check("tests/data/cli/request_malformed.json"), ERROR);
    insta::assert_snapshot!("check_malformed_request_file", run.transcript());
    let run = expect(
        &check(
            r#"{"principal": "ann", "action": "view", "resource": "case-open", "resouce": "x"}"#,
        ),
        ERROR,
    );
    insta::assert_snapshot!("check_request_unknown_field", run.transcript());
    let run = expect(&check(r#"{"principal": "ann"}"#), ERROR);
    insta::assert_snapshot!("check_request_missing_field", run.transcript());
    let run = expect(&check("tests/data/cli/no_such_request.json"), ERROR);
    insta::assert_snapshot!("check_request_file_missing", run.transcript());
}

#[test]
fn check_bad_entities() {
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            "tests/data/cli/bad_entities.json",
            "--request",
            "tests/data/cli/request_allow.json",
        ],
        ERROR,
    );
    assert_eq!(run.stdout, "", "nothing is decided");
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_missing_entities_file() {
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            "tests/data/cli/no_such_entities.json",
            "--request",
            "tests/data/cli/request_allow.json",
        ],
        ERROR,
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_policy_with_errors() {
    let run = expect(
        &[
            "check",
            "tests/data/cli/errors.casepol",
            "--entities",
            ENTITIES,
            "--request",
            "tests/data/cli/request_allow.json",
        ],
        ERROR,
    );
    assert_eq!(run.stdout, "", "nothing is decided");
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn check_needs_exactly_one_of_request_and_requests() {
    let run = expect(&["check", POLICY, "--entities", ENTITIES], ERROR);
    assert!(
        run.stderr
            .contains("--request <REQUEST>|--requests <REQUESTS>"),
        "the error names both:\n{}",
        run.stderr
    );
    insta::assert_snapshot!("check_no_request", run.transcript());
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            ENTITIES,
            "--request",
            "tests/data/cli/request_allow.json",
            "--requests",
            "tests/data/cli/requests_ok.jsonl",
        ],
        ERROR,
    );
    insta::assert_snapshot!("check_request_and_requests", run.transcript());
}

// ---- check: batches -------------------------------------------------------------------------

#[test]
fn check_batch_all_decided() {
    // Denies are decisions too: the batch exits 0 when no line is an error.
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            ENTITIES,
            "--requests",
            "tests/data/cli/requests_ok.jsonl",
        ],
        OK,
    );
    assert_eq!(
        run.stdout.lines().count(),
        5,
        "one result per non-blank line"
    );
    insta::assert_snapshot!("check_batch_all_decided_human", run.transcript());
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            ENTITIES,
            "--requests",
            "tests/data/cli/requests_ok.jsonl",
            "--format",
            "json",
        ],
        OK,
    );
    let lines = run.json_lines();
    let numbers: Vec<&serde_json::Value> = lines.iter().map(|l| &l["line"]).collect();
    assert_eq!(
        numbers,
        [1, 2, 4, 5, 6],
        "every result names its input line; line 3 is blank"
    );
    insta::assert_snapshot!("check_batch_all_decided_json", run.transcript());
}

#[test]
fn check_batch_with_blank_and_bad_lines() {
    let args = [
        "check",
        POLICY,
        "--entities",
        ENTITIES,
        "--requests",
        "tests/data/cli/requests_mixed.jsonl",
    ];
    let run = expect(&args, ERROR);
    assert_eq!(
        run.stdout.lines().count(),
        4,
        "one result line per non-blank line in:\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("deny (error: invalid request at line 3, column 51: "),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!("check_batch_mixed_human", run.transcript());
    let run = expect(&[&args[..], &["--format", "json"]].concat(), ERROR);
    let lines = run.json_lines();
    assert_eq!(
        lines.len(),
        4,
        "blank and whitespace-only lines are skipped:\n{}",
        run.stdout
    );
    let numbers: Vec<&serde_json::Value> = lines.iter().map(|l| &l["line"]).collect();
    assert_eq!(numbers, [1, 3, 4, 6], "every result names its input line");
    assert_result_shape(&run.stdout);
    let bad = &lines[1]["error"];
    assert_eq!(bad["kind"], "invalid_request");
    assert_eq!(
        bad["message"],
        "invalid request at line 3, column 51: EOF while parsing a value"
    );
    assert!(
        bad["help"].as_str().unwrap().starts_with("a request is "),
        "the help is its own field: {bad}"
    );
    assert_eq!(lines[2]["error"]["kind"], "unknown_principal");
    insta::assert_snapshot!("check_batch_mixed_json", run.transcript());
}

/// Every result line has the same keys in the same order: `line`, `decision`, `layer`,
/// `reason`, then `error` (`kind`, `message`, `help`) when the request could not be decided.
fn assert_result_shape(stdout: &str) {
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let prefix = format!(
            r#"{{"line":{},"decision":{},"layer":{},"reason":{}"#,
            v["line"], v["decision"], v["layer"], v["reason"]
        );
        assert!(
            line.starts_with(&prefix),
            "keys out of order or missing: {line}"
        );
        let rest = &line[prefix.len()..];
        if v["reason"] == "error" {
            assert_eq!(v["decision"], "deny");
            assert_eq!(v["layer"], "request");
            let e = &v["error"];
            let error = format!(
                r#","error":{{"kind":{},"message":{}"#,
                e["kind"], e["message"]
            );
            assert!(
                rest.starts_with(&error),
                "error keys out of order or missing: {line}"
            );
            assert_eq!(v.as_object().unwrap().len(), 5, "{line}");
        } else {
            assert_eq!(rest, "}", "a decided request has no error: {line}");
        }
    }
}

#[test]
fn check_batch_with_a_line_that_is_not_utf8() {
    // Line 2 holds the Latin-1 byte 0xE9 (é) after 55 ASCII characters.
    let args = [
        "check",
        POLICY,
        "--entities",
        ENTITIES,
        "--requests",
        "tests/data/cli/requests_latin1.jsonl",
    ];
    let run = expect(&[&args[..], &["--format", "json"]].concat(), ERROR);
    let lines = run.json_lines();
    let numbers: Vec<&serde_json::Value> = lines.iter().map(|l| &l["line"]).collect();
    assert_eq!(
        numbers,
        [1, 2, 3],
        "the bad line gets a result, and the lines around it are decided"
    );
    assert_result_shape(&run.stdout);
    assert_eq!(lines[1]["error"]["kind"], "invalid_request");
    assert_eq!(
        lines[1]["error"]["message"],
        "invalid UTF-8 at line 2, column 56 (byte 0xE9)"
    );
    assert_eq!(
        (&lines[0]["decision"], &lines[2]["decision"]),
        (&"allow".into(), &"allow".into())
    );
    insta::assert_snapshot!("check_batch_not_utf8_json", run.transcript());
    let run = expect(&args, ERROR);
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
    insta::assert_snapshot!("check_batch_not_utf8_human", run.transcript());
}

#[test]
fn check_batch_file_missing() {
    let run = expect(
        &[
            "check",
            POLICY,
            "--entities",
            ENTITIES,
            "--requests",
            "tests/data/cli/no_such.jsonl",
        ],
        ERROR,
    );
    insta::assert_snapshot!(run.transcript());
}

// ---- check: the two engines agree -----------------------------------------------------------

/// Writes every request of a policy's test file (`policy.test.json`) as a JSON Lines file.
fn expectations_as_jsonl(policy_dir: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tests: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(policy_dir).join("policy.test.json")).unwrap(),
    )
    .unwrap();
    let cases = tests["tests"].as_array().unwrap();
    assert!(!cases.is_empty());
    let lines: Vec<String> = cases.iter().map(|c| c["request"].to_string()).collect();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}.jsonl", policy_dir.replace('/', "_")));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn check_engines_agree() {
    let mut batches: Vec<(String, String, String)> = Vec::new();
    for dir in ["policies/efob", "policies/workzone"] {
        let jsonl = expectations_as_jsonl(dir);
        batches.push((
            dir.to_string(),
            format!("{dir}/entities.json"),
            jsonl.display().to_string(),
        ));
    }
    for file in [
        "tests/data/cli/requests_ok.jsonl",
        "tests/data/cli/requests_mixed.jsonl",
    ] {
        batches.push((POLICY.to_string(), ENTITIES.to_string(), file.to_string()));
    }
    for (policy, entities, requests) in &batches {
        let args = |engine| {
            vec![
                "check",
                policy,
                "--entities",
                entities,
                "--requests",
                requests,
                "--format",
                "json",
                "--engine",
                engine,
            ]
        };
        let vm = casepol(&args("vm"));
        let reference = casepol(&args("reference"));
        assert!(vm.code == OK || vm.code == ERROR, "{}", vm.transcript());
        assert_eq!(vm.code, reference.code, "{policy}: exit codes differ");
        assert!(!vm.stdout.is_empty(), "{}", vm.transcript());
        assert_eq!(
            vm.stdout, reference.stdout,
            "{policy} with {requests}: the engines decide differently"
        );
    }
    // The default engine is the VM, and a single request agrees too.
    let default = expect(&check("tests/data/cli/request_deny.json"), FAIL);
    let reference = expect(
        &[
            &check("tests/data/cli/request_deny.json")[..],
            &["--engine", "reference"],
        ]
        .concat(),
        FAIL,
    );
    assert_eq!(default.stdout, reference.stdout);
}

// ---- explain --------------------------------------------------------------------------------

fn explain(policy: &str, request: &str, format: &str) -> Vec<String> {
    [
        "explain",
        policy,
        "--entities",
        &format!("{policy}/entities.json"),
        "--request",
        request,
        "--format",
        format,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_explain(policy: &str, request: &str, format: &str, code: i32) -> Run {
    let args = explain(policy, request, format);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect(&args, code)
}

const EFOB_ALLOW: &str =
    r#"{"principal": "emma", "action": "access", "resource": "case-start", "module": "MyMatters"}"#;
const EFOB_DENY: &str =
    r#"{"principal": "ada", "action": "access", "resource": "case-start", "module": "Cases"}"#;
const WORKZONE_ALLOW: &str = r#"{"principal": "BB", "action": "view", "resource": "supp-1"}"#;
const WORKZONE_DENY: &str = r#"{"principal": "AA", "action": "view", "resource": "supp-1"}"#;

#[test]
fn explain_efob() {
    let run = run_explain("policies/efob", EFOB_ALLOW, "human", OK);
    assert!(run.stdout.starts_with("ALLOW"), "{}", run.stdout);
    insta::assert_snapshot!("explain_efob_allow_text", run.transcript());
    let run = run_explain("policies/efob", EFOB_DENY, "human", FAIL);
    assert!(run.stdout.starts_with("DENY"), "{}", run.stdout);
    insta::assert_snapshot!("explain_efob_deny_text", run.transcript());
    let run = run_explain("policies/efob", EFOB_DENY, "json", FAIL);
    let v = run.json();
    assert_eq!(v["decision"]["allowed"], false);
    assert_eq!(v["decision"]["reason"], "explicitly_denied");
    insta::assert_snapshot!("explain_efob_deny_json", run.transcript());
}

#[test]
fn explain_workzone() {
    let run = run_explain("policies/workzone", WORKZONE_ALLOW, "human", OK);
    insta::assert_snapshot!("explain_workzone_allow_text", run.transcript());
    let run = run_explain("policies/workzone", WORKZONE_DENY, "human", FAIL);
    insta::assert_snapshot!("explain_workzone_deny_text", run.transcript());
    let run = run_explain("policies/workzone", WORKZONE_ALLOW, "json", OK);
    let v = run.json();
    assert_eq!(v["decision"]["allowed"], true);
    insta::assert_snapshot!("explain_workzone_allow_json", run.transcript());
}

#[test]
fn explain_agrees_with_check() {
    for (policy, request, code) in [
        ("policies/efob", EFOB_ALLOW, OK),
        ("policies/efob", EFOB_DENY, FAIL),
        ("policies/workzone", WORKZONE_ALLOW, OK),
        ("policies/workzone", WORKZONE_DENY, FAIL),
    ] {
        let entities = format!("{policy}/entities.json");
        let checked = expect(
            &[
                "check",
                policy,
                "--entities",
                &entities,
                "--request",
                request,
                "--format",
                "json",
            ],
            code,
        );
        let explained = run_explain(policy, request, "json", code);
        let (c, e) = (checked.json(), explained.json());
        assert_eq!(
            (&c["decision"] == "allow", &c["layer"], &c["reason"]),
            (
                e["decision"]["allowed"] == true,
                &e["decision"]["layer"],
                &e["decision"]["reason"]
            ),
            "{policy}: {request}"
        );
    }
}

#[test]
fn explain_unresolvable_request() {
    let run = run_explain(
        "policies/efob",
        r#"{"principal": "HR", "action": "access", "resource": "case-start"}"#,
        "human",
        ERROR,
    );
    insta::assert_snapshot!(run.transcript());
}

// ---- help -----------------------------------------------------------------------------------

#[test]
fn help() {
    for (name, args) in [
        ("help", vec!["--help"]),
        ("help_validate", vec!["validate", "--help"]),
        ("help_check", vec!["check", "--help"]),
        ("help_explain", vec!["explain", "--help"]),
    ] {
        let run = expect(&args, OK);
        assert_eq!(run.stderr, "");
        insta::assert_snapshot!(name, run.transcript());
    }
}

#[test]
fn every_argument_and_command_has_a_one_line_description() {
    for args in [
        vec!["-h"],
        vec!["validate", "-h"],
        vec!["check", "-h"],
        vec!["explain", "-h"],
    ] {
        let run = expect(&args, OK);
        // In short help each command, argument and option is one line: its name, two or more
        // spaces, and its description.
        let entries: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("  ")).collect();
        assert!(entries.len() >= 2, "{args:?}:\n{}", run.stdout);
        for entry in entries {
            let parts: Vec<&str> = entry
                .trim()
                .split("  ")
                .filter(|p| !p.trim().is_empty())
                .collect();
            assert!(
                parts.len() >= 2,
                "{args:?}: `{}` has no description:\n{}",
                entry.trim(),
                run.stdout
            );
        }
        let summary = run.stdout.lines().next().unwrap();
        assert!(
            summary.len() <= 80 && !summary.contains(". "),
            "{args:?}: the summary is one short sentence: {summary}"
        );
    }
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let run = expect(&[], ERROR);
    insta::assert_snapshot!(run.transcript());
}

//! The query commands (`who-can`, `actions`, `list`, `filter`) run as a user runs them: each
//! fixture in `tests/data/queries/cli/` is one command line with its exit code, and its
//! transcript is a snapshot. Pagination through the binary concatenates to the whole list.

mod common;

use common::*;

#[derive(serde::Deserialize)]
struct Fixture {
    args: Vec<String>,
    exit: i32,
}

#[test]
fn query_commands() {
    insta::glob!("data/queries/cli/*.json", |path| {
        let fixture: Fixture =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let args: Vec<&str> = fixture.args.iter().map(String::as_str).collect();
        let run = expect(&args, fixture.exit);
        if fixture.exit == OK {
            assert_eq!(run.stderr, "", "{}", run.transcript());
        } else {
            assert_eq!(run.stdout, "", "{}", run.transcript());
        }
        insta::assert_snapshot!(run.transcript());
    });
}

/// Pages of every size, fetched with the cursor each page ends with, add up to the unpaginated
/// list, and every line of the list is a resource `check` allows.
#[test]
fn list_pages_concatenate_to_the_whole_list() {
    let base = [
        "list",
        "policies/combined",
        "--entities",
        "policies/combined/entities.json",
        "--principal",
        "hana",
        "--action",
        "view",
        "--module",
        "Workspace",
    ];
    let all: Vec<serde_json::Value> = expect(&base, OK).json_lines();
    assert!(all.len() >= 5, "too short a list to page: {all:?}");
    for id in &all {
        let request = serde_json::json!({
            "principal": "hana", "action": "view", "resource": id["id"], "module": "Workspace"
        })
        .to_string();
        expect(
            &[
                "check",
                "policies/combined",
                "--entities",
                "policies/combined/entities.json",
                "--request",
                &request,
            ],
            OK,
        );
    }
    for limit in 1..=all.len() + 1 {
        let mut got = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let limit = limit.to_string();
            let mut args = base.to_vec();
            args.extend(["--limit", &limit]);
            if let Some(a) = &after {
                args.extend(["--after", a]);
            }
            let mut lines = expect(&args, OK).json_lines();
            let last = lines.pop().expect("a last line with the cursor");
            got.extend(lines);
            match last["next"].as_str() {
                Some(next) => after = Some(next.to_string()),
                None => {
                    assert!(last["next"].is_null(), "{last}");
                    break;
                }
            }
        }
        assert_eq!(got, all, "pages of {limit}");
    }
}

/// A request without a module, on a case type reached through modules, gets the same reason from
/// every command that can ask it, in text and in JSON: `check`, `actions`, `list`, `filter`,
/// `who-can` and `explain` (issue 13: before, `check` said `deny (module: no module)`, `list`
/// printed nothing, `filter` `WHERE FALSE` and `actions` eighteen bare denials).
#[test]
fn a_missing_module_is_said_the_same_by_every_command() {
    let note = "case type `ChangeEmail` is reached through modules, so nobody may act on it \
                without one; ask with one of the modules `Cases` or `MyMatters`";
    let common = ["policies/efob", "--entities", "policies/efob/entities.json"];
    let request = r#"{"principal": "emma", "action": "access", "resource": "case-start"}"#;
    let with = |cmd: &str, rest: &[&str]| -> Vec<String> {
        let mut args = vec![cmd.to_string()];
        args.extend(common.iter().map(|s| s.to_string()));
        args.extend(rest.iter().map(|s| s.to_string()));
        args
    };
    let runs: Vec<(Vec<String>, i32)> = vec![
        (with("check", &["--request", request]), FAIL),
        (
            with("check", &["--request", request, "--format", "json"]),
            FAIL,
        ),
        (
            with(
                "actions",
                &["--principal", "emma", "--resource", "case-start"],
            ),
            OK,
        ),
        (
            with(
                "actions",
                &[
                    "--principal",
                    "emma",
                    "--resource",
                    "case-start",
                    "--format",
                    "json",
                ],
            ),
            OK,
        ),
        (
            with("list", &["--principal", "emma", "--action", "access"]),
            OK,
        ),
        (
            with(
                "filter",
                &[
                    "--principal",
                    "emma",
                    "--action",
                    "access",
                    "--dialect",
                    "sqlite",
                ],
            ),
            OK,
        ),
        (
            with(
                "filter",
                &[
                    "--principal",
                    "emma",
                    "--action",
                    "access",
                    "--dialect",
                    "sqlite",
                    "--format",
                    "json",
                ],
            ),
            OK,
        ),
        (
            with(
                "who-can",
                &["--action", "access", "--resource", "case-start"],
            ),
            OK,
        ),
        (
            with(
                "who-can",
                &[
                    "--action",
                    "access",
                    "--resource",
                    "case-start",
                    "--format",
                    "json",
                ],
            ),
            OK,
        ),
        (with("explain", &["--request", request]), FAIL),
        (
            with("explain", &["--request", request, "--format", "json"]),
            FAIL,
        ),
    ];
    for (args, exit) in runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = expect(&args, exit);
        assert!(
            run.stdout.contains(note),
            "`casepol {}` does not say why:\n{}",
            args.join(" "),
            run.transcript()
        );
    }
}

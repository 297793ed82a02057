//! `casepol apply` run as a user runs it: the Torq and WorkZone example change sets, whose
//! events name exactly the users who gained and lost access, a change set with problems, and
//! `--write`. Output, standard error and exit codes are snapshotted.

mod common;

use common::*;
use std::collections::BTreeSet;

const TORQ: [&str; 6] = [
    "apply",
    "policies/torq",
    "--entities",
    "policies/torq/entities.json",
    "--changes",
    "policies/torq/changes.jsonl",
];

const WORKZONE: [&str; 6] = [
    "apply",
    "policies/workzone",
    "--entities",
    "policies/workzone/entities.json",
    "--changes",
    "policies/workzone/changes.jsonl",
];

/// The (user, access) pairs of one change set's events, and the resources each reached.
fn who(line: &serde_json::Value) -> BTreeSet<(String, String, String)> {
    line["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("user"), s("access"), s("resource"))
        })
        .collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn torq_access_mode_and_collaborators_updated() {
    let run = expect(&TORQ, OK);
    insta::assert_snapshot!(run.transcript());
    let json = expect(&[&TORQ[..], &["--format", "json"]].concat(), OK).json_lines();
    assert_eq!(json.len(), 2);
    // "Case Access Mode Updated": `case-open-new` becomes restricted. Its assignee `ron` and
    // reviewer `rita` keep access; `ana`, an analyst who is not on the case, loses it; `cole`
    // and `vic`, who hold no role, had none.
    assert_eq!(who(&json[0]), set(&[("ana", "lost", "case-open-new")]));
    // "Case Collaborators List Updated": `vic` added and `cole` removed on `case-restricted`.
    assert_eq!(
        who(&json[1]),
        set(&[
            ("cole", "lost", "case-restricted"),
            ("vic", "gained", "case-restricted")
        ])
    );
    insta::assert_snapshot!("torq_json", run_json(&TORQ));
}

fn run_json(args: &[&str]) -> String {
    expect(&[args, &["--format", "json"]].concat(), OK).stdout
}

#[test]
fn workzone_case_code_change_reaches_documents_and_supplements() {
    let run = expect(&WORKZONE, OK);
    insta::assert_snapshot!(run.transcript());
    let json = expect(&[&WORKZONE[..], &["--format", "json"]].concat(), OK).json_lines();
    // `case-1`'s read code goes from `PERS` to `FIN`. `doc-1` and `doc-3` inherit it from the
    // case, and `supp-1` from `doc-1`; `doc-2` cuts the inheritance, so nothing changes there.
    // PERS members `BB` and `CC` lose what the old code gave them; FIN members `AA` and `RR`
    // gain what the new one gives, within their own codes (`supp-1` also needs `BB` or `AA`,
    // `doc-3` also `CONF`).
    assert_eq!(
        who(&json[0]),
        set(&[
            ("AA", "gained", "case-1"),
            ("AA", "gained", "doc-1"),
            ("AA", "gained", "supp-1"),
            ("BB", "lost", "case-1"),
            ("BB", "lost", "doc-1"),
            ("BB", "lost", "supp-1"),
            ("CC", "lost", "case-1"),
            ("CC", "lost", "doc-1"),
            ("CC", "lost", "doc-3"),
            ("RR", "gained", "case-1"),
            ("RR", "gained", "doc-1"),
        ])
    );
}

#[test]
fn a_change_set_with_problems_is_not_applied_and_every_problem_is_reported() {
    let out = std::env::temp_dir().join(format!("casepol-apply-bad-{}.json", std::process::id()));
    let out_s = out.display().to_string();
    let args = [
        "apply",
        "policies/torq",
        "--entities",
        "policies/torq/entities.json",
        "--changes",
        "tests/data/cli/bad-changes.jsonl",
    ];
    expect(&[&args[..], &["--write", &out_s]].concat(), ERROR);
    assert!(!out.exists(), "nothing is written when a change set fails");
    let run = expect(&args, ERROR);
    assert_eq!(run.stderr.matches("error: ").count(), 7, "{}", run.stderr);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn write_saves_entities_that_load_into_the_last_version() {
    let out = std::env::temp_dir().join(format!("casepol-apply-{}.json", std::process::id()));
    let out_s = out.display().to_string();
    expect(&[&WORKZONE[..], &["--write", &out_s]].concat(), OK);
    // Applying nothing more to the written file changes nothing; asking it directly shows the
    // new code in force.
    let check = |principal: &str, resource: &str| {
        let request = format!(
            r#"{{"principal": "{principal}", "action": "view", "resource": "{resource}"}}"#
        );
        expect(
            &[
                "check",
                "policies/workzone",
                "--entities",
                &out_s,
                "--request",
                &request,
            ],
            if principal == "AA" { OK } else { FAIL },
        )
    };
    check("AA", "doc-1");
    check("BB", "supp-1");
    let _ = std::fs::remove_file(&out);
}

//! `casepol check --requests` at size: a generated policy of 1,000 rules, generated entities and
//! twelve thousand generated requests with bad lines mixed in. Every thread count gives the same
//! output and exit code as one thread, and every decision is the library's.

mod common;

use casepol::{Policy, Request};
use casepol_gen::{Population, Sizes, SEED};
use common::*;
use std::path::PathBuf;

struct Batch {
    policy: PathBuf,
    entities: PathBuf,
    requests: PathBuf,
    /// Each line of the requests file.
    lines: Vec<String>,
}

/// The generated batch, written once for all tests of this file.
fn batch() -> &'static Batch {
    static BATCH: std::sync::OnceLock<Batch> = std::sync::OnceLock::new();
    BATCH.get_or_init(write_batch)
}

/// Writes the generated policy, entities and requests, with lines that are blank, not JSON,
/// with escapes, unknown, and too long, spread over several blocks.
fn write_batch() -> Batch {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("batch");
    std::fs::create_dir_all(&dir).unwrap();
    let policy = casepol_gen::Policy::generate(1_000, SEED).unwrap();
    let sizes = Sizes {
        users: 300,
        cases: 300,
        documents_per_case: 2,
    };
    let population = Population::generate(&policy, sizes, SEED);
    let mut lines: Vec<String> = population
        .requests(12_000, SEED)
        .iter()
        .map(|r| r.to_json())
        .collect();
    let odd = [
        String::new(),
        "   ".into(),
        r#"{"principal": "hr", "action": "access", "resource": "#.into(),
        r#"{"principal": "nobody", "action": "access", "resource": "d1"}"#.into(),
        r#"{"principal": "h\u0072", "action": "access", "resource": "probe-start-doc"}"#.into(),
        r#"{"principal": "hr", "action": "access", "resource": "probe-start-doc", "context": {}}"#
            .into(),
        r#"{"principal": "hr", "action": "access", "resource": "d1", "resource": "d2"}"#.into(),
        r#"{"principal": "hr", "action": "billing"}"#.into(),
        format!(
            r#"{{"principal": "hr", "action": "access", "resource": "{}"}}"#,
            "x".repeat(70_000)
        ),
    ];
    for (i, line) in odd.iter().enumerate() {
        for k in 0..5 {
            let at = (i * 977 + k * 4099) % lines.len();
            lines.insert(at, line.clone());
        }
    }
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    Batch {
        policy: write("policy.casepol", &policy.to_casepol()),
        entities: write("entities.json", &population.to_json(&policy)),
        requests: write("requests.jsonl", &(lines.join("\n") + "\n")),
        lines,
    }
}

fn run(b: &Batch, format: &str, threads: &str) -> Run {
    casepol(&[
        "check",
        b.policy.to_str().unwrap(),
        "--entities",
        b.entities.to_str().unwrap(),
        "--requests",
        b.requests.to_str().unwrap(),
        "--format",
        format,
        "--threads",
        threads,
    ])
}

#[test]
fn threads_give_the_same_output_in_input_order() {
    let b = batch();
    for format in ["json", "human"] {
        let one = run(b, format, "1");
        assert_eq!(one.code, ERROR, "the batch holds bad lines: {}", one.stderr);
        assert_eq!(one.stderr, "");
        let non_blank = b.lines.iter().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(one.stdout.lines().count(), non_blank);
        let counts: &[&str] = if format == "json" {
            &["2", "5"]
        } else {
            &["3"]
        };
        for &threads in counts {
            let many = run(b, format, threads);
            assert_eq!(many.code, one.code, "--threads {threads}");
            assert_eq!(many.stderr, one.stderr, "--threads {threads}");
            assert!(
                many.stdout == one.stdout,
                "--format {format} --threads {threads} differs from one thread"
            );
        }
    }
}

/// Every decided line is what the library decides for the request, parsed by serde: the
/// command line's own fast reading of requests changes nothing.
#[test]
fn every_decision_is_the_librarys() {
    let b = batch();
    let policy = Policy::from_source(
        "policy.casepol",
        &std::fs::read_to_string(&b.policy).unwrap(),
    )
    .unwrap();
    let entities = policy
        .load_entities(&std::fs::read_to_string(&b.entities).unwrap())
        .unwrap();
    let out = run(b, "json", "2").json_lines();
    let mut checked = 0;
    for result in &out {
        let n = result["line"].as_u64().unwrap() as usize;
        let line = &b.lines[n - 1];
        if line.len() > casepol::limits::MAX_REQUEST_BYTES {
            assert_eq!(result["error"]["kind"], "invalid_request", "line {n}");
            continue;
        }
        let Ok(req) = serde_json::from_str::<Request>(line) else {
            assert_eq!(result["error"]["kind"], "invalid_request", "line {n}");
            continue;
        };
        let expected = match policy.resolve(&entities, &req) {
            Ok(r) => policy.decide(&entities, &r),
            Err(e) => {
                assert_eq!(
                    result["error"]["kind"],
                    serde_json::json!(e.kind),
                    "line {n}"
                );
                continue;
            }
        };
        let got = (&result["decision"], &result["layer"], &result["reason"]);
        let want = (
            &serde_json::json!(if expected.allowed { "allow" } else { "deny" }),
            &serde_json::json!(expected.layer),
            &serde_json::json!(expected.reason),
        );
        assert_eq!(got, want, "line {n}: {line}");
        checked += 1;
    }
    assert!(checked > 11_000, "only {checked} decisions checked");
}

#[test]
fn threads_must_be_a_positive_count_and_need_a_batch() {
    let base = [
        "check",
        "policies/efob",
        "--entities",
        "policies/efob/entities.json",
    ];
    let run = expect(
        &[
            &base[..],
            &[
                "--requests",
                "tests/data/cli/requests_ok.jsonl",
                "--threads",
                "0",
            ],
        ]
        .concat(),
        ERROR,
    );
    assert!(run.stdout.is_empty());
    insta::assert_snapshot!("threads_zero", run.transcript());
    let run = expect(
        &[
            &base[..],
            &[
                "--request",
                r#"{"principal": "hanna", "action": "edit", "resource": "case-review"}"#,
                "--threads",
                "2",
            ],
        ]
        .concat(),
        ERROR,
    );
    insta::assert_snapshot!("threads_without_requests", run.transcript());
}

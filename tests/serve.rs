//! `casepol serve`, started by each test as a child process on a free loopback port: the same
//! decisions as the library for every request of every example's test files (one by one, in a
//! batch, and explained); policy reloads and change sets under load, where every answer comes
//! whole from one (policy, snapshot) pair; the event stream, a subscriber that falls behind,
//! the bearer token, the decision log, the metrics, graceful shutdown, and the OpenAPI
//! document it serves. Malformed and oversized requests are in `tests/serve_bad.rs`.

#![cfg(feature = "serve")]

#[allow(dead_code)]
#[path = "serve/client.rs"]
mod client;

use casepol::live::{self, ChangeSet, Snapshot};
use casepol::{Entities, Policy, Request};
use client::{Conn, Server};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory of its own under the target directory, emptied.
fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target").join("serve-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One example test file: its policy, its entities file (inline entities written out), and its
/// requests.
struct Example {
    name: String,
    policy: PathBuf,
    entities: PathBuf,
    requests: Vec<Value>,
}

fn examples() -> Vec<Example> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".test.json"))
            .collect();
        files.sort();
        for file in files {
            let test: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let name = format!("{}-{name}", dir.file_name().unwrap().to_string_lossy());
            let policy = match test.get("policy").and_then(Value::as_str) {
                Some(p) => dir.join(p),
                None => dir.clone(),
            };
            let entities = match &test["entities"] {
                Value::String(p) => dir.join(p),
                inline => {
                    let path = scratch(&format!("entities-{name}")).join("entities.json");
                    std::fs::write(&path, inline.to_string()).unwrap();
                    path
                }
            };
            let requests = test["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["request"].clone())
                .collect();
            out.push(Example {
                name,
                policy,
                entities,
                requests,
            });
        }
    }
    out
}

/// The library's decision as the server writes it: decision, layer, reason and error kind.
fn library(policy: &Policy, entities: &Entities, request: &Value) -> Value {
    let req: Request = serde_json::from_value(request.clone()).unwrap();
    let r = policy.authorize(entities, &req);
    json!({
        "decision": if r.decision.allowed { "allow" } else { "deny" },
        "layer": r.decision.layer,
        "reason": r.decision.reason,
        "error": r.error.map(|e| e.kind),
    })
}

/// The same fields of a server's result.
fn served(result: &Value) -> Value {
    json!({
        "decision": result["decision"],
        "layer": result["layer"],
        "reason": result["reason"],
        "error": result.get("error").map_or(Value::Null, |e| e["kind"].clone()),
    })
}

#[test]
fn every_example_request_gets_the_librarys_decision() {
    let mut compared = 0;
    let mut allowed = 0;
    let examples = examples();
    assert!(examples.len() >= 6, "the examples: {}", examples.len());
    for ex in &examples {
        let policy = Policy::from_path(&ex.policy).unwrap();
        let entities = policy.load_entities_from_path(&ex.entities).unwrap();
        let server = Server::start(&ex.policy, &ex.entities, &[], &[]);
        let mut conn = server.connect();
        let expected: Vec<Value> = ex
            .requests
            .iter()
            .map(|r| library(&policy, &entities, r))
            .collect();
        // One by one, and explained.
        for (request, want) in ex.requests.iter().zip(&expected) {
            let reply = conn.post("/v1/check", &request.to_string());
            assert_eq!(
                reply.status,
                200,
                "{}: {request}: {}",
                ex.name,
                reply.text()
            );
            let got = reply.json();
            assert_eq!(served(&got), *want, "{}: {request}", ex.name);
            assert_eq!(got["version"], 1);
            assert!(got["policy_hash"].as_str().unwrap().starts_with("sha256:"));
            let explained = conn.post("/v1/explain", &request.to_string()).json();
            assert_eq!(
                explained["decision"]["allowed"],
                json!(want["decision"] == "allow"),
                "{}: explain {request}",
                ex.name
            );
            assert_eq!(explained["decision"]["layer"], want["layer"]);
            compared += 1;
            allowed += usize::from(want["decision"] == "allow");
        }
        // All at once.
        let batch = json!({ "requests": ex.requests });
        let reply = conn.post("/v1/check", &batch.to_string()).json();
        let results: Vec<Value> = reply["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(served)
            .collect();
        assert_eq!(results, expected, "{}: the batch", ex.name);
    }
    assert!(compared >= 100, "only {compared} requests compared");
    assert!(
        allowed >= 20 && allowed < compared,
        "{allowed} of {compared} allowed"
    );
}

/// The server's answer without its envelope (`policy_hash`, `version`).
fn unwrapped(mut answer: Value) -> Value {
    let map = answer.as_object_mut().unwrap();
    assert!(map.remove("policy_hash").is_some(), "{map:?}");
    assert!(map.remove("version").is_some(), "{map:?}");
    answer
}

/// What the command prints for `args`, as JSON values (one per line, or the whole output).
fn command(args: &[&str]) -> Vec<Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_casepol"))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    match serde_json::from_str(&text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect(),
    }
}

/// Every endpoint answers what its command prints with `--format json`, for the first requests
/// of every example's test files: check, explain, actions, who-can, list (a page of 3, which
/// `list --limit 3` prints as lines) and filter.
#[test]
fn every_endpoint_answers_what_its_command_prints() {
    let mut compared = std::collections::BTreeMap::<&str, usize>::new();
    for ex in examples() {
        let server = Server::start(&ex.policy, &ex.entities, &[], &[]);
        let mut conn = server.connect();
        let (policy, entities) = (ex.policy.to_str().unwrap(), ex.entities.to_str().unwrap());
        // The command line: `cmd POLICY --entities E`, the flags, and `--module M` if any.
        for request in ex.requests.iter().take(4) {
            // The request's context, if it gives one: the queries are asked in it both ways.
            let context = request.get("context").map(Value::to_string);
            let cli = |cmd: &str, flags: &[&str], module: Option<&str>| -> Vec<Value> {
                let mut args = vec![cmd, policy, "--entities", entities];
                args.extend(flags);
                if let Some(m) = module {
                    args.extend(["--module", m]);
                }
                if let (Some(c), false) = (&context, matches!(cmd, "check" | "explain")) {
                    args.extend(["--context", c]);
                }
                command(&args)
            };
            let asked = |mut body: Value| -> String {
                if let Some(c) = request.get("context") {
                    body["context"] = c.clone();
                }
                body.to_string()
            };
            let field = |k: &str| request.get(k).and_then(Value::as_str);
            let (Some(principal), Some(action), Some(resource)) =
                (field("principal"), field("action"), field("resource"))
            else {
                continue;
            };
            let module = field("module");
            let what = format!("{}: {request}", ex.name);
            let text = request.to_string();
            let json = ["--format", "json"];
            let reply = conn.post("/v1/check", &text).json();
            let flags = [&json[..], &["--request", &text]].concat();
            assert_eq!(
                cli("check", &flags, None),
                [unwrapped(reply)],
                "check {what}"
            );
            let reply = conn.post("/v1/explain", &text).json();
            assert_eq!(
                cli("explain", &flags, None),
                [unwrapped(reply)],
                "explain {what}"
            );
            let body = json!({"principal": principal, "resource": resource, "module": module});
            let reply = conn.post("/v1/actions", &asked(body));
            if reply.status == 200 {
                let flags = [
                    &json[..],
                    &["--principal", principal, "--resource", resource],
                ]
                .concat();
                assert_eq!(
                    cli("actions", &flags, module),
                    [unwrapped(reply.json())],
                    "actions {what}"
                );
                *compared.entry("actions").or_default() += 1;
            }
            let body = json!({"action": action, "resource": resource, "module": module});
            let reply = conn.post("/v1/who-can", &asked(body));
            if reply.status == 200 {
                let flags = [&json[..], &["--action", action, "--resource", resource]].concat();
                assert_eq!(
                    cli("who-can", &flags, module),
                    [unwrapped(reply.json())],
                    "who-can {what}"
                );
                *compared.entry("who-can").or_default() += 1;
                if context.is_some() {
                    *compared.entry("in a context").or_default() += 1;
                }
            }
            let body =
                json!({"principal": principal, "action": action, "module": module, "limit": 3});
            let reply = conn.post("/v1/list", &asked(body));
            if reply.status == 200 {
                let page = unwrapped(reply.json());
                let mut lines: Vec<Value> = page["resources"].as_array().unwrap().clone();
                lines.push(json!({"next": page["next"]}));
                for note in page
                    .get("notes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    lines.push(json!({"note": note}));
                }
                let flags = ["--principal", principal, "--action", action, "--limit", "3"];
                assert_eq!(cli("list", &flags, module), lines, "list {what}");
                *compared.entry("list").or_default() += 1;
            }
            let body = json!({"principal": principal, "action": action, "module": module, "dialect": "postgres"});
            let reply = conn.post("/v1/filter", &asked(body));
            if reply.status == 200 {
                let flags = [
                    &json[..],
                    &[
                        "--principal",
                        principal,
                        "--action",
                        action,
                        "--dialect",
                        "postgres",
                    ],
                ]
                .concat();
                assert_eq!(
                    cli("filter", &flags, module),
                    [unwrapped(reply.json())],
                    "filter {what}"
                );
                *compared.entry("filter").or_default() += 1;
            }
            *compared.entry("check, explain").or_default() += 1;
        }
    }
    assert_eq!(compared.len(), 6, "{compared:?}");
    assert!(compared.values().all(|&n| n >= 2), "{compared:?}");
    assert!(
        compared
            .iter()
            .all(|(k, &n)| *k == "in a context" || n >= 15),
        "{compared:?}"
    );
}

/// `efob` with one table cell changed: `Start × HR` no longer grants `access`.
fn efob_variant() -> (String, String) {
    let a = std::fs::read_to_string(root().join("policies/efob/policy.casepol")).unwrap();
    let from = "Start           | -access -edit | +access +edit |";
    assert!(a.contains(from), "the efob table row to change is there");
    let b = a.replacen(from, "Start           | -access -edit | +edit         |", 1);
    (a, b)
}

fn sha256_of(text: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[test]
fn reload_under_load_answers_every_request_from_one_policy_whole() {
    let dir = scratch("reload");
    let (a, b) = efob_variant();
    let path = dir.join("policy.casepol");
    std::fs::write(&path, &a).unwrap();
    let entities = root().join("policies/efob/entities.json");
    let requests: Vec<Value> = examples()
        .into_iter()
        .find(|e| e.name == "efob-policy.test.json")
        .unwrap()
        .requests;
    let expect = |text: &str| -> Vec<Value> {
        let policy = Policy::from_source("policy.casepol", text).unwrap();
        let entities = policy.load_entities_from_path(&entities).unwrap();
        requests
            .iter()
            .map(|r| library(&policy, &entities, r))
            .collect()
    };
    let (want_a, want_b) = (expect(&a), expect(&b));
    let differ = want_a.iter().zip(&want_b).filter(|(x, y)| x != y).count();
    assert!(
        differ >= 1,
        "the two policies decide some request differently"
    );
    let (hash_a, hash_b) = (sha256_of(&a), sha256_of(&b));
    let server = Server::start(&path, &entities, &[], &[]);
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let batch = json!({ "requests": requests }).to_string();
    let reader = {
        let (done, seen, addr) = (done.clone(), seen.clone(), server.addr);
        let (hash_a, hash_b) = (hash_a.clone(), hash_b.clone());
        std::thread::spawn(move || {
            let mut conn = Conn::new(addr);
            let mut answered = 0;
            while !done.load(Ordering::Relaxed) || answered < 10 {
                let reply = conn.post("/v1/check", &batch);
                assert_eq!(reply.status, 200, "{}", reply.text());
                let got = reply.json();
                let results: Vec<Value> = got["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(served)
                    .collect();
                let hash = got["policy_hash"].as_str().unwrap();
                assert_eq!(Some(hash), reply.header("casepol-policy-hash"));
                if hash == hash_a {
                    assert_eq!(results, want_a, "an answer of policy A, whole");
                    seen[0].fetch_add(1, Ordering::Relaxed);
                } else {
                    assert_eq!(hash, hash_b);
                    assert_eq!(results, want_b, "an answer of policy B, whole");
                    seen[1].fetch_add(1, Ordering::Relaxed);
                }
                answered += 1;
            }
            answered
        })
    };
    let mut conn = server.connect();
    for i in 0..100 {
        let text = if i % 2 == 0 { &b } else { &a };
        let reply = conn
            .request("PUT", "/v1/policy", &[], text.as_bytes())
            .unwrap();
        assert_eq!(reply.status, 200, "reload {i}: {}", reply.text());
        assert_eq!(reply.json()["version"], 1, "a reload keeps the version");
    }
    done.store(true, Ordering::Relaxed);
    let answered = reader.join().expect("the reader saw no failure");
    let metrics = conn.get("/metrics").text();
    assert!(
        metrics.contains("casepol_reloads_total{result=\"ok\"} 100"),
        "{metrics}"
    );
    let (a_seen, b_seen) = (
        seen[0].load(Ordering::Relaxed),
        seen[1].load(Ordering::Relaxed),
    );
    assert!(answered >= 10 && a_seen + b_seen == answered);
    assert!(
        a_seen > 0 && b_seen > 0,
        "answers from both: {a_seen} and {b_seen}"
    );
}

/// Two states of the WorkZone world, a change set of two changes from each to the other, and
/// requests whose decisions differ between them.
struct Flip {
    there: String,
    back: String,
}

fn workzone_flip() -> Flip {
    Flip {
        there: json!({"changes": [
            {"op": "set_code", "resource": "case-1", "read": "FIN"},
            {"op": "remove_group", "user": "BB", "group": "Employees"}
        ]})
        .to_string(),
        back: json!({"changes": [
            {"op": "add_group", "user": "BB", "group": "Employees"},
            {"op": "set_code", "resource": "case-1", "read": "PERS"}
        ]})
        .to_string(),
    }
}

#[test]
fn change_sets_under_load_are_seen_whole_or_not_at_all() {
    let dir = root().join("policies/workzone");
    let (policy_path, entities_path) = (dir.clone(), dir.join("entities.json"));
    let policy = Policy::from_path(&policy_path).unwrap();
    let requests: Vec<Value> = examples()
        .into_iter()
        .find(|e| e.name == "workzone-policy.test.json")
        .unwrap()
        .requests;
    let flip = workzone_flip();
    // The expected answers of each state, from the library.
    let start = Snapshot::new(policy.load_entities_from_path(&entities_path).unwrap());
    let there = live::apply(&policy, &start, &ChangeSet::from_json(&flip.there).unwrap())
        .unwrap()
        .snapshot;
    let back = live::apply(&policy, &there, &ChangeSet::from_json(&flip.back).unwrap())
        .unwrap()
        .snapshot;
    let decide = |s: &Snapshot| -> Vec<Value> {
        requests
            .iter()
            .map(|r| library(&policy, s.entities(), r))
            .collect()
    };
    let (want_start, want_there) = (decide(&start), decide(&there));
    assert_eq!(decide(&back), want_start, "the flip goes back");
    // Each change alone would give other answers: a half-applied change set shows.
    let half = live::apply(
        &policy,
        &start,
        &ChangeSet::from_json(
            &json!({"changes": [{"op": "set_code", "resource": "case-1", "read": "FIN"}]})
                .to_string(),
        )
        .unwrap(),
    )
    .unwrap()
    .snapshot;
    assert_ne!(decide(&half), want_start);
    assert_ne!(decide(&half), want_there);

    let server = Server::start(&policy_path, &entities_path, &[], &[]);
    let done = Arc::new(AtomicBool::new(false));
    let batch = json!({ "requests": requests }).to_string();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (done, addr, batch) = (done.clone(), server.addr, batch.clone());
            let (want_start, want_there) = (want_start.clone(), want_there.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::new(addr);
                let mut answered = 0;
                while !done.load(Ordering::Relaxed) || answered < 10 {
                    let got = conn.post("/v1/check", &batch).json();
                    let version = got["version"].as_u64().unwrap();
                    let results: Vec<Value> = got["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(served)
                        .collect();
                    // Odd versions are the start state, even ones the other.
                    let want = if version % 2 == 1 {
                        &want_start
                    } else {
                        &want_there
                    };
                    assert_eq!(&results, want, "version {version}, whole");
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let mut conn = server.connect();
    for i in 0..100u64 {
        let body = if i % 2 == 0 { &flip.there } else { &flip.back };
        let reply = conn.post("/v1/changes", body);
        assert_eq!(reply.status, 200, "change set {i}: {}", reply.text());
        let got = reply.json();
        assert_eq!(got["version"], json!(i + 2));
        assert!(!got["events"].as_array().unwrap().is_empty());
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("no reader saw half a change set") >= 10);
    }
}

#[test]
fn events_stream_change_sets_and_tell_a_slow_subscriber_it_lagged() {
    let dir = root().join("policies/workzone");
    let server = Server::start(&dir, &dir.join("entities.json"), &[], &[]);
    let flip = workzone_flip();
    // A subscriber that reads.
    let mut events = server.connect();
    assert_eq!(events.events(), 200);
    let mut pending = String::new();
    let (event, id, data) = events.next_event(&mut pending).unwrap();
    assert_eq!((event.as_str(), id), ("ready", Some(1)));
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["version"], 1);
    // A subscriber that does not read.
    let mut slow = server.connect();
    assert_eq!(slow.events(), 200);
    let mut conn = server.connect();
    let answer = conn.post("/v1/changes", &flip.there).json();
    let (event, id, data) = events.next_event(&mut pending).unwrap();
    assert_eq!((event.as_str(), id), ("changes", Some(2)));
    let data: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["events"], answer["events"], "the event is the answer");
    assert_eq!(data["policy_hash"], answer["policy_hash"]);
    // The reader keeps reading while writers go on; the slow subscriber reads nothing, and
    // past the buffer (1,024 change sets, and what the sockets hold) it misses some.
    let n = 3_000u64;
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        while let Some((e, id, _)) = events.next_event(&mut pending) {
            assert_eq!(e, "changes", "the reading subscriber never lags");
            got.push(id.unwrap());
            if id == Some(n + 1) {
                break;
            }
        }
        got
    });
    let started = Instant::now();
    for i in 1..n {
        let body = if i % 2 == 0 { &flip.there } else { &flip.back };
        assert_eq!(conn.post("/v1/changes", body).status, 200);
    }
    let took = started.elapsed();
    let got = reader.join().unwrap();
    assert_eq!(
        got,
        (3..=n + 1).collect::<Vec<u64>>(),
        "every change set, in order"
    );
    let mut slow_pending = String::new();
    let mut lagged = 0;
    let mut last = 0;
    slow.set_timeout(Duration::from_secs(30));
    while last < n + 1 {
        match slow.next_event(&mut slow_pending) {
            Some((e, _, data)) if e == "lagged" => {
                lagged += serde_json::from_str::<Value>(&data).unwrap()["missed"]
                    .as_u64()
                    .unwrap();
            }
            Some((e, id, _)) if e == "changes" => last = id.unwrap(),
            Some((e, _, _)) if e == "ready" => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(lagged > 0, "the slow subscriber was told it lagged");
    let metrics = conn.get("/metrics").text();
    assert!(
        metrics.contains(&format!("casepol_events_lagged_total {lagged}")),
        "{metrics}"
    );
    assert!(
        took < Duration::from_secs(120),
        "writers were not held up: {took:?}"
    );
}

#[test]
fn the_write_endpoints_need_the_token_when_one_is_set() {
    let dir = root().join("policies/workzone");
    let entities = dir.join("entities.json");
    let flip = workzone_flip();
    let token_file = scratch("token").join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    for (args, env) in [
        (vec!["--token-file", token_file.to_str().unwrap()], vec![]),
        (vec![], vec![("CASEPOL_TOKEN", "s3cret-token")]),
    ] {
        let server = Server::start(&dir, &entities, &args, &env);
        let mut conn = server.connect();
        for (headers, status) in [
            (vec![], 401),
            (vec![("authorization", "Bearer wrong-token!")], 401),
            (vec![("authorization", "Basic s3cret-token")], 401),
            (vec![("authorization", "Bearer s3cret-token")], 200),
        ] {
            let reply = conn
                .request("POST", "/v1/changes", &headers, flip.there.as_bytes())
                .unwrap();
            assert_eq!(reply.status, status, "{headers:?}: {}", reply.text());
            if status == 401 {
                assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
                assert_eq!(reply.json()["error"]["kind"], "unauthorized");
            }
            let policy = std::fs::read(dir.join("policy.casepol")).unwrap();
            let reply = conn
                .request("PUT", "/v1/policy", &headers, &policy)
                .unwrap();
            assert_eq!(reply.status, status, "PUT {headers:?}: {}", reply.text());
        }
        // Reading needs no token.
        let reply = conn.post(
            "/v1/check",
            r#"{"principal": "BB", "action": "view", "resource": "case-1"}"#,
        );
        assert_eq!(reply.status, 200);
    }
    // The token is never a flag.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_casepol"))
        .args(["serve", "p", "--entities", "e", "--token", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Both ways at once is an error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_casepol"))
        .arg("serve")
        .arg(&dir)
        .arg("--entities")
        .arg(&entities)
        .arg("--token-file")
        .arg(&token_file)
        .env("CASEPOL_TOKEN", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give it one way"));
}

#[test]
fn the_decision_log_and_the_metrics_count_what_was_decided() {
    let dir = root().join("policies/workzone");
    let log = scratch("log").join("decisions.jsonl");
    let mut server = Server::start(
        &dir,
        &dir.join("entities.json"),
        &["--decision-log", log.to_str().unwrap()],
        &[],
    );
    let mut conn = server.connect();
    let allow = r#"{"principal": "BB", "action": "view", "resource": "case-1"}"#;
    let deny = r#"{"principal": "AA", "action": "view", "resource": "supp-1"}"#;
    let error = r#"{"principal": "nobody", "action": "view", "resource": "case-1"}"#;
    for body in [allow, deny, error] {
        assert_eq!(conn.post("/v1/check", body).status, 200);
    }
    let batch = format!(r#"{{"requests": [{allow}, {deny}, {{"principal": 1}}]}}"#);
    assert_eq!(conn.post("/v1/check", &batch).status, 200);
    let metrics = conn.get("/metrics").text();
    for line in [
        "casepol_decisions_total{result=\"allow\"} 2",
        "casepol_decisions_total{result=\"deny\"} 2",
        "casepol_decisions_total{result=\"error\"} 2",
        "casepol_request_duration_seconds_count{endpoint=\"check\"} 4",
        "casepol_responses_total{endpoint=\"check\",code=\"2xx\"} 4",
        "casepol_snapshot_version 1",
        "casepol_decision_log_dropped_total 0",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    assert!(metrics
        .contains("casepol_request_duration_seconds_bucket{endpoint=\"check\",le=\"+Inf\"} 4"));
    assert_eq!(server.stop().code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The invalid request of the batch was not a request, so it is not logged.
    assert_eq!(lines.len(), 5, "{text}");
    let first = &lines[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "decision",
            "latency_us",
            "layer",
            "policy_hash",
            "reason",
            "request",
            "time",
            "version"
        ]
    );
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["request"]["principal"], "BB");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[2]["error"]["kind"], "unknown_principal");
    assert!(
        text.starts_with("{\"time\":"),
        "fields in their order: {text}"
    );
}

#[test]
fn decision_log_lines_that_cannot_be_written_are_counted_as_dropped() {
    let dir = root().join("policies/workzone");
    let server = Server::start(
        &dir,
        &dir.join("entities.json"),
        &["--decision-log", "/dev/full"],
        &[],
    );
    let mut conn = server.connect();
    let request = r#"{"principal": "BB", "action": "view", "resource": "case-1"}"#;
    for _ in 0..3 {
        assert_eq!(conn.post("/v1/check", request).json()["decision"], "allow");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = conn.get("/metrics").text();
        if metrics.contains("casepol_decision_log_dropped_total 3") {
            assert!(
                metrics.contains("casepol_decision_log_written_total 0"),
                "{metrics}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn shutdown_finishes_the_requests_in_flight() {
    let dir = root().join("policies/workzone");
    let mut server = Server::start(&dir, &dir.join("entities.json"), &[], &[]);
    let request = r#"{"principal": "BB", "action": "view", "resource": "case-1"}"#;
    let batch = format!(
        r#"{{"requests": [{}]}}"#,
        vec![request; casepol::limits::MAX_SERVE_BATCH].join(",")
    );
    let mut events = server.connect();
    assert_eq!(events.events(), 200);
    // Half a request is in flight when SIGTERM comes; the rest follows after.
    let mut conn = server.connect();
    let head = format!(
        "POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        batch.len()
    );
    conn.send(head.as_bytes()).unwrap();
    conn.send(&batch.as_bytes()[..batch.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.terminate();
    std::thread::sleep(Duration::from_millis(200));
    conn.send(&batch.as_bytes()[batch.len() / 2..]).unwrap();
    let reply = conn.reply().expect("the request in flight is answered");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["results"].as_array().unwrap().len(),
        casepol::limits::MAX_SERVE_BATCH
    );
    // The event stream ends, and the server exits cleanly.
    let mut pending = String::new();
    assert_eq!(
        events.next_event(&mut pending).map(|e| e.0),
        Some("ready".into())
    );
    assert_eq!(events.next_event(&mut pending), None);
    assert_eq!(server.stop().code(), Some(0));
    assert!(
        Conn::try_new(server.addr).is_none(),
        "nothing listens any more"
    );
}

#[test]
fn the_openapi_document_is_the_one_in_the_repository_and_names_every_endpoint() {
    let dir = root().join("policies/workzone");
    let server = Server::start(&dir, &dir.join("entities.json"), &[], &[]);
    let mut conn = server.connect();
    let reply = conn.get("/openapi.json");
    assert_eq!(reply.status, 200);
    let kept = std::fs::read_to_string(root().join("docs/openapi.json")).unwrap();
    assert_eq!(
        reply.text(),
        kept,
        "the server serves docs/openapi.json as it is"
    );
    let doc: Value = serde_json::from_str(&kept).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let endpoints = [
        ("post", "/v1/check"),
        ("post", "/v1/explain"),
        ("post", "/v1/who-can"),
        ("post", "/v1/actions"),
        ("post", "/v1/list"),
        ("post", "/v1/filter"),
        ("post", "/v1/changes"),
        ("get", "/v1/events"),
        ("put", "/v1/policy"),
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];
    assert_eq!(paths.len(), endpoints.len(), "{:?}", paths.keys());
    for (method, path) in endpoints {
        assert!(
            paths[path].get(method).is_some(),
            "{method} {path} is in the document"
        );
        // And the server has it: any other method is 405, an unknown path 404.
        let other = if method == "get" { "DELETE" } else { "GET" };
        let reply = conn.request(other, path, &[], b"").unwrap();
        assert_eq!(reply.status, 405, "{other} {path}");
    }
    assert_eq!(conn.get("/v2/check").status, 404);
}

#[test]
fn health_and_readiness() {
    let dir = root().join("policies/workzone");
    let server = Server::start(&dir, &dir.join("entities.json"), &[], &[]);
    let mut conn = server.connect();
    for path in ["/health", "/ready"] {
        let reply = conn.get(path);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("casepol-version"), Some("1"));
        assert!(reply
            .header("casepol-policy-hash")
            .unwrap()
            .starts_with("sha256:"));
    }
    assert_eq!(conn.get("/ready").json()["status"], "ready");
}

#[test]
fn watch_reloads_a_changed_file_and_keeps_the_old_policy_on_errors() {
    let dir = scratch("watch");
    let (a, b) = efob_variant();
    let path = dir.join("policy.casepol");
    std::fs::write(&path, &a).unwrap();
    let entities = root().join("policies/efob/entities.json");
    let server = Server::start(&path, &entities, &["--watch"], &[]);
    let mut conn = server.connect();
    let hash = |conn: &mut Conn| {
        conn.get("/health")
            .header("casepol-policy-hash")
            .unwrap()
            .to_string()
    };
    assert_eq!(hash(&mut conn), sha256_of(&a));
    let wait_for = |conn: &mut Conn, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while hash(conn) != want {
            assert!(Instant::now() < deadline, "the watch reloads");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    std::fs::write(&path, &b).unwrap();
    wait_for(&mut conn, &sha256_of(&b));
    // A policy with errors is refused; B keeps serving.
    std::fs::write(&path, "role A\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("was not loaded"))
    {
        assert!(Instant::now() < deadline, "the watch reports the refusal");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(hash(&mut conn), sha256_of(&b));
    let said = server.stderr.lock().unwrap().join("\n");
    assert!(said.contains("CP0001"), "the diagnostics are shown: {said}");
    std::fs::write(&path, &a).unwrap();
    wait_for(&mut conn, &sha256_of(&a));
}

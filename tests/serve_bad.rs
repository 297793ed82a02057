//! `casepol serve` answers, snapshotted: each file of `tests/data/serve/` is one request
//! (`METHOD PATH`, header lines, a blank line, the body) sent to a server of the WorkZone
//! example, good and malformed alike; then the requests no file can hold: oversized, invalid
//! UTF-8, nested too deep, a batch over its limit, broken HTTP. Every malformed request is a 4xx
//! with the command line's words, never a 5xx and never an allow.

#![cfg(feature = "serve")]

#[allow(dead_code)]
#[path = "serve/client.rs"]
mod client;

use casepol::limits::{MAX_SERVE_BATCH, MAX_SERVE_BODY_BYTES, MAX_SERVE_JSON_DEPTH};
use client::{Reply, Server};
use std::path::Path;

/// The WorkZone example, named relative to the repository (where cargo runs the tests), so
/// that the files the answers name are the same on every machine.
fn workzone() -> Server {
    let dir = Path::new("policies/workzone");
    Server::start(dir, &dir.join("entities.json"), &[], &[])
}

/// The answer for a snapshot: status, content type, and the body as it was sent (its fields in
/// their order), with the policy hash replaced by `[hash]` so that editing the example does not
/// churn them.
fn shown(reply: &Reply) -> String {
    let hash = reply
        .header("casepol-policy-hash")
        .unwrap_or("")
        .to_string();
    let ctype = reply.header("content-type").unwrap_or("");
    let text = format!("{} {ctype}\n\n{}", reply.status, reply.text());
    match hash.is_empty() {
        true => text,
        false => text.replace(&hash, "[hash]"),
    }
}

/// What every answer must be: no 5xx, the stamp headers, and no allow on an error.
fn sane(what: &str, reply: &Reply) {
    assert!(reply.status < 500, "{what}: {}", reply.text());
    assert!(reply.header("casepol-policy-hash").is_some(), "{what}");
    assert!(reply.header("casepol-version").is_some(), "{what}");
    if reply.status >= 400 {
        let body = reply.json();
        assert!(
            body.get("decision").is_none() && body.get("results").is_none(),
            "{what}"
        );
        let error = &body["error"];
        assert!(
            error["kind"].is_string() && error["message"].is_string(),
            "{what}: {body}"
        );
    }
}

#[test]
fn every_request_file_gets_its_answer() {
    let server = workzone();
    let mut conn = server.connect();
    let mut count = 0;
    insta::glob!("data/serve/*.http", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let (method, target) = lines.next().unwrap().split_once(' ').unwrap();
        let headers: Vec<(&str, &str)> = lines
            .map(|l| l.split_once(": ").expect("a header line"))
            .collect();
        let reply = conn
            .request(method, target, &headers, body.as_bytes())
            .unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        sane(&name, &reply);
        insta::assert_snapshot!(shown(&reply));
        count += 1;
    });
    assert!(count >= 30, "{count} request files");
}

/// Sends `bytes` on a new connection and reads the answer, which may come (and the connection
/// close) before all of them were sent.
fn raw(server: &Server, bytes: &[u8]) -> Reply {
    let mut conn = server.connect();
    let sending = conn.send_in_background(bytes.to_vec());
    let reply = conn.reply().unwrap();
    drop(conn);
    let _ = sending.join();
    reply
}

#[test]
fn oversized_broken_and_deep_requests_are_4xx() {
    let server = workzone();
    let mut conn = server.connect();
    let mut answers = Vec::new();
    let mut keep = |what: &str, reply: Reply| {
        sane(what, &reply);
        answers.push(format!("--- {what}\n{}", shown(&reply)));
        reply
    };
    // A declared length over the limit is refused before the body is read.
    let head = format!(
        "POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        MAX_SERVE_BODY_BYTES + 1
    );
    let reply = keep("declared too large", raw(&server, head.as_bytes()));
    assert_eq!(reply.status, 413);
    // A chunked body that grows past the limit is cut off there.
    let mut chunked =
        b"POST /v1/check HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..=MAX_SERVE_BODY_BYTES >> 20 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let reply = keep("chunked too large", raw(&server, &chunked));
    assert_eq!(reply.status, 413);
    // Invalid UTF-8.
    let body = b"{\"principal\": \"B\xffB\", \"action\": \"view\"}";
    let reply = keep(
        "invalid UTF-8",
        conn.request("POST", "/v1/check", &[], body).unwrap(),
    );
    assert_eq!(reply.status, 400);
    // Nested past the limit, in a request's context: refused before it is parsed.
    let deep = format!(
        r#"{{"principal": "BB", "action": "view", "context": {}{}}}"#,
        "[".repeat(MAX_SERVE_JSON_DEPTH),
        "]".repeat(MAX_SERVE_JSON_DEPTH)
    );
    let reply = keep("too deep", conn.post("/v1/check", &deep));
    assert_eq!(reply.status, 400);
    // At the limit, it is read (and the context ignored).
    let at_limit = format!(
        r#"{{"principal": "BB", "action": "view", "resource": "case-1", "context": {{"a": {}{}}}}}"#,
        "[".repeat(MAX_SERVE_JSON_DEPTH - 3),
        "]".repeat(MAX_SERVE_JSON_DEPTH - 3)
    );
    let reply = conn.post("/v1/check", &at_limit);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["decision"], "allow");
    // A batch of one request more than the limit.
    let one = r#"{"principal": "BB", "action": "view", "resource": "case-1"}"#;
    let batch = format!(
        r#"{{"requests": [{}]}}"#,
        vec![one; MAX_SERVE_BATCH + 1].join(",")
    );
    let reply = keep("batch too large", conn.post("/v1/check", &batch));
    assert_eq!(reply.status, 400);
    // At the limit, every request is decided.
    let batch = format!(
        r#"{{"requests": [{}]}}"#,
        vec![one; MAX_SERVE_BATCH].join(",")
    );
    let reply = conn.post("/v1/check", &batch);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["results"].as_array().unwrap().len(),
        MAX_SERVE_BATCH
    );
    // Broken HTTP is refused by the HTTP layer (no stamp, no body to read) and the server goes on.
    for garbage in [
        &b"HELLO\r\n\r\n"[..],
        b"POST /v1/check HTTP/1.1\r\ncontent-length: x\r\n\r\n",
        b"POST /v1/check HTTP/9.9\r\n\r\n",
    ] {
        let mut c = server.connect();
        c.send(garbage).unwrap();
        if let Ok(reply) = c.reply() {
            assert!(
                (400..500).contains(&reply.status),
                "{garbage:?}: {}",
                reply.status
            );
        }
    }
    let reply = conn.post("/v1/check", one);
    assert_eq!(reply.status, 200);
    insta::assert_snapshot!(answers.join("\n"));
}

/// The questions of a policy that declares a request context (the GitHub-like example) are
/// asked in one: without it, or with a field of the wrong type, a question is a 422
/// `invalid_context`, never an answer; with it, the answer.
#[test]
fn questions_are_asked_in_the_request_context() {
    let dir = Path::new("policies/github");
    let server = Server::start(dir, &dir.join("entities.json"), &[], &[]);
    let mut conn = server.connect();
    let mut answers = Vec::new();
    for (what, body) in [
        (
            "no context",
            r#"{"action": "edit_issue", "resource": "issue-open"}"#,
        ),
        (
            "a field of the wrong type",
            r#"{"action": "edit_issue", "resource": "issue-open", "context": {"authenticated": "yes", "mfa": false}}"#,
        ),
        (
            "in a context",
            r#"{"action": "edit_issue", "resource": "issue-open", "context": {"authenticated": true, "mfa": false}}"#,
        ),
    ] {
        let reply = conn.post("/v1/who-can", body);
        sane(what, &reply);
        let expected = if what == "in a context" { 200 } else { 422 };
        assert_eq!(reply.status, expected, "{what}: {}", reply.text());
        answers.push(format!("--- {what}\n{}", shown(&reply)));
    }
    insta::assert_snapshot!(answers.join("\n"));
}

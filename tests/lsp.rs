//! `casepol lsp` driven as an editor drives it: the built binary as a child process, JSON-RPC
//! over its standard input and output. Every answer is snapshotted, with the test's folder in
//! URIs written `file:///DATA`.
//!
//! Positions are computed here from the text, in UTF-16 code units, independently of the
//! server's own mapping; the policy of `tests/data/lsp/claims/` has names after `é` and `😀` on
//! the same line, which count one and two units.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// A running server and what it sent that was not yet read.
struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    notes: Vec<Value>,
    next_id: i64,
    /// The folder whose URI prefix is written `file:///DATA` in snapshots.
    root: String,
    /// The answer to `initialize`.
    init: Value,
}

impl Client {
    fn start(root: &Path, options: Value) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_casepol"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start casepol lsp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(msg) = read_message(&mut r) {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        let mut c = Client {
            child,
            stdin,
            incoming: rx,
            notes: Vec::new(),
            next_id: 0,
            root: uri_of(root),
            init: Value::Null,
        };
        let init = c.request(
            "initialize",
            json!({ "capabilities": {}, "initializationOptions": options }),
        );
        c.init = init.get("result").cloned().expect("initialize answered");
        c.notify("initialized", json!({}));
        c
    }

    fn send(&mut self, msg: &Value) {
        let body = serde_json::to_vec(msg).expect("json");
        self.send_raw(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.send_raw(&body);
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write to the server");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn next(&mut self) -> Value {
        self.incoming
            .recv_timeout(Duration::from_secs(60))
            .expect("the server answers within a minute")
    }

    /// Sends a request and returns its whole response (`result` or `error`), keeping the
    /// notifications that came before it.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let msg = self.next();
            if msg.get("id") == Some(&json!(id)) {
                return msg;
            }
            self.notes.push(msg);
        }
    }

    fn result(&mut self, method: &str, params: Value) -> Value {
        let r = self.request(method, params);
        assert!(r.get("error").is_none(), "{method}: {r}");
        self.scrub(r.get("result").cloned().unwrap_or(Value::Null))
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Value {
        loop {
            let hit = self.notes.iter().position(|n| {
                n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri
            });
            if let Some(i) = hit {
                let n = self.notes.remove(i);
                return self.scrub(n["params"]["diagnostics"].clone());
            }
            let msg = self.next();
            self.notes.push(msg);
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "casepol", "version": 1, "text": text } }),
        );
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version },
                    "contentChanges": [{ "text": text }] }),
        );
    }

    fn scrub(&self, v: Value) -> Value {
        let text = serde_json::to_string(&v).expect("json");
        serde_json::from_str(&text.replace(&self.root, "file:///DATA")).expect("json")
    }

    /// `shutdown`, then `exit`: the server answers `null` and exits with 0.
    fn finish(mut self) {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r["result"], Value::Null, "{r}");
        self.notify("exit", Value::Null);
        let status = wait(&mut self.child);
        assert_eq!(status, Some(0));
    }
}

fn wait(child: &mut Child) -> Option<i32> {
    for _ in 0..600 {
        if let Some(s) = child.try_wait().expect("wait") {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the server did not exit");
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/lsp")
        .join(name)
}

/// The position of the `nth` (from 0) occurrence of `needle` in `text`, plus `plus`
/// characters, as (line, UTF-16 column).
fn pos(text: &str, needle: &str, nth: usize, plus: usize) -> Value {
    let at = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} in the text"))
        .0;
    let before = &text[..at];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col: usize = text[line_start..at].encode_utf16().count()
        + needle
            .chars()
            .take(plus)
            .map(char::len_utf16)
            .sum::<usize>();
    json!({ "line": line, "character": col })
}

fn at(uri: &str, position: Value) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": position })
}

/// Semantic tokens decoded into `line:col+len type modifiers text` lines.
fn decode_tokens(text: &str, tokens: &Value, legend: &Value) -> Vec<String> {
    let data: Vec<u64> = tokens["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|v| v.as_u64().expect("number"))
        .collect();
    assert_eq!(data.len() % 5, 0);
    let lines: Vec<&str> = text.lines().collect();
    let (mut line, mut col) = (0u64, 0u64);
    let mut out = Vec::new();
    for t in data.chunks(5) {
        if t[0] > 0 {
            line += t[0];
            col = t[1];
        } else {
            col += t[1];
        }
        let units: Vec<u16> = lines[line as usize].encode_utf16().collect();
        let word = String::from_utf16_lossy(&units[col as usize..(col + t[2]) as usize]);
        let ty = legend["tokenTypes"][t[3] as usize].as_str().expect("type");
        let mods: Vec<&str> = (0..2)
            .filter(|b| t[4] & (1 << b) != 0)
            .map(|b| legend["tokenModifiers"][b].as_str().expect("modifier"))
            .collect();
        out.push(format!("{}:{} {ty} {mods:?} {word}", line + 1, col + 1));
    }
    out
}

#[test]
fn one_session_answers_every_request() {
    let dir = data("claims");
    let path = dir.join("policy.casepol");
    let text = std::fs::read_to_string(&path).expect("the policy");
    let uri = uri_of(&path);
    let mut c = Client::start(&dir, Value::Null);

    // A second `initialize` is refused.
    let again = c.request("initialize", json!({ "capabilities": {} }));
    assert!(again.get("error").is_some(), "{again}");

    // didOpen with a mistake: one diagnostic, with its help.
    let wrong = text.replace("allow Investigator", "allow Investigatr");
    c.open(&uri, &wrong);
    insta::assert_json_snapshot!("did_open_with_an_error", c.diagnostics(&uri));
    // Hover over the mistake: the long explanation of CP0101.
    let hover = c.result(
        "textDocument/hover",
        at(&uri, pos(&wrong, "Investigatr:", 0, 3)),
    );
    let md = hover["contents"]["value"].as_str().expect("markdown");
    assert!(md.contains("## CP0101: undefined name"), "{md}");
    assert!(
        md.contains("**role or relation** `Investigatr`: not declared"),
        "{md}"
    );

    // didChange to the right text: the diagnostics are cleared.
    c.change(&uri, 2, &text);
    assert_eq!(c.diagnostics(&uri), json!([]));

    // Hover: after `😀` on the same line, so the column counts UTF-16 units.
    let region = pos(&text, "case.region", 0, 7);
    insta::assert_json_snapshot!(
        "hover_attribute_after_emoji",
        c.result("textDocument/hover", at(&uri, region.clone()))
    );
    insta::assert_json_snapshot!(
        "hover_variant",
        c.result("textDocument/hover", at(&uri, pos(&text, "== north", 0, 4)))
    );
    insta::assert_json_snapshot!(
        "hover_role",
        c.result(
            "textDocument/hover",
            at(&uri, pos(&text, "Adjuster: read", 0, 1))
        )
    );

    insta::assert_json_snapshot!(
        "definition_of_a_role",
        c.result(
            "textDocument/definition",
            at(&uri, pos(&text, "Adjuster: read", 0, 2))
        )
    );
    insta::assert_json_snapshot!(
        "definition_of_an_attribute_after_emoji",
        c.result("textDocument/definition", at(&uri, region.clone()))
    );

    let mut refs = at(&uri, pos(&text, "handler", 2, 0));
    refs["context"] = json!({ "includeDeclaration": true });
    insta::assert_json_snapshot!(
        "references_of_a_relation",
        c.result("textDocument/references", refs)
    );

    // Rename: a keyword is refused, a name is renamed everywhere.
    let refused = c.request(
        "textDocument/prepareRename",
        at(&uri, pos(&text, "allow", 1, 2)),
    );
    insta::assert_json_snapshot!("prepare_rename_keyword", refused["error"]);
    insta::assert_json_snapshot!(
        "prepare_rename_attribute",
        c.result("textDocument/prepareRename", at(&uri, region.clone()))
    );
    let mut rename = at(&uri, region.clone());
    rename["newName"] = json!("area");
    insta::assert_json_snapshot!("rename_attribute", c.result("textDocument/rename", rename));
    let mut bad = at(&uri, region);
    bad["newName"] = json!("case");
    let refused = c.request("textDocument/rename", bad);
    insta::assert_json_snapshot!("rename_to_keyword", refused["error"]);

    insta::assert_json_snapshot!(
        "document_symbols",
        c.result(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri } })
        )
    );

    // Completion: subjects after `allow`, actions after `:`, attributes after `case.`.
    let mut draft = text.clone();
    draft.push_str("allow \n");
    c.change(&uri, 3, &draft);
    let end = json!({ "line": draft.lines().count() - 1, "character": 6 });
    insta::assert_json_snapshot!(
        "completion_subjects",
        c.result("textDocument/completion", at(&uri, end))
    );
    draft.push_str("deny Adjuster: \n");
    c.change(&uri, 4, &draft);
    let end = json!({ "line": draft.lines().count() - 1, "character": 15 });
    insta::assert_json_snapshot!(
        "completion_actions",
        c.result("textDocument/completion", at(&uri, end))
    );
    let dotted = text.replace("case.region == north", "case.re");
    c.change(&uri, 5, &dotted);
    insta::assert_json_snapshot!(
        "completion_case_attributes",
        c.result(
            "textDocument/completion",
            at(&uri, pos(&dotted, "case.re", 0, 7))
        )
    );
    insta::assert_json_snapshot!(
        "completion_top_level",
        c.result(
            "textDocument/completion",
            at(&uri, json!({ "line": 3, "character": 0 }))
        )
    );

    // Formatting: one edit that replaces the whole text with `casepol fmt`'s.
    let messy = text.replace("allow Investigator: view;", "allow   Investigator :view ;");
    c.change(&uri, 6, &messy);
    let fmt = c.result(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(fmt[0]["newText"].as_str(), Some(text.as_str()));
    insta::assert_json_snapshot!("formatting_range", fmt[0]["range"]);

    // Semantic tokens, decoded with the legend the server announced.
    c.change(&uri, 7, &text);
    let legend = c.init["capabilities"]["semanticTokensProvider"]["legend"].clone();
    let tokens = c.result(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": uri } }),
    );
    insta::assert_snapshot!(
        "semantic_tokens",
        decode_tokens(&text, &tokens, &legend).join("\n")
    );

    c.finish();
}

#[test]
fn the_announced_capabilities() {
    let c = Client::start(&data("claims"), Value::Null);
    insta::assert_json_snapshot!("capabilities", c.init);
    c.finish();
}

/// A policy of three files: opening one checks the folder, and a name used in one file is
/// declared in another.
#[test]
fn a_folder_is_one_policy() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/multi/ok/one_file_per_casetype");
    let fraud = dir.join("fraud.casepol");
    let text = std::fs::read_to_string(&fraud).expect("the file");
    let uri = uri_of(&fraud);
    let mut c = Client::start(&dir, Value::Null);
    c.open(&uri, &text);
    assert_eq!(c.diagnostics(&uri), json!([]), "the folder checks clean");
    insta::assert_json_snapshot!(
        "definition_in_another_file",
        c.result(
            "textDocument/definition",
            at(&uri, pos(&text, "Manager", 0, 1))
        )
    );
    let mut refs = at(&uri, pos(&text, "Investigator", 0, 1));
    refs["context"] = json!({ "includeDeclaration": true });
    insta::assert_json_snapshot!(
        "references_across_files",
        c.result("textDocument/references", refs)
    );
    let mut rename = at(&uri, pos(&text, "Manager", 0, 1));
    rename["newName"] = json!("Supervisor");
    let edit = c.result("textDocument/rename", rename);
    let files: Vec<&String> = edit["changes"]
        .as_object()
        .expect("changes")
        .keys()
        .collect();
    assert_eq!(files.len(), 3, "{edit}");

    // A mistake in the open file is reported in the other file that it breaks: renaming the
    // role here leaves the group of common.casepol granting an unknown role.
    let common = uri_of(&dir.join("common.casepol"));
    let broken = text.replace("Manager", "Managr");
    c.change(&uri, 2, &broken);
    let mine = c.diagnostics(&uri);
    assert!(mine.as_array().is_some_and(|d| !d.is_empty()), "{mine}");
    assert_eq!(c.diagnostics(&common), json!([]));

    // With `singleFile`, the same file alone knows none of the names of the others.
    let mut alone = Client::start(&dir, json!({ "singleFile": true }));
    alone.open(&uri, &text);
    let d = alone.diagnostics(&uri);
    assert!(d.to_string().contains("CP0101"), "{d}");
    alone.finish();
    c.finish();
}

/// Two files of a folder declare the same names: they are separate policies, each checked alone.
#[test]
fn a_folder_of_examples_is_many_policies() {
    let text = std::fs::read_to_string(data("claims").join("policy.casepol")).expect("the file");
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lsp_examples");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("a folder");
    std::fs::write(tmp.join("a.casepol"), &text).expect("write");
    std::fs::write(tmp.join("b.casepol"), &text).expect("write");
    let mut c = Client::start(&tmp, Value::Null);
    let a = uri_of(&tmp.join("a.casepol"));
    c.open(&a, &text);
    assert_eq!(
        c.diagnostics(&a),
        json!([]),
        "checked alone, not with b.casepol"
    );
    c.finish();
}

/// Whatever it is sent, the server answers and goes on: every syntax-error and bad-input
/// policy of the repository, each request at positions inside and past the text, requests for
/// documents never opened, malformed and oversized messages.
#[test]
fn never_breaks_on_bad_input() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files = Vec::new();
    for sub in [
        "syntax",
        "check/err",
        "lint",
        "fuzz_regressions/parse",
        "format",
    ] {
        collect(&root.join(sub), &mut files);
    }
    // Guards against reading nothing: the syntax fixtures alone are one per grammar rule.
    assert!(files.len() >= 100, "only {} policies found", files.len());
    let mut c = Client::start(&root, json!({ "singleFile": true }));

    // Malformed: not JSON, and a message over the limit (skipped, never kept).
    c.send_raw(b"Content-Length: 5\r\n\r\n{{{{{");
    let huge = 34 * 1024 * 1024;
    c.send_raw(format!("Content-Length: {huge}\r\n\r\n").as_bytes());
    c.send_raw(&vec![b' '; huge]);
    let r = c.request(
        "textDocument/hover",
        at(
            "file:///nowhere.casepol",
            json!({"line": 0, "character": 0}),
        ),
    );
    assert!(r.get("error").is_some(), "{r}");
    let skipped = c
        .notes
        .iter()
        .filter(|n| n["method"] == "window/logMessage")
        .count();
    assert_eq!(skipped, 2, "{:?}", c.notes);

    let mut answered = 0;
    for (i, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path).expect("read");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let uri = format!("file:///bad/{i}.casepol");
        c.open(&uri, &text);
        let lines = text.lines().count() as u64;
        let positions = [(0, 0), (lines / 2, 3), (lines, 0), (lines + 5, 999)];
        for (line, character) in positions {
            let p = at(&uri, json!({ "line": line, "character": character }));
            for method in [
                "textDocument/hover",
                "textDocument/definition",
                "textDocument/completion",
                "textDocument/prepareRename",
            ] {
                c.request(method, p.clone());
                answered += 1;
            }
            let mut refs = p.clone();
            refs["context"] = json!({ "includeDeclaration": false });
            c.request("textDocument/references", refs);
            let mut rename = p.clone();
            rename["newName"] = json!("x");
            c.request("textDocument/rename", rename);
        }
        let doc = json!({ "textDocument": { "uri": uri } });
        c.request("textDocument/documentSymbol", doc.clone());
        c.request("textDocument/semanticTokens/full", doc.clone());
        let mut fmt = doc.clone();
        fmt["options"] = json!({ "tabSize": 4, "insertSpaces": true });
        c.request("textDocument/formatting", fmt);
        c.notify("textDocument/didClose", doc);
        answered += 3;
    }
    assert!(answered > 1000, "{answered}");
    c.finish();
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "casepol") {
            out.push(p);
        }
    }
}

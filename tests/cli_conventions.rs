//! The command-line conventions of issue 20 item 4: shell completions, the man page, and
//! `--color` with NO_COLOR and CLICOLOR_FORCE.
//!
//! Run as a user runs the binary, in the repository root (see `tests/common/mod.rs`). The colour
//! tests set the environment themselves, since `common::casepol` always sets NO_COLOR.

mod common;

use common::*;
use std::process::Command;

/// The subcommands, read from `casepol help` (clap's "Commands:" list), not from the source.
fn subcommands() -> Vec<String> {
    let run = expect(&["help"], OK);
    let names: Vec<String> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    // Guards against reading nothing: validate … diff, completions and man at least.
    assert!(names.len() >= 15, "too few subcommands read: {names:?}");
    for known in [
        "validate",
        "check",
        "fmt",
        "explain-code",
        "completions",
        "man",
    ] {
        assert!(
            names.iter().any(|n| n == known),
            "`{known}` missing: {names:?}"
        );
    }
    names
}

// ---- completions ----------------------------------------------------------------------------

#[test]
fn bash_completion_names_every_subcommand() {
    let run = expect(&["completions", "bash"], OK);
    assert_eq!(run.stderr, "");
    assert!(
        run.stdout.contains("complete -F _casepol"),
        "{}",
        run.stdout
    );
    for name in subcommands() {
        // Each subcommand is offered as a word after `casepol`.
        let offered = run
            .stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("opts=\""))
            .any(|l| l.split(['"', ' ']).any(|w| w == name));
        assert!(offered, "bash completion does not offer `{name}`");
    }
}

#[test]
fn every_shell_gets_a_script() {
    for (shell, marker) in [
        ("bash", "_casepol()"),
        ("zsh", "#compdef casepol"),
        ("fish", "complete -c casepol"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[casepol]"),
    ] {
        let run = expect(&["completions", shell], OK);
        assert!(run.stdout.contains(marker), "{shell}: no `{marker}`");
        assert!(
            run.stdout.contains("explain-code"),
            "{shell}: no subcommand"
        );
        assert_eq!(run.stderr, "", "{shell}");
    }
}

#[test]
fn completions_for_an_unknown_shell() {
    let run = expect(&["completions", "tcsh"], ERROR);
    insta::assert_snapshot!(run.transcript());
}

// ---- man ------------------------------------------------------------------------------------

#[test]
fn man_page() {
    let run = expect(&["man"], OK);
    assert_eq!(run.stderr, "");
    let sections: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .collect();
    assert_eq!(
        sections,
        [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "SUBCOMMANDS",
            "\"EXIT STATUS\"",
            "ENVIRONMENT",
            "VERSION"
        ]
    );
    assert!(run.stdout.contains(".TH casepol 1"));
    for name in subcommands() {
        // roff escapes `-` as `\-`.
        let roff = format!("casepol\\-{}", name.replace('-', "\\-"));
        assert!(run.stdout.contains(&roff), "the man page lacks `{roff}`");
    }
    // The version changes with every release; the rest is snapshotted.
    let page = run.stdout.replace(env!("CARGO_PKG_VERSION"), "VERSION");
    insta::assert_snapshot!(page);
}

// ---- --color --------------------------------------------------------------------------------

/// A policy with errors, so diagnostics (which are coloured) go to standard error.
const ERRORS: &str = "tests/data/cli/errors.casepol";

/// Runs `casepol` with stdout and stderr on pipes and exactly the colour variables given.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_casepol"));
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the casepol binary runs");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().expect("not killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn coloured(run: &Run) -> bool {
    assert_eq!(run.code, FAIL, "{}", run.transcript());
    assert!(
        run.stderr.contains("CP0"),
        "no diagnostics:\n{}",
        run.stderr
    );
    run.stderr.contains('\u{1b}')
}

#[test]
fn a_pipe_is_not_coloured() {
    assert!(!coloured(&run_env(&["validate", ERRORS], &[])));
}

#[test]
fn no_color_turns_colour_off() {
    assert!(!coloured(&run_env(
        &["validate", ERRORS],
        &[("NO_COLOR", "1")]
    )));
    // NO_COLOR wins over CLICOLOR_FORCE (the order clap follows for its own help).
    let both = [("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")];
    assert!(!coloured(&run_env(&["validate", ERRORS], &both)));
}

#[test]
fn clicolor_force_colours_a_pipe() {
    let forced = run_env(&["validate", ERRORS], &[("CLICOLOR_FORCE", "1")]);
    assert!(coloured(&forced));
    // The colours are the only difference.
    let plain = run_env(&["validate", ERRORS], &[]);
    assert_eq!(strip_escapes(&forced.stderr), plain.stderr);
    assert_eq!(forced.stdout, plain.stdout);
}

#[test]
fn color_never_beats_clicolor_force() {
    let env = [("CLICOLOR_FORCE", "1")];
    assert!(!coloured(&run_env(
        &["--color", "never", "validate", ERRORS],
        &env
    )));
    // The flag is global: it may follow the subcommand.
    assert!(!coloured(&run_env(
        &["validate", ERRORS, "--color", "never"],
        &env
    )));
}

#[test]
fn color_always_beats_no_color_and_a_pipe() {
    let run = run_env(
        &["validate", "--color=always", ERRORS],
        &[("NO_COLOR", "1")],
    );
    assert!(coloured(&run));
    let auto = run_env(
        &["validate", "--color", "auto", ERRORS],
        &[("NO_COLOR", "1")],
    );
    assert!(!coloured(&auto));
}

#[test]
fn color_with_a_wrong_value() {
    let run = expect(&["--color", "sometimes", "validate", ERRORS], ERROR);
    insta::assert_snapshot!(run.transcript());
}

/// `text` without its ANSI escape sequences (`ESC [ … final-byte`).
fn strip_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip `[`, parameters, and the final byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---- `-` for standard input, `fmt -`, `fmt --diff` ------------------------------------------

const POLICY: &str = "tests/data/cli/policy.casepol";
const ENTITIES: &str = "tests/data/cli/entities.json";
const DIRTY: &str = "tests/data/format/cli/dirty.casepol";
const CLEAN: &str = "tests/data/format/cli/clean.casepol";

/// Runs `casepol` as [`casepol`] does, with `input` on standard input. The input is written from
/// another thread, and a child that stops reading early (a limit) does not fail the test.
fn run_stdin(args: &[&str], input: Vec<u8>) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_casepol"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the casepol binary runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("casepol finishes");
    writer.join().expect("the writer thread ends");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().expect("not killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn file(path: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("fixture is readable")
}

fn expect_stdin(args: &[&str], input: Vec<u8>, code: i32) -> Run {
    let run = run_stdin(args, input);
    assert_eq!(run.code, code, "wrong exit code:\n{}", run.transcript());
    run
}

#[test]
fn fmt_stdin_prints_the_formatted_text() {
    let run = expect_stdin(&["fmt", "-"], file(DIRTY), OK);
    assert_eq!(run.stderr, "");
    // The same text `fmt` writes to a file, derived independently through the library.
    let text = String::from_utf8(file(DIRTY)).expect("UTF-8 fixture");
    let mut sources = casepol::diagnostic::Sources::new();
    let id = sources.add("dirty", text.clone());
    let formatted = casepol::internal::format::format_source(id, &text)
        .unwrap_or_else(|_| panic!("the fixture formats"));
    assert_ne!(formatted, text, "the fixture must need formatting");
    assert_eq!(run.stdout, formatted);
    insta::assert_snapshot!(run.transcript());
    // Formatted text is a fixed point.
    let again = expect_stdin(&["fmt", "-"], run.stdout.into_bytes(), OK);
    assert_eq!(again.stdout, formatted);
}

#[test]
fn fmt_stdin_with_syntax_errors_prints_nothing_on_stdout() {
    let run = expect_stdin(&["fmt", "-"], b"role A\nfoo".to_vec(), FAIL);
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn fmt_check_on_stdin() {
    let run = expect_stdin(&["fmt", "--check", "-"], file(DIRTY), FAIL);
    insta::assert_snapshot!(run.transcript());
    expect_stdin(&["fmt", "--check", "-"], file(CLEAN), OK);
}

#[test]
fn fmt_stdin_must_be_alone() {
    let run = expect_stdin(&["fmt", "-", CLEAN], Vec::new(), ERROR);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn fmt_diff_prints_a_unified_diff_and_changes_nothing() {
    let before = file(DIRTY);
    let run = expect(&["fmt", "--diff", DIRTY], FAIL);
    assert_eq!(file(DIRTY), before, "--diff wrote the file");
    assert!(run
        .stdout
        .starts_with(&format!("--- a/{DIRTY}\n+++ b/{DIRTY}\n@@ ")));
    // Applying the diff's `+` side in place of its `-` side gives the formatted text: each line
    // of the formatted file is a context or `+` line, in order.
    let formatted = expect_stdin(&["fmt", "-"], before, OK).stdout;
    let new_side: Vec<&str> = run
        .stdout
        .lines()
        .skip(2)
        .filter(|l| !l.starts_with('-') && !l.starts_with("@@"))
        .map(|l| &l[1..])
        .collect();
    let mut formatted_lines = formatted.lines();
    for line in &new_side {
        assert!(
            formatted_lines.any(|f| f == *line),
            "`{line}` is not in the formatted text, in order"
        );
    }
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn fmt_diff_of_a_formatted_file_is_empty() {
    let run = expect(&["fmt", "--diff", CLEAN], OK);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("1 already formatted"), "{}", run.stderr);
}

#[test]
fn fmt_diff_on_stdin() {
    let run = expect_stdin(&["fmt", "--diff", "-"], file(DIRTY), FAIL);
    assert!(run.stdout.starts_with("--- a/<stdin>\n+++ b/<stdin>\n@@ "));
}

#[test]
fn fmt_diff_conflicts_with_check_and_format() {
    expect(&["fmt", "--diff", "--check", DIRTY], ERROR);
    expect(&["fmt", "--diff", "--format", "json", DIRTY], ERROR);
}

#[test]
fn request_from_stdin() {
    let args = ["check", POLICY, "--entities", ENTITIES, "--request", "-"];
    for (fixture, code) in [
        ("tests/data/cli/request_allow.json", OK),
        ("tests/data/cli/request_deny.json", FAIL),
    ] {
        let piped = expect_stdin(&args, file(fixture), code);
        let named = expect(
            &[
                "check",
                POLICY,
                "--entities",
                ENTITIES,
                "--request",
                fixture,
            ],
            code,
        );
        assert_eq!((piped.stdout, piped.stderr), (named.stdout, named.stderr));
    }
    let explain = ["explain", POLICY, "--entities", ENTITIES, "--request", "-"];
    let piped = expect_stdin(&explain, file("tests/data/cli/request_deny.json"), FAIL);
    assert!(piped.stdout.contains("deny"), "{}", piped.stdout);
}

#[test]
fn a_malformed_request_on_stdin_is_named_so() {
    let args = ["check", POLICY, "--entities", ENTITIES, "--request", "-"];
    let run = expect_stdin(&args, b"{\"principal\": ".to_vec(), ERROR);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn requests_from_stdin() {
    let batch = "tests/data/cli/requests_mixed.jsonl";
    for threads in ["1", "3"] {
        let piped = run_stdin(
            &[
                "check",
                POLICY,
                "--entities",
                ENTITIES,
                "--requests",
                "-",
                "--threads",
                threads,
            ],
            file(batch),
        );
        let named = casepol(&[
            "check",
            POLICY,
            "--entities",
            ENTITIES,
            "--requests",
            batch,
            "--threads",
            threads,
        ]);
        assert!(named.stdout.lines().count() >= 3, "{}", named.stdout);
        assert_eq!(
            (piped.code, piped.stdout, piped.stderr),
            (named.code, named.stdout, named.stderr)
        );
    }
}

#[test]
fn entities_from_stdin() {
    let request = "tests/data/cli/request_allow.json";
    let piped = expect_stdin(
        &["check", POLICY, "--entities", "-", "--request", request],
        file(ENTITIES),
        OK,
    );
    assert_eq!(piped.stdout, "allow\n");
    let bad = expect_stdin(
        &["check", POLICY, "--entities", "-", "--request", request],
        file("tests/data/cli/bad_entities.json"),
        ERROR,
    );
    assert!(
        bad.stderr.contains("problem(s) in entities file `-`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn stdin_is_read_once() {
    let run = expect_stdin(
        &["check", POLICY, "--entities", "-", "--request", "-"],
        file(ENTITIES),
        ERROR,
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn stdin_obeys_the_file_limits() {
    // One byte over the request limit (docs/limits.md: 64 KiB), as for a request file.
    let limit = casepol::limits::MAX_REQUEST_BYTES;
    let mut big = b"{\"principal\": \"".to_vec();
    big.resize(limit + 1, b'a');
    let args = ["check", POLICY, "--entities", ENTITIES, "--request", "-"];
    let run = expect_stdin(&args, big, ERROR);
    assert_eq!(
        run.stderr,
        "error: standard input is more than the limit of 64 KiB for a request\n"
    );
    // Exactly at the limit, the text is read (and is then a malformed request).
    let mut at = b"{\"principal\": \"".to_vec();
    at.resize(limit, b'a');
    let run = expect_stdin(&args, at, ERROR);
    assert!(
        run.stderr.contains("invalid request in standard input"),
        "{}",
        run.stderr
    );
    // A policy file on stdin: 16 MiB (MAX_POLICY_FILE_BYTES), one byte over.
    let policy_limit = casepol::limits::MAX_POLICY_FILE_BYTES;
    let run = expect_stdin(&["fmt", "-"], vec![b' '; policy_limit + 1], ERROR);
    assert_eq!(
        run.stderr,
        "error: standard input is more than the limit of 16 MiB for a policy file\n"
    );
}

#[test]
fn stdin_must_be_utf8() {
    let run = expect_stdin(&["fmt", "-"], b"role A;\nrole \xff;\n".to_vec(), ERROR);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn policy_from_stdin() {
    let request = "tests/data/cli/request_allow.json";
    let piped = expect_stdin(
        &["check", "-", "--entities", ENTITIES, "--request", request],
        file(POLICY),
        OK,
    );
    assert_eq!(piped.stdout, "allow\n");
    // Diagnostics name standard input `<stdin>`.
    let run = expect_stdin(
        &["validate", "-"],
        file("tests/data/cli/errors.casepol"),
        FAIL,
    );
    insta::assert_snapshot!(run.transcript());
    let named = expect(&["validate", "tests/data/cli/errors.casepol"], FAIL);
    assert_eq!(
        run.stderr
            .replace("<stdin>", "tests/data/cli/errors.casepol"),
        named.stderr
    );
}

#[test]
fn every_entities_option_takes_stdin() {
    let q = "tests/data/cli/request_allow.json";
    let req: serde_json::Value =
        serde_json::from_slice(&file(q)).expect("the request fixture is JSON");
    let (user, action, resource) = (
        req["principal"].as_str().expect("principal"),
        req["action"].as_str().expect("action"),
        req["resource"].as_str().expect("resource"),
    );
    let commands: [Vec<&str>; 3] = [
        vec![
            "who-can",
            POLICY,
            "--action",
            action,
            "--resource",
            resource,
        ],
        vec![
            "actions",
            POLICY,
            "--principal",
            user,
            "--resource",
            resource,
        ],
        vec!["list", POLICY, "--principal", user, "--action", action],
    ];
    for args in commands {
        let mut named = args.clone();
        named.extend(["--entities", ENTITIES]);
        let mut piped = args.clone();
        piped.extend(["--entities", "-"]);
        let by_name = expect(&named, OK);
        let by_pipe = expect_stdin(&piped, file(ENTITIES), OK);
        assert!(!by_name.stdout.is_empty(), "{}", by_name.transcript());
        assert_eq!(by_pipe.stdout, by_name.stdout, "{}", args[0]);
    }
}

// ---- a batch answers as it reads ------------------------------------------------------------

/// `check --requests -` is a co-process: each request line written to its standard input is
/// answered on standard output before the next is sent and before standard input is closed.
/// A reader thread and a timeout make a batch that waits for the end of its input fail the
/// test instead of hanging it.
#[test]
fn a_batch_on_a_pipe_answers_each_line_as_it_comes() {
    use std::io::{BufRead, Write};
    use std::process::Stdio;
    use std::time::Duration;
    for (threads, format) in [("1", "human"), ("2", "json")] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_casepol"))
            .args([
                "check",
                POLICY,
                "--entities",
                ENTITIES,
                "--requests",
                "-",
                "--threads",
                threads,
                "--format",
                format,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the casepol binary runs");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, answers) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if lines.send(line.expect("stdout is UTF-8")).is_err() {
                    break;
                }
            }
        });
        let requests = [
            (
                r#"{"principal": "ann", "action": "view", "resource": "case-open"}"#,
                "allow",
            ),
            (
                r#"{"principal": "zoe", "action": "close", "resource": "case-closed"}"#,
                "deny",
            ),
            (
                r#"{"principal": "ann", "action": "view", "resource": "case-open"}"#,
                "allow",
            ),
        ];
        for (n, (request, decision)) in requests.iter().enumerate() {
            writeln!(stdin, "{request}").expect("casepol reads its input");
            stdin.flush().expect("the pipe takes the line");
            let answer = answers
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| {
                    let _ = child.kill();
                    panic!(
                        "threads {threads}: no answer to line {} before the input ended",
                        n + 1
                    )
                });
            match format {
                "json" => {
                    let v: serde_json::Value = serde_json::from_str(&answer).expect("JSON line");
                    assert_eq!(v["line"], n + 1, "{answer}");
                    assert_eq!(v["decision"], *decision, "{answer}");
                }
                _ => assert!(answer.starts_with(decision), "line {}: {answer}", n + 1),
            }
        }
        drop(stdin);
        let status = child.wait().expect("casepol ends when its input does");
        reader.join().expect("the reader ends");
        assert_eq!(status.code(), Some(OK));
        assert!(answers.try_recv().is_err(), "more answers than requests");
    }
}

// ---- validate --entities --------------------------------------------------------------------

#[test]
fn validate_entities_reports_every_problem() {
    let bad = "tests/data/cli/bad_entities.json";
    let run = expect(&["validate", POLICY, "--entities", bad], FAIL);
    insta::assert_snapshot!(run.transcript());
    let run = expect(
        &["validate", POLICY, "--entities", bad, "--format", "json"],
        FAIL,
    );
    insta::assert_json_snapshot!("validate_entities_json", run.json());
    // A syntax error in the entities is placed by line and column, as loading places it.
    let run = expect_stdin(
        &["validate", POLICY, "--entities", "-"],
        b"{\"users\": [\n  {\"id\": \"ann\",, }\n]}".to_vec(),
        FAIL,
    );
    assert!(
        run.stderr.contains("<stdin>") || run.stderr.contains("-: 2:"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!("validate_entities_syntax", run.transcript());
}

#[test]
fn validate_entities_that_are_valid() {
    let run = expect(&["validate", POLICY, "--entities", ENTITIES], OK);
    assert_eq!(
        run.stdout,
        format!("{POLICY}: ok (0 error(s), 0 warning(s))\n{ENTITIES}: ok (entities)\n")
    );
    let json = expect(
        &[
            "validate",
            POLICY,
            "--entities",
            ENTITIES,
            "--format",
            "json",
        ],
        OK,
    )
    .json();
    assert_eq!(json["entities"]["ok"], true, "{json}");
}

#[test]
fn validate_entities_needs_one_usable_policy() {
    let run = expect(&["validate", POLICY, POLICY, "--entities", ENTITIES], ERROR);
    assert!(run.stderr.contains("one policy"), "{}", run.stderr);
    // A policy with errors: the entities are not checked, and the run fails for the policy.
    let run = expect(
        &[
            "validate",
            "tests/data/cli/errors.casepol",
            "--entities",
            ENTITIES,
        ],
        FAIL,
    );
    assert!(run.stderr.contains("not checked"), "{}", run.stderr);
    let run = expect(&["validate", POLICY, "--entities", "missing.json"], ERROR);
    assert!(run.stderr.contains("missing.json"), "{}", run.stderr);
}

// ---- --format on every command that prints for machines -------------------------------------

#[test]
fn list_formats() {
    let args = [
        "list",
        POLICY,
        "--entities",
        ENTITIES,
        "--principal",
        "max",
        "--action",
        "view",
        "--limit",
        "1",
    ];
    let json = expect(&args, OK);
    let explicit = expect(&[&args[..], &["--format", "json"]].concat(), OK);
    assert_eq!(json.stdout, explicit.stdout);
    let lines = json.json_lines();
    insta::assert_json_snapshot!("list_json", lines);
    let human = expect(&[&args[..], &["--format", "human"]].concat(), OK);
    insta::assert_snapshot!("list_human", human.transcript());
    // The same resources in both.
    assert_eq!(
        human
            .stdout
            .lines()
            .next()
            .and_then(|l| l.split(' ').next()),
        lines[0]["id"].as_str()
    );
}

#[test]
fn explain_code_json() {
    let run = expect(&["explain-code", "203", "--format", "json"], OK);
    let json = run.json();
    assert_eq!(json["code"], "CP0203");
    assert_eq!(json["severity"], "warning");
    let text = json["explanation"].as_str().unwrap();
    assert!(text.starts_with("**Warning (lint).**"), "{text}");
    insta::assert_json_snapshot!(
        "explain_code_json_shape",
        serde_json::json!({
            "code": json["code"],
            "title": json["title"],
            "severity": json["severity"],
            "explanation_first_line": text.lines().next(),
        })
    );
}

/// Every subcommand whose output a tool may read takes `--format json`; the rest print
/// something that is already a format of its own (a shell script, roff, SQL) or nothing.
#[test]
fn every_command_that_prints_for_tools_takes_format_json() {
    // `lsp` speaks JSON-RPC on standard output, whatever it is asked.
    let without = ["completions", "man", "init", "serve", "db", "lsp"];
    let mut with = 0;
    for name in subcommands() {
        let help = expect(&[name.as_str(), "--help"], OK);
        let has = help
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("--format <"));
        if without.contains(&name.as_str()) {
            assert!(!has, "`{name}` has --format: move it out of the exceptions");
        } else {
            assert!(has, "`casepol {name}` has no --format");
            assert!(
                help.stdout.contains("json"),
                "`casepol {name} --format` has no json"
            );
            with += 1;
        }
    }
    assert!(with >= 12, "only {with} commands checked");
}

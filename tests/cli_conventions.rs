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

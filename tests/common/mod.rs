//! Running the `casepol` binary from integration tests, as a user runs it: in the repository
//! root with relative paths, and with `NO_COLOR` set so no escape codes reach snapshots.
//!
//! Each test crate includes this with `mod common;` and uses what it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Exit codes, as documented in `src/cli.rs` and docs/data-formats.md.
pub const OK: i32 = 0;
pub const FAIL: i32 = 1;
pub const ERROR: i32 = 2;

pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `args` in the repository root.
pub fn casepol(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_casepol"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .output()
        .expect("the casepol binary runs");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out
            .status
            .code()
            .expect("casepol was not killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

impl Run {
    /// The command, its exit code and both streams, as one text for a snapshot.
    pub fn transcript(&self) -> String {
        let quoted: Vec<String> = self
            .args
            .iter()
            .map(|a| {
                if a.contains([' ', '"', '{']) {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect();
        format!(
            "$ casepol {}\nexit: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            quoted.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// The transcript with the scratch directory `dir` written `[TMP]`.
    pub fn transcript_in(&self, dir: &Path) -> String {
        self.transcript().replace(&arg(dir), "[TMP]")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}):\n{}", self.stdout))
    }

    /// Each stdout line as JSON (for `check --format json`, which prints one object per line).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect()
    }
}

/// A fresh, empty directory for one test: `test` under `group` (the test file's name) in
/// cargo's scratch directory for integration tests, emptied first.
pub fn scratch(group: &str, test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path as an argument of the command line.
pub fn arg(p: &Path) -> String {
    p.display().to_string()
}

/// Runs casepol and asserts the exit code, showing everything it printed if the code is wrong.
pub fn expect(args: &[&str], code: i32) -> Run {
    let run = casepol(args);
    assert_eq!(run.code, code, "wrong exit code:\n{}", run.transcript());
    run
}

/// The ```casepol blocks of a markdown file, with the line each starts on.
pub fn casepol_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut current {
            None if trimmed.starts_with("```casepol") => current = Some((i + 1, String::new())),
            Some(_) if trimmed.starts_with("```") => out.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    out
}

/// No module, and each module the policy declares.
pub fn modules(policy: &casepol::Policy) -> Vec<Option<String>> {
    std::iter::once(None)
        .chain(
            policy
                .compiled()
                .ir()
                .modules
                .iter()
                .map(|m| Some(m.name.clone())),
        )
        .collect()
}

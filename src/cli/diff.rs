//! `casepol diff OLD NEW`: every decision that differs between two versions of a policy
//! (docs/diff.md), as text, JSON, SARIF or GitHub annotations.

use super::*;
use casepol::internal::diff::{self, Report};

#[derive(clap::Args)]
pub(super) struct DiffArgs {
    /// The old policy: a `.casepol` file, or a directory of them
    old: PathBuf,
    /// The new policy: a `.casepol` file, or a directory of them
    new: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
    /// What makes the exit status 1: any change, or only a change that widens access
    #[arg(long, value_enum, default_value = "any")]
    fail_on: FailOn,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    /// Any difference
    Any,
    /// Only a decision that goes from deny to allow, an added name, or a changed layer that
    /// depends on data
    Grant,
}

pub(super) fn diff(args: &DiffArgs) -> Exit {
    let (old, new) = match (load_policy(&args.old), load_policy(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        _ => return Exit::Error,
    };
    let report = diff::diff(old.compiled(), new.compiled());
    let out = match args.format {
        ReportFormat::Human => report.text(),
        ReportFormat::Json => json(&report),
        ReportFormat::Sarif => sarif(&report),
        ReportFormat::Github => github(&report),
    };
    if emit(out.trim_end_matches('\n')).is_err() {
        return Exit::Error;
    }
    let fails = match args.fail_on {
        FailOn::Any => !report.is_empty(),
        FailOn::Grant => report.widens(),
    };
    if fails {
        Exit::Fail
    } else {
        Exit::Ok
    }
}

/// The JSON of `diff --format json` (docs/diff.md).
pub(crate) fn json(report: &Report) -> String {
    let value = serde_json::json!({
        "changed": !report.is_empty(),
        "widens": report.widens(),
        "names": report.names,
        "changes": report.changes,
        "data": report.data,
        "truncated": report.truncated,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// One GitHub workflow command per finding, on the new file's lines (a removed name or rule
/// on the old file's).
pub(crate) fn github(report: &Report) -> String {
    let mut out = String::new();
    for (level, at, message) in report.findings() {
        out.push_str(&format!(
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(&at.file),
            at.line,
            at.column,
            at.end_line,
            at.end_column,
            escape_property("casepol diff"),
            escape_data(&message)
        ));
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A SARIF 2.1.0 log with one result per finding: rule `diff/grant` (level warning) for a
/// widening, `diff/revoke` and `diff/name` (level note) for the rest.
pub(crate) fn sarif(report: &Report) -> String {
    let results: Vec<serde_json::Value> = report
        .findings()
        .into_iter()
        .map(|(level, at, message)| {
            let rule = match level {
                "warning" => "diff/widen",
                _ => "diff/change",
            };
            serde_json::json!({
                "ruleId": rule,
                "level": if level == "warning" { "warning" } else { "note" },
                "message": { "text": message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": at.file },
                        "region": {
                            "startLine": at.line,
                            "startColumn": at.column,
                            "endLine": at.end_line,
                            "endColumn": at.end_column,
                        }
                    }
                }]
            })
        })
        .collect();
    let value = serde_json::json!({
        "$schema": render::SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "casepol",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": [
                    { "id": "diff/widen", "shortDescription": { "text": "access may widen" } },
                    { "id": "diff/change", "shortDescription": { "text": "access changes" } }
                ]
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

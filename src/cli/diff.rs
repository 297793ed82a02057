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
    /// An entities file that both versions load: also list which users gain or lose which
    /// actions on which resources (through no module and each module; no target, no context)
    #[arg(long)]
    entities: Option<PathBuf>,
}

/// At most this many decisions are made per version for `--entities`; past it the list is
/// marked `truncated`.
const MAX_ENTITY_DECISIONS: usize = 10_000_000;

/// One user who gains or loses an action on a resource, for `--entities`.
#[derive(Serialize)]
struct UserChange {
    user: String,
    action: String,
    resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    from: &'static str,
    to: &'static str,
}

/// Decides every user × resource × action (× no module and each module both versions have)
/// with both versions, and lists those decided differently, at most `MAX_DIFF_CHANGES`.
fn user_changes(old: &Policy, new: &Policy, path: &Path) -> Result<(Vec<UserChange>, bool), Exit> {
    let eo = load_entities(old, path)?;
    let en = load_entities(new, path)?;
    let (io, inn) = (old.compiled().ir(), new.compiled().ir());
    let actions: Vec<&str> = io
        .actions
        .iter()
        .map(|a| a.name.as_str())
        .filter(|a| inn.actions.iter().any(|b| b.name == *a))
        .collect();
    let mut modules: Vec<Option<&str>> = vec![None];
    modules.extend(
        io.modules
            .iter()
            .map(|m| m.name.as_str())
            .filter(|m| inn.modules.iter().any(|b| b.name == *m))
            .map(Some),
    );
    let mut out = Vec::new();
    let mut decided = 0usize;
    let limit = casepol::internal::diff::MAX_DIFF_CHANGES;
    for user in eo.user_ids() {
        for resource in eo.resource_ids() {
            for action in &actions {
                for module in &modules {
                    decided += 1;
                    if decided > MAX_ENTITY_DECISIONS || out.len() >= limit {
                        return Ok((out, true));
                    }
                    let mut req = Request::new(user, action, Some(resource));
                    req.module = module.map(str::to_string);
                    let (a, b) = (old.is_allowed(&eo, &req), new.is_allowed(&en, &req));
                    if a.allowed != b.allowed {
                        let word = |x: bool| if x { "allow" } else { "deny" };
                        out.push(UserChange {
                            user: user.to_string(),
                            action: action.to_string(),
                            resource: resource.to_string(),
                            module: module.map(str::to_string),
                            from: word(a.allowed),
                            to: word(b.allowed),
                        });
                    }
                }
            }
        }
    }
    Ok((out, false))
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
    let users = match &args.entities {
        Some(path) => match user_changes(&old, &new, path) {
            Ok(u) => Some(u),
            Err(e) => return e,
        },
        None => None,
    };
    let out = match args.format {
        ReportFormat::Human => {
            let mut text = report.text();
            if let Some((users, truncated)) = &users {
                text.push_str(&format!(
                    "with the entities: {} user decision(s) differ\n",
                    users.len()
                ));
                for u in users {
                    let via = u
                        .module
                        .as_ref()
                        .map(|m| format!(" via {m}"))
                        .unwrap_or_default();
                    let verb = if u.to == "allow" { "gains" } else { "loses" };
                    text.push_str(&format!(
                        "  `{}` {verb} `{}` on `{}`{via}\n",
                        u.user, u.action, u.resource
                    ));
                }
                if *truncated {
                    text.push_str("  … cut short (docs/diff.md, limits)\n");
                }
            }
            text
        }
        ReportFormat::Json => json(&report, users.as_ref()),
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
fn json(report: &Report, users: Option<&(Vec<UserChange>, bool)>) -> String {
    let mut value = serde_json::json!({
        "changed": !report.is_empty(),
        "widens": report.widens(),
        "names": report.names,
        "changes": report.changes,
        "data": report.data,
        "truncated": report.truncated,
    });
    if let Some((users, truncated)) = users {
        value["users"] = serde_json::json!({ "changes": users, "truncated": truncated });
    }
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

//! `casepol validate`: type-check policies and report every diagnostic.

use super::*;
use casepol::diagnostic::Code;

#[derive(clap::Args)]
pub(super) struct ValidateArgs {
    /// A policy: a `.casepol` file, or a directory of them that together form one policy
    #[arg(required = true, value_name = "POLICY")]
    policies: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
    /// Treat warnings as errors: they are reported with error severity and fail the run
    #[arg(long)]
    deny_warnings: bool,
    /// Silence a warning code, such as `CP0205` (repeatable); error codes cannot be allowed
    #[arg(long, value_name = "CODE", value_parser = parse_allowed_code)]
    allow: Vec<Code>,
}

/// Parses an `--allow` value: a known warning code.
fn parse_allowed_code(text: &str) -> Result<Code, String> {
    let code = Code::parse(text).ok_or_else(|| explain_code::unknown_code(text))?;
    if code.severity() == Severity::Error {
        let warnings: Vec<&str> = Code::ALL
            .iter()
            .filter(|c| c.severity() == Severity::Warning)
            .map(|c| c.as_str())
            .collect();
        return Err(format!(
            "`{}` ({}) is an error, and only warnings can be allowed; the warning codes are {}",
            code.as_str(),
            code.title(),
            warnings.join(", ")
        ));
    }
    Ok(code)
}

/// The output of `validate --format json` (docs/data-formats.md, `validate`).
#[derive(Serialize)]
struct ValidateJson<'a> {
    policies: Vec<PolicyJson<'a>>,
}

/// One policy of `validate --format json`; the server refuses a policy with its `Checked` form.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum PolicyJson<'a> {
    Checked {
        policy: String,
        ok: bool,
        errors: usize,
        warnings: usize,
        diagnostics: Vec<JsonDiagnostic<'a>>,
    },
    Unreadable {
        policy: String,
        error: &'a str,
    },
}

/// One policy argument of `validate`, read and checked.
enum Validated {
    Checked {
        sources: Sources,
        diags: Vec<Diagnostic>,
        errors: usize,
    },
    Unreadable(String),
}

pub(super) fn validate(args: &ValidateArgs) -> Exit {
    let paths = &args.policies;
    let format = args.format;
    let adjust = |diags: Vec<Diagnostic>| -> Vec<Diagnostic> {
        diags
            .into_iter()
            .filter(|d| !args.allow.contains(&d.code))
            .map(|mut d| {
                if args.deny_warnings {
                    d.severity = Severity::Error;
                }
                d
            })
            .collect()
    };
    let mut worst = Exit::Ok;
    let mut results = Vec::new();
    for path in paths {
        let result = match read_policy(path) {
            Ok(sources) => {
                let (_, diags) = casepol::internal::check_sources(&sources);
                let diags = adjust(diags);
                let errors = diags
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .count();
                worst = worst.max(if errors > 0 { Exit::Fail } else { Exit::Ok });
                Validated::Checked {
                    sources,
                    diags,
                    errors,
                }
            }
            Err(msg) => {
                worst = Exit::Error;
                Validated::Unreadable(msg)
            }
        };
        if format != ReportFormat::Json {
            if let Validated::Unreadable(msg) = &result {
                eprintln!("error: {msg}");
            }
        }
        if format == ReportFormat::Human {
            match &result {
                Validated::Unreadable(_) => {}
                Validated::Checked {
                    sources,
                    diags,
                    errors,
                } => {
                    print_diagnostics(diags, sources);
                    let status = if *errors == 0 { "ok" } else { "failed" };
                    let warnings = diags.len() - errors;
                    if let Err(e) = emit(&format!(
                        "{}: {status} ({errors} error(s), {warnings} warning(s))",
                        path.display()
                    )) {
                        return e;
                    }
                }
            }
        }
        results.push(result);
    }
    if format == ReportFormat::Json {
        let policies = paths
            .iter()
            .zip(&results)
            .map(|(path, result)| {
                let policy = path.display().to_string();
                match result {
                    Validated::Unreadable(msg) => PolicyJson::Unreadable { policy, error: msg },
                    Validated::Checked {
                        sources,
                        diags,
                        errors,
                    } => PolicyJson::Checked {
                        policy,
                        ok: *errors == 0,
                        errors: *errors,
                        warnings: diags.len() - errors,
                        diagnostics: diags.iter().map(|d| render::json(d, sources)).collect(),
                    },
                }
            })
            .collect();
        let json = serde_json::to_string(&ValidateJson { policies }).unwrap_or_default();
        if let Err(e) = emit(&json) {
            return e;
        }
    }
    if matches!(format, ReportFormat::Sarif | ReportFormat::Github) {
        let sets: Vec<(&Sources, &[Diagnostic])> = results
            .iter()
            .filter_map(|r| match r {
                Validated::Checked { sources, diags, .. } => Some((sources, diags.as_slice())),
                Validated::Unreadable(_) => None,
            })
            .collect();
        if let Err(e) = emit_machine_report(format, &sets) {
            return e;
        }
    }
    worst
}

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
    /// Also check this entities file (JSON, or `-` for standard input) against the policy, as
    /// `check` loads it, without deciding a request; needs exactly one POLICY
    #[arg(long, value_name = "FILE")]
    entities: Option<PathBuf>,
}

/// What became of the entities of `validate --entities`.
enum EntitiesChecked {
    Valid,
    Invalid(Vec<casepol::EntityError>),
    Unreadable(String),
}

/// The `entities` member of `validate --format json`.
#[derive(Serialize)]
struct EntitiesJson<'a> {
    entities: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [casepol::EntityError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// Loads the entities at `path` for the policy of `sources`, which has no errors.
fn check_entities(sources: &Sources, path: &Path) -> EntitiesChecked {
    let policy = match Policy::from_sources(sources.clone()) {
        Ok(p) => p,
        // INVARIANT: only called for a policy without errors; should it fail, say so.
        Err(e) => return EntitiesChecked::Unreadable(format!("the policy does not compile: {e}")),
    };
    match read_text_limited(path, MAX_ENTITIES_BYTES, "an entities file") {
        Err(msg) => EntitiesChecked::Unreadable(msg),
        Ok(text) => match policy.load_entities(&text) {
            Ok(_) => EntitiesChecked::Valid,
            Err(e) => EntitiesChecked::Invalid(e.into_errors()),
        },
    }
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
    /// With `--entities`, once the policy has no errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    entities: Option<EntitiesJson<'a>>,
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
    if args.entities.is_some() && paths.len() != 1 {
        return fail_input(format!(
            "--entities checks an entities file against one policy, but {} policies are given",
            paths.len()
        ));
    }
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
    // The entities are checked against a policy without errors only: against a broken one,
    // every name could be reported unknown.
    let entities = args
        .entities
        .as_ref()
        .and_then(|path| match results.first() {
            Some(Validated::Checked {
                sources, errors: 0, ..
            }) => Some((path, check_entities(sources, path))),
            _ => {
                if format == ReportFormat::Human {
                    eprintln!(
                        "note: entities `{}` not checked, since the policy could not be used",
                        path.display()
                    );
                }
                None
            }
        });
    if let Some((path, checked)) = &entities {
        let shown = path.display();
        worst = worst.max(match checked {
            EntitiesChecked::Valid => Exit::Ok,
            EntitiesChecked::Invalid(_) => Exit::Fail,
            EntitiesChecked::Unreadable(_) => Exit::Error,
        });
        if format != ReportFormat::Json {
            let mut err = std::io::stderr().lock();
            match checked {
                EntitiesChecked::Valid => {}
                EntitiesChecked::Invalid(errors) => {
                    for e in errors {
                        let _ = writeln!(err, "error: {shown}: {e}");
                    }
                }
                EntitiesChecked::Unreadable(msg) => {
                    let _ = writeln!(err, "error: {msg}");
                }
            }
        }
        if format == ReportFormat::Human {
            let line = match checked {
                EntitiesChecked::Valid => format!("{shown}: ok (entities)"),
                EntitiesChecked::Invalid(errors) => {
                    format!(
                        "{shown}: failed ({} problem(s) in the entities)",
                        errors.len()
                    )
                }
                EntitiesChecked::Unreadable(_) => format!("{shown}: unreadable"),
            };
            if let Err(e) = emit(&line) {
                return e;
            }
        }
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
        let entities = entities.as_ref().map(|(path, checked)| {
            let (ok, errors, error) = match checked {
                EntitiesChecked::Valid => (true, None, None),
                EntitiesChecked::Invalid(errors) => (false, Some(errors.as_slice()), None),
                EntitiesChecked::Unreadable(msg) => (false, None, Some(msg.as_str())),
            };
            EntitiesJson {
                entities: path.display().to_string(),
                ok,
                errors,
                error,
            }
        });
        let json = serde_json::to_string(&ValidateJson { policies, entities }).unwrap_or_default();
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

//! `casepol who-can`: every user allowed to perform an action on a resource, and what lets
//! each of them in.

use super::*;
use casepol::diagnostic::words;
use casepol::query::{Query, SubjectGrant, WhoCan};

#[derive(clap::Args)]
pub(super) struct WhoCanArgs {
    /// The policy: a `.casepol` file, or a directory of them
    policy: PathBuf,
    /// The entities file (JSON, or `-` for standard input), or a database: `sqlite:PATH` or
    /// `postgres://…` (docs/database.md)
    #[arg(long)]
    entities: PathBuf,
    /// The action
    #[arg(long)]
    action: String,
    /// The resource id
    #[arg(long)]
    resource: String,
    /// The module the users work in (needed for case types with module grants)
    #[arg(long)]
    module: Option<String>,
    /// The request context the question is asked in, a JSON object such as
    /// '{"authenticated": true}': needed when the policy declares a `context`
    #[arg(long)]
    context: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// Prints a query error and returns the input-error exit code. The library says how to fix a
/// mistake in its own terms ("ask without a module"); where the fix is a flag, this adds it.
pub(super) fn query_error(e: RequestError, policy: &Policy) -> Exit {
    let flag = match e.kind {
        RequestErrorKind::UnknownModule if policy.compiled().ir().modules.is_empty() => {
            Some("leave out --module")
        }
        RequestErrorKind::NotAnAction => Some("with `casepol check --request`"),
        RequestErrorKind::InvalidContext => Some("with `--context` and a JSON object"),
        _ => None,
    };
    match (&e.help, flag) {
        (Some(help), Some(flag)) => eprintln!("error: {}\n  help: {help} ({flag})", e.message),
        _ => eprintln!("error: {e}"),
    }
    Exit::Error
}

/// The condition of `--where`, checked for `--kind`: its diagnostics are shown against the text
/// of `--where` as a file of its own.
pub(super) fn condition(
    policy: &Policy,
    text: Option<&str>,
    kind: Option<&str>,
) -> Result<Option<casepol::query::Condition>, Exit> {
    let Some(text) = text else {
        return Ok(None);
    };
    match casepol::query::Condition::new(policy, "--where", text, kind) {
        Ok(c) => Ok(Some(c)),
        Err(casepol::query::ConditionError::Invalid(e)) => {
            super::print_diagnostics(&e.diagnostics, &e.sources);
            eprintln!("error: the condition of --where has errors");
            Err(Exit::Error)
        }
        Err(casepol::query::ConditionError::Request(e)) => Err(query_error(e, policy)),
        Err(e) => Err(fail_input(e.to_string())),
    }
}

/// The queries of `entities`, asked in the context `--context` gives (a JSON object).
pub(super) fn query<'a>(
    policy: &'a Policy,
    entities: &'a casepol::Entities,
    context: Option<&str>,
) -> Result<Query<'a>, Exit> {
    let q = Query::new(policy, entities);
    let Some(text) = context else {
        return Ok(q);
    };
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
        Ok(map) => Ok(q.with_context(map)),
        Err(e) => {
            eprintln!("error: --context is not a JSON object: {e}\n  help: give the context's fields as an object, such as '{{\"authenticated\": true}}'");
            Err(Exit::Error)
        }
    }
}

pub(super) fn who_can(args: &WhoCanArgs) -> Exit {
    let (policy, entities) = match load_inputs(&args.policy, &args.entities) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    let q = match super::who_can::query(&policy, &entities, args.context.as_deref()) {
        Ok(q) => q,
        Err(e) => return e,
    };
    let who = match q.who_can(&args.action, &args.resource, args.module.as_deref()) {
        Ok(w) => w,
        Err(e) => return query_error(e, &policy),
    };
    let written = match args.format {
        Format::Json => emit(&serde_json::to_string_pretty(&who).unwrap_or_default()),
        Format::Human => {
            write!(std::io::stdout().lock(), "{}", human(&who)).map_err(|_| Exit::Error)
        }
    };
    match written {
        Ok(()) => Exit::Ok,
        Err(e) => e,
    }
}

fn human(w: &WhoCan) -> String {
    let mut out = String::new();
    let a = words::article(&w.kind);
    let what = match &w.case {
        Some(c) => format!("`{}` ({a} {} of case `{c}`)", w.resource, w.kind),
        None => format!("`{}` ({a} {})", w.resource, w.kind),
    };
    let via = match &w.module {
        Some(m) => format!(" in module `{m}`"),
        None => String::new(),
    };
    out.push_str(&format!("Who may `{}` {what}{via}:\n", w.action));
    if let Some(c) = &w.read_code {
        out.push_str(&format!("  effective read code: {c}\n"));
    }
    if let Some(c) = &w.write_code {
        out.push_str(&format!("  effective write code: {c}\n"));
    }
    for p in &w.allowed {
        out.push_str(&format!("\n{}\n", p.user));
        for g in &p.grants {
            match g {
                SubjectGrant::Role { role, groups } => {
                    let from: Vec<String> = groups
                        .iter()
                        .map(|g| {
                            let through = match &g.through {
                                Some(t) => format!(", as a member of `{t}`"),
                                None => String::new(),
                            };
                            let holds = match g.holds.as_slice() {
                                [] => String::new(),
                                h => format!(", and is {} of the case", h.join(" and ")),
                            };
                            format!("group `{}` (scope {}{through}{holds})", g.group, g.scope)
                        })
                        .collect();
                    out.push_str(&format!("  role `{role}`, from {}\n", from.join(" and ")));
                }
                SubjectGrant::Relation {
                    relation,
                    case,
                    group,
                } => {
                    let through = group
                        .as_ref()
                        .map(|g| format!(", through group `{g}`"))
                        .unwrap_or_default();
                    let of = match w.case.as_deref() == Some(case.as_str()) {
                        true => "case ",
                        false => "",
                    };
                    out.push_str(&format!("  {relation} of {of}`{case}`{through}\n"));
                }
                SubjectGrant::Everyone => out.push_str("  `everyone`, which every user holds\n"),
            }
        }
        for r in &p.rules {
            out.push_str(&format!(
                "  allowed by {} `{}` ({}:{}:{})\n",
                r.kind, r.source, r.file, r.line, r.column
            ));
        }
        if let Some(m) = &p.module_grants {
            out.push_str(&format!(
                "  module `{}` grants it to {}\n",
                w.module.as_deref().unwrap_or_default(),
                words::join(m.iter().map(|s| format!("`{s}`")), "and", words::ALL)
            ));
        }
        for (class, held) in [("read", &p.read_codes_held), ("write", &p.write_codes_held)] {
            match held {
                Some(h) if h.is_empty() => {
                    out.push_str(&format!("  {class} code: no restriction\n"))
                }
                Some(h) => {
                    let codes: Vec<String> = h
                        .iter()
                        .map(|c| {
                            let why = match (c.source, &c.through) {
                                ("user", _) => "their user id".to_string(),
                                ("term", _) => "a term".to_string(),
                                (source, Some(t)) => format!("{source}, through `{t}`"),
                                (source, None) => source.to_string(),
                            };
                            format!("`{}` ({why})", c.code)
                        })
                        .collect();
                    out.push_str(&format!("  {class} code met with {}\n", codes.join(", ")))
                }
                None => {}
            }
        }
    }
    let n = w.allowed.len();
    out.push_str(&format!(
        "\n{n} user{} allowed, {} denied\n",
        if n == 1 { "" } else { "s" },
        w.denied
    ));
    if let Some(note) = &w.note {
        // The note names the modules to ask with; here they are flags.
        let flags = match w.offering.is_empty() {
            true => String::new(),
            false => format!(" (--module {})", w.offering.join(" or --module ")),
        };
        out.push_str(&format!("note: {note}{flags}\n"));
    }
    out
}

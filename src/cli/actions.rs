//! `casepol actions`: the actions a user may perform on a resource, decided in one pass, so
//! that an application can choose which buttons to show.

use super::*;
use casepol::query::ActionsJson;

#[derive(clap::Args)]
pub(super) struct ActionsArgs {
    /// The policy: a `.casepol` file, or a directory of them
    policy: PathBuf,
    /// The entities file (JSON, or `-` for standard input), or a database: `sqlite:PATH` or
    /// `postgres://…` (docs/database.md)
    #[arg(long)]
    entities: PathBuf,
    /// The user
    #[arg(long)]
    principal: String,
    /// The resource id
    #[arg(long)]
    resource: String,
    /// The module the user works in (needed for case types with module grants)
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

/// What `actions` answers: every action's decision, every move out of the case's state, and the
/// note when no module was given where one is needed.
pub(crate) struct Answer {
    decisions: Vec<(String, Decision)>,
    moves: Vec<casepol::query::Move>,
    note: Option<String>,
}

impl Answer {
    /// Asks the three questions of `actions`; the first error stops it.
    pub(crate) fn new(
        q: &casepol::query::Query<'_>,
        principal: &str,
        resource: &str,
        module: Option<&str>,
    ) -> Result<Answer, RequestError> {
        Ok(Answer {
            decisions: q.actions(principal, resource, module)?,
            moves: q.transitions(principal, resource, module)?,
            note: q.module_note(resource, None, module)?,
        })
    }

    /// The answer as `--format json` writes it, and the server's `/v1/actions`.
    pub(crate) fn json<'a>(
        &'a self,
        principal: &'a str,
        resource: &'a str,
        module: Option<&'a str>,
    ) -> ActionsJson<'a> {
        ActionsJson::new(
            principal,
            resource,
            module,
            &self.decisions,
            &self.moves,
            self.note.as_deref(),
        )
    }
}

pub(super) fn actions(args: &ActionsArgs) -> Exit {
    let (policy, entities) = match load_inputs(&args.policy, &args.entities) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    let q = match super::who_can::query(&policy, &entities, args.context.as_deref()) {
        Ok(q) => q,
        Err(e) => return e,
    };
    let answer = match Answer::new(&q, &args.principal, &args.resource, args.module.as_deref()) {
        Ok(a) => a,
        Err(e) => return who_can::query_error(e, &policy),
    };
    let Answer {
        decisions,
        moves,
        note,
    } = &answer;
    let written = match args.format {
        Format::Json => emit(
            &serde_json::to_string(&answer.json(
                &args.principal,
                &args.resource,
                args.module.as_deref(),
            ))
            .unwrap_or_default(),
        ),
        Format::Human => {
            let width = decisions
                .iter()
                .map(|(a, _)| a.chars().count())
                .max()
                .unwrap_or(0);
            let mut text = String::new();
            for (a, d) in decisions {
                if d.allowed {
                    text.push_str(&format!("allow  {a}\n"));
                } else {
                    text.push_str(&format!(
                        "deny   {}  ({}: {})\n",
                        padded(a, width),
                        d.layer.title(),
                        d.reason.title()
                    ));
                }
            }
            if let Some(first) = moves.first() {
                text.push_str(&format!("transitions from `{}`:\n", first.from));
                let moves: Vec<(String, &casepol::Decision)> = moves
                    .iter()
                    .map(|m| (format!("{} -> {}", m.action, m.to), &m.decision))
                    .collect();
                let width = moves
                    .iter()
                    .map(|(m, _)| m.chars().count())
                    .max()
                    .unwrap_or(0);
                for (m, d) in &moves {
                    if d.allowed {
                        text.push_str(&format!("allow  {m}\n"));
                    } else {
                        text.push_str(&format!(
                            "deny   {}  ({}: {})\n",
                            padded(m, width),
                            d.layer.title(),
                            d.reason.title()
                        ));
                    }
                }
            }
            if let Some(n) = note {
                text.push_str(&format!("note: {n}\n"));
            }
            write!(std::io::stdout().lock(), "{text}").map_err(|_| Exit::Error)
        }
    };
    match written {
        Ok(()) => Exit::Ok,
        Err(e) => e,
    }
}

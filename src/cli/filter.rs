//! `casepol filter`: a SQL `WHERE` clause, with bound parameters, that selects the resources a
//! user may perform an action on, over the layout of docs/schema.*.sql.

use super::*;
use casepol::query::sql::{Dialect, Param};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DialectArg {
    /// PostgreSQL: placeholders `$1`, `$2`, …; a set of values is one `text[]`
    Postgres,
    /// SQLite: placeholders `?1`, `?2`, …; a set of values is one JSON array
    Sqlite,
}

#[derive(clap::Args)]
pub(super) struct FilterArgs {
    /// The policy: a `.casepol` file, or a directory of them
    policy: PathBuf,
    /// The entities file (JSON, or `-` for standard input): its users and units; the resources
    /// live in the database
    #[arg(long)]
    entities: PathBuf,
    /// The user
    #[arg(long)]
    principal: String,
    /// The action
    #[arg(long)]
    action: String,
    /// The module the user works in (needed for case types with module grants)
    #[arg(long)]
    module: Option<String>,
    /// Only resources of this kind (a `case` or `resource` declared in the policy)
    #[arg(long)]
    kind: Option<String>,
    /// Only resources on which this condition holds, written as a rule's condition:
    /// 'case.access_mode == restricted and not resource.locked' (`resource.…` needs --kind);
    /// its values are bound as parameters
    #[arg(long = "where", value_name = "CONDITION")]
    where_: Option<String>,
    /// The SQL dialect
    #[arg(long, value_enum)]
    dialect: DialectArg,
    /// A page: at most this many ids (`LIMIT N`), as `list --limit` pages
    #[arg(long)]
    limit: Option<usize>,
    /// Only the ids after this one (a bound parameter): the last id of the page before, as
    /// `list --after`
    #[arg(long)]
    after: Option<String>,
    /// The request context the question is asked in, a JSON object such as
    /// '{"authenticated": true}': needed when the policy declares a `context`
    #[arg(long)]
    context: Option<String>,
    /// Output format: `human` prints the query and its parameters; `json` adds the residual
    /// condition
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// `filter --format json`, and the server's `/v1/filter`, in this field order.
#[derive(Serialize)]
pub(crate) struct FilterJson<'a> {
    dialect: Dialect,
    select: String,
    #[serde(rename = "where")]
    where_clause: &'a str,
    params: &'a [Param],
    residual: casepol::query::residual::ResidualJson<'a>,
    /// Why the cases of some case types are left out: they are reached through modules and
    /// none was given.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

/// What `filter` answers: the residual condition, the SQL compiled from it and the notes.
pub(crate) struct Answer {
    residual: casepol::query::residual::Residual,
    filter: casepol::query::sql::Filter,
    notes: Vec<String>,
}

impl Answer {
    /// Computes the residual and compiles it; the first error stops it.
    pub(crate) fn new(
        policy: &Policy,
        q: &casepol::query::Query<'_>,
        principal: &str,
        action: &str,
        module: Option<&str>,
        dialect: Dialect,
        page: &casepol::query::sql::Page,
    ) -> Result<Answer, RequestError> {
        let residual = q.residual(principal, action, module)?;
        let filter = casepol::query::sql::compile_page(policy, &residual, dialect, page)?;
        let notes = q.module_notes(action, module)?;
        Ok(Answer {
            residual,
            filter,
            notes,
        })
    }

    /// The answer as `--format json` writes it.
    pub(crate) fn json<'a>(&'a self, policy: &'a Policy) -> Result<FilterJson<'a>, RequestError> {
        Ok(FilterJson {
            dialect: self.filter.dialect,
            select: self.filter.select(),
            where_clause: &self.filter.where_clause,
            params: &self.filter.params,
            residual: self.residual.json(policy)?,
            notes: &self.notes,
        })
    }
}

pub(super) fn filter(args: &FilterArgs) -> Exit {
    let (policy, entities) = match load_inputs(&args.policy, &args.entities) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    if args.limit == Some(0) {
        return fail_input("--limit must be at least 1".into());
    }
    let page = casepol::query::sql::Page {
        after: args.after.clone(),
        limit: args.limit,
    };
    let dialect = match args.dialect {
        DialectArg::Postgres => Dialect::Postgres,
        DialectArg::Sqlite => Dialect::Sqlite,
    };
    let condition = match who_can::condition(&policy, args.where_.as_deref(), args.kind.as_deref())
    {
        Ok(c) => c,
        Err(e) => return e,
    };
    // `--kind` alone is the condition that holds on every resource of the kind.
    let condition = match (condition, &args.kind) {
        (None, Some(k)) => match casepol::query::Condition::of_kind(&policy, k) {
            Ok(c) => Some(c),
            Err(casepol::query::ConditionError::Request(e)) => {
                return who_can::query_error(e, &policy)
            }
            Err(e) => return fail_input(e.to_string()),
        },
        (c, _) => c,
    };
    let q = match super::who_can::query(&policy, &entities, args.context.as_deref()) {
        Ok(q) => q,
        Err(e) => return e,
    };
    let q = match &condition {
        Some(c) => q.with_condition(c),
        None => q,
    };
    let answer = match Answer::new(
        &policy,
        &q,
        &args.principal,
        &args.action,
        args.module.as_deref(),
        dialect,
        &page,
    ) {
        Ok(a) => a,
        Err(e) => return who_can::query_error(e, &policy),
    };
    let Answer { filter, notes, .. } = &answer;
    let written = match args.format {
        Format::Json => {
            let json = match answer.json(&policy) {
                Ok(j) => j,
                Err(e) => return who_can::query_error(e, &policy),
            };
            emit(&serde_json::to_string_pretty(&json).unwrap_or_default())
        }
        // The parameters are printed as JSON, on a comment line: JSON escapes line breaks, so a
        // value cannot end the comment.
        // A note names only declared identifiers, which hold no line break.
        Format::Human => emit(&format!(
            "{}\n-- parameters: {}{}",
            filter.select(),
            serde_json::to_string(&filter.params).unwrap_or_default(),
            notes
                .iter()
                .map(|n| format!("\n-- note: {n}"))
                .collect::<String>()
        )),
    };
    match written {
        Ok(()) => Exit::Ok,
        Err(e) => e,
    }
}

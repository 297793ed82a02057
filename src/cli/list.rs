//! `casepol list`: the resources a user may perform an action on, as JSON Lines in id order,
//! with cursor pagination.

use super::*;

#[derive(clap::Args)]
pub(super) struct ListArgs {
    /// The policy: a `.casepol` file, or a directory of them
    policy: PathBuf,
    /// The entities file (JSON, or `-` for standard input), or a database: `sqlite:PATH` or
    /// `postgres://…` (docs/database.md)
    #[arg(long)]
    entities: PathBuf,
    /// The user
    #[arg(long)]
    principal: String,
    /// The action
    #[arg(long)]
    action: String,
    /// Only resources of this kind (a `case` or `resource` declared in the policy)
    #[arg(long)]
    kind: Option<String>,
    /// The module the user works in (needed for case types with module grants)
    #[arg(long)]
    module: Option<String>,
    /// The request context the question is asked in, a JSON object such as
    /// '{"authenticated": true}': needed when the policy declares a `context`
    #[arg(long)]
    context: Option<String>,
    /// Only resources on which this condition holds, written as a rule's condition:
    /// 'case.access_mode == restricted and not resource.locked' (`resource.…` needs --kind)
    #[arg(long = "where", value_name = "CONDITION")]
    where_: Option<String>,
    /// At most this many resources; a last line `{"next": CURSOR}` gives the cursor for the
    /// next page (`null` on the last page)
    #[arg(long)]
    limit: Option<usize>,
    /// Start after this cursor: the `next` of the previous page
    #[arg(long)]
    after: Option<String>,
    /// Output format: `json` (the default) prints JSON Lines; `human` prints one resource a
    /// line, `ID (KIND, case CASE)`, then `next: CURSOR` and the notes
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

/// One listed resource, a line of `list` and an item of the server's `/v1/list`.
#[derive(Serialize)]
pub(crate) struct Line<'a> {
    id: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    case: Option<&'a str>,
}

impl<'a> Line<'a> {
    /// The line of the resource at position `r` of `entities`.
    pub(crate) fn new(policy: &'a Policy, entities: &'a Entities, r: u32) -> Line<'a> {
        let res = &entities.resources()[r as usize];
        Line {
            id: entities.resource_id(r),
            kind: &policy.compiled().ir().kinds[res.kind.idx()].name,
            case: res
                .anchor
                .filter(|&a| a != r)
                .map(|a| entities.resource_id(a)),
        }
    }
}

pub(super) fn list(args: &ListArgs) -> Exit {
    if args.limit == Some(0) {
        return fail_input("--limit must be at least 1".into());
    }
    let (policy, entities) = match load_inputs(&args.policy, &args.entities) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    let condition = match who_can::condition(&policy, args.where_.as_deref(), args.kind.as_deref())
    {
        Ok(c) => c,
        Err(e) => return e,
    };
    let q = match super::who_can::query(&policy, &entities, args.context.as_deref()) {
        Ok(q) => q,
        Err(e) => return e,
    };
    let q = match &condition {
        Some(c) => q.with_condition(c),
        None => q,
    };
    let listing = match q.list(
        &args.principal,
        &args.action,
        args.module.as_deref(),
        args.kind.as_deref(),
    ) {
        Ok(l) => l,
        Err(e) => return who_can::query_error(e, &policy),
    };
    let notes = match q.module_notes(&args.action, args.module.as_deref()) {
        Ok(n) => n,
        Err(e) => return who_can::query_error(e, &policy),
    };
    let human = args.format == Format::Human;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = |r: u32| -> Result<(), Exit> {
        let item = Line::new(&policy, &entities, r);
        let text = if human {
            match item.case {
                Some(case) => format!("{} ({}, case {case})", item.id, item.kind),
                None => format!("{} ({})", item.id, item.kind),
            }
        } else {
            serde_json::to_string(&item).unwrap_or_default()
        };
        writeln!(out, "{text}").map_err(|_| Exit::Error)
    };
    let written = match args.limit {
        None => listing.iter(args.after.as_deref()).try_for_each(&mut line),
        Some(limit) => {
            let page = listing.page(args.after.as_deref(), limit);
            page.resources
                .iter()
                .try_for_each(|&r| line(r))
                .and_then(|()| {
                    let next = if human {
                        format!(
                            "next: {}",
                            page.next.as_deref().unwrap_or("none (last page)")
                        )
                    } else {
                        serde_json::json!({ "next": page.next }).to_string()
                    };
                    writeln!(out, "{next}").map_err(|_| Exit::Error)
                })
        }
    };
    // Last, after the resources and the cursor: why the cases of some case types are left out.
    let written = written.and_then(|()| {
        notes.iter().try_for_each(|n| {
            let note = if human {
                format!("note: {n}")
            } else {
                serde_json::json!({ "note": n }).to_string()
            };
            writeln!(out, "{note}").map_err(|_| Exit::Error)
        })
    });
    match written.and_then(|()| out.flush().map_err(|_| Exit::Error)) {
        Ok(()) => Exit::Ok,
        Err(e) => e,
    }
}

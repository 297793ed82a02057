//! The JSON the C ABI reads (queries) and writes (answers), in the shapes of the command line's
//! `--format json` and the server's request bodies (docs/bindings.md), built from casepol's
//! public API only.

use casepol::live::{Event, EventGroup};
use casepol::query::Move;
use casepol::{Decision, DeterminingRule, Layer, Reason, RequestError, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `allow` or `deny`, as the command line writes a decision.
pub(crate) fn word(allowed: bool) -> &'static str {
    match allowed {
        true => "allow",
        false => "deny",
    }
}

/// The answer of `casepol_check`: `casepol check --format json` with the determining rules.
#[derive(Serialize)]
pub(crate) struct CheckJson<'a> {
    decision: &'static str,
    layer: Layer,
    reason: Reason,
    determining: &'a [DeterminingRule],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RequestError>,
}

impl<'a> CheckJson<'a> {
    pub(crate) fn new(r: &'a Response) -> CheckJson<'a> {
        CheckJson {
            decision: word(r.allowed()),
            layer: r.layer(),
            reason: r.reason(),
            determining: &r.determining,
            error: r.error.as_ref(),
        }
    }
}

/// A question of `casepol_who_can`: `{"action", "resource", "module"?, "context"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WhoCanQuery {
    pub action: String,
    pub resource: String,
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
}

/// A question of `casepol_actions`: `{"principal", "resource", "module"?, "context"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionsQuery {
    pub principal: String,
    pub resource: String,
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
}

/// A question of `casepol_list`: `{"principal", "action", "kind"?, "module"?, "context"?,
/// "limit"?, "after"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    pub principal: String,
    pub action: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub after: Option<String>,
}

/// A question of `casepol_filter`: `{"principal", "action", "dialect", "module"?, "context"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterQuery {
    pub principal: String,
    pub action: String,
    pub dialect: Dialect,
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
}

/// The SQL dialect of a filter, by the name `casepol filter --dialect` takes.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
}

impl From<Dialect> for casepol::query::sql::Dialect {
    fn from(d: Dialect) -> Self {
        match d {
            Dialect::Postgres => casepol::query::sql::Dialect::Postgres,
            Dialect::Sqlite => casepol::query::sql::Dialect::Sqlite,
        }
    }
}

/// One action's decision in the answer of `casepol_actions`.
#[derive(Serialize)]
struct ActionJson<'a> {
    action: &'a str,
    decision: &'static str,
    layer: Layer,
    reason: Reason,
}

/// One transition's decision in the answer of `casepol_actions`.
#[derive(Serialize)]
struct MoveJson<'a> {
    action: &'a str,
    from: &'a str,
    to: &'a str,
    decision: &'static str,
    layer: Layer,
    reason: Reason,
}

/// The answer of `casepol_actions`: `casepol actions --format json`.
#[derive(Serialize)]
pub(crate) struct ActionsJson<'a> {
    principal: &'a str,
    resource: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<&'a str>,
    allowed: Vec<&'a str>,
    decisions: Vec<ActionJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    transitions: Vec<MoveJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

impl<'a> ActionsJson<'a> {
    pub(crate) fn new(
        q: &'a ActionsQuery,
        decisions: &'a [(String, Decision)],
        moves: &'a [Move],
        note: Option<&'a str>,
    ) -> ActionsJson<'a> {
        ActionsJson {
            principal: &q.principal,
            resource: &q.resource,
            module: q.module.as_deref(),
            allowed: decisions
                .iter()
                .filter(|(_, d)| d.allowed)
                .map(|(a, _)| a.as_str())
                .collect(),
            decisions: decisions
                .iter()
                .map(|(a, d)| ActionJson {
                    action: a,
                    decision: word(d.allowed),
                    layer: d.layer,
                    reason: d.reason,
                })
                .collect(),
            transitions: moves
                .iter()
                .map(|m| MoveJson {
                    action: &m.action,
                    from: &m.from,
                    to: &m.to,
                    decision: word(m.decision.allowed),
                    layer: m.decision.layer,
                    reason: m.decision.reason,
                })
                .collect(),
            note,
        }
    }
}

/// The answer of `casepol_filter`: the dialect, the whole query, its condition and its bound
/// parameters (`casepol filter --format json` without the residual).
#[derive(Serialize)]
pub(crate) struct FilterJson<'a> {
    dialect: casepol::query::sql::Dialect,
    select: String,
    #[serde(rename = "where")]
    where_clause: &'a str,
    params: &'a [casepol::query::sql::Param],
}

impl<'a> FilterJson<'a> {
    pub(crate) fn new(f: &'a casepol::query::sql::Filter) -> FilterJson<'a> {
        FilterJson {
            dialect: f.dialect,
            select: f.select(),
            where_clause: &f.where_clause,
            params: &f.params,
        }
    }
}

/// The answer of `casepol_list`: one page of resource ids and the cursor of the next.
#[derive(Serialize)]
pub(crate) struct ListJson {
    pub resources: Vec<String>,
    pub next: Option<String>,
}

/// One event, as `casepol apply --format json` writes it.
#[derive(Serialize)]
struct EventJson<'a> {
    user: &'a str,
    resource: Option<&'a str>,
    action: &'a str,
    module: Option<&'a str>,
    access: &'static str,
    causes: &'a [usize],
}

/// One group of events, as `casepol apply --format json` writes it.
#[derive(Serialize)]
struct GroupJson<'a> {
    user: &'a str,
    access: &'static str,
    actions: &'a [String],
    resources: &'a [String],
    modules: &'a [Option<String>],
    causes: &'a [usize],
    events: usize,
    text: String,
}

/// The answer of `casepol_apply`: the server's `/v1/changes` answer.
#[derive(Serialize)]
pub(crate) struct AppliedJson<'a> {
    version: u64,
    events: Vec<EventJson<'a>>,
    groups: Vec<GroupJson<'a>>,
}

fn access(gained: bool) -> &'static str {
    match gained {
        true => "gained",
        false => "lost",
    }
}

impl<'a> AppliedJson<'a> {
    pub(crate) fn new(
        version: u64,
        events: &'a [Event],
        groups: &'a [EventGroup],
        changes: &casepol::live::ChangeSet,
    ) -> AppliedJson<'a> {
        AppliedJson {
            version,
            events: events
                .iter()
                .map(|e| EventJson {
                    user: &e.user,
                    resource: e.resource.as_deref(),
                    action: &e.action,
                    module: e.module.as_deref(),
                    access: access(e.gained),
                    causes: &e.causes,
                })
                .collect(),
            groups: groups
                .iter()
                .map(|g| GroupJson {
                    user: &g.user,
                    access: access(g.gained),
                    actions: &g.actions,
                    resources: &g.resources,
                    modules: &g.modules,
                    causes: &g.causes,
                    events: g.events,
                    text: g.describe(changes),
                })
                .collect(),
        }
    }
}

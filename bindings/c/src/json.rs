//! The JSON the C ABI reads (queries) and writes (answers), in the shapes of the command line's
//! `--format json` and the server's request bodies (docs/bindings.md), built from casepol's
//! public API only. The answers of `actions` and `apply` are the library's own
//! (`casepol::query::ActionsJson`, `casepol::live::AppliedJson`), which the command line writes.

use casepol::{DeterminingRule, Layer, Reason, RequestError, Response};
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

//! The decision endpoints: `/v1/check` (one request or a batch), `/v1/explain`, `/v1/who-can`,
//! `/v1/actions`, `/v1/list` and `/v1/filter`. Each reads its body, loads the served pair once,
//! asks the library, and answers with the JSON the command line's `--format json` prints, in
//! the envelope of `body.rs`.

use super::body::{self, advance, json, ApiError};
use super::state::{App, Current};
use crate::cli::check::{invalid_request, Outcome};
use crate::cli::{parse_request, Engine};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use casepol::diagnostic::words;
use casepol::limits::{MAX_SERVE_BATCH, MAX_SERVE_BODY_BYTES, MAX_SERVE_PAGE, SERVE_DECIDE_SECS};
use casepol::query::sql::Dialect;
use casepol::query::Query;
use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The page size of `/v1/list` when the body gives no `limit`.
pub(crate) const DEFAULT_PAGE: usize = 100;

/// The declared length of a body, if any.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The body of a decision request, or the error answer.
async fn read(app: &App, req: Request) -> Result<(axum::http::request::Parts, String), Response> {
    let (parts, body) = req.into_parts();
    let declared = declared_length(&parts.headers);
    match body::read(
        body,
        declared,
        MAX_SERVE_BODY_BYTES,
        "a decision request",
        true,
    )
    .await
    {
        Ok(text) => Ok((parts, text)),
        Err(e) => Err(e.respond(&app.current.load())),
    }
}

/// Runs `f`, answering 500 (nothing decided, so nothing allowed) should it panic.
pub(crate) fn guarded(current: &Current, f: impl FnOnce() -> Response) -> Response {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| internal_error(current))
}

#[cold]
pub(crate) fn internal_error(current: &Current) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error: the request was not answered, and nothing was allowed".into(),
        "report it, with the request, at the project's issue tracker",
    )
    .respond(current)
}

/// Runs `f` on the blocking pool, so that a long answer (a batch, a listing, who-can on a large
/// world) neither holds up the request threads nor takes longer than [`SERVE_DECIDE_SECS`]:
/// past that the answer is a 503, and what `f` decides is dropped. (Writers use
/// [`blocking_whole`]: a change set is not cut off once it started.)
pub(crate) async fn blocking(
    current: Arc<Current>,
    f: impl FnOnce(&Current) -> Response + Send + 'static,
) -> Response {
    let for_error = current.clone();
    let limit = Duration::from_secs(SERVE_DECIDE_SECS);
    match tokio::time::timeout(limit, blocking_whole(current, f)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request was not answered within {SERVE_DECIDE_SECS} s, and nothing was \
                 decided for it"
            ),
            "ask a smaller question (a smaller batch, a page of a listing)",
        )
        .respond(&for_error),
    }
}

/// Runs `f` on the blocking pool to the end.
pub(crate) async fn blocking_whole(
    current: Arc<Current>,
    f: impl FnOnce(&Current) -> Response + Send + 'static,
) -> Response {
    let for_error = current.clone();
    match tokio::task::spawn_blocking(move || guarded(&current, || f(&current))).await {
        Ok(r) => r,
        Err(_) => internal_error(&for_error),
    }
}

/// The text of a body minus a leading byte-order mark.
fn unmarked(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Whether a `/v1/check` body is a batch: an object whose first key is `requests` (a request has
/// no such field, so a single request never starts so).
fn is_batch(text: &str) -> bool {
    let t = unmarked(text).trim_start();
    t.strip_prefix('{')
        .is_some_and(|t| t.trim_start().starts_with("\"requests\""))
}

/// `POST /v1/check`: one request, answered as `check --format json`; or `{"requests": […]}`,
/// answered `{"results": […]}`, one result per request in order.
pub(crate) async fn check(State(app): State<Arc<App>>, req: Request) -> Response {
    let (_, text) = match read(&app, req).await {
        Ok(read) => read,
        Err(r) => return r,
    };
    let current = app.current.load_full();
    if is_batch(&text) {
        let app = app.clone();
        return blocking(current, move |current| {
            batch(&app, current, unmarked(&text))
        })
        .await;
    }
    guarded(&current, || {
        let started = Instant::now();
        match parse_request(&text) {
            Err((line, column, msg)) => ApiError::request(
                StatusCode::BAD_REQUEST,
                &invalid_request(line, column, &msg),
            )
            .respond(&current),
            Ok(req) => {
                let outcome =
                    Outcome::decide(&current.policy, current.entities(), &req, Engine::Vm);
                app.metrics
                    .decided(&outcome.decision, outcome.error.is_some());
                if let Some(log) = &app.log {
                    log.decision(&current, &req, &outcome, started.elapsed());
                }
                json(
                    &current,
                    StatusCode::OK,
                    Some(current.version()),
                    &outcome.json(None),
                )
            }
        }
    })
}

/// The requests of a batch, kept as their text; at most [`MAX_SERVE_BATCH`], counted as they
/// are read.
struct Requests<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Requests<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Items<'a> {
            type Value = Requests<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of requests")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Requests<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    if out.len() == MAX_SERVE_BATCH {
                        return Err(de::Error::custom(format!(
                            "more than the limit of {} requests in one batch",
                            words::thousands(MAX_SERVE_BATCH)
                        )));
                    }
                    out.push(item);
                }
                Ok(Requests(out))
            }
        }
        d.deserialize_seq(Items(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch<'a> {
    #[serde(borrow)]
    requests: Requests<'a>,
}

#[derive(Serialize)]
struct BatchJson<'a> {
    results: Vec<crate::cli::check::ResultJson<'a>>,
}

const BATCH_HELP: &str = r#"a batch is {"requests": [{"principal": "<user>", "action": "<action>", "resource": "<id>"}, …]}"#;

/// Decides a batch: a request that is not a valid request object gets an `invalid_request`
/// result at its line and column in the body, as a bad line of `check --requests` does, and the
/// others are still decided.
fn batch(app: &App, current: &Current, text: &str) -> Response {
    let batch: Batch = match serde_json::from_str(text) {
        Ok(b) => b,
        Err(e) => {
            let at = casepol::internal::json_pos::error_at(text, &e);
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "invalid batch at line {}, column {}: {}",
                    at.line, at.column, at.message
                ),
                BATCH_HELP,
            )
            .respond(current);
        }
    };
    let started = Instant::now();
    let mut at = (0, 1, 1);
    // Each result, with its request when the decision log wants it.
    let mut decided: Vec<(Option<casepol::Request>, Outcome)> =
        Vec::with_capacity(batch.requests.0.len());
    for raw in &batch.requests.0 {
        let item = raw.get();
        // INVARIANT: `item` borrows from `text`.
        let start = item.as_ptr() as usize - text.as_ptr() as usize;
        match serde_json::from_str::<casepol::Request>(item) {
            Ok(req) => {
                let outcome =
                    Outcome::decide(&current.policy, current.entities(), &req, Engine::Vm);
                app.metrics
                    .decided(&outcome.decision, outcome.error.is_some());
                decided.push((app.log.is_some().then_some(req), outcome));
            }
            Err(e) => {
                let err = casepol::internal::json_pos::error_at(item, &e);
                at = advance(text, at, start + err.offset);
                let (_, line, column) = at;
                app.metrics.decided(&casepol::Decision::ERROR, true);
                decided.push((
                    None,
                    Outcome::error(invalid_request(line, column, &err.message)),
                ));
            }
        }
    }
    if let Some(log) = &app.log {
        // One latency for the batch, shared by its decisions.
        let each = started.elapsed() / (decided.len().max(1) as u32);
        for (req, outcome) in &decided {
            if let Some(req) = req {
                log.decision(current, req, outcome, each);
            }
        }
    }
    let results = decided.iter().map(|(_, o)| o.json(None)).collect();
    json(
        current,
        StatusCode::OK,
        Some(current.version()),
        &BatchJson { results },
    )
}

/// `POST /v1/explain`: why a request is decided as it is, as `explain --format json`, or as its
/// text with `?format=text` (or `Accept: text/plain`).
pub(crate) async fn explain(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, text) = match read(&app, req).await {
        Ok(read) => read,
        Err(r) => return r,
    };
    let as_text = match body::query_value(&parts.uri, "format") {
        Some("text") => true,
        Some("json") => false,
        Some(other) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("unknown format `{}`", words::printable(other)),
                "ask for `format=json` or `format=text`",
            )
            .respond(&app.current.load())
        }
        None => parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain")),
    };
    let current = app.current.load_full();
    let app = app.clone();
    blocking(current, move |current| {
        let started = Instant::now();
        let req = match parse_request(&text) {
            Ok(r) => r,
            Err((line, column, msg)) => {
                return ApiError::request(
                    StatusCode::BAD_REQUEST,
                    &invalid_request(line, column, &msg),
                )
                .respond(current)
            }
        };
        let trace = current.policy.explain(current.entities(), &req);
        app.metrics.decided(&trace.decision, trace.error.is_some());
        if let Some(log) = &app.log {
            let outcome = Outcome {
                decision: trace.decision,
                error: trace.error.clone(),
                note: None,
            };
            log.decision(current, &req, &outcome, started.elapsed());
        }
        match as_text {
            true => body::with_headers(
                current,
                StatusCode::OK,
                "text/plain; charset=utf-8",
                current.policy.explain_text(&trace).into_bytes(),
            ),
            false => json(current, StatusCode::OK, Some(current.version()), &trace),
        }
    })
    .await
}

/// Reads a query's body into `T`, or the 400 answer that says where it is wrong.
fn parse<T: DeserializeOwned>(
    current: &Current,
    text: &str,
    what: &str,
    help: &str,
) -> Result<T, Response> {
    serde_json::from_str(unmarked(text)).map_err(|e| {
        let at = casepol::internal::json_pos::error_at(unmarked(text), &e);
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "invalid {what} at line {}, column {}: {}",
                at.line, at.column, at.message
            ),
            help,
        )
        .respond(current)
    })
}

/// The queries of `query`, asked in the request context a question gives, if any.
fn in_context(
    query: Query<'_>,
    context: Option<serde_json::Map<String, serde_json::Value>>,
) -> Query<'_> {
    match context {
        Some(context) => query.with_context(context),
        None => query,
    }
}

/// A query error: a name the policy or the entities do not know, or a question too large.
fn query_error(current: &Current, e: &casepol::RequestError) -> Response {
    ApiError::request(StatusCode::UNPROCESSABLE_ENTITY, e).respond(current)
}

/// The condition of a question's `where`, checked for its `kind` (the kind alone for a filter
/// that names one without `where`); a condition that does not parse or check is a 422 with
/// its diagnostics under `condition`, each as `validate --format json` gives one, against the
/// text of `where`.
fn condition(
    current: &Current,
    text: Option<&str>,
    kind: Option<&str>,
) -> Result<Option<casepol::query::Condition>, Response> {
    use casepol::query::{Condition, ConditionError};
    let made = match (text, kind) {
        (None, None) => return Ok(None),
        (Some(text), kind) => Condition::new(&current.policy, "where", text, kind),
        (None, Some(kind)) => Condition::of_kind(&current.policy, kind),
    };
    match made {
        Ok(c) => Ok(Some(c)),
        Err(ConditionError::Invalid(e)) => {
            let diagnostics: Vec<casepol::diagnostic::render::JsonDiagnostic> = e
                .diagnostics
                .iter()
                .map(|d| casepol::diagnostic::render::json(d, &e.sources))
                .collect();
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_condition",
                format!(
                    "the condition of `where` has {} error(s)",
                    diagnostics.len()
                ),
                "fix the condition (its diagnostics are under `condition`) and ask again",
            )
            .with("condition", &diagnostics)
            .respond(current))
        }
        Err(ConditionError::Request(e)) => Err(query_error(current, &e)),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_condition",
            e.to_string(),
            "",
        )
        .respond(current)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WhoCanBody {
    action: String,
    resource: String,
    #[serde(default)]
    module: Option<String>,
    /// The request context, when the policy declares one (docs/data-formats.md §3).
    #[serde(default)]
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/who-can`: every user allowed to perform an action on a resource, and why.
pub(crate) async fn who_can(State(app): State<Arc<App>>, req: Request) -> Response {
    let (_, text) = match read(&app, req).await {
        Ok(read) => read,
        Err(r) => return r,
    };
    blocking(app.current.load_full(), move |current| {
        let q: WhoCanBody = match parse(
            current,
            &text,
            "who-can question",
            r#"a who-can question is {"action": "<action>", "resource": "<id>", "module": "<module>", "context": {…}} (module and context optional)"#,
        ) {
            Ok(q) => q,
            Err(r) => return r,
        };
        let query = in_context(Query::new(&current.policy, current.entities()), q.context);
        match query.who_can(&q.action, &q.resource, q.module.as_deref()) {
            Ok(who) => json(current, StatusCode::OK, Some(current.version()), &who),
            Err(e) => query_error(current, &e),
        }
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsBody {
    principal: String,
    resource: String,
    #[serde(default)]
    module: Option<String>,
    /// The request context, when the policy declares one (docs/data-formats.md §3).
    #[serde(default)]
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/actions`: every action's decision for a user on a resource, and the moves.
pub(crate) async fn actions(State(app): State<Arc<App>>, req: Request) -> Response {
    let (_, text) = match read(&app, req).await {
        Ok(read) => read,
        Err(r) => return r,
    };
    let current = app.current.load_full();
    guarded(&current, || {
        let q: ActionsBody = match parse(
            &current,
            &text,
            "actions question",
            r#"an actions question is {"principal": "<user>", "resource": "<id>", "module": "<module>", "context": {…}} (module and context optional)"#,
        ) {
            Ok(q) => q,
            Err(r) => return r,
        };
        let module = q.module.as_deref();
        let query = in_context(Query::new(&current.policy, current.entities()), q.context);
        match crate::cli::actions::Answer::new(&query, &q.principal, &q.resource, module) {
            Ok(answer) => json(
                &current,
                StatusCode::OK,
                Some(current.version()),
                &answer.json(&q.principal, &q.resource, module),
            ),
            Err(e) => query_error(&current, &e),
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListBody {
    principal: String,
    action: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default, rename = "where")]
    where_: Option<String>,
    /// The request context, when the policy declares one (docs/data-formats.md §3).
    #[serde(default)]
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
struct PageJson<'a> {
    resources: Vec<crate::cli::list::Line<'a>>,
    next: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

/// `POST /v1/list`: one page of the resources a user may act on, in id order, with the cursor of
/// the next page (`null` after the last).
pub(crate) async fn list(State(app): State<Arc<App>>, req: Request) -> Response {
    let (_, text) = match read(&app, req).await {
        Ok(read) => read,
        Err(r) => return r,
    };
    blocking(app.current.load_full(), move |current| {
        let q: ListBody = match parse(
            current,
            &text,
            "list question",
            r#"a list question is {"principal": "<user>", "action": "<action>", "kind": "<kind>", "module": "<module>", "where": "<condition>", "limit": 100, "after": "<cursor>", "context": {…}} (all but principal and action optional)"#,
        ) {
            Ok(q) => q,
            Err(r) => return r,
        };
        let limit = q.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_SERVE_PAGE {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "`limit` is {}, but a page holds from 1 to {} resources",
                    words::thousands(limit),
                    words::thousands(MAX_SERVE_PAGE)
                ),
                "ask for a smaller page and follow `next` for the rest",
            )
            .respond(current);
        }
        let (policy, entities) = (&*current.policy, current.entities());
        let cond = match q.where_.as_deref() {
            Some(text) => match condition(current, Some(text), q.kind.as_deref()) {
                Ok(c) => c,
                Err(r) => return r,
            },
            None => None,
        };
        let query = in_context(Query::with_order(policy, entities, &current.order), q.context);
        let query = match &cond {
            Some(c) => query.with_condition(c),
            None => query,
        };
        let listing = match query.list(&q.principal, &q.action, q.module.as_deref(), q.kind.as_deref())
        {
            Ok(l) => l,
            Err(e) => return query_error(current, &e),
        };
        let notes = match query.module_notes(&q.action, q.module.as_deref()) {
            Ok(n) => n,
            Err(e) => return query_error(current, &e),
        };
        let page = listing.page(q.after.as_deref(), limit);
        let resources = page
            .resources
            .iter()
            .map(|&r| crate::cli::list::Line::new(policy, entities, r))
            .collect();
        json(
            current,
            StatusCode::OK,
            Some(current.version()),
            &PageJson {
                resources,
                next: page.next,
                notes,
            },
        )
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterBody {
    principal: String,
    action: String,
    #[serde(default)]
    module: Option<String>,
    dialect: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, rename = "where")]
    where_: Option<String>,
    /// The request context, when the policy declares one (docs/data-formats.md §3).
    #[serde(default)]
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/filter`: the SQL that selects the resources a user may act on, with its bound
/// parameters and the residual condition, as `filter --format json`.
pub(crate) async fn filter(State(app): State<Arc<App>>, req: Request) -> Response {
    let (_, text) = match read(&app, req).await {
        Ok(read) => read,
        Err(r) => return r,
    };
    blocking(app.current.load_full(), move |current| {
        let q: FilterBody = match parse(
            current,
            &text,
            "filter question",
            r#"a filter question is {"principal": "<user>", "action": "<action>", "module": "<module>", "kind": "<kind>", "where": "<condition>", "dialect": "postgres", "context": {…}} (module, kind, where and context optional; dialect postgres or sqlite)"#,
        ) {
            Ok(q) => q,
            Err(r) => return r,
        };
        let dialect = match q.dialect.as_str() {
            "postgres" => Dialect::Postgres,
            "sqlite" => Dialect::Sqlite,
            other => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("unknown dialect `{}`", words::printable(other)),
                    "use `postgres` or `sqlite`",
                )
                .respond(current)
            }
        };
        let cond = match condition(current, q.where_.as_deref(), q.kind.as_deref()) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let query = in_context(Query::new(&current.policy, current.entities()), q.context);
        let query = match &cond {
            Some(c) => query.with_condition(c),
            None => query,
        };
        let answer = match crate::cli::filter::Answer::new(
            &current.policy,
            &query,
            &q.principal,
            &q.action,
            q.module.as_deref(),
            dialect,
            &casepol::query::sql::Page::default(),
        ) {
            Ok(a) => a,
            Err(e) => return query_error(current, &e),
        };
        match answer.json(&current.policy) {
            Ok(j) => json(current, StatusCode::OK, Some(current.version()), &j),
            Err(e) => query_error(current, &e),
        }
    })
    .await
}

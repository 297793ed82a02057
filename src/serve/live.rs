//! Live data: `POST /v1/changes` applies a change set with `casepol::live::apply` and swaps the
//! next snapshot in whole; `GET /v1/events` streams each applied change set (and each reload)
//! to its subscribers as server-sent events, from a bounded channel that never makes a writer
//! wait: a subscriber that falls behind misses the oldest and is told how many.

use super::body::{self, json, ApiError};
use super::decide::{blocking_whole, declared_length};
use super::state::{App, Current};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use casepol::limits::{MAX_CHANGE_SET_BYTES, MAX_SERVE_SUBSCRIBERS};
use casepol::live::AppliedJson;
use casepol::live::{self, ChangeSet};
use serde::Serialize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Whether the request carries the server's bearer token, when one is set; the 401 answer
/// otherwise. The comparison takes the same time wherever the tokens differ.
pub(crate) fn authorized(app: &App, headers: &HeaderMap, what: &str) -> Result<(), Response> {
    let Some(token) = &app.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        return Ok(());
    }
    let message = match given.is_empty() {
        true => format!("{what} needs the server's bearer token"),
        false => format!("{what} needs the server's bearer token, and this is not it"),
    };
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        message,
        "send the header `Authorization: Bearer <token>` with the token the server was given",
    )
    .respond(&app.current.load());
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Err(response)
}

#[derive(Serialize)]
struct ProblemJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<usize>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

/// `POST /v1/changes`: applies one change set (docs/data-formats.md §4), all or nothing, and
/// answers as `apply --format json` does for it: the new version and the access changes. A
/// change set with problems is refused with every problem, and the entities stay as they were.
pub(crate) async fn changes(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(r) = authorized(&app, &parts.headers, "`/v1/changes`") {
        return r;
    }
    let declared = declared_length(&parts.headers);
    let text = match body::read(body, declared, MAX_CHANGE_SET_BYTES, "a change set", true).await {
        Ok(t) => t,
        Err(e) => return e.respond(&app.current.load()),
    };
    // One writer at a time, each from the pair the one before it served; readers go on with
    // the old pair until the new one is swapped in whole.
    let _writer = app.writer.lock().await;
    let current = app.current.load_full();
    let for_apply = app.clone();
    blocking_whole(current, move |current| {
        let app = for_apply;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let applied = ChangeSet::from_json(text).and_then(|changes| {
            live::apply(&current.policy, &current.snapshot, &changes).map(|a| (a, changes))
        });
        let (applied, changes) = match applied {
            Ok(a) => a,
            Err(e) => {
                app.metrics.change_set(false);
                let problems: Vec<ProblemJson> = e
                    .problems
                    .iter()
                    .map(|p| ProblemJson {
                        change: p.change,
                        message: &p.message,
                        help: p.help.as_deref(),
                    })
                    .collect();
                return ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_change_set",
                    format!(
                        "the change set was not applied: {} problem(s); the entities stay at \
                         version {}",
                        e.problems.len(),
                        current.version()
                    ),
                    "",
                )
                .with("problems", &problems)
                .respond(current);
            }
        };
        let next = current.with_snapshot(applied.snapshot.clone());
        let groups = live::group(&applied.events);
        let answer = AppliedJson::new(None, next.version(), &applied.events, &groups, &changes);
        let response = json(&next, StatusCode::OK, None, &answer);
        // Swapped in before its event is sent: a subscriber that hears of a version can ask
        // about it.
        let event = (app.events.receiver_count() > 0).then(|| {
            let data = serde_json::to_string(&Stamped {
                policy_hash: &next.hash,
                body: &answer,
            })
            .unwrap_or_default();
            frame("changes", Some(next.version()), &data)
        });
        drop(answer);
        app.current.store(Arc::new(next));
        app.metrics.change_set(true);
        if let Some(event) = event {
            let _ = app.events.send(event.into());
        }
        response
    })
    .await
}

/// The data of an event: the policy hash, then the body's fields.
#[derive(Serialize)]
pub(crate) struct Stamped<'a, T: Serialize> {
    pub(crate) policy_hash: &'a str,
    #[serde(flatten)]
    pub(crate) body: T,
}

/// One server-sent event. `data` is one line of JSON (JSON escapes every line break).
pub(crate) fn frame(event: &str, id: Option<u64>, data: &str) -> String {
    match id {
        Some(id) => format!("event: {event}\nid: {id}\ndata: {data}\n\n"),
        None => format!("event: {event}\ndata: {data}\n\n"),
    }
}

#[derive(Serialize)]
struct Hello<'a> {
    policy_hash: &'a str,
    version: u64,
}

#[derive(Serialize)]
struct Lagged {
    missed: u64,
}

/// Counts a subscriber while it is subscribed.
struct Subscribed(Arc<App>);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Relaxed);
    }
}

/// `GET /v1/events`: server-sent events. First `ready` (the policy hash and version served when
/// the stream starts), then `changes` for each change set applied (the answer of
/// `/v1/changes`), `policy` for each reload, and `lagged` when the subscriber fell behind and
/// missed some; a comment every 15 seconds keeps the connection open. The stream ends when the
/// server shuts down.
pub(crate) async fn events(State(app): State<Arc<App>>) -> Response {
    let subscribed = app.subscribers.fetch_add(1, Relaxed) + 1;
    let guard = Subscribed(app.clone());
    if subscribed > MAX_SERVE_SUBSCRIBERS {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_subscribers",
            format!(
                "the server has its {MAX_SERVE_SUBSCRIBERS} subscribers of `/v1/events` already"
            ),
            "try again later, or share one subscription",
        )
        .respond(&app.current.load());
    }
    // Subscribe before reading the pair served, so that no change set falls between the two.
    let receiver = app.events.subscribe();
    let current = app.current.load_full();
    let hello = serde_json::to_string(&Hello {
        policy_hash: &current.hash,
        version: current.version(),
    })
    .unwrap_or_default();
    let first: Arc<str> = frame("ready", Some(current.version()), &hello).into();
    let stopping = app.stopping.subscribe();
    struct Stream {
        receiver: tokio::sync::broadcast::Receiver<Arc<str>>,
        stopping: tokio::sync::watch::Receiver<bool>,
        first: Option<Arc<str>>,
        app: Arc<App>,
        _guard: Subscribed,
    }
    let state = Stream {
        receiver,
        stopping,
        first: Some(first),
        app: app.clone(),
        _guard: guard,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(first) = s.first.take() {
            return Some((Ok::<_, std::convert::Infallible>(bytes(&first)), s));
        }
        if *s.stopping.borrow() {
            return None;
        }
        let frame = tokio::select! {
            message = s.receiver.recv() => match message {
                Ok(frame) => bytes(&frame),
                Err(RecvError::Lagged(missed)) => {
                    s.app.metrics.events_lagged.fetch_add(missed, Relaxed);
                    let data = serde_json::to_string(&Lagged { missed }).unwrap_or_default();
                    bytes(&frame("lagged", None, &data))
                }
                Err(RecvError::Closed) => return None,
            },
            _ = s.stopping.changed() => return None,
            _ = tokio::time::sleep(Duration::from_secs(15)) => {
                axum::body::Bytes::from_static(b": keep-alive\n\n")
            }
        };
        Some((Ok(frame), s))
    });
    let mut response =
        body::with_headers(&current, StatusCode::OK, "text/event-stream", Vec::new());
    *response.body_mut() = Body::from_stream(stream);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn bytes(text: &str) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(text.as_bytes())
}

/// Sends a `policy` event: the policy changed; the version did not.
pub(crate) fn policy_event(app: &App, current: &Current) {
    if app.events.receiver_count() == 0 {
        return;
    }
    let data = serde_json::to_string(&Hello {
        policy_hash: &current.hash,
        version: current.version(),
    })
    .unwrap_or_default();
    let _ = app
        .events
        .send(frame("policy", Some(current.version()), &data).into());
}

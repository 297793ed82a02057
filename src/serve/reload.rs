//! Policy reload: `PUT /v1/policy` and `--watch`. The new policy is checked, and the entities
//! served are written out and loaded again for it, before anything is swapped: a policy with
//! errors, or one the entities do not fit, is refused with its diagnostics, and the old one
//! keeps serving. Requests in flight finish on the pair they loaded.

use super::body::{self, json, ApiError};
use super::decide::{blocking_whole, declared_length};
use super::live::{authorized, policy_event};
use super::state::{policy_hash, App, Current};
use crate::cli::validate::PolicyJson;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use casepol::diagnostic::render::{self, JsonDiagnostic};
use casepol::diagnostic::{Severity, Sources};
use casepol::limits::MAX_POLICY_FILE_BYTES;
use casepol::Policy;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Serialize)]
struct ReloadedJson<'a> {
    /// The new policy's warnings.
    warnings: Vec<JsonDiagnostic<'a>>,
}

/// `PUT /v1/policy`: the body is the text of the new policy, one `.casepol` file (named by
/// `?name=`, or after the file served).
pub(crate) async fn put_policy(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(r) = authorized(&app, &parts.headers, "`PUT /v1/policy`") {
        return r;
    }
    let declared = declared_length(&parts.headers);
    let text = match body::read(body, declared, MAX_POLICY_FILE_BYTES, "a policy", false).await {
        Ok(t) => t,
        Err(e) => return e.respond(&app.current.load()),
    };
    let name = match body::query_value(&parts.uri, "name") {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => default_name(&app.policy_path),
    };
    let mut sources = Sources::new();
    sources.add(name, text);
    reload(&app, sources).await.0
}

/// The name a policy sent whole takes: the served file's name, or `policy.casepol` when a
/// directory is served.
fn default_name(path: &Path) -> String {
    match path.extension().is_some_and(|e| e == "casepol") {
        true => path.file_name().map_or("policy.casepol".into(), |n| {
            n.to_string_lossy().into_owned()
        }),
        false => "policy.casepol".into(),
    }
}

/// Checks `sources`, loads the served entities again for them, and swaps the pair in; or
/// refuses, and nothing changes. The answer, and on a refusal the same for people.
pub(crate) async fn reload(app: &Arc<App>, sources: Sources) -> (Response, Option<String>) {
    let _writer = app.writer.lock().await;
    let current = app.current.load_full();
    let app = app.clone();
    let said = Arc::new(std::sync::Mutex::new(None));
    let to_say = said.clone();
    let response = blocking_whole(current, move |current| match next(current, sources) {
        Err(refused) => {
            let (e, text) = *refused;
            app.metrics.reloaded(false);
            if let Ok(mut said) = to_say.lock() {
                *said = Some(text);
            }
            e.respond(current)
        }
        Ok(next) => {
            let policy = next.policy.clone();
            let sources = policy.compiled().sources();
            let warnings = policy
                .warnings()
                .iter()
                .map(|d| render::json(d, sources))
                .collect();
            let response = json(
                &next,
                StatusCode::OK,
                Some(next.version()),
                &ReloadedJson { warnings },
            );
            let next = Arc::new(next);
            app.current.store(next.clone());
            app.metrics.reloaded(true);
            policy_event(&app, &next);
            response
        }
    })
    .await;
    let said = said.lock().ok().and_then(|mut s| s.take());
    (response, said)
}

/// The pair `sources` would make with the entities of `current`, or why not: the answer, and
/// the same for people.
/// (Boxed: the refusal is large, and rare.)
fn next(current: &Current, sources: Sources) -> Result<Current, Box<(ApiError, String)>> {
    let hash = policy_hash(&sources);
    let policy = match Policy::from_sources(sources) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            let diagnostics: Vec<JsonDiagnostic> = e
                .diagnostics
                .iter()
                .map(|d| render::json(d, &e.sources))
                .collect();
            let errors = e
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let name = e
                .sources
                .iter()
                .next()
                .map_or("", |(_, n, _)| n)
                .to_string();
            let policy = PolicyJson::Checked {
                policy: name,
                ok: false,
                errors,
                warnings: diagnostics.len() - errors,
                diagnostics,
            };
            let text = e.render();
            return Err(Box::new((
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_policy",
                    format!(
                        "the policy has {errors} error(s) and was not loaded; the policy {} keeps \
                     serving",
                        current.hash
                    ),
                    "fix the errors (their diagnostics are under `policy`) and send it again",
                )
                .with("policy", &policy),
                text,
            )));
        }
    };
    let written = current.entities().to_json(current.policy.compiled());
    let text = serde_json::to_string(&written).unwrap_or_default();
    match policy.load_entities(&text) {
        Ok(entities) => Ok(current.reloaded(policy, hash, entities)),
        Err(errors) => {
            let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let text = shown.iter().map(|e| format!("error: {e}\n")).collect();
            Err(Box::new((
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_entities",
                    format!(
                        "the entities served do not fit the new policy: {} problem(s); the policy \
                     {} keeps serving",
                        shown.len(),
                        current.hash
                    ),
                    "change the entities first (`/v1/changes`), or the policy so that they fit",
                )
                .with("entities", &shown),
                text,
            )))
        }
    }
}

/// What tells that a policy's files changed: each `.casepol` file's path, size and time of
/// modification.
pub(crate) type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// The [`Fingerprint`] of the policy's files now.
pub(crate) fn fingerprint(path: &Path) -> Fingerprint {
    let stat = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (p.to_path_buf(), m.len(), m.modified().ok()))
    };
    if !path.is_dir() {
        return stat(path).into_iter().collect();
    }
    let mut files: Vec<_> = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "casepol"))
                .filter_map(|p| stat(&p))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// `--watch`: every second, looks whether the policy's files changed since `seen`, taken before
/// the policy serving was read (taken in this task instead, a change made before the task first
/// ran would be missed for good); when they did, reads and reloads them. A policy that cannot be
/// read, has errors or does not fit the entities is reported on standard error, and the old one
/// keeps serving.
pub(crate) async fn watch(app: Arc<App>, path: PathBuf, mut seen: Fingerprint) {
    let mut stopping = app.stopping.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopping.changed() => return,
        }
        let now = fingerprint(&path);
        if now == seen {
            continue;
        }
        seen = now;
        let read = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || casepol::internal::files::read_policy(&path)).await
        };
        let sources = match read {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                eprintln!("casepol serve: --watch: {e}; the old policy keeps serving");
                app.metrics.reloaded(false);
                continue;
            }
            Err(_) => continue,
        };
        if policy_hash(&sources) == *app.current.load().hash {
            continue;
        }
        let (response, said) = reload(&app, sources).await;
        let current = app.current.load();
        if let Some(text) = said {
            eprint!("{text}");
        }
        match response.status() {
            StatusCode::OK => eprintln!(
                "casepol serve: --watch: reloaded `{}` (policy {}, version {})",
                path.display(),
                current.hash,
                current.version()
            ),
            _ => eprintln!(
                "casepol serve: --watch: `{}` was not loaded; the policy {} keeps serving",
                path.display(),
                current.hash
            ),
        }
    }
}

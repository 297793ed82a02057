//! Operations: `/health`, `/ready`, `/metrics` (Prometheus text), `/openapi.json`, the
//! per-request middleware that times every answer, stamps it and bounds decisions in time, and
//! the decision log, written as JSON Lines by a thread of its own off the request path.

use super::body::{self, json, stamp, ApiError, HASH_HEADER};
use super::state::{App, Current};
use crate::cli::check::Outcome;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use casepol::limits::MAX_SERVE_LOG_QUEUE;
use casepol::{Decision, Layer, Reason, RequestError};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The OpenAPI 3 document of the server, kept in the repository and served as it is.
pub(crate) const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// The endpoints, as the metrics name them: (path, label).
pub(crate) const ENDPOINTS: [(&str, &str); 13] = [
    ("/v1/check", "check"),
    ("/v1/explain", "explain"),
    ("/v1/who-can", "who_can"),
    ("/v1/actions", "actions"),
    ("/v1/list", "list"),
    ("/v1/filter", "filter"),
    ("/v1/changes", "changes"),
    ("/v1/events", "events"),
    ("/v1/policy", "policy"),
    ("/health", "health"),
    ("/ready", "ready"),
    ("/metrics", "metrics"),
    ("/openapi.json", "openapi"),
];

/// The label of a path that is no endpoint.
const OTHER: usize = ENDPOINTS.len();

/// The upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];

fn counters<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

/// One latency histogram: a count per bucket (not cumulative; the `+Inf` bucket last), the sum
/// in nanoseconds and the count.
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: counters(),
            sum_ns: AtomicU64::new(0),
        }
    }
}

/// The server's counters, read by `/metrics`.
pub(crate) struct Metrics {
    /// Allowed, denied, and denied for an error.
    decisions: [AtomicU64; 3],
    latency: [Histogram; ENDPOINTS.len() + 1],
    /// Answers by endpoint and status class (1xx … 5xx).
    responses: [[AtomicU64; 5]; ENDPOINTS.len() + 1],
    /// Policies reloaded, and refused.
    reloads: [AtomicU64; 2],
    /// Change sets applied, and refused.
    change_sets: [AtomicU64; 2],
    /// Change sets that event subscribers missed by falling behind.
    pub(crate) events_lagged: AtomicU64,
    /// Following a database: 1 + the last change-log sequence number applied; 0 when the
    /// server follows none.
    pub(crate) follow_seq: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            decisions: counters(),
            latency: std::array::from_fn(|_| Histogram::default()),
            responses: std::array::from_fn(|_| counters()),
            reloads: counters(),
            change_sets: counters(),
            events_lagged: AtomicU64::new(0),
            follow_seq: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub(crate) fn decided(&self, d: &Decision, error: bool) {
        let i = match (d.allowed, error) {
            (true, _) => 0,
            (false, false) => 1,
            (false, true) => 2,
        };
        self.decisions[i].fetch_add(1, Relaxed);
    }

    pub(crate) fn reloaded(&self, ok: bool) {
        self.reloads[usize::from(!ok)].fetch_add(1, Relaxed);
    }

    pub(crate) fn change_set(&self, applied: bool) {
        self.change_sets[usize::from(!applied)].fetch_add(1, Relaxed);
    }

    fn observe(&self, endpoint: usize, status: StatusCode, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(BUCKETS.len());
        let h = &self.latency[endpoint];
        h.buckets[bucket].fetch_add(1, Relaxed);
        h.sum_ns
            .fetch_add(took.as_nanos().try_into().unwrap_or(u64::MAX), Relaxed);
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.responses[endpoint][class].fetch_add(1, Relaxed);
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    pub(crate) fn render(&self, app: &App, current: &Current) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            "casepol_decisions_total",
            "counter",
            "Decisions made by /v1/check and /v1/explain, by result.",
        );
        let mut lines = String::new();
        for (i, result) in ["allow", "deny", "error"].iter().enumerate() {
            let _ = writeln!(
                lines,
                "casepol_decisions_total{{result=\"{result}\"}} {}",
                self.decisions[i].load(Relaxed)
            );
        }
        out.push_str(&lines);
        let labels = ENDPOINTS.iter().map(|(_, label)| *label).chain(["other"]);
        let _ = writeln!(
            out,
            "# HELP casepol_request_duration_seconds Time from a request's arrival to its answer, by endpoint.\n\
             # TYPE casepol_request_duration_seconds histogram"
        );
        for (h, label) in self.latency.iter().zip(labels.clone()) {
            let mut cumulative = 0;
            for (i, count) in h.buckets.iter().enumerate() {
                cumulative += count.load(Relaxed);
                let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "casepol_request_duration_seconds_bucket{{endpoint=\"{label}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = h.sum_ns.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "casepol_request_duration_seconds_sum{{endpoint=\"{label}\"}} {sum}\n\
                 casepol_request_duration_seconds_count{{endpoint=\"{label}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP casepol_responses_total Answers by endpoint and status class.\n\
             # TYPE casepol_responses_total counter"
        );
        for (classes, label) in self.responses.iter().zip(labels) {
            for (i, count) in classes.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "casepol_responses_total{{endpoint=\"{label}\",code=\"{}xx\"}} {}",
                    i + 1,
                    count.load(Relaxed)
                );
            }
        }
        let pairs =
            |name: &str, kind: &str, help: &str, values: &[(&str, u64)], out: &mut String| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                for (label, v) in values {
                    let _ = writeln!(out, "{name}{label} {v}");
                }
            };
        pairs(
            "casepol_reloads_total",
            "counter",
            "Policy reloads (PUT /v1/policy and --watch), by result.",
            &[
                ("{result=\"ok\"}", self.reloads[0].load(Relaxed)),
                ("{result=\"refused\"}", self.reloads[1].load(Relaxed)),
            ],
            &mut out,
        );
        pairs(
            "casepol_change_sets_total",
            "counter",
            "Change sets posted to /v1/changes (and transactions of a followed database), by result.",
            &[
                ("{result=\"applied\"}", self.change_sets[0].load(Relaxed)),
                ("{result=\"refused\"}", self.change_sets[1].load(Relaxed)),
            ],
            &mut out,
        );
        pairs(
            "casepol_snapshot_version",
            "gauge",
            "The version of the entities served.",
            &[("", current.version())],
            &mut out,
        );
        let hash_label = format!("{{hash=\"{}\"}}", current.hash);
        pairs(
            "casepol_policy_info",
            "gauge",
            "The policy served, by hash.",
            &[(&hash_label, 1)],
            &mut out,
        );
        pairs(
            "casepol_events_subscribers",
            "gauge",
            "Subscribers of /v1/events.",
            &[("", app.subscribers.load(Relaxed) as u64)],
            &mut out,
        );
        pairs(
            "casepol_events_lagged_total",
            "counter",
            "Events that subscribers missed by falling behind.",
            &[("", self.events_lagged.load(Relaxed))],
            &mut out,
        );
        if let Some(seq) = self.follow_seq.load(Relaxed).checked_sub(1) {
            pairs(
                "casepol_follow_last_seq",
                "gauge",
                "Following a database: the last change-log sequence number applied.",
                &[("", seq)],
                &mut out,
            );
        }
        let (written, dropped) = app.log.as_ref().map_or((0, 0), |l| {
            (l.written.load(Relaxed), l.dropped.load(Relaxed))
        });
        pairs(
            "casepol_decision_log_written_total",
            "counter",
            "Decision-log lines written.",
            &[("", written)],
            &mut out,
        );
        pairs(
            "casepol_decision_log_dropped_total",
            "counter",
            "Decision-log lines dropped because the log could not keep up (or could not be written).",
            &[("", dropped)],
            &mut out,
        );
        out
    }
}

/// Every request goes through here: every answer gets the policy hash and version headers (those of the pair served when it leaves, unless the
/// handler set the pair that decided), and is counted and timed.
pub(crate) async fn observe(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path();
    let endpoint = ENDPOINTS
        .iter()
        .position(|(p, _)| *p == path)
        .unwrap_or(OTHER);
    let mut response = next.run(req).await;
    if !response.headers().contains_key(HASH_HEADER) {
        stamp(response.headers_mut(), &app.current.load());
    }
    app.metrics
        .observe(endpoint, response.status(), started.elapsed());
    response
}

#[derive(Serialize)]
struct Status<'a> {
    status: &'a str,
}

/// `GET /health`: the process is up.
pub(crate) async fn health(State(app): State<Arc<App>>) -> Response {
    json(
        &app.current.load(),
        StatusCode::OK,
        Some(app.current.load().version()),
        &Status { status: "ok" },
    )
}

/// `GET /ready`: the server decides requests; 503 once shutdown has begun.
pub(crate) async fn ready(State(app): State<Arc<App>>) -> Response {
    let current = app.current.load();
    match app.ready.load(Relaxed) {
        true => json(
            &current,
            StatusCode::OK,
            Some(current.version()),
            &Status { status: "ready" },
        ),
        false => json(
            &current,
            StatusCode::SERVICE_UNAVAILABLE,
            Some(current.version()),
            &Status { status: "stopping" },
        ),
    }
}

/// `GET /metrics`: the Prometheus text format.
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> Response {
    let current = app.current.load();
    let text = app.metrics.render(&app, &current);
    body::with_headers(
        &current,
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        text.into_bytes(),
    )
}

/// `GET /openapi.json`: the document in docs/openapi.json.
pub(crate) async fn openapi(State(app): State<Arc<App>>) -> Response {
    body::with_headers(
        &app.current.load(),
        StatusCode::OK,
        "application/json",
        OPENAPI.as_bytes().to_vec(),
    )
}

/// Any other path.
pub(crate) async fn not_found(State(app): State<Arc<App>>, req: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no endpoint `{}`",
            casepol::diagnostic::words::printable(req.uri().path())
        ),
        "the endpoints are listed at /openapi.json and in docs/server.md",
    )
    .respond(&app.current.load())
}

/// A known path asked with another method.
pub(crate) async fn method_not_allowed(State(app): State<Arc<App>>, req: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "`{}` does not take {}",
            casepol::diagnostic::words::printable(req.uri().path()),
            req.method()
        ),
        "the endpoints and their methods are listed at /openapi.json and in docs/server.md",
    )
    .respond(&app.current.load())
}

/// One decision to log.
struct Line {
    time: SystemTime,
    policy_hash: Arc<str>,
    version: u64,
    request: casepol::Request,
    decision: Decision,
    error: Option<RequestError>,
    latency: Duration,
}

enum Message {
    Line(Box<Line>),
    Close,
}

/// A decision-log line, in this field order (docs/server.md).
#[derive(Serialize)]
struct LineJson<'a> {
    time: String,
    policy_hash: &'a str,
    version: u64,
    request: &'a casepol::Request,
    decision: &'static str,
    layer: Layer,
    reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RequestError>,
    latency_us: f64,
}

/// The decision log: lines queue in a bounded channel and a thread writes them; when the queue
/// is full a line is dropped and counted, so the log never slows a decision down.
pub(crate) struct DecisionLog {
    queue: SyncSender<Message>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    written: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl DecisionLog {
    /// A log written to `path` (appended to), or to standard output for `-`.
    pub(crate) fn open(path: &Path) -> Result<DecisionLog, String> {
        let out: Box<dyn std::io::Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open the decision log `{}`: {e}", path.display()))?;
            Box::new(file)
        };
        let (queue, lines) = sync_channel::<Message>(MAX_SERVE_LOG_QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let (w, d) = (written.clone(), dropped.clone());
        let thread = std::thread::Builder::new()
            .name("casepol-decision-log".into())
            .spawn(move || {
                let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
                // Lines written into the buffer since it was last flushed: they count as
                // written once the flush succeeds, and as dropped if it fails.
                let mut pending = 0u64;
                let flush = |out: &mut std::io::BufWriter<_>, pending: &mut u64| {
                    match out.flush() {
                        Ok(()) => w.fetch_add(*pending, Relaxed),
                        Err(_) => d.fetch_add(*pending, Relaxed),
                    };
                    *pending = 0;
                };
                loop {
                    // Write what is queued; flush when the queue is empty, then wait.
                    let message = match lines.try_recv() {
                        Ok(m) => m,
                        Err(_) => {
                            flush(&mut out, &mut pending);
                            match lines.recv() {
                                Ok(m) => m,
                                Err(_) => break,
                            }
                        }
                    };
                    let line = match message {
                        Message::Line(l) => l,
                        Message::Close => break,
                    };
                    let d_ = &line.decision;
                    let json = LineJson {
                        time: rfc3339(line.time),
                        policy_hash: &line.policy_hash,
                        version: line.version,
                        request: &line.request,
                        decision: if d_.allowed { "allow" } else { "deny" },
                        layer: d_.layer,
                        reason: d_.reason,
                        error: line.error.as_ref(),
                        latency_us: line.latency.as_secs_f64() * 1e6,
                    };
                    match serde_json::to_writer(&mut out, &json).is_ok()
                        && out.write_all(b"\n").is_ok()
                    {
                        true => pending += 1,
                        // A failed write may have lost what the buffer held, too.
                        false => {
                            d.fetch_add(pending + 1, Relaxed);
                            pending = 0;
                        }
                    }
                }
                flush(&mut out, &mut pending);
            })
            .map_err(|e| format!("cannot start the decision log: {e}"))?;
        Ok(DecisionLog {
            queue,
            thread: Mutex::new(Some(thread)),
            written,
            dropped,
        })
    }

    /// Queues one decision, or drops and counts it when the queue is full.
    pub(crate) fn decision(
        &self,
        current: &Current,
        request: &casepol::Request,
        outcome: &Outcome,
        latency: Duration,
    ) {
        let line = Line {
            time: SystemTime::now(),
            policy_hash: current.hash.clone(),
            version: current.version(),
            request: request.clone(),
            decision: outcome.decision,
            error: outcome.error.clone(),
            latency,
        };
        match self.queue.try_send(Message::Line(Box::new(line))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Relaxed);
            }
        }
    }

    /// Writes what is queued and stops the thread.
    pub(crate) fn close(&self) {
        let _ = self.queue.send(Message::Close);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// A time as RFC 3339 in UTC with microseconds: `2026-11-01T09:30:00.000123Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_rfc3339() {
        let at =
            |s: u64, us: u64| SystemTime::UNIX_EPOCH + Duration::from_micros(s * 1_000_000 + us);
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(at(951_782_400, 7)), "2000-02-29T00:00:00.000007Z");
        assert_eq!(rfc3339(at(1_798_761_599, 0)), "2026-12-31T23:59:59.000000Z");
    }
}

//! Bodies read within their limits (size, time, UTF-8, JSON depth), and the answers: every JSON
//! answer in one envelope that names the policy hash and the snapshot version that decided it,
//! and every error as a 4xx with the command line's words.

use super::state::Current;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use casepol::limits::{self, MAX_SERVE_JSON_DEPTH, SERVE_BODY_SECS};
use casepol::RequestError;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::value::RawValue;
use std::time::Duration;

/// The header that names the policy hash of an answer.
pub(crate) const HASH_HEADER: &str = "casepol-policy-hash";
/// The header that names the snapshot version of an answer.
pub(crate) const VERSION_HEADER: &str = "casepol-version";

/// A JSON answer: the policy hash and the version first, then the body's own fields.
#[derive(Serialize)]
pub(crate) struct Envelope<'a, T: Serialize> {
    policy_hash: &'a str,
    /// Absent where the body names the version itself (an applied change set).
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(flatten)]
    body: T,
}

/// What an error answer holds under `error`.
#[derive(Serialize, Debug, Clone)]
pub(crate) struct ErrorJson {
    /// A fixed word: a request error's kind (`unknown_principal`, `invalid_request`, …) or the
    /// server's own (`too_large`, `timeout`, `unauthorized`, …).
    pub(crate) kind: String,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) help: Option<String>,
    /// More, by kind: `problems` (of a change set), `policy` (the diagnostics of a policy, as
    /// `validate --format json` gives them), `entities` (the entities' problems) or `condition`
    /// (the diagnostics of a question's `where`). Each is JSON written once, in its fields'
    /// order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problems: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) policy: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) entities: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) condition: Option<Box<RawValue>>,
}

/// An answer that is an error: its status and what it says.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    /// Boxed: errors are rare, and results that may hold one stay small.
    pub(crate) error: Box<ErrorJson>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a ErrorJson,
}

impl ApiError {
    #[cold]
    pub(crate) fn new(status: StatusCode, kind: &str, message: String, help: &str) -> ApiError {
        ApiError {
            status,
            error: Box::new(ErrorJson {
                kind: kind.to_string(),
                message,
                help: (!help.is_empty()).then(|| help.to_string()),
                problems: None,
                policy: None,
                entities: None,
                condition: None,
            }),
        }
    }

    /// A request error of the library, with its kind, message and help.
    #[cold]
    pub(crate) fn request(status: StatusCode, e: &RequestError) -> ApiError {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "error".into());
        ApiError {
            status,
            error: Box::new(ErrorJson {
                kind,
                message: e.message.clone(),
                help: e.help.clone(),
                problems: None,
                policy: None,
                entities: None,
                condition: None,
            }),
        }
    }

    /// Adds `value` under `key`: `problems`, `policy`, `condition` or `entities`.
    pub(crate) fn with(mut self, key: &str, value: &impl Serialize) -> ApiError {
        let raw = serde_json::value::to_raw_value(value).ok();
        match key {
            "problems" => self.error.problems = raw,
            "policy" => self.error.policy = raw,
            "condition" => self.error.condition = raw,
            _ => self.error.entities = raw,
        }
        self
    }

    /// The answer, in the envelope of `current`.
    pub(crate) fn respond(&self, current: &Current) -> Response {
        json(
            current,
            self.status,
            Some(current.version()),
            &ErrorBody { error: &self.error },
        )
    }
}

/// `body` as JSON in the envelope of `current`, with `status`.
pub(crate) fn json<T: Serialize>(
    current: &Current,
    status: StatusCode,
    version: Option<u64>,
    body: &T,
) -> Response {
    let envelope = Envelope {
        policy_hash: &current.hash,
        version,
        body,
    };
    match serde_json::to_vec(&envelope) {
        Ok(bytes) => with_headers(current, status, "application/json", bytes),
        // INVARIANT: the answers are structs of strings, numbers and lists; they serialize.
        Err(e) => with_headers(
            current,
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("internal error: the answer could not be written: {e}").into_bytes(),
        ),
    }
}

/// A response with the policy hash and version headers of `current`.
pub(crate) fn with_headers(
    current: &Current,
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    stamp(headers, current);
    response
}

/// Puts the policy hash and version of `current` on `headers`.
pub(crate) fn stamp(headers: &mut axum::http::HeaderMap, current: &Current) {
    if let Ok(v) = HeaderValue::from_str(&current.hash) {
        headers.insert(HASH_HEADER, v);
    }
    headers.insert(VERSION_HEADER, HeaderValue::from(current.version()));
}

/// Reads a body of at most `limit` bytes (`what` names it in the error) within
/// [`SERVE_BODY_SECS`], as UTF-8 text nested at most [`MAX_SERVE_JSON_DEPTH`] deep when `json`.
pub(crate) async fn read(
    body: Body,
    declared: Option<u64>,
    limit: usize,
    what: &str,
    json: bool,
) -> Result<String, ApiError> {
    // `size` is the declared size, or none when the body grew past the limit as it came.
    let too_large = |size: Option<u64>| {
        let size = match size {
            Some(n) => format!("{}, ", limits::bytes(n.try_into().unwrap_or(usize::MAX))),
            None => String::new(),
        };
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the body is {size}more than the limit of {} for {what}",
                limits::bytes(limit)
            ),
            "send less in one request (docs/limits.md)",
        )
    };
    if let Some(n) = declared {
        if n > limit as u64 {
            return Err(too_large(Some(n)));
        }
    }
    // Appends one frame's data to `bytes`, within the limit.
    let take = |bytes: &mut Vec<u8>,
                frame: Result<hyper::body::Frame<axum::body::Bytes>, axum::Error>|
     -> Result<(), ApiError> {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the body could not be read: {e}"),
                "",
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if data.len() > limit - bytes.len() {
                return Err(too_large(None));
            }
            bytes.extend_from_slice(&data);
        }
        Ok(())
    };
    let mut body = body;
    // Room for the declared length (at most `limit` here), but no more than 1 MiB before the
    // bytes arrive: a client that declares a large body and sends nothing costs no memory.
    let mut bytes: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0).min(1 << 20) as usize);
    // What has arrived already is taken without a timer: a small body usually came with its
    // headers, and then reading it costs no timer at all.
    let mut complete = false;
    while let Some(next) = body.frame().now_or_never() {
        match next {
            Some(frame) => take(&mut bytes, frame)?,
            None => {
                complete = true;
                break;
            }
        }
    }
    if !complete {
        let rest = async {
            while let Some(frame) = body.frame().await {
                take(&mut bytes, frame)?;
            }
            Ok::<(), ApiError>(())
        };
        match tokio::time::timeout(Duration::from_secs(SERVE_BODY_SECS), rest).await {
            Ok(read) => read?,
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!("the body did not arrive within {SERVE_BODY_SECS} s"),
                    "send the whole body at once",
                ))
            }
        }
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let bytes = e.as_bytes();
            let (line, column, byte) =
                casepol::internal::files::utf8_position(bytes, &e.utf8_error());
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("invalid UTF-8 at line {line}, column {column} (byte 0x{byte:02X})"),
                "send the body as UTF-8",
            ));
        }
    };
    if json {
        if let Some((line, column)) = too_deep(&text, MAX_SERVE_JSON_DEPTH) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "the body nests JSON more than {MAX_SERVE_JSON_DEPTH} levels deep at line \
                     {line}, column {column}"
                ),
                "nest arrays and objects less deeply (docs/limits.md)",
            ));
        }
    }
    Ok(text)
}

/// Where `text` first nests arrays and objects deeper than `max` (line and column from 1, the
/// column in characters), reading strings as JSON does; `None` if it never does. Linear, and
/// it allocates nothing: it runs before the parser, whose own limit is deeper.
pub(crate) fn too_deep(text: &str, max: usize) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        column += 1;
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => {
                depth += 1;
                if depth > max {
                    return Some((line, column));
                }
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            '\n' => {
                line += 1;
                column = 0;
            }
            _ => {}
        }
    }
    None
}

/// The line and column (from 1, the column in characters) of byte `offset` of `text`, found by
/// going on from `from`, an earlier position: callers that ask in increasing order read the
/// text once.
pub(crate) fn advance(
    text: &str,
    from: (usize, usize, usize),
    offset: usize,
) -> (usize, usize, usize) {
    let (start, mut line, mut column) = from;
    let Some(between) = text.get(start..offset) else {
        return from;
    };
    for c in between.chars() {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (offset, line, column)
}

/// The value of `key` in the query string of `uri`, if given (`a=b&c=d`, no decoding: the
/// values the server reads are plain words).
pub(crate) fn query_value<'a>(uri: &'a axum::http::Uri, key: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_counted_outside_strings_only() {
        assert_eq!(too_deep("[[1]]", 2), None);
        assert_eq!(too_deep("[[[1]]]", 2), Some((1, 3)));
        assert_eq!(too_deep(r#"{"a": "[[[[[[", "b": [1]}"#, 1), Some((1, 22)));
        assert_eq!(too_deep(r#"["\"[[[["]"#, 1), None);
        assert_eq!(too_deep("{\n \"a\": {\"b\": 1}}", 1), Some((2, 7)));
    }

    #[test]
    fn positions_advance_through_lines() {
        let text = "ab\ncd\néf";
        let at = advance(text, (0, 1, 1), 4);
        assert_eq!(at, (4, 2, 2));
        assert_eq!(advance(text, at, 8), (8, 3, 2));
        assert_eq!(advance(text, at, 9), (9, 3, 3));
    }

    #[test]
    fn query_values_are_found_by_key() {
        let uri: axum::http::Uri = "/v1/explain?x=1&format=text&flag".parse().unwrap();
        assert_eq!(query_value(&uri, "format"), Some("text"));
        assert_eq!(query_value(&uri, "flag"), Some(""));
        assert_eq!(query_value(&uri, "y"), None);
    }
}

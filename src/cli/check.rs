//! `casepol check`: decide one request or a batch of JSON Lines.

use super::*;
use casepol::limits::MAX_REQUEST_BYTES;

/// The result of one request: a decision, and the error when the request could not be decided.
struct Outcome {
    decision: Decision,
    error: Option<RequestError>,
}

/// One result line of `check --format json` (docs/data-formats.md, `check`). Fields are
/// written in this order.
#[derive(Serialize)]
struct ResultJson<'a> {
    /// The one-based line of the request in a `--requests` file; absent for `--request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    decision: &'static str,
    layer: Layer,
    reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RequestError>,
}

impl Outcome {
    fn decide(policy: &Policy, entities: &Entities, req: &Request, engine: Engine) -> Outcome {
        match policy.resolve(entities, req) {
            Err(e) => Outcome::error(e),
            Ok(r) => {
                let decision = match engine {
                    Engine::Vm => policy.decide(entities, &r),
                    Engine::Reference => {
                        casepol::reference::evaluate_resolved(policy.compiled(), entities, req, &r)
                            .decision
                    }
                };
                Outcome {
                    decision,
                    error: None,
                }
            }
        }
    }

    fn error(e: RequestError) -> Outcome {
        Outcome {
            decision: Decision::ERROR,
            error: Some(e),
        }
    }

    fn exit(&self) -> Exit {
        if self.error.is_some() {
            Exit::Error
        } else if self.decision.allowed {
            Exit::Ok
        } else {
            Exit::Fail
        }
    }

    /// The result as one line, in either format.
    fn line(&self, format: Format, line: Option<usize>) -> String {
        let d = &self.decision;
        match format {
            Format::Json => serde_json::to_string(&ResultJson {
                line,
                decision: if d.allowed { "allow" } else { "deny" },
                layer: d.layer,
                reason: d.reason,
                error: self.error.as_ref(),
            })
            .unwrap_or_default(),
            Format::Human => match &self.error {
                Some(RequestError {
                    message,
                    help: Some(help),
                    ..
                }) => format!("deny (error: {message}; help: {help})"),
                Some(RequestError {
                    message,
                    help: None,
                    ..
                }) => format!("deny (error: {message})"),
                None if d.allowed => "allow".to_string(),
                None => {
                    let reason = serde_json::to_value(d.reason).ok();
                    let reason = reason
                        .as_ref()
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .replace('_', " ");
                    format!("deny ({}: {reason})", d.layer.title())
                }
            },
        }
    }
}

pub(super) fn check(
    policy_path: &Path,
    entities_path: &Path,
    request: Option<&str>,
    requests: Option<&Path>,
    format: Format,
    engine: Engine,
) -> Exit {
    let (policy, entities) = match load_inputs(policy_path, entities_path) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    if let Some(batch) = requests {
        return check_batch(&policy, &entities, batch, format, engine);
    }
    // INVARIANT: clap's required `input` group guarantees one of the two.
    let Some(arg) = request else {
        return fail_input("give --request or --requests".into());
    };
    let req = match read_request(arg) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let outcome = Outcome::decide(&policy, &entities, &req, engine);
    match emit(&outcome.line(format, None)) {
        Ok(()) => outcome.exit(),
        Err(e) => e,
    }
}

/// Reads one line (without its `\n`) into `line`, keeping at most `limit` bytes: the rest of a
/// longer line is read and dropped, so memory stays bounded. `None` at end of input; otherwise
/// whether the line was complete.
fn read_line_limited(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut complete = true;
    let mut read_any = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(read_any.then_some(complete));
        }
        read_any = true;
        let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i)),
            None => (buf, None),
        };
        let room = limit.saturating_sub(line.len());
        if chunk.len() > room {
            complete = false;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = newline.map_or(chunk.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(Some(complete));
        }
    }
}

/// The outcome of one non-blank batch line.
fn batch_line(
    policy: &Policy,
    entities: &Entities,
    n: usize,
    bytes: &[u8],
    engine: Engine,
) -> Option<Outcome> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let (_, column, byte) = utf8_position(bytes, &e);
            return Some(Outcome::error(RequestError {
                kind: RequestErrorKind::InvalidRequest,
                message: format!("invalid UTF-8 at line {n}, column {column} (byte 0x{byte:02X})"),
                help: Some("save the file as UTF-8".into()),
            }));
        }
    };
    if text.trim().is_empty() {
        return None;
    }
    Some(match parse_request(text) {
        Ok(req) => Outcome::decide(policy, entities, &req, engine),
        // The text is one line, so serde's line is always 1.
        Err((_, column, msg)) => Outcome::error(RequestError {
            kind: RequestErrorKind::InvalidRequest,
            message: format!("invalid request at line {n}, column {column}: {msg}"),
            help: Some(REQUEST_HELP.into()),
        }),
    })
}

fn check_batch(
    policy: &Policy,
    entities: &Entities,
    path: &Path,
    format: Format,
    engine: Engine,
) -> Exit {
    if path.is_dir() {
        return fail_input(format!(
            "`{}` is a directory, but a JSON Lines file is expected",
            path.display()
        ));
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return fail_input(format!("cannot read `{}`: {e}", path.display())),
    };
    let mut reader = std::io::BufReader::new(file);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut exit = Exit::Ok;
    let mut line = Vec::new();
    for i in 0.. {
        let complete = match read_line_limited(&mut reader, &mut line, MAX_REQUEST_BYTES) {
            Ok(None) => break,
            Ok(Some(complete)) => complete,
            Err(e) => {
                let _ = out.flush();
                return fail_input(format!("cannot read `{}`: {e}", path.display()));
            }
        };
        let outcome = if complete {
            batch_line(policy, entities, i + 1, &line, engine)
        } else {
            Some(Outcome::error(RequestError {
                kind: RequestErrorKind::InvalidRequest,
                message: format!(
                    "the request at line {} is longer than the limit of {}",
                    i + 1,
                    casepol::limits::bytes(MAX_REQUEST_BYTES)
                ),
                help: Some(REQUEST_HELP.into()),
            }))
        };
        let Some(outcome) = outcome else {
            continue;
        };
        // A deny is a decision: only errors change the batch's exit code.
        if outcome.error.is_some() {
            exit = Exit::Error;
        }
        if writeln!(out, "{}", outcome.line(format, Some(i + 1))).is_err() {
            return Exit::Error;
        }
    }
    if out.flush().is_err() {
        return Exit::Error;
    }
    exit
}

// ---- explain --------------------------------------------------------------------------------

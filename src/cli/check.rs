//! `casepol check`: decide one request or a batch of JSON Lines.

use super::*;
use casepol::limits::MAX_REQUEST_BYTES;

/// The result of one request: a decision, and the error when the request could not be decided.
/// The server (`casepol serve`) decides with it too.
pub(crate) struct Outcome {
    pub(crate) decision: Decision,
    pub(crate) error: Option<RequestError>,
    /// Why, when the decision needs more words than its reason: a request without a module
    /// on a case type reached through modules.
    pub(crate) note: Option<String>,
}

/// One result line of `check --format json` (docs/data-formats.md, `check`), and one result of
/// the server's `/v1/check`. Fields are written in this order.
#[derive(Serialize)]
pub(crate) struct ResultJson<'a> {
    /// The one-based line of the request in a `--requests` file; absent for `--request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    decision: &'static str,
    layer: Layer,
    reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RequestError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// The note of a deny for want of a module (`Query::module_note`), which every command gives.
fn note(policy: &Policy, entities: &Entities, req: &Request, d: Decision) -> Option<String> {
    if d.reason != Reason::NoModule {
        return None;
    }
    let resource = req.resource.as_deref()?;
    casepol::query::Query::new(policy, entities)
        .module_note(resource, Some(&req.action), req.module.as_deref())
        .ok()
        .flatten()
}

/// The error of a request that is not a valid request object: at `line` and `column` of the
/// batch file (or the server's body), with serde's message.
pub(crate) fn invalid_request(line: usize, column: usize, msg: &str) -> RequestError {
    RequestError::new(
        RequestErrorKind::InvalidRequest,
        format!("invalid request at line {line}, column {column}: {msg}"),
        Some(REQUEST_HELP.into()),
    )
}

impl Outcome {
    pub(crate) fn decide(
        policy: &Policy,
        entities: &Entities,
        req: &Request,
        engine: Engine,
    ) -> Outcome {
        match policy.resolve(entities, req) {
            Err(e) => Outcome::error(e),
            Ok(r) => {
                let decision = match engine {
                    Engine::Vm => policy.decide(entities, &r),
                    Engine::Reference => {
                        casepol::internal::reference::evaluate_resolved(
                            policy.compiled(),
                            entities,
                            req,
                            &r,
                        )
                        .decision
                    }
                };
                Outcome {
                    decision,
                    error: None,
                    note: note(policy, entities, req, decision),
                }
            }
        }
    }

    pub(crate) fn error(e: RequestError) -> Outcome {
        Outcome {
            decision: Decision::ERROR,
            error: Some(e),
            note: None,
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

    /// The result as `--format json` writes it.
    pub(crate) fn json(&self, line: Option<usize>) -> ResultJson<'_> {
        let d = &self.decision;
        ResultJson {
            line,
            decision: if d.allowed { "allow" } else { "deny" },
            layer: d.layer,
            reason: d.reason,
            error: self.error.as_ref(),
            note: self.note.as_deref(),
        }
    }

    /// The result as one line, in either format.
    fn line(&self, format: Format, line: Option<usize>) -> String {
        let d = &self.decision;
        match format {
            Format::Json => serde_json::to_string(&self.json(line)).unwrap_or_default(),
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
                None => match &self.note {
                    Some(n) => format!("deny ({}: {}: {n})", d.layer.title(), d.reason.title()),
                    None => format!("deny ({}: {})", d.layer.title(), d.reason.title()),
                },
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
    threads: usize,
) -> Exit {
    let (policy, entities) = match load_inputs(policy_path, entities_path) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    if let Some(batch) = requests {
        return check_batch(&policy, &entities, batch, format, engine, threads);
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

/// Reads one line (without its `\n`) and appends it to `buf`, keeping at most `limit` bytes of
/// it: the rest of a longer line is read and dropped, so memory stays bounded. `None` at end of
/// input; otherwise whether the line was complete.
fn read_line_limited(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Option<bool>> {
    let start = buf.len();
    let mut complete = true;
    let mut read_any = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(read_any.then_some(complete));
        }
        read_any = true;
        let (text, newline) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i)),
            None => (chunk, None),
        };
        let room = limit.saturating_sub(buf.len() - start);
        if text.len() > room {
            complete = false;
        }
        buf.extend_from_slice(&text[..text.len().min(room)]);
        let used = newline.map_or(text.len(), |i| i + 1);
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
            let (_, column, byte) = casepol::internal::files::utf8_position(bytes, &e);
            return Some(Outcome::error(RequestError::new(
                RequestErrorKind::InvalidRequest,
                format!("invalid UTF-8 at line {n}, column {column} (byte 0x{byte:02X})"),
                Some("save the file as UTF-8".into()),
            )));
        }
    };
    if text.trim().is_empty() {
        return None;
    }
    Some(match parse_request(text) {
        Ok(req) => Outcome::decide(policy, entities, &req, engine),
        // The text is one line, so serde's line is always 1.
        Err((_, column, msg)) => Outcome::error(invalid_request(n, column, &msg)),
    })
}

/// Reads the common form of a request line without serde and without allocating: a JSON object
/// whose keys are `principal`, `action`, `resource` and `module`, each at most once, with string
/// values free of escapes (`null` for `resource` and `module`). `req` is filled in place,
/// reusing its strings. Anything else returns `false`, and the line goes through
/// [`parse_request`], which gives the same request or the exact error.
fn parse_plain(text: &[u8], req: &mut Request, spare: &mut Spare) -> bool {
    fn ws(t: &[u8], mut i: usize) -> usize {
        while matches!(t.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }
    /// The bytes of the string starting at `i` (a `"`), and where it ends; `None` if it holds
    /// an escape or a control character, or does not end.
    fn string(t: &[u8], i: usize) -> Option<(&[u8], usize)> {
        if t.get(i) != Some(&b'"') {
            return None;
        }
        let len = t[i + 1..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        let end = i + 1 + len;
        (t[end] == b'"').then(|| (&t[i + 1..end], end + 1))
    }
    let mut i = ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return false;
    }
    i = ws(text, i + 1);
    // Which of principal, action, resource, module were seen.
    let mut seen = [false; 4];
    if text.get(i) != Some(&b'}') {
        loop {
            let Some((key, end)) = string(text, i) else {
                return false;
            };
            let field = match key {
                b"principal" => 0,
                b"action" => 1,
                b"resource" => 2,
                b"module" => 3,
                _ => return false,
            };
            if std::mem::replace(&mut seen[field], true) {
                return false;
            }
            i = ws(text, end);
            if text.get(i) != Some(&b':') {
                return false;
            }
            i = ws(text, i + 1);
            let value = if text[i..].starts_with(b"null") && field >= 2 {
                i += 4;
                None
            } else {
                let Some((value, end)) = string(text, i) else {
                    return false;
                };
                i = end;
                // INVARIANT: the line is valid UTF-8 and the value lies between two ASCII quotes.
                let Ok(value) = std::str::from_utf8(value) else {
                    return false;
                };
                Some(value)
            };
            let set = |slot: &mut String, v: &str| {
                slot.clear();
                slot.push_str(v);
            };
            let set_opt =
                |slot: &mut Option<String>, spare: &mut Option<String>, v: Option<&str>| match v {
                    Some(v) => {
                        let mut s = slot.take().or_else(|| spare.take()).unwrap_or_default();
                        s.clear();
                        s.push_str(v);
                        *slot = Some(s);
                    }
                    None => {
                        if let Some(s) = slot.take() {
                            *spare = Some(s);
                        }
                    }
                };
            match (field, value) {
                (0, Some(v)) => set(&mut req.principal, v),
                (1, Some(v)) => set(&mut req.action, v),
                (2, v) => set_opt(&mut req.resource, &mut spare.resource, v),
                (3, v) => set_opt(&mut req.module, &mut spare.module, v),
                _ => return false,
            }
            i = ws(text, i);
            match text.get(i) {
                Some(b',') => i = ws(text, i + 1),
                Some(b'}') => break,
                _ => return false,
            }
        }
    }
    if !(seen[0] && seen[1]) || ws(text, i + 1) != text.len() {
        return false;
    }
    if !seen[2] {
        set_none(&mut req.resource, &mut spare.resource);
    }
    if !seen[3] {
        set_none(&mut req.module, &mut spare.module);
    }
    req.context = None;
    // A line with a target goes to serde; a plain line asks about no move.
    req.target = None;
    true
}

fn set_none(slot: &mut Option<String>, spare: &mut Option<String>) {
    if let Some(s) = slot.take() {
        *spare = Some(s);
    }
}

/// Strings kept for reuse while an optional field of the reused request is absent.
#[derive(Default)]
struct Spare {
    resource: Option<String>,
    module: Option<String>,
}

/// One worker's state: the request it reuses, and the result lines it has rendered, by
/// decision (a batch has only a few distinct ones).
struct Worker<'a> {
    policy: &'a Policy,
    entities: &'a Entities,
    format: Format,
    engine: Engine,
    req: Request,
    spare: Spare,
    lines: Vec<(Decision, Vec<u8>)>,
}

impl<'a> Worker<'a> {
    fn new(policy: &'a Policy, entities: &'a Entities, format: Format, engine: Engine) -> Self {
        Worker {
            policy,
            entities,
            format,
            engine,
            req: Request::new("", "", None),
            spare: Spare::default(),
            lines: Vec::new(),
        }
    }

    /// The result line of a decided request, rendered once per distinct decision. In JSON
    /// the line number goes in front: `{"line":N,` and then this.
    fn rendered(&mut self, decision: Decision) -> &[u8] {
        let i = match self.lines.iter().position(|(d, _)| *d == decision) {
            Some(i) => i,
            None => {
                let outcome = Outcome {
                    decision,
                    error: None,
                    note: None,
                };
                let mut text = outcome.line(self.format, None).into_bytes();
                if self.format == Format::Json {
                    text.remove(0);
                }
                text.push(b'\n');
                self.lines.push((decision, text));
                self.lines.len() - 1
            }
        };
        &self.lines[i].1
    }

    /// Decides each line of `block` and appends its result line to `out`. Returns whether any
    /// line was an error.
    fn run(&mut self, block: &Block, out: &mut Vec<u8>) -> bool {
        let mut errors = false;
        let mut from = 0;
        for (k, &(end, complete)) in block.lines.iter().enumerate() {
            let bytes = &block.text[from..end];
            from = end;
            let n = block.first + k;
            if complete
                && std::str::from_utf8(bytes).is_ok()
                && parse_plain(bytes, &mut self.req, &mut self.spare)
            {
                match self.policy.resolve(self.entities, &self.req) {
                    Ok(r) => {
                        let decision = match self.engine {
                            Engine::Vm => self.policy.decide(self.entities, &r),
                            Engine::Reference => {
                                casepol::internal::reference::evaluate_resolved(
                                    self.policy.compiled(),
                                    self.entities,
                                    &self.req,
                                    &r,
                                )
                                .decision
                            }
                        };
                        if let Some(note) = note(self.policy, self.entities, &self.req, decision) {
                            let outcome = Outcome {
                                decision,
                                error: None,
                                note: Some(note),
                            };
                            push_line(out, &outcome.line(self.format, Some(n)));
                            continue;
                        }
                        if self.format == Format::Json {
                            out.extend_from_slice(b"{\"line\":");
                            push_number(out, n);
                            out.push(b',');
                        }
                        out.extend_from_slice(self.rendered(decision));
                    }
                    Err(e) => {
                        errors = true;
                        push_line(out, &Outcome::error(e).line(self.format, Some(n)));
                    }
                }
                continue;
            }
            let outcome = if complete {
                batch_line(self.policy, self.entities, n, bytes, self.engine)
            } else {
                Some(Outcome::error(RequestError::new(
                    RequestErrorKind::InvalidRequest,
                    format!(
                        "the request at line {n} is longer than the limit of {}",
                        casepol::limits::bytes(MAX_REQUEST_BYTES)
                    ),
                    Some(REQUEST_HELP.into()),
                )))
            };
            // A blank line gets no result.
            if let Some(outcome) = outcome {
                // A deny is a decision: only errors change the batch's exit code.
                errors |= outcome.error.is_some();
                push_line(out, &outcome.line(self.format, Some(n)));
            }
        }
        errors
    }
}

fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}

/// Appends `n` in decimal.
fn push_number(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// At most this many lines, or this many bytes of requests, go into one block of a batch.
const BLOCK_LINES: usize = 2048;
const BLOCK_BYTES: usize = 1 << 20;

/// Consecutive lines of a batch file, as read: a worker decides a whole block at a time.
#[derive(Default)]
struct Block {
    /// The one-based number of the first line.
    first: usize,
    text: Vec<u8>,
    /// For each line: where it ends in `text`, and whether it was complete (within the limit).
    lines: Vec<(usize, bool)>,
    /// The file could not be read after these lines.
    error: Option<String>,
    /// The block ended early because no more input was ready: its answers are written (and
    /// flushed) before the next line is awaited, so `check` can serve as a co-process.
    idle: bool,
}

impl Block {
    /// Reads the next block, starting at line `first`; empty at the end of the file. With
    /// `streaming` (the input is a pipe or a terminal, not a regular file), the block also ends
    /// at a line after which no more input is buffered, so each answer is written before the
    /// next line is waited for; input that arrives faster still fills whole blocks.
    fn read(
        reader: &mut std::io::BufReader<impl std::io::Read>,
        path: &Path,
        first: usize,
        streaming: bool,
        mut block: Block,
    ) -> Block {
        block.first = first;
        block.text.clear();
        block.lines.clear();
        block.error = None;
        block.idle = false;
        while block.lines.len() < BLOCK_LINES && block.text.len() < BLOCK_BYTES {
            match read_line_limited(reader, &mut block.text, MAX_REQUEST_BYTES) {
                Ok(None) => break,
                Ok(Some(complete)) => {
                    block.lines.push((block.text.len(), complete));
                    if streaming && reader.buffer().is_empty() {
                        block.idle = true;
                        break;
                    }
                }
                Err(e) => {
                    block.error = Some(format!("cannot read `{}`: {e}", path.display()));
                    break;
                }
            }
        }
        block
    }

    fn is_last(&self) -> bool {
        self.lines.is_empty() || self.error.is_some()
    }
}

/// A decided block: its result lines, and whether any line was an error.
struct Decided {
    out: Vec<u8>,
    errors: bool,
    block: Block,
}

fn check_batch(
    policy: &Policy,
    entities: &Entities,
    path: &Path,
    format: Format,
    engine: Engine,
    threads: usize,
) -> Exit {
    if path.is_dir() {
        return fail_input(format!(
            "`{}` is a directory, but a JSON Lines file is expected",
            path.display()
        ));
    }
    // Each line is read with the limit of a request, so a batch on standard input is bounded
    // as one in a file. Input that is not a regular file (standard input, a named pipe) is
    // answered as it comes ([`Block::read`]).
    let streaming = is_stdin(path) || std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    let input: Box<dyn std::io::Read> = if is_stdin(path) {
        match take_stdin() {
            Ok(stdin) => Box::new(stdin.lock()),
            Err(msg) => return fail_input(msg),
        }
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) => return fail_input(format!("cannot read `{}`: {e}", path.display())),
        }
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, input);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut exit = Exit::Ok;
    // Writes one decided block; `Err` ends the batch with that exit code.
    let mut write = |d: &Decided| -> Result<(), Exit> {
        if d.errors {
            exit = Exit::Error;
        }
        out.write_all(&d.out).map_err(|_| Exit::Error)?;
        // Each block's answers leave at once: a reader of a pipe or a terminal gets them
        // without waiting for the buffer to fill (a block is up to 2,048 lines, so this costs
        // a file nothing measurable).
        out.flush().map_err(|_| Exit::Error)?;
        if let Some(e) = &d.block.error {
            let _ = out.flush();
            return Err(fail_input(e.clone()));
        }
        Ok(())
    };
    let result = if threads <= 1 {
        let mut worker = Worker::new(policy, entities, format, engine);
        let mut next = 1;
        let mut decided = Decided {
            out: Vec::new(),
            errors: false,
            block: Block::default(),
        };
        loop {
            let block = Block::read(
                &mut reader,
                path,
                next,
                streaming,
                std::mem::take(&mut decided.block),
            );
            next += block.lines.len();
            decided.out.clear();
            decided.errors = worker.run(&block, &mut decided.out);
            let last = block.is_last();
            decided.block = block;
            if let Err(e) = write(&decided) {
                break Err(e);
            }
            if last {
                break Ok(());
            }
        }
    } else {
        in_parallel(
            policy,
            entities,
            format,
            engine,
            threads,
            |next| {
                let block = Block::read(&mut reader, path, next, streaming, Block::default());
                (!block.lines.is_empty() || block.error.is_some()).then_some(block)
            },
            &mut write,
        )
    };
    if let Err(e) = result {
        return e;
    }
    if out.flush().is_err() {
        return Exit::Error;
    }
    exit
}

/// Decides blocks on `threads` worker threads while this thread reads and writes. Block `k`
/// goes to worker `k % threads`, and results are written in block order, so the output is the
/// same as on one thread. At most two blocks per worker are in flight, which bounds memory.
/// After a block that ended because the input was idle, every block in flight is written
/// before more input is awaited, so no answer waits behind a read.
fn in_parallel(
    policy: &Policy,
    entities: &Entities,
    format: Format,
    engine: Engine,
    threads: usize,
    mut read: impl FnMut(usize) -> Option<Block>,
    write: &mut impl FnMut(&Decided) -> Result<(), Exit>,
) -> Result<(), Exit> {
    use std::sync::mpsc;
    std::thread::scope(|scope| {
        let mut inputs = Vec::with_capacity(threads);
        let mut outputs = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (to_worker, blocks) = mpsc::channel::<Block>();
            let (results, from_worker) = mpsc::channel::<Decided>();
            scope.spawn(move || {
                let mut worker = Worker::new(policy, entities, format, engine);
                for block in blocks {
                    let mut out = Vec::with_capacity(block.lines.len() * 64);
                    let errors = worker.run(&block, &mut out);
                    if results.send(Decided { out, errors, block }).is_err() {
                        break;
                    }
                }
            });
            inputs.push(to_worker);
            outputs.push(from_worker);
        }
        let window = threads * 2;
        let (mut sent, mut written) = (0usize, 0usize);
        let mut next_line = 1;
        let mut reading = true;
        let mut idle = false;
        // The result of the oldest block in flight, written; `Err` stops the batch.
        let mut drain_one = |written: &mut usize| -> Result<bool, Exit> {
            // A worker that stopped without a result has panicked: report an error.
            let d = outputs[*written % threads]
                .recv()
                .map_err(|_| Exit::Error)?;
            *written += 1;
            write(&d)?;
            Ok(d.block.is_last())
        };
        loop {
            while reading && sent - written < window && !(idle && sent > written) {
                match read(next_line) {
                    Some(block) => {
                        next_line += block.lines.len();
                        reading = !block.is_last();
                        idle = block.idle;
                        if inputs[sent % threads].send(block).is_err() {
                            return Err(Exit::Error);
                        }
                        sent += 1;
                    }
                    None => reading = false,
                }
            }
            if written == sent {
                return Ok(());
            }
            if drain_one(&mut written)? {
                return Ok(());
            }
        }
    })
}

// ---- explain --------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse_plain` accepts only what serde accepts, and reads it the same; on anything else
    /// it declines, and the line goes to serde.
    #[test]
    fn plain_parse_agrees_with_serde() {
        let principals = [
            r#""principal": "ann""#,
            r#""principal": null"#,
            r#""principal": "a\"b""#,
            r#""principal": "ä ö""#,
            r#""\u0070rincipal": "ann""#,
        ];
        let actions = [
            r#""action": "view""#,
            r#""action": 5"#,
            r#""action": "tab	in""#,
        ];
        let resources = [
            "",
            r#""resource": "case-1""#,
            r#""resource": null"#,
            r#""resource": """#,
        ];
        let modules = ["", r#""module": "Cases""#, r#""module": null"#];
        let extras = [
            "",
            r#""context": {}"#,
            r#""extra": 1"#,
            r#""principal": "x""#,
        ];
        let fences = ["{", " {", "{\t", "\u{feff}{", "["];
        let ends = ["}", "} ", "}\r", " }", "},", "} x", "", "}}"];
        let seps = [", ", ",", " ,\t", ",,"];
        let mut lines = Vec::new();
        let mut k = 0usize;
        for p in principals {
            for a in actions {
                for r in resources {
                    for m in modules {
                        for x in extras {
                            k += 1;
                            let mut fields: Vec<&str> = [p, a, r, m, x]
                                .into_iter()
                                .filter(|f| !f.is_empty())
                                .collect();
                            let n = fields.len();
                            fields.rotate_left(k % n);
                            let sep = seps[k % seps.len()];
                            let fence = fences[(k / 3) % fences.len()];
                            let end = ends[(k / 2) % ends.len()];
                            lines.push(format!("{fence}{}{end}", fields.join(sep)));
                            lines.push(format!("{{{}}}", fields.join(", ")));
                        }
                    }
                }
            }
        }
        lines.push("{}".into());
        lines.push(r#"{"principal": "ann", "action": "view"}"#.into());
        lines.push(r#"{ "action" : "view" , "principal" : "ann" , "resource" : "r" }"#.into());
        let mut accepted = 0;
        let mut req = Request::new("", "", None);
        let mut spare = Spare::default();
        for line in &lines {
            let plain = parse_plain(line.as_bytes(), &mut req, &mut spare);
            match parse_request(line) {
                Ok(expected) if plain => {
                    assert_eq!(req, expected, "{line}");
                    accepted += 1;
                }
                Ok(expected) => assert!(
                    expected.context.is_some()
                        || line.starts_with('\u{feff}')
                        || line.contains('\\'),
                    "declined a plain request: {line}"
                ),
                Err(e) => assert!(!plain, "accepted what serde rejects ({e:?}): {line}"),
            }
        }
        assert!(
            accepted >= 30,
            "only {accepted} of {} accepted",
            lines.len()
        );
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 1234567, usize::MAX] {
            let mut out = Vec::new();
            push_number(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}

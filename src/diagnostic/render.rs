//! Rendering diagnostics for people (ariadne) and for tools (JSON, GitHub workflow commands,
//! SARIF), and `docs/errors.md` sections for a terminal. Called only by the edge.

use super::{Code, Diagnostic, FileId, Severity, Sources, Span};
use crate::limits::{
    MAX_SHOWN_DIAGNOSTICS, MAX_SHOWN_LABELS, MAX_SHOWN_LINE_CHARS, SHOWN_CONTEXT_CHARS,
};
use ariadne::{Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;
use serde_json::json;

/// Renders one diagnostic as a human-readable report: the message, each label under its source
/// line, and the help.
///
/// The report costs time and space in proportion to what it shows, not to the size of the
/// files: ariadne draws it from a *window* of each file holding only the lines the labels are
/// on, each line longer than [`MAX_SHOWN_LINE_CHARS`] cut to [`SHOWN_CONTEXT_CHARS`] around
/// each label's start and end (with `…` for what is left out). The line and column numbers are
/// then put back to the file's own. At most [`MAX_SHOWN_LABELS`] labels are drawn, and a note
/// counts the rest. Control, direction and line-separator characters are shown as `�` in
/// source lines and escaped in messages, so that a report never reorders or moves the
/// terminal's text.
pub fn human(diag: &Diagnostic, sources: &Sources, color: bool) -> String {
    let kind = match diag.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    // The primary label, then as many secondary ones as are shown, in the diagnostic's order.
    let shown = &diag.labels[..diag.labels.len().min(MAX_SHOWN_LABELS)];
    let hidden = diag.labels.len() - shown.len();
    let windows = Windows::new(shown, sources);
    let primary = diag.span();
    let mut report = Report::build(
        kind,
        (windows.id(primary.file), windows.chars(primary, sources)),
    )
    .with_code(diag.code.as_str())
    .with_message(printable(&diag.message))
    .with_config(
        Config::default()
            .with_color(color)
            .with_index_type(IndexType::Char),
    );
    // ariadne starts a new section whenever a label lies above the one before it, so labels go
    // in in source order: one section per file.
    let mut labels: Vec<(usize, &super::Label)> = shown.iter().enumerate().collect();
    labels.sort_by_key(|(_, l)| (l.span.file, l.span.start));
    for (i, label) in labels {
        // ariadne draws no underline for a label without text, so the primary location always
        // gets some.
        let text = match (i, label.message.is_empty()) {
            (0, true) => "here".to_string(),
            _ => printable(&label.message),
        };
        let mut l = Label::new((
            windows.id(label.span.file),
            windows.chars(label.span, sources),
        ));
        if !text.is_empty() {
            l = l.with_message(text);
        }
        report = report.with_label(l);
    }
    if let Some(help) = &diag.help {
        report = report.with_help(printable_lines(help));
    }
    if hidden > 0 {
        report = report.with_note(format!(
            "{hidden} more location(s) not shown; `casepol validate --format json` lists them all"
        ));
    }
    let cache = ariadne::sources(windows.files.iter().map(|w| (w.id.clone(), w.text.clone())));
    let mut out = Vec::new();
    // INVARIANT: writing to a Vec cannot fail, and every label's window is in the cache.
    let _ = report.finish().write(cache, &mut out);
    windows.restore(&String::from_utf8_lossy(&out), sources)
}

/// Renders `diags` one after the other, at most `budget` of them (the budget goes down by as
/// many), then one line counting the ones left out, if any.
pub fn human_list(
    diags: &[Diagnostic],
    sources: &Sources,
    color: bool,
    budget: &mut usize,
) -> String {
    let shown = diags.len().min(*budget);
    *budget -= shown;
    let mut out: String = diags[..shown]
        .iter()
        .map(|d| human(d, sources, color))
        .collect();
    out.push_str(&not_shown(&diags[shown..]));
    out
}

/// The line counting diagnostics left out of human output, or nothing if there are none.
pub fn not_shown(rest: &[Diagnostic]) -> String {
    if rest.is_empty() {
        return String::new();
    }
    let errors = rest.iter().filter(|d| d.is_error()).count();
    format!(
        "note: {} more diagnostic(s) not shown ({errors} error(s), {} warning(s)); at most {MAX_SHOWN_DIAGNOSTICS} are shown in a run, and `casepol validate --format json` lists them all\n",
        rest.len(),
        rest.len() - errors
    )
}

/// `text` with every character that could move or reorder a terminal's text escaped as
/// `\u{…}`: control characters (line breaks too), direction controls and line separators.
fn printable(text: &str) -> String {
    if !text.chars().any(misleading) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if misleading(c) {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// As [`printable`], keeping line feeds (help text may have several lines).
fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a character must not reach a terminal as it is: a control character (but tab),
/// a direction control or mark, a line or paragraph separator, or a character with no width
/// (but U+FEFF, which starts many files as their byte-order mark).
fn misleading(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{AD}'
                | '\u{61C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
        )
}

/// The window of one file that a report is drawn from.
#[derive(Debug)]
struct Window {
    file: FileId,
    /// The name ariadne knows the window by, and prints in the header as `{id}:{line}:{col}`;
    /// [`Windows::restore`] replaces it with the file's name and true position. It starts with
    /// a control character, which nothing else in a report can hold (see [`printable`]).
    id: String,
    /// The shown lines, each with its line break, and one line for each gap between them.
    text: String,
    /// Per line of `text`: the file's zero-based line, or `None` for a gap.
    lines: Vec<Option<usize>>,
    /// Per line of `text`: the pieces of the file's line it shows.
    pieces: Vec<Vec<Piece>>,
    /// Per line of `text`: the character offset in `text` where it starts.
    starts: Vec<usize>,
}

/// A piece of a file's line shown in a window line: bytes `real` of the file, shown from
/// character `col` of the window line.
#[derive(Debug, Clone)]
struct Piece {
    real: std::ops::Range<usize>,
    col: usize,
}

/// The windows of every file a report's labels point into.
#[derive(Debug)]
struct Windows {
    files: Vec<Window>,
}

impl Windows {
    fn new(labels: &[super::Label], sources: &Sources) -> Windows {
        let mut files: Vec<FileId> = labels.iter().map(|l| l.span.file).collect();
        files.sort();
        files.dedup();
        let files = files
            .into_iter()
            .enumerate()
            .map(|(k, file)| {
                let spans: Vec<Span> = labels
                    .iter()
                    .filter(|l| l.span.file == file)
                    .map(|l| clamp(l.span, sources))
                    .collect();
                Window::new(format!("\u{1}{k}\u{1}"), file, &spans, sources)
            })
            .collect();
        Windows { files }
    }

    fn window(&self, file: FileId) -> Option<&Window> {
        self.files.iter().find(|w| w.file == file)
    }

    fn id(&self, file: FileId) -> String {
        self.window(file).map(|w| w.id.clone()).unwrap_or_default()
    }

    /// A span of a file as a range of characters of its window.
    fn chars(&self, span: Span, sources: &Sources) -> std::ops::Range<usize> {
        match self.window(span.file) {
            Some(w) => w.chars(clamp(span, sources), sources),
            None => 0..0,
        }
    }

    /// ariadne's report with the file's own names, line numbers and columns: the header's
    /// `{id}:{line}:{col}` and the number in front of each source line are the window's, and
    /// the margin is as wide as the window's widest line number.
    fn restore(&self, report: &str, sources: &Sources) -> String {
        let mut lines: Vec<String> = report.split('\n').map(str::to_string).collect();
        // Every line after the first (the message) starts with the margin, `width` characters
        // wide after `split_margin`'s lead; a source line's margin is its number, right-aligned.
        let mut width = 0;
        let mut real_width = 0;
        // Per source line: its index in `lines` and the file's line number.
        let mut numbered: Vec<(usize, usize)> = Vec::new();
        let mut section: Option<&Window> = None;
        for (i, line) in lines.iter().enumerate().skip(1) {
            if let Some(w) = self.files.iter().find(|w| line.contains(&w.id)) {
                section = Some(w);
            }
            let (_, rest) = split_margin(line);
            let Some((n, field)) = line_number(rest) else {
                continue;
            };
            let real = section
                .and_then(|w| w.lines.get(n.wrapping_sub(1)).copied().flatten())
                .map_or(n, |l| l + 1);
            width = width.max(field);
            real_width = real_width.max(real.to_string().len());
            numbered.push((i, real));
        }
        let extra = real_width.saturating_sub(width);
        let mut numbered = numbered.into_iter().peekable();
        for (i, line) in lines.iter_mut().enumerate().skip(1) {
            if line.is_empty() {
                continue;
            }
            let (lead, rest) = split_margin(line);
            *line = match numbered.next_if(|&(at, _)| at == i) {
                Some((_, real)) => {
                    let field = line_number(rest).map_or(0, |(_, field)| field);
                    let number = real.to_string();
                    let pad = (field + extra).saturating_sub(number.len());
                    format!("{lead}{}{number}{}", " ".repeat(pad), &rest[field..])
                }
                None if rest.starts_with('─') => format!("{lead}{}{rest}", "─".repeat(extra)),
                None => format!("{lead}{}{rest}", " ".repeat(extra)),
            };
        }
        let mut out = lines.join("\n");
        for w in &self.files {
            out = w.restore_header(&out, sources);
        }
        out
    }
}

/// The line number at the start of a margin (after `split_margin`'s lead): the number and the
/// width of its right-aligned field, if the margin is a source line's.
fn line_number(margin: &str) -> Option<(usize, usize)> {
    let digits = margin.trim_start_matches(' ');
    let len = digits.chars().take_while(char::is_ascii_digit).count();
    if len == 0 || !digits[len..].starts_with(" │") {
        return None;
    }
    let field = margin.len() - digits.len() + len;
    Some((digits[..len].parse().ok()?, field))
}

/// A line of a report split after its first space and the colour codes that follow it (or
/// after the colour codes that start it): what the margin's width is counted from.
fn split_margin(line: &str) -> (&str, &str) {
    let mut at = usize::from(line.starts_with(' '));
    while line[at..].starts_with("\u{1b}[") {
        match line[at..].find('m') {
            Some(m) => at += m + 1,
            None => break,
        }
    }
    line.split_at(at)
}

/// The zero-based lines a (clamped) label starts and ends on, as ariadne counts them: the end's
/// is the line of its last character.
fn label_lines(span: Span, sources: &Sources) -> (usize, usize) {
    let (start, end) = (span.start as usize, span.end as usize);
    let first = sources.line_index(span.file, start);
    let last = if end > start {
        sources.line_index(span.file, end - 1)
    } else {
        first
    };
    (first, last)
}

/// A span clamped to its file and to character boundaries.
fn clamp(span: Span, sources: &Sources) -> Span {
    let text = sources.text(span.file);
    let boundary = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = boundary(span.start as usize);
    let end = boundary(span.end as usize).max(start);
    Span::new(span.file, start, end)
}

impl Window {
    fn new(id: String, file: FileId, spans: &[Span], sources: &Sources) -> Window {
        let text = sources.text(file);
        // The lines each label starts and ends on, with the byte offset there.
        let mut points: Vec<(usize, usize)> = Vec::new();
        for span in spans {
            let (start, end) = (span.start as usize, span.end as usize);
            let (first, last) = label_lines(*span, sources);
            points.push((first, start));
            points.push((last, end));
            // ariadne draws an empty label at the start of a line at the end of the line
            // before, so that line is shown too.
            if start == end && first > 0 && sources.line_range(file, first).1.start == start {
                points.push((first - 1, start));
            }
        }
        points.sort_unstable();
        points.dedup();
        let mut w = Window {
            file,
            id,
            text: String::new(),
            lines: Vec::new(),
            pieces: Vec::new(),
            starts: Vec::new(),
        };
        let mut chars = 0;
        let mut previous: Option<usize> = None;
        let mut i = 0;
        while i < points.len() {
            let line = points[i].0;
            let at: Vec<usize> = points[i..]
                .iter()
                .take_while(|p| p.0 == line)
                .map(|p| p.1)
                .collect();
            i += at.len();
            if previous.is_some_and(|p| p + 1 < line) {
                // Lines between two shown ones: ariadne shows that some are left out, never
                // their text, so one line stands for all of them. It holds a space, so that its
                // `\n` never joins a `\r` before it into one line break.
                w.starts.push(chars);
                w.lines.push(None);
                w.pieces.push(Vec::new());
                w.text.push_str(" \n");
                chars += 2;
            }
            previous = Some(line);
            let (content, whole) = sources.line_range(file, line);
            let pieces = pieces(text, content.clone(), &at, sources, file);
            w.starts.push(chars);
            w.lines.push(Some(line));
            let mut col = 0;
            let mut shown = Vec::new();
            for (k, real) in pieces.into_iter().enumerate() {
                let cut_before = if k == 0 {
                    real.start > content.start
                } else {
                    true
                };
                if cut_before {
                    w.text.push('…');
                    col += 1;
                }
                shown.push(Piece {
                    real: real.clone(),
                    col,
                });
                for c in text[real].chars() {
                    w.text.push(if misleading(c) { '\u{FFFD}' } else { c });
                    col += 1;
                }
            }
            if shown.last().is_some_and(|p| p.real.end < content.end) {
                w.text.push('…');
                col += 1;
            }
            // The line break as it is: ariadne reads `\r\n`, `\r` and `\n` as the file does.
            let end = &text[content.end..whole.end];
            w.text.push_str(end);
            col += end.chars().count();
            // A label may end after the line break (it covers it): map it onto the break.
            if let Some(last) = shown.last_mut() {
                if last.real.end == content.end {
                    last.real.end = whole.end;
                }
            } else {
                shown.push(Piece {
                    real: content.start..whole.end,
                    col: 0,
                });
            }
            w.pieces.push(shown);
            chars += col;
        }
        w
    }

    /// A span of the file as a range of characters of the window.
    fn chars(&self, span: Span, sources: &Sources) -> std::ops::Range<usize> {
        let (start, end) = (span.start as usize, span.end as usize);
        let (first, last) = label_lines(span, sources);
        let text = sources.text(self.file);
        let start_at = self.char_at(start, first, text);
        let end_at = self.char_at(end, last, text).max(start_at);
        start_at..end_at
    }

    /// The window's character offset of byte `at` of the file (`text`), which lies on the file's
    /// zero-based `line` or just after it.
    fn char_at(&self, at: usize, line: usize, text: &str) -> usize {
        let Some(k) = self.lines.iter().position(|&l| l == Some(line)) else {
            return self.text.chars().count();
        };
        let pieces = &self.pieces[k];
        let piece = pieces
            .iter()
            .find(|p| p.real.start <= at && at <= p.real.end)
            .or(pieces.last());
        match piece {
            // The window holds the piece's characters one for one.
            Some(p) => {
                let before = text.get(p.real.start..at).map_or(0, |t| t.chars().count());
                self.starts[k] + p.col + before
            }
            None => self.starts[k],
        }
    }

    /// The report with this window's header reference `{id}:{line}:{col}` replaced by the
    /// file's name and the file's line and column of the same place.
    fn restore_header(&self, report: &str, sources: &Sources) -> String {
        let mut out = String::with_capacity(report.len());
        let mut rest = report;
        while let Some(at) = rest.find(&self.id) {
            out.push_str(&rest[..at]);
            rest = &rest[at + self.id.len()..];
            out.push_str(&printable(sources.name(self.file)));
            let Some((line, col, len)) = line_col_after(rest) else {
                continue;
            };
            rest = &rest[len..];
            match self.real_offset(line, col, sources.text(self.file)) {
                Some(at) => {
                    let (l, c) = sources.line_col(Span::new(self.file, at, at));
                    out.push_str(&format!(":{l}:{c}"));
                }
                None => out.push_str(&format!(":{line}:{col}")),
            }
        }
        out.push_str(rest);
        out
    }

    /// The byte offset in the file (`text`) of the window's one-based `line` and `col`, as
    /// ariadne counts them.
    fn real_offset(&self, line: usize, col: usize, text: &str) -> Option<usize> {
        // Counted as a character offset in the window: ariadne has no line after the window's
        // last line break, so it puts the very end of the window at the end of the line before.
        let at = self.starts.get(line.checked_sub(1)?)? + col.checked_sub(1)?;
        let k = self.starts.partition_point(|&s| s <= at).checked_sub(1)?;
        let col = at - self.starts[k];
        let p = self.pieces[k].iter().rev().find(|p| p.col <= col)?;
        let advance = col - p.col;
        let from = text.get(p.real.clone())?;
        Some(
            from.char_indices()
                .nth(advance)
                .map_or(p.real.end, |(i, _)| p.real.start + i),
        )
    }
}

/// `:{line}:{col}` at the start of `text`: the two numbers and the length of the text.
fn line_col_after(text: &str) -> Option<(usize, usize, usize)> {
    let rest = text.strip_prefix(':')?;
    let line_len = rest.chars().take_while(char::is_ascii_digit).count();
    let rest2 = rest[line_len..].strip_prefix(':')?;
    let col_len = rest2.chars().take_while(char::is_ascii_digit).count();
    let line = rest[..line_len].parse().ok()?;
    let col = rest2[..col_len].parse().ok()?;
    Some((line, col, 1 + line_len + 1 + col_len))
}

/// The pieces of line `content` of `text` to show: the whole line if it is short, otherwise
/// [`SHOWN_CONTEXT_CHARS`] around each of `at` (byte offsets in or just after the line), merged
/// where they meet.
fn pieces(
    text: &str,
    content: std::ops::Range<usize>,
    at: &[usize],
    sources: &Sources,
    file: FileId,
) -> Vec<std::ops::Range<usize>> {
    let line_chars =
        sources.chars_before(file, content.end) - sources.chars_before(file, content.start);
    if line_chars <= MAX_SHOWN_LINE_CHARS {
        return vec![content];
    }
    let line = &text[content.clone()];
    let back = |i: usize| {
        let before = &line[..i - content.start];
        before
            .char_indices()
            .rev()
            .take(SHOWN_CONTEXT_CHARS)
            .last()
            .map_or(i, |(j, _)| content.start + j)
    };
    let forward = |i: usize| {
        let after = &line[i - content.start..];
        after
            .char_indices()
            .nth(SHOWN_CONTEXT_CHARS)
            .map_or(content.end, |(j, _)| i + j)
    };
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for &p in at {
        let p = p.clamp(content.start, content.end);
        let piece = back(p)..forward(p);
        match out.last_mut() {
            // Pieces that meet, or that only a few bytes part, are shown as one.
            Some(last) if piece.start <= last.end + 8 => {
                last.end = last.end.max(piece.end);
            }
            _ => out.push(piece),
        }
    }
    out
}

/// The machine-readable form of a diagnostic: stable field names, one-based lines and columns.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct JsonDiagnostic<'a> {
    /// The stable code, `CP0001` …
    pub code: &'static str,
    /// `error` or `warning`.
    pub severity: Severity,
    /// What is wrong.
    pub message: &'a str,
    /// The file of the primary location.
    pub file: &'a str,
    /// The primary location's line, from 1.
    pub line: usize,
    /// The primary location's column in characters, from 1.
    pub column: usize,
    /// Every location, the primary first.
    pub labels: Vec<JsonLabel<'a>>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'a str>,
}

/// A location of a [`JsonDiagnostic`].
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct JsonLabel<'a> {
    /// The file.
    pub file: &'a str,
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
    /// The first byte of the span in the file.
    pub start: u32,
    /// One past the span's last byte.
    pub end: u32,
    /// What is said there; may be empty.
    pub message: &'a str,
}

/// The machine-readable form of `diag` (what `casepol validate --format json` prints).
pub fn json<'a>(diag: &'a Diagnostic, sources: &'a Sources) -> JsonDiagnostic<'a> {
    let primary = diag.span();
    let (line, column) = sources.line_col(primary);
    JsonDiagnostic {
        code: diag.code.as_str(),
        severity: diag.severity,
        message: &diag.message,
        file: sources.name(primary.file),
        line,
        column,
        labels: diag
            .labels
            .iter()
            .map(|l| {
                let (line, column) = sources.line_col(l.span);
                JsonLabel {
                    file: sources.name(l.span.file),
                    line,
                    column,
                    start: l.span.start,
                    end: l.span.end,
                    message: &l.message,
                }
            })
            .collect(),
        help: diag.help.as_deref(),
    }
}

/// One GitHub Actions workflow command (`::error file=…,line=…::…`) for a diagnostic, so that
/// the finding shows as an annotation on the pull request.
pub fn github(diag: &Diagnostic, sources: &Sources) -> String {
    let primary = diag.span();
    let (line, col) = sources.line_col(primary);
    let end = Span {
        start: primary.end,
        ..primary
    };
    let (end_line, end_col) = sources.line_col(end);
    let level = match diag.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = diag.message.clone();
    if let Some(help) = &diag.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{level} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}",
        escape_property(sources.name(primary.file)),
        escape_property(&format!("{} {}", diag.code.as_str(), diag.code.title())),
        escape_data(&message),
    )
}

/// Escapes the message of a workflow command, as the GitHub Actions toolkit does.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command: as data, plus `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The schema a SARIF log names in `$schema`: SARIF 2.1.0 as published by OASIS.
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// A SARIF 2.1.0 log: one run of casepol holding every diagnostic of every source set.
///
/// Rules are the codes that occur, in code order, each with its title and its explanation from
/// `docs/errors.md`. Locations are file paths as given on the command line, as relative URI
/// references; lines and columns are one-based and columns count Unicode code points
/// (`columnKind: unicodeCodePoints`), as in the human and JSON output. A region ends just after
/// the last character of the span. Secondary labels become related locations.
pub fn sarif(sets: &[(&Sources, &[Diagnostic])]) -> serde_json::Value {
    sarif_with_repository(sets, env!("CARGO_PKG_REPOSITORY"))
}

/// [`sarif`], with the repository URL that rule help links point into; an empty URL leaves the
/// links out, since SARIF requires them to be absolute.
pub fn sarif_with_repository(
    sets: &[(&Sources, &[Diagnostic])],
    repository: &str,
) -> serde_json::Value {
    let repository = repository.trim_end_matches('/');
    let mut codes: Vec<Code> = sets
        .iter()
        .flat_map(|(_, diags)| diags.iter().map(|d| d.code))
        .collect();
    codes.sort();
    codes.dedup();

    let mut artifacts: Vec<String> = Vec::new();
    for (sources, _) in sets {
        for (_, name, _) in sources.iter() {
            let uri = uri_reference(name);
            if !artifacts.contains(&uri) {
                artifacts.push(uri);
            }
        }
    }
    let location = |sources: &Sources, span: Span| {
        let uri = uri_reference(sources.name(span.file));
        let index = artifacts.iter().position(|a| *a == uri);
        let (start_line, start_column) = sources.line_col(span);
        let (end_line, end_column) = sources.line_col(Span {
            start: span.end.max(span.start),
            ..span
        });
        let mut artifact = json!({ "uri": uri });
        if let Some(index) = index {
            artifact["index"] = json!(index);
        }
        json!({
            "artifactLocation": artifact,
            "region": {
                "startLine": start_line,
                "startColumn": start_column,
                "endLine": end_line,
                "endColumn": end_column,
            },
        })
    };

    let mut results = Vec::new();
    for (sources, diags) in sets {
        for d in diags.iter() {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            let mut labels = d.labels.iter();
            let primary = match labels.next() {
                Some(label) => {
                    let mut loc = json!({ "physicalLocation": location(sources, label.span) });
                    if !label.message.is_empty() {
                        loc["message"] = json!({ "text": label.message });
                    }
                    loc
                }
                None => json!({ "physicalLocation": location(sources, Span::default()) }),
            };
            let related: Vec<serde_json::Value> = labels
                .enumerate()
                .map(|(i, label)| {
                    let mut loc = json!({
                        "id": i + 1,
                        "physicalLocation": location(sources, label.span),
                    });
                    if !label.message.is_empty() {
                        loc["message"] = json!({ "text": label.message });
                    }
                    loc
                })
                .collect();
            let mut result = json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": codes.iter().position(|c| *c == d.code).unwrap_or_default(),
                "level": sarif_level(d.severity),
                "message": { "text": text },
                "locations": [primary],
            });
            if !related.is_empty() {
                result["relatedLocations"] = json!(related);
            }
            results.push(result);
        }
    }

    let rules: Vec<serde_json::Value> = codes
        .iter()
        .map(|&code| {
            let mut rule = json!({
                "id": code.as_str(),
                "name": rule_name(code),
                "shortDescription": { "text": code.title() },
                "defaultConfiguration": { "level": sarif_level(code.severity()) },
            });
            if let Some(section) = super::explanation(code) {
                rule["fullDescription"] = json!({ "text": summary(section) });
                rule["help"] = json!({ "text": markdown_for_terminal(section) });
            }
            if !repository.is_empty() {
                rule["helpUri"] = json!(format!(
                    "{repository}/blob/HEAD/docs/errors.md#{}",
                    super::explanation_anchor(code)
                ));
            }
            rule
        })
        .collect();

    let mut driver = json!({
        "name": "casepol",
        "version": env!("CARGO_PKG_VERSION"),
        "semanticVersion": env!("CARGO_PKG_VERSION"),
        "rules": rules,
    });
    if !repository.is_empty() {
        driver["informationUri"] = json!(repository);
    }
    let artifacts: Vec<serde_json::Value> = artifacts
        .iter()
        .map(|uri| json!({ "location": { "uri": uri } }))
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": driver },
            "artifacts": artifacts,
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A rule's `name`: its title in PascalCase, e.g. `UndefinedName`.
fn rule_name(code: Code) -> String {
    code.title()
        .replace('\'', "")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A file name as a URI reference: `/` separators, no leading `./`, and every byte outside the
/// unreserved characters percent-encoded. Absolute paths become `file://` URIs.
fn uri_reference(name: &str) -> String {
    let path = name.replace('\\', "/");
    let mut path = path.as_str();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    let absolute = path.starts_with('/')
        || (path.len() > 2
            && path.as_bytes()[1] == b':'
            && path.as_bytes()[0].is_ascii_alphabetic()
            && path.as_bytes()[2] == b'/');
    let mut out = String::with_capacity(path.len());
    if absolute {
        out.push_str("file://");
        if !path.starts_with('/') {
            out.push('/');
        }
    }
    for (i, b) in path.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
            || (absolute && i == 1 && b == b':');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first paragraph of an explanation after its heading, as one line of plain text.
fn summary(section: &str) -> String {
    let body = section.split_once('\n').map(|(_, b)| b).unwrap_or_default();
    let paragraph: Vec<&str> = body
        .trim_start()
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    inline_for_terminal(&paragraph.join(" "))
}

/// A section of `docs/errors.md` as text for a terminal: heading marks and emphasis removed,
/// code blocks without their fences and indented by four spaces, links as `text (target)`, and
/// misleading characters (an example of CP0002 holds one) escaped as `\u{…}`.
pub fn markdown_for_terminal(markdown: &str) -> String {
    let mut out = String::new();
    let mut in_fence = false;
    let markdown = printable_lines(markdown);
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            if !line.is_empty() {
                out.push_str("    ");
                out.push_str(line);
            }
        } else if line.starts_with('#') {
            out.push_str(line.trim_start_matches('#').trim_start());
        } else {
            out.push_str(&inline_for_terminal(line));
        }
        out.push('\n');
    }
    out
}

/// Inline markdown for a terminal: `**bold**` loses its stars, `[text](target)` becomes
/// `text (target)`, a link to another page of docs/ is given as `docs/page.md`, and code spans
/// keep their backticks.
fn inline_for_terminal(line: &str) -> String {
    let line = line.replace("**", "");
    let mut out = String::with_capacity(line.len());
    let mut rest = line.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let target_and_rest = &after[close + 2..];
            target_and_rest.find(')').map(|end| {
                (
                    &after[..close],
                    &target_and_rest[..end],
                    &target_and_rest[end + 1..],
                )
            })
        });
        match link {
            Some((text, target, tail)) => {
                out.push_str(&rest[..open]);
                let target = if target.contains("://") || target.starts_with('#') {
                    target.to_string()
                } else {
                    format!("docs/{target}")
                };
                if target.ends_with(text) {
                    out.push_str(&target);
                } else {
                    out.push_str(&format!("{text} ({target})"));
                }
                rest = tail;
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{FileId, Label as DiagLabel};

    /// How reports were drawn before windows: from every file whole. Slow on large files, but
    /// the reference a window must match wherever nothing is cut or escaped.
    fn human_from_whole_files(diag: &Diagnostic, sources: &Sources, color: bool) -> String {
        let kind = match diag.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let char_range = |span: Span| {
            let text = sources.text(span.file);
            let span = clamp(span, sources);
            let first = text[..span.start as usize].chars().count();
            first..first + text[span.range()].chars().count()
        };
        let primary = diag.span();
        let name = |f| sources.name(f).to_string();
        let mut report = Report::build(kind, (name(primary.file), char_range(primary)))
            .with_code(diag.code.as_str())
            .with_message(&diag.message)
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Char),
            );
        let mut labels: Vec<(usize, &DiagLabel)> = diag.labels.iter().enumerate().collect();
        labels.sort_by_key(|(_, l)| (l.span.file, l.span.start));
        for (i, label) in labels {
            let text = match (i, label.message.is_empty()) {
                (0, true) => "here",
                _ => label.message.as_str(),
            };
            let mut l = Label::new((name(label.span.file), char_range(label.span)));
            if !text.is_empty() {
                l = l.with_message(text);
            }
            report = report.with_label(l);
        }
        if let Some(help) = &diag.help {
            report = report.with_help(help);
        }
        let cache = ariadne::sources(
            sources
                .iter()
                .map(|(_, n, t)| (n.to_string(), t.to_string())),
        );
        let mut out = Vec::new();
        let _ = report.finish().write(cache, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Whether a window draws `d` exactly as the whole files do: nothing cut, escaped or left
    /// out, and lines as ariadne counts them.
    fn drawn_whole(d: &Diagnostic, sources: &Sources) -> bool {
        d.labels.len() <= MAX_SHOWN_LABELS
            && d.labels.iter().all(|l| {
                let text = sources.text(l.span.file);
                let lone_cr = text
                    .char_indices()
                    .any(|(i, c)| c == '\r' && text.as_bytes().get(i + 1) != Some(&b'\n'));
                let long = text
                    .lines()
                    .any(|line| line.chars().count() > MAX_SHOWN_LINE_CHARS);
                // ariadne has no line after a file's last line break, so it puts the file's
                // end on the line before; the file's own line and column are shown instead.
                let after_last_break =
                    l.span.start as usize >= text.len() && text.ends_with(['\n', '\r']);
                !lone_cr
                    && !long
                    && !after_last_break
                    && !text
                        .chars()
                        .any(|c| misleading(c) && c != '\n' && c != '\r')
            })
    }

    fn same_as_whole(d: &Diagnostic, sources: &Sources) {
        for color in [false, true] {
            assert_eq!(
                human(d, sources, color),
                human_from_whole_files(d, sources, color),
                "{d:?}"
            );
        }
    }

    /// Every diagnostic of the test corpus and the shipped policies is drawn as before.
    #[test]
    fn windows_draw_what_whole_files_draw() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut policies: Vec<Vec<std::path::PathBuf>> = Vec::new();
        let mut stack = vec![root.join("tests/data"), root.join("policies")];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files = Vec::new();
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "casepol") {
                    files.push(path);
                }
            }
            files.sort();
            // Each file alone, and a directory's files together (a multi-file policy).
            policies.extend(files.iter().map(|f| vec![f.clone()]));
            if files.len() > 1 {
                policies.push(files);
            }
        }
        let mut compared = 0;
        for files in policies {
            let mut sources = Sources::new();
            for f in &files {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                sources.add(f.display().to_string(), text);
            }
            let (_, diags) = crate::api::check_sources(&sources);
            for d in diags.iter().filter(|d| drawn_whole(d, &sources)) {
                same_as_whole(d, &sources);
                compared += 1;
            }
        }
        assert!(compared > 300, "only {compared} diagnostics compared");
    }

    /// Labels far apart, around the lines where the margin widens, over several lines and in
    /// two files.
    #[test]
    fn windows_keep_line_numbers_and_margins() {
        let mut text = String::new();
        for i in 1..=1200 {
            text.push_str(&format!("line {i} of the file\n"));
        }
        let mut sources = Sources::new();
        let a = sources.add("a.casepol", text.as_str());
        let b = sources.add("b.casepol", "one\ntwo\r\nthree");
        let at = |file: FileId, line: usize, col: usize, len: usize| {
            let text = sources.text(file);
            let start: usize = text
                .split_inclusive('\n')
                .take(line - 1)
                .map(str::len)
                .sum();
            Span::new(file, start + col - 1, start + col - 1 + len)
        };
        let spans = [
            vec![at(a, 5, 1, 4), at(a, 1100, 6, 4)],
            vec![at(a, 9, 1, 4), at(a, 10, 1, 4)],
            vec![at(a, 99, 3, 2), at(a, 100, 1, 1), at(a, 1000, 1, 0)],
            vec![Span::new(
                a,
                at(a, 3, 2, 0).start as usize,
                at(a, 12, 4, 0).start as usize,
            )],
            vec![at(a, 50, 1, 21)],
            vec![
                at(a, 700, 1, 2),
                at(b, 2, 1, 3),
                at(b, 3, 6, 0),
                at(a, 2, 1, 1),
            ],
            vec![at(b, 1, 1, 4), at(a, 1200, 1, 4)],
        ];
        for (n, spans) in spans.into_iter().enumerate() {
            let mut d = Diagnostic::new(Code::Undefined, spans[0], format!("case {n}"))
                .with_help("two\nlines");
            for (i, s) in spans.iter().enumerate().skip(1) {
                d = d.with_secondary(
                    *s,
                    if i % 2 == 0 {
                        format!("label {i}")
                    } else {
                        String::new()
                    },
                );
            }
            same_as_whole(&d, &sources);
        }
    }

    /// Random text (line breaks of every kind, long lines, misleading and multi-byte
    /// characters) and random labels: a report never panics, never prints a misleading
    /// character, names the primary label's true line and column, stays within its bounds, and
    /// is the whole-file report wherever nothing is cut or escaped.
    #[test]
    fn windows_on_random_text() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config as RunConfig, TestRunner};
        let piece = prop_oneof![
            Just("a".to_string()),
            Just("word ".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("\r".to_string()),
            Just("é€".to_string()),
            Just("\t".to_string()),
            Just("\u{202E}".to_string()),
            Just("\u{2028}".to_string()),
            Just("\u{1b}[2J".to_string()),
            (1usize..400).prop_map(|n| "x".repeat(n)),
            (1usize..30).prop_map(|n| "\n".repeat(n)),
        ];
        let text = proptest::collection::vec(piece, 0..60).prop_map(|p| p.concat());
        let spans = proptest::collection::vec((0usize..5000, 0usize..300, any::<bool>()), 1..12);
        let mut runner = TestRunner::new(RunConfig {
            cases: 300,
            ..RunConfig::default()
        });
        runner
            .run(&(text.clone(), text, spans), |(a, b, spans)| {
                let mut sources = Sources::new();
                let fa = sources.add("a.casepol", a.as_str());
                let fb = sources.add("b.casepol", b.as_str());
                let mut d: Option<Diagnostic> = None;
                for (start, len, other) in spans {
                    let (file, text) = if other { (fb, &b) } else { (fa, &a) };
                    let start = start % (text.len() + 1);
                    let span = Span::new(file, start, (start + len).min(text.len()));
                    d = Some(match d {
                        None => Diagnostic::new(Code::Undefined, span, "m").with_help("h"),
                        Some(d) => d.with_secondary(span, "s"),
                    });
                }
                let Some(d) = d else { return Ok(()) };
                let out = human(&d, &sources, false);
                prop_assert!(!out.chars().any(|c| misleading(c) && c != '\n'), "{out}");
                let primary = clamp(d.span(), &sources);
                let (line, col) = sources.line_col(primary);
                let name = sources.name(primary.file);
                prop_assert!(out.contains(&format!("{name}:{line}:{col} ]")), "{out}");
                let shown = d.labels.len().min(MAX_SHOWN_LABELS);
                prop_assert!(
                    out.lines().count() < 20 + 8 * shown,
                    "{} lines:\n{out}",
                    out.lines().count()
                );
                // A line shows at most the context around each label's start and end.
                let bound = MAX_SHOWN_LINE_CHARS.max(2 * shown * (2 * SHOWN_CONTEXT_CHARS + 2));
                let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
                prop_assert!(widest < bound + 40, "{widest} characters wide:\n{out}");
                // ariadne nests the margin arrows of labels over several lines by their length
                // in characters, which a window shortens where it leaves lines out, and draws
                // the margin under such a label (beside the help) by where in its source the
                // label starts and ends, which a window moves: with one or more of them, the
                // margins may differ (the lines and numbers do not). The cases of
                // `windows_keep_line_numbers_and_margins` are drawn the same.
                let spanning = d
                    .labels
                    .iter()
                    .filter(|l| {
                        let (first, last) = label_lines(clamp(l.span, &sources), &sources);
                        first != last
                    })
                    .count();
                if drawn_whole(&d, &sources) && spanning == 0 {
                    prop_assert_eq!(out, human_from_whole_files(&d, &sources, false));
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// A label at the end of a very long line far down a file: the line is cut around it, and
    /// the line and column are the file's.
    #[test]
    fn long_lines_are_cut_around_the_labels() {
        let mut text = "\n".repeat(12_344);
        let line: String = (0..5_000).map(|i| format!("word{i}, ")).collect();
        text.push_str(&line);
        text.push('\n');
        let mut sources = Sources::new();
        let f = sources.add("long.casepol", text.as_str());
        let start = text.find("word4321,").unwrap();
        let first = text.find("word10,").unwrap();
        let d = Diagnostic::new(
            Code::Unused,
            Span::new(f, start, start + 8),
            "unused `word4321`",
        )
        .with_label("never used")
        .with_secondary(Span::new(f, first, first + 6), "first");
        let out = human(&d, &sources, false);
        let col = text[..start].len() - 12_344 + 1;
        assert!(out.contains(&format!("long.casepol:12345:{col}")), "{out}");
        assert!(out.lines().all(|l| l.chars().count() < 300), "{out}");
        insta::assert_snapshot!(out);
    }

    #[test]
    fn markdown_for_a_terminal() {
        let md = "## CP0101: undefined name\n\n**Wrong** (see [Limits](language.md#21-limits), \
                  [ci.md](ci.md) and [SARIF](https://example.org/s)):\n\n```casepol\nrole A;\n\n  allow A: x;\n```\n\n`[ ]` stays.\n";
        assert_eq!(
            markdown_for_terminal(md),
            "CP0101: undefined name\n\nWrong (see Limits (docs/language.md#21-limits), \
             docs/ci.md and SARIF (https://example.org/s)):\n\n    role A;\n\n      allow A: x;\n\n`[ ]` stays.\n"
        );
    }

    #[test]
    fn summaries_join_the_first_paragraph() {
        let section = "## CP0101: t\n\n**Error.** One\ntwo.\n\nThree.\n";
        assert_eq!(summary(section), "Error. One two.");
    }

    #[test]
    fn uris_and_rule_names() {
        assert_eq!(uri_reference("./a b/c.casepol"), "a%20b/c.casepol");
        assert_eq!(uri_reference("dir\\x.casepol"), "dir/x.casepol");
        assert_eq!(uri_reference("/tmp/x.casepol"), "file:///tmp/x.casepol");
        assert_eq!(uri_reference("C:\\p\\x.casepol"), "file:///C:/p/x.casepol");
        assert_eq!(rule_name(Code::Undefined), "UndefinedName");
        assert_eq!(
            rule_name(Code::FormatterBug),
            "FormatterChangedThePolicysMeaning"
        );
    }
}

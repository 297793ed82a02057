//! Rendering diagnostics for people (ariadne) and for tools (JSON). Called only by the edge.

use super::{Diagnostic, Severity, Sources, Span};
use ariadne::{Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;

/// Renders one diagnostic as a human-readable report.
pub fn human(diag: &Diagnostic, sources: &Sources, color: bool) -> String {
    let kind = match diag.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let primary = diag.span();
    let name = |f| sources.name(f).to_string();
    let mut report = Report::build(kind, (name(primary.file), char_range(sources, primary)))
        .with_code(diag.code.as_str())
        .with_message(&diag.message)
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Char),
        );
    // ariadne starts a new section whenever a label lies above the one before it, so labels go
    // in in source order: one section per file.
    let mut labels: Vec<(usize, &super::Label)> = diag.labels.iter().enumerate().collect();
    labels.sort_by_key(|(_, l)| (l.span.file, l.span.start));
    for (i, label) in labels {
        // ariadne draws no underline for a label without text, so the primary location always
        // gets some.
        let text = match (i, label.message.is_empty()) {
            (0, true) => "here",
            _ => label.message.as_str(),
        };
        let mut l = Label::new((name(label.span.file), char_range(sources, label.span)));
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
    // INVARIANT: writing to a Vec cannot fail, and every span's file is in `sources`.
    let _ = report.finish().write(cache, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A span as a range of characters, for ariadne. Spans are byte ranges, but ariadne 0.6 given
/// byte offsets (`IndexType::Byte`) reads the location of a label in a second file as a
/// character offset and slices that file's text inside a multi-byte character (a panic found by
/// fuzzing: tests/data/fuzz_regressions/check/). Character offsets mean the same to it
/// everywhere.
fn char_range(sources: &Sources, span: Span) -> std::ops::Range<usize> {
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
    let first = text[..start].chars().count();
    first..first + text[start..end].chars().count()
}

/// The machine-readable form of a diagnostic: stable field names, one-based lines and columns.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'static str,
    pub severity: Severity,
    pub message: &'a str,
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub labels: Vec<JsonLabel<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub start: u32,
    pub end: u32,
    pub message: &'a str,
}

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

/// A SARIF 2.1.0 log: one run of casepol holding every diagnostic of every source set.
pub fn sarif(sets: &[(&Sources, &[Diagnostic])]) -> serde_json::Value {
    // Implemented in the SARIF change; an empty log until then.
    let _ = sets;
    serde_json::json!({"version": "2.1.0", "runs": []})
}

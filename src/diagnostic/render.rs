//! Rendering diagnostics for people (ariadne) and for tools (JSON, GitHub workflow commands,
//! SARIF), and `docs/errors.md` sections for a terminal. Called only by the edge.

use super::{Code, Diagnostic, Severity, Sources, Span};
use ariadne::{Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;
use serde_json::json;

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
/// code blocks without their fences and indented by four spaces, links as `text (target)`.
pub fn markdown_for_terminal(markdown: &str) -> String {
    let mut out = String::new();
    let mut in_fence = false;
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

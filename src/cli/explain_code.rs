//! `casepol explain-code`: the long explanation of one diagnostic code.

use super::*;
use casepol::diagnostic::{self, Code};

#[derive(clap::Args)]
pub(super) struct ExplainCodeArgs {
    /// A diagnostic code, such as `CP0101`; lower case and a missing `CP` are accepted
    code: String,
    /// Output format: `json` prints `{"code", "title", "severity", "explanation"}`, the
    /// explanation in Markdown as docs/errors.md has it
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// The output of `explain-code --format json`.
#[derive(Serialize)]
struct ExplanationJson<'a> {
    code: &'a str,
    title: &'a str,
    severity: Severity,
    explanation: &'a str,
}

pub(super) fn explain_code(args: &ExplainCodeArgs) -> Exit {
    let Some(code) = Code::parse(&args.code) else {
        return fail_input(unknown_code(&args.code));
    };
    match diagnostic::explanation(code) {
        Some(section) if args.format == Format::Json => {
            // The heading is the code and title, given as fields of their own.
            let body = section.split_once('\n').map_or("", |(_, rest)| rest);
            let json = ExplanationJson {
                code: code.as_str(),
                title: code.title(),
                severity: code.severity(),
                explanation: body.trim(),
            };
            match emit(&serde_json::to_string(&json).unwrap_or_default()) {
                Ok(()) => Exit::Ok,
                Err(e) => e,
            }
        }
        Some(section) => match emit(render::markdown_for_terminal(section).trim_end()) {
            Ok(()) => Exit::Ok,
            Err(e) => e,
        },
        // INVARIANT: tests/errors_doc.rs checks that docs/errors.md explains every code.
        None => fail_input(format!(
            "`{}` has no explanation in this build of casepol; see docs/errors.md",
            code.as_str()
        )),
    }
}

/// The message for a code that does not exist, with the closest code and the range of codes.
pub(super) fn unknown_code(text: &str) -> String {
    let mut msg = format!("unknown diagnostic code `{text}`");
    let normalized = normalize_code(text);
    if let Some(mean) =
        diagnostic::words::did_you_mean(&normalized, Code::ALL.iter().map(|c| c.as_str()))
    {
        msg.push_str(&format!("; {mean}"));
    }
    let first = Code::ALL.first().map(|c| c.as_str()).unwrap_or_default();
    let last = Code::ALL.last().map(|c| c.as_str()).unwrap_or_default();
    msg.push_str(&format!(
        "\n  help: codes run from {first} to {last}; docs/errors.md lists every one"
    ));
    msg
}

/// `cp101`, `0101` and `101` all read as `CP0101`, so the suggestion compares like with like.
fn normalize_code(text: &str) -> String {
    let text = text.trim();
    let digits = match text.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("cp") => &text[2..],
        _ => text,
    };
    if !digits.is_empty() && digits.len() < 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
        format!("CP{digits:0>4}")
    } else {
        format!("CP{digits}")
    }
}

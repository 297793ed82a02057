//! Rendering a reference trace as an explanation a business user can read.
//!
//! The JSON form is the trace itself (`serde_json::to_string(&trace)`); this module renders the
//! text form: the decision, the deciding layer, every layer with its verdict, the rules that
//! matched shown as source lines, and what was missing.

use crate::compile::CompiledPolicy;
use crate::diagnostic::{Sources, Span};
use crate::limits::{MAX_SHOWN_LINE_CHARS, SHOWN_CONTEXT_CHARS};
use std::fmt::Write;

/// What [`Policy::explain`](crate::Policy::explain) returns: the reference evaluator's record of
/// every layer, which [`Policy::explain_text`](crate::Policy::explain_text)
/// turns into text and serde into JSON.
pub use crate::reference::{
    Change, CodeTrace, ConditionTrace, Counterfactual, Detail, GroupTrace, LayerTrace, LevelTrace,
    RelationHeld, RuleRef, TermTrace, ThenDenied, Trace, Verdict,
};

/// How the conditions of a scope filter combine, in a [`GroupTrace`]: `any` or `all`.
pub use crate::reference::FilterMode;

/// Renders an explanation as plain text (no colour, stable for snapshots). Applications call
/// [`Policy::explain_text`](crate::Policy::explain_text), which passes the policy that explained.
#[doc(hidden)]
pub fn render_text(trace: &Trace, policy: &CompiledPolicy) -> String {
    let mut out = String::new();
    let r = &trace.request;
    let verb = if trace.decision.allowed {
        "ALLOW"
    } else {
        "DENY"
    };
    let target = match (&r.resource, &trace.resource_kind) {
        (Some(res), Some(kind)) => match &trace.case {
            Some(case) => format!("{kind} `{res}` (in case `{case}`)"),
            None => format!("{kind} `{res}`"),
        },
        (Some(res), None) => format!("`{res}`"),
        (None, _) => String::new(),
    };
    let via = r
        .module
        .as_ref()
        .map(|m| format!(" through module `{m}`"))
        .unwrap_or_default();
    let via = match &r.target {
        Some(t) => format!("{via} to state `{t}`"),
        None => via,
    };
    if r.resource.is_none() && trace.error.is_none() {
        let holds = if trace.decision.allowed {
            "holds"
        } else {
            "does not hold"
        };
        let _ = writeln!(
            out,
            "{verb}: `{}` {holds} account permission `{}`",
            r.principal, r.action
        );
    } else {
        let may = if trace.decision.allowed {
            "may"
        } else {
            "may not"
        };
        let _ = writeln!(
            out,
            "{verb}: `{}` {may} `{}` {target}{via}",
            r.principal, r.action
        );
    }
    if trace.decision.allowed {
        let _ = writeln!(out, "allowed: every layer that applies passed");
    } else if let Some(deciding) = trace
        .layers
        .iter()
        .find(|l| l.layer == trace.decision.layer)
    {
        let _ = writeln!(
            out,
            "decided by the {} layer: {}",
            deciding.layer.title(),
            deciding.summary
        );
    }
    let _ = writeln!(out);
    for layer in &trace.layers {
        // The case a scope filter tests: the resource's case, or the resource itself.
        let case = trace.case.as_deref().or(r.resource.as_deref());
        render_layer(&mut out, layer, policy, case);
    }
    out
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✓",
        Verdict::Deny => "✗",
    }
}

fn render_layer(out: &mut String, l: &LayerTrace, policy: &CompiledPolicy, case: Option<&str>) {
    let _ = writeln!(
        out,
        "  {} {:<20} {}",
        mark(l.verdict),
        l.layer.title(),
        l.summary
    );
    let pad = "                         ";
    match &l.detail {
        Detail::None {} => {}
        Detail::Groups { groups, .. } => {
            for g in groups {
                let through = g
                    .through
                    .as_ref()
                    .map(|t| format!(" (through `{t}`)"))
                    .unwrap_or_default();
                let roles = if g.roles.is_empty() {
                    "no roles".to_string()
                } else {
                    format!("grants {}", g.roles.join(", "))
                };
                // A group that grants no role admits nothing, whatever its scope.
                let _ = writeln!(
                    out,
                    "{pad}{} group `{}`{through}: scope {}, {roles}",
                    match (g.in_scope, g.roles.is_empty()) {
                        (true, false) => "✓",
                        (true, true) => "·",
                        (false, _) => "✗",
                    },
                    g.group,
                    g.scope
                );
                for c in &g.conditions {
                    let why = match &c.value {
                        Some(v) => format!(
                            "`{}` of case `{}` is {v}",
                            c.attribute,
                            case.unwrap_or_default()
                        ),
                        None => "there is no case to test".to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "{pad}    {} `{}`: {why}",
                        if c.holds { "✓" } else { "✗" },
                        c.condition
                    );
                }
            }
        }
        Detail::Module { grants, .. } => {
            for g in grants {
                render_rule(out, g, policy, pad, "");
            }
        }
        Detail::Transition { transitions, .. } => {
            for t in transitions {
                render_rule(out, t, policy, pad, "");
            }
        }
        Detail::Rules {
            allows,
            denies,
            unmet,
            data_roles,
        } => {
            if let Some(d) = data_roles {
                let not_read = match d.not_read.is_empty() {
                    true => String::new(),
                    false => format!("; not read: {}", d.not_read.join(", ")),
                };
                let _ = writeln!(
                    out,
                    "{pad}through module `{}`, the data layer reads only the roles {} (and relations){not_read}",
                    d.module,
                    d.roles.join(", ")
                );
            }
            for d in denies {
                render_rule(out, d, policy, pad, "deny by ");
            }
            for a in allows {
                let label = if denies.is_empty() {
                    "allow by "
                } else {
                    "allow, overridden, by "
                };
                render_rule(out, a, policy, pad, label);
            }
            for u in unmet {
                render_rule(
                    out,
                    u,
                    policy,
                    pad,
                    "condition not met, so it does not apply: ",
                );
            }
        }
        Detail::Mode { rule, .. } => render_rule(out, rule, policy, pad, ""),
        Detail::Code { levels, .. } => {
            for lv in levels {
                let codes: Vec<String> = lv
                    .codes
                    .iter()
                    .map(|c| {
                        if c.held {
                            format!("{}✓", c.code)
                        } else {
                            c.code.clone()
                        }
                    })
                    .collect();
                let level = if codes.is_empty() {
                    "[ ]".to_string()
                } else {
                    format!("[{}]", codes.join("|"))
                };
                let origin = if lv.inherited {
                    format!("inherited from {} `{}`", lv.from_kind, lv.from)
                } else {
                    format!("own code of {} `{}`", lv.from_kind, lv.from)
                };
                let verdict = if lv.codes.is_empty() {
                    "✓ no restriction".to_string()
                } else if lv.satisfied {
                    "✓".to_string()
                } else {
                    "✗ not held".to_string()
                };
                let _ = writeln!(out, "{pad}{level:<16} {origin:<40} {verdict}");
                for c in lv.codes.iter().filter(|c| c.held) {
                    if let Some(by) = &c.by {
                        let _ = writeln!(out, "{pad}  `{}` held as {by}", c.code);
                    }
                }
            }
        }
    }
    for h in &l.hints {
        let _ = writeln!(out, "{pad}→ {h}");
    }
}

/// A rule as `file:line:col kind` followed by its source line with the rule underlined. A line
/// longer than [`MAX_SHOWN_LINE_CHARS`] is shown from [`SHOWN_CONTEXT_CHARS`] before the rule to
/// as many after it, with `…` for the rest, so that many rules on one long line cost no more
/// than their own text.
fn render_rule(out: &mut String, r: &RuleRef, policy: &CompiledPolicy, pad: &str, label: &str) {
    let cell = r
        .cell
        .as_ref()
        .map(|c| format!(" {c}: `{}`", r.source))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{pad}{label}{}{cell} at {}:{}:{}",
        r.kind, r.file, r.line, r.column
    );
    let (line_text, column) = shown_line(policy.sources(), r.span);
    let gutter = r.line.to_string();
    let indent = pad;
    let _ = writeln!(out, "{indent}  {gutter} │ {line_text}");
    let width = r
        .source
        .lines()
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(1)
        .max(1);
    let _ = writeln!(
        out,
        "{indent}  {} │ {}{}",
        " ".repeat(gutter.len()),
        " ".repeat(column),
        "^".repeat(width)
    );
    // A condition: all of its terms, each with what it read.
    if !r.condition.is_empty() {
        let _ = writeln!(out, "{indent}  when all of:");
        for t in &r.condition {
            let read = match t.values.is_empty() {
                true => String::new(),
                false => format!(": {}", t.values.join(", ")),
            };
            let _ = writeln!(
                out,
                "{indent}    {} `{}`{read}",
                if t.holds { "✓" } else { "✗" },
                t.term
            );
        }
    }
}

/// The first line of `span` as shown under a rule, and the column (from 0, in characters) where
/// the span starts in it.
fn shown_line(src: &Sources, span: Span) -> (String, usize) {
    let text = src.text(span.file);
    let start = (span.start as usize).min(text.len());
    let (line, _) = src.line_range(span.file, src.line_index(span.file, start));
    let chars = src.chars_before(span.file, line.end) - src.chars_before(span.file, line.start);
    let column = src.chars_before(span.file, start) - src.chars_before(span.file, line.start);
    if chars <= MAX_SHOWN_LINE_CHARS {
        return (text[line].to_string(), column);
    }
    let end = (span.end as usize).clamp(start, line.end);
    let from = text[line.start..start]
        .char_indices()
        .rev()
        .take(SHOWN_CONTEXT_CHARS)
        .last()
        .map_or(start, |(i, _)| line.start + i);
    let to = text[end..line.end]
        .char_indices()
        .nth(SHOWN_CONTEXT_CHARS)
        .map_or(line.end, |(i, _)| end + i);
    let mut shown = String::new();
    if from > line.start {
        shown.push('…');
    }
    shown.push_str(&text[from..to]);
    if to < line.end {
        shown.push('…');
    }
    let column = text[from..start].chars().count() + usize::from(from > line.start);
    (shown, column)
}

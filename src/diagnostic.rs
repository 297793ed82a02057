//! Diagnostics as plain data: a stable code, a severity, a message, labelled spans and help.
//!
//! Phases only build these values; rendering (ariadne for people, JSON for tools) lives in
//! `diagnostic/render.rs` and is called by the edge.

pub mod render;
mod suggest;
pub mod words;

#[cfg(test)]
pub(crate) use suggest::work;
pub use suggest::{suggest, suggest_within};

use serde::Serialize;

/// Which loaded source a span points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct FileId(
    /// The file's index in its [`Sources`], from 0 in the order the files were added.
    pub u32,
);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// The first byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The bytes `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        // INVARIANT: sources are limited far below 4 GiB when loaded, so offsets fit in u32.
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The bytes, for slicing the file's text.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// The policy is valid but probably not what its author meant (a lint, `CP02xx`).
    Warning,
    /// The policy is not valid.
    Error,
}

/// Every diagnostic casepol can produce. The code is stable: tools may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Code {
    /// The text does not follow the grammar.
    Syntax,
    /// The text holds a character that makes editors show it other than casepol reads it: a
    /// direction control, a line break only some editors honour, or a control character.
    MisleadingCharacter,
    /// A name is used but never declared.
    Undefined,
    /// A name is declared twice in one namespace.
    Duplicate,
    /// Access groups nest in a cycle.
    GroupCycle,
    /// Resource kinds are parents of each other in a cycle.
    KindCycle,
    /// A name of the wrong sort is used, e.g. a role where an action belongs.
    WrongSort,
    /// A condition compares an attribute with a value of another type.
    TypeMismatch,
    /// An action is used in a module that does not list it.
    NotInModule,
    /// A case type's state machine is malformed (no states, no initial state, …).
    StateMachine,
    /// A table's rows and columns do not line up.
    TableShape,
    /// An access mode does not cover every variant of its enum.
    ModeNotExhaustive,
    /// A declaration is not allowed where it appears.
    Misplaced,
    /// A policy exceeds a built-in limit.
    Limit,
    /// A state cannot be reached from the initial state.
    UnreachableState,
    /// One table cell both allows and denies the same action.
    AllowDenySameCell,
    /// Lint: a rule covered by another rule of the same effect and scope, so it never changes a
    /// decision.
    ShadowedRule,
    /// Lint: an allow that a deny in the same layer always overrides.
    AllowAlwaysDenied,
    /// Lint: a role, group, action or state that is declared but never used.
    Unused,
    /// Lint: a state that is not final but has no transition out of it.
    DeadEndState,
    /// Lint: a permission table without a row for one of its case type's states.
    MissingTableRow,
    /// Lint: one group granted every action on every resource.
    OverBroadGrant,
    /// Lint: too large a share of the groups are admin-like.
    TooManyAdmins,
    /// Lint: a group's scope narrows a role that a parent group grants with scope all.
    IneffectiveScope,
    /// Lint: a module grant line names a role that is not one of the module's data roles.
    GrantNotDataRole,
    /// Two transitions leave one state by the same action for different states.
    AmbiguousTransition,
    /// An allow names an action of the case type's transitions in a state no such transition
    /// leaves.
    GrantOutsideTransitions,
    /// A scope filter of two or more conditions says neither `any` nor `all`; it means `any`.
    BareFilter,
    /// `fmt --check`: a file is not in canonical layout.
    NotFormatted,
    /// The formatter's output does not parse back to the same policy: a bug in casepol.
    FormatterBug,
    /// `test`: a test case's decision (or deciding rule) is not the expected one.
    TestFailed,
    /// `test`: a test file is malformed or names something that does not exist.
    InvalidTest,
    /// `test`, `verify`: a property names a role, action, state or other name the policy does
    /// not declare.
    InvalidProperty,
    /// `test`, `verify`: a property is refuted by a counterexample, or cannot be proven.
    PropertyFailed,
}

impl Code {
    /// Every code, in the order of docs/errors.md.
    pub const ALL: &'static [Code] = &[
        Code::Syntax,
        Code::MisleadingCharacter,
        Code::Undefined,
        Code::Duplicate,
        Code::GroupCycle,
        Code::KindCycle,
        Code::WrongSort,
        Code::TypeMismatch,
        Code::NotInModule,
        Code::StateMachine,
        Code::TableShape,
        Code::ModeNotExhaustive,
        Code::Misplaced,
        Code::Limit,
        Code::UnreachableState,
        Code::AllowDenySameCell,
        Code::ShadowedRule,
        Code::AllowAlwaysDenied,
        Code::Unused,
        Code::DeadEndState,
        Code::MissingTableRow,
        Code::OverBroadGrant,
        Code::TooManyAdmins,
        Code::IneffectiveScope,
        Code::GrantNotDataRole,
        Code::AmbiguousTransition,
        Code::GrantOutsideTransitions,
        Code::BareFilter,
        Code::NotFormatted,
        Code::FormatterBug,
        Code::TestFailed,
        Code::InvalidTest,
        Code::InvalidProperty,
        Code::PropertyFailed,
    ];

    /// The stable identifier, e.g. `CP0101`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "CP0001",
            Code::MisleadingCharacter => "CP0002",
            Code::Undefined => "CP0101",
            Code::Duplicate => "CP0102",
            Code::GroupCycle => "CP0103",
            Code::KindCycle => "CP0104",
            Code::WrongSort => "CP0105",
            Code::TypeMismatch => "CP0106",
            Code::NotInModule => "CP0107",
            Code::StateMachine => "CP0108",
            Code::TableShape => "CP0109",
            Code::ModeNotExhaustive => "CP0110",
            Code::Misplaced => "CP0111",
            Code::Limit => "CP0112",
            Code::UnreachableState => "CP0201",
            Code::AllowDenySameCell => "CP0202",
            Code::ShadowedRule => "CP0203",
            Code::AllowAlwaysDenied => "CP0204",
            Code::Unused => "CP0205",
            Code::DeadEndState => "CP0206",
            Code::MissingTableRow => "CP0207",
            Code::OverBroadGrant => "CP0208",
            Code::TooManyAdmins => "CP0209",
            Code::IneffectiveScope => "CP0210",
            Code::GrantNotDataRole => "CP0211",
            Code::AmbiguousTransition => "CP0212",
            Code::GrantOutsideTransitions => "CP0213",
            Code::BareFilter => "CP0214",
            Code::NotFormatted => "CP0301",
            Code::FormatterBug => "CP0302",
            Code::TestFailed => "CP0401",
            Code::InvalidTest => "CP0402",
            Code::InvalidProperty => "CP0403",
            Code::PropertyFailed => "CP0404",
        }
    }

    /// A short title, e.g. for SARIF rule metadata and `docs/errors.md` headings (a test keeps
    /// the two equal).
    pub fn title(self) -> &'static str {
        match self {
            Code::Syntax => "syntax error",
            Code::MisleadingCharacter => "misleading character",
            Code::Undefined => "undefined name",
            Code::Duplicate => "duplicate declaration",
            Code::GroupCycle => "access group cycle",
            Code::KindCycle => "resource kind cycle",
            Code::WrongSort => "name of the wrong sort",
            Code::TypeMismatch => "type mismatch",
            Code::NotInModule => "action not in module",
            Code::StateMachine => "malformed state machine",
            Code::TableShape => "table row does not match the header",
            Code::ModeNotExhaustive => "access mode not exhaustive",
            Code::Misplaced => "declaration not allowed here",
            Code::Limit => "built-in limit exceeded",
            Code::UnreachableState => "unreachable state",
            Code::AllowDenySameCell => "cell allows and denies the same action",
            Code::ShadowedRule => "shadowed rule",
            Code::AllowAlwaysDenied => "allow always overridden by a deny",
            Code::Unused => "unused declaration",
            Code::DeadEndState => "dead-end state",
            Code::MissingTableRow => "missing table row",
            Code::OverBroadGrant => "over-broad grant",
            Code::TooManyAdmins => "too many admin-like groups",
            Code::IneffectiveScope => "scope made ineffective by a parent group",
            Code::GrantNotDataRole => "module grant to a role outside its data roles",
            Code::AmbiguousTransition => "ambiguous transition",
            Code::GrantOutsideTransitions => "transition action allowed outside its transitions",
            Code::BareFilter => "scope filter without any or all",
            Code::NotFormatted => "file is not formatted",
            Code::FormatterBug => "formatter changed the policy's meaning",
            Code::TestFailed => "policy test failed",
            Code::InvalidTest => "invalid policy test file",
            Code::InvalidProperty => "invalid property",
            Code::PropertyFailed => "property not proven",
        }
    }

    /// Whether this code comes from a lint: a warning about a policy that is valid but likely
    /// wrong. `validate --deny-warnings` turns these into errors; `--allow CODE` silences one.
    pub fn is_lint(self) -> bool {
        matches!(self.as_str().get(..4), Some("CP02"))
    }

    /// Whether the code is an error or a warning: lints warn, everything else is an error.
    pub fn severity(self) -> Severity {
        if self.is_lint() {
            Severity::Warning
        } else {
            Severity::Error
        }
    }

    /// Looks a code up by its identifier; case-insensitive, and the `CP` prefix and leading zeros
    /// are optional.
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        let digits = match text.get(..2) {
            Some(p) if p.eq_ignore_ascii_case("cp") => &text[2..],
            _ => text,
        };
        // Leading zeros are optional: `203`, `0203` and `CP203` are all `CP0203`.
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str()[2..].trim_start_matches('0') == digits.trim_start_matches('0'))
    }
}

/// `docs/errors.md`: the long explanation of every code, one `## CPxxxx: title` section each.
/// It is the one source for `casepol explain-code`, SARIF rule help and the published docs.
pub const ERRORS_DOC: &str = include_str!("../docs/errors.md");

/// The section of `docs/errors.md` that explains `code`: its heading line and everything up to
/// the next `## ` heading, without trailing blank lines. `None` if the section is missing (a test
/// makes sure none is).
pub fn explanation(code: Code) -> Option<&'static str> {
    let mut sections = sections(ERRORS_DOC).filter(|(c, _)| *c == Some(code));
    sections.next().map(|(_, text)| text)
}

/// The GitHub-style anchor of `code`'s heading in `docs/errors.md`, e.g. `cp0101-undefined-name`.
pub fn explanation_anchor(code: Code) -> String {
    let heading = format!("{}: {}", code.as_str(), code.title());
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The `## ` sections of a markdown text, each with the code its heading names (`## CP0101: …`)
/// if any. Headings inside fenced code blocks do not count.
pub fn sections(markdown: &str) -> impl Iterator<Item = (Option<Code>, &str)> {
    let mut starts = Vec::new();
    let mut offset = 0;
    let mut in_fence = false;
    for line in markdown.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with("## ") {
            starts.push(offset);
        }
        offset += line.len();
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .copied()
        .chain(std::iter::once(markdown.len()))
        .collect();
    starts.into_iter().zip(ends).map(move |(start, end)| {
        let text = markdown[start..end].trim_end();
        let heading = text.lines().next().unwrap_or_default();
        let code = heading
            .strip_prefix("## ")
            .and_then(|h| h.split(':').next())
            .filter(|id| id.starts_with("CP"))
            .and_then(Code::parse);
        (code, text)
    })
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A place in the source a diagnostic points at, with what to say there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is shown under the span; may be empty.
    pub message: String,
}

/// One finding about a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The stable code (docs/errors.md).
    pub code: Code,
    /// The code's severity.
    pub severity: Severity,
    /// What is wrong, in one line.
    pub message: String,
    /// The first label is the primary location.
    pub labels: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with `code` at `span`; its severity is the code's.
    #[cold]
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            labels: vec![Label {
                span,
                message: String::new(),
            }],
            help: None,
        }
    }

    /// Sets the text shown under the primary span.
    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        if let Some(first) = self.labels.first_mut() {
            first.message = message.into();
        }
        self
    }

    /// Adds a secondary location.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// The primary location.
    pub fn span(&self) -> Span {
        self.labels.first().map(|l| l.span).unwrap_or_default()
    }

    /// Whether it is an error (and the policy not valid).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The loaded policy sources, so that spans can be turned back into text.
///
/// A line ends at a line feed, a carriage return, or a carriage return and line feed, as in the
/// grammar (docs/language.md), so line numbers are the ones an editor shows.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<(String, String)>,
    /// Per file, the byte offset where each line starts (the first is 0), so that `line_col`
    /// is a binary search, not a scan of the text before the span.
    line_starts: Vec<Vec<u32>>,
    /// Per file, the number of characters before every [`CHAR_INDEX_STEP`]th byte (and before
    /// the end), so that a column is counted over at most that many bytes, however long the
    /// line.
    char_index: Vec<Vec<u32>>,
}

/// Bytes between two entries of a file's character index.
const CHAR_INDEX_STEP: usize = 256;

/// Whether a byte starts a character (is not a UTF-8 continuation byte).
fn starts_char(b: u8) -> bool {
    b & 0xC0 != 0x80
}

impl Sources {
    /// No files yet.
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Adds a file named `name` (shown in messages, usually its path) with its text.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let bytes = text.as_bytes();
        // Spans hold u32 offsets; past 4 GiB, saturating keeps the lists sorted.
        let offset = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        let starts = std::iter::once(0)
            .chain(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|&(i, &b)| {
                        b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
                    })
                    .map(|(i, _)| offset(i + 1)),
            )
            .collect();
        let mut chars = 0usize;
        let mut index = Vec::with_capacity(bytes.len() / CHAR_INDEX_STEP + 1);
        for chunk in bytes.chunks(CHAR_INDEX_STEP) {
            index.push(offset(chars));
            chars += chunk.iter().filter(|&&b| starts_char(b)).count();
        }
        if bytes.len() % CHAR_INDEX_STEP == 0 {
            index.push(offset(chars));
        }
        self.files.push((name.into(), text));
        self.line_starts.push(starts);
        self.char_index.push(index);
        FileId(self.files.len() as u32 - 1)
    }

    /// A file's name; `<unknown>` for an id of other sources.
    pub fn name(&self, id: FileId) -> &str {
        self.files
            .get(id.0 as usize)
            .map(|f| f.0.as_str())
            .unwrap_or("<unknown>")
    }

    /// A file's text; empty for an id of other sources.
    pub fn text(&self, id: FileId) -> &str {
        self.files
            .get(id.0 as usize)
            .map(|f| f.1.as_str())
            .unwrap_or("")
    }

    /// How many files there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every file: its id, name and text, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &str, &str)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, (n, t))| (FileId(i as u32), n.as_str(), t.as_str()))
    }

    /// The text a span covers.
    pub fn snippet(&self, span: Span) -> &str {
        self.text(span.file).get(span.range()).unwrap_or("")
    }

    fn starts(&self, file: FileId) -> &[u32] {
        self.line_starts
            .get(file.0 as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[0])
    }

    /// The zero-based line that byte `offset` of `file` lies on (the last line past the end).
    pub fn line_index(&self, file: FileId, offset: usize) -> usize {
        let offset = offset.min(self.text(file).len());
        // The lines that start at or before `offset`: the first always does.
        self.starts(file)
            .partition_point(|&s| s as usize <= offset)
            .max(1)
            - 1
    }

    /// How many lines `file` has (an empty file has one, empty).
    pub fn line_count(&self, file: FileId) -> usize {
        self.starts(file).len()
    }

    /// The byte range of zero-based line `line` of `file`, with its line break (if any) as a
    /// second range: `(content, content_and_break)`.
    pub fn line_range(
        &self,
        file: FileId,
        line: usize,
    ) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let text = self.text(file);
        let starts = self.starts(file);
        let start = starts
            .get(line)
            .map_or(text.len(), |&s| s as usize)
            .min(text.len());
        let next = starts
            .get(line + 1)
            .map_or(text.len(), |&s| s as usize)
            .clamp(start, text.len());
        let content = text[start..next].trim_end_matches(['\n', '\r']).len();
        (start..start + content, start..next)
    }

    /// The number of characters in `file` before byte `offset`, in time bounded by the fixed
    /// step of the character index it keeps per file, not by the offset.
    pub fn chars_before(&self, file: FileId, offset: usize) -> usize {
        let bytes = self.text(file).as_bytes();
        let offset = offset.min(bytes.len());
        let step = offset / CHAR_INDEX_STEP;
        let base = self
            .char_index
            .get(file.0 as usize)
            .and_then(|index| index.get(step))
            .map_or(0, |&c| c as usize);
        base + bytes[step * CHAR_INDEX_STEP..offset]
            .iter()
            .filter(|&&b| starts_char(b))
            .count()
    }

    /// One-based line and column of a span's start. The column counts characters.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        let start = (span.start as usize).min(self.text(span.file).len());
        let line = self.line_index(span.file, start);
        let line_start = self.line_range(span.file, line).1.start.min(start);
        let col = self.chars_before(span.file, start) - self.chars_before(span.file, line_start);
        (line + 1, col + 1)
    }

    /// The whole line(s) a span lies on, without the trailing line break.
    pub fn lines_of(&self, span: Span) -> &str {
        let text = self.text(span.file);
        let start = (span.start as usize).min(text.len());
        let end = (span.end as usize).min(text.len()).max(start);
        let first = self.line_range(span.file, self.line_index(span.file, start));
        let last = self.line_range(span.file, self.line_index(span.file, end));
        &text[first.0.start..last.0.end.max(first.0.start)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for &code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{} used twice", code.as_str());
            assert_eq!(Code::parse(code.as_str()), Some(code));
            assert_eq!(Code::parse(&code.as_str().to_lowercase()), Some(code));
            assert_eq!(Code::parse(&code.as_str()[2..]), Some(code));
        }
        assert_eq!(Code::parse("CP9999"), None);
        assert_eq!(Code::parse(""), None);
        assert!(Code::Unused.is_lint() && !Code::Syntax.is_lint());
    }

    /// `line_col` through the line index gives what counting the text before the span gives.
    #[test]
    fn line_col_matches_a_scan() {
        let scan = |text: &str, start: usize| {
            let before = &text[..start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, col)
        };
        let texts = [
            "",
            "\n",
            "a",
            "ab\ncd\n",
            "\n\nx",
            "äö\r\nü€x\n\n𝄞y",
            "a\nb\nc",
        ];
        let mut sources = Sources::new();
        for t in texts {
            sources.add("t", t);
        }
        for (i, t) in texts.iter().enumerate() {
            for start in (0..=t.len() + 2).filter(|&s| s > t.len() || t.is_char_boundary(s)) {
                let span = Span {
                    file: FileId(i as u32),
                    start: start as u32,
                    end: start as u32,
                };
                assert_eq!(sources.line_col(span), scan(t, start), "{t:?} at {start}");
            }
        }
        let unknown = Span {
            file: FileId(99),
            start: 5,
            end: 6,
        };
        assert_eq!(sources.line_col(unknown), (1, 1));
    }

    /// A lone carriage return ends a line, as in the grammar; `\r\n` is one line break.
    #[test]
    fn lines_end_at_every_line_break_the_grammar_knows() {
        let mut sources = Sources::new();
        let f = sources.add("t", "a\rbc\r\nd\ne");
        let at = |start: usize| sources.line_col(Span::new(f, start, start));
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(2), (2, 1));
        assert_eq!(at(3), (2, 2));
        assert_eq!(at(6), (3, 1));
        assert_eq!(at(8), (4, 1));
        assert_eq!(sources.line_count(f), 4);
        assert_eq!(sources.line_range(f, 1), (2..4, 2..6));
        assert_eq!(sources.lines_of(Span::new(f, 3, 7)), "bc\r\nd");
    }

    /// Columns on a long line of multi-byte characters, counted through the character index.
    #[test]
    fn columns_on_long_lines() {
        let text = "é".repeat(1000) + "\n" + &"ü€".repeat(700);
        let mut sources = Sources::new();
        let f = sources.add("t", text.as_str());
        for start in (0..=text.len())
            .filter(|&s| text.is_char_boundary(s))
            .step_by(37)
        {
            let before = &text[..start];
            assert_eq!(sources.chars_before(f, start), before.chars().count());
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let col = before[line_start..].chars().count() + 1;
            assert_eq!(sources.line_col(Span::new(f, start, start)).1, col);
        }
    }
}

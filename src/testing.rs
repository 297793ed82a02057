//! Policy tests: test files next to a policy, run against it, with rule coverage.
//!
//! A test file (`*.test.json`, format in docs/policy-tests.md) names a policy and its entities
//! and lists requests with the decision each must get, optionally with the deciding layer,
//! reason, rule or table cell. [`parse`] reads one into a [`TestFile`] and reports every
//! mistake in it as a diagnostic; [`run`] decides each case with both evaluators and compares;
//! [`Coverage`] records which rules, table cells, transitions, module grants and access-mode
//! lines some test exercised. Reading files is the caller's business.

mod json;

use crate::diagnostic::{suggest, Code, Diagnostic, FileId, Sources, Span};
use crate::ir::{RuleOrigin, RuleScope};
use crate::json_pos;
use crate::reference::{Detail, RuleRef, Trace};
use crate::request::{Request, RequestErrorKind};
use crate::vm::{Decision, Layer, Reason};
use crate::{Entities, Policy};
use json::{Member, Node, Value};
use serde::Serialize;
use std::collections::HashMap;

/// The suffix that marks a file as a policy test file when a directory is searched.
pub const TEST_FILE_SUFFIX: &str = ".test.json";

/// One parsed test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub file: FileId,
    pub description: Option<String>,
    /// The policy as written (a `.casepol` file or a directory), relative to the test file's
    /// directory; `None` means the directory that holds the test file.
    pub policy: Option<String>,
    /// Where the policy is named: the `policy` value, or the file's opening `{` by default.
    pub policy_span: Span,
    pub entities: EntitiesSource,
    /// The `entities` value.
    pub entities_span: Span,
    pub cases: Vec<TestCase>,
}

/// Where a test file's entities come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntitiesSource {
    /// A path relative to the test file's directory.
    Path(String),
    /// An entities object written in the test file; the text is the object's source.
    Inline(String),
}

/// One test case: a request and what its decision must be.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    /// The whole case object in the test file.
    pub span: Span,
    pub description: Option<String>,
    pub requirement: Option<String>,
    pub request: Request,
    pub expect: Expected,
}

/// The decision a case expects. Only `outcome` is required; every other part that is given
/// must hold too.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub outcome: Outcome,
    pub layer: Option<Layer>,
    pub reason: Option<Reason>,
    /// For `expect: "error"`: which error.
    pub error: Option<RequestErrorKind>,
    /// Fragments of rule source text; each must name one rule that decided.
    pub rules: Vec<Located>,
    /// Table cells as `State / Subject` or `CaseType / State / Subject`; an entry of each must
    /// have decided.
    pub cells: Vec<Located>,
}

/// A string from the test file and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Deny,
    /// The request cannot be resolved (unknown principal, action, resource or module).
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Error => "error",
        }
    }
}

// ---- names of layers, reasons and errors, as written in JSON ----------------------------------

const LAYERS: [Layer; 9] = [
    Layer::Request,
    Layer::Permission,
    Layer::Scope,
    Layer::Requirement,
    Layer::AccessMode,
    Layer::Module,
    Layer::Data,
    Layer::ReadCode,
    Layer::WriteCode,
];

const REASONS: [Reason; 13] = [
    Reason::Allowed,
    Reason::Error,
    Reason::PermissionNotHeld,
    Reason::NotInScope,
    Reason::RequirementNotHeld,
    Reason::Restricted,
    Reason::NoModule,
    Reason::NotInModule,
    Reason::NotARecord,
    Reason::ModuleNotGranted,
    Reason::ExplicitlyDenied,
    Reason::NotPermitted,
    Reason::CodeNotHeld,
];

/// The errors [`crate::request::resolve`] can return.
const ERROR_KINDS: [RequestErrorKind; 5] = [
    RequestErrorKind::UnknownPrincipal,
    RequestErrorKind::UnknownAction,
    RequestErrorKind::UnknownResource,
    RequestErrorKind::UnknownModule,
    RequestErrorKind::PermissionTakesNoResource,
];

/// The reasons a layer can decide with.
fn layer_reasons(layer: Layer) -> &'static [Reason] {
    match layer {
        Layer::Request => &[Reason::Error],
        Layer::Permission => &[Reason::Allowed, Reason::PermissionNotHeld],
        Layer::Scope => &[Reason::NotInScope],
        Layer::Requirement => &[Reason::RequirementNotHeld],
        Layer::AccessMode => &[Reason::Restricted],
        Layer::Module => &[
            Reason::NoModule,
            Reason::NotInModule,
            Reason::NotARecord,
            Reason::ModuleNotGranted,
        ],
        Layer::Data => &[
            Reason::Allowed,
            Reason::ExplicitlyDenied,
            Reason::NotPermitted,
        ],
        Layer::ReadCode | Layer::WriteCode => &[Reason::Allowed, Reason::CodeNotHeld],
    }
}

/// The name serde gives a unit variant (`Layer::AccessMode` is `access_mode`).
pub fn json_name<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn backticked<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{}`", s.as_ref())).collect();
    match quoted.as_slice() {
        [] => "nothing".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Collapses every run of whitespace to one space, so rule text matches however it is laid out.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- parsing ----------------------------------------------------------------------------------

const FILE_KEYS: &[&str] = &["description", "policy", "entities", "tests"];
const CASE_KEYS: &[&str] = &[
    "name",
    "description",
    "requirement",
    "request",
    "expect",
    "layer",
    "reason",
    "error",
    "rule",
    "cell",
];
const REQUEST_KEYS: &[&str] = &["principal", "action", "resource", "module", "context"];

const FORMAT_HELP: &str = "a test file is a JSON object: {\"entities\": \"entities.json\", \"tests\": [{\"name\": …, \"request\": {…}, \"expect\": \"allow\"}]}; see docs/policy-tests.md";

/// Reads a test file. Every problem in it is reported, each as a `CP0402` diagnostic.
pub fn parse(sources: &Sources, file: FileId) -> Result<TestFile, Vec<Diagnostic>> {
    let text = sources.text(file);
    let root = match json::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let end = text[e.offset..]
                .chars()
                .next()
                .map_or(e.offset, |c| e.offset + c.len_utf8());
            return Err(vec![Diagnostic::new(
                Code::InvalidTest,
                Span::new(file, e.offset, end),
                format!("the test file is not valid JSON: {}", e.message),
            )
            .with_label("the JSON is invalid here")
            .with_help(FORMAT_HELP)]);
        }
    };
    let mut p = Parser {
        file,
        text,
        diags: Vec::new(),
    };
    let parsed = p.file(&root);
    match parsed {
        Some(f) if p.diags.is_empty() => Ok(f),
        _ => Err(p.diags),
    }
}

struct Parser<'t> {
    file: FileId,
    text: &'t str,
    diags: Vec<Diagnostic>,
}

/// The members of an object after checking for unknown and duplicate keys.
struct Fields<'a> {
    members: &'a [Member],
    /// The object's opening `{`, where a missing key is reported.
    open: Span,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Member> {
        self.members.iter().find(|m| m.key == key)
    }
}

impl Parser<'_> {
    /// "an object", "a string", … for a node.
    fn kind(&self, node: &Node) -> &'static str {
        json_pos::kind(self.text, node.start).name()
    }

    fn span(&self, node: &Node) -> Span {
        Span::new(self.file, node.start, node.end)
    }

    fn key_span(&self, m: &Member) -> Span {
        Span::new(self.file, m.key_start, m.key_end)
    }

    fn error(&mut self, span: Span, message: String, label: &str, help: Option<String>) {
        let mut d = Diagnostic::new(Code::InvalidTest, span, message).with_label(label);
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.diags.push(d);
    }

    /// Checks that `node` is an object with only `allowed` keys, each at most once.
    fn object<'a>(&mut self, node: &'a Node, what: &str, allowed: &[&str]) -> Option<Fields<'a>> {
        let Value::Object(members) = &node.value else {
            self.error(
                self.span(node),
                format!("{what} must be a JSON object, not {}", self.kind(node)),
                "expected `{ … }`",
                None,
            );
            return None;
        };
        for (i, m) in members.iter().enumerate() {
            if let Some(first) = members[..i].iter().find(|f| f.key == m.key) {
                let d = Diagnostic::new(
                    Code::InvalidTest,
                    self.key_span(m),
                    format!("key `{}` appears twice in {what}", m.key),
                )
                .with_label("second time")
                .with_secondary(self.key_span(first), "first time")
                .with_help("keep one of the two");
                self.diags.push(d);
            } else if !allowed.contains(&m.key.as_str()) {
                let help = match suggest(&m.key, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the keys of {what} are {}", backticked(allowed)),
                };
                self.error(
                    self.key_span(m),
                    format!("unknown key `{}` in {what}", m.key),
                    "not a key of this object",
                    Some(help),
                );
            }
        }
        Some(Fields {
            members,
            open: Span::new(self.file, node.start, node.start + 1),
        })
    }

    fn missing(&mut self, fields: &Fields, key: &str, what: &str, help: &str) {
        self.error(
            fields.open,
            format!("{what} has no `{key}`"),
            "in this object",
            Some(help.to_string()),
        );
    }

    /// An optional string field.
    fn string(&mut self, fields: &Fields, key: &str, what: &str) -> Option<Located> {
        let m = fields.get(key)?;
        match &m.value.value {
            Value::String(s) => Some(Located {
                text: s.clone(),
                span: self.span(&m.value),
            }),
            _ => {
                self.error(
                    self.span(&m.value),
                    format!(
                        "`{key}` in {what} must be a string, not {}",
                        self.kind(&m.value)
                    ),
                    "expected a string",
                    None,
                );
                None
            }
        }
    }

    /// A string field that must be present and not empty.
    fn required_string(
        &mut self,
        fields: &Fields,
        key: &str,
        what: &str,
        help: &str,
    ) -> Option<Located> {
        if fields.get(key).is_none() {
            self.missing(fields, key, what, help);
            return None;
        }
        let s = self.string(fields, key, what)?;
        if s.text.trim().is_empty() {
            self.error(
                s.span,
                format!("`{key}` in {what} is empty"),
                "empty",
                Some(help.to_string()),
            );
            return None;
        }
        Some(s)
    }

    /// A string or an array of strings.
    fn strings(&mut self, fields: &Fields, key: &str, what: &str) -> Vec<Located> {
        let Some(m) = fields.get(key) else {
            return Vec::new();
        };
        let items: Vec<&Node> = match &m.value.value {
            Value::Array(items) => items.iter().collect(),
            _ => vec![&m.value],
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::String(s) if !s.trim().is_empty() => out.push(Located {
                    text: s.clone(),
                    span: self.span(item),
                }),
                Value::String(_) => self.error(
                    self.span(item),
                    format!("`{key}` in {what} is empty"),
                    "empty",
                    None,
                ),
                _ => self.error(
                    self.span(item),
                    format!(
                        "`{key}` in {what} must be a string or an array of strings, not {}",
                        self.kind(item)
                    ),
                    "expected a string",
                    None,
                ),
            }
        }
        out
    }

    /// A string field naming one of `choices` (as serde writes them).
    fn choice<T: Copy + Serialize>(
        &mut self,
        fields: &Fields,
        key: &str,
        what: &str,
        choices: &[T],
    ) -> Option<(T, Span)> {
        let s = self.string(fields, key, what)?;
        let names: Vec<String> = choices.iter().map(|c| json_name(*c)).collect();
        match names.iter().position(|n| *n == s.text) {
            Some(i) => Some((choices[i], s.span)),
            None => {
                let help = match suggest(&s.text, names.iter().map(String::as_str)) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => format!("`{key}` is one of {}", backticked(&names)),
                };
                self.error(
                    s.span,
                    format!("`{key}` in {what} cannot be `{}`", s.text),
                    "not one of the choices",
                    Some(help),
                );
                None
            }
        }
    }

    fn file(&mut self, root: &Node) -> Option<TestFile> {
        let fields = self.object(root, "the test file", FILE_KEYS)?;
        let description = self
            .string(&fields, "description", "the test file")
            .map(|s| s.text);
        let policy = self.string(&fields, "policy", "the test file");
        let policy_span = policy.as_ref().map_or(fields.open, |p| p.span);
        let entities = match fields.get("entities") {
            None => {
                self.missing(
                    &fields,
                    "entities",
                    "the test file",
                    "add `\"entities\": \"entities.json\"` (a path relative to this file) or an inline entities object",
                );
                None
            }
            Some(m) => match &m.value.value {
                Value::String(s) if !s.trim().is_empty() => {
                    Some((EntitiesSource::Path(s.clone()), self.span(&m.value)))
                }
                Value::Object(_) => Some((
                    EntitiesSource::Inline(
                        self.text
                            .get(m.value.start..m.value.end)
                            .unwrap_or_default()
                            .to_string(),
                    ),
                    self.span(&m.value),
                )),
                other => {
                    self.error(
                        self.span(&m.value),
                        format!(
                            "`entities` must be a path or an entities object, not {}",
                            if matches!(other, Value::String(_)) {
                                "an empty string"
                            } else {
                                self.kind(&m.value)
                            }
                        ),
                        "expected a path or `{ … }`",
                        Some("write the path of the entities file, relative to this test file, or the entities object itself".into()),
                    );
                    None
                }
            },
        };
        let cases = match fields.get("tests") {
            None => {
                self.missing(
                    &fields,
                    "tests",
                    "the test file",
                    "add `\"tests\": [{\"name\": …, \"request\": {…}, \"expect\": \"allow\"}]`",
                );
                None
            }
            Some(m) => match &m.value.value {
                Value::Array(items) if items.is_empty() => {
                    self.error(
                        self.span(&m.value),
                        "the test file has no tests".into(),
                        "empty",
                        Some("add at least one test case".into()),
                    );
                    None
                }
                Value::Array(items) => Some(self.cases(items)),
                _ => {
                    self.error(
                        self.span(&m.value),
                        format!(
                            "`tests` must be an array of test cases, not {}",
                            self.kind(&m.value)
                        ),
                        "expected `[ … ]`",
                        None,
                    );
                    None
                }
            },
        };
        let (entities, entities_span) = entities?;
        Some(TestFile {
            file: self.file,
            description,
            policy: policy.map(|p| p.text),
            policy_span,
            entities,
            entities_span,
            cases: cases?,
        })
    }

    fn cases(&mut self, items: &[Node]) -> Vec<TestCase> {
        let mut out: Vec<TestCase> = Vec::new();
        let mut names: HashMap<String, Span> = HashMap::new();
        for (i, node) in items.iter().enumerate() {
            let Some(case) = self.case(node, i + 1) else {
                continue;
            };
            if let Some(first) = names.get(&case.name) {
                let d = Diagnostic::new(
                    Code::InvalidTest,
                    case.span,
                    format!("two test cases are named `{}`", case.name),
                )
                .with_label("second")
                .with_secondary(*first, "first")
                .with_help("give each test case its own name, so a failure names one case");
                self.diags.push(d);
                continue;
            }
            names.insert(case.name.clone(), case.span);
            out.push(case);
        }
        out
    }

    fn case(&mut self, node: &Node, n: usize) -> Option<TestCase> {
        // Name the case in every message about it, once its name is known to be usable.
        let named = match &node.value {
            Value::Object(members) => members.iter().find_map(|m| match &m.value.value {
                Value::String(s) if m.key == "name" && !s.trim().is_empty() => {
                    Some(format!("test case `{s}`"))
                }
                _ => None,
            }),
            _ => None,
        };
        let what = named.unwrap_or_else(|| format!("test case #{n}"));
        let fields = self.object(node, &what, CASE_KEYS)?;
        let name = self.required_string(
            &fields,
            "name",
            &what,
            "name the case, e.g. `\"name\": \"hr-edits-in-review\"`",
        );
        let description = self.string(&fields, "description", &what).map(|s| s.text);
        let requirement = self.string(&fields, "requirement", &what).map(|s| s.text);
        let request = match fields.get("request") {
            None => {
                self.missing(
                    &fields,
                    "request",
                    &what,
                    "add `\"request\": {\"principal\": \"<user>\", \"action\": \"<action>\", \"resource\": \"<id>\"}`",
                );
                None
            }
            Some(m) => self.request(&m.value, &what),
        };
        let outcome = if fields.get("expect").is_none() {
            self.missing(
                &fields,
                "expect",
                &what,
                "add `\"expect\": \"allow\"`, `\"deny\"` or `\"error\"`",
            );
            None
        } else {
            self.choice(
                &fields,
                "expect",
                &what,
                &[Outcome::Allow, Outcome::Deny, Outcome::Error],
            )
        };
        let layer = fields
            .get("layer")
            .map(|_| self.choice(&fields, "layer", &what, &LAYERS));
        let reason = fields
            .get("reason")
            .map(|_| self.choice(&fields, "reason", &what, &REASONS));
        let error = fields
            .get("error")
            .map(|_| self.choice(&fields, "error", &what, &ERROR_KINDS));
        let rules = self.strings(&fields, "rule", &what);
        let cells = self.strings(&fields, "cell", &what);
        let (outcome, _) = outcome?;
        let (layer, reason, error) = (layer.flatten(), reason.flatten(), error.flatten());
        self.consistent(&what, outcome, layer, reason, error, &rules, &cells);
        Some(TestCase {
            name: name?.text,
            span: self.span(node),
            description,
            requirement,
            request: request?,
            expect: Expected {
                outcome,
                layer: layer.map(|l| l.0),
                reason: reason.map(|r| r.0),
                error: error.map(|e| e.0),
                rules,
                cells,
            },
        })
    }

    /// Reports expectations that no decision can meet, such as an allow with a deny reason.
    #[allow(clippy::too_many_arguments)]
    fn consistent(
        &mut self,
        what: &str,
        outcome: Outcome,
        layer: Option<(Layer, Span)>,
        reason: Option<(Reason, Span)>,
        error: Option<(RequestErrorKind, Span)>,
        rules: &[Located],
        cells: &[Located],
    ) {
        let o = outcome.as_str();
        if outcome == Outcome::Error {
            for (key, span) in [
                ("layer", layer.map(|l| l.1)),
                ("reason", reason.map(|r| r.1)),
            ] {
                if let Some(span) = span {
                    self.error(
                        span,
                        format!("{what} expects an error, which has no `{key}`"),
                        "remove this",
                        Some("name the expected error with `error`, e.g. `\"error\": \"unknown_principal\"`".into()),
                    );
                }
            }
            for r in rules.iter().chain(cells) {
                self.error(
                    r.span,
                    format!("{what} expects an error, so no rule decides it"),
                    "remove this",
                    None,
                );
            }
            return;
        }
        if let Some((_, span)) = error {
            self.error(
                span,
                format!("{what} expects `{o}`, but `error` names a request error"),
                "only with `\"expect\": \"error\"`",
                Some("remove `error`, or expect `error`".into()),
            );
        }
        let fits = |r: Reason| match outcome {
            Outcome::Allow => r == Reason::Allowed,
            _ => r != Reason::Allowed && r != Reason::Error,
        };
        if let Some((r, span)) = reason {
            if !fits(r) {
                self.error(
                    span,
                    format!(
                        "{what} expects `{o}`, but reason `{}` is never an {o}",
                        json_name(r)
                    ),
                    "contradicts `expect`",
                    Some(format!(
                        "the reasons of {o} are {}",
                        backticked(
                            &REASONS
                                .iter()
                                .filter(|r| fits(**r))
                                .map(|r| json_name(*r))
                                .collect::<Vec<_>>()
                        )
                    )),
                );
                return;
            }
        }
        if let Some((l, span)) = layer {
            let possible: Vec<String> = layer_reasons(l)
                .iter()
                .filter(|r| fits(**r))
                .map(|r| json_name(*r))
                .collect();
            if possible.is_empty() {
                self.error(
                    span,
                    format!(
                        "{what} expects `{o}`, but layer `{}` never decides an {o}",
                        json_name(l)
                    ),
                    "contradicts `expect`",
                    Some(format!(
                        "the layers that decide an {o} are {}",
                        backticked(
                            &LAYERS
                                .iter()
                                .filter(|l| layer_reasons(**l).iter().any(|r| fits(*r)))
                                .map(|l| json_name(*l))
                                .collect::<Vec<_>>()
                        )
                    )),
                );
            } else if let Some((r, rspan)) = reason {
                if !layer_reasons(l).contains(&r) {
                    self.error(
                        rspan,
                        format!(
                            "{what}: layer `{}` never decides with reason `{}`",
                            json_name(l),
                            json_name(r)
                        ),
                        "contradicts `layer`",
                        Some(format!(
                            "layer `{}` decides {o} with {}",
                            json_name(l),
                            backticked(&possible)
                        )),
                    );
                }
            }
        }
    }

    fn request(&mut self, node: &Node, what: &str) -> Option<Request> {
        let where_ = format!("the request of {what}");
        let fields = self.object(node, &where_, REQUEST_KEYS)?;
        let principal = self.required_string(
            &fields,
            "principal",
            &where_,
            "add `\"principal\": \"<user id>\"`",
        );
        let action = self.required_string(
            &fields,
            "action",
            &where_,
            "add `\"action\": \"<action or permission>\"`",
        );
        let resource = self.string(&fields, "resource", &where_);
        let module = self.string(&fields, "module", &where_);
        let context = match fields.get("context") {
            None => None,
            Some(m) => match &m.value.value {
                Value::Object(_) => {
                    serde_json::from_value::<serde_json::Map<_, _>>(json_value(&m.value)).ok()
                }
                _ => {
                    self.error(
                        self.span(&m.value),
                        format!(
                            "`context` in {where_} must be an object, not {}",
                            self.kind(&m.value)
                        ),
                        "expected `{ … }`",
                        None,
                    );
                    return None;
                }
            },
        };
        Some(Request {
            principal: principal?.text,
            action: action?.text,
            resource: resource.map(|r| r.text),
            module: module.map(|m| m.text),
            context,
        })
    }
}

/// A located node back as a serde_json value (only strings, objects and arrays keep content;
/// `context` is reserved and ignored by the evaluators).
fn json_value(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null | Value::Number => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(json_value).collect()),
        Value::Object(members) => serde_json::Value::Object(
            members
                .iter()
                .map(|m| (m.key.clone(), json_value(&m.value)))
                .collect(),
        ),
    }
}

// ---- the policy's rules, as tests name them and coverage counts them --------------------------

/// Something in a policy that a test can exercise.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `rule`, `table cell`, `transition`, `module grant` or `access mode`, as in explanations.
    pub kind: &'static str,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The item's text with whitespace collapsed; for an access-mode line, the whole line.
    pub source: String,
    /// For a table cell: `CaseType / State / Subject`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(skip)]
    pub span: Span,
    /// For a table cell: case type, state and subject names.
    #[serde(skip)]
    cell_names: Option<[String; 3]>,
}

impl Item {
    /// The item for people: `table cell `Request / Draft / Clerk` `+edit` (file:line:column)`
    /// or `rule `deny owner: approve;` (file:line:column)`.
    pub fn describe(&self) -> String {
        match &self.cell {
            Some(c) => format!(
                "table cell `{c}` `{}` ({}:{}:{})",
                self.source, self.file, self.line, self.column
            ),
            None => format!(
                "{} `{}` ({}:{}:{})",
                self.kind, self.source, self.file, self.line, self.column
            ),
        }
    }

    /// A rule the trace names, as the matching item of `items`.
    fn of(items: &[Item], r: &RuleRef) -> Item {
        items
            .iter()
            .find(|i| i.span == r.span)
            .cloned()
            .unwrap_or_else(|| Item {
                kind: r.kind,
                file: r.file.clone(),
                line: r.line,
                column: r.column,
                source: squash(&r.source),
                cell: None,
                span: r.span,
                cell_names: None,
            })
    }
}

/// Every item of a policy that coverage counts and expectations can name.
fn items(policy: &Policy) -> Vec<Item> {
    let compiled = policy.compiled();
    let p = compiled.ir();
    let src = compiled.sources();
    let mut out: Vec<Item> = Vec::new();
    let mut push = |kind: &'static str, span: Span, source: String, cell: Option<[String; 3]>| {
        if out.iter().any(|i| i.span == span) {
            return;
        }
        let (line, column) = src.line_col(span);
        out.push(Item {
            kind,
            file: src.name(span.file).to_string(),
            line,
            column,
            source,
            cell: cell.as_ref().map(|c| c.join(" / ")),
            span,
            cell_names: cell,
        });
    };
    if let Some(mode) = p.case_kind.and_then(|k| p.kinds[k.idx()].mode.as_ref()) {
        for &span in &mode.arm_spans {
            push("access mode", span, squash(src.lines_of(span)), None);
        }
    }
    for ct in &p.casetypes {
        for g in &ct.module_grants {
            push("module grant", g.span, squash(src.snippet(g.span)), None);
        }
    }
    for rule in &p.rules {
        let text = squash(src.snippet(rule.span));
        match rule.origin {
            RuleOrigin::Statement => push("rule", rule.span, text, None),
            RuleOrigin::Transition { .. } => push("transition", rule.span, text, None),
            RuleOrigin::TableCell { state, subject } => {
                let RuleScope::CaseType(ct) = rule.scope else {
                    continue;
                };
                let ct = &p.casetypes[ct.idx()];
                let names = [
                    ct.name.clone(),
                    ct.states[state.idx()].name.clone(),
                    p.subject_name(subject).to_string(),
                ];
                push("table cell", rule.span, text, Some(names));
            }
        }
    }
    out.sort_by_key(|i| (i.span.file, i.span.start));
    out
}

/// What an expectation resolved to: the spans of the policy items that satisfy it.
struct Resolved {
    /// The item the fragment names, for messages.
    shown: String,
    spans: Vec<Span>,
}

fn resolve_rule(items: &[Item], r: &Located) -> Result<Resolved, Diagnostic> {
    let want = squash(&r.text);
    let decides = |i: &&Item| matches!(i.kind, "rule" | "transition" | "access mode");
    let hits: Vec<&Item> = items
        .iter()
        .filter(decides)
        .filter(|i| i.source.contains(&want))
        .collect();
    match hits.as_slice() {
        [one] => Ok(Resolved {
            shown: one.describe(),
            spans: vec![one.span],
        }),
        [] => {
            let grant = items
                .iter()
                .find(|i| i.kind == "module grant" && i.source.contains(&want));
            let cell = items
                .iter()
                .find(|i| i.kind == "table cell" && i.source == want);
            let help = if let Some(g) = grant {
                format!("this is module grant `{}` ({}:{}), which only lets a request through the module layer; name the rule or table cell that allows instead", g.source, g.file, g.line)
            } else if let Some(c) = cell {
                format!(
                    "`{}` is a table-cell entry; name the cell with `cell`, e.g. `\"cell\": \"{}\"`",
                    want,
                    c.cell_names.as_ref().map(|n| format!("{} / {}", n[1], n[2])).unwrap_or_default()
                )
            } else {
                "`rule` is matched against the text of the policy's rule statements, transitions and access-mode lines (whitespace does not matter); copy part of one, e.g. `deny Manager: edit`".into()
            };
            Err(Diagnostic::new(
                Code::InvalidTest,
                r.span,
                format!("no rule of the policy contains `{want}`"),
            )
            .with_label("matches no rule")
            .with_help(help))
        }
        many => Err(Diagnostic::new(
            Code::InvalidTest,
            r.span,
            format!("`{want}` matches {} rules of the policy", many.len()),
        )
        .with_label("ambiguous")
        .with_help(format!(
            "quote more of the rule so that it names one: {}",
            many.iter()
                .map(|i| format!("`{}` ({}:{})", i.source, i.file, i.line))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn resolve_cell(items: &[Item], c: &Located) -> Result<Resolved, Diagnostic> {
    let parts: Vec<&str> = c.text.split('/').map(str::trim).collect();
    let cells: Vec<&Item> = items.iter().filter(|i| i.kind == "table cell").collect();
    let err = |message: String, help: String| {
        Err(Diagnostic::new(Code::InvalidTest, c.span, message)
            .with_label("no such cell")
            .with_help(help))
    };
    let (casetype, state, subject) = match parts.as_slice() {
        [s, r] if !s.is_empty() && !r.is_empty() => (None, *s, *r),
        [t, s, r] if !t.is_empty() && !s.is_empty() && !r.is_empty() => (Some(*t), *s, *r),
        _ => {
            return err(
                format!("`{}` is not a table cell", c.text),
                "write a cell as `State / Subject`, e.g. `Review / HR`, or `CaseType / State / Subject`".into(),
            )
        }
    };
    if cells.is_empty() {
        return err(
            format!(
                "the policy has no table with entries, so it has no cell `{}`",
                c.text
            ),
            "use `rule` to name a rule statement".into(),
        );
    }
    let names = |i: &Item| i.cell_names.clone().unwrap_or_default();
    let pick = |k: usize, value: &str, label: &str| -> Result<(), Diagnostic> {
        if cells.iter().any(|i| names(i)[k] == value) {
            return Ok(());
        }
        let mut all: Vec<String> = cells.iter().map(|i| names(i)[k].clone()).collect();
        all.sort();
        all.dedup();
        let help = match suggest(value, all.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the tables' {label}s with entries are {}", backticked(&all)),
        };
        Err(Diagnostic::new(
            Code::InvalidTest,
            c.span,
            format!("no table has a {label} `{value}` with entries"),
        )
        .with_label("no such cell")
        .with_help(help))
    };
    if let Some(t) = casetype {
        pick(0, t, "case type")?;
    }
    pick(1, state, "row")?;
    pick(2, subject, "column")?;
    let hits: Vec<&&Item> = cells
        .iter()
        .filter(|i| {
            let n = names(i);
            casetype.is_none_or(|t| n[0] == t) && n[1] == state && n[2] == subject
        })
        .collect();
    let mut types: Vec<String> = hits.iter().map(|i| names(i)[0].clone()).collect();
    types.dedup();
    if hits.is_empty() {
        return err(
            format!("cell `{}` is empty: it allows and denies nothing", c.text),
            "an empty cell never decides; expect the rule that does".into(),
        );
    }
    if types.len() > 1 {
        return Err(Diagnostic::new(
            Code::InvalidTest,
            c.span,
            format!("cell `{}` is in the tables of several case types", c.text),
        )
        .with_label("ambiguous")
        .with_help(format!(
            "name the case type first: {}",
            backticked(
                &types
                    .iter()
                    .map(|t| format!("{t} / {state} / {subject}"))
                    .collect::<Vec<_>>()
            )
        )));
    }
    Ok(Resolved {
        shown: format!("table cell `{state} / {subject}`"),
        spans: hits.iter().map(|i| i.span).collect(),
    })
}

// ---- running --------------------------------------------------------------------------------

/// The results of one test file.
#[derive(Debug, Clone)]
pub struct FileRun {
    pub results: Vec<CaseResult>,
    /// Expectations that name no rule or cell of the policy (`CP0402`); those cases did not run.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileRun {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
}

/// One case, decided.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's index in [`TestFile::cases`].
    pub index: usize,
    /// The compiled evaluator's decision.
    pub decision: Decision,
    /// The reference evaluator's record; `explain` renders it.
    pub trace: Trace,
    /// The rules that decided (see [`deciding_rules`]).
    pub deciding: Vec<Item>,
    /// How each expected rule or cell was shown, in order: rules, then cells.
    pub expected_rules: Vec<String>,
    pub mismatches: Vec<Mismatch>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// `allow`, `deny` or `error`.
    pub fn outcome(&self) -> Outcome {
        if self.trace.error.is_some() {
            Outcome::Error
        } else if self.decision.allowed {
            Outcome::Allow
        } else {
            Outcome::Deny
        }
    }
}

/// One way a case's decision differs from what it expects.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mismatch {
    Outcome {
        expected: Outcome,
        got: Outcome,
    },
    Layer {
        expected: Layer,
        got: Layer,
    },
    Reason {
        expected: Reason,
        got: Reason,
    },
    Error {
        expected: RequestErrorKind,
        got: Option<RequestErrorKind>,
    },
    /// An expected rule or cell did not decide; `expected` is how it was shown.
    Rule {
        expected: String,
    },
    /// The compiled and the reference evaluator disagree: a bug in casepol.
    Engines {
        vm: Decision,
        reference: Decision,
    },
}

impl Mismatch {
    /// One sentence saying what differs.
    pub fn message(&self) -> String {
        match self {
            Mismatch::Outcome { expected, got } => {
                format!("expected {}, got {}", expected.as_str(), got.as_str())
            }
            Mismatch::Layer { expected, got } => format!(
                "expected the {} layer to decide, but the {} layer did",
                json_name(*expected),
                json_name(*got)
            ),
            Mismatch::Reason { expected, got } => format!(
                "expected reason {}, got {}",
                json_name(*expected),
                json_name(*got)
            ),
            Mismatch::Error { expected, got } => match got {
                Some(g) => format!("expected error {}, got {}", json_name(*expected), json_name(*g)),
                None => format!("expected error {}, got a decision", json_name(*expected)),
            },
            Mismatch::Rule { expected } => format!("{expected} did not decide"),
            Mismatch::Engines { vm, reference } => format!(
                "the compiled evaluator decided {} ({}: {}) but the reference evaluator {} ({}: {}); this is a bug in casepol, please report it",
                if vm.allowed { "allow" } else { "deny" },
                json_name(vm.layer),
                json_name(vm.reason),
                if reference.allowed { "allow" } else { "deny" },
                json_name(reference.layer),
                json_name(reference.reason)
            ),
        }
    }
}

/// The rules that decided a request, as the trace records them: for an allow, the data layer's
/// matching allow rules; for an explicit deny, its matching deny rules; for a deny by the
/// access mode, the access-mode line. Other decisions have no deciding rule.
pub fn deciding_rules(trace: &Trace) -> Vec<RuleRef> {
    if trace.error.is_some() {
        return Vec::new();
    }
    let d = trace.decision;
    let mut out = Vec::new();
    for layer in &trace.layers {
        match &layer.detail {
            Detail::Rules { allows, denies } if layer.layer == Layer::Data => {
                if d.allowed {
                    out.extend(allows.iter().cloned());
                } else if d.reason == Reason::ExplicitlyDenied {
                    out.extend(denies.iter().cloned());
                }
            }
            Detail::Mode { rule, .. } if !d.allowed && d.layer == Layer::AccessMode => {
                out.push(rule.clone());
            }
            _ => {}
        }
    }
    out
}

/// Decides every case of a test file with both evaluators and compares with its expectations.
/// A case whose expected rule or cell names nothing in the policy is not run: it is reported
/// in [`FileRun::diagnostics`].
///
/// ```
/// use casepol::diagnostic::Sources;
/// use casepol::testing::{self, Coverage, EntitiesSource};
/// use casepol::Policy;
///
/// let policy = Policy::from_source("p.casepol", "role R; action view; group G { grants R; } resource Note { allow R: view; }")
///     .map_err(|e| e.render())?;
/// let mut sources = Sources::new();
/// let file = sources.add("p.test.json", r#"{"entities": {"users": [{"id": "ann", "groups": ["G"]}], "resources": [{"id": "n1", "kind": "Note"}]},
///   "tests": [{"name": "ann-views", "request": {"principal": "ann", "action": "view", "resource": "n1"}, "expect": "allow", "rule": "allow R"}]}"#);
/// let tests = testing::parse(&sources, file).map_err(|d| format!("{d:?}"))?;
/// let EntitiesSource::Inline(json) = &tests.entities else {
///     return Err("expected inline entities".into());
/// };
/// let entities = policy.load_entities(json).map_err(|e| format!("{e:?}"))?;
/// let run = testing::run(&policy, &entities, &tests);
/// assert_eq!((run.passed(), run.failed()), (1, 0));
/// let mut coverage = Coverage::new(&policy);
/// coverage.record_run(&run);
/// assert_eq!((coverage.covered(), coverage.total()), (1, 1));
/// # Ok::<(), String>(())
/// ```
pub fn run(policy: &Policy, entities: &Entities, tests: &TestFile) -> FileRun {
    let items = items(policy);
    let mut results = Vec::new();
    let mut diagnostics = Vec::new();
    for (index, case) in tests.cases.iter().enumerate() {
        let e = &case.expect;
        let mut wanted = Vec::new();
        let mut bad = false;
        let resolved = e
            .rules
            .iter()
            .map(|r| resolve_rule(&items, r))
            .chain(e.cells.iter().map(|c| resolve_cell(&items, c)));
        for r in resolved {
            match r {
                Ok(r) => wanted.push(r),
                Err(d) => {
                    diagnostics.push(d);
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        let trace = policy.explain(entities, &case.request);
        let decision = match policy.resolve(entities, &case.request) {
            Ok(r) => policy.decide(entities, &r),
            Err(_) => Decision::ERROR,
        };
        let deciding = deciding_rules(&trace)
            .iter()
            .map(|r| Item::of(&items, r))
            .collect();
        let mut result = CaseResult {
            index,
            decision,
            expected_rules: wanted.iter().map(|w| w.shown.clone()).collect(),
            deciding,
            trace,
            mismatches: Vec::new(),
        };
        result.mismatches = compare(e, &result, &wanted);
        results.push(result);
    }
    FileRun {
        results,
        diagnostics,
    }
}

fn compare(e: &Expected, r: &CaseResult, wanted: &[Resolved]) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let reference = r.trace.decision;
    if r.decision != reference {
        out.push(Mismatch::Engines {
            vm: r.decision,
            reference,
        });
    }
    let got = r.outcome();
    if got != e.outcome {
        out.push(Mismatch::Outcome {
            expected: e.outcome,
            got,
        });
    }
    if let Some(kind) = e.error {
        let got = r.trace.error.as_ref().map(|x| x.kind);
        if got != Some(kind) {
            out.push(Mismatch::Error {
                expected: kind,
                got,
            });
        }
    }
    if got == Outcome::Error && e.outcome != Outcome::Error {
        // The layer and reason of an error say nothing more.
        return out;
    }
    if let Some(layer) = e.layer {
        if layer != reference.layer {
            out.push(Mismatch::Layer {
                expected: layer,
                got: reference.layer,
            });
        }
    }
    if let Some(reason) = e.reason {
        if reason != reference.reason {
            out.push(Mismatch::Reason {
                expected: reason,
                got: reference.reason,
            });
        }
    }
    for w in wanted {
        if !r.deciding.iter().any(|d| w.spans.contains(&d.span)) {
            out.push(Mismatch::Rule {
                expected: w.shown.clone(),
            });
        }
    }
    out
}

// ---- coverage -------------------------------------------------------------------------------

/// Which items of one policy the tests exercised.
///
/// An item is exercised when it *matched* in some case's trace: a rule statement, table-cell
/// entry or transition that applied to the resource and listed the action and one of the
/// principal's subjects when the data layer was reached (whether it decided or was overridden);
/// a module-grant line that let a request through the module layer; an access-mode line that
/// was consulted for the case's mode value (whether it admitted or denied).
#[derive(Debug, Clone)]
pub struct Coverage {
    items: Vec<Item>,
    hits: Vec<usize>,
    index: HashMap<Span, usize>,
}

impl Coverage {
    pub fn new(policy: &Policy) -> Coverage {
        let items = items(policy);
        let index = items.iter().enumerate().map(|(i, x)| (x.span, i)).collect();
        Coverage {
            hits: vec![0; items.len()],
            items,
            index,
        }
    }

    /// Counts the items one decision exercised.
    pub fn record(&mut self, trace: &Trace) {
        let mut hit = |r: &RuleRef| {
            if let Some(&i) = self.index.get(&r.span) {
                self.hits[i] += 1;
            }
        };
        for layer in &trace.layers {
            match &layer.detail {
                Detail::Rules { allows, denies } => allows.iter().chain(denies).for_each(&mut hit),
                Detail::Module { grants, .. } => grants.iter().for_each(&mut hit),
                Detail::Mode { rule, .. } => hit(rule),
                Detail::None {} | Detail::Groups { .. } | Detail::Code { .. } => {}
            }
        }
    }

    pub fn record_run(&mut self, run: &FileRun) {
        for r in &run.results {
            self.record(&r.trace);
        }
    }

    pub fn total(&self) -> usize {
        self.items.len()
    }

    pub fn covered(&self) -> usize {
        self.hits.iter().filter(|h| **h > 0).count()
    }

    /// Every item with the number of cases that exercised it, in source order.
    pub fn items(&self) -> impl Iterator<Item = (&Item, usize)> {
        self.items.iter().zip(self.hits.iter().copied())
    }

    /// The items no case exercised, in source order.
    pub fn uncovered(&self) -> impl Iterator<Item = &Item> {
        self.items().filter(|(_, h)| *h == 0).map(|(i, _)| i)
    }
}

/// `covered` of `total` as a percentage with one decimal, rounded down so that 99.96% of a
/// policy never shows as 100.0%; `None` when there is nothing to cover.
pub fn percent(covered: usize, total: usize) -> Option<f64> {
    if total == 0 {
        return None;
    }
    Some((covered as f64 * 1000.0 / total as f64).floor() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails to compile when a layer, reason or request error is added without listing it in
    /// `LAYERS`, `REASONS` or `ERROR_KINDS`.
    #[test]
    fn every_variant_is_listed() {
        let layer = |l: Layer| match l {
            Layer::Request
            | Layer::Permission
            | Layer::Scope
            | Layer::Requirement
            | Layer::AccessMode
            | Layer::Module
            | Layer::Data
            | Layer::ReadCode
            | Layer::WriteCode => 9,
        };
        let reason = |r: Reason| match r {
            Reason::Allowed
            | Reason::Error
            | Reason::PermissionNotHeld
            | Reason::NotInScope
            | Reason::RequirementNotHeld
            | Reason::Restricted
            | Reason::NoModule
            | Reason::NotInModule
            | Reason::NotARecord
            | Reason::ModuleNotGranted
            | Reason::ExplicitlyDenied
            | Reason::NotPermitted
            | Reason::CodeNotHeld => 13,
        };
        let kind = |k: RequestErrorKind| match k {
            RequestErrorKind::UnknownPrincipal
            | RequestErrorKind::UnknownAction
            | RequestErrorKind::UnknownResource
            | RequestErrorKind::UnknownModule
            | RequestErrorKind::PermissionTakesNoResource => 5,
            // A test file cannot produce these: its requests are JSON objects, resolved
            // against entities loaded for its policy.
            RequestErrorKind::InvalidRequest | RequestErrorKind::MismatchedEntities => 0,
        };
        assert!(LAYERS.iter().all(|l| layer(*l) == LAYERS.len()));
        assert!(REASONS.iter().all(|r| reason(*r) == REASONS.len()));
        assert!(ERROR_KINDS.iter().all(|k| kind(*k) == ERROR_KINDS.len()));
        // Every reason belongs to some layer.
        assert!(REASONS
            .iter()
            .all(|r| LAYERS.iter().any(|l| layer_reasons(*l).contains(r))));
    }

    #[test]
    fn percentages_round_down() {
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(2, 3), Some(66.6));
        assert_eq!(percent(9999, 10000), Some(99.9));
        assert_eq!(percent(4, 4), Some(100.0));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn whitespace_does_not_matter_in_rule_text() {
        assert_eq!(squash("deny  Manager:\n   edit;"), "deny Manager: edit;");
    }
}

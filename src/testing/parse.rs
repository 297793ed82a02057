//! Reading a test file: the JSON with positions, checked key by key, into a [`TestFile`], with
//! every mistake reported as a `CP0402` diagnostic at its place in the file.

use super::json::{self, Member, Node, Value};
use super::{
    json_name, EntitiesSource, Expected, Located, Outcome, TestCase, TestFile, ERROR_KINDS,
};
use crate::decision::{Layer, Reason};
use crate::diagnostic::{words, Code, Diagnostic, FileId, Sources, Span};
use crate::json_pos;
use crate::request::Request;
use crate::resolve::RequestErrorKind;
use crate::verify::{ClaimKind, PropertySpec, Word};
use serde::Serialize;
use std::collections::HashMap;

const FILE_KEYS: &[&str] = &["description", "policy", "entities", "tests", "properties"];
const PROPERTY_KEYS: &[&str] = &[
    "name",
    "description",
    "never",
    "only",
    "no_wider_than",
    "actions",
    "in",
    "kinds",
    "modules",
    "mode",
];
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
const REQUEST_KEYS: &[&str] = &[
    "principal",
    "action",
    "resource",
    "module",
    "target",
    "context",
];

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
        // Each key's first member, so that finding repeats is linear in the keys.
        let mut seen: std::collections::HashMap<&str, &Member> =
            std::collections::HashMap::with_capacity(members.len());
        for m in members {
            if let Some(first) = seen.get(m.key.as_str()).copied() {
                let d = Diagnostic::new(
                    Code::InvalidTest,
                    self.key_span(m),
                    format!("key `{}` appears twice in {what}", m.key),
                )
                .with_label("second time")
                .with_secondary(self.key_span(first), "first time")
                .with_help("keep one of the two");
                self.diags.push(d);
                continue;
            }
            seen.insert(&m.key, m);
            if !allowed.contains(&m.key.as_str()) {
                let help = words::did_you_mean(&m.key, allowed.iter().copied())
                    .unwrap_or_else(|| format!("the keys of {what} are {}", words::every(allowed)));
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
                let help = words::did_you_mean(&s.text, names.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("`{key}` is one of {}", words::one_of(&names)));
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
        let properties = match fields.get("properties") {
            None => Some(Vec::new()),
            Some(m) => match &m.value.value {
                Value::Array(items) => Some(self.properties(items)),
                _ => {
                    self.error(
                        self.span(&m.value),
                        format!(
                            "`properties` must be an array of properties, not {}",
                            self.kind(&m.value)
                        ),
                        "expected `[ … ]`",
                        None,
                    );
                    None
                }
            },
        };
        let has_properties = properties.as_ref().is_some_and(|p| !p.is_empty());
        let cases = match fields.get("tests") {
            None if has_properties => Some(Vec::new()),
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
            properties: properties?,
        })
    }

    fn properties(&mut self, items: &[Node]) -> Vec<PropertySpec> {
        let mut out: Vec<PropertySpec> = Vec::new();
        let mut names: HashMap<String, Span> = HashMap::new();
        for (i, node) in items.iter().enumerate() {
            let Some(p) = self.property(node, i + 1) else {
                continue;
            };
            if let Some(first) = names.get(&p.name) {
                let d = Diagnostic::new(
                    Code::InvalidTest,
                    p.span,
                    format!("two properties are named `{}`", p.name),
                )
                .with_label("second")
                .with_secondary(*first, "first")
                .with_help(
                    "give each property its own name, so a counterexample names one property",
                );
                self.diags.push(d);
                continue;
            }
            names.insert(p.name.clone(), p.span);
            out.push(p);
        }
        out
    }

    fn property(&mut self, node: &Node, n: usize) -> Option<PropertySpec> {
        let named = match &node.value {
            Value::Object(members) => members.iter().find_map(|m| match &m.value.value {
                Value::String(s) if m.key == "name" && !s.trim().is_empty() => {
                    Some(format!("property `{s}`"))
                }
                _ => None,
            }),
            _ => None,
        };
        let what = named.unwrap_or_else(|| format!("property #{n}"));
        let fields = self.object(node, &what, PROPERTY_KEYS)?;
        let name = self.required_string(
            &fields,
            "name",
            &what,
            "name the property, e.g. `\"name\": \"no-employee-edits-after-review\"`",
        );
        let description = self.string(&fields, "description", &what).map(|s| s.text);
        let word = |l: Located| Word {
            text: l.text,
            span: l.span,
        };
        let given: Vec<&Member> = ["never", "only", "no_wider_than"]
            .iter()
            .filter_map(|k| fields.get(k))
            .collect();
        let claim = match given.as_slice() {
            [] => {
                self.missing(
                    &fields,
                    "never",
                    &what,
                    "say who may never do it, `\"never\": [\"Employee\"]`, who alone may, `\"only\": [\"HR\", \"Manager\"]`, or which version the policy is no wider than, `\"no_wider_than\": \"old.casepol\"`",
                );
                None
            }
            [m] => Some(match m.key.as_str() {
                "never" => ClaimKind::Never,
                "only" => ClaimKind::Only,
                _ => ClaimKind::NoWiderThan,
            }),
            [_, m, ..] => {
                self.error(
                    self.key_span(m),
                    format!(
                        "{what} makes two claims, `{}` and `{}`",
                        given[0].key, m.key
                    ),
                    "second claim",
                    Some("a property makes one claim: split it into two properties".into()),
                );
                None
            }
        };
        let key = match claim {
            Some(ClaimKind::Only) => "only",
            _ => "never",
        };
        let subjects: Vec<Word> = self
            .strings(&fields, key, &what)
            .into_iter()
            .map(word)
            .collect();
        if matches!(claim, Some(ClaimKind::Never | ClaimKind::Only)) && subjects.is_empty() {
            if let Some(m) = fields.get(key) {
                self.error(
                    self.span(&m.value),
                    format!("`{key}` in {what} names no subject"),
                    "empty",
                    Some("name the roles or relations the claim is about".into()),
                );
            }
        }
        let wider_than = self.string(&fields, "no_wider_than", &what).map(word);
        if claim == Some(ClaimKind::NoWiderThan) {
            for k in ["actions", "in", "kinds", "modules", "mode"] {
                if let Some(m) = fields.get(k) {
                    self.error(
                        self.key_span(m),
                        format!("`{k}` cannot narrow `no_wider_than` in {what}"),
                        "not with `no_wider_than`",
                        Some("`no_wider_than` compares the whole domain of both versions: remove this key".into()),
                    );
                }
            }
        }
        let mut list = |k: &str| -> Vec<Word> {
            self.strings(&fields, k, &what)
                .into_iter()
                .map(word)
                .collect()
        };
        let actions = list("actions");
        let places = list("in");
        let kinds = list("kinds");
        let modules = list("modules");
        let modes = list("mode");
        Some(PropertySpec {
            name: name?.text,
            span: self.span(node),
            description,
            claim: claim?,
            subjects,
            actions,
            places,
            kinds,
            modules,
            modes,
            wider_than,
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
            .map(|_| self.choice(&fields, "layer", &what, &Layer::ALL));
        let reason = fields
            .get("reason")
            .map(|_| self.choice(&fields, "reason", &what, &Reason::ALL));
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
                        "{what} expects `{o}`, but reason `{}` is never {}",
                        r.name(),
                        words::a(o)
                    ),
                    "contradicts `expect`",
                    Some(format!(
                        "the reasons of {o} are {}",
                        words::every(
                            Reason::ALL
                                .iter()
                                .filter(|r| fits(**r))
                                .map(|r| r.name())
                                .collect::<Vec<_>>()
                        )
                    )),
                );
                return;
            }
        }
        if let Some((l, span)) = layer {
            let possible: Vec<&str> = l
                .reasons()
                .iter()
                .filter(|r| fits(**r))
                .map(|r| r.name())
                .collect();
            if possible.is_empty() {
                self.error(
                    span,
                    format!(
                        "{what} expects `{o}`, but layer `{}` never decides {}",
                        l.name(),
                        words::a(o)
                    ),
                    "contradicts `expect`",
                    Some(format!(
                        "the layers that decide {} are {}",
                        words::a(o),
                        words::every(
                            Layer::ALL
                                .iter()
                                .filter(|l| l.reasons().iter().any(|r| fits(*r)))
                                .map(|l| l.name())
                                .collect::<Vec<_>>()
                        )
                    )),
                );
            } else if let Some((r, rspan)) = reason {
                if !l.reasons().contains(&r) {
                    self.error(
                        rspan,
                        format!(
                            "{what}: layer `{}` never decides with reason `{}`",
                            l.name(),
                            r.name()
                        ),
                        "contradicts `layer`",
                        Some(format!(
                            "layer `{}` decides {o} with {}",
                            l.name(),
                            words::one_of(&possible)
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
        let target = self.string(&fields, "target", &where_);
        let context = match fields.get("context") {
            None => None,
            Some(m) => match &m.value.value {
                Value::Object(_) => {
                    serde_json::from_value::<serde_json::Map<_, _>>(json_value(self.text, &m.value))
                        .ok()
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
            target: target.map(|t| t.text),
            context,
        })
    }
}

/// A located node back as a serde_json value, a number read again from the text (a request's
/// `context`, which rule conditions read).
fn json_value(text: &str, node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Number => text
            .get(node.start..node.end)
            .and_then(|n| serde_json::from_str(n).ok())
            .unwrap_or(serde_json::Value::Null),
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|i| json_value(text, i)).collect())
        }
        Value::Object(members) => serde_json::Value::Object(
            members
                .iter()
                .map(|m| (m.key.clone(), json_value(text, &m.value)))
                .collect(),
        ),
    }
}

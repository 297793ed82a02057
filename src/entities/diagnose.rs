//! Diagnosing entity files that the reader refuses, on the error path only.
//!
//! The reader stops at its first error and says little. Once it has failed, the text is
//! checked again, with the reader's own table of the format ([`Section`], [`Field`],
//! [`Shape`]): first that it is JSON at all, then the top level, then each unit, user and
//! resource on its own, so that every failing element is reported, by its id (or its place in
//! the file) and its field, with a line and column.

use super::read::{self, Field, Section, Shape};
use super::report::{list, EntityError};
use crate::diagnostic::words::did_you_mean;
use crate::ir::Policy as Ir;
use crate::json_pos::{self, Kind, Lines, Member};
use crate::limits;
use serde_json::Value;
use std::collections::HashSet;
use std::ops::Range;

/// `e` is not JSON: serde_json's message, placed in `json`, with help for the usual mistakes.
fn syntax_error(json: &str, e: &serde_json::Error) -> EntityError {
    let at = json_pos::error_at(json, e);
    let message = at.message;
    let help = if e.is_eof() {
        "the text ends before the JSON does; close every open string, `[` and `{`".to_string()
    } else {
        match message.as_str() {
            "trailing comma" => "remove the comma after the last element".into(),
            "key must be a string" => "write object keys in double quotes".into(),
            "expected value" => "write a JSON value here: a string in double quotes, a number, `true`, `false`, `null`, an array or an object".into(),
            "expected `,` or `]`" | "expected `,` or `}`" => "separate elements with `,`, and close every `[` and `{` that is opened".into(),
            "expected `:`" => "separate each key from its value with `:`".into(),
            "trailing characters" => "the file holds more than one JSON value; remove everything after the closing `}`".into(),
            m if m.starts_with("control character") => "write line breaks and tabs in strings as `\\n` and `\\t`".into(),
            _ => "the entities file must be valid JSON; see docs/data-formats.md §1".into(),
        }
    };
    EntityError {
        message,
        entity: None,
        position: None,
        field: None,
        help: Some(help),
        line: Some(at.line),
        column: Some(at.column),
        offset: Some(at.offset),
    }
}

/// JSON text already known to be valid, and the line and column of its byte offsets.
struct Scan<'a> {
    json: &'a str,
    lines: Lines<'a>,
}

impl<'a> Scan<'a> {
    fn new(json: &'a str) -> Scan<'a> {
        Scan {
            json,
            lines: Lines::new(json),
        }
    }

    /// The text of a value; empty if the range is not one.
    fn text(&self, range: Range<usize>) -> &'a str {
        self.json.get(range).unwrap_or_default()
    }

    /// The kind of the value starting at `at`.
    fn kind(&self, at: usize) -> Kind {
        json_pos::kind(self.json, at)
    }

    /// Where the `k`-th element of the array at `at` starts, if it has one.
    fn element(&self, at: usize, k: usize) -> Option<usize> {
        json_pos::elements(self.json, at).nth(k).map(|r| r.start)
    }

    fn error(
        &self,
        at: usize,
        name: &Name,
        field: Option<&str>,
        message: String,
        help: String,
    ) -> EntityError {
        let (line, column) = self.lines.line_col(at);
        EntityError {
            message,
            entity: name.entity.clone(),
            position: name.position.clone(),
            field: field.map(str::to_string),
            help: Some(help),
            line: Some(line),
            column: Some(column),
            offset: Some(at),
        }
    }
}

/// How an error names the element it is in.
#[derive(Default)]
struct Name {
    entity: Option<String>,
    position: Option<String>,
}

/// Every structural problem in `json`, given the reader's first error.
#[cold]
#[inline(never)]
pub(super) fn diagnose(p: &Ir, json: &str, first: serde_json::Error) -> Vec<EntityError> {
    if first.is_syntax() || first.is_eof() {
        return vec![syntax_error(json, &first)];
    }
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(json) {
        return vec![syntax_error(json, &e)];
    }
    let sc = Scan::new(json);
    let top = json_pos::ws(json, 0);
    let none = Name::default();
    if sc.kind(top) != Kind::Object {
        let message = format!(
            "the entities file must be a JSON object, found {}",
            sc.kind(top).name()
        );
        let help = "write it as an object of arrays, such as `{\"units\": [], \"users\": [{\"id\": \"anna\"}], \"resources\": []}`; each array is optional".to_string();
        return vec![sc.error(top, &none, None, message, help)];
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for e in json_pos::members(json, top) {
        if !seen.insert(e.key.clone()) {
            let help = format!("merge the two `{}` arrays into one", e.key);
            out.push(sc.error(
                e.key_range.start,
                &none,
                Some(&e.key),
                format!("the top level has `{}` twice", e.key),
                help,
            ));
            continue;
        }
        let Some(section) = Section::ALL.into_iter().find(|s| s.key() == e.key) else {
            let help = did_you_mean(&e.key, Section::ALL.map(Section::key)).unwrap_or_else(|| {
                "the top level has only `units`, `users` and `resources`".to_string()
            });
            out.push(sc.error(
                e.key_range.start,
                &none,
                Some(&e.key),
                format!("unknown top-level field `{}`", e.key),
                help,
            ));
            continue;
        };
        let at = e.value.start;
        if sc.kind(at) != Kind::Array {
            let message = format!(
                "`{}` must be an array of {} objects, found {}",
                e.key,
                section.what(),
                sc.kind(at).name()
            );
            let help = if sc.kind(at) == Kind::Object {
                format!(
                    "put the object in an array, as in `\"{}\": [{{\"id\": \"x1\"}}]`",
                    e.key
                )
            } else {
                format!(
                    "write an array, such as `\"{}\": []` for none, or leave `{}` out",
                    e.key, e.key
                )
            };
            out.push(sc.error(at, &none, Some(&e.key), message, help));
            continue;
        }
        for (i, element) in json_pos::elements(json, at).enumerate() {
            check_element(p, &sc, section, i, element, &mut out);
        }
    }
    if out.is_empty() {
        // Nothing more specific found: report what the reader said, where it said it.
        let at = json_pos::error_offset(json, &first);
        let (line, column) = sc.lines.line_col(at);
        out.push(EntityError {
            message: json_pos::error_message(&first),
            entity: None,
            position: None,
            field: None,
            help: Some("the entities file is one JSON object with optional `units`, `users` and `resources` arrays; see docs/data-formats.md §1".into()),
            line: Some(line),
            column: Some(column),
            offset: Some(at),
        });
    }
    out
}

/// Reports what is wrong with element `i` of a section, if the reader refuses it.
fn check_element(
    p: &Ir,
    sc: &Scan<'_>,
    s: Section,
    i: usize,
    element: Range<usize>,
    out: &mut Vec<EntityError>,
) {
    let at = element.start;
    let text = sc.text(element);
    let Err(typed) = read::element(s, text) else {
        return;
    };
    let before = out.len();
    let place = format!("{} #{}", s.what(), i + 1);
    if sc.kind(at) != Kind::Object {
        let name = Name {
            entity: None,
            position: Some(place),
        };
        let help = if sc.kind(at) == Kind::String {
            format!("write it as an object: `{{\"id\": {text}}}`")
        } else {
            format!(
                "write each {} as an object, such as `{{\"id\": \"x1\"}}`",
                s.what()
            )
        };
        out.push(sc.error(
            at,
            &name,
            None,
            format!(
                "a {} must be a JSON object, found {}",
                s.what(),
                sc.kind(at).name()
            ),
            help,
        ));
        return;
    }
    let entries: Vec<Member> = json_pos::members(sc.json, at).collect();
    let id = entries
        .iter()
        .rev()
        .find(|e| e.key == "id")
        .and_then(|e| json_pos::string(sc.json, e.value.start))
        .map(|(id, _)| id);
    let name = match id.filter(|id| !id.is_empty()) {
        Some(id) => Name {
            entity: Some(id),
            position: None,
        },
        None => Name {
            entity: None,
            position: Some(place),
        },
    };
    // Missing fields first: they are located at the element's start.
    for required in s.required().iter().map(|f| f.key()) {
        if !entries.iter().any(|e| e.key == required) {
            let help = match required {
                "kind" if p.kinds.is_empty() => "the policy declares no resource kinds".to_string(),
                "kind" => format!(
                    "set `kind` to one of {}",
                    list(p.kinds.iter().map(|k| k.name.as_str()))
                ),
                _ => format!(
                    "give the {} an id that no other unit, user or resource has",
                    s.what()
                ),
            };
            out.push(sc.error(
                at,
                &name,
                Some(required),
                format!("missing field `{required}`"),
                help,
            ));
        }
    }
    let mut seen = HashSet::new();
    for e in &entries {
        if !seen.insert(e.key.as_str()) {
            out.push(sc.error(
                e.key_range.start,
                &name,
                Some(&e.key),
                format!("`{}` appears twice", e.key),
                format!("keep one `{}`", e.key),
            ));
            continue;
        }
        let Some(shape) = s.field(&e.key).map(Field::shape) else {
            let keys = || s.fields().iter().map(|f| f.key());
            let help = did_you_mean(&e.key, keys())
                .unwrap_or_else(|| format!("a {} has the fields {}", s.what(), list(keys())));
            out.push(sc.error(
                e.key_range.start,
                &name,
                Some(&e.key),
                format!("unknown field `{}`", e.key),
                help,
            ));
            continue;
        };
        let value_at = e.value.start;
        if matches!(shape, Shape::Object | Shape::Relations) && sc.kind(value_at) == Kind::Object {
            let count = json_pos::members(sc.json, value_at).count();
            if count > limits::MAX_ENTITY_ATTRS {
                let what = match shape {
                    Shape::Object => "attributes",
                    _ => "relations",
                };
                out.push(sc.error(
                    value_at,
                    &name,
                    Some(&e.key),
                    format!(
                        "`{}` has {count} keys, more than the limit of {}",
                        e.key,
                        limits::MAX_ENTITY_ATTRS
                    ),
                    format!("give only the {what} the policy declares"),
                ));
                continue;
            }
            let mut keys = HashSet::new();
            for inner in json_pos::members(sc.json, value_at) {
                if !keys.insert(inner.key.clone()) {
                    out.push(sc.error(
                        inner.key_range.start,
                        &name,
                        Some(&e.key),
                        format!("`{}` has the key `{}` twice", e.key, inner.key),
                        format!("keep one `{}`", inner.key),
                    ));
                }
            }
        }
        let Ok(value) = serde_json::from_str::<Value>(sc.text(e.value.clone())) else {
            continue;
        };
        for problem in check_shape(&e.key, shape, &value) {
            let where_ = match &problem.inside {
                Inside::Value => value_at,
                Inside::Element(k) => sc.element(value_at, *k).unwrap_or(value_at),
                Inside::Key(key, element) => {
                    let entry = json_pos::members(sc.json, value_at)
                        .filter(|x| &x.key == key)
                        .last();
                    match (entry.map(|x| x.value.start), element) {
                        (Some(x), Some(k)) => sc.element(x, *k).unwrap_or(x),
                        (Some(x), None) => x,
                        (None, _) => value_at,
                    }
                }
            };
            out.push(sc.error(
                where_,
                &name,
                Some(&problem.field),
                problem.message,
                problem.help,
            ));
        }
    }
    if out.len() == before {
        // The shape checks missed it: report the reader's own message, placed in the file.
        let offset = at + json_pos::error_offset(text, &typed);
        let (line, column) = sc.lines.line_col(offset);
        out.push(EntityError {
            message: json_pos::error_message(&typed),
            entity: name.entity,
            position: name.position,
            field: None,
            help: Some(format!(
                "see the fields of a {} in docs/data-formats.md §1",
                s.what()
            )),
            line: Some(line),
            column: Some(column),
            offset: Some(offset),
        });
    }
}

/// Where in a field's value a problem is.
enum Inside {
    Value,
    /// The k-th element of an array.
    Element(usize),
    /// The value under a key of an object, or the k-th element of that value.
    Key(String, Option<usize>),
}

struct Problem {
    field: String,
    message: String,
    help: String,
    inside: Inside,
}

fn problem(field: &str, message: String, help: String, inside: Inside) -> Problem {
    Problem {
        field: field.to_string(),
        message,
        help,
        inside,
    }
}

fn check_shape(f: &str, shape: Shape, v: &Value) -> Vec<Problem> {
    let kind = json_kind(v);
    let mut out = Vec::new();
    match (shape, v) {
        (Shape::Str, Value::String(_)) | (Shape::OptStr, Value::String(_) | Value::Null) => {}
        (Shape::Str | Shape::OptStr, _) => {
            let help = match v {
                Value::Number(n) if n.is_i64() || n.is_u64() => {
                    format!("write it in quotes: `\"{n}\"`")
                }
                _ if matches!(shape, Shape::OptStr) => {
                    format!("write `{f}` as a string in double quotes, or leave it out")
                }
                _ => format!("write `{f}` as a string in double quotes"),
            };
            out.push(problem(
                f,
                format!("`{f}` must be a string, found {kind}"),
                help,
                Inside::Value,
            ));
        }
        (Shape::Code, Value::String(_)) => {}
        (Shape::Code, _) => {
            let help = if v.is_null() {
                format!("leave `{f}` out for no access code of its own, or write `\"\"`; `null` is refused so that a missing value cannot open a resource")
            } else {
                format!("write `{f}` as an access-code string in double quotes, such as `\"[A|B] & [C]\"`")
            };
            out.push(problem(
                f,
                format!("`{f}` must be an access-code string, found {kind}"),
                help,
                Inside::Value,
            ));
        }
        (Shape::OptBool, Value::Bool(_) | Value::Null) => {}
        (Shape::OptBool, _) => {
            let help = match v.as_str() {
                Some(s @ ("true" | "false")) => format!("write it without quotes: `{s}`"),
                _ => format!("write `true` or `false`, or leave `{f}` out"),
            };
            out.push(problem(
                f,
                format!("`{f}` must be `true` or `false`, found {kind}"),
                help,
                Inside::Value,
            ));
        }
        (Shape::Strings, Value::Array(items)) => {
            if let Some((k, it)) = items.iter().enumerate().find(|(_, it)| !it.is_string()) {
                let message = format!(
                    "element {} of `{f}` is {}; every element must be a string",
                    k + 1,
                    json_kind(it)
                );
                let help = match it {
                    Value::Number(n) if n.is_i64() || n.is_u64() => {
                        format!("write it in quotes: `\"{n}\"`")
                    }
                    _ => format!("write every element of `{f}` as a string in double quotes"),
                };
                out.push(problem(f, message, help, Inside::Element(k)));
            }
        }
        (Shape::Strings, _) => {
            let help = match v {
                Value::Null => format!("write `[]`, or leave `{f}` out"),
                Value::String(_) => format!("write it as an array: `[{v}]`"),
                _ => format!("write `{f}` as an array of strings, such as `[\"a\", \"b\"]`"),
            };
            out.push(problem(
                f,
                format!("`{f}` must be an array of strings, found {kind}"),
                help,
                Inside::Value,
            ));
        }
        (Shape::Object, Value::Object(_)) => {}
        (Shape::Object, _) => {
            let help = if v.is_null() {
                format!("write `{{}}`, or leave `{f}` out")
            } else {
                format!("write `{f}` as an object of names and values, such as `{{\"title\": \"Fraud report\", \"priority\": 2}}`")
            };
            out.push(problem(
                f,
                format!("`{f}` must be an object, found {kind}"),
                help,
                Inside::Value,
            ));
        }
        (Shape::Relations, Value::Object(map)) => {
            for (rel, users) in map {
                let field = format!("{f}.{rel}");
                match users {
                    Value::Array(items) => {
                        if let Some((k, it)) =
                            items.iter().enumerate().find(|(_, it)| !it.is_string())
                        {
                            let message = format!("element {} of `{field}` is {}; every element must be a user id, as a string", k + 1, json_kind(it));
                            out.push(problem(
                                &field,
                                message,
                                "write every user id in double quotes".into(),
                                Inside::Key(rel.clone(), Some(k)),
                            ));
                        }
                    }
                    _ => {
                        let help = match users {
                            Value::String(_) => format!("write it as an array: `[{users}]`"),
                            _ => "list the user ids in an array, such as `[\"<user id>\"]`".into(),
                        };
                        let message = format!(
                            "`{field}` must be an array of user ids, found {}",
                            json_kind(users)
                        );
                        out.push(problem(
                            &field,
                            message,
                            help,
                            Inside::Key(rel.clone(), None),
                        ));
                    }
                }
            }
        }
        (Shape::Relations, _) => {
            let message = format!(
                "`{f}` must be an object from relation names to arrays of user ids, found {kind}"
            );
            let help = if v.is_null() {
                format!("write `{{}}`, or leave `{f}` out")
            } else {
                "write it as an object such as `{\"<relation>\": [\"<user id>\"]}`".into()
            };
            out.push(problem(f, message, help, Inside::Value));
        }
    }
    out
}

/// "null", "a string", … for a JSON value.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::Array,
        Value::Object(_) => Kind::Object,
    }
    .name()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader and the diagnosis follow one table; this holds the reader's arms to it. For
    /// every field of every section and values of every kind, the reader accepts an element
    /// exactly when the diagnosis finds nothing wrong with the value for the field's shape.
    #[test]
    fn the_reader_reads_each_field_as_its_shape() {
        let values = [
            r#""x""#,
            "null",
            "true",
            "7",
            "-1.5",
            "[]",
            r#"["a", "b"]"#,
            "[1]",
            "{}",
            r#"{"k": 1}"#,
            r#"{"k": ["u"]}"#,
            r#"{"k": "u"}"#,
            r#"{"k": [2]}"#,
        ];
        let (mut accepted, mut refused) = (0, 0);
        for section in Section::ALL {
            for &field in section.fields() {
                for value in values {
                    let mut members: Vec<String> = section
                        .required()
                        .iter()
                        .filter(|&&f| f != field)
                        .map(|f| format!(r#""{}": "r""#, f.key()))
                        .collect();
                    members.push(format!(r#""{}": {value}"#, field.key()));
                    let text = format!("{{{}}}", members.join(", "));
                    let value: Value = serde_json::from_str(value).unwrap();
                    let fine = check_shape(field.key(), field.shape(), &value).is_empty();
                    assert_eq!(read::element(section, &text).is_ok(), fine, "{text}");
                    match fine {
                        true => accepted += 1,
                        false => refused += 1,
                    }
                }
            }
        }
        assert!(accepted > 30 && refused > 150, "{accepted} {refused}");
        // Fields of the table only, each once, the required ones present, in an object.
        for section in Section::ALL {
            let required: Vec<String> = section
                .required()
                .iter()
                .map(|f| format!(r#""{}": "r""#, f.key()))
                .collect();
            let with = |extra: &str| format!("{{{}{extra}}}", required.join(", "));
            assert!(read::element(section, &with("")).is_ok());
            assert!(read::element(section, &with(r#", "colour": 1"#)).is_err());
            assert!(read::element(section, &with(r#", "id": "again""#)).is_err());
            assert!(read::element(section, "{}").is_err());
            assert!(read::element(section, r#"["r", "r"]"#).is_err());
        }
    }
}

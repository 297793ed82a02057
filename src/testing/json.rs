//! JSON with positions: a tree that keeps the byte range of every value and key, so that
//! test-file errors and failing cases point at the exact place in the file.
//!
//! serde_json checks the syntax first (and supplies its error message and position); the tree
//! is then built with `json_pos` over text that is known to be valid JSON.

use crate::json_pos::{self, Kind, Lines, Step, MAX_DEPTH};

/// A JSON value and the byte range it covers in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub start: usize,
    pub end: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

/// One `"key": value` pair of an object, in file order. Duplicate keys are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_start: usize,
    pub key_end: usize,
    pub value: Node,
}

/// Why the text is not JSON: serde_json's message, and where (byte offset, one-based line and
/// column in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// Parses `text` as one JSON value with positions.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(syntax_error(text, &e));
    }
    node(text, json_pos::ws(text, 0), 0).map_err(|offset| {
        // INVARIANT: serde_json accepted the text, so the walk only fails on nesting deeper
        // than serde_json allows, which it would also have refused.
        let (line, column) = Lines::new(text).line_col(offset);
        SyntaxError {
            message: "the JSON nests too deeply".into(),
            offset,
            line,
            column,
        }
    })
}

fn syntax_error(text: &str, e: &serde_json::Error) -> SyntaxError {
    let at = json_pos::error_at(text, e);
    SyntaxError {
        message: at.message,
        offset: at.offset,
        line: at.line,
        column: at.column,
    }
}

/// The value starting at `start`, `depth` containers deep; on failure, where the walk stopped.
fn node(text: &str, start: usize, depth: usize) -> Result<Node, usize> {
    let kind = json_pos::kind(text, start);
    if matches!(kind, Kind::Object | Kind::Array) && depth >= MAX_DEPTH {
        return Err(start);
    }
    let (value, end) = match kind {
        Kind::Object => {
            let mut members = Vec::new();
            let end = each_item(text, start, |key_start| {
                let key = json_pos::key(text, key_start).ok_or(key_start)?;
                let value = node(text, key.value, depth + 1)?;
                let end = value.end;
                members.push(Member {
                    key: key.key,
                    key_start,
                    key_end: key.end,
                    value,
                });
                Ok(end)
            })?;
            (Value::Object(members), end)
        }
        Kind::Array => {
            let mut items = Vec::new();
            let end = each_item(text, start, |at| {
                let item = node(text, at, depth + 1)?;
                let end = item.end;
                items.push(item);
                Ok(end)
            })?;
            (Value::Array(items), end)
        }
        Kind::String => {
            let (s, end) = json_pos::string(text, start).ok_or(start)?;
            (Value::String(s), end)
        }
        Kind::Bool => (
            Value::Bool(text.as_bytes().get(start) == Some(&b't')),
            json_pos::end_of_value(text, start),
        ),
        Kind::Null => (Value::Null, json_pos::end_of_value(text, start)),
        Kind::Number => (Value::Number, json_pos::end_of_value(text, start)),
    };
    if end == start {
        return Err(start);
    }
    Ok(Node { start, end, value })
}

/// Reads each member or element of the object or array at `start` with `item`, which returns
/// where the one it read ends; then returns where the container ends.
fn each_item(
    text: &str,
    start: usize,
    mut item: impl FnMut(usize) -> Result<usize, usize>,
) -> Result<usize, usize> {
    let mut step = json_pos::open(text, start).ok_or(start)?;
    loop {
        match step {
            Step::Item(at) => {
                let end = item(at)?;
                step = json_pos::next(text, end).ok_or(end)?;
            }
            Step::End(end) => return Ok(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_cover_each_value() {
        let text = r#"{"a": [1, "x\"y", true], "b": {"c": null}}"#;
        let node = parse(text).unwrap();
        let Value::Object(members) = &node.value else {
            panic!("not an object")
        };
        assert_eq!((node.start, node.end), (0, text.len()));
        assert_eq!(members[0].key, "a");
        assert_eq!(&text[members[0].key_start..members[0].key_end], r#""a""#);
        let Value::Array(items) = &members[0].value.value else {
            panic!("not an array")
        };
        assert_eq!(&text[items[1].start..items[1].end], r#""x\"y""#);
        assert_eq!(items[1].value, Value::String("x\"y".into()));
        assert_eq!(
            &text[members[1].value.start..members[1].value.end],
            r#"{"c": null}"#
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("{\n  \"a\": ,\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
        assert_eq!(e.message, "expected value");
        // At the end of the text, serde_json points at the last character read.
        let e = parse("[1, 2").unwrap_err();
        assert_eq!(
            (e.offset, e.message.as_str()),
            (4, "EOF while parsing a list")
        );
        let e = parse("{\"é\": x}").unwrap_err();
        assert_eq!((e.line, e.column), (1, 7), "columns count characters");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        assert!(parse(&text).is_err());
    }

    #[test]
    fn the_walk_stops_at_the_depth_limit() {
        // serde_json refuses such text first; the walk itself does not recurse past the limit.
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(node(&deep(MAX_DEPTH), 0, 0).is_ok());
        assert_eq!(node(&deep(MAX_DEPTH + 1), 0, 0), Err(MAX_DEPTH));
        assert_eq!(node(&deep(100_000), 0, 0), Err(MAX_DEPTH));
    }

    #[test]
    fn escapes_and_line_breaks() {
        let text = "{\r\n \"caf\\u00e9\": \"\\ud834\\udd1e\",\r\n \"é\": [{}, []]\r\n}";
        let node = parse(text).unwrap();
        let Value::Object(members) = &node.value else {
            panic!("not an object")
        };
        assert_eq!(members[0].key, "café");
        assert_eq!(members[0].value.value, Value::String("𝄞".into()));
        assert_eq!(&text[members[1].key_start..members[1].key_end], "\"é\"");
        let Value::Array(items) = &members[1].value.value else {
            panic!("not an array")
        };
        assert_eq!(items[0].value, Value::Object(Vec::new()));
        assert_eq!(items[1].value, Value::Array(Vec::new()));
        assert_eq!(&text[items[1].start..items[1].end], "[]");
        let e = parse("[\r\n  1,\r\n  é]").unwrap_err();
        assert_eq!((e.line, e.column), (3, 3));
    }

    #[test]
    fn duplicate_keys_are_kept() {
        let node = parse(r#"{"a": 1, "a": 2}"#).unwrap();
        let Value::Object(members) = node.value else {
            panic!("not an object")
        };
        assert_eq!(members.len(), 2);
    }
}

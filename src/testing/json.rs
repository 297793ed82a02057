//! JSON with positions: a small reader that keeps the byte range of every value and key, so
//! that test-file errors and failing cases point at the exact place in the file.
//!
//! serde_json checks the syntax first (and supplies its error message and position); this
//! reader then walks text that is known to be valid JSON.

/// serde_json refuses deeper nesting; the walk stops there too, so it cannot overflow the stack.
const MAX_DEPTH: usize = 128;

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

impl Value {
    /// The JSON type, as a user would name it in an error message.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Parses `text` as one JSON value with positions.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(syntax_error(text, &e));
    }
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    r.ws();
    let node = r.value(0);
    node.ok_or_else(|| SyntaxError {
        // INVARIANT: serde_json accepted the text, so the walk only fails on nesting deeper
        // than serde_json allows, which it would also have refused.
        message: "the JSON nests too deeply".into(),
        offset: r.pos,
        line: line_col(text, r.pos).0,
        column: line_col(text, r.pos).1,
    })
}

fn syntax_error(text: &str, e: &serde_json::Error) -> SyntaxError {
    let msg = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = msg.strip_suffix(&position).unwrap_or(&msg).to_string();
    // serde_json counts columns in bytes; turn its position into a byte offset, then count
    // characters for the column people see.
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let mut offset = (line_start + e.column().saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let (line, column) = line_col(text, offset);
    SyntaxError {
        message,
        offset,
        line,
        column,
    }
}

/// One-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        let start = self.pos;
        let value = match self.peek()? {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let mut members = Vec::new();
                self.ws();
                if self.eat(b'}').is_none() {
                    loop {
                        self.ws();
                        let key_start = self.pos;
                        let key = self.string()?;
                        let key_end = self.pos;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                        let value = self.value(depth + 1)?;
                        members.push(Member {
                            key,
                            key_start,
                            key_end,
                            value,
                        });
                        self.ws();
                        if self.eat(b',').is_none() {
                            self.eat(b'}')?;
                            break;
                        }
                    }
                }
                Value::Object(members)
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b']').is_none() {
                    loop {
                        self.ws();
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        if self.eat(b',').is_none() {
                            self.eat(b']')?;
                            break;
                        }
                    }
                }
                Value::Array(items)
            }
            b'"' => Value::String(self.string()?),
            b't' => {
                self.pos += 4;
                Value::Bool(true)
            }
            b'f' => {
                self.pos += 5;
                Value::Bool(false)
            }
            b'n' => {
                self.pos += 4;
                Value::Null
            }
            _ => {
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.pos += 1;
                }
                if self.pos == start {
                    return None;
                }
                Value::Number
            }
        };
        Some(Node {
            start,
            end: self.pos,
            value,
        })
    }

    /// A string token, unescaped by serde_json.
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        self.eat(b'"')?;
        loop {
            match self.peek()? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    break;
                }
                _ => self.pos += 1,
            }
        }
        serde_json::from_str(self.text.get(start..self.pos)?).ok()
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
    fn duplicate_keys_are_kept() {
        let node = parse(r#"{"a": 1, "a": 2}"#).unwrap();
        let Value::Object(members) = node.value else {
            panic!("not an object")
        };
        assert_eq!(members.len(), 2);
    }
}

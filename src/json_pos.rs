//! Positions in JSON text: where a value ends, the members of an object and the elements of an
//! array by byte offset, the line and column of an offset, and where in the text serde_json
//! found an error ([`error_at`]). The error paths use it to say where a problem is: the
//! policy-test reader (`testing/json.rs`) builds a tree of positions with it, entity diagnosis
//! (`entities/diagnose.rs`) walks a file of any size with it, without a tree, and entity,
//! request and test-file errors place serde_json's errors with it. [`Lines`] is the one count
//! of a byte offset's line and column in characters outside `diagnostic::Sources` (which
//! indexes whole policy files): `files::utf8_position` places invalid UTF-8 with it too.
//!
//! The walks assume text that serde_json has already accepted; they do not check the syntax.
//! On text that is not JSON their answers are meaningless, but nothing panics: a read past the
//! end sees a 0 byte, and walks stop there.

use std::cell::Cell;
use std::ops::Range;

/// serde_json refuses to nest deeper than this. A recursive walk stops here too, so that no
/// input can overflow its stack. The functions of this module do not recurse.
pub const MAX_DEPTH: usize = 128;

/// The kind of a JSON value, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Bool,
    Null,
    Number,
}

impl Kind {
    /// The kind as a user would name it in an error message: "an object", "a string", ….
    pub fn name(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String => "a string",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
            Kind::Number => "a number",
        }
    }
}

/// The byte at `i`; 0 past the end (JSON holds no raw 0 byte).
fn byte(text: &str, i: usize) -> u8 {
    text.as_bytes().get(i).copied().unwrap_or(0)
}

/// The kind of the value starting at `i`.
pub fn kind(text: &str, i: usize) -> Kind {
    match byte(text, i) {
        b'{' => Kind::Object,
        b'[' => Kind::Array,
        b'"' => Kind::String,
        b't' | b'f' => Kind::Bool,
        b'n' => Kind::Null,
        _ => Kind::Number,
    }
}

/// The first offset at or after `i` that is not whitespace.
pub fn ws(text: &str, mut i: usize) -> usize {
    while matches!(byte(text, i), b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Where the string whose opening quote is at `i` ends, after its closing quote.
fn end_of_string(text: &str, mut i: usize) -> usize {
    i += 1;
    loop {
        match byte(text, i) {
            0 => return i.min(text.len()),
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
}

/// Where the value starting at `i` ends. Containers are skipped by counting brackets, not by
/// recursion, so any depth is fine.
pub fn end_of_value(text: &str, i: usize) -> usize {
    match byte(text, i) {
        b'"' => end_of_string(text, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match byte(text, j) {
                    0 => return j.min(text.len()),
                    b'"' => {
                        j = end_of_string(text, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while !matches!(
                byte(text, j),
                0 | b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'
            ) {
                j += 1;
            }
            j
        }
    }
}

/// The string whose opening quote is at `i`, unescaped, and where it ends.
pub fn string(text: &str, i: usize) -> Option<(String, usize)> {
    if byte(text, i) != b'"' {
        return None;
    }
    let end = end_of_string(text, i);
    let token = text.get(i..end)?;
    // Without its closing quote, the text ended inside the string.
    let raw = token.strip_suffix('"')?.get(1..)?;
    let s = if raw.contains('\\') {
        serde_json::from_str(token).ok()?
    } else {
        raw.to_string()
    };
    Some((s, end))
}

/// What follows the opening bracket of a container, or one of its members or elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A member or element starts here.
    Item(usize),
    /// The container ends here, after its closing bracket.
    End(usize),
}

/// The first member or element of the object or array whose `{` or `[` is at `i`.
pub fn open(text: &str, i: usize) -> Option<Step> {
    if !matches!(byte(text, i), b'{' | b'[') {
        return None;
    }
    let j = ws(text, i + 1);
    match byte(text, j) {
        b'}' | b']' => Some(Step::End(j + 1)),
        0 => None,
        _ => Some(Step::Item(j)),
    }
}

/// The member or element after the one that ends at `i`.
pub fn next(text: &str, i: usize) -> Option<Step> {
    let j = ws(text, i);
    match byte(text, j) {
        b',' => Some(Step::Item(ws(text, j + 1))),
        b'}' | b']' => Some(Step::End(j + 1)),
        _ => None,
    }
}

/// The key of an object member that starts at `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key, unescaped.
    pub key: String,
    /// Where the key ends, after its closing quote.
    pub end: usize,
    /// Where the member's value starts.
    pub value: usize,
}

/// Reads the `"key":` of an object member that starts at `i`.
pub fn key(text: &str, i: usize) -> Option<Key> {
    let (key, end) = string(text, i)?;
    let colon = ws(text, end);
    if byte(text, colon) != b':' {
        return None;
    }
    Some(Key {
        key,
        end,
        value: ws(text, colon + 1),
    })
}

/// One `"key": value` member of an object, by byte offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key, unescaped.
    pub key: String,
    /// The key's range in the text, quotes included.
    pub key_range: Range<usize>,
    /// The value's range in the text.
    pub value: Range<usize>,
}

/// The members of the object whose `{` is at `i`, in file order (a repeated key comes again).
/// Nothing if there is no object at `i`.
pub fn members(text: &str, i: usize) -> Members<'_> {
    Members {
        text,
        at: first_item(text, i, b'{'),
    }
}

/// The ranges of the elements of the array whose `[` is at `i`, in order. Nothing if there is
/// no array at `i`.
pub fn elements(text: &str, i: usize) -> Elements<'_> {
    Elements {
        text,
        at: first_item(text, i, b'['),
    }
}

fn first_item(text: &str, i: usize, bracket: u8) -> Option<usize> {
    match open(text, i) {
        Some(Step::Item(j)) if byte(text, i) == bracket => Some(j),
        _ => None,
    }
}

/// See [`members`].
pub struct Members<'a> {
    text: &'a str,
    at: Option<usize>,
}

impl Iterator for Members<'_> {
    type Item = Member;

    fn next(&mut self) -> Option<Member> {
        let at = self.at.take()?;
        let key = key(self.text, at)?;
        let end = end_of_value(self.text, key.value);
        if let Some(Step::Item(j)) = next(self.text, end) {
            self.at = Some(j);
        }
        Some(Member {
            key: key.key,
            key_range: at..key.end,
            value: key.value..end,
        })
    }
}

/// See [`elements`].
pub struct Elements<'a> {
    text: &'a str,
    at: Option<usize>,
}

impl Iterator for Elements<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let at = self.at.take()?;
        let end = end_of_value(self.text, at);
        if end == at {
            return None;
        }
        if let Some(Step::Item(j)) = next(self.text, end) {
            self.at = Some(j);
        }
        Some(at..end)
    }
}

/// serde_json's error on a text, placed in it: its message without serde_json's own position,
/// the byte offset it points at, and that offset's one-based line and column, the column
/// counted in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAt {
    pub message: String,
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// Where `e`, serde_json's error on reading `text`, is in `text`, and its message.
pub fn error_at(text: &str, e: &serde_json::Error) -> ErrorAt {
    let offset = error_offset(text, e);
    let (line, column) = Lines::new(text).line_col(offset);
    ErrorAt {
        message: error_message(e),
        offset,
        line,
        column,
    }
}

/// The byte offset in `text` that serde_json's error `e` points at. serde_json gives a line and
/// a column that counts bytes, not characters: the bytes of the line up to and including the
/// one it points at, or 0 when it points at the line's start (as at the end of a text that
/// ends with a line break). An offset inside a character counts as that character's start.
pub fn error_offset(text: &str, e: &serde_json::Error) -> usize {
    let line_start = if e.line() <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(e.line() - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    let mut offset = (line_start + e.column().saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// serde_json's message for `e`, without the " at line L column C" it ends with: callers say
/// where, in their own words and with columns in characters.
pub fn error_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// One-based lines and columns (in characters) of byte offsets in one text.
///
/// Each answer is counted on from the one before, forwards or backwards: errors are reported
/// mostly in file order, so a file's positions cost about one pass over it in all, with no
/// index of line starts to hold (an entities file may have tens of millions of lines), and a
/// position late on a long line is not counted again from the line's start.
pub struct Lines<'a> {
    text: &'a str,
    /// The last position asked for: (offset, line, column).
    last: Cell<(usize, usize, usize)>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        Lines {
            text,
            last: Cell::new((0, 1, 1)),
        }
    }

    /// The line and column of byte offset `at`; an offset past the end counts as the end, and
    /// one inside a character as that character's start.
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let text = self.text;
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let (last_at, last_line, last_column) = self.last.get();
        let newlines = |s: &str| s.bytes().filter(|&b| b == b'\n').count();
        let (line, column) = if at >= last_at {
            let between = text.get(last_at..at).unwrap_or_default();
            match between.rfind('\n') {
                None => (last_line, last_column + between.chars().count()),
                Some(nl) => (
                    last_line + newlines(between),
                    between[nl + 1..].chars().count() + 1,
                ),
            }
        } else {
            let between = text.get(at..last_at).unwrap_or_default();
            match newlines(between) {
                0 => (
                    last_line,
                    last_column.saturating_sub(between.chars().count()),
                ),
                n => {
                    let before = text.get(..at).unwrap_or_default();
                    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
                    (
                        last_line.saturating_sub(n),
                        before[line_start..].chars().count() + 1,
                    )
                }
            }
        };
        self.last.set((at, line, column));
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line and column by counting everything before the offset.
    fn scan(text: &str, at: usize) -> (usize, usize) {
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    #[test]
    fn lines_and_columns_in_any_order() {
        let texts = [
            "",
            "\r\n",
            "[1]",
            "{\"a\":\n 1}\n",
            "\n\n\"x\"",
            "[\"äö\",\r\n\"ü€x\"\n\n,\"𝄞\"]",
            "{\r\n  \"é\": [1,\r\n 2]\r\n}\r\n",
            "[\n1\n]",
        ];
        for text in texts {
            let offsets: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            let lines = Lines::new(text);
            // Forwards, backwards, and jumping about.
            let order = offsets
                .iter()
                .chain(offsets.iter().rev())
                .chain(offsets.iter().step_by(3))
                .chain(offsets.iter().rev().step_by(2));
            for &at in order {
                assert_eq!(lines.line_col(at), scan(text, at), "{text:?} at {at}");
            }
        }
    }

    #[test]
    fn offsets_past_the_end_or_inside_a_character() {
        let text = "é\nü";
        let lines = Lines::new(text);
        assert_eq!(lines.line_col(100), (2, 2));
        assert_eq!(lines.line_col(1), (1, 1), "inside `é`: its start");
        assert_eq!(lines.line_col(4), (2, 1), "inside `ü`: its start");
        // Columns count characters, not bytes; a CR is a character of its line.
        let text = "x€\r\nab";
        assert_eq!(Lines::new(text).line_col(4), (1, 3));
        assert_eq!(Lines::new(text).line_col(6), (2, 1));
    }

    /// serde_json counts columns in bytes; the offset and the column people see are counted
    /// here, on text with characters of two, three and four bytes before the error.
    #[test]
    fn serde_errors_are_placed_by_character() {
        let error = |text: &str| {
            let e = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
            error_at(text, &e)
        };
        let text = "{\"é€😀\": x}";
        let at = error(text);
        assert_eq!(at.offset, text.find('x').unwrap());
        assert_eq!((at.line, at.column), (1, 9));
        assert_eq!(at.message, "expected value");
        // On a later line, after a line break, and with a CRLF before it.
        let text = "[\r\n\"é€😀\",\n \"😀\" 1]";
        let at = error(text);
        assert_eq!(&text[at.offset..at.offset + 1], "1");
        assert_eq!((at.line, at.column), (3, 6));
        assert_eq!(at.message, "expected `,` or `]`");
        // At the end of the text: the last character read.
        let at = error("[\"é\"");
        assert_eq!((at.offset, at.line, at.column), (4, 1, 4));
        // A line break ends the text: serde_json says column 0 of the next line.
        let at = error("[1,\n");
        assert_eq!((at.offset, at.line, at.column), (4, 2, 1));
        // A data error, as the typed readers raise, is placed the same way: at the last
        // character read, the `e` of `true`.
        let text = "{\"a\": \"é€😀\", \"b\": true}";
        let e =
            serde_json::from_str::<std::collections::BTreeMap<String, String>>(text).unwrap_err();
        let at = error_at(text, &e);
        assert_eq!(&text[at.offset..], "e}");
        assert_eq!((at.line, at.column), (1, 22));
    }

    #[test]
    fn kinds_and_their_names() {
        let text = r#"[{}, [], "s", true, false, null, -1.5e3]"#;
        let kinds: Vec<&str> = elements(text, 0)
            .map(|r| kind(text, r.start).name())
            .collect();
        assert_eq!(
            kinds,
            [
                "an object",
                "an array",
                "a string",
                "a boolean",
                "a boolean",
                "null",
                "a number"
            ]
        );
    }

    #[test]
    fn ends_of_values() {
        let cases = [
            ("1", "1"),
            ("-0.5E+7 ,", "-0.5E+7"),
            ("true]", "true"),
            ("null}", "null"),
            (r#""a\"b\\" x"#, r#""a\"b\\""#),
            (r#""]}\u005d" x"#, r#""]}\u005d""#),
            (
                r#"{"a": [1, {"b": "}"}], "c": {}} x"#,
                r#"{"a": [1, {"b": "}"}], "c": {}}"#,
            ),
            ("[[[[]]], []] x", "[[[[]]], []]"),
            ("{}", "{}"),
            ("[ ]", "[ ]"),
        ];
        for (text, value) in cases {
            assert_eq!(&text[..end_of_value(text, 0)], value, "{text}");
        }
        // Deeper than any recursion limit: brackets are counted, not recursed into.
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(end_of_value(&deep, 0), deep.len());
    }

    #[test]
    fn strings_are_unescaped() {
        let cases = [
            (r#""plain""#, "plain"),
            (r#""""#, ""),
            (r#""caf\u00e9""#, "café"),
            (r#""café""#, "café"),
            (r#""\ud834\udd1e clef""#, "𝄞 clef"),
            (r#""a\"b\\c\/d\n\t""#, "a\"b\\c/d\n\t"),
        ];
        for (text, want) in cases {
            let with_tail = format!("{text}, 1");
            assert_eq!(
                string(&with_tail, 0),
                Some((want.to_string(), text.len())),
                "{text}"
            );
        }
        assert_eq!(string("1", 0), None, "not a string");
        assert_eq!(string(r#""open"#, 0), None, "no closing quote");
        assert_eq!(string("\"", 0), None);
    }

    #[test]
    fn members_with_their_positions() {
        let text = "{\r\n  \"caf\\u00e9\" : [1, 2],\r\n  \"ü\": {\"x\": \"}\"},\n \"a\":\"é\", \"a\": null\n}";
        let got: Vec<(String, &str, &str)> = members(text, 0)
            .map(|m| (m.key, &text[m.key_range], &text[m.value]))
            .collect();
        assert_eq!(
            got,
            [
                ("café".to_string(), "\"caf\\u00e9\"", "[1, 2]"),
                ("ü".to_string(), "\"ü\"", "{\"x\": \"}\"}"),
                ("a".to_string(), "\"a\"", "\"é\""),
                ("a".to_string(), "\"a\"", "null"),
            ]
        );
        let lines = Lines::new(text);
        let m: Vec<Member> = members(text, 0).collect();
        assert_eq!(lines.line_col(m[0].key_range.start), (2, 3));
        assert_eq!(lines.line_col(m[0].value.start), (2, 17));
        assert_eq!(lines.line_col(m[1].value.start), (3, 8));
        assert_eq!(lines.line_col(m[3].value.start), (4, 16));
        assert_eq!(lines.line_col(m[2].value.start), (4, 6));
    }

    #[test]
    fn elements_with_their_positions() {
        let text = r#"[ [], {}, [[1], {"a": []}], "x,]", -2 ]"#;
        let got: Vec<&str> = elements(text, 0).map(|r| &text[r]).collect();
        assert_eq!(got, ["[]", "{}", r#"[[1], {"a": []}]"#, r#""x,]""#, "-2"]);
        let nested = elements(text, 0).nth(2).map(|r| r.start).unwrap();
        let inner: Vec<&str> = elements(text, nested).map(|r| &text[r]).collect();
        assert_eq!(inner, ["[1]", r#"{"a": []}"#]);
    }

    #[test]
    fn empty_containers_and_wrong_kinds() {
        for text in ["{}", "{ \r\n }", "[]", "[\n]"] {
            assert_eq!(members(text, 0).count(), 0, "{text}");
            assert_eq!(elements(text, 0).count(), 0, "{text}");
            assert_eq!(open(text, 0), Some(Step::End(text.len())), "{text}");
        }
        // Asking for the members of an array, or the elements of an object, finds none.
        assert_eq!(members("[1]", 0).count(), 0);
        assert_eq!(elements(r#"{"a": 1}"#, 0).count(), 0);
        assert_eq!(open("1", 0), None);
    }

    #[test]
    fn steps_through_a_container() {
        let text = r#"{"a": 1 , "b" : [] }"#;
        let Some(Step::Item(a)) = open(text, 0) else {
            panic!("no first member")
        };
        let k = key(text, a).unwrap();
        assert_eq!((k.key.as_str(), &text[a..k.end]), ("a", r#""a""#));
        let Some(Step::Item(b)) = next(text, end_of_value(text, k.value)) else {
            panic!("no second member")
        };
        let k = key(text, b).unwrap();
        assert_eq!(&text[k.value..], "[] }");
        assert_eq!(
            next(text, end_of_value(text, k.value)),
            Some(Step::End(text.len()))
        );
        assert_eq!(key(text, 6), None, "a key must be a string followed by `:`");
    }

    #[test]
    fn text_that_is_not_json_does_not_panic() {
        let texts = [
            "", "{", "[", "\"", "\"\\", "{\"a\"", "{\"a\":", "[1,", "[1 2]", "}", "]]", "{,}",
            "[\"é", "\u{0}", "é",
        ];
        for text in texts {
            for i in 0..=text.len() + 2 {
                let _ = kind(text, i);
                let _ = ws(text, i);
                let _ = end_of_value(text, i);
                let _ = string(text, i);
                let _ = open(text, i);
                let _ = next(text, i);
                let _ = key(text, i);
                let _ = members(text, i).count();
                let _ = elements(text, i).count();
                let _ = Lines::new(text).line_col(i);
            }
        }
    }
}

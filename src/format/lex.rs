//! The formatter's tokens: the words, literals and punctuation of a `.casepol` file, and its
//! comments, each with the number of line breaks before it.
//!
//! The grammar drops comments and whitespace, so the formatter reads the text itself. It runs
//! only on text the grammar has accepted, which is why it can be this small: a word is any run
//! of identifier characters (keywords and names alike), and a string runs to its closing quote.

/// What a token is. Words are identifiers and keywords alike: the formatter does not need to
/// tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Word,
    Number,
    /// A string literal, quotes and escapes included, exactly as written.
    Str,
    Punct,
    /// A `//` comment, without the trailing whitespace of its line.
    Comment,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Tok<'a> {
    pub kind: Kind,
    pub text: &'a str,
    /// Line breaks between the previous token (or the start of the text) and this one.
    pub newlines: usize,
}

impl Tok<'_> {
    pub fn is(&self, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text == punct
    }

    /// Whether this token can be an element of a comma-separated list: a name, a literal or `*`.
    pub fn is_item(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Number | Kind::Str) || self.is("*")
    }

    /// The width of the token on a line, in characters.
    pub fn width(&self) -> usize {
        self.text.chars().count()
    }
}

/// The characters the grammar treats as whitespace (`WHITESPACE` in `grammar/casepol.pest`).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{FEFF}') || is_line_break(c)
}

/// The characters that end a line, and so a comment (`COMMENT` in the grammar). Text holding
/// any but `\n` and `\r` has errors (CP0002) and is never formatted, but the lexer reads them
/// as the grammar does.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `text` into tokens. Fails with the byte offset of the first character that starts no
/// token; text the grammar accepted has none.
pub(super) fn lex(text: &str) -> Result<Vec<Tok<'_>>, usize> {
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut newlines = 0;
    while i < text.len() {
        let rest = &text[i..];
        // INVARIANT: `i` is always on a character boundary: every branch advances over whole
        // characters (ASCII bytes, or the full width of a whitespace or comment character).
        let Some(c) = rest.chars().next() else { break };
        if is_space(c) {
            // `\r\n` is one line break, counted at its `\n`.
            let crlf = c == '\r' && bytes.get(i + 1) == Some(&b'\n');
            newlines += usize::from(is_line_break(c) && !crlf);
            i += c.len_utf8();
            continue;
        }
        let (kind, len) = if rest.starts_with("//") {
            let end = rest.find(is_line_break).unwrap_or(rest.len());
            (Kind::Comment, end)
        } else if c == '"' {
            (Kind::Str, string_len(rest).ok_or(i)?)
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len = bytes[i..].iter().take_while(|&&b| is_word_char(b)).count();
            (Kind::Word, len)
        } else if c.is_ascii_digit()
            || (c == '-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let len = 1 + bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            (Kind::Number, len)
        } else if ["==", "!=", "->", "<=", ">="]
            .iter()
            .any(|p| rest.starts_with(p))
        {
            (Kind::Punct, 2)
        } else if ";,:={}[]<>|.+-*".contains(c) {
            (Kind::Punct, 1)
        } else {
            return Err(i);
        };
        let mut token = &text[i..i + len];
        if kind == Kind::Comment {
            token = token.trim_end();
        }
        toks.push(Tok {
            kind,
            text: token,
            newlines,
        });
        newlines = 0;
        i += len;
    }
    Ok(toks)
}

/// The length of the string literal at the start of `text`, closing quote included; `None` if it
/// is not closed on its line.
fn string_len(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            c if is_line_break(c) => return None,
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i + 1),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str, usize)> {
        lex(text)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text, t.newlines))
            .collect()
    }

    #[test]
    fn a_comment_marker_inside_a_string_is_text() {
        use Kind::*;
        assert_eq!(
            kinds("t == \"a // b \\\" // c\"; // real  \r\n"),
            vec![
                (Word, "t", 0),
                (Punct, "==", 0),
                (Str, "\"a // b \\\" // c\"", 0),
                (Punct, ";", 0),
                (Comment, "// real", 0),
            ]
        );
    }

    #[test]
    fn signs_arrows_and_negative_numbers() {
        use Kind::*;
        assert_eq!(
            kinds("-access +* A -> B\n\n x == -3"),
            vec![
                (Punct, "-", 0),
                (Word, "access", 0),
                (Punct, "+", 0),
                (Punct, "*", 0),
                (Word, "A", 0),
                (Punct, "->", 0),
                (Word, "B", 0),
                (Word, "x", 2),
                (Punct, "==", 0),
                (Number, "-3", 0),
            ]
        );
    }

    #[test]
    fn every_line_break_ends_a_comment() {
        // As in the grammar: a lone `\r` ends a comment, so `role X;` is code, on a new line.
        use Kind::*;
        assert_eq!(
            kinds("// a\rrole X;\r\n// b\u{2028}role Y;"),
            vec![
                (Comment, "// a", 0),
                (Word, "role", 1),
                (Word, "X", 0),
                (Punct, ";", 0),
                (Comment, "// b", 1),
                (Word, "role", 1),
                (Word, "Y", 0),
                (Punct, ";", 0),
            ]
        );
    }

    #[test]
    fn unknown_characters_are_reported() {
        assert_eq!(lex("role A; ?").unwrap_err(), 8);
        assert_eq!(lex("x == \"open").unwrap_err(), 5);
    }
}

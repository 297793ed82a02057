//! Characters that make a policy read differently from how it parses (CP0002): direction
//! controls, line breaks only some editors honour, control characters, and characters with no
//! width.
//!
//! An editor or a terminal shows text reordered around a right-to-left override, starts a new
//! line at U+2028, and acts on an escape sequence, none of which the parser sees. Such text can
//! hide a rule inside a comment or show one that is not there ("Trojan Source"), so each such
//! character is an error wherever it is: in a name, between tokens, in a comment or in a string.
//! A zero-width space changes nothing in a comment, but makes a value differ from the one it
//! looks like, so it is an error outside comments.

use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use crate::limits::MAX_SYNTAX_ERRORS;

/// What sort of misleading character a character is, if it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    /// A bidirectional embedding, override or isolate (U+202A–U+202E, U+2066–U+2069), or mark
    /// (U+200E, U+200F, U+061C).
    Direction,
    /// A character with no width: soft hyphen, zero-width space, joiners, word joiner,
    /// invisible operators, U+FEFF. Harmless in a comment, but in a string it makes two values
    /// that look alike differ (`"HR"` and `"H\u{200B}R"`), so it is refused outside comments.
    Invisible,
    /// A line break some editors honour and others do not: vertical tab, form feed, U+0085,
    /// U+2028, U+2029. Line feed and carriage return are ordinary line breaks.
    LineBreak,
    /// Any other control character (C0 but tab, line feed and carriage return; DEL; C1).
    Control,
}

fn sort(c: char) -> Option<Sort> {
    match c {
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => Some(Sort::Direction),
        '\u{200E}' | '\u{200F}' | '\u{061C}' => Some(Sort::Direction),
        '\u{AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' => {
            Some(Sort::Invisible)
        }
        '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => Some(Sort::LineBreak),
        '\t' | '\n' | '\r' => None,
        c if c.is_control() => Some(Sort::Control),
        _ => None,
    }
}

/// Whether `c` ends a line for the grammar: a comment stops before it, a string cannot hold it.
pub(super) fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r') || sort(c) == Some(Sort::LineBreak)
}

/// The Unicode name of a misleading character, in lowercase, where it helps to know it.
fn name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{00}' => "null",
        '\u{08}' => "backspace",
        '\u{0B}' => "vertical tab",
        '\u{0C}' => "form feed",
        '\u{1B}' => "escape",
        '\u{7F}' => "delete",
        '\u{85}' => "next line",
        '\u{2028}' => "line separator",
        '\u{2029}' => "paragraph separator",
        '\u{202A}' => "left-to-right embedding",
        '\u{202B}' => "right-to-left embedding",
        '\u{202C}' => "pop directional formatting",
        '\u{202D}' => "left-to-right override",
        '\u{202E}' => "right-to-left override",
        '\u{2066}' => "left-to-right isolate",
        '\u{2067}' => "right-to-left isolate",
        '\u{2068}' => "first strong isolate",
        '\u{2069}' => "pop directional isolate",
        '\u{200E}' => "left-to-right mark",
        '\u{200F}' => "right-to-left mark",
        '\u{061C}' => "arabic letter mark",
        '\u{AD}' => "soft hyphen",
        '\u{180E}' => "mongolian vowel separator",
        '\u{200B}' => "zero width space",
        '\u{200C}' => "zero width non-joiner",
        '\u{200D}' => "zero width joiner",
        '\u{2060}' => "word joiner",
        '\u{FEFF}' => "zero width no-break space",
        _ => return None,
    })
}

/// A character as a user can read it in a message: `U+202E` (right-to-left override) for a
/// misleading or invisible one, the character itself in backticks otherwise.
pub(super) fn describe(c: char) -> String {
    let invisible = sort(c).is_some() || (c.is_whitespace() && c != ' ');
    if !invisible {
        return format!("`{c}`");
    }
    match name(c) {
        Some(n) => format!("`U+{:04X}` ({n})", c as u32),
        None => format!("`U+{:04X}`", c as u32),
    }
}

/// Where the scanner is: what a character there belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Code,
    Comment,
    Str,
}

/// Every misleading character of `text` as a CP0002 diagnostic (at most
/// [`MAX_SYNTAX_ERRORS`], then one saying that more were left out), and the byte offset of each
/// one reported.
pub(super) fn scan(file: FileId, text: &str) -> (Vec<Diagnostic>, Vec<usize>) {
    // Printable ASCII, tabs and line feeds and carriage returns hold no misleading character
    // (`sort` gives none of them a sort): one pass over the bytes settles most files, and the
    // scan by character below runs only for the others.
    if text
        .bytes()
        .all(|b| matches!(b, b' '..=b'~' | b'\t' | b'\n' | b'\r'))
    {
        return (Vec::new(), Vec::new());
    }
    let mut diags = Vec::new();
    let mut at = Vec::new();
    let mut place = Place::Code;
    // The previous character was a backslash in a string: this one is escaped.
    let mut escaped = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        // Where `c` is, before it changes the place.
        let here = place;
        let was_escaped = std::mem::take(&mut escaped);
        match (place, c) {
            // A line break ends a comment and a string, escaped or not.
            (_, c) if is_line_break(c) => place = Place::Code,
            (Place::Code, '/') if chars.peek().is_some_and(|&(_, n)| n == '/') => {
                place = Place::Comment;
            }
            (Place::Code, '"') => place = Place::Str,
            (Place::Str, _) if was_escaped => {}
            (Place::Str, '\\') => escaped = true,
            (Place::Str, '"') => place = Place::Code,
            _ => {}
        }
        let Some(sort) = sort(c) else { continue };
        // A zero-width character misleads only where it is part of a value or a name; U+FEFF is
        // also the byte-order mark, which the grammar skips as whitespace between tokens.
        if sort == Sort::Invisible
            && (here == Place::Comment || here == Place::Code && c == '\u{FEFF}')
        {
            continue;
        }
        if diags.len() == MAX_SYNTAX_ERRORS {
            let span = Span::new(file, i, i + c.len_utf8());
            diags.push(
                Diagnostic::new(
                    Code::MisleadingCharacter,
                    span,
                    format!("too many misleading characters; stopped after {MAX_SYNTAX_ERRORS}"),
                )
                .with_label("and more from here")
                .with_help("remove the characters above and check again"),
            );
            break;
        }
        at.push(i);
        diags.push(diagnostic(file, i, c, sort, here));
    }
    (diags, at)
}

#[cold]
fn diagnostic(file: FileId, i: usize, c: char, sort: Sort, place: Place) -> Diagnostic {
    let span = Span::new(file, i, i + c.len_utf8());
    let what = describe(c);
    let within = match place {
        Place::Code => "",
        Place::Comment => " in a comment",
        Place::Str => " in a string",
    };
    let (message, label, help) = match sort {
        Sort::Direction => (
            format!("invisible direction control {what}{within}"),
            "editors show the text around this character reordered",
            "delete the character: an editor can show this line in another order than casepol reads it, so what a reviewer sees is not what runs",
        ),
        Sort::Invisible => (
            format!("invisible character {what}{within}"),
            "this character has no width, so the text looks the same without it",
            "delete the character: a value or name that holds it differs from the one it looks like",
        ),
        Sort::LineBreak => (
            format!("line break {what}{within}, which only some editors show as one"),
            "some editors start a new line here, others do not",
            "end the line with a line feed instead: casepol ends a comment at this character, but refuses it so that every editor shows the same lines",
        ),
        Sort::Control => (
            format!("control character {what}{within}"),
            "invisible in an editor, and a terminal may act on it",
            "delete the character; in a string, write a tab as `\\t` and a line break as `\\n`",
        ),
    };
    Diagnostic::new(Code::MisleadingCharacter, span, message)
        .with_label(label)
        .with_help(help)
}

#[cfg(test)]
mod tests {
    /// The fast path of `scan` takes exactly the ASCII characters that `sort` gives no sort.
    #[test]
    fn the_ascii_fast_path_is_sort() {
        for b in 0u8..0x80 {
            let fast = matches!(b, b' '..=b'~' | b'\t' | b'\n' | b'\r');
            assert_eq!(fast, super::sort(b as char).is_none(), "byte {b:#04x}");
        }
    }

    use super::*;

    fn found(text: &str) -> Vec<(usize, String)> {
        let (diags, at) = scan(FileId(0), text);
        assert_eq!(diags.len(), at.len());
        at.into_iter()
            .zip(diags)
            .map(|(i, d)| (i, d.message))
            .collect()
    }

    #[test]
    fn the_place_of_each_character_is_named() {
        assert_eq!(
            found("a\u{202E} // \u{202E}\n\"\u{202E}\" \"\\\"\u{1b}\""),
            vec![
                (
                    1,
                    "invisible direction control `U+202E` (right-to-left override)".into()
                ),
                (
                    8,
                    "invisible direction control `U+202E` (right-to-left override) in a comment"
                        .into()
                ),
                (
                    13,
                    "invisible direction control `U+202E` (right-to-left override) in a string"
                        .into()
                ),
                (21, "control character `U+001B` (escape) in a string".into()),
            ]
        );
    }

    #[test]
    fn every_line_break_ends_a_comment_and_a_string() {
        let text = "// a\u{2028}\u{1}\n\"b\u{85}\u{7f}";
        let messages: Vec<String> = found(text).into_iter().map(|(_, m)| m).collect();
        assert_eq!(
            messages,
            vec![
                "line break `U+2028` (line separator) in a comment, which only some editors show as one",
                "control character `U+0001`",
                "line break `U+0085` (next line) in a string, which only some editors show as one",
                "control character `U+007F` (delete)",
            ]
        );
        assert!(found("// a\tb\r\n\"\t\"\r").is_empty());
    }

    #[test]
    fn zero_width_characters_are_errors_outside_comments() {
        let messages: Vec<String> =
            found("\u{FEFF}role A; // \u{200B}\nx == \"H\u{200B}R\"; A\u{200D}B\u{FEFF}")
                .into_iter()
                .map(|(_, m)| m)
                .collect();
        assert_eq!(
            messages,
            vec![
                "invisible character `U+200B` (zero width space) in a string",
                "invisible character `U+200D` (zero width joiner)",
            ]
        );
    }

    #[test]
    fn the_count_is_bounded() {
        let text = "\u{1}".repeat(MAX_SYNTAX_ERRORS * 3);
        let (diags, at) = scan(FileId(0), &text);
        assert_eq!(at.len(), MAX_SYNTAX_ERRORS);
        assert_eq!(diags.len(), MAX_SYNTAX_ERRORS + 1);
        assert!(diags[MAX_SYNTAX_ERRORS].message.starts_with("too many"));
    }
}

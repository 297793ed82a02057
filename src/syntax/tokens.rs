//! A count of a file's tokens, taken before pest parses it, so that a file with too many is
//! refused before the parser builds a pair for each of them.
//!
//! pest keeps every pair of a parse in one queue, about 160 bytes a token for casepol's grammar:
//! a 16 MiB file of one-character tokens (`+a +a +a …` in a table cell) once asked for 1.8 GB.
//! The file-size limit alone does not bound that, the token limit does. The count is a plain
//! scan, linear in the text: a word (letters, digits and `_`), a number, a string literal
//! (however long) and each other character outside whitespace and comments count one token each.

use super::hidden::is_line_break;

/// The byte offset where token number `limit + 1` starts, or `None` if the text has at most
/// `limit` tokens.
pub(super) fn past_limit(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut count = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                // A comment runs to the next line break of any kind.
                i = text[i..]
                    .char_indices()
                    .find(|&(_, c)| is_line_break(c))
                    .map_or(bytes.len(), |(at, _)| i + at);
                continue;
            }
            b'"' => {
                // A string runs to the closing quote, over escapes, or to a line break.
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' => i += 2,
                        b'\n' | b'\r' => break,
                        _ => i += 1,
                    }
                }
            }
            b if b.is_ascii_alphanumeric() || b == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            _ => {
                // One character, of however many bytes.
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
        count += 1;
        if count > limit {
            return Some(start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::past_limit;

    #[test]
    fn tokens_are_words_strings_and_marks_outside_comments() {
        let text = "allow HR: view; // a comment: with; marks\ntable { | R\n S | +a }";
        // allow HR : view ; table { | R S | + a } = 14 tokens.
        assert_eq!(past_limit(text, 14), None);
        assert_eq!(past_limit(text, 13), Some(text.rfind('}').unwrap_or(0)));
        // A string is one token however long, escapes and all: x = = "…" ; are five.
        assert_eq!(past_limit(r#"x == "a \" b; c";"#, 5), None);
        assert_eq!(past_limit(r#"x == "a \" b; c";"#, 4), Some(16));
        // A comment ends at a lone carriage return, as in the grammar.
        assert_eq!(past_limit("// c\rdeny", 0), Some(5));
        // Multi-byte characters are one token each.
        assert_eq!(past_limit("é€", 1), Some(2));
        assert_eq!(past_limit("", 0), None);
    }
}

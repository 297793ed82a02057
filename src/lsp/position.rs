//! Byte offsets to LSP positions and back: a line and a column counted in UTF-16 code units,
//! which is what the protocol speaks by default, whatever the text holds.
//!
//! Lines end as the protocol says: at `\n`, `\r\n` or `\r`. A position past the end of its
//! line is clamped to the line's end, and one past the last line to the end of the text, as the
//! protocol asks; an offset inside a character counts from the character's start.

use lsp_types::{Position, Range};

/// The starts of a text's lines.
#[derive(Debug, Clone)]
pub(crate) struct Lines {
    starts: Vec<u32>,
}

impl Lines {
    pub(crate) fn new(text: &str) -> Lines {
        let bytes = text.as_bytes();
        let mut starts = vec![0u32];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    starts.push((i + 2) as u32);
                    i += 2;
                }
                b'\r' | b'\n' => {
                    starts.push((i + 1) as u32);
                    i += 1;
                }
                _ => i += 1,
            }
        }
        Lines { starts }
    }

    /// The byte range of line `line` without its line break, if there is such a line.
    fn line(&self, text: &str, line: usize) -> Option<(usize, usize)> {
        let start = *self.starts.get(line)? as usize;
        let mut end = self
            .starts
            .get(line + 1)
            .map_or(text.len(), |&s| s as usize);
        let bytes = text.as_bytes();
        while end > start && matches!(bytes.get(end - 1), Some(b'\n' | b'\r')) {
            end -= 1;
        }
        Some((start, end))
    }

    /// The position of byte `offset` of `text`.
    pub(crate) fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s as usize <= offset) - 1;
        let start = self.starts[line] as usize;
        let character = text[start..offset].encode_utf16().count();
        Position {
            line: line as u32,
            character: character as u32,
        }
    }

    pub(crate) fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range {
            start: self.position(text, start),
            end: self.position(text, end),
        }
    }

    /// The byte offset of `pos` in `text`, clamped to its line and to the text.
    pub(crate) fn offset(&self, text: &str, pos: Position) -> usize {
        let Some((start, end)) = self.line(text, pos.line as usize) else {
            return text.len();
        };
        let mut units = 0u32;
        for (i, c) in text[start..end].char_indices() {
            if units >= pos.character {
                return start + i;
            }
            units += c.len_utf16() as u32;
        }
        end
    }
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    #[test]
    fn counts_utf16_units() {
        // `é` is one unit and two bytes; `😀` two units and four bytes.
        let text = "a\n\"é😀\" x\r\ny\rz";
        let lines = Lines::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(lines.position(text, x), pos(1, 6));
        assert_eq!(lines.offset(text, pos(1, 6)), x);
        let y = text.find('y').unwrap();
        assert_eq!(lines.position(text, y), pos(2, 0));
        let z = text.find('z').unwrap();
        assert_eq!(lines.position(text, z), pos(3, 0));
        // Past the end of a line: the line's end, not the next line.
        assert_eq!(lines.offset(text, pos(1, 99)), x + 1);
        // Past the last line: the end of the text.
        assert_eq!(lines.offset(text, pos(9, 0)), text.len());
        // Inside a surrogate pair: the character's end, never a byte inside it.
        let emoji = text.find('😀').unwrap();
        assert_eq!(lines.offset(text, pos(1, 3)), emoji + 4);
        // An offset inside a character counts from its start.
        assert_eq!(lines.position(text, emoji + 1), pos(1, 2));
    }

    #[test]
    fn every_offset_round_trips() {
        let text = "é😀\r\n\u{2028}ab\rc\n";
        let lines = Lines::new(text);
        for (i, _) in text.char_indices() {
            // Between `\r` and `\n` is no place a position can name.
            if text[..i].ends_with('\r') && text[i..].starts_with('\n') {
                continue;
            }
            let p = lines.position(text, i);
            assert_eq!(lines.offset(text, p), i, "offset {i} at {p:?}");
        }
    }
}

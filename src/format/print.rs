//! The canonical layout: the layout tree printed as text (docs/formatting.md describes it).

use super::lex::{Kind, Tok};
use super::tree::{Block, Body, Entry, Line, Member, Node, Piece};
use crate::limits::MAX_ALIGN_CHARS;

/// Lines are filled up to this many characters; longer lists wrap.
pub(super) const WIDTH: usize = 100;
/// Spaces per block level.
const INDENT: usize = 2;
/// Extra indentation of a statement's continuation line that is not under its list.
const CONTINUATION: usize = 4;
/// A list that starts further right than this continues at the continuation indent instead of
/// under its first element, so that a late list does not become a narrow column.
const MAX_HANG: usize = WIDTH / 2;
/// Between code and a comment at the end of its line.
const BEFORE_COMMENT: &str = "  ";

/// Prints a file's tree in the canonical layout, with `\n` line endings.
pub(super) fn print(file: &Block<Member>) -> String {
    let mut p = Printer {
        out: String::new(),
        col: 0,
    };
    p.entries(&file.entries, 0, Printer::member);
    p.out
}

struct Printer {
    out: String,
    /// The column the next character goes to, in characters.
    col: usize,
}

impl Printer {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.col += s.chars().count();
    }

    fn newline(&mut self) {
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.col = 0;
    }

    fn indent(&mut self, n: usize) {
        self.write(&" ".repeat(n));
    }

    fn trailing(&mut self, comment: Option<&str>) {
        if let Some(c) = comment {
            self.write(BEFORE_COMMENT);
            self.write(c);
        }
    }

    /// The entries of a block, one or more lines each, with at most one blank line between two
    /// entries where the author had any, and none before the first.
    fn entries<T>(&mut self, entries: &[Entry<T>], ind: usize, item: fn(&mut Self, &T, usize)) {
        for (i, e) in entries.iter().enumerate() {
            if i > 0 && e.blank_before {
                self.newline();
            }
            match &e.node {
                Node::Comment(c) => {
                    self.indent(ind);
                    self.write(c);
                    self.newline();
                }
                Node::Item(t) => item(self, t, ind),
            }
        }
    }

    fn member(&mut self, m: &Member, ind: usize) {
        self.indent(ind);
        match &m.body {
            None => self.statement(&m.head, ind, 0),
            Some(body) => match one_line(&m.head, body, ind) {
                Some(rest) => {
                    self.statement(&m.head, ind, rest.chars().count());
                    self.write(&rest);
                }
                None => {
                    self.statement(&m.head, ind, " {".len());
                    self.write(" {");
                    self.body(body, ind + INDENT);
                    self.indent(ind);
                    self.write("}");
                }
            },
        }
        self.trailing(m.trailing);
        self.newline();
    }

    /// A block over several lines, from the opener comment to the line before `}`.
    fn body(&mut self, body: &Body, ind: usize) {
        match body {
            Body::Members(b) => {
                self.trailing(b.opener);
                self.newline();
                self.entries(&b.entries, ind, Printer::member);
            }
            Body::Variants(b) => {
                self.trailing(b.opener);
                self.newline();
                self.entries(&b.entries, ind, |p, v, ind| {
                    p.indent(ind);
                    p.write(&v.cells.concat());
                    p.write(",");
                    p.trailing(v.trailing);
                    p.newline();
                });
            }
            Body::Table(b) => {
                self.trailing(b.opener);
                self.newline();
                let widths = TableWidths::of(b);
                for (i, e) in b.entries.iter().enumerate() {
                    if i > 0 && e.blank_before {
                        self.newline();
                    }
                    self.indent(ind);
                    match &e.node {
                        Node::Comment(c) => self.write(c),
                        Node::Item(line) => {
                            self.write(&widths.render(line));
                            self.trailing(line.trailing);
                        }
                    }
                    self.newline();
                }
            }
        }
    }

    /// A statement, or a block's header, starting at the current column. Lists are filled: a
    /// line breaks after a comma when the next element (with what follows it up to the next
    /// comma, and `suffix` characters after the last one) would pass [`WIDTH`]; the new line
    /// starts under the list's first element, or at the continuation indent if that element is
    /// past [`MAX_HANG`]. A comment inside the statement ends its line.
    fn statement(&mut self, pieces: &[Piece], ind: usize, suffix: usize) {
        let continuation = ind + CONTINUATION;
        let mut list_start = continuation;
        let mut before: Option<&Tok> = None;
        let mut prev: Option<&Tok> = None;
        // A comment has just ended a line, so the next token starts a new one.
        let mut fresh_line = false;
        for (i, piece) in pieces.iter().enumerate() {
            match piece {
                Piece::Comment { text, own_line } => {
                    let next = pieces[i + 1..].iter().find_map(as_tok);
                    let col = resume_column(prev, next, list_start, continuation);
                    if *own_line {
                        if !fresh_line {
                            self.newline();
                        }
                        self.indent(col);
                        self.write(text);
                    } else {
                        self.trailing(Some(text));
                    }
                    self.newline();
                    fresh_line = true;
                }
                Piece::Tok(t) => {
                    if fresh_line {
                        self.indent(resume_column(prev, Some(t), list_start, continuation));
                        fresh_line = false;
                    } else if let Some(p) = prev {
                        let space = spaced(before, p, t);
                        if p.is(",") && self.col + 1 + chunk_width(&pieces[i..], suffix) > WIDTH {
                            self.newline();
                            self.indent(list_start);
                        } else if condition_break(t)
                            && self.col + 1 + term_width(&pieces[i..], suffix) > WIDTH
                        {
                            // A long condition goes on with its next term on a line of its own.
                            self.newline();
                            self.indent(continuation);
                        } else if space {
                            self.write(" ");
                        }
                    }
                    if t.is_item() && !prev.is_some_and(|p| p.is(",")) {
                        list_start = if self.col <= MAX_HANG {
                            self.col
                        } else {
                            continuation
                        };
                    }
                    self.write(t.text);
                    before = prev;
                    prev = Some(t);
                }
            }
        }
    }
}

fn as_tok<'p, 'a>(p: &'p Piece<'a>) -> Option<&'p Tok<'a>> {
    match p {
        Piece::Tok(t) => Some(t),
        Piece::Comment { .. } => None,
    }
}

/// Where a statement continues after a comment ended a line: under its list if the comment is
/// between two elements, otherwise one continuation indent in.
fn resume_column(prev: Option<&Tok>, next: Option<&Tok>, list_start: usize, cont: usize) -> usize {
    if prev.is_some_and(|p| p.is(",")) && next.is_some_and(Tok::is_item) {
        list_start
    } else {
        cont
    }
}

/// Whether a space separates two tokens of a statement on one line, given the token before
/// them (`before`), if any: none around the `<` and `>` of `set<string>` and the `.` of a path
/// (`principal.dept`), a space around a comparison (`hour < 18`).
fn spaced(before: Option<&Tok>, prev: &Tok, next: &Tok) -> bool {
    let type_open = |t: &Tok, before: Option<&Tok>| {
        t.is("<") && before.is_some_and(|b| b.kind == Kind::Word && b.text == "set")
    };
    if next.is("<") {
        return !(prev.kind == Kind::Word && prev.text == "set");
    }
    if prev.is("<") {
        return !type_open(prev, before);
    }
    if next.is(">") {
        // `>` closes `set<string>` when the token two back opened it.
        return !before.is_some_and(|b| b.is("<"));
    }
    !(matches!(next.text, ";" | "," | ":" | "]" | ".") || prev.is("[") || prev.is("."))
}

/// The width of the tokens from the start of `pieces` up to and including the next comma, or to
/// the end plus `suffix`. A comment stops the count: it ends the line anyway.
fn chunk_width(pieces: &[Piece], suffix: usize) -> usize {
    let mut width = 0;
    let (mut before, mut prev): (Option<&Tok>, Option<&Tok>) = (None, None);
    for piece in pieces {
        let Piece::Tok(t) = piece else {
            return width;
        };
        if prev.is_some_and(|p| spaced(before, p, t)) {
            width += 1;
        }
        width += t.width();
        if t.is(",") {
            return width;
        }
        before = prev;
        prev = Some(t);
    }
    width + suffix
}

/// Whether a line may break before `t`: the `when` of a rule's condition and the `and` between
/// its terms.
fn condition_break(t: &Tok) -> bool {
    t.kind == Kind::Word && matches!(t.text, "when" | "and")
}

/// The width of the tokens from the start of `pieces` (a `when` or an `and`) up to the next
/// place a line may break (a comma, or the next `when` or `and`), or to the end plus `suffix`.
fn term_width(pieces: &[Piece], suffix: usize) -> usize {
    let mut width = 0;
    let (mut before, mut prev): (Option<&Tok>, Option<&Tok>) = (None, None);
    for (i, piece) in pieces.iter().enumerate() {
        let Piece::Tok(t) = piece else {
            return width;
        };
        if i > 0 && (condition_break(t) || t.is(",")) {
            return width + usize::from(t.is(","));
        }
        if prev.is_some_and(|p| spaced(before, p, t)) {
            width += 1;
        }
        width += t.width();
        before = prev;
        prev = Some(t);
    }
    width + suffix
}

/// A statement on one line, as [`Printer::statement`] writes it when nothing wraps.
fn flat(pieces: &[Piece]) -> String {
    let mut out = String::new();
    let (mut before, mut prev): (Option<&Tok>, Option<&Tok>) = (None, None);
    for t in pieces.iter().filter_map(as_tok) {
        if prev.is_some_and(|p| spaced(before, p, t)) {
            out.push(' ');
        }
        out.push_str(t.text);
        before = prev;
        prev = Some(t);
    }
    out
}

/// What follows the header when a block fits on the header's line: ` { }`, ` { member }` or
/// ` { a, b }`. A block goes on one line when it holds no comment, at most one statement (or
/// only enum variants) and no nested block, and the whole line fits in [`WIDTH`].
fn one_line(head: &[Piece], body: &Body, ind: usize) -> Option<String> {
    if head.iter().any(|p| matches!(p, Piece::Comment { .. })) {
        return None;
    }
    let rest = match body {
        Body::Members(b) => {
            if b.has_comments() {
                return None;
            }
            match b.entries.as_slice() {
                [] => " { }".to_string(),
                [Entry {
                    node: Node::Item(m),
                    ..
                }] if m.body.is_none() && !m.has_comments() => format!(" {{ {} }}", flat(&m.head)),
                _ => return None,
            }
        }
        Body::Variants(b) => {
            let mut names = Vec::new();
            for e in &b.entries {
                match &e.node {
                    Node::Item(v) if v.trailing.is_none() => names.push(v.cells.concat()),
                    _ => return None,
                }
            }
            if b.opener.is_some() {
                return None;
            }
            if names.is_empty() {
                " { }".to_string()
            } else {
                format!(" {{ {} }}", names.join(", "))
            }
        }
        Body::Table(_) => return None,
    };
    let width = ind + flat(head).chars().count() + rest.chars().count();
    (width <= WIDTH).then_some(rest)
}

/// Column widths of one table: the state column, then each cell column.
///
/// A column is as wide as its widest entry of at most [`MAX_ALIGN_CHARS`] characters. A longer
/// entry sticks out of its column and is followed by one space, so that one wide cell does not
/// pad every other row of the table to its width: padding costs at most that many spaces per
/// cell, and the output stays linear in the input.
struct TableWidths {
    state: usize,
    cells: Vec<usize>,
}

/// The width an entry of `chars` characters asks of its column.
fn aligned(chars: usize) -> usize {
    if chars <= MAX_ALIGN_CHARS {
        chars
    } else {
        0
    }
}

impl TableWidths {
    fn of(b: &Block<Line>) -> TableWidths {
        let mut w = TableWidths {
            state: 0,
            cells: Vec::new(),
        };
        for e in &b.entries {
            let Node::Item(line) = &e.node else { continue };
            if let Some(s) = line.state {
                w.state = w.state.max(aligned(s.chars().count()));
            }
            for (j, cell) in line.cells.iter().enumerate() {
                if w.cells.len() <= j {
                    w.cells.push(0);
                }
                w.cells[j] = w.cells[j].max(aligned(cell.chars().count()));
            }
        }
        w
    }

    /// A header or row with every `|` in its column. The last cell is not padded, so no line
    /// ends in spaces.
    fn render(&self, line: &Line) -> String {
        let mut s = String::new();
        pad(&mut s, line.state.unwrap_or(""), self.state);
        for (j, cell) in line.cells.iter().enumerate() {
            s.push_str(" | ");
            let last = j + 1 == line.cells.len();
            let w = if last { 0 } else { self.cells[j] };
            pad(&mut s, cell, w);
        }
        if self.state == 0 {
            // A header with no rows below it starts with its `|`.
            s = s.trim_start().to_string();
        }
        s
    }
}

/// Appends `text`, then spaces up to `width` characters. (Not `format!`'s width, which panics
/// past 65,535.)
fn pad(out: &mut String, text: &str, width: usize) {
    out.push_str(text);
    let chars = text.chars().count();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(chars)));
}

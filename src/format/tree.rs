//! The formatter's layout tree: declarations and blocks in source order, with every comment
//! attached to a place.
//!
//! The AST groups what a block declares by sort (all `states` lines of a case type in one list),
//! which is right for the checker but loses the author's order, so the formatter builds this
//! tree from the tokens instead. Comments attach by position, as in most formatters:
//!
//! - a comment on its own line belongs before the next declaration, row or variant (or at the end
//!   of its block, if nothing follows);
//! - a comment at the end of a line belongs after what ends there;
//! - a comment after `{` on the same line stays there (the block's *opener* comment);
//! - a comment inside a statement stays between the same two tokens, except that comments just
//!   before its `;` move after it;
//! - a comment in the middle of a table row moves to its own line above the row, so that the
//!   row stays on one line and the table stays aligned.

use super::lex::{Kind, Tok};

/// Something in a block that sits on its own line(s).
#[derive(Debug)]
pub(super) struct Entry<'a, T> {
    /// The author left at least one blank line before it.
    pub blank_before: bool,
    pub node: Node<'a, T>,
}

#[derive(Debug)]
pub(super) enum Node<'a, T> {
    /// A comment on its own line.
    Comment(&'a str),
    Item(T),
}

/// The inside of `{ … }`, or the whole file.
#[derive(Debug)]
pub(super) struct Block<'a, T> {
    /// A comment on the line of the opening brace.
    pub opener: Option<&'a str>,
    pub entries: Vec<Entry<'a, T>>,
}

impl<T> Block<'_, T> {
    fn new() -> Self {
        Block {
            opener: None,
            entries: Vec::new(),
        }
    }

    /// Whether any comment is inside the braces.
    pub fn has_comments(&self) -> bool {
        self.opener.is_some()
            || self
                .entries
                .iter()
                .any(|e| matches!(e.node, Node::Comment(_)))
    }
}

/// A token of a statement, or a comment between two of its tokens.
#[derive(Debug)]
pub(super) enum Piece<'a> {
    Tok(Tok<'a>),
    Comment { text: &'a str, own_line: bool },
}

/// A declaration: a statement ending in `;`, or a header followed by a block.
#[derive(Debug)]
pub(super) struct Member<'a> {
    /// The statement's tokens including `;`, or the header's tokens before `{`.
    pub head: Vec<Piece<'a>>,
    pub body: Option<Body<'a>>,
    /// A comment after the `;` or `}` on the same line.
    pub trailing: Option<&'a str>,
}

impl Member<'_> {
    pub fn has_comments(&self) -> bool {
        self.trailing.is_some() || self.head.iter().any(|p| matches!(p, Piece::Comment { .. }))
    }
}

#[derive(Debug)]
pub(super) enum Body<'a> {
    Members(Block<'a, Member<'a>>),
    /// An `enum`'s variants.
    Variants(Block<'a, Line<'a>>),
    /// A `table`: the header (no state), then rows.
    Table(Block<'a, Line<'a>>),
}

/// An enum variant (one cell, no state), or a table's header (no state) or row.
#[derive(Debug)]
pub(super) struct Line<'a> {
    pub state: Option<&'a str>,
    pub cells: Vec<String>,
    pub trailing: Option<&'a str>,
}

/// Why tokens could not be read as a policy; only possible if the grammar and this reader
/// disagree.
#[derive(Debug)]
pub(super) struct Unexpected(pub String);

type Result<T> = std::result::Result<T, Unexpected>;

/// Builds the tree of a whole file.
pub(super) fn build<'a>(toks: &[Tok<'a>]) -> Result<Block<'a, Member<'a>>> {
    let mut reader = Reader { toks, pos: 0 };
    let file = reader.members(false)?;
    match reader.toks.get(reader.pos) {
        None => Ok(file),
        Some(t) => Err(unexpected(Some(t), "the end of the file")),
    }
}

fn unexpected(t: Option<&Tok>, wanted: &str) -> Unexpected {
    match t {
        Some(t) => Unexpected(format!("found `{}` where {wanted} belongs", t.text)),
        None => Unexpected(format!("the text ends where {wanted} belongs")),
    }
}

struct Reader<'t, 'a> {
    toks: &'t [Tok<'a>],
    pos: usize,
}

impl<'a> Reader<'_, 'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.peek();
        self.pos += usize::from(t.is_some());
        t
    }

    /// A comment is on its own line when a line break (or the start of the file) is before it.
    fn own_line(&self, t: &Tok) -> bool {
        t.newlines > 0 || self.pos == 0
    }

    /// Declarations up to the closing brace (consumed) or, for the file, the end of the text.
    fn members(&mut self, braced: bool) -> Result<Block<'a, Member<'a>>> {
        let mut block = Block::new();
        loop {
            let Some(t) = self.peek() else {
                return if braced {
                    Err(unexpected(None, "`}`"))
                } else {
                    Ok(block)
                };
            };
            if t.kind == Kind::Comment {
                let own_line = self.own_line(&t);
                self.pos += 1;
                if !own_line {
                    // At the end of a line: after the member that ends there, or after `{`.
                    match block.entries.last_mut() {
                        Some(Entry {
                            node: Node::Item(m),
                            ..
                        }) if m.trailing.is_none() => {
                            m.trailing = Some(t.text);
                            continue;
                        }
                        None if braced && block.opener.is_none() => {
                            block.opener = Some(t.text);
                            continue;
                        }
                        _ => {}
                    }
                }
                block.entries.push(Entry {
                    blank_before: t.newlines >= 2,
                    node: Node::Comment(t.text),
                });
            } else if t.is("}") && braced {
                self.pos += 1;
                return Ok(block);
            } else {
                let blank_before = t.newlines >= 2;
                let (member, after) = self.member()?;
                block.entries.push(Entry {
                    blank_before,
                    node: Node::Item(member),
                });
                block.entries.extend(after.into_iter().map(|text| Entry {
                    blank_before: false,
                    node: Node::Comment(text),
                }));
            }
        }
    }

    /// One declaration: tokens up to `;`, or a header and its block. Comments just before the
    /// `;` move after it: the first, if it ended its line, as the trailing comment, and the rest
    /// (returned) onto their own lines after the declaration.
    fn member(&mut self) -> Result<(Member<'a>, Vec<&'a str>)> {
        let mut head = Vec::new();
        loop {
            let Some(t) = self.peek() else {
                return Err(unexpected(None, "`;` or `{`"));
            };
            let own_line = self.own_line(&t);
            self.pos += 1;
            match t.kind {
                Kind::Comment => head.push(Piece::Comment {
                    text: t.text,
                    own_line,
                }),
                Kind::Punct if t.text == ";" => {
                    let mut moved = split_comments(&mut head).into_iter();
                    head.push(Piece::Tok(t));
                    let mut trailing = None;
                    let mut after = Vec::new();
                    if let Some((text, own_line)) = moved.next() {
                        if own_line {
                            after.push(text);
                        } else {
                            trailing = Some(text);
                        }
                    }
                    after.extend(moved.map(|(text, _)| text));
                    let member = Member {
                        head,
                        body: None,
                        trailing,
                    };
                    return Ok((member, after));
                }
                Kind::Punct if t.text == "{" => {
                    // Comments between the header and `{` move inside the block, so the header
                    // and the brace stay on one line.
                    let moved = split_comments(&mut head);
                    let keyword = head.iter().find_map(|p| match p {
                        Piece::Tok(t) => Some(t.text),
                        Piece::Comment { .. } => None,
                    });
                    let body = match keyword {
                        Some("enum") => Body::Variants(with_comments(moved, self.variants()?)),
                        Some("table") => Body::Table(with_comments(moved, self.table()?)),
                        _ => Body::Members(with_comments(moved, self.members(true)?)),
                    };
                    if let Body::Members(block) = &body {
                        name_bare_filter(&mut head, block);
                    }
                    let member = Member {
                        head,
                        body: Some(body),
                        trailing: None,
                    };
                    return Ok((member, Vec::new()));
                }
                Kind::Punct if t.text == "}" => return Err(unexpected(Some(&t), "`;`")),
                _ => head.push(Piece::Tok(t)),
            }
        }
    }

    /// An enum's variants up to `}` (consumed). Commas are dropped: the printer writes them.
    fn variants(&mut self) -> Result<Block<'a, Line<'a>>> {
        let mut block: Block<Line> = Block::new();
        loop {
            let t = self.peek();
            let own_line = t.as_ref().is_some_and(|t| self.own_line(t));
            self.pos += 1;
            match t {
                Some(t) if t.kind == Kind::Comment => {
                    if !own_line {
                        match block.entries.last_mut() {
                            Some(Entry {
                                node: Node::Item(v),
                                ..
                            }) if v.trailing.is_none() => {
                                v.trailing = Some(t.text);
                                continue;
                            }
                            None if block.opener.is_none() => {
                                block.opener = Some(t.text);
                                continue;
                            }
                            _ => {}
                        }
                    }
                    block.entries.push(Entry {
                        blank_before: t.newlines >= 2,
                        node: Node::Comment(t.text),
                    });
                }
                Some(t) if t.kind == Kind::Word => block.entries.push(Entry {
                    blank_before: t.newlines >= 2,
                    node: Node::Item(Line {
                        state: None,
                        cells: vec![t.text.to_string()],
                        trailing: None,
                    }),
                }),
                Some(t) if t.is(",") => {}
                Some(t) if t.is("}") => return Ok(block),
                other => return Err(unexpected(other.as_ref(), "an enum variant")),
            }
        }
    }

    /// A table's header and rows up to `}` (consumed).
    fn table(&mut self) -> Result<Block<'a, Line<'a>>> {
        // Comments are set aside with the index of the token they precede, then placed once the
        // lines are known.
        let mut sig: Vec<Tok<'a>> = Vec::new();
        let mut comments: Vec<(usize, Tok<'a>, bool)> = Vec::new();
        loop {
            let Some(t) = self.next() else {
                return Err(unexpected(None, "`}`"));
            };
            if t.kind == Kind::Comment {
                let own_line = t.newlines > 0;
                comments.push((sig.len(), t, own_line));
            } else if t.is("}") {
                break;
            } else {
                sig.push(t);
            }
        }
        let lines = table_lines(&sig)?;
        let mut block: Block<Line> = Block::new();
        let mut comments = comments.into_iter().peekable();
        let mut lines = lines.into_iter().peekable();
        loop {
            // Comments before the next line starts (or before `}`).
            let next_start = lines.peek().map_or(sig.len(), |(start, _, _)| *start);
            while let Some((at, c, own_line)) = comments.next_if(|(at, _, _)| *at <= next_start) {
                let previous = block.entries.last_mut();
                if !own_line {
                    match previous {
                        Some(Entry {
                            node: Node::Item(line),
                            ..
                        }) if line.trailing.is_none() && at == next_start => {
                            line.trailing = Some(c.text);
                            continue;
                        }
                        None if block.opener.is_none() && at == 0 => {
                            block.opener = Some(c.text);
                            continue;
                        }
                        _ => {}
                    }
                }
                block.entries.push(Entry {
                    blank_before: c.newlines >= 2,
                    node: Node::Comment(c.text),
                });
            }
            let Some((start, end, line)) = lines.next() else {
                break;
            };
            // Comments inside the line go above it; the line's blank line goes before them.
            let mut blank_before = sig[start].newlines >= 2;
            while let Some((_, c, _)) = comments.next_if(|(at, _, _)| *at > start && *at < end) {
                block.entries.push(Entry {
                    blank_before: std::mem::take(&mut blank_before),
                    node: Node::Comment(c.text),
                });
            }
            block.entries.push(Entry {
                blank_before,
                node: Node::Item(line),
            });
        }
        Ok(block)
    }
}

/// The header and rows of a table, each with the range of tokens it spans.
fn table_lines<'a>(sig: &[Tok<'a>]) -> Result<Vec<(usize, usize, Line<'a>)>> {
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| sig.get(i);
    // The header: `| name` repeated.
    let mut columns = Vec::new();
    while at(i).is_some_and(|t| t.is("|")) {
        match at(i + 1) {
            Some(t) if t.kind == Kind::Word => columns.push(t.text.to_string()),
            other => return Err(unexpected(other, "a column name")),
        }
        i += 2;
    }
    if columns.is_empty() {
        return Err(unexpected(at(0), "the table header"));
    }
    out.push((
        0,
        i,
        Line {
            state: None,
            cells: columns,
            trailing: None,
        },
    ));
    // Rows: a state, then `| cell` repeated; a cell is `.` or signed entries.
    while let Some(t) = at(i) {
        let start = i;
        if t.kind != Kind::Word {
            return Err(unexpected(Some(t), "a state name"));
        }
        i += 1;
        let mut cells = Vec::new();
        while at(i).is_some_and(|t| t.is("|")) {
            i += 1;
            let mut cell = String::new();
            if at(i).is_some_and(|t| t.is(".")) {
                cell.push('.');
                i += 1;
            }
            while let (Some(sign), Some(name)) = (at(i), at(i + 1)) {
                if !(sign.is("+") || sign.is("-")) {
                    break;
                }
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(sign.text);
                cell.push_str(name.text);
                i += 2;
            }
            if cell.is_empty() {
                return Err(unexpected(at(i), "a table cell"));
            }
            cells.push(cell);
        }
        if cells.is_empty() {
            return Err(unexpected(at(i), "`|`"));
        }
        out.push((
            start,
            i,
            Line {
                state: Some(t.text),
                cells,
                trailing: None,
            },
        ));
    }
    Ok(out)
}

/// `scope filter { c1; c2; }` becomes `scope filter any { c1; c2; }`: the bare form of two or
/// more conditions means `any`, which readers of `;` as "and" misread (CP0214). A bare filter of
/// one condition or none reads the same either way and is left alone.
fn name_bare_filter<'a>(head: &mut Vec<Piece<'a>>, block: &Block<'a, Member<'a>>) {
    let words: Vec<&str> = head
        .iter()
        .filter_map(|p| match p {
            Piece::Tok(t) => Some(t.text),
            Piece::Comment { .. } => None,
        })
        .collect();
    let conditions = block
        .entries
        .iter()
        .filter(|e| matches!(e.node, Node::Item(_)))
        .count();
    if words != ["scope", "filter"] || conditions < 2 {
        return;
    }
    let Some(at) = head.iter().rposition(|p| matches!(p, Piece::Tok(_))) else {
        return;
    };
    head.insert(
        at + 1,
        Piece::Tok(Tok {
            kind: Kind::Word,
            text: "any",
            newlines: 0,
        }),
    );
}

/// Removes the comments after the last token of `head`, and returns each with whether it was on
/// its own line.
fn split_comments<'a>(head: &mut Vec<Piece<'a>>) -> Vec<(&'a str, bool)> {
    let last_tok = head.iter().rposition(|p| matches!(p, Piece::Tok(_)));
    head.split_off(last_tok.map_or(0, |i| i + 1))
        .into_iter()
        .filter_map(|p| match p {
            Piece::Comment { text, own_line } => Some((text, own_line)),
            Piece::Tok(_) => None,
        })
        .collect()
}

/// Puts the comments that stood between a header and its `{` into the block, in order: one at
/// the end of the header's line becomes the opener comment.
fn with_comments<'a, T>(mut texts: Vec<(&'a str, bool)>, mut block: Block<'a, T>) -> Block<'a, T> {
    if texts.is_empty() {
        return block;
    }
    let mut front = Vec::new();
    if let Some(&(text, false)) = texts.first() {
        texts.remove(0);
        if let Some(old) = block.opener.replace(text) {
            texts.push((old, true));
        }
    } else if let Some(old) = block.opener.take() {
        texts.push((old, true));
    }
    for (text, _) in texts {
        front.push(Entry {
            blank_before: false,
            node: Node::Comment(text),
        });
    }
    front.append(&mut block.entries);
    block.entries = front;
    block
}

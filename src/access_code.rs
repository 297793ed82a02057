//! Access-code strings as applications store them on entities: `BB|AA` or `[BB|AA] & [ ] & [PERS]`.
//!
//! These are parsed for every entity at load time, so the lexer is a logos DFA rather than the
//! policy grammar. An access code is an AND of levels; each level is an OR of codes; an empty
//! level (`[ ]`) means no restriction.
//!
//! Sizes are checked as the string is read, before anything is kept: at most
//! [`MAX_CODE_LEVELS`] levels, [`MAX_LEVEL_CODES`] codes in a level, and [`MAX_ID_BYTES`] bytes
//! in a code (docs/limits.md).

use crate::limits::{MAX_CODE_LEVELS, MAX_ID_BYTES, MAX_LEVEL_CODES};
use logos::Logos;

#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n]+")]
enum Tok {
    #[token("[")]
    Open,
    #[token("]")]
    Close,
    #[token("|")]
    Or,
    #[token("&")]
    And,
    #[regex(r"[A-Za-z0-9_\-\.@:]+")]
    Code,
}

/// A parsed access code, borrowing the code names from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeExpr<'a> {
    /// The levels, each a list of codes: the expression is the AND of the levels, each the OR
    /// of its codes.
    pub levels: Vec<Vec<&'a str>>,
}

/// Why an access-code string could not be parsed; `offset` is a byte offset into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeError {
    /// Where in the string, in bytes.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// The string is well formed as far as it was read, but over a size limit.
    pub limit: bool,
}

impl std::fmt::Display for CodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.message, self.offset)
    }
}

/// Parses an access-code string. The empty string is one empty level: no restriction.
pub fn parse<'a>(text: &'a str) -> Result<CodeExpr<'a>, CodeError> {
    let mut lex = Tok::lexer(text).spanned().peekable();
    let mut levels = Vec::new();
    if lex.peek().is_none() {
        return Ok(CodeExpr {
            levels: vec![Vec::new()],
        });
    }
    let err = |offset: usize, message: String| CodeError {
        offset,
        message,
        limit: false,
    };
    let over = |offset: usize, message: String| CodeError {
        offset,
        message,
        limit: true,
    };
    // A code is kept only after its length, and the room in its level, are checked.
    let code = |level: &mut Vec<&'a str>, span: std::ops::Range<usize>| {
        let len = span.len();
        if len > MAX_ID_BYTES {
            return Err(over(
                span.start,
                format!("a code is {len} bytes long, more than the limit of {MAX_ID_BYTES} bytes"),
            ));
        }
        if level.len() == MAX_LEVEL_CODES {
            return Err(over(
                span.start,
                format!("a level has more than the limit of {MAX_LEVEL_CODES} codes"),
            ));
        }
        level.push(&text[span]);
        Ok(())
    };
    loop {
        let mut level = Vec::new();
        let (first, span) = match lex.next() {
            Some((Ok(t), s)) => (t, s),
            Some((Err(()), s)) => {
                return Err(err(
                    s.start,
                    format!("unexpected character `{}`", &text[s.clone()]),
                ))
            }
            None => return Err(err(text.len(), "expected a level after `&`".into())),
        };
        let bracketed = first == Tok::Open;
        let mut expect_code = true;
        if !bracketed {
            if first != Tok::Code {
                return Err(err(
                    span.start,
                    format!("expected a code or `[`, found `{}`", &text[span]),
                ));
            }
            code(&mut level, span)?;
            expect_code = false;
        }
        loop {
            match lex.peek() {
                Some((Ok(Tok::Code), s)) if expect_code => {
                    code(&mut level, s.clone())?;
                    expect_code = false;
                    lex.next();
                }
                Some((Ok(Tok::Or), s)) if !expect_code => {
                    let _ = s;
                    expect_code = true;
                    lex.next();
                }
                Some((Ok(Tok::Close), s)) if bracketed => {
                    if expect_code && !level.is_empty() {
                        return Err(err(s.start, "expected a code after `|`".into()));
                    }
                    lex.next();
                    break;
                }
                Some((Ok(Tok::Or), s)) => {
                    return Err(err(s.start, "expected a code before `|`".into()))
                }
                Some((Err(()), s)) => {
                    return Err(err(
                        s.start,
                        format!("unexpected character `{}`", &text[s.clone()]),
                    ))
                }
                Some((Ok(t), s)) if bracketed => {
                    let what = if *t == Tok::Code {
                        "`|` or `]`"
                    } else {
                        "a code, `|` or `]`"
                    };
                    return Err(err(
                        s.start,
                        format!("expected {what}, found `{}`", &text[s.clone()]),
                    ));
                }
                _ if bracketed => return Err(err(text.len(), "missing `]`".into())),
                _ => {
                    if expect_code {
                        return Err(err(text.len(), "expected a code after `|`".into()));
                    }
                    break;
                }
            }
        }
        levels.push(level);
        match lex.next() {
            None => break,
            Some((Ok(Tok::And), s)) if levels.len() == MAX_CODE_LEVELS => {
                return Err(over(
                    s.start,
                    format!("it has more than the limit of {MAX_CODE_LEVELS} levels"),
                ));
            }
            Some((Ok(Tok::And), _)) => continue,
            Some((_, s)) => {
                return Err(err(
                    s.start,
                    format!("expected `&` between levels, found `{}`", &text[s]),
                ));
            }
        }
    }
    Ok(CodeExpr { levels })
}

/// Renders levels in the canonical `[A|B] & [ ] & [C]` form.
pub fn display<S: AsRef<str>>(levels: &[Vec<S>]) -> String {
    levels
        .iter()
        .map(|l| {
            if l.is_empty() {
                "[ ]".to_string()
            } else {
                format!(
                    "[{}]",
                    l.iter().map(|c| c.as_ref()).collect::<Vec<_>>().join("|")
                )
            }
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("BB|AA").unwrap().levels, vec![vec!["BB", "AA"]]);
        assert_eq!(
            parse("[BB|AA] & [ ] & [PERS]").unwrap().levels,
            vec![vec!["BB", "AA"], vec![], vec!["PERS"]]
        );
        assert_eq!(parse("").unwrap().levels, vec![Vec::<&str>::new()]);
        assert_eq!(parse("  ").unwrap().levels, vec![Vec::<&str>::new()]);
        assert_eq!(parse("[]").unwrap().levels, vec![Vec::<&str>::new()]);
        assert_eq!(parse("A & B").unwrap().levels, vec![vec!["A"], vec!["B"]]);
        assert_eq!(
            display(&parse("[BB|AA]&[ ]&[PERS]").unwrap().levels),
            "[BB|AA] & [ ] & [PERS]"
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "[A", "A|", "|A", "A & ", "[A|]", "A B", "A ! B", "[A] [B]", "&", "[A]]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(parse("A ! B").unwrap_err().offset, 2);
        assert!(!parse("A ! B").unwrap_err().limit);
    }

    #[test]
    fn sizes_at_and_over_the_limits() {
        let levels = |n: usize| vec!["A"; n].join(" & ");
        assert_eq!(
            parse(&levels(MAX_CODE_LEVELS)).unwrap().levels.len(),
            MAX_CODE_LEVELS
        );
        let e = parse(&levels(MAX_CODE_LEVELS + 1)).unwrap_err();
        assert!(e.limit);
        // Refused at the `&` that would start one level too many.
        assert_eq!(e.offset, levels(MAX_CODE_LEVELS).len() + 1);
        let codes = |n: usize| vec!["B"; n].join("|");
        assert_eq!(
            parse(&codes(MAX_LEVEL_CODES)).unwrap().levels[0].len(),
            MAX_LEVEL_CODES
        );
        let e = parse(&format!("[{}]", codes(MAX_LEVEL_CODES + 1))).unwrap_err();
        assert!(e.limit && e.message.contains("codes"), "{e}");
        let long = "C".repeat(MAX_ID_BYTES);
        assert_eq!(parse(&long).unwrap().levels, vec![vec![long.as_str()]]);
        let e = parse(&format!("A|{long}C")).unwrap_err();
        assert_eq!((e.offset, e.limit), (2, true));
    }
}

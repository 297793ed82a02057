//! The words of messages, written one way everywhere: lists of names ("`a`, `b` and `c`",
//! "… and 3 more"), "did you mean", "a" or "an", counts with thousands separators, and user
//! text made safe to show.
//!
//! Every message of the library (the checker, the lints, requests, queries, policy tests) and
//! of the command line builds its lists and suggestions here, so that they read alike. Only
//! the names a list shows are read, so a message costs the same however many names there are.

use super::{suggest, suggest_within};
use std::borrow::Cow;

/// The most names a list shows; the rest are counted ("and 3 more"), so a message stays short
/// however many names a policy or a file declares.
pub const LISTED: usize = 10;

/// No limit, for [`join`]: for a fixed vocabulary of the program's own (see [`every`]).
pub const ALL: usize = usize::MAX;

/// Names in backticks, joined with "and": `` `a`, `b` and `c` ``. Past [`LISTED`] names, the
/// rest are counted: `` `a`, …, `j` and 5 more ``. An empty list is "nothing".
pub fn list<I, S>(names: I) -> String
where
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    join(names.into_iter().map(ticked), "and", LISTED)
}

/// Names in backticks, joined with "or": `` `a`, `b` or `c` ``, counted past [`LISTED`] as
/// [`list`] does.
pub fn either<I, S>(names: I) -> String
where
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    join(names.into_iter().map(ticked), "or", LISTED)
}

/// Every one of a fixed vocabulary of the program's own (the keys of an object, the layers, the
/// reasons) in backticks, joined with "and": a vocabulary is short and must be shown whole.
pub fn every<I, S>(names: I) -> String
where
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    join(names.into_iter().map(ticked), "and", ALL)
}

/// One of a fixed vocabulary of the program's own, shown whole as [`every`] does, joined with
/// "or": `` `allow`, `deny` or `error` ``.
pub fn one_of<I, S>(names: I) -> String
where
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    join(names.into_iter().map(ticked), "or", ALL)
}

/// Phrases as they are, joined with commas and `conj` before the last: "x, y and z". Past
/// `limit` phrases, the rest are counted ("x, y and 3 more"); [`ALL`] shows them all. Only the
/// phrases shown are read. An empty list is "nothing".
pub fn join<I, S>(phrases: I, conj: &str, limit: usize) -> String
where
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    let phrases = phrases.into_iter();
    let n = phrases.len();
    let shown: Vec<S> = phrases.take(limit.max(1)).collect();
    let joined = |items: &[S]| {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<&str>>()
            .join(", ")
    };
    match shown.as_slice() {
        [] => "nothing".into(),
        [one] if n == 1 => one.as_ref().to_string(),
        [init @ .., last] if n == shown.len() => {
            format!("{} {conj} {}", joined(init), last.as_ref())
        }
        _ => format!("{} {conj} {} more", joined(&shown), n - shown.len()),
    }
}

/// "the module `M`" or "the modules `A` and `B`", listed as [`list`] does; `None` when there
/// are none.
pub fn the<I, S>(singular: &str, plural: &str, names: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    let names = names.into_iter();
    match names.len() {
        0 => None,
        1 => Some(format!("the {singular} {}", list(names))),
        _ => Some(format!("the {plural} {}", list(names))),
    }
}

/// "did you mean `x`?" for the candidate closest to `name`, if one is close enough to be a
/// likely typo ([`suggest`]).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(mean)
}

/// As [`did_you_mean`], spending from a budget of work shared by several suggestions
/// ([`suggest_within`]).
pub fn did_you_mean_within<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    budget: &mut usize,
) -> Option<String> {
    suggest_within(name, candidates, budget).map(mean)
}

/// "did you mean `x`?"
fn mean(x: &str) -> String {
    format!("did you mean `{x}`?")
}

/// `a` or `an`, for a word read aloud in English: "an action", "a user", "an hour".
pub fn article(word: &str) -> &'static str {
    let w = word.to_ascii_lowercase();
    let silent_h = ["hour", "honest", "honor", "honour", "heir"]
        .iter()
        .any(|p| w.starts_with(p));
    let sounds_like_y = [
        "uni", "use", "usu", "uti", "ure", "uri", "eu", "ewe", "one", "once",
    ]
    .iter()
    .any(|p| w.starts_with(p));
    let vowel = w.starts_with(['a', 'e', 'i', 'o', 'u']);
    if silent_h || (vowel && !sounds_like_y) {
        "an"
    } else {
        "a"
    }
}

/// The word with its article: "an action", "a role".
pub fn a(word: &str) -> String {
    format!("{} {word}", article(word))
}

/// A count with thousands separators: `4,000,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `text` with control and bidirectional control characters written as `\u{1b}`: messages quote
/// names from requests, queries and files, and a name holding an escape sequence must neither
/// drive the terminal that shows the message nor reorder the line it is on.
pub fn printable(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| c.is_control() || is_bidi_control(c);
    if !text.chars().any(hidden) {
        return text.into();
    }
    text.chars()
        .map(|c| match hidden(c) {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect::<String>()
        .into()
}

/// Whether `c` is a bidirectional control character (U+202A–U+202E, U+2066–U+2069). Such a
/// character makes text display in another order than it is stored ("Trojan Source",
/// CVE-2021-42574), so a name holding one could look like another.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn ticked<S: AsRef<str>>(name: S) -> String {
    format!("`{}`", name.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_joined_and_long_ones_shortened() {
        let names: Vec<String> = (0..12).map(|i| format!("n{i}")).collect();
        assert_eq!(list(&names[..0]), "nothing");
        assert_eq!(list(&names[..1]), "`n0`");
        assert_eq!(list(&names[..2]), "`n0` and `n1`");
        assert_eq!(list(&names[..3]), "`n0`, `n1` and `n2`");
        assert_eq!(
            list(&names[..10]),
            "`n0`, `n1`, `n2`, `n3`, `n4`, `n5`, `n6`, `n7`, `n8` and `n9`"
        );
        assert_eq!(
            list(&names),
            "`n0`, `n1`, `n2`, `n3`, `n4`, `n5`, `n6`, `n7`, `n8`, `n9` and 2 more"
        );
        assert_eq!(either(["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(
            either(&names[..11]),
            "`n0`, `n1`, `n2`, `n3`, `n4`, `n5`, `n6`, `n7`, `n8`, `n9` or 1 more"
        );
        assert_eq!(
            one_of(&names),
            "`n0`, `n1`, `n2`, `n3`, `n4`, `n5`, `n6`, `n7`, `n8`, `n9`, `n10` or `n11`"
        );
        assert_eq!(every(["a", "b"]), "`a` and `b`");
        assert_eq!(
            join(["x (1)", "y (2)", "z (3)"], "or", 2),
            "x (1), y (2) or 1 more"
        );
        assert_eq!(
            the("module", "modules", ["M"]).as_deref(),
            Some("the module `M`")
        );
        assert_eq!(
            the("module", "modules", ["A", "B"]).as_deref(),
            Some("the modules `A` and `B`")
        );
        assert_eq!(the("module", "modules", Vec::<&str>::new()), None);
    }

    /// Only the names shown are read: a list of a million names formats ten.
    #[test]
    fn only_the_names_shown_are_read() {
        let read = std::cell::Cell::new(0);
        let names = (0..1_000_000).map(|_| {
            read.set(read.get() + 1);
            "x"
        });
        assert!(list(names).ends_with("and 999990 more"));
        assert_eq!(read.get(), LISTED);
    }

    #[test]
    fn suggestions_articles_counts_and_escapes() {
        assert_eq!(
            did_you_mean("veiw", ["view", "edit"]).as_deref(),
            Some("did you mean `view`?")
        );
        assert_eq!(did_you_mean("zzzz", ["view"]), None);
        let mut budget = 0;
        assert_eq!(did_you_mean_within("veiw", ["view"], &mut budget), None);
        assert_eq!(a("action"), "an action");
        assert_eq!(a("role"), "a role");
        assert_eq!(a("unit"), "a unit");
        assert_eq!(a("hour"), "an hour");
        assert_eq!(thousands(4_000_000), "4,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{1b}[2Jb\u{202E}c"), "a\\u{1b}[2Jb\\u{202e}c");
    }
}

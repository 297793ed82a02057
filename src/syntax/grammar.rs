//! The pest parser derived from `grammar/casepol.pest`.
//!
//! pest is built without its `std` feature (Cargo.toml), which drops the stack probe pest 2.9
//! runs on every rule call (`pest_stack_guard`: a sixth of the parse, docs/performance.md §14).
//! The probe guards against deep recursion, and this grammar has none: no rule reaches itself,
//! so the parser's stack depth is fixed by the grammar, whatever the input. The test below
//! holds the grammar to that.

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/casepol.pest"]
pub struct PolicyParser;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    /// The rules of a pest grammar and the rules each one names, read from its text: comments,
    /// string and character literals removed, then `name = modifier? { body }`.
    fn rule_graph(text: &str) -> HashMap<String, Vec<String>> {
        let mut plain = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '/' if chars.peek() == Some(&'/') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            plain.push('\n');
                            break;
                        }
                    }
                }
                '"' | '\'' => {
                    while let Some(d) = chars.next() {
                        if d == '\\' {
                            chars.next();
                        } else if d == c {
                            break;
                        }
                    }
                    plain.push(' ');
                }
                _ => plain.push(c),
            }
        }
        let mut rules = Vec::new();
        let mut rest = plain.as_str();
        while let Some(open) = rest.find('{') {
            let head = rest[..open].trim_end();
            let head = head.trim_end_matches(['_', '@', '$', '!']).trim_end();
            let name = head
                .strip_suffix('=')
                .map(str::trim_end)
                .and_then(|h| h.rsplit(|c: char| c.is_whitespace()).next())
                .unwrap_or_default()
                .to_string();
            let mut depth = 0;
            let mut end = open;
            for (i, c) in rest[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            rules.push((name, rest[open + 1..end].to_string()));
            rest = &rest[end + 1..];
        }
        let names: Vec<String> = rules.iter().map(|(n, _)| n.clone()).collect();
        rules
            .into_iter()
            .map(|(name, body)| {
                let called = body
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| names.iter().any(|n| n == w))
                    .map(str::to_string)
                    .collect();
                (name, called)
            })
            .collect()
    }

    /// A rule that reaches itself, through any chain of rules, if there is one.
    fn cycle(graph: &HashMap<String, Vec<String>>) -> Option<Vec<String>> {
        fn visit(
            rule: &str,
            graph: &HashMap<String, Vec<String>>,
            path: &mut Vec<String>,
            done: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|r| r == rule) {
                let mut found = path[at..].to_vec();
                found.push(rule.to_string());
                return Some(found);
            }
            if done.iter().any(|r| r == rule) {
                return None;
            }
            path.push(rule.to_string());
            for next in graph.get(rule).into_iter().flatten() {
                if let Some(found) = visit(next, graph, path, done) {
                    return Some(found);
                }
            }
            path.pop();
            done.push(rule.to_string());
            None
        }
        let mut done = Vec::new();
        let mut rules: Vec<&String> = graph.keys().collect();
        rules.sort();
        rules
            .into_iter()
            .find_map(|r| visit(r, graph, &mut Vec::new(), &mut done))
    }

    #[test]
    fn no_rule_is_recursive() {
        let graph = rule_graph(include_str!("../../grammar/casepol.pest"));
        // Every rule of the grammar was read: the parser's rules are the grammar's.
        assert_eq!(graph.len(), super::Rule::all_rules().len(), "{graph:?}");
        assert_eq!(
            cycle(&graph),
            None,
            "a recursive rule: pest's stack probe is off"
        );
    }

    /// The reserved words are exactly what `keyword` refuses as a name, through its groups of
    /// first letters: each one alone, and no longer word, nor a name of a capital first letter.
    #[test]
    fn every_reserved_word_and_only_those_is_refused_as_a_name() {
        use super::{PolicyParser, Rule};
        use pest::Parser;
        let name = |text: &str| {
            PolicyParser::parse(Rule::ident, text).is_ok_and(|mut p| {
                p.next()
                    .is_some_and(|pair| pair.as_str().len() == text.len())
            })
        };
        for word in crate::syntax::error::KEYWORDS {
            assert!(!name(word), "`{word}` is reserved");
            assert!(name(&format!("{word}_x")), "`{word}_x` is a name");
            assert!(name(&format!("{word}2")), "`{word}2` is a name");
            let mut capital = word.to_string();
            capital[..1].make_ascii_uppercase();
            assert!(name(&capital), "`{capital}` is a name");
        }
        for first in ('a'..='z').chain('A'..='Z').chain(['_']) {
            assert!(name(&format!("{first}q9")), "`{first}q9` is a name");
        }
        for not_a_name in ["", "9a", "-a", " a", "\u{e9}t\u{e9}"] {
            assert!(!name(not_a_name), "`{not_a_name}` is not a name");
        }
    }

    #[test]
    fn a_recursive_rule_is_found() {
        let graph = rule_graph(
            "a = { \"{\" ~ b ~ \"}\" } // a comment naming a\n b = _{ c | \"b\" } c = @{ '(' ~ a }",
        );
        assert_eq!(
            cycle(&graph),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
    }
}

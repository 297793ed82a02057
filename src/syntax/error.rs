//! Turns pest's parse errors into diagnostics that speak the user's words, never rule names.

use super::grammar::Rule;
use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use pest::error::{Error, ErrorVariant, InputLocation};

/// Keywords that begin a top-level declaration; error recovery (`recover.rs`) cuts a file at them.
pub(super) const TOP_LEVEL: &[&str] = &[
    "role",
    "action",
    "actions",
    "permission",
    "require",
    "module",
    "group",
    "enum",
    "user",
    "case",
    "resource",
    "casetype",
    "codes",
    "context",
    "allow",
    "deny",
];

/// Byte offset of the error within the parsed text.
pub fn position(e: &Error<Rule>) -> usize {
    match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
}

/// Where each line of `text` starts: at 0 and after every line break (a line feed, a carriage
/// return not followed by one, or one of the breaks the grammar reads as whitespace).
fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    std::iter::once(0).chain(text.char_indices().filter_map(move |(i, c)| {
        let crlf = c == '\r' && bytes.get(i + 1) == Some(&b'\n');
        (super::hidden::is_line_break(c) && !crlf).then_some(i + c.len_utf8())
    }))
}

/// What a user calls the thing a grammar rule matches.
pub fn expected_words(r: Rule) -> &'static str {
    match r {
        Rule::EOI => "end of file",
        Rule::WHITESPACE | Rule::COMMENT => "a comment",
        Rule::policy | Rule::keyword | Rule::item => "a declaration",
        Rule::casetype_item => "a case-type entry (`states`, `transition`, `table`, …)",
        Rule::operand => "a value or `principal`",
        Rule::action_ref => "an action name or `*`",
        Rule::ident_char => "a letter, digit or `_`",
        Rule::ident | Rule::ident_list => "a name",
        Rule::subject_list | Rule::subject => "a role, a relation or `everyone`",
        Rule::string | Rule::string_inner => "a string in double quotes",
        Rule::int => "a whole number",
        Rule::bool_lit => "`true` or `false`",
        Rule::star => "`*`",
        Rule::role_decl => "a role declaration",
        Rule::action_decl => "an action declaration",
        Rule::requires_clause => "`requires`",
        Rule::action_group => "an action group",
        Rule::permission_decl => "a permission declaration",
        Rule::require_decl => "`require group;`",
        Rule::module_decl => "a module declaration",
        Rule::module_actions => "`actions`",
        Rule::module_records => "`records`",
        Rule::module_data => "`data roles`",
        Rule::enum_decl => "an enum declaration",
        Rule::group_decl => "an access group",
        Rule::group_parent => "`in`",
        Rule::grants => "`grants`",
        Rule::permits => "`permits`",
        Rule::scope => "`scope`",
        Rule::scope_all => "`all`",
        Rule::scope_assigned => "`assigned via`",
        Rule::scope_filter => "`filter`",
        Rule::filter_mode => "`any` or `all`",
        Rule::condition => "a condition",
        Rule::cond_eq => "`==`",
        Rule::cond_ne => "`!=`",
        Rule::cond_contains => "`contains`",
        Rule::cond_in => "`in`",
        Rule::principal => "`principal`",
        Rule::literal => "a value",
        Rule::user_decl => "a `user` block",
        Rule::case_decl => "a case kind",
        Rule::resource_decl => "a resource kind",
        Rule::kind_parent => "`under`",
        Rule::attr_decl => "`attr`",
        Rule::type_expr => "a type",
        Rule::type_set => "`set<…>`",
        Rule::type_ref => "`ref`",
        Rule::relation_decl => "`relation`",
        Rule::inherit_decl => "`inherit`",
        Rule::mode_decl => "`mode`",
        Rule::mode_arm => "an access-mode line (`variant: relation, …;`)",
        Rule::everyone => "`everyone`",
        Rule::codes_decl => "a `codes` block",
        Rule::codes_class => "a code class (`read:` or `write:`)",
        Rule::context_decl => "a `context` block",
        Rule::context_field => "a context field (`name: type;`)",
        Rule::rule_when => "`when`",
        Rule::where_condition => {
            "a condition (`resource.attr == value`, `principal is relation`, …)"
        }
        Rule::term => "a condition (`principal.attr == value`, `principal is relation`, …)",
        Rule::term_is => "`principal is relation`",
        Rule::term_in => "`in [...]`",
        Rule::term_contains => "`contains`",
        Rule::term_cmp => "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
        Rule::term_bool => "a condition",
        Rule::cmp_op => "`==`, `!=`, `<`, `<=`, `>` or `>=`",
        Rule::term_value => {
            "a value or a path (`principal.attr`, `resource.attr`, `case.attr`, `context.name`)"
        }
        Rule::path => "a path (`principal.attr`, `resource.attr`, `case.attr`, `context.name`)",
        Rule::path_root => "`principal`, `resource`, `case` or `context`",
        Rule::casetype_decl => "a case type",
        Rule::states_decl => "`states`",
        Rule::initial_decl => "`initial`",
        Rule::final_decl => "`final`",
        Rule::transition => "`transition`",
        Rule::module_grant => "`module`",
        Rule::module_line => "a module grant (`Role: action, …;`)",
        Rule::rule => "`allow` or `deny`",
        Rule::effect => "`allow` or `deny`",
        Rule::rule_states => "`in`",
        Rule::action_list => "an action name or `*`",
        Rule::table => "`table`",
        Rule::table_header => "a header row of role names (`| Role | Role`)",
        Rule::table_row => "a state name",
        Rule::cell => "a table cell (`+action`, `-action` or `.`)",
        Rule::empty_cell => "`.`",
        Rule::cell_entry => "`+action` or `-action`",
        Rule::cell_sign => "`+` or `-`",
        Rule::kw_action => "`action`",
        Rule::kw_actions => "`actions`",
        Rule::kw_all => "`all`",
        Rule::kw_and => "`and`",
        Rule::kw_allow => "`allow`",
        Rule::kw_assigned => "`assigned`",
        Rule::kw_any => "`any`",
        Rule::kw_attr => "`attr`",
        Rule::kw_by => "`by`",
        Rule::kw_case => "`case`",
        Rule::kw_casetype => "`casetype`",
        Rule::kw_codes => "`codes`",
        Rule::kw_contains => "`contains`",
        Rule::kw_context => "`context`",
        Rule::kw_deny => "`deny`",
        Rule::kw_enum => "`enum`",
        Rule::kw_everyone => "`everyone`",
        Rule::kw_filter => "`filter`",
        Rule::kw_final => "`final`",
        Rule::kw_grants => "`grants`",
        Rule::kw_group => "`group`",
        Rule::kw_in => "`in`",
        Rule::kw_inherit => "`inherit`",
        Rule::kw_initial => "`initial`",
        Rule::kw_is => "`is`",
        Rule::kw_mode => "`mode`",
        Rule::kw_not => "`not`",
        Rule::kw_module => "`module`",
        Rule::kw_permission => "`permission`",
        Rule::kw_permits => "`permits`",
        Rule::kw_principal => "`principal`",
        Rule::kw_records => "`records`",
        Rule::kw_data => "`data`",
        Rule::kw_roles => "`roles`",
        Rule::kw_ref => "`ref`",
        Rule::kw_relation => "`relation`",
        Rule::kw_require => "`require`",
        Rule::kw_requires => "`requires`",
        Rule::kw_resource => "`resource`",
        Rule::kw_role => "`role`",
        Rule::kw_scope => "`scope`",
        Rule::kw_set => "`set`",
        Rule::kw_states => "`states`",
        Rule::kw_table => "`table`",
        Rule::kw_transition => "`transition`",
        Rule::kw_under => "`under`",
        Rule::kw_user => "`user`",
        Rule::kw_via => "`via`",
        Rule::kw_when => "`when`",
    }
}

/// Rules for a braced block: a user reads their failure as a missing token, not a construct.
fn is_block(r: Rule) -> bool {
    matches!(
        r,
        Rule::case_decl
            | Rule::resource_decl
            | Rule::casetype_decl
            | Rule::group_decl
            | Rule::module_decl
            | Rule::user_decl
            | Rule::enum_decl
            | Rule::codes_decl
            | Rule::mode_decl
            | Rule::module_grant
            | Rule::table
            | Rule::scope_filter
    )
}

/// What a name is expected to be, judged by the rule it would have completed.
fn name_in(parent: Rule) -> Option<&'static str> {
    Some(match parent {
        Rule::role_decl | Rule::module_data => "a role name",
        Rule::action_decl | Rule::action_group | Rule::action_list | Rule::module_actions => {
            "an action name"
        }
        Rule::permission_decl => "a permission name",
        Rule::group_decl | Rule::group_parent => "a group name",
        Rule::states_decl | Rule::initial_decl | Rule::final_decl | Rule::table_row => {
            "a state name"
        }
        Rule::table_header | Rule::subject_list => "a role, a relation or `everyone`",
        Rule::attr_decl | Rule::condition | Rule::path => "an attribute name",
        Rule::term_is => "a relation name",
        Rule::context_field => "a context field name",
        Rule::kind_parent => "a resource kind name",
        Rule::type_expr => "a type",
        _ => return None,
    })
}

fn describe_found(text: &str, pos: usize) -> String {
    let rest = &text[pos.min(text.len())..];
    let Some(c) = rest.chars().next() else {
        return "end of file".to_string();
    };
    if c.is_ascii_alphanumeric() || c == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        format!("`{word}`")
    } else if super::hidden::is_line_break(c) {
        "end of line".to_string()
    } else {
        super::hidden::describe(c)
    }
}

fn join_or(words: &[String]) -> String {
    match words {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// Where the error is: the furthest position pest tried, when its detailed errors are on (pest's
/// own position may be where a rule that failed further on started).
pub fn furthest(e: &Error<Rule>) -> usize {
    let at = position(e);
    e.parse_attempts().map_or(at, |a| a.max_position.max(at))
}

/// Whether pest, with its detailed errors on, would have taken the literal `token` where `e` is.
pub fn expects_token(e: &Error<Rule>, token: &str) -> bool {
    e.parse_attempts()
        .is_some_and(|a| a.expected_tokens().iter().any(|t| t.to_string() == token))
}

/// The diagnostic for `e`, an error of pest parsing `text[offset..]` (or a part of it). Spans
/// are offsets into `text`; `lines` is the text as written, of the same length, whose lines a
/// message may count (`text` may be a repaired copy).
pub fn to_diagnostic(
    e: &Error<Rule>,
    file: FileId,
    offset: usize,
    text: &str,
    lines: &str,
) -> Diagnostic {
    let mut pos = offset + position(e);
    let mut words: Vec<String> = Vec::new();
    fn push(words: &mut Vec<String>, w: String) {
        if !words.contains(&w) {
            words.push(w);
        }
    }
    let attempts = e
        .parse_attempts()
        .filter(|a| offset + a.max_position >= pos);
    match &attempts {
        Some(attempts) => {
            pos = offset + attempts.max_position;
            let mut tokens = false;
            for stack in attempts.call_stacks() {
                // pest does not export the attempt type; its debug form names the rule.
                let deepest = format!("{:?}", stack.deepest);
                let rule = deepest
                    .strip_prefix("Rule(")
                    .and_then(|r| r.strip_suffix(')'))
                    .and_then(|name| {
                        Rule::all_rules()
                            .iter()
                            .copied()
                            .find(|r| format!("{r:?}") == name)
                    });
                match rule {
                    // A block's own rule is reported when its closing token is expected; the
                    // token itself (`}`) says it better.
                    Some(r) if is_block(r) => tokens = true,
                    Some(Rule::ident | Rule::ident_list) => push(
                        &mut words,
                        stack
                            .parent
                            .and_then(name_in)
                            .unwrap_or("a name")
                            .to_string(),
                    ),
                    Some(r) => push(&mut words, expected_words(r).to_string()),
                    None => tokens = true,
                }
            }
            if tokens || !words.is_empty() || words.is_empty() {
                for token in attempts.expected_tokens() {
                    let token = token.to_string();
                    // Layout, comments, character ranges and built-ins are never what is missing.
                    if token.trim().is_empty()
                        || token == "//"
                        || token == "\u{feff}"
                        || token.contains("..")
                        || token == "BUILTIN_RULE"
                        || token.starts_with('\u{feff}')
                    {
                        continue;
                    }
                    push(&mut words, format!("`{token}`"));
                }
            }
        }
        None => {
            if let ErrorVariant::ParsingError { positives, .. } = &e.variant {
                for r in positives {
                    push(&mut words, expected_words(*r).to_string());
                }
            }
        }
    }
    refine(words, text, pos, file, lines)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier-like word that ends exactly at `pos`, with its start.
fn word_before(text: &str, pos: usize) -> Option<(usize, &str)> {
    let before = &text[..pos.min(text.len())];
    // The character before the word may be wider than one byte (a byte order mark is
    // whitespace here), so the word starts after its last byte, not one byte after its first.
    let start = before
        .char_indices()
        .rfind(|&(_, c)| !is_ident_char(c))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    (start < before.len()).then(|| (start, &before[start..]))
}

pub(super) const KEYWORDS: &[&str] = &[
    "action",
    "actions",
    "all",
    "allow",
    "assigned",
    "attr",
    "by",
    "case",
    "casetype",
    "codes",
    "contains",
    "deny",
    "enum",
    "everyone",
    "false",
    "filter",
    "final",
    "grants",
    "group",
    "in",
    "inherit",
    "initial",
    "mode",
    "module",
    "permission",
    "permits",
    "principal",
    "records",
    "ref",
    "relation",
    "require",
    "requires",
    "resource",
    "role",
    "scope",
    "set",
    "states",
    "table",
    "transition",
    "true",
    "under",
    "user",
    "via",
];

fn is_name_word(w: &str) -> bool {
    w == "a name"
        || w == "an action name or `*`"
        || (w.starts_with("a ") || w.starts_with("an ")) && w.ends_with(" name")
}

/// The last token before `end`, skipping layout: a word, or one punctuation character.
fn token_before(text: &str, end: usize) -> Option<&str> {
    let before = text[..end.min(text.len())].trim_end();
    match word_before(text, before.len()) {
        Some((_, w)) => Some(w),
        None => {
            let c = before.chars().next_back()?;
            Some(&before[before.len() - c.len_utf8()..])
        }
    }
}

/// The text of the statement that `pos` lies in, from just after the previous `;`, `{` or `}`.
fn statement_before(text: &str, pos: usize) -> &str {
    let before = &text[..pos.min(text.len())];
    let start = before.rfind([';', '{', '}']).map(|i| i + 1).unwrap_or(0);
    before[start..].trim_start()
}

/// What kind of name the last keyword of a statement is followed by, for "expected a name".
fn name_after_keyword(statement: &str) -> Option<&'static str> {
    let words: Vec<&str> = statement
        .split(|c: char| !is_ident_char(c))
        .filter(|w| !w.is_empty())
        .collect();
    // `data roles` in a module: words only there, so not in `KEYWORDS`.
    if words.starts_with(&["data", "roles"]) {
        return Some("a role name");
    }
    // In a rule's condition: after `principal is`, a relation; after a path's `.`, an
    // attribute or a context field.
    if statement.trim_end().ends_with('.') {
        return Some("an attribute name");
    }
    if words.ends_with(&["principal", "is"]) {
        return Some("a relation name");
    }
    let keyword = words.iter().rev().find(|w| KEYWORDS.contains(w))?;
    Some(match *keyword {
        "role" | "grants" | "by" => "a role name",
        "action" | "actions" | "transition" => "an action name",
        "permission" | "permits" | "requires" => "a permission name",
        "states" | "initial" | "final" => "a state name",
        "relation" | "records" | "via" => "a relation name",
        "inherit" => "a code class (`read` or `write`)",
        "ref" | "under" => "a resource kind name",
        "group" => "a group name",
        "module" => "a module name",
        "enum" => "an enum name",
        "in" if words.first() == Some(&"group") => "a group name",
        "in" => "a state name",
        "set" => "an element type (`string`)",
        "allow" | "deny" if statement.contains(':') => "an action name",
        "allow" | "deny" => "a role name",
        _ => return None,
    })
}

/// Words that describe a whole construct rather than a token, such as "an action group".
fn is_construct_word(w: &str) -> bool {
    !w.starts_with('`')
        && !is_name_word(w)
        && !matches!(w, "a value" | "a whole number" | "end of file")
}

/// The line (1-based) of the innermost `{` still open at `pos`, ignoring strings and comments.
fn open_brace_line(text: &str, lines: &str, pos: usize) -> Option<usize> {
    let mut stack = Vec::new();
    let mut in_string = false;
    let mut in_comment = false;
    let mut prev = '\0';
    for (i, c) in text[..pos.min(text.len())].char_indices() {
        match c {
            c if super::hidden::is_line_break(c) => in_comment = false,
            _ if in_comment => {}
            '"' if prev != '\\' => in_string = !in_string,
            '/' if !in_string && prev == '/' => in_comment = true,
            '{' if !in_string => stack.push(i),
            '}' if !in_string => {
                stack.pop();
            }
            _ => {}
        }
        prev = c;
    }
    stack
        .last()
        .map(|&i| line_starts(lines).take_while(|&s| s <= i).count())
}

/// Builds the diagnostic, turning the commonest failures into a specific message and help.
fn refine(mut words: Vec<String>, text: &str, pos: usize, file: FileId, lines: &str) -> Diagnostic {
    let span_of = |start: usize, end: usize| Span::new(file, start, end.min(text.len()).max(start));
    let rest = &text[pos.min(text.len())..];
    let operator = ["||", "&&", "=>", "->", "==", "!=", "<=", ">="]
        .into_iter()
        .find(|o| rest.starts_with(o));
    let found = operator.map_or_else(|| describe_found(text, pos), |o| format!("`{o}`"));
    let found_word = found.trim_matches('`');
    let next_char = text[pos.min(text.len())..].chars().next();
    let is_break = super::hidden::is_line_break;
    let line_start = text[..pos.min(text.len())]
        .char_indices()
        .rfind(|&(_, c)| is_break(c))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);

    if let Some(d) = habit(text, pos, &span_of) {
        return d;
    }
    // A bad escape inside a string.
    if pos > 0
        && text.as_bytes().get(pos - 1) == Some(&b'\\')
        && words.iter().any(|w| w == "`n`" || w == "`t`")
    {
        let esc = text[pos - 1..].chars().take(2).collect::<String>();
        return Diagnostic::new(
            Code::Syntax,
            span_of(pos - 1, pos - 1 + esc.len()),
            format!("unknown escape `{esc}` in a string"),
        )
        .with_label("not an escape")
        .with_help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`");
    }
    // A string that runs to the end of its line.
    let quotes_before = text[line_start..pos.min(text.len())].matches('"').count()
        - text[line_start..pos.min(text.len())]
            .matches("\\\"")
            .count();
    if next_char.is_none_or(is_break) && quotes_before % 2 == 1 {
        let open = line_start + text[line_start..pos].rfind('"').unwrap_or(0);
        return Diagnostic::new(Code::Syntax, span_of(open, pos), "unterminated string")
            .with_label("this string is not closed")
            .with_help("close it with `\"` on the same line; a string cannot span lines");
    }
    // `set` without its element type: `attr tags: set;`.
    if let Some((start, "set")) = word_before(text, pos) {
        if text[..start].trim_end().ends_with(':') && !text[pos..].trim_start().starts_with('<') {
            return Diagnostic::new(
                Code::Syntax,
                span_of(start, pos),
                "`set` needs an element type",
            )
            .with_label("a set of what?")
            .with_help("write `set<string>`");
        }
    }
    // A reserved word where a name belongs. pest has looked past the keyword, so the error sits
    // just after it.
    // `principal` compared with `contains` or `in`, which take values.
    if let Some((start, "principal")) = word_before(text, pos) {
        if let Some(op @ ("contains" | "in")) = token_before(text, start) {
            return Diagnostic::new(
                Code::Syntax,
                span_of(start, pos),
                format!("`principal` cannot be compared with `{op}`"),
            )
            .with_label("not allowed here")
            .with_help("compare `principal` with `==` or `!=`, e.g. `owner == principal`");
        }
    }
    // A reserved word where a name belongs: only after something that is followed by a name
    // (a `,`, a `:` or a keyword), since after a name or at the start of a statement the word
    // is the keyword itself and what is missing comes after it.
    if words.iter().any(|w| is_name_word(w)) {
        if let Some((start, w)) = word_before(text, pos) {
            let name_follows = match token_before(text, start) {
                Some(",") => true,
                Some(":") => !matches!(w, "ref" | "set"),
                Some(t) => KEYWORDS.contains(&t),
                None => false,
            };
            let comma = text[..start].trim_end().len();
            let new_line = text[comma..start].contains(super::hidden::is_line_break);
            if KEYWORDS.contains(&w) && token_before(text, start) == Some(",") && new_line {
                // A list left with a trailing `,`, then the next statement.
                return Diagnostic::new(
                    Code::Syntax,
                    span_of(comma - 1, comma),
                    format!("expected a name after `,`, found `{w}`"),
                )
                .with_label("trailing `,`")
                .with_help(format!(
                    "a list has no trailing `,`: end it with `;` on line {}",
                    line_of(lines, comma - 1)
                ));
            }
            if KEYWORDS.contains(&w) && name_follows && !next_char.is_some_and(is_ident_char) {
                return Diagnostic::new(
                    Code::Syntax,
                    span_of(start, pos),
                    format!("`{w}` is a reserved word and cannot be used as a name"),
                )
                .with_label("reserved word")
                .with_help(format!("choose another name, e.g. `{w}_`"));
            }
        }
    }

    // A keyword that runs on into a longer word, as in `require groups;`: pest only says that
    // the keyword must not continue.
    if words.is_empty() {
        if let Some((start, prefix)) = word_before(text, pos) {
            if KEYWORDS.contains(&prefix) && next_char.is_some_and(is_ident_char) {
                let word_end = text[pos..]
                    .find(|c: char| !is_ident_char(c))
                    .map_or(text.len(), |i| pos + i);
                let word = &text[start..word_end];
                if let Some(k) = suggest_keyword(word, KEYWORDS).filter(|k| *k != prefix) {
                    return not_a_keyword(span_of(start, word_end), word, k);
                }
                return Diagnostic::new(
                    Code::Syntax,
                    span_of(start, word_end),
                    format!("expected `{prefix}`, found `{word}`"),
                )
                .with_label(format!("expected `{prefix}` here"))
                .with_help(format!("write `{prefix}`"));
            }
        }
    }
    // In a rule's condition, a path cut short after its `.`: the attribute is what is missing.
    let statement = statement_before(text, pos);
    let in_condition = statement
        .split(|c: char| !is_ident_char(c))
        .any(|w| w == "when");
    if in_condition && text[..pos.min(text.len())].trim_end().ends_with('.') {
        words = vec!["an attribute name".into()];
    }
    // Once a statement is under way, what is missing is a token of it, not a new construct:
    // pest also reports the construct it is inside (`attr` in `attr status string;`), and a
    // keyword it has just matched (`all` in `scope all`).
    let has_token = words
        .iter()
        .any(|w| w.starts_with('`') && !w[1..].starts_with(|c: char| c.is_ascii_alphabetic()));
    if !statement.is_empty() && has_token {
        let first = statement
            .split(|c: char| !is_ident_char(c))
            .next()
            .unwrap_or("");
        let last = word_before(text, text[..pos].trim_end().len()).map(|(_, w)| w);
        words.retain(|w| {
            let kw = w.strip_prefix('`').and_then(|w| w.strip_suffix('`'));
            match kw {
                Some(kw) if KEYWORDS.contains(&kw) => kw != first && Some(kw) != last,
                _ => !is_construct_word(w),
            }
        });
    }
    // Characters that are parts of names, numbers and strings are never what is missing.
    let has_value = words
        .iter()
        .any(|w| w == "a value" || w == "a whole number");
    words.retain(|w| {
        let internal = matches!(w.as_str(), "`_`" | "`\"`" | "`\\`" | "a condition");
        let sign = has_value && w == "`-`";
        !internal && !sign
    });
    // A name cannot be what is missing when a name was found (it would have parsed), when a
    // keyword was found (it can never be a name), or right after a name (it would be the same
    // word).
    let found_is_word = found_word
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let prev_end = text[..pos.min(text.len())].trim_end().len();
    let after_name = word_before(text, prev_end).is_some_and(|(start, w)| {
        // `roles` after `data` is the module's `data roles`, not a name; nor are the words of
        // a rule's condition (`when`, `and`, `not`, and `is` after `principal`).
        let before = word_before(text, text[..start].trim_end().len()).map(|(_, w)| w);
        let data_roles = w == "roles" && before == Some("data");
        let condition_word =
            matches!(w, "when" | "and" | "not") || (w == "is" && before == Some("principal"));
        w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && !KEYWORDS.contains(&w)
            && !data_roles
            && !condition_word
    });
    if found_is_word || after_name {
        words.retain(|w| !is_name_word(w));
    }
    if let Some(specific) = name_after_keyword(statement) {
        for w in words.iter_mut().filter(|w| *w == "a name") {
            *w = specific.to_string();
        }
    }
    if words.iter().any(|w| w == "a value") {
        words.retain(|w| w != "`true`" && w != "`false`");
    }
    // In a rule's condition: the words a path starts with read better as what they start.
    let roots = ["`principal`", "`resource`", "`case`", "`context`"];
    let path_words = |w: &String| {
        roots.contains(&w.as_str())
            || w.starts_with("a path (")
            || w == "`principal`, `resource`, `case` or `context`"
    };
    if words.iter().any(|w| w.starts_with("a condition (")) {
        words.retain(|w| !path_words(w) && w != "`not`");
    } else if in_condition && words.iter().any(|w| w == "a value") && words.iter().any(path_words) {
        words.retain(|w| !path_words(w) && w != "a value");
        words.insert(
            0,
            "a value or a path (`principal.attr`, `resource.attr`, `case.attr`, `context.name`)"
                .into(),
        );
    }
    if words.iter().any(|w| w == "`ref`") && words.iter().any(|w| w == "`set`") {
        words.retain(|w| !matches!(w.as_str(), "`ref`" | "`set`" | "a type") && !is_name_word(w));
        words.insert(
            0,
            "a type (`string`, `int`, `bool`, `set<string>`, `ref Kind` or an enum)".into(),
        );
    }
    // A long list of top-level keywords reads better as one phrase.
    let top: Vec<String> = TOP_LEVEL.iter().map(|k| format!("`{k}`")).collect();
    if words.iter().filter(|w| top.contains(w)).count() > 4 {
        words.retain(|w| !top.contains(w) && w != "a declaration");
        words.insert(
            0,
            "a declaration (`role`, `action`, `group`, `case`, `casetype`, …)".into(),
        );
    }
    let mut help: Option<String> = None;
    if words.iter().any(|w| w.starts_with("a header row")) {
        words.retain(|w| w != "`|`");
    }
    // Table cells.
    if words.iter().any(|w| w == "`+`" || w == "`+` or `-`") && words.iter().any(|w| w == "`.`") {
        words.retain(|w| !matches!(w.as_str(), "`+`" | "`-`" | "`.`" | "`+` or `-`"));
        words.insert(0, "a table cell (`+action`, `-action` or `.`)".into());
        help = Some(
            "each cell lists entries such as `+view` to allow and `-edit` to deny, or `.` for nothing".into(),
        );
    }
    if pos > 0
        && matches!(text.as_bytes()[pos - 1], b'+' | b'-')
        && matches!(next_char, Some(' ' | '\t'))
    {
        let sign = text.as_bytes()[pos - 1] as char;
        return Diagnostic::new(
            Code::Syntax,
            span_of(pos - 1, pos + 1),
            format!("expected an action name right after `{sign}`, found {found}"),
        )
        .with_label("no space allowed here")
        .with_help(format!(
            "write the sign and the action together, e.g. `{sign}view`"
        ));
    }
    if found == "`,`" && statement.starts_with("initial") {
        help = Some("a case type has exactly one initial state".into());
    }
    if words.iter().any(|w| w == "`==`") {
        help = Some("conditions are written as `status == open`, `status != open`, `tags contains \"urgent\"` or `status in [open, closed]`".into());
    }
    // Something that belongs in another block.
    match found_word {
        "inherit" if words.iter().any(|w| w == "`relation`") => {
            help = Some("the case kind is the top of every chain, so it has nothing to inherit from; `inherit` belongs in a kind under it, as in `resource Document under Case { inherit read; }`".into())
        }
        "mode" if words.iter().any(|w| w == "`inherit`") => {
            help = Some("an access mode belongs to the `case` kind".into())
        }
        _ => {}
    }
    if help.is_none() {
        help = habit_help(text, pos, &words, statement, operator, in_condition, lines);
    }
    // A misspelt keyword: the closest of the keywords expected here.
    let keyword_found = found_is_word_start(found_word) && !KEYWORDS.contains(&found_word);
    if help.is_none() && keyword_found {
        let mut candidates: Vec<&str> = words
            .iter()
            .filter_map(|w| w.strip_prefix('`').and_then(|w| w.strip_suffix('`')))
            .filter(|w| KEYWORDS.contains(w) || TOP_LEVEL.contains(w))
            .collect();
        if words.iter().any(|w| w.starts_with("a declaration")) {
            candidates.extend(TOP_LEVEL);
        }
        if let Some(k) = suggest_keyword(found_word, &candidates) {
            help = Some(format!("did you mean `{k}`?"));
        }
    }
    // A block that is still open when the next declaration starts.
    if help.is_none() && words.iter().any(|w| w == "`}`") {
        let at_top = TOP_LEVEL.contains(&found_word) && pos == line_start;
        if at_top || next_char.is_none() {
            if let Some(line) = open_brace_line(text, lines, pos) {
                help = Some(format!(
                    "is a `}}` missing? the block opened on line {line} is not closed"
                ));
            }
        }
    }
    let end = match next_char {
        _ if operator.is_some() => pos + 2,
        None => pos + 1,
        Some(c) if is_break(c) => pos + 1,
        Some(c) if is_ident_char(c) => pos + found_word.len(),
        Some(c) => pos + c.len_utf8(),
    };
    let expected = join_or(&words);
    // When what was found is on a later line, the mistake is at the end of the line before:
    // point there, as a missing `;` is missing after the last word, not before the next one.
    let gap = &text[prev_end..pos.min(text.len())];
    let only_tokens = words.iter().all(|w| w.starts_with('`'));
    // Only a missing end is missing at the end of the line before: a `;`, `,` or `{`, or a `}` when
    // the next declaration (or the end of the file) was found. A word that starts a line is
    // the mistake itself (`state` for `states`).
    let missing_end = words.iter().any(|w| w == "`;`" || w == "`,`" || w == "`{`")
        || (words.iter().any(|w| w == "`}`")
            && (TOP_LEVEL.contains(&found_word) || next_char.is_none()));
    let (span, label) = if prev_end > 0 && gap.contains(is_break) && only_tokens && missing_end {
        (
            span_of(prev_end, prev_end + 1),
            format!("expected {expected} here"),
        )
    } else {
        (span_of(pos, end), format!("expected {expected} here"))
    };
    let d = Diagnostic::new(
        Code::Syntax,
        span,
        format!("expected {expected}, found {found}"),
    )
    .with_label(label);
    match help {
        Some(h) => d.with_help(h),
        None => d,
    }
}

fn found_is_word_start(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && w.chars().all(is_ident_char)
}

/// The keyword among `candidates` closest to `word`, if it is close enough to be a typo (case
/// is ignored: `caseType` is `casetype`).
fn suggest_keyword<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    crate::diagnostic::suggest(word, candidates.iter().copied())
}

#[cold]
fn not_a_keyword(span: Span, word: &str, keyword: &str) -> Diagnostic {
    let help = if word.eq_ignore_ascii_case(keyword) {
        format!("did you mean `{keyword}`? keywords are written in lower case")
    } else {
        format!("did you mean `{keyword}`?")
    };
    Diagnostic::new(
        Code::Syntax,
        span,
        format!("expected `{keyword}`, found `{word}`"),
    )
    .with_label("not a keyword")
    .with_help(help)
}

/// The line (1-based) of `lines` that byte `at` lies on.
fn line_of(lines: &str, at: usize) -> usize {
    line_starts(lines).take_while(|&s| s <= at).count()
}

/// Habits from other languages that make a diagnostic of their own: block comments, `#`
/// comments, and Markdown-style pipes at the ends of a table's rows.
fn habit(text: &str, pos: usize, span_of: &dyn Fn(usize, usize) -> Span) -> Option<Diagnostic> {
    let rest = &text[pos.min(text.len())..];
    if rest.starts_with("/*") {
        return Some(
            Diagnostic::new(
                Code::Syntax,
                span_of(pos, pos + 2),
                "casepol has no block comments (`/* … */`)",
            )
            .with_label("a block comment starts here")
            .with_help("start each line of the comment with `//`"),
        );
    }
    if rest.starts_with('#') {
        return Some(
            Diagnostic::new(
                Code::Syntax,
                span_of(pos, pos + 1),
                "a comment starts with `//`, not `#`",
            )
            .with_label("not a comment")
            .with_help("write `//` for `#`"),
        );
    }
    table_pipes(text, pos, span_of)
}

/// In a table: a header row that ends with `|`, or a row that starts with one, as Markdown
/// writes them.
fn table_pipes(
    text: &str,
    pos: usize,
    span_of: &dyn Fn(usize, usize) -> Span,
) -> Option<Diagnostic> {
    let before = &text[..pos.min(text.len())];
    let table = before.rfind("table")?;
    let open = table + before[table..].find('{')?;
    if before[table + 5..open].trim() != "" || before[open..].contains('}') {
        return None;
    }
    let body = &text[open + 1..];
    let body_end = body.find('}').map_or(text.len(), |i| open + 1 + i);
    let mut rows = text[open + 1..body_end]
        .split_inclusive('\n')
        .scan(open + 1, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line))
        })
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"));
    let (header_at, header) = rows.next()?;
    let header_trim = header.trim_end();
    if header_trim.trim_start().starts_with('|') && header_trim.ends_with('|') {
        let bar = header_at + header_trim.len() - 1;
        return Some(
            Diagnostic::new(
                Code::Syntax,
                span_of(bar, bar + 1),
                "a table's header row does not end with `|`",
            )
            .with_label("remove this `|`")
            .with_help("a `|` goes before each column, as in `| Adjuster | Investigator`; there is none after the last"),
        );
    }
    for (at, row) in rows {
        if at > pos {
            break;
        }
        let lead = row.len() - row.trim_start().len();
        if row.trim_start().starts_with('|') {
            let bar = at + lead;
            return Some(
                Diagnostic::new(
                    Code::Syntax,
                    span_of(bar, bar + 1),
                    "a table row starts with its state name, not with `|`",
                )
                .with_label("remove this `|`")
                .with_help("only the header row starts with `|`; write each row as `Filed | +edit | .`, with no `|` at either end"),
            );
        }
    }
    None
}

/// Help for what other languages write otherwise: operators, quotes, parentheses, trailing
/// commas, and a `;` missing at the end of a line.
fn habit_help(
    text: &str,
    pos: usize,
    words: &[String],
    statement: &str,
    operator: Option<&str>,
    in_condition: bool,
    lines: &str,
) -> Option<String> {
    let rest = &text[pos.min(text.len())..];
    let next = rest.chars().next();
    let first_word = statement
        .split(|c: char| !is_ident_char(c))
        .next()
        .unwrap_or("");
    let expects = |w: &str| words.iter().any(|x| x == w);
    let word_found = rest.split(|c: char| !is_ident_char(c)).next().unwrap_or("");
    let help = match (operator, next) {
        (Some("||"), _) => "a condition has no `or`: write a rule for each alternative (what rules allow adds up), or test one value against several with `in`, as in `case.priority in [low, high]`",
        (Some("&&"), _) => {
            "join the terms with `and`, as in `case.priority == high and case.amount > 1000`"
        }
        (Some("=>"), _) => {
            "write the arrow with a hyphen, as in `transition approve: Review -> Approved by Adjuster;`"
        }
        (None, Some('=')) if in_condition => "compare with `==`, as in `case.priority == high`",
        (None, Some('=')) if first_word == "attr" => {
            "an attribute is written `attr name: type;`, as in `attr amount: int;`"
        }
        (None, Some('!')) => "write `not` for `!`, as in `not case.priority == high`",
        (None, Some('(' | ')')) if in_condition => {
            "a condition has no parentheses: write its terms joined by `and`"
        }
        (None, Some('\'')) => "a string is written in double quotes, as in `\"fraud\"`",
        (None, Some('}')) if words.iter().any(|w| w.starts_with("a declaration")) => {
            "this `}` closes no block: remove it"
        }
        (None, Some(';')) if token_before(text, pos) == Some(",") => {
            "a list has no trailing `,`: remove the `,` before the `;`"
        }
        (None, Some(';')) if in_enum(text, pos) => {
            "an enum's variants are separated by `,`, as in `enum Priority { low, high }`"
        }
        _ if word_found == "or" && in_condition => "a condition has no `or`: write a rule for each alternative (what rules allow adds up), or test one value against several with `in`, as in `case.priority in [low, high]`",
        _ if first_word == "attr" && expects("`:`") => {
            "an attribute is written `attr name: type;`, as in `attr amount: int;`"
        }
        _ if matches!(first_word, "allow" | "deny") && expects("`:`") => {
            "a rule is written `allow Adjuster: view;`, with `:` between its subjects and its actions"
        }
        _ if expects("`by`") => {
            "a transition says who may take it: `transition approve: Review -> Approved by Adjuster;`"
        }
        _ => {
            // A list cut short by a trailing `,` before the next statement.
            let before = text[..pos.min(text.len())].trim_end();
            let gap = &text[before.len()..pos.min(text.len())];
            let new_line = gap.contains(super::hidden::is_line_break);
            if before.ends_with(',') && new_line {
                let line = line_of(lines, before.len() - 1);
                return Some(format!("a list has no trailing `,`: end it with `;` on line {line}"));
            }
            if expects("`;`") && (new_line || next.is_none()) && !before.is_empty() {
                let line = line_of(lines, before.len() - 1);
                return Some(format!("is a `;` missing at the end of line {line}?"));
            }
            return None;
        }
    };
    Some(help.to_string())
}

/// Whether `pos` is inside the braces of an `enum`.
fn in_enum(text: &str, pos: usize) -> bool {
    let before = &text[..pos.min(text.len())];
    let Some(open) = before.rfind(['{', '}']) else {
        return false;
    };
    let head: Vec<&str> = before[..open]
        .split(|c: char| !is_ident_char(c))
        .filter(|w| !w.is_empty())
        .rev()
        .take(2)
        .collect();
    before.as_bytes()[open] == b'{' && head.get(1) == Some(&"enum")
}

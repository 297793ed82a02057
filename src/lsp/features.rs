//! The answers of the language server: diagnostics, hover, definition, references, rename,
//! document symbols, completion, formatting and semantic tokens, each read from an
//! [`Analysis`].

use super::analysis::{Analysis, File};
use super::index::{Occurrence, Sort, BUILTIN_TYPES};
use casepol::diagnostic::{self, Diagnostic, FileId, Severity, Span};
use casepol::limits::MAX_NAME_CHARS;
use lsp_server::ErrorCode;
use lsp_types as lt;
use std::collections::BTreeMap;

/// The reserved words of the grammar (`keyword` in grammar/casepol.pest): never a name.
pub(crate) const KEYWORDS: [&str; 42] = [
    "permission",
    "transition",
    "principal",
    "assigned",
    "casetype",
    "contains",
    "everyone",
    "relation",
    "requires",
    "resource",
    "actions",
    "inherit",
    "initial",
    "permits",
    "records",
    "require",
    "action",
    "filter",
    "grants",
    "module",
    "states",
    "allow",
    "codes",
    "false",
    "final",
    "group",
    "scope",
    "table",
    "under",
    "attr",
    "case",
    "deny",
    "enum",
    "mode",
    "role",
    "true",
    "user",
    "all",
    "ref",
    "set",
    "via",
    "by",
];

/// Words that are keywords only where the grammar expects them, and names elsewhere.
const CONTEXT_WORDS: [&str; 9] = [
    "in", "data", "roles", "any", "when", "and", "not", "is", "context",
];

fn is_keyword(w: &str) -> bool {
    KEYWORDS.contains(&w) || w == "in"
}

/// The legend of the semantic tokens, in the order of [`token_type`]'s numbers.
const TOKEN_TYPES: [&str; 16] = [
    "keyword",
    "comment",
    "string",
    "number",
    "class",
    "parameter",
    "function",
    "decorator",
    "namespace",
    "enum",
    "enumMember",
    "type",
    "struct",
    "event",
    "property",
    "operator",
];
const TOKEN_MODIFIERS: [&str; 2] = ["declaration", "defaultLibrary"];

pub(crate) fn capabilities() -> lt::ServerCapabilities {
    lt::ServerCapabilities {
        text_document_sync: Some(lt::TextDocumentSyncCapability::Options(
            lt::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lt::TextDocumentSyncKind::FULL),
                save: Some(lt::TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            },
        )),
        hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lt::OneOf::Left(true)),
        references_provider: Some(lt::OneOf::Left(true)),
        rename_provider: Some(lt::OneOf::Right(lt::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        document_symbol_provider: Some(lt::OneOf::Left(true)),
        completion_provider: Some(lt::CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..Default::default()
        }),
        document_formatting_provider: Some(lt::OneOf::Left(true)),
        semantic_tokens_provider: Some(
            lt::SemanticTokensServerCapabilities::SemanticTokensOptions(
                lt::SemanticTokensOptions {
                    legend: lt::SemanticTokensLegend {
                        token_types: TOKEN_TYPES.iter().map(|t| (*t).into()).collect(),
                        token_modifiers: TOKEN_MODIFIERS.iter().map(|t| (*t).into()).collect(),
                    },
                    full: Some(lt::SemanticTokensFullOptions::Bool(true)),
                    range: None,
                    work_done_progress_options: Default::default(),
                },
            ),
        ),
        ..Default::default()
    }
}

// ---- diagnostics ---------------------------------------------------------------------------

/// The diagnostics of every file of the analysis, by URI (files without any included, so that
/// their old diagnostics are cleared).
pub(crate) fn diagnostics(a: &Analysis) -> BTreeMap<String, Vec<lt::Diagnostic>> {
    let mut out: BTreeMap<String, Vec<lt::Diagnostic>> =
        a.uris.iter().map(|u| (u.clone(), Vec::new())).collect();
    for d in &a.diags {
        let uri = a.uri(d.span().file);
        if let Some(list) = out.get_mut(uri) {
            list.push(to_lsp(a, d));
        }
    }
    out
}

fn to_lsp(a: &Analysis, d: &Diagnostic) -> lt::Diagnostic {
    let mut message = d.message.clone();
    if let Some(label) = d.labels.first().filter(|l| !l.message.is_empty()) {
        message.push_str(&format!(": {}", label.message));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<lt::DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .skip(1)
        .filter_map(|l| {
            Some(lt::DiagnosticRelatedInformation {
                location: location(a, l.span)?,
                message: if l.message.is_empty() {
                    "here".into()
                } else {
                    l.message.clone()
                },
            })
        })
        .collect();
    lt::Diagnostic {
        range: a.range(d.span()),
        severity: Some(match d.severity {
            Severity::Error => lt::DiagnosticSeverity::ERROR,
            _ => lt::DiagnosticSeverity::WARNING,
        }),
        code: Some(lt::NumberOrString::String(d.code.as_str().into())),
        source: Some("casepol".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

fn location(a: &Analysis, span: Span) -> Option<lt::Location> {
    Some(lt::Location {
        uri: a.uri(span.file).parse().ok()?,
        range: a.range(span),
    })
}

// ---- names ---------------------------------------------------------------------------------

fn offset(a: &Analysis, f: File, pos: lt::Position) -> usize {
    a.lines(f.0).offset(a.text(f), pos)
}

fn occurrence(a: &Analysis, f: File, pos: lt::Position) -> Option<&Occurrence> {
    a.index.at(f.0, offset(a, f, pos))
}

/// What a declaration is, for a person: "role", "attribute of the kind `Case`".
fn describe(d: &Occurrence) -> String {
    match d.sort {
        Sort::Attribute if d.scope == "user" => "attribute of the principal (`user`)".into(),
        Sort::Attribute if !d.scope.is_empty() => format!("attribute of the kind `{}`", d.scope),
        Sort::ContextField => "field of the request context".into(),
        Sort::State if !d.scope.is_empty() => format!("state of the case type `{}`", d.scope),
        Sort::Variant if !d.scope.is_empty() => format!("variant of the enum `{}`", d.scope),
        s => s.word().into(),
    }
}

fn place(a: &Analysis, span: Span) -> String {
    let (line, col) = a.sources.line_col(span);
    format!("{}:{line}:{col}", a.sources.name(span.file))
}

pub(crate) fn hover(a: &Analysis, f: File, pos: lt::Position) -> Option<lt::Hover> {
    let at = offset(a, f, pos);
    let mut parts = Vec::new();
    let mut range = None;
    if let Some(o) = a.index.at(f.0, at) {
        range = Some(a.range(o.span));
        let decls = a.index.declarations(o);
        if decls.is_empty() {
            parts.push(format!("**{}** `{}`: not declared", o.sort.word(), o.name));
        }
        for d in decls {
            let mut s = format!("**{}** `{}`", describe(d), d.name);
            if let Some(detail) = &d.detail {
                s.push_str(&format!(", {detail}"));
            }
            s.push_str(&format!("\n\ndeclared at {}", place(a, d.span)));
            parts.push(s);
        }
    }
    // The long explanation of every diagnostic at this place (`casepol explain-code`).
    let mut codes = Vec::new();
    for d in &a.diags {
        let s = d.span();
        if s.file == f.0
            && s.start as usize <= at
            && at <= s.end as usize
            && !codes.contains(&d.code)
        {
            codes.push(d.code);
        }
    }
    for code in codes {
        if let Some(text) = diagnostic::explanation(code) {
            parts.push(text.to_string());
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(lt::Hover {
        contents: lt::HoverContents::Markup(lt::MarkupContent {
            kind: lt::MarkupKind::Markdown,
            value: parts.join("\n\n---\n\n"),
        }),
        range,
    })
}

pub(crate) fn definition(
    a: &Analysis,
    f: File,
    pos: lt::Position,
) -> Option<lt::GotoDefinitionResponse> {
    let o = occurrence(a, f, pos)?;
    let locs: Vec<_> = a
        .index
        .declarations(o)
        .into_iter()
        .filter_map(|d| location(a, d.span))
        .collect();
    if locs.is_empty() {
        return None;
    }
    Some(lt::GotoDefinitionResponse::Array(locs))
}

pub(crate) fn references(
    a: &Analysis,
    f: File,
    pos: lt::Position,
    include_declaration: bool,
) -> Option<Vec<lt::Location>> {
    let o = occurrence(a, f, pos)?;
    Some(
        a.index
            .references(o)
            .into_iter()
            .filter(|r| include_declaration || !r.decl)
            .filter_map(|r| location(a, r.span))
            .collect(),
    )
}

type Refusal = (ErrorCode, String);

pub(crate) fn prepare_rename(
    a: &Analysis,
    f: File,
    pos: lt::Position,
) -> Result<Option<lt::PrepareRenameResponse>, Refusal> {
    let at = offset(a, f, pos);
    let Some(o) = a.index.at(f.0, at) else {
        let word = word_at(a.text(f), at);
        return Err((
            ErrorCode::InvalidRequest,
            if is_keyword(word) || CONTEXT_WORDS.contains(&word) {
                format!("`{word}` is a keyword of casepol and cannot be renamed")
            } else {
                "there is no name here to rename".into()
            },
        ));
    };
    if a.index.declarations(o).is_empty() {
        return Err((
            ErrorCode::InvalidRequest,
            format!(
                "`{}` is not declared, so there is nothing to rename",
                o.name
            ),
        ));
    }
    Ok(Some(lt::PrepareRenameResponse::RangeWithPlaceholder {
        range: a.range(o.span),
        placeholder: o.name.clone(),
    }))
}

// `WorkspaceEdit::changes` is keyed by `Uri`, which clippy counts as mutable; it is not
// changed while in the map.
#[allow(clippy::mutable_key_type)]
pub(crate) fn rename(
    a: &Analysis,
    f: File,
    pos: lt::Position,
    new_name: &str,
) -> Result<Option<lt::WorkspaceEdit>, Refusal> {
    prepare_rename(a, f, pos)?;
    let Some(o) = occurrence(a, f, pos) else {
        return Ok(None);
    };
    if let Some(why) = bad_name(new_name) {
        return Err((ErrorCode::InvalidParams, why));
    }
    let mut changes: std::collections::HashMap<lt::Uri, Vec<lt::TextEdit>> = Default::default();
    for r in a.index.references(o) {
        let Some(loc) = location(a, r.span) else {
            continue;
        };
        changes.entry(loc.uri).or_default().push(lt::TextEdit {
            range: loc.range,
            new_text: new_name.to_string(),
        });
    }
    Ok(Some(lt::WorkspaceEdit {
        changes: Some(changes),
        ..Default::default()
    }))
}

/// Why `name` cannot be a name, if it cannot.
fn bad_name(name: &str) -> Option<String> {
    let shown: String = diagnostic::words::printable(name)
        .chars()
        .take(40)
        .collect();
    let ok_start = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    let ok_rest = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok_start || !ok_rest {
        return Some(format!(
            "`{shown}` is not a name: a name starts with a letter or `_` and holds only ASCII letters, digits and `_`"
        ));
    }
    if is_keyword(name) {
        return Some(format!(
            "`{shown}` is a keyword of casepol and cannot be a name"
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!("a name has at most {MAX_NAME_CHARS} characters"));
    }
    None
}

fn word_at(text: &str, at: usize) -> &str {
    let b = text.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut start = at.min(b.len());
    while start > 0 && is_word(b[start - 1]) {
        start -= 1;
    }
    let mut end = at.min(b.len());
    while end < b.len() && is_word(b[end]) {
        end += 1;
    }
    &text[start..end]
}

// ---- symbols ---------------------------------------------------------------------------------

fn symbol_kind(s: Sort) -> lt::SymbolKind {
    match s {
        Sort::Role => lt::SymbolKind::CLASS,
        Sort::Relation => lt::SymbolKind::FIELD,
        Sort::Action | Sort::ActionGroup => lt::SymbolKind::FUNCTION,
        Sort::Permission => lt::SymbolKind::KEY,
        Sort::Group => lt::SymbolKind::NAMESPACE,
        Sort::Enum => lt::SymbolKind::ENUM,
        Sort::Variant => lt::SymbolKind::ENUM_MEMBER,
        Sort::Kind | Sort::CaseKind => lt::SymbolKind::STRUCT,
        Sort::CaseType => lt::SymbolKind::CLASS,
        Sort::Module => lt::SymbolKind::MODULE,
        Sort::State => lt::SymbolKind::EVENT,
        Sort::Attribute | Sort::ContextField => lt::SymbolKind::PROPERTY,
        _ => lt::SymbolKind::VARIABLE,
    }
}

/// The declarations of one file: kinds hold their attributes, case types their states, enums
/// their variants.
#[allow(deprecated)]
pub(crate) fn symbols(a: &Analysis, f: File) -> lt::DocumentSymbolResponse {
    let decls: Vec<&Occurrence> = a
        .index
        .occurrences
        .iter()
        .filter(|o| o.decl && o.span.file == f.0)
        .collect();
    let symbol = |o: &Occurrence| lt::DocumentSymbol {
        name: o.name.clone(),
        detail: Some(match &o.detail {
            Some(d) => format!("{}, {d}", o.sort.word()),
            None => o.sort.word().into(),
        }),
        kind: symbol_kind(o.sort),
        tags: None,
        deprecated: None,
        range: a.range(o.span),
        selection_range: a.range(o.span),
        children: None,
    };
    let is_parent = |o: &Occurrence| {
        matches!(
            o.sort,
            Sort::Kind | Sort::CaseKind | Sort::CaseType | Sort::Enum
        )
    };
    let mut out: Vec<lt::DocumentSymbol> = Vec::new();
    let mut parent_sort: Vec<Sort> = Vec::new();
    for o in decls {
        let child_of_last = !o.scope.is_empty()
            && out.last().is_some_and(|p| p.name == o.scope)
            && parent_sort.last().is_some_and(|s| {
                matches!(
                    (s, o.sort),
                    (Sort::Kind | Sort::CaseKind, Sort::Attribute)
                        | (Sort::CaseType, Sort::State)
                        | (Sort::Enum, Sort::Variant)
                )
            });
        if child_of_last {
            if let Some(p) = out.last_mut() {
                p.children.get_or_insert_with(Vec::new).push(symbol(o));
            }
            continue;
        }
        out.push(symbol(o));
        parent_sort.push(if is_parent(o) { o.sort } else { Sort::Type });
    }
    lt::DocumentSymbolResponse::Nested(out)
}

// ---- completion ----------------------------------------------------------------------------

/// The keywords that may start a declaration in each block, by the keyword that opened it.
fn block_keywords(block: &str) -> &'static [&'static str] {
    match block {
        "" => &[
            "role",
            "action",
            "actions",
            "permission",
            "module",
            "group",
            "enum",
            "user",
            "case",
            "resource",
            "casetype",
            "codes",
            "require",
            "context",
            "allow",
            "deny",
        ],
        "module" => &["actions", "records", "data"],
        "group" => &["grants", "permits", "scope"],
        "case" => &["attr", "relation", "mode", "allow", "deny"],
        "resource" => &["attr", "relation", "inherit", "allow", "deny"],
        "user" => &["attr"],
        "casetype" => &[
            "states",
            "initial",
            "final",
            "transition",
            "module",
            "table",
            "allow",
            "deny",
        ],
        _ => &[],
    }
}

/// Which names fit where the cursor is.
#[derive(Debug, Default)]
struct Wanted {
    sorts: Vec<Sort>,
    keywords: Vec<&'static str>,
    /// Attributes of this owner (`user`, `context`, a kind; empty: any).
    attrs_of: Option<String>,
    builtin_types: bool,
}

pub(crate) fn completion(
    a: &Analysis,
    f: File,
    pos: lt::Position,
) -> Option<lt::CompletionResponse> {
    let text = a.text(f);
    let at = offset(a, f, pos);
    let toks = lex(&text[..at]);
    // The word being typed is not context.
    let mut toks: &[Tok] = &toks;
    if let Some(last) = toks.last() {
        if last.kind == TokKind::Word && last.end == at {
            toks = &toks[..toks.len() - 1];
        }
    }
    let wanted = wanted(text, toks, a);
    let mut items = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for k in &wanted.keywords {
        if seen.insert((*k).to_string()) {
            items.push(lt::CompletionItem {
                label: (*k).into(),
                kind: Some(lt::CompletionItemKind::KEYWORD),
                ..Default::default()
            });
        }
    }
    if wanted.builtin_types {
        for t in BUILTIN_TYPES {
            if seen.insert(t.to_string()) {
                items.push(lt::CompletionItem {
                    label: t.into(),
                    kind: Some(lt::CompletionItemKind::TYPE_PARAMETER),
                    detail: Some("built-in type".into()),
                    ..Default::default()
                });
            }
        }
    }
    // While the text has a syntax error, the declarations of the last text without one count
    // too: a declaration after the error may be missing from the partial AST.
    let fallback = a.fallback.iter().flat_map(|f| f.index.declared());
    for d in a.index.declared().chain(fallback) {
        let fits = wanted.sorts.contains(&d.sort)
            || (matches!(d.sort, Sort::Attribute | Sort::ContextField)
                && wanted
                    .attrs_of
                    .as_ref()
                    .is_some_and(|o| o.is_empty() || *o == d.scope));
        if fits && seen.insert(d.name.clone()) {
            items.push(lt::CompletionItem {
                label: d.name.clone(),
                kind: Some(completion_kind(d.sort)),
                detail: Some(describe(d)),
                ..Default::default()
            });
        }
    }
    Some(lt::CompletionResponse::Array(items))
}

fn completion_kind(s: Sort) -> lt::CompletionItemKind {
    match s {
        Sort::Role | Sort::CaseType => lt::CompletionItemKind::CLASS,
        Sort::Relation => lt::CompletionItemKind::FIELD,
        Sort::Action | Sort::ActionGroup => lt::CompletionItemKind::FUNCTION,
        Sort::Permission => lt::CompletionItemKind::CONSTANT,
        Sort::Group | Sort::Module => lt::CompletionItemKind::MODULE,
        Sort::Enum => lt::CompletionItemKind::ENUM,
        Sort::Variant => lt::CompletionItemKind::ENUM_MEMBER,
        Sort::Kind | Sort::CaseKind => lt::CompletionItemKind::STRUCT,
        Sort::State => lt::CompletionItemKind::EVENT,
        Sort::Attribute | Sort::ContextField => lt::CompletionItemKind::PROPERTY,
        _ => lt::CompletionItemKind::VARIABLE,
    }
}

const SUBJECTS: [Sort; 2] = [Sort::Role, Sort::Relation];
const ACTIONS: [Sort; 2] = [Sort::Action, Sort::ActionGroup];

/// Reads the tokens before the cursor: the blocks it is in, the statement it is in, and the
/// last words of that statement.
fn wanted(text: &str, toks: &[Tok], a: &Analysis) -> Wanted {
    let word = |t: &Tok| &text[t.start..t.end];
    // The blocks open at the cursor, each with the first word of the statement that opened it
    // and that statement's second word (a kind's name).
    let mut blocks: Vec<(&str, &str)> = Vec::new();
    let mut stmt_start = 0;
    for (i, t) in toks.iter().enumerate() {
        match (t.kind, word(t)) {
            (TokKind::Punct, "{") => {
                let first = toks[stmt_start..i]
                    .iter()
                    .find(|t| t.kind == TokKind::Word)
                    .map_or("", |t| word(t));
                let second = toks[stmt_start..i]
                    .iter()
                    .filter(|t| t.kind == TokKind::Word)
                    .nth(1)
                    .map_or("", |t| word(t));
                blocks.push((first, second));
                stmt_start = i + 1;
            }
            (TokKind::Punct, "}") => {
                blocks.pop();
                stmt_start = i + 1;
            }
            (TokKind::Punct, ";") => stmt_start = i + 1,
            _ => {}
        }
    }
    let (block, block_name) = blocks.last().copied().unwrap_or(("", ""));
    let stmt = &toks[stmt_start..];
    let words: Vec<&str> = stmt.iter().map(word).collect();
    let last = words.last().copied().unwrap_or("");
    let has = |w: &str| words.contains(&w);
    let case_kind = a
        .index
        .declared()
        .find(|d| d.sort == Sort::CaseKind)
        .map(|d| d.name.clone())
        .unwrap_or_default();
    let mut w = Wanted::default();
    if stmt.is_empty() {
        w.keywords = block_keywords(block).to_vec();
        match block {
            "mode" => w.sorts = vec![Sort::Variant],
            "filter" | "scope" => w.attrs_of = Some(case_kind),
            "context" | "codes" => {}
            "module" if blocks.len() > 1 => {
                w.sorts = SUBJECTS.to_vec();
                w.keywords = vec!["everyone"];
            }
            "table" => w.sorts = vec![Sort::State],
            _ => {}
        }
        return w;
    }
    if last == "." {
        let root = words.len().checked_sub(2).map_or("", |i| words[i]);
        w.attrs_of = match root {
            "principal" => Some("user".into()),
            "context" => Some("context".into()),
            "case" => Some(case_kind),
            "resource" if matches!(block, "resource" | "case") => Some(block_name.into()),
            "resource" => Some(String::new()),
            _ => None,
        };
        return w;
    }
    let first = words[0];
    match first {
        "allow" | "deny" => {
            if has("when") {
                w.keywords = vec![
                    "principal",
                    "resource",
                    "case",
                    "context",
                    "not",
                    "and",
                    "is",
                    "in",
                    "contains",
                ];
                w.sorts = vec![Sort::Variant, Sort::Relation];
            } else if has(":") && last == "in" {
                w.sorts = vec![Sort::State];
            } else if has(":") {
                w.sorts = ACTIONS.to_vec();
                w.keywords = vec!["in", "when"];
            } else {
                w.sorts = SUBJECTS.to_vec();
                w.keywords = vec!["everyone"];
            }
        }
        "grants" => w.sorts = vec![Sort::Role],
        "permits" => w.sorts = vec![Sort::Permission],
        "records" => w.sorts = vec![Sort::Relation],
        "data" => {
            w.sorts = vec![Sort::Role];
            w.keywords = vec!["roles"];
        }
        "action" if last == "requires" => w.sorts = vec![Sort::Permission],
        "action" => w.keywords = vec!["requires"],
        "actions" if has("=") || block == "module" => w.sorts = ACTIONS.to_vec(),
        "group" if last == "in" => w.sorts = vec![Sort::Group],
        "resource" if last == "under" => w.sorts = vec![Sort::Kind, Sort::CaseKind],
        "resource" => w.keywords = vec!["under"],
        "scope" if last == "via" => w.sorts = vec![Sort::Relation],
        "scope" if last == "assigned" => w.keywords = vec!["via"],
        "scope" if last == "filter" => w.keywords = vec!["any", "all"],
        "scope" => w.keywords = vec!["all", "assigned", "filter"],
        "inherit" => w.keywords = vec!["read", "write"],
        "initial" | "final" => w.sorts = vec![Sort::State],
        "mode" => w.attrs_of = Some(block_name.into()),
        "transition" if has("by") => {
            w.sorts = SUBJECTS.to_vec();
            w.keywords = vec!["everyone"];
        }
        "transition" if has("->") => w.keywords = vec!["by"],
        "transition" if has(":") => w.sorts = vec![Sort::State],
        "transition" => w.sorts = ACTIONS.to_vec(),
        "module" if block == "casetype" || block.is_empty() => w.sorts = vec![Sort::Module],
        "attr" if last == "ref" => w.sorts = vec![Sort::Kind, Sort::CaseKind],
        "attr" if has(":") => {
            w.builtin_types = true;
            w.sorts = vec![Sort::Enum];
            w.keywords = vec!["set", "ref"];
        }
        _ if block == "context" && has(":") => {
            w.builtin_types = true;
            w.sorts = vec![Sort::Enum];
            w.keywords = vec!["set"];
        }
        _ if block == "codes" && has(":") => w.sorts = ACTIONS.to_vec(),
        _ if block == "mode" && has(":") => {
            w.sorts = vec![Sort::Relation];
            w.keywords = vec!["everyone"];
        }
        _ if block == "module" && blocks.len() > 1 && has(":") => w.sorts = ACTIONS.to_vec(),
        _ if block == "module" && blocks.len() > 1 => w.sorts = SUBJECTS.to_vec(),
        _ if block == "table" => w.sorts = ACTIONS.to_vec(),
        _ => {}
    }
    w
}

// ---- formatting ----------------------------------------------------------------------------

pub(crate) fn formatting(a: &Analysis, f: File) -> Result<Option<Vec<lt::TextEdit>>, Refusal> {
    let text = a.text(f);
    match casepol::internal::format::format_source(FileId(0), text) {
        Ok(formatted) if formatted == text => Ok(Some(Vec::new())),
        Ok(formatted) => Ok(Some(vec![lt::TextEdit {
            range: a.lines(f.0).range(text, 0, text.len()),
            new_text: formatted,
        }])),
        // The syntax errors are shown as diagnostics already; there is nothing to format.
        Err(casepol::internal::format::FormatError::Syntax(_)) => Ok(None),
        Err(casepol::internal::format::FormatError::Bug(d)) => Err((
            ErrorCode::InternalError,
            format!("{}: {}", d.code.as_str(), d.message),
        )),
    }
}

// ---- semantic tokens -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    Word,
    Number,
    Str,
    Comment,
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    kind: TokKind,
    start: usize,
    end: usize,
}

/// The tokens of any text, valid or not: words, numbers, strings (to their closing quote or
/// the end of their line), `//` comments, and each other mark (`->`, `==`, `!=`, `<=` and
/// `>=` as one). Characters outside these are skipped.
fn lex(text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let is_break = |c: u8| c == b'\n' || c == b'\r';
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && !is_break(b[i]) {
                i += 1;
            }
            TokKind::Comment
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' && !is_break(b[i]) {
                i += if b[i] == b'\\' && i + 1 < b.len() && !is_break(b[i + 1]) {
                    2
                } else {
                    1
                };
            }
            if i < b.len() && b[i] == b'"' {
                i += 1;
            }
            TokKind::Str
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            TokKind::Word
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            TokKind::Number
        } else if c.is_ascii() {
            let two = b.get(i..i + 2);
            i += if matches!(two, Some(b"->" | b"==" | b"!=" | b"<=" | b">=")) {
                2
            } else {
                1
            };
            TokKind::Punct
        } else {
            // A character outside the grammar's tokens (in a comment or string it was read
            // with them): skip it whole.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        // A comment or string may end inside a character only at a line break or quote, which
        // are ASCII, so `i` is on a character boundary.
        out.push(Tok {
            kind,
            start,
            end: i,
        });
    }
    out
}

fn token_type(s: Sort) -> u32 {
    match s {
        Sort::Role => 4,
        Sort::Relation => 5,
        Sort::Action | Sort::ActionGroup | Sort::ActionLike => 6,
        Sort::Permission => 7,
        Sort::Group | Sort::Module => 8,
        Sort::Enum => 9,
        Sort::Variant => 10,
        Sort::Kind | Sort::CaseKind | Sort::Type => 11,
        Sort::CaseType => 12,
        Sort::State => 13,
        Sort::Attribute | Sort::ContextField => 14,
        Sort::Subject => 4,
    }
}

pub(crate) fn semantic_tokens(a: &Analysis, f: File) -> lt::SemanticTokens {
    let text = a.text(f);
    let lines = a.lines(f.0);
    let mut data = Vec::new();
    let (mut prev_line, mut prev_col) = (0u32, 0u32);
    let occurrences: Vec<&Occurrence> = a
        .index
        .occurrences
        .iter()
        .filter(|o| o.span.file == f.0)
        .collect();
    let mut next = 0;
    for t in lex(text) {
        let word = &text[t.start..t.end];
        let (ty, mods) = match t.kind {
            TokKind::Comment => (1, 0),
            TokKind::Str => (2, 0),
            TokKind::Number => (3, 0),
            TokKind::Punct => match word {
                "->" | "==" | "!=" | "<=" | ">=" | "<" | ">" | "=" | "*" => (15, 0),
                _ => continue,
            },
            TokKind::Word => {
                while next < occurrences.len() && (occurrences[next].span.start as usize) < t.start
                {
                    next += 1;
                }
                match occurrences
                    .get(next)
                    .filter(|o| o.span.start as usize == t.start)
                {
                    Some(o) => {
                        // A use takes the sort of what it names, when that is declared.
                        let sort = a.index.declarations(o).first().map_or(o.sort, |d| d.sort);
                        (token_type(sort), u32::from(o.decl))
                    }
                    None if BUILTIN_TYPES.contains(&word) => (11, 2),
                    None if is_keyword(word) || CONTEXT_WORDS.contains(&word) => (0, 0),
                    None if matches!(word, "read" | "write" | "any") => (0, 0),
                    None => continue,
                }
            }
        };
        let start = lines.position(text, t.start);
        let end = lines.position(text, t.end);
        if end.line != start.line {
            continue;
        }
        let delta_line = start.line - prev_line;
        let delta_start = if delta_line == 0 {
            start.character - prev_col
        } else {
            start.character
        };
        data.push(lt::SemanticToken {
            delta_line,
            delta_start,
            length: end.character - start.character,
            token_type: ty,
            token_modifiers_bitset: mods,
        });
        prev_line = start.line;
        prev_col = start.character;
    }
    lt::SemanticTokens {
        result_id: None,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reserved words are the grammar's: each one is refused as a name, and the words
    /// that are keywords only in context are accepted.
    #[test]
    fn keywords_are_the_grammars() {
        use casepol::diagnostic::FileId;
        use casepol::internal::syntax::parse;
        let refused = |w: &str| !parse(FileId(0), &format!("role {w};")).1.is_empty();
        for k in KEYWORDS.iter().chain(&["in"]) {
            assert!(refused(k), "`{k}` is reserved");
            assert!(!refused(&format!("{k}_")), "`{k}_` is a name");
        }
        for w in CONTEXT_WORDS.iter().filter(|w| **w != "in") {
            assert!(!refused(w), "`{w}` is a name outside its context");
        }
        for w in ["read", "write", "string", "datetime", "everyoneelse"] {
            assert!(!refused(w), "`{w}` is a name");
        }
    }

    #[test]
    fn lexes_any_text() {
        let text = "allow a: b; // é\n\"x\\\"é\" 12 -> \u{1F600} \"open";
        let kinds: Vec<TokKind> = lex(text).iter().map(|t| t.kind).collect();
        use TokKind::*;
        assert_eq!(
            kinds,
            [Word, Word, Punct, Word, Punct, Comment, Str, Number, Punct, Str]
        );
        for t in lex(text) {
            assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
        }
    }
}

//! AST to checked IR: resolves every name, checks types and structure, and reports every mistake
//! it finds in one run.
//!
//! The checker keeps going after an error: each declaration is resolved on its own, so one
//! policy with three mistakes yields three diagnostics. It returns an IR only when no error was
//! found; warnings do not block it.
//!
//! The checker is one `Checker` whose methods are spread over files that mirror the
//! declarations of the AST and the IR: `names` (the namespaces, the first pass that declares
//! every name, and the lookups that report an unknown one), `types` (enums, attribute types,
//! literals), `kinds` (resource kinds, the case kind, attributes, access modes, access-code
//! classes), `groups` (access groups and their scopes), `rules` (rule statements and the count
//! of their entries) and `casetypes` (modules, states, transitions, module grants, tables and
//! reachability). This file holds the checker itself, the order of the second pass, and the
//! limits on the policy as a whole.

mod casetypes;
mod conditions;
mod groups;
mod kinds;
mod names;
mod rules;
mod types;

use crate::ast::{self, Item};
use crate::bits::Bits;
use crate::diagnostic::words::{self, thousands};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::*;
use crate::limits::{MAX_CHECK_ERRORS, MAX_TABLE_SLOTS, SUGGESTION_BUDGET};
use std::cell::Cell;
use std::collections::HashMap;

/// The most roles plus relations a policy may declare: role sets are fixed 256-bit sets.
pub use crate::limits::MAX_SUBJECTS;

use names::{named, Names, Sort};

/// Checks parsed files (one policy may span several) and builds the IR.
///
/// Each step is linear in the policy, or n log n: names are looked up in hash maps, sets of
/// actions are 256-bit sets, and every count and product that sizes a later allocation (names
/// of each sort, attributes, table slots, rule entries) is checked against `src/limits.rs`
/// before that allocation is made.
pub fn check(files: &[ast::PolicyAst]) -> (Option<Policy>, Vec<Diagnostic>) {
    let mut cx = Checker::new();
    let items: Vec<&Item> = files.iter().flat_map(|f| f.items.iter()).collect();
    if let Some(d) = too_many_declarations(&items) {
        return (None, vec![d]);
    }
    // Over a count limit, ids would not fit the compiled sets: nothing further is checked.
    if !cx.declare(&items) {
        let mut diags = cx.diags;
        diags.sort_by_key(|d| (d.span().file, d.span().start, d.code));
        return (None, diags);
    }
    let policy = cx.resolve(&items);
    if cx.errors == 0 {
        cx.table_sizes(&policy);
    }
    if cx.errors > MAX_CHECK_ERRORS {
        let more = cx.errors - MAX_CHECK_ERRORS;
        cx.diags.push(
            Diagnostic::new(
                Code::Limit,
                cx.first_dropped,
                format!(
                    "too many errors: {} more after the first {} are not reported",
                    thousands(more),
                    thousands(MAX_CHECK_ERRORS)
                ),
            )
            .with_label("the first error not reported")
            .with_help("fix the errors reported, then check again"),
        );
    }
    let mut diags = cx.diags;
    diags.sort_by_key(|d| (d.span().file, d.span().start, d.code));
    let ok = !diags.iter().any(Diagnostic::is_error);
    (ok.then_some(policy), diags)
}

/// Checks a condition asked of a query (`--where`), in the words of a rule's condition: what
/// it may read is what a rule of kind `kind` may read (`resource.a` needs a kind), except that
/// without a kind, `case.a` reads the case of every resource in one. The same code and
/// diagnostics as a rule's `when`, with help that speaks of the question.
pub fn condition(
    policy: &Policy,
    terms: &[ast::Term],
    kind: Option<KindId>,
) -> Result<Vec<Term>, Vec<Diagnostic>> {
    let mut cx = Checker::for_policy(policy);
    let scope = kind.map_or(RuleScope::Global, RuleScope::Kind);
    let checked = cx.rule_condition(terms, scope, policy);
    if cx.errors > 0 || checked.len() != terms.len() {
        let mut diags = cx.diags;
        diags.sort_by_key(|d| (d.span().file, d.span().start, d.code));
        return Err(diags);
    }
    Ok(checked)
}

/// Drops the checker's diagnostics that a syntax error already explains: those within a
/// declaration that error recovery left a stretch out of, and those about an unknown name (or a
/// name of the wrong sort) that a stretch left out mentions, as it may have declared it. The
/// syntax error itself rejects the policy, so nothing dropped lets one through.
pub fn drop_follow_ons(
    diags: &mut Vec<Diagnostic>,
    asts: &[ast::PolicyAst],
    sources: &crate::diagnostic::Sources,
) {
    let skipped: Vec<&ast::Skipped> = asts.iter().flat_map(|a| &a.skipped).collect();
    if skipped.is_empty() {
        return;
    }
    let mut names: std::collections::HashSet<&str> = skipped
        .iter()
        .flat_map(|s| s.names.iter().map(String::as_str))
        .collect();
    // The declarations with a stretch left out, in order: they do not overlap, so the one that
    // may hold a span is the last that starts at or before it (a binary search, not a scan).
    let mut within: Vec<Span> = skipped.iter().map(|s| s.within).collect();
    within.sort_by_key(|s| (s.file, s.start));
    within.dedup();
    let inside = |a: Span| {
        let i = within.partition_point(|w| (w.file, w.start) <= (a.file, a.start));
        i > 0 && {
            let w = within[i - 1];
            w.file == a.file && a.end <= w.end
        }
    };
    diags.retain(|d| !inside(d.span()));
    let about_name = |d: &Diagnostic| matches!(d.code, Code::Undefined | Code::WrongSort);
    let name_of = |d: &Diagnostic| {
        let text = sources.snippet(d.span());
        text.rsplit('.').next().unwrap_or(text)
    };
    // Twice: a statement that names what a skipped stretch declared is dropped by the checker,
    // and then the names it declares are unknown too (`attr priority: Priority;` after the
    // enum `Priority` did not parse, then `case.priority`).
    for _ in 0..2 {
        let more: Vec<&str> = diags
            .iter()
            .filter(|d| about_name(d) && names.contains(name_of(d)))
            .flat_map(|d| statement_words(sources, d.span()))
            .collect();
        names.extend(more);
    }
    diags.retain(|d| !(about_name(d) && names.contains(name_of(d))));
}

/// The words of the statement that holds `span`: from the `;`, `{` or `}` before it to the
/// `;` after it, looking at most 1 KiB either way.
fn statement_words(sources: &crate::diagnostic::Sources, span: Span) -> impl Iterator<Item = &str> {
    let text = sources.text(span.file);
    let (start, end) = (span.start as usize, span.end as usize);
    let mut floor = start.saturating_sub(1024).min(text.len());
    while !text.is_char_boundary(floor) {
        floor -= 1;
    }
    let mut ceil = (end + 1024).min(text.len());
    while !text.is_char_boundary(ceil) {
        ceil += 1;
    }
    let from = text
        .get(floor..start)
        .and_then(|t| t.rfind([';', '{', '}']).map(|i| floor + i + 1))
        .unwrap_or(floor);
    let to = text
        .get(end..ceil)
        .and_then(|t| t.find([';', '{', '}']).map(|i| end + i))
        .unwrap_or(ceil);
    text.get(from..to)
        .unwrap_or("")
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// How many declarations a policy makes: top-level items, and the names, rules, attributes,
/// transitions, table cells and their entries inside them.
fn declarations(item: &Item) -> usize {
    1 + match item {
        Item::Roles(names) | Item::Permissions(names) => names.len(),
        Item::Actions { names, .. } => names.len(),
        Item::ActionGroup { members, .. } => members.len(),
        Item::Enum { variants, .. } => variants.len(),
        Item::Module(m) => m.actions.len() + m.records.len() + m.data_roles.len(),
        Item::Group(g) => g.grants.len() + g.permits.len() + g.scopes.len(),
        Item::User { attrs, .. } => attrs.len(),
        Item::Context { fields, .. } => fields.len(),
        Item::Kind(k) => {
            k.attrs.len()
                + k.relations.len()
                + k.inherits.len()
                + k.rules.iter().map(|r| 1 + r.when.len()).sum::<usize>()
                + k.modes.iter().map(|m| 1 + m.arms.len()).sum::<usize>()
        }
        Item::CaseType(c) => {
            c.states.len()
                + c.initials.len()
                + c.finals.len()
                + c.transitions.len()
                + c.rules.iter().map(|r| 1 + r.when.len()).sum::<usize>()
                + c.module_grants
                    .iter()
                    .map(|g| 1 + g.lines.len())
                    .sum::<usize>()
                + c.tables
                    .iter()
                    .map(|t| {
                        // Each entry of a cell is a rule of its own.
                        1 + t
                            .rows
                            .iter()
                            .flat_map(|r| &r.cells)
                            .map(|c| 1 + c.entries.len())
                            .sum::<usize>()
                            + t.rows.len()
                    })
                    .sum::<usize>()
        }
        Item::Codes(classes) => classes.len(),
        Item::Rule(r) => r.when.len(),
        Item::RequireGroup(_) => 0,
    }
}

/// The limit on declarations, checked before anything else so that a huge policy costs little.
fn too_many_declarations(items: &[&Item]) -> Option<Diagnostic> {
    let mut total = 0usize;
    for item in items {
        total += declarations(item);
        if total > crate::limits::MAX_DECLARATIONS {
            let span = item_span(item);
            return Some(
                Diagnostic::new(
                    Code::Limit,
                    span,
                    format!(
                        "the policy makes more than {} declarations; this one is over the limit",
                        crate::limits::MAX_DECLARATIONS
                    ),
                )
                .with_help("a policy this large is likely generated: generate fewer, broader rules (use action groups, tables and `*`)"),
            );
        }
    }
    None
}

/// Where an item starts, as well as the AST records it.
fn item_span(item: &Item) -> Span {
    match item {
        Item::Roles(names) | Item::Permissions(names) => names.first().map(|n| n.span),
        Item::Actions { names, .. } => names.first().map(|n| n.span),
        Item::ActionGroup { name, .. } | Item::Enum { name, .. } => Some(name.span),
        Item::Module(m) => Some(m.name.span),
        Item::Group(g) => Some(g.name.span),
        Item::User { span, .. } | Item::RequireGroup(span) | Item::Context { span, .. } => {
            Some(*span)
        }
        Item::Kind(k) => Some(k.name.span),
        Item::CaseType(c) => Some(c.name.span),
        Item::Codes(classes) => classes.first().map(|c| c.class.span),
        Item::Rule(r) => Some(r.span),
    }
    .unwrap_or_default()
}

/// The state of one check: the diagnostics so far, the declared names, and what later steps
/// look up.
#[derive(Default)]
struct Checker {
    diags: Vec<Diagnostic>,
    /// Errors found so far, also those past [`MAX_CHECK_ERRORS`] that are not kept.
    errors: usize,
    /// Where the first error that was not kept is.
    first_dropped: Span,
    /// What is left of [`SUGGESTION_BUDGET`].
    suggestion_budget: Cell<usize>,
    /// Rule entries so far (see [`crate::limits::MAX_RULE_ENTRIES`]); past the limit, rules are no longer kept.
    rule_entries: usize,
    /// Every declared action, as a set (what `*` stands for).
    all_actions: Bits,
    /// Per enum: each variant's index by name.
    variant_index: Vec<HashMap<String, u32>>,
    /// Per action, for the table cell being checked: the entry that last allowed it and the one
    /// that last denied it, each with the stamp of its cell (see `table`).
    cell_last: Vec<[(u32, Span); 2]>,
    cell_stamp: u32,
    /// Each attribute of the case kind by name.
    case_attr_index: HashMap<String, u32>,
    /// Each user attribute, each context field, and each attribute of each kind, by name.
    user_attr_index: HashMap<String, u32>,
    context_index: HashMap<String, u32>,
    kind_attr_index: Vec<HashMap<String, u32>>,
    /// Every declared name, for "is a … , not a …" help.
    sorts: HashMap<String, (Sort, Span)>,
    roles: Names,
    relations: Names,
    actions: Names,
    action_groups: Names,
    permissions: Names,
    groups: Names,
    enums: Names,
    kinds: Names,
    casetypes: Names,
    modules: Names,
    /// Each action group's members by name, for help text.
    group_members: HashMap<String, Vec<String>>,
    /// A subject position named `everyone` (`ir::Policy::everyone`).
    everyone: bool,
    /// Checking the condition of a query (`condition`), not a policy.
    query: bool,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            suggestion_budget: Cell::new(SUGGESTION_BUDGET),
            ..Checker::default()
        }
    }

    /// A checker of conditions asked of the checked policy `p`: its relations, enum variants,
    /// and the attributes of its users, context and kinds, by name.
    fn for_policy(p: &Policy) -> Checker {
        let mut cx = Checker::new();
        cx.query = true;
        for (i, r) in p.relations.iter().enumerate() {
            cx.relations.map.insert(r.name.clone(), (i as u32, r.span));
            cx.relations.order.push(r.name.clone());
            cx.sorts.insert(r.name.clone(), (Sort::Relation, r.span));
        }
        // A role where a relation belongs is "a role, not a relation".
        for r in &p.roles {
            cx.sorts.insert(r.name.clone(), (Sort::Role, r.span));
        }
        cx.variant_index = p
            .enums
            .iter()
            .map(|e| {
                e.variants
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.clone(), i as u32))
                    .collect()
            })
            .collect();
        cx.index_attrs(p);
        cx
    }

    /// Reports a diagnostic. Errors past [`MAX_CHECK_ERRORS`] are only counted.
    fn error(&mut self, d: Diagnostic) {
        if d.is_error() {
            self.errors += 1;
            if self.errors > MAX_CHECK_ERRORS {
                if self.errors == MAX_CHECK_ERRORS + 1 {
                    self.first_dropped = d.span();
                }
                return;
            }
        }
        self.diags.push(d);
    }

    /// Whether a further error would be kept: help that is costly to compute is skipped when not.
    fn reporting(&self) -> bool {
        self.errors < MAX_CHECK_ERRORS
    }

    /// "did you mean `x`?" for the candidate closest to `name`, if close enough to be a likely
    /// typo ([`words::did_you_mean_within`]), within what is left of [`SUGGESTION_BUDGET`]:
    /// every suggestion of one check shares it, so a policy of many unknown names against many
    /// declarations costs no more than the budget.
    fn did_you_mean<'a>(
        &self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        let mut left = self.suggestion_budget.get();
        let found = words::did_you_mean_within(name, candidates, &mut left);
        self.suggestion_budget.set(left);
        found
    }

    /// Pass two: every declaration, in an order where each step finds what it refers to.
    fn resolve(&mut self, items: &[&Item]) -> Policy {
        let mut p = Policy {
            roles: named(&self.roles),
            relations: named(&self.relations),
            actions: self
                .actions
                .order
                .iter()
                .map(|n| ActionDef {
                    name: n.clone(),
                    span: self.actions.map[n].1,
                    requires: None,
                    read_code: false,
                    write_code: false,
                })
                .collect(),
            permissions: named(&self.permissions),
            modules: Vec::new(),
            groups: Vec::new(),
            enums: Vec::new(),
            user_attrs: Vec::new(),
            context: Vec::new(),
            kinds: Vec::new(),
            case_kind: None,
            casetypes: Vec::new(),
            rules: Vec::new(),
            require_group: false,
            everyone: false,
            relation_owner: Vec::new(),
        };

        // Action groups first: everything else may use them.
        let action_groups = self.action_groups(items);

        self.all_actions = Bits::from_indices(0..self.actions.order.len());
        self.cell_last = vec![[(0, Span::default()); 2]; self.actions.order.len()];
        // Enums and kinds (types), in declaration order.
        self.enums(items, &mut p);
        self.kinds(items, &mut p);

        // Access-code classes of actions.
        self.codes(items, &action_groups, &mut p);

        // All `user { }` blocks together declare the user attributes, all `context { }`
        // blocks the fields of the request context.
        self.user_attrs(items, &mut p);
        self.context_fields(items, &mut p);

        // Modules.
        self.modules(items, &action_groups, &mut p);

        // Access groups.
        self.groups(items, &mut p);

        // Rules outside case types.
        self.rules(items, &action_groups, &mut p);

        // Case types.
        self.casetypes(items, &action_groups, &mut p);
        p.everyone = self.everyone;
        p
    }

    /// CP0112 for a compiled lookup table that would have more than [`MAX_TABLE_SLOTS`] slots
    /// (kinds × actions, case-type states × actions, case types × modules × actions), so that a
    /// policy that checks can always be compiled. Each error points at the declaration from
    /// which the table is over the limit.
    fn table_sizes(&mut self, p: &Policy) {
        let actions = p.actions.len();
        let limit = thousands(MAX_TABLE_SLOTS);
        let kinds = p.kinds.len();
        if kinds.saturating_mul(actions) > MAX_TABLE_SLOTS {
            let kind = &p.kinds[MAX_TABLE_SLOTS / actions];
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    kind.span,
                    format!(
                        "{} resource kinds × {actions} actions = {} table slots, over the limit of {limit}",
                        thousands(kinds),
                        thousands(kinds * actions)
                    ),
                )
                .with_label("the table of rules by kind is over the limit from this kind on")
                .with_help("the compiled policy has a slot for every kind and action: merge kinds that are governed alike (an attribute can tell them apart), or declare fewer actions"),
            );
        }
        let states: usize = p.casetypes.iter().map(|c| c.states.len()).sum();
        if states.saturating_mul(actions) > MAX_TABLE_SLOTS {
            let mut seen = 0usize;
            let over = p
                .casetypes
                .iter()
                .find(|c| {
                    seen += c.states.len();
                    seen * actions > MAX_TABLE_SLOTS
                })
                .map(|c| c.span)
                .unwrap_or_default();
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    over,
                    format!(
                        "{} states of case types × {actions} actions = {} table slots, over the limit of {limit}",
                        thousands(states),
                        thousands(states * actions)
                    ),
                )
                .with_label("the table of rules by state is over the limit from this case type on")
                .with_help("the compiled policy has a slot for every state of every case type and every action: let case types that share a workflow be one case type (an attribute can tell them apart), or declare fewer actions"),
            );
        }
        let (casetypes, modules) = (p.casetypes.len(), p.modules.len());
        let slots = casetypes.saturating_mul(modules).saturating_mul(actions);
        if slots > MAX_TABLE_SLOTS {
            let ct = &p.casetypes[MAX_TABLE_SLOTS / (modules * actions)];
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    ct.span,
                    format!(
                        "{} case types × {} modules × {actions} actions = {} table slots, over the limit of {limit}",
                        thousands(casetypes),
                        thousands(modules),
                        thousands(slots)
                    ),
                )
                .with_label("the table of module grants is over the limit from this case type on")
                .with_help("the compiled policy has a slot for every case type, module and action: declare fewer modules, or let case types that share a workflow be one case type"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Did you mean" spends from one budget for the whole check: each candidate costs one, and
    /// each cell of the distance band computed one more; a candidate too long or too short to
    /// be within reach is not compared. Once the budget is spent, nothing is suggested.
    #[test]
    fn suggestions_spend_a_budget() {
        let cx = Checker::new();
        assert_eq!(
            cx.did_you_mean("veiw", ["view", "edit"]).as_deref(),
            Some("did you mean `view`?")
        );
        // Two candidates looked at, each compared in a band of at most 3 cells a row, 4 rows.
        let spent = SUGGESTION_BUDGET - cx.suggestion_budget.get();
        assert!((2 + 4..=2 + 2 * 3 * 4).contains(&spent), "spent {spent}");
        let long = "x".repeat(200);
        let before = cx.suggestion_budget.get();
        assert_eq!(cx.did_you_mean("veiw", [long.as_str()]), None);
        assert_eq!(
            before - cx.suggestion_budget.get(),
            1,
            "not compared: too long"
        );

        cx.suggestion_budget.set(0);
        assert_eq!(cx.did_you_mean("veiw", ["view"]), None, "nothing is left");
        assert_eq!(cx.suggestion_budget.get(), 0);
    }
}

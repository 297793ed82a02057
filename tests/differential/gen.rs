//! Random well-typed policies, and entities consistent with them.
//!
//! A generated case is a [`PolicySpec`] and an [`EntitySpec`]: plain data built from small,
//! independent choices. Every reference from one part to another (a group's parent, a rule's
//! subject, a resource's case type) is a small number read modulo the number of things it can
//! name, and a reference that names nothing is dropped when rendering. So every combination of
//! choices renders to a policy that checks and to entities that load, and proptest can shrink
//! any part (drop a rule, a role, a state) without breaking the rest.
//!
//! Rendering writes `.casepol` text and entity JSON, so the whole pipeline (parser, checker,
//! compiler, entity loader) runs on every case. The requests are enumerated from the loaded
//! policy and entities by the test (`requests` in tests/differential.rs).

use proptest::prelude::*;
use proptest::sample::SizeRange;
use serde_json::{json, Map, Value};
use std::fmt;

/// String literals and string attribute values come from one small pool, so that filters
/// sometimes match and sometimes do not. One needs escaping in the policy text.
const STRS: [&str; 3] = ["x", "y", "say \"z\"\\"];
const INTS: [i64; 4] = [0, 1, -1, 7];
/// `datetime` values: the first two are one instant written with two offsets, the third a
/// microsecond before it, the last later, with a fraction and a negative offset.
const DATES: [&str; 4] = [
    "2026-01-01T00:00:00Z",
    "2026-01-01T01:00:00+01:00",
    "2025-12-31T23:59:59.999999Z",
    "2026-06-30T12:00:00.5-07:00",
];

/// An action reference in a rule, table cell or `codes` line.
#[derive(Debug, Clone, Copy)]
pub enum ActRef {
    Action(u8),
    Group(u8),
    Star,
}

/// A subject: a role, or a relation when the case kind declares any (a role otherwise).
#[derive(Debug, Clone, Copy)]
pub struct SubjRef {
    relation: bool,
    idx: u8,
    /// `everyone`, whatever `relation` and `idx` say.
    everyone: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str,
    Bool,
    Int,
    DateTime,
    SetStr,
    Enum(u8),
    RefUser,
    /// `ref K` where K is the kind declaring the attribute.
    RefSelf,
}

#[derive(Debug, Clone)]
pub struct Cond {
    attr: u8,
    op: u8,
    vals: Vec<u8>,
}

#[derive(Debug, Clone)]
pub enum Scope {
    /// No `scope` line: the default, `all`.
    Default,
    All,
    Assigned(Vec<u8>),
    /// How the conditions combine (bare `filter`, `filter any`, `filter all`), and the
    /// conditions.
    Filter(FilterMode, Vec<Cond>),
}

/// How a scope filter is written: `filter { … }` (which means `any`), `filter any { … }` or
/// `filter all { … }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterMode {
    Bare,
    Any,
    All,
}

#[derive(Debug, Clone)]
pub struct Group {
    parent: Option<u8>,
    grants: Vec<u8>,
    permits: Vec<u8>,
    scope: Scope,
}

#[derive(Debug, Clone)]
pub struct Module {
    actions: Vec<ActRef>,
    records: Vec<u8>,
    /// `data roles …;`: indices into the roles (duplicates kept, as an author might write).
    data_roles: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    deny: bool,
    subjects: Vec<SubjRef>,
    actions: Vec<ActRef>,
    /// `in` states; used only inside a case type.
    states: Vec<u8>,
    /// The terms of a `when` condition (none: the rule has no condition). Each is rendered
    /// from what the rule's place lets it read; a term with nothing to read is dropped.
    when: Vec<TermSpec>,
}

/// A term of a rule's condition, as small choices: its shape, the operands (indices into what
/// the rule's place can read), the operator, literal values, and `not`.
#[derive(Debug, Clone)]
pub struct TermSpec {
    shape: u8,
    left: u8,
    right: u8,
    op: u8,
    vals: Vec<u8>,
    negate: bool,
}

#[derive(Debug, Clone)]
pub struct Mode {
    attr: u8,
    /// Per variant (modulo): `None` is `everyone`, otherwise relations (an empty list is
    /// `everyone` too).
    arms: Vec<Option<Vec<u8>>>,
}

#[derive(Debug, Clone)]
pub struct CaseKind {
    attrs: Vec<Ty>,
    relations: u8,
    mode: Option<Mode>,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Kind {
    parent: Option<u8>,
    inherit_read: bool,
    inherit_write: bool,
    attrs: Vec<Ty>,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Transition {
    action: u8,
    from: Vec<u8>,
    to: u8,
    by: Vec<SubjRef>,
}

/// A module-grant line: subjects, and actions as `None` (`*`) or an index into what the
/// module offers.
#[derive(Debug, Clone)]
pub struct GrantLine {
    subjects: Vec<SubjRef>,
    actions: Vec<Option<u8>>,
}

#[derive(Debug, Clone)]
pub struct ModuleBlock {
    module: u8,
    lines: Vec<GrantLine>,
}

/// A table cell: entries of (deny, action).
type Cell = Vec<(bool, ActRef)>;

#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<SubjRef>,
    /// State, and cells by column (a missing cell is `.`).
    rows: Vec<(u8, Vec<Cell>)>,
}

#[derive(Debug, Clone)]
pub struct CaseType {
    /// No `states` (nor `initial`, `final`, transitions or tables): a case type without a
    /// workflow, whose cases have one state and name none.
    stateless: bool,
    states: u8,
    initial: u8,
    finals: Vec<u8>,
    transitions: Vec<Transition>,
    modules: Vec<ModuleBlock>,
    tables: Vec<Table>,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct PolicySpec {
    roles: u8,
    /// One per action: the permission it requires, if any.
    actions: Vec<Option<u8>>,
    permissions: u8,
    action_groups: Vec<Vec<u8>>,
    require_group: bool,
    modules: Vec<Module>,
    groups: Vec<Group>,
    enums: Vec<u8>,
    user_attrs: Vec<Ty>,
    /// The fields of the request context (a reference type is written as `string`).
    context: Vec<Ty>,
    case: Option<CaseKind>,
    kinds: Vec<Kind>,
    codes: (Vec<ActRef>, Vec<ActRef>),
    casetypes: Vec<CaseType>,
    rules: Vec<Rule>,
    /// Split the declarations over two files, and write them in reverse order.
    two_files: bool,
    reverse: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    groups: Vec<u8>,
    units: Vec<u8>,
    terms: Vec<u8>,
    attrs: Vec<u8>,
}

/// An access-code string: levels of codes (indices into the code pool); `bare` writes a single
/// non-empty level without brackets.
#[derive(Debug, Clone)]
pub struct Code {
    levels: Vec<Vec<u8>>,
    bare: bool,
}

#[derive(Debug, Clone)]
pub struct Res {
    kind: u8,
    parent: u8,
    casetype: u8,
    state: u8,
    attrs: Vec<u8>,
    relations: Vec<Vec<u8>>,
    read: Code,
    write: Code,
    inherit_read: Option<bool>,
    inherit_write: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct EntitySpec {
    /// Each unit's parent, among the units before it.
    units: Vec<Option<u8>>,
    users: Vec<User>,
    resources: Vec<Res>,
    reverse: bool,
    /// The contexts requests are asked in (values per field), when the policy declares one.
    contexts: Vec<Vec<u8>>,
}

// ---- strategies ------------------------------------------------------------------------------

fn small() -> impl Strategy<Value = u8> {
    0u8..8
}

fn vec<S: Strategy>(s: S, size: impl Into<SizeRange>) -> impl Strategy<Value = Vec<S::Value>> {
    prop::collection::vec(s, size)
}

fn act_ref() -> impl Strategy<Value = ActRef> {
    prop_oneof![
        6 => small().prop_map(ActRef::Action),
        2 => small().prop_map(ActRef::Group),
        1 => Just(ActRef::Star),
    ]
}

fn subj_ref() -> impl Strategy<Value = SubjRef> {
    (
        prop::bool::weighted(0.3),
        small(),
        prop::bool::weighted(0.06),
    )
        .prop_map(|(relation, idx, everyone)| SubjRef {
            relation,
            idx,
            everyone,
        })
}

fn ty() -> impl Strategy<Value = Ty> {
    prop_oneof![
        Just(Ty::Str),
        Just(Ty::Bool),
        Just(Ty::Int),
        Just(Ty::DateTime),
        Just(Ty::SetStr),
        small().prop_map(Ty::Enum),
        Just(Ty::RefUser),
        Just(Ty::RefSelf),
    ]
}

fn term_spec() -> impl Strategy<Value = TermSpec> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        vec(any::<u8>(), 1..=2),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(shape, left, right, op, vals, negate)| TermSpec {
            shape,
            left,
            right,
            op,
            vals,
            negate,
        })
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        prop::bool::weighted(0.25),
        vec(subj_ref(), 1..=2),
        vec(act_ref(), 1..=2),
        vec(small(), 0..=2),
        prop_oneof![3 => Just(Vec::new()), 2 => vec(term_spec(), 1..=3)],
    )
        .prop_map(|(deny, subjects, actions, states, when)| Rule {
            deny,
            subjects,
            actions,
            states,
            when,
        })
}

fn scope() -> impl Strategy<Value = Scope> {
    let cond = (small(), small(), vec(small(), 1..=2)).prop_map(|(attr, op, vals)| Cond {
        attr,
        op,
        vals,
    });
    prop_oneof![
        3 => Just(Scope::Default),
        1 => Just(Scope::All),
        2 => vec(small(), 1..=2).prop_map(Scope::Assigned),
        4 => (
            prop_oneof![
                1 => Just(FilterMode::Bare),
                1 => Just(FilterMode::Any),
                2 => Just(FilterMode::All)
            ],
            vec(cond, 0..=4)
        )
            .prop_map(|(mode, conds)| Scope::Filter(mode, conds)),
    ]
}

fn group() -> impl Strategy<Value = Group> {
    (
        prop::option::weighted(0.4, small()),
        vec(small(), 0..=2),
        vec(small(), 0..=1),
        scope(),
    )
        .prop_map(|(parent, grants, permits, scope)| Group {
            parent,
            grants,
            permits,
            scope,
        })
}

fn case_kind() -> impl Strategy<Value = CaseKind> {
    let mode = (
        small(),
        vec(prop::option::weighted(0.7, vec(small(), 0..=2)), 1..=3),
    )
        .prop_map(|(attr, arms)| Mode { attr, arms });
    (
        vec(ty(), 0..=5),
        0u8..=3,
        prop::option::weighted(0.5, mode),
        vec(rule(), 0..=2),
    )
        .prop_map(|(attrs, relations, mode, rules)| CaseKind {
            attrs,
            relations,
            mode,
            rules,
        })
}

fn kind() -> impl Strategy<Value = Kind> {
    (
        prop::option::weighted(0.8, small()),
        any::<bool>(),
        any::<bool>(),
        vec(ty(), 0..=1),
        vec(rule(), 0..=2),
    )
        .prop_map(|(parent, inherit_read, inherit_write, attrs, rules)| Kind {
            parent,
            inherit_read,
            inherit_write,
            attrs,
            rules,
        })
}

fn casetype() -> impl Strategy<Value = CaseType> {
    let transition = (
        small(),
        vec(small(), 1..=2),
        small(),
        vec(subj_ref(), 1..=2),
    )
        .prop_map(|(action, from, to, by)| Transition {
            action,
            from,
            to,
            by,
        });
    let line = (
        vec(subj_ref(), 1..=2),
        vec(prop::option::weighted(0.8, small()), 1..=2),
    )
        .prop_map(|(subjects, actions)| GrantLine { subjects, actions });
    let block =
        (small(), vec(line, 0..=2)).prop_map(|(module, lines)| ModuleBlock { module, lines });
    let entry = (prop::bool::weighted(0.25), act_ref());
    let row = (small(), vec(vec(entry, 0..=2), 1..=3));
    let table = (vec(subj_ref(), 1..=3), vec(row, 0..=3))
        .prop_map(|(columns, rows)| Table { columns, rows });
    (
        (prop::bool::weighted(0.2), 1u8..=3),
        small(),
        vec(small(), 0..=1),
        vec(transition, 0..=2),
        vec(block, 0..=2),
        vec(table, 0..=1),
        vec(rule(), 0..=3),
    )
        .prop_map(
            |((stateless, states), initial, finals, transitions, modules, tables, rules)| {
                CaseType {
                    stateless,
                    // One state, which has no name: the rules and entities below say none.
                    states: if stateless { 1 } else { states },
                    initial,
                    finals,
                    transitions,
                    modules,
                    tables,
                    rules,
                }
            },
        )
}

pub fn policy_spec() -> impl Strategy<Value = PolicySpec> {
    let module = (
        vec(
            prop_oneof![
                3 => small().prop_map(ActRef::Action),
                1 => small().prop_map(ActRef::Group),
            ],
            0..=3,
        ),
        vec(small(), 0..=1),
        prop::option::weighted(0.4, vec(small(), 1..=3)),
    )
        .prop_map(|(actions, records, data_roles)| Module {
            actions,
            records,
            data_roles,
        });
    let vocabulary = (
        1u8..=4,
        vec(prop::option::weighted(0.15, small()), 1..=5),
        0u8..=2,
        vec(vec(small(), 1..=3), 0..=2),
        prop::bool::weighted(0.2),
        vec(module, 0..=2),
        vec(group(), 1..=4),
        vec(1u8..=3, 0..=3),
        vec(ty(), 0..=2),
        prop_oneof![1 => Just(Vec::new()), 1 => vec(ty(), 1..=3)],
    );
    let resources = (
        prop::option::weighted(0.9, case_kind()),
        vec(kind(), 0..=3),
        (vec(act_ref(), 0..=2), vec(act_ref(), 0..=2)),
        vec(casetype(), 1..=2),
        vec(rule(), 0..=3),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
    );
    (vocabulary, resources).prop_map(
        |(
            (
                roles,
                actions,
                permissions,
                action_groups,
                require_group,
                modules,
                groups,
                enums,
                user_attrs,
                context,
            ),
            (case, kinds, codes, casetypes, rules, two_files, reverse),
        )| PolicySpec {
            roles,
            actions,
            permissions,
            action_groups,
            require_group,
            modules,
            groups,
            enums,
            user_attrs,
            context,
            case,
            kinds,
            codes,
            casetypes,
            rules,
            two_files,
            reverse,
        },
    )
}

fn code() -> impl Strategy<Value = Code> {
    (vec(vec(small(), 0..=2), 0..=3), prop::bool::weighted(0.3))
        .prop_map(|(levels, bare)| Code { levels, bare })
}

pub fn entity_spec() -> impl Strategy<Value = EntitySpec> {
    let user = (
        vec(small(), 0..=2),
        vec(small(), 0..=2),
        vec(small(), 0..=1),
        vec(any::<u8>(), 2),
    )
        .prop_map(|(groups, units, terms, attrs)| User {
            groups,
            units,
            terms,
            attrs,
        });
    let res = (
        (small(), small(), small(), small()),
        vec(any::<u8>(), 6),
        vec(vec(small(), 0..=2), 3),
        code(),
        code(),
        prop::option::of(prop::bool::weighted(0.3)),
        prop::option::of(prop::bool::weighted(0.3)),
    )
        .prop_map(
            |((kind, parent, casetype, state), attrs, relations, read, write, ir, iw)| Res {
                kind,
                parent,
                casetype,
                state,
                attrs,
                relations,
                read,
                write,
                inherit_read: ir,
                inherit_write: iw,
            },
        );
    (
        vec(prop::option::weighted(0.5, small()), 0..=3),
        vec(user, 1..=4),
        vec(res, 1..=7),
        prop::bool::weighted(0.2),
        vec(vec(any::<u8>(), 3), 1..=2),
    )
        .prop_map(|(units, users, resources, reverse, contexts)| EntitySpec {
            units,
            users,
            resources,
            reverse,
            contexts,
        })
}

/// A generated case: the policy's files and the entities.
pub struct Generated {
    pub files: Vec<(String, String)>,
    pub entities: String,
    /// For a policy padded just past a count limit: the end of the error the checker must
    /// give (`… actions, more than the limit of 256`). `None`: the policy must check.
    pub over_limit: Option<String>,
    /// The policy names `everyone` as a subject, which counts toward `MAX_SUBJECTS`.
    pub everyone: bool,
    /// The contexts to ask requests in: empty when the policy declares no context, one or two
    /// objects otherwise (ask request `i` in context `i % len`, with [`Generated::ask`]).
    pub contexts: Vec<Map<String, Value>>,
}

impl Generated {
    /// `req` in the world's `i`th context (modulo), when the policy declares one.
    // Not every test that includes the generator asks requests this way.
    #[allow(dead_code)]
    pub fn ask(&self, req: casepol::Request, i: usize) -> casepol::Request {
        match self.contexts.is_empty() {
            true => req,
            false => {
                let mut req = req;
                req.context = Some(self.contexts[i % self.contexts.len()].clone());
                req
            }
        }
    }
}

impl fmt::Debug for Generated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, text) in &self.files {
            writeln!(f, "--- {name}\n{text}")?;
        }
        writeln!(f, "--- entities.json\n{}", self.entities)
    }
}

pub fn case() -> impl Strategy<Value = Generated> {
    (policy_spec(), entity_spec()).prop_map(|(p, e)| render(&p, &e))
}

/// A count whose limit sizes a 256-bit set of the compiled policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Limit {
    /// Roles plus relations (`MAX_SUBJECTS`).
    Subjects,
    Actions,
    Permissions,
}

/// Padding names start with this; no generated name does, and the differential test asks
/// about only the first of them (the one an index past the limit would once have folded onto).
pub const PADDING: &str = "zpad";

/// A generated world whose policy declares exactly as many roles and relations, actions or
/// permissions as the limit allows (`past`: one more). The padding is declared first, so the
/// names the policy uses get the highest indices, up to the last one the sets hold.
pub fn case_at_limit() -> impl Strategy<Value = (Limit, bool, Generated)> {
    (
        policy_spec(),
        entity_spec(),
        prop_oneof![
            Just(Limit::Subjects),
            Just(Limit::Actions),
            Just(Limit::Permissions)
        ],
        prop::bool::weighted(0.3),
    )
        .prop_map(|(p, e, limit, past)| {
            let mut g = render(&p, &e);
            let used = match limit {
                Limit::Subjects => {
                    p.roles as usize
                        + p.case.as_ref().map_or(0, |c| c.relations as usize)
                        + (0..p.kinds.len()).filter_map(kind_relation).count()
                        + usize::from(g.everyone)
                }
                Limit::Actions => p.actions.len(),
                Limit::Permissions => p.permissions as usize,
            };
            let (max, keyword, what) = match limit {
                // `everyone` is one subject more than the roles and relations declared.
                Limit::Subjects if g.everyone => {
                    (casepol::limits::MAX_SUBJECTS, "role", "subjects")
                }
                Limit::Subjects => (casepol::limits::MAX_SUBJECTS, "role", "roles and relations"),
                Limit::Actions => (casepol::limits::MAX_ACTIONS, "action", "actions"),
                Limit::Permissions => (
                    casepol::limits::MAX_PERMISSIONS,
                    "permission",
                    "permissions",
                ),
            };
            let pad = max - used + usize::from(past);
            let names: Vec<String> = (0..pad).map(|i| format!("{PADDING}{i}")).collect();
            let decl = format!("{keyword} {};\n", names.join(", "));
            g.files[0].1.insert_str(0, &decl);
            if past {
                g.over_limit = Some(format!("{what}, more than the limit of {max}"));
            }
            (limit, past, g)
        })
}

// ---- rendering -------------------------------------------------------------------------------

/// The relation the `i`th resource kind declares: one for every second kind, so that some worlds
/// have relations of resource kinds and others only the case's.
pub fn kind_relation(i: usize) -> Option<String> {
    (i % 2 == 1).then(|| format!("kr{i}"))
}

/// The groups a relation lists besides its users (`relation_groups`), from the bytes that chose
/// its users: one group when the first byte is a multiple of 4, so that most worlds list none.
fn member_groups(n: &Names, picks: &[u8]) -> Vec<String> {
    match picks.first() {
        Some(&b) if b % 4 == 0 && !n.groups.is_empty() => {
            vec![n.groups[b as usize / 4 % n.groups.len()].clone()]
        }
        _ => Vec::new(),
    }
}

fn pick(n: usize, i: u8) -> Option<usize> {
    (n > 0).then(|| i as usize % n)
}

/// The names a policy declares, fixed by the spec before any text is written.
struct Names {
    /// Set when a subject is written as `everyone`: it takes a subject of the limit.
    everyone: std::cell::Cell<bool>,
    roles: Vec<String>,
    relations: Vec<String>,
    actions: Vec<String>,
    action_groups: Vec<Vec<usize>>,
    permissions: Vec<String>,
    modules: Vec<String>,
    /// Per module: the actions it offers (groups expanded).
    offered: Vec<Vec<usize>>,
    groups: Vec<String>,
    /// Variants per enum.
    enums: Vec<u8>,
    has_case: bool,
    /// Case attribute types (resolved: enum index valid, no dangling enum).
    case_attrs: Vec<Ty>,
    kinds: Vec<String>,
    kind_parent: Vec<Option<usize>>,
    kind_attrs: Vec<Vec<Ty>>,
    /// Per case type: states.
    casetypes: Vec<u8>,
    /// Per case type: it has no workflow (no `states`), and its cases give no `state`.
    stateless: Vec<bool>,
    user_attrs: Vec<Ty>,
    /// The context's fields (never a reference).
    context: Vec<Ty>,
}

/// Where a rule is written, which fixes what its condition may read.
#[derive(Debug, Clone, Copy)]
enum At {
    Top,
    /// In a kind's declaration: index into `Names::kinds`.
    Kind(usize),
    CaseType,
}

impl Names {
    fn subject(&self, s: SubjRef) -> String {
        if s.everyone {
            self.everyone.set(true);
            "everyone".into()
        } else if s.relation && !self.relations.is_empty() {
            self.relations[s.idx as usize % self.relations.len()].clone()
        } else {
            self.roles[s.idx as usize % self.roles.len()].clone()
        }
    }

    fn subjects(&self, s: &[SubjRef]) -> String {
        s.iter()
            .map(|x| self.subject(*x))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn action_ref(&self, a: ActRef) -> String {
        match a {
            ActRef::Star => "*".into(),
            ActRef::Group(g) if !self.action_groups.is_empty() => {
                format!("ag{}", g as usize % self.action_groups.len())
            }
            ActRef::Group(i) | ActRef::Action(i) => {
                self.actions[i as usize % self.actions.len()].clone()
            }
        }
    }

    fn action_refs(&self, a: &[ActRef]) -> String {
        a.iter()
            .map(|x| self.action_ref(*x))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Relation names for indices; empty when the policy has no relations.
    fn relations(&self, idx: &[u8]) -> Vec<String> {
        let mut out: Vec<String> = idx
            .iter()
            .filter_map(|&i| pick(self.relations.len(), i).map(|r| self.relations[r].clone()))
            .collect();
        out.dedup();
        out
    }

    fn resolve_ty(&self, t: Ty) -> Ty {
        match t {
            Ty::Enum(e) => match pick(self.enums.len(), e) {
                Some(e) => Ty::Enum(e as u8),
                None => Ty::Str,
            },
            t => t,
        }
    }

    fn ty_text(&self, t: Ty, own_kind: &str) -> String {
        match t {
            Ty::Str => "string".into(),
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::DateTime => "datetime".into(),
            Ty::SetStr => "set<string>".into(),
            Ty::Enum(e) => format!("E{e}"),
            Ty::RefUser => "ref User".into(),
            Ty::RefSelf => format!("ref {own_kind}"),
        }
    }
}

fn rule_text(n: &Names, r: &Rule, states: Option<u8>, at: At) -> String {
    let mut s = format!(
        "{} {}: {}",
        if r.deny { "deny" } else { "allow" },
        n.subjects(&r.subjects),
        n.action_refs(&r.actions)
    );
    if let Some(k) = states {
        if !r.states.is_empty() {
            let st: Vec<String> = r.states.iter().map(|&i| format!("S{}", i % k)).collect();
            s.push_str(&format!(" in {}", st.join(", ")));
        }
    }
    let terms: Vec<String> = r.when.iter().filter_map(|t| term_text(n, t, at)).collect();
    if !terms.is_empty() {
        s.push_str(&format!(" when {}", terms.join(" and ")));
    }
    s.push(';');
    s
}

impl Names {
    /// Whether every resource a rule written at `at` applies to has a case.
    fn anchored(&self, at: At) -> bool {
        match at {
            At::Top => false,
            At::CaseType => true,
            At::Kind(mut k) => {
                for _ in 0..=self.kinds.len() {
                    if self.has_case && k == 0 {
                        return true;
                    }
                    match self.kind_parent[k] {
                        Some(p) => k = p,
                        None => return false,
                    }
                }
                false
            }
        }
    }

    /// What a condition written at `at` may read: each path, its type, and whether it is
    /// stored on the resource (two stored values are never compared).
    fn readable(&self, at: At) -> Vec<(String, Ty, bool)> {
        let mut out = vec![("principal".to_string(), Ty::RefUser, false)];
        for (j, t) in self.user_attrs.iter().enumerate() {
            out.push((format!("principal.u{j}"), *t, false));
        }
        for (j, t) in self.context.iter().enumerate() {
            out.push((format!("context.c{j}"), *t, false));
        }
        if let At::Kind(k) = at {
            let name = |j: usize| match self.has_case && k == 0 {
                true => format!("resource.at{j}"),
                false => format!("resource.b{j}"),
            };
            for (j, t) in self.kind_attrs[k].iter().enumerate() {
                if !matches!(t, Ty::RefSelf) {
                    out.push((name(j), *t, true));
                }
            }
        }
        if self.has_case && self.anchored(at) {
            for (j, t) in self.case_attrs.iter().enumerate() {
                if !matches!(t, Ty::RefSelf) {
                    out.push((format!("case.at{j}"), *t, true));
                }
            }
        }
        out
    }

    /// A literal of type `t`.
    fn literal(&self, t: Ty, v: u8) -> Option<String> {
        Some(match t {
            Ty::Str => quote(STRS[v as usize % STRS.len()]),
            Ty::Int => INTS[v as usize % INTS.len()].to_string(),
            Ty::DateTime => quote(DATES[v as usize % DATES.len()]),
            Ty::Bool => (v % 2 == 1).to_string(),
            Ty::Enum(e) => format!("v{}", v % self.enums[e as usize]),
            _ => return None,
        })
    }
}

/// A term of a condition written at `at`; `None` when there is nothing for it to read.
fn term_text(n: &Names, t: &TermSpec, at: At) -> Option<String> {
    let not = if t.negate { "not " } else { "" };
    if t.shape % 6 == 0 && !n.relations.is_empty() {
        let r = &n.relations[t.left as usize % n.relations.len()];
        return Some(format!("{not}principal is {r}"));
    }
    let pool = n.readable(at);
    let (left, ty, stored) = &pool[t.left as usize % pool.len()];
    // Another path of the same type, not both stored.
    let partner = || {
        let same: Vec<&(String, Ty, bool)> = pool
            .iter()
            .filter(|(p, u, s)| p != left && ty_eq(*u, *ty) && !(*s && *stored))
            .collect();
        (!same.is_empty()).then(|| same[t.right as usize % same.len()].0.clone())
    };
    let lit = |v: u8| n.literal(*ty, v);
    let with_path = t.right % 3 == 0;
    let text = match ty {
        Ty::Bool => match t.op % 3 {
            0 => left.clone(),
            1 => format!("{left} == {}", lit(t.vals[0])?),
            _ => match partner() {
                Some(p) if with_path => format!("{left} != {p}"),
                _ => format!("{left} != {}", lit(t.vals[0])?),
            },
        },
        Ty::Int | Ty::DateTime => {
            let op = ["==", "!=", "<", "<=", ">", ">="][t.op as usize % 6];
            match partner() {
                Some(p) if with_path => format!("{left} {op} {p}"),
                _ => format!("{left} {op} {}", lit(t.vals[0])?),
            }
        }
        Ty::Str | Ty::Enum(_) => match t.op % 3 {
            2 => {
                let vals: Vec<String> = t.vals.iter().filter_map(|&v| lit(v)).collect();
                format!("{left} in [{}]", vals.join(", "))
            }
            op => {
                let op = if op == 0 { "==" } else { "!=" };
                match partner() {
                    Some(p) if with_path => format!("{left} {op} {p}"),
                    _ => format!("{left} {op} {}", lit(t.vals[0])?),
                }
            }
        },
        Ty::SetStr => {
            let strs: Vec<&(String, Ty, bool)> = pool
                .iter()
                .filter(|(_, u, s)| matches!(u, Ty::Str) && !(*s && *stored))
                .collect();
            match strs.get(t.right as usize % strs.len().max(1)) {
                Some((p, _, _)) if with_path => format!("{left} contains {p}"),
                _ => format!(
                    "{left} contains {}",
                    quote(STRS[t.vals[0] as usize % STRS.len()])
                ),
            }
        }
        Ty::RefUser => {
            let op = if t.op % 2 == 0 { "==" } else { "!=" };
            match partner() {
                Some(p) => format!("{left} {op} {p}"),
                None => return None,
            }
        }
        Ty::RefSelf => return None,
    };
    Some(format!("{not}{text}"))
}

fn ty_eq(a: Ty, b: Ty) -> bool {
    match (a, b) {
        (Ty::Enum(x), Ty::Enum(y)) => x == y,
        (x, y) => std::mem::discriminant(&x) == std::mem::discriminant(&y),
    }
}

/// A casepol string literal.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A condition of a filter; in a filter `all` (`all`), `==` gives way to `!=`, which holds more
/// often, so that every condition of an `all` filter sometimes holds.
fn condition(n: &Names, c: &Cond, all: bool) -> Option<String> {
    let testable: Vec<(usize, Ty)> = n
        .case_attrs
        .iter()
        .copied()
        .enumerate()
        // A scope filter tests no `datetime` (CP0106).
        .filter(|(_, t)| !matches!(t, Ty::RefSelf | Ty::DateTime))
        .collect();
    let (a, t) = testable[pick(testable.len(), c.attr)?];
    let name = format!("at{a}");
    let lit = |v: u8| -> String {
        match t {
            Ty::Str => quote(STRS[v as usize % STRS.len()]),
            Ty::Int => INTS[v as usize % INTS.len()].to_string(),
            Ty::Bool => (v % 2 == 1).to_string(),
            Ty::Enum(e) => format!("v{}", v % n.enums[e as usize]),
            _ => unreachable!("only scalar attributes take literals"),
        }
    };
    Some(match t {
        Ty::RefUser => {
            let op = if c.op % 2 == 0 { "==" } else { "!=" };
            format!("{name} {op} principal")
        }
        Ty::SetStr => format!(
            "{name} contains {}",
            quote(STRS[c.vals[0] as usize % STRS.len()])
        ),
        _ => match c.op % 3 {
            0 if !all => format!("{name} == {}", lit(c.vals[0])),
            0 => format!("{name} != {}", lit(c.vals[0])),
            1 => format!("{name} != {}", lit(c.vals[0])),
            _ => {
                let vals: Vec<String> = c.vals.iter().map(|&v| lit(v)).collect();
                format!("{name} in [{}]", vals.join(", "))
            }
        },
    })
}

/// Renders a policy spec to `.casepol` files.
fn render_policy(p: &PolicySpec) -> (Names, Vec<(String, String)>) {
    let roles: Vec<String> = (0..p.roles).map(|i| format!("R{i}")).collect();
    let relations: Vec<String> = match &p.case {
        Some(c) => (0..c.relations).map(|i| format!("rel{i}")).collect(),
        None => Vec::new(),
    };
    let actions: Vec<String> = (0..p.actions.len()).map(|i| format!("a{i}")).collect();
    let action_groups: Vec<Vec<usize>> = p
        .action_groups
        .iter()
        .map(|g| {
            let mut m: Vec<usize> = g.iter().map(|&i| i as usize % actions.len()).collect();
            m.sort();
            m.dedup();
            m
        })
        .collect();
    let permissions: Vec<String> = (0..p.permissions).map(|i| format!("p{i}")).collect();
    let mut n = Names {
        everyone: std::cell::Cell::new(false),
        roles,
        relations,
        actions,
        action_groups,
        permissions,
        modules: (0..p.modules.len()).map(|i| format!("M{i}")).collect(),
        offered: Vec::new(),
        groups: (0..p.groups.len()).map(|i| format!("G{i}")).collect(),
        enums: p.enums.clone(),
        has_case: p.case.is_some(),
        case_attrs: Vec::new(),
        kinds: Vec::new(),
        kind_parent: Vec::new(),
        kind_attrs: Vec::new(),
        casetypes: Vec::new(),
        stateless: Vec::new(),
        user_attrs: Vec::new(),
        context: Vec::new(),
    };
    n.offered = p
        .modules
        .iter()
        .map(|m| {
            let mut out: Vec<usize> = Vec::new();
            for a in &m.actions {
                match *a {
                    ActRef::Group(g) if !n.action_groups.is_empty() => {
                        out.extend(&n.action_groups[g as usize % n.action_groups.len()])
                    }
                    ActRef::Group(i) | ActRef::Action(i) => out.push(i as usize % n.actions.len()),
                    ActRef::Star => {}
                }
            }
            out.sort();
            out.dedup();
            out
        })
        .collect();
    if let Some(c) = &p.case {
        n.case_attrs = c.attrs.iter().map(|t| n.resolve_ty(*t)).collect();
        n.kinds.push("Case".into());
        n.kind_parent.push(None);
        n.kind_attrs.push(n.case_attrs.clone());
    }
    let first_resource_kind = n.kinds.len();
    for (i, k) in p.kinds.iter().enumerate() {
        // A parent among the kinds declared before this one: no cycles.
        let parent = k.parent.and_then(|x| pick(n.kinds.len(), x));
        n.kinds.push(format!("K{i}"));
        n.kind_parent.push(parent);
        let attrs = k.attrs.iter().map(|t| n.resolve_ty(*t)).collect();
        n.kind_attrs.push(attrs);
    }
    n.user_attrs = p
        .user_attrs
        .iter()
        .map(|t| match n.resolve_ty(*t) {
            Ty::RefSelf => Ty::RefUser,
            t => t,
        })
        .collect();
    n.context = p
        .context
        .iter()
        .map(|t| match n.resolve_ty(*t) {
            Ty::RefSelf | Ty::RefUser => Ty::Str,
            t => t,
        })
        .collect();
    if n.has_case {
        n.casetypes = p.casetypes.iter().map(|c| c.states).collect();
        n.stateless = p.casetypes.iter().map(|c| c.stateless).collect();
    }

    let mut items: Vec<String> = Vec::new();
    items.push(format!("role {};", n.roles.join(", ")));
    if !n.permissions.is_empty() {
        items.push(format!("permission {};", n.permissions.join(", ")));
    }
    for (i, req) in p.actions.iter().enumerate() {
        match req.and_then(|r| pick(n.permissions.len(), r)) {
            Some(perm) => items.push(format!("action a{i} requires p{perm};")),
            None => items.push(format!("action a{i};")),
        }
    }
    for (i, g) in n.action_groups.iter().enumerate() {
        let m: Vec<&str> = g.iter().map(|&a| n.actions[a].as_str()).collect();
        items.push(format!("actions ag{i} = {};", m.join(", ")));
    }
    if p.require_group {
        items.push("require group;".into());
    }
    for (i, m) in p.modules.iter().enumerate() {
        let mut body = String::new();
        let acts: Vec<ActRef> = m
            .actions
            .iter()
            .copied()
            .filter(|a| !matches!(a, ActRef::Star))
            .collect();
        if !acts.is_empty() {
            body.push_str(&format!(" actions {};", n.action_refs(&acts)));
        }
        let rec = n.relations(&m.records);
        if !rec.is_empty() {
            body.push_str(&format!(" records {};", rec.join(", ")));
        }
        if let Some(roles) = &m.data_roles {
            let names: Vec<String> = roles
                .iter()
                .map(|&r| n.roles[r as usize % n.roles.len()].clone())
                .collect();
            body.push_str(&format!(" data roles {};", names.join(", ")));
        }
        items.push(format!("module M{i} {{{body} }}"));
    }
    for (i, v) in n.enums.iter().enumerate() {
        let vs: Vec<String> = (0..*v).map(|j| format!("v{j}")).collect();
        items.push(format!("enum E{i} {{ {} }}", vs.join(", ")));
    }
    if !n.user_attrs.is_empty() {
        let attrs: Vec<String> = n
            .user_attrs
            .iter()
            .enumerate()
            .map(|(i, t)| format!("attr u{i}: {};", n.ty_text(*t, "User")))
            .collect();
        items.push(format!("user {{ {} }}", attrs.join(" ")));
    }
    if !n.context.is_empty() {
        let fields: Vec<String> = n
            .context
            .iter()
            .enumerate()
            .map(|(i, t)| format!("c{i}: {};", n.ty_text(*t, "User")))
            .collect();
        items.push(format!("context {{ {} }}", fields.join(" ")));
    }
    for (i, g) in p.groups.iter().enumerate() {
        let mut head = format!("group G{i}");
        // A parent among the groups before this one: no cycles.
        if let Some(parent) = g.parent.and_then(|x| pick(i, x)) {
            head.push_str(&format!(" in G{parent}"));
        }
        let mut body = String::new();
        let grants: Vec<String> = g
            .grants
            .iter()
            .map(|&r| n.roles[r as usize % n.roles.len()].clone())
            .collect();
        if !grants.is_empty() {
            body.push_str(&format!(" grants {};", grants.join(", ")));
        }
        let permits: Vec<String> = g
            .permits
            .iter()
            .filter_map(|&x| pick(n.permissions.len(), x).map(|i| n.permissions[i].clone()))
            .collect();
        if !permits.is_empty() {
            body.push_str(&format!(" permits {};", permits.join(", ")));
        }
        match &g.scope {
            Scope::Default => {}
            Scope::All => body.push_str(" scope all;"),
            Scope::Assigned(r) => {
                let rels = n.relations(r);
                if rels.is_empty() {
                    body.push_str(" scope all;");
                } else {
                    body.push_str(&format!(" scope assigned via {};", rels.join(", ")));
                }
            }
            Scope::Filter(mode, conds) => {
                if n.has_case {
                    let cs: Vec<String> = conds
                        .iter()
                        .filter_map(|c| condition(&n, c, *mode == FilterMode::All))
                        .map(|c| format!(" {c};"))
                        .collect();
                    let mode = match mode {
                        FilterMode::Bare => "",
                        FilterMode::Any => " any",
                        FilterMode::All => " all",
                    };
                    body.push_str(&format!(" scope filter{mode} {{{} }}", cs.concat()));
                }
            }
        }
        items.push(format!("{head} {{{body} }}"));
    }
    if let Some(c) = &p.case {
        let mut body = String::new();
        for (i, t) in n.case_attrs.iter().enumerate() {
            body.push_str(&format!("\n  attr at{i}: {};", n.ty_text(*t, "Case")));
        }
        if !n.relations.is_empty() {
            body.push_str(&format!("\n  relation {};", n.relations.join(", ")));
        }
        if let Some(m) = &c.mode {
            let enum_attrs: Vec<(usize, u8)> = n
                .case_attrs
                .iter()
                .enumerate()
                .filter_map(|(i, t)| match t {
                    Ty::Enum(e) => Some((i, *e)),
                    _ => None,
                })
                .collect();
            if let Some(k) = pick(enum_attrs.len(), m.attr) {
                let (attr, e) = enum_attrs[k];
                let mut arms = String::new();
                for v in 0..n.enums[e as usize] {
                    let arm = &m.arms[v as usize % m.arms.len()];
                    let rels = arm.as_ref().map(|r| n.relations(r)).unwrap_or_default();
                    let who = if rels.is_empty() {
                        "everyone".to_string()
                    } else {
                        rels.join(", ")
                    };
                    arms.push_str(&format!(" v{v}: {who};"));
                }
                body.push_str(&format!("\n  mode at{attr} {{{arms} }}"));
            }
        }
        for r in &c.rules {
            body.push_str(&format!("\n  {}", rule_text(&n, r, None, At::Kind(0))));
        }
        items.push(format!("case Case {{{body}\n}}"));
    }
    for (i, k) in p.kinds.iter().enumerate() {
        let ki = first_resource_kind + i;
        let mut head = format!("resource K{i}");
        let mut body = String::new();
        if let Some(parent) = n.kind_parent[ki] {
            head.push_str(&format!(" under {}", n.kinds[parent]));
            let mut classes = Vec::new();
            if k.inherit_read {
                classes.push("read");
            }
            if k.inherit_write {
                classes.push("write");
            }
            if !classes.is_empty() {
                body.push_str(&format!(" inherit {};", classes.join(", ")));
            }
        }
        for (j, t) in n.kind_attrs[ki].iter().enumerate() {
            body.push_str(&format!(" attr b{j}: {};", n.ty_text(*t, &n.kinds[ki])));
        }
        for r in &k.rules {
            body.push_str(&format!(" {}", rule_text(&n, r, None, At::Kind(ki))));
        }
        // Every second resource kind declares a relation, held on its resources and those
        // under them, and allows an action to it (language.md §14).
        if let Some(rel) = kind_relation(i) {
            let a = &n.actions[i % n.actions.len()];
            body.push_str(&format!(" relation {rel}; allow {rel}: {a};"));
        }
        items.push(format!("{head} {{{body} }}"));
    }
    let (read, write) = &p.codes;
    if !read.is_empty() || !write.is_empty() {
        let mut body = String::new();
        if !read.is_empty() {
            body.push_str(&format!(" read: {};", n.action_refs(read)));
        }
        if !write.is_empty() {
            body.push_str(&format!(" write: {};", n.action_refs(write)));
        }
        items.push(format!("codes {{{body} }}"));
    }
    if n.has_case {
        for (t, ct) in p.casetypes.iter().enumerate() {
            items.push(casetype_text(&n, t, ct));
        }
    }
    for r in &p.rules {
        items.push(rule_text(&n, r, None, At::Top));
    }

    if p.reverse {
        items.reverse();
    }
    let files = if p.two_files {
        let (mut a, mut b) = (String::new(), String::new());
        for (i, it) in items.iter().enumerate() {
            let f = if i % 2 == 0 { &mut a } else { &mut b };
            f.push_str(it);
            f.push('\n');
        }
        vec![("a.casepol".to_string(), a), ("b.casepol".to_string(), b)]
    } else {
        vec![("policy.casepol".to_string(), items.join("\n") + "\n")]
    };
    (n, files)
}

fn casetype_text(n: &Names, t: usize, ct: &CaseType) -> String {
    if ct.stateless {
        return stateless_casetype_text(n, t, ct);
    }
    let k = ct.states;
    let st = |i: u8| format!("S{}", i % k);
    let mut out = format!(
        "casetype T{t} {{\n  states {};\n  initial {};",
        (0..k)
            .map(|i| format!("S{i}"))
            .collect::<Vec<_>>()
            .join(", "),
        st(ct.initial)
    );
    let sources: Vec<u8> = ct
        .transitions
        .iter()
        .flat_map(|tr| tr.from.iter().map(|&f| f % k))
        .collect();
    // No transition may leave a final state: finals are only states no transition starts from.
    let mut finals: Vec<u8> = ct
        .finals
        .iter()
        .map(|&f| f % k)
        .filter(|f| !sources.contains(f))
        .collect();
    finals.dedup();
    if !finals.is_empty() {
        let f: Vec<String> = finals.iter().map(|&f| st(f)).collect();
        out.push_str(&format!("\n  final {};", f.join(", ")));
    }
    for tr in &ct.transitions {
        let from: Vec<String> = tr.from.iter().map(|&f| st(f)).collect();
        out.push_str(&format!(
            "\n  transition {}: {} -> {} by {};",
            n.actions[tr.action as usize % n.actions.len()],
            from.join(", "),
            st(tr.to),
            n.subjects(&tr.by)
        ));
    }
    module_blocks(n, ct, &mut out);
    for r in &ct.rules {
        out.push_str(&format!("\n  {}", rule_text(n, r, Some(k), At::CaseType)));
    }
    tables_text(n, ct, &mut out);
    out.push_str("\n}");
    out
}

/// A case type without a workflow: its module grants and its rules, without `in` states.
fn stateless_casetype_text(n: &Names, t: usize, ct: &CaseType) -> String {
    let mut out = format!("casetype T{t} {{");
    module_blocks(n, ct, &mut out);
    for r in &ct.rules {
        out.push_str(&format!("\n  {}", rule_text(n, r, None, At::CaseType)));
    }
    out.push_str("\n}");
    out
}

fn module_blocks(n: &Names, ct: &CaseType, out: &mut String) {
    for b in &ct.modules {
        let Some(m) = pick(n.modules.len(), b.module) else {
            continue;
        };
        let offered = &n.offered[m];
        let mut lines = String::new();
        for l in &b.lines {
            let acts: Vec<String> = l
                .actions
                .iter()
                .map(|a| match a.and_then(|i| pick(offered.len(), i)) {
                    Some(i) => n.actions[offered[i]].clone(),
                    None => "*".into(),
                })
                .collect();
            lines.push_str(&format!(
                "\n    {}: {};",
                n.subjects(&l.subjects),
                acts.join(", ")
            ));
        }
        out.push_str(&format!("\n  module M{m} {{{lines}\n  }}"));
    }
}

fn tables_text(n: &Names, ct: &CaseType, out: &mut String) {
    let k = ct.states;
    let st = |i: u8| format!("S{}", i % k);
    for tb in &ct.tables {
        let header: Vec<String> = tb
            .columns
            .iter()
            .map(|c| format!("| {}", n.subject(*c)))
            .collect();
        out.push_str(&format!("\n  table {{\n      {}", header.join(" ")));
        let mut seen = Vec::new();
        for (state, cells) in &tb.rows {
            let s = state % k;
            if seen.contains(&s) {
                continue;
            }
            seen.push(s);
            out.push_str(&format!("\n    {}", st(s)));
            for c in 0..tb.columns.len() {
                let entries = cells.get(c).map(Vec::as_slice).unwrap_or(&[]);
                if entries.is_empty() {
                    out.push_str(" | .");
                } else {
                    let e: Vec<String> = entries
                        .iter()
                        .map(|(deny, a)| {
                            format!("{}{}", if *deny { "-" } else { "+" }, n.action_ref(*a))
                        })
                        .collect();
                    out.push_str(&format!(" | {}", e.join(" ")));
                }
            }
        }
        out.push_str("\n  }");
    }
}

fn code_text(c: &Code, pool: &[String]) -> String {
    let level = |l: &Vec<u8>| -> Vec<String> {
        l.iter()
            .map(|&i| pool[i as usize % pool.len()].clone())
            .collect()
    };
    match c.levels.as_slice() {
        [] => String::new(),
        [one] if c.bare && !one.is_empty() => level(one).join("|"),
        levels => levels
            .iter()
            .map(|l| format!("[{}]", level(l).join("|")))
            .collect::<Vec<_>>()
            .join(" & "),
    }
}

fn attr_value(t: Ty, v: u8, n: &Names, users: usize, same_kind: &[String]) -> Value {
    match t {
        Ty::Str => json!(STRS[v as usize % STRS.len()]),
        Ty::Int => json!(INTS[v as usize % INTS.len()]),
        Ty::DateTime => json!(DATES[v as usize % DATES.len()]),
        Ty::Bool => json!(v % 2 == 1),
        Ty::SetStr => Value::Array(
            STRS.iter()
                .enumerate()
                .filter(|(i, _)| v & (1 << i) != 0)
                .map(|(_, s)| json!(s))
                .collect(),
        ),
        Ty::Enum(e) => json!(format!("v{}", v % n.enums[e as usize])),
        Ty::RefUser => json!(format!("u{}", v as usize % users)),
        Ty::RefSelf => json!(same_kind[v as usize % same_kind.len()]),
    }
}

/// Renders a policy and entities.
pub fn render(p: &PolicySpec, e: &EntitySpec) -> Generated {
    let (n, files) = render_policy(p);

    let units: Vec<String> = (0..e.units.len()).map(|i| format!("U{i}")).collect();
    let users: Vec<String> = (0..e.users.len()).map(|i| format!("u{i}")).collect();
    // Access codes name users, groups, units and terms, and one code nobody holds.
    let mut pool: Vec<String> = users.clone();
    pool.extend(n.groups.iter().cloned());
    pool.extend(units.iter().cloned());
    pool.extend([
        "X".to_string(),
        "Y".to_string(),
        "nobody-holds-this".to_string(),
    ]);

    let mut unit_json = Vec::new();
    for (i, parent) in e.units.iter().enumerate() {
        let mut u = Map::new();
        u.insert("id".into(), json!(units[i]));
        if let Some(p) = parent.and_then(|x| pick(i, x)) {
            u.insert("parent".into(), json!(units[p]));
        }
        unit_json.push(Value::Object(u));
    }
    let mut user_json = Vec::new();
    for (i, u) in e.users.iter().enumerate() {
        let mut groups: Vec<String> = u
            .groups
            .iter()
            .map(|&g| n.groups[g as usize % n.groups.len()].clone())
            .collect();
        if p.require_group && groups.is_empty() {
            groups.push(n.groups[0].clone());
        }
        let mut o = Map::new();
        o.insert("id".into(), json!(users[i]));
        o.insert("groups".into(), json!(groups));
        let us: Vec<&String> = u
            .units
            .iter()
            .filter_map(|&x| pick(units.len(), x).map(|k| &units[k]))
            .collect();
        if !us.is_empty() {
            o.insert("units".into(), json!(us));
        }
        if !u.terms.is_empty() {
            let terms: Vec<&str> = u
                .terms
                .iter()
                .map(|&t| ["X", "Y"][t as usize % 2])
                .collect();
            o.insert("terms".into(), json!(terms));
        }
        if !n.user_attrs.is_empty() {
            let mut a = Map::new();
            for (j, t) in n.user_attrs.iter().enumerate() {
                a.insert(
                    format!("u{j}"),
                    attr_value(*t, u.attrs[j % u.attrs.len()], &n, users.len(), &[]),
                );
            }
            o.insert("attrs".into(), Value::Object(a));
        }
        user_json.push(Value::Object(o));
    }

    // Resources in the order kinds are declared, so that every parent comes first.
    let mut order: Vec<(usize, &Res)> = Vec::new();
    if !n.kinds.is_empty() {
        for r in &e.resources {
            order.push((r.kind as usize % n.kinds.len(), r));
        }
    }
    order.sort_by_key(|(k, _)| *k);
    let mut placed: Vec<(usize, String, &Res)> = Vec::new();
    for (k, r) in order {
        if let Some(pk) = n.kind_parent[k] {
            let parents: Vec<&String> = placed
                .iter()
                .filter(|(x, _, _)| *x == pk)
                .map(|(_, id, _)| id)
                .collect();
            if parents.is_empty() {
                continue;
            }
        }
        let id = format!("r{}", placed.len());
        placed.push((k, id, r));
    }
    let mut res_json = Vec::new();
    for (k, id, r) in &placed {
        let same_kind: Vec<String> = placed
            .iter()
            .filter(|(x, _, _)| x == k)
            .map(|(_, i, _)| i.clone())
            .collect();
        let mut o = Map::new();
        o.insert("id".into(), json!(id));
        o.insert("kind".into(), json!(n.kinds[*k]));
        if let Some(pk) = n.kind_parent[*k] {
            let parents: Vec<&String> = placed
                .iter()
                .filter(|(x, _, _)| *x == pk)
                .map(|(_, id, _)| id)
                .collect();
            o.insert(
                "parent".into(),
                json!(parents[r.parent as usize % parents.len()]),
            );
        }
        let is_case = n.has_case && *k == 0;
        if is_case {
            let t = r.casetype as usize % n.casetypes.len();
            o.insert("type".into(), json!(format!("T{t}")));
            if !n.stateless[t] {
                o.insert(
                    "state".into(),
                    json!(format!("S{}", r.state % n.casetypes[t])),
                );
            }
            let (mut rels, mut rel_groups) = (Map::new(), Map::new());
            for (ri, rel) in n.relations.iter().enumerate() {
                let holders: Vec<&String> = r.relations[ri]
                    .iter()
                    .map(|&u| &users[u as usize % users.len()])
                    .collect();
                if !holders.is_empty() {
                    rels.insert(rel.clone(), json!(holders));
                }
                let groups = member_groups(&n, &r.relations[ri]);
                if !groups.is_empty() {
                    rel_groups.insert(rel.clone(), json!(groups));
                }
            }
            if !rels.is_empty() {
                o.insert("relations".into(), Value::Object(rels));
            }
            if !rel_groups.is_empty() {
                o.insert("relation_groups".into(), Value::Object(rel_groups));
            }
        }
        // A relation of a resource kind: its users and groups from the resource's first list.
        let rel = k
            .checked_sub(usize::from(n.has_case))
            .and_then(kind_relation);
        if let (false, Some(rel)) = (is_case, rel) {
            let picks = &r.relations[0];
            let holders: Vec<&String> = picks
                .iter()
                .map(|&u| &users[u as usize % users.len()])
                .collect();
            if !holders.is_empty() {
                o.insert("relations".into(), json!({ rel.clone(): holders }));
            }
            let groups = member_groups(&n, picks);
            if !groups.is_empty() {
                o.insert("relation_groups".into(), json!({ rel: groups }));
            }
        }
        if !n.kind_attrs[*k].is_empty() {
            let mut a = Map::new();
            for (j, t) in n.kind_attrs[*k].iter().enumerate() {
                let name = if is_case {
                    format!("at{j}")
                } else {
                    format!("b{j}")
                };
                a.insert(
                    name,
                    attr_value(*t, r.attrs[j % r.attrs.len()], &n, users.len(), &same_kind),
                );
            }
            o.insert("attrs".into(), Value::Object(a));
        }
        let read = code_text(&r.read, &pool);
        if !read.is_empty() {
            o.insert("read".into(), json!(read));
        }
        let write = code_text(&r.write, &pool);
        if !write.is_empty() {
            o.insert("write".into(), json!(write));
        }
        if let Some(b) = r.inherit_read {
            o.insert("inherit_read".into(), json!(b));
        }
        if let Some(b) = r.inherit_write {
            o.insert("inherit_write".into(), json!(b));
        }
        res_json.push(Value::Object(o));
    }
    if e.reverse {
        unit_json.reverse();
        user_json.reverse();
        res_json.reverse();
    }
    let entities = serde_json::to_string_pretty(&json!({
        "units": unit_json,
        "users": user_json,
        "resources": res_json,
    }))
    .expect("JSON values serialise");

    // Context strings come from the attribute values' pool and one string stored nowhere, so
    // that a context string equals a stored one, a literal, or nothing at all.
    let contexts = match n.context.is_empty() {
        true => Vec::new(),
        false => e
            .contexts
            .iter()
            .map(|values| {
                n.context
                    .iter()
                    .enumerate()
                    .map(|(j, t)| {
                        let v = values[j % values.len()];
                        let value = match t {
                            Ty::Str if v % 4 == 3 => json!("stored nowhere"),
                            t => attr_value(*t, v, &n, users.len(), &[]),
                        };
                        (format!("c{j}"), value)
                    })
                    .collect()
            })
            .collect(),
    };
    Generated {
        files,
        entities,
        over_limit: None,
        everyone: n.everyone.get(),
        contexts,
    }
}

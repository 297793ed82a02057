//! Checked IR to the compiled policy: names interned to integer ids, rules lowered to role-set
//! lookups indexed by (scope, state, action), and scope filters lowered to a small bytecode.
//!
//! The compiled policy is immutable and `Send + Sync`: one instance serves every thread.

use crate::bits::Bits;
use crate::diagnostic::Sources;
use crate::ir::{
    self, CondTest, Effect, FilterMode, KindId, Policy, RuleScope, ScopeDef, Subject, Value,
};
use std::collections::HashMap;
use std::fmt;

/// One instruction of a scope filter: a test, after its `negate` flag, on the case's attributes.
/// A condition of the filter is one instruction, or several (`in [a, b]`) of which one must
/// hold. A filter `any` passes when any instruction holds; a filter `all` when every condition
/// has an instruction that holds (`CompiledPolicy::filter_conditions`). A filter without
/// instructions admits nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insn {
    /// String or reference attribute equals interned symbol.
    EqSym {
        attr: u32,
        sym: u32,
        negate: bool,
    },
    EqInt {
        attr: u32,
        value: i64,
        negate: bool,
    },
    EqBool {
        attr: u32,
        value: bool,
        negate: bool,
    },
    EqVariant {
        attr: u32,
        variant: u32,
        negate: bool,
    },
    /// Set attribute contains interned symbol.
    Contains {
        attr: u32,
        sym: u32,
    },
    /// User-reference attribute is the principal.
    IsPrincipal {
        attr: u32,
        negate: bool,
    },
}

/// Where a term of a rule's condition reads a value: the principal, one of its attributes, an
/// attribute of the resource or of its anchor case, a field of the request's context, or a
/// literal (a string as its interned symbol: literal `i` is symbol `i` of every entity set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    Principal,
    User(u32),
    Resource(u32),
    Case(u32),
    Context(u32),
    Sym(u32),
    Int(i64),
    Bool(bool),
    Variant(u32),
}

/// One term of a compiled condition: a test, after `negate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CTerm {
    pub test: Test,
    pub negate: bool,
}

/// What a compiled term tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// The principal holds the relation whose subject bit this is.
    Holds(u32),
    Compare(ir::CmpOp, Src, Src),
    /// Equal to one of `CompiledPolicy::one_of[start..start + len]`.
    OneOf(Src, u32, u32),
    /// A set contains a string.
    Contains(Src, Src),
    /// A `bool` that is true.
    True(Src),
}

/// A rule with a condition: it is kept out of the data masks, and the data layer tests it on
/// its own where it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CRule {
    /// Its index among the IR's rules.
    pub rule: u32,
    pub effect: Effect,
    pub subjects: Bits,
    /// Its terms, `CompiledPolicy::terms[start..start + len]`, every one of which must hold.
    pub start: u32,
    pub len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CScope {
    All,
    /// A relation (as a subject bit) must be held.
    Assigned(Bits),
    /// Range into `CompiledPolicy::code`; `all`: every condition must hold, not just one.
    Filter {
        start: u32,
        len: u32,
        all: bool,
    },
}

#[derive(Debug, Clone)]
pub struct CGroup {
    pub roles: Bits,
    pub permits: Bits,
    pub scope: CScope,
}

/// Allow and deny subject sets for one (place, action).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Masks {
    pub allow: Bits,
    pub deny: Bits,
}

impl Masks {
    fn add(&mut self, effect: Effect, subjects: Bits) {
        match effect {
            Effect::Allow => self.allow = self.allow.union(subjects),
            Effect::Deny => self.deny = self.deny.union(subjects),
        }
    }

    #[inline]
    fn merge(self, o: Masks) -> Masks {
        Masks {
            allow: self.allow.union(o.allow),
            deny: self.deny.union(o.deny),
        }
    }
}

/// The compiled form of a policy.
#[derive(Debug)]
pub struct CompiledPolicy {
    // The fields are private to this file: every other module reads the tables through the
    // methods below, which know their layout. Until the rewrite of `query/residual.rs` in
    // another branch is merged, it still reads some fields, which stay `pub(crate)` until then.
    /// Unique to this compilation: entities loaded for it carry it, and deciding checks it.
    pub(crate) stamp: u64,
    ir: Policy,
    sources: Sources,
    /// Policy string literals; entity loading interns these first, so literal `i` is symbol `i`.
    pub(crate) literals: Vec<String>,
    /// Each literal's index by its text.
    literal_index: HashMap<String, u32>,
    n_actions: usize,
    pub(crate) n_roles: usize,
    /// The subject bit of `everyone` when the policy names it, held by every principal on every
    /// resource; empty otherwise.
    pub(crate) everyone: Bits,
    pub(crate) groups: Vec<CGroup>,
    pub(crate) code: Vec<Insn>,
    /// Parallel to `code`: the instruction starts a condition of its filter (the others are
    /// further values of an `in [...]` list).
    cond_starts: Vec<bool>,
    /// `[action]`
    global: Vec<Masks>,
    /// `[kind * n_actions + action]`
    kind_rules: Vec<Masks>,
    /// First slot of each case type's states in `state_rules`.
    state_base: Vec<u32>,
    /// `[(state_base[t] + state) * n_actions + action]`
    state_rules: Vec<Masks>,
    /// Per case type: does any module grant exist?
    pub(crate) ct_has_modules: Vec<bool>,
    /// `[(casetype * n_modules + module) * n_actions + action]`: subjects the module grants.
    module_grants: Vec<Bits>,
    /// Per module: the actions it offers, and the relations (as subject bits) its records need.
    pub(crate) module_actions: Vec<Bits>,
    pub(crate) module_records: Vec<Option<Bits>>,
    /// Per module that declares `data roles`: the subjects the data layer reads for a request
    /// through it, its data roles and every relation, as subject bits.
    pub(crate) module_data: Vec<Option<Bits>>,
    /// Access mode: the case attribute, and per variant the relations needed (`None`: everyone).
    pub(crate) mode: Option<(u32, Vec<Option<Bits>>)>,
    /// Per kind: the subject bit of its first relation, and whether it or a kind above it (below
    /// the case kind) is a resource kind that declares relations, so that a decision on one of
    /// its resources walks up to them.
    kind_relations: Vec<(u32, bool)>,
    /// Some resource kind declares relations: only then does a decision walk up to them.
    resource_relations: bool,
    pub(crate) action_read: Bits,
    pub(crate) action_write: Bits,
    pub(crate) action_requires: Vec<Option<u32>>,
    action_index: HashMap<String, u32>,
    permission_index: HashMap<String, u32>,
    module_index: HashMap<String, u32>,
    /// Cold-path tables behind [`crate::vm::determining_rules`]; `decide` never reads them.
    why: Why,
    /// The rules with a condition, the terms of their conditions and the values of their `in`
    /// lists, and where they apply: the slots of `global`, `kind_rules` and `state_rules`, each
    /// holding indices into `crules`. Empty when no rule has a condition, and then never read.
    conditions: Conditions,
    /// The declared transitions, by `(state_base[t] + state) * n_actions + action`: the edges
    /// that leave that state by that action, each `(target state, by subjects)`, one per target.
    edges: Edges,
    /// Per case type: its states by name, for resolving a request's target state.
    state_index: Vec<HashMap<String, u32>>,
}

/// The compiled conditions (see `CompiledPolicy::conditions`).
#[derive(Debug, Default)]
struct Conditions {
    /// Some rule has a condition: the data layer looks at the lists below.
    any: bool,
    crules: Vec<CRule>,
    terms: Vec<CTerm>,
    one_of: Vec<Src>,
    /// Per IR rule: its index in `crules`, or `u32::MAX` for a rule without a condition.
    of_rule: Vec<u32>,
    /// The deny masks of the rules without a condition, in the slots of `global`,
    /// `kind_rules` and `state_rules`. The deny masks there also hold every subject of a rule
    /// with a condition in the slot, so that the data layer, which looks at the deny mask
    /// first, leaves its path without conditions only for a user such a rule names.
    deny_global: Vec<Bits>,
    deny_kind: Vec<Bits>,
    deny_state: Vec<Bits>,
    global: Buckets,
    kind: Buckets,
    state: Buckets,
}

/// Per slot, a list of `(target, subjects)`, stored flat as [`Buckets`] are.
#[derive(Debug, Default)]
struct Edges {
    start: Vec<u32>,
    items: Vec<(u32, Bits)>,
}

/// A list of `u32` per slot, stored flat: slot `i` is `items[start[i]..start[i + 1]]`.
#[derive(Debug, Default)]
struct Buckets {
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Buckets {
    /// Flattens per-slot lists, dropping an item repeated within its slot.
    fn new(lists: Vec<Vec<u32>>) -> Buckets {
        let mut b = Buckets {
            start: Vec::with_capacity(lists.len() + 1),
            items: Vec::new(),
        };
        b.start.push(0);
        for mut l in lists {
            l.sort_unstable();
            l.dedup();
            b.items.extend(l);
            b.start.push(b.items.len() as u32);
        }
        b
    }

    fn get(&self, slot: usize) -> &[u32] {
        &self.items[self.start[slot] as usize..self.start[slot + 1] as usize]
    }

    /// [`Buckets::get`], or `None` for a slot out of range.
    fn try_get(&self, slot: usize) -> Option<&[u32]> {
        let start = *self.start.get(slot)? as usize;
        let end = *self.start.get(slot.checked_add(1)?)? as usize;
        self.items.get(start..end)
    }
}

/// Which source rule stands behind each bit of the data masks and module grants: the same slots
/// as `global`, `kind_rules`, `state_rules` and `module_grants`, holding rule and line indices
/// instead of subject unions. Built alongside the masks from the IR, not from a decision.
#[derive(Debug, Default)]
struct Why {
    /// Per `ir.rules` index: its effect and its subjects.
    rules: Vec<(Effect, Bits)>,
    global: Buckets,
    kind: Buckets,
    state: Buckets,
    /// Per module-grant line of every case type: (case type, line index in it, subjects).
    grant_lines: Vec<(u32, u32, Bits)>,
    /// Indices into `grant_lines`, in the slots of `module_grants`.
    grants: Buckets,
}

/// The subject bit of a role or relation.
pub(crate) fn subject_bit(p: &Policy, s: Subject) -> usize {
    match s {
        Subject::Role(r) => r.idx(),
        Subject::Relation(r) => p.roles.len() + r.idx(),
        Subject::Everyone => p.roles.len() + p.relations.len(),
    }
}

fn subjects(p: &Policy, s: &[Subject]) -> Bits {
    Bits::from_indices(s.iter().map(|x| subject_bit(p, *x)))
}

fn relations(p: &Policy, r: &[ir::RelationId]) -> Bits {
    Bits::from_indices(r.iter().map(|x| p.roles.len() + x.idx()))
}

/// Where a compiled term reads an operand; a string literal is interned with `intern`.
fn src(o: &ir::Operand, intern: &mut impl FnMut(&str) -> u32) -> Src {
    match o {
        ir::Operand::Principal => Src::Principal,
        ir::Operand::User(a) => Src::User(a.0),
        ir::Operand::Resource(a) => Src::Resource(a.0),
        ir::Operand::Case(a) => Src::Case(a.0),
        ir::Operand::Context(a) => Src::Context(a.0),
        ir::Operand::Literal(Value::Str(s)) => Src::Sym(intern(s)),
        ir::Operand::Literal(Value::Int(i)) => Src::Int(*i),
        // A `datetime` is its microseconds: the VM compares it as a number.
        ir::Operand::Literal(Value::DateTime(t)) => Src::Int(*t),
        ir::Operand::Literal(Value::Bool(b)) => Src::Bool(*b),
        ir::Operand::Literal(Value::Variant(v)) => Src::Variant(*v),
    }
}

/// A term of a condition, compiled: its operands as [`Src`]s, the values of an `in` appended to
/// `one_of`, a string literal interned with `intern`. Rules' conditions are compiled so, and
/// the conditions of queries (`query::Condition`) with the entities' symbols.
pub(crate) fn cterm(
    ir: &Policy,
    t: &ir::Term,
    one_of: &mut Vec<Src>,
    intern: &mut impl FnMut(&str) -> u32,
) -> CTerm {
    let test = match &t.test {
        ir::TermTest::Holds(rel) => Test::Holds((ir.roles.len() + rel.idx()) as u32),
        ir::TermTest::Compare(a, op, b) => Test::Compare(*op, src(a, intern), src(b, intern)),
        ir::TermTest::OneOf(a, values) => {
            let at = one_of.len() as u32;
            for v in values {
                one_of.push(src(&ir::Operand::Literal(v.clone()), intern));
            }
            Test::OneOf(src(a, intern), at, values.len() as u32)
        }
        ir::TermTest::Contains(set, item) => Test::Contains(src(set, intern), src(item, intern)),
        ir::TermTest::True(a) => Test::True(src(a, intern)),
    };
    CTerm {
        test,
        negate: t.negate,
    }
}

/// A number no other compiled policy or entity set of this process has: it ties entities to the
/// policy that loaded them and a resolved request to the entities it was resolved against, so
/// that mixing them up is an error, never a decision about the wrong user or resource.
pub(crate) fn next_stamp() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Lowers a checked policy. Infallible: the checker has rejected everything that could fail,
/// and everything too large to build (`src/limits.rs`: the counts that size the 256-bit sets,
/// the table slots, the rule entries).
pub fn compile(ir: Policy, sources: Sources) -> CompiledPolicy {
    let n_actions = ir.actions.len();
    let n_modules = ir.modules.len();
    debug_assert!(
        n_actions <= crate::limits::MAX_ACTIONS
            && ir.permissions.len() <= crate::limits::MAX_PERMISSIONS
            && ir.roles.len() + ir.relations.len() + ir.everyone as usize
                <= crate::limits::MAX_SUBJECTS,
        "the checker bounds every count that indexes a 256-bit set"
    );
    debug_assert!(
        ir.casetypes.len() * n_modules * n_actions <= crate::limits::MAX_TABLE_SLOTS
            && ir.kinds.len() * n_actions <= crate::limits::MAX_TABLE_SLOTS,
        "the checker bounds every table"
    );
    let mut literals: Vec<String> = Vec::new();
    let mut lit_index: HashMap<String, u32> = HashMap::new();
    let mut intern = |s: &str| -> u32 {
        if let Some(&i) = lit_index.get(s) {
            return i;
        }
        let i = literals.len() as u32;
        literals.push(s.to_string());
        lit_index.insert(s.to_string(), i);
        i
    };

    let mut code = Vec::new();
    let mut cond_starts = Vec::new();
    let groups = ir
        .groups
        .iter()
        .map(|g| {
            let scope = match &g.scope {
                ScopeDef::All => CScope::All,
                ScopeDef::Assigned(rels) => CScope::Assigned(relations(&ir, rels)),
                ScopeDef::Filter(mode, conds) => {
                    let start = code.len() as u32;
                    for c in conds {
                        cond_starts.resize(code.len(), false);
                        cond_starts.push(true);
                        let attr = c.attr.0;
                        let negate = c.negate;
                        match &c.test {
                            CondTest::IsPrincipal => code.push(Insn::IsPrincipal { attr, negate }),
                            CondTest::Contains(s) => code.push(Insn::Contains {
                                attr,
                                sym: intern(s),
                            }),
                            CondTest::OneOf(values) => {
                                for v in values {
                                    code.push(match v {
                                        Value::Str(s) => Insn::EqSym {
                                            attr,
                                            sym: intern(s),
                                            negate,
                                        },
                                        // INVARIANT: the checker lets no scope filter test a
                                        // `datetime`; were one here, it would be its number.
                                        Value::Int(i) | Value::DateTime(i) => Insn::EqInt {
                                            attr,
                                            value: *i,
                                            negate,
                                        },
                                        Value::Bool(b) => Insn::EqBool {
                                            attr,
                                            value: *b,
                                            negate,
                                        },
                                        Value::Variant(v) => Insn::EqVariant {
                                            attr,
                                            variant: *v,
                                            negate,
                                        },
                                    });
                                }
                            }
                        }
                    }
                    cond_starts.resize(code.len(), false);
                    CScope::Filter {
                        start,
                        len: code.len() as u32 - start,
                        all: *mode == FilterMode::All,
                    }
                }
            };
            CGroup {
                roles: Bits::from_indices(g.grants.iter().map(|r| r.idx())),
                permits: Bits::from_indices(g.permits.iter().map(|p| p.idx())),
                scope,
            }
        })
        .collect();

    let mut global = vec![Masks::default(); n_actions];
    let mut kind_rules = vec![Masks::default(); ir.kinds.len() * n_actions];
    let mut state_base = Vec::with_capacity(ir.casetypes.len());
    let mut slots = 0u32;
    for ct in &ir.casetypes {
        state_base.push(slots);
        slots += ct.states.len() as u32;
    }
    let mut state_rules = vec![Masks::default(); slots as usize * n_actions];
    let mut why_global = vec![Vec::new(); global.len()];
    let mut why_kind = vec![Vec::new(); kind_rules.len()];
    let mut why_state = vec![Vec::new(); state_rules.len()];
    let mut why_rules = Vec::with_capacity(ir.rules.len());
    // INVARIANT: the checker bounds every table (MAX_TABLE_SLOTS) and the entries the rules
    // expand to (MAX_RULE_ENTRIES), so these loops and allocations are bounded by the limits.
    let conditional = ir.rules.iter().any(|r| !r.when.is_empty());
    let (mut cond_global, mut cond_kind, mut cond_state) = match conditional {
        true => (
            vec![Vec::new(); global.len()],
            vec![Vec::new(); kind_rules.len()],
            vec![Vec::new(); state_rules.len()],
        ),
        false => (Vec::new(), Vec::new(), Vec::new()),
    };
    let mut crules = Vec::new();
    let mut terms = Vec::new();
    let mut one_of = Vec::new();
    let mut of_rule = Vec::new();
    for (id, r) in ir.rules.iter().enumerate() {
        let subj = subjects(&ir, &r.subjects);
        let id = id as u32;
        why_rules.push((r.effect, subj));
        // A rule with a condition goes into the lists of conditional rules, not the masks.
        let crule = (!r.when.is_empty()).then(|| {
            let start = terms.len() as u32;
            for t in &r.when {
                terms.push(cterm(&ir, t, &mut one_of, &mut intern));
            }
            crules.push(CRule {
                rule: id,
                effect: r.effect,
                subjects: subj,
                start,
                len: terms.len() as u32 - start,
            });
            crules.len() as u32 - 1
        });
        if conditional {
            of_rule.push(crule.unwrap_or(u32::MAX));
        }
        // The states a case-type rule applies in, each once.
        let states: Vec<usize> = match r.scope {
            RuleScope::CaseType(t) if r.states.is_empty() => {
                (0..ir.casetypes[t.idx()].states.len()).collect()
            }
            RuleScope::CaseType(_) => {
                let mut s: Vec<usize> = r.states.iter().map(|s| s.idx()).collect();
                s.sort_unstable();
                s.dedup();
                s
            }
            RuleScope::Global | RuleScope::Kind(_) => Vec::new(),
        };
        // A rule with a condition puts its subjects into the slot's deny mask (see
        // `Conditions::deny_global`), and itself into the slot's list.
        let put = |masks: &mut Masks, list: &mut Vec<u32>| match crule {
            Some(c) => {
                masks.deny = masks.deny.union(subj);
                list.push(c);
            }
            None => masks.add(r.effect, subj),
        };
        let mut no_list = Vec::new();
        for a in &r.actions {
            match r.scope {
                RuleScope::Global => {
                    let list = cond_global.get_mut(a.idx()).unwrap_or(&mut no_list);
                    put(&mut global[a.idx()], list);
                    why_global[a.idx()].push(id);
                }
                RuleScope::Kind(k) => {
                    let slot = k.idx() * n_actions + a.idx();
                    let list = cond_kind.get_mut(slot).unwrap_or(&mut no_list);
                    put(&mut kind_rules[slot], list);
                    why_kind[slot].push(id);
                }
                RuleScope::CaseType(t) => {
                    let base = state_base[t.idx()] as usize;
                    for &s in &states {
                        let slot = (base + s) * n_actions + a.idx();
                        let list = cond_state.get_mut(slot).unwrap_or(&mut no_list);
                        put(&mut state_rules[slot], list);
                        why_state[slot].push(id);
                    }
                }
            }
        }
    }

    let mut module_grants = vec![Bits::EMPTY; ir.casetypes.len() * n_modules * n_actions];
    let mut why_grants = vec![Vec::new(); module_grants.len()];
    let mut grant_lines = Vec::new();
    let mut ct_has_modules = vec![false; ir.casetypes.len()];
    for (t, ct) in ir.casetypes.iter().enumerate() {
        ct_has_modules[t] = ct.uses_modules;
        for (line, g) in ct.module_grants.iter().enumerate() {
            let subj = subjects(&ir, &g.subjects);
            let id = grant_lines.len() as u32;
            grant_lines.push((t as u32, line as u32, subj));
            for a in &g.actions {
                let i = (t * n_modules + g.module.idx()) * n_actions + a.idx();
                module_grants[i] = module_grants[i].union(subj);
                why_grants[i].push(id);
            }
        }
    }
    // The edges per (state, action) slot; two declarations of one edge merge their subjects.
    let mut edge_lists: Vec<Vec<(u32, Bits)>> = vec![Vec::new(); state_rules.len()];
    for (t, ct) in ir.casetypes.iter().enumerate() {
        for tr in &ct.transitions {
            let subj = subjects(&ir, &tr.by);
            for &from in &tr.from {
                let slot = (state_base[t] as usize + from.idx()) * n_actions + tr.action.idx();
                edge_lists[slot].push((tr.to.0, subj));
            }
        }
    }
    let mut edges = Edges::default();
    edges.start.push(0);
    for mut l in edge_lists {
        l.sort_unstable_by_key(|(to, _)| *to);
        // The slot's first item: items before it belong to earlier slots.
        let first = edges.items.len();
        for (to, by) in l {
            match edges.items[first..].last_mut() {
                Some((last, b)) if *last == to => *b = b.union(by),
                _ => edges.items.push((to, by)),
            }
        }
        edges.start.push(edges.items.len() as u32);
    }
    let state_index = ir
        .casetypes
        .iter()
        .map(|ct| {
            // A case type without a workflow has no state a request can name.
            ct.states
                .iter()
                .take(if ct.workflow { usize::MAX } else { 0 })
                .enumerate()
                .map(|(i, s)| (s.name.clone(), i as u32))
                .collect()
        })
        .collect();
    // The deny masks of the rules without a condition alone, when some rule has one.
    let (mut deny_global, mut deny_kind, mut deny_state) = (Vec::new(), Vec::new(), Vec::new());
    if conditional {
        deny_global = vec![Bits::EMPTY; global.len()];
        deny_kind = vec![Bits::EMPTY; kind_rules.len()];
        deny_state = vec![Bits::EMPTY; state_rules.len()];
        for r in ir
            .rules
            .iter()
            .filter(|r| r.effect == Effect::Deny && r.when.is_empty())
        {
            let subj = subjects(&ir, &r.subjects);
            let mut states: Vec<usize> = match r.scope {
                RuleScope::CaseType(t) if r.states.is_empty() => {
                    (0..ir.casetypes[t.idx()].states.len()).collect()
                }
                _ => r.states.iter().map(|s| s.idx()).collect(),
            };
            states.sort_unstable();
            states.dedup();
            for a in &r.actions {
                match r.scope {
                    RuleScope::Global => deny_global[a.idx()] = deny_global[a.idx()].union(subj),
                    RuleScope::Kind(k) => {
                        let slot = k.idx() * n_actions + a.idx();
                        deny_kind[slot] = deny_kind[slot].union(subj);
                    }
                    RuleScope::CaseType(t) => {
                        for &st in &states {
                            let slot = (state_base[t.idx()] as usize + st) * n_actions + a.idx();
                            deny_state[slot] = deny_state[slot].union(subj);
                        }
                    }
                }
            }
        }
    }
    let conditions = Conditions {
        any: conditional,
        crules,
        terms,
        one_of,
        of_rule,
        deny_global,
        deny_kind,
        deny_state,
        global: Buckets::new(cond_global),
        kind: Buckets::new(cond_kind),
        state: Buckets::new(cond_state),
    };
    let why = Why {
        rules: why_rules,
        global: Buckets::new(why_global),
        kind: Buckets::new(why_kind),
        state: Buckets::new(why_state),
        grant_lines,
        grants: Buckets::new(why_grants),
    };
    let module_actions = ir
        .modules
        .iter()
        .map(|m| Bits::from_indices(m.actions.iter().map(|a| a.idx())))
        .collect();
    let module_records = ir
        .modules
        .iter()
        .map(|m| (!m.records.is_empty()).then(|| relations(&ir, &m.records)))
        .collect();
    let everyone = match ir.everyone {
        true => Bits::from_indices([subject_bit(&ir, Subject::Everyone)]),
        false => Bits::EMPTY,
    };
    // What a module's data roles never leave out: the relations and `everyone`.
    let every_relation =
        Bits::from_indices((0..ir.relations.len()).map(|r| ir.roles.len() + r)).union(everyone);
    let module_data = ir
        .modules
        .iter()
        .map(|m| {
            m.data_roles.as_ref().map(|roles| {
                every_relation.union(Bits::from_indices(roles.iter().map(|r| r.idx())))
            })
        })
        .collect();
    let mode = ir
        .case_kind
        .and_then(|k| ir.kinds[k.idx()].mode.as_ref())
        .map(|m| {
            (
                m.attr.0,
                m.arms
                    .iter()
                    .map(|arm| arm.as_ref().map(|rels| relations(&ir, rels)))
                    .collect(),
            )
        });
    let action_read = Bits::from_indices(
        ir.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.read_code)
            .map(|(i, _)| i),
    );
    let action_write = Bits::from_indices(
        ir.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.write_code)
            .map(|(i, _)| i),
    );
    let action_requires = ir.actions.iter().map(|a| a.requires.map(|p| p.0)).collect();
    let kind_relations: Vec<(u32, bool)> = (0..ir.kinds.len())
        .map(|k| {
            let def = &ir.kinds[k];
            let base = def
                .relations
                .first()
                .map_or(0, |r| subject_bit(&ir, Subject::Relation(*r)));
            // The kinds do not nest in a cycle: the checker rejected that.
            let mut at = Some(KindId(k as u32));
            let mut above = false;
            while let Some(x) = at {
                let d = &ir.kinds[x.idx()];
                if d.is_case {
                    break;
                }
                above |= !d.relations.is_empty();
                at = d.parent;
            }
            (base as u32, above)
        })
        .collect();
    let resource_relations = kind_relations.iter().any(|k| k.1);
    let index = |names: Vec<&String>| {
        names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect()
    };
    CompiledPolicy {
        stamp: next_stamp(),
        n_actions,
        n_roles: ir.roles.len(),
        everyone,
        groups,
        code,
        cond_starts,
        global,
        kind_rules,
        state_base,
        state_rules,
        ct_has_modules,
        module_grants,
        module_actions,
        module_records,
        module_data,
        mode,
        kind_relations,
        resource_relations,
        action_read,
        action_write,
        action_requires,
        action_index: index(ir.actions.iter().map(|a| &a.name).collect()),
        permission_index: index(ir.permissions.iter().map(|a| &a.name).collect()),
        module_index: index(ir.modules.iter().map(|a| &a.name).collect()),
        literals,
        literal_index: lit_index,
        why,
        conditions,
        edges,
        state_index,
        ir,
        sources,
    }
}

impl CompiledPolicy {
    /// The checked IR this was compiled from.
    pub fn ir(&self) -> &Policy {
        &self.ir
    }

    /// The policy's source files, for locating its rules.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// Unique to this compilation: entities loaded for it carry it, and deciding checks it.
    #[inline(always)]
    pub(crate) fn stamp(&self) -> u64 {
        self.stamp
    }

    /// The policy's string literals; entity loading interns them first, so literal `i` is
    /// symbol `i`.
    pub(crate) fn literals(&self) -> &[String] {
        &self.literals
    }

    /// The symbol of literal `s`, if the policy writes it: the same in every entity set.
    pub(crate) fn literal_symbol(&self, s: &str) -> Option<u32> {
        self.literal_index.get(s).copied()
    }

    // ---- names -----------------------------------------------------------------------------

    /// The action named `name`.
    pub(crate) fn action_id(&self, name: &str) -> Option<u32> {
        self.action_index.get(name).copied()
    }

    /// The account permission named `name`.
    pub(crate) fn permission_id(&self, name: &str) -> Option<u32> {
        self.permission_index.get(name).copied()
    }

    /// The module named `name`.
    pub(crate) fn module_id(&self, name: &str) -> Option<u32> {
        self.module_index.get(name).copied()
    }

    // ---- subjects and groups ---------------------------------------------------------------

    /// How many roles there are: subject bit `s` is role `s` below it, relation `s - n_roles`
    /// from it on.
    #[inline(always)]
    pub(crate) fn n_roles(&self) -> usize {
        self.n_roles
    }

    /// The subject bit of relation `r`.
    #[inline(always)]
    pub(crate) fn relation_bit(&self, r: usize) -> usize {
        self.n_roles + r
    }

    /// Does some resource kind declare relations (held on its resources and those under
    /// them, besides the case's)?
    #[inline(always)]
    pub(crate) fn resource_relations(&self) -> bool {
        self.resource_relations
    }

    /// For a resource of kind `kind`: the subject bit of the kind's first relation, when the
    /// kind or a kind above it (below the case kind) is a resource kind that declares relations;
    /// `None` when no relation of a resource kind can be held on it.
    #[inline(always)]
    pub(crate) fn relations_above(&self, kind: KindId) -> Option<u32> {
        match self.kind_relations.get(kind.idx()) {
            Some(&(base, true)) => Some(base),
            _ => None,
        }
    }

    /// Group `g`: its roles, permits and scope.
    #[inline(always)]
    pub(crate) fn group(&self, g: u32) -> &CGroup {
        &self.groups[g as usize]
    }

    /// The instructions of a scope filter, `CScope::Filter { start, len, .. }`.
    #[inline(always)]
    pub(crate) fn filter(&self, start: u32, len: u32) -> &[Insn] {
        &self.code[start as usize..(start + len) as usize]
    }

    /// The conditions of a scope filter, `CScope::Filter { start, len, .. }`, in order: each
    /// its instructions, of which one must hold (one for `==`, `!=` and `contains`, one per
    /// value for `in [...]`). Each item is the condition's first instruction's index in `code`
    /// and its instructions.
    #[inline]
    pub(crate) fn filter_conditions(
        &self,
        start: u32,
        len: u32,
    ) -> impl Iterator<Item = (u32, &[Insn])> + '_ {
        let (start, end) = (start as usize, (start + len) as usize);
        let starts = &self.cond_starts[start..end];
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= starts.len() {
                return None;
            }
            let first = at;
            at += 1;
            while at < starts.len() && !starts[at] {
                at += 1;
            }
            Some((
                (start + first) as u32,
                &self.code[start + first..start + at],
            ))
        })
    }

    // ---- actions ---------------------------------------------------------------------------

    /// How many actions there are; action ids are `0..n_actions()`.
    #[inline(always)]
    pub(crate) fn n_actions(&self) -> usize {
        self.n_actions
    }

    /// The account permission `action` requires, if any.
    #[inline(always)]
    pub(crate) fn requires(&self, action: u32) -> Option<u32> {
        self.action_requires[action as usize]
    }

    /// Is `action` checked against the read access code?
    #[inline(always)]
    pub(crate) fn reads_code(&self, action: u32) -> bool {
        self.action_read.get(action as usize)
    }

    /// Is `action` checked against the write access code?
    #[inline(always)]
    pub(crate) fn writes_code(&self, action: u32) -> bool {
        self.action_write.get(action as usize)
    }

    // ---- access mode and modules -----------------------------------------------------------

    /// The access mode: the case attribute it reads, and per enum variant the relations (as
    /// subject bits) one of which is needed, `None` for everyone.
    #[inline(always)]
    pub(crate) fn mode(&self) -> Option<(u32, &[Option<Bits>])> {
        self.mode
            .as_ref()
            .map(|(attr, arms)| (*attr, arms.as_slice()))
    }

    /// Does case type `casetype` grant through modules (the module layer applies to its cases)?
    #[inline(always)]
    pub(crate) fn uses_modules(&self, casetype: u32) -> bool {
        self.ct_has_modules[casetype as usize]
    }

    /// Does `module` offer `action`?
    #[inline(always)]
    pub(crate) fn module_offers(&self, module: u32, action: u32) -> bool {
        self.module_actions[module as usize].get(action as usize)
    }

    /// The relations (as subject bits) `module` shows cases for, when it declares `records`.
    #[inline(always)]
    pub(crate) fn module_records(&self, module: u32) -> Option<&Bits> {
        self.module_records[module as usize].as_ref()
    }

    /// The subjects the data layer reads for a request through `via`: `all`, the effective
    /// subjects, less the roles that are not data roles of the module, when it declares some.
    #[inline(always)]
    pub(crate) fn data_subjects(&self, via: Option<u32>, all: Bits) -> Bits {
        match via.and_then(|m| self.module_data[m as usize].as_ref()) {
            Some(read) => all.intersect(*read),
            None => all,
        }
    }

    /// The subjects the grant lines of `casetype` give `action` through `module`.
    #[inline(always)]
    pub(crate) fn module_grant(&self, casetype: u32, module: u32, action: u32) -> Bits {
        self.module_grants[self.grant_slot(casetype, module, action)]
    }

    /// `[(casetype * n_modules + module) * n_actions + action]`
    #[inline(always)]
    fn grant_slot(&self, casetype: u32, module: u32, action: u32) -> usize {
        let n_modules = self.ir.modules.len();
        (casetype as usize * n_modules + module as usize) * self.n_actions + action as usize
    }

    // ---- data rules ------------------------------------------------------------------------

    /// The slot of state `state` of case type `casetype` in the per-state tables.
    #[inline(always)]
    pub(crate) fn state_slot(&self, casetype: u32, state: u32) -> usize {
        (self.state_base[casetype as usize] + state) as usize
    }

    /// The data-layer masks for an action on a resource of `kind` anchored in (case type,
    /// state), as the VM reads them first: in a policy with rule conditions, the deny mask also
    /// holds every subject of a rule with a condition there, so that a user no such rule
    /// names is decided by the masks alone. [`CompiledPolicy::data_masks`] gives the masks of
    /// the rules without a condition. Always inlined: as a call it returned the two masks
    /// through memory, 60 instructions a decision (docs/performance.md §10).
    #[inline(always)]
    pub(crate) fn decide_masks(
        &self,
        kind: u32,
        ct_state: Option<(u32, u32)>,
        action: u32,
    ) -> Masks {
        let a = action as usize;
        let mut m = self.global[a].merge(self.kind_rules[kind as usize * self.n_actions + a]);
        if let Some((t, s)) = ct_state {
            m = m.merge(self.state_rules[self.state_slot(t, s) * self.n_actions + a]);
        }
        m
    }

    /// The masks of the data layer's rules without a condition, for an action on a resource of
    /// `kind` anchored in (case type, state): the subjects they allow and deny.
    #[inline]
    pub(crate) fn data_masks(&self, kind: u32, ct_state: Option<(u32, u32)>, action: u32) -> Masks {
        let mut m = self.decide_masks(kind, ct_state, action);
        if self.conditions.any {
            let c = &self.conditions;
            let a = action as usize;
            m.deny = c.deny_global[a].union(c.deny_kind[kind as usize * self.n_actions + a]);
            if let Some((t, s)) = ct_state {
                m.deny = m
                    .deny
                    .union(c.deny_state[self.state_slot(t, s) * self.n_actions + a]);
            }
        }
        m
    }

    /// The part of [`CompiledPolicy::data_masks`] that the rules of a case type's state add:
    /// `data_masks(kind, Some((t, s)), action)` is `data_masks(kind, None, action)` merged with
    /// this. Partial evaluation keeps the two apart, so it reads each state once, not once per kind.
    #[inline]
    pub(crate) fn state_masks(&self, casetype: u32, state: u32, action: u32) -> Masks {
        let slot = self.state_slot(casetype, state) * self.n_actions + action as usize;
        let mut m = self.state_rules[slot];
        if self.conditions.any {
            m.deny = self.conditions.deny_state[slot];
        }
        m
    }

    // ---- conditions --------------------------------------------------------------------------

    /// Whether some rule has a condition. When none has, the data masks are the whole data
    /// layer and the lists below are empty.
    #[inline(always)]
    pub(crate) fn has_conditions(&self) -> bool {
        self.conditions.any
    }

    /// The rules with a condition that apply to a resource of `kind` anchored in (case type,
    /// state) and list `action`: indices for [`CompiledPolicy::crule`], from the top-level
    /// rules, the kind's and the state's. Empty lists when no rule has a condition, or for a
    /// slot out of range.
    #[inline]
    pub(crate) fn conditional(
        &self,
        kind: u32,
        ct_state: Option<(u32, u32)>,
        action: u32,
    ) -> [&[u32]; 3] {
        let c = &self.conditions;
        let n = self.n_actions;
        let a = action as usize;
        let global = c.global.try_get(a).unwrap_or(&[]);
        let kind = c.kind.try_get(kind as usize * n + a).unwrap_or(&[]);
        let state = match ct_state {
            Some((t, s)) => c
                .state
                .try_get(self.state_slot(t, s) * n + a)
                .unwrap_or(&[]),
            None => &[],
        };
        [global, kind, state]
    }

    /// The conditional rules of a case type's state alone: the part of
    /// [`CompiledPolicy::conditional`] that the state adds, as [`CompiledPolicy::state_masks`]
    /// is of the masks.
    #[inline]
    pub(crate) fn conditional_in_state(&self, casetype: u32, state: u32, action: u32) -> &[u32] {
        let slot = self.state_slot(casetype, state) * self.n_actions + action as usize;
        self.conditions.state.try_get(slot).unwrap_or(&[])
    }

    /// Conditional rule `c`.
    #[inline(always)]
    pub(crate) fn crule(&self, c: u32) -> &CRule {
        &self.conditions.crules[c as usize]
    }

    /// The terms of a conditional rule's condition.
    #[inline(always)]
    pub(crate) fn terms(&self, r: &CRule) -> &[CTerm] {
        &self.conditions.terms[r.start as usize..(r.start + r.len) as usize]
    }

    /// The values of a `Test::OneOf`.
    #[inline(always)]
    pub(crate) fn one_of(&self, start: u32, len: u32) -> &[Src] {
        &self.conditions.one_of[start as usize..(start + len) as usize]
    }

    /// The values of every `Test::OneOf` of the rules' conditions, which their `start` and
    /// `len` index.
    #[inline(always)]
    pub(crate) fn one_of_all(&self) -> &[Src] {
        &self.conditions.one_of
    }

    /// The conditional rule of IR rule `rule`, if it has a condition.
    #[inline]
    pub(crate) fn condition_of(&self, rule: u32) -> Option<&CRule> {
        let c = *self.conditions.of_rule.get(rule as usize)?;
        self.conditions.crules.get(c as usize)
    }

    // ---- transitions ------------------------------------------------------------------------

    /// The state of case type `casetype` named `name`.
    pub(crate) fn state_id(&self, casetype: u32, name: &str) -> Option<u32> {
        self.state_index.get(casetype as usize)?.get(name).copied()
    }

    /// The declared edges that leave state `state` of case type `casetype` by `action`: each
    /// target state, ascending, with the subjects the transitions give it to.
    #[inline]
    pub(crate) fn edges(&self, casetype: u32, state: u32, action: u32) -> &[(u32, Bits)] {
        let slot = self.state_slot(casetype, state) * self.n_actions + action as usize;
        match (self.edges.start.get(slot), self.edges.start.get(slot + 1)) {
            (Some(&a), Some(&b)) => &self.edges.items[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The subjects the transition from `state` to `target` by `action` is given to; `None`
    /// when no such transition is declared.
    #[inline]
    pub(crate) fn edge(&self, casetype: u32, state: u32, action: u32, target: u32) -> Option<Bits> {
        self.edges(casetype, state, action)
            .iter()
            .find(|(to, _)| *to == target)
            .map(|(_, by)| *by)
    }

    // ---- why: the cold-path tables behind the masks ----------------------------------------

    /// The effect and subjects of rule `rule` of the IR, as the masks hold them.
    pub(crate) fn why_rule(&self, rule: u32) -> (Effect, Bits) {
        self.why.rules[rule as usize]
    }

    /// The rules behind [`CompiledPolicy::data_masks`]: the indices of the global rules, the
    /// kind's and the state's that list the action, each list ascending. `None` when a slot is
    /// out of range, which entities loaded for this policy never give.
    pub(crate) fn why_data(
        &self,
        kind: u32,
        ct_state: Option<(u32, u32)>,
        action: u32,
    ) -> Option<[&[u32]; 3]> {
        let n = self.n_actions;
        let action = action as usize;
        let global = self.why.global.try_get(action)?;
        let kind = (kind as usize).checked_mul(n)?.checked_add(action)?;
        let kind = self.why.kind.try_get(kind)?;
        let state = match ct_state {
            Some((t, s)) => {
                if s as usize >= self.ir.casetypes.get(t as usize)?.states.len() {
                    return None;
                }
                let slot = (*self.state_base.get(t as usize)? as usize).checked_add(s as usize)?;
                self.why
                    .state
                    .try_get(slot.checked_mul(n)?.checked_add(action)?)?
            }
            None => &[],
        };
        Some([global, kind, state])
    }

    /// The module-grant lines behind [`CompiledPolicy::module_grant`]: for each, the case type,
    /// the line's index among the case type's grant lines, and its subjects.
    pub(crate) fn why_grants(
        &self,
        casetype: u32,
        module: u32,
        action: u32,
    ) -> impl Iterator<Item = (u32, u32, Bits)> + '_ {
        self.why
            .grants
            .get(self.grant_slot(casetype, module, action))
            .iter()
            .map(|&g| self.why.grant_lines[g as usize])
    }
}

/// A disassembly of the compiled policy: the scope bytecode and the non-empty lookup rows.
impl fmt::Display for CompiledPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.ir;
        let subj = |b: &Bits| -> String {
            let names: Vec<&str> = b
                .iter()
                .map(|i| {
                    if i < p.roles.len() {
                        p.roles[i].name.as_str()
                    } else {
                        p.relations
                            .get(i - p.roles.len())
                            .map_or(ir::EVERYONE, |r| r.name.as_str())
                    }
                })
                .collect();
            format!("{{{}}}", names.join(", "))
        };
        let case_attr = |a: u32| {
            p.case_attrs()
                .get(a as usize)
                .map(|x| x.name.as_str())
                .unwrap_or("?")
        };
        writeln!(f, "; groups")?;
        for (g, cg) in p.groups.iter().zip(&self.groups) {
            let scope = match cg.scope {
                CScope::All => "all".to_string(),
                CScope::Assigned(b) => format!("assigned {}", subj(&b)),
                CScope::Filter { start, len, all } => {
                    format!("filter {} @{start}+{len}", if all { "all" } else { "any" })
                }
            };
            writeln!(
                f,
                "group {} roles={} scope={}",
                g.name,
                subj(&cg.roles),
                scope
            )?;
        }
        writeln!(f, "; scope bytecode")?;
        for (i, insn) in self.code.iter().enumerate() {
            let not = |n: bool| if n { "!" } else { "" };
            let text = match *insn {
                Insn::EqSym { attr, sym, negate } => {
                    format!(
                        "{}eq.sym   {} {:?}",
                        not(negate),
                        case_attr(attr),
                        self.literals[sym as usize]
                    )
                }
                Insn::EqInt {
                    attr,
                    value,
                    negate,
                } => format!("{}eq.int   {} {}", not(negate), case_attr(attr), value),
                Insn::EqBool {
                    attr,
                    value,
                    negate,
                } => format!("{}eq.bool  {} {}", not(negate), case_attr(attr), value),
                Insn::EqVariant {
                    attr,
                    variant,
                    negate,
                } => format!("{}eq.enum  {} #{}", not(negate), case_attr(attr), variant),
                Insn::Contains { attr, sym } => format!(
                    "contains  {} {:?}",
                    case_attr(attr),
                    self.literals[sym as usize]
                ),
                Insn::IsPrincipal { attr, negate } => {
                    format!("{}is.principal {}", not(negate), case_attr(attr))
                }
            };
            // An instruction that continues a condition (another value of `in [...]`) is marked.
            let more = if self.cond_starts[i] { " " } else { "|" };
            writeln!(f, "{i:04}{more}{text}")?;
        }
        if self.conditions.any {
            writeln!(f, "; conditional rules (kept out of the masks)")?;
            let src_text = |s: Src| -> String {
                let attr = |list: &[ir::AttrDef], a: u32| {
                    list.get(a as usize)
                        .map_or("?".to_string(), |d| d.name.clone())
                };
                match s {
                    Src::Principal => "principal".into(),
                    Src::User(a) => format!("principal.{}", attr(&p.user_attrs, a)),
                    Src::Resource(a) => format!("resource.#{a}"),
                    Src::Case(a) => format!("case.{}", attr(p.case_attrs(), a)),
                    Src::Context(a) => format!("context.{}", attr(&p.context, a)),
                    Src::Sym(x) => format!("{:?}", self.literals[x as usize]),
                    Src::Int(i) => i.to_string(),
                    Src::Bool(b) => b.to_string(),
                    Src::Variant(v) => format!("#{v}"),
                }
            };
            for r in &self.conditions.crules {
                let terms: Vec<String> = self
                    .terms(r)
                    .iter()
                    .map(|t| {
                        let test = match t.test {
                            Test::Holds(bit) => {
                                format!("holds {}", subj(&Bits::from_indices([bit as usize])))
                            }
                            Test::Compare(op, a, b) => {
                                format!("{} {} {}", src_text(a), op.text(), src_text(b))
                            }
                            Test::OneOf(a, start, len) => format!(
                                "{} in [{}]",
                                src_text(a),
                                self.one_of(start, len)
                                    .iter()
                                    .map(|v| src_text(*v))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            Test::Contains(a, b) => {
                                format!("{} contains {}", src_text(a), src_text(b))
                            }
                            Test::True(a) => src_text(a),
                        };
                        if t.negate {
                            format!("not {test}")
                        } else {
                            test
                        }
                    })
                    .collect();
                writeln!(
                    f,
                    "rule #{} {} {} when {}",
                    r.rule,
                    match r.effect {
                        Effect::Allow => "allow",
                        Effect::Deny => "deny",
                    },
                    subj(&r.subjects),
                    terms.join(" and ")
                )?;
            }
        }
        writeln!(f, "; data rules")?;
        let mut row = |place: String, a: usize, m: &Masks| -> fmt::Result {
            if m.allow.is_empty() && m.deny.is_empty() {
                return Ok(());
            }
            writeln!(
                f,
                "{place:<32} {:<20} allow={} deny={}",
                p.actions[a].name,
                subj(&m.allow),
                subj(&m.deny)
            )
        };
        // The masks of the rules without a condition (the conditional ones are listed above).
        let c = &self.conditions;
        let own = |m: &Masks, deny: Option<&Bits>| Masks {
            allow: m.allow,
            deny: deny.copied().unwrap_or(m.deny),
        };
        for (a, m) in self.global.iter().enumerate() {
            row("*".into(), a, &own(m, c.deny_global.get(a)))?;
        }
        for (i, m) in self.kind_rules.iter().enumerate() {
            row(
                format!("kind {}", p.kinds[i / self.n_actions].name),
                i % self.n_actions,
                &own(m, c.deny_kind.get(i)),
            )?;
        }
        for (t, ct) in p.casetypes.iter().enumerate() {
            for (s, st) in ct.states.iter().enumerate() {
                for a in 0..self.n_actions {
                    let slot = self.state_slot(t as u32, s as u32) * self.n_actions + a;
                    row(
                        format!("{}.{}", ct.name, st.name),
                        a,
                        &own(&self.state_rules[slot], c.deny_state.get(slot)),
                    )?;
                }
            }
        }
        Ok(())
    }
}

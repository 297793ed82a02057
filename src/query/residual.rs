//! Partial evaluation: the principal, action and module are known, the resource is not. What
//! remains of the decision is a [`Cond`] over the resource's kind, its ancestors' access codes
//! and inheritance flags, and its case's type, state, attributes and relations to the
//! principal. docs/queries.md documents the JSON form.
//!
//! Everything that depends only on the principal (groups, their scopes of kind `all`, account
//! permissions, the code set) is folded to constants, and the result is simplified: constants
//! folded, nested `and`/`or` flattened, duplicates and absorbed branches dropped, conditions on
//! one attribute merged, and the states of a case type that share a condition collapsed into one
//! `case` test.
//!
//! The layers have the names they have in the VM and the reference evaluator: `requirement`
//! folds to a constant, `scope` is the condition that a group in scope gives one of a rule's
//! subjects, `access_mode`, `module` and `data` are the conditions of those layers on the
//! case, and `codes` the condition on the access codes up the resource's chain. `every_kind`
//! puts them together per kind, `states` per case type and state.

use super::{residual_of, same_policy, QueryError, QueryErrorKind, Where};
use crate::bits::Bits;
use crate::compile::{CRule, Src, Test};
use crate::compile::{CScope, CompiledPolicy, Insn, Masks};
use crate::diagnostic::words::printable;
use crate::diagnostic::words::thousands;
use crate::entities::{held_by, AttrValue, Entities, Resource};
use crate::ir::{CmpOp, Effect, KindId, Type};
use crate::limits::MAX_RESIDUAL_SIZE;
use crate::request::ResolvedContext;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value as Json};
use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

/// An access-code class, in [`Cond::CodeMet`] and [`Cond::Inherits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// The read code (`read`, and `inherit_read`).
    Read,
    /// The write code (`write`, and `inherit_write`).
    Write,
}

impl Class {
    /// The name the residual's JSON gives it, in `class`: `read` or `write`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Write => "write",
        }
    }
}

/// A literal an attribute is compared with. Strings are kept as text, so a residual does not
/// depend on how an entities file interned them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lit {
    /// A `string` value; JSON: a string.
    Str(String),
    /// An `int` value; JSON: a number.
    Int(i64),
    /// A `datetime` value, in microseconds since 1970-01-01T00:00:00Z; JSON: its RFC 3339 text
    /// in UTC (`2026-01-31T09:30:00Z`).
    DateTime(i64),
    /// A `bool` value; JSON: `true` or `false`.
    Bool(bool),
    /// An enum variant, by its position in the enum's declaration; JSON: its name.
    Variant(u32),
    /// A user id (the principal, for `attr == principal`); JSON: the id, a string.
    User(String),
    /// A resource id (a `ref Kind` value of the principal's or the context's); JSON: the id, a
    /// string.
    Resource(String),
}

/// A residual condition. `up` counts parent steps from the resource: 0 is the resource itself,
/// 1 its parent, and so on. Within a [`Cond::Kind`] branch the chain of parents is fixed by the
/// kind, so `up` always names an existing resource there.
///
/// Kinds, case types, states, attributes and relations are held as positions in the policy
/// that computed the residual; [`Residual::json`] writes them by name, as docs/queries.md
/// describes: each condition is an object whose `op` is named below.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cond {
    /// `false`: holds for no resource. A residual that is `False` allows nothing, and its SQL
    /// is `WHERE FALSE`.
    False,
    /// `true`: holds for every resource.
    True,
    /// `kind`: the resource's kind is one of these (JSON `kinds`, by name).
    Kind(Vec<KindId>),
    /// `case`: the case `up` steps above has this case type, and one of `states` (`None`: any
    /// state).
    Case {
        /// Parent steps from the resource to the case.
        up: u32,
        /// The case type, as its position in the policy's case types (JSON `case_type`, its
        /// name).
        casetype: u32,
        /// The states, as positions in the case type's states (JSON `states`, their names);
        /// `None`, absent from the JSON, for any state.
        states: Option<Vec<u32>>,
    },
    /// `attr`: the case's attribute equals one of the values.
    Attr {
        /// Parent steps from the resource to the case.
        up: u32,
        /// The attribute, as its position among the case kind's attributes (JSON: its name).
        attr: u32,
        /// The values it may equal (JSON `in`).
        values: Vec<Lit>,
    },
    /// `contains`: the case's set attribute contains the string.
    Contains {
        /// Parent steps from the resource to the case.
        up: u32,
        /// The set attribute, as its position among the case kind's attributes (JSON: its
        /// name).
        attr: u32,
        /// The string the set must contain.
        value: String,
    },
    /// `compare`: a rule's condition on an attribute of the resource `up` steps above, whose
    /// kind is `kind`: with `==` it equals one of `values`, with `!=` none of them, and with
    /// `<`, `<=`, `>` or `>=` it compares so with the one number of `values`.
    Compare {
        /// Parent steps from the resource to the one whose attribute is tested.
        up: u32,
        /// That resource's kind (JSON: its name).
        kind: KindId,
        /// The attribute, as its position among the kind's attributes (JSON: its name).
        attr: u32,
        /// The comparison (JSON `cmp`: `==`, `!=`, `<`, `<=`, `>`, `>=`).
        op: CmpOp,
        /// The values (JSON `values`).
        values: Vec<Lit>,
    },
    /// `has`: a rule's condition that a `set<string>` attribute of the resource `up` steps
    /// above, whose kind is `kind`, holds the string.
    Has {
        /// Parent steps from the resource to the one whose attribute is tested.
        up: u32,
        /// That resource's kind (JSON: its name).
        kind: KindId,
        /// The set attribute, as its position among the kind's attributes (JSON: its name).
        attr: u32,
        /// The string the set must hold.
        value: String,
    },
    /// `holds`: the principal holds one of these relations on the resource `up` steps above:
    /// the case for the case's relations, the resource of the relation's kind for the others
    /// (listed as a user, or through a group of theirs). A relation its kind does not declare
    /// is not held there.
    Holds {
        /// Parent steps from the resource to the resource that lists the relations.
        up: u32,
        /// The relations, as positions in the policy's relations (JSON: their names).
        relations: Vec<u32>,
    },
    /// `code_met`: the own access code of class `class` of the resource `up` steps above is met
    /// by the principal's code set ([`Residual::codes`]): every level empty or holding one of
    /// the principal's codes.
    CodeMet {
        /// Parent steps from the resource to the resource whose own code is tested.
        up: u32,
        /// Which code: read or write.
        class: Class,
    },
    /// `inherits`: the resource `up` steps above inherits its parent's code of this class (its
    /// kind declares `inherit` and its `inherit_read`/`inherit_write` is not `false`).
    Inherits {
        /// Parent steps from the resource to the resource whose flag is tested.
        up: u32,
        /// Which code: read or write.
        class: Class,
    },
    /// `not` (JSON `arg`): the condition does not hold.
    Not(Box<Cond>),
    /// `and` (JSON `args`): every condition holds.
    And(Vec<Cond>),
    /// `or` (JSON `args`): at least one condition holds.
    Or(Vec<Cond>),
}

impl Cond {
    /// How large the condition is: one for each condition in it, plus one for each kind, state,
    /// value or relation it lists. [`MAX_RESIDUAL_SIZE`] bounds it, and the SQL
    /// ([`super::sql::compile`]) is linear in it.
    pub fn size(&self) -> usize {
        match self {
            Cond::True
            | Cond::False
            | Cond::Contains { .. }
            | Cond::CodeMet { .. }
            | Cond::Inherits { .. } => 1,
            Cond::Kind(ks) => 1 + ks.len(),
            Cond::Case { states, .. } => 1 + states.as_ref().map_or(0, Vec::len),
            Cond::Attr { values, .. } | Cond::Compare { values, .. } => 1 + values.len(),
            Cond::Has { .. } => 1,
            Cond::Holds { relations, .. } => 1 + relations.len(),
            Cond::Not(x) => 1 + x.size(),
            Cond::And(v) | Cond::Or(v) => 1 + v.iter().map(Cond::size).sum::<usize>(),
        }
    }
}

/// The result of partial evaluation: who asks, and the condition on the resource.
///
/// Its condition names kinds, case types, attributes and relations by the ids of the policy
/// that computed it, so only `Query::residual` makes one, and every use checks the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Residual {
    principal: String,
    action: String,
    module: Option<String>,
    codes: Vec<String>,
    cond: Cond,
    /// The stamp of the compiled policy that computed it.
    policy: u64,
    /// The entities list groups in relations (`relation_groups`): a `holds` reads them too.
    relation_groups: bool,
}

impl Residual {
    /// The principal's id.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The action's name.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The module the question named; `None` when it named none.
    pub fn module(&self) -> Option<&str> {
        self.module.as_deref()
    }

    /// The principal's code set: their id, groups, units (with ancestors) and terms, sorted.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    /// The condition on the resource.
    pub fn cond(&self) -> &Cond {
        &self.cond
    }

    pub(crate) fn policy_stamp(&self) -> u64 {
        self.policy
    }

    /// Whether the entities asked about list groups in relations, so that a `holds` is met
    /// through a group of the principal's too (the SQL then reads `relation_groups`).
    pub fn relation_groups(&self) -> bool {
        self.relation_groups
    }

    /// The same question with another condition, for tests of what consumes residuals.
    #[cfg(test)]
    pub(crate) fn with_cond(self, cond: Cond) -> Residual {
        Residual { cond, ..self }
    }
}

fn and(v: Vec<Cond>) -> Cond {
    Cond::And(v)
}

fn or(v: Vec<Cond>) -> Cond {
    Cond::Or(v)
}

fn not(c: Cond) -> Cond {
    Cond::Not(Box::new(c))
}

/// The chain of kinds from `k` up through its parents.
pub(crate) fn kind_chain(policy: &CompiledPolicy, k: KindId) -> Vec<KindId> {
    let p = policy.ir();
    let mut chain = vec![k];
    let mut cur = p.kinds[k.idx()].parent;
    // The checker rejects cycles and bounds the depth; the bound here only guards the loop.
    while let Some(c) = cur {
        if chain.len() > crate::limits::MAX_KIND_DEPTH + 1 {
            break;
        }
        chain.push(c);
        cur = p.kinds[c.idx()].parent;
    }
    chain
}

/// Partially evaluates the policy for a principal, an action and a module, with the resource
/// unknown. For every resource `r` of the entities, `residual(..).eval(.., r)` equals the VM's
/// decision (tests/queries.rs checks this on every shipped policy).
///
/// It costs time in proportion to the kinds, the states of the case types and the residual it
/// builds, never to kinds × states: what a kind's rules decide and what a state's rules decide
/// are evaluated apart (the data layer's masks are the union of the two), each state once for
/// every distance of a kind to its case, and states with the same masks once in all. What it
/// builds is counted against [`MAX_RESIDUAL_SIZE`], checked as it goes: past it, the question is
/// an error, never an answer.
// INVARIANT: the caller checked that the entities belong to the policy and resolved the ids
// against them (`Query::residual`).
pub(crate) fn residual(
    policy: &CompiledPolicy,
    entities: &Entities,
    principal: u32,
    action: u32,
    module: Option<u32>,
    context: &ResolvedContext,
    condition: Option<&Where>,
) -> Result<Residual, QueryError> {
    let p = policy.ir();
    let user = &entities.users[principal as usize];
    let mut codes: Vec<String> = user
        .codes
        .iter()
        .map(|c| entities.symbol(*c).to_string())
        .collect();
    codes.sort();
    codes.dedup();
    let pe = Pe {
        policy,
        entities,
        principal,
        action,
        module,
        context: context.values(),
        spent: Cell::new(0),
        rel_depths: relation_depths(policy),
    };
    let cond = match requirement(policy, entities, principal, action) {
        true => pe.every_kind()?,
        false => Cond::False,
    };
    let cond = match condition {
        Some(w) if cond != Cond::False => {
            let asked = pe.query_condition(w)?;
            pe.with_condition(cond, &asked)?
        }
        _ => cond,
    };
    Ok(Residual {
        principal: entities.user_id(principal).to_string(),
        action: p.actions[action as usize].name.clone(),
        module: module.map(|m| p.modules[m as usize].name.clone()),
        codes,
        cond,
        policy: policy.stamp,
        relation_groups: entities.relation_groups,
    })
}

/// The requirement layer: whether the principal's groups permit what the action requires. It
/// depends on the principal alone, so it folds to a constant.
fn requirement(policy: &CompiledPolicy, entities: &Entities, principal: u32, action: u32) -> bool {
    let user = &entities.users[principal as usize];
    let permits = user.groups.iter().fold(Bits::EMPTY, |b, &g| {
        b.union(policy.groups[g as usize].permits)
    });
    policy.action_requires[action as usize].is_none_or(|x| permits.get(x as usize))
}

/// Kinds whose resources share a case at the same distance, grouped by equal kind parts: the
/// access codes and the kind's denies (`cond`), and the kind's allows (`allow`).
struct KindGroup {
    cond: Cond,
    allow: Cond,
    kinds: Vec<KindId>,
}

/// Below this size in all, the condition on the case's type and state is copied into each group
/// of kinds; above it, it is written once for all of them (see [`Pe::anchored`]).
const COPY_STATES_BELOW: usize = 64;

struct Pe<'a> {
    policy: &'a CompiledPolicy,
    entities: &'a Entities,
    principal: u32,
    action: u32,
    module: Option<u32>,
    /// The question's context, which conditions read as constants.
    context: &'a [AttrValue],
    /// What has been built so far, in the units of [`Cond::size`], plus the groups looked at.
    spent: Cell<usize>,
    /// Per relation of a resource kind: the parent steps from a resource to the resource of
    /// the relation's kind above it, over every kind under it (empty for the case's relations).
    rel_depths: Vec<Vec<u32>>,
}

/// For each relation of a resource kind `K`, the distances from each kind at or under `K` up to
/// `K`, sorted. A resource's ancestor at one distance has one kind, so at every other distance
/// the relation is not listed: testing each distance is testing the one that applies.
fn relation_depths(policy: &CompiledPolicy) -> Vec<Vec<u32>> {
    let p = policy.ir();
    let mut out = vec![Vec::new(); p.relations.len()];
    if !policy.resource_relations() {
        return out;
    }
    for k in 0..p.kinds.len() {
        for (d, c) in kind_chain(policy, KindId(k as u32)).into_iter().enumerate() {
            let def = &p.kinds[c.idx()];
            if def.is_case {
                break;
            }
            for r in &def.relations {
                out[r.idx()].push(d as u32);
            }
        }
    }
    for d in &mut out {
        d.sort_unstable();
        d.dedup();
    }
    out
}

impl Pe<'_> {
    /// Counts `units` of work against the limit.
    fn spend(&self, units: usize) -> Result<(), QueryError> {
        let spent = self.spent.get().saturating_add(units);
        self.spent.set(spent);
        if spent <= MAX_RESIDUAL_SIZE {
            return Ok(());
        }
        let p = self.policy.ir();
        Err(QueryError {
            kind: QueryErrorKind::TooLarge,
            message: format!(
                "the condition for `{}` to `{}` has more than {} terms, the limit for one question",
                printable(self.entities.user_id(self.principal)),
                printable(&p.actions[self.action as usize].name),
                thousands(MAX_RESIDUAL_SIZE)
            ),
            help: Some(
                "`casepol list` answers the same question in memory; a condition this large comes from many kinds, states or scope filters whose rules differ for this user"
                    .into(),
            ),
        })
    }

    /// Counts a condition that was built, then simplifies it.
    fn simplified(&self, c: Cond) -> Result<Cond, QueryError> {
        self.spend(c.size())?;
        Ok(simplify(c))
    }

    /// The condition for every kind: one branch per group of kinds with the same condition
    /// outside the case types, and one or more per distance to the case.
    fn every_kind(&self) -> Result<Cond, QueryError> {
        let policy = self.policy;
        let p = policy.ir();
        let mut branches = Branches::default();
        let mut anchored: BTreeMap<u32, Vec<KindGroup>> = BTreeMap::new();
        let mut anchored_at: HashMap<(u32, Cond, Cond), usize> = HashMap::new();
        for k in 0..p.kinds.len() {
            let k = KindId(k as u32);
            let chain = kind_chain(policy, k);
            let anchor = chain
                .iter()
                .position(|c| p.kinds[c.idx()].is_case)
                .map(|d| d as u32);
            // Access codes: the own code of each resource up the chain, as far as it inherits.
            let mut parts = Vec::new();
            for (class, applies) in [
                (Class::Read, policy.action_read.get(self.action as usize)),
                (Class::Write, policy.action_write.get(self.action as usize)),
            ] {
                if applies {
                    parts.push(codes(policy, &chain, class, 0));
                }
            }
            // The rules of the kind and the top-level rules; a case type's rules come later.
            let masks = self.read(policy.data_masks(k.0, None, self.action));
            let conditional = policy.conditional(k.0, None, self.action);
            let (deny, allow) = self.rules(&masks, &conditional, Some(k), anchor)?;
            let Some(d) = anchor else {
                // No case: only groups of scope `all` admit, and no relation is held.
                parts.push(and(vec![not(deny), allow]));
                let body = self.simplified(and(parts))?;
                branches.add(vec![k], body);
                continue;
            };
            parts.push(not(deny));
            let cond = self.simplified(and(parts))?;
            if cond == Cond::False {
                continue;
            }
            let allow = self.simplified(allow)?;
            let groups = anchored.entry(d).or_default();
            match anchored_at.entry((d, cond, allow)) {
                Entry::Occupied(e) => groups[*e.get()].kinds.push(k),
                Entry::Vacant(e) => {
                    let (_, cond, allow) = e.key().clone();
                    e.insert(groups.len());
                    groups.push(KindGroup {
                        cond,
                        allow,
                        kinds: vec![k],
                    });
                }
            }
        }
        for (d, groups) in anchored {
            self.anchored(d, groups, &mut branches)?;
        }
        self.simplified(or(branches.into_conds()))
    }

    /// The branches for the kinds whose case is `d` steps up. For a kind with parts `cond` and
    /// `allow`, the condition is `cond and mode and ((allow and every) or allowed)`, where
    /// `every` says that the case's type and state let the principal in and no rule of the state
    /// denies, and `allowed` says that besides, a rule of the state allows. Both depend on `d`
    /// only, so they are computed once. With one group, or copies that stay small, each group
    /// gets its own copy; otherwise the groups share one, as
    /// `kind in all and mode and (any group's (kind and cond)) and ((any group's (kind and
    /// allow) and every) or allowed)`: the kinds are disjoint, so a resource meets the `cond`
    /// and `allow` of its own kind's group only. Each group's parts are written once and the
    /// states once, so the size is the kinds plus the states, never their product.
    fn anchored(
        &self,
        d: u32,
        groups: Vec<KindGroup>,
        branches: &mut Branches,
    ) -> Result<(), QueryError> {
        let (every, allowed) = self.states(d)?;
        if every == Cond::False {
            return Ok(());
        }
        let mode = self.access_mode(d);
        let body = |rest: Vec<Cond>| {
            let mut parts: Vec<Cond> = mode.iter().cloned().collect();
            parts.extend(rest);
            and(parts)
        };
        let copies = groups.len() * (every.size() + allowed.size());
        if groups.len() == 1 || copies < COPY_STATES_BELOW {
            for g in groups {
                let states = match g.allow {
                    Cond::True => every.clone(),
                    Cond::False => allowed.clone(),
                    allow => or(vec![and(vec![allow, every.clone()]), allowed.clone()]),
                };
                let b = self.simplified(body(vec![g.cond, states]))?;
                branches.add(g.kinds, b);
            }
            return Ok(());
        }
        let all: Vec<KindId> = groups
            .iter()
            .flat_map(|g| g.kinds.iter().copied())
            .collect();
        let mut conds = Vec::new();
        let mut allows = Vec::new();
        for g in groups {
            if g.allow != Cond::False {
                allows.push(and(vec![Cond::Kind(g.kinds.clone()), g.allow]));
            }
            conds.push(and(vec![Cond::Kind(g.kinds), g.cond]));
        }
        let b = self.simplified(body(vec![
            or(conds),
            or(vec![and(vec![or(allows), every]), allowed]),
        ]))?;
        branches.add(all, b);
        Ok(())
    }

    /// The access mode of the case `d` steps up; a mode that opens every value to everyone
    /// tests nothing.
    fn access_mode(&self, d: u32) -> Option<Cond> {
        let (attr, arms) = self
            .policy
            .mode
            .as_ref()
            .filter(|(_, arms)| arms.iter().any(Option::is_some))?;
        let mut open = Vec::new();
        let mut by_relations: BTreeMap<Vec<usize>, Vec<Lit>> = BTreeMap::new();
        for (v, arm) in arms.iter().enumerate() {
            match arm {
                None => open.push(Lit::Variant(v as u32)),
                Some(rels) => by_relations
                    .entry(rels.iter().collect())
                    .or_default()
                    .push(Lit::Variant(v as u32)),
            }
        }
        let mut mode = vec![Cond::Attr {
            up: d,
            attr: *attr,
            values: open,
        }];
        for (rels, values) in by_relations {
            mode.push(and(vec![
                Cond::Attr {
                    up: d,
                    attr: *attr,
                    values,
                },
                self.holds(d, &Bits::from_indices(rels)),
            ]));
        }
        Some(or(mode))
    }

    /// What the case `d` steps up contributes, as `(every, allowed)`: `every` holds when the
    /// case's type and state pass the module layer and no rule of its state denies; `allowed`
    /// when besides a rule of its state allows. States of a case type with the same masks are
    /// evaluated once, and states with the same condition share one `case` test; when every
    /// state of every case type has the same condition, the case's type and state are not tested.
    fn states(&self, d: u32) -> Result<(Cond, Cond), QueryError> {
        let policy = self.policy;
        let p = policy.ir();
        let mut every = Vec::new();
        let mut allowed = Vec::new();
        for (t, ct) in p.casetypes.iter().enumerate() {
            let t = t as u32;
            let n = ct.states.len();
            let module = self.simplified(self.module(d, t)?)?;
            let mut e = StateGroups::default();
            let mut a = StateGroups::default();
            if module != Cond::False {
                // States with the same masks and the same conditional rules decide alike.
                type Seen<'c> = HashMap<(Bits, Bits, &'c [u32]), (Option<usize>, Option<usize>)>;
                let mut seen: Seen = HashMap::new();
                for s in 0..n as u32 {
                    let masks = self.read(policy.state_masks(t, s, self.action));
                    let conditional = policy.conditional_in_state(t, s, self.action);
                    let (ei, ai) = match seen.get(&(masks.allow, masks.deny, conditional)) {
                        Some(&found) => found,
                        None => {
                            let (deny, allow) =
                                self.rules(&masks, &[conditional], None, Some(d))?;
                            let base = self.simplified(and(vec![module.clone(), not(deny)]))?;
                            let allows = self.simplified(and(vec![base.clone(), allow]))?;
                            let found = (e.group(base), a.group(allows));
                            seen.insert((masks.allow, masks.deny, conditional), found);
                            found
                        }
                    };
                    e.add(ei, s);
                    a.add(ai, s);
                }
            }
            every.push((t, n, e.groups));
            allowed.push((t, n, a.groups));
        }
        let every = self.simplified(by_state(d, every))?;
        let allowed = self.simplified(by_state(d, allowed))?;
        Ok((every, allowed))
    }

    /// The principal holds one of the relations among `rels` (subject bits; roles are left
    /// out): those of the case on the case `up` steps above, when there is one (`None`: none is
    /// held), and those of resource kinds on the resource of their kind above (at each
    /// distance where it can be).
    ///
    /// With the resource's kind known (`kind`), a relation of a resource kind is read at the one
    /// distance to its kind, if the kind is above; otherwise (the rules of a case type, for
    /// every kind whose case is `up` steps above) at each distance below the case where it can
    /// be. No distance reaches past the resource's chain of parents, which the SQL binds.
    fn holds_any(&self, up: Option<u32>, kind: Option<KindId>, rels: &Bits) -> Cond {
        let n_roles = self.policy.n_roles;
        let p = self.policy.ir();
        let mut case = Vec::new();
        let mut by_depth: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for r in rels.iter().filter(|&b| b >= n_roles).map(|b| b - n_roles) {
            let depths = &self.rel_depths[r];
            if depths.is_empty() {
                case.push(r as u32);
                continue;
            }
            match kind {
                Some(k) => {
                    let owner = p.relation_kind(crate::ir::RelationId(r as u32));
                    let chain = kind_chain(self.policy, k);
                    if let Some(e) = chain.iter().position(|c| Some(*c) == owner) {
                        by_depth.entry(e as u32).or_default().push(r as u32);
                    }
                }
                None => {
                    for &e in depths.iter().filter(|&&e| up.is_some_and(|d| e < d)) {
                        by_depth.entry(e).or_default().push(r as u32);
                    }
                }
            }
        }
        let mut alts = Vec::new();
        if let Some(d) = up {
            if by_depth.is_empty() {
                return Cond::Holds {
                    up: d,
                    relations: case,
                };
            }
            if !case.is_empty() {
                by_depth.entry(d).or_default().extend(case);
            }
        }
        for (d, relations) in by_depth {
            alts.push(Cond::Holds { up: d, relations });
        }
        or(alts)
    }

    /// The principal holds one of the case's relations among `rels` on the case `up` steps
    /// above (a module's records, an access mode, a scope's `via`: only the case's are there).
    fn holds(&self, up: u32, rels: &Bits) -> Cond {
        self.holds_any(Some(up), None, rels)
    }

    /// The condition that the principal has one of `subjects` (role and relation bits), on a
    /// resource whose case is `anchor` steps up (`None`: it has no case): they hold one of the
    /// relations, or one of their groups that grants one of the roles is in scope. Each group
    /// is looked at once, however many of the roles it grants.
    fn scope(
        &self,
        subjects: &Bits,
        kind: Option<KindId>,
        anchor: Option<u32>,
    ) -> Result<Cond, QueryError> {
        #[cfg(test)]
        tests::count(&tests::SUBJECT_TESTS);
        let policy = self.policy;
        let user = &self.entities.users[self.principal as usize];
        self.spend(user.groups.len())?;
        // `everyone` is held by every principal on every resource.
        if policy.everyone.intersects(subjects) {
            return Ok(Cond::True);
        }
        let mut alts = vec![self.holds_any(anchor, kind, subjects)];
        for &g in user.groups.iter() {
            let group = &policy.groups[g as usize];
            if !group.roles.intersects(subjects) {
                continue;
            }
            alts.push(match (group.scope, anchor) {
                (CScope::All, _) => Cond::True,
                (_, None) => Cond::False,
                (CScope::Assigned(rels), Some(d)) => self.holds(d, &rels),
                (CScope::Filter { len: 0, .. }, Some(_)) => Cond::False,
                (CScope::Filter { start, len, all }, Some(d)) if all => and(policy
                    .filter_conditions(start, len)
                    .map(|(_, alts)| or(alts.iter().map(|i| self.insn(*i, d)).collect()))
                    .collect()),
                (CScope::Filter { start, len, .. }, Some(d)) => or(policy
                    .filter(start, len)
                    .iter()
                    .map(|i| self.insn(*i, d))
                    .collect()),
            });
        }
        Ok(or(alts))
    }

    fn insn(&self, insn: Insn, up: u32) -> Cond {
        let lit = |s: u32| Lit::Str(self.policy.literals[s as usize].clone());
        let (attr, value, negate) = match insn {
            Insn::EqSym { attr, sym, negate } => (attr, lit(sym), negate),
            Insn::EqInt {
                attr,
                value,
                negate,
            } => (attr, Lit::Int(value), negate),
            Insn::EqBool {
                attr,
                value,
                negate,
            } => (attr, Lit::Bool(value), negate),
            Insn::EqVariant {
                attr,
                variant,
                negate,
            } => (attr, Lit::Variant(variant), negate),
            Insn::IsPrincipal { attr, negate } => (
                attr,
                Lit::User(self.entities.user_id(self.principal).to_string()),
                negate,
            ),
            Insn::Contains { attr, sym } => {
                return Cond::Contains {
                    up,
                    attr,
                    value: self.policy.literals[sym as usize].clone(),
                }
            }
        };
        let c = Cond::Attr {
            up,
            attr,
            values: vec![value],
        };
        if negate {
            not(c)
        } else {
            c
        }
    }

    /// The masks as the data layer reads them for this question: through a module that
    /// declares `data roles`, without the roles that are not among them.
    fn read(&self, masks: Masks) -> Masks {
        Masks {
            allow: self.policy.data_subjects(self.module, masks.allow),
            deny: self.policy.data_subjects(self.module, masks.deny),
        }
    }

    /// The module layer for a case of type `t` at `d` steps up.
    fn module(&self, d: u32, t: u32) -> Result<Cond, QueryError> {
        let policy = self.policy;
        if !policy.ct_has_modules[t as usize] {
            return Ok(Cond::True);
        }
        let Some(m) = self.module else {
            return Ok(Cond::False);
        };
        if !policy.module_actions[m as usize].get(self.action as usize) {
            return Ok(Cond::False);
        }
        let record = match &policy.module_records[m as usize] {
            Some(rels) => self.holds(d, rels),
            None => Cond::True,
        };
        Ok(and(vec![
            record,
            self.scope(&policy.module_grant(t, m, self.action), None, Some(d))?,
        ]))
    }

    /// The rules of a place of the data layer, as `(deny, allow)`: a deny matches, an allow
    /// matches. The masks' rules match for a subject the principal has; a rule with a condition
    /// (each of `conditional`'s lists, as the data subjects read it) also needs its condition,
    /// on a resource of `kind` (when the place fixes it) whose case is `anchor` steps up.
    fn rules(
        &self,
        masks: &Masks,
        conditional: &[&[u32]],
        kind: Option<KindId>,
        anchor: Option<u32>,
    ) -> Result<(Cond, Cond), QueryError> {
        let mut deny = vec![self.scope(&masks.deny, kind, anchor)?];
        let mut allow = vec![self.scope(&masks.allow, kind, anchor)?];
        for &c in conditional.iter().flat_map(|list| list.iter()) {
            let r = self.policy.crule(c);
            let subjects = self.policy.data_subjects(self.module, r.subjects);
            if subjects.is_empty() {
                continue;
            }
            self.spend(r.len as usize)?;
            let matched = and(vec![
                self.scope(&subjects, kind, anchor)?,
                self.condition(r, kind, anchor),
            ]);
            match r.effect {
                Effect::Deny => deny.push(matched),
                Effect::Allow => allow.push(matched),
            }
        }
        Ok((or(deny), or(allow)))
    }

    /// The condition a question is asked with, as a condition on the resource: per kind (the
    /// condition's own, or each), its terms on a resource of that kind, whose case is as far up
    /// as the kind's chain says; kinds with equal conditions share a branch. A term that cannot
    /// be read (the case of a kind in no case) makes its kind's branch `false`, with or without
    /// `not`, as `list` does (`vm::query_condition_holds`).
    fn query_condition(&self, w: &Where) -> Result<Vec<(Vec<KindId>, Cond)>, QueryError> {
        let policy = self.policy;
        let p = policy.ir();
        let mut branches = Branches::default();
        let kinds: Vec<KindId> = match w.kind {
            Some(k) => vec![k],
            None => (0..p.kinds.len() as u32).map(KindId).collect(),
        };
        for k in kinds {
            let anchor = kind_chain(policy, k)
                .iter()
                .position(|c| p.kinds[c.idx()].is_case)
                .map(|d| d as u32);
            self.spend(w.terms.len())?;
            let mut parts = Vec::with_capacity(w.terms.len());
            for t in &w.terms {
                match self.term(t.test, &w.one_of, Some(k), anchor) {
                    Some(c) if t.negate => parts.push(not(c)),
                    Some(c) => parts.push(c),
                    None => {
                        parts = vec![Cond::False];
                        break;
                    }
                }
            }
            let body = self.simplified(and(parts))?;
            branches.add(vec![k], body);
        }
        Ok(branches.branches)
    }

    /// `cond and` the question's condition (`asked`, its bodies per group of kinds), put into
    /// `cond`'s branches: each branch `kind in ks and rest` becomes, for each group `g` with
    /// body `b`, `kind in (ks ∩ g) and rest and b`. Every branch keeps one kind test over kinds
    /// whose ancestors all its tests read, which is the shape the SQL binds ancestors by. It
    /// costs the branches times the groups, which are few (kinds with equal bodies share one).
    fn with_condition(
        &self,
        cond: Cond,
        asked: &[(Vec<KindId>, Cond)],
    ) -> Result<Cond, QueryError> {
        let branches = match cond {
            Cond::Or(v) => v,
            c => vec![c],
        };
        let mut out = Vec::new();
        for branch in branches {
            // The branch's kinds and the rest of its tests.
            let (kinds, rest): (Option<Vec<KindId>>, Vec<Cond>) = match branch {
                Cond::Kind(ks) => (Some(ks), Vec::new()),
                Cond::And(args) => {
                    let mut kinds = None;
                    let mut rest = Vec::with_capacity(args.len());
                    for a in args {
                        match a {
                            Cond::Kind(ks) if kinds.is_none() => kinds = Some(ks),
                            a => rest.push(a),
                        }
                    }
                    (kinds, rest)
                }
                c => (None, vec![c]),
            };
            for (g, body) in asked {
                let both: Vec<KindId> = match &kinds {
                    Some(ks) => ks
                        .iter()
                        .copied()
                        .filter(|k| g.binary_search(k).is_ok())
                        .collect(),
                    None => g.clone(),
                };
                if both.is_empty() {
                    continue;
                }
                let mut parts = Vec::with_capacity(rest.len() + 2);
                parts.push(Cond::Kind(both));
                parts.extend(rest.iter().cloned());
                parts.push(body.clone());
                let part = and(parts);
                self.spend(part.size())?;
                out.push(part);
            }
        }
        self.simplified(or(out))
    }

    /// The condition of conditional rule `r` as a condition on the resource (of `kind`, when
    /// the rule's place fixes it, with its case `anchor` steps up): terms that read the
    /// principal, the context or literals fold to constants, terms that read the resource or
    /// its case become tests of them. A term that cannot be read counts as the VM counts it:
    /// failing in an allow, holding in a deny.
    fn condition(&self, r: &CRule, kind: Option<KindId>, anchor: Option<u32>) -> Cond {
        let terms = self.policy.terms(r);
        let mut parts = Vec::with_capacity(terms.len());
        for t in terms {
            let c = match self.term(t.test, self.policy.one_of_all(), kind, anchor) {
                Some(c) if t.negate => not(c),
                Some(c) => c,
                None if r.effect == Effect::Deny => Cond::True,
                None => Cond::False,
            };
            parts.push(c);
        }
        and(parts)
    }

    /// A term before its `not`; `None` when it reads a value that is not there or is of
    /// another type than the test takes.
    fn term(
        &self,
        test: Test,
        one_of: &[Src],
        kind: Option<KindId>,
        anchor: Option<u32>,
    ) -> Option<Cond> {
        let side = |s: Src| self.side(s, kind, anchor);
        Some(match test {
            Test::Holds(bit) => self.holds_any(anchor, kind, &Bits::from_indices([bit as usize])),
            Test::True(a) => match side(a)? {
                Side::Fixed(AttrValue::Bool(b)) => constant(b),
                Side::Fixed(_) => return None,
                Side::Stored { up, kind, attr } => Cond::Compare {
                    up,
                    kind,
                    attr,
                    op: CmpOp::Eq,
                    values: vec![Lit::Bool(true)],
                },
            },
            Test::Compare(op, a, b) => match (side(a)?, side(b)?) {
                (Side::Fixed(x), Side::Fixed(y)) => constant(fixed_compare(op, &x, &y)?),
                (Side::Stored { up, kind, attr }, Side::Fixed(v)) => {
                    self.compare(up, kind, attr, op, &v)?
                }
                (Side::Fixed(v), Side::Stored { up, kind, attr }) => {
                    self.compare(up, kind, attr, op.flipped(), &v)?
                }
                // The checker never lets two stored values be compared.
                (Side::Stored { .. }, Side::Stored { .. }) => return None,
            },
            Test::OneOf(a, start, len) => {
                let values =
                    one_of.get(start as usize..(start as usize).checked_add(len as usize)?)?;
                match side(a)? {
                    Side::Fixed(x) => {
                        let mut any = false;
                        for v in values {
                            let Side::Fixed(y) = side(*v)? else {
                                return None;
                            };
                            any |= fixed_compare(CmpOp::Eq, &x, &y)?;
                        }
                        constant(any)
                    }
                    Side::Stored { up, kind, attr } => {
                        let mut lits = Vec::with_capacity(values.len());
                        for v in values {
                            let Side::Fixed(y) = side(*v)? else {
                                return None;
                            };
                            lits.extend(self.lit(&y)?.map(|l| self.typed(kind, attr, l)));
                        }
                        Cond::Compare {
                            up,
                            kind,
                            attr,
                            op: CmpOp::Eq,
                            values: lits,
                        }
                    }
                }
            }
            Test::Contains(set, item) => match (side(set)?, side(item)?) {
                (Side::Fixed(AttrValue::Set(items)), Side::Fixed(AttrValue::Sym(x))) => {
                    constant(items.binary_search(&x).is_ok())
                }
                (Side::Stored { up, kind, attr }, Side::Fixed(AttrValue::Sym(x))) => {
                    match self.known(x) {
                        Some(text) => Cond::Has {
                            up,
                            kind,
                            attr,
                            value: text.to_string(),
                        },
                        // A string the entities do not hold is in no stored set.
                        None => Cond::False,
                    }
                }
                (Side::Fixed(AttrValue::Set(items)), Side::Stored { up, kind, attr }) => {
                    Cond::Compare {
                        up,
                        kind,
                        attr,
                        op: CmpOp::Eq,
                        values: items
                            .iter()
                            .filter_map(|&x| self.known(x).map(|t| Lit::Str(t.to_string())))
                            .collect(),
                    }
                }
                _ => return None,
            },
        })
    }

    /// Where an operand of a term is: a value the question fixes, or an attribute stored on
    /// the resource or its case. `None` when it reads nothing (the VM's fault).
    fn side(&self, src: Src, kind: Option<KindId>, anchor: Option<u32>) -> Option<Side> {
        let fixed = |v: &AttrValue| Some(Side::Fixed(v.clone()));
        match src {
            Src::Principal => Some(Side::Fixed(AttrValue::User(self.principal))),
            Src::User(a) => fixed(
                self.entities
                    .user_attrs
                    .get(self.principal as usize)?
                    .get(a as usize)?,
            ),
            Src::Context(a) => fixed(self.context.get(a as usize)?),
            Src::Sym(x) => Some(Side::Fixed(AttrValue::Sym(x))),
            Src::Int(i) => Some(Side::Fixed(AttrValue::Int(i))),
            Src::Bool(b) => Some(Side::Fixed(AttrValue::Bool(b))),
            Src::Variant(v) => Some(Side::Fixed(AttrValue::Variant(v))),
            Src::Resource(attr) => Some(Side::Stored {
                up: 0,
                kind: kind?,
                attr,
            }),
            Src::Case(attr) => Some(Side::Stored {
                up: anchor?,
                kind: self.policy.ir().case_kind?,
                attr,
            }),
        }
    }

    /// The stored attribute compared with a fixed value: a `compare` test, or a constant when
    /// the value is a string the entities do not hold (it equals no stored value).
    fn compare(&self, up: u32, kind: KindId, attr: u32, op: CmpOp, v: &AttrValue) -> Option<Cond> {
        let lit = self.lit(v)?.map(|l| self.typed(kind, attr, l));
        Some(match (lit, op) {
            (Some(l), op) => Cond::Compare {
                up,
                kind,
                attr,
                op,
                values: vec![l],
            },
            (None, CmpOp::Ne) => Cond::True,
            (None, _) => Cond::False,
        })
    }

    /// A fixed scalar as a literal the residual can hold: `Some(None)` for a string the
    /// entities do not hold, `None` for a set.
    fn lit(&self, v: &AttrValue) -> Option<Option<Lit>> {
        let ent = self.entities;
        Some(Some(match v {
            AttrValue::Sym(s) => match self.known(*s) {
                Some(t) => Lit::Str(t.to_string()),
                None => return Some(None),
            },
            AttrValue::Int(i) => Lit::Int(*i),
            AttrValue::DateTime(t) => Lit::DateTime(*t),
            AttrValue::Bool(b) => Lit::Bool(*b),
            AttrValue::Variant(x) => Lit::Variant(*x),
            AttrValue::User(u) => Lit::User(ent.user_id(*u).to_string()),
            AttrValue::Resource(r) => Lit::Resource(ent.resource_id(*r).to_string()),
            AttrValue::Set(_) => return None,
        }))
    }

    /// A literal compared with attribute `attr` of kind `kind`, of the attribute's type: a
    /// `datetime` literal is compiled as its number, and is a `datetime` again here.
    fn typed(&self, kind: KindId, attr: u32, l: Lit) -> Lit {
        let ty = self.policy.ir().kinds[kind.idx()]
            .attrs
            .get(attr as usize)
            .map(|a| a.ty);
        match (ty, l) {
            (Some(Type::DateTime), Lit::Int(t)) => Lit::DateTime(t),
            (_, l) => l,
        }
    }

    /// The text of symbol `s`, when the entities hold it (a context's string may be no symbol
    /// of theirs).
    fn known(&self, s: u32) -> Option<&str> {
        ((s as usize) < self.entities.symbols.len()).then(|| self.entities.symbol(s))
    }
}

/// An operand of a term, for partial evaluation.
enum Side {
    /// A value the question fixes: the principal's, the context's, or a literal.
    Fixed(AttrValue),
    /// An attribute of the resource `up` steps above, whose kind is `kind`.
    Stored { up: u32, kind: KindId, attr: u32 },
}

fn constant(b: bool) -> Cond {
    match b {
        true => Cond::True,
        false => Cond::False,
    }
}

/// `a op b` for two fixed values, as the VM compares them; `None` for two types, or an order
/// of two values that are not numbers.
fn fixed_compare(op: CmpOp, a: &AttrValue, b: &AttrValue) -> Option<bool> {
    // A `datetime` literal is compiled as its number; the checker compares a `datetime` only
    // with a `datetime`, so both are numbers here.
    let number = |v: &AttrValue| match v {
        AttrValue::Int(x) | AttrValue::DateTime(x) => Some(*x),
        _ => None,
    };
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return Some(op.holds(x, y));
    }
    let same = match (a, b) {
        (AttrValue::Sym(x), AttrValue::Sym(y))
        | (AttrValue::Variant(x), AttrValue::Variant(y))
        | (AttrValue::User(x), AttrValue::User(y))
        | (AttrValue::Resource(x), AttrValue::Resource(y)) => x == y,
        (AttrValue::Bool(x), AttrValue::Bool(y)) => x == y,
        _ => return None,
    };
    match op {
        CmpOp::Eq => Some(same),
        CmpOp::Ne => Some(!same),
        _ => None,
    }
}

/// The top-level branches, `kind in [...] and body`: kinds with equal bodies share one, found
/// by hashing the body. Kinds with equal bodies read the same ancestors, so each of them has the
/// ancestors the body reads.
#[derive(Default)]
struct Branches {
    branches: Vec<(Vec<KindId>, Cond)>,
    at: HashMap<Cond, usize>,
}

impl Branches {
    fn add(&mut self, kinds: Vec<KindId>, body: Cond) {
        if body == Cond::False {
            return;
        }
        match self.at.get(&body) {
            Some(&i) => self.branches[i].0.extend(kinds),
            None => {
                self.at.insert(body.clone(), self.branches.len());
                self.branches.push((kinds, body));
            }
        }
    }

    fn into_conds(self) -> Vec<Cond> {
        self.branches
            .into_iter()
            .map(|(kinds, body)| and(vec![Cond::Kind(kinds), body]))
            .collect()
    }
}

/// The states of one case type grouped by equal condition, in the order each condition first
/// appears; a condition is found by hashing, not by comparing it with every group.
#[derive(Default)]
struct StateGroups {
    groups: Vec<(Cond, Vec<u32>)>,
    at: HashMap<Cond, usize>,
}

impl StateGroups {
    /// The group of condition `c`, made if new; `None` for `false`, which no state keeps.
    fn group(&mut self, c: Cond) -> Option<usize> {
        if c == Cond::False {
            return None;
        }
        if let Some(&i) = self.at.get(&c) {
            return Some(i);
        }
        self.at.insert(c.clone(), self.groups.len());
        self.groups.push((c, Vec::new()));
        Some(self.groups.len() - 1)
    }

    fn add(&mut self, group: Option<usize>, state: u32) {
        if let Some(i) = group {
            self.groups[i].1.push(state);
        }
    }
}

/// Per case type: its id, its number of states, and its states grouped by equal condition.
type TypeGroups = Vec<(u32, usize, Vec<(Cond, Vec<u32>)>)>;

/// The condition on the case `d` steps up, from each case type's state groups: one `case` test
/// per group (without states when the group has them all), or, when every state of every case
/// type has the same condition, that condition alone.
fn by_state(d: u32, per_type: TypeGroups) -> Cond {
    let uniform = per_type
        .first()
        .and_then(|(_, _, g)| g.first())
        .map(|x| &x.0);
    if let Some(c) = uniform.filter(|c| {
        per_type
            .iter()
            .all(|(_, n, g)| g.len() == 1 && g[0].1.len() == *n && &g[0].0 == *c)
    }) {
        return c.clone();
    }
    let mut alts = Vec::new();
    for (t, n, groups) in per_type {
        for (c, states) in groups {
            let states = (states.len() != n).then_some(states);
            alts.push(and(vec![
                Cond::Case {
                    up: d,
                    casetype: t,
                    states,
                },
                c,
            ]));
        }
    }
    or(alts)
}

/// The effective code of class `class` is met, for a resource whose kinds up the chain are
/// `chain[i..]`: its own code, and its parent's effective code while it inherits.
fn codes(policy: &CompiledPolicy, chain: &[KindId], class: Class, i: usize) -> Cond {
    let p = policy.ir();
    let own = Cond::CodeMet {
        up: i as u32,
        class,
    };
    let kind = &p.kinds[chain[i].idx()];
    let declares = match class {
        Class::Read => kind.inherit_read,
        Class::Write => kind.inherit_write,
    };
    if !declares || i + 1 >= chain.len() {
        return own;
    }
    and(vec![
        own,
        or(vec![
            not(Cond::Inherits {
                up: i as u32,
                class,
            }),
            codes(policy, chain, class, i + 1),
        ]),
    ])
}

// ---- simplification ---------------------------------------------------------------------------

/// Simplifies in one pass from the leaves up: each connective is simplified after its
/// arguments, so nothing is visited twice, and its arguments are merged by key and compared
/// after sorting, never pair by pair. The cost is n log n in the size of the condition.
pub fn simplify(c: Cond) -> Cond {
    #[cfg(test)]
    tests::count(&tests::SIMPLIFIED);
    match c {
        Cond::Not(x) => match simplify(*x) {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Not(y) => *y,
            y => not(y),
        },
        Cond::And(args) => junction(args, true),
        Cond::Or(args) => junction(args, false),
        atom => tidy(atom),
    }
}

/// An atom with its list sorted and without repeats; an empty list is `false`.
fn tidy(c: Cond) -> Cond {
    fn sorted<T: Ord>(mut v: Vec<T>) -> Option<Vec<T>> {
        v.sort();
        v.dedup();
        (!v.is_empty()).then_some(v)
    }
    match c {
        Cond::Attr { up, attr, values } => sorted(values)
            .map(|values| Cond::Attr { up, attr, values })
            .unwrap_or(Cond::False),
        Cond::Holds { up, relations } => sorted(relations)
            .map(|relations| Cond::Holds { up, relations })
            .unwrap_or(Cond::False),
        // Equal to one of no value: false; equal to none of no value: true.
        Cond::Compare {
            up,
            kind,
            attr,
            op,
            values,
        } => match (sorted(values), op) {
            (Some(values), op) => Cond::Compare {
                up,
                kind,
                attr,
                op,
                values,
            },
            (None, CmpOp::Ne) => Cond::True,
            (None, _) => Cond::False,
        },
        Cond::Kind(ks) => sorted(ks).map(Cond::Kind).unwrap_or(Cond::False),
        other => other,
    }
}

/// What two arguments of one connective must share to be merged into one.
#[derive(PartialEq, Eq, Hash)]
enum MergeKey {
    Attr { up: u32, attr: u32 },
    Holds { up: u32 },
    Kind,
}

fn merge_key(c: &Cond) -> Option<MergeKey> {
    match *c {
        Cond::Attr { up, attr, .. } => Some(MergeKey::Attr { up, attr }),
        Cond::Holds { up, .. } => Some(MergeKey::Holds { up }),
        Cond::Kind(_) => Some(MergeKey::Kind),
        _ => None,
    }
}

/// Is every element of the sorted `a` in the sorted `b`?
fn subset<T: Ord>(a: &[T], b: &[T]) -> bool {
    a.iter().all(|x| b.binary_search(x).is_ok())
}

/// Merges `x` into `m`, an argument of the same connective with the same [`MergeKey`]: tests of
/// one attribute, relation sets on one case, kind sets. In an `and`, lists are intersected; in
/// an `or`, joined (and sorted by [`tidy`] afterwards). Returns whether `x` was absorbed.
// INVARIANT: `x` is simplified, so its list is sorted; in an `and`, `m`'s list stays sorted.
fn merge(m: &mut Cond, x: &Cond, is_and: bool) -> bool {
    match (m, x) {
        (Cond::Attr { values, .. }, Cond::Attr { values: v2, .. }) => {
            match is_and {
                true => values.retain(|v| v2.binary_search(v).is_ok()),
                false => values.extend(v2.iter().cloned()),
            }
            true
        }
        (Cond::Holds { relations, .. }, Cond::Holds { relations: r2, .. }) if !is_and => {
            relations.extend(r2.iter().copied());
            true
        }
        // Holding one of a few relations implies holding one of more of them: in an `and`, the
        // smaller set is the whole condition.
        (Cond::Holds { relations, .. }, Cond::Holds { relations: r2, .. }) => {
            if subset(relations, r2) {
                true
            } else if subset(r2, relations) {
                *relations = r2.clone();
                true
            } else {
                false
            }
        }
        (Cond::Kind(ks), Cond::Kind(k2)) => {
            match is_and {
                true => ks.retain(|k| k2.binary_search(k).is_ok()),
                false => ks.extend(k2.iter().copied()),
            }
            true
        }
        _ => false,
    }
}

/// Simplifies an `and` (`is_and`) or an `or`: constants folded, nested connectives of the same
/// kind flattened, arguments merged ([`merge`]), duplicates dropped, `x and not x` folded, and
/// absorbed arguments dropped.
fn junction(args: Vec<Cond>, is_and: bool) -> Cond {
    let (unit, zero) = if is_and {
        (Cond::True, Cond::False)
    } else {
        (Cond::False, Cond::True)
    };
    let mut items: Vec<Cond> = Vec::with_capacity(args.len());
    // The first argument with each merge key; later ones merge into it.
    let mut first: HashMap<MergeKey, usize> = HashMap::new();
    let mut add = |x: Cond, items: &mut Vec<Cond>| {
        if let Some(key) = merge_key(&x) {
            match first.get(&key) {
                Some(&i) if merge(&mut items[i], &x, is_and) => return,
                Some(_) => {}
                None => {
                    first.insert(key, items.len());
                }
            }
        }
        items.push(x);
    };
    for a in args {
        match simplify(a) {
            x if x == unit => {}
            x if x == zero => return zero,
            Cond::And(inner) if is_and => inner.into_iter().for_each(|x| add(x, &mut items)),
            Cond::Or(inner) if !is_and => inner.into_iter().for_each(|x| add(x, &mut items)),
            x => add(x, &mut items),
        }
    }
    // Merged lists are sorted again; an intersection may have come out empty.
    let mut kept: Vec<Cond> = Vec::with_capacity(items.len());
    for x in items {
        match tidy(x) {
            x if x == unit => {}
            x if x == zero => return zero,
            x => kept.push(x),
        }
    }
    let mut items = kept;
    items.sort();
    items.dedup();
    // x and not x: the and is false, the or is true.
    if items
        .iter()
        .any(|x| matches!(x, Cond::Not(y) if items.binary_search(y).is_ok()))
    {
        return zero;
    }
    // Absorption: in an and, drop an `or` that contains another argument; in an or, drop an
    // `and` that contains another argument. (An argument never contains itself.)
    let absorbed: Vec<bool> = items
        .iter()
        .map(|x| match (x, is_and) {
            (Cond::Or(v), true) | (Cond::And(v), false) => {
                v.iter().any(|y| items.binary_search(y).is_ok())
            }
            _ => false,
        })
        .collect();
    let mut items: Vec<Cond> = items
        .into_iter()
        .zip(absorbed)
        .filter_map(|(x, gone)| (!gone).then_some(x))
        .collect();
    match items.len() {
        0 => unit,
        1 => items.pop().unwrap_or(unit),
        _ if is_and => Cond::And(items),
        _ => Cond::Or(items),
    }
}

// ---- evaluation ---------------------------------------------------------------------------

impl Residual {
    /// Evaluates the residual on one resource of the entities, given by its position. This
    /// reads the resource, its parents and its case directly, without the compiled tables: tests
    /// compare it with the VM. The entities may be others than those the residual was computed
    /// from (the principal and the codes are kept by name), but they must have been loaded for
    /// the policy that computed it.
    pub fn eval(
        &self,
        policy: &crate::Policy,
        entities: &Entities,
        resource: u32,
    ) -> Result<bool, QueryError> {
        let policy = policy.compiled();
        residual_of(policy, self)?;
        same_policy(policy, entities)?;
        if resource as usize >= entities.resources.len() {
            return Err(QueryError {
                kind: QueryErrorKind::UnknownResource,
                message: format!(
                    "no resource at position {resource}: the entities hold {}",
                    entities.resources.len()
                ),
                help: Some("evaluate at a position below the number of resources".into()),
            });
        }
        let mut chain: Vec<&Resource> = vec![&entities.resources[resource as usize]];
        while let Some(parent) = chain.last().and_then(|r| r.parent) {
            if chain.len() > crate::limits::MAX_KIND_DEPTH + 1 {
                break;
            }
            chain.push(&entities.resources[parent as usize]);
        }
        let principal = entities.user_index.get(&self.principal).copied();
        let ctx = Eval {
            policy,
            entities,
            chain,
            principal,
            codes: &self.codes,
        };
        Ok(ctx.eval(&self.cond))
    }

    /// The residual as JSON (docs/queries.md), for `serde_json::to_string` and friends. Its
    /// names come from `policy`, which must be the policy that computed it.
    pub fn json<'a>(&'a self, policy: &'a crate::Policy) -> Result<ResidualJson<'a>, QueryError> {
        let policy = policy.compiled();
        residual_of(policy, self)?;
        Ok(ResidualJson {
            policy,
            residual: self,
        })
    }
}

struct Eval<'a> {
    policy: &'a CompiledPolicy,
    entities: &'a Entities,
    chain: Vec<&'a Resource>,
    principal: Option<u32>,
    codes: &'a [String],
}

impl Eval<'_> {
    /// The case `up` steps above, when there is a resource there and it is a case.
    fn case(&self, up: u32) -> Option<&Resource> {
        let r = self.chain.get(up as usize)?;
        self.policy.ir().kinds[r.kind.idx()].is_case.then_some(*r)
    }

    fn eval(&self, c: &Cond) -> bool {
        let ent = self.entities;
        match c {
            Cond::True => true,
            Cond::False => false,
            Cond::Not(x) => !self.eval(x),
            Cond::And(v) => v.iter().all(|x| self.eval(x)),
            Cond::Or(v) => v.iter().any(|x| self.eval(x)),
            Cond::Kind(ks) => ks.contains(&self.chain[0].kind),
            Cond::Case {
                up,
                casetype,
                states,
            } => self.case(*up).is_some_and(|a| {
                a.casetype == *casetype && states.as_ref().is_none_or(|s| s.contains(&a.state))
            }),
            Cond::Attr { up, attr, values } => self.case(*up).is_some_and(|a| {
                let Some(v) = a.attrs.get(*attr as usize) else {
                    return false;
                };
                values.iter().any(|lit| match (v, lit) {
                    (AttrValue::Sym(s), Lit::Str(l)) => ent.symbol(*s) == l,
                    (AttrValue::Int(i), Lit::Int(l)) => i == l,
                    (AttrValue::Bool(b), Lit::Bool(l)) => b == l,
                    (AttrValue::Variant(x), Lit::Variant(l)) => x == l,
                    (AttrValue::User(u), Lit::User(l)) => ent.user_id(*u) == l,
                    _ => false,
                })
            }),
            Cond::Compare {
                up,
                attr,
                op,
                values,
                ..
            } => self.chain.get(*up as usize).is_some_and(|r| {
                let Some(v) = r.attrs.get(*attr as usize) else {
                    return false;
                };
                let equal = |lit: &Lit| match (v, lit) {
                    (AttrValue::Sym(s), Lit::Str(l)) => ent.symbol(*s) == l,
                    (AttrValue::Int(i), Lit::Int(l)) => i == l,
                    (AttrValue::DateTime(t), Lit::DateTime(l)) => t == l,
                    (AttrValue::Bool(b), Lit::Bool(l)) => b == l,
                    (AttrValue::Variant(x), Lit::Variant(l)) => x == l,
                    (AttrValue::User(u), Lit::User(l)) => ent.user_id(*u) == l,
                    (AttrValue::Resource(x), Lit::Resource(l)) => ent.resource_id(*x) == l,
                    _ => false,
                };
                match (op, v, values.as_slice()) {
                    (CmpOp::Eq, _, _) => values.iter().any(equal),
                    (CmpOp::Ne, _, _) => !values.iter().any(equal),
                    (op, AttrValue::Int(i), [Lit::Int(l)])
                    | (op, AttrValue::DateTime(i), [Lit::DateTime(l)]) => op.holds(*i, *l),
                    _ => false,
                }
            }),
            Cond::Has {
                up, attr, value, ..
            } => self.chain.get(*up as usize).is_some_and(|r| {
                matches!(r.attrs.get(*attr as usize), Some(AttrValue::Set(s)) if s.iter().any(|x| ent.symbol(*x) == value))
            }),
            Cond::Contains { up, attr, value } => self.case(*up).is_some_and(|a| {
                matches!(a.attrs.get(*attr as usize), Some(AttrValue::Set(s)) if s.iter().any(|x| ent.symbol(*x) == value))
            }),
            Cond::Holds { up, relations } => match (self.chain.get(*up as usize), self.principal) {
                (Some(x), Some(u)) => {
                    let declared = &self.policy.ir().kinds[x.kind.idx()].relations;
                    let groups = &ent.users[u as usize].groups;
                    relations.iter().any(|r| {
                        declared
                            .iter()
                            .position(|d| d.0 == *r)
                            .and_then(|local| x.relations.get(local))
                            .is_some_and(|list| held_by(list, u, groups).is_some())
                    })
                }
                _ => false,
            },
            Cond::CodeMet { up, class } => self.chain.get(*up as usize).is_some_and(|r| {
                let own = match class {
                    Class::Read => &r.own_read,
                    Class::Write => &r.own_write,
                };
                own.iter().all(|l| {
                    l.is_empty()
                        || l.iter()
                            .any(|c| self.codes.binary_search_by(|x| x.as_str().cmp(ent.symbol(*c))).is_ok())
                })
            }),
            Cond::Inherits { up, class } => self.chain.get(*up as usize).is_some_and(|r| match class {
                Class::Read => r.inherit_read,
                Class::Write => r.inherit_write,
            }),
        }
    }
}

// ---- JSON -----------------------------------------------------------------------------------

/// The text of a literal, as the SQL layout stores attribute values (docs/queries.md).
pub(crate) fn lit_text(policy: &CompiledPolicy, attr: u32, lit: &Lit) -> String {
    match lit {
        Lit::Str(s) | Lit::User(s) | Lit::Resource(s) => s.clone(),
        Lit::Int(i) => i.to_string(),
        // As the SQL tables store it: fixed-width UTC, which sorts as the instants do.
        Lit::DateTime(t) => crate::datetime::format_fixed(*t),
        Lit::Bool(b) => b.to_string(),
        Lit::Variant(v) => variant_name(policy, attr, *v),
    }
}

fn variant_name(policy: &CompiledPolicy, attr: u32, v: u32) -> String {
    let p = policy.ir();
    match p.case_attrs().get(attr as usize).map(|a| a.ty) {
        Some(Type::Enum(e)) => p.enums[e.idx()]
            .variants
            .get(v as usize)
            .cloned()
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The text of a literal compared with attribute `attr` of kind `kind`, as the SQL layout
/// stores attribute values.
pub(crate) fn kind_lit_text(policy: &CompiledPolicy, kind: KindId, attr: u32, lit: &Lit) -> String {
    match lit {
        Lit::Variant(v) => kind_variant_name(policy, kind, attr, *v),
        other => lit_text(policy, attr, other),
    }
}

fn kind_variant_name(policy: &CompiledPolicy, kind: KindId, attr: u32, v: u32) -> String {
    let p = policy.ir();
    match p.kinds[kind.idx()].attrs.get(attr as usize).map(|a| a.ty) {
        Some(Type::Enum(e)) => p.enums[e.idx()]
            .variants
            .get(v as usize)
            .cloned()
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The name of attribute `attr` of kind `kind`.
pub(crate) fn kind_attr_name(policy: &CompiledPolicy, kind: KindId, attr: u32) -> String {
    policy.ir().kinds[kind.idx()]
        .attrs
        .get(attr as usize)
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

pub(crate) fn attr_name(policy: &CompiledPolicy, attr: u32) -> String {
    policy
        .ir()
        .case_attrs()
        .get(attr as usize)
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

/// A condition as JSON, `{"op": …, …}` with `op` first (docs/queries.md).
// INVARIANT: `cond` is (part of) a residual computed by `policy` (`Residual::json` checks).
struct CondJson<'a> {
    policy: &'a CompiledPolicy,
    cond: &'a Cond,
}

impl Serialize for CondJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let policy = self.policy;
        let p = policy.ir();
        let sub = |c| CondJson { policy, cond: c };
        let mut m = ser.serialize_map(None)?;
        let op = |m: &mut S::SerializeMap, name: &str| m.serialize_entry("op", name);
        match self.cond {
            Cond::True => op(&mut m, "true")?,
            Cond::False => op(&mut m, "false")?,
            Cond::Not(x) => {
                op(&mut m, "not")?;
                m.serialize_entry("arg", &sub(&**x))?;
            }
            Cond::And(v) | Cond::Or(v) => {
                op(
                    &mut m,
                    if matches!(self.cond, Cond::And(_)) {
                        "and"
                    } else {
                        "or"
                    },
                )?;
                m.serialize_entry("args", &v.iter().map(sub).collect::<Vec<_>>())?;
            }
            Cond::Kind(ks) => {
                op(&mut m, "kind")?;
                m.serialize_entry(
                    "kinds",
                    &ks.iter()
                        .map(|k| &p.kinds[k.idx()].name)
                        .collect::<Vec<_>>(),
                )?;
            }
            Cond::Case {
                up,
                casetype,
                states,
            } => {
                let ct = &p.casetypes[*casetype as usize];
                op(&mut m, "case")?;
                m.serialize_entry("up", up)?;
                m.serialize_entry("case_type", &ct.name)?;
                if let Some(s) = states {
                    m.serialize_entry(
                        "states",
                        &s.iter()
                            .map(|s| &ct.states[*s as usize].name)
                            .collect::<Vec<_>>(),
                    )?;
                }
            }
            Cond::Attr { up, attr, values } => {
                op(&mut m, "attr")?;
                m.serialize_entry("up", up)?;
                m.serialize_entry("attr", &attr_name(policy, *attr))?;
                let vs: Vec<Json> = values
                    .iter()
                    .map(|l| match l {
                        Lit::Str(s) | Lit::User(s) | Lit::Resource(s) => json!(s),
                        Lit::Int(i) => json!(i),
                        Lit::DateTime(t) => json!(crate::datetime::format(*t)),
                        Lit::Bool(b) => json!(b),
                        Lit::Variant(v) => json!(variant_name(policy, *attr, *v)),
                    })
                    .collect();
                m.serialize_entry("in", &vs)?;
            }
            Cond::Compare {
                up,
                kind,
                attr,
                op: cmp,
                values,
            } => {
                op(&mut m, "compare")?;
                m.serialize_entry("up", up)?;
                m.serialize_entry("kind", &p.kinds[kind.idx()].name)?;
                m.serialize_entry("attr", &kind_attr_name(policy, *kind, *attr))?;
                m.serialize_entry("cmp", cmp.text())?;
                let vs: Vec<Json> = values
                    .iter()
                    .map(|l| match l {
                        Lit::Int(i) => json!(i),
                        Lit::DateTime(t) => json!(crate::datetime::format(*t)),
                        Lit::Bool(b) => json!(b),
                        other => json!(kind_lit_text(policy, *kind, *attr, other)),
                    })
                    .collect();
                m.serialize_entry("values", &vs)?;
            }
            Cond::Has {
                up,
                kind,
                attr,
                value,
            } => {
                op(&mut m, "has")?;
                m.serialize_entry("up", up)?;
                m.serialize_entry("kind", &p.kinds[kind.idx()].name)?;
                m.serialize_entry("attr", &kind_attr_name(policy, *kind, *attr))?;
                m.serialize_entry("value", value)?;
            }
            Cond::Contains { up, attr, value } => {
                op(&mut m, "contains")?;
                m.serialize_entry("up", up)?;
                m.serialize_entry("attr", &attr_name(policy, *attr))?;
                m.serialize_entry("value", value)?;
            }
            Cond::Holds { up, relations } => {
                op(&mut m, "holds")?;
                m.serialize_entry("up", up)?;
                m.serialize_entry(
                    "relations",
                    &relations
                        .iter()
                        .map(|r| &p.relations[*r as usize].name)
                        .collect::<Vec<_>>(),
                )?;
            }
            Cond::CodeMet { up, class } | Cond::Inherits { up, class } => {
                op(
                    &mut m,
                    if matches!(self.cond, Cond::CodeMet { .. }) {
                        "code_met"
                    } else {
                        "inherits"
                    },
                )?;
                m.serialize_entry("up", up)?;
                m.serialize_entry("class", class.name())?;
            }
        }
        m.end()
    }
}

/// A residual as JSON: the question, the principal's code set, and the condition. Made by
/// [`Residual::json`], which checks that the policy is the residual's own.
pub struct ResidualJson<'a> {
    policy: &'a CompiledPolicy,
    residual: &'a Residual,
}

impl Serialize for ResidualJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let r = self.residual;
        let mut m = ser.serialize_map(Some(5))?;
        m.serialize_entry("principal", &r.principal)?;
        m.serialize_entry("action", &r.action)?;
        m.serialize_entry("module", &r.module)?;
        m.serialize_entry("codes", &r.codes)?;
        m.serialize_entry(
            "condition",
            &CondJson {
                policy: self.policy,
                cond: &r.cond,
            },
        )?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    //! The work partial evaluation does, counted: the calls of [`simplify`] (one per node of
    //! the conditions it builds) and the subject conditions built ([`Pe::any`]). Each counter
    //! panics past a cap, so a quadratic or exponential regression fails fast instead of hanging.

    use crate::query::Query;
    use crate::Policy;
    use std::cell::Cell;
    use std::thread::LocalKey;

    thread_local! {
        pub(super) static SIMPLIFIED: Cell<usize> = const { Cell::new(0) };
        pub(super) static SUBJECT_TESTS: Cell<usize> = const { Cell::new(0) };
    }

    /// The most any counter may reach in one test.
    const CAP: usize = 1_000_000;

    pub(super) fn count(counter: &'static LocalKey<Cell<usize>>) {
        counter.with(|n| {
            n.set(n.get() + 1);
            assert!(
                n.get() <= CAP,
                "more than {CAP} steps of partial evaluation"
            );
        });
    }

    fn reset() {
        SIMPLIFIED.with(|n| n.set(0));
        SUBJECT_TESTS.with(|n| n.set(0));
    }

    fn read(counter: &'static LocalKey<Cell<usize>>) -> usize {
        counter.with(Cell::get)
    }

    /// A chain of kinds as deep as the checker allows, each inheriting its parent's read code:
    /// the effective code nests two levels per kind. Simplifying used to re-simplify every
    /// argument after merging, twice per level, so the work doubled with each level (a chain of
    /// 12 took 26 s, one of 14 took 563 s, one of 32 would never finish).
    #[test]
    fn a_chain_of_inheriting_kinds_is_simplified_once_per_node() {
        let depth = crate::limits::MAX_KIND_DEPTH - 1;
        let mut text = String::from(
            "role R;\naction view;\ncodes { read: view; }\ngroup G { grants R; }\ncase Case { allow R: view; }\ncasetype T { states S; initial S; }\n",
        );
        let mut parent = "Case".to_string();
        for i in 0..depth {
            text.push_str(&format!(
                "resource K{i} under {parent} {{ inherit read; allow R: view; }}\n"
            ));
            parent = format!("K{i}");
        }
        let policy = Policy::from_source("deep.casepol", &text).unwrap_or_else(|e| panic!("{e}"));
        let entities = policy
            .load_entities(r#"{"users": [{"id": "u", "groups": ["G"]}], "resources": []}"#)
            .unwrap();
        reset();
        let residual = Query::new(&policy, &entities)
            .residual("u", "view", None)
            .unwrap();
        // Kind `K{i}` reads the codes of its i + 2 resources, in at most 6 conditions each (the
        // code met, `not inherits`, and the connectives around them).
        let nodes: usize = (1..=depth + 1).map(|n| 6 * n).sum();
        assert!(
            residual.cond().size() <= nodes,
            "{}",
            residual.cond().size()
        );
        let simplified = read(&SIMPLIFIED);
        assert!(
            simplified <= 4 * nodes,
            "{simplified} calls of simplify for about {nodes} conditions"
        );
    }

    /// 2,000 kinds that differ and a case type of 2,000 states that differ (as in
    /// tests/common/residual_world.rs, which tests/queries_limits.rs runs on SQLite): the
    /// subject conditions are built once per kind and once per different state, not once per
    /// (kind, state) as they were (4,000,000 of them).
    #[test]
    fn kinds_and_states_are_evaluated_apart() {
        let (kinds, states) = (2_000, 2_000);
        let rels: Vec<String> = (0..100).map(|r| format!("r{r}")).collect();
        let mut text = format!(
            "role R;\naction view;\ngroup G {{ grants R; }}\ncase Case {{ relation {}; }}\n",
            rels.join(", ")
        );
        for k in 0..kinds {
            text.push_str(&format!(
                "resource K{k} under Case {{ allow r{}: view; deny r{}: view; }}\n",
                k % 100,
                k / 100
            ));
        }
        let names: Vec<String> = (0..states).map(|s| format!("S{s}")).collect();
        text.push_str(&format!(
            "casetype T {{ states {}; initial S0;\n",
            names.join(", ")
        ));
        for (s, name) in names.iter().enumerate() {
            text.push_str(&format!(
                "allow r{}: view in {name}; deny r{}: view in {name};\n",
                s % 100,
                s / 100 + 50
            ));
        }
        text.push_str("allow R: view; }\n");
        let policy = Policy::from_source("scale.casepol", &text).unwrap_or_else(|e| panic!("{e}"));
        let entities = policy
            .load_entities(r#"{"users": [{"id": "ann", "groups": ["G"]}], "resources": []}"#)
            .unwrap();
        reset();
        let residual = Query::new(&policy, &entities)
            .residual("ann", "view", None)
            .unwrap();
        let tests = read(&SUBJECT_TESTS);
        assert!(
            tests <= 4 * (kinds + states),
            "{tests} subject conditions for {kinds} kinds and {states} states"
        );
        let simplified = read(&SIMPLIFIED);
        let size = residual.cond().size();
        assert!(
            size <= 20 * (kinds + states) && simplified <= 100 * (kinds + states),
            "a residual of size {size}, {simplified} calls of simplify"
        );
    }
}

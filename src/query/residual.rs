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

use super::{residual_of, same_policy, QueryError, QueryErrorKind};
use crate::bits::Bits;
use crate::compile::{CScope, CompiledPolicy, Insn};
use crate::entities::{AttrValue, Entities, Resource};
use crate::ir::{KindId, Type};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// An access-code class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Read,
    Write,
}

impl Class {
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
    Str(String),
    Int(i64),
    Bool(bool),
    /// An enum variant by index.
    Variant(u32),
    /// A user id (the principal, for `attr == principal`).
    User(String),
}

/// A residual condition. `up` counts parent steps from the resource: 0 is the resource itself,
/// 1 its parent, and so on. Within a [`Cond::Kind`] branch the chain of parents is fixed by the
/// kind, so `up` always names an existing resource there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cond {
    False,
    True,
    /// The resource's kind is one of these.
    Kind(Vec<KindId>),
    /// The case `up` steps above has this case type, and one of `states` (`None`: any state).
    Case {
        up: u32,
        casetype: u32,
        states: Option<Vec<u32>>,
    },
    /// The case's attribute equals one of the values.
    Attr {
        up: u32,
        attr: u32,
        values: Vec<Lit>,
    },
    /// The case's set attribute contains the string.
    Contains {
        up: u32,
        attr: u32,
        value: String,
    },
    /// The principal holds one of these relations (by relation index) on the case.
    Holds {
        up: u32,
        relations: Vec<u32>,
    },
    /// The own access code of class `class` of the resource `up` steps above is met by the
    /// principal's code set: every level empty or holding one of the principal's codes.
    CodeMet {
        up: u32,
        class: Class,
    },
    /// The resource `up` steps above inherits its parent's code of this class (its kind declares
    /// `inherit` and its `inherit_read`/`inherit_write` is not `false`).
    Inherits {
        up: u32,
        class: Class,
    },
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
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
}

impl Residual {
    /// The principal's id.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    pub fn action(&self) -> &str {
        &self.action
    }

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
// INVARIANT: the caller checked that the entities belong to the policy and resolved the ids
// against them (`Query::residual`).
pub(crate) fn residual(
    policy: &CompiledPolicy,
    entities: &Entities,
    principal: u32,
    action: u32,
    module: Option<u32>,
) -> Residual {
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
    };
    let permits = user.groups.iter().fold(Bits::EMPTY, |b, &g| {
        b.union(policy.groups[g as usize].permits)
    });
    let required = policy.action_requires[action as usize].is_none_or(|x| permits.get(x as usize));
    let mut branches: Vec<(Cond, Vec<KindId>)> = Vec::new();
    if required {
        for k in 0..p.kinds.len() {
            let k = KindId(k as u32);
            let body = simplify(pe.kind_body(k));
            if body == Cond::False {
                continue;
            }
            match branches.iter_mut().find(|(b, _)| *b == body) {
                Some((_, kinds)) => kinds.push(k),
                None => branches.push((body, vec![k])),
            }
        }
    }
    let cond = simplify(or(branches
        .into_iter()
        .map(|(body, kinds)| and(vec![Cond::Kind(kinds), body]))
        .collect()));
    Residual {
        principal: entities.user_id(principal).to_string(),
        action: p.actions[action as usize].name.clone(),
        module: module.map(|m| p.modules[m as usize].name.clone()),
        codes,
        cond,
        policy: policy.stamp,
    }
}

struct Pe<'a> {
    policy: &'a CompiledPolicy,
    entities: &'a Entities,
    principal: u32,
    action: u32,
    module: Option<u32>,
}

impl Pe<'_> {
    /// The condition for a resource of kind `k`, the kind test aside.
    fn kind_body(&self, k: KindId) -> Cond {
        let policy = self.policy;
        let p = policy.ir();
        let chain = kind_chain(policy, k);
        let anchor = chain
            .iter()
            .position(|c| p.kinds[c.idx()].is_case)
            .map(|d| d as u32);
        let mut parts = Vec::new();
        // Access codes: the own code of each resource up the chain, as far as it inherits.
        for (class, applies) in [
            (Class::Read, policy.action_read.get(self.action as usize)),
            (Class::Write, policy.action_write.get(self.action as usize)),
        ] {
            if applies {
                parts.push(code_chain(policy, &chain, class, 0));
            }
        }
        let Some(d) = anchor else {
            // No case: only groups of scope `all` admit, and no relation is held.
            parts.push(self.data(k, None, None));
            return and(parts);
        };
        // Access mode; a mode that opens every value to everyone tests nothing.
        if let Some((attr, arms)) = policy
            .mode
            .as_ref()
            .filter(|(_, arms)| arms.iter().any(Option::is_some))
        {
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
            parts.push(or(mode));
        }
        // Case type and state: one condition per (type, state), grouped by equal conditions.
        let mut per_type = Vec::new();
        for (t, ct) in p.casetypes.iter().enumerate() {
            let t = t as u32;
            let mut groups: Vec<(Cond, Vec<u32>)> = Vec::new();
            for s in 0..ct.states.len() as u32 {
                let c = simplify(and(vec![
                    self.module(d, t),
                    self.data(k, Some(d), Some((t, s))),
                ]));
                if c == Cond::False {
                    continue;
                }
                match groups.iter_mut().find(|(g, _)| *g == c) {
                    Some((_, states)) => states.push(s),
                    None => groups.push((c, vec![s])),
                }
            }
            per_type.push((t, ct.states.len(), groups));
        }
        // When every state of every case type has the same condition, the case's type and state
        // do not matter.
        let all_same = per_type
            .iter()
            .all(|(_, n, g)| g.len() == 1 && g[0].1.len() == *n)
            && per_type
                .windows(2)
                .all(|w| w[0].2.first().map(|x| &x.0) == w[1].2.first().map(|x| &x.0));
        if all_same && !per_type.is_empty() {
            parts.push(per_type[0].2[0].0.clone());
        } else {
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
            parts.push(or(alts));
        }
        and(parts)
    }

    fn holds(&self, up: u32, rels: &Bits) -> Cond {
        let n_roles = self.policy.n_roles;
        Cond::Holds {
            up,
            relations: rels
                .iter()
                .filter(|&b| b >= n_roles)
                .map(|b| (b - n_roles) as u32)
                .collect(),
        }
    }

    /// The condition that the principal has subject `s` (a role or relation bit), on a resource
    /// whose case is `anchor` steps up (`None`: it has no case).
    fn subject(&self, s: usize, anchor: Option<u32>) -> Cond {
        let policy = self.policy;
        if s >= policy.n_roles {
            return match anchor {
                Some(d) => Cond::Holds {
                    up: d,
                    relations: vec![(s - policy.n_roles) as u32],
                },
                None => Cond::False,
            };
        }
        let user = &self.entities.users[self.principal as usize];
        let mut alts = Vec::new();
        for &g in user.groups.iter() {
            let group = &policy.groups[g as usize];
            if !group.roles.get(s) {
                continue;
            }
            alts.push(match (group.scope, anchor) {
                (CScope::All, _) => Cond::True,
                (_, None) => Cond::False,
                (CScope::Assigned(rels), Some(d)) => self.holds(d, &rels),
                (CScope::Filter { start, len }, Some(d)) => or(policy.code
                    [start as usize..(start + len) as usize]
                    .iter()
                    .map(|i| self.insn(*i, d))
                    .collect()),
            });
        }
        or(alts)
    }

    fn any(&self, subjects: &Bits, anchor: Option<u32>) -> Cond {
        or(subjects.iter().map(|s| self.subject(s, anchor)).collect())
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

    /// The module layer for a case of type `t` at `d` steps up.
    fn module(&self, d: u32, t: u32) -> Cond {
        let policy = self.policy;
        if !policy.ct_has_modules[t as usize] {
            return Cond::True;
        }
        let Some(m) = self.module else {
            return Cond::False;
        };
        if !policy.module_actions[m as usize].get(self.action as usize) {
            return Cond::False;
        }
        let record = match &policy.module_records[m as usize] {
            Some(rels) => self.holds(d, rels),
            None => Cond::True,
        };
        and(vec![
            record,
            self.any(&policy.module_grant(t, m, self.action), Some(d)),
        ])
    }

    /// The data layer: no deny matches and some allow does.
    fn data(&self, k: KindId, anchor: Option<u32>, ct_state: Option<(u32, u32)>) -> Cond {
        let masks = self.policy.data_masks(k.0, ct_state, self.action);
        and(vec![
            not(self.any(&masks.deny, anchor)),
            self.any(&masks.allow, anchor),
        ])
    }
}

/// The effective code of class `class` is met, for a resource whose kinds up the chain are
/// `chain[i..]`: its own code, and its parent's effective code while it inherits.
fn code_chain(policy: &CompiledPolicy, chain: &[KindId], class: Class, i: usize) -> Cond {
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
            code_chain(policy, chain, class, i + 1),
        ]),
    ])
}

// ---- simplification ---------------------------------------------------------------------------

/// Simplifies until nothing changes (at most a few rounds; each round only shrinks the tree).
pub fn simplify(c: Cond) -> Cond {
    let mut c = c;
    for _ in 0..16 {
        let next = step(c.clone());
        if next == c {
            break;
        }
        c = next;
    }
    c
}

fn step(c: Cond) -> Cond {
    match c {
        Cond::Not(x) => match step(*x) {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Not(y) => *y,
            y => not(y),
        },
        Cond::And(args) => junction(args, true),
        Cond::Or(args) => junction(args, false),
        Cond::Attr { up, attr, values } => {
            let mut values = values;
            values.sort();
            values.dedup();
            if values.is_empty() {
                Cond::False
            } else {
                Cond::Attr { up, attr, values }
            }
        }
        Cond::Holds { up, relations } => {
            let mut relations = relations;
            relations.sort();
            relations.dedup();
            if relations.is_empty() {
                Cond::False
            } else {
                Cond::Holds { up, relations }
            }
        }
        Cond::Kind(mut ks) => {
            ks.sort();
            ks.dedup();
            if ks.is_empty() {
                Cond::False
            } else {
                Cond::Kind(ks)
            }
        }
        other => other,
    }
}

/// Simplifies an `and` (`is_and`) or an `or`.
fn junction(args: Vec<Cond>, is_and: bool) -> Cond {
    let (unit, zero) = if is_and {
        (Cond::True, Cond::False)
    } else {
        (Cond::False, Cond::True)
    };
    let mut flat: Vec<Cond> = Vec::new();
    for a in args {
        match step(a) {
            x if x == unit => {}
            x if x == zero => return zero,
            Cond::And(inner) if is_and => flat.extend(inner),
            Cond::Or(inner) if !is_and => flat.extend(inner),
            x => flat.push(x),
        }
    }
    // Merge tests of one attribute, relation sets on one case, and kind sets.
    let mut merged: Vec<Cond> = Vec::new();
    for x in flat {
        let mut absorbed = false;
        for m in merged.iter_mut() {
            match (m, &x) {
                (
                    Cond::Attr {
                        up,
                        attr,
                        values: vs,
                    },
                    Cond::Attr {
                        up: u2,
                        attr: a2,
                        values: v2,
                    },
                ) if up == u2 && attr == a2 => {
                    if is_and {
                        vs.retain(|v| v2.contains(v));
                    } else {
                        for v in v2 {
                            if !vs.contains(v) {
                                vs.push(v.clone());
                            }
                        }
                    }
                    absorbed = true;
                }
                (
                    Cond::Holds { up, relations },
                    Cond::Holds {
                        up: u2,
                        relations: r2,
                    },
                ) if !is_and && up == u2 => {
                    relations.extend(r2.iter().copied());
                    absorbed = true;
                }
                // Holding one of a few relations implies holding one of more of them: in an
                // `and`, the smaller set is the whole condition.
                (
                    Cond::Holds { up, relations },
                    Cond::Holds {
                        up: u2,
                        relations: r2,
                    },
                ) if is_and
                    && up == u2
                    && (relations.iter().all(|r| r2.contains(r))
                        || r2.iter().all(|r| relations.contains(r))) =>
                {
                    if r2.len() < relations.len() {
                        *relations = r2.clone();
                    }
                    absorbed = true;
                }
                (Cond::Kind(ks), Cond::Kind(k2)) => {
                    if is_and {
                        ks.retain(|k| k2.contains(k));
                    } else {
                        ks.extend(k2.iter().copied());
                    }
                    absorbed = true;
                }
                _ => {}
            }
            if absorbed {
                break;
            }
        }
        if !absorbed {
            merged.push(x);
        }
    }
    let mut items: Vec<Cond> = Vec::new();
    for x in merged {
        match step(x) {
            x if x == unit => {}
            x if x == zero => return zero,
            x => items.push(x),
        }
    }
    items.sort();
    items.dedup();
    // x and not x: the and is false, the or is true.
    if items
        .iter()
        .any(|x| matches!(x, Cond::Not(y) if items.contains(y)))
    {
        return zero;
    }
    // Absorption: in an and, drop an `or` that contains another item; in an or, drop an `and`
    // that contains another item.
    let snapshot = items.clone();
    items.retain(|x| {
        let inner = match (x, is_and) {
            (Cond::Or(v), true) | (Cond::And(v), false) => v,
            _ => return true,
        };
        !snapshot.iter().any(|y| y != x && inner.contains(y))
    });
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
        policy: &CompiledPolicy,
        entities: &Entities,
        resource: u32,
    ) -> Result<bool, QueryError> {
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
    pub fn json<'a>(&'a self, policy: &'a CompiledPolicy) -> Result<ResidualJson<'a>, QueryError> {
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
            Cond::Contains { up, attr, value } => self.case(*up).is_some_and(|a| {
                matches!(a.attrs.get(*attr as usize), Some(AttrValue::Set(s)) if s.iter().any(|x| ent.symbol(*x) == value))
            }),
            Cond::Holds { up, relations } => match (self.case(*up), self.principal) {
                (Some(a), Some(u)) => relations.iter().any(|r| {
                    a.relations
                        .get(*r as usize)
                        .is_some_and(|users| users.contains(&u))
                }),
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
        Lit::Str(s) | Lit::User(s) => s.clone(),
        Lit::Int(i) => i.to_string(),
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
                        Lit::Str(s) | Lit::User(s) => json!(s),
                        Lit::Int(i) => json!(i),
                        Lit::Bool(b) => json!(b),
                        Lit::Variant(v) => json!(variant_name(policy, *attr, *v)),
                    })
                    .collect();
                m.serialize_entry("in", &vs)?;
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

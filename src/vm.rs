//! The fast evaluator: decides a resolved request from the compiled tables.
//!
//! Each layer of docs/semantics.md is one function, named after it (`permission`, `scope`,
//! `requirement`, `access_mode`, `module`, `transition`, `data`, `codes`), and they follow in that order
//! below; `query::actions` runs the same functions for every action at once. The reference
//! evaluator has a function of the same name for each (docs/ARCHITECTURE.md).
//!
//! INVARIANT: nothing on this path allocates, hashes or compares strings. Sets are fixed-width
//! bitsets; entity data was interned and closed over when it was loaded.

use crate::bits::Bits;
use crate::compile::{CGroup, CRule, CScope, CTerm, CompiledPolicy, Insn, Src, Test};
use crate::decision::{Decision, Determining, Layer, Reason};
use crate::entities::{held_by, AttrValue, CodeClass, Entities, Resource, User};
use crate::ir::{CaseTypeId, Effect, RuleId};
use crate::request::{Resolved, ResolvedContext};

/// A place where compiled code met entity data of a type it does not handle. The checker and
/// the entity loader together rule these out: a checked policy with entities that loaded never
/// meets one (tests/differential.rs asserts it). Should one happen anyway, the VM fails closed:
/// the filter condition is false, the access mode denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFault {
    /// Scope-filter instruction `insn` read an attribute the anchor case does not have.
    MissingAttribute { insn: u32 },
    /// Scope-filter instruction `insn` found a value of another type than the one it tests.
    FilterOperand { insn: u32 },
    /// The access-mode attribute of the anchor case is missing, is not an enum variant, or is a
    /// variant the mode has no line for.
    ModeValue,
    /// The condition of rule `rule` (an index into the IR's rules) read a value that is not
    /// there (an attribute, a context field, an anchor case) or that has another type than its
    /// test takes. The condition then fails closed: an allow does not apply, a deny does.
    Condition { rule: u32 },
}

/// Where the decision path reports a [`TypeFault`]. Deciding is generic over it so that
/// [`decide`] compiles the reports away and [`decide_reporting_faults`] runs the same code.
pub(crate) trait Faults {
    fn fault(&mut self, fault: TypeFault);
}

/// Drops every report: the production path, and the queries'.
pub(crate) struct Ignore;

impl Faults for Ignore {
    #[inline(always)]
    fn fault(&mut self, _: TypeFault) {}
}

/// Keeps the first report.
struct First(Option<TypeFault>);

impl Faults for First {
    #[cold]
    fn fault(&mut self, fault: TypeFault) {
        self.0.get_or_insert(fault);
    }
}

impl Insn {
    #[inline]
    fn attr(&self) -> u32 {
        match *self {
            Insn::EqSym { attr, .. }
            | Insn::EqInt { attr, .. }
            | Insn::EqBool { attr, .. }
            | Insn::EqVariant { attr, .. }
            | Insn::Contains { attr, .. }
            | Insn::IsPrincipal { attr, .. } => attr,
        }
    }
}

/// Does instruction `insn` (at `insn_at` in the policy's code) hold on the case's attributes?
#[inline(always)]
fn test<F: Faults>(
    insn: Insn,
    insn_at: u32,
    attrs: &[AttrValue],
    principal: u32,
    faults: &mut F,
) -> bool {
    let Some(v) = attrs.get(insn.attr() as usize) else {
        faults.fault(TypeFault::MissingAttribute { insn: insn_at });
        return false;
    };
    match (insn, v) {
        (Insn::EqSym { sym, negate, .. }, AttrValue::Sym(s)) => (*s == sym) != negate,
        (Insn::EqInt { value, negate, .. }, AttrValue::Int(i)) => (*i == value) != negate,
        (Insn::EqBool { value, negate, .. }, AttrValue::Bool(b)) => (*b == value) != negate,
        (
            Insn::EqVariant {
                variant, negate, ..
            },
            AttrValue::Variant(v),
        ) => (*v == variant) != negate,
        (Insn::Contains { sym, .. }, AttrValue::Set(s)) => s.binary_search(&sym).is_ok(),
        (Insn::IsPrincipal { negate, .. }, AttrValue::User(u)) => (*u == principal) != negate,
        _ => {
            faults.fault(TypeFault::FilterOperand { insn: insn_at });
            false
        }
    }
}

/// A filter `any` (and a bare `filter`): some instruction holds. None holds in an empty filter.
#[inline(always)]
fn run_filter<F: Faults>(
    code: &[Insn],
    start: u32,
    attrs: &[AttrValue],
    principal: u32,
    faults: &mut F,
) -> bool {
    code.iter()
        .enumerate()
        .any(|(i, insn)| test(*insn, start + i as u32, attrs, principal, faults))
}

/// A filter `all`: every condition has an instruction that holds. An empty filter admits
/// nothing (docs/semantics.md), so it fails here too. Out of line: the path of `any`, which
/// every older policy takes, stays as it was.
#[inline(never)]
fn run_filter_all<F: Faults>(
    policy: &CompiledPolicy,
    start: u32,
    len: u32,
    attrs: &[AttrValue],
    principal: u32,
    faults: &mut F,
) -> bool {
    len > 0
        && policy.filter_conditions(start, len).all(|(at, alts)| {
            alts.iter()
                .enumerate()
                .any(|(i, insn)| test(*insn, at + i as u32, attrs, principal, faults))
        })
}

/// Relations the principal holds, as subject bits: those of the case on the anchor case, and
/// those of resource kinds on the resource or the resource above it of their kind
/// (docs/semantics.md, "Relations held"). Held when listed, or a member of a listed group.
/// Always inlined, as are [`effective_subjects`] and `decide_masks`: as calls they cost a
/// decision about 100 instructions of prologues and of masks passed through memory
/// (docs/performance.md §10, counted by `examples/decide_loop.rs` under callgrind).
#[inline(always)]
fn held_relations(policy: &CompiledPolicy, on: &On<'_>) -> Bits {
    let mut bits = Bits::EMPTY;
    if let Some(a) = on.anchor {
        if on.entities.relation_groups {
            for (r, list) in a.relations.iter().enumerate() {
                if held_by(list, on.principal, &on.user.groups).is_some() {
                    bits.set(policy.relation_bit(r));
                }
            }
        } else {
            // No relation lists a group: every list holds users alone, sorted.
            for (r, list) in a.relations.iter().enumerate() {
                if list.binary_search(&on.principal).is_ok() {
                    bits.set(policy.relation_bit(r));
                }
            }
        }
    }
    if policy.resource_relations() {
        held_on_resources(policy, on, &mut bits);
    }
    bits
}

/// The relations of resource kinds the principal holds, walking up from the resource while a
/// kind above declares some: at most one resource per kind, since kinds do not nest in a cycle.
/// Out of line: a policy whose relations are all the case's never comes here.
#[inline(never)]
fn held_on_resources(policy: &CompiledPolicy, on: &On<'_>, bits: &mut Bits) {
    let mut x = on.resource;
    while let Some(base) = policy.relations_above(x.kind) {
        for (i, list) in x.relations.iter().enumerate() {
            if held_by(list, on.principal, &on.user.groups).is_some() {
                bits.set(base as usize + i);
            }
        }
        match x.parent {
            Some(p) => x = &on.entities.resources[p as usize],
            None => break,
        }
    }
}

/// Where and how the principal holds the relation whose subject bit is `bit`, on the resource
/// at position `resource`: the position of the resource that lists it (the anchor case, or the
/// resource of the relation's kind at or above), and the listed group through which they hold
/// it (`None`: listed themselves). `None` when they do not hold it. For the queries that report
/// relations.
pub(crate) fn relation_holder(
    policy: &CompiledPolicy,
    on: &On<'_>,
    resource: u32,
    bit: usize,
) -> Option<(u32, Option<u32>)> {
    let groups = &on.user.groups;
    let r = bit.checked_sub(policy.relation_bit(0))?;
    if let (Some(a), Some(at)) = (on.anchor, on.resource.anchor.or(Some(resource))) {
        if let Some(list) = a.relations.get(r) {
            return held_by(list, on.principal, groups).map(|g| (at, g));
        }
    }
    let (mut x, mut at) = (on.resource, resource);
    loop {
        let base = policy.relations_above(x.kind)? as usize;
        if let Some(list) = bit.checked_sub(base).and_then(|i| x.relations.get(i)) {
            if policy.ir().kinds[x.kind.idx()].relations.len() > bit - base {
                return held_by(list, on.principal, groups).map(|g| (at, g));
            }
        }
        at = x.parent?;
        x = &on.entities.resources[at as usize];
    }
}

/// Decides a resolved request. See docs/semantics.md for the algorithm.
pub fn decide(policy: &CompiledPolicy, entities: &Entities, req: &Resolved) -> Decision {
    decide_with(policy, entities, req, &mut Ignore)
}

/// Decides exactly as [`decide`] does, and also returns the first [`TypeFault`] met on the way,
/// if any. For tests and fuzzers: a checked policy with entities that loaded never meets one.
pub fn decide_reporting_faults(
    policy: &CompiledPolicy,
    entities: &Entities,
    req: &Resolved,
) -> (Decision, Option<TypeFault>) {
    let mut faults = First(None);
    let d = decide_with(policy, entities, req, &mut faults);
    (d, faults.0)
}

#[inline]
fn decide_with<F: Faults>(
    policy: &CompiledPolicy,
    entities: &Entities,
    req: &Resolved,
    faults: &mut F,
) -> Decision {
    if !req.belongs_to(policy, entities) {
        return Decision::ERROR;
    }
    match *req {
        Resolved::Permission {
            principal,
            permission,
            ..
        } => self::permission(policy, &entities.users[principal as usize], permission),
        Resolved::Action {
            principal,
            action,
            resource,
            module,
            target,
            ref context,
            ..
        } => {
            let on = On::new(entities, principal, resource, context);
            let layers = scope(policy, &on, faults).and_then(|subjects| {
                after_scope(
                    policy,
                    &on,
                    &subjects,
                    Ask {
                        action,
                        via: module,
                        target,
                    },
                    |faults| access_mode(policy, on.anchor, subjects.relations, faults),
                    |class| {
                        entities
                            .code_of(resource, on.resource, on.anchor, class)
                            .is_met_by(&on.user.codes)
                    },
                    faults,
                )
            });
            decision(layers)
        }
    }
}

/// The decision the layers of an action came to: an allow by the last layer that applied, or
/// the deny of the first that denied.
#[inline(always)]
pub(crate) fn decision(layers: Result<Layer, Decision>) -> Decision {
    match layers {
        Ok(last) => Decision::allow(last),
        Err(deny) => deny,
    }
}

/// What the layers of an action read of a request, whatever the action: the principal, the
/// resource and its anchor case.
#[derive(Clone, Copy)]
pub(crate) struct On<'e> {
    pub(crate) principal: u32,
    pub(crate) user: &'e User,
    pub(crate) resource: &'e Resource,
    pub(crate) anchor: Option<&'e Resource>,
    /// What a rule condition reads besides those: the entities (for the principal's
    /// attributes) and the request's context.
    pub(crate) entities: &'e Entities,
    pub(crate) context: &'e ResolvedContext,
}

impl<'e> On<'e> {
    // INVARIANT: the ids were resolved against `entities` (`Resolved::belongs_to`).
    #[inline(always)]
    pub(crate) fn new(
        entities: &'e Entities,
        principal: u32,
        resource: u32,
        context: &'e ResolvedContext,
    ) -> On<'e> {
        let res = &entities.resources[resource as usize];
        On {
            principal,
            user: &entities.users[principal as usize],
            resource: res,
            // A case is its own anchor: not looked up again.
            anchor: res.anchor.map(|a| match a == resource {
                true => res,
                false => &entities.resources[a as usize],
            }),
            entities,
            context,
        }
    }

    /// The anchor's case type and state, by which the data rules are indexed.
    #[inline(always)]
    fn case_state(&self) -> Option<(u32, u32)> {
        self.anchor.map(|a| (a.casetype, a.state))
    }
}

/// What a request asks of the layers after scope: the action, the module it comes through,
/// and the state it asks to move the case to.
#[derive(Clone, Copy)]
pub(crate) struct Ask {
    pub(crate) action: u32,
    pub(crate) via: Option<u32>,
    pub(crate) target: Option<u32>,
}

/// The effective subjects of the principal on a resource (docs/semantics.md), as subject bits.
#[derive(Clone, Copy)]
pub(crate) struct Subjects {
    /// The relations the principal holds on the anchor case.
    pub(crate) relations: Bits,
    /// Those relations and the roles of every group of the principal that is in scope.
    pub(crate) all: Bits,
}

// ---- the layers, in the order of docs/semantics.md ------------------------------------------

/// Step 1, account permissions: allowed when a group of the principal permits it.
#[inline]
fn permission(policy: &CompiledPolicy, user: &User, permission: u32) -> Decision {
    if holds_permission(policy, user, permission) {
        Decision::allow(Layer::Permission)
    } else {
        Decision::deny(Layer::Permission, Reason::PermissionNotHeld)
    }
}

/// Scope: the effective subjects, which must not be empty.
#[inline(always)]
pub(crate) fn scope<F: Faults>(
    policy: &CompiledPolicy,
    on: &On<'_>,
    faults: &mut F,
) -> Result<Subjects, Decision> {
    let subjects = effective_subjects(policy, on, faults);
    if subjects.all.is_empty() {
        return Err(Decision::deny(Layer::Scope, Reason::NotInScope));
    }
    Ok(subjects)
}

/// The layers that follow scope, in order, for one action: the last layer that applied, or the
/// deny of the first that denied. Two of them do not depend on the action, and the caller gives
/// them: `access_mode` runs that layer, and `meets` says whether the principal meets the
/// resource's effective code of a class. [`decide`] passes the layer functions themselves;
/// `query::actions` evaluates them once and passes the results to every action.
#[inline(always)]
pub(crate) fn after_scope<F: Faults>(
    policy: &CompiledPolicy,
    on: &On<'_>,
    subjects: &Subjects,
    ask: Ask,
    access_mode: impl FnOnce(&mut F) -> Result<(), Decision>,
    meets: impl FnMut(CodeClass) -> bool,
    faults: &mut F,
) -> Result<Layer, Decision> {
    let Ask {
        action,
        via,
        target,
    } = ask;
    requirement(policy, on.user, action)?;
    access_mode(faults)?;
    module(policy, on.anchor, via, action, subjects)?;
    let read = policy.data_subjects(via, subjects.all);
    if let Some(target) = target {
        transition(policy, on.anchor, action, target, read)?;
    }
    data(policy, on, action, read, subjects, faults)?;
    codes(policy, action, meets)
}

/// Account requirement: applies when the action requires an account permission, which a group
/// of the principal must permit.
#[inline(always)]
fn requirement(policy: &CompiledPolicy, user: &User, action: u32) -> Result<(), Decision> {
    match policy.requires(action) {
        Some(permission) if !holds_permission(policy, user, permission) => Err(Decision::deny(
            Layer::Requirement,
            Reason::RequirementNotHeld,
        )),
        _ => Ok(()),
    }
}

/// Access mode: applies when the case kind declares one and the resource has an anchor. The
/// line of the anchor's value must admit everyone, or name a relation the principal holds; a
/// value the mode has no line for denies.
#[inline(always)]
pub(crate) fn access_mode<F: Faults>(
    policy: &CompiledPolicy,
    anchor: Option<&Resource>,
    relations: Bits,
    faults: &mut F,
) -> Result<(), Decision> {
    let (Some((attr, arms)), Some(a)) = (policy.mode(), anchor) else {
        return Ok(());
    };
    let restricted = Decision::deny(Layer::AccessMode, Reason::Restricted);
    match mode_line(attr, arms, a) {
        Ok(v) => match &arms[v as usize] {
            Some(needed) if !relations.intersects(needed) => Err(restricted),
            _ => Ok(()),
        },
        Err(fault) => {
            faults.fault(fault);
            Err(restricted)
        }
    }
}

/// Module: applies when the anchor's case type has module grants. The request must name a
/// module that offers the action, whose records (if it declares them) the principal is one of,
/// and one of its grant lines for the case type must give the action to an effective subject.
#[inline(always)]
fn module(
    policy: &CompiledPolicy,
    anchor: Option<&Resource>,
    via: Option<u32>,
    action: u32,
    subjects: &Subjects,
) -> Result<(), Decision> {
    let Some(a) = anchor.filter(|a| policy.uses_modules(a.casetype)) else {
        return Ok(());
    };
    let deny = |reason| Err(Decision::deny(Layer::Module, reason));
    let Some(m) = via else {
        return deny(Reason::NoModule);
    };
    if !policy.module_offers(m, action) {
        return deny(Reason::NotInModule);
    }
    if let Some(records) = policy.module_records(m) {
        if !subjects.relations.intersects(records) {
            return deny(Reason::NotARecord);
        }
    }
    if !policy
        .module_grant(a.casetype, m, action)
        .intersects(&subjects.all)
    {
        return deny(Reason::ModuleNotGranted);
    }
    Ok(())
}

/// Transition: applies when the request names a target state. A transition of the anchor's
/// case type must lead from its current state to the target by the action, and be given to a
/// subject the data layer reads. No other rule counts: an edge that is not declared is denied.
#[inline(always)]
fn transition(
    policy: &CompiledPolicy,
    anchor: Option<&Resource>,
    action: u32,
    target: u32,
    subjects: Bits,
) -> Result<(), Decision> {
    let deny = |reason| Err(Decision::deny(Layer::Transition, reason));
    // A target resolves only on a resource with an anchor; without one, nothing moves.
    let Some(a) = anchor else {
        return deny(Reason::NoTransition);
    };
    match policy.edge(a.casetype, a.state, action, target) {
        None => deny(Reason::NoTransition),
        Some(by) if !by.intersects(&subjects) => deny(Reason::TransitionNotGranted),
        Some(_) => Ok(()),
    }
}

/// Data rules: the rules that apply to the resource and list the action, for an effective
/// subject. A deny overrides every allow; with no allow, nothing is permitted. The masks decide
/// unless a rule with a condition names one of the subjects (its subjects are in the deny mask
/// the VM reads, `CompiledPolicy::decide_masks`); then [`data_with_conditions`] decides, out
/// of line, so that the path without conditions stays as short as it was.
#[inline(always)]
fn data<F: Faults>(
    policy: &CompiledPolicy,
    on: &On<'_>,
    action: u32,
    read: Bits,
    subjects: &Subjects,
    faults: &mut F,
) -> Result<(), Decision> {
    let masks = policy.decide_masks(on.resource.kind.0, on.case_state(), action);
    if masks.deny.intersects(&read) {
        // A deny, or, in a policy with conditions, a rule with a condition, names a subject.
        if policy.has_conditions() {
            return data_with_conditions(policy, on, action, read, subjects, faults);
        }
        return Err(Decision::deny(Layer::Data, Reason::ExplicitlyDenied));
    }
    if !masks.allow.intersects(&read) {
        return Err(Decision::deny(Layer::Data, Reason::NotPermitted));
    }
    Ok(())
}

/// [`data`] in a policy with rule conditions, for the data subjects `read` of the effective
/// `subjects`: the masks, then the rules with a condition that apply, each matching only where
/// its condition holds.
#[inline(never)]
fn data_with_conditions<F: Faults>(
    policy: &CompiledPolicy,
    on: &On<'_>,
    action: u32,
    read: Bits,
    subjects: &Subjects,
    faults: &mut F,
) -> Result<(), Decision> {
    let masks = policy.data_masks(on.resource.kind.0, on.case_state(), action);
    if masks.deny.intersects(&read) {
        return Err(Decision::deny(Layer::Data, Reason::ExplicitlyDenied));
    }
    let allowed = masks.allow.intersects(&read);
    match conditional(
        policy,
        on,
        action,
        read,
        subjects.relations,
        allowed,
        faults,
    ) {
        Conditional::Deny => Err(Decision::deny(Layer::Data, Reason::ExplicitlyDenied)),
        Conditional::Allow => Ok(()),
        Conditional::Neither if allowed => Ok(()),
        Conditional::Neither => Err(Decision::deny(Layer::Data, Reason::NotPermitted)),
    }
}

/// What the rules with a condition of a data-layer slot came to.
enum Conditional {
    /// A deny matched: it overrides everything.
    Deny,
    /// No deny matched, an allow did.
    Allow,
    Neither,
}

/// The rules with a condition that apply to the resource and list the action, for a subject of
/// `subjects`: a deny whose condition holds, or else an allow whose condition holds. The
/// conditions of allows are not tested once `allowed` (an allow of the masks) or an earlier
/// allow matched.
#[inline]
fn conditional<F: Faults>(
    policy: &CompiledPolicy,
    on: &On<'_>,
    action: u32,
    subjects: Bits,
    relations: Bits,
    mut allowed: bool,
    faults: &mut F,
) -> Conditional {
    let mut allow = false;
    for list in policy.conditional(on.resource.kind.0, on.case_state(), action) {
        for &c in list {
            let r = policy.crule(c);
            if !r.subjects.intersects(&subjects) {
                continue;
            }
            match r.effect {
                Effect::Deny => {
                    if holds(policy, r, on, relations, faults) {
                        return Conditional::Deny;
                    }
                }
                Effect::Allow if !allowed => {
                    if holds(policy, r, on, relations, faults) {
                        allowed = true;
                        allow = true;
                    }
                }
                Effect::Allow => {}
            }
        }
    }
    match allow {
        true => Conditional::Allow,
        false => Conditional::Neither,
    }
}

/// Whether the condition of a conditional rule holds: every term. A term that meets a fault
/// fails closed: it fails in the condition of an allow, and holds in that of a deny.
#[inline]
fn holds<F: Faults>(
    policy: &CompiledPolicy,
    r: &CRule,
    on: &On<'_>,
    relations: Bits,
    faults: &mut F,
) -> bool {
    for t in policy.terms(r) {
        match term(policy.one_of_all(), t, on, relations) {
            Some(true) => {}
            Some(false) => return false,
            None => {
                faults.fault(TypeFault::Condition { rule: r.rule });
                if r.effect == Effect::Allow {
                    return false;
                }
            }
        }
    }
    true
}

/// Whether the condition of conditional rule `r` holds for the request `on`, whose principal
/// holds `relations` on the anchor: the VM's own test, for the queries that report which rules
/// allowed.
pub(crate) fn condition_holds(
    policy: &CompiledPolicy,
    r: &CRule,
    on: &On<'_>,
    relations: Bits,
) -> bool {
    holds(policy, r, on, relations, &mut Ignore)
}

/// Whether the condition a query was asked with (`query::Condition`, compiled to `terms` with
/// the values of its `in`s in `one_of`) holds on the resource of `on`: every term, and a term
/// that reads a value that is not there (an attribute of the case of a resource in no case)
/// fails, under `not` too, as in the condition of an allow.
pub(crate) fn query_condition_holds(
    policy: &CompiledPolicy,
    terms: &[CTerm],
    one_of: &[Src],
    on: &On<'_>,
) -> bool {
    let relations = held_relations(policy, on);
    terms
        .iter()
        .all(|t| term(one_of, t, on, relations) == Some(true))
}

/// A term of a condition, after its `not`; `None` when it read a value that is not there or
/// is of another type than the test takes. `one_of` holds the values of every `in` of the
/// condition's terms.
#[inline]
fn term(one_of: &[Src], t: &CTerm, on: &On<'_>, relations: Bits) -> Option<bool> {
    let me = AttrValue::User(on.principal);
    let v = |src: Src| -> Option<Val<'_>> { value(src, on, &me) };
    let r = match t.test {
        Test::Holds(bit) => relations.get(bit as usize),
        Test::Compare(op, a, b) => match (v(a)?, v(b)?) {
            (Val::Int(x), Val::Int(y)) => op.holds(x, y),
            (x, y) => match op {
                crate::ir::CmpOp::Eq => x.same(&y)?,
                crate::ir::CmpOp::Ne => !x.same(&y)?,
                _ => return None,
            },
        },
        Test::OneOf(a, start, len) => {
            let x = v(a)?;
            let mut found = false;
            let values = one_of.get(start as usize..(start as usize).checked_add(len as usize)?)?;
            for &o in values {
                if x.same(&v(o)?)? {
                    found = true;
                    break;
                }
            }
            found
        }
        Test::Contains(set, item) => match (v(set)?, v(item)?) {
            (Val::Ref(AttrValue::Set(s)), Val::Sym(x)) => s.binary_search(&x).is_ok(),
            _ => return None,
        },
        Test::True(a) => match v(a)? {
            Val::Bool(b) => b,
            _ => return None,
        },
    };
    Some(r != t.negate)
}

/// A value a term reads: a stored one, by reference, or a literal's.
enum Val<'a> {
    Ref(&'a AttrValue),
    Sym(u32),
    Int(i64),
    Bool(bool),
    Variant(u32),
}

impl Val<'_> {
    /// The scalar inside a stored value, so that a literal compares with it.
    #[inline]
    fn scalar(self) -> Self {
        match self {
            Val::Ref(AttrValue::Sym(s)) => Val::Sym(*s),
            // A `datetime` compares as its number, as its literals are compiled.
            Val::Ref(AttrValue::Int(i) | AttrValue::DateTime(i)) => Val::Int(*i),
            Val::Ref(AttrValue::Bool(b)) => Val::Bool(*b),
            Val::Ref(AttrValue::Variant(v)) => Val::Variant(*v),
            other => other,
        }
    }

    /// Whether two values of one type are equal; `None` for values of two types.
    #[inline]
    fn same(&self, other: &Val<'_>) -> Option<bool> {
        Some(match (self, other) {
            (Val::Sym(a), Val::Sym(b)) | (Val::Variant(a), Val::Variant(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Ref(AttrValue::User(a)), Val::Ref(AttrValue::User(b))) => a == b,
            (Val::Ref(AttrValue::Resource(a)), Val::Ref(AttrValue::Resource(b))) => a == b,
            _ => return None,
        })
    }
}

/// The value `src` reads for the request `on` (`me` is the principal as a value).
#[inline]
fn value<'a>(src: Src, on: &On<'a>, me: &'a AttrValue) -> Option<Val<'a>> {
    let stored = match src {
        Src::Principal => me,
        Src::User(a) => on
            .entities
            .user_attrs
            .get(on.principal as usize)?
            .get(a as usize)?,
        Src::Resource(a) => on.resource.attrs.get(a as usize)?,
        Src::Case(a) => on.anchor?.attrs.get(a as usize)?,
        Src::Context(a) => on.context.values().get(a as usize)?,
        Src::Sym(s) => return Some(Val::Sym(s)),
        Src::Int(i) => return Some(Val::Int(i)),
        Src::Bool(b) => return Some(Val::Bool(b)),
        Src::Variant(v) => return Some(Val::Variant(v)),
    };
    Some(Val::Ref(stored).scalar())
}

/// Access codes: the read code, then the write code, each when the action is checked against
/// it; `meets` says whether the principal meets the resource's effective code of a class. The
/// last layer that applied: a code layer, or the data layer when neither applies.
#[inline(always)]
fn codes(
    policy: &CompiledPolicy,
    action: u32,
    mut meets: impl FnMut(CodeClass) -> bool,
) -> Result<Layer, Decision> {
    let mut last = Layer::Data;
    // One call of `meets`, in a loop, so that it is inlined once: with a call per class it was
    // not, at a cost of 2 ns a decision (benches/decide.rs).
    for (applies, class, layer) in [
        (policy.reads_code(action), CodeClass::Read, Layer::ReadCode),
        (
            policy.writes_code(action),
            CodeClass::Write,
            Layer::WriteCode,
        ),
    ] {
        if applies {
            if !meets(class) {
                return Err(Decision::deny(layer, Reason::CodeNotHeld));
            }
            last = layer;
        }
    }
    Ok(last)
}

// ---- what the layers share ------------------------------------------------------------------

/// Does a group of the principal permit the account permission?
#[inline(always)]
fn holds_permission(policy: &CompiledPolicy, user: &User, permission: u32) -> bool {
    user.groups
        .iter()
        .any(|&g| policy.group(g).permits.get(permission as usize))
}

/// The relations the principal holds on the anchor, and the effective subjects: those relations,
/// `everyone` when the policy names it, and the roles of every group of the principal that is
/// in scope (docs/semantics.md).
#[inline(always)]
fn effective_subjects<F: Faults>(policy: &CompiledPolicy, on: &On<'_>, faults: &mut F) -> Subjects {
    let relations = held_relations(policy, on);
    let mut all = relations.union(policy.everyone);
    for &g in on.user.groups.iter() {
        let group = policy.group(g);
        if in_scope(policy, group, on.anchor, relations, on.principal, faults) {
            all = all.union(group.roles);
        }
    }
    Subjects { relations, all }
}

/// Is the group in scope on a resource with this anchor case, for a principal holding these
/// relations on it (docs/semantics.md, "Groups in scope")?
#[inline(always)]
fn in_scope<F: Faults>(
    policy: &CompiledPolicy,
    group: &CGroup,
    anchor: Option<&Resource>,
    relations: Bits,
    principal: u32,
    faults: &mut F,
) -> bool {
    match group.scope {
        CScope::All => true,
        CScope::Assigned(needed) => relations.intersects(&needed),
        CScope::Filter { start, len, all } => match anchor {
            Some(a) if all => run_filter_all(policy, start, len, &a.attrs, principal, faults),
            Some(a) => run_filter(
                policy.filter(start, len),
                start,
                &a.attrs,
                principal,
                faults,
            ),
            None => false,
        },
    }
}

/// [`effective_subjects`] for the queries, which report them even when they are empty.
pub(crate) fn subjects(policy: &CompiledPolicy, on: &On<'_>) -> Subjects {
    effective_subjects(policy, on, &mut Ignore)
}

/// Is group `g` in scope? The VM's own test, for the queries that report which groups grant.
pub(crate) fn group_in_scope(
    policy: &CompiledPolicy,
    g: u32,
    anchor: Option<&Resource>,
    relations: Bits,
    principal: u32,
) -> bool {
    in_scope(
        policy,
        policy.group(g),
        anchor,
        relations,
        principal,
        &mut Ignore,
    )
}

/// The access-mode line that applies to the anchor: `Ok(variant)`, or the fault met reading it.
#[inline]
fn mode_line(attr: u32, arms: &[Option<Bits>], anchor: &Resource) -> Result<u32, TypeFault> {
    match anchor.attrs.get(attr as usize) {
        Some(&AttrValue::Variant(v)) if (v as usize) < arms.len() => Ok(v),
        _ => Err(TypeFault::ModeValue),
    }
}

/// Decides `req` as if its principal were `user` and the anchor case of its resource were
/// `anchor` (`Some` exactly when the resource has an anchor): the counterfactual of a hint
/// (`hints.rs`), which changes a copy of the principal's lists or of the anchor case and asks
/// again, without building the entities anew. Returns the decision and its determining rules
/// ([`determining_rules`]). It costs what one decision and its determining rules cost.
pub(crate) fn decide_changed(
    policy: &CompiledPolicy,
    entities: &Entities,
    req: &Resolved,
    user: &User,
    anchor: Option<&Resource>,
    changed: Option<&Resource>,
) -> (Decision, Vec<Determining>) {
    if !req.belongs_to(policy, entities) {
        return (Decision::ERROR, Vec::new());
    }
    match *req {
        Resolved::Permission { permission, .. } => {
            (self::permission(policy, user, permission), Vec::new())
        }
        Resolved::Action {
            principal,
            action,
            resource,
            module,
            target,
            ref context,
            ..
        } => {
            let res = &entities.resources[resource as usize];
            let anchor = anchor.filter(|_| res.anchor.is_some());
            let on = On {
                principal,
                user,
                resource: match (anchor, changed) {
                    (Some(a), _) if res.anchor == Some(resource) => a,
                    (_, Some(r)) => r,
                    _ => res,
                },
                anchor,
                entities,
                context,
            };
            let faults = &mut Ignore;
            let layers = scope(policy, &on, faults).and_then(|subjects| {
                after_scope(
                    policy,
                    &on,
                    &subjects,
                    Ask {
                        action,
                        via: module,
                        target,
                    },
                    |faults| access_mode(policy, on.anchor, subjects.relations, faults),
                    |class| entities.code(resource, class).is_met_by(&user.codes),
                    faults,
                )
            });
            let d = decision(layers);
            (d, determining_on(policy, &on, action, module, &d))
        }
    }
}

/// The rules that determined `decision`, which [`decide`] returned for `req`, as defined under
/// "Determining rules" in docs/semantics.md: for an allowed action, the matching allow rules of
/// the data layer and, when the module layer applied, the matching module-grant lines; for an
/// explicit deny, the matching deny rules; for an access-mode deny, the mode line of the case's
/// value; for every other decision, none. Sorted, without repeats.
///
/// This is the cold path: it allocates, and reads tables that `decide` does not. It recomputes
/// the effective subjects with the same code as `decide`, then reads the rule indices compiled
/// alongside the masks.
pub fn determining_rules(
    policy: &CompiledPolicy,
    entities: &Entities,
    req: &Resolved,
    decision: &Decision,
) -> Vec<Determining> {
    let Resolved::Action {
        principal,
        action,
        resource,
        module,
        ref context,
        ..
    } = *req
    else {
        return Vec::new();
    };
    if !req.belongs_to(policy, entities) {
        return Vec::new();
    }
    let on = On::new(entities, principal, resource, context);
    determining_on(policy, &on, action, module, decision)
}

/// [`determining_rules`] for the principal, resource and anchor of `on`.
fn determining_on(
    policy: &CompiledPolicy,
    on: &On<'_>,
    action: u32,
    module: Option<u32>,
    decision: &Decision,
) -> Vec<Determining> {
    let found = effective_subjects(policy, on, &mut Ignore);
    let all = found.all;
    let subjects = policy.data_subjects(module, all);
    let mut out = Vec::new();
    // The data rules of this action on this resource that match a subject, with this effect,
    // and whose condition, if they have one, holds.
    let data = |effect: Effect, out: &mut Vec<Determining>| {
        let lists = policy.why_data(on.resource.kind.0, on.case_state(), action);
        for &r in lists.into_iter().flatten().flatten() {
            let (e, subj) = policy.why_rule(r);
            let applies = || match policy.condition_of(r) {
                Some(c) => holds(policy, c, on, found.relations, &mut Ignore),
                None => true,
            };
            if e == effect && subj.intersects(&subjects) && applies() {
                out.push(Determining::Rule(RuleId(r)));
            }
        }
    };
    match (decision.allowed, decision.layer, decision.reason) {
        (true, _, _) => {
            data(Effect::Allow, &mut out);
            if let (Some(c), Some(m)) = (on.anchor, module) {
                if policy.uses_modules(c.casetype) {
                    for (t, line, subj) in policy.why_grants(c.casetype, m, action) {
                        if subj.intersects(&all) {
                            out.push(Determining::ModuleGrant {
                                casetype: CaseTypeId(t),
                                line,
                            });
                        }
                    }
                }
            }
        }
        (false, Layer::Data, Reason::ExplicitlyDenied) => data(Effect::Deny, &mut out),
        (false, Layer::AccessMode, Reason::Restricted) => {
            if let (Some((attr, arms)), Some(c)) = (policy.mode(), on.anchor) {
                if let Ok(v) = mode_line(attr, arms, c) {
                    out.push(Determining::ModeLine { variant: v });
                }
            }
        }
        _ => {}
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Policy, Request};

    /// The fault probe works: entities loaded against one policy and decided with another whose
    /// attribute has another type make the VM meet a fault, and it fails closed. The API refuses
    /// such a mix (see `Resolved::belongs_to`), so the test forges the stamp that ties them.
    #[test]
    fn type_faults_are_reported_and_fail_closed() {
        let loaded = Policy::from_source(
            "loaded.casepol",
            "role R; action view; group G { grants R; } case C { attr level: int; } \
             casetype T { states S; initial S; } allow R: view;",
        )
        .expect("checks");
        let deciding = Policy::from_source(
            "deciding.casepol",
            r#"role R; action view; group G { grants R; scope filter { level != "high"; } }
               case C { attr level: string; } casetype T { states S; initial S; } allow R: view;"#,
        )
        .expect("checks");
        let moded = Policy::from_source(
            "moded.casepol",
            "role R; action view; group G { grants R; } enum L { open, shut } \
             case C { attr level: L; mode level { open: everyone; shut: everyone; } } \
             casetype T { states S; initial S; } allow R: view;",
        )
        .expect("checks");
        let mut entities = loaded
            .load_entities(
                r#"{"users": [{"id": "ann", "groups": ["G"]}],
                    "resources": [{"id": "c1", "kind": "C", "type": "T", "state": "S", "attrs": {"level": 3}}]}"#,
            )
            .expect("loads");
        let request = Request::new("ann", "view", Some("c1"));

        entities.policy_stamp = deciding.compiled().stamp();
        let req = deciding.resolve(&entities, &request).expect("resolves");
        let (d, fault) = decide_reporting_faults(deciding.compiled(), &entities, &req);
        assert_eq!(fault, Some(TypeFault::FilterOperand { insn: 0 }));
        // `level != "high"` would hold for any string; on an int it must not admit the group.
        assert!(!d.allowed);
        assert_eq!(d.reason, Reason::NotInScope);

        // An access mode on an attribute that holds an int: the mode denies.
        entities.policy_stamp = moded.compiled().stamp();
        let req = moded.resolve(&entities, &request).expect("resolves");
        let (d, fault) = decide_reporting_faults(moded.compiled(), &entities, &req);
        assert_eq!(fault, Some(TypeFault::ModeValue));
        assert_eq!((d.allowed, d.layer), (false, Layer::AccessMode));

        // A rule's condition that reads a value of another type fails closed: the allow does
        // not apply, and the deny does.
        let conditioned = Policy::from_source(
            "conditioned.casepol",
            r#"role R; action view, edit; group G { grants R; } case C { attr level: string; }
               casetype T { states S; initial S;
                 allow R: view, edit when case.level == "high";
                 deny R: edit when case.level != "high"; }"#,
        )
        .expect("checks");
        entities.policy_stamp = conditioned.compiled().stamp();
        let req = conditioned.resolve(&entities, &request).expect("resolves");
        let (d, fault) = decide_reporting_faults(conditioned.compiled(), &entities, &req);
        assert_eq!(fault, Some(TypeFault::Condition { rule: 0 }));
        assert_eq!((d.allowed, d.reason), (false, Reason::NotPermitted));
        let edit = Request::new("ann", "edit", Some("c1"));
        let req = conditioned.resolve(&entities, &edit).expect("resolves");
        let (d, fault) = decide_reporting_faults(conditioned.compiled(), &entities, &req);
        assert!(matches!(fault, Some(TypeFault::Condition { .. })));
        assert_eq!((d.allowed, d.reason), (false, Reason::ExplicitlyDenied));

        // With its own policy, the same request meets no fault and is allowed.
        entities.policy_stamp = loaded.compiled().stamp();
        let own = loaded.resolve(&entities, &request).expect("resolves");
        let (d, fault) = decide_reporting_faults(loaded.compiled(), &entities, &own);
        assert_eq!((d.allowed, fault), (true, None));
    }
}

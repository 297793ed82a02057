//! The fast evaluator: decides a resolved request from the compiled tables.
//!
//! INVARIANT: nothing on this path allocates, hashes or compares strings. Sets are fixed-width
//! bitsets; entity data was interned and closed over when it was loaded.

use crate::bits::Bits;
use crate::compile::{CGroup, CScope, CompiledPolicy, Insn};
use crate::diagnostic::Span;
use crate::entities::{AttrValue, EffectiveCode, Entities, Resource, User};
use crate::ir::{CaseTypeId, RuleId, RuleOrigin};
use crate::request::Resolved;
use serde::Serialize;

/// The layers of a decision, in the order they are evaluated (see docs/semantics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Request,
    Permission,
    Scope,
    Requirement,
    AccessMode,
    Module,
    Data,
    ReadCode,
    WriteCode,
}

impl Layer {
    pub fn title(self) -> &'static str {
        match self {
            Layer::Request => "request",
            Layer::Permission => "account permission",
            Layer::Scope => "scope",
            Layer::Requirement => "account requirement",
            Layer::AccessMode => "access mode",
            Layer::Module => "module",
            Layer::Data => "data rules",
            Layer::ReadCode => "read access code",
            Layer::WriteCode => "write access code",
        }
    }
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Allowed,
    /// The request could not be resolved.
    Error,
    PermissionNotHeld,
    NotInScope,
    RequirementNotHeld,
    Restricted,
    NoModule,
    NotInModule,
    NotARecord,
    ModuleNotGranted,
    ExplicitlyDenied,
    NotPermitted,
    CodeNotHeld,
}

/// A decision: small, `Copy`, and built without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// The layer that decided: the first that denied, or the last that applied for an allow.
    pub layer: Layer,
    pub reason: Reason,
}

impl Decision {
    #[inline]
    fn deny(layer: Layer, reason: Reason) -> Decision {
        Decision {
            allowed: false,
            layer,
            reason,
        }
    }

    pub const ERROR: Decision = Decision {
        allowed: false,
        layer: Layer::Request,
        reason: Reason::Error,
    };
}

/// Does a user with this code set (sorted) meet an effective access code: every level empty or
/// holding one of the codes? The code's levels are read where they are stored, in the resource
/// and the ancestors it inherits from; nothing is copied or allocated.
#[inline(always)]
pub(crate) fn meets(codes: &[u32], code: EffectiveCode<'_>) -> bool {
    code.is_met_by(codes)
}

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
}

/// Where the decision path reports a [`TypeFault`]. Deciding is generic over it so that
/// [`decide`] compiles the reports away and [`decide_reporting_faults`] runs the same code.
trait Faults {
    fn fault(&mut self, fault: TypeFault);
}

/// Drops every report: the production path.
struct Ignore;

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

#[inline]
fn run_filter<F: Faults>(
    code: &[Insn],
    start: u32,
    attrs: &[AttrValue],
    principal: u32,
    faults: &mut F,
) -> bool {
    code.iter().enumerate().any(|(i, insn)| {
        let insn_at = start + i as u32;
        let Some(v) = attrs.get(insn.attr() as usize) else {
            faults.fault(TypeFault::MissingAttribute { insn: insn_at });
            return false;
        };
        match (*insn, v) {
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
    })
}

/// Relations the principal holds on the anchor case, as subject bits.
#[inline]
fn held_relations(policy: &CompiledPolicy, anchor: Option<&Resource>, principal: u32) -> Bits {
    let mut bits = Bits::EMPTY;
    if let Some(a) = anchor {
        for (r, users) in a.relations.iter().enumerate() {
            if users.binary_search(&principal).is_ok() {
                bits.set(policy.n_roles + r);
            }
        }
    }
    bits
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
        } => {
            let user = &entities.users[principal as usize];
            if user
                .groups
                .iter()
                .any(|&g| policy.groups[g as usize].permits.get(permission as usize))
            {
                Decision {
                    allowed: true,
                    layer: Layer::Permission,
                    reason: Reason::Allowed,
                }
            } else {
                Decision::deny(Layer::Permission, Reason::PermissionNotHeld)
            }
        }
        Resolved::Action {
            principal,
            action,
            resource,
            module,
            ..
        } => decide_action(
            policy, entities, principal, action, resource, module, faults,
        ),
    }
}

/// The relations the principal holds on the anchor, and the effective subjects: those relations
/// plus the roles of every group of the principal that is in scope (docs/semantics.md).
#[inline]
fn effective_subjects<F: Faults>(
    policy: &CompiledPolicy,
    user: &User,
    anchor: Option<&Resource>,
    principal: u32,
    faults: &mut F,
) -> (Bits, Bits) {
    let relations = held_relations(policy, anchor, principal);
    let mut subjects = relations;
    for &g in user.groups.iter() {
        let group = &policy.groups[g as usize];
        if in_scope(policy, group, anchor, relations, principal, faults) {
            subjects = subjects.union(group.roles);
        }
    }
    (relations, subjects)
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
        CScope::Filter { start, len } => match anchor {
            Some(a) => run_filter(
                &policy.code[start as usize..(start + len) as usize],
                start,
                &a.attrs,
                principal,
                faults,
            ),
            None => false,
        },
    }
}

/// [`effective_subjects`] for the queries: the relations the principal holds on the anchor, and
/// the effective subjects.
pub(crate) fn subjects(
    policy: &CompiledPolicy,
    user: &User,
    anchor: Option<&Resource>,
    principal: u32,
) -> (Bits, Bits) {
    effective_subjects(policy, user, anchor, principal, &mut Ignore)
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
        &policy.groups[g as usize],
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

#[inline]
fn decide_action<F: Faults>(
    policy: &CompiledPolicy,
    entities: &Entities,
    principal: u32,
    action: u32,
    resource: u32,
    module: Option<u32>,
    faults: &mut F,
) -> Decision {
    let user = &entities.users[principal as usize];
    let res = &entities.resources[resource as usize];
    let anchor = res.anchor.map(|a| &entities.resources[a as usize]);

    // Scope: roles of groups in scope, plus relations held.
    let (relations, subjects) = effective_subjects(policy, user, anchor, principal, faults);
    if subjects.is_empty() {
        return Decision::deny(Layer::Scope, Reason::NotInScope);
    }

    if let Some(perm) = policy.action_requires[action as usize] {
        if !user
            .groups
            .iter()
            .any(|&g| policy.groups[g as usize].permits.get(perm as usize))
        {
            return Decision::deny(Layer::Requirement, Reason::RequirementNotHeld);
        }
    }

    if let (Some((attr, arms)), Some(a)) = (&policy.mode, anchor) {
        match mode_line(*attr, arms, a) {
            Ok(v) => {
                if let Some(needed) = &arms[v as usize] {
                    if !relations.intersects(needed) {
                        return Decision::deny(Layer::AccessMode, Reason::Restricted);
                    }
                }
            }
            Err(fault) => {
                faults.fault(fault);
                return Decision::deny(Layer::AccessMode, Reason::Restricted);
            }
        }
    }

    if let Some(a) = anchor {
        if policy.ct_has_modules[a.casetype as usize] {
            let Some(m) = module else {
                return Decision::deny(Layer::Module, Reason::NoModule);
            };
            if !policy.module_actions[m as usize].get(action as usize) {
                return Decision::deny(Layer::Module, Reason::NotInModule);
            }
            if let Some(records) = &policy.module_records[m as usize] {
                if !relations.intersects(records) {
                    return Decision::deny(Layer::Module, Reason::NotARecord);
                }
            }
            if !policy
                .module_grant(a.casetype, m, action)
                .intersects(&subjects)
            {
                return Decision::deny(Layer::Module, Reason::ModuleNotGranted);
            }
        }
    }

    let masks = policy.data_masks(res.kind.0, anchor.map(|a| (a.casetype, a.state)), action);
    if masks.deny.intersects(&subjects) {
        return Decision::deny(Layer::Data, Reason::ExplicitlyDenied);
    }
    if !masks.allow.intersects(&subjects) {
        return Decision::deny(Layer::Data, Reason::NotPermitted);
    }

    let mut last = Layer::Data;
    if policy.action_read.get(action as usize) {
        if !meets(&user.codes, entities.read_code(resource)) {
            return Decision::deny(Layer::ReadCode, Reason::CodeNotHeld);
        }
        last = Layer::ReadCode;
    }
    if policy.action_write.get(action as usize) {
        if !meets(&user.codes, entities.write_code(resource)) {
            return Decision::deny(Layer::WriteCode, Reason::CodeNotHeld);
        }
        last = Layer::WriteCode;
    }
    Decision {
        allowed: true,
        layer: last,
        reason: Reason::Allowed,
    }
}

/// A source rule that determined a decision: see "Determining rules" in docs/semantics.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Determining {
    /// A data rule: a rule statement, a table-cell entry or a transition.
    Rule(RuleId),
    /// Line `line` of the module-grant blocks of case type `casetype`, in source order.
    ModuleGrant { casetype: CaseTypeId, line: u32 },
    /// The access-mode line for enum variant `variant`.
    ModeLine { variant: u32 },
}

impl Determining {
    /// Where the rule is written; `None` when `self` did not come from [`determining_rules`] on
    /// this policy.
    pub fn span(self, policy: &CompiledPolicy) -> Option<Span> {
        let p = policy.ir();
        match self {
            Determining::Rule(r) => p.rules.get(r.idx()).map(|rule| rule.span),
            Determining::ModuleGrant { casetype, line } => p
                .casetypes
                .get(casetype.idx())?
                .module_grants
                .get(line as usize)
                .map(|g| g.span),
            Determining::ModeLine { variant } => {
                let mode = p
                    .case_kind
                    .and_then(|k| p.kinds.get(k.idx())?.mode.as_ref())?;
                mode.arm_spans.get(variant as usize).copied()
            }
        }
    }

    /// What it is, in the words `explain` uses: `rule`, `table cell`, `transition`,
    /// `module grant` or `access mode`; `None` when `self` did not come from
    /// [`determining_rules`] on this policy.
    pub fn kind(self, policy: &CompiledPolicy) -> Option<&'static str> {
        Some(match self {
            Determining::Rule(r) => match policy.ir().rules.get(r.idx())?.origin {
                RuleOrigin::Statement => "rule",
                RuleOrigin::TableCell { .. } => "table cell",
                RuleOrigin::Transition { .. } => "transition",
            },
            Determining::ModuleGrant { .. } => "module grant",
            Determining::ModeLine { .. } => "access mode",
        })
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
        ..
    } = *req
    else {
        return Vec::new();
    };
    if !req.belongs_to(policy, entities) {
        return Vec::new();
    }
    let user = &entities.users[principal as usize];
    let res = &entities.resources[resource as usize];
    let anchor = res.anchor.map(|a| &entities.resources[a as usize]);
    let (_, subjects) = effective_subjects(policy, user, anchor, principal, &mut Ignore);
    let why = &policy.why;
    let mut out = Vec::new();
    // The data rules of this action on this resource that match a subject, with this effect.
    let data = |deny: bool, out: &mut Vec<Determining>| {
        let n = policy.n_actions;
        let a = action as usize;
        let mut lists = vec![why.global.get(a), why.kind.get(res.kind.idx() * n + a)];
        if let Some(c) = anchor {
            let slot = (policy.state_base[c.casetype as usize] + c.state) as usize;
            lists.push(why.state.get(slot * n + a));
        }
        for &r in lists.into_iter().flatten() {
            let (is_deny, subj) = why.rules[r as usize];
            if is_deny == deny && subj.intersects(&subjects) {
                out.push(Determining::Rule(RuleId(r)));
            }
        }
    };
    match (decision.allowed, decision.layer, decision.reason) {
        (true, _, _) => {
            data(false, &mut out);
            if let (Some(c), Some(m)) = (anchor, module) {
                if policy.ct_has_modules[c.casetype as usize] {
                    let n_modules = policy.ir().modules.len();
                    let slot = (c.casetype as usize * n_modules + m as usize) * policy.n_actions
                        + action as usize;
                    for &g in why.grants.get(slot) {
                        let (t, line, subj) = why.grant_lines[g as usize];
                        if subj.intersects(&subjects) {
                            out.push(Determining::ModuleGrant {
                                casetype: CaseTypeId(t),
                                line,
                            });
                        }
                    }
                }
            }
        }
        (false, Layer::Data, Reason::ExplicitlyDenied) => data(true, &mut out),
        (false, Layer::AccessMode, Reason::Restricted) => {
            if let (Some((attr, arms)), Some(c)) = (&policy.mode, anchor) {
                if let Ok(v) = mode_line(*attr, arms, c) {
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

        entities.policy_stamp = deciding.compiled().stamp;
        let req = deciding.resolve(&entities, &request).expect("resolves");
        let (d, fault) = decide_reporting_faults(deciding.compiled(), &entities, &req);
        assert_eq!(fault, Some(TypeFault::FilterOperand { insn: 0 }));
        // `level != "high"` would hold for any string; on an int it must not admit the group.
        assert!(!d.allowed);
        assert_eq!(d.reason, Reason::NotInScope);

        // An access mode on an attribute that holds an int: the mode denies.
        entities.policy_stamp = moded.compiled().stamp;
        let req = moded.resolve(&entities, &request).expect("resolves");
        let (d, fault) = decide_reporting_faults(moded.compiled(), &entities, &req);
        assert_eq!(fault, Some(TypeFault::ModeValue));
        assert_eq!((d.allowed, d.layer), (false, Layer::AccessMode));

        // With its own policy, the same request meets no fault and is allowed.
        entities.policy_stamp = loaded.compiled().stamp;
        let own = loaded.resolve(&entities, &request).expect("resolves");
        let (d, fault) = decide_reporting_faults(loaded.compiled(), &entities, &own);
        assert_eq!((d.allowed, fault), (true, None));
    }
}

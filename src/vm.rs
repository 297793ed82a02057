//! The fast evaluator: decides a resolved request from the compiled tables.
//!
//! INVARIANT: nothing on this path allocates, hashes or compares strings. Sets are fixed-width
//! bitsets; entity data was interned and closed over when it was loaded.

use crate::bits::Bits;
use crate::compile::{CScope, CompiledPolicy, Insn};
use crate::entities::{AttrValue, Entities, Level, Resource};
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

#[inline]
fn holds_level(codes: &[u32], level: &Level) -> bool {
    level.is_empty() || level.iter().any(|c| codes.binary_search(c).is_ok())
}

#[inline]
fn run_filter(code: &[Insn], attrs: &[AttrValue], principal: u32) -> bool {
    code.iter().any(|insn| match *insn {
        Insn::EqSym { attr, sym, negate } => {
            matches!(attrs[attr as usize], AttrValue::Sym(s) if s == sym) != negate
        }
        Insn::EqInt {
            attr,
            value,
            negate,
        } => matches!(attrs[attr as usize], AttrValue::Int(i) if i == value) != negate,
        Insn::EqBool {
            attr,
            value,
            negate,
        } => matches!(attrs[attr as usize], AttrValue::Bool(b) if b == value) != negate,
        Insn::EqVariant {
            attr,
            variant,
            negate,
        } => matches!(attrs[attr as usize], AttrValue::Variant(v) if v == variant) != negate,
        Insn::Contains { attr, sym } => match &attrs[attr as usize] {
            AttrValue::Set(s) => s.binary_search(&sym).is_ok(),
            _ => false,
        },
        Insn::IsPrincipal { attr, negate } => {
            matches!(attrs[attr as usize], AttrValue::User(u) if u == principal) != negate
        }
    })
}

/// Relations the principal holds on the anchor case, as subject bits.
#[inline]
pub(crate) fn held_relations(
    policy: &CompiledPolicy,
    anchor: Option<&Resource>,
    principal: u32,
) -> Bits {
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
    match *req {
        Resolved::Permission {
            principal,
            permission,
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
        } => decide_action(policy, entities, principal, action, resource, module),
    }
}

#[inline]
fn decide_action(
    policy: &CompiledPolicy,
    entities: &Entities,
    principal: u32,
    action: u32,
    resource: u32,
    module: Option<u32>,
) -> Decision {
    let user = &entities.users[principal as usize];
    let res = &entities.resources[resource as usize];
    let anchor = res.anchor.map(|a| &entities.resources[a as usize]);
    let relations = held_relations(policy, anchor, principal);

    // Scope: roles of groups in scope, plus relations held.
    let mut subjects = relations;
    for &g in user.groups.iter() {
        let group = &policy.groups[g as usize];
        let in_scope = match group.scope {
            CScope::All => true,
            CScope::Assigned(needed) => relations.intersects(&needed),
            CScope::Filter { start, len } => match anchor {
                Some(a) => run_filter(
                    &policy.code[start as usize..(start + len) as usize],
                    &a.attrs,
                    principal,
                ),
                None => false,
            },
        };
        if in_scope {
            subjects = subjects.union(group.roles);
        }
    }
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
        if let AttrValue::Variant(v) = a.attrs[*attr as usize] {
            if let Some(Some(needed)) = arms.get(v as usize) {
                if !relations.intersects(needed) {
                    return Decision::deny(Layer::AccessMode, Reason::Restricted);
                }
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
        if !res.read.levels.iter().all(|l| holds_level(&user.codes, l)) {
            return Decision::deny(Layer::ReadCode, Reason::CodeNotHeld);
        }
        last = Layer::ReadCode;
    }
    if policy.action_write.get(action as usize) {
        if !res.write.levels.iter().all(|l| holds_level(&user.codes, l)) {
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

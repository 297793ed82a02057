//! The vocabulary of a decision: its layers, its reasons, the decision itself and the source
//! rules that determined it, with the names JSON gives them and the titles people read.
//!
//! Every evaluator speaks it: the VM (`vm`), the reference evaluator (`reference`), the queries,
//! policy tests and the CLI. It belongs to none of them, so the reference evaluator, which
//! exists to be independent of the VM, says what it decided without importing the VM.

use crate::compile::CompiledPolicy;
use crate::diagnostic::Span;
use crate::ir::{CaseTypeId, RuleId, RuleOrigin};
use serde::Serialize;

/// The layers of a decision, in the order they are evaluated (docs/semantics.md). The VM, the
/// reference evaluator, `query::actions`, the residual and `who-can` each have one function
/// per layer, named after it (docs/ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Step 0: the request names things the policy and the entities have.
    Request,
    /// Step 1: an account permission, held through a group.
    Permission,
    /// The effective subjects are not empty.
    Scope,
    /// The account permission an action requires.
    Requirement,
    /// The access mode of the anchor case.
    AccessMode,
    /// The module the request came through.
    Module,
    /// The declared edge from the case's state to the target state a request names.
    Transition,
    /// The data rules: statements, table cells and transitions.
    Data,
    /// The effective read access code.
    ReadCode,
    /// The effective write access code.
    WriteCode,
}

impl Layer {
    /// Every layer, in the order they are evaluated.
    pub const ALL: [Layer; 10] = [
        Layer::Request,
        Layer::Permission,
        Layer::Scope,
        Layer::Requirement,
        Layer::AccessMode,
        Layer::Module,
        Layer::Transition,
        Layer::Data,
        Layer::ReadCode,
        Layer::WriteCode,
    ];

    /// The name JSON gives it (`access_mode`), in decisions, traces and test files.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Request => "request",
            Layer::Permission => "permission",
            Layer::Scope => "scope",
            Layer::Requirement => "requirement",
            Layer::AccessMode => "access_mode",
            Layer::Module => "module",
            Layer::Transition => "transition",
            Layer::Data => "data",
            Layer::ReadCode => "read_code",
            Layer::WriteCode => "write_code",
        }
    }

    /// What people read (`access mode`), in `explain`, `check` and `actions`.
    pub fn title(self) -> &'static str {
        match self {
            Layer::Request => "request",
            Layer::Permission => "account permission",
            Layer::Scope => "scope",
            Layer::Requirement => "account requirement",
            Layer::AccessMode => "access mode",
            Layer::Module => "module",
            Layer::Transition => "transition",
            Layer::Data => "data rules",
            Layer::ReadCode => "read access code",
            Layer::WriteCode => "write access code",
        }
    }

    /// The reasons this layer can decide with.
    pub fn reasons(self) -> &'static [Reason] {
        match self {
            Layer::Request => &[Reason::Error],
            Layer::Permission => &[Reason::Allowed, Reason::PermissionNotHeld],
            Layer::Scope => &[Reason::NotInScope],
            Layer::Requirement => &[Reason::RequirementNotHeld],
            Layer::AccessMode => &[Reason::Restricted],
            Layer::Module => &[
                Reason::NoModule,
                Reason::NotInModule,
                Reason::NotARecord,
                Reason::ModuleNotGranted,
            ],
            Layer::Transition => &[Reason::NoTransition, Reason::TransitionNotGranted],
            Layer::Data => &[
                Reason::Allowed,
                Reason::ExplicitlyDenied,
                Reason::NotPermitted,
            ],
            Layer::ReadCode | Layer::WriteCode => &[Reason::Allowed, Reason::CodeNotHeld],
        }
    }
}

/// Why a decision came out as it did: [`Reason::Allowed`] for every allow, and for a deny what
/// the deciding [`Layer`] found missing or forbidden. Each reason belongs to the layers that
/// list it in [`Layer::reasons`]; the step numbers below are those of docs/semantics.md.
///
/// As JSON, and in test files, a reason is its [`name`](Reason::name) (`not_in_scope`); people
/// read its [`title`](Reason::title) (`not in scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `allowed`: every layer that applies passed. The decision's layer is
    /// [`Layer::Permission`] for an account permission, otherwise the last layer that applied
    /// ([`Layer::Data`], [`Layer::ReadCode`] or [`Layer::WriteCode`]).
    Allowed,
    /// `error`: the request could not be resolved (step 0): an unknown user, action, resource
    /// or module, a permission asked with a resource, or entities loaded for another policy.
    /// Always a deny by [`Layer::Request`]; the [`Response`](crate::Response) carries the
    /// [`RequestError`](crate::RequestError) that says which.
    Error,
    /// `permission_not_held`: the request asks for an account permission (step 1) and no
    /// group the user is a member of `permits` it.
    PermissionNotHeld,
    /// `not_in_scope`: the user acts as nobody on this resource (step 2.1): no group of theirs
    /// admits it (each group's `scope`) and they hold no relation on its case.
    NotInScope,
    /// `requirement_not_held`: the action is declared `requires` an account permission
    /// (step 2.2) that no group of the user permits.
    RequirementNotHeld,
    /// `restricted`: the case's access mode (step 2.3) admits only the holders of certain
    /// relations for its current value, and the user holds none of them.
    Restricted,
    /// `no_module`: the case's type is reached through modules (step 2.4) and the request
    /// names none.
    NoModule,
    /// `not_in_module`: the module the request names does not offer the action (its
    /// `actions` do not list it).
    NotInModule,
    /// `not_a_record`: the module declares `records` relations and the user holds none of them
    /// on the case.
    NotARecord,
    /// `module_not_granted`: no module-grant line of the case's type, for this module, gives
    /// the action to a subject the user acts as.
    ModuleNotGranted,
    /// `no_transition`: the request names a target state, and the case's type declares no
    /// transition by the action from the case's current state to it.
    NoTransition,
    /// `transition_not_granted`: such a transition is declared, but its `by` names no subject
    /// the user acts as in the data layer.
    TransitionNotGranted,
    /// `explicitly_denied`: a `deny` statement or a `-action` table-cell entry matches the
    /// request (step 2.6); a deny overrides every allow that also matches.
    ExplicitlyDenied,
    /// `not_permitted`: no rule, table cell or transition allows the action here to a subject
    /// the user acts as (step 2.6): casepol denies by default.
    NotPermitted,
    /// `code_not_held`: the user does not meet the resource's effective read or write access
    /// code (step 2.7, the decision's layer says which): some level of it is not empty and the
    /// user holds none of its codes (their id, groups, org units, terms).
    CodeNotHeld,
}

impl Reason {
    /// Every reason, in the order of the layers that give them.
    pub const ALL: [Reason; 15] = [
        Reason::Allowed,
        Reason::Error,
        Reason::PermissionNotHeld,
        Reason::NotInScope,
        Reason::RequirementNotHeld,
        Reason::Restricted,
        Reason::NoModule,
        Reason::NotInModule,
        Reason::NotARecord,
        Reason::ModuleNotGranted,
        Reason::NoTransition,
        Reason::TransitionNotGranted,
        Reason::ExplicitlyDenied,
        Reason::NotPermitted,
        Reason::CodeNotHeld,
    ];

    /// The name JSON gives it (`not_in_scope`).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::Error => "error",
            Reason::PermissionNotHeld => "permission_not_held",
            Reason::NotInScope => "not_in_scope",
            Reason::RequirementNotHeld => "requirement_not_held",
            Reason::Restricted => "restricted",
            Reason::NoModule => "no_module",
            Reason::NotInModule => "not_in_module",
            Reason::NotARecord => "not_a_record",
            Reason::ModuleNotGranted => "module_not_granted",
            Reason::NoTransition => "no_transition",
            Reason::TransitionNotGranted => "transition_not_granted",
            Reason::ExplicitlyDenied => "explicitly_denied",
            Reason::NotPermitted => "not_permitted",
            Reason::CodeNotHeld => "code_not_held",
        }
    }

    /// What people read (`not in scope`), in `check` and `actions`: the name, in words.
    pub fn title(self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::Error => "error",
            Reason::PermissionNotHeld => "permission not held",
            Reason::NotInScope => "not in scope",
            Reason::RequirementNotHeld => "requirement not held",
            Reason::Restricted => "restricted",
            Reason::NoModule => "no module",
            Reason::NotInModule => "not in module",
            Reason::NotARecord => "not a record",
            Reason::ModuleNotGranted => "module not granted",
            Reason::NoTransition => "no transition",
            Reason::TransitionNotGranted => "transition not granted",
            Reason::ExplicitlyDenied => "explicitly denied",
            Reason::NotPermitted => "not permitted",
            Reason::CodeNotHeld => "code not held",
        }
    }
}

/// A decision: allowed or denied, by which layer, and why. Small, `Copy`, and built without
/// allocation.
///
/// As JSON (in `explain` traces) it is `{"allowed": true, "layer": "data", "reason":
/// "allowed"}`, the layer and reason by their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the request is allowed. Every decision that is not an allow is a deny,
    /// including a request that could not be decided ([`Reason::Error`]).
    pub allowed: bool,
    /// The layer that decided: the first that denied, or the last that applied for an allow.
    pub layer: Layer,
    /// Why: [`Reason::Allowed`] exactly when `allowed`, otherwise what `layer` denied for.
    pub reason: Reason,
}

impl Decision {
    /// The request could not be resolved: a deny.
    pub const ERROR: Decision = Decision {
        allowed: false,
        layer: Layer::Request,
        reason: Reason::Error,
    };

    /// An allow, decided by `layer`: the last layer that applied.
    #[inline(always)]
    pub const fn allow(layer: Layer) -> Decision {
        Decision {
            allowed: true,
            layer,
            reason: Reason::Allowed,
        }
    }

    /// A deny by `layer`, the first layer that denied.
    #[inline(always)]
    pub const fn deny(layer: Layer, reason: Reason) -> Decision {
        Decision {
            allowed: false,
            layer,
            reason,
        }
    }
}

/// A source rule that determined a decision: see "Determining rules" in docs/semantics.md.
/// `vm::determining_rules` computes them from the compiled tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Determining {
    /// A data rule: a rule statement, a table-cell entry or a transition.
    Rule(RuleId),
    /// Line `line` of the module-grant blocks of case type `casetype`, in source order.
    ModuleGrant {
        /// The case type whose `modules` blocks hold the line.
        casetype: CaseTypeId,
        /// The line's position among all the module-grant lines of `casetype`, from 0.
        line: u32,
    },
    /// The access-mode line for enum variant `variant`.
    ModeLine {
        /// The variant's position in the access-mode attribute's enum, from 0.
        variant: u32,
    },
}

impl Determining {
    /// Where the rule is written; `None` when `self` did not come from
    /// `vm::determining_rules` on this policy.
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
    /// `vm::determining_rules` on this policy.
    pub fn kind(self, policy: &CompiledPolicy) -> Option<&'static str> {
        Some(match self {
            Determining::Rule(r) => rule_kind(policy.ir().rules.get(r.idx())?.origin),
            Determining::ModuleGrant { .. } => "module grant",
            Determining::ModeLine { .. } => "access mode",
        })
    }
}

/// Why a request without a module is denied on a case of `casetype`, whose access goes through
/// modules: one sentence that every command says for it (`check`, `actions`, `list`, `filter`,
/// `who-can` and `explain`), naming the modules that offer `action` (any action when `None`).
pub fn no_module_note(p: &crate::ir::Policy, casetype: usize, action: Option<usize>) -> String {
    use crate::diagnostic::words;
    let offering: Vec<&str> = p
        .modules
        .iter()
        .filter(|m| action.is_none_or(|a| m.actions.iter().any(|x| x.idx() == a)))
        .map(|m| m.name.as_str())
        .collect();
    let ask = match (offering.len(), action) {
        (0, Some(a)) => format!("and no module offers `{}`", p.actions[a].name),
        (0, None) => "and the policy declares no module".to_string(),
        (1, _) => format!("ask with the module {}", words::list(&offering)),
        _ => format!("ask with one of the modules {}", words::either(&offering)),
    };
    format!(
        "case type `{}` is reached through modules, so nobody may act on it without one; {ask}",
        p.casetypes[casetype].name,
    )
}

/// What a data rule is, in the words `explain` uses: `rule`, `table cell` or `transition`.
pub fn rule_kind(origin: RuleOrigin) -> &'static str {
    match origin {
        RuleOrigin::Statement => "rule",
        RuleOrigin::TableCell { .. } => "table cell",
        RuleOrigin::Transition { .. } => "transition",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name serde gives a unit variant.
    fn serde_name<T: Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }

    /// Fails to compile when a layer or reason is added without listing it in `ALL`; fails when
    /// a name differs from the one JSON gives it, or a reason belongs to no layer.
    #[test]
    fn every_variant_is_listed_and_named_as_json_names_it() {
        let layer = |l: Layer| match l {
            Layer::Request
            | Layer::Permission
            | Layer::Scope
            | Layer::Requirement
            | Layer::AccessMode
            | Layer::Module
            | Layer::Transition
            | Layer::Data
            | Layer::ReadCode
            | Layer::WriteCode => 10,
        };
        let reason = |r: Reason| match r {
            Reason::Allowed
            | Reason::Error
            | Reason::PermissionNotHeld
            | Reason::NotInScope
            | Reason::RequirementNotHeld
            | Reason::Restricted
            | Reason::NoModule
            | Reason::NotInModule
            | Reason::NotARecord
            | Reason::ModuleNotGranted
            | Reason::NoTransition
            | Reason::TransitionNotGranted
            | Reason::ExplicitlyDenied
            | Reason::NotPermitted
            | Reason::CodeNotHeld => 15,
        };
        assert!(Layer::ALL.iter().all(|l| layer(*l) == Layer::ALL.len()));
        assert!(Reason::ALL.iter().all(|r| reason(*r) == Reason::ALL.len()));
        for l in Layer::ALL {
            assert_eq!(l.name(), serde_name(l));
        }
        for r in Reason::ALL {
            assert_eq!(r.name(), serde_name(r));
            assert_eq!(r.title(), r.name().replace('_', " "));
            assert!(Layer::ALL.iter().any(|l| l.reasons().contains(&r)), "{r:?}");
        }
        // The names are distinct, layers and reasons together, so a name read back is one thing.
        let mut names: Vec<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
        names.extend(Reason::ALL.iter().map(|r| r.name()));
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }
}

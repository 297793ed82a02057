//! What the cross-checks against brute force (`tests/diff.rs`, `tests/verify.rs`) share: every
//! request of a generated world, and the effective subjects of a decision's trace. The
//! including crate declares the generator as `mod gen` (`tests/differential/gen.rs`).
#![allow(dead_code)]

use casepol::internal::reference::{Detail, Trace};
use casepol::{Entities, Policy, Request};

/// Which target states a world's requests ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Each state of the resource's case type.
    EveryCaseType,
    /// Each state of the resource's case type where it is a workflow.
    Workflows,
}

/// The requests of a world: every user × resource × action, through no module and each
/// module, to no target and each state of the resource's case type (as `targets` says).
pub fn requests(
    policy: &Policy,
    entities: &Entities,
    g: &crate::gen::Generated,
    targets_of: Targets,
) -> Vec<Request> {
    let ir = policy.compiled().ir();
    let mut out = Vec::new();
    let mut i = 0;
    for u in entities.user_ids() {
        for r in entities.resource_ids() {
            let anchor = entities
                .resource(r)
                .and_then(|res| res.anchor)
                .map(|a| entities.resources()[a as usize].casetype as usize);
            let mut targets: Vec<Option<String>> = vec![None];
            if let Some(t) =
                anchor.filter(|t| targets_of == Targets::EveryCaseType || ir.casetypes[*t].workflow)
            {
                targets.extend(ir.casetypes[t].states.iter().map(|s| Some(s.name.clone())));
            }
            for a in &ir.actions {
                let mut vias: Vec<Option<String>> = vec![None];
                vias.extend(ir.modules.iter().map(|m| Some(m.name.clone())));
                for via in &vias {
                    for target in &targets {
                        let mut req = Request::new(u, &a.name, Some(r));
                        req.module = via.clone();
                        req.target = target.clone();
                        out.push(g.ask(req, i));
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

/// The effective subjects of the principal in a trace, without `everyone`.
pub fn effective(trace: &Trace) -> Vec<String> {
    for l in &trace.layers {
        if let Detail::Groups { subjects, .. } = &l.detail {
            return subjects
                .iter()
                .filter(|s| *s != "everyone")
                .cloned()
                .collect();
        }
    }
    Vec::new()
}

//! Verified hints: the changes the reference evaluator proposes for a deny
//! ([`Candidate`]s of the deciding layer), each applied to a copy of the request's principal or
//! anchor case and decided again by the VM. Only what then allows is said as "would be allowed
//! if …"; a change that passes the layer that denied but meets a deny further on is said as
//! such, with the layer and the rules that would deny; anything else is dropped.
//!
//! Cost: the deciding layer proposes at most [`MAX_HINT_CANDIDATES`]; each is one copy of the
//! principal's lists (groups and codes), of the anchor case (its attributes and relations) or of
//! the resource (for a relation of its own kind), never of the entities, and one decision with its determining rules. So explaining a deny
//! costs at most that many decisions more, each linear in the request's own data.

use crate::compile::CompiledPolicy;
use crate::decision::{Determining, Layer};
use crate::entities::{Entities, Resource, Shared, User};
use crate::limits::{MAX_GROUP_DEPTH, MAX_HINT_CANDIDATES, MAX_SHOWN_HINTS, MAX_UNIT_DEPTH};
use crate::reference::{
    data_rule_ref, rule_ref, Change, Counterfactual, ThenDenied, Trace, Verdict,
};
use crate::request::Resolved;
use crate::vm;

/// Turns the candidates of the layer that denied `trace` into verified hints: each is applied
/// and decided again, those that allow come first, then those that pass the layer and meet a
/// later deny, each group smallest change first; at most [`MAX_SHOWN_HINTS`] are kept, and
/// shown before the layer's notes. `req` must be the request `trace` was made for.
pub(crate) fn settle(policy: &CompiledPolicy, ent: &Entities, req: &Resolved, trace: &mut Trace) {
    let denied = trace.decision;
    let uid = trace.request.principal.clone();
    let Some(last) = trace.layers.last_mut() else {
        return;
    };
    let candidates = std::mem::take(&mut last.candidates);
    if denied.allowed || last.verdict != Verdict::Deny || last.layer != denied.layer {
        return;
    }
    if !req.belongs_to(policy, ent) {
        return;
    }
    let (principal, anchor, resource) = match *req {
        Resolved::Permission { principal, .. } => (principal, None, None),
        Resolved::Action {
            principal,
            resource,
            ..
        } => (
            principal,
            ent.resources[resource as usize].anchor,
            Some(&ent.resources[resource as usize]),
        ),
    };
    let user = &ent.users[principal as usize];
    let anchor = anchor.map(|a| &ent.resources[a as usize]);
    let mut found: Vec<Counterfactual> = Vec::new();
    for c in candidates.iter().take(MAX_HINT_CANDIDATES) {
        let held = (anchor, resource);
        let Some((u, a, r)) = apply(policy, ent, principal, user, held, &c.changes) else {
            continue;
        };
        let (d, rules) =
            vm::decide_changed(policy, ent, req, &u, a.as_ref().or(anchor), r.as_ref());
        let then_denied = if d.allowed {
            None
        } else if order(d.layer) > order(denied.layer) {
            Some(ThenDenied {
                layer: d.layer,
                reason: d.reason,
                rules: rules
                    .iter()
                    .filter_map(|r| match *r {
                        Determining::Rule(id) => {
                            Some(data_rule_ref(policy, policy.ir().rules.get(id.idx())?))
                        }
                        _ => Some(rule_ref(policy, r.kind(policy)?, r.span(policy)?)),
                    })
                    .collect(),
            })
        } else {
            continue;
        };
        let hint = words(
            policy,
            &uid,
            denied.layer,
            c.why.as_deref(),
            &c.changes,
            &then_denied,
        );
        found.push(Counterfactual {
            hint,
            changes: c.changes.clone(),
            allowed: d.allowed,
            then_denied,
        });
    }
    // Stable: among equals, the order the layer proposed them in.
    found.sort_by_key(|c| (!c.allowed, c.changes.len()));
    found.truncate(MAX_SHOWN_HINTS);
    let notes = std::mem::take(&mut last.hints);
    last.hints = found.iter().map(|c| c.hint.clone()).chain(notes).collect();
    last.counterfactuals = found;
}

/// The position of a layer in the order of evaluation.
fn order(layer: Layer) -> usize {
    Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0)
}

/// The principal, the anchor case and the resource with `changes` applied, as copies: `None`
/// for the anchor, or the resource, when no change touches it (a relation of a resource kind is
/// held on the resource). `None` when a change names what these entities do not have.
#[allow(clippy::type_complexity)]
fn apply(
    policy: &CompiledPolicy,
    ent: &Entities,
    principal: u32,
    user: &User,
    (anchor, resource): (Option<&Resource>, Option<&Resource>),
    changes: &[Change],
) -> Option<(User, Option<Resource>, Option<Resource>)> {
    let p = policy.ir();
    let mut groups = user.groups.to_vec();
    let mut direct_groups = user.direct_groups.to_vec();
    let mut direct_units = user.direct_units.to_vec();
    let mut terms = user.terms.to_vec();
    let mut codes = user.codes.to_vec();
    let mut case: Option<Resource> = None;
    let mut own: Option<Resource> = None;
    for change in changes {
        match *change {
            Change::JoinGroup { id, .. } => {
                direct_groups.push(id);
                let mut g = Some(id as usize);
                for _ in 0..=MAX_GROUP_DEPTH {
                    let Some(at) = g else { break };
                    groups.push(at as u32);
                    codes.push(*ent.group_symbols.get(at)?);
                    g = p.groups.get(at)?.parent.map(|x| x.idx());
                }
            }
            Change::JoinUnit { id, .. } => {
                direct_units.push(id);
                let mut u = Some(id as usize);
                for _ in 0..=MAX_UNIT_DEPTH {
                    let Some(at) = u else { break };
                    codes.push(*ent.unit_symbols.get(at)?);
                    u = ent.units.get(at)?.parent.map(|x| x as usize);
                }
            }
            Change::HoldTerm { symbol, .. } => {
                terms.push(symbol);
                codes.push(symbol);
            }
            Change::HoldRelation { id, .. }
                if p.relation_kind(crate::ir::RelationId(id))
                    .is_some_and(|k| !p.kinds[k.idx()].is_case) =>
            {
                // A relation of the resource's own kind, held on the resource.
                let r = own.get_or_insert(resource?.clone());
                let local = p.kinds[r.kind.idx()]
                    .relations
                    .iter()
                    .position(|x| x.0 == id)?;
                let mut relations: Vec<Shared<u32>> = r.relations.to_vec();
                let mut holders = relations.get(local)?.to_vec();
                if let Err(at) = holders.binary_search(&principal) {
                    holders.insert(at, principal);
                }
                relations[local] = Shared::from(holders);
                r.relations = Shared::from(relations);
            }
            Change::HoldRelation { id, .. } => {
                if case.is_none() {
                    case = Some(anchor?.clone());
                }
                let a = case.as_mut()?;
                let mut relations: Vec<Shared<u32>> = a.relations.to_vec();
                let r = id as usize;
                if relations.len() <= r {
                    relations.resize(r + 1, Shared::default());
                }
                let mut holders = relations[r].to_vec();
                if let Err(at) = holders.binary_search(&principal) {
                    holders.insert(at, principal);
                }
                relations[r] = Shared::from(holders);
                a.relations = Shared::from(relations);
            }
        }
    }
    for list in [
        &mut groups,
        &mut direct_groups,
        &mut direct_units,
        &mut terms,
        &mut codes,
    ] {
        list.sort_unstable();
        list.dedup();
    }
    let user = User {
        direct_groups: Shared::from(direct_groups),
        groups: Shared::from(groups),
        direct_units: Shared::from(direct_units),
        terms: Shared::from(terms),
        codes: Shared::from(codes),
    };
    Some((user, case, own))
}

/// The hint in words: "would be allowed if `emma` were in group `HR` (role `Clerk`)", or "would
/// pass the module layer if …, then be denied by the table cell `-*` at policy.casepol:71:5".
fn words(
    policy: &CompiledPolicy,
    uid: &str,
    layer: Layer,
    why: Option<&str>,
    changes: &[Change],
    then_denied: &Option<ThenDenied>,
) -> String {
    let parts: Vec<String> = changes
        .iter()
        .map(|c| match c {
            Change::JoinGroup { group, .. } => format!("were in group `{group}`"),
            Change::HoldRelation { relation, case, id } => {
                let p = policy.ir();
                match p.relation_kind(crate::ir::RelationId(*id)) {
                    Some(k) if !p.kinds[k.idx()].is_case => {
                        format!("were `{relation}` of `{case}`")
                    }
                    _ => format!("were `{relation}` of case `{case}`"),
                }
            }
            Change::JoinUnit { unit, .. } => format!("were in unit `{unit}`"),
            Change::HoldTerm { term, .. } => format!("held term `{term}`"),
        })
        .collect();
    let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
    let change = format!("`{uid}` {}{why}", parts.join(" and "));
    match then_denied {
        None => format!("would be allowed if {change}"),
        Some(t) => {
            let by = if t.rules.is_empty() {
                format!("the {} layer ({})", t.layer.title(), t.reason.title())
            } else {
                t.rules
                    .iter()
                    .map(|r| {
                        let cell = r
                            .cell
                            .as_ref()
                            .map(|c| format!(" for {c}"))
                            .unwrap_or_default();
                        format!(
                            "the {} `{}`{cell} at {}:{}:{}",
                            r.kind,
                            short(&r.source),
                            r.file,
                            r.line,
                            r.column
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            };
            format!(
                "would pass the {} layer if {change}, then be denied by {by}",
                layer.title()
            )
        }
    }
}

/// The first line of a rule's source, cut after 60 characters.
fn short(source: &str) -> String {
    let line = source.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

//! Queries over a policy and its entities: who may act on a resource, which actions a user may
//! take on one, which resources a user may act on, and, with the resource left unknown, a
//! residual condition ([`Residual`]) that [`sql`] compiles to a `WHERE` clause. [`Query`] is the
//! front door; docs/queries.md describes the queries.
//!
//! Every query fails closed: an unknown name is a [`RequestError`], never an empty answer that
//! looks like a deny or a full one that looks like an allow. Decisions come from the VM
//! (`vm::decide`), so a query never disagrees with `check`.
//!
//! Ids mean something only to the policy and the entities they were resolved against, so no
//! public function takes one: [`Query`] resolves names and checks that its entities were loaded
//! for its policy, a [`Listing`] keeps the policy, entities and index it was built from, and a
//! [`Residual`] carries the stamp of its policy, which [`Residual::eval`], [`Residual::json`]
//! and [`sql::compile`] check. Mixing them is an error, never an answer.

mod condition;
pub mod residual;
pub mod sql;

use condition::Where;
pub use condition::{Condition, ConditionError};

use crate::bits::Bits;
use crate::compile::{CScope, CompiledPolicy};
use crate::decision::Decision;
use crate::entities::{CodeClass, EffectiveCode, Entities, Resource};
use crate::ir::{Effect, KindId};
use crate::request::{Resolved, ResolvedContext};
use crate::resolve;
use crate::vm;
use serde::Serialize;

use residual::residual;
pub use residual::{Cond, Residual};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// A query that names something the policy or the entities do not have: the one error of the
/// resolver that requests share (`resolve.rs`). `QueryError` and `QueryErrorKind` are the
/// names it had when queries had a resolver of their own; new code names [`RequestError`].
pub use crate::resolve::{RequestError as QueryError, RequestErrorKind as QueryErrorKind};

use crate::resolve::{error, same_policy, Asker, RequestError, RequestErrorKind};

/// A residual only means something to the policy that computed it: its kinds, case types,
/// attributes and relations are that policy's ids.
pub(crate) fn residual_of(
    policy: &CompiledPolicy,
    residual: &Residual,
) -> Result<(), RequestError> {
    if residual.policy_stamp() == policy.stamp() {
        return Ok(());
    }
    Err(error(
        RequestErrorKind::MismatchedPolicy,
        "the residual was computed for another policy".into(),
        Some(
            "compile, evaluate and print a residual with the policy that computed it; after a reload, compute it again"
                .into(),
        ),
    ))
}

// ---- actions --------------------------------------------------------------------------------

/// The decision for every action of the policy on one resource, indexed by action id, in one
/// pass over the VM's own layers: `vm::scope` and `vm::access_mode`, which do not depend on the
/// action, run once, and `vm::after_scope` then runs the rest for each action, reading each
/// access code at most once.
///
/// Each decision equals `vm::decide` for that action, layer and reason included, and fails
/// closed where the VM does, because it is the VM's code.
// INVARIANT: the caller checked that the entities belong to the policy and resolved the ids
// against them (`Query::actions`).
fn actions(
    policy: &CompiledPolicy,
    entities: &Entities,
    principal: u32,
    resource: u32,
    module: Option<u32>,
    context: &ResolvedContext,
) -> Vec<Decision> {
    let n = policy.n_actions();
    let on = vm::On::new(entities, principal, resource, context);
    let subjects = match vm::scope(policy, &on, &mut vm::Ignore) {
        Ok(subjects) => subjects,
        Err(deny) => return vec![deny; n],
    };
    let access_mode = vm::access_mode(policy, on.anchor, subjects.relations, &mut vm::Ignore);
    // Whether the principal meets the read and the write code, once asked.
    let mut met: [Option<bool>; 2] = [None, None];
    (0..n as u32)
        .map(|action| {
            let layers = vm::after_scope(
                policy,
                &on,
                &subjects,
                vm::Ask {
                    action,
                    via: module,
                    target: None,
                },
                |_: &mut vm::Ignore| access_mode,
                |class| {
                    let slot = match class {
                        CodeClass::Read => 0,
                        CodeClass::Write => 1,
                    };
                    *met[slot].get_or_insert_with(|| {
                        entities.code(resource, class).is_met_by(&on.user.codes)
                    })
                },
                &mut vm::Ignore,
            );
            vm::decision(layers)
        })
        .collect()
}

/// The decision for every declared transition that leaves the resource's case from its current
/// state, as `(action, target state, decision)`, by action and then target, ascending: each is
/// `vm::decide` with the target named, computed with the VM's own layers as [`actions`] is.
/// Empty when the resource has no case.
// INVARIANT: as for `actions`.
fn transitions(
    policy: &CompiledPolicy,
    entities: &Entities,
    principal: u32,
    resource: u32,
    module: Option<u32>,
    context: &ResolvedContext,
) -> Vec<(u32, u32, Decision)> {
    let on = vm::On::new(entities, principal, resource, context);
    let Some(anchor) = on.anchor else {
        return Vec::new();
    };
    let mut moves: Vec<(u32, u32)> = Vec::new();
    for action in 0..policy.n_actions() as u32 {
        for &(to, _) in policy.edges(anchor.casetype, anchor.state, action) {
            moves.push((action, to));
        }
    }
    if moves.is_empty() {
        return Vec::new();
    }
    let subjects = match vm::scope(policy, &on, &mut vm::Ignore) {
        Ok(subjects) => subjects,
        Err(deny) => return moves.into_iter().map(|(a, t)| (a, t, deny)).collect(),
    };
    let access_mode = vm::access_mode(policy, on.anchor, subjects.relations, &mut vm::Ignore);
    let mut met: [Option<bool>; 2] = [None, None];
    moves
        .into_iter()
        .map(|(action, to)| {
            let layers = vm::after_scope(
                policy,
                &on,
                &subjects,
                vm::Ask {
                    action,
                    via: module,
                    target: Some(to),
                },
                |_: &mut vm::Ignore| access_mode,
                |class| {
                    let slot = match class {
                        CodeClass::Read => 0,
                        CodeClass::Write => 1,
                    };
                    *met[slot].get_or_insert_with(|| {
                        entities.code(resource, class).is_met_by(&on.user.codes)
                    })
                },
                &mut vm::Ignore,
            );
            (action, to, vm::decision(layers))
        })
        .collect()
}

/// A transition a user may or may not take now: [`Query::transitions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// The action that takes it.
    pub action: String,
    /// The case's current state.
    pub from: String,
    /// The state it leads to.
    pub to: String,
    /// The decision for the request that names this action and target.
    pub decision: Decision,
}

/// The answer of `actions` as JSON: what `casepol actions --format json`, the server's
/// `/v1/actions` and the bindings write (docs/queries.md). It borrows the answers of
/// [`Query::actions`], [`Query::transitions`] and [`Query::module_note`]; serialize it with serde.
#[derive(Debug, Serialize)]
pub struct ActionsJson<'a> {
    principal: &'a str,
    resource: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<&'a str>,
    /// The allowed actions, in the policy's order.
    allowed: Vec<&'a str>,
    /// Every action with its decision.
    decisions: Vec<ActionDecisionJson<'a>>,
    /// Every transition out of the case's current state, with its decision; absent when the
    /// resource is in no case or no transition leaves its state.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    transitions: Vec<MoveJson<'a>>,
    /// Why every action is denied, when the case type is reached through modules and none
    /// was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// One action's decision in [`ActionsJson`].
#[derive(Debug, Serialize)]
struct ActionDecisionJson<'a> {
    action: &'a str,
    decision: &'static str,
    layer: crate::decision::Layer,
    reason: crate::decision::Reason,
}

/// One transition's decision in [`ActionsJson`].
#[derive(Debug, Serialize)]
struct MoveJson<'a> {
    action: &'a str,
    from: &'a str,
    to: &'a str,
    decision: &'static str,
    layer: crate::decision::Layer,
    reason: crate::decision::Reason,
}

impl<'a> ActionsJson<'a> {
    /// The answer for `principal` on `resource` (through `module`): every action's decision,
    /// every move out of the case's state, and the note.
    pub fn new(
        principal: &'a str,
        resource: &'a str,
        module: Option<&'a str>,
        decisions: &'a [(String, Decision)],
        moves: &'a [Move],
        note: Option<&'a str>,
    ) -> ActionsJson<'a> {
        let word = |allowed: bool| if allowed { "allow" } else { "deny" };
        ActionsJson {
            principal,
            resource,
            module,
            allowed: decisions
                .iter()
                .filter(|(_, d)| d.allowed)
                .map(|(a, _)| a.as_str())
                .collect(),
            decisions: decisions
                .iter()
                .map(|(a, d)| ActionDecisionJson {
                    action: a,
                    decision: word(d.allowed),
                    layer: d.layer,
                    reason: d.reason,
                })
                .collect(),
            transitions: moves
                .iter()
                .map(|m| MoveJson {
                    action: &m.action,
                    from: &m.from,
                    to: &m.to,
                    decision: word(m.decision.allowed),
                    layer: m.decision.layer,
                    reason: m.decision.reason,
                })
                .collect(),
            note,
        }
    }
}

// ---- list -----------------------------------------------------------------------------------

/// The resources of an entities file in a stable order, for listing and pagination: sorted by
/// id, comparing bytes (the order of SQL `ORDER BY id` under a binary collation). A [`Query`]
/// builds it once, at its first listing, and lists from it as often as asked.
#[derive(Debug, Clone)]
struct Index {
    order: Vec<u32>,
    /// The stamp of the entities it orders.
    entities: u64,
}

impl Index {
    fn new(entities: &Entities) -> Index {
        let mut order: Vec<u32> = (0..entities.resources.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| entities.resource_id(a).cmp(entities.resource_id(b)));
        Index {
            order,
            entities: entities.stamp,
        }
    }
}

/// What to list: the resources (optionally of one kind) a principal may perform an action on.
// INVARIANT: the ids were resolved against the entities of the `Listing` that holds it.
#[derive(Debug, Clone)]
struct List {
    principal: u32,
    action: u32,
    module: Option<u32>,
    kind: Option<KindId>,
    context: ResolvedContext,
    /// The question's condition ([`Query::with_condition`]), for these entities.
    condition: Option<Where>,
}

/// One page of a listing: resource ids (indices into the entities), and the cursor for the next
/// page when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The allowed resources of the page, in id order, as positions in the entities the
    /// listing was made from: [`Entities::resource_id`] gives their ids.
    pub resources: Vec<u32>,
    /// The id of the last resource of this page, when more allowed resources follow it.
    pub next: Option<String>,
}

impl List {
    /// Every allowed resource whose id sorts after `after` (all of them when `None`), in id
    /// order, lazily: each step decides resources until one is allowed.
    ///
    /// The cursor `after` need not be the id of an existing resource: listing resumes at the
    /// first id that sorts after it, so a page boundary survives the deletion of its resource.
    fn iter<'a>(
        self,
        policy: &'a CompiledPolicy,
        entities: &'a Entities,
        index: &'a Index,
        after: Option<&str>,
    ) -> impl Iterator<Item = u32> + 'a {
        let start = match after {
            None => 0,
            Some(a) => index
                .order
                .partition_point(|&i| entities.resource_id(i) <= a),
        };
        index.order[start..].iter().copied().filter(move |&r| {
            if self
                .kind
                .is_some_and(|k| entities.resources[r as usize].kind != k)
            {
                return false;
            }
            if let Some(w) = &self.condition {
                if !w.holds(policy, entities, self.principal, r, &self.context) {
                    return false;
                }
            }
            vm::decide(
                policy,
                entities,
                &Resolved::Action {
                    principal: self.principal,
                    action: self.action,
                    resource: r,
                    module: self.module,
                    target: None,
                    context: self.context.clone(),
                    entities: entities.stamp,
                },
            )
            .allowed
        })
    }

    /// At most `limit` allowed resources after `after`, and the cursor for the next page.
    fn page(
        self,
        policy: &CompiledPolicy,
        entities: &Entities,
        index: &Index,
        after: Option<&str>,
        limit: usize,
    ) -> Page {
        let mut it = self.iter(policy, entities, index, after);
        let resources: Vec<u32> = it.by_ref().take(limit).collect();
        let more = resources.len() == limit && it.next().is_some();
        let next = match (more, resources.last()) {
            (true, Some(&last)) => Some(entities.resource_id(last).to_string()),
            _ => None,
        };
        Page { resources, next }
    }
}

// ---- who can --------------------------------------------------------------------------------

/// Who may perform an action on one resource, and why: what [`Query::who_can`] returns.
/// Serialized with serde it is the JSON of `casepol who-can --format json` (docs/queries.md),
/// with the fields' names; a field that is `None` is left out.
#[derive(Debug, Clone, Serialize)]
pub struct WhoCan {
    /// The action asked about.
    pub action: String,
    /// The resource's id.
    pub resource: String,
    /// The resource's kind, as the policy names it.
    pub kind: String,
    /// The anchor case, when the resource has one and is not the case itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// The module asked with; `None` when the question names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The resource's effective read code as displayed (`[BB|AA] & [ ] & [PERS]`), when the
    /// action is checked against it (listed under `read:` in the `codes` block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_code: Option<String>,
    /// The effective write code, as `read_code`, when the action is listed under `write:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_code: Option<String>,
    /// Every allowed user, in the order of the entities file.
    pub allowed: Vec<Permitted>,
    /// How many users are not allowed.
    pub denied: usize,
    /// Why nobody could be allowed, when that follows from the question itself (a case type
    /// reached only through modules, asked without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The modules that offer the action, when the note says to ask with one of them; not
    /// part of the JSON, which has the note.
    #[serde(skip)]
    pub offering: Vec<String>,
}

/// One allowed user and what lets them in.
#[derive(Debug, Clone, Serialize)]
pub struct Permitted {
    /// The user's id.
    pub user: String,
    /// The subjects the data rules allow, with where the principal got each.
    pub grants: Vec<SubjectGrant>,
    /// The allow rules and table cells that matched.
    pub rules: Vec<crate::reference::RuleRef>,
    /// The module grant lines that admitted the user, when the module layer applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_grants: Option<Vec<String>>,
    /// The codes of the user that meet the effective read code: for each non-empty level, the
    /// first of its codes the user holds (a code meeting several levels is listed once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_codes_held: Option<Vec<CodeHeld>>,
    /// The codes of the user that meet the effective write code, as `read_codes_held`; `None`
    /// when the action is not checked against a write code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_codes_held: Option<Vec<CodeHeld>>,
}

/// An access code a user holds, and why they hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeHeld {
    /// The code, as the effective code writes it.
    pub code: String,
    /// `user` (their own id), `group`, `unit` or `term`.
    pub source: &'static str,
    /// The group or unit the user is listed in, when the code is its ancestor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
}

/// A subject that an allowing data rule names, and how the user holds it. As JSON, an object
/// tagged by `kind`: `{"kind": "role", "role", "groups"}`, `{"kind": "relation", "relation",
/// "case"}` or `{"kind": "everyone"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SubjectGrant {
    /// A role, from each of these groups in scope.
    Role {
        /// The role's name.
        role: String,
        /// Every group of the user that grants the role and is in scope for the resource.
        groups: Vec<GroupVia>,
    },
    /// A relation the user holds on the case, or on the resource of the relation's kind.
    Relation {
        /// The relation's name (`assignee`).
        relation: String,
        /// The id of the case or resource that lists it: the resource's anchor case for a
        /// relation of the case, the resource of the relation's kind at or above the resource
        /// for one of a resource kind.
        case: String,
        /// The listed access group through which the user holds it (absent when the user is
        /// listed).
        #[serde(skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// `everyone`, which every user holds on every resource.
    Everyone,
}

/// A group through which a user holds a role ([`SubjectGrant::Role`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupVia {
    /// The group's name.
    pub group: String,
    /// The group the user is listed in, when this one is reached as its ancestor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// The group's scope in words: `all`, `assigned via assignee, collaborator`, or
    /// `filter any of { … }` / `filter all of { … }` with the conditions as written.
    pub scope: String,
    /// For a scope `assigned via …`: the relations the user holds that admit them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<String>,
}

/// Who may perform `action` on `resource` through `module`: every allowed user, with the
/// subjects that let them in (roles with the groups in scope that grant them, relations held),
/// the matching rules, and the codes that meet the effective access codes.
///
/// The VM decides each user; the functions below then say what each layer saw, one for each
/// layer that has something to show, named after it as in the VM: `scope`, `module`, `data`
/// and `codes`. What does not depend on the user (the effective codes' text, the data rules
/// of the slot, the groups by name) is read once; a user then costs a decision, the first code
/// they hold in each level of the effective codes (what the decision looked for), and what
/// their answer lists, never a trace of every code.
// INVARIANT: the caller checked that the entities belong to the policy and resolved the ids
// against them (`Query::who_can`).
fn who_can(
    policy: &CompiledPolicy,
    entities: &Entities,
    action: u32,
    resource: u32,
    module: Option<u32>,
    context: &ResolvedContext,
) -> WhoCan {
    let p = policy.ir();
    let res = &entities.resources[resource as usize];
    let code_text = |code: EffectiveCode<'_>| {
        crate::access_code::display(
            &code
                .iter()
                .map(|l| l.iter().map(|c| entities.symbol(*c)).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        )
    };
    let reads = policy.reads_code(action);
    let writes = policy.writes_code(action);
    let mut out = WhoCan {
        action: p.actions[action as usize].name.clone(),
        resource: entities.resource_id(resource).to_string(),
        kind: p.kinds[res.kind.idx()].name.clone(),
        case: res
            .anchor
            .filter(|&a| a != resource)
            .map(|a| entities.resource_id(a).to_string()),
        module: module.map(|m| p.modules[m as usize].name.clone()),
        read_code: reads.then(|| code_text(entities.read_code(resource))),
        write_code: writes.then(|| code_text(entities.write_code(resource))),
        allowed: Vec::new(),
        denied: 0,
        note: None,
        offering: Vec::new(),
    };
    let anchor = res.anchor.map(|a| &entities.resources[a as usize]);
    if let Some((note, offering)) = module_note(policy, anchor, module, action) {
        out.note = Some(note);
        out.offering = offering;
    }
    let case_state = anchor.map(|a| (a.casetype, a.state));
    let allow = policy.data_masks(res.kind.0, case_state, action).allow;
    // Read once for every user: the allow rules of the data layer, and the groups by name.
    let rules = DataRules::new(policy, res.kind.0, case_state, action);
    let groups_by_name: HashMap<&str, u32> = p
        .groups
        .iter()
        .enumerate()
        .map(|(g, def)| (def.name.as_str(), g as u32))
        .collect();
    for u in 0..entities.users.len() as u32 {
        let req = Resolved::Action {
            principal: u,
            action,
            resource,
            module,
            target: None,
            context: context.clone(),
            entities: entities.stamp,
        };
        if !vm::decide(policy, entities, &req).allowed {
            out.denied += 1;
            continue;
        }
        let on = vm::On::new(entities, u, resource, context);
        let subjects = vm::subjects(policy, &on);
        // The subjects the data layer reads: through a module with `data roles`, fewer.
        let read = vm::Subjects {
            relations: subjects.relations,
            all: policy.data_subjects(module, subjects.all),
        };
        let mut sources = Sources::new(policy, entities, &on, &groups_by_name);
        // The rules that allow it: those of the masks, and those whose condition holds here.
        let matched = data(policy, &rules, &on, &read);
        let allow = matched
            .iter()
            .filter(|&&i| policy.condition_of(rules.ids[i as usize]).is_some())
            .fold(allow, |b, &i| {
                b.union(policy.why_rule(rules.ids[i as usize]).1)
            });
        out.allowed.push(Permitted {
            user: entities.user_id(u).to_string(),
            grants: scope(
                policy,
                entities,
                (&on, resource),
                &read,
                allow,
                &mut sources,
            ),
            rules: matched
                .into_iter()
                .map(|i| rules.rules[i as usize].clone())
                .collect(),
            module_grants: self::module(policy, &on, module, action, &subjects),
            read_codes_held: reads
                .then(|| codes(entities, &on, resource, CodeClass::Read, &mut sources)),
            write_codes_held: writes
                .then(|| codes(entities, &on, resource, CodeClass::Write, &mut sources)),
        });
    }
    out
}

/// Why nobody may act, when the module layer says so for every user: the resource's case type
/// is reached through modules and the question names none. The note, and the modules that offer
/// the action.
fn module_note(
    policy: &CompiledPolicy,
    anchor: Option<&Resource>,
    module: Option<u32>,
    action: u32,
) -> Option<(String, Vec<String>)> {
    let p = policy.ir();
    let a = anchor.filter(|a| module.is_none() && policy.uses_modules(a.casetype))?;
    let offering: Vec<String> = p
        .modules
        .iter()
        .filter(|m| m.actions.iter().any(|x| x.0 == action))
        .map(|m| m.name.clone())
        .collect();
    let note = crate::decision::no_module_note(p, a.casetype as usize, Some(action as usize));
    Some((note, offering))
}

/// The subject bit's name: a role's below `n_roles`, a relation's from it on, and `everyone`
/// after the relations.
fn subject_name(policy: &CompiledPolicy, s: usize) -> &str {
    let p = policy.ir();
    match s.checked_sub(policy.n_roles()) {
        None => &p.roles[s].name,
        Some(r) => p.relations.get(r).map_or(crate::ir::EVERYONE, |r| &r.name),
    }
}

/// Scope, as who-can shows it: each effective subject that an allow rule of the data layer
/// (`allow`) lists, with where the principal got it: a role from the groups in scope that grant
/// it, or a relation held on the case.
fn scope(
    policy: &CompiledPolicy,
    entities: &Entities,
    (on, resource): (&vm::On<'_>, u32),
    subjects: &vm::Subjects,
    allow: Bits,
    sources: &mut Sources<'_>,
) -> Vec<SubjectGrant> {
    let p = policy.ir();
    let mut grants = Vec::new();
    // Whether each group of the user is in scope, asked once a group.
    let mut in_scope: Vec<Option<bool>> = vec![None; on.user.groups.len()];
    for s in allow.iter().filter(|&s| subjects.all.get(s)) {
        if policy.everyone.get(s) {
            grants.push(SubjectGrant::Everyone);
            continue;
        }
        if s >= policy.n_roles() {
            let held = vm::relation_holder(policy, on, resource, s);
            grants.push(SubjectGrant::Relation {
                relation: subject_name(policy, s).to_string(),
                case: held
                    .map(|(at, _)| entities.resource_id(at).to_string())
                    .unwrap_or_default(),
                group: held
                    .and_then(|(_, g)| g)
                    .map(|g| p.groups[g as usize].name.clone()),
            });
            continue;
        }
        let mut granting = Vec::new();
        for (&g, known) in on.user.groups.iter().zip(in_scope.iter_mut()) {
            if policy.group(g).roles.get(s)
                && *known.get_or_insert_with(|| {
                    vm::group_in_scope(policy, g, on.anchor, subjects.relations, on.principal)
                })
            {
                granting.push(g);
            }
        }
        let groups = granting
            .into_iter()
            .map(|g| GroupVia {
                group: p.groups[g as usize].name.clone(),
                through: sources.group_through(g),
                scope: scope_text(policy, g),
                holds: match policy.group(g).scope {
                    CScope::Assigned(needed) => needed
                        .iter()
                        .filter(|&r| subjects.relations.get(r))
                        .map(|r| subject_name(policy, r).to_string())
                        .collect(),
                    _ => Vec::new(),
                },
            })
            .collect();
        grants.push(SubjectGrant::Role {
            role: subject_name(policy, s).to_string(),
            groups,
        });
    }
    grants
}

/// Module, as who-can shows it: the effective subjects the module's grant lines give the action
/// to, when the module layer applies.
fn module(
    policy: &CompiledPolicy,
    on: &vm::On<'_>,
    module: Option<u32>,
    action: u32,
    subjects: &vm::Subjects,
) -> Option<Vec<String>> {
    let (a, m) = (on.anchor?, module?);
    if !policy.uses_modules(a.casetype) {
        return None;
    }
    Some(
        policy
            .module_grant(a.casetype, m, action)
            .iter()
            .filter(|&s| subjects.all.get(s))
            .map(|s| subject_name(policy, s).to_string())
            .collect(),
    )
}

/// The allow rules of the data layer for one question, read once from the rule indices compiled
/// beside the data masks (the resource's kind, its case's type and state, and the action), with,
/// for each subject, the rules that name it: [`data`] then costs a user the rules of their
/// subjects, not every rule of the slot.
struct DataRules {
    /// The allow rules of the slot, ascending, located, and their indices among the IR's rules.
    rules: Vec<crate::reference::RuleRef>,
    ids: Vec<u32>,
    /// For each subject bit, the positions in `rules` of the rules that name it.
    by_subject: Vec<Vec<u32>>,
}

impl DataRules {
    fn new(
        policy: &CompiledPolicy,
        kind: u32,
        case_state: Option<(u32, u32)>,
        action: u32,
    ) -> DataRules {
        let p = policy.ir();
        let mut ids: Vec<u32> = policy
            .why_data(kind, case_state, action)
            .into_iter()
            .flatten()
            .flatten()
            .copied()
            .filter(|&r| policy.why_rule(r).0 == Effect::Allow)
            .collect();
        // The three lists are disjoint and each ascending: one order, the policy's.
        ids.sort_unstable();
        ids.dedup();
        let mut by_subject: Vec<Vec<u32>> = Vec::new();
        let mut rules = Vec::with_capacity(ids.len());
        for (i, &r) in ids.iter().enumerate() {
            for s in policy.why_rule(r).1.iter() {
                if by_subject.len() <= s {
                    by_subject.resize_with(s + 1, Vec::new);
                }
                by_subject[s].push(i as u32);
            }
            let rule = &p.rules[r as usize];
            rules.push(crate::reference::rule_ref(
                policy,
                crate::decision::rule_kind(rule.origin),
                rule.span,
            ));
        }
        DataRules {
            rules,
            ids,
            by_subject,
        }
    }
}

/// Data rules, as who-can shows them: the allow rules that match one of the principal's
/// effective subjects (and whose condition, if they have one, holds), as positions in
/// `rules`, in the order of the policy (the rules that determined an allow, docs/semantics.md,
/// as `vm::determining_rules` finds them).
fn data(
    policy: &CompiledPolicy,
    rules: &DataRules,
    on: &vm::On<'_>,
    subjects: &vm::Subjects,
) -> Vec<u32> {
    let mut at: Vec<u32> = subjects
        .all
        .iter()
        .filter_map(|s| rules.by_subject.get(s))
        .flatten()
        .copied()
        .collect();
    at.sort_unstable();
    at.dedup();
    at.retain(|&i| match policy.condition_of(rules.ids[i as usize]) {
        Some(c) => vm::condition_holds(policy, c, on, subjects.relations),
        None => true,
    });
    at
}

/// Access codes, as who-can shows them: the codes of the principal that meet the resource's
/// effective code of `class`: for each non-empty level, the first of its codes the principal
/// holds (a code meeting several levels is listed once). The decision looked for the same
/// codes, so this costs what the decision's code layer did; a set drops the codes already
/// listed, so the levels (at most 32 × 64, `MAX_KIND_DEPTH` × `MAX_CODE_LEVELS`) cost one step
/// each.
fn codes(
    entities: &Entities,
    on: &vm::On<'_>,
    resource: u32,
    class: CodeClass,
    sources: &mut Sources<'_>,
) -> Vec<CodeHeld> {
    let mut out: Vec<CodeHeld> = Vec::new();
    let mut listed = HashSet::new();
    for l in entities.code(resource, class).iter() {
        if let Some(&c) = l.iter().find(|c| {
            #[cfg(test)]
            crate::reference::tests::count(&tests::HELD_STEPS);
            on.user.codes.binary_search(c).is_ok()
        }) {
            #[cfg(test)]
            crate::reference::tests::count(&tests::HELD_STEPS);
            if listed.insert(c) {
                out.push(sources.code(entities.symbol(c)));
            }
        }
    }
    out
}

/// Where one user got their groups and codes, for who-can's answer: read from the user's lists
/// once, when first asked, so that each group or code then costs a look-up.
struct Sources<'a> {
    policy: &'a CompiledPolicy,
    entities: &'a Entities,
    user: u32,
    on: vm::On<'a>,
    groups_by_name: &'a HashMap<&'a str, u32>,
    /// For each group of the user, the listed group it is reached through (`None`: listed).
    groups: Option<HashMap<u32, Option<u32>>>,
    /// For each unit of the user, the listed unit it is reached through (`None`: listed).
    units: Option<HashMap<u32, Option<u32>>>,
}

impl<'a> Sources<'a> {
    fn new(
        policy: &'a CompiledPolicy,
        entities: &'a Entities,
        on: &vm::On<'a>,
        groups_by_name: &'a HashMap<&'a str, u32>,
    ) -> Sources<'a> {
        Sources {
            policy,
            entities,
            user: on.principal,
            on: *on,
            groups_by_name,
            groups: None,
            units: None,
        }
    }

    /// The listed group through which the user is a member of `g`, when `g` is not listed
    /// itself: the first listed group (in the user's order) that `g` is an ancestor of.
    fn group_through(&mut self, g: u32) -> Option<String> {
        let p = self.policy.ir();
        let direct = &self.on.user.direct_groups;
        let map = self.groups.get_or_insert_with(|| {
            let mut map: HashMap<u32, Option<u32>> = direct.iter().map(|&d| (d, None)).collect();
            for &d in direct.iter() {
                // Group chains are acyclic (CP0103) and at most `MAX_GROUP_DEPTH` long.
                let mut cur = p.groups[d as usize].parent;
                while let Some(x) = cur {
                    map.entry(x.0).or_insert(Some(d));
                    cur = p.groups[x.idx()].parent;
                }
            }
            map
        });
        map.get(&g)
            .copied()
            .flatten()
            .map(|d| p.groups[d as usize].name.clone())
    }

    /// Why the user holds code `code` (docs/data-formats.md §1.3): their id, a group (with the
    /// listed group it is reached through), a unit (with the listed unit it is the ancestor of)
    /// or, failing those, a term.
    fn code(&mut self, code: &str) -> CodeHeld {
        let held = |source, through| CodeHeld {
            code: code.to_string(),
            source,
            through,
        };
        if self.entities.user_id(self.user) == code {
            return held("user", None);
        }
        let user = self.on.user;
        if let Some(&g) = self.groups_by_name.get(code) {
            if user.groups.binary_search(&g).is_ok() {
                return held("group", self.group_through(g));
            }
        }
        let entities = self.entities;
        let units = self.units.get_or_insert_with(|| {
            let mut map: HashMap<u32, Option<u32>> = HashMap::new();
            for &d in user.direct_units.iter() {
                // Unit chains are acyclic and at most `MAX_UNIT_DEPTH` long (entities load).
                let mut cur = Some(d);
                while let Some(x) = cur {
                    map.entry(x).or_insert((x != d).then_some(d));
                    cur = entities.units[x as usize].parent;
                }
            }
            map
        });
        if let Some(&via) = entities.unit_index.get(code).and_then(|u| units.get(u)) {
            return held("unit", via.map(|d| entities.units[d as usize].id.clone()));
        }
        held("term", None)
    }
}

/// A group's scope in words: `all`, `assigned via assignee, collaborator`, or
/// `filter any of { … }` / `filter all of { … }` with the conditions as written.
fn scope_text(policy: &CompiledPolicy, g: u32) -> String {
    let p = policy.ir();
    match &p.groups[g as usize].scope {
        crate::ir::ScopeDef::All => "all".into(),
        crate::ir::ScopeDef::Assigned(rels) => format!(
            "assigned via {}",
            rels.iter()
                .map(|r| p.relations[r.idx()].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        crate::ir::ScopeDef::Filter(mode, conds) => format!(
            "filter {} {{ {} }}",
            mode.words(),
            conds
                .iter()
                .map(|c| policy.sources().snippet(c.span))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

// ---- by name --------------------------------------------------------------------------------

/// The queries by name, for applications and the command line: each resolves its names first
/// and fails closed on an unknown one.
///
/// ```
/// use casepol::Policy;
/// use casepol::query::Query;
///
/// let policy = Policy::from_source("p.casepol", r#"
///     role Clerk;
///     action view, edit;
///     group Clerks { grants Clerk; }
///     resource Note { allow Clerk: view; }
/// "#).unwrap();
/// let entities = policy.load_entities(r#"{
///     "users": [{"id": "ann", "groups": ["Clerks"]}, {"id": "bob"}],
///     "resources": [{"id": "n1", "kind": "Note"}, {"id": "n2", "kind": "Note"}]
/// }"#).unwrap();
/// let q = Query::new(&policy, &entities);
///
/// let who = q.who_can("view", "n1", None).unwrap();
/// assert_eq!(who.allowed.iter().map(|p| p.user.as_str()).collect::<Vec<_>>(), ["ann"]);
/// assert_eq!(q.allowed_actions("ann", "n1", None).unwrap(), ["view"]);
/// assert_eq!(q.list("ann", "view", None, None).unwrap().ids(), ["n1", "n2"]);
/// assert!(q.list("ann", "delete", None, None).is_err()); // unknown action: an error, not []
/// ```
///
/// Nothing outside this module takes ids, so none can be resolved against one policy or
/// entities file and used with another: the functions under `Query` are private,
///
/// ```compile_fail,E0603
/// let _ = casepol::query::actions;
/// ```
///
/// and a [`Listing`] or a [`Residual`] cannot be put together by hand.
///
/// ```compile_fail,E0451
/// # fn f(r: casepol::query::Residual) {
/// let forged = casepol::query::Residual { cond: casepol::query::Cond::True, ..r };
/// # }
/// ```
pub struct Query<'a> {
    policy: &'a CompiledPolicy,
    entities: &'a Entities,
    /// The context every question is asked in ([`Query::with_context`]).
    context: Option<serde_json::Map<String, serde_json::Value>>,
    /// The condition `list` and `filter` are asked with ([`Query::with_condition`]).
    condition: Option<&'a Condition>,
    /// The resources in id order, sorted at the first listing and shared by every listing after:
    /// the query's own, or a [`ListOrder`] it was given.
    index: Order<'a>,
}

enum Order<'a> {
    Own(OnceLock<Index>),
    Shared(&'a ListOrder),
}

/// The order `list` pages in (resources sorted by id), kept apart from a [`Query`] so that it is
/// sorted once for many queries of the same entities: an application that makes a `Query` per
/// request keeps one `ListOrder` next to each version of its entities and asks through
/// [`Query::with_order`]. It is sorted at the first listing, n log n in the resources.
///
/// A `ListOrder` belongs to the entities it was first used with: listing other entities through
/// it is the error `MismatchedEntities`, never a page of the wrong resources.
#[derive(Debug, Default)]
pub struct ListOrder {
    index: OnceLock<Index>,
}

impl ListOrder {
    /// An order not yet sorted.
    pub fn new() -> ListOrder {
        ListOrder::default()
    }
}

/// A resolved `list` request, ready to page through. It keeps the policy, the entities and the
/// order it was resolved against, so its pages always come from them.
pub struct Listing<'q> {
    policy: &'q CompiledPolicy,
    entities: &'q Entities,
    list: List,
    index: &'q Index,
}

impl Listing<'_> {
    /// Allowed resources after the cursor `after`, as positions in the entities
    /// ([`Entities::resource_id`] gives their ids), lazily: each step decides resources until one
    /// is allowed.
    ///
    /// The cursor `after` need not be the id of an existing resource: listing resumes at the
    /// first id that sorts after it, so a page boundary survives the deletion of its resource.
    pub fn iter<'s>(&'s self, after: Option<&str>) -> impl Iterator<Item = u32> + 's {
        self.list
            .clone()
            .iter(self.policy, self.entities, self.index, after)
    }

    /// One page of at most `limit` resources after the cursor `after`, and the cursor for the
    /// next page.
    pub fn page(&self, after: Option<&str>, limit: usize) -> Page {
        self.list
            .clone()
            .page(self.policy, self.entities, self.index, after, limit)
    }

    /// Every allowed resource id, in order.
    pub fn ids(&self) -> Vec<String> {
        self.iter(None)
            .map(|r| self.entities.resource_id(r).to_string())
            .collect()
    }
}

impl<'a> Query<'a> {
    /// The queries of `entities` under `policy`. Every query checks that the entities were
    /// loaded for this policy, and is an error when they were not.
    pub fn new(policy: &'a crate::Policy, entities: &'a Entities) -> Query<'a> {
        Query {
            policy: policy.compiled(),
            entities,
            context: None,
            condition: None,
            index: Order::Own(OnceLock::new()),
        }
    }

    /// [`Query::new`], listing in `order`: sorted by the first listing of any query given it,
    /// and reused by every later one. `order` must only ever be used with `entities`.
    pub fn with_order(
        policy: &'a crate::Policy,
        entities: &'a Entities,
        order: &'a ListOrder,
    ) -> Query<'a> {
        Query {
            policy: policy.compiled(),
            entities,
            context: None,
            condition: None,
            index: Order::Shared(order),
        }
    }

    /// The same queries, each asked in `context`: the request context (a value for every field
    /// the policy's `context { … }` declares) that rule conditions read. A policy that declares
    /// a context answers no question without one; one that declares none ignores it.
    pub fn with_context(
        mut self,
        context: serde_json::Map<String, serde_json::Value>,
    ) -> Query<'a> {
        self.context = Some(context);
        self
    }

    /// The same queries, with `list`, `residual` and `filter` asked with `condition`: they
    /// return or select only the resources the principal may act on and on which it holds
    /// (docs/queries.md, "Conditions"). `condition` must have been made with this query's
    /// policy; who-can and actions do not read it.
    pub fn with_condition(mut self, condition: &'a Condition) -> Query<'a> {
        self.condition = Some(condition);
        self
    }

    /// The question's context, and its condition compiled for the entities with the same
    /// strings.
    fn context_and_condition(&self) -> Result<(ResolvedContext, Option<Where>), RequestError> {
        match self.condition {
            None => Ok((self.context()?, None)),
            Some(c) => {
                let (w, context) = c.resolve(self.policy, self.entities, self.context.as_ref())?;
                Ok((context, Some(w)))
            }
        }
    }

    fn same_policy(&self) -> Result<(), RequestError> {
        same_policy(self.policy, self.entities)
    }

    /// The context of the questions, resolved: an error when the policy declares a context
    /// and it misses a field, has another, or none was given.
    fn context(&self) -> Result<ResolvedContext, RequestError> {
        resolve::context(
            self.policy,
            self.entities,
            self.context.as_ref(),
            Asker::Query,
        )
    }

    /// Who may perform `action` on `resource` through `module`.
    pub fn who_can(
        &self,
        action: &str,
        resource: &str,
        module: Option<&str>,
    ) -> Result<WhoCan, RequestError> {
        self.same_policy()?;
        let action = resolve::action(self.policy, action)?;
        let resource = resolve::resource(self.entities, resource)?;
        let module = resolve::module(self.policy, module, Asker::Query)?;
        let context = self.context()?;
        Ok(who_can(
            self.policy,
            self.entities,
            action,
            resource,
            module,
            &context,
        ))
    }

    /// Every action's decision for `principal` on `resource`, in the policy's action order.
    pub fn actions(
        &self,
        principal: &str,
        resource: &str,
        module: Option<&str>,
    ) -> Result<Vec<(String, Decision)>, RequestError> {
        self.same_policy()?;
        let principal = resolve::principal(self.policy, self.entities, principal)?;
        let resource = resolve::resource(self.entities, resource)?;
        let module = resolve::module(self.policy, module, Asker::Query)?;
        let context = self.context()?;
        let p = self.policy.ir();
        Ok(actions(
            self.policy,
            self.entities,
            principal,
            resource,
            module,
            &context,
        )
        .into_iter()
        .enumerate()
        .map(|(a, d)| (p.actions[a].name.clone(), d))
        .collect())
    }

    /// Every transition declared out of the current state of `resource`'s case, each with the
    /// decision for `principal` taking it (the request that names its action and target state):
    /// the workflow buttons of an application. Empty when the resource is in no case, or no
    /// transition leaves its state.
    pub fn transitions(
        &self,
        principal: &str,
        resource: &str,
        module: Option<&str>,
    ) -> Result<Vec<Move>, RequestError> {
        self.same_policy()?;
        let principal = resolve::principal(self.policy, self.entities, principal)?;
        let resource = resolve::resource(self.entities, resource)?;
        let module = resolve::module(self.policy, module, Asker::Query)?;
        let context = self.context()?;
        let p = self.policy.ir();
        let res = &self.entities.resources[resource as usize];
        let Some(anchor) = res.anchor.map(|a| &self.entities.resources[a as usize]) else {
            return Ok(Vec::new());
        };
        let ct = &p.casetypes[anchor.casetype as usize];
        Ok(transitions(
            self.policy,
            self.entities,
            principal,
            resource,
            module,
            &context,
        )
        .into_iter()
        .map(|(a, to, decision)| Move {
            action: p.actions[a as usize].name.clone(),
            from: ct.states[anchor.state as usize].name.clone(),
            to: ct.states[to as usize].name.clone(),
            decision,
        })
        .collect())
    }

    /// Why every action on `resource` is denied without a module (for `action`, or any action
    /// when `None`): the note of [`crate::decision::no_module_note`] when the resource's case
    /// type is reached through modules and `module` is `None`; otherwise `None`.
    pub fn module_note(
        &self,
        resource: &str,
        action: Option<&str>,
        module: Option<&str>,
    ) -> Result<Option<String>, RequestError> {
        self.same_policy()?;
        let resource = resolve::resource(self.entities, resource)?;
        let action = action
            .map(|a| resolve::action(self.policy, a))
            .transpose()?;
        let module = resolve::module(self.policy, module, Asker::Query)?;
        let res = &self.entities.resources[resource as usize];
        let anchor = res.anchor.map(|a| &self.entities.resources[a as usize]);
        Ok(anchor
            .filter(|a| module.is_none() && self.policy.uses_modules(a.casetype))
            .map(|a| {
                crate::decision::no_module_note(
                    self.policy.ir(),
                    a.casetype as usize,
                    action.map(|x| x as usize),
                )
            }))
    }

    /// Why `list` and `filter` leave out every case of some case types when asked without a
    /// module: one note ([`crate::decision::no_module_note`]) per case type reached through
    /// modules, in declaration order; none when `module` is given.
    pub fn module_notes(
        &self,
        action: &str,
        module: Option<&str>,
    ) -> Result<Vec<String>, RequestError> {
        self.same_policy()?;
        let action = resolve::action(self.policy, action)?;
        if resolve::module(self.policy, module, Asker::Query)?.is_some() {
            return Ok(Vec::new());
        }
        let p = self.policy.ir();
        Ok((0..p.casetypes.len())
            .filter(|&t| self.policy.uses_modules(t as u32))
            .map(|t| crate::decision::no_module_note(p, t, Some(action as usize)))
            .collect())
    }

    /// The names of the actions `principal` may perform on `resource`.
    pub fn allowed_actions(
        &self,
        principal: &str,
        resource: &str,
        module: Option<&str>,
    ) -> Result<Vec<String>, RequestError> {
        Ok(self
            .actions(principal, resource, module)?
            .into_iter()
            .filter(|(_, d)| d.allowed)
            .map(|(a, _)| a)
            .collect())
    }

    /// The resources (of `kind`, when given) that `principal` may perform `action` on. The
    /// first listing of a `Query` sorts the resources by id; later ones reuse that order.
    pub fn list(
        &self,
        principal: &str,
        action: &str,
        module: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Listing<'_>, RequestError> {
        self.same_policy()?;
        let principal = resolve::principal(self.policy, self.entities, principal)?;
        let action = resolve::action(self.policy, action)?;
        let module = resolve::module(self.policy, module, Asker::Query)?;
        let kind = kind.map(|k| resolve::kind(self.policy, k)).transpose()?;
        let (context, condition) = self.context_and_condition()?;
        let list = List {
            principal,
            action,
            module,
            kind,
            context,
            condition,
        };
        let cell = match &self.index {
            Order::Own(cell) => cell,
            Order::Shared(order) => &order.index,
        };
        let index = cell.get_or_init(|| Index::new(self.entities));
        // A query's own index orders its own entities (its fields are private and never
        // reassigned); a shared one may have been sorted for other entities.
        if index.entities != self.entities.stamp {
            return Err(RequestError::new(
                RequestErrorKind::MismatchedEntities,
                "the list order was sorted for other entities".into(),
                Some("keep one `ListOrder` for each version of the entities".into()),
            ));
        }
        Ok(Listing {
            policy: self.policy,
            entities: self.entities,
            list,
            index,
        })
    }

    /// The residual condition for `principal` doing `action` through `module` on an unknown
    /// resource.
    pub fn residual(
        &self,
        principal: &str,
        action: &str,
        module: Option<&str>,
    ) -> Result<Residual, RequestError> {
        self.same_policy()?;
        let principal = resolve::principal(self.policy, self.entities, principal)?;
        let action = resolve::action(self.policy, action)?;
        let module = resolve::module(self.policy, module, Asker::Query)?;
        let (context, condition) = self.context_and_condition()?;
        residual(
            self.policy,
            self.entities,
            principal,
            action,
            module,
            &context,
            condition.as_ref(),
        )
    }

    /// The residual compiled to a SQL `WHERE` clause with bound parameters.
    pub fn filter(
        &self,
        principal: &str,
        action: &str,
        module: Option<&str>,
        dialect: sql::Dialect,
    ) -> Result<sql::Filter, RequestError> {
        self.filter_page(principal, action, module, dialect, &sql::Page::default())
    }

    /// [`Query::filter`] for one page: the allowed ids after `page.after`, at most
    /// `page.limit`, in `list`'s order (keyset pagination, as `list` pages).
    pub fn filter_page(
        &self,
        principal: &str,
        action: &str,
        module: Option<&str>,
        dialect: sql::Dialect,
        page: &sql::Page,
    ) -> Result<sql::Filter, RequestError> {
        let r = self.residual(principal, action, module)?;
        sql::compile_residual(self.policy, &r, dialect, page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Layer, Reason};
    use crate::reference::tests::{read, reset, CODE_TESTS};
    use crate::Policy;
    use std::cell::Cell;

    thread_local! {
        /// Steps of who-can's report of the codes held: a code of a level looked up among the
        /// user's codes, or a code held compared with those already reported.
        pub(super) static HELD_STEPS: Cell<usize> = const { Cell::new(0) };
    }

    /// Why user `u` holds `code`, read literally (docs/data-formats.md §1.3), by scans: the
    /// code who-can had before it read each user's lists once.
    fn literal_source(p: &crate::ir::Policy, entities: &Entities, u: u32, code: &str) -> CodeHeld {
        let user = &entities.users[u as usize];
        let held = |source, through: Option<String>| CodeHeld {
            code: code.to_string(),
            source,
            through,
        };
        if entities.user_id(u) == code {
            return held("user", None);
        }
        if let Some(&g) = user
            .groups
            .iter()
            .find(|&&g| p.groups[g as usize].name == code)
        {
            if user.direct_groups.contains(&g) {
                return held("group", None);
            }
            let via = user.direct_groups.iter().find(|&&d| {
                let mut cur = p.groups[d as usize].parent;
                while let Some(x) = cur {
                    if x.0 == g {
                        return true;
                    }
                    cur = p.groups[x.idx()].parent;
                }
                false
            });
            return held("group", via.map(|&d| p.groups[d as usize].name.clone()));
        }
        for &d in user.direct_units.iter() {
            let mut cur = Some(d);
            while let Some(x) = cur {
                if entities.units[x as usize].id == code {
                    let via = (x != d).then(|| entities.units[d as usize].id.clone());
                    return held("unit", via);
                }
                cur = entities.units[x as usize].parent;
            }
        }
        held("term", None)
    }

    /// Who-can's answer for each allowed user equals a literal reading: the allow rules of the
    /// reference evaluator's trace, and for each level of the effective code the first code
    /// the trace marks held, listed once, with its source found by scans. Groups and units are
    /// listed out of order (an ancestor after its descendant, a descendant after its ancestor),
    /// and codes name users, groups, units and terms, so every source and `through` is met.
    #[test]
    fn who_can_agrees_with_a_literal_reading() {
        let policy = Policy::from_source(
            "who.casepol",
            "role R, S; action view, edit; codes { read: view; write: edit; } \
             group Top { grants R; } group Mid in Top { grants S; } group Low in Mid { } \
             group Other { grants R; } group Side in Other { } \
             resource Note { allow R: view, edit; allow S: view; deny S: edit; allow R, S: view; }",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let entities = policy
            .load_entities(
                r#"{"units": [{"id": "u-top"}, {"id": "u-mid", "parent": "u-top"},
                              {"id": "u-low", "parent": "u-mid"}, {"id": "u-far"}],
                    "users": [
                      {"id": "ann", "groups": ["Low", "Mid"], "units": ["u-low", "u-mid"], "terms": ["t1"]},
                      {"id": "bob", "groups": ["Mid", "Low", "Side"], "units": ["u-mid", "u-low"]},
                      {"id": "cid", "groups": ["Side", "Other"], "units": ["u-far"], "terms": ["t2"]},
                      {"id": "dan", "groups": ["Top"], "terms": ["t1", "t2"]},
                      {"id": "eve"}],
                    "resources": [
                      {"id": "n1", "kind": "Note",
                       "read": "ann|bob|cid|dan & Top|Other|t1 & [] & u-top|t1|Other & t1|u-mid|Mid|cid|t2 & Low|u-low|bob|Side|Top",
                       "write": "Mid|Side|t2 & u-top|u-far|dan"}]}"#,
            )
            .unwrap_or_else(|e| panic!("{e:?}"));
        let p = policy.compiled().ir();
        let q = Query::new(&policy, &entities);
        let mut checked = 0;
        for action in ["view", "edit"] {
            let who = q.who_can(action, "n1", None).expect("who-can answers");
            for permitted in &who.allowed {
                let u = *entities.user_index.get(&permitted.user).expect("a user");
                let trace = policy.explain(
                    &entities,
                    &crate::Request::new(&permitted.user, action, Some("n1")),
                );
                assert!(trace.decision.allowed, "{action} {}", permitted.user);
                let mut rules = Vec::new();
                let mut held: [Option<Vec<CodeHeld>>; 2] = [None, None];
                for layer in &trace.layers {
                    match &layer.detail {
                        crate::reference::Detail::Rules { allows, .. } => rules = allows.clone(),
                        crate::reference::Detail::Code { levels, .. } => {
                            let mut listed: Vec<CodeHeld> = Vec::new();
                            for l in levels {
                                if let Some(c) = l.codes.iter().find(|c| c.held) {
                                    if !listed.iter().any(|h| h.code == c.code) {
                                        listed.push(literal_source(p, &entities, u, &c.code));
                                    }
                                }
                            }
                            let slot = usize::from(layer.layer == Layer::WriteCode);
                            held[slot] = Some(listed);
                        }
                        _ => {}
                    }
                }
                assert_eq!(permitted.rules, rules, "{action} {}", permitted.user);
                assert_eq!(
                    permitted.read_codes_held, held[0],
                    "{action} {}",
                    permitted.user
                );
                assert_eq!(
                    permitted.write_codes_held, held[1],
                    "{action} {}",
                    permitted.user
                );
                checked += 1;
            }
        }
        // Every user but eve may view; ann, bob and cid hold S or meet no write code for edit.
        assert!(checked >= 5, "{checked} answers compared");
        let view = q.who_can("view", "n1", None).expect("who-can answers");
        let sources: Vec<(&str, Option<&str>)> = view
            .allowed
            .iter()
            .flat_map(|a| a.read_codes_held.iter().flatten())
            .map(|h| (h.source, h.through.as_deref()))
            .collect();
        for want in [
            ("user", None),
            ("group", None),
            ("group", Some("Low")),
            ("unit", None),
            ("unit", Some("u-low")),
            ("term", None),
        ] {
            assert!(sources.contains(&want), "no {want:?} in {sources:?}");
        }
    }

    /// A chain of 32 resources (`MAX_KIND_DEPTH`), each with a read code of 64 levels
    /// (`MAX_CODE_LEVELS`) of two codes, and 10 users who each hold the first code of every
    /// level: 2,048 levels, 4,096 codes, 2,048 codes held. For each user who-can reports the
    /// first code held in each level once, so its work beyond the decision grows with the
    /// levels: one look-up per level here, and one step to drop a code already reported. It
    /// used to explain each user in full (every code of the chain looked up) and drop repeats
    /// by a scan of the codes reported: 2,048 × 2,047 / 2 steps a user.
    #[test]
    fn who_can_does_per_user_work_in_the_levels_not_the_codes() {
        let depth = crate::limits::MAX_KIND_DEPTH;
        let levels = crate::limits::MAX_CODE_LEVELS;
        let users = 10;
        let mut text = String::from(
            "role R; action view; codes { read: view; } group G { grants R; } \
             case Case { allow R: view; } casetype T { states S; initial S; }\n",
        );
        let mut parent = "Case".to_string();
        for k in 1..depth {
            text.push_str(&format!(
                "resource K{k} under {parent} {{ inherit read; allow R: view; }}\n"
            ));
            parent = format!("K{k}");
        }
        let policy = Policy::from_source("deep.casepol", &text).unwrap_or_else(|e| panic!("{e}"));
        let code = |r: usize| {
            (0..levels)
                .map(|l| format!("R{r}L{l}A|R{r}L{l}B"))
                .collect::<Vec<_>>()
                .join(" & ")
        };
        let mut resources = vec![format!(
            r#"{{"id": "r0", "kind": "Case", "type": "T", "state": "S", "read": "{}"}}"#,
            code(0)
        )];
        for k in 1..depth {
            resources.push(format!(
                r#"{{"id": "r{k}", "kind": "K{k}", "parent": "r{}", "read": "{}"}}"#,
                k - 1,
                code(k)
            ));
        }
        let terms: Vec<String> = (0..depth)
            .flat_map(|r| (0..levels).map(move |l| format!(r#""R{r}L{l}A""#)))
            .collect();
        let people: Vec<String> = (0..users)
            .map(|u| {
                format!(
                    r#"{{"id": "u{u}", "groups": ["G"], "terms": [{}]}}"#,
                    terms.join(", ")
                )
            })
            .collect();
        let entities = policy
            .load_entities(&format!(
                r#"{{"users": [{}], "resources": [{}]}}"#,
                people.join(", "),
                resources.join(", ")
            ))
            .unwrap_or_else(|e| panic!("{e:?}"));
        reset(&HELD_STEPS);
        reset(&CODE_TESTS);
        let who = Query::new(&policy, &entities)
            .who_can("view", &format!("r{}", depth - 1), None)
            .expect("who-can answers");
        assert_eq!(who.allowed.len(), users);
        let held = who.allowed[0].read_codes_held.as_ref().map_or(0, Vec::len);
        assert_eq!(held, depth * levels, "each level's first code, once");
        let steps = read(&HELD_STEPS) + read(&CODE_TESTS);
        let bound = users * depth * levels * 2;
        assert!(
            steps <= bound,
            "{steps} steps for {users} users and {} levels, more than {bound}",
            depth * levels
        );
    }

    /// `actions` gives the VM's decision for every action even where the VM meets a type fault,
    /// so it fails closed as the VM does: an access-mode attribute that holds no variant the
    /// mode has a line for denies. The API refuses entities loaded for another policy (see
    /// `Resolved::belongs_to`), so the test forges the stamp that ties them, as the VM's own
    /// fault test does.
    #[test]
    fn actions_fail_closed_on_a_bad_access_mode_value() {
        let moded = Policy::from_source(
            "moded.casepol",
            "role R; action view, edit; group G { grants R; } enum L { open, shut } \
             case C { attr level: L; mode level { open: everyone; shut: everyone; } } \
             casetype T { states S; initial S; } allow R: view, edit;",
        )
        .expect("checks");
        // The mode's attribute holds an int, and a variant the mode has no line for.
        let int_level = Policy::from_source(
            "int.casepol",
            "role R; action view; group G { grants R; } case C { attr level: int; } \
             casetype T { states S; initial S; } allow R: view;",
        )
        .expect("checks");
        let third_variant = Policy::from_source(
            "third.casepol",
            "role R; action view; group G { grants R; } enum L { open, shut, ajar } \
             case C { attr level: L; } casetype T { states S; initial S; } allow R: view;",
        )
        .expect("checks");
        let mut checked = 0;
        for (loaded, level) in [(&int_level, "3"), (&third_variant, "\"ajar\"")] {
            let mut entities = loaded
                .load_entities(&format!(
                    r#"{{"users": [{{"id": "ann", "groups": ["G"]}}],
                        "resources": [{{"id": "c1", "kind": "C", "type": "T", "state": "S",
                                        "attrs": {{"level": {level}}}}}]}}"#
                ))
                .expect("loads");
            entities.policy_stamp = moded.compiled().stamp();
            let got = Query::new(&moded, &entities)
                .actions("ann", "c1", None)
                .expect("resolves");
            let restricted = Decision::deny(Layer::AccessMode, Reason::Restricted);
            assert_eq!(
                got,
                [
                    ("view".to_string(), restricted),
                    ("edit".to_string(), restricted)
                ],
                "level {level}"
            );
            for (action, d) in &got {
                let req = moded
                    .resolve(&entities, &crate::Request::new("ann", action, Some("c1")))
                    .expect("resolves");
                assert_eq!(
                    *d,
                    vm::decide(moded.compiled(), &entities, &req),
                    "{action}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 4);
    }
}

//! Access-change events: every (user, resource, action, module) whose decision a change set
//! changed, found by deciding before and after only where the changes can reach.
//!
//! What a change can reach follows from what a decision reads (docs/semantics.md): a resource's
//! own data, its ancestors' (the anchor case's type, state, attributes and relations, inherited
//! access codes), and the principal's groups, units and terms. So a change to a resource
//! reaches its subtree, for every user; a change to a user (or to a unit, which changes its
//! members' codes) reaches every resource and account permission, for that user; and adding or
//! removing a member of a relation reaches the case's subtree for that one user, since a
//! relation is only ever read as "does the principal hold it". Entities are matched by id, so
//! added and deleted ones count as denied where they are absent.

use super::changes::{Change, ChangeSet};
use super::store::{Store, Touched};
use super::ChangeSetError;
use crate::api::Policy;
use crate::entities::Entities;
use crate::limits;
use crate::request::{Request, Resolved, ResolvedContext};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One decision that a change set changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[non_exhaustive]
pub struct Event {
    /// The user whose access changed.
    pub user: String,
    /// The resource; `None` for an account permission.
    pub resource: Option<String>,
    /// The action or account permission.
    pub action: String,
    /// The module the request names; `None` for a request without one.
    pub module: Option<String>,
    /// `true` when the user may now, `false` when the user no longer may.
    pub gained: bool,
    /// The changes (numbered from 1 in the change set) that reached this decision.
    pub causes: Vec<usize>,
}

/// Events of one user, one direction and one cause, gathered for reading: "`anna` lost `view`
/// and `edit` on `case-17` and 12 resources under it".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct EventGroup {
    /// The user whose access changed.
    pub user: String,
    /// `true` when the user gained the actions, `false` when they lost them.
    pub gained: bool,
    /// The actions and permissions, sorted.
    pub actions: Vec<String>,
    /// The resources, sorted, without the account (permissions have none).
    pub resources: Vec<String>,
    /// The modules the events name, sorted; `None` for requests without one.
    pub modules: Vec<Option<String>>,
    /// The changes (numbered from 1) that caused the group's events.
    pub causes: Vec<usize>,
    /// How many events the group holds.
    pub events: usize,
}

/// Resource positions to their children, for finding subtrees.
fn children(e: &Entities) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); e.resources().len()];
    for (i, r) in e.resources().iter().enumerate() {
        if let Some(p) = r.parent {
            out[p as usize].push(i as u32);
        }
    }
    out
}

/// The ids of `root` and every resource under it in `e`.
fn subtree(e: &Entities, kids: &[Vec<u32>], root: &str, out: &mut BTreeSet<String>) {
    let Some(&at) = e.resource_index.get(root) else {
        return;
    };
    let mut stack = vec![at];
    while let Some(x) = stack.pop() {
        out.insert(e.resource_id(x).to_string());
        stack.extend(&kids[x as usize]);
    }
}

/// Whether unit `start` or an ancestor of it is in `units`.
fn under(e: &Entities, start: u32, units: &BTreeSet<String>) -> bool {
    let mut cur = Some(start);
    let mut steps = 0;
    while let Some(c) = cur {
        let u = &e.units()[c as usize];
        if units.contains(&u.id) || steps > limits::MAX_UNIT_DEPTH {
            return units.contains(&u.id);
        }
        cur = u.parent;
        steps += 1;
    }
    false
}

/// What the changes reach: each (user, resource) pair and each user's account, with the
/// changes that reach it.
#[derive(Default)]
struct Reach {
    pairs: BTreeMap<(String, String), BTreeSet<usize>>,
    accounts: BTreeMap<String, BTreeSet<usize>>,
}

fn reach(old: &Entities, new: &Entities, changes: &ChangeSet) -> Result<Reach, ChangeSetError> {
    let mut roots: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut users: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut members: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
    let mut units: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let id = |m: &Map<String, Value>| m.get("id").and_then(Value::as_str).map(str::to_string);
    for (i, c) in changes.changes.iter().enumerate() {
        let n = i + 1;
        match c {
            Change::UpsertUnit { unit } => {
                units
                    .entry(id(unit).unwrap_or_default())
                    .or_default()
                    .insert(n);
            }
            Change::DeleteUnit { id } => {
                units.entry(id.clone()).or_default().insert(n);
            }
            Change::UpsertUser { user } => {
                users
                    .entry(id(user).unwrap_or_default())
                    .or_default()
                    .insert(n);
            }
            Change::DeleteUser { id }
            | Change::AddGroup { user: id, .. }
            | Change::RemoveGroup { user: id, .. } => {
                users.entry(id.clone()).or_default().insert(n);
            }
            Change::UpsertResource { resource } => {
                roots
                    .entry(id(resource).unwrap_or_default())
                    .or_default()
                    .insert(n);
            }
            Change::DeleteResource { id: resource }
            | Change::SetState { resource, .. }
            | Change::SetAttr { resource, .. }
            | Change::SetCode { resource, .. }
            | Change::SetInherit { resource, .. }
            // A group's members are every user it may reach: the resource is a root.
            | Change::AddMemberGroup { resource, .. }
            | Change::RemoveMemberGroup { resource, .. } => {
                roots.entry(resource.clone()).or_default().insert(n);
            }
            Change::AddMember { resource, user, .. }
            | Change::RemoveMember { resource, user, .. } => {
                members
                    .entry((user.clone(), resource.clone()))
                    .or_default()
                    .insert(n);
            }
        }
    }
    // A unit change reaches the members of the unit and of the units under it, before and after.
    if !units.is_empty() {
        let ids: BTreeSet<String> = units.keys().cloned().collect();
        let all: BTreeSet<usize> = units.values().flatten().copied().collect();
        for e in [old, new] {
            for (i, u) in e.users().iter().enumerate() {
                if u.direct_units.iter().any(|&x| under(e, x, &ids)) {
                    let causes = users.entry(e.user_id(i as u32).to_string()).or_default();
                    causes.extend(&all);
                }
            }
        }
    }
    let kids = [children(old), children(new)];
    let mut all_users: BTreeSet<&str> = old.user_ids().collect();
    all_users.extend(new.user_ids());
    let mut all_resources: BTreeSet<&str> = old.resource_ids().collect();
    all_resources.extend(new.resource_ids());
    // Count the decisions before making any of them.
    let mut out = Reach::default();
    let mut trees: Vec<(BTreeSet<String>, &BTreeSet<usize>)> = Vec::new();
    let mut count = users.len().saturating_mul(all_resources.len());
    for (root, causes) in &roots {
        let mut tree = BTreeSet::new();
        subtree(old, &kids[0], root, &mut tree);
        subtree(new, &kids[1], root, &mut tree);
        count = count.saturating_add(tree.len().saturating_mul(all_users.len()));
        trees.push((tree, causes));
    }
    let mut pair_trees = Vec::new();
    for ((user, root), causes) in &members {
        let mut tree = BTreeSet::new();
        subtree(old, &kids[0], root, &mut tree);
        subtree(new, &kids[1], root, &mut tree);
        count = count.saturating_add(tree.len());
        pair_trees.push((user, tree, causes));
    }
    if count > limits::MAX_EVENT_PAIRS {
        return Err(reach_error(count));
    }
    for (tree, causes) in trees {
        for r in tree {
            for &u in &all_users {
                let at = out.pairs.entry((u.to_string(), r.clone())).or_default();
                at.extend(causes);
            }
        }
    }
    for (user, tree, causes) in pair_trees {
        for r in tree {
            out.pairs
                .entry((user.clone(), r))
                .or_default()
                .extend(causes);
        }
    }
    for (user, causes) in users {
        for &r in &all_resources {
            let at = out.pairs.entry((user.clone(), r.to_string())).or_default();
            at.extend(&causes);
        }
        out.accounts.insert(user, causes);
    }
    Ok(out)
}

/// Every decision the change set changed from `old` to `new`, sorted by user, resource, action
/// and module.
pub(super) fn events(
    policy: &Policy,
    old: &Entities,
    new: &Entities,
    changes: &ChangeSet,
) -> Result<Vec<Event>, ChangeSetError> {
    let reach = reach(old, new, changes)?;
    let p = policy.compiled().ir();
    let mut modules: Vec<Option<&str>> = vec![None];
    modules.extend(p.modules.iter().map(|m| Some(m.name.as_str())));
    let decide = |e: &Entities, u: &str, a: &str, r: Option<&str>, m: Option<&str>| {
        // Absent entities are denied.
        if e.user_index.get(u).is_none() || r.is_some_and(|r| e.resource_index.get(r).is_none()) {
            return false;
        }
        let mut req = Request::new(u, a, r);
        req.module = m.map(str::to_string);
        // In no context, as the events in place are decided.
        match crate::resolve::resolve_names(policy.compiled(), e, &req) {
            Ok(resolved) => policy.decide(e, &resolved).allowed,
            Err(_) => false,
        }
    };
    let mut out = Vec::new();
    let mut push =
        |u: &str, r: Option<&str>, a: &str, m: Option<&str>, gained, causes: &BTreeSet<usize>| {
            out.push(Event {
                user: u.to_string(),
                resource: r.map(str::to_string),
                action: a.to_string(),
                module: m.map(str::to_string),
                gained,
                causes: causes.iter().copied().collect(),
            })
        };
    for ((u, r), causes) in &reach.pairs {
        for a in &p.actions {
            for &m in &modules {
                let before = decide(old, u, &a.name, Some(r), m);
                let after = decide(new, u, &a.name, Some(r), m);
                if before != after {
                    push(u, Some(r), &a.name, m, after, causes);
                }
            }
        }
    }
    for (u, causes) in &reach.accounts {
        for perm in &p.permissions {
            let before = decide(old, u, &perm.name, None, None);
            let after = decide(new, u, &perm.name, None, None);
            if before != after {
                push(u, None, &perm.name, None, after, causes);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The events gathered by user, direction and causes, in the order of their first event.
pub fn group(events: &[Event]) -> Vec<EventGroup> {
    let mut groups: Vec<EventGroup> = Vec::new();
    let mut at: HashMap<(&str, bool, &[usize]), usize> = HashMap::new();
    for e in events {
        let key = (e.user.as_str(), e.gained, e.causes.as_slice());
        let i = *at.entry(key).or_insert_with(|| {
            groups.push(EventGroup {
                user: e.user.clone(),
                gained: e.gained,
                actions: Vec::new(),
                resources: Vec::new(),
                modules: Vec::new(),
                causes: e.causes.clone(),
                events: 0,
            });
            groups.len() - 1
        });
        let g = &mut groups[i];
        g.events += 1;
        g.actions.push(e.action.clone());
        g.resources.extend(e.resource.clone());
        g.modules.push(e.module.clone());
    }
    for g in &mut groups {
        for list in [&mut g.actions, &mut g.resources] {
            list.sort();
            list.dedup();
        }
        g.modules.sort();
        g.modules.dedup();
    }
    groups
}

/// The events of a change set applied in place ([`super::store`]): the same decisions compared
/// as [`events`] compares, by position (in-place changes add, delete and move nothing, so a
/// position names the same entity on both sides), and only for the users a change to a
/// resource can reach there: those some group admits without a relation, and the members of
/// the relations of the anchor cases under the change, before and after. Every other user is
/// out of scope on both sides (docs/semantics.md, "Groups in scope"), so their decisions did
/// not change; the property test holds this against deciding every user everywhere.
pub(super) fn in_place(
    policy: &Policy,
    old: (&Entities, &Store),
    new: (&Entities, &Store),
    touched: &Touched,
) -> Result<Vec<Event>, ChangeSetError> {
    let compiled = policy.compiled();
    let p = compiled.ir();
    let (e0, s0) = old;
    let (e1, s1) = new;
    let below = |st: &Store, root: u32| {
        let mut out = vec![root];
        let mut k = 0;
        while let Some(&x) = out.get(k) {
            out.extend(st.children[x as usize].iter().copied());
            k += 1;
        }
        out
    };
    // A change reaches everything under the resource, after the change set and, where a
    // resource moved under another parent, before it too (positions are kept then).
    let subtree = |root: u32| {
        let mut out = below(s1, root);
        if touched.reparented && root < touched.old_resources {
            out.extend(below(s0, root));
            out.sort_unstable();
            out.dedup();
        }
        out
    };
    let mut pairs: BTreeMap<(u32, u32), BTreeSet<usize>> = BTreeMap::new();
    let mut accounts: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    let mut count = 0usize;
    let too_many = |count: usize| count > limits::MAX_EVENT_PAIRS;
    for (&root, causes) in &touched.resources {
        let tree = subtree(root);
        let mut who: BTreeSet<u32> = s0.open.iter().chain(s1.open.iter()).copied().collect();
        for &r in &tree {
            // A resource added by the change set is in the new entities only.
            let sides = [(e0, touched.old_position(r)), (e1, Some(r))];
            for (e, at) in sides {
                if let Some(a) = at.and_then(|at| e.resources.get(at as usize)?.anchor) {
                    for list in e.resources[a as usize].relations.iter() {
                        who.extend(list.iter().copied());
                    }
                }
            }
        }
        count = count.saturating_add(tree.len().saturating_mul(who.len()));
        if too_many(count) {
            return Err(reach_error(count));
        }
        for &r in &tree {
            for &u in &who {
                pairs.entry((u, r)).or_default().extend(causes);
            }
        }
    }
    for (&(case, u), causes) in &touched.members {
        let tree = subtree(case);
        count = count.saturating_add(tree.len());
        if too_many(count) {
            return Err(reach_error(count));
        }
        for r in tree {
            pairs.entry((u, r)).or_default().extend(causes);
        }
    }
    for (&u, causes) in &touched.users {
        // A user whom no group admits without a relation, before or after, can only be in
        // scope where they hold a relation on the anchor case.
        let open = s0.open.contains(&u) || s1.open.contains(&u);
        let holds = |e: &Entities, r: u32| {
            let anchor = e.resources.get(r as usize).and_then(|x| x.anchor);
            anchor.is_some_and(|a| {
                let lists = &e.resources[a as usize].relations;
                lists.iter().any(|l| l.binary_search(&u).is_ok())
            })
        };
        let before = |r: u32| touched.old_position(r).is_some_and(|r| holds(e0, r));
        let reached: Vec<u32> = (0..e1.resources.len() as u32)
            .filter(|&r| open || before(r) || holds(e1, r))
            .collect();
        count = count.saturating_add(reached.len());
        if too_many(count) {
            return Err(reach_error(count));
        }
        for r in reached {
            pairs.entry((u, r)).or_default().extend(causes);
        }
        accounts.entry(u).or_default().extend(causes);
    }
    let gone = deleted_pairs(e0, (s0, s1), touched, count).map_err(reach_error)?;
    let mut modules: Vec<Option<u32>> = vec![None];
    modules.extend((0..p.modules.len() as u32).map(Some));
    // An entity the change set added is absent before, and absent counts as denied.
    let decide = |e: &Entities, req: Resolved| {
        let (user, resource) = match req {
            Resolved::Action {
                principal,
                resource,
                ..
            } => (principal, Some(resource)),
            Resolved::Permission { principal, .. } => (principal, None),
        };
        (user as usize) < e.users.len()
            && resource.is_none_or(|r| (r as usize) < e.resources.len())
            && policy.decide(e, &req).allowed
    };
    let mut out = Vec::new();
    // Each pair with the resource's position on each side; `None` where it is absent.
    let sides = pairs
        .iter()
        .map(|(&(u, r), c)| (u, touched.old_position(r), Some(r), c))
        .chain(gone.iter().map(|(&(u, r), c)| (u, Some(r), None, c)));
    for (u, r0, r1, causes) in sides {
        for action in 0..p.actions.len() as u32 {
            for &module in &modules {
                // Events are decided without a context: a condition that reads one fails
                // closed (docs/data-formats.md §4).
                let ask = |e: &Entities, r: u32| Resolved::Action {
                    principal: u,
                    action,
                    resource: r,
                    module,
                    target: None,
                    context: ResolvedContext::default(),
                    entities: e.stamp,
                };
                let before = r0.is_some_and(|r| decide(e0, ask(e0, r)));
                let after = r1.is_some_and(|r| decide(e1, ask(e1, r)));
                if before != after {
                    let (e, r) = match r1 {
                        Some(r) => (e1, r),
                        None => (e0, r0.unwrap_or_default()),
                    };
                    out.push(Event {
                        user: e1.user_id(u).to_string(),
                        resource: Some(e.resource_id(r).to_string()),
                        action: p.actions[action as usize].name.clone(),
                        module: module.map(|m| p.modules[m as usize].name.clone()),
                        gained: after,
                        causes: causes.iter().copied().collect(),
                    });
                }
            }
        }
    }
    for (&u, causes) in &accounts {
        for permission in 0..p.permissions.len() as u32 {
            let ask = |e: &Entities| Resolved::Permission {
                principal: u,
                permission,
                entities: e.stamp,
            };
            let (before, after) = (decide(e0, ask(e0)), decide(e1, ask(e1)));
            if before != after {
                out.push(Event {
                    user: e1.user_id(u).to_string(),
                    resource: None,
                    action: p.permissions[permission as usize].name.clone(),
                    module: None,
                    gained: after,
                    causes: causes.iter().copied().collect(),
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The change set reaches more pairs than a change set may.
fn reach_error(count: usize) -> ChangeSetError {
    ChangeSetError::one(
        None,
        format!(
            "the change set reaches {} (user, resource) pairs, more than the limit of {}",
            crate::diagnostic::words::thousands(count),
            crate::diagnostic::words::thousands(limits::MAX_EVENT_PAIRS)
        ),
        "split it into smaller change sets",
    )
}

/// The (user, old position) pairs of the resources a change set deleted in place, each with the
/// changes that reach it, as reloading would find them: the changes to the resource and to
/// every resource above it in the old entities (whose subtree it was in), the relation members
/// changed on those, and the user changes of a user who could be in scope on it. `Err` with
/// the count of pairs once `before` and these pass [`limits::MAX_EVENT_PAIRS`].
fn deleted_pairs(
    e0: &Entities,
    (s0, s1): (&Store, &Store),
    touched: &Touched,
    before: usize,
) -> Result<BTreeMap<(u32, u32), BTreeSet<usize>>, usize> {
    let mut out: BTreeMap<(u32, u32), BTreeSet<usize>> = BTreeMap::new();
    if touched.deleted.is_empty() {
        return Ok(out);
    }
    // Old positions to new, for the resources that moved.
    let moved: BTreeMap<u32, u32> = touched
        .moved
        .iter()
        .filter_map(|(&new, &old)| Some((old?, new)))
        .collect();
    let new_position = |old: u32| match touched.deleted.contains_key(&old) {
        true => None,
        false => Some(moved.get(&old).copied().unwrap_or(old)),
    };
    for &d in touched.deleted.keys() {
        let mut all: BTreeSet<usize> = BTreeSet::new();
        let mut by_user: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
        let mut at = Some(d);
        let mut steps = 0;
        while let (Some(x), true) = (at, steps <= limits::MAX_KIND_DEPTH) {
            if let Some(gone) = touched.deleted.get(&x) {
                all.extend(&gone.causes);
                for (&u, c) in &gone.members {
                    by_user.entry(u).or_default().extend(c);
                }
            } else if let Some(nx) = new_position(x) {
                all.extend(touched.resources.get(&nx).into_iter().flatten());
                for (&(_, u), c) in touched.members.range((nx, 0)..=(nx, u32::MAX)) {
                    by_user.entry(u).or_default().extend(c);
                }
            }
            at = e0.resources[x as usize].parent;
            steps += 1;
        }
        let holds = |u: u32| {
            e0.resources[d as usize].anchor.is_some_and(|a| {
                let lists = &e0.resources[a as usize].relations;
                lists.iter().any(|l| l.binary_search(&u).is_ok())
            })
        };
        let mut who: BTreeSet<u32> = s0.open.iter().chain(s1.open.iter()).copied().collect();
        if let Some(a) = e0.resources[d as usize].anchor {
            for list in e0.resources[a as usize].relations.iter() {
                who.extend(list.iter().copied());
            }
        }
        who.extend(by_user.keys());
        for &u in &who {
            let at = out.entry((u, d)).or_default();
            at.extend(&all);
            at.extend(by_user.get(&u).into_iter().flatten());
            // A user change reaches the deleted resource where the user could be in scope.
            if let Some(causes) = touched.users.get(&u) {
                if s0.open.contains(&u) || s1.open.contains(&u) || holds(u) {
                    at.extend(causes);
                }
            }
        }
        let count = before.saturating_add(out.len());
        if count > limits::MAX_EVENT_PAIRS {
            return Err(count);
        }
    }
    Ok(out)
}

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
//!
//! In place, the users whom a group admits without a relation are decided by class
//! ([`Classes`]): users who share what a decision reads of a principal, named nowhere on what
//! the changes reach, are decided once, and their events share one list of users ([`Events`]).

use super::changes::{Change, ChangeSet};
use super::store::{Store, Touched};
use super::ChangeSetError;
use crate::api::Policy;
use crate::entities::AttrValue;
use crate::entities::Entities;
use crate::limits;
use crate::request::{Request, Resolved, ResolvedContext};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

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

/// Users whom some group admits without a relation (`Store::open`), in classes: two users of a
/// class have the same groups, the same codes but their own id, the same attributes, and
/// neither names itself in an attribute. On a resource that names neither of them (in a
/// relation of its anchor case, in an attribute of it or of its anchor, or by id in an access
/// code of it or above it), a decision reads nothing else of the principal (`vm.rs`: the groups
/// for permissions, scope and roles, the codes for access codes, the attributes and the
/// principal's identity for filters and conditions), so it is the same for every user of the
/// class. Made once for a version of the users and kept while none changes.
pub(super) struct Classes {
    /// Each class's users, sorted; classes in the order of their first user.
    lists: Vec<Arc<[u32]>>,
    /// Each user's class, by position; [`NO_CLASS`] for a user in none.
    of: Vec<u32>,
}

/// The class of a user in no class.
const NO_CLASS: u32 = u32::MAX;

/// What a decision reads of a user named nowhere on the resources it is about: the key of a
/// class. The codes are those the resources' access codes can name (`None`: all of them, for
/// the classes kept with a version); a user's own id is never among them, since a resource
/// whose code names a user's id names that user.
#[derive(PartialEq, Eq, Hash)]
struct Key {
    groups: Vec<u32>,
    codes: Vec<u32>,
    attrs: Option<Box<[AttrValue]>>,
    self_named: bool,
}

impl Key {
    fn of(e: &Entities, st: &Store, u: u32, alphabet: Option<&BTreeSet<u32>>) -> Key {
        let user = &e.users[u as usize];
        let id = st.symbol(e.user_id(u));
        let codes = user.codes.iter().copied();
        let codes = codes.filter(|&c| Some(c) != id && alphabet.is_none_or(|a| a.contains(&c)));
        let attrs = e.user_attrs.get(u as usize).cloned();
        let self_named = attrs
            .as_ref()
            .is_some_and(|a| a.contains(&AttrValue::User(u)));
        Key {
            groups: user.groups.to_vec(),
            codes: codes.collect(),
            attrs,
            self_named,
        }
    }
}

impl Classes {
    /// The classes of the open users of `e`. Linear in them.
    pub(super) fn new(e: &Entities, st: &Store) -> Classes {
        let mut by: HashMap<Key, Vec<u32>> = HashMap::new();
        for &u in st.open.iter() {
            by.entry(Key::of(e, st, u, None)).or_default().push(u);
        }
        let mut lists: Vec<Arc<[u32]>> = by.into_values().map(Arc::from).collect();
        lists.sort_unstable_by_key(|l| l.first().copied());
        let mut of = vec![NO_CLASS; e.users.len()];
        for (c, l) in lists.iter().enumerate() {
            for &u in l.iter() {
                of[u as usize] = c as u32;
            }
        }
        Classes { lists, of }
    }
}

/// A resource the changes reach, by its position before and after (`None` where it is absent),
/// with the changes that reach it.
type Reached = (Option<u32>, Option<u32>, Arc<[usize]>);

/// One decision that changed the same way for every user of a class: the class's lists of
/// users, shared (never copied) by every event of the class, less the users computed one by
/// one ([`Grouped::alone`]).
struct ClassEvent {
    users: Arc<[Arc<[u32]>]>,
    /// How many users the event stands for.
    size: usize,
    /// The resource's position before and after the change set; `None` where it is absent.
    resource: (Option<u32>, Option<u32>),
    action: u32,
    module: Option<u32>,
    gained: bool,
    causes: Arc<[usize]>,
}

/// The events of a change set applied in place, as computed: those of users computed one by one,
/// and those of classes of users, each standing for its users' events.
pub(super) struct Grouped {
    single: Vec<Event>,
    classes: Vec<ClassEvent>,
    /// The users computed one by one, sorted: not in the events of their class.
    alone: Arc<[u32]>,
    actions: Vec<String>,
    modules: Vec<String>,
}

/// Every event of a change set: what [`super::apply`] returns. Read as a slice of [`Event`]s,
/// sorted (one for each user), which is made on the first reading: the events of a change set
/// applied in place are computed for classes of users at once (a class of users whose decisions
/// on what the change set reaches are necessarily the same, decided once), and
/// [`Events::len`] counts them without making the list.
#[derive(Clone, Default)]
pub struct Events {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    grouped: Option<(Grouped, Arc<Entities>, Arc<Entities>)>,
    flat: OnceLock<Vec<Event>>,
}

impl Events {
    /// Events already listed one by one.
    pub(super) fn listed(events: Vec<Event>) -> Events {
        Events {
            inner: Arc::new(Inner {
                grouped: None,
                flat: OnceLock::from(events),
            }),
        }
    }

    /// Events computed in place, read through the old and the new entities.
    pub(super) fn grouped(g: Grouped, old: Arc<Entities>, new: Arc<Entities>) -> Events {
        Events {
            inner: Arc::new(Inner {
                grouped: Some((g, old, new)),
                flat: OnceLock::new(),
            }),
        }
    }

    /// How many events there are, one for each user, without listing them.
    pub fn len(&self) -> usize {
        match &self.inner.grouped {
            Some((g, _, _)) => g.single.len() + g.classes.iter().map(|c| c.size).sum::<usize>(),
            None => self.inner.flat.get().map_or(0, Vec::len),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How the events were computed: (events computed for a class of users, the most users
    /// one of them stands for). For the tests that make sure classes are reached.
    #[doc(hidden)]
    pub fn class_stats(&self) -> (usize, usize) {
        match &self.inner.grouped {
            Some((g, _, _)) => (
                g.classes.len(),
                g.classes.iter().map(|c| c.size).max().unwrap_or(0),
            ),
            None => (0, 0),
        }
    }

    /// The events one by one, sorted by user, resource, action and module.
    pub fn as_slice(&self) -> &[Event] {
        self.inner.flat.get_or_init(|| match &self.inner.grouped {
            Some((g, old, new)) => expand(g, old, new),
            None => Vec::new(),
        })
    }
}

/// The events of `g` one by one, sorted.
fn expand(g: &Grouped, old: &Entities, new: &Entities) -> Vec<Event> {
    let mut out = g.single.clone();
    for c in &g.classes {
        let resource = match c.resource {
            (_, Some(r)) => new.resource_id(r),
            (Some(r), None) => old.resource_id(r),
            (None, None) => continue,
        };
        let causes: Vec<usize> = c.causes.to_vec();
        for list in c.users.iter() {
            for &u in list.iter() {
                if g.alone.binary_search(&u).is_ok() {
                    continue;
                }
                out.push(Event {
                    user: new.user_id(u).to_string(),
                    resource: Some(resource.to_string()),
                    action: g.actions[c.action as usize].clone(),
                    module: c.module.map(|m| g.modules[m as usize].clone()),
                    gained: c.gained,
                    causes: causes.clone(),
                });
            }
        }
    }
    out.sort();
    out
}

impl std::ops::Deref for Events {
    type Target = [Event];
    fn deref(&self) -> &[Event] {
        self.as_slice()
    }
}

impl PartialEq for Events {
    fn eq(&self, other: &Events) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = std::slice::Iter<'a, Event>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// The events of a change set applied in place ([`super::store`]): the same decisions compared
/// as [`events`] compares, by position (a resource that moved or was deleted is followed by
/// `touched`), and only for the users a change to a resource can reach there: those some group
/// admits without a relation, and those who hold a relation on the resources under the change
/// (listed, or members of a listed group, in the relations of their anchor cases and of the
/// resources of kinds with relations above them), before and after. Every other user is out of
/// scope on both sides (docs/semantics.md, "Groups in scope"), so their decisions did not
/// change; the property test holds this against deciding every user everywhere.
///
/// Users whom nothing the changes reach names are decided by class ([`Classes`]): one user of
/// the class before and after, for every user of it. The others (those the changes touched,
/// those named in a relation, an attribute or an access code of a reached resource) are
/// decided one by one. With `by_class` false, every user is (the way before classes, for the
/// benchmarks).
pub(super) fn in_place(
    policy: &Policy,
    old: (&Entities, &Store),
    new: (&Entities, &Store),
    touched: &Touched,
    by_class: bool,
) -> Result<Grouped, ChangeSetError> {
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
    // Old positions to new, for the resources that moved; `None` for one deleted.
    let moved_to: BTreeMap<u32, u32> = (touched.moved.iter())
        .filter_map(|(&new, &old)| Some((old?, new)))
        .collect();
    let new_position = |old: u32| match touched.deleted.contains_key(&old) {
        true => None,
        false => Some(moved_to.get(&old).copied().unwrap_or(old)),
    };
    // A change reaches everything under the resource, after the change set and, where a
    // resource moved under another parent, before it too: what was under it then, at its new
    // positions (the resources deleted are reached apart, `deleted_pairs`).
    let subtree = |root: u32| {
        let mut out = below(s1, root);
        if let (true, Some(old)) = (touched.reparented, touched.old_position(root)) {
            out.extend(below(s0, old).into_iter().filter_map(new_position));
            out.sort_unstable();
            out.dedup();
        }
        out
    };
    // Open before or after: only a user the change set touched can be one and not the other.
    let is_open = |u: u32| s0.open.contains(&u) || s1.open.contains(&u);
    let open_count = s0.open.len()
        + (touched.users.keys())
            .filter(|&&u| s1.open.contains(&u) && !s0.open.contains(&u))
            .count();
    // The users named on what the changes reach, the codes its access codes name, and what
    // each reached resource's open users are reached by.
    let mut named: BTreeSet<u32> = touched.users.keys().copied().collect();
    // Without classes (the way before them, for the benchmarks), every user is decided alone.
    if !by_class {
        named.extend(s0.open.iter().chain(s1.open.iter()).copied());
    }
    named.extend(touched.members.keys().map(|&(_, u)| u));
    let mut alphabet: BTreeSet<u32> = BTreeSet::new();
    let mut note = |e: &Entities, r: u32, named: &mut BTreeSet<u32>| {
        let mut at = Some(r);
        let mut steps = 0;
        while let (Some(x), true) = (at, steps <= limits::MAX_KIND_DEPTH) {
            let res = &e.resources[x as usize];
            for level in res.own_read.iter().chain(res.own_write.iter()) {
                alphabet.extend(level.iter().copied());
            }
            for v in res.attrs.iter() {
                if let AttrValue::User(u) = v {
                    named.insert(*u);
                }
            }
            // The relations of every resource up the chain: the anchor case's, and those of
            // resource kinds.
            for list in res.relations.iter() {
                named.extend(crate::entities::member_users(list).iter().copied());
            }
            at = res.parent;
            steps += 1;
        }
    };
    let mut reached: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    let mut trees: Vec<(Vec<u32>, BTreeSet<u32>, &Vec<usize>)> = Vec::new();
    let mut count = 0usize;
    let too_many = |count: usize| count > limits::MAX_EVENT_PAIRS;
    // A resource deleted once what was under it had moved away: its changes reach what was
    // under it before the change set (its subtree then, as reloading reads it), at the new
    // positions; the rest of the old subtree is the resource itself, reached apart
    // (`deleted_pairs`).
    let moved_from_deleted: Vec<(Vec<u32>, &super::store::Deleted)> = match touched.reparented {
        false => Vec::new(),
        true => (touched.deleted.iter())
            .map(|(&d, gone)| {
                let under = below(s0, d).into_iter().skip(1);
                (under.filter_map(new_position).collect::<Vec<u32>>(), gone)
            })
            .filter(|(under, _)| !under.is_empty())
            .collect(),
    };
    let roots = (touched.resources.iter())
        .map(|(&root, causes)| (subtree(root), causes))
        .chain(
            moved_from_deleted
                .iter()
                .map(|(under, gone)| (under.clone(), &gone.causes)),
        );
    for (tree, causes) in roots {
        let mut members: BTreeSet<u32> = BTreeSet::new();
        // The groups listed in the relations up the chains, on each side.
        let mut listed: [BTreeSet<u32>; 2] = Default::default();
        for &r in &tree {
            // A resource added by the change set is in the new entities only.
            let sides = [(e0, touched.old_position(r)), (e1, Some(r))];
            for (side, (e, at)) in sides.into_iter().enumerate() {
                if let Some(at) = at {
                    for list in chain_lists(e, at) {
                        members.extend(crate::entities::member_users(list).iter().copied());
                        listed[side].extend(crate::entities::member_groups(list));
                    }
                    note(e, at, &mut named);
                }
            }
            reached.entry(r).or_default().extend(causes);
        }
        // The members of a listed group hold the relation: those no group admits without a
        // relation are decided one by one (the others are decided with their class, whose
        // users share their groups).
        for (side, (e, st)) in [(e0, s0), (e1, s1)].into_iter().enumerate() {
            for &g in &listed[side] {
                members.extend(st.closed_in(e, g).iter().copied());
            }
        }
        let who = open_count + members.iter().filter(|&&u| !is_open(u)).count();
        count = count.saturating_add(tree.len().saturating_mul(who));
        if too_many(count) {
            return Err(reach_error(count));
        }
        trees.push((tree, members, causes));
    }
    for (&d, gone) in &touched.deleted {
        note(e0, d, &mut named);
        named.extend(gone.members.keys());
    }
    // A user whose id an access code names is named there.
    for &c in &alphabet {
        if let Some(&u) = e1
            .symbols
            .get(c as usize)
            .and_then(|s| e1.user_index.get(s))
        {
            named.insert(u);
        }
    }
    let mut pairs: BTreeMap<(u32, u32), BTreeSet<usize>> = BTreeMap::new();
    let mut accounts: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    for (tree, members, causes) in &trees {
        let alone = named.iter().filter(|&&u| is_open(u));
        let who: BTreeSet<u32> = members.iter().copied().chain(alone.copied()).collect();
        for &r in tree {
            for &u in &who {
                pairs.entry((u, r)).or_default().extend(causes.iter());
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
    for (under, gone) in &moved_from_deleted {
        for (&u, causes) in &gone.members {
            count = count.saturating_add(under.len());
            if too_many(count) {
                return Err(reach_error(count));
            }
            for &r in under {
                pairs.entry((u, r)).or_default().extend(causes);
            }
        }
    }
    for (&u, causes) in &touched.users {
        // A user whom no group admits without a relation, before or after, can only be in
        // scope where they hold a relation (listed, or through a listed group).
        let open = is_open(u);
        let before = |r: u32| touched.old_position(r).is_some_and(|r| holds(e0, u, r));
        // Everywhere for an open user; otherwise the resources that name the user, or list a
        // group of theirs, before and after (the stores' lists), and what is under them.
        let reached: Vec<u32> = match open {
            true => (0..e1.resources.len() as u32).collect(),
            false => {
                let listing = |e: &Entities, st: &Store| {
                    let named =
                        (st.member_of.get(u as usize).into_iter()).flat_map(|l| l.iter().copied());
                    let groups = e.users.get(u as usize).map_or(&[][..], |x| &x.groups[..]);
                    let listing = groups
                        .iter()
                        .filter_map(|&g| st.group_cases.get(g as usize))
                        .flat_map(|set| set.iter().copied());
                    named.chain(listing).collect::<Vec<u32>>()
                };
                let roots = (listing(e0, s0).into_iter().filter_map(new_position))
                    .chain(listing(e1, s1))
                    .collect::<BTreeSet<u32>>();
                let mut out: Vec<u32> = roots.into_iter().flat_map(subtree).collect();
                out.sort_unstable();
                out.dedup();
                out.retain(|&r| before(r) || holds(e1, u, r));
                out
            }
        };
        count = count.saturating_add(reached.len());
        if too_many(count) {
            return Err(reach_error(count));
        }
        for r in reached {
            pairs.entry((u, r)).or_default().extend(causes);
        }
        accounts.entry(u).or_default().extend(causes);
    }
    let open_named: Vec<u32> = named.iter().copied().filter(|&u| is_open(u)).collect();
    let (gone, gone_all) =
        deleted_pairs(old, (&open_named, open_count), touched, count).map_err(reach_error)?;
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
        // A user the change set deleted is absent after it (`Touched::before_deleting`).
        let deleted = std::ptr::eq(e, e1) && touched.deleted_users.contains(&user);
        !deleted
            && (user as usize) < e.users.len()
            && resource.is_none_or(|r| (r as usize) < e.resources.len())
            && policy.decide(e, &req).allowed
    };
    // Each action through each module, decided for `u` before and after on the resource at
    // `r0` before and `r1` after: the (action, module, now allowed) that changed.
    let changed =
        |u: u32, r0: Option<u32>, r1: Option<u32>, out: &mut Vec<(u32, Option<u32>, bool)>| {
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
                        out.push((action, module, after));
                    }
                }
            }
        };
    let mut single = Vec::new();
    let mut found = Vec::new();
    // Each pair with the resource's position on each side; `None` where it is absent.
    let sides = pairs
        .iter()
        .map(|(&(u, r), c)| (u, touched.old_position(r), Some(r), c))
        .chain(gone.iter().map(|(&(u, r), c)| (u, Some(r), None, c)));
    for (u, r0, r1, causes) in sides {
        found.clear();
        changed(u, r0, r1, &mut found);
        for &(action, module, gained) in &found {
            let (e, r) = match r1 {
                Some(r) => (e1, r),
                None => (e0, r0.unwrap_or_default()),
            };
            single.push(Event {
                user: e1.user_id(u).to_string(),
                resource: Some(e.resource_id(r).to_string()),
                action: p.actions[action as usize].name.clone(),
                module: module.map(|m| p.modules[m as usize].name.clone()),
                gained,
                causes: causes.iter().copied().collect(),
            });
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
                single.push(Event {
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
    // The open users named nowhere, by class: every reached resource, with the changes that
    // reach it, and every deleted one.
    let mut classes = Vec::new();
    let alone: Arc<[u32]> = Arc::from(open_named);
    if (!reached.is_empty() || !gone_all.is_empty()) && !s0.open.is_empty() {
        let base = s0.classes.get_or_init(|| Classes::new(e0, s0));
        let mut merged: HashMap<Key, Vec<usize>> = HashMap::new();
        for (c, list) in base.lists.iter().enumerate() {
            if let Some(&u) = list.first() {
                merged
                    .entry(Key::of(e0, s0, u, Some(&alphabet)))
                    .or_default()
                    .push(c);
            }
        }
        // Each merged class: its users' lists, one of them to decide for, and its size.
        let mut out_of: HashMap<usize, usize> = HashMap::new();
        for &u in alone.iter() {
            if let Some(&c) = base.of.get(u as usize).filter(|&&c| c != NO_CLASS) {
                *out_of.entry(c as usize).or_default() += 1;
            }
        }
        let mut merged: Vec<Vec<usize>> = merged.into_values().collect();
        merged.sort_unstable();
        let resources: Vec<Reached> = reached
            .iter()
            .map(|(&r, c)| {
                (
                    touched.old_position(r),
                    Some(r),
                    c.iter().copied().collect(),
                )
            })
            .chain(
                gone_all
                    .iter()
                    .map(|(&d, c)| (Some(d), None, c.iter().copied().collect())),
            )
            .collect();
        for class in merged {
            let size: usize = class
                .iter()
                .map(|&c| base.lists[c].len() - out_of.get(&c).copied().unwrap_or(0))
                .sum();
            let mut rep = class.iter().flat_map(|&c| base.lists[c].iter()).copied();
            let Some(rep) = rep.find(|u| alone.binary_search(u).is_err()) else {
                continue;
            };
            let users: Arc<[Arc<[u32]>]> =
                class.iter().map(|&c| Arc::clone(&base.lists[c])).collect();
            for (r0, r1, causes) in &resources {
                found.clear();
                changed(rep, *r0, *r1, &mut found);
                for &(action, module, gained) in &found {
                    classes.push(ClassEvent {
                        users: Arc::clone(&users),
                        size,
                        resource: (*r0, *r1),
                        action,
                        module,
                        gained,
                        causes: Arc::clone(causes),
                    });
                }
            }
        }
    }
    // The names the events of classes are read with, when there are some.
    let some = !classes.is_empty();
    Ok(Grouped {
        actions: (p.actions.iter().filter(|_| some))
            .map(|a| a.name.clone())
            .collect(),
        modules: (p.modules.iter().filter(|_| some))
            .map(|m| m.name.clone())
            .collect(),
        single,
        classes,
        alone,
    })
}

/// The lists of members of the relations of the resource at `r` and of every resource above
/// it: those of its anchor case, and those of resource kinds (docs/semantics.md, "Relations
/// held"), every relation a principal can hold on it.
fn chain_lists(e: &Entities, r: u32) -> Vec<&[u32]> {
    let mut out = Vec::new();
    let mut at = Some(r);
    let mut steps = 0;
    while let (Some(x), true) = (at, steps <= limits::MAX_KIND_DEPTH) {
        let Some(res) = e.resources.get(x as usize) else {
            break;
        };
        out.extend(res.relations.iter().map(|l| &l[..]));
        at = res.parent;
        steps += 1;
    }
    out
}

/// Whether user `u` holds a relation on the resource at `r` of `e`: listed up the chain, or a
/// member of a listed group.
fn holds(e: &Entities, u: u32, r: u32) -> bool {
    let groups = e.users.get(u as usize).map_or(&[][..], |x| &x.groups[..]);
    (chain_lists(e, r).into_iter()).any(|l| crate::entities::held_by(l, u, groups).is_some())
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

/// The (user, old position) pairs of the resources a change set deleted in place, for the users
/// decided one by one (`open_named`, the members of the relations of the deleted resource's
/// anchor case, those whose membership changed on it), each with the changes that reach it,
/// as reloading would find them: the changes to the resource and to every resource above it in
/// the old entities (whose subtree it was in), the relation members changed on those, and the
/// user changes of a user who could be in scope on it. Then each deleted resource with the
/// changes that reach it for every other open user. `Err` with the count of pairs (the open
/// users, `open_count`, counted for each deleted resource) once `before` and these pass
/// [`limits::MAX_EVENT_PAIRS`].
#[allow(clippy::type_complexity)]
fn deleted_pairs(
    (e0, s0): (&Entities, &Store),
    (open_named, open_count): (&[u32], usize),
    touched: &Touched,
    before: usize,
) -> Result<
    (
        BTreeMap<(u32, u32), BTreeSet<usize>>,
        BTreeMap<u32, BTreeSet<usize>>,
    ),
    usize,
> {
    let mut out: BTreeMap<(u32, u32), BTreeSet<usize>> = BTreeMap::new();
    let mut alls: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    if touched.deleted.is_empty() {
        return Ok((out, alls));
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
    let mut count = before;
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
        let members = |u: u32| holds(e0, u, d);
        let mut who: BTreeSet<u32> = open_named.iter().copied().collect();
        // Those who hold a relation on it: listed up the chain, or in a listed group (those
        // whom a group admits without a relation are decided with their class).
        for list in chain_lists(e0, d) {
            who.extend(crate::entities::member_users(list).iter().copied());
            for g in crate::entities::member_groups(list) {
                who.extend(s0.closed_in(e0, g).iter().copied());
            }
        }
        who.extend(by_user.keys());
        for &u in &who {
            let at = out.entry((u, d)).or_default();
            at.extend(&all);
            at.extend(by_user.get(&u).into_iter().flatten());
            // A user change reaches the deleted resource where the user could be in scope
            // (the users a change set touched are all decided one by one).
            if let Some(causes) = touched.users.get(&u) {
                if open_named.binary_search(&u).is_ok() || members(u) {
                    at.extend(causes);
                }
            }
        }
        let outside = who.iter().filter(|u| open_named.binary_search(u).is_err());
        count = count.saturating_add(open_count + outside.count());
        if count > limits::MAX_EVENT_PAIRS {
            return Err(count);
        }
        alls.insert(d, all);
    }
    Ok((out, alls))
}

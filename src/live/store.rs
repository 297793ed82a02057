//! Changes applied in place: a copy of the old entities that shares every record it does not
//! change (their lists are persistent vectors, `entities/pvec.rs`), with the records a change
//! touches rewritten, and what loading derives from them (group closures, code sets, the
//! chains effective codes are read through) derived again for those records only.
//!
//! Only changes that cannot need a message are applied here: when a change is not one of those
//! kept in place, or anything about it could be wrong (an unknown name, a value of the wrong
//! type, a member already there), the whole change set goes the other way, by reloading
//! (`document.rs`), which finds and reports every problem with the messages of loading. So this
//! path never has to agree with loading on a message, only on the entities it builds, and a
//! differential test (`tests/live.rs`) holds it to that: every change set applied both ways
//! gives the same entities and the same events.

use super::changes::{Change, ChangeSet};
use super::events::Classes;
use crate::entities::{AttrValue, Entities, Level, PVec, Resource, Shared, User};
use crate::ir::{Policy as Ir, ScopeDef, Type};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What applying in place needs beside the entities, kept with each snapshot and shared
/// between versions as the entities are.
#[derive(Clone)]
pub(super) struct Store {
    /// Each symbol's text to its number.
    symbols: imbl::HashMap<Arc<str>, u32>,
    /// How many symbols the entities had when they were loaded: the symbol table may grow to
    /// twice that (or a million) before a change set reloads, which drops unused symbols.
    loaded_symbols: usize,
    /// Each resource's children, by position.
    pub(super) children: PVec<Shared<u32>>,
    /// The users whom some group admits on a resource without a relation (scope `all`, or
    /// `filter` whether `any` or `all`): with the members of the anchor case's relations, the only users who can be in
    /// scope on a resource (docs/semantics.md), so the only ones whose decisions on it a change
    /// to it can change.
    pub(super) open: imbl::OrdSet<u32>,
    /// The users of `open` in classes whose decisions are the same wherever none of them is
    /// named (`events.rs`), made for the first events computed on these entities and kept
    /// while no user changes.
    pub(super) classes: Arc<std::sync::OnceLock<Classes>>,
    /// Each user's cases: the positions of the cases (and of the resources of kinds with
    /// relations) whose relations name the user, sorted, by the user's position; kept true by
    /// every change to relations. A user change reaches
    /// the resources under them (for a user no group admits without a relation), and a user
    /// is deleted in place only when the list is empty.
    pub(super) member_of: PVec<Shared<u32>>,
    /// The lists of `member_of` that the change set being applied changes, each as a set until
    /// [`Store::flush_members`] writes it back: many changes to one user's list (10,000 cases
    /// given one manager) cost one copy of it, not one each. Empty between change sets.
    pending: std::collections::HashMap<u32, std::collections::BTreeSet<u32>>,
    /// Each group's resources, by the group's id: the positions of the resources whose relations
    /// list the group (`relation_groups`), kept true by every change to relations. A change to
    /// a user in the group reaches the resources under them, and the entities list groups in
    /// relations while one of these is not empty.
    pub(super) group_cases: Vec<imbl::OrdSet<u32>>,
    /// The users whom no group admits without a relation (not in [`Store::open`]), by the
    /// groups they are members of (ancestors included), each sorted: those who hold a relation
    /// that lists one of the groups. Made when first needed on these entities and kept while no
    /// user changes, as the classes are.
    pub(super) closed_members: Arc<std::sync::OnceLock<Vec<Vec<u32>>>>,
}

/// A group that admits without a relation: every scope but `assigned via`. A filter, `any` or
/// `all`, tests the case's attributes and perhaps `principal`, never a relation, so a change to
/// the case can put its members in scope or out of it whatever they hold.
fn open_group(p: &Ir, g: u32) -> bool {
    !matches!(p.groups[g as usize].scope, ScopeDef::Assigned(_))
}

/// A user who can be in scope without a relation: one of their groups admits without one, or
/// the policy names `everyone`, which puts every user in scope everywhere.
fn open_user(p: &Ir, groups: &[u32]) -> bool {
    p.everyone || groups.iter().any(|&g| open_group(p, g))
}

impl Store {
    /// The store of loaded entities. Linear in them.
    pub(super) fn new(p: &Ir, e: &Entities) -> Store {
        let symbols = e
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (Arc::clone(s), i as u32))
            .collect();
        let n = e.resources.len();
        let mut counts = vec![0u32; n + 1];
        for r in e.resources.iter() {
            if let Some(parent) = r.parent {
                counts[parent as usize + 1] += 1;
            }
        }
        for i in 1..=n {
            counts[i] += counts[i - 1];
        }
        let mut next = counts.clone();
        let mut kids = vec![0u32; counts[n] as usize];
        for (i, r) in e.resources.iter().enumerate() {
            if let Some(parent) = r.parent {
                kids[next[parent as usize] as usize] = i as u32;
                next[parent as usize] += 1;
            }
        }
        let arena = Arc::new(kids);
        let children = (0..n)
            .map(|i| Shared::new(&arena, counts[i], counts[i + 1] - counts[i]))
            .collect();
        let open = e
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| open_user(p, &u.groups))
            .map(|(i, _)| i as u32)
            .collect();
        Store {
            symbols,
            loaded_symbols: e.symbols.len(),
            children,
            open,
            classes: Arc::default(),
            member_of: member_index(e),
            pending: Default::default(),
            group_cases: group_index(p, e),
            closed_members: Arc::default(),
        }
    }

    /// The users of [`Store::closed_members`] in group `g` of `e` (these entities).
    pub(super) fn closed_in(&self, e: &Entities, g: u32) -> &[u32] {
        let lists = self.closed_members.get_or_init(|| {
            let mut lists: Vec<Vec<u32>> = Vec::new();
            for (u, user) in e.users.iter().enumerate() {
                if self.open.contains(&(u as u32)) {
                    continue;
                }
                for &x in user.groups.iter() {
                    if lists.len() <= x as usize {
                        lists.resize(x as usize + 1, Vec::new());
                    }
                    lists[x as usize].push(u as u32);
                }
            }
            lists
        });
        lists.get(g as usize).map_or(&[], Vec::as_slice)
    }

    /// Whether some relation of some resource lists a group.
    fn lists_groups(&self) -> bool {
        self.group_cases.iter().any(|s| !s.is_empty())
    }

    /// The classes of users, and the users of each group, were made for the users as they were.
    fn users_changed(&mut self) {
        self.classes = Arc::default();
        self.closed_members = Arc::default();
    }

    /// Keeps [`Store::member_of`] true after the relations of the resource at `at` changed
    /// from `before` to `after`.
    fn members_changed(&mut self, at: u32, before: &[Shared<u32>], after: &[Shared<u32>]) {
        let users = |lists: &[Shared<u32>]| -> std::collections::BTreeSet<u32> {
            (lists.iter())
                .flat_map(|l| crate::entities::member_users(l).iter().copied())
                .collect()
        };
        let (b, a) = (users(before), users(after));
        for &u in b.symmetric_difference(&a) {
            self.set_member(u, at, a.contains(&u));
        }
        let groups = |lists: &[Shared<u32>]| -> std::collections::BTreeSet<u32> {
            (lists.iter())
                .flat_map(|l| crate::entities::member_groups(l))
                .collect()
        };
        let (b, a) = (groups(before), groups(after));
        for &g in b.symmetric_difference(&a) {
            self.set_group(g, at, a.contains(&g));
        }
    }

    /// Keeps [`Store::group_cases`] true after group `g` came to be listed (`listed`) or no
    /// longer to be listed in a relation of the resource at `at`.
    fn set_group(&mut self, g: u32, at: u32, listed: bool) {
        if self.group_cases.len() <= g as usize {
            self.group_cases.resize(g as usize + 1, imbl::OrdSet::new());
        }
        match listed {
            true => self.group_cases[g as usize].insert(at),
            false => self.group_cases[g as usize].remove(&at),
        };
    }

    /// Keeps [`Store::member_of`] true after user `u` came to hold (`holds`) or no longer to
    /// hold a relation on the case at `at`.
    fn set_member(&mut self, u: u32, at: u32, holds: bool) {
        let set = match self.pending.entry(u) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let Some(cases) = self.member_of.get(u as usize) else {
                    return;
                };
                v.insert(cases.iter().copied().collect())
            }
        };
        match holds {
            true => set.insert(at),
            false => set.remove(&at),
        };
    }

    /// Writes the lists [`Store::members_changed`] changed back into [`Store::member_of`].
    fn flush_members(&mut self) {
        for (u, set) in self.pending.drain() {
            if let Some(cases) = self.member_of.get_mut(u as usize) {
                *cases = Shared::from(set.into_iter().collect::<Vec<u32>>());
            }
        }
    }

    /// The number of symbol `s`, if the entities have it.
    pub(super) fn symbol(&self, s: &str) -> Option<u32> {
        self.symbols.get(s).copied()
    }

    /// The number of symbol `s`, added if new.
    fn sym(&mut self, e: &mut Entities, s: &str) -> u32 {
        if let Some(&i) = self.symbols.get(s) {
            return i;
        }
        let i = e.symbols.len() as u32;
        let text: Arc<str> = Arc::from(s);
        e.symbols.push(Arc::clone(&text));
        // The index of the old symbols is not this version's.
        e.symbol_lookup = Default::default();
        self.symbols.insert(text, i);
        i
    }
}

/// What a change set applied in place touched, for its events: each with the changes (numbered
/// from 1) that touched it.
#[derive(Default)]
pub(super) struct Touched {
    /// Resources changed, by position: each reaches its subtree.
    pub(super) resources: BTreeMap<u32, Vec<usize>>,
    /// Users whose groups changed, by position: each reaches every resource and permission.
    pub(super) users: BTreeMap<u32, Vec<usize>>,
    /// (case, user) pairs whose relation membership changed: case first, so the members
    /// changed on one case are a range.
    pub(super) members: BTreeMap<(u32, u32), Vec<usize>>,
    /// Resources deleted, by their position in the old entities.
    pub(super) deleted: BTreeMap<u32, Deleted>,
    /// The positions whose resource is not the one at the same position in the old entities:
    /// each to its old position, or `None` for a resource the change set added.
    pub(super) moved: BTreeMap<u32, Option<u32>>,
    /// How many resources the old entities had.
    pub(super) old_resources: u32,
    /// Whether a resource moved under another parent: then a change reaches what was under a
    /// resource before the change set too.
    pub(super) reparented: bool,
    /// When the change set deleted users: the entities (and store) of every other change
    /// applied, before the deleted users were taken out, and the deleted users' positions
    /// there. Users keep their positions from the old entities to these (users are only added
    /// at the end), so the events are decided from the old entities to these, each deleted
    /// user denied everything after; taking out a user whom nothing names changes no other
    /// user's decisions.
    pub(super) before_deleting: Option<Box<(Entities, Store)>>,
    pub(super) deleted_users: std::collections::BTreeSet<u32>,
}

/// A resource deleted in place: the changes that touched it, and the relation memberships
/// changed on it before it was deleted (user → changes).
pub(super) struct Deleted {
    pub(super) causes: Vec<usize>,
    pub(super) members: BTreeMap<u32, Vec<usize>>,
}

impl Touched {
    /// Takes out the membership changes made on the case at `at`: user → changes.
    fn take_members(&mut self, at: u32) -> BTreeMap<u32, Vec<usize>> {
        let keys: Vec<(u32, u32)> = self
            .members
            .range((at, 0)..=(at, u32::MAX))
            .map(|(&k, _)| k)
            .collect();
        keys.into_iter()
            .filter_map(|k| Some((k.1, self.members.remove(&k)?)))
            .collect()
    }

    /// The position in the old entities of the resource at `at` in the new ones; `None` for a
    /// resource the change set added.
    pub(super) fn old_position(&self, at: u32) -> Option<u32> {
        match self.moved.get(&at) {
            Some(&old) => old,
            None => (at < self.old_resources).then_some(at),
        }
    }
}

/// Not applied in place: the change set is to be applied by reloading.
pub(super) struct Reload;

/// Applies `changes` to a copy of `old`, in place, when every change is one that is kept in
/// place and certainly valid; otherwise [`Reload`]. The copy gets a stamp of its own.
pub(super) fn apply(
    p: &Ir,
    old: &Entities,
    store: &Store,
    changes: &ChangeSet,
) -> Result<(Entities, Store, Touched), Reload> {
    let mut e = old.clone();
    e.stamp = crate::compile::next_stamp();
    let mut st = store.clone();
    let mut touched = Touched {
        old_resources: old.resources.len() as u32,
        ..Touched::default()
    };
    let mut deleted_ids: std::collections::HashSet<&str> = std::collections::HashSet::new();
    // Whether a resource has moved under another parent.
    let mut moved = false;
    // The changes that added or wrote a unit, and whether one wrote a unit there was.
    let mut unit_changes: Vec<usize> = Vec::new();
    let mut rewritten = false;
    // The units deleted, and the users to delete after every other change (their positions
    // are kept until then, see `Touched::before_deleting`), by id.
    let mut units_deleted: Vec<&str> = Vec::new();
    let mut users_deleted: Vec<&str> = Vec::new();
    // A change that names a user deleted earlier in the change set: reloading refuses it, or
    // (a user written again) finds its events.
    let named_deleted = |users_deleted: &[&str], user: &str| match users_deleted.contains(&user) {
        true => Err(Reload),
        false => Ok(()),
    };
    for (i, change) in changes.changes.iter().enumerate() {
        let n = i + 1;
        match change {
            Change::SetState { resource, state } => {
                let at = resource_at(&e, resource)?;
                let r = &e.resources[at as usize];
                if !p.kinds[r.kind.idx()].is_case {
                    return Err(Reload);
                }
                let ct = &p.casetypes[r.casetype as usize];
                // A case type without a workflow has no state to set: reloading says so.
                let s = (ct.workflow.then_some(&ct.states))
                    .and_then(|states| states.iter().position(|s| s.name == *state))
                    .ok_or(Reload)?;
                e.resources.get_mut(at as usize).ok_or(Reload)?.state = s as u32;
                touched.resources.entry(at).or_default().push(n);
            }
            Change::SetAttr {
                resource,
                name,
                value,
            } => {
                let at = resource_at(&e, resource)?;
                let kdef = &p.kinds[e.resources[at as usize].kind.idx()];
                let a = kdef
                    .attrs
                    .iter()
                    .position(|a| a.name == *name)
                    .ok_or(Reload)?;
                let v = convert(p, &mut e, &mut st, kdef.attrs[a].ty, value)?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                let mut attrs = r.attrs.to_vec();
                attrs[a] = v;
                r.attrs = attrs.into();
                touched.resources.entry(at).or_default().push(n);
            }
            Change::SetCode {
                resource,
                read,
                write,
            } => {
                if read.is_none() && write.is_none() {
                    return Err(Reload);
                }
                let at = resource_at(&e, resource)?;
                let read = read
                    .as_deref()
                    .map(|c| levels(&mut e, &mut st, c))
                    .transpose()?;
                let write = write
                    .as_deref()
                    .map(|c| levels(&mut e, &mut st, c))
                    .transpose()?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                if let Some(levels) = read {
                    r.read_trivial = levels.iter().all(|l| l.is_empty());
                    r.own_read = levels;
                }
                if let Some(levels) = write {
                    r.write_trivial = levels.iter().all(|l| l.is_empty());
                    r.own_write = levels;
                }
                relink(&mut e, &st, at);
                touched.resources.entry(at).or_default().push(n);
            }
            Change::SetInherit {
                resource,
                read,
                write,
            } => {
                if read.is_none() && write.is_none() {
                    return Err(Reload);
                }
                let at = resource_at(&e, resource)?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                let kdef = &p.kinds[r.kind.idx()];
                // As loading reads the file: the switch counts only where the kind inherits.
                if let Some(flag) = read {
                    r.inherit_read = *flag && kdef.inherit_read;
                }
                if let Some(flag) = write {
                    r.inherit_write = *flag && kdef.inherit_write;
                }
                relink(&mut e, &st, at);
                touched.resources.entry(at).or_default().push(n);
            }
            Change::AddMember {
                resource,
                relation,
                user,
            }
            | Change::RemoveMember {
                resource,
                relation,
                user,
            } => {
                let add = matches!(change, Change::AddMember { .. });
                named_deleted(&users_deleted, user)?;
                let at = resource_at(&e, resource)?;
                let u = *e.user_index.get(user).ok_or(Reload)?;
                let rel = relation_of(p, &e, at, relation)?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                let mut lists: Vec<Shared<u32>> = r.relations.to_vec();
                let mut list = lists.get(rel).ok_or(Reload)?.to_vec();
                match (list.binary_search(&u), add) {
                    (Err(k), true) => list.insert(k, u),
                    (Ok(k), false) => {
                        list.remove(k);
                    }
                    // Already a member, or not one: reloading says so.
                    _ => return Err(Reload),
                }
                lists[rel] = Shared::from(list);
                let holds = lists
                    .iter()
                    .any(|l| crate::entities::member_users(l).binary_search(&u).is_ok());
                r.relations = Shared::from(lists);
                st.set_member(u, at, holds);
                touched.members.entry((at, u)).or_default().push(n);
            }
            Change::AddGroup { user, group } | Change::RemoveGroup { user, group } => {
                let add = matches!(change, Change::AddGroup { .. });
                named_deleted(&users_deleted, user)?;
                let u = *e.user_index.get(user).ok_or(Reload)?;
                let g = group_named(p, group)?;
                let mut direct = e.users[u as usize].direct_groups.to_vec();
                match (direct.contains(&g), add) {
                    (false, true) => direct.push(g),
                    (true, false) => direct.retain(|&x| x != g),
                    _ => return Err(Reload),
                }
                if p.require_group && direct.is_empty() {
                    return Err(Reload);
                }
                regroup(p, &mut e, &mut st, u, direct)?;
                touched.users.entry(u).or_default().push(n);
            }
            Change::UpsertResource { resource } => {
                let id = resource
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let new = !e.resource_index.contains_key(id);
                // Deleted and added again: its events are the difference between the two
                // records under one id, which reloading finds.
                if new && deleted_ids.contains(id) {
                    return Err(Reload);
                }
                if let Some(Value::Object(relations)) = resource.get("relations") {
                    let members = relations.values().filter_map(Value::as_array).flatten();
                    for m in members.filter_map(Value::as_str) {
                        named_deleted(&users_deleted, m)?;
                    }
                }
                let at = upsert_resource(p, &mut e, &mut st, resource, &mut moved)?;
                if new {
                    touched.moved.insert(at, None);
                }
                touched.resources.entry(at).or_default().push(n);
            }
            Change::DeleteResource { id } => {
                let at = resource_at(&e, id)?;
                delete_resource(p, &mut e, &mut st, &mut touched, at, n)?;
                deleted_ids.insert(id.as_str());
            }
            Change::UpsertUser { user } => {
                let id = user.get("id").and_then(Value::as_str).unwrap_or_default();
                named_deleted(&users_deleted, id)?;
                // A new user after a deletion: reloading adds it after the last user moved
                // into the deleted one's place, where deleting at the end would move the new
                // user there instead.
                if !users_deleted.is_empty() && !e.user_index.contains_key(id) {
                    return Err(Reload);
                }
                let at = upsert_user(p, &mut e, &mut st, user)?;
                touched.users.entry(at).or_default().push(n);
            }
            // A new unit: nobody is in it yet, so no decision changes.
            Change::UpsertUnit { unit } => {
                // Each unit added copies the list of units: a few per change set, so that
                // applying stays linear; more go by reloading, which is.
                if unit_changes.len() >= crate::limits::MAX_UNITS_ADDED_IN_PLACE {
                    return Err(Reload);
                }
                let id = unit.get("id").and_then(Value::as_str).unwrap_or_default();
                match e.unit_index.get(id) {
                    // A unit written again: its users' codes follow, after the last change.
                    Some(&at) => {
                        move_unit(&mut e, unit, at)?;
                        rewritten = true;
                    }
                    None => add_unit(&mut e, &mut st, unit)?,
                }
                unit_changes.push(n);
            }
            // A user whom nothing names (no relation; a policy with attributes that refer to
            // users goes by reloading): taken out after every other change.
            Change::DeleteUser { id } => {
                named_deleted(&users_deleted, id)?;
                let u = *e.user_index.get(id).ok_or(Reload)?;
                users_deleted.push(id);
                touched.users.entry(u).or_default().push(n);
            }
            // A unit nobody is in and no unit is under: as many as units added (each copies
            // the list of units).
            Change::DeleteUnit { id } => {
                if unit_changes.len() >= crate::limits::MAX_UNITS_ADDED_IN_PLACE {
                    return Err(Reload);
                }
                let at = *e.unit_index.get(id).ok_or(Reload)?;
                delete_unit(&mut e, at)?;
                units_deleted.push(id);
                unit_changes.push(n);
            }
            // A group listed in a relation, or no longer: a change to the resource, which
            // reaches every user on everything under it (the group's members among them), as
            // reloading reads it.
            Change::AddMemberGroup {
                resource,
                relation,
                group,
            }
            | Change::RemoveMemberGroup {
                resource,
                relation,
                group,
            } => {
                let add = matches!(change, Change::AddMemberGroup { .. });
                let at = resource_at(&e, resource)?;
                let rel = relation_of(p, &e, at, relation)?;
                let g = group_named(p, group)?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                let mut lists: Vec<Shared<u32>> = r.relations.to_vec();
                let mut list = lists.get(rel).ok_or(Reload)?.to_vec();
                let marked = g | crate::entities::GROUP_MEMBER;
                // Users come first, then groups, each sorted: the marked groups sort last.
                match (list.binary_search(&marked), add) {
                    (Err(k), true) => list.insert(k, marked),
                    (Ok(k), false) => {
                        list.remove(k);
                    }
                    // Listed already, or not listed: reloading says so.
                    _ => return Err(Reload),
                }
                let listed =
                    lists.iter().enumerate().any(|(i, l)| {
                        i != rel && crate::entities::member_groups(l).any(|x| x == g)
                    }) || add;
                lists[rel] = Shared::from(list);
                r.relations = Shared::from(lists);
                st.set_group(g, at, listed);
                touched.resources.entry(at).or_default().push(n);
            }
        }
    }
    st.flush_members();
    // As loading sets it: whether some relation lists a group.
    e.relation_groups = st.lists_groups();
    touched.reparented = moved;
    // A unit change reaches the users in the unit or under it (as reloading reads it, every
    // unit change reaches each of them). A new unit's users were all written by this change
    // set after it, so they are among the touched users already.
    if rewritten {
        // Every user in a unit written, added or deleted, or under one, before or after: their
        // codes follow the units' parents, and every unit change reaches them (as reloading
        // reads it). The units are found by id on each side, since a deletion moves the last
        // unit into the deleted one's place. Linear in the users, once.
        let ids: Vec<&str> = (changes.changes.iter())
            .filter_map(|c| match c {
                Change::UpsertUnit { unit } => unit.get("id").and_then(Value::as_str),
                Change::DeleteUnit { id } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let positions = |index: &crate::entities::IdIndex| -> Vec<u32> {
            ids.iter().filter_map(|id| index.get(id).copied()).collect()
        };
        let (changed_old, changed_new) = (positions(&old.unit_index), positions(&e.unit_index));
        let under = |units: &[crate::entities::Unit], user: &User, changed: &[u32]| {
            let mut chains =
                (user.direct_units.iter()).flat_map(|&x| crate::entities::unit_ancestors(units, x));
            chains.any(|a| changed.contains(&a))
        };
        let reached: Vec<u32> = (0..e.users.len() as u32)
            .filter(|&u| {
                under(&e.units, &e.users[u as usize], &changed_new)
                    || (old.users.get(u as usize))
                        .is_some_and(|x| under(&old.units, x, &changed_old))
            })
            .collect();
        for u in reached {
            let direct = e.users[u as usize].direct_groups.to_vec();
            regroup(p, &mut e, &mut st, u, direct)?;
            touched.users.entry(u).or_default().extend(&unit_changes);
        }
        for causes in touched.users.values_mut() {
            causes.sort_unstable();
            causes.dedup();
        }
    } else if !unit_changes.is_empty() {
        // The units added (a deletion may have moved one to a lower position).
        let added: Vec<u32> = (0..e.units.len() as u32)
            .filter(|&x| !old.unit_index.contains_key(&e.units[x as usize].id))
            .collect();
        for (&u, causes) in touched.users.iter_mut() {
            let user = &e.users[u as usize];
            let mut chains = user
                .direct_units
                .iter()
                .flat_map(|&x| crate::entities::unit_ancestors(&e.units, x));
            if chains.any(|a| added.contains(&a)) {
                causes.extend(&unit_changes);
            }
        }
        // The users in a deleted unit (or under it) before the change set: every one of them
        // was written again by it (nobody is in the unit when it is deleted), and every unit
        // change reaches them, as reloading reads it.
        let gone: Vec<u32> = (units_deleted.iter())
            .filter_map(|id| old.unit_index.get(id).copied())
            .collect();
        if !gone.is_empty() {
            for (u, user) in old.users.iter().enumerate() {
                let mut chains = (user.direct_units.iter())
                    .flat_map(|&x| crate::entities::unit_ancestors(&old.units, x));
                if chains.any(|a| gone.contains(&a)) {
                    let causes = touched.users.get_mut(&(u as u32)).ok_or(Reload)?;
                    causes.extend(&unit_changes);
                }
            }
        }
    }
    if !users_deleted.is_empty() {
        let refers = |a: &crate::ir::AttrDef| matches!(a.ty, Type::RefUser);
        let refers_to_users =
            (p.kinds.iter().flat_map(|k| &k.attrs)).any(refers) || p.user_attrs.iter().any(refers);
        // Each deletion then reads every attribute: a few per change set, so that applying
        // stays linear; more go by reloading, which is.
        if refers_to_users
            && users_deleted.len() > crate::limits::MAX_USERS_DELETED_WITH_REFS_IN_PLACE
        {
            return Err(Reload);
        }
        let mid = (e.clone(), st.clone());
        for id in &users_deleted {
            touched
                .deleted_users
                .insert(*mid.0.user_index.get(id).ok_or(Reload)?);
            let at = *e.user_index.get(id).ok_or(Reload)?;
            delete_user(&mut e, &mut st, at, refers_to_users)?;
        }
        st.users_changed();
        touched.before_deleting = Some(Box::new(mid));
    }
    if e.symbols.len() > (2 * st.loaded_symbols).max(1 << 20)
        || e.units.len() + e.users.len() + e.resources.len() > crate::limits::MAX_ENTITIES
    {
        return Err(Reload);
    }
    Ok((e, st, touched))
}

/// The place of relation `name` in the lists of the resource at `at`: its kind must declare
/// it (another kind's relation, or an unknown one, goes by reloading, which reports it).
fn relation_of(p: &Ir, e: &Entities, at: u32, name: &str) -> Result<usize, Reload> {
    kind_relation(p, &p.kinds[e.resources[at as usize].kind.idx()], name)
}

/// The place of relation `name` among those kind `k` declares (another kind's relation, or an
/// unknown one, goes by reloading, which reports it).
fn kind_relation(p: &Ir, k: &crate::ir::KindDef, name: &str) -> Result<usize, Reload> {
    let first = k.relations.first().map_or(0, |f| f.0);
    (k.relations.iter())
        .find(|r| p.relations[r.idx()].name == name)
        .map(|r| (r.0 - first) as usize)
        .ok_or(Reload)
}

/// The position of access group `name` (an unknown one goes by reloading, which reports it).
fn group_named(p: &Ir, name: &str) -> Result<u32, Reload> {
    (p.groups.iter().position(|x| x.name == name))
        .map(|g| g as u32)
        .ok_or(Reload)
}

/// The position of resource `id`.
fn resource_at(e: &Entities, id: &str) -> Result<u32, Reload> {
    e.resource_index.get(id).copied().ok_or(Reload)
}

/// A JSON value as an attribute of type `ty`, as loading converts it (`entities/load.rs`,
/// `convert`); anything loading could refuse is left to it.
fn convert(
    p: &Ir,
    e: &mut Entities,
    st: &mut Store,
    ty: Type,
    v: &Value,
) -> Result<AttrValue, Reload> {
    let text = |s: &str| match crate::entities::bidi_control(s) {
        None => Ok(()),
        Some(_) => Err(Reload),
    };
    Ok(match (ty, v) {
        (Type::Str, Value::String(s)) => {
            text(s)?;
            AttrValue::Sym(st.sym(e, s))
        }
        (Type::Bool, Value::Bool(b)) => AttrValue::Bool(*b),
        (Type::Int, Value::Number(n)) => AttrValue::Int(n.as_i64().ok_or(Reload)?),
        // A text that is no datetime goes by reloading, which reports it as loading does.
        (Type::DateTime, Value::String(s)) => {
            AttrValue::DateTime(crate::datetime::parse(s).map_err(|_| Reload)?)
        }
        (Type::SetStr, Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let s = item.as_str().ok_or(Reload)?;
                text(s)?;
                out.push(st.sym(e, s));
            }
            out.sort_unstable();
            out.dedup();
            AttrValue::Set(out.into())
        }
        (Type::RefUser, Value::String(s)) => AttrValue::User(*e.user_index.get(s).ok_or(Reload)?),
        (Type::Ref(want), Value::String(s)) => {
            let at = *e.resource_index.get(s).ok_or(Reload)?;
            if e.resources[at as usize].kind != want {
                return Err(Reload);
            }
            AttrValue::Resource(at)
        }
        (Type::Enum(en), Value::String(s)) => {
            let variants = &p.enums[en.idx()].variants;
            AttrValue::Variant(variants.iter().position(|v| v == s).ok_or(Reload)? as u32)
        }
        _ => return Err(Reload),
    })
}

/// An own access code as loading stores it: its levels, each sorted and without repeats.
fn levels(e: &mut Entities, st: &mut Store, text: &str) -> Result<Shared<Level>, Reload> {
    let expr = crate::access_code::parse(text).map_err(|_| Reload)?;
    let mut out = Vec::with_capacity(expr.levels.len());
    for l in &expr.levels {
        let mut codes: Vec<u32> = l.iter().map(|c| st.sym(e, c)).collect();
        codes.sort_unstable();
        codes.dedup();
        out.push(Shared::from(codes));
    }
    Ok(Shared::from(out))
}

/// Links the chains effective codes are read through again, for `at` and everything under
/// it: each resource's nearest resource above it, on its inherited chain, whose own levels are
/// not all empty (`entities/closure.rs`, `finish_resources`). Parents come before children.
fn relink(e: &mut Entities, st: &Store, at: u32) {
    let mut stack = vec![at];
    while let Some(x) = stack.pop() {
        let r = &e.resources[x as usize];
        let rest = |inherit: bool, read: bool| match r.parent.filter(|_| inherit) {
            None => crate::entities::NONE,
            Some(c) => {
                let up: &Resource = &e.resources[c as usize];
                let (trivial, rest) = match read {
                    true => (up.read_trivial, up.read_rest),
                    false => (up.write_trivial, up.write_rest),
                };
                if trivial {
                    rest
                } else {
                    c
                }
            }
        };
        let (read_rest, write_rest) = (rest(r.inherit_read, true), rest(r.inherit_write, false));
        if let Some(r) = e.resources.get_mut(x as usize) {
            r.read_rest = read_rest;
            r.write_rest = write_rest;
        }
        stack.extend(st.children[x as usize].iter().copied());
    }
}

/// Gives user `u` the groups `direct` (in the order the file will list them), and what loading
/// derives from them: every group with its ancestors, and the user's code set.
fn regroup(
    p: &Ir,
    e: &mut Entities,
    st: &mut Store,
    u: u32,
    direct: Vec<u32>,
) -> Result<(), Reload> {
    let mut groups = Vec::new();
    crate::entities::close_groups(p, &direct, &mut groups);
    // The user's id was interned when the user was loaded.
    let id = *st.symbols.get(e.user_index.id(u)).ok_or(Reload)?;
    let user: &User = &e.users[u as usize];
    let mut codes = vec![id];
    for &x in user.direct_units.iter() {
        codes.extend(
            crate::entities::unit_ancestors(&e.units, x).map(|a| e.unit_symbols[a as usize]),
        );
    }
    codes.extend(groups.iter().map(|&g| e.group_symbols[g as usize]));
    codes.extend(user.terms.iter().copied());
    codes.sort_unstable();
    codes.dedup();
    let open = open_user(p, &groups);
    st.users_changed();
    let user = e.users.get_mut(u as usize).ok_or(Reload)?;
    user.direct_groups = Shared::from(direct);
    user.groups = Shared::from(groups);
    user.codes = Shared::from(codes);
    match open {
        true => st.open.insert(u),
        false => st.open.remove(&u),
    };
    Ok(())
}

/// An id as loading accepts it: not empty, no control or bidirectional control character, not
/// too long.
fn plain_id(id: Option<&Value>) -> Result<&str, Reload> {
    let id = id.and_then(Value::as_str).ok_or(Reload)?;
    match id.is_empty() || crate::entities::text_problem(id).is_some() {
        true => Err(Reload),
        false => Ok(id),
    }
}

/// Only these keys in `record`.
fn only(record: &Map<String, Value>, keys: &[&str]) -> Result<(), Reload> {
    match record.keys().all(|k| keys.contains(&k.as_str())) {
        true => Ok(()),
        false => Err(Reload),
    }
}

/// The strings of an array field, none when the field is absent.
fn strings<'a>(record: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a str>, Reload> {
    match record.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().ok_or(Reload)).collect(),
        Some(_) => Err(Reload),
    }
}

/// Adds a resource, or replaces one (of another kind only when nothing can name it, see
/// below), as loading would read the record; returns its position, and sets `moved` when it
/// replaced one that had another parent.
fn upsert_resource(
    p: &Ir,
    e: &mut Entities,
    st: &mut Store,
    record: &Map<String, Value>,
    moved: &mut bool,
) -> Result<u32, Reload> {
    only(
        record,
        &[
            "id",
            "kind",
            "parent",
            "type",
            "state",
            "attrs",
            "relations",
            "relation_groups",
            "read",
            "write",
            "inherit_read",
            "inherit_write",
        ],
    )?;
    let id = plain_id(record.get("id"))?;
    if e.user_index.contains_key(id) || e.unit_index.contains_key(id) {
        return Err(Reload);
    }
    let kind_name = record.get("kind").and_then(Value::as_str).ok_or(Reload)?;
    let k = p
        .kinds
        .iter()
        .position(|k| k.name == kind_name)
        .ok_or(Reload)?;
    let kdef = &p.kinds[k];
    let kind = crate::ir::KindId(k as u32);
    let parent = match (record.get("parent"), kdef.parent) {
        (None, None) => None,
        (Some(Value::String(pid)), Some(want)) => {
            let at = *e.resource_index.get(pid).ok_or(Reload)?;
            if e.resources[at as usize].kind != want {
                return Err(Reload);
            }
            Some(at)
        }
        _ => return Err(Reload),
    };
    let old = e.resource_index.get(id).copied();
    // A resource may move under another parent (cases have none), and be written under another
    // kind when nothing can name it as one of its kind: it has no children (whose parent's
    // kind the kind declares) and the policy declares no attribute that refers to a resource
    // (of a kind). Otherwise reloading finds what is wrong, if anything.
    let was = match old {
        Some(at) if e.resources[at as usize].kind != kind => {
            let refers = |a: &crate::ir::AttrDef| matches!(a.ty, Type::Ref(_));
            if !st.children[at as usize].is_empty()
                || p.kinds.iter().flat_map(|k| &k.attrs).any(refers)
                || p.user_attrs.iter().any(refers)
            {
                return Err(Reload);
            }
            e.resources[at as usize].parent
        }
        Some(at) => e.resources[at as usize].parent,
        None => None,
    };
    let (mut casetype, mut state) = (0, 0);
    if kdef.is_case {
        let t = record.get("type").and_then(Value::as_str).ok_or(Reload)?;
        let ct = p.casetypes.iter().position(|c| c.name == t).ok_or(Reload)?;
        let def = &p.casetypes[ct];
        // A case of a type without a workflow names no state; one with a workflow names one.
        state = match (def.workflow, record.get("state")) {
            (false, None) => 0,
            (true, Some(s)) => {
                let s = s.as_str().ok_or(Reload)?;
                def.states.iter().position(|x| x.name == s).ok_or(Reload)? as u32
            }
            _ => return Err(Reload),
        };
        casetype = ct as u32;
    } else if ["type", "state"].iter().any(|f| record.contains_key(*f)) {
        return Err(Reload);
    }
    // One list for each relation the kind declares (a relation of another kind, or any on a
    // kind that declares none, goes by reloading, which reports it).
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); kdef.relations.len()];
    match record.get("relations") {
        None => {}
        Some(Value::Object(given)) => {
            for (name, members) in given {
                let rel = kind_relation(p, kdef, name)?;
                let Value::Array(members) = members else {
                    return Err(Reload);
                };
                for m in members {
                    let u = m.as_str().and_then(|m| e.user_index.get(m)).ok_or(Reload)?;
                    lists[rel].push(*u);
                }
            }
        }
        Some(_) => return Err(Reload),
    }
    match record.get("relation_groups") {
        None => {}
        Some(Value::Object(given)) => {
            for (name, groups) in given {
                let rel = kind_relation(p, kdef, name)?;
                let Value::Array(groups) = groups else {
                    return Err(Reload);
                };
                for g in groups {
                    let g = group_named(p, g.as_str().ok_or(Reload)?)?;
                    // Marked, so that groups sort after the users.
                    lists[rel].push(g | crate::entities::GROUP_MEMBER);
                }
            }
        }
        Some(_) => return Err(Reload),
    }
    for l in &mut lists {
        l.sort_unstable();
        l.dedup();
    }
    let relations: Vec<Shared<u32>> = lists.into_iter().map(Shared::from).collect();
    let given = match record.get("attrs") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(Reload),
    };
    if given.len() != kdef.attrs.len() {
        return Err(Reload);
    }
    let mut attrs = Vec::with_capacity(kdef.attrs.len());
    for a in &kdef.attrs {
        attrs.push(convert(p, e, st, a.ty, given.get(&a.name).ok_or(Reload)?)?);
    }
    let code = |key: &str| match record.get(key) {
        None => Ok(""),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(Reload),
    };
    let (own_read, own_write) = (code("read")?, code("write")?);
    let own_read = levels(e, st, own_read)?;
    let own_write = levels(e, st, own_write)?;
    let flag = |key: &str| match record.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Reload),
    };
    let flags = (flag("inherit_read")?, flag("inherit_write")?);
    let mut r = Resource::read(kind, kdef, parent, (casetype, state), attrs, flags);
    r.anchor = match kdef.is_case {
        true => None,
        false => parent.and_then(|x| e.resources[x as usize].anchor),
    };
    r.relations = Shared::from(relations);
    r.read_trivial = own_read.iter().all(|l| l.is_empty());
    r.write_trivial = own_write.iter().all(|l| l.is_empty());
    r.own_read = own_read;
    r.own_write = own_write;
    // The members of the relations it had, and those it has.
    let had = match old {
        Some(at) => e.resources[at as usize].relations.clone(),
        None => Shared::default(),
    };
    let at = match old {
        Some(at) if was != parent => {
            // Moved: off the old parent's children, onto the new one's (in position order,
            // as loading lists them), and everything under it takes the new parent's anchor
            // case (only a resource that is not a case has a parent, and so does all under it).
            // A case (one written under the case kind) is its own anchor.
            if kdef.is_case {
                r.anchor = Some(at);
            }
            let anchor = r.anchor;
            *e.resources.get_mut(at as usize).ok_or(Reload)? = r;
            if let Some(old_parent) = was {
                let kids = st.children.get_mut(old_parent as usize).ok_or(Reload)?;
                *kids = Shared::from(
                    kids.iter()
                        .copied()
                        .filter(|&k| k != at)
                        .collect::<Vec<_>>(),
                );
            }
            if let Some(parent) = parent {
                let kids = st.children.get_mut(parent as usize).ok_or(Reload)?;
                let mut list = kids.to_vec();
                let i = list.partition_point(|&k| k < at);
                list.insert(i, at);
                *kids = Shared::from(list);
            }
            let mut stack: Vec<u32> = st.children[at as usize].to_vec();
            while let Some(x) = stack.pop() {
                e.resources.get_mut(x as usize).ok_or(Reload)?.anchor = anchor;
                stack.extend(st.children[x as usize].iter().copied());
            }
            *moved = true;
            at
        }
        Some(at) => {
            // The same parent: a case is its own anchor, anything else takes its parent's
            // (as before, unless it was written under another kind).
            if kdef.is_case {
                r.anchor = Some(at);
            }
            *e.resources.get_mut(at as usize).ok_or(Reload)? = r;
            at
        }
        None => {
            let at = e.resources.len() as u32;
            if kdef.is_case {
                r.anchor = Some(at);
            }
            e.resources.push(r);
            e.resource_index.push(id);
            st.children.push(Shared::default());
            if let Some(parent) = parent {
                let kids = st.children.get_mut(parent as usize).ok_or(Reload)?;
                let mut list = kids.to_vec();
                list.push(at);
                *kids = Shared::from(list);
            }
            at
        }
    };
    st.members_changed(at, &had, &e.resources[at as usize].relations);
    relink(e, st, at);
    Ok(at)
}

/// Adds a unit with a new id, as loading would read the record. The list of units, their index
/// and their codes are copied (units are few, docs/limits.md); a unit already there is moved by
/// [`move_unit`].
fn add_unit(e: &mut Entities, st: &mut Store, record: &Map<String, Value>) -> Result<(), Reload> {
    only(record, &["id", "parent"])?;
    let id = plain_id(record.get("id"))?;
    // A new id must not be any other entity's, nor a code already (which would change what
    // that code stands for).
    if e.unit_index.contains_key(id)
        || e.user_index.contains_key(id)
        || e.resource_index.contains_key(id)
        || st.symbols.contains_key(id)
    {
        return Err(Reload);
    }
    let parent = match record.get("parent") {
        None => None,
        Some(Value::String(pid)) => Some(*e.unit_index.get(pid).ok_or(Reload)?),
        Some(_) => return Err(Reload),
    };
    // Its chain: itself and its parent's, within the depth limit.
    let depth = 1 + parent.map_or(0, |x| crate::entities::unit_ancestors(&e.units, x).count());
    if depth > crate::limits::MAX_UNIT_DEPTH {
        return Err(Reload);
    }
    let mut units: Vec<crate::entities::Unit> = e.units.as_ref().clone();
    units.push(crate::entities::Unit {
        id: id.to_string(),
        parent,
    });
    let index = crate::entities::IdIndex::with_repeats(units.iter().map(|u| &*u.id), |_| {})
        .ok_or(Reload)?;
    let code = st.sym(e, id);
    let mut codes = e.unit_symbols.to_vec();
    codes.push(code);
    e.units = Arc::new(units);
    e.unit_index = Arc::new(index);
    e.unit_symbols = codes.into();
    Ok(())
}

/// Gives the unit at `at` the parent `record` names, as loading would read the record: the list
/// of units is copied (units are few, docs/limits.md). A parent that would make a cycle, or a
/// chain deeper than the limit, goes by reloading, which reports it. The users' codes are
/// derived again by the caller.
fn move_unit(e: &mut Entities, record: &Map<String, Value>, at: u32) -> Result<(), Reload> {
    only(record, &["id", "parent"])?;
    let parent = match record.get("parent") {
        None => None,
        Some(Value::String(pid)) => Some(*e.unit_index.get(pid).ok_or(Reload)?),
        Some(_) => return Err(Reload),
    };
    let mut units: Vec<crate::entities::Unit> = e.units.as_ref().clone();
    units[at as usize].parent = parent;
    // No cycle, and every chain within the depth limit: a walk up from each unit ends within
    // it (a cycle never ends).
    for u in 0..units.len() as u32 {
        let mut cur = Some(u);
        let mut depth = 0;
        while let Some(c) = cur {
            depth += 1;
            if depth > crate::limits::MAX_UNIT_DEPTH {
                return Err(Reload);
            }
            cur = units[c as usize].parent;
        }
    }
    e.units = Arc::new(units);
    Ok(())
}

/// Adds a user, or replaces one, as loading would read the record; returns its position.
fn upsert_user(
    p: &Ir,
    e: &mut Entities,
    st: &mut Store,
    record: &Map<String, Value>,
) -> Result<u32, Reload> {
    only(record, &["id", "groups", "units", "terms", "attrs"])?;
    let id = plain_id(record.get("id"))?;
    let old = e.user_index.get(id).copied();
    // A new id must not be a code already (a group's name, a unit's id, a term, any string
    // the entities hold), nor the id of a resource.
    if old.is_none() && (st.symbols.contains_key(id) || e.resource_index.contains_key(id)) {
        return Err(Reload);
    }
    let mut direct = Vec::new();
    for g in strings(record, "groups")? {
        direct.push(group_named(p, g)?);
    }
    if p.require_group && direct.is_empty() {
        return Err(Reload);
    }
    let mut units = Vec::new();
    for u in strings(record, "units")? {
        units.push(*e.unit_index.get(u).ok_or(Reload)?);
    }
    let terms = strings(record, "terms")?;
    for t in &terms {
        let collides = p.groups.iter().any(|g| g.name == *t)
            || e.unit_index.contains_key(t)
            || *t == id
            || e.user_index.contains_key(t);
        if collides || crate::entities::text_problem(t).is_some() {
            return Err(Reload);
        }
    }
    let given = match record.get("attrs") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(Reload),
    };
    if given.len() != p.user_attrs.len() {
        return Err(Reload);
    }
    let mut attrs = Vec::with_capacity(p.user_attrs.len());
    for a in &p.user_attrs {
        attrs.push(convert(p, e, st, a.ty, given.get(&a.name).ok_or(Reload)?)?);
    }
    let id_sym = st.sym(e, id);
    let terms: Vec<u32> = terms.iter().map(|t| st.sym(e, t)).collect();
    let user = User {
        direct_groups: Shared::default(),
        groups: Shared::default(),
        direct_units: Shared::from(units),
        terms: Shared::from(terms),
        codes: Shared::from(vec![id_sym]),
    };
    let at = match old {
        Some(at) => {
            *e.users.get_mut(at as usize).ok_or(Reload)? = user;
            if !p.user_attrs.is_empty() {
                *e.user_attrs.get_mut(at as usize).ok_or(Reload)? = attrs.into();
            }
            at
        }
        None => {
            let at = e.users.len() as u32;
            e.users.push(user);
            e.user_index.push(id);
            st.member_of.push(Shared::default());
            if !p.user_attrs.is_empty() {
                e.user_attrs.push(attrs.into());
            }
            at
        }
    };
    regroup(p, e, st, at, direct)?;
    Ok(at)
}

/// Deletes the resource at `at`, when nothing can name it: it has no children, and the policy
/// declares no attribute that refers to a resource. The last resource moves into its place
/// (as `Vec::swap_remove` moves it), and everything that named the last position names the new
/// one: its parent's children, the parent, anchor and code chains of everything under it, its
/// id, and the positions `touched` holds.
fn delete_resource(
    p: &Ir,
    e: &mut Entities,
    st: &mut Store,
    touched: &mut Touched,
    at: u32,
    n: usize,
) -> Result<(), Reload> {
    let refers = |a: &crate::ir::AttrDef| matches!(a.ty, Type::Ref(_));
    if !st.children[at as usize].is_empty()
        || p.kinds.iter().flat_map(|k| &k.attrs).any(refers)
        || p.user_attrs.iter().any(refers)
    {
        return Err(Reload);
    }
    // The deleted resource's events: it was in the old entities unless the change set added it.
    let mut causes = touched.resources.remove(&at).unwrap_or_default();
    causes.push(n);
    let members = touched.take_members(at);
    if let Some(old) = touched.old_position(at) {
        touched.deleted.insert(old, Deleted { causes, members });
    }
    // Out of its members' lists of cases.
    let gone = e.resources[at as usize].relations.clone();
    st.members_changed(at, &gone, &[]);
    // Off its parent's children.
    if let Some(parent) = e.resources[at as usize].parent {
        let kids = st.children.get_mut(parent as usize).ok_or(Reload)?;
        *kids = Shared::from(
            kids.iter()
                .copied()
                .filter(|&k| k != at)
                .collect::<Vec<_>>(),
        );
    }
    let last = e.resources.len() as u32 - 1;
    if at != last {
        let moved = e.resources[last as usize].clone();
        let kids = st.children[last as usize].clone();
        // Its members' lists of cases name it at its new position.
        st.members_changed(last, &moved.relations, &[]);
        st.members_changed(at, &[], &moved.relations);
        if let Some(parent) = moved.parent {
            let list = st.children.get_mut(parent as usize).ok_or(Reload)?;
            let renamed = list.iter().map(|&k| if k == last { at } else { k });
            *list = Shared::from(renamed.collect::<Vec<_>>());
        }
        *e.resources.get_mut(at as usize).ok_or(Reload)? = moved;
        *st.children.get_mut(at as usize).ok_or(Reload)? = kids;
        // Everything under the moved resource (and the resource itself, its own anchor when a
        // case) named it by its old position.
        let mut stack = vec![at];
        while let Some(x) = stack.pop() {
            let r = e.resources.get_mut(x as usize).ok_or(Reload)?;
            let rename = |v: u32| if v == last { at } else { v };
            r.parent = r.parent.map(rename);
            r.anchor = r.anchor.map(rename);
            r.read_rest = rename(r.read_rest);
            r.write_rest = rename(r.write_rest);
            stack.extend(st.children[x as usize].iter().copied());
        }
        let old = touched.old_position(last);
        touched.moved.insert(at, old);
        if let Some(c) = touched.resources.remove(&last) {
            touched.resources.insert(at, c);
        }
        for (u, c) in touched.take_members(last) {
            touched.members.insert((at, u), c);
        }
    }
    touched.moved.remove(&last);
    e.resources.pop();
    st.children.pop();
    e.resource_index.swap_remove(at);
    Ok(())
}

/// Each group's resources ([`Store::group_cases`]), made from the relations of `e`. Linear in
/// them.
fn group_index(p: &Ir, e: &Entities) -> Vec<imbl::OrdSet<u32>> {
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); p.groups.len()];
    for (at, r) in e.resources.iter().enumerate() {
        for list in r.relations.iter() {
            for g in crate::entities::member_groups(list) {
                if let Some(l) = lists.get_mut(g as usize) {
                    if l.last() != Some(&(at as u32)) {
                        l.push(at as u32);
                    }
                }
            }
        }
    }
    lists.into_iter().map(|l| l.into_iter().collect()).collect()
}

/// Each user's cases ([`Store::member_of`]), made from the relations of `e`. Linear in them.
fn member_index(e: &Entities) -> PVec<Shared<u32>> {
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); e.users.len()];
    for (at, r) in e.resources.iter().enumerate() {
        for list in r.relations.iter() {
            for &u in crate::entities::member_users(list) {
                // Positions come in order, so each list is sorted; a user in two relations of
                // one case is listed once.
                if let Some(cases) = lists.get_mut(u as usize) {
                    if cases.last() != Some(&(at as u32)) {
                        cases.push(at as u32);
                    }
                }
            }
        }
    }
    lists.into_iter().map(Shared::from).collect()
}

/// Deletes the user at `at`, when no relation names it, nor (in a policy with `ref User`
/// attributes, `refs`) any attribute but the user's own. The last user moves into its place
/// (as `Vec::swap_remove` moves it, as reloading deletes), and the relations that named the
/// last user name its new position: the lists of the cases [`Store::member_of`] gives; so do
/// the attributes that named it, found with the others by one pass over every resource's and
/// user's attributes (only when `refs`).
fn delete_user(e: &mut Entities, st: &mut Store, at: u32, refs: bool) -> Result<(), Reload> {
    let index = &mut st.member_of;
    if !index.get(at as usize).ok_or(Reload)?.is_empty() {
        return Err(Reload);
    }
    let last = e.users.len() as u32 - 1;
    // The resources and users whose attributes name the last user, to rename.
    let (mut named_resources, mut named_users) = (Vec::new(), Vec::new());
    if refs {
        let names = |attrs: &[AttrValue], u: u32| attrs.contains(&AttrValue::User(u));
        for (i, r) in e.resources.iter().enumerate() {
            // An attribute left naming the deleted user: reloading refuses it.
            if names(&r.attrs, at) {
                return Err(Reload);
            }
            if at != last && names(&r.attrs, last) {
                named_resources.push(i);
            }
        }
        for (i, attrs) in e.user_attrs.iter().enumerate() {
            // The deleted user's own attributes go with it.
            if i != at as usize && names(attrs, at) {
                return Err(Reload);
            }
            if at != last && i != at as usize && names(attrs, last) {
                named_users.push(if i == last as usize { at as usize } else { i });
            }
        }
    }
    let rename = |attrs: &[AttrValue]| -> Vec<AttrValue> {
        (attrs.iter())
            .map(|v| match v {
                AttrValue::User(u) if *u == last => AttrValue::User(at),
                other => other.clone(),
            })
            .collect()
    };
    for i in named_resources {
        let r = e.resources.get_mut(i).ok_or(Reload)?;
        r.attrs = rename(&r.attrs).into();
    }
    st.open.remove(&at);
    if at != last {
        let moved = e.users[last as usize].clone();
        *e.users.get_mut(at as usize).ok_or(Reload)? = moved;
        if let Some(attrs) = e.user_attrs.get(last as usize).cloned() {
            *e.user_attrs.get_mut(at as usize).ok_or(Reload)? = attrs;
        }
        let cases = index[last as usize].clone();
        *index.get_mut(at as usize).ok_or(Reload)? = cases.clone();
        for &c in cases.iter() {
            let r = e.resources.get_mut(c as usize).ok_or(Reload)?;
            let lists: Vec<Shared<u32>> = (r.relations.iter())
                .map(|list| {
                    let users = crate::entities::member_users(list);
                    if !users.contains(&last) {
                        return list.clone();
                    }
                    let mut renamed: Vec<u32> = (users.iter())
                        .map(|&u| if u == last { at } else { u })
                        .collect();
                    renamed.sort_unstable();
                    renamed.extend_from_slice(&list[users.len()..]);
                    Shared::from(renamed)
                })
                .collect();
            r.relations = Shared::from(lists);
        }
        if st.open.remove(&last).is_some() {
            st.open.insert(at);
        }
    }
    e.users.pop();
    if e.user_attrs.len() > last as usize {
        e.user_attrs.pop();
    }
    for i in named_users {
        let attrs = e.user_attrs.get_mut(i).ok_or(Reload)?;
        *attrs = rename(attrs).into();
    }
    index.pop();
    e.user_index.swap_remove(at);
    Ok(())
}

/// Deletes the unit at `at`, when nothing names it: no user is in it and no unit is under it.
/// The last unit moves into its place (as reloading deletes), and the units under the last
/// one and the users in it name its new position: one pass over the users. The list of units,
/// their index and their codes are copied (units are few, docs/limits.md).
fn delete_unit(e: &mut Entities, at: u32) -> Result<(), Reload> {
    if e.units.iter().any(|u| u.parent == Some(at)) {
        return Err(Reload);
    }
    let last = e.units.len() as u32 - 1;
    let rename = |x: u32| if x == last { at } else { x };
    let mut in_last = Vec::new();
    for (u, user) in e.users.iter().enumerate() {
        if user.direct_units.contains(&at) {
            return Err(Reload);
        }
        if user.direct_units.contains(&last) {
            in_last.push(u);
        }
    }
    for u in in_last {
        let user = e.users.get_mut(u).ok_or(Reload)?;
        let units: Vec<u32> = user.direct_units.iter().map(|&x| rename(x)).collect();
        user.direct_units = Shared::from(units);
    }
    let mut units: Vec<crate::entities::Unit> = e.units.as_ref().clone();
    units.swap_remove(at as usize);
    for u in &mut units {
        u.parent = u.parent.map(rename);
    }
    let index = crate::entities::IdIndex::with_repeats(units.iter().map(|u| &*u.id), |_| {})
        .ok_or(Reload)?;
    let mut codes = e.unit_symbols.to_vec();
    codes.swap_remove(at as usize);
    e.units = Arc::new(units);
    e.unit_index = Arc::new(index);
    e.unit_symbols = codes.into();
    Ok(())
}

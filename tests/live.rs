//! Live entities: change sets on generated worlds, their events against a brute-force
//! before/after decision of every user × resource × action × module, a failed change set
//! leaving the snapshot as it was, writing entities back, and the Torq and WorkZone examples.

#[path = "differential/gen.rs"]
#[allow(dead_code)]
mod gen;

use casepol::internal::ir::Type;
use casepol::live::{self, Change, ChangeSet, Event, Snapshot};
use casepol::{diagnostic::Sources, Entities, Policy, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// A decision that changed: user, resource (none for a permission), action, module, and
/// whether it is now allowed.
type Changed = (String, Option<String>, String, Option<String>, bool);

fn policy_of(files: &[(String, String)]) -> Policy {
    let mut sources = Sources::new();
    for (name, text) in files {
        sources.add(name.clone(), text.clone());
    }
    Policy::from_sources(sources).expect("the generated policy checks")
}

/// The entities written as text, for comparing two snapshots by what they hold.
fn written(policy: &Policy, e: &Entities) -> String {
    e.to_json(policy.compiled()).to_string()
}

/// Every decision that differs between `old` and `new`, by brute force: every user and
/// resource of either, every action, with no module and through each module, and every account
/// permission; an absent user or resource is denied.
fn brute_force(policy: &Policy, old: &Entities, new: &Entities) -> BTreeSet<Changed> {
    let ir = policy.compiled().ir();
    let mut users: BTreeSet<String> = old.user_ids().map(String::from).collect();
    users.extend(new.user_ids().map(String::from));
    let mut resources: BTreeSet<String> = old.resource_ids().map(String::from).collect();
    resources.extend(new.resource_ids().map(String::from));
    let mut modules: Vec<Option<String>> = vec![None];
    modules.extend(ir.modules.iter().map(|m| Some(m.name.clone())));
    let decide = |e: &Entities, u: &str, a: &str, r: Option<&str>, m: &Option<String>| {
        if e.user(u).is_none() || r.is_some_and(|r| e.resource(r).is_none()) {
            return false;
        }
        let mut req = Request::new(u, a, r);
        req.module = m.clone();
        // Events are decided in no context (docs/data-formats.md §4): a condition that reads
        // the context fails closed.
        match casepol::internal::resolve::resolve_names(policy.compiled(), e, &req) {
            Ok(resolved) => policy.decide(e, &resolved).allowed,
            Err(_) => false,
        }
    };
    let mut out = BTreeSet::new();
    for u in &users {
        for r in &resources {
            for a in &ir.actions {
                for m in &modules {
                    let (b, n) = (
                        decide(old, u, &a.name, Some(r), m),
                        decide(new, u, &a.name, Some(r), m),
                    );
                    if b != n {
                        out.insert((u.clone(), Some(r.clone()), a.name.clone(), m.clone(), n));
                    }
                }
            }
        }
        for p in &ir.permissions {
            let (b, n) = (
                decide(old, u, &p.name, None, &None),
                decide(new, u, &p.name, None, &None),
            );
            if b != n {
                out.insert((u.clone(), None, p.name.clone(), None, n));
            }
        }
    }
    out
}

fn event_set(events: &[Event]) -> BTreeSet<Changed> {
    events
        .iter()
        .map(|e| {
            (
                e.user.clone(),
                e.resource.clone(),
                e.action.clone(),
                e.module.clone(),
                e.gained,
            )
        })
        .collect()
}

/// A change made from small numbers, read modulo what the world holds, so that most are valid
/// and some are not (a state of another case type, a member already there, a deleted user
/// still named by a case).
fn change_of(policy: &Policy, e: &Entities, (op, a, b, c): (u8, u8, u8, u8)) -> Option<Change> {
    let ir = policy.compiled().ir();
    let users: Vec<&str> = e.user_ids().collect();
    let resources: Vec<&str> = e.resource_ids().collect();
    let pick = |list: &[&str], i: u8| {
        (!list.is_empty()).then(|| list[i as usize % list.len()].to_string())
    };
    let codes: Vec<String> = users
        .iter()
        .map(|u| u.to_string())
        .chain(e.units().iter().map(|u| u.id.clone()))
        .chain(ir.groups.iter().map(|g| g.name.clone()))
        // Units a change set may add before it uses them (see below).
        .chain((0..3).map(|k| format!("new-unit-{k}")))
        .collect();
    let code = |i: u8| match i % 4 {
        0 => String::new(),
        _ => codes
            .get(i as usize % codes.len().max(1))
            .cloned()
            .unwrap_or_default(),
    };
    let value = |ty: Type, i: u8| -> Value {
        match ty {
            Type::Str => json!(["x", "y", "w"][i as usize % 3]),
            Type::Bool => json!(i % 2 == 0),
            Type::Int => json!([0, 1, -1, 7][i as usize % 4]),
            // One instant written two ways, a later one, and a day that does not exist (the
            // change set is refused, in place and by reloading alike).
            Type::DateTime => json!(
                [
                    "2026-01-01T00:00:00Z",
                    "2026-01-01T01:00:00+01:00",
                    "2026-06-30T12:00:00.5-07:00",
                    "2026-02-30T00:00:00Z"
                ][i as usize % 4]
            ),
            Type::SetStr => json!(["x"]),
            Type::Enum(en) => {
                let vs = &ir.enums[en.idx()].variants;
                json!(vs[i as usize % vs.len()])
            }
            // None left (a first change set may delete them): a name no entity has.
            Type::RefUser => json!(pick(&users, i).unwrap_or_else(|| "nobody".into())),
            Type::Ref(_) => json!(pick(&resources, i).unwrap_or_else(|| "nothing".into())),
        }
    };
    let res = pick(&resources, a)?;
    let r = e.resource(&res)?;
    let kdef = &ir.kinds[r.kind.idx()];
    // The relations of the resource's own kind, by name, and their members.
    let own: Vec<(&str, &[u32])> = kdef
        .relations
        .iter()
        .zip(r.relations.iter())
        .map(|(rel, list)| (ir.relations[rel.idx()].name.as_str(), &list[..]))
        .collect();
    Some(match op % 16 {
        0 => {
            let ct = &ir.casetypes.get(r.casetype as usize)?;
            Change::SetState {
                resource: res,
                state: ct.states[b as usize % ct.states.len()].name.clone(),
            }
        }
        1 | 2 => {
            let attr = kdef.attrs.get(b as usize % kdef.attrs.len().max(1))?;
            Change::SetAttr {
                resource: res,
                name: attr.name.clone(),
                value: value(attr.ty, c),
            }
        }
        3 | 4 => Change::AddMember {
            resource: res,
            relation: ir
                .relations
                .get(b as usize % ir.relations.len().max(1))?
                .name
                .clone(),
            user: pick(&users, c)?,
        },
        5 => {
            // A member there is, when there is one.
            let rel = b as usize % ir.relations.len().max(1);
            let held = (r.relations.get(rel)).and_then(|m| {
                casepol::internal::entities::member_users(m)
                    .first()
                    .copied()
            });
            Change::RemoveMember {
                resource: res,
                relation: ir.relations.get(rel)?.name.clone(),
                user: held.map_or_else(|| pick(&users, c), |u| Some(e.user_id(u).to_string()))?,
            }
        }
        14 => {
            // A group added to a relation of the resource's kind, or removed when listed.
            let (relation, list) = *own.get(b as usize % own.len().max(1))?;
            let g = c as usize % ir.groups.len().max(1);
            let group = ir.groups.get(g)?.name.clone();
            let listed = casepol::internal::entities::member_groups(list).any(|x| x as usize == g);
            let relation = relation.to_string();
            match listed {
                true => Change::RemoveMemberGroup {
                    resource: res,
                    relation,
                    group,
                },
                false => Change::AddMemberGroup {
                    resource: res,
                    relation,
                    group,
                },
            }
        }
        15 => {
            // A user added to a relation of the resource's kind, or removed when listed.
            let (relation, list) = *own.get(b as usize % own.len().max(1))?;
            let user = pick(&users, c)?;
            let u = e.user_ids().position(|x| x == user)? as u32;
            let relation = relation.to_string();
            match casepol::internal::entities::member_users(list).contains(&u) {
                true => Change::RemoveMember {
                    resource: res,
                    relation,
                    user,
                },
                false => Change::AddMember {
                    resource: res,
                    relation,
                    user,
                },
            }
        }
        6 => Change::SetCode {
            resource: res,
            read: (b % 3 != 0).then(|| code(c)),
            write: (b % 3 != 1).then(|| code(c.wrapping_add(1))),
        },
        7 => Change::SetInherit {
            resource: res,
            read: Some(b % 2 == 0),
            write: (c % 2 == 0).then_some(false),
        },
        8 => {
            let user = pick(&users, b)?;
            let group = ir
                .groups
                .get(c as usize % ir.groups.len().max(1))?
                .name
                .clone();
            let has = e
                .user(&user)?
                .direct_groups
                .iter()
                .any(|&g| ir.groups[g as usize].name == group);
            match has {
                true => Change::RemoveGroup { user, group },
                false => Change::AddGroup { user, group },
            }
        }
        9 => {
            // A user written again: the same id with other groups and units, or a new one.
            let id = match b % 3 {
                0 => format!("new-user-{c}"),
                _ => pick(&users, c)?,
            };
            let mut m = Map::new();
            m.insert("id".into(), id.into());
            let group = ir
                .groups
                .get(c as usize % ir.groups.len().max(1))
                .map(|g| g.name.clone());
            m.insert(
                "groups".into(),
                json!(group.into_iter().collect::<Vec<_>>()),
            );
            if b % 4 == 3 {
                // A unit an earlier change of the set may have added.
                m.insert("units".into(), json!([format!("new-unit-{}", c % 3)]));
            } else if let Some(unit) = e.units().get(b as usize % e.units().len().max(1)) {
                m.insert("units".into(), json!([unit.id]));
            }
            if !ir.user_attrs.is_empty() {
                let attrs: Map<String, Value> = ir
                    .user_attrs
                    .iter()
                    .map(|a| (a.name.clone(), value(a.ty, c)))
                    .collect();
                m.insert("attrs".into(), Value::Object(attrs));
            }
            Change::UpsertUser { user: m }
        }
        10 => match (b % 3, c % 2) {
            // Deleting a user, a unit or a resource: invalid while something names it.
            (0, _) => Change::DeleteResource { id: res },
            (1, _) => {
                // A unit nobody is in and no unit is under, when there is one (`with_twins`
                // adds one); otherwise any unit, or one an earlier change of the set may have
                // added.
                let all = e.units();
                let free = |x: usize| {
                    all.iter().all(|u| u.parent != Some(x as u32))
                        && e.users()
                            .iter()
                            .all(|u| !u.direct_units.contains(&(x as u32)))
                };
                let mut units: Vec<String> = (0..all.len())
                    .filter(|&x| free(x))
                    .map(|x| all[x].id.clone())
                    .collect();
                if units.is_empty() || c % 4 == 1 {
                    units.extend(all.iter().map(|u| u.id.clone()));
                    units.extend((0..3).map(|k| format!("new-unit-{k}")));
                }
                Change::DeleteUnit {
                    id: units[b as usize / 3 % units.len()].clone(),
                }
            }
            (_, 0) => Change::DeleteUser {
                id: pick(&users, b / 3)?,
            },
            _ => {
                // A twin, which the world names in no relation (a first change set may have).
                let twins: Vec<&str> = (users.iter().copied())
                    .filter(|u| u.ends_with("-twin") || u.ends_with("-near"))
                    .collect();
                Change::DeleteUser {
                    id: pick(&twins, b / 3).or_else(|| pick(&users, b / 3))?,
                }
            }
        },
        13 => {
            // A resource with a parent moved under another of its parent's kind, the rest of
            // its record as it was (a document moved to another case).
            let all: Value = serde_json::from_str(&written(policy, e)).ok()?;
            let records = all.get("resources")?.as_array()?;
            let movable: Vec<usize> = (e.resources().iter().enumerate())
                .filter(|(_, x)| x.parent.is_some())
                .map(|(i, _)| i)
                .collect();
            let i = *movable.get(a as usize % movable.len().max(1))?;
            let x = &e.resources()[i];
            let want = ir.kinds[x.kind.idx()].parent?;
            let parents: Vec<&str> = (resources.iter().zip(e.resources().iter()).enumerate())
                .filter(|(j, (_, y))| y.kind == want && Some(*j as u32) != x.parent)
                .map(|(_, (id, _))| *id)
                .collect();
            let mut m = records.get(i)?.as_object()?.clone();
            m.insert("parent".into(), pick(&parents, c)?.into());
            Change::UpsertResource { resource: m }
        }
        12 if b % 7 == 4 => {
            // A resource written again under another kind: under a resource of the parent kind
            // that kind declares, with the attributes it declares (refused while resources of
            // the old kind's children's kinds are under it).
            // A resource with nothing under it, when there is one.
            let parents: BTreeSet<u32> = e.resources().iter().filter_map(|x| x.parent).collect();
            let leaves: Vec<&str> = (resources.iter().enumerate())
                .filter(|(i, _)| !parents.contains(&(*i as u32)))
                .map(|(_, id)| *id)
                .collect();
            let res = pick(&leaves, a).unwrap_or(res);
            let r = e.resource(&res)?;
            let kinds = ir.kinds.len();
            let k = (r.kind.idx() + 1 + c as usize % kinds.max(2).saturating_sub(1)) % kinds;
            let kdef = &ir.kinds[k];
            let mut m = Map::new();
            m.insert("id".into(), res.clone().into());
            m.insert("kind".into(), kdef.name.clone().into());
            if let Some(want) = kdef.parent {
                let parents: Vec<&str> = (resources.iter().zip(e.resources().iter()))
                    .filter(|(id, y)| y.kind == want && **id != res)
                    .map(|(id, _)| *id)
                    .collect();
                m.insert("parent".into(), pick(&parents, c)?.into());
            }
            if kdef.is_case {
                let ct = ir.casetypes.get(c as usize % ir.casetypes.len().max(1))?;
                m.insert("type".into(), ct.name.clone().into());
                if ct.workflow {
                    let state = &ct.states[b as usize % ct.states.len()].name;
                    m.insert("state".into(), state.clone().into());
                }
            }
            if !kdef.attrs.is_empty() {
                // Values that load: a resource of the kind a `ref` names, the first of the rest.
                let of_kind = |want| {
                    (resources.iter().zip(e.resources().iter()))
                        .find(|(_, y)| y.kind == want)
                        .map(|(id, _)| json!(id))
                };
                let attrs: Map<String, Value> = (kdef.attrs.iter())
                    .map(|a| {
                        let v = match a.ty {
                            Type::Ref(want) => of_kind(want),
                            _ => None,
                        };
                        (a.name.clone(), v.unwrap_or_else(|| value(a.ty, 0)))
                    })
                    .collect();
                m.insert("attrs".into(), Value::Object(attrs));
            }
            Change::UpsertResource { resource: m }
        }
        12 => {
            // A resource written again, with another state or attribute, or a copy of it under
            // a new id (a new resource beside it).
            let all: Value = serde_json::from_str(&written(policy, e)).ok()?;
            let records = all.get("resources")?.as_array()?;
            let mut m = records
                .get(a as usize % records.len())?
                .as_object()?
                .clone();
            if b % 3 == 0 {
                m.insert("id".into(), format!("new-resource-{c}").into());
            }
            // Moved under another parent of its parent's kind (a document moved to another
            // case), when there is one.
            if let Some(want) = kdef.parent.filter(|_| b % 3 == 2) {
                let parents: Vec<&str> = resources
                    .iter()
                    .zip(e.resources().iter())
                    .enumerate()
                    .filter(|(i, (_, x))| x.kind == want && Some(*i as u32) != r.parent)
                    .map(|(_, (id, _))| *id)
                    .collect();
                if let Some(parent) = pick(&parents, c) {
                    m.insert("parent".into(), parent.into());
                }
            }
            if let Some(ct) = ir
                .casetypes
                .get(r.casetype as usize)
                .filter(|_| kdef.is_case)
            {
                // A case type without a workflow: its cases name no state.
                match ct.workflow {
                    true => {
                        let state = &ct.states[c as usize % ct.states.len()].name;
                        m.insert("state".into(), state.clone().into());
                    }
                    false => {
                        m.remove("state");
                    }
                }
            }
            if let Some(attr) = kdef.attrs.get(c as usize % kdef.attrs.len().max(1)) {
                let attrs = m.entry("attrs").or_insert_with(|| json!({}));
                if let Some(attrs) = attrs.as_object_mut() {
                    attrs.insert(attr.name.clone(), value(attr.ty, b));
                }
            }
            if b % 5 == 1 {
                m.insert("read".into(), code(c).into());
            }
            Change::UpsertResource { resource: m }
        }
        _ => {
            // A unit moved under another, or a new one.
            let units = e.units();
            let id = match units.get(b as usize % units.len().max(1)) {
                Some(u) if b % 2 == 0 => u.id.clone(),
                _ => format!("new-unit-{}", b % 3),
            };
            let mut m = Map::new();
            m.insert("id".into(), id.into());
            if let Some(p) = units.get(c as usize % units.len().max(1)) {
                m.insert("parent".into(), p.id.clone().into());
            }
            Change::UpsertUnit { unit: m }
        }
    })
}

/// The counts a run reached, so that it cannot pass vacuously.
#[derive(Default, Debug)]
struct Stats {
    sets: usize,
    applied: usize,
    refused: usize,
    events: usize,
    /// Applied change sets that changed at least one decision.
    eventful: usize,
    /// Applied in place rather than by reloading.
    in_place: usize,
    /// Applied in place with a resource deleted.
    deleted_in_place: usize,
    /// Applied in place with a resource moved under another parent.
    moved_in_place: usize,
    /// Applied in place with a new unit.
    unit_in_place: usize,
    /// Applied in place with a unit there was written again (moved under another parent).
    unit_moved_in_place: usize,
    /// Applied in place with a user deleted.
    user_deleted_in_place: usize,
    /// Applied in place with a user deleted, and with events.
    user_deleted_eventful: usize,
    /// Applied in place with a unit deleted.
    unit_deleted_in_place: usize,
    /// Applied in place with a unit there was written again and a unit deleted.
    unit_moved_and_deleted_in_place: usize,
    /// Second change sets, applied to the version the first gave.
    second: usize,
    /// Applied change sets that add or remove a group of a relation, with events.
    group_members: usize,
    /// Applied change sets that add or remove a member of a resource kind's relation.
    kind_members: usize,
    /// Applied in place with a group added to or removed from a relation.
    group_members_in_place: usize,
    /// The same, with events.
    group_members_eventful_in_place: usize,
    /// Applied in place with a member of a resource kind's relation added or removed.
    kind_members_in_place: usize,
    /// Applied in place to entities whose relations list groups, before or after.
    listing_groups_in_place: usize,
    /// Applied in place for a policy whose resource kinds declare relations.
    kind_relations_in_place: usize,
    /// Applied in place with a resource moved under another parent and a resource deleted.
    moved_and_deleted_in_place: usize,
    /// Applied in place with a user deleted, in a policy with `ref User` attributes.
    user_deleted_refs_in_place: usize,
    /// Applied with a resource written again under another kind, and of those in place.
    kind_changed: usize,
    kind_changed_in_place: usize,
    /// Applied change sets with an event computed for a class of several users at once.
    class_events: usize,
    /// Events computed for a class, over all change sets.
    class_event_count: usize,
}

/// The entities with two twins of every user (the same groups, units, terms and attributes
/// under another id, named by no relation), a near twin (the same but in no unit and with
/// no term, so other codes) and a first unit nobody is in (to be deleted in place): the events of classes of several users (`events.rs`) are
/// computed, a class holds users named on a resource beside others, and users whose decisions
/// differ by their codes alone are there to tell a class that ignored them.
fn with_twins(entities: &str) -> String {
    let mut v: Value = serde_json::from_str(entities).expect("generated entities are JSON");
    if let Some(Value::Array(users)) = v.get_mut("users") {
        let twins: Vec<Value> = users
            .iter()
            .flat_map(|u| {
                ["twin", "twin2", "near"]
                    .into_iter()
                    .filter_map(move |suffix| {
                        let mut twin = u.as_object()?.clone();
                        let id = twin.get("id")?.as_str()?.to_string();
                        twin.insert("id".into(), json!(format!("{id}-{suffix}")));
                        if suffix == "near" {
                            // Only the codes differ: in no unit, with no term.
                            twin.remove("units");
                            twin.remove("terms");
                        }
                        Some(Value::Object(twin))
                    })
            })
            .collect();
        users.extend(twins);
    }
    // A unit nobody is in, first, so that deleting it moves the last unit into its place.
    if let Some(units) = v
        .as_object_mut()
        .map(|m| m.entry("units").or_insert(json!([])))
    {
        if let Some(units) = units.as_array_mut() {
            units.insert(0, json!({"id": "spare-unit"}));
        }
    }
    v.to_string()
}

/// One generated world and two change sets, the second applied to the version the first
/// gave (so what applying in place keeps between versions is used again): each applied, its
/// events equal the brute-force difference; refused, the snapshot is as it was and at least
/// one problem is reported.
fn check_one(
    g: &gen::Generated,
    ops: [&[(u8, u8, u8, u8)]; 2],
    stats: &mut Stats,
) -> Result<(), TestCaseError> {
    let policy = policy_of(&g.files);
    let entities = policy
        .load_entities(&with_twins(&g.entities))
        .expect("the generated entities load");
    let snapshot = Snapshot::new(entities);
    if let Some(next) = step(&policy, &snapshot, ops[0], stats)? {
        stats.second += 1;
        step(&policy, &next, ops[1], stats)?;
    }
    Ok(())
}

/// Applies the change set `ops` makes for `snapshot` both ways and holds them to each other and
/// to brute force; the version applied in place, when the change set applies.
fn step(
    policy: &Policy,
    snapshot: &Snapshot,
    ops: &[(u8, u8, u8, u8)],
    stats: &mut Stats,
) -> Result<Option<Snapshot>, TestCaseError> {
    let before_text = written(policy, snapshot.entities());
    let before_debug = format!("{:?}", snapshot.entities());
    let changes = ChangeSet {
        changes: ops
            .iter()
            .filter_map(|&o| change_of(policy, snapshot.entities(), o))
            .collect(),
    };
    stats.sets += 1;
    let reloaded = live::apply_by_reloading(policy, snapshot, &changes);
    let mut next = None;
    match live::apply(policy, snapshot, &changes) {
        Ok(applied) => {
            stats.applied += 1;
            stats.in_place += usize::from(applied.in_place);
            let deletes = changes
                .changes
                .iter()
                .any(|c| matches!(c, Change::DeleteResource { .. }));
            stats.deleted_in_place += usize::from(applied.in_place && deletes);
            let moves = changes.changes.iter().any(|c| match c {
                Change::UpsertResource { resource } => {
                    let id = resource
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let parent = resource.get("parent").and_then(Value::as_str);
                    let e = snapshot.entities();
                    e.resource(id)
                        .is_some_and(|r| r.parent.map(|p| e.resource_id(p)) != parent)
                }
                _ => false,
            });
            stats.moved_in_place += usize::from(applied.in_place && moves);
            stats.moved_and_deleted_in_place += usize::from(applied.in_place && moves && deletes);
            let units = changes
                .changes
                .iter()
                .any(|c| matches!(c, Change::UpsertUnit { .. }));
            stats.unit_in_place += usize::from(applied.in_place && units);
            let unit_moved = changes.changes.iter().any(|c| match c {
                Change::UpsertUnit { unit } => unit
                    .get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| snapshot.entities().is_unit(id)),
                _ => false,
            });
            stats.unit_moved_in_place += usize::from(applied.in_place && unit_moved);
            let user_deleted =
                (changes.changes.iter()).any(|c| matches!(c, Change::DeleteUser { .. }));
            stats.user_deleted_in_place += usize::from(applied.in_place && user_deleted);
            stats.user_deleted_eventful +=
                usize::from(applied.in_place && user_deleted && !applied.events.is_empty());
            let unit_deleted =
                (changes.changes.iter()).any(|c| matches!(c, Change::DeleteUnit { .. }));
            stats.unit_deleted_in_place += usize::from(applied.in_place && unit_deleted);
            stats.unit_moved_and_deleted_in_place +=
                usize::from(applied.in_place && unit_moved && unit_deleted);
            let groups = changes.changes.iter().any(|c| {
                matches!(
                    c,
                    Change::AddMemberGroup { .. } | Change::RemoveMemberGroup { .. }
                )
            });
            stats.group_members += usize::from(groups && !applied.events.is_empty());
            let e = snapshot.entities();
            let ir = policy.compiled().ir();
            let of_kind = changes.changes.iter().any(|c| match c {
                Change::AddMember { resource, .. } | Change::RemoveMember { resource, .. } => e
                    .resource(resource)
                    .is_some_and(|r| !ir.kinds[r.kind.idx()].is_case),
                _ => false,
            });
            stats.kind_members += usize::from(of_kind);
            stats.group_members_in_place += usize::from(applied.in_place && groups);
            stats.group_members_eventful_in_place +=
                usize::from(applied.in_place && groups && !applied.events.is_empty());
            stats.kind_members_in_place += usize::from(applied.in_place && of_kind);
            let lists_groups = |e: &Entities| {
                e.resources().iter().any(|r| {
                    (r.relations.iter()).any(|l| {
                        casepol::internal::entities::member_groups(l)
                            .next()
                            .is_some()
                    })
                })
            };
            stats.listing_groups_in_place += usize::from(
                applied.in_place && (lists_groups(e) || lists_groups(applied.snapshot.entities())),
            );
            let kind_relations = (ir.kinds.iter()).any(|k| !k.is_case && !k.relations.is_empty());
            stats.kind_relations_in_place += usize::from(applied.in_place && kind_relations);
            let kind_changed = changes.changes.iter().any(|c| match c {
                Change::UpsertResource { resource } => {
                    let id = resource.get("id").and_then(Value::as_str);
                    let kind = resource.get("kind").and_then(Value::as_str);
                    id.and_then(|id| e.resource(id))
                        .is_some_and(|r| Some(ir.kinds[r.kind.idx()].name.as_str()) != kind)
                }
                _ => false,
            });
            stats.kind_changed += usize::from(kind_changed);
            let refs = (ir.kinds.iter().flat_map(|k| &k.attrs))
                .chain(ir.user_attrs.iter())
                .any(|a| matches!(a.ty, Type::RefUser));
            stats.user_deleted_refs_in_place +=
                usize::from(applied.in_place && user_deleted && refs);
            stats.kind_changed_in_place += usize::from(applied.in_place && kind_changed);
            // The two ways of applying agree: the same entities, the same events.
            let Ok(other) = &reloaded else {
                return Err(TestCaseError::fail(format!(
                    "applied, but refused by reloading: {reloaded:?}\nchanges: {changes:?}"
                )));
            };
            prop_assert_eq!(
                written(policy, applied.snapshot.entities()),
                written(policy, other.snapshot.entities()),
                "changes: {:?}",
                changes
            );
            prop_assert_eq!(&applied.events, &other.events, "changes: {:?}", changes);
            let (class_events, most) = applied.events.class_stats();
            stats.class_events += usize::from(most >= 2);
            stats.class_event_count += class_events;
            stats.events += applied.events.len();
            stats.eventful += usize::from(!applied.events.is_empty());
            prop_assert_eq!(applied.snapshot.version(), snapshot.version() + 1);
            let want = brute_force(policy, snapshot.entities(), applied.snapshot.entities());
            let got = event_set(&applied.events);
            prop_assert_eq!(got, want, "changes: {:?}", changes);
            // Writing the new entities and loading them gives the same entities.
            let text = written(policy, applied.snapshot.entities());
            let again = policy.load_entities(&text).expect("written entities load");
            prop_assert_eq!(written(policy, &again), text);
            next = Some(applied.snapshot);
        }
        Err(e) => {
            stats.refused += 1;
            prop_assert!(!e.problems.is_empty());
            prop_assert_eq!(Some(&e), reloaded.as_ref().err(), "changes: {:?}", changes);
        }
    }
    prop_assert_eq!(written(policy, snapshot.entities()), before_text);
    prop_assert_eq!(format!("{:?}", snapshot.entities()), before_debug);
    Ok(next)
}

/// Change sets of one to four changes; one in six a resource moved under another parent alone
/// (`change_of`, 13), one in six a resource moved and one deleted, and one in six a state, an
/// attribute, an access code or an inheritance switch set, a group added or removed, a unit
/// written, a resource deleted or written again (perhaps under another kind), a user or unit
/// deleted, a group listed in a relation or not, or a member of a resource kind's relation
/// added or removed, alone (0, 1, 6, 7, 8, 11, 12, 14, 15, and 10 twice): each applies in
/// place whenever the world allows it, while
/// mixed with other changes it seldom is, since one change kept for reloading sends the whole
/// set there. Changes to a resource are those whose events are computed for classes of users.
fn ops() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
    prop_oneof![
        3 => prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()), 1..=4),
        1 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c)| vec![(13, a, b, c)]),
        // A resource moved and one deleted (a document, when nothing is under it), in either
        // order.
        1 => (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>()).prop_map(
            |(a, b, c, d, first)| match first {
                true => vec![(13, a, b, c), (10, d, 0, 0)],
                false => vec![(10, d, 0, 0), (13, a, b, c)],
            }
        ),
        1 => (
            prop::sample::select(vec![0u8, 1, 6, 7, 8, 10, 10, 11, 12, 14, 15]),
            any::<u8>(),
            any::<u8>(),
            any::<u8>()
        )
            .prop_map(|(op, a, b, c)| vec![(op, a, b, c)]),
    ]
}

/// How many change sets the property test runs: `LIVE_CASES`, or 600 in the suite.
fn cases() -> u32 {
    std::env::var("LIVE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600)
}

#[test]
fn events_are_exactly_the_decisions_that_changed() {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    // In the suite, a fixed seed, so that the guards below (every way of applying was taken)
    // hold on every run: with a new seed each run, 600 cases sometimes moved nothing in place.
    // A long run (`LIVE_CASES`) takes a new seed each time.
    let mut runner = match std::env::var_os("LIVE_CASES") {
        Some(_) => TestRunner::new(config),
        None => TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        ),
    };
    let stats = std::cell::RefCell::new(Stats::default());
    runner
        .run(&(gen::case(), ops(), ops()), |(g, first, second)| {
            check_one(&g, [&first, &second], &mut stats.borrow_mut())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let stats = stats.into_inner();
    eprintln!("{stats:?}");
    // Guards against passing vacuously: most change sets apply, some are refused, and the
    // applied ones change decisions.
    assert!(stats.applied * 2 > stats.sets, "{stats:?}");
    assert!(stats.refused > 0, "{stats:?}");
    assert!(stats.eventful * 10 > stats.applied, "{stats:?}");
    // Both ways are taken: in place, and by reloading.
    assert!(stats.in_place * 4 > stats.applied, "{stats:?}");
    assert!(stats.in_place < stats.applied, "{stats:?}");
    assert!(stats.deleted_in_place > 0, "{stats:?}");
    // 15 with the suite's seed: the change sets that move a resource alone see to it.
    assert!(stats.moved_in_place >= 5, "{stats:?}");
    assert!(stats.unit_in_place > 0, "{stats:?}");
    assert!(stats.unit_moved_in_place > 0, "{stats:?}");
    assert!(stats.user_deleted_in_place >= 5, "{stats:?}");
    assert!(stats.user_deleted_eventful > 0, "{stats:?}");
    assert!(stats.unit_deleted_in_place >= 5, "{stats:?}");
    assert!(stats.second * 2 > stats.sets / 2, "{stats:?}");
    // Relations of resource kinds and groups as members change hands, and decisions with them.
    assert!(stats.group_members > 0, "{stats:?}");
    assert!(stats.kind_members > 0, "{stats:?}");
    // And in place (38, 7 with events, 8, 287 and 386 with the suite's seed): groups added
    // to and removed from relations, members of a resource kind's relations, entities whose
    // relations list groups, policies whose resource kinds declare relations.
    assert!(stats.group_members_in_place >= 10, "{stats:?}");
    assert!(stats.group_members_eventful_in_place >= 5, "{stats:?}");
    assert!(stats.kind_members_in_place >= 5, "{stats:?}");
    assert!(stats.listing_groups_in_place >= 50, "{stats:?}");
    assert!(stats.kind_relations_in_place >= 50, "{stats:?}");
    // Users deleted in place in a policy with `ref User` attributes (9 with the suite's seed),
    // and change sets that move a resource and delete one (10). (Resources written under
    // another kind seldom apply here, once with the suite's seed, by reloading: most such
    // records are refused, or the resource has children; the listed-groups test below applies
    // three in place.)
    assert!(stats.user_deleted_refs_in_place >= 5, "{stats:?}");
    assert!(stats.moved_and_deleted_in_place >= 5, "{stats:?}");
}

#[test]
fn every_entities_file_is_written_back_to_the_same_entities() {
    for name in [
        "combined",
        "efob",
        "generated",
        "tensorcase",
        "torq",
        "workzone",
    ] {
        let policy = Policy::from_path(format!("policies/{name}")).expect("the policy checks");
        let entities = policy
            .load_entities_from_path(format!("policies/{name}/entities.json"))
            .expect("the entities load");
        let text = written(&policy, &entities);
        let again = policy.load_entities(&text).expect("written entities load");
        assert_eq!(written(&policy, &again), text, "{name}");
        assert_eq!(again.resources().len(), entities.resources().len());
    }
}

/// The policy of docs/language.md §23 with a group every user may join that admits on every
/// case: classes of users in scope everywhere, told apart by their groups, units and terms.
const CLASSES_POLICY: &str = r#"
role Admin, Investigator, Reviewer;
permission billing, manage_groups, delete_investigations;
action view, edit, comment, submit, close, reopen, archive, list;
action delete requires delete_investigations;
actions read_only = view, list;
enum AccessMode { open, restricted }
enum Source { intake_form, email, api }
case Investigation {
  attr title: string;
  attr issue_types: set<string>;
  attr source: Source;
  attr access_mode: AccessMode;
  relation assignee, collaborator;
  mode access_mode {
    open: everyone;
    restricted: assignee, collaborator;
  }
}
resource Evidence under Investigation { inherit read, write; }
codes {
  read: view, list;
  write: edit, comment, submit, close, reopen, delete;
}
group Admins { grants Admin; permits billing, manage_groups, delete_investigations; }
group Fraud {
  grants Investigator;
  scope filter all { issue_types contains "Fraud"; source == intake_form; }
}
group Assigned { grants Reviewer; scope assigned via assignee; }
group Everyone { grants Reviewer; }
allow Admin: *;
allow assignee, collaborator: read_only, comment;
casetype Standard {
  states Open, Review, Closed, Archived;
  initial Open;
  final Archived;
  transition submit: Open -> Review by Investigator, assignee;
  transition close: Open, Review -> Closed by Admin, Reviewer;
  transition reopen: Closed -> Open by Admin;
  transition archive: Closed -> Archived by Admin;
  allow Investigator: read_only;
  table {
             | Investigator | Reviewer    | assignee
    Open     | +edit        | +view       | +edit
    Review   | -edit        | +view +edit | .
    Closed   | -edit        | .           | -edit -comment
    Archived | .            | .           | .
  }
}
"#;

/// A world for [`CLASSES_POLICY`]: 16 users from a few groups, units and a term (so many share
/// all three), 3 cases and 6 documents whose read and write codes name units, the term, a
/// group or a user.
fn classes_world() -> impl Strategy<Value = String> {
    let users = prop::collection::vec((0u8..8, 0u8..5, any::<bool>()), 16);
    let cases = prop::collection::vec((0u8..4, any::<bool>(), any::<u8>(), any::<u8>()), 3);
    let docs = prop::collection::vec((0u8..3, any::<u8>()), 6);
    (users, cases, docs).prop_map(|(users, cases, docs)| {
        const CODES: [&str; 8] = ["", "", "U0", "U1", "ORG", "T", "Admins", "u1"];
        let groups = ["Admins", "Fraud", "Assigned", "Everyone"];
        let users: Vec<Value> = (users.iter().enumerate())
            .map(|(i, &(g, unit, term))| {
                let mut m = Map::new();
                m.insert("id".into(), json!(format!("u{i}")));
                let mine: Vec<&str> = (groups.iter().enumerate())
                    .filter(|(k, _)| (g + 1) & (1 << k) != 0 || (g >= 7 && *k == 3))
                    .map(|(_, g)| *g)
                    .collect();
                m.insert("groups".into(), json!(mine));
                if unit < 3 {
                    m.insert("units".into(), json!([format!("U{unit}")]));
                }
                if term {
                    m.insert("terms".into(), json!(["T"]));
                }
                Value::Object(m)
            })
            .collect();
        let mut resources: Vec<Value> = (cases.iter().enumerate())
            .map(|(i, &(state, restricted, codes, members))| {
                let state = ["Open", "Review", "Closed", "Archived"][state as usize];
                let source = ["intake_form", "email"][(codes / 2 % 2) as usize];
                json!({
                    "id": format!("c{i}"),
                    "kind": "Investigation",
                    "type": "Standard",
                    "state": state,
                    "attrs": {
                        "title": "t",
                        "issue_types": if codes % 2 == 0 { json!(["Fraud"]) } else { json!([]) },
                        "source": source,
                        "access_mode": if restricted { "restricted" } else { "open" },
                    },
                    "relations": {
                        "assignee": [format!("u{}", members % 16)],
                        "collaborator": [format!("u{}", members / 16)],
                    },
                    "read": CODES[(codes / 4 % 8) as usize],
                    "write": CODES[(codes / 32) as usize],
                })
            })
            .collect();
        resources.extend(docs.iter().enumerate().map(|(i, &(case, read))| {
            json!({
                "id": format!("d{i}"),
                "kind": "Evidence",
                "parent": format!("c{case}"),
                "read": CODES[(read % 8) as usize],
                "write": CODES[(read / 8 % 8) as usize],
            })
        }));
        json!({
            "units": [
                {"id": "ORG"},
                {"id": "U0", "parent": "ORG"},
                {"id": "U1", "parent": "ORG"},
                {"id": "U2", "parent": "U0"},
            ],
            "users": users,
            "resources": resources,
        })
        .to_string()
    })
}

/// Events computed for classes of users on worlds where classes are large: one or two
/// changes to resources (a state, the access mode or another attribute, an access code, an
/// inheritance switch, a document moved or deleted, a relation member), a user or unit deleted, or units (one moved
/// under another parent, or a new one), their events against
/// brute force and against reloading, as in the test above.
#[test]
fn events_of_classes_of_users_are_exactly_the_decisions_that_changed() {
    let config = Config {
        cases: cases() / 2,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = match std::env::var_os("LIVE_CASES") {
        Some(_) => TestRunner::new(config),
        None => TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        ),
    };
    let policy = Policy::from_source("classes.casepol", CLASSES_POLICY).expect("the policy checks");
    let change = (
        prop::sample::select(vec![0u8, 1, 2, 3, 5, 6, 7, 10, 11, 13]),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    );
    let set = prop::collection::vec(change, 1..=2);
    let stats = std::cell::RefCell::new(Stats::default());
    runner
        .run(
            &(classes_world(), set.clone(), set),
            |(world, first, second)| {
                let entities = policy.load_entities(&world).expect("the world loads");
                let stats = &mut stats.borrow_mut();
                if let Some(next) = step(&policy, &Snapshot::new(entities), &first, stats)? {
                    stats.second += 1;
                    step(&policy, &next, &second, stats)?;
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let stats = stats.into_inner();
    eprintln!("{stats:?}");
    assert!(stats.applied * 2 > stats.sets, "{stats:?}");
    assert!(stats.in_place * 2 > stats.applied, "{stats:?}");
    assert!(stats.eventful * 4 > stats.applied, "{stats:?}");
    // Events computed for classes of several users at once: 49 change sets of 156 with the
    // suite's seed.
    assert!(stats.class_events >= 20, "{stats:?}");
    assert!(stats.class_events * 5 > stats.eventful, "{stats:?}");
    assert!(stats.moved_in_place >= 10, "{stats:?}");
    assert!(stats.deleted_in_place >= 5, "{stats:?}");
    assert!(stats.unit_moved_in_place >= 5, "{stats:?}");
    // Users deleted in place, out of classes of users in scope everywhere.
    assert!(stats.user_deleted_eventful >= 5, "{stats:?}");
}

/// A policy in which users are in scope only through a relation: no group admits without one,
/// and nothing names `everyone`.
const ASSIGNED_POLICY: &str = r#"
role Reviewer, Boss;
action view, edit;
group Assigned { grants Reviewer; scope assigned via assignee; }
group Bosses { grants Boss; scope assigned via assignee; }
case Investigation { relation assignee, collaborator; }
resource Evidence under Investigation { }
allow Reviewer: view;
allow Boss: view, edit;
casetype Standard { states Open; initial Open; final Open; }
"#;

/// A change to a user whom no group admits without a relation reaches the resources under the
/// cases whose relations name the user, before or after (found from the store's lists of each
/// user's cases, not by a pass over every resource): changes of groups, a user written again,
/// relation members moved in the same change set, and a user deleted after leaving every
/// relation, each applied in place, twice in a row (the second on the version the first gave),
/// with the events of brute force and of reloading.
#[test]
fn a_user_change_reaches_the_cases_that_name_the_user() {
    let policy =
        Policy::from_source("assigned.casepol", ASSIGNED_POLICY).expect("the policy checks");
    let world = json!({
        "users": [
            {"id": "a", "groups": ["Assigned"]},
            {"id": "b", "groups": ["Bosses"]},
            {"id": "c", "groups": ["Assigned"]},
        ],
        "resources": [
            {"id": "c1", "kind": "Investigation", "type": "Standard", "state": "Open",
             "relations": {"assignee": ["a", "b"], "collaborator": ["c"]}},
            {"id": "c2", "kind": "Investigation", "type": "Standard", "state": "Open",
             "relations": {"assignee": ["a"]}},
            {"id": "c3", "kind": "Investigation", "type": "Standard", "state": "Open"},
            {"id": "e1", "kind": "Evidence", "parent": "c1"},
            {"id": "e2", "kind": "Evidence", "parent": "c2"},
            {"id": "e3", "kind": "Evidence", "parent": "c3"},
        ],
    });
    let entities = policy
        .load_entities(&world.to_string())
        .expect("the world loads");
    let group = |add: bool, user: &str, group: &str| match add {
        true => Change::AddGroup {
            user: user.into(),
            group: group.into(),
        },
        false => Change::RemoveGroup {
            user: user.into(),
            group: group.into(),
        },
    };
    let member = |add: bool, resource: &str, user: &str| match add {
        true => Change::AddMember {
            resource: resource.into(),
            relation: "assignee".into(),
            user: user.into(),
        },
        false => Change::RemoveMember {
            resource: resource.into(),
            relation: "assignee".into(),
            user: user.into(),
        },
    };
    let rewrite = |user: &str, groups: &[&str]| {
        let mut m = Map::new();
        m.insert("id".into(), user.into());
        m.insert("groups".into(), json!(groups));
        Change::UpsertUser { user: m }
    };
    let sets: Vec<Vec<Change>> = vec![
        vec![group(true, "a", "Bosses")],
        vec![group(false, "b", "Bosses")],
        vec![rewrite("a", &[])],
        vec![member(false, "c2", "a"), group(true, "a", "Bosses")],
        vec![member(true, "c3", "c"), group(true, "c", "Bosses")],
        vec![
            member(false, "c1", "a"),
            member(false, "c2", "a"),
            Change::DeleteUser { id: "a".into() },
        ],
    ];
    let events = each_in_place(&policy, entities, &sets);
    // Every change set changes decisions on the cases and the evidence under them.
    assert!(events >= 40, "{events} events");
}

/// A policy in which users are in scope only through relations, some listing groups (a member
/// of `Team` is one of `Staff` too), and a resource kind declares a relation of its own, held
/// on its resources and what is under them.
const LISTED_POLICY: &str = r#"
role Reviewer, Boss;
action view, edit;
group Staff { grants Reviewer; scope assigned via collaborator; }
group Team in Staff { grants Boss; scope assigned via assignee; }
group Outside { grants Reviewer; scope assigned via assignee; }
case Investigation { relation assignee, collaborator; }
resource Folder under Investigation { relation reader; allow reader: view; }
resource Evidence under Folder { }
allow Reviewer: view;
allow Boss: view, edit;
casetype Standard { states Open; initial Open; final Open; }
"#;

/// Groups listed in relations and relations of a resource kind, applied in place: groups added
/// to and removed from relations (the members of the group, whom no group admits without a
/// relation, reached one by one), members of a folder's relation, a user's groups changed (the
/// resources that list a group of theirs reached), a resource moved to a folder another group
/// reads, a folder written with `relation_groups`, resources written under another kind, a
/// resource and a user deleted, resources moved and deleted in one change set; each change set alone and followed by the next, with the events
/// of brute force and of reloading.
#[test]
fn a_listed_group_and_a_resource_kind_relation_reach_their_members() {
    let policy = Policy::from_source("listed.casepol", LISTED_POLICY).expect("the policy checks");
    let world = json!({
        "users": [
            {"id": "a", "groups": ["Staff"]},
            {"id": "b", "groups": ["Team"]},
            {"id": "c", "groups": ["Outside"]},
            {"id": "d", "groups": ["Staff"]},
            {"id": "e", "groups": ["Outside"]},
        ],
        "resources": [
            {"id": "c1", "kind": "Investigation", "type": "Standard", "state": "Open",
             "relations": {"assignee": ["c"]}, "relation_groups": {"collaborator": ["Staff"]}},
            {"id": "c2", "kind": "Investigation", "type": "Standard", "state": "Open"},
            {"id": "c3", "kind": "Investigation", "type": "Standard", "state": "Open",
             "relations": {"assignee": ["d"]}},
            {"id": "f1", "kind": "Folder", "parent": "c1", "relations": {"reader": ["e"]}},
            {"id": "f2", "kind": "Folder", "parent": "c2", "relation_groups": {"reader": ["Team"]}},
            {"id": "e1", "kind": "Evidence", "parent": "f1"},
            {"id": "e2", "kind": "Evidence", "parent": "f2"},
        ],
    });
    let entities = policy
        .load_entities(&world.to_string())
        .expect("the world loads");
    let listed = |add: bool, resource: &str, relation: &str, group: &str| match add {
        true => Change::AddMemberGroup {
            resource: resource.into(),
            relation: relation.into(),
            group: group.into(),
        },
        false => Change::RemoveMemberGroup {
            resource: resource.into(),
            relation: relation.into(),
            group: group.into(),
        },
    };
    let member = |add: bool, resource: &str, relation: &str, user: &str| match add {
        true => Change::AddMember {
            resource: resource.into(),
            relation: relation.into(),
            user: user.into(),
        },
        false => Change::RemoveMember {
            resource: resource.into(),
            relation: relation.into(),
            user: user.into(),
        },
    };
    let record = |value: Value| match value {
        Value::Object(m) => Change::UpsertResource { resource: m },
        _ => unreachable!("a record is an object"),
    };
    let sets: Vec<Vec<Change>> = vec![
        vec![listed(true, "c2", "collaborator", "Staff")],
        vec![listed(false, "c1", "collaborator", "Staff")],
        vec![listed(true, "c1", "assignee", "Team")],
        vec![listed(true, "f2", "reader", "Outside")],
        vec![
            member(true, "f2", "reader", "a"),
            member(false, "f1", "reader", "e"),
        ],
        vec![Change::AddGroup {
            user: "e".into(),
            group: "Team".into(),
        }],
        vec![Change::RemoveGroup {
            user: "b".into(),
            group: "Team".into(),
        }],
        vec![record(
            json!({"id": "e1", "kind": "Evidence", "parent": "f2"}),
        )],
        vec![record(json!({"id": "f1", "kind": "Folder", "parent": "c1",
                           "relation_groups": {"reader": ["Outside"]}}))],
        // Written under another kind: a document made a folder of another case, a document
        // made a case, a case with nothing under it made a folder.
        vec![record(json!({"id": "e2", "kind": "Folder", "parent": "c1",
                           "relations": {"reader": ["d"]}}))],
        vec![record(
            json!({"id": "e1", "kind": "Investigation", "type": "Standard",
                           "state": "Open", "relations": {"assignee": ["b"]}}),
        )],
        vec![record(json!({"id": "c3", "kind": "Folder", "parent": "c1",
                           "relation_groups": {"reader": ["Outside"]}}))],
        vec![Change::DeleteResource { id: "e2".into() }],
        // Moved and deleted in one change set: a folder moved to another case with the
        // document under it deleted, and a document deleted before another is moved.
        vec![
            record(json!({"id": "f1", "kind": "Folder", "parent": "c2",
                          "relations": {"reader": ["e"]}})),
            Change::DeleteResource { id: "e1".into() },
        ],
        vec![
            Change::DeleteResource { id: "e2".into() },
            record(json!({"id": "e1", "kind": "Evidence", "parent": "f2"})),
        ],
        vec![
            member(false, "c1", "assignee", "c"),
            Change::DeleteUser { id: "c".into() },
        ],
        // A folder deleted once the document under it moved away: the deletion reaches the
        // document (under the folder before the change set) too.
        vec![
            record(json!({"id": "e2", "kind": "Evidence", "parent": "f1"})),
            Change::DeleteResource { id: "f2".into() },
        ],
    ];
    let events = each_in_place(&policy, entities, &sets);
    assert!(events >= 40, "{events} events");
}

/// A policy whose read codes name org units.
const UNITS_POLICY: &str = r#"
role Reader;
action view;
group Staff { grants Reader; }
resource Note { allow Reader: view; }
codes { read: view; }
"#;

/// Units written again (moved under another parent) and deleted in one change set, in place:
/// the users in a moved unit or under it are found by id on each side, since a deletion moves
/// the last unit into the deleted one's place; each change set alone and followed by the next,
/// with the events of brute force and of reloading.
#[test]
fn units_moved_and_deleted_in_one_change_set() {
    let policy = Policy::from_source("units.casepol", UNITS_POLICY).expect("the policy checks");
    let world = json!({
        "units": [
            {"id": "spare"},
            {"id": "U0"},
            {"id": "U1", "parent": "U0"},
            {"id": "U2", "parent": "U0"},
        ],
        "users": [
            {"id": "ann", "groups": ["Staff"], "units": ["U1"]},
            {"id": "bob", "groups": ["Staff"], "units": ["U0"]},
            {"id": "cid", "groups": ["Staff"], "units": ["U2"]},
        ],
        "resources": [
            {"id": "n0", "kind": "Note", "read": "U0"},
            {"id": "n1", "kind": "Note", "read": "U1"},
            {"id": "n2", "kind": "Note", "read": "U2"},
        ],
    });
    let entities = policy
        .load_entities(&world.to_string())
        .expect("the world loads");
    let unit = |id: &str, parent: Option<&str>| {
        let mut m = Map::new();
        m.insert("id".into(), id.into());
        if let Some(p) = parent {
            m.insert("parent".into(), p.into());
        }
        Change::UpsertUnit { unit: m }
    };
    let delete = |id: &str| Change::DeleteUnit { id: id.into() };
    let sets: Vec<Vec<Change>> = vec![
        vec![unit("U2", None), delete("spare")],
        vec![delete("spare"), unit("U1", Some("U2"))],
        vec![unit("U1", None), delete("spare"), unit("U2", Some("U1"))],
        vec![unit("new", None), unit("U1", Some("new")), delete("spare")],
        // A user moved out of a unit that is then deleted: every unit change reaches them,
        // found in the deleted unit before the change set.
        vec![
            Change::UpsertUser {
                user: json!({"id": "cid", "groups": ["Staff"], "units": ["U0"]})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
            delete("U2"),
            unit("U1", None),
        ],
    ];
    let first = Snapshot::new(entities);
    let mut events = 0;
    for (i, one) in sets.iter().enumerate() {
        for then in [None, sets.get(i + 1)] {
            let mut snapshot = first.clone();
            for set in std::iter::once(one).chain(then) {
                let changes = ChangeSet {
                    changes: set.clone(),
                };
                let applied = live::apply(&policy, &snapshot, &changes);
                let reloaded = live::apply_by_reloading(&policy, &snapshot, &changes);
                let (Ok(applied), Ok(reloaded)) = (applied, reloaded) else {
                    // The second of a pair may name a unit the first deleted.
                    assert!(then.is_some_and(|t| t == set), "{changes:?}");
                    break;
                };
                assert!(applied.in_place, "{changes:?}");
                assert_eq!(applied.events, reloaded.events, "{changes:?}");
                assert_eq!(
                    written(&policy, applied.snapshot.entities()),
                    written(&policy, reloaded.snapshot.entities())
                );
                let want = brute_force(&policy, snapshot.entities(), applied.snapshot.entities());
                assert_eq!(event_set(&applied.events), want, "{changes:?}");
                events += applied.events.len();
                snapshot = applied.snapshot;
            }
        }
    }
    assert!(events >= 6, "{events} events");
}

/// Applies each change set of `sets` to `entities`, alone and followed by the next: each must
/// go in place, give the events and entities reloading gives, and events equal to a brute-force
/// decision before and after. Returns the number of events.
fn each_in_place(policy: &Policy, entities: Entities, sets: &[Vec<Change>]) -> usize {
    let first = Snapshot::new(entities);
    let mut events = 0;
    for (i, one) in sets.iter().enumerate() {
        for then in [None, sets.get(i + 1)] {
            let mut snapshot = first.clone();
            for set in std::iter::once(one).chain(then) {
                let changes = ChangeSet {
                    changes: set.clone(),
                };
                let applied = live::apply(policy, &snapshot, &changes).expect("applies");
                assert!(applied.in_place, "{changes:?}");
                let reloaded =
                    live::apply_by_reloading(policy, &snapshot, &changes).expect("reloads");
                assert_eq!(applied.events, reloaded.events, "{changes:?}");
                assert_eq!(
                    written(policy, applied.snapshot.entities()),
                    written(policy, reloaded.snapshot.entities())
                );
                assert_eq!(
                    applied.snapshot.entities().relation_groups(),
                    reloaded.snapshot.entities().relation_groups()
                );
                let want = brute_force(policy, snapshot.entities(), applied.snapshot.entities());
                assert_eq!(event_set(&applied.events), want, "{changes:?}");
                events += applied.events.len();
                snapshot = applied.snapshot;
            }
        }
    }
    events
}

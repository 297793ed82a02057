//! Applying a change set by editing the entity records it touches and loading the result with
//! the one construction path of entities, so that a change set is checked by exactly the rules,
//! and reported with exactly the messages, of loading an entities file.
//!
//! The records are those of [`Entities::to_json`]; a change edits its records as JSON, then
//! [`Entities::from_json`] loads the whole edited world. The old entities are only read.

use super::changes::{Change, ChangeSet};
use super::ChangeSetError;
use crate::compile::CompiledPolicy;
use crate::entities::{Entities, EntityError};
use crate::ir::Policy as Ir;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Which array of the entities file a record is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Section {
    Units,
    Users,
    Resources,
}

impl Section {
    fn what(self) -> &'static str {
        match self {
            Section::Units => "unit",
            Section::Users => "user",
            Section::Resources => "resource",
        }
    }

    fn op(self) -> &'static str {
        match self {
            Section::Units => "upsert_unit",
            Section::Users => "upsert_user",
            Section::Resources => "upsert_resource",
        }
    }
}

/// The entities as editable records. A deleted record is removed and the last of its section
/// moves into its place.
struct Doc {
    sections: [Vec<Option<Map<String, Value>>>; 3],
    /// Each id to its section and position. A record upserted under an id that another section
    /// holds is added too; loading then reports the id as repeated.
    index: HashMap<(Section, String), usize>,
}

fn slot(s: Section) -> usize {
    match s {
        Section::Units => 0,
        Section::Users => 1,
        Section::Resources => 2,
    }
}

impl Doc {
    fn new(p: &Ir, e: &Entities) -> Doc {
        let units: Vec<_> = (0..e.units().len())
            .map(|i| Some(e.unit_record(i)))
            .collect();
        let users: Vec<_> = (0..e.users().len())
            .map(|i| Some(e.user_record(p, i)))
            .collect();
        let resources: Vec<_> = (0..e.resources().len())
            .map(|i| Some(e.resource_record(p, i)))
            .collect();
        let mut index = HashMap::new();
        for (i, u) in e.units().iter().enumerate() {
            index.insert((Section::Units, u.id.clone()), i);
        }
        for (i, id) in e.user_ids().enumerate() {
            index.insert((Section::Users, id.to_string()), i);
        }
        for (i, id) in e.resource_ids().enumerate() {
            index.insert((Section::Resources, id.to_string()), i);
        }
        Doc {
            sections: [units, users, resources],
            index,
        }
    }

    /// The record of `id` in `section`, or why there is none.
    fn get(&mut self, section: Section, id: &str) -> Result<&mut Map<String, Value>, Problem> {
        let missing = || Problem {
            message: format!(
                "there is no {} `{}`",
                section.what(),
                crate::diagnostic::words::printable(id)
            ),
            help: format!(
                "add it with `{}` first, or check the id for a typo",
                section.op()
            ),
        };
        let at = *self
            .index
            .get(&(section, id.to_string()))
            .ok_or_else(missing)?;
        self.sections[slot(section)][at]
            .as_mut()
            .ok_or_else(missing)
    }

    fn upsert(&mut self, section: Section, record: &Map<String, Value>) {
        let id = match record.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            _ => None,
        };
        let list = &mut self.sections[slot(section)];
        match id
            .as_ref()
            .and_then(|id| self.index.get(&(section, id.clone())))
        {
            Some(&at) => list[at] = Some(record.clone()),
            None => {
                list.push(Some(record.clone()));
                if let Some(id) = id {
                    self.index.insert((section, id), list.len() - 1);
                }
            }
        }
    }

    /// Removes the record of `id`; the last record of its section moves into its place, as
    /// applying in place moves the last entity (`store.rs`), so both ways keep the same order.
    fn delete(&mut self, section: Section, id: &str) -> Result<(), Problem> {
        self.get(section, id)?;
        if let Some(at) = self.index.remove(&(section, id.to_string())) {
            let list = &mut self.sections[slot(section)];
            list.swap_remove(at);
            let moved = list.get(at).and_then(|r| r.as_ref()?.get("id")?.as_str());
            if let Some(moved) = moved {
                self.index.insert((section, moved.to_string()), at);
            }
        }
        Ok(())
    }

    fn into_json(self) -> String {
        let [units, users, resources] = self.sections;
        let list = |l: Vec<Option<Map<String, Value>>>| {
            Value::Array(l.into_iter().flatten().map(Value::Object).collect())
        };
        let mut top = Map::new();
        top.insert("units".into(), list(units));
        top.insert("users".into(), list(users));
        top.insert("resources".into(), list(resources));
        Value::Object(top).to_string()
    }
}

/// What is wrong with one change, and how to fix it.
struct Problem {
    message: String,
    help: String,
}

fn problem(message: String, help: &str) -> Problem {
    Problem {
        message,
        help: help.to_string(),
    }
}

/// The array of strings at `key` of `record`, made if absent.
fn strings<'a>(
    record: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Vec<Value>, Problem> {
    let v = record
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(problem(
            format!("field `{key}` is not an array"),
            "write the entity again with `upsert_…`",
        )),
    }
}

/// The object at `key` of `record`, made if absent.
fn object<'a>(
    record: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Map<String, Value>, Problem> {
    let v = record
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(problem(
            format!("field `{key}` is not an object"),
            "write the entity again with `upsert_…`",
        )),
    }
}

/// Adds `item` to the list, or says it is there already.
fn add(
    list: &mut Vec<Value>,
    item: &str,
    already: impl FnOnce() -> Problem,
) -> Result<(), Problem> {
    if list.iter().any(|v| v.as_str() == Some(item)) {
        return Err(already());
    }
    list.push(item.into());
    Ok(())
}

/// Removes `item` from the list, or says it is not there.
fn remove(
    list: &mut Vec<Value>,
    item: &str,
    absent: impl FnOnce() -> Problem,
) -> Result<(), Problem> {
    let before = list.len();
    list.retain(|v| v.as_str() != Some(item));
    match list.len() == before {
        true => Err(absent()),
        false => Ok(()),
    }
}

/// Applies one change to the records.
fn edit(doc: &mut Doc, change: &Change) -> Result<(), Problem> {
    use crate::diagnostic::words::printable as p;
    match change {
        Change::UpsertUnit { unit } => doc.upsert(Section::Units, unit),
        Change::UpsertUser { user } => doc.upsert(Section::Users, user),
        Change::UpsertResource { resource } => doc.upsert(Section::Resources, resource),
        Change::DeleteUnit { id } => doc.delete(Section::Units, id)?,
        Change::DeleteUser { id } => doc.delete(Section::Users, id)?,
        Change::DeleteResource { id } => doc.delete(Section::Resources, id)?,
        Change::AddGroup { user, group } => {
            let groups = strings(doc.get(Section::Users, user)?, "groups")?;
            add(groups, group, || {
                problem(
                    format!("user `{}` is in group `{}` already", p(user), p(group)),
                    "leave the change out",
                )
            })?;
        }
        Change::RemoveGroup { user, group } => {
            let groups = strings(doc.get(Section::Users, user)?, "groups")?;
            remove(groups, group, || {
                problem(
                    format!("user `{}` is not in group `{}`", p(user), p(group)),
                    "leave the change out, or check the group's name",
                )
            })?;
        }
        Change::SetState { resource, state } => {
            let r = doc.get(Section::Resources, resource)?;
            r.insert("state".into(), state.clone().into());
        }
        Change::SetAttr {
            resource,
            name,
            value,
        } => {
            let r = doc.get(Section::Resources, resource)?;
            object(r, "attrs")?.insert(name.clone(), value.clone());
        }
        Change::AddMember {
            resource,
            relation,
            user,
        } => {
            let r = doc.get(Section::Resources, resource)?;
            let members = strings(object(r, "relations")?, relation)?;
            add(members, user, || {
                problem(
                    format!(
                        "`{}` is `{}` of `{}` already",
                        p(user),
                        p(relation),
                        p(resource)
                    ),
                    "leave the change out",
                )
            })?;
        }
        Change::AddMemberGroup {
            resource,
            relation,
            group,
        } => {
            let r = doc.get(Section::Resources, resource)?;
            let members = strings(object(r, "relation_groups")?, relation)?;
            add(members, group, || {
                problem(
                    format!(
                        "group `{}` is `{}` of `{}` already",
                        p(group),
                        p(relation),
                        p(resource)
                    ),
                    "leave the change out",
                )
            })?;
        }
        Change::RemoveMemberGroup {
            resource,
            relation,
            group,
        } => {
            let r = doc.get(Section::Resources, resource)?;
            let rels = object(r, "relation_groups")?;
            let members = strings(rels, relation)?;
            remove(members, group, || {
                problem(
                    format!(
                        "group `{}` is not `{}` of `{}`",
                        p(group),
                        p(relation),
                        p(resource)
                    ),
                    "leave the change out, or check the group and the relation",
                )
            })?;
            if members.is_empty() {
                rels.remove(relation);
            }
        }
        Change::RemoveMember {
            resource,
            relation,
            user,
        } => {
            let r = doc.get(Section::Resources, resource)?;
            let rels = object(r, "relations")?;
            let members = strings(rels, relation)?;
            remove(members, user, || {
                problem(
                    format!(
                        "`{}` is not `{}` of `{}`",
                        p(user),
                        p(relation),
                        p(resource)
                    ),
                    "leave the change out, or check the user and the relation",
                )
            })?;
            if members.is_empty() {
                rels.remove(relation);
            }
        }
        Change::SetCode {
            resource,
            read,
            write,
        } => {
            if read.is_none() && write.is_none() {
                return Err(problem(
                    "the change sets neither `read` nor `write`".into(),
                    "give `read`, `write` or both; `\"\"` is no own code",
                ));
            }
            let r = doc.get(Section::Resources, resource)?;
            for (key, code) in [("read", read), ("write", write)] {
                if let Some(code) = code {
                    r.insert(key.into(), code.clone().into());
                }
            }
        }
        Change::SetInherit {
            resource,
            read,
            write,
        } => {
            if read.is_none() && write.is_none() {
                return Err(problem(
                    "the change sets neither `read` nor `write`".into(),
                    "give `read`, `write` or both, each `true` or `false`",
                ));
            }
            let r = doc.get(Section::Resources, resource)?;
            for (key, flag) in [("inherit_read", read), ("inherit_write", write)] {
                if let Some(flag) = flag {
                    r.insert(key.into(), (*flag).into());
                }
            }
        }
    }
    Ok(())
}

/// The ids a change writes: entity errors about them are put down to it.
fn touched(change: &Change) -> Option<&str> {
    fn id(m: &Map<String, Value>) -> Option<&str> {
        m.get("id").and_then(Value::as_str)
    }
    match change {
        Change::UpsertUnit { unit } => id(unit),
        Change::UpsertUser { user } => id(user),
        Change::UpsertResource { resource } => id(resource),
        Change::DeleteUnit { id } | Change::DeleteUser { id } | Change::DeleteResource { id } => {
            Some(id)
        }
        Change::AddGroup { user, .. } | Change::RemoveGroup { user, .. } => Some(user),
        Change::SetState { resource, .. }
        | Change::SetAttr { resource, .. }
        | Change::AddMember { resource, .. }
        | Change::RemoveMember { resource, .. }
        | Change::AddMemberGroup { resource, .. }
        | Change::RemoveMemberGroup { resource, .. }
        | Change::SetCode { resource, .. }
        | Change::SetInherit { resource, .. } => Some(resource),
    }
}

/// The entities after `changes`, loaded as an entities file is; or every problem, each put down
/// to the last change that wrote the entity it is about.
pub(super) fn apply(
    policy: &CompiledPolicy,
    old: &Entities,
    changes: &ChangeSet,
) -> Result<Entities, ChangeSetError> {
    let mut doc = Doc::new(policy.ir(), old);
    let mut errors = ChangeSetError::default();
    for (i, change) in changes.changes.iter().enumerate() {
        if let Err(p) = edit(&mut doc, change) {
            errors.push(Some(i + 1), p.message, p.help);
        }
    }
    let text = doc.into_json();
    let loaded = Entities::from_json(policy, &text);
    match (loaded, errors.problems.is_empty()) {
        (Ok(entities), true) => Ok(entities),
        (Ok(_), false) => Err(errors),
        (Err(load_errors), _) => {
            for e in load_errors {
                // An entity left naming a deleted one is put down to the deletion; any other
                // problem to the last change that wrote the entity.
                let deleted = changes.changes.iter().rposition(|c| match c {
                    Change::DeleteUnit { id }
                    | Change::DeleteUser { id }
                    | Change::DeleteResource { id } => e.message.contains(&format!("`{id}`")),
                    _ => false,
                });
                let by = deleted
                    .or_else(|| {
                        let id = e.entity.as_deref()?;
                        changes.changes.iter().rposition(|c| touched(c) == Some(id))
                    })
                    .map(|i| i + 1);
                errors.entity(by, e);
            }
            Err(errors)
        }
    }
}

impl ChangeSetError {
    /// An entity error found loading the changed entities. Its line and column are in the text
    /// the change set was applied to, which the user never saw, so they are dropped.
    fn entity(&mut self, change: Option<usize>, mut e: EntityError) {
        e.line = None;
        e.column = None;
        e.offset = None;
        let help = e.help.take();
        let message = e.to_string();
        e.help = help.clone();
        self.problems.push(super::ChangeProblem {
            change,
            message,
            help,
            entity: Some(e),
        });
    }
}

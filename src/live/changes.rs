//! The change-set format (docs/data-formats.md §4): a batch of changes to entities, read from
//! one JSON object, each change checked for its shape before any is applied.

use super::ChangeSetError;
use crate::diagnostic::words;
use crate::limits;
use serde::Deserialize;
use serde_json::{Map, Value};

/// One change to the entities. Records (`unit`, `user`, `resource`) are in the entity format
/// of docs/data-formats.md §1 and replace the whole entity of their id, or add it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Change {
    /// Adds a unit, or replaces the unit of the record's id.
    UpsertUnit {
        /// The unit, as in an entities file.
        unit: Map<String, Value>,
    },
    /// Removes a unit.
    DeleteUnit {
        /// The unit's id.
        id: String,
    },
    /// Adds a user, or replaces the user of the record's id.
    UpsertUser {
        /// The user, as in an entities file.
        user: Map<String, Value>,
    },
    /// Removes a user.
    DeleteUser {
        /// The user's id.
        id: String,
    },
    /// Adds a user to an access group.
    AddGroup {
        /// The user's id.
        user: String,
        /// The group's name.
        group: String,
    },
    /// Removes a user from an access group.
    RemoveGroup {
        /// The user's id.
        user: String,
        /// The group's name.
        group: String,
    },
    /// Adds a resource, or replaces the resource of the record's id.
    UpsertResource {
        /// The resource, as in an entities file.
        resource: Map<String, Value>,
    },
    /// Removes a resource.
    DeleteResource {
        /// The resource's id.
        id: String,
    },
    /// Moves a case to another workflow state.
    SetState {
        /// The case's id.
        resource: String,
        /// The state's name, one of the case type's.
        state: String,
    },
    /// Sets one attribute of a resource, such as its access mode.
    SetAttr {
        /// The resource's id.
        resource: String,
        /// The attribute's name, one its kind declares.
        name: String,
        /// The value, as in an entities file.
        value: Value,
    },
    /// Adds an access group to a relation of a resource: its members hold the relation.
    AddMemberGroup {
        /// The resource's id.
        resource: String,
        /// The relation's name.
        relation: String,
        /// The access group's name.
        group: String,
    },
    /// Removes an access group from a relation of a resource.
    RemoveMemberGroup {
        /// The resource's id.
        resource: String,
        /// The relation's name.
        relation: String,
        /// The access group's name.
        group: String,
    },
    /// Adds a user to a relation of a resource (a collaborator, an assignee).
    AddMember {
        /// The case's id.
        resource: String,
        /// The relation's name.
        relation: String,
        /// The user's id.
        user: String,
    },
    /// Removes a user from a relation of a case.
    RemoveMember {
        /// The case's id.
        resource: String,
        /// The relation's name.
        relation: String,
        /// The user's id.
        user: String,
    },
    /// Sets a resource's own read code, write code or both (`""` is no own code).
    SetCode {
        /// The resource's id.
        resource: String,
        /// The new own read code, if it changes.
        #[serde(default)]
        read: Option<String>,
        /// The new own write code, if it changes.
        #[serde(default)]
        write: Option<String>,
    },
    /// Sets whether a resource's effective codes go on with its parent's.
    SetInherit {
        /// The resource's id.
        resource: String,
        /// Whether the read code goes on with the parent's, if that changes.
        #[serde(default)]
        read: Option<bool>,
        /// Whether the write code goes on with the parent's, if that changes.
        #[serde(default)]
        write: Option<bool>,
    },
}

/// Every operation's name, in the order docs/data-formats.md §4 lists them.
pub const OPS: [&str; 16] = [
    "upsert_unit",
    "delete_unit",
    "upsert_user",
    "delete_user",
    "add_group",
    "remove_group",
    "upsert_resource",
    "delete_resource",
    "set_state",
    "set_attr",
    "add_member",
    "remove_member",
    "set_code",
    "set_inherit",
    "add_member_group",
    "remove_member_group",
];

/// A batch of changes, applied all together or not at all ([`super::apply`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// The changes, in the order they apply.
    pub changes: Vec<Change>,
}

/// The top-level object of a change set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Top {
    changes: Vec<Value>,
}

impl ChangeSet {
    /// Reads a change set, `{"changes": [ … ]}`, reporting every change whose shape is wrong.
    pub fn from_json(text: &str) -> Result<ChangeSet, ChangeSetError> {
        if text.len() > limits::MAX_CHANGE_SET_BYTES {
            return Err(ChangeSetError::one(
                None,
                format!(
                    "the change set is {}, more than the limit of {}",
                    limits::bytes(text.len()),
                    limits::bytes(limits::MAX_CHANGE_SET_BYTES)
                ),
                "split it into several change sets",
            ));
        }
        let top: Top = serde_json::from_str(text).map_err(|e| {
            ChangeSetError::one(
                None,
                format!("invalid change set: {e}"),
                "a change set is {\"changes\": [{\"op\": \"set_state\", \"resource\": \"<id>\", \"state\": \"<state>\"}, …]}",
            )
        })?;
        if top.changes.len() > limits::MAX_CHANGES {
            return Err(ChangeSetError::one(
                None,
                format!(
                    "the change set holds {} changes, more than the limit of {}",
                    words::thousands(top.changes.len()),
                    words::thousands(limits::MAX_CHANGES)
                ),
                "split it into several change sets",
            ));
        }
        let mut changes = Vec::with_capacity(top.changes.len());
        let mut errors = ChangeSetError::default();
        for (i, v) in top.changes.into_iter().enumerate() {
            match change(v) {
                Ok(c) => changes.push(c),
                Err((message, help)) => errors.push(Some(i + 1), message, help),
            }
        }
        match errors.problems.is_empty() {
            true => Ok(ChangeSet { changes }),
            false => Err(errors),
        }
    }
}

/// One change from its JSON, or what is wrong with it and how to fix it.
fn change(v: Value) -> Result<Change, (String, String)> {
    let op = match v.get("op") {
        _ if !v.is_object() => {
            return Err((
                "a change is not an object".into(),
                "write each change as {\"op\": \"…\", …}".into(),
            ))
        }
        None => {
            return Err((
                "missing field `op`".into(),
                format!("name the operation: {}", words::one_of(OPS)),
            ))
        }
        Some(Value::String(op)) => op.clone(),
        Some(_) => {
            return Err((
                "field `op` is not a string".into(),
                format!("name the operation: {}", words::one_of(OPS)),
            ))
        }
    };
    if !OPS.contains(&op.as_str()) {
        let shown = words::printable(&op);
        let help = words::did_you_mean(&op, OPS)
            .unwrap_or_else(|| format!("the operations are {}", words::one_of(OPS)));
        return Err((format!("unknown operation `{shown}`"), help));
    }
    serde_json::from_value(v).map_err(|e| {
        (
            format!("operation `{op}`: {e}"),
            "docs/data-formats.md §4 lists the fields of each operation".into(),
        )
    })
}

impl Change {
    /// The operation's name, as the format writes it.
    pub fn op(&self) -> &'static str {
        match self {
            Change::UpsertUnit { .. } => OPS[0],
            Change::DeleteUnit { .. } => OPS[1],
            Change::UpsertUser { .. } => OPS[2],
            Change::DeleteUser { .. } => OPS[3],
            Change::AddGroup { .. } => OPS[4],
            Change::RemoveGroup { .. } => OPS[5],
            Change::UpsertResource { .. } => OPS[6],
            Change::DeleteResource { .. } => OPS[7],
            Change::SetState { .. } => OPS[8],
            Change::SetAttr { .. } => OPS[9],
            Change::AddMember { .. } => OPS[10],
            Change::RemoveMember { .. } => OPS[11],
            Change::SetCode { .. } => OPS[12],
            Change::SetInherit { .. } => OPS[13],
            Change::AddMemberGroup { .. } => OPS[14],
            Change::RemoveMemberGroup { .. } => OPS[15],
        }
    }

    /// What the change does, in words, for events: "`access_mode` of `case-1` set to
    /// `restricted`".
    pub fn describe(&self) -> String {
        let id = |m: &Map<String, Value>| match m.get("id") {
            Some(Value::String(s)) => format!("`{}`", words::printable(s)),
            _ => "an entity without an id".to_string(),
        };
        let p = |s: &str| words::printable(s).into_owned();
        match self {
            Change::UpsertUnit { unit } => format!("unit {} written", id(unit)),
            Change::DeleteUnit { id } => format!("unit `{}` deleted", p(id)),
            Change::UpsertUser { user } => format!("user {} written", id(user)),
            Change::DeleteUser { id } => format!("user `{}` deleted", p(id)),
            Change::AddGroup { user, group } => {
                format!("`{}` added to group `{}`", p(user), p(group))
            }
            Change::RemoveGroup { user, group } => {
                format!("`{}` removed from group `{}`", p(user), p(group))
            }
            Change::UpsertResource { resource } => format!("resource {} written", id(resource)),
            Change::DeleteResource { id } => format!("resource `{}` deleted", p(id)),
            Change::SetState { resource, state } => {
                format!("`{}` moved to state `{}`", p(resource), p(state))
            }
            Change::SetAttr {
                resource,
                name,
                value,
            } => {
                let v = match value {
                    Value::String(s) => p(s),
                    other => p(&other.to_string()),
                };
                format!("`{}` of `{}` set to `{v}`", p(name), p(resource))
            }
            Change::AddMember {
                resource,
                relation,
                user,
            } => format!(
                "`{}` added as `{}` of `{}`",
                p(user),
                p(relation),
                p(resource)
            ),
            Change::RemoveMember {
                resource,
                relation,
                user,
            } => format!(
                "`{}` removed as `{}` of `{}`",
                p(user),
                p(relation),
                p(resource)
            ),
            Change::AddMemberGroup {
                resource,
                relation,
                group,
            } => format!(
                "group `{}` added as `{}` of `{}`",
                p(group),
                p(relation),
                p(resource)
            ),
            Change::RemoveMemberGroup {
                resource,
                relation,
                group,
            } => format!(
                "group `{}` removed as `{}` of `{}`",
                p(group),
                p(relation),
                p(resource)
            ),
            Change::SetCode {
                resource,
                read,
                write,
            } => {
                let mut parts = Vec::new();
                if let Some(r) = read {
                    parts.push(format!("read code `{}`", p(r)));
                }
                if let Some(w) = write {
                    parts.push(format!("write code `{}`", p(w)));
                }
                format!("`{}` given {}", p(resource), parts.join(" and "))
            }
            Change::SetInherit {
                resource,
                read,
                write,
            } => {
                let mut parts = Vec::new();
                if let Some(r) = read {
                    parts.push(format!("inherit_read `{r}`"));
                }
                if let Some(w) = write {
                    parts.push(format!("inherit_write `{w}`"));
                }
                format!("`{}` given {}", p(resource), parts.join(" and "))
            }
        }
    }
}

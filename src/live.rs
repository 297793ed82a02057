//! Live entities: change sets applied to versioned snapshots, and the access-change events they
//! cause (docs/data-formats.md §4).
//!
//! A [`Snapshot`] is one immutable version of the entities; readers hold it (cloning is cheap)
//! and decide on it, never blocked by a change. [`apply`] reads a snapshot and a [`ChangeSet`]
//! and makes the next version, sharing every record the change set does not touch, with the
//! [`Event`]s: who gained or lost which action on which resource. A change set with any problem
//! changes nothing and reports every problem.
//!
//! ```
//! use casepol::live::{self, ChangeSet, Snapshot};
//! use casepol::Policy;
//!
//! let policy = Policy::from_source("p.casepol", r#"
//!     role Clerk;
//!     action view;
//!     group Clerks { grants Clerk; scope assigned via assignee; }
//!     case Case {
//!         relation assignee;
//!         allow Clerk: view;
//!     }
//!     casetype Claim { states Open; initial Open; final Open; }
//! "#).unwrap();
//! let entities = policy.load_entities(r#"{
//!     "users": [{"id": "ann", "groups": ["Clerks"]}],
//!     "resources": [{"id": "c1", "kind": "Case", "type": "Claim", "state": "Open"}]
//! }"#).unwrap();
//! let v1 = Snapshot::new(entities);
//! let changes = ChangeSet::from_json(
//!     r#"{"changes": [{"op": "add_member", "resource": "c1", "relation": "assignee", "user": "ann"}]}"#,
//! ).unwrap();
//! let applied = live::apply(&policy, &v1, &changes).unwrap();
//! assert_eq!(applied.snapshot.version(), 2);
//! let event = &applied.events[0];
//! assert_eq!((event.user.as_str(), event.action.as_str(), event.gained), ("ann", "view", true));
//! // The old version is unchanged, for whoever still reads it.
//! assert_eq!(v1.version(), 1);
//! ```
//!
//! Inside: `changes.rs` is the change-set format and its shape checks; `store.rs` applies the
//! changes in place, to a copy that shares every record it does not change, when every change
//! can be and is certainly valid; `document.rs` otherwise edits the records and loads the
//! edited world by the one construction path of entities, so that every problem is reported
//! with the messages of loading; `events.rs` finds the decisions that changed, only where the
//! changes reach, deciding once for each class of users whose decisions there are the same.
//!
//! **Invariant:** applying is all or nothing. On any problem the old snapshot is returned to no
//! one and changed in nothing (it is only ever read), and every problem is reported.

use crate::api::Policy;
use crate::entities::{Entities, EntityError};
use std::sync::{Arc, OnceLock};
use store::Store;

mod changes;
mod document;
mod events;
mod store;

pub use changes::{Change, ChangeSet, OPS};
pub use events::{group, Event, EventGroup, Events};

/// One version of the entities. Cloning it is cheap and shares the entities.
#[derive(Clone)]
pub struct Snapshot {
    version: u64,
    entities: Arc<Entities>,
    /// What applying in place needs, made when the first change set is applied to this
    /// version (or kept from the version it was applied to).
    store: Arc<OnceLock<Store>>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.version)
            .field("entities", &self.entities)
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// The first version (1) of loaded entities.
    pub fn new(entities: Entities) -> Snapshot {
        Snapshot {
            version: 1,
            entities: Arc::new(entities),
            store: Arc::default(),
        }
    }

    /// The version: 1 for loaded entities, one more for each change set applied since.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The entities of this version; decide, explain and query on them.
    pub fn entities(&self) -> &Entities {
        &self.entities
    }
}

/// A change set's events as JSON: what `casepol apply --format json` writes for each change
/// set, the server answers to `/v1/changes` (without `line`) and the bindings return. Serialize
/// it with serde.
#[derive(Debug, serde::Serialize)]
pub struct AppliedJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    version: u64,
    events: Vec<EventJson<'a>>,
    groups: Vec<GroupJson<'a>>,
}

/// One event in [`AppliedJson`].
#[derive(Debug, serde::Serialize)]
struct EventJson<'a> {
    user: &'a str,
    resource: Option<&'a str>,
    action: &'a str,
    module: Option<&'a str>,
    access: &'static str,
    causes: &'a [usize],
}

/// One group of events in [`AppliedJson`].
#[derive(Debug, serde::Serialize)]
struct GroupJson<'a> {
    user: &'a str,
    access: &'static str,
    actions: &'a [String],
    resources: &'a [String],
    modules: &'a [Option<String>],
    causes: &'a [usize],
    events: usize,
    text: String,
}

impl<'a> AppliedJson<'a> {
    /// The JSON of `events`, gathered into `groups` ([`group`]), which `changes` caused;
    /// `version` is the version they made, and `line` the change set's line in a file of
    /// them (`None`: left out).
    pub fn new(
        line: Option<usize>,
        version: u64,
        events: &'a [Event],
        groups: &'a [EventGroup],
        changes: &ChangeSet,
    ) -> AppliedJson<'a> {
        let access = |gained: bool| if gained { "gained" } else { "lost" };
        AppliedJson {
            line,
            version,
            events: events
                .iter()
                .map(|e| EventJson {
                    user: &e.user,
                    resource: e.resource.as_deref(),
                    action: &e.action,
                    module: e.module.as_deref(),
                    access: access(e.gained),
                    causes: &e.causes,
                })
                .collect(),
            groups: groups
                .iter()
                .map(|g| GroupJson {
                    user: &g.user,
                    access: access(g.gained),
                    actions: &g.actions,
                    resources: &g.resources,
                    modules: &g.modules,
                    causes: &g.causes,
                    events: g.events,
                    text: g.describe(changes),
                })
                .collect(),
        }
    }
}

/// A change set applied: the new snapshot and the decisions that changed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Applied {
    /// The next version.
    pub snapshot: Snapshot,
    /// Every (user, resource, action, module) whose decision changed, sorted (read as a slice
    /// of [`Event`]s).
    pub events: Events,
    /// Whether the change set was applied in place (sharing every record it did not change)
    /// rather than by reloading the edited world.
    pub in_place: bool,
}

/// One problem with a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeProblem {
    /// The change it is about, numbered from 1; `None` for the change set as a whole, or for
    /// an entity that no change wrote (one a deletion left pointing at nothing).
    pub change: Option<usize>,
    /// What is wrong, on one line.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The entity error, when loading the changed entities found the problem.
    pub entity: Option<EntityError>,
}

/// A change set that was not applied, with every problem found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSetError {
    /// The problems, in the order of the changes.
    pub problems: Vec<ChangeProblem>,
}

impl ChangeSetError {
    #[cold]
    fn one(change: Option<usize>, message: String, help: &str) -> ChangeSetError {
        let mut e = ChangeSetError::default();
        e.push(change, message, help.to_string());
        e
    }

    #[cold]
    fn push(&mut self, change: Option<usize>, message: String, help: String) {
        self.problems.push(ChangeProblem {
            change,
            message,
            help: Some(help),
            entity: None,
        });
    }
}

impl std::fmt::Display for ChangeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(c) = self.change {
            write!(f, "change {c}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for ChangeSetError {
    /// One line counting the problems, then each.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} problem(s) in the change set", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ChangeSetError {}

/// Applies `changes` to `snapshot` for `policy`: the next version and the decisions that
/// changed, or every problem and no new version. The snapshot is only read.
pub fn apply(
    policy: &Policy,
    snapshot: &Snapshot,
    changes: &ChangeSet,
) -> Result<Applied, ChangeSetError> {
    apply_with(policy, snapshot, changes, true, Computed::ByClass)
}

/// What [`apply_with`] computes of the events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Computed {
    None,
    ByClass,
    UserByUser,
}

/// [`apply`] with the events of a change set applied in place computed user by user rather
/// than for classes of users: the way before classes, for the benchmarks.
#[doc(hidden)]
pub fn apply_events_user_by_user(
    policy: &Policy,
    snapshot: &Snapshot,
    changes: &ChangeSet,
) -> Result<Applied, ChangeSetError> {
    apply_with(policy, snapshot, changes, true, Computed::UserByUser)
}

/// [`apply`] without its events (`events` is empty): what applying costs apart from them,
/// for the benchmarks.
#[doc(hidden)]
pub fn apply_without_events(
    policy: &Policy,
    snapshot: &Snapshot,
    changes: &ChangeSet,
) -> Result<Applied, ChangeSetError> {
    apply_with(policy, snapshot, changes, true, Computed::None)
}

/// [`apply`], always by reloading the edited world: the other of the two ways, for the test that
/// keeps them in agreement.
#[doc(hidden)]
pub fn apply_by_reloading(
    policy: &Policy,
    snapshot: &Snapshot,
    changes: &ChangeSet,
) -> Result<Applied, ChangeSetError> {
    apply_with(policy, snapshot, changes, false, Computed::ByClass)
}

fn apply_with(
    policy: &Policy,
    snapshot: &Snapshot,
    changes: &ChangeSet,
    in_place: bool,
    computed: Computed,
) -> Result<Applied, ChangeSetError> {
    let with_events = computed != Computed::None;
    let old = snapshot.entities();
    if old.policy_stamp != policy.compiled().stamp {
        return Err(ChangeSetError::one(
            None,
            "the snapshot's entities were loaded for another policy".into(),
            "apply change sets with the policy that loaded the entities",
        ));
    }
    let p = policy.compiled().ir();
    let store = snapshot.store.get_or_init(|| Store::new(p, old));
    // In place when every change can be, and certainly valid; otherwise by reloading, which
    // reports every problem.
    let tried = match in_place {
        true => store::apply(p, old, store, changes),
        false => Err(store::Reload),
    };
    let (new, store, events, in_place) = match tried {
        Ok((new, new_store, mut touched)) => {
            // With users deleted, the events are decided on the entities before they were
            // taken out (positions kept), and read through them.
            let mid = touched.before_deleting.take();
            let after = match &mid {
                Some(mid) => (&mid.0, &mid.1),
                None => (&new, &new_store),
            };
            let events = match with_events {
                true => Some(events::in_place(
                    policy,
                    (old, store),
                    after,
                    &touched,
                    computed == Computed::ByClass,
                )?),
                false => None,
            };
            let read_through = mid.map(|m| Arc::new(m.0));
            (
                new,
                OnceLock::from(new_store),
                events.map(|g| (g, read_through)),
                true,
            )
        }
        Err(store::Reload) => {
            let new = document::apply(policy.compiled(), old, changes)?;
            let events = match with_events {
                true => Events::listed(events::events(policy, old, &new, changes)?),
                false => Events::default(),
            };
            let new = Arc::new(new);
            return Ok(Applied {
                snapshot: Snapshot {
                    version: snapshot.version + 1,
                    entities: new,
                    store: Arc::default(),
                },
                events,
                in_place: false,
            });
        }
    };
    let new = Arc::new(new);
    let events = match events {
        Some((g, read_through)) => Events::grouped(
            g,
            Arc::clone(&snapshot.entities),
            read_through.unwrap_or_else(|| Arc::clone(&new)),
        ),
        None => Events::default(),
    };
    Ok(Applied {
        snapshot: Snapshot {
            version: snapshot.version + 1,
            entities: new,
            store: Arc::new(store),
        },
        events,
        in_place,
    })
}

impl EventGroup {
    /// The group in one line, with the changes that caused it: "`anna` lost `edit` and `view`
    /// on `case-17` and 12 resources under it: change 1 (`access_mode` of `case-17` set to
    /// `restricted`)".
    pub fn describe(&self, changes: &ChangeSet) -> String {
        use crate::diagnostic::words;
        let verb = if self.gained { "gained" } else { "lost" };
        let mut on = match self.resources.as_slice() {
            [] => " on the account".to_string(),
            [one] => format!(" on `{}`", words::printable(one)),
            many => {
                let root = self.causes.iter().find_map(|&c| {
                    let target = match changes.changes.get(c - 1)? {
                        Change::SetState { resource, .. }
                        | Change::SetAttr { resource, .. }
                        | Change::SetCode { resource, .. }
                        | Change::SetInherit { resource, .. }
                        | Change::AddMember { resource, .. }
                        | Change::RemoveMember { resource, .. }
                        | Change::AddMemberGroup { resource, .. }
                        | Change::RemoveMemberGroup { resource, .. }
                        | Change::DeleteResource { id: resource } => resource.as_str(),
                        _ => return None,
                    };
                    many.iter().any(|r| r == target).then_some(target)
                });
                match root {
                    Some(root) => format!(
                        " on `{}` and, under it, {}",
                        words::printable(root),
                        words::list(
                            many.iter()
                                .filter(|r| r.as_str() != root)
                                .map(|r| words::printable(r))
                                .collect::<Vec<_>>()
                        )
                    ),
                    None => format!(
                        " on {}",
                        words::list(many.iter().map(|r| words::printable(r)))
                    ),
                }
            }
        };
        if self.modules.iter().any(Option::is_some) {
            let names: Vec<String> = self
                .modules
                .iter()
                .map(|m| match m {
                    Some(m) => format!("`{}`", words::printable(m)),
                    None => "no module".to_string(),
                })
                .collect();
            on.push_str(&format!(
                " (through {})",
                words::join(names, "and", words::ALL)
            ));
        }
        let causes: Vec<String> = self
            .causes
            .iter()
            .map(|&c| match changes.changes.get(c - 1) {
                Some(change) => format!("change {c} ({})", change.describe()),
                None => format!("change {c}"),
            })
            .collect();
        format!(
            "`{}` {verb} {}{on}: {}",
            words::printable(&self.user),
            words::list(self.actions.iter().map(|a| words::printable(a))),
            words::join(causes, "and", words::ALL)
        )
    }
}

// Readers on other threads hold snapshots while a change set is applied.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Snapshot>();
    send_sync::<ChangeSet>();
    send_sync::<ChangeSetError>();
};

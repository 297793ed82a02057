//! Reporting what is wrong with an entities file: the reporter that [`super::load`] takes as a
//! parameter, and every message.
//!
//! Loading is generic over [`Report`], as deciding is over `vm::Faults`. [`Silent`] stops the
//! load at the first problem, and since it never looks at one, the problems and their messages
//! compile away: that is the fast path. [`Reporter`] records each problem as an [`EntityError`]
//! that says what is wrong, where, and how to fix it, and lets the load go on to the next.
//! `load.rs` decides what is a problem; this file says it.

use super::diagnose;
use super::index::PolicyIndex;
use super::load::{Collision, TextProblem};
use super::read::{Field, Name, Section, Val};
use super::store::IdIndex;
use crate::access_code::CodeError;
use crate::diagnostic::words::{self, article, printable};
use crate::ir::{EnumId, KindId, Policy as Ir, Type};
use crate::limits;
use std::collections::HashMap;

/// A problem in the entity data. It is located by `line` and `column` in the JSON, or by `entity`
/// (or `position`, when the entity has no usable id) and `field`; `help` says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct EntityError {
    /// What is wrong.
    pub message: String,
    /// The id of the entity the problem is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The entity by its place in the file, such as `user #2`, when it has no usable id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// The field of the entity the problem is in, such as `groups` or `attrs.state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// One-based line and column (counted in characters) in the JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// See `line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The byte offset in the JSON text of the place `line` and `column` give, for drawing it
    /// in a larger text the JSON is part of (a policy test file's inline entities). It is not
    /// part of the JSON form of the error.
    #[serde(skip)]
    pub offset: Option<usize>,
}

impl EntityError {
    /// An error about the file as a whole rather than one entity.
    #[cold]
    pub(super) fn whole(message: String, help: &str) -> EntityError {
        EntityError {
            message,
            entity: None,
            position: None,
            field: None,
            help: Some(help.to_string()),
            line: None,
            column: None,
            offset: None,
        }
    }
}

impl std::fmt::Display for EntityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        let named = match (&self.entity, &self.position) {
            (Some(e), _) => {
                write!(f, "entity `{}`", printable(e))?;
                true
            }
            (None, Some(p)) => {
                write!(f, "{p}")?;
                true
            }
            (None, None) => false,
        };
        match (&self.field, named) {
            (Some(fl), true) => write!(f, ", field `{}`: ", printable(fl))?,
            (None, true) => write!(f, ": ")?,
            _ => {}
        }
        write!(f, "{}", printable(&self.message))?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {}", printable(h))?;
        }
        Ok(())
    }
}

impl std::error::Error for EntityError {}

/// The load stops here: [`Silent`]'s answer to any problem, and any reporter's to a file that
/// cannot be loaded at all.
#[derive(Debug)]
pub(super) struct Stop;

/// Whether the load goes on.
pub(super) type Flow = Result<(), Stop>;

/// An entity as errors name it: by id, or by its place in the file when the id is empty.
#[derive(Clone, Copy)]
pub(super) struct Who<'a> {
    pub(super) section: Section,
    /// Its position in its section.
    pub(super) index: usize,
    pub(super) id: &'a str,
}

impl Who<'_> {
    fn place(&self) -> String {
        format!("{} #{}", self.section.what(), self.index + 1)
    }
}

/// What is wrong with one entity. Each variant holds what its message needs, and nothing
/// that costs anything to make.
pub(super) enum Problem<'a> {
    EmptyId,
    /// The id cannot be shown; the entity is named by its place.
    BadId(TextProblem),
    /// The id is used before, by an entity of `prev`.
    RepeatedId {
        prev: Section,
    },
    IdIsGroup,
    UnknownParentUnit {
        parent: &'a str,
    },
    /// The positions of the units of a cycle, from the one that comes first in the file.
    UnitCycle {
        cycle: &'a [usize],
    },
    UnitTooDeep,
    UnknownGroup {
        group: &'a str,
    },
    NoGroup,
    UnknownUnit {
        unit: &'a str,
    },
    /// Term `term` (from 0) cannot be shown.
    BadTerm {
        term: usize,
        problem: TextProblem,
    },
    TermCollides {
        term: &'a str,
        with: Collision,
    },
    UnknownUserAttr {
        key: &'a str,
    },
    MissingUserAttr {
        name: &'a str,
    },
    UnknownKind {
        kind: &'a str,
    },
    UnknownParent {
        parent: &'a str,
        want: KindId,
    },
    /// `parent` names a resource of another kind: `found`, written `found_name`.
    WrongParentKind {
        kind: KindId,
        parent: &'a str,
        want: KindId,
        found: Option<KindId>,
        found_name: &'a str,
    },
    NeedsParent {
        kind: KindId,
        want: KindId,
    },
    ParentNotAllowed {
        kind: KindId,
        parent: &'a str,
    },
    NoCaseType,
    UnknownCaseType {
        name: &'a str,
    },
    NoState {
        casetype: u32,
    },
    UnknownState {
        casetype: u32,
        name: &'a str,
    },
    UnknownRelation {
        name: &'a str,
        kind: KindId,
    },
    UnknownMember {
        relation: &'a str,
        user: &'a str,
    },
    /// A group in `relation_groups` that the policy does not declare.
    UnknownMemberGroup {
        relation: &'a str,
        group: &'a str,
    },
    /// `relations` or `relation_groups` on a resource whose kind declares no relation.
    NoRelations {
        field: Field,
        kind: KindId,
    },
    /// A relation of another kind in a resource's `relations` or `relation_groups`.
    OtherKindRelation {
        relation: u32,
        kind: KindId,
    },
    /// `type` or `state` on a resource that is not a case.
    NotACase {
        field: Field,
        kind: KindId,
    },
    MissingAttr {
        kind: KindId,
        name: &'a str,
    },
    UnknownAttr {
        kind: KindId,
        key: &'a str,
    },
    BadCode {
        field: Field,
        text: &'a str,
        error: &'a CodeError,
    },
    /// The value of attribute `name`.
    Value {
        name: &'a str,
        problem: ValueProblem<'a>,
    },
}

/// What is wrong with an attribute's value.
pub(super) enum ValueProblem<'a> {
    /// The string, or element `element` of the set, holds a bidirectional control character.
    Bidi {
        element: Option<usize>,
        c: char,
    },
    /// A number that is not an `i64`.
    NotAnInt(&'a Val<'a>),
    /// An element of a set that is not a string.
    SetElement {
        element: usize,
        value: &'a Val<'a>,
    },
    UnknownUser(&'a str),
    /// `id` is a resource of kind `found`, not `want`.
    WrongKind {
        id: &'a str,
        want: KindId,
        found: Option<KindId>,
    },
    UnknownResource {
        id: &'a str,
        want: KindId,
    },
    NotAVariant {
        value: &'a str,
        of: EnumId,
    },
    /// A string that is not an RFC 3339 date and time, and why.
    NotADateTime {
        value: &'a str,
        why: String,
    },
    WrongType {
        ty: Type,
        value: &'a Val<'a>,
    },
}

/// A problem with the file as a whole.
pub(super) enum Whole {
    TooMany(usize),
    Unindexable,
}

/// Where loading reports problems.
pub(super) trait Report {
    /// A problem with one entity: the load goes on, or stops.
    fn report(&mut self, names: &Names<'_>, who: Who<'_>, problem: Problem<'_>) -> Flow;
    /// The text does not have the entity format; `first` is the reader's error.
    fn malformed(&mut self, p: &Ir, json: &str, first: serde_json::Error) -> Stop;
    /// The file cannot be loaded as a whole.
    fn whole(&mut self, problem: Whole) -> Stop;
    /// Whether a problem has been reported.
    fn failed(&self) -> bool;
}

/// Stops at the first problem and says nothing: the fast path.
pub(super) struct Silent;

impl Report for Silent {
    #[inline(always)]
    fn report(&mut self, _: &Names<'_>, _: Who<'_>, _: Problem<'_>) -> Flow {
        Err(Stop)
    }
    #[inline(always)]
    fn malformed(&mut self, _: &Ir, _: &str, _: serde_json::Error) -> Stop {
        Stop
    }
    #[inline(always)]
    fn whole(&mut self, _: Whole) -> Stop {
        Stop
    }
    #[inline(always)]
    fn failed(&self) -> bool {
        // Any problem stopped the load.
        false
    }
}

/// Records every problem, with its message and help.
pub(super) struct Reporter {
    errors: Vec<EntityError>,
    /// What is left of the work "did you mean" may do in this load.
    suggest_budget: usize,
    /// The help for naming each role as a group, once made.
    role_help: HashMap<u32, String>,
}

impl Reporter {
    pub(super) fn new() -> Reporter {
        Reporter {
            errors: Vec::new(),
            suggest_budget: limits::LOAD_SUGGEST_WORK,
            role_help: HashMap::new(),
        }
    }

    /// The problems reported, in the order they were found.
    pub(super) fn into_errors(self) -> Vec<EntityError> {
        self.errors
    }
}

impl Report for Reporter {
    #[cold]
    #[inline(never)]
    fn report(&mut self, names: &Names<'_>, who: Who<'_>, problem: Problem<'_>) -> Flow {
        let by_place = matches!(problem, Problem::BadId(_));
        let (field, message, help) = self.say(names, who, problem);
        let (entity, position) = if who.id.is_empty() || by_place {
            (None, Some(who.place()))
        } else {
            (Some(who.id.to_string()), None)
        };
        self.errors.push(EntityError {
            message,
            entity,
            position,
            field: Some(field),
            help: Some(help),
            line: None,
            column: None,
            offset: None,
        });
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn malformed(&mut self, p: &Ir, json: &str, first: serde_json::Error) -> Stop {
        self.errors.extend(diagnose::diagnose(p, json, first));
        Stop
    }

    #[cold]
    fn whole(&mut self, problem: Whole) -> Stop {
        self.errors.push(match problem {
            Whole::TooMany(count) => EntityError::whole(
                format!(
                    "the file holds {count} entities, more than the limit of {}",
                    limits::MAX_ENTITIES
                ),
                "leave out resources no request names",
            ),
            Whole::Unindexable => EntityError::whole(
                "the file holds too many entities, or too long ids, to index".to_string(),
                "leave out resources no request names",
            ),
        });
        Stop
    }

    fn failed(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// The ids in the file and the names in the policy, to say what a misplaced name is.
pub(super) struct Names<'a> {
    pub(super) p: &'a Ir,
    pub(super) ix: &'a PolicyIndex<'a>,
    pub(super) units: &'a IdIndex,
    pub(super) users: &'a IdIndex,
    pub(super) resources: &'a IdIndex,
    /// The kind of each resource.
    pub(super) kinds: &'a [Name],
}

impl Names<'_> {
    /// The kind of the resource at `i`, if the policy declares it.
    pub(super) fn kind(&self, i: u32) -> Option<KindId> {
        self.kinds
            .get(i as usize)
            .and_then(|k| k.known())
            .map(KindId)
    }

    /// What `id` is, when it is something: "a user", "an org unit", "a `Case`", "an access group", "a role".
    #[cold]
    fn describe(&self, id: &str) -> Option<String> {
        if self.users.contains_key(id) {
            return Some("a user".into());
        }
        if self.units.contains_key(id) {
            return Some("an org unit".into());
        }
        if let Some(&r) = self.resources.get(id) {
            return Some(match self.kind(r) {
                Some(k) => a_kind(&self.p.kinds[k.idx()].name),
                None => "a resource".into(),
            });
        }
        if self.ix.groups.contains_key(id) {
            return Some("an access group".into());
        }
        if self.ix.roles.contains_key(id) {
            return Some("a role".into());
        }
        None
    }

    /// The ids of the resources of kind `k`.
    fn of_kind(&self, k: KindId) -> impl Iterator<Item = &str> {
        self.resources
            .keys()
            .zip(self.kinds)
            .filter(move |(_, kind)| kind.known() == Some(k.0))
            .map(|(id, _)| id)
    }
}

/// How many names a help text lists before it says how many more there are.
const LIST_LIMIT: usize = 20;

/// "`A`, `B`, `C`", with at most [`LIST_LIMIT`] names.
/// Only the names listed are read, so a help text costs the same however long the list.
pub(super) fn list<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: ExactSizeIterator,
{
    let names = names.into_iter();
    let n = names.len();
    let mut out: Vec<String> = names.take(LIST_LIMIT).map(|n| format!("`{n}`")).collect();
    if n > LIST_LIMIT {
        out.push(format!("and {} more", n - LIST_LIMIT));
    }
    out.join(", ")
}

/// "a `Case`", "an `Attachment`".
fn a_kind(name: &str) -> String {
    format!("{} `{name}`", article(name))
}

impl Reporter {
    /// "did you mean" among `cands`, within the load's budget.
    fn mean<'a>(&mut self, name: &str, cands: impl IntoIterator<Item = &'a str>) -> Option<String> {
        words::did_you_mean_within(name, cands, &mut self.suggest_budget)
    }

    /// "did you mean" among some of `n` entity ids, within the load's budget: walking all `n`
    /// is paid for first, however few of them are candidates.
    fn suggest_id<'a>(
        &mut self,
        name: &str,
        n: usize,
        cands: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        if n > self.suggest_budget {
            return None;
        }
        self.suggest_budget -= n;
        self.mean(name, cands)
    }

    /// The field, message and help of a problem.
    fn say(
        &mut self,
        names: &Names<'_>,
        who: Who<'_>,
        problem: Problem<'_>,
    ) -> (String, String, String) {
        let p = names.p;
        let kind_name = |k: KindId| p.kinds[k.idx()].name.as_str();
        let s = String::from;
        match problem {
            Problem::EmptyId => (
                s("id"),
                s("the id is empty"),
                format!(
                    "give the {} an id that no other unit, user or resource has",
                    who.section.what()
                ),
            ),
            Problem::BadId(problem) => {
                let (message, help) = text_problem("the id", "id", problem);
                (s("id"), message, help)
            }
            Problem::RepeatedId { prev } => {
                let (prev, what) = (prev.what(), who.section.what());
                let again = if prev == what { "another" } else { "a" };
                (
                    s("id"),
                    format!(
                        "id `{}` is used by a {prev} and again by {again} {what}",
                        who.id
                    ),
                    s("give every entity its own id"),
                )
            }
            Problem::IdIsGroup => {
                // User and unit ids are access codes, and so are group names: one code must
                // name one thing, or holding it would mean two things (docs/data-formats.md §1.1).
                let holder = match who.section {
                    Section::Users => {
                        "the user would hold the group's access code without being a member"
                    }
                    _ => "the unit's members would hold the group's access code without being members",
                };
                let what = who.section.what();
                (
                    s("id"),
                    format!(
                        "{what} id `{}` is also the name of the access group `{}`, so {holder}",
                        who.id, who.id
                    ),
                    format!("give the {what} another id: user ids, unit ids, access-group names and terms are all access codes, and each must name one thing"),
                )
            }
            Problem::UnknownParentUnit { parent: pid } => {
                let help = match names.describe(pid) {
                    Some(what) => format!("`{pid}` is {what}; `parent` must be the id of a unit"),
                    None => self
                        .suggest_id(pid, names.units.len(), names.units.keys())
                        .unwrap_or_else(|| {
                            format!("add a unit with id `{pid}` to `units`, or remove `parent`")
                        }),
                };
                (s("parent"), format!("unknown parent unit `{pid}`"), help)
            }
            Problem::UnitCycle { cycle } => {
                let id = |i: usize| -> &str {
                    match names.units.id(i as u32) {
                        "" => "(empty id)",
                        id => id,
                    }
                };
                if cycle.len() == 1 {
                    return (
                        s("parent"),
                        format!("unit `{}` is its own parent", id(cycle[0])),
                        s("remove `parent`, or set it to another unit"),
                    );
                }
                let ids: Vec<&str> = cycle.iter().chain(cycle.first()).map(|&i| id(i)).collect();
                let members = list(cycle.iter().map(|&i| id(i)));
                (
                    s("parent"),
                    format!("units form a cycle through their parents: `{}`", ids.join(" → ")),
                    format!("a chain of parents must end at a unit with no parent; remove or change the `parent` of one of {members}"),
                )
            }
            Problem::UnitTooDeep => (
                s("parent"),
                format!(
                    "the chain of parents of unit `{}` holds more than {} units",
                    who.id,
                    limits::MAX_UNIT_DEPTH
                ),
                s("flatten the unit hierarchy: a unit may name a unit higher up as its parent"),
            ),
            Problem::UnknownGroup { group } => (
                s("groups"),
                format!("unknown access group `{group}`"),
                self.unknown_group_help(names, group),
            ),
            Problem::NoGroup => (
                s("groups"),
                s("user is in no access group, but the policy says `require group;`"),
                s("add the user to at least one access group"),
            ),
            Problem::UnknownUnit { unit: un } => {
                let help = match names.describe(un) {
                    Some(what) if names.ix.groups.contains_key(un) => {
                        format!("`{un}` is {what}; list it in `groups`, not `units`")
                    }
                    Some(what) => format!("`{un}` is {what}; `units` lists org units"),
                    None => self
                        .suggest_id(un, names.units.len(), names.units.keys())
                        .unwrap_or_else(|| format!("add a unit with id `{un}` to `units`")),
                };
                (s("units"), format!("unknown unit `{un}`"), help)
            }
            Problem::BadTerm { term, problem } => {
                let (message, help) = text_problem(&format!("term {}", term + 1), "term", problem);
                (s("terms"), message, help)
            }
            Problem::TermCollides { term: t, with } => {
                let (message, help) = match with {
                    Collision::Group => (
                        format!("term `{t}` is the name of the access group `{t}`, whose access code the user would hold without being a member"),
                        format!("list `{t}` in `groups` if the user is a member; otherwise remove the term"),
                    ),
                    Collision::Unit => (
                        format!("term `{t}` is the id of the unit `{t}`, whose access code the user would hold without being a member"),
                        format!("list `{t}` in `units` if the user is a member; otherwise remove the term"),
                    ),
                    Collision::OwnId => (
                        format!("term `{t}` is the user's own id, which is an access code of theirs already"),
                        s("remove the term"),
                    ),
                    Collision::User => (
                        format!("term `{t}` is the id of the user `{t}`, whose personal access code this user would hold"),
                        s("remove the term: a user id is an access code for that user alone"),
                    ),
                };
                (s("terms"), message, help)
            }
            Problem::UnknownUserAttr { key: k } => {
                let declared = || p.user_attrs.iter().map(|a| a.name.as_str());
                let help = self.mean(k, declared()).unwrap_or_else(|| {
                    if p.user_attrs.is_empty() {
                        format!("the policy declares no user attributes; remove `{k}`, or declare it in a `user {{ … }}` block")
                    } else {
                        format!("the policy's `user` block declares {}; remove `{k}`, or declare it there", list(declared()))
                    }
                });
                (
                    format!("attrs.{k}"),
                    format!("unknown user attribute `{k}`"),
                    help,
                )
            }
            Problem::MissingUserAttr { name } => (
                format!("attrs.{name}"),
                format!("missing attribute `{name}`"),
                s("every attribute declared in the policy's `user` block must be given"),
            ),
            Problem::UnknownKind { kind } => {
                let kinds = || p.kinds.iter().map(|k| k.name.as_str());
                let help = self.mean(kind, kinds()).unwrap_or_else(|| {
                    if p.kinds.is_empty() {
                        s("the policy declares no resource kinds; declare one with `case` or `resource`")
                    } else {
                        format!("the policy declares the kinds {}", list(kinds()))
                    }
                });
                (s("kind"), format!("unknown resource kind `{kind}`"), help)
            }
            Problem::UnknownParent { parent: pid, want } => {
                let want_kind = a_kind(kind_name(want));
                let help = match names.describe(pid) {
                    Some(what) => format!("`{pid}` is {what}; `parent` must be the id of {want_kind}"),
                    None => self
                        .suggest_id(pid, names.resources.len(), names.of_kind(want))
                        .unwrap_or_else(|| format!("add {want_kind} with id `{pid}` to `resources`, or set `parent` to the id of {want_kind} in the file")),
                };
                (s("parent"), format!("unknown parent `{pid}`"), help)
            }
            Problem::WrongParentKind {
                kind,
                parent: pid,
                want,
                found,
                found_name,
            } => {
                let (kname, wname) = (kind_name(kind), kind_name(want));
                let message = format!(
                    "parent `{pid}` is {}, but {} needs {} parent",
                    a_kind(found_name),
                    a_kind(kname),
                    a_kind(wname)
                );
                // Is the parent found higher up the chain of kinds, so that a resource is
                // missing between? Kinds' parents form no cycle (the checker rejects one), so
                // this walk ends.
                let mut above = p.kinds[want.idx()].parent;
                let mut skipped = false;
                while let Some(k) = above {
                    if Some(k) == found {
                        skipped = true;
                        break;
                    }
                    above = p.kinds[k.idx()].parent;
                }
                let help = if skipped {
                    format!(
                        "{} goes under {}, not directly under {}; set `parent` to the id of {} below `{pid}`",
                        a_kind(kname),
                        a_kind(wname),
                        a_kind(found_name),
                        a_kind(wname)
                    )
                } else {
                    format!("set `parent` to the id of {}", a_kind(wname))
                };
                (s("parent"), message, help)
            }
            Problem::NeedsParent { kind, want } => (
                s("parent"),
                format!(
                    "{} needs {} as its parent",
                    a_kind(kind_name(kind)),
                    a_kind(kind_name(want))
                ),
                format!("set `parent` to the id of {}", a_kind(kind_name(want))),
            ),
            Problem::ParentNotAllowed { kind, parent: pid } => {
                let kdef = &p.kinds[kind.idx()];
                let (message, help) = if kdef.is_case {
                    (
                        format!("`{}` is the case kind, the top of every chain of resources, so a case cannot have a parent", kdef.name),
                        format!("remove `parent`; to link one case to another, declare an attribute of type `ref {}` on `{}`", kdef.name, kdef.name),
                    )
                } else {
                    let under = names.resources.get(pid).and_then(|&i| names.kind(i));
                    let declare = match under {
                        Some(k) => format!(
                            "declare it as `resource {} under {} {{ }}`",
                            kdef.name,
                            kind_name(k)
                        ),
                        None => s("declare it with `under`"),
                    };
                    (
                        format!(
                            "kind `{}` is declared without `under`, so {} cannot have a parent",
                            kdef.name,
                            a_kind(&kdef.name)
                        ),
                        format!("remove `parent`, or {declare} in the policy"),
                    )
                };
                (s("parent"), message, help)
            }
            Problem::NoCaseType => (
                s("type"),
                s("a case needs a `type`"),
                if p.casetypes.is_empty() {
                    // Nothing to set it to: the policy must declare one first.
                    s("the policy declares no case type: declare one, as in `casetype Standard { }` (a case type without a workflow), and set `type` to its name")
                } else {
                    format!(
                        "set `type` to one of {}",
                        list(p.casetypes.iter().map(|c| c.name.as_str()))
                    )
                },
            ),
            Problem::UnknownCaseType { name: t } => {
                let case_types = || p.casetypes.iter().map(|c| c.name.as_str());
                let help = self.mean(t, case_types()).unwrap_or_else(|| {
                    format!("the policy declares the case types {}", list(case_types()))
                });
                (s("type"), format!("unknown case type `{t}`"), help)
            }
            Problem::NoState { casetype } => {
                let ct = &p.casetypes[casetype as usize];
                (
                    s("state"),
                    s("a case needs a `state`"),
                    format!(
                        "set `state` to one of the states of `{}`: {}",
                        ct.name,
                        list(ct.states.iter().map(|x| x.name.as_str()))
                    ),
                )
            }
            Problem::UnknownState { casetype, .. } if !p.casetypes[casetype as usize].workflow => {
                let ct = &p.casetypes[casetype as usize];
                (
                    s("state"),
                    format!("case type `{}` has no states (no workflow)", ct.name),
                    s("remove `state`: a case of a type that declares no `states` has none"),
                )
            }
            Problem::UnknownState { casetype, name: st } => {
                let ct = &p.casetypes[casetype as usize];
                let states = || ct.states.iter().map(|x| x.name.as_str());
                let help = self.mean(st, states()).unwrap_or_else(|| {
                    format!("the states of `{}` are {}", ct.name, list(states()))
                });
                (
                    s("state"),
                    format!("case type `{}` has no state `{st}`", ct.name),
                    help,
                )
            }
            Problem::UnknownRelation { name, kind } => {
                let own = &p.kinds[kind.idx()].relations;
                let relations = || own.iter().map(|r| p.relations[r.idx()].name.as_str());
                let help = self.mean(name, relations()).unwrap_or_else(|| {
                    if own.is_empty() {
                        format!("`{}` declares no relations; remove it", kind_name(kind))
                    } else {
                        format!(
                            "the relations of `{}` are {}",
                            kind_name(kind),
                            list(relations())
                        )
                    }
                });
                (
                    format!("relations.{name}"),
                    format!("unknown relation `{name}`"),
                    help,
                )
            }
            Problem::UnknownMember { relation, user: m } => {
                let help = match names.describe(m) {
                    Some(what) => format!("`{m}` is {what}; relations list user ids"),
                    None => self
                        .suggest_id(m, names.users.len(), names.users.keys())
                        .unwrap_or_else(|| format!("add a user with id `{m}` to `users`")),
                };
                (
                    format!("relations.{relation}"),
                    format!("unknown user `{m}`"),
                    help,
                )
            }
            Problem::UnknownMemberGroup { relation, group } => {
                let groups = || p.groups.iter().map(|g| g.name.as_str());
                let help = match self.mean(group, groups()) {
                    Some(dym) => dym,
                    None => match names.describe(group) {
                        Some(what) => format!(
                            "`{group}` is {what}; `relation_groups` lists access groups, `relations` users"
                        ),
                        None if p.groups.is_empty() => {
                            s("the policy declares no access groups; list users under `relations`")
                        }
                        None => format!("the access groups are {}", list(groups())),
                    },
                };
                (
                    format!("relation_groups.{relation}"),
                    format!("unknown access group `{group}`"),
                    help,
                )
            }
            Problem::NoRelations { field, kind } => {
                let f = field.key();
                let k = kind_name(kind);
                (
                    s(f),
                    format!("kind `{k}` declares no relations"),
                    format!("remove `{f}`, or declare the relation in the kind, as in `resource {k} {{ relation owner; }}`"),
                )
            }
            Problem::OtherKindRelation { relation, kind } => {
                let rel = &p.relations[relation as usize].name;
                let owner = p
                    .relation_kind(crate::ir::RelationId(relation))
                    .map_or("another kind", |k| p.kinds[k.idx()].name.as_str());
                let k = kind_name(kind);
                let own: Vec<&str> = p.kinds[kind.idx()]
                    .relations
                    .iter()
                    .map(|r| p.relations[r.idx()].name.as_str())
                    .collect();
                let help = if own.is_empty() {
                    format!("remove `{rel}`: `{k}` declares no relations")
                } else {
                    format!("the relations of `{k}` are {}", list(own.iter().copied()))
                };
                (
                    format!("relations.{rel}"),
                    format!("`{rel}` is a relation of `{owner}`, not of `{k}`"),
                    help,
                )
            }
            Problem::NotACase { field, kind } => {
                let f = field.key();
                (
                    s(f),
                    format!(
                        "only cases have `{f}`; `{}` is not the case kind",
                        kind_name(kind)
                    ),
                    format!("remove `{f}`"),
                )
            }
            Problem::MissingAttr { kind, name } => (
                format!("attrs.{name}"),
                format!("missing attribute `{name}`"),
                format!(
                    "kind `{}` declares `{name}`; give it a value",
                    kind_name(kind)
                ),
            ),
            Problem::UnknownAttr { kind, key: k } => {
                let kdef = &p.kinds[kind.idx()];
                let declared = || kdef.attrs.iter().map(|a| a.name.as_str());
                let help = self.mean(k, declared()).unwrap_or_else(|| {
                    if kdef.attrs.is_empty() {
                        format!("kind `{}` declares no attributes; remove `{k}`, or declare it in kind `{}`", kdef.name, kdef.name)
                    } else {
                        format!("kind `{}` declares {}; remove `{k}`, or declare it in kind `{}`", kdef.name, list(declared()), kdef.name)
                    }
                });
                (
                    format!("attrs.{k}"),
                    format!("kind `{}` has no attribute `{k}`", kdef.name),
                    help,
                )
            }
            Problem::BadCode { field, text, error } => {
                let (message, help) = code_error(text, error);
                (s(field.key()), message, help)
            }
            Problem::Value { name, problem } => {
                let (message, help) = self.value(names, name, problem);
                (format!("attrs.{name}"), message, help)
            }
        }
    }

    /// The message and help of a problem with the value of attribute `name`.
    fn value(
        &mut self,
        names: &Names<'_>,
        name: &str,
        problem: ValueProblem<'_>,
    ) -> (String, String) {
        let p = names.p;
        match problem {
            ValueProblem::Bidi { element, c } => {
                let what = match element {
                    Some(k) => format!("element {} of `{name}`", k + 1),
                    None => format!("the value of `{name}`"),
                };
                (
                    format!(
                        "{what} contains the bidirectional control character U+{:04X}",
                        u32::from(c)
                    ),
                    "remove it: it makes text display in another order than it is stored, so a value could look like another".to_string(),
                )
            }
            ValueProblem::NotAnInt(v) => {
                let (what, help) = int_problem(v);
                (
                    format!("`{name}` must be a whole number written without a fraction or exponent, between {} and {}, but {what}", i64::MIN, i64::MAX),
                    help,
                )
            }
            ValueProblem::SetElement { element, value } => {
                let help = match value {
                    Val::Int(n) => format!("write it in quotes: `\"{n}\"`"),
                    Val::Big(n) => format!("write it in quotes: `\"{n}\"`"),
                    Val::Bool(b) => format!("write it in quotes: `\"{b}\"`"),
                    _ => format!("write every element of `{name}` as a string"),
                };
                (
                    format!(
                        "element {} of `{name}` is {}; every element must be a string",
                        element + 1,
                        value.kind().name()
                    ),
                    help,
                )
            }
            ValueProblem::UnknownUser(id) => {
                let help = match names.describe(id) {
                    Some(what) => format!("`{id}` is {what}; `{name}` holds a user id"),
                    None => self
                        .suggest_id(id, names.users.len(), names.users.keys())
                        .unwrap_or_else(|| format!("add a user with id `{id}` to `users`")),
                };
                (format!("unknown user `{id}`"), help)
            }
            ValueProblem::WrongKind { id, want, found } => {
                let want = a_kind(&p.kinds[want.idx()].name);
                let message = match found {
                    Some(found) => format!(
                        "`{id}` is not {want}; it is {}",
                        a_kind(&p.kinds[found.idx()].name)
                    ),
                    None => format!("`{id}` is not {want}"),
                };
                (message, format!("set `{name}` to the id of {want}"))
            }
            ValueProblem::UnknownResource { id, want: k } => {
                let want = a_kind(&p.kinds[k.idx()].name);
                let help = match names.describe(id) {
                    Some(what) => format!("`{id}` is {what}; `{name}` holds the id of {want}"),
                    None => self
                        .suggest_id(id, names.resources.len(), names.of_kind(k))
                        .unwrap_or_else(|| format!("add {want} with id `{id}` to `resources`, or use the id of {want} in the file")),
                };
                (format!("unknown resource `{id}`"), help)
            }
            ValueProblem::NotAVariant { value, of } => {
                let def = &p.enums[of.idx()];
                let variants = || def.variants.iter().map(String::as_str);
                let help = self
                    .mean(value, variants())
                    .unwrap_or_else(|| format!("`{}` is one of {}", def.name, list(variants())));
                (
                    format!("`{value}` is not a variant of `{}`", def.name),
                    help,
                )
            }
            ValueProblem::NotADateTime { value, why } => (
                format!(
                    "attribute `{name}` has type `datetime`, but `{}` is not one: {why}",
                    crate::diagnostic::words::printable(value)
                ),
                format!(
                    "write an RFC 3339 date and time with its offset, such as `\"{}\"`",
                    crate::datetime::EXAMPLE
                ),
            ),
            ValueProblem::WrongType { ty, value } => {
                let want = p.type_name(ty);
                let help = match (ty, value) {
                    (Type::Int, Val::Str(s)) if s.parse::<i64>().is_ok() => {
                        format!("write it without quotes: `{}`", &**s)
                    }
                    (Type::Bool, Val::Str(s)) if &**s == "true" || &**s == "false" => {
                        format!("write it without quotes: `{}`", &**s)
                    }
                    (Type::SetStr, Val::Str(s)) => format!(
                        "write it as an array of strings: `[{}]`",
                        serde_json::to_string(&**s).unwrap_or_default()
                    ),
                    (Type::Str, Val::Int(n)) => format!("write it in quotes: `\"{n}\"`"),
                    (Type::Str, Val::Big(n)) => format!("write it in quotes: `\"{n}\"`"),
                    (Type::Str, _) => format!("write `{name}` as a string in double quotes"),
                    (Type::Bool, _) => "write `true` or `false`".to_string(),
                    (Type::Int, _) => "write a whole number, such as `42`".to_string(),
                    (Type::DateTime, _) => format!(
                        "write `{name}` as an RFC 3339 date and time in double quotes, such as `\"{}\"`",
                        crate::datetime::EXAMPLE
                    ),
                    (Type::SetStr, _) => {
                        format!("write `{name}` as an array of strings, such as `[\"a\", \"b\"]`")
                    }
                    (Type::RefUser, _) => {
                        format!("set `{name}` to the id of a user, in double quotes")
                    }
                    (Type::Ref(k), _) => format!(
                        "set `{name}` to the id of {}, in double quotes",
                        a_kind(&p.kinds[k.idx()].name)
                    ),
                    (Type::Enum(e), _) => format!(
                        "set `{name}` to one of {}",
                        list(p.enums[e.idx()].variants.iter().map(String::as_str))
                    ),
                };
                (
                    format!(
                        "attribute `{name}` has type {want}, but the value is {}",
                        value.kind().name()
                    ),
                    help,
                )
            }
        }
    }

    fn unknown_group_help(&mut self, names: &Names<'_>, g: &str) -> String {
        let p = names.p;
        // A near miss is most likely a typo, even when the name is also a role or a unit.
        if let Some(help) = self.mean(g, p.groups.iter().map(|x| x.name.as_str())) {
            return help;
        }
        if let Some(&role) = names.ix.roles.get(g) {
            if let Some(help) = self.role_help.get(&role) {
                return help.clone();
            }
            // Finding the granting groups scans the policy: once for each role named.
            let granting: Vec<&str> = p
                .groups
                .iter()
                .filter(|x| x.grants.iter().any(|r| r.idx() == role as usize))
                .map(|x| x.name.as_str())
                .collect();
            let help = if granting.is_empty() {
                format!("`{g}` is a role, not an access group, and no access group grants it")
            } else {
                format!(
                    "`{g}` is a role, not an access group; it is granted by {}",
                    list(granting)
                )
            };
            self.role_help.insert(role, help.clone());
            return help;
        }
        if let Some(what) = names.describe(g) {
            if names.units.contains_key(g) {
                return format!("`{g}` is {what}; list it in `units`, not `groups`");
            }
            return format!("`{g}` is {what}, not an access group");
        }
        if p.groups.is_empty() {
            "the policy declares no access groups".to_string()
        } else {
            format!(
                "the policy declares the access groups {}",
                list(p.groups.iter().map(|x| x.name.as_str()))
            )
        }
    }
}

/// The message and help for an id or a term that cannot be shown. `what` is how the message
/// names it, such as "the id" or "term 2", and `noun` what the rule is about, such as "id". The
/// text itself is not shown: it could drive the terminal.
fn text_problem(what: &str, noun: &str, problem: TextProblem) -> (String, String) {
    match problem {
        TextProblem::Control(c) => (
            format!("{what} contains the control character U+{:04X}", u32::from(c)),
            format!("{noun}s may hold any printable characters, but no control characters such as tabs, line breaks or escapes"),
        ),
        TextProblem::Bidi(c) => (
            format!(
                "{what} contains the bidirectional control character U+{:04X}",
                u32::from(c)
            ),
            format!("remove it: it makes text display in another order than it is stored, so one {noun} could look like another"),
        ),
        TextProblem::TooLong(len) => (
            format!(
                "{what} is {len} bytes long, more than the limit of {} bytes",
                limits::MAX_ID_BYTES
            ),
            format!("use a shorter {noun}"),
        ),
    }
}

/// What is wrong with a JSON number that is not an `i64`, and how to fix it. The number's text
/// is gone, and a float's rendering may not be what was written, so it is described, not shown.
fn int_problem(v: &Val<'_>) -> (String, String) {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_53: f64 = 9_007_199_254_740_992.0;
    let f = match *v {
        // Only integers above i64::MAX are read as `Big`; their text is exactly this.
        Val::Big(u) => {
            return (
                format!("`{u}` is too large"),
                "use a number in that range".to_string(),
            )
        }
        Val::Float(f) => f,
        _ => f64::NAN,
    };
    if f == 0.0 && f.is_sign_negative() {
        // JSON parsers read `-0` as the float minus zero, as they read `-0.0`: casepol cannot
        // tell them apart, so it accepts neither, and says so rather than blame a fraction.
        return (
            "the value is minus zero (`-0`)".into(),
            "write it as `0`".into(),
        );
    }
    if !f.is_finite() || f.fract() != 0.0 {
        if f.abs() < TWO_63 {
            return (
                "the value has a fraction".into(),
                "round it to a whole number".into(),
            );
        }
        return (
            "the value is out of range".into(),
            "use a number in that range".into(),
        );
    }
    if f > -TWO_63 && f < TWO_63 {
        // A whole number in range that is not an i64 was written with `.` or an exponent.
        let help = if f.abs() <= TWO_53 {
            format!("write it as `{}`", f as i64)
        } else {
            "write it as plain digits".into()
        };
        return (
            "the value is written with a fraction or an exponent".into(),
            help,
        );
    }
    if f == -TWO_63 {
        // Either below -2^63 and rounded to it, or -2^63 itself written with `.` or an exponent.
        return (
            "the value is out of range, or is written with a fraction or an exponent".into(),
            "write a number in that range as plain digits".into(),
        );
    }
    (
        "the value is out of range".into(),
        "use a number in that range".into(),
    )
}

/// The message and help for an access-code string that does not parse, quoting at most its
/// start.
fn code_error(text: &str, e: &CodeError) -> (String, String) {
    /// Longer strings are quoted in part.
    const SHOWN: usize = 60;
    let quoted = if text.len() <= SHOWN {
        format!("{text:?}")
    } else {
        let mut end = SHOWN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?} ({} bytes)", format!("{}…", &text[..end]), text.len())
    };
    let at = text.get(..e.offset).map_or(e.offset, |t| t.chars().count()) + 1;
    let help = if e.limit {
        format!(
            "an access code has at most {} levels, each of at most {} codes of at most {} bytes; the problem is at character {at}",
            limits::MAX_CODE_LEVELS,
            limits::MAX_LEVEL_CODES,
            limits::MAX_ID_BYTES
        )
    } else {
        format!("write codes as `A|B` or `[A|B] & [C]`; the problem is at character {at}")
    };
    (format!("invalid access code {quoted}: {}", e.message), help)
}
#[cfg(test)]
mod tests {
    use crate::api::Policy;
    use crate::diagnostic::work;

    /// Suggestions while loading share one budget: a 60 KB unknown user id against 10,000 users
    /// is compared with none of them, and ten thousand near misses cost no more than the budget.
    #[test]
    fn suggestions_while_loading_are_budgeted() {
        let policy = Policy::from_source(
            "p.casepol",
            "role R;\naction view;\ncase Case { relation owner; }\ncasetype T { states S; initial S; }\nallow owner: view;",
        )
        .unwrap();
        let users: Vec<String> = (0..10_000)
            .map(|i| format!(r#"{{"id": "user{i:05}"}}"#))
            .collect();
        let case = |i: usize, owner: &str| {
            format!(
                r#"{{"id": "c{i}", "kind": "Case", "type": "T", "state": "S", "relations": {{"owner": ["{owner}"]}}}}"#
            )
        };
        let huge = "u".repeat(60 * 1024);
        let json = format!(
            r#"{{"users": [{}], "resources": [{}]}}"#,
            users.join(","),
            case(0, &huge)
        );
        work::take();
        let errors = policy.load_entities(&json).unwrap_err();
        assert_eq!(work::take(), 0);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field.as_deref(), Some("relations.owner"));
        assert_eq!(
            errors[0].help.as_deref(),
            Some(format!("add a user with id `{huge}` to `users`").as_str())
        );
        // A thousand typos, each near one user: the first are suggested, and the work of all
        // of them together stays within the load's budget.
        let cases: Vec<String> = (0..1_000).map(|i| case(i, &format!("usr{i:05}"))).collect();
        let json = format!(
            r#"{{"users": [{}], "resources": [{}]}}"#,
            users.join(","),
            cases.join(",")
        );
        let errors = policy.load_entities(&json).unwrap_err();
        let spent = work::take();
        assert_eq!(errors.len(), 1_000);
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `user00000`?"));
        assert!(spent <= crate::limits::LOAD_SUGGEST_WORK, "{spent}");
        assert!(
            errors.last().is_some_and(
                |e| e.help.as_deref() == Some("add a user with id `usr00999` to `users`")
            ),
            "{:?}",
            errors.last()
        );
    }
}

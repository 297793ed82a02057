//! The loaded entities: users, org units and resources with every string interned and every
//! name an index, as deciding reads them.
//!
//! Of all this, only [`Entities`] and its id methods (`user_id`, `user_ids`, `resource_id`,
//! `resource_ids`, `is_unit`) are public API. The records, their fields and the accessors that
//! return them are the layout deciding reads, interned and indexed for this crate's policy ids:
//! they are `#[doc(hidden)]`, for casepol's own tests, benches and command line, and may change
//! with any release.

use super::pvec::PVec;
use super::store::{IdIndex, Ids, Shared};
use crate::ir::{KindDef, KindId};

/// An attribute value with every string interned.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrValue {
    /// A `string`, as a symbol ([`Entities::symbol`]).
    Sym(u32),
    /// An `int`.
    Int(i64),
    /// A `datetime`: microseconds since 1970-01-01T00:00:00Z (UTC).
    DateTime(i64),
    /// A `bool`.
    Bool(bool),
    /// A `set`: its strings as symbols, sorted by symbol and without duplicates.
    Set(Box<[u32]>),
    /// A `ref user`: the user's position in [`Entities::users`].
    User(u32),
    /// A `ref Kind`: the resource's position in [`Entities::resources`].
    Resource(u32),
    /// An enum value: the variant's position in its enum's declaration.
    Variant(u32),
}

/// A user. Its id is kept once, in the entities' id index: [`Entities::user_id`].
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct User {
    /// The groups the entities file lists for the user, as the policy's group ids, in the
    /// file's order.
    pub direct_groups: Shared<u32>,
    /// Every group the user is a member of: those listed and their ancestors, sorted.
    pub groups: Shared<u32>,
    /// The org units the entities file lists for the user, as positions in
    /// [`Entities::units`] (without ancestors).
    pub direct_units: Shared<u32>,
    /// The user's terms, as symbols ([`Entities::symbol`]).
    pub terms: Shared<u32>,
    /// Every code that stands for this user: id, groups, units (with ancestors) and terms (sorted).
    pub codes: Shared<u32>,
}

/// In a relation's list of members, the mark of a group: the list holds user positions (in
/// [`Entities::users`]), sorted, then groups (the policy's group ids) marked with this bit,
/// sorted. INVARIANT: a user's position is below `limits::MAX_ENTITIES`, far below this bit.
#[doc(hidden)]
pub const GROUP_MEMBER: u32 = 1 << 31;

/// The users a relation's list of members names.
#[doc(hidden)]
#[inline(always)]
pub fn member_users(list: &[u32]) -> &[u32] {
    // Lists without groups, the common case, end with a user.
    match list.last() {
        Some(&last) if last & GROUP_MEMBER != 0 => {
            &list[..list.partition_point(|&m| m & GROUP_MEMBER == 0)]
        }
        _ => list,
    }
}

/// The groups a relation's list of members names, as the policy's group ids.
#[doc(hidden)]
pub fn member_groups(list: &[u32]) -> impl Iterator<Item = u32> + '_ {
    list[member_users(list).len()..]
        .iter()
        .map(|&g| g & !GROUP_MEMBER)
}

/// How a user holds a relation whose members are `list`: `Some(None)` when listed, `Some(Some(g))`
/// through a member group `g` of theirs (`groups`: every group the user is a member of, sorted,
/// ancestors included), `None` when they do not hold it. Listed wins over a group, and the first
/// group in the list over later ones. No group's members are read: each listed group is looked
/// up in the user's groups.
#[doc(hidden)]
#[inline(always)]
pub fn held_by(list: &[u32], user: u32, groups: &[u32]) -> Option<Option<u32>> {
    let users = member_users(list);
    if users.binary_search(&user).is_ok() {
        return Some(None);
    }
    list[users.len()..]
        .iter()
        .map(|&g| g & !GROUP_MEMBER)
        .find(|g| groups.binary_search(g).is_ok())
        .map(Some)
}

/// One access-code level: codes as symbols, sorted.
#[doc(hidden)]
pub type Level = Shared<u32>;

/// A case or a document. Its id is kept once, in the entities' id index:
/// [`Entities::resource_id`]. Its effective access codes are not stored in it: they are its own
/// levels followed by those of the ancestors it inherits from ([`Entities::read_code`]).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Resource {
    /// The resource's kind, as the policy's kind id.
    pub kind: KindId,
    /// The parent's position in [`Entities::resources`]; `None` for a resource without one.
    pub parent: Option<u32>,
    /// The nearest case at or above this resource.
    pub anchor: Option<u32>,
    /// On cases: the case type, as its position in the policy's case types; 0 on other
    /// resources.
    pub casetype: u32,
    /// On cases: the state, as its position in the case type's states; 0 on other resources.
    pub state: u32,
    /// Every attribute the resource's kind declares, in the order of the declarations.
    pub attrs: std::sync::Arc<[AttrValue]>,
    /// On resources whose kind declares relations (and on every case): for each relation of the
    /// kind, in the order of its declaration, its members: users, then groups marked with
    /// [`GROUP_MEMBER`], each part sorted. Empty on other resources.
    pub relations: Shared<Shared<u32>>,
    /// The levels of the resource's own read code, as written; an absent field is one empty
    /// level.
    pub own_read: Shared<Level>,
    /// The levels of the resource's own write code, as `own_read`.
    pub own_write: Shared<Level>,
    /// Whether the effective read code goes on with the parent's: the kind inherits, and the
    /// resource does not set `inherit_read` to `false`.
    pub inherit_read: bool,
    /// Whether the effective write code goes on with the parent's, as `inherit_read`.
    pub inherit_write: bool,
    /// For deciding: whether every own level is empty (`[ ]`, met by anyone), and the nearest
    /// resource up the inherited chain whose own levels are not ([`NONE`] if there is none). So
    /// a decision visits only the levels that can fail.
    pub(crate) read_trivial: bool,
    pub(crate) write_trivial: bool,
    pub(crate) read_rest: u32,
    pub(crate) write_rest: u32,
}

/// No resource: the end of a chain of effective-code levels.
pub(crate) const NONE: u32 = u32::MAX;

impl Resource {
    /// A resource as the file gives it, before [`super::closure::finish_resources`] sets its
    /// anchor and its lists. Its own inherit flags (`None` where the file leaves them out,
    /// meaning inherit) count only where its kind inherits.
    pub(crate) fn read(
        kind: KindId,
        kdef: &KindDef,
        parent: Option<u32>,
        (casetype, state): (u32, u32),
        attrs: Vec<AttrValue>,
        (inherit_read, inherit_write): (Option<bool>, Option<bool>),
    ) -> Resource {
        Resource {
            kind,
            parent,
            anchor: None,
            casetype,
            state,
            attrs: attrs.into(),
            relations: Shared::default(),
            own_read: Shared::default(),
            own_write: Shared::default(),
            inherit_read: inherit_read.unwrap_or(true) && kdef.inherit_read,
            inherit_write: inherit_write.unwrap_or(true) && kdef.inherit_write,
            read_trivial: false,
            write_trivial: false,
            read_rest: NONE,
            write_rest: NONE,
        }
    }
}

// A million cases are a million `Resource`s: a change that makes one larger costs resident
// memory per case (docs/performance.md), so it should be a deliberate one.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Resource>() <= 104);

/// Read or write: the two classes of access code.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// The `read` code, checked for the actions the `codes` block lists under `read:`.
    Read,
    /// The `write` code, checked for the actions listed under `write:`.
    Write,
}

/// An org unit. Unlike users and resources, a unit keeps its own id: units are few.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Unit {
    /// The unit's id, as the entities file gives it.
    pub id: String,
    /// The parent unit's position in [`Entities::units`]; `None` for a top-level unit.
    pub parent: Option<u32>,
}

/// Loaded entities, bound to the policy they were validated against: the users, org units and
/// resources of an entities file (docs/data-formats.md §1), made by
/// [`Policy::load_entities`](crate::Policy::load_entities) and read by every decision and query
/// under that policy.
///
/// Users and resources are numbered by their position in the file, and the positions are what
/// query results hold ([`query::Page::resources`](crate::query::Page::resources));
/// [`Entities::resource_id`] and [`Entities::user_id`] turn them into ids.
///
/// ```
/// use casepol::Policy;
///
/// let policy = Policy::from_source("p.casepol", r#"
///     role Clerk;
///     action view;
///     group Clerks { grants Clerk; }
///     resource Note { allow Clerk: view; }
/// "#).unwrap();
/// let entities = policy.load_entities(r#"{
///     "users": [{"id": "ann", "groups": ["Clerks"]}],
///     "resources": [{"id": "n1", "kind": "Note"}, {"id": "n2", "kind": "Note"}]
/// }"#).unwrap();
/// assert_eq!(entities.user_ids().collect::<Vec<_>>(), ["ann"]);
/// assert_eq!(entities.resource_id(1), "n2");
/// assert!(!entities.is_unit("ann"));
/// ```
///
/// Cloning is cheap (a few reference counts): every list is shared until one of the copies
/// changes it, which copies only what it changes ([`live`](crate::live)).
#[derive(Debug, Clone)]
pub struct Entities {
    /// The stamp of the compiled policy that loaded these entities.
    pub(crate) policy_stamp: u64,
    /// Unique to this load; a `Resolved` request carries the stamp it was resolved against.
    pub(crate) stamp: u64,
    pub(crate) symbols: PVec<std::sync::Arc<str>>,
    pub(crate) users: PVec<User>,
    /// Each user's attribute values, in the order the policy declares them; empty when the
    /// policy declares no user attributes.
    pub(crate) user_attrs: PVec<Box<[AttrValue]>>,
    pub(crate) units: std::sync::Arc<Vec<Unit>>,
    pub(crate) resources: PVec<Resource>,
    pub(crate) user_index: Ids,
    pub(crate) resource_index: Ids,
    pub(crate) unit_index: std::sync::Arc<IdIndex>,
    /// The symbol of each unit's id and of each group's name, by position: the codes they
    /// stand for. Read when a hint adds the user to a unit or a group (`hints`).
    pub(crate) unit_symbols: std::sync::Arc<[u32]>,
    pub(crate) group_symbols: std::sync::Arc<[u32]>,
    /// (symbol, group) for every group, sorted: which group a code names, if any.
    pub(crate) symbol_groups: std::sync::Arc<[(u32, u32)]>,
    /// Each symbol by its text, built the first time a request's context gives a string
    /// ([`Entities::symbol_of`]); whoever adds a symbol replaces it with a new, empty one.
    pub(crate) symbol_lookup: std::sync::Arc<std::sync::OnceLock<SymbolLookup>>,
    /// Some relation of some resource lists a group (`relation_groups`): then the queries that
    /// do not decide through the VM ask it (the residual). Change sets applied in place keep
    /// it true (`live/store.rs`).
    pub(crate) relation_groups: bool,
}

/// Symbols by their text.
pub(crate) type SymbolLookup = std::collections::HashMap<std::sync::Arc<str>, u32>;

impl Entities {
    /// The id of the user at position `i`: the `i`th user of the entities file, counting from
    /// 0, the order [`Entities::user_ids`] gives.
    ///
    /// # Panics
    /// When `i` is not below the number of users (`user_ids().len()`).
    pub fn user_id(&self, i: u32) -> &str {
        self.user_index.id(i)
    }

    /// Every user id, in the order of the entities file: `user_ids().nth(i)` is
    /// `Some(user_id(i))`.
    pub fn user_ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.users.len() as u32).map(|i| self.user_index.id(i))
    }

    /// The id of the resource at position `i`: the `i`th resource of the entities file,
    /// counting from 0, the order [`Entities::resource_ids`] gives. Query results name
    /// resources by these positions ([`query::Listing::iter`](crate::query::Listing::iter),
    /// [`query::Page::resources`](crate::query::Page::resources)).
    ///
    /// # Panics
    /// When `i` is not below the number of resources (`resource_ids().len()`); a position a
    /// query of these entities gave always is.
    pub fn resource_id(&self, i: u32) -> &str {
        self.resource_index.id(i)
    }

    /// Whether some relation of some resource lists a group (`relation_groups`): what loading
    /// sets, and applying a change set in place keeps true, for the tests.
    #[doc(hidden)]
    pub fn relation_groups(&self) -> bool {
        self.relation_groups
    }

    /// Every resource id, in the order of the entities file: `resource_ids().nth(i)` is
    /// `Some(resource_id(i))`.
    pub fn resource_ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.resources.len() as u32).map(|i| self.resource_index.id(i))
    }

    /// The text of symbol `s`: an interned string (a string attribute value, a set element, a
    /// term or an access code); `?` for a number that is no symbol of these entities.
    #[doc(hidden)]
    pub fn symbol(&self, s: u32) -> &str {
        self.symbols.get(s as usize).map(|s| &**s).unwrap_or("?")
    }

    /// The symbol whose text is `s`, if these entities have one. The first call builds an index
    /// of every symbol, in time linear in their number; the entities keep it.
    pub(crate) fn symbol_of(&self, s: &str) -> Option<u32> {
        let index = self.symbol_lookup.get_or_init(|| {
            (0..self.symbols.len())
                .map(|i| (std::sync::Arc::clone(&self.symbols[i]), i as u32))
                .collect()
        });
        index.get(s).copied()
    }

    /// The user with id `id`, if there is one (for tests).
    #[doc(hidden)]
    pub fn user(&self, id: &str) -> Option<&User> {
        self.user_index.get(id).map(|&i| &self.users[i as usize])
    }

    /// The resource with id `id`, if there is one (for tests).
    #[doc(hidden)]
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resource_index
            .get(id)
            .map(|&i| &self.resources[i as usize])
    }

    /// The users, in the order of the entities file.
    #[doc(hidden)]
    pub fn users(&self) -> &PVec<User> {
        &self.users
    }

    /// The resources, in the order of the entities file.
    #[doc(hidden)]
    pub fn resources(&self) -> &PVec<Resource> {
        &self.resources
    }

    /// The org units, in the order of the entities file.
    #[doc(hidden)]
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The position of the user with this id.
    pub(crate) fn user_position(&self, id: &str) -> Option<u32> {
        self.user_index.get(id).copied()
    }

    /// The position of the org unit with this id.
    pub(crate) fn unit_position(&self, id: &str) -> Option<u32> {
        self.unit_index.get(id).copied()
    }

    /// The group whose name is symbol `sym`, if a group's is.
    pub(crate) fn group_of_symbol(&self, sym: u32) -> Option<u32> {
        let i = self
            .symbol_groups
            .binary_search_by_key(&sym, |&(s, _)| s)
            .ok()?;
        Some(self.symbol_groups[i].1)
    }

    /// Whether `id` is the id of an org unit of these entities (an org unit is not a user: it
    /// cannot be a principal, but its id is an access code its members hold).
    pub fn is_unit(&self, id: &str) -> bool {
        self.unit_index.contains_key(id)
    }
}

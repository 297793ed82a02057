//! The loaded entities: users, org units and resources with every string interned and every
//! name an index, as deciding reads them.

use super::store::{IdIndex, Shared};
use crate::ir::{KindDef, KindId};

/// An attribute value with every string interned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    Sym(u32),
    Int(i64),
    Bool(bool),
    Set(Box<[u32]>),
    User(u32),
    Resource(u32),
    Variant(u32),
}

/// A user. Its id is kept once, in the entities' id index: [`Entities::user_id`].
#[derive(Debug, Clone)]
pub struct User {
    /// Groups as listed, and with every ancestor (sorted).
    pub direct_groups: Shared<u32>,
    pub groups: Shared<u32>,
    pub direct_units: Shared<u32>,
    pub terms: Shared<u32>,
    /// Every code that stands for this user: id, groups, units (with ancestors) and terms (sorted).
    pub codes: Shared<u32>,
}

/// One access-code level: codes as symbols, sorted.
pub type Level = Shared<u32>;

/// A case or a document. Its id is kept once, in the entities' id index:
/// [`Entities::resource_id`]. Its effective access codes are not stored in it: they are its own
/// levels followed by those of the ancestors it inherits from ([`Entities::read_code`]).
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: KindId,
    pub parent: Option<u32>,
    /// The nearest case at or above this resource.
    pub anchor: Option<u32>,
    /// On cases: case type and state.
    pub casetype: u32,
    pub state: u32,
    pub attrs: Box<[AttrValue]>,
    /// On cases: for each relation, the users holding it (sorted).
    pub relations: Shared<Shared<u32>>,
    /// The levels of the resource's own codes, as written; an absent field is one empty level.
    pub own_read: Shared<Level>,
    pub own_write: Shared<Level>,
    /// Whether the effective code goes on with the parent's: the kind inherits, and the
    /// resource does not set `inherit_read` (or `inherit_write`) to `false`.
    pub inherit_read: bool,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    Read,
    Write,
}

/// An org unit. Unlike users and resources, a unit keeps its own id: units are few.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub parent: Option<u32>,
}

/// Loaded entities, bound to the policy they were validated against.
#[derive(Debug)]
pub struct Entities {
    /// The stamp of the compiled policy that loaded these entities.
    pub(crate) policy_stamp: u64,
    /// Unique to this load; a `Resolved` request carries the stamp it was resolved against.
    pub(crate) stamp: u64,
    pub(crate) symbols: Vec<String>,
    pub(crate) users: Vec<User>,
    /// Each user's attribute values, in the order the policy declares them; empty when the
    /// policy declares no user attributes.
    pub(crate) user_attrs: Vec<Box<[AttrValue]>>,
    pub(crate) units: Vec<Unit>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) user_index: IdIndex,
    pub(crate) resource_index: IdIndex,
    pub(crate) unit_index: IdIndex,
}

impl Entities {
    pub fn user(&self, id: &str) -> Option<&User> {
        self.user_index.get(id).map(|&i| &self.users[i as usize])
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resource_index
            .get(id)
            .map(|&i| &self.resources[i as usize])
    }

    /// The id of the user at `i` in [`Entities::users`].
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::users`].
    pub fn user_id(&self, i: u32) -> &str {
        self.user_index.id(i)
    }

    /// The user ids, in the order of [`Entities::users`].
    pub fn user_ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.users.len() as u32).map(|i| self.user_index.id(i))
    }

    /// The id of the resource at `i` in [`Entities::resources`].
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::resources`].
    pub fn resource_id(&self, i: u32) -> &str {
        self.resource_index.id(i)
    }

    /// The resource ids, in the order of [`Entities::resources`].
    pub fn resource_ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.resources.len() as u32).map(|i| self.resource_index.id(i))
    }

    pub fn symbol(&self, s: u32) -> &str {
        self.symbols
            .get(s as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// Is `id` an org unit?
    pub fn is_unit(&self, id: &str) -> bool {
        self.unit_index.contains_key(id)
    }
}

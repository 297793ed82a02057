//! The entity format and its reader: the one table of the fields each section holds and the JSON
//! each field takes, and the streaming reader that follows it.
//!
//! The reader checks structure only. It borrows strings from the text and compacts each entity
//! as soon as it is read, so no owned copy of the whole file is ever built, and it resolves
//! every name the policy declares (kinds, case types, states, groups, relations, attributes) to
//! its position; a name the policy does not declare is kept as text, for [`super::load`] to
//! report. Its first error is serde_json's; [`super::diagnose`] then reads the text again with
//! the same table to find every structural problem.

use super::index::PolicyIndex;
use crate::json_pos::Kind;
use crate::limits;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// One of the three arrays of the top-level object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    Units,
    Users,
    Resources,
}

/// A field of an entity, as the file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Id,
    Kind,
    Parent,
    Type,
    State,
    Groups,
    Units,
    Terms,
    Attrs,
    Relations,
    RelationGroups,
    Read,
    Write,
    InheritRead,
    InheritWrite,
}

/// The JSON a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// A string.
    Str,
    /// A string or `null` (the same as leaving it out).
    OptStr,
    /// An access-code string: a string, never `null` (left out, it is no own code).
    Code,
    /// `true`, `false` or `null`.
    OptBool,
    /// An array of strings.
    Strings,
    /// An object of any values, each key once, at most [`limits::MAX_ENTITY_ATTRS`] keys.
    Object,
    /// An object of arrays of strings, each key once, at most [`limits::MAX_ENTITY_ATTRS`] keys.
    Relations,
}

impl Section {
    pub(super) const ALL: [Section; 3] = [Section::Units, Section::Users, Section::Resources];

    /// The section's key in the top-level object.
    pub(super) fn key(self) -> &'static str {
        match self {
            Section::Units => "units",
            Section::Users => "users",
            Section::Resources => "resources",
        }
    }

    /// What one element is, in messages: "unit", "user", "resource".
    pub(super) fn what(self) -> &'static str {
        match self {
            Section::Units => "unit",
            Section::Users => "user",
            Section::Resources => "resource",
        }
    }

    /// The fields an element may have, in the order messages list them.
    pub(super) fn fields(self) -> &'static [Field] {
        use Field as F;
        match self {
            Section::Units => &[F::Id, F::Parent],
            Section::Users => &[F::Id, F::Groups, F::Units, F::Terms, F::Attrs],
            Section::Resources => &[
                F::Id,
                F::Kind,
                F::Parent,
                F::Type,
                F::State,
                F::Attrs,
                F::Relations,
                F::RelationGroups,
                F::Read,
                F::Write,
                F::InheritRead,
                F::InheritWrite,
            ],
        }
    }

    /// The fields an element must have.
    pub(super) fn required(self) -> &'static [Field] {
        match self {
            Section::Resources => &[Field::Id, Field::Kind],
            _ => &[Field::Id],
        }
    }

    /// The field of this section called `key`.
    pub(super) fn field(self, key: &str) -> Option<Field> {
        self.fields().iter().copied().find(|f| f.key() == key)
    }
}

impl Field {
    /// The field's key in an element.
    pub(super) fn key(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Kind => "kind",
            Field::Parent => "parent",
            Field::Type => "type",
            Field::State => "state",
            Field::Groups => "groups",
            Field::Units => "units",
            Field::Terms => "terms",
            Field::Attrs => "attrs",
            Field::Relations => "relations",
            Field::RelationGroups => "relation_groups",
            Field::Read => "read",
            Field::Write => "write",
            Field::InheritRead => "inherit_read",
            Field::InheritWrite => "inherit_write",
        }
    }

    pub(super) fn shape(self) -> Shape {
        match self {
            Field::Id | Field::Kind => Shape::Str,
            Field::Parent | Field::Type | Field::State => Shape::OptStr,
            Field::Groups | Field::Units | Field::Terms => Shape::Strings,
            Field::Attrs => Shape::Object,
            Field::Relations | Field::RelationGroups => Shape::Relations,
            Field::Read | Field::Write => Shape::Code,
            Field::InheritRead | Field::InheritWrite => Shape::OptBool,
        }
    }
}

/// A string, borrowed from the JSON text unless it holds escapes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl Text<'static> {
    /// A string given as a value rather than read from a text.
    #[cfg(feature = "db")]
    pub(super) fn owned(s: String) -> Text<'static> {
        Text(Cow::Owned(s))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// An attribute value as the file gives it. Strings are borrowed; an object's contents are
/// skipped, since no attribute holds one.
#[derive(Debug)]
pub(super) enum Val<'a> {
    Str(Text<'a>),
    Bool(bool),
    /// A number that is a whole number in the range of `i64`.
    Int(i64),
    /// A whole number above `i64::MAX`.
    Big(u64),
    /// Any other number, as serde_json reads it: one with a fraction or an exponent, one out of
    /// range, and `-0`.
    Float(f64),
    Array(Vec<Val<'a>>),
    Object,
    Null,
}

impl Val<'_> {
    pub(super) fn kind(&self) -> Kind {
        match self {
            Val::Str(_) => Kind::String,
            Val::Bool(_) => Kind::Bool,
            Val::Int(_) | Val::Big(_) | Val::Float(_) => Kind::Number,
            Val::Array(_) => Kind::Array,
            Val::Object => Kind::Object,
            Val::Null => Kind::Null,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Val<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Val<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Val<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Val<'a>, E> {
                Ok(Val::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val<'a>, E> {
                Ok(Val::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val<'a>, E> {
                Ok(i64::try_from(v).map_or(Val::Big(v), Val::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val<'a>, E> {
                Ok(Val::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Val<'a>, E> {
                Ok(Val::Str(Text(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Val<'a>, E> {
                Ok(Val::Str(Text(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Val<'a>, E> {
                Ok(Val::Str(Text(Cow::Owned(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Val<'a>, E> {
                Ok(Val::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Val::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'a>, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Val::Object)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Reads a JSON object as its entries, in file order ([`Shape::Object`], [`Shape::Relations`]):
/// a key that appears twice is an error (JSON readers disagree on which of two values wins, so
/// casepol accepts neither), and so are more than [`limits::MAX_ENTITY_ATTRS`] keys. Small
/// objects are checked for repeats by a scan, larger ones with a set, so reading is linear.
struct Entries<V>(std::marker::PhantomData<V>);

impl<V> Entries<V> {
    fn new() -> Entries<V> {
        Entries(std::marker::PhantomData)
    }
}

impl<'de, V: Deserialize<'de>> DeserializeSeed<'de> for Entries<V> {
    type Value = Vec<(Text<'de>, V)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
    type Value = Vec<(Text<'de>, V)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        /// Up to this many keys, a scan is cheaper than a set.
        const SCAN: usize = 8;
        let mut out: Vec<(Text<'de>, V)> = Vec::new();
        let mut seen: HashSet<Text<'de>> = HashSet::new();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if out.len() == limits::MAX_ENTITY_ATTRS {
                return Err(de::Error::custom("too many keys"));
            }
            let repeated = if out.len() < SCAN {
                out.iter().any(|(k, _)| *k == key)
            } else {
                if seen.is_empty() {
                    seen.extend(out.iter().map(|(k, _)| k.clone()));
                }
                !seen.insert(key.clone())
            };
            if repeated {
                return Err(de::Error::custom(format!("`{}` appears twice", &*key)));
            }
            out.push((key, map.next_value()?));
        }
        Ok(out)
    }
}

/// One element of a section as read, before its names are resolved. A field left out is
/// `None` or empty. [`super::given`] makes them from values, with the keys of `attrs`,
/// `relations` and `relation_groups` each once, as the reader does.
#[derive(Default)]
pub(super) struct Raw<'a> {
    pub(super) id: Option<Text<'a>>,
    pub(super) kind: Option<Text<'a>>,
    pub(super) parent: Option<Text<'a>>,
    pub(super) casetype: Option<Text<'a>>,
    pub(super) state: Option<Text<'a>>,
    pub(super) groups: Vec<Text<'a>>,
    pub(super) units: Vec<Text<'a>>,
    pub(super) terms: Vec<Text<'a>>,
    pub(super) attrs: Vec<(Text<'a>, Val<'a>)>,
    pub(super) relations: Vec<(Text<'a>, Vec<Text<'a>>)>,
    pub(super) relation_groups: Vec<(Text<'a>, Vec<Text<'a>>)>,
    pub(super) read: Option<Text<'a>>,
    pub(super) write: Option<Text<'a>>,
    pub(super) inherit_read: Option<bool>,
    pub(super) inherit_write: Option<bool>,
}

/// Reads one element of a section: an object of the section's fields, each at most once, with
/// the required ones, each holding its [`Shape`].
#[derive(Clone, Copy)]
struct Element(Section);

impl<'de> DeserializeSeed<'de> for Element {
    type Value = Raw<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Raw<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Element {
    type Value = Raw<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} object", self.0.what())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        let mut raw = Raw::default();
        let mut seen = 0u32;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            let Some(field) = self.0.field(&key) else {
                return Err(de::Error::custom(format!("unknown field `{}`", &*key)));
            };
            let bit = 1 << field as u32;
            if seen & bit != 0 {
                return Err(de::Error::duplicate_field(field.key()));
            }
            seen |= bit;
            // Each arm reads the field's `Shape` (a test checks them against the table).
            match field {
                Field::Id => raw.id = Some(map.next_value()?),
                Field::Kind => raw.kind = Some(map.next_value()?),
                Field::Parent => raw.parent = map.next_value()?,
                Field::Type => raw.casetype = map.next_value()?,
                Field::State => raw.state = map.next_value()?,
                Field::Groups => raw.groups = map.next_value()?,
                Field::Units => raw.units = map.next_value()?,
                Field::Terms => raw.terms = map.next_value()?,
                Field::Attrs => raw.attrs = map.next_value_seed(Entries::new())?,
                Field::Relations => raw.relations = map.next_value_seed(Entries::new())?,
                Field::RelationGroups => {
                    raw.relation_groups = map.next_value_seed(Entries::new())?
                }
                Field::Read => raw.read = Some(map.next_value()?),
                Field::Write => raw.write = Some(map.next_value()?),
                Field::InheritRead => raw.inherit_read = map.next_value()?,
                Field::InheritWrite => raw.inherit_write = map.next_value()?,
            }
        }
        if let Some(f) = self
            .0
            .required()
            .iter()
            .find(|f| seen & (1 << **f as u32) == 0)
        {
            return Err(de::Error::missing_field(f.key()));
        }
        Ok(raw)
    }
}

/// A name the policy may declare, resolved while reading: its position in the policy's list,
/// or, when the policy declares no such name, its place in [`Read::unknown`]; or absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Name(u32);

/// The bit that marks a [`Name`] as unknown.
const UNKNOWN: u32 = 1 << 31;

// Every unknown name is a string of the file, at least three bytes with its quotes and a
// separator, so there are fewer than `UNKNOWN` of them.
const _: () = assert!(limits::MAX_ENTITIES_BYTES / 3 < UNKNOWN as usize);

impl Name {
    /// A field left out.
    pub(super) const ABSENT: Name = Name(u32::MAX);

    pub(super) fn is_absent(self) -> bool {
        self == Name::ABSENT
    }

    /// The position of a declared name.
    pub(super) fn known(self) -> Option<u32> {
        (self.0 & UNKNOWN == 0).then_some(self.0)
    }
}

/// A unit as read.
pub(super) struct UnitIn<'a> {
    pub(super) id: Text<'a>,
    pub(super) parent: Option<Text<'a>>,
}

/// A user as read, with the names of groups and attributes resolved.
pub(super) struct UserIn<'a> {
    pub(super) id: Text<'a>,
    pub(super) groups: Vec<Name>,
    pub(super) units: Vec<Text<'a>>,
    pub(super) terms: Vec<Text<'a>>,
    /// The range of its attributes in [`Read::values`].
    pub(super) attrs: (u32, u32),
}

/// A resource as read, with every name the policy declares resolved: what is left as text
/// refers to other entities, or waits to be interned in order.
pub(super) struct ResourceIn<'a> {
    pub(super) id: Text<'a>,
    pub(super) parent: Option<Text<'a>>,
    pub(super) read: Option<Text<'a>>,
    pub(super) write: Option<Text<'a>>,
    pub(super) kind: Name,
    /// A position in the policy's case types, and in that case type's states.
    pub(super) casetype: Name,
    pub(super) state: Name,
    pub(super) inherit_read: Option<bool>,
    pub(super) inherit_write: Option<bool>,
    /// The range of its relation members in [`Read::members`], and of its attributes in
    /// [`Read::values`].
    pub(super) members: (u32, u32),
    pub(super) attrs: (u32, u32),
    /// The range of its relations' group members in [`Read::group_members`].
    pub(super) group_members: (u32, u32),
}

/// Everything read from the file. The attributes of each entity are in the order of their
/// declarations, followed by those the policy does not declare.
pub(super) struct Read<'a> {
    pub(super) units: Vec<UnitIn<'a>>,
    pub(super) users: Vec<UserIn<'a>>,
    pub(super) resources: Vec<ResourceIn<'a>>,
    /// Relation members of resources: the relation and a user id, the relations of a resource
    /// in the order of their names. A relation is one [`Name`], the same in each of its pairs;
    /// one listed with no users is one pair with no user.
    pub(super) members: Vec<(Name, Option<Text<'a>>)>,
    /// Group members of relations (`relation_groups`): the relation and a group, as
    /// `members`.
    pub(super) group_members: Vec<(Name, Option<Name>)>,
    /// Attribute values of users and resources: the attribute (of the user, or of the
    /// resource's kind) and the value.
    pub(super) values: Vec<(Name, Val<'a>)>,
    /// The names the policy does not declare.
    pub(super) unknown: Vec<Text<'a>>,
}

/// The items of `v` in a range.
pub(super) fn slice<T>(v: &[T], (start, len): (u32, u32)) -> &[T] {
    &v[start as usize..(start + len) as usize]
}

impl<'a> Read<'a> {
    /// The name the policy declares at `known`, or `text` kept as an unknown name.
    fn name(&mut self, known: Option<u32>, text: Text<'a>) -> Name {
        match known {
            Some(i) => Name(i),
            None => {
                self.unknown.push(text);
                Name(UNKNOWN | (self.unknown.len() - 1) as u32)
            }
        }
    }

    /// The position of a declared name, or the text of an unknown one.
    pub(super) fn resolve(&self, name: Name) -> Result<u32, &str> {
        match name.known() {
            Some(i) => Ok(i),
            None => Err(self
                .unknown
                .get((name.0 & !UNKNOWN) as usize)
                .map_or("", |t| &**t)),
        }
    }

    /// Adds attributes, each resolved with `declared`, in the order of the declarations and
    /// then the undeclared ones; returns their range.
    fn attrs(
        &mut self,
        attrs: Vec<(Text<'a>, Val<'a>)>,
        declared: Option<&std::collections::HashMap<&str, u32>>,
    ) -> (u32, u32) {
        let start = self.values.len();
        for (key, value) in attrs {
            let known = declared.and_then(|d| d.get(&*key).copied());
            let name = self.name(known, key);
            self.values.push((name, value));
        }
        // Keys are unique, so no two declared ones share a position.
        self.values[start..].sort_unstable_by_key(|&(name, _)| name);
        (start as u32, (self.values.len() - start) as u32)
    }

    /// Nothing read yet.
    pub(super) fn empty() -> Read<'a> {
        Read {
            units: Vec::new(),
            users: Vec::new(),
            resources: Vec::new(),
            members: Vec::new(),
            group_members: Vec::new(),
            values: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// Adds one element of `section`, its names resolved.
    pub(super) fn add(&mut self, ix: &PolicyIndex<'_>, section: Section, mut raw: Raw<'a>) {
        // INVARIANT: `Element` read the required fields, so `id` (and a resource's `kind`) is
        // there; the empty text stands in only to avoid a panic.
        let id = raw.id.take().unwrap_or(Text(Cow::Borrowed("")));
        match section {
            Section::Units => self.units.push(UnitIn {
                id,
                parent: raw.parent,
            }),
            Section::Users => {
                let groups = raw
                    .groups
                    .into_iter()
                    .map(|g| self.name(ix.groups.get(&*g).copied(), g))
                    .collect();
                let attrs = self.attrs(raw.attrs, Some(&ix.user_attrs));
                self.users.push(UserIn {
                    id,
                    groups,
                    units: raw.units,
                    terms: raw.terms,
                    attrs,
                });
            }
            Section::Resources => self.resource(ix, id, raw),
        }
    }

    fn resource(&mut self, ix: &PolicyIndex<'_>, id: Text<'a>, mut raw: Raw<'a>) {
        let kind_text = raw.kind.take().unwrap_or(Text(Cow::Borrowed("")));
        let kind = ix.kinds.get(&*kind_text).copied();
        let kind_name = self.name(kind.map(|k| k.0), kind_text);
        let casetype = match raw.casetype {
            None => Name::ABSENT,
            Some(t) => self.name(ix.casetypes.get(&*t).copied(), t),
        };
        let state = match (raw.state, casetype.known()) {
            (None, _) => Name::ABSENT,
            (Some(s), Some(t)) => self.name(ix.states[t as usize].get(&*s).copied(), s),
            (Some(s), None) => self.name(None, s),
        };
        // Relations in the order of their names, the order their problems are reported in.
        raw.relations.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let start = self.members.len();
        for (name, users) in raw.relations {
            let name = self.name(ix.relations.get(&*name).copied(), name);
            if users.is_empty() {
                self.members.push((name, None));
            }
            self.members
                .extend(users.into_iter().map(|u| (name, Some(u))));
        }
        let members = (start as u32, (self.members.len() - start) as u32);
        raw.relation_groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let start = self.group_members.len();
        for (name, groups) in raw.relation_groups {
            let name = self.name(ix.relations.get(&*name).copied(), name);
            if groups.is_empty() {
                self.group_members.push((name, None));
            }
            for g in groups {
                let g = self.name(ix.groups.get(&*g).copied(), g);
                self.group_members.push((name, Some(g)));
            }
        }
        let group_members = (start as u32, (self.group_members.len() - start) as u32);
        // Nothing else is checked on a resource of an unknown kind: its attributes are not
        // kept.
        let attrs = match kind {
            Some(k) => self.attrs(raw.attrs, Some(&ix.kind_attrs[k.idx()])),
            None => (self.values.len() as u32, 0),
        };
        self.resources.push(ResourceIn {
            id,
            parent: raw.parent,
            read: raw.read,
            write: raw.write,
            kind: kind_name,
            casetype,
            state,
            inherit_read: raw.inherit_read,
            inherit_write: raw.inherit_write,
            members,
            attrs,
            group_members,
        });
    }
}

/// Reads the elements of one section, each compacted as soon as it is read, so that its owned
/// parts are freed at once.
struct Elements<'r, 'a, 'p> {
    read: &'r mut Read<'a>,
    ix: &'r PolicyIndex<'p>,
    section: Section,
}

impl<'de> DeserializeSeed<'de> for Elements<'_, 'de, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, 'de, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of {} objects", self.section.what())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element_seed(Element(self.section))? {
            self.read.add(self.ix, self.section, raw);
        }
        Ok(())
    }
}

/// Reads the top-level object: each section at most once, and nothing else.
struct Top<'r, 'a, 'p> {
    read: &'r mut Read<'a>,
    ix: &'r PolicyIndex<'p>,
}

impl<'de> Visitor<'de> for Top<'_, 'de, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entities object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = [false; 3];
        while let Some(key) = map.next_key::<Text<'de>>()? {
            let Some(section) = Section::ALL.into_iter().find(|s| s.key() == &*key) else {
                return Err(de::Error::custom(format!(
                    "unknown top-level field `{}`",
                    &*key
                )));
            };
            if std::mem::replace(&mut seen[section as usize], true) {
                return Err(de::Error::duplicate_field(section.key()));
            }
            map.next_value_seed(Elements {
                read: &mut *self.read,
                ix: self.ix,
                section,
            })?;
        }
        Ok(())
    }
}

/// Reads `json` (without a byte order mark), resolving names against the policy `ix` indexes.
pub(super) fn read<'a>(ix: &PolicyIndex<'_>, json: &'a str) -> Result<Read<'a>, serde_json::Error> {
    let mut read = Read::empty();
    let mut de = serde_json::Deserializer::from_str(json);
    de.deserialize_map(Top {
        read: &mut read,
        ix,
    })?;
    de.end()?;
    Ok(read)
}

/// Whether `text` is one element of `section` as the reader accepts it; serde_json's error if
/// not. The diagnosis uses it to find the failing elements.
pub(super) fn element(section: Section, text: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    Element(section).deserialize(&mut de)?;
    de.end()
}

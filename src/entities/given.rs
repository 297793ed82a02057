//! Entities given as values rather than as a text (the rows of a database, `crate::db`): each
//! element is made into what the reader makes of the same element in a file and added as the
//! reader adds it, so the one construction path ([`super::load::build`]) checks and builds
//! them with the same rules and messages, and without a text written and read again.
//!
//! The values are bounded as a file is: every string counts its bytes and three more (its
//! quotes and a separator, the least it takes in a file), and the whole may not pass
//! [`limits::MAX_ENTITIES_BYTES`]; so there are as few unknown names as a file can hold.

use super::index::PolicyIndex;
use super::read::{Raw, Read, Section, Text, Val};
use crate::compile::CompiledPolicy;
use crate::limits;

/// An attribute value as given: what the JSON of a file would hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GivenValue {
    Str(String),
    Int(i64),
    Bool(bool),
    /// A set of strings (a JSON array).
    Set(Vec<String>),
}

/// A user as given; the fields are those of the entities file (docs/data-formats.md).
#[derive(Debug, Default)]
pub(crate) struct GivenUser {
    pub(crate) id: String,
    pub(crate) groups: Vec<String>,
    pub(crate) units: Vec<String>,
    pub(crate) terms: Vec<String>,
    /// Each name at most once.
    pub(crate) attrs: Vec<(String, GivenValue)>,
}

/// A resource as given.
#[derive(Debug, Default)]
pub(crate) struct GivenResource {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) parent: Option<String>,
    pub(crate) casetype: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) inherit_read: Option<bool>,
    pub(crate) inherit_write: Option<bool>,
    /// Each name at most once.
    pub(crate) attrs: Vec<(String, GivenValue)>,
    /// Each relation at most once, with its users.
    pub(crate) relations: Vec<(String, Vec<String>)>,
    /// Each relation at most once, with its groups.
    pub(crate) relation_groups: Vec<(String, Vec<String>)>,
    /// The own access codes, as the file writes them (`[A|B] & [C]`).
    pub(crate) read: Option<String>,
    pub(crate) write: Option<String>,
}

/// Why an element cannot be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GivenError {
    /// The values given are more than [`limits::MAX_ENTITIES_BYTES`] (counted as above).
    TooLarge,
    /// An element has more than [`limits::MAX_ENTITY_ATTRS`] attributes or relations.
    TooManyKeys,
}

/// The entities given so far, read as the reader reads a file.
pub(crate) struct Given<'p> {
    pub(super) ix: PolicyIndex<'p>,
    pub(super) read: Read<'static>,
    bytes: usize,
}

impl<'p> Given<'p> {
    pub(crate) fn new(policy: &'p CompiledPolicy) -> Given<'p> {
        Given {
            ix: PolicyIndex::new(policy.ir()),
            read: Read::empty(),
            bytes: 0,
        }
    }

    /// Counts `s` against the limit, and gives it as text.
    fn text(&mut self, s: String) -> Text<'static> {
        self.bytes = self.bytes.saturating_add(s.len() + 3);
        Text::owned(s)
    }

    fn texts(&mut self, v: Vec<String>) -> Vec<Text<'static>> {
        v.into_iter().map(|s| self.text(s)).collect()
    }

    fn value(&mut self, v: GivenValue) -> Val<'static> {
        match v {
            GivenValue::Str(s) => Val::Str(self.text(s)),
            GivenValue::Int(n) => {
                self.bytes = self.bytes.saturating_add(21);
                Val::Int(n)
            }
            GivenValue::Bool(b) => {
                self.bytes = self.bytes.saturating_add(6);
                Val::Bool(b)
            }
            GivenValue::Set(v) => {
                Val::Array(v.into_iter().map(|s| Val::Str(self.text(s))).collect())
            }
        }
    }

    fn attrs(&mut self, attrs: Vec<(String, GivenValue)>) -> Vec<(Text<'static>, Val<'static>)> {
        attrs
            .into_iter()
            .map(|(k, v)| (self.text(k), self.value(v)))
            .collect()
    }

    fn relations(
        &mut self,
        rels: Vec<(String, Vec<String>)>,
    ) -> Vec<(Text<'static>, Vec<Text<'static>>)> {
        rels.into_iter()
            .map(|(k, v)| (self.text(k), self.texts(v)))
            .collect()
    }

    fn add(&mut self, section: Section, raw: Raw<'static>) -> Result<(), GivenError> {
        if self.bytes > limits::MAX_ENTITIES_BYTES {
            return Err(GivenError::TooLarge);
        }
        self.read.add(&self.ix, section, raw);
        Ok(())
    }

    pub(crate) fn unit(&mut self, id: String, parent: Option<String>) -> Result<(), GivenError> {
        let raw = Raw {
            id: Some(self.text(id)),
            parent: parent.map(|p| self.text(p)),
            ..Raw::default()
        };
        self.add(Section::Units, raw)
    }

    pub(crate) fn user(&mut self, u: GivenUser) -> Result<(), GivenError> {
        if u.attrs.len() > limits::MAX_ENTITY_ATTRS {
            return Err(GivenError::TooManyKeys);
        }
        let raw = Raw {
            id: Some(self.text(u.id)),
            groups: self.texts(u.groups),
            units: self.texts(u.units),
            terms: self.texts(u.terms),
            attrs: self.attrs(u.attrs),
            ..Raw::default()
        };
        self.add(Section::Users, raw)
    }

    pub(crate) fn resource(&mut self, x: GivenResource) -> Result<(), GivenError> {
        let keys = [x.attrs.len(), x.relations.len(), x.relation_groups.len()];
        if keys.iter().any(|&n| n > limits::MAX_ENTITY_ATTRS) {
            return Err(GivenError::TooManyKeys);
        }
        let raw = Raw {
            id: Some(self.text(x.id)),
            kind: Some(self.text(x.kind)),
            parent: x.parent.map(|s| self.text(s)),
            casetype: x.casetype.map(|s| self.text(s)),
            state: x.state.map(|s| self.text(s)),
            attrs: self.attrs(x.attrs),
            relations: self.relations(x.relations),
            relation_groups: self.relations(x.relation_groups),
            read: x.read.map(|s| self.text(s)),
            write: x.write.map(|s| self.text(s)),
            inherit_read: x.inherit_read,
            inherit_write: x.inherit_write,
            ..Raw::default()
        };
        self.add(Section::Resources, raw)
    }
}

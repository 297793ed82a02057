//! The fast path of entity loading, for files without problems.
//!
//! It reads the JSON in one pass, borrowing strings from the text, and compacts each entity as
//! soon as it is read, so no owned copy of the whole file is ever built. It computes exactly
//! what [`Entities::from_json`]'s full path computes, in the same order (symbols are numbered in
//! the order they are first interned), but it reports nothing: at the first sign of a problem
//! it gives up and returns `None`, and the full path then reads the file again and reports
//! every problem with its place and a fix. So the fast path must accept only what the full path
//! accepts; the tests at the end of this file compare the two on every entities file we have
//! and on many broken variants of them.

use super::index::PolicyIndex;
use super::store::{Builder, IdIndex, Ranges, Shared};
use super::{finish_resources, has_bidi_control, AttrValue, Entities, Resource, Unit, User};
use crate::access_code;
use crate::compile::CompiledPolicy;
use crate::ir::{KindId, Policy as Ir, Type};
use crate::limits;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Any reason to leave the file to the full path. The message is never shown.
fn give_up<E: de::Error>() -> E {
    E::custom("not for the fast path")
}

/// A string, borrowed from the JSON text unless it holds escapes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Text<'a>(Cow<'a, str>);

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

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// An attribute value: the forms an attribute may validly take, and `Other` for the rest.
#[derive(Debug)]
enum Val<'a> {
    Str(Text<'a>),
    Bool(bool),
    /// A number that is a whole number in the range of `i64`.
    Int(i64),
    Array(Vec<Val<'a>>),
    Other,
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
                Ok(i64::try_from(v).map_or(Val::Other, Val::Int))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Val<'a>, E> {
                Ok(Val::Other)
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
                Ok(Val::Other)
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
                Ok(Val::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A JSON object read as its entries, in file order; a key that appears twice, or more than
/// [`limits::MAX_ENTITY_ATTRS`] keys, gives up, as the full path rejects both. Small objects are
/// checked for repeats by a scan, larger ones with a set, so reading is linear in the keys.
fn unique_entries<'de, D, V>(d: D) -> Result<Vec<(Text<'de>, V)>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    /// Up to this many keys, a scan is cheaper than a set.
    const SCAN: usize = 8;
    struct Entries<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
        type Value = Vec<(Text<'de>, V)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(Text<'de>, V)> = Vec::new();
            let mut seen: HashSet<Text<'de>> = HashSet::new();
            while let Some(key) = map.next_key::<Text<'de>>()? {
                if out.len() == limits::MAX_ENTITY_ATTRS {
                    return Err(give_up());
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
                    return Err(give_up());
                }
                out.push((key, map.next_value()?));
            }
            Ok(out)
        }
    }
    d.deserialize_map(Entries(std::marker::PhantomData))
}

/// A field that may be left out, but not given as `null`: an access code of `null` would
/// otherwise read as no code at all.
fn not_null<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Text<'a>>, D::Error> {
    Text::deserialize(d).map(Some)
}

// The entities as the full path's `Raw*` types read them, with borrowed strings.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    parent: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    groups: Vec<Text<'a>>,
    #[serde(default, borrow)]
    units: Vec<Text<'a>>,
    #[serde(default, borrow)]
    terms: Vec<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "unique_entries")]
    attrs: Vec<(Text<'a>, Val<'a>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(default, borrow)]
    parent: Option<Text<'a>>,
    #[serde(default, borrow, rename = "type")]
    casetype: Option<Text<'a>>,
    #[serde(default, borrow)]
    state: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "unique_entries")]
    attrs: Vec<(Text<'a>, Val<'a>)>,
    #[serde(default, borrow, deserialize_with = "unique_entries")]
    relations: Vec<(Text<'a>, Vec<Text<'a>>)>,
    #[serde(default, deserialize_with = "not_null")]
    read: Option<Text<'a>>,
    #[serde(default, deserialize_with = "not_null")]
    write: Option<Text<'a>>,
    #[serde(default)]
    inherit_read: Option<bool>,
    #[serde(default)]
    inherit_write: Option<bool>,
}

/// A user as read, with its groups resolved.
struct ReadUser<'a> {
    id: Text<'a>,
    direct_groups: Vec<u32>,
    units: Vec<Text<'a>>,
    terms: Vec<Text<'a>>,
    /// Declared user attribute (by position) and value, in file order.
    attrs: Vec<(usize, Val<'a>)>,
}

/// A resource as read, with every name the policy defines resolved: what is left refers to
/// other entities, or waits to be interned in the full path's order.
struct ReadResource<'a> {
    id: Text<'a>,
    parent: Option<Text<'a>>,
    read: Option<Text<'a>>,
    write: Option<Text<'a>>,
    kind: KindId,
    casetype: u32,
    state: u32,
    inherit_read: Option<bool>,
    inherit_write: Option<bool>,
    /// The range of this resource's entries in `Read::members` and `Read::values`.
    members: (u32, u32),
    values: (u32, u32),
}

/// Everything read from the file.
struct Read<'a, 'p> {
    p: &'p Ir,
    ix: PolicyIndex<'p>,
    units: Vec<(Text<'a>, Option<Text<'a>>)>,
    users: Vec<ReadUser<'a>>,
    resources: Vec<ReadResource<'a>>,
    /// Relation members of cases: (relation, user id).
    members: Vec<(u32, Text<'a>)>,
    /// Attribute values of resources: (attribute of the kind, value).
    values: Vec<(u32, Val<'a>)>,
    seen: [bool; 3],
}

impl<'a> Read<'a, '_> {
    fn user<E: de::Error>(&mut self, u: RawUser<'a>) -> Result<(), E> {
        let p = self.p;
        let mut direct_groups = Vec::with_capacity(u.groups.len());
        for g in &u.groups {
            direct_groups.push(*self.ix.groups.get(&**g).ok_or_else(give_up)?);
        }
        if p.require_group && u.groups.is_empty() {
            return Err(give_up());
        }
        let mut attrs = Vec::with_capacity(u.attrs.len());
        for (k, v) in u.attrs {
            let a = *self.ix.user_attrs.get(&*k).ok_or_else(give_up)?;
            attrs.push((a as usize, v));
        }
        // Every declared attribute once (keys are unique), in the order of the declarations.
        if attrs.len() != p.user_attrs.len() {
            return Err(give_up());
        }
        attrs.sort_unstable_by_key(|&(a, _)| a);
        self.users.push(ReadUser {
            id: u.id,
            direct_groups,
            units: u.units,
            terms: u.terms,
            attrs,
        });
        Ok(())
    }

    fn resource<E: de::Error>(&mut self, r: RawResource<'a>) -> Result<(), E> {
        let p = self.p;
        let kind = *self.ix.kinds.get(&*r.kind).ok_or_else(give_up)?;
        let kdef = &p.kinds[kind.idx()];
        let (mut casetype, mut state) = (0, 0);
        let members_start = self.members.len() as u32;
        if kdef.is_case {
            let t = r.casetype.as_deref().ok_or_else(give_up)?;
            let ti = *self.ix.casetypes.get(t).ok_or_else(give_up)?;
            let s = r.state.as_deref().ok_or_else(give_up)?;
            let si = *self.ix.states[ti as usize].get(s).ok_or_else(give_up)?;
            (casetype, state) = (ti, si);
            for (name, users) in r.relations {
                let ri = *self.ix.relations.get(&*name).ok_or_else(give_up)?;
                self.members.extend(users.into_iter().map(|u| (ri, u)));
            }
        } else if r.casetype.is_some() || r.state.is_some() || !r.relations.is_empty() {
            return Err(give_up());
        }
        let values_start = self.values.len() as u32;
        let declared = &self.ix.kind_attrs[kind.idx()];
        for (k, v) in r.attrs {
            self.values
                .push((*declared.get(&*k).ok_or_else(give_up)?, v));
        }
        // Every declared attribute once (keys are unique): as many values as declarations,
        // put in the order of the declarations.
        let given = &mut self.values[values_start as usize..];
        if given.len() != kdef.attrs.len() {
            return Err(give_up());
        }
        given.sort_unstable_by_key(|&(a, _)| a);
        self.resources.push(ReadResource {
            id: r.id,
            parent: r.parent,
            read: r.read,
            write: r.write,
            kind,
            casetype,
            state,
            inherit_read: r.inherit_read,
            inherit_write: r.inherit_write,
            members: (members_start, self.members.len() as u32 - members_start),
            values: (values_start, self.values.len() as u32 - values_start),
        });
        Ok(())
    }
}

/// Which section of the top-level object is being read.
#[derive(Clone, Copy)]
enum Section {
    Units,
    Users,
    Resources,
}

struct SectionSeed<'r, 'a, 'p> {
    read: &'r mut Read<'a, 'p>,
    section: Section,
}

impl<'de, 'p> DeserializeSeed<'de> for SectionSeed<'_, 'de, 'p> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, 'p> Visitor<'de> for SectionSeed<'_, 'de, 'p> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of entities")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Each element is compacted as soon as it is read, so its owned parts are freed at once.
        match self.section {
            Section::Units => {
                while let Some(u) = seq.next_element::<RawUnit<'de>>()? {
                    self.read.units.push((u.id, u.parent));
                }
            }
            Section::Users => {
                while let Some(u) = seq.next_element::<RawUser<'de>>()? {
                    self.read.user(u)?;
                }
            }
            Section::Resources => {
                while let Some(r) = seq.next_element::<RawResource<'de>>()? {
                    self.read.resource(r)?;
                }
            }
        }
        Ok(())
    }
}

struct Top<'r, 'a, 'p>(&'r mut Read<'a, 'p>);

impl<'de, 'p> Visitor<'de> for Top<'_, 'de, 'p> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entities object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Text<'de>>()? {
            let section = match &*key {
                "units" => Section::Units,
                "users" => Section::Users,
                "resources" => Section::Resources,
                _ => return Err(give_up()),
            };
            if std::mem::replace(&mut self.0.seen[section as usize], true) {
                return Err(give_up());
            }
            map.next_value_seed(SectionSeed {
                read: self.0,
                section,
            })?;
        }
        Ok(())
    }
}

/// Symbols, interned in order of first use, as the full path's loader does.
#[derive(Default)]
struct Symbols {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Symbols {
    fn sym(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// What one id may be: not empty, and a usable term (the full path's checks).
fn usable(id: &str) -> bool {
    !id.is_empty() && usable_term(id)
}

/// What one term may be: not too long, no control or bidirectional control character.
fn usable_term(t: &str) -> bool {
    t.len() <= limits::MAX_ID_BYTES && !t.chars().any(char::is_control) && !has_bidi_control(t)
}

/// An attribute value of type `ty`, as the full path's `convert` makes it, interning strings
/// in the same order; `None` where `convert` would report a problem.
fn convert(
    ty: Type,
    v: &Val<'_>,
    ix: &PolicyIndex<'_>,
    syms: &mut Symbols,
    users: &IdIndex,
    resources: &IdIndex,
    kinds: &[KindId],
) -> Option<AttrValue> {
    Some(match (ty, v) {
        (Type::Str, Val::Str(s)) if !has_bidi_control(s) => AttrValue::Sym(syms.sym(s)),
        (Type::Bool, Val::Bool(b)) => AttrValue::Bool(*b),
        (Type::Int, Val::Int(i)) => AttrValue::Int(*i),
        (Type::SetStr, Val::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                let Val::Str(s) = it else { return None };
                if has_bidi_control(s) {
                    return None;
                }
                out.push(syms.sym(s));
            }
            out.sort_unstable();
            out.dedup();
            AttrValue::Set(out.into())
        }
        (Type::RefUser, Val::Str(s)) => AttrValue::User(*users.get(s)?),
        (Type::Ref(k), Val::Str(s)) => {
            let r = *resources.get(s)?;
            (kinds[r as usize] == k).then_some(AttrValue::Resource(r))?
        }
        (Type::Enum(e), Val::Str(s)) => AttrValue::Variant(*ix.variants[e.idx()].get(&**s)?),
        _ => return None,
    })
}

/// Loads `json` (size-checked, without a byte order mark, not blank), or `None` when anything
/// about it is not plainly valid.
pub(super) fn load(policy: &CompiledPolicy, json: &str) -> Option<Entities> {
    let p = &policy.ir;
    let mut read = Read {
        p,
        ix: PolicyIndex::new(p),
        units: Vec::new(),
        users: Vec::new(),
        resources: Vec::new(),
        members: Vec::new(),
        values: Vec::new(),
        seen: [false; 3],
    };
    let mut de = serde_json::Deserializer::from_str(json);
    de.deserialize_map(Top(&mut read)).ok()?;
    de.end().ok()?;
    let Read {
        ix,
        units: raw_units,
        users: raw_users,
        resources: raw_resources,
        members,
        values,
        ..
    } = read;
    if raw_units.len() + raw_users.len() + raw_resources.len() > limits::MAX_ENTITIES {
        return None;
    }

    // Ids and terms: usable, and ids unique across units, users and resources.
    let ids_ok = raw_units.iter().all(|u| usable(&u.0))
        && raw_users
            .iter()
            .all(|u| usable(&u.id) && u.terms.iter().all(|t| usable_term(t)))
        && raw_resources.iter().all(|r| usable(&r.id));
    if !ids_ok {
        return None;
    }
    let unit_index = IdIndex::new(raw_units.iter().map(|u| &*u.0))?;
    let user_index = IdIndex::new(raw_users.iter().map(|u| &*u.id))?;
    let resource_index = IdIndex::new(raw_resources.iter().map(|r| &*r.id))?;
    if raw_users.iter().any(|u| unit_index.contains_key(&u.id))
        || raw_resources
            .iter()
            .any(|r| unit_index.contains_key(&r.id) || user_index.contains_key(&r.id))
    {
        return None;
    }
    // Access codes name one thing each: no user or unit id is a group's name, and no term is
    // any of them (docs/data-formats.md §1.1).
    let is_group = |id: &str| ix.groups.contains_key(id);
    if raw_units.iter().any(|u| is_group(&u.0))
        || raw_users.iter().any(|u| {
            is_group(&u.id)
                || u.terms.iter().any(|t| {
                    is_group(t) || user_index.contains_key(t) || unit_index.contains_key(t)
                })
        })
    {
        return None;
    }

    let mut syms = Symbols::default();
    for l in &policy.literals {
        syms.sym(l);
    }

    // Units: parents known, no cycle, no chain too long.
    let mut units = Vec::with_capacity(raw_units.len());
    for (id, parent) in &raw_units {
        let parent = match parent {
            Some(pid) => Some(*unit_index.get(pid)?),
            None => None,
        };
        units.push(Unit {
            id: id.to_string(),
            parent,
        });
    }
    // A cycle or a chain over the limit: the full path reports it.
    if super::unit_too_deep(&units).is_some() {
        return None;
    }
    let unit_syms: Vec<u32> = units.iter().map(|u| syms.sym(&u.id)).collect();
    let group_syms: Vec<u32> = p.groups.iter().map(|g| syms.sym(&g.name)).collect();

    // Users, their lists in one arena: direct groups, groups, direct units, terms, codes.
    let mut users = Vec::with_capacity(raw_users.len());
    let mut lists: Vec<u32> = Vec::new();
    let mut user_ranges: Vec<[(u32, u32); 5]> = Vec::with_capacity(raw_users.len());
    let add = |lists: &mut Vec<u32>, items: &[u32]| {
        let start = lists.len() as u32;
        lists.extend_from_slice(items);
        (start, items.len() as u32)
    };
    let (mut groups, mut direct_units, mut codes, mut terms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for u in &raw_users {
        super::close_groups(p, &u.direct_groups, &mut groups);
        direct_units.clear();
        codes.clear();
        codes.push(syms.sym(&u.id));
        for un in &u.units {
            let x = *unit_index.get(un)?;
            direct_units.push(x);
            let mut cur = Some(x);
            while let Some(c) = cur {
                codes.push(unit_syms[c as usize]);
                cur = units[c as usize].parent;
            }
        }
        codes.extend(groups.iter().map(|g| group_syms[*g as usize]));
        terms.clear();
        terms.extend(u.terms.iter().map(|t| syms.sym(t)));
        codes.extend(&terms);
        codes.sort_unstable();
        codes.dedup();
        user_ranges.push([
            add(&mut lists, &u.direct_groups),
            add(&mut lists, &groups),
            add(&mut lists, &direct_units),
            add(&mut lists, &terms),
            add(&mut lists, &codes),
        ]);
        users.push(User {
            direct_groups: Default::default(),
            groups: Default::default(),
            direct_units: Default::default(),
            terms: Default::default(),
            codes: Default::default(),
        });
    }
    let lists = std::sync::Arc::new(lists);
    for (u, [dg, g, du, t, c]) in users.iter_mut().zip(user_ranges) {
        let slice = |(start, len)| Shared::new(&lists, start, len);
        u.direct_groups = slice(dg);
        u.groups = slice(g);
        u.direct_units = slice(du);
        u.terms = slice(t);
        u.codes = slice(c);
    }
    let kinds: Vec<KindId> = raw_resources.iter().map(|r| r.kind).collect();
    // User attributes: checked, and their strings interned, but not stored.
    // `Read::user` put every declared attribute once, in the order of the declarations.
    for u in &raw_users {
        for (a, (_, v)) in p.user_attrs.iter().zip(&u.attrs) {
            convert(
                a.ty,
                v,
                &ix,
                &mut syms,
                &user_index,
                &resource_index,
                &kinds,
            )?;
        }
    }
    drop(raw_users);

    // Resources.
    let mut resources = Vec::with_capacity(raw_resources.len());
    let mut ranges = Vec::with_capacity(raw_resources.len());
    let mut builder = Builder::default();
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); p.relations.len()];
    let mut level: Vec<u32> = Vec::new();
    for r in &raw_resources {
        let kdef = &p.kinds[r.kind.idx()];
        let parent = match (&r.parent, kdef.parent) {
            (Some(pid), Some(pk)) => {
                let pi = *resource_index.get(pid)?;
                (kinds[pi as usize] == pk).then_some(pi)?;
                Some(pi)
            }
            (None, None) => None,
            _ => return None,
        };
        let relations = if kdef.is_case {
            lists.iter_mut().for_each(Vec::clear);
            let (start, len) = r.members;
            for (ri, user) in &members[start as usize..(start + len) as usize] {
                lists[*ri as usize].push(*user_index.get(user)?);
            }
            for l in lists.iter_mut() {
                l.sort_unstable();
                l.dedup();
            }
            builder.relations(lists.iter().map(Vec::as_slice))
        } else {
            (0, 0)
        };
        let mut attrs = Vec::with_capacity(kdef.attrs.len());
        let (start, len) = r.values;
        // `Read::resource` put every declared attribute once, in the order of the declarations.
        let given = &values[start as usize..(start + len) as usize];
        for (a, (_, v)) in kdef.attrs.iter().zip(given) {
            attrs.push(convert(
                a.ty,
                v,
                &ix,
                &mut syms,
                &user_index,
                &resource_index,
                &kinds,
            )?);
        }
        let mut codes = |text: &Option<Text<'_>>| -> Option<(u32, u32)> {
            let start = builder.next_level();
            let expr = access_code::parse(text.as_deref().unwrap_or("")).ok()?;
            for l in &expr.levels {
                level.clear();
                level.extend(l.iter().map(|c| syms.sym(c)));
                builder.level(&mut level);
            }
            Some((start, builder.next_level() - start))
        };
        let own_read = codes(&r.read)?;
        let own_write = codes(&r.write)?;
        ranges.push(Ranges {
            relations,
            own_read,
            own_write,
        });
        resources.push(Resource::read(
            r.kind,
            kdef,
            parent,
            (r.casetype, r.state),
            attrs,
            (r.inherit_read, r.inherit_write),
        ));
    }
    drop((raw_resources, members, values));
    finish_resources(p, &mut resources, &ranges, builder);
    Some(Entities {
        policy_stamp: policy.stamp,
        stamp: crate::compile::next_stamp(),
        symbols: syms.names,
        users,
        units,
        resources,
        user_index,
        resource_index,
        unit_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Policy;
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn policy(path: &Path) -> Policy {
        let mut sources = crate::diagnostic::Sources::new();
        let files: Vec<PathBuf> = if path.is_dir() {
            let mut f: Vec<PathBuf> = std::fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
                .collect();
            f.sort();
            f
        } else {
            vec![path.to_path_buf()]
        };
        for f in files {
            sources.add(
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            );
        }
        Policy::from_sources(sources).unwrap()
    }

    /// Compares the fast path with the full path on `json`: when the fast path loads it, the
    /// full path loads the same. Returns whether each loaded it.
    fn agree(p: &Policy, json: &str, what: &str) -> (bool, bool) {
        let json = json.strip_prefix('\u{feff}').unwrap_or(json);
        if json.trim().is_empty() {
            return (false, false);
        }
        let fast = load(p.compiled(), json);
        let full = Entities::load_reporting(p.compiled(), json);
        match (fast, full) {
            (Some(mut f), Ok(e)) => {
                // Each load has its own stamp; everything else must be the same.
                f.stamp = e.stamp;
                assert_eq!(format!("{f:?}"), format!("{e:?}"), "{what}");
                (true, true)
            }
            (Some(_), Err(errors)) => {
                panic!(
                    "{what}: the fast path loaded what the full path rejects: {errors:?}\n{json}"
                )
            }
            (None, full) => (false, full.is_ok()),
        }
    }

    /// Every entities file of the repository, with its policy.
    fn corpus() -> Vec<(Policy, String, String)> {
        let mut out = Vec::new();
        let add = |out: &mut Vec<_>, policy_path: &Path, file: &Path| {
            if let Ok(text) = std::fs::read_to_string(file) {
                out.push((policy(policy_path), text, file.display().to_string()));
            }
        };
        for dir in ["ok", "err"] {
            let dir = root().join("tests/data/entities").join(dir);
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                add(
                    &mut out,
                    &root().join("tests/data/entities/policy.casepol"),
                    &f,
                );
            }
        }
        for d in std::fs::read_dir(root().join("policies")).unwrap() {
            let d = d.unwrap().path();
            if d.join("entities.json").is_file() {
                add(&mut out, &d, &d.join("entities.json"));
            }
        }
        add(
            &mut out,
            &root().join("tests/data/cli/policy.casepol"),
            &root().join("tests/data/cli/entities.json"),
        );
        add(
            &mut out,
            &root().join("tests/data/cli/policy.casepol"),
            &root().join("tests/data/cli/bad_entities.json"),
        );
        for d in std::fs::read_dir(root().join("tests/data/bad_input")).unwrap() {
            let d = d.unwrap().path();
            let Ok(case) = std::fs::read_to_string(d.join("case.json")) else {
                continue;
            };
            let case: serde_json::Value = serde_json::from_str(&case).unwrap();
            let args: Vec<String> = case["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    a.as_str()
                        .unwrap()
                        .replace("{dir}", &d.display().to_string())
                })
                .collect();
            let (Some(pol), Some(ent)) = (
                args.get(1),
                args.iter()
                    .position(|a| a == "--entities")
                    .and_then(|i| args.get(i + 1)),
            ) else {
                continue;
            };
            let pol = root().join(pol);
            let pol_ok = pol.exists() && {
                let mut s = crate::diagnostic::Sources::new();
                s.add("p", std::fs::read_to_string(&pol).unwrap_or_default());
                pol.is_file() && Policy::from_sources(s).is_ok()
            };
            if pol_ok {
                add(&mut out, &pol, &root().join(ent));
            }
        }
        out
    }

    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n.max(1)
        }
    }

    /// A random small edit of `text`: a cut, an insertion, a swapped string, a repeated line.
    fn mutate(text: &str, r: &mut Lcg) -> Option<String> {
        const SNIPPETS: &[&str] = &[
            ",\"x\": 1",
            "null",
            "\"",
            "\\u0041",
            ",{}",
            "[",
            "]",
            "1.5",
            "true",
            "\"\"",
            "{\"id\": \"U0\"}",
            "\"groups\": []",
            ",\"parent\": null",
            "-0",
            "\"\\n\"",
            "18446744073709551615",
            ",\"inherit_read\": false",
            "\"[A] & [B]\"",
            "\"A|\"",
            "\\u202e",
            ",\"read\": null",
            ",\"terms\": [\"Staff\"]",
        ];
        let b = text.as_bytes();
        if b.is_empty() {
            return None;
        }
        let at = r.below(b.len());
        let quotes: Vec<usize> = (0..b.len()).filter(|&i| b[i] == b'"').collect();
        let out = match r.below(5) {
            0 => {
                let end = (at + 1 + r.below(12)).min(b.len());
                format!("{}{}", text.get(..at)?, text.get(end..)?)
            }
            1 => format!(
                "{}{}{}",
                text.get(..at)?,
                SNIPPETS[r.below(SNIPPETS.len())],
                text.get(at..)?
            ),
            2 if quotes.len() >= 4 => {
                // Replace the content of one string with the content of another.
                let i = r.below(quotes.len() / 2) * 2;
                let j = r.below(quotes.len() / 2) * 2;
                let (a0, a1) = (quotes[i], *quotes.get(i + 1)?);
                let (b0, b1) = (quotes[j], *quotes.get(j + 1)?);
                format!(
                    "{}{}{}",
                    text.get(..=a0)?,
                    text.get(b0 + 1..b1)?,
                    text.get(a1..)?
                )
            }
            3 => {
                let lines: Vec<&str> = text.lines().collect();
                let k = r.below(lines.len());
                let mut l = lines.clone();
                l.insert(k, lines.get(k)?);
                l.join("\n")
            }
            _ => {
                let lines: Vec<&str> = text.lines().collect();
                let k = r.below(lines.len());
                let mut l = lines.clone();
                (k < l.len()).then(|| l.remove(k))?;
                l.join("\n")
            }
        };
        Some(out)
    }

    #[test]
    fn the_fast_path_loads_what_the_full_path_loads_and_nothing_else() {
        let corpus = corpus();
        assert!(corpus.len() > 40, "only {} entity files", corpus.len());
        let (mut fast, mut valid) = (0, 0);
        for (p, text, name) in &corpus {
            let (f, v) = agree(p, text, name);
            fast += usize::from(f);
            valid += usize::from(v);
        }
        // Only files with escapes in strings leave valid files to the full path.
        assert!(
            fast + 2 >= valid && fast > 10,
            "fast {fast} of {valid} valid files"
        );
        let mut r = Lcg(5);
        let (mut tried, mut fast, mut valid) = (0, 0, 0);
        // Enough rounds that over a hundred mutations load: most of the corpus is files with errors.
        for round in 0..125 {
            for (p, text, name) in &corpus {
                let mut t = text.clone();
                for _ in 0..=(round % 3) {
                    if let Some(m) = mutate(&t, &mut r) {
                        t = m;
                    }
                }
                tried += 1;
                let (f, v) = agree(p, &t, &format!("{name}, mutated"));
                fast += usize::from(f);
                valid += usize::from(v);
            }
        }
        assert!(fast > 100, "only {fast} of {tried} mutations loaded");
        assert!(
            fast * 10 >= valid * 8,
            "the fast path loaded {fast} of {valid} valid mutations"
        );
    }

    #[test]
    fn generated_entities_take_the_fast_path() {
        for rules in [20, 1_000] {
            let g = casepol_gen::Policy::generate(rules, casepol_gen::SEED).unwrap();
            let p = Policy::from_source("g.casepol", &g.to_casepol()).unwrap();
            let sizes = casepol_gen::Sizes {
                users: 200,
                cases: 300,
                documents_per_case: 2,
            };
            let json = casepol_gen::Population::generate(&g, sizes, casepol_gen::SEED).to_json(&g);
            assert_eq!(agree(&p, &json, "generated"), (true, true), "{rules} rules");
        }
    }
}

//! Changes applied in place: a copy of the old entities that shares every record it does not
//! change (their lists are persistent vectors, `entities/pvec.rs`), with the records a change
//! touches rewritten, and what loading derives from them (group closures, code sets, the
//! chains effective codes are read through) derived again for those records only.
//!
//! Only changes that cannot need a message are applied here: when a change is not one of those
//! kept in place, or anything about it could be wrong (an unknown name, a value of the wrong
//! type, a member already there), the whole change set goes the other way, by reloading
//! (`document.rs`), which finds and reports every problem with the messages of loading. So this
//! path never has to agree with loading on a message, only on the entities it builds, and a
//! differential test (`tests/live.rs`) holds it to that: every change set applied both ways
//! gives the same entities and the same events.

use super::changes::{Change, ChangeSet};
use crate::entities::{AttrValue, Entities, Level, PVec, Resource, Shared, User};
use crate::ir::{Policy as Ir, ScopeDef, Type};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What applying in place needs beside the entities, kept with each snapshot and shared
/// between versions as the entities are.
#[derive(Clone)]
pub(super) struct Store {
    /// Each symbol's text to its number.
    symbols: imbl::HashMap<Arc<str>, u32>,
    /// How many symbols the entities had when they were loaded: the symbol table may grow to
    /// twice that (or a million) before a change set reloads, which drops unused symbols.
    loaded_symbols: usize,
    /// Each resource's children, by position.
    pub(super) children: PVec<Shared<u32>>,
    /// The users whom some group admits on a resource without a relation (scope `all` or
    /// `filter`): with the members of the anchor case's relations, the only users who can be in
    /// scope on a resource (docs/semantics.md), so the only ones whose decisions on it a change
    /// to it can change.
    pub(super) open: imbl::OrdSet<u32>,
}

/// A group that admits without a relation.
fn open_group(p: &Ir, g: u32) -> bool {
    !matches!(p.groups[g as usize].scope, ScopeDef::Assigned(_))
}

impl Store {
    /// The store of loaded entities. Linear in them.
    pub(super) fn new(p: &Ir, e: &Entities) -> Store {
        let symbols = e
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (Arc::clone(s), i as u32))
            .collect();
        let n = e.resources.len();
        let mut counts = vec![0u32; n + 1];
        for r in e.resources.iter() {
            if let Some(parent) = r.parent {
                counts[parent as usize + 1] += 1;
            }
        }
        for i in 1..=n {
            counts[i] += counts[i - 1];
        }
        let mut next = counts.clone();
        let mut kids = vec![0u32; counts[n] as usize];
        for (i, r) in e.resources.iter().enumerate() {
            if let Some(parent) = r.parent {
                kids[next[parent as usize] as usize] = i as u32;
                next[parent as usize] += 1;
            }
        }
        let arena = Arc::new(kids);
        let children = (0..n)
            .map(|i| Shared::new(&arena, counts[i], counts[i + 1] - counts[i]))
            .collect();
        let open = e
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| u.groups.iter().any(|&g| open_group(p, g)))
            .map(|(i, _)| i as u32)
            .collect();
        Store {
            symbols,
            loaded_symbols: e.symbols.len(),
            children,
            open,
        }
    }

    /// The number of symbol `s`, added if new.
    fn sym(&mut self, e: &mut Entities, s: &str) -> u32 {
        if let Some(&i) = self.symbols.get(s) {
            return i;
        }
        let i = e.symbols.len() as u32;
        let text: Arc<str> = Arc::from(s);
        e.symbols.push(Arc::clone(&text));
        self.symbols.insert(text, i);
        i
    }
}

/// What a change set applied in place touched, for its events: each with the changes (numbered
/// from 1) that touched it.
#[derive(Default)]
pub(super) struct Touched {
    /// Resources changed, by position: each reaches its subtree.
    pub(super) resources: BTreeMap<u32, Vec<usize>>,
    /// Users whose groups changed, by position: each reaches every resource and permission.
    pub(super) users: BTreeMap<u32, Vec<usize>>,
    /// (user, case) pairs whose relation membership changed.
    pub(super) members: BTreeMap<(u32, u32), Vec<usize>>,
}

/// Not applied in place: the change set is to be applied by reloading.
pub(super) struct Reload;

/// Applies `changes` to a copy of `old`, in place, when every change is one that is kept in
/// place and certainly valid; otherwise [`Reload`]. The copy gets a stamp of its own.
pub(super) fn apply(
    p: &Ir,
    old: &Entities,
    store: &Store,
    changes: &ChangeSet,
) -> Result<(Entities, Store, Touched), Reload> {
    let mut e = old.clone();
    e.stamp = crate::compile::next_stamp();
    let mut st = store.clone();
    let mut touched = Touched::default();
    for (i, change) in changes.changes.iter().enumerate() {
        let n = i + 1;
        match change {
            Change::SetState { resource, state } => {
                let at = resource_at(&e, resource)?;
                let r = &e.resources[at as usize];
                if !p.kinds[r.kind.idx()].is_case {
                    return Err(Reload);
                }
                let states = &p.casetypes[r.casetype as usize].states;
                let s = states.iter().position(|s| s.name == *state).ok_or(Reload)?;
                e.resources.get_mut(at as usize).ok_or(Reload)?.state = s as u32;
                touched.resources.entry(at).or_default().push(n);
            }
            Change::SetAttr {
                resource,
                name,
                value,
            } => {
                let at = resource_at(&e, resource)?;
                let kdef = &p.kinds[e.resources[at as usize].kind.idx()];
                let a = kdef
                    .attrs
                    .iter()
                    .position(|a| a.name == *name)
                    .ok_or(Reload)?;
                let v = convert(p, &mut e, &mut st, kdef.attrs[a].ty, value)?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                let mut attrs = r.attrs.to_vec();
                attrs[a] = v;
                r.attrs = attrs.into();
                touched.resources.entry(at).or_default().push(n);
            }
            Change::SetCode {
                resource,
                read,
                write,
            } => {
                if read.is_none() && write.is_none() {
                    return Err(Reload);
                }
                let at = resource_at(&e, resource)?;
                let read = read
                    .as_deref()
                    .map(|c| levels(&mut e, &mut st, c))
                    .transpose()?;
                let write = write
                    .as_deref()
                    .map(|c| levels(&mut e, &mut st, c))
                    .transpose()?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                if let Some(levels) = read {
                    r.read_trivial = levels.iter().all(|l| l.is_empty());
                    r.own_read = levels;
                }
                if let Some(levels) = write {
                    r.write_trivial = levels.iter().all(|l| l.is_empty());
                    r.own_write = levels;
                }
                relink(&mut e, &st, at);
                touched.resources.entry(at).or_default().push(n);
            }
            Change::SetInherit {
                resource,
                read,
                write,
            } => {
                if read.is_none() && write.is_none() {
                    return Err(Reload);
                }
                let at = resource_at(&e, resource)?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                let kdef = &p.kinds[r.kind.idx()];
                // As loading reads the file: the switch counts only where the kind inherits.
                if let Some(flag) = read {
                    r.inherit_read = *flag && kdef.inherit_read;
                }
                if let Some(flag) = write {
                    r.inherit_write = *flag && kdef.inherit_write;
                }
                relink(&mut e, &st, at);
                touched.resources.entry(at).or_default().push(n);
            }
            Change::AddMember {
                resource,
                relation,
                user,
            }
            | Change::RemoveMember {
                resource,
                relation,
                user,
            } => {
                let add = matches!(change, Change::AddMember { .. });
                let at = resource_at(&e, resource)?;
                let u = *e.user_index.get(user).ok_or(Reload)?;
                let rel = p
                    .relations
                    .iter()
                    .position(|r| r.name == *relation)
                    .ok_or(Reload)?;
                let r = e.resources.get_mut(at as usize).ok_or(Reload)?;
                if !p.kinds[r.kind.idx()].is_case {
                    return Err(Reload);
                }
                let mut lists: Vec<Shared<u32>> = r.relations.to_vec();
                let mut list = lists.get(rel).ok_or(Reload)?.to_vec();
                match (list.binary_search(&u), add) {
                    (Err(k), true) => list.insert(k, u),
                    (Ok(k), false) => {
                        list.remove(k);
                    }
                    // Already a member, or not one: reloading says so.
                    _ => return Err(Reload),
                }
                lists[rel] = Shared::from(list);
                r.relations = Shared::from(lists);
                touched.members.entry((u, at)).or_default().push(n);
            }
            Change::AddGroup { user, group } | Change::RemoveGroup { user, group } => {
                let add = matches!(change, Change::AddGroup { .. });
                let u = *e.user_index.get(user).ok_or(Reload)?;
                let g = p
                    .groups
                    .iter()
                    .position(|x| x.name == *group)
                    .ok_or(Reload)? as u32;
                let mut direct = e.users[u as usize].direct_groups.to_vec();
                match (direct.contains(&g), add) {
                    (false, true) => direct.push(g),
                    (true, false) => direct.retain(|&x| x != g),
                    _ => return Err(Reload),
                }
                if p.require_group && direct.is_empty() {
                    return Err(Reload);
                }
                regroup(p, &mut e, &mut st, u, direct)?;
                touched.users.entry(u).or_default().push(n);
            }
            // Units, and adding, replacing or deleting whole entities: by reloading.
            _ => return Err(Reload),
        }
    }
    if e.symbols.len() > (2 * st.loaded_symbols).max(1 << 20) {
        return Err(Reload);
    }
    Ok((e, st, touched))
}

/// The position of resource `id`.
fn resource_at(e: &Entities, id: &str) -> Result<u32, Reload> {
    e.resource_index.get(id).copied().ok_or(Reload)
}

/// A JSON value as an attribute of type `ty`, as loading converts it (`entities/load.rs`,
/// `convert`); anything loading could refuse is left to it.
fn convert(
    p: &Ir,
    e: &mut Entities,
    st: &mut Store,
    ty: Type,
    v: &Value,
) -> Result<AttrValue, Reload> {
    let text = |s: &str| match crate::entities::bidi_control(s) {
        None => Ok(()),
        Some(_) => Err(Reload),
    };
    Ok(match (ty, v) {
        (Type::Str, Value::String(s)) => {
            text(s)?;
            AttrValue::Sym(st.sym(e, s))
        }
        (Type::Bool, Value::Bool(b)) => AttrValue::Bool(*b),
        (Type::Int, Value::Number(n)) => AttrValue::Int(n.as_i64().ok_or(Reload)?),
        (Type::SetStr, Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let s = item.as_str().ok_or(Reload)?;
                text(s)?;
                out.push(st.sym(e, s));
            }
            out.sort_unstable();
            out.dedup();
            AttrValue::Set(out.into())
        }
        (Type::RefUser, Value::String(s)) => AttrValue::User(*e.user_index.get(s).ok_or(Reload)?),
        (Type::Ref(want), Value::String(s)) => {
            let at = *e.resource_index.get(s).ok_or(Reload)?;
            if e.resources[at as usize].kind != want {
                return Err(Reload);
            }
            AttrValue::Resource(at)
        }
        (Type::Enum(en), Value::String(s)) => {
            let variants = &p.enums[en.idx()].variants;
            AttrValue::Variant(variants.iter().position(|v| v == s).ok_or(Reload)? as u32)
        }
        _ => return Err(Reload),
    })
}

/// An own access code as loading stores it: its levels, each sorted and without repeats.
fn levels(e: &mut Entities, st: &mut Store, text: &str) -> Result<Shared<Level>, Reload> {
    let expr = crate::access_code::parse(text).map_err(|_| Reload)?;
    let mut out = Vec::with_capacity(expr.levels.len());
    for l in &expr.levels {
        let mut codes: Vec<u32> = l.iter().map(|c| st.sym(e, c)).collect();
        codes.sort_unstable();
        codes.dedup();
        out.push(Shared::from(codes));
    }
    Ok(Shared::from(out))
}

/// Links the chains effective codes are read through again, for `at` and everything under
/// it: each resource's nearest resource above it, on its inherited chain, whose own levels are
/// not all empty (`entities/closure.rs`, `finish_resources`). Parents come before children.
fn relink(e: &mut Entities, st: &Store, at: u32) {
    let mut stack = vec![at];
    while let Some(x) = stack.pop() {
        let r = &e.resources[x as usize];
        let rest = |inherit: bool, read: bool| match r.parent.filter(|_| inherit) {
            None => crate::entities::NONE,
            Some(c) => {
                let up: &Resource = &e.resources[c as usize];
                let (trivial, rest) = match read {
                    true => (up.read_trivial, up.read_rest),
                    false => (up.write_trivial, up.write_rest),
                };
                if trivial {
                    rest
                } else {
                    c
                }
            }
        };
        let (read_rest, write_rest) = (rest(r.inherit_read, true), rest(r.inherit_write, false));
        if let Some(r) = e.resources.get_mut(x as usize) {
            r.read_rest = read_rest;
            r.write_rest = write_rest;
        }
        stack.extend(st.children[x as usize].iter().copied());
    }
}

/// Gives user `u` the groups `direct` (in the order the file will list them), and what loading
/// derives from them: every group with its ancestors, and the user's code set.
fn regroup(
    p: &Ir,
    e: &mut Entities,
    st: &mut Store,
    u: u32,
    direct: Vec<u32>,
) -> Result<(), Reload> {
    let mut groups = Vec::new();
    crate::entities::close_groups(p, &direct, &mut groups);
    // The user's id was interned when the user was loaded.
    let id = *st.symbols.get(e.user_index.id(u)).ok_or(Reload)?;
    let user: &User = &e.users[u as usize];
    let mut codes = vec![id];
    for &x in user.direct_units.iter() {
        codes.extend(
            crate::entities::unit_ancestors(&e.units, x).map(|a| e.unit_symbols[a as usize]),
        );
    }
    codes.extend(groups.iter().map(|&g| e.group_symbols[g as usize]));
    codes.extend(user.terms.iter().copied());
    codes.sort_unstable();
    codes.dedup();
    let open = groups.iter().any(|&g| open_group(p, g));
    let user = e.users.get_mut(u as usize).ok_or(Reload)?;
    user.direct_groups = Shared::from(direct);
    user.groups = Shared::from(groups);
    user.codes = Shared::from(codes);
    match open {
        true => st.open.insert(u),
        false => st.open.remove(&u),
    };
    Ok(())
}

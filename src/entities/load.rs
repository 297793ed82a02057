//! The one construction path of [`Entities`]: every check of the data against the policy, and
//! the interning and compaction of what passes, generic over the reporter.
//!
//! [`load`] reads the file ([`super::read`]), then checks and builds in one order: ids, units,
//! users, user attributes, resources. Each problem goes to the [`Report`]: [`Silent`] stops at
//! the first, and the problem and its message compile away, so a valid file pays for no
//! reporting; [`Reporter`] records it and the load goes on, so one run reports every problem.
//! Both run this same code, so they accept the same files and build the same entities.
//! Symbols are numbered in the order they are first interned: the policy's literals first, so
//! that a literal's index is its symbol, then unit ids, group names, and each entity's strings
//! in file order.
//!
//! [`Silent`]: super::report::Silent
//! [`Reporter`]: super::report::Reporter

use super::closure::{self, close_groups, finish_resources};
use super::index::PolicyIndex;
use super::model::{AttrValue, Entities, Resource, Unit, User, GROUP_MEMBER};
use super::read::{self, slice, Field, Name, Read, ResourceIn, Section, Text, Val};
use super::report::{Flow, Names, Problem, Report, Stop, ValueProblem, Who, Whole};
use super::store::{Builder, IdIndex, Ranges, Shared};
use crate::access_code;
use crate::compile::CompiledPolicy;
use crate::diagnostic::words::is_bidi_control;
use crate::ir::{KindId, RelationId, Type};
use crate::limits;
use std::collections::HashMap;

#[cfg(test)]
mod tests;

/// Why an id or a term cannot be shown or used: a control character, a bidirectional control
/// character, or more than [`limits::MAX_ID_BYTES`] bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TextProblem {
    Control(char),
    Bidi(char),
    TooLong(usize),
}

/// What an access code held as a term already stands for (docs/data-formats.md §1.1).
#[derive(Debug, Clone, Copy)]
pub(super) enum Collision {
    /// The name of an access group.
    Group,
    /// The id of a unit.
    Unit,
    /// The user's own id.
    OwnId,
    /// The id of another user.
    User,
}

/// The first bidirectional control character in `text`: an id holding one could look like
/// another.
pub(crate) fn bidi_control(text: &str) -> Option<char> {
    text.chars().find(|&c| is_bidi_control(c))
}

/// What is wrong with an id or a term as text, if anything.
pub(crate) fn text_problem(text: &str) -> Option<TextProblem> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Some(TextProblem::Control(c));
    }
    if let Some(c) = bidi_control(text) {
        return Some(TextProblem::Bidi(c));
    }
    (text.len() > limits::MAX_ID_BYTES).then_some(TextProblem::TooLong(text.len()))
}

/// What term `t` of user `user` already stands for, if anything: holding it would give the
/// user that code without the membership it stands for.
fn collision(t: &str, user: &str, names: &Names<'_>) -> Option<Collision> {
    if names.ix.groups.contains_key(t) {
        Some(Collision::Group)
    } else if names.units.contains_key(t) {
        Some(Collision::Unit)
    } else if t == user {
        Some(Collision::OwnId)
    } else if names.users.contains_key(t) {
        Some(Collision::User)
    } else {
        None
    }
}

/// Symbols, numbered in the order they are first interned.
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

/// Loads `json` (size-checked, without a byte order mark, not blank) for `policy`, reporting
/// each problem to `r`. `Err` when the load stopped or a problem was reported.
pub(super) fn load<R: Report>(
    policy: &CompiledPolicy,
    json: &str,
    r: &mut R,
) -> Result<Entities, Stop> {
    let p = policy.ir();
    let ix = PolicyIndex::new(p);
    let read = match read::read(&ix, json) {
        Ok(read) => read,
        Err(e) => return Err(r.malformed(p, json, e)),
    };
    build(policy, &ix, read, r)
}

/// Checks and builds the entities `read` holds, as read from a text or given as values
/// ([`super::given`]), reporting each problem to `r`.
pub(super) fn build<R: Report>(
    policy: &CompiledPolicy,
    ix: &PolicyIndex<'_>,
    mut read: Read<'_>,
    r: &mut R,
) -> Result<Entities, Stop> {
    let p = policy.ir();
    let count = read.units.len() + read.users.len() + read.resources.len();
    if count > limits::MAX_ENTITIES {
        return Err(r.whole(Whole::TooMany(count)));
    }

    // The ids, each at its position in its section. An id used again is kept at each position
    // and looked up at its last; `repeats` lists the positions where a section repeats one.
    let mut repeats: [Vec<u32>; 3] = Default::default();
    let [unit_repeats, user_repeats, resource_repeats] = &mut repeats;
    let (Some(unit_index), Some(user_index), Some(resource_index)) = (
        IdIndex::with_repeats(read.units.iter().map(|u| &*u.id), |i| unit_repeats.push(i)),
        IdIndex::with_repeats(read.users.iter().map(|u| &*u.id), |i| user_repeats.push(i)),
        IdIndex::with_repeats(read.resources.iter().map(|x| &*x.id), |i| {
            resource_repeats.push(i)
        }),
    ) else {
        return Err(r.whole(Whole::Unindexable));
    };
    let kinds: Vec<Name> = read.resources.iter().map(|x| x.kind).collect();
    let names = Names {
        p,
        ix,
        units: &unit_index,
        users: &user_index,
        resources: &resource_index,
        kinds: &kinds,
    };
    check_ids(&names, &repeats, r)?;
    let units = units(&read, &names, r)?;
    let mut syms = Symbols::default();
    for l in policy.literals() {
        syms.sym(l);
    }
    let users = users(&read, &names, &units, &mut syms, r)?;
    let user_attrs = user_attrs(&read, &names, &mut syms, r)?;
    drop(std::mem::take(&mut read.users));
    let (mut resources, ranges, builder) = resources(&read, &names, &mut syms, r)?;
    if r.failed() {
        return Err(Stop);
    }
    drop(read);
    // Already interned by `users`: looking them up again costs one hash each.
    let unit_symbols: Box<[u32]> = units.iter().map(|u| syms.sym(&u.id)).collect();
    let group_symbols: Box<[u32]> = p.groups.iter().map(|g| syms.sym(&g.name)).collect();
    let mut symbol_groups: Vec<(u32, u32)> = group_symbols
        .iter()
        .enumerate()
        .map(|(g, &s)| (s, g as u32))
        .collect();
    symbol_groups.sort_unstable();
    // INVARIANT: with no problem every resource was pushed, so positions match the index, and
    // no id repeats, so the indexes are of unique ids.
    let relation_groups = builder.has_group_members();
    finish_resources(p, &mut resources, &ranges, builder);
    Ok(Entities {
        relation_groups,
        policy_stamp: policy.stamp(),
        stamp: crate::compile::next_stamp(),
        symbols: syms.names.into_iter().map(std::sync::Arc::from).collect(),
        users: users.into(),
        user_attrs: user_attrs.into(),
        units: std::sync::Arc::new(units),
        resources: resources.into(),
        user_index: user_index.into(),
        resource_index: resource_index.into(),
        unit_index: unit_index.into(),
        unit_symbols: unit_symbols.into(),
        group_symbols: group_symbols.into(),
        symbol_lookup: Default::default(),
        symbol_groups: symbol_groups.into(),
    })
}

/// The units: parents known, no cycle, no chain too long.
fn units<R: Report>(read: &Read<'_>, names: &Names<'_>, r: &mut R) -> Result<Vec<Unit>, Stop> {
    let mut units = Vec::with_capacity(read.units.len());
    for (i, u) in read.units.iter().enumerate() {
        let parent = match &u.parent {
            None => None,
            Some(pid) => match names.units.get(pid) {
                Some(&x) => Some(x),
                None => {
                    let who = Who {
                        section: Section::Units,
                        index: i,
                        id: &u.id,
                    };
                    r.report(names, who, Problem::UnknownParentUnit { parent: pid })?;
                    None
                }
            },
        };
        units.push(Unit {
            id: u.id.to_string(),
            parent,
        });
    }
    let unit_who = |i: usize| Who {
        section: Section::Units,
        index: i,
        id: &units[i].id,
    };
    for cycle in closure::unit_cycles(&units) {
        r.report(
            names,
            unit_who(cycle[0]),
            Problem::UnitCycle { cycle: &cycle },
        )?;
    }
    // A chain through a cycle is reported as the cycle.
    if !r.failed() {
        if let Some(start) = closure::unit_too_deep(&units) {
            r.report(names, unit_who(start), Problem::UnitTooDeep)?;
        }
    }
    Ok(units)
}

/// The users, their lists in one arena: direct groups, groups, direct units, terms, codes.
/// Unit ids and group names are interned first, in that order, then each user's strings.
fn users<R: Report>(
    read: &Read<'_>,
    names: &Names<'_>,
    units: &[Unit],
    syms: &mut Symbols,
    r: &mut R,
) -> Result<Vec<User>, Stop> {
    let p = names.p;
    let unit_syms: Vec<u32> = units.iter().map(|u| syms.sym(&u.id)).collect();
    let group_syms: Vec<u32> = p.groups.iter().map(|g| syms.sym(&g.name)).collect();
    let mut lists: Vec<u32> = Vec::new();
    let mut user_ranges: Vec<[(u32, u32); 5]> = Vec::with_capacity(read.users.len());
    let add = |lists: &mut Vec<u32>, items: &[u32]| {
        let start = lists.len() as u32;
        lists.extend_from_slice(items);
        (start, items.len() as u32)
    };
    let (mut direct_groups, mut groups, mut direct_units, mut codes, mut terms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, u) in read.users.iter().enumerate() {
        let who = Who {
            section: Section::Users,
            index: i,
            id: &u.id,
        };
        direct_groups.clear();
        for &g in &u.groups {
            match read.resolve(g) {
                Ok(g) => direct_groups.push(g),
                Err(group) => r.report(names, who, Problem::UnknownGroup { group })?,
            }
        }
        if p.require_group && u.groups.is_empty() {
            r.report(names, who, Problem::NoGroup)?;
        }
        close_groups(p, &direct_groups, &mut groups);
        direct_units.clear();
        codes.clear();
        codes.push(syms.sym(&u.id));
        for un in &u.units {
            match names.units.get(un) {
                Some(&x) => {
                    direct_units.push(x);
                    codes.extend(closure::unit_ancestors(units, x).map(|a| unit_syms[a as usize]));
                }
                None => r.report(names, who, Problem::UnknownUnit { unit: un })?,
            }
        }
        codes.extend(groups.iter().map(|g| group_syms[*g as usize]));
        for (k, t) in u.terms.iter().enumerate() {
            let problem = match (text_problem(t), collision(t, &u.id, names)) {
                (Some(problem), _) => Problem::BadTerm { term: k, problem },
                (None, Some(with)) => Problem::TermCollides { term: t, with },
                (None, None) => continue,
            };
            r.report(names, who, problem)?;
        }
        terms.clear();
        terms.extend(u.terms.iter().map(|t| syms.sym(t)));
        codes.extend(&terms);
        codes.sort_unstable();
        codes.dedup();
        let given = slice(&read.values, u.attrs);
        for key in undeclared(read, given) {
            r.report(names, who, Problem::UnknownUserAttr { key })?;
        }
        user_ranges.push([
            add(&mut lists, &direct_groups),
            add(&mut lists, &groups),
            add(&mut lists, &direct_units),
            add(&mut lists, &terms),
            add(&mut lists, &codes),
        ]);
    }
    let lists = std::sync::Arc::new(lists);
    let slice = |(start, len)| Shared::new(&lists, start, len);
    Ok(user_ranges
        .into_iter()
        .map(|[dg, g, du, t, c]| User {
            direct_groups: slice(dg),
            groups: slice(g),
            direct_units: slice(du),
            terms: slice(t),
            codes: slice(c),
        })
        .collect())
}

/// User attributes, checked by type and their strings interned. No rule reads them yet; they
/// are kept so that the entities can be written back ([`Entities::to_json`]). When the policy
/// declares none, the list is empty rather than one empty entry per user.
///
/// [`Entities::to_json`]: super::Entities::to_json
fn user_attrs<R: Report>(
    read: &Read<'_>,
    names: &Names<'_>,
    syms: &mut Symbols,
    r: &mut R,
) -> Result<Vec<Box<[AttrValue]>>, Stop> {
    let mut out = Vec::new();
    if names.p.user_attrs.is_empty() {
        return Ok(out);
    }
    out.reserve(read.users.len());
    for (i, u) in read.users.iter().enumerate() {
        let who = Who {
            section: Section::Users,
            index: i,
            id: &u.id,
        };
        let mut given = slice(&read.values, u.attrs).iter().peekable();
        let mut values = Vec::with_capacity(names.p.user_attrs.len());
        for (a, def) in names.p.user_attrs.iter().enumerate() {
            let value = match given.next_if(|(n, _)| n.known() == Some(a as u32)) {
                None => {
                    r.report(names, who, Problem::MissingUserAttr { name: &def.name })?;
                    None
                }
                Some((_, v)) => convert(r, names, syms, who, &def.name, def.ty, v)?,
            };
            // A value with a problem is never used: the load fails.
            values.push(value.unwrap_or(AttrValue::Bool(false)));
        }
        out.push(values.into());
    }
    Ok(out)
}

/// The resources, their lists as ranges in the builder's arenas. A resource of a kind the
/// policy does not declare is reported and left out, and nothing else is checked on it.
fn resources<R: Report>(
    read: &Read<'_>,
    names: &Names<'_>,
    syms: &mut Symbols,
    r: &mut R,
) -> Result<(Vec<Resource>, Vec<Ranges>, Builder), Stop> {
    let p = names.p;
    let mut resources = Vec::with_capacity(read.resources.len());
    let mut ranges = Vec::with_capacity(read.resources.len());
    let mut builder = Builder::default();
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); p.relations.len()];
    let mut level: Vec<u32> = Vec::new();
    for (i, x) in read.resources.iter().enumerate() {
        let who = Who {
            section: Section::Resources,
            index: i,
            id: &x.id,
        };
        let kind = match read.resolve(x.kind) {
            Ok(k) => KindId(k),
            Err(kind) => {
                r.report(names, who, Problem::UnknownKind { kind })?;
                continue;
            }
        };
        let kdef = &p.kinds[kind.idx()];
        let parent = parent(read, names, who, x, kind, r)?;
        // Case fields: type and state, on cases only.
        let (mut casetype, mut state) = (0, 0);
        let pairs = slice(&read.members, x.members);
        let group_pairs = slice(&read.group_members, x.group_members);
        if kdef.is_case {
            match (read.resolve(x.casetype), read.resolve(x.state)) {
                _ if x.casetype.is_absent() => r.report(names, who, Problem::NoCaseType)?,
                (Err(name), _) => r.report(names, who, Problem::UnknownCaseType { name })?,
                // A case of a type without a workflow has its one state, and names none.
                (Ok(t), _) if x.state.is_absent() && !p.casetypes[t as usize].workflow => {
                    casetype = t;
                }
                (Ok(t), _) if x.state.is_absent() => {
                    casetype = t;
                    r.report(names, who, Problem::NoState { casetype: t })?;
                }
                (Ok(t), Err(name)) => {
                    casetype = t;
                    let problem = Problem::UnknownState { casetype: t, name };
                    r.report(names, who, problem)?;
                }
                (Ok(t), Ok(s)) => (casetype, state) = (t, s),
            }
        } else {
            for (field, present) in [
                (Field::Type, !x.casetype.is_absent()),
                (Field::State, !x.state.is_absent()),
            ] {
                if present {
                    r.report(names, who, Problem::NotACase { field, kind })?;
                }
            }
        }
        // Relations, on the kinds that declare them.
        let relations = if kdef.is_case || !kdef.relations.is_empty() {
            let lists = &mut members[..kdef.relations.len()];
            relation_members(read, names, who, kind, pairs, group_pairs, lists, r)?;
            builder.relations(lists.iter().map(Vec::as_slice))
        } else {
            for (field, present) in [
                (Field::Relations, !pairs.is_empty()),
                (Field::RelationGroups, !group_pairs.is_empty()),
            ] {
                if present {
                    r.report(names, who, Problem::NoRelations { field, kind })?;
                }
            }
            (0, 0)
        };
        // Attributes: every declared one, in the order of the declarations, then none other.
        let given = slice(&read.values, x.attrs);
        let mut attrs = Vec::with_capacity(kdef.attrs.len());
        let mut declared = given.iter().peekable();
        for (a, def) in kdef.attrs.iter().enumerate() {
            let value = match declared.next_if(|(n, _)| n.known() == Some(a as u32)) {
                None => {
                    let problem = Problem::MissingAttr {
                        kind,
                        name: &def.name,
                    };
                    r.report(names, who, problem)?;
                    None
                }
                Some((_, v)) => convert(r, names, syms, who, &def.name, def.ty, v)?,
            };
            // A value with a problem is never decided on: the load fails.
            attrs.push(value.unwrap_or(AttrValue::Bool(false)));
        }
        for key in undeclared(read, given) {
            r.report(names, who, Problem::UnknownAttr { kind, key })?;
        }
        // Access codes, as ranges of levels in the builder.
        let mut code = |field: Field, text: Option<&str>| -> Result<(u32, u32), Stop> {
            let text = text.unwrap_or("");
            let start = builder.next_level();
            match access_code::parse(text) {
                Ok(expr) => {
                    for l in &expr.levels {
                        level.clear();
                        level.extend(l.iter().map(|c| syms.sym(c)));
                        builder.level(&mut level);
                    }
                }
                Err(error) => {
                    let problem = Problem::BadCode {
                        field,
                        text,
                        error: &error,
                    };
                    r.report(names, who, problem)?;
                }
            }
            Ok((start, builder.next_level() - start))
        };
        let own_read = code(Field::Read, x.read.as_deref())?;
        let own_write = code(Field::Write, x.write.as_deref())?;
        ranges.push(Ranges {
            relations,
            own_read,
            own_write,
        });
        resources.push(Resource::read(
            kind,
            kdef,
            parent,
            (casetype, state),
            attrs,
            (x.inherit_read, x.inherit_write),
        ));
    }
    Ok((resources, ranges, builder))
}

/// The parent of resource `x`, of kind `kind`: present exactly when the kind is declared
/// `under` another, and then a resource of that kind.
fn parent<R: Report>(
    read: &Read<'_>,
    names: &Names<'_>,
    who: Who<'_>,
    x: &ResourceIn<'_>,
    kind: KindId,
    r: &mut R,
) -> Result<Option<u32>, Stop> {
    let p = names.p;
    let problem = match (&x.parent, p.kinds[kind.idx()].parent) {
        (None, None) => return Ok(None),
        (Some(pid), Some(want)) => match names.resources.get(pid) {
            Some(&at) if names.kind(at) == Some(want) => return Ok(Some(at)),
            Some(&at) => Problem::WrongParentKind {
                kind,
                parent: pid,
                want,
                found: names.kind(at),
                found_name: match read.resolve(read.resources[at as usize].kind) {
                    Ok(k) => p.kinds[k as usize].name.as_str(),
                    Err(text) => text,
                },
            },
            None => Problem::UnknownParent { parent: pid, want },
        },
        (None, Some(want)) => Problem::NeedsParent { kind, want },
        (Some(pid), None) => Problem::ParentNotAllowed { kind, parent: pid },
    };
    r.report(names, who, problem)?;
    Ok(None)
}

/// The members of each relation of a resource of kind `kind`, in `members` (one list for each
/// relation the kind declares), from the `(relation, user)` and `(relation, group)` pairs read:
/// each list sorted and without repeats, users first, then groups marked with
/// [`GROUP_MEMBER`] (docs/data-formats.md §1.4).
#[allow(clippy::too_many_arguments)]
fn relation_members<R: Report>(
    read: &Read<'_>,
    names: &Names<'_>,
    who: Who<'_>,
    kind: KindId,
    pairs: &[(Name, Option<Text<'_>>)],
    group_pairs: &[(Name, Option<Name>)],
    members: &mut [Vec<u32>],
    r: &mut R,
) -> Flow {
    let p = names.p;
    let declared = &p.kinds[kind.idx()].relations;
    let first = declared.first().map_or(0, |f| f.0);
    members.iter_mut().for_each(Vec::clear);
    // The relation's place in the kind's list, each problem once per relation (on its first
    // pair), for users and groups alike.
    let local = |field: &'static str,
                 relation: Name,
                 first_pair: bool,
                 r: &mut R|
     -> Result<Option<usize>, Stop> {
        match read.resolve(relation) {
            Ok(rel) if declared.contains(&RelationId(rel)) => Ok(Some((rel - first) as usize)),
            Ok(rel) => {
                if first_pair {
                    let problem = Problem::OtherKindRelation {
                        field,
                        relation: rel,
                        kind,
                    };
                    r.report(names, who, problem)?;
                }
                Ok(None)
            }
            Err(name) => {
                if first_pair {
                    let problem = Problem::UnknownRelation { field, name, kind };
                    r.report(names, who, problem)?;
                }
                Ok(None)
            }
        }
    };
    for (k, (relation, user)) in pairs.iter().enumerate() {
        let first_pair = k == 0 || pairs[k - 1].0 != *relation;
        let Some(rel) = local("relations", *relation, first_pair, r)? else {
            continue;
        };
        let Some(user) = user else { continue };
        match names.users.get(user) {
            Some(&u) => members[rel].push(u),
            None => {
                let relation = &p.relations[first as usize + rel].name;
                r.report(names, who, Problem::UnknownMember { relation, user })?;
            }
        }
    }
    for (k, (relation, group)) in group_pairs.iter().enumerate() {
        let first_pair = k == 0 || group_pairs[k - 1].0 != *relation;
        let Some(rel) = local("relation_groups", *relation, first_pair, r)? else {
            continue;
        };
        let Some(group) = group else { continue };
        match read.resolve(*group) {
            Ok(g) => members[rel].push(GROUP_MEMBER | g),
            Err(group) => {
                let relation = &p.relations[first as usize + rel].name;
                r.report(names, who, Problem::UnknownMemberGroup { relation, group })?;
            }
        }
    }
    for m in members {
        m.sort_unstable();
        m.dedup();
    }
    Ok(())
}

/// Checks every id, in file order by section: not empty, printable and short, used once in the
/// file, and (for users and units) not the name of an access group.
fn check_ids<R: Report>(names: &Names<'_>, repeats: &[Vec<u32>; 3], r: &mut R) -> Flow {
    let indexes = [names.units, names.users, names.resources];
    for (s, section) in Section::ALL.into_iter().enumerate() {
        let mut repeated = repeats[s].iter().copied().peekable();
        for i in 0..indexes[s].len() {
            let id = indexes[s].id(i as u32);
            let again = repeated.next_if_eq(&(i as u32)).is_some();
            // The latest use before this one: in this section, or in the nearest before it.
            let before = match again {
                true => Some(section),
                false => (0..s)
                    .rev()
                    .find(|&e| indexes[e].contains_key(id))
                    .map(|e| Section::ALL[e]),
            };
            let problem = if id.is_empty() {
                Problem::EmptyId
            } else if let Some(problem) = text_problem(id) {
                Problem::BadId(problem)
            } else if let Some(prev) = before {
                Problem::RepeatedId { prev }
            } else if section != Section::Resources && names.ix.groups.contains_key(id) {
                Problem::IdIsGroup
            } else {
                continue;
            };
            let who = Who {
                section,
                index: i,
                id,
            };
            r.report(names, who, problem)?;
        }
    }
    Ok(())
}

/// The keys of `given` that the policy does not declare, in the order of their text.
fn undeclared<'r>(read: &'r Read<'_>, given: &[(Name, Val<'_>)]) -> Vec<&'r str> {
    // Declared attributes come first.
    let at = given.partition_point(|(n, _)| n.known().is_some());
    let mut keys: Vec<&str> = given[at..]
        .iter()
        .filter_map(|&(n, _)| read.resolve(n).err())
        .collect();
    keys.sort_unstable();
    keys
}

/// The value of attribute `name`, of type `ty`, with its strings interned; `None` when it has
/// a problem, which is reported.
fn convert<R: Report>(
    r: &mut R,
    names: &Names<'_>,
    syms: &mut Symbols,
    who: Who<'_>,
    name: &str,
    ty: Type,
    v: &Val<'_>,
) -> Result<Option<AttrValue>, Stop> {
    let problem = match (ty, v) {
        (Type::Str, Val::Str(s)) => match bidi_control(s) {
            None => return Ok(Some(AttrValue::Sym(syms.sym(s)))),
            Some(c) => ValueProblem::Bidi { element: None, c },
        },
        (Type::Bool, Val::Bool(b)) => return Ok(Some(AttrValue::Bool(*b))),
        (Type::Int, Val::Int(i)) => return Ok(Some(AttrValue::Int(*i))),
        (Type::Int, Val::Big(_) | Val::Float(_)) => ValueProblem::NotAnInt(v),
        (Type::DateTime, Val::Str(s)) => match crate::datetime::parse(s) {
            Ok(t) => return Ok(Some(AttrValue::DateTime(t))),
            Err(e) => ValueProblem::NotADateTime { value: s, why: e.0 },
        },
        (Type::SetStr, Val::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            let mut problem = None;
            for (k, item) in items.iter().enumerate() {
                match item {
                    Val::Str(s) => match bidi_control(s) {
                        None => out.push(syms.sym(s)),
                        Some(c) => {
                            problem = Some(ValueProblem::Bidi {
                                element: Some(k),
                                c,
                            });
                            break;
                        }
                    },
                    _ => {
                        problem = Some(ValueProblem::SetElement {
                            element: k,
                            value: item,
                        });
                        break;
                    }
                }
            }
            match problem {
                Some(problem) => problem,
                None => {
                    out.sort_unstable();
                    out.dedup();
                    return Ok(Some(AttrValue::Set(out.into())));
                }
            }
        }
        (Type::RefUser, Val::Str(s)) => match names.users.get(s) {
            Some(&u) => return Ok(Some(AttrValue::User(u))),
            None => ValueProblem::UnknownUser(s),
        },
        (Type::Ref(want), Val::Str(s)) => match names.resources.get(s) {
            Some(&x) => match names.kind(x) {
                Some(k) if k == want => return Ok(Some(AttrValue::Resource(x))),
                found => ValueProblem::WrongKind { id: s, want, found },
            },
            None => ValueProblem::UnknownResource { id: s, want },
        },
        (Type::Enum(e), Val::Str(s)) => match names.ix.variants[e.idx()].get(&**s) {
            Some(&i) => return Ok(Some(AttrValue::Variant(i))),
            None => ValueProblem::NotAVariant { value: s, of: e },
        },
        _ => ValueProblem::WrongType { ty, value: v },
    };
    r.report(names, who, Problem::Value { name, problem })?;
    Ok(None)
}

//! Loading entities (users, org units, resources) from JSON and validating them against a policy.
//!
//! Loading does the work that deciding must not: strings are interned, group and unit closures
//! and each resource's anchor case and effective access codes are computed once, here.

use crate::access_code;
use crate::compile::CompiledPolicy;
use crate::ir::{KindId, Type};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

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

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    /// Groups as listed, and with every ancestor (sorted).
    pub direct_groups: Vec<u32>,
    pub groups: Box<[u32]>,
    pub direct_units: Vec<u32>,
    pub terms: Vec<u32>,
    /// Every code that stands for this user: id, groups, units (with ancestors) and terms (sorted).
    pub codes: Box<[u32]>,
}

/// One access-code level: codes as symbols, sorted.
pub type Level = Box<[u32]>;

#[derive(Debug, Clone)]
pub struct EffectiveCode {
    pub levels: Box<[Level]>,
    /// For each level, the resource whose own code it comes from.
    pub origin: Box<[u32]>,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub kind: KindId,
    pub parent: Option<u32>,
    /// The nearest case at or above this resource.
    pub anchor: Option<u32>,
    /// On cases: case type and state.
    pub casetype: u32,
    pub state: u32,
    pub attrs: Box<[AttrValue]>,
    /// On cases: for each relation, the users holding it (sorted).
    pub relations: Box<[Box<[u32]>]>,
    pub own_read: Box<[Level]>,
    pub own_write: Box<[Level]>,
    pub inherit_read: bool,
    pub inherit_write: bool,
    pub read: EffectiveCode,
    pub write: EffectiveCode,
}

#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub parent: Option<u32>,
}

/// Loaded entities, bound to the policy they were validated against.
#[derive(Debug)]
pub struct Entities {
    pub(crate) symbols: Vec<String>,
    pub(crate) users: Vec<User>,
    pub(crate) units: Vec<Unit>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) user_index: HashMap<String, u32>,
    pub(crate) resource_index: HashMap<String, u32>,
    pub(crate) unit_index: HashMap<String, u32>,
}

/// A problem in the entity data. `entity` and `field` locate it; `help` says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntityError {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// One-based line and column, for errors in the JSON itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl std::fmt::Display for EntityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        match (&self.entity, &self.field) {
            (Some(e), Some(fl)) => write!(f, "entity `{e}`, field `{fl}`: ")?,
            (Some(e), None) => write!(f, "entity `{e}`: ")?,
            _ => {}
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntities {
    #[serde(default)]
    units: Vec<RawUnit>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: String,
    #[serde(default)]
    parent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    terms: Vec<String>,
    #[serde(default)]
    attrs: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    id: String,
    kind: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default, rename = "type")]
    casetype: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    attrs: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    relations: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    write: Option<String>,
    #[serde(default)]
    inherit_read: Option<bool>,
    #[serde(default)]
    inherit_write: Option<bool>,
}

struct Loader<'p> {
    policy: &'p CompiledPolicy,
    symbols: Vec<String>,
    sym_index: HashMap<String, u32>,
    errors: Vec<EntityError>,
}

impl Loader<'_> {
    fn sym(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.sym_index.get(s) {
            return i;
        }
        let i = self.symbols.len() as u32;
        self.symbols.push(s.to_string());
        self.sym_index.insert(s.to_string(), i);
        i
    }

    #[cold]
    fn err(&mut self, entity: &str, field: &str, message: String, help: impl Into<Option<String>>) {
        self.errors.push(EntityError {
            message,
            entity: Some(entity.to_string()),
            field: (!field.is_empty()).then(|| field.to_string()),
            help: help.into(),
            line: None,
            column: None,
        });
    }
}

fn did_you_mean<'a>(name: &str, cands: impl IntoIterator<Item = &'a str>) -> Option<String> {
    crate::diagnostic::suggest(name, cands).map(|s| format!("did you mean `{s}`?"))
}

impl Entities {
    /// Parses and validates entity JSON against a compiled policy. Reports every problem found.
    pub fn from_json(policy: &CompiledPolicy, json: &str) -> Result<Entities, Vec<EntityError>> {
        let raw: RawEntities = serde_json::from_str(json).map_err(|e| {
            vec![EntityError {
                message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
                entity: None,
                field: None,
                help: Some(
                    "the entities file is one JSON object with optional `units`, `users` and `resources` arrays; see docs/data-formats.md"
                        .into(),
                ),
                line: Some(e.line()),
                column: Some(e.column()),
            }]
        })?;
        let mut ld = Loader {
            policy,
            symbols: Vec::new(),
            sym_index: HashMap::new(),
            errors: Vec::new(),
        };
        // Policy literals first, so that a literal's index is its symbol.
        for l in &policy.literals {
            ld.sym(l);
        }
        let p = &policy.ir;

        // Ids are unique across users, units and resources.
        let mut seen: HashMap<&str, &str> = HashMap::new();
        let all_ids = raw
            .units
            .iter()
            .map(|u| (u.id.as_str(), "unit"))
            .chain(raw.users.iter().map(|u| (u.id.as_str(), "user")))
            .chain(raw.resources.iter().map(|r| (r.id.as_str(), "resource")));
        for (id, what) in all_ids {
            if let Some(prev) = seen.insert(id, what) {
                ld.err(id, "id", format!("id `{id}` is used by a {prev} and again by a {what}"), "give every entity its own id".to_string());
            }
            if id.is_empty() {
                ld.err(id, "id", "an entity has an empty id".into(), "give every entity a non-empty id".to_string());
            }
        }

        // Units and their ancestry.
        let unit_index: HashMap<String, u32> = raw.units.iter().enumerate().map(|(i, u)| (u.id.clone(), i as u32)).collect();
        let mut units = Vec::with_capacity(raw.units.len());
        for u in &raw.units {
            let parent = match &u.parent {
                Some(pid) => match unit_index.get(pid) {
                    Some(&i) => Some(i),
                    None => {
                        let help = did_you_mean(pid, unit_index.keys().map(String::as_str));
                        ld.err(&u.id, "parent", format!("unknown parent unit `{pid}`"), help);
                        None
                    }
                },
                None => None,
            };
            units.push(Unit { id: u.id.clone(), parent });
        }
        let mut unit_cyclic = vec![false; units.len()];
        for (i, u) in units.iter().enumerate() {
            let mut cur = u.parent;
            let mut steps = 0;
            while let Some(c) = cur {
                steps += 1;
                if c as usize == i || steps > units.len() {
                    unit_cyclic[i] = true;
                    break;
                }
                cur = units[c as usize].parent;
            }
        }
        for (i, cyc) in unit_cyclic.iter().enumerate() {
            if *cyc {
                let id = units[i].id.clone();
                ld.err(&id, "parent", "units form a cycle through their parents".into(), "a unit's chain of parents must end at a unit with no parent".to_string());
            }
        }
        let unit_syms: Vec<u32> = units.iter().map(|u| u.id.clone()).collect::<Vec<_>>().iter().map(|id| ld.sym(id)).collect();
        let unit_ancestors = |start: u32| -> Vec<u32> {
            let mut out = Vec::new();
            let mut cur = Some(start);
            while let Some(c) = cur {
                if out.contains(&c) {
                    break;
                }
                out.push(c);
                cur = units[c as usize].parent;
            }
            out
        };

        // Users.
        let group_index: HashMap<&str, u32> = p.groups.iter().enumerate().map(|(i, g)| (g.name.as_str(), i as u32)).collect();
        let group_syms: Vec<u32> = p.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>().iter().map(|n| ld.sym(n)).collect();
        let mut users = Vec::with_capacity(raw.users.len());
        let mut user_index = HashMap::with_capacity(raw.users.len());
        for (i, u) in raw.users.iter().enumerate() {
            user_index.insert(u.id.clone(), i as u32);
        }
        for u in &raw.users {
            let mut direct_groups = Vec::new();
            for g in &u.groups {
                match group_index.get(g.as_str()) {
                    Some(&gi) => direct_groups.push(gi),
                    None => {
                        let help = did_you_mean(g, group_index.keys().copied())
                            .or_else(|| Some("list access groups declared in the policy".to_string()));
                        ld.err(&u.id, "groups", format!("unknown access group `{g}`"), help);
                    }
                }
            }
            if p.require_group && u.groups.is_empty() {
                ld.err(&u.id, "groups", "user is in no access group, but the policy says `require group;`".into(), "add the user to at least one access group".to_string());
            }
            let mut groups: Vec<u32> = Vec::new();
            for &g in &direct_groups {
                let mut cur = Some(g);
                while let Some(c) = cur {
                    if groups.contains(&c) {
                        break;
                    }
                    groups.push(c);
                    cur = p.groups[c as usize].parent.map(|x| x.0);
                }
            }
            groups.sort_unstable();
            let mut direct_units = Vec::new();
            let mut codes = vec![ld.sym(&u.id)];
            for un in &u.units {
                match unit_index.get(un) {
                    Some(&x) => {
                        direct_units.push(x);
                        codes.extend(unit_ancestors(x).into_iter().map(|a| unit_syms[a as usize]));
                    }
                    None => {
                        let help = did_you_mean(un, unit_index.keys().map(String::as_str))
                            .or_else(|| Some("declare the unit in the `units` array".to_string()));
                        ld.err(&u.id, "units", format!("unknown unit `{un}`"), help);
                    }
                }
            }
            codes.extend(groups.iter().map(|g| group_syms[*g as usize]));
            let terms: Vec<u32> = u.terms.iter().map(|t| ld.sym(t)).collect();
            codes.extend(&terms);
            codes.sort_unstable();
            codes.dedup();
            for (k, _) in &u.attrs {
                if !p.user_attrs.iter().any(|a| &a.name == k) {
                    let help = did_you_mean(k, p.user_attrs.iter().map(|a| a.name.as_str()))
                        .or_else(|| Some("declare user attributes in the policy's `user { … }` block".into()));
                    ld.err(&u.id, &format!("attrs.{k}"), format!("unknown user attribute `{k}`"), help);
                }
            }
            users.push(User {
                id: u.id.clone(),
                direct_groups,
                groups: groups.into(),
                direct_units,
                terms,
                codes: codes.into(),
            });
        }
        // Resources: index first, then validate, since parents may come later in the file.
        let mut resource_index = HashMap::with_capacity(raw.resources.len());
        for (i, r) in raw.resources.iter().enumerate() {
            resource_index.insert(r.id.clone(), i as u32);
        }
        let kind_index: HashMap<&str, KindId> = p.kinds.iter().enumerate().map(|(i, k)| (k.name.as_str(), KindId(i as u32))).collect();
        let kinds_of: Vec<Option<KindId>> = raw.resources.iter().map(|r| kind_index.get(r.kind.as_str()).copied()).collect();
        // User attributes are checked by type but not stored: no rule reads them yet.
        for u in &raw.users {
            for a in &p.user_attrs {
                match u.attrs.get(&a.name) {
                    None => ld.err(&u.id, &format!("attrs.{}", a.name), format!("missing attribute `{}`", a.name), "every attribute declared in `user { … }` must be given".to_string()),
                    Some(v) => {
                        let _ = convert(&mut ld, &u.id, &a.name, a.ty, v, &user_index, &resource_index, &kinds_of);
                    }
                }
            }
        }

        let mut resources = Vec::with_capacity(raw.resources.len());
        for (i, r) in raw.resources.iter().enumerate() {
            let Some(kind) = kinds_of[i] else {
                let help = did_you_mean(&r.kind, kind_index.keys().copied())
                    .or_else(|| Some(format!("the policy declares the kinds {}", p.kinds.iter().map(|k| format!("`{}`", k.name)).collect::<Vec<_>>().join(", "))));
                ld.err(&r.id, "kind", format!("unknown resource kind `{}`", r.kind), help);
                continue;
            };
            let kdef = &p.kinds[kind.idx()];
            // Parent.
            let parent = match (&r.parent, kdef.parent) {
                (Some(pid), Some(pk)) => match resource_index.get(pid) {
                    Some(&pi) if kinds_of[pi as usize] == Some(pk) => Some(pi),
                    Some(&pi) => {
                        let found = &raw.resources[pi as usize].kind;
                        ld.err(&r.id, "parent", format!("parent `{pid}` is a `{found}`, but a `{}` needs a `{}` parent", kdef.name, p.kinds[pk.idx()].name), None);
                        None
                    }
                    None => {
                        let help = did_you_mean(pid, resource_index.keys().map(String::as_str));
                        ld.err(&r.id, "parent", format!("unknown parent `{pid}`"), help);
                        None
                    }
                },
                (None, Some(pk)) => {
                    ld.err(&r.id, "parent", format!("a `{}` needs a parent `{}`", kdef.name, p.kinds[pk.idx()].name), "set `parent` to the id of its parent resource".to_string());
                    None
                }
                (Some(_), None) => {
                    ld.err(&r.id, "parent", format!("kind `{}` has no parent kind, so a `{}` cannot have a parent", kdef.name, kdef.name), "remove `parent`, or declare the kind with `under`".to_string());
                    None
                }
                (None, None) => None,
            };
            // Case fields.
            let (mut casetype, mut state) = (0, 0);
            let mut relations: Vec<Box<[u32]>> = Vec::new();
            if kdef.is_case {
                match &r.casetype {
                    None => ld.err(&r.id, "type", "a case needs a `type`".into(), format!("set `type` to one of {}", p.casetypes.iter().map(|c| format!("`{}`", c.name)).collect::<Vec<_>>().join(", "))),
                    Some(t) => match p.casetypes.iter().position(|c| &c.name == t) {
                        None => {
                            let help = did_you_mean(t, p.casetypes.iter().map(|c| c.name.as_str()));
                            ld.err(&r.id, "type", format!("unknown case type `{t}`"), help);
                        }
                        Some(ti) => {
                            casetype = ti as u32;
                            let ct = &p.casetypes[ti];
                            match &r.state {
                                None => ld.err(&r.id, "state", "a case needs a `state`".into(), format!("set `state` to one of the states of `{}`", ct.name)),
                                Some(s) => match ct.states.iter().position(|x| &x.name == s) {
                                    Some(si) => state = si as u32,
                                    None => {
                                        let help = did_you_mean(s, ct.states.iter().map(|x| x.name.as_str()))
                                            .or_else(|| Some(format!("the states of `{}` are {}", ct.name, ct.states.iter().map(|x| format!("`{}`", x.name)).collect::<Vec<_>>().join(", "))));
                                        ld.err(&r.id, "state", format!("case type `{}` has no state `{s}`", ct.name), help);
                                    }
                                },
                            }
                        }
                    },
                }
                relations = vec![Box::from([]); p.relations.len()];
                for (name, members) in &r.relations {
                    let Some(ri) = p.relations.iter().position(|x| &x.name == name) else {
                        let help = did_you_mean(name, p.relations.iter().map(|x| x.name.as_str()));
                        ld.err(&r.id, &format!("relations.{name}"), format!("unknown relation `{name}`"), help);
                        continue;
                    };
                    let mut ids = Vec::with_capacity(members.len());
                    for m in members {
                        match user_index.get(m) {
                            Some(&u) => ids.push(u),
                            None => ld.err(&r.id, &format!("relations.{name}"), format!("unknown user `{m}`"), did_you_mean(m, user_index.keys().map(String::as_str))),
                        }
                    }
                    ids.sort_unstable();
                    ids.dedup();
                    relations[ri] = ids.into();
                }
            } else {
                for (field, present) in [("type", r.casetype.is_some()), ("state", r.state.is_some()), ("relations", !r.relations.is_empty())] {
                    if present {
                        ld.err(&r.id, field, format!("only cases have `{field}`; `{}` is not the case kind", kdef.name), format!("remove `{field}`"));
                    }
                }
            }
            // Attributes.
            let mut attrs = Vec::with_capacity(kdef.attrs.len());
            for a in &kdef.attrs {
                match r.attrs.get(&a.name) {
                    None => {
                        ld.err(&r.id, &format!("attrs.{}", a.name), format!("missing attribute `{}`", a.name), format!("kind `{}` declares `{}`; give it a value", kdef.name, a.name));
                        attrs.push(AttrValue::Bool(false));
                    }
                    Some(v) => {
                        let cv = convert(&mut ld, &r.id, &a.name, a.ty, v, &user_index, &resource_index, &kinds_of);
                        attrs.push(cv.unwrap_or(AttrValue::Bool(false)));
                    }
                }
            }
            for k in r.attrs.keys() {
                if !kdef.attrs.iter().any(|a| &a.name == k) {
                    let help = did_you_mean(k, kdef.attrs.iter().map(|a| a.name.as_str()))
                        .or_else(|| Some(format!("declare it in kind `{}`, or remove it", kdef.name)));
                    ld.err(&r.id, &format!("attrs.{k}"), format!("kind `{}` has no attribute `{k}`", kdef.name), help);
                }
            }
            // Access codes.
            let mut codes = |field: &str, text: &Option<String>| -> Box<[Level]> {
                let text = text.as_deref().unwrap_or("");
                match access_code::parse(text) {
                    Ok(expr) => expr
                        .levels
                        .iter()
                        .map(|l| {
                            let mut v: Vec<u32> = l.iter().map(|c| ld.sym(c)).collect();
                            v.sort_unstable();
                            v.dedup();
                            v.into_boxed_slice()
                        })
                        .collect(),
                    Err(e) => {
                        ld.err(&r.id, field, format!("invalid access code {text:?}: {}", e.message), format!("write codes as `A|B` or `[A|B] & [C]`; the problem is at character {}", e.offset + 1));
                        Box::from([])
                    }
                }
            };
            let own_read = codes("read", &r.read);
            let own_write = codes("write", &r.write);
            resources.push(Resource {
                id: r.id.clone(),
                kind,
                parent,
                anchor: None,
                casetype,
                state,
                attrs: attrs.into(),
                relations: relations.into(),
                own_read,
                own_write,
                inherit_read: r.inherit_read.unwrap_or(true) && kdef.inherit_read,
                inherit_write: r.inherit_write.unwrap_or(true) && kdef.inherit_write,
                read: EffectiveCode { levels: Box::from([]), origin: Box::from([]) },
                write: EffectiveCode { levels: Box::from([]), origin: Box::from([]) },
            });
        }
        if !ld.errors.is_empty() {
            return Err(ld.errors);
        }
        // INVARIANT: with no errors every resource was pushed, so indices match `resource_index`.
        // Parent kinds form no cycle (checked) and a parent has the parent kind, so chains end.
        let n = resources.len();
        for i in 0..n {
            let mut chain = vec![i as u32];
            let mut cur = resources[i].parent;
            while let Some(c) = cur {
                chain.push(c);
                cur = resources[c as usize].parent;
            }
            let anchor = chain.iter().copied().find(|&c| p.kinds[resources[c as usize].kind.idx()].is_case);
            let eff = |read: bool| -> EffectiveCode {
                let mut levels = Vec::new();
                let mut origin = Vec::new();
                for &c in &chain {
                    let res = &resources[c as usize];
                    let own = if read { &res.own_read } else { &res.own_write };
                    for l in own.iter() {
                        levels.push(l.clone());
                        origin.push(c);
                    }
                    let inherits = if read { res.inherit_read } else { res.inherit_write };
                    if !inherits {
                        break;
                    }
                }
                EffectiveCode { levels: levels.into(), origin: origin.into() }
            };
            let read = eff(true);
            let write = eff(false);
            let r = &mut resources[i];
            r.anchor = anchor;
            r.read = read;
            r.write = write;
        }
        let _ = ld.policy;
        Ok(Entities {
            symbols: ld.symbols,
            users,
            units,
            resources,
            user_index,
            resource_index,
            unit_index,
        })
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.user_index.get(id).map(|&i| &self.users[i as usize])
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resource_index.get(id).map(|&i| &self.resources[i as usize])
    }

    pub fn symbol(&self, s: u32) -> &str {
        self.symbols.get(s as usize).map(String::as_str).unwrap_or("?")
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

#[allow(clippy::too_many_arguments)]
fn convert(
    ld: &mut Loader<'_>,
    entity: &str,
    name: &str,
    ty: Type,
    v: &serde_json::Value,
    users: &HashMap<String, u32>,
    resources: &HashMap<String, u32>,
    kinds_of: &[Option<KindId>],
) -> Option<AttrValue> {
    use serde_json::Value as J;
    let field = format!("attrs.{name}");
    let p = &ld.policy.ir;
    let want = crate::check::type_name(ty, p);
    let got = match v {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    };
    let out = match (ty, v) {
        (Type::Str, J::String(s)) => AttrValue::Sym(ld.sym(s)),
        (Type::Bool, J::Bool(b)) => AttrValue::Bool(*b),
        (Type::Int, J::Number(n)) => match n.as_i64() {
            Some(i) => AttrValue::Int(i),
            None => {
                ld.err(entity, &field, format!("`{n}` is not a whole number that fits in 64 bits"), "use a whole number between -2^63 and 2^63-1".to_string());
                return None;
            }
        },
        (Type::SetStr, J::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                match it {
                    J::String(s) => out.push(ld.sym(s)),
                    _ => {
                        ld.err(entity, &field, format!("attribute `{name}` is a `set<string>`, but holds a non-string element"), "write every element as a string".to_string());
                        return None;
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            AttrValue::Set(out.into())
        }
        (Type::RefUser, J::String(s)) => match users.get(s) {
            Some(&u) => AttrValue::User(u),
            None => {
                ld.err(entity, &field, format!("unknown user `{s}`"), did_you_mean(s, users.keys().map(String::as_str)));
                return None;
            }
        },
        (Type::Ref(k), J::String(s)) => match resources.get(s) {
            Some(&r) if kinds_of.get(r as usize).copied().flatten() == Some(k) => AttrValue::Resource(r),
            Some(_) => {
                ld.err(entity, &field, format!("`{s}` is not a `{}`", p.kinds[k.idx()].name), None);
                return None;
            }
            None => {
                ld.err(entity, &field, format!("unknown resource `{s}`"), did_you_mean(s, resources.keys().map(String::as_str)));
                return None;
            }
        },
        (Type::Enum(e), J::String(s)) => {
            let def = &p.enums[e.idx()];
            match def.variants.iter().position(|x| x == s) {
                Some(i) => AttrValue::Variant(i as u32),
                None => {
                    let help = did_you_mean(s, def.variants.iter().map(String::as_str))
                        .or_else(|| Some(format!("`{}` is one of {}", def.name, def.variants.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", "))));
                    ld.err(entity, &field, format!("`{s}` is not a variant of `{}`", def.name), help);
                    return None;
                }
            }
        }
        _ => {
            ld.err(entity, &field, format!("attribute `{name}` has type {want}, but the value is {got}"), format!("give `{name}` a value of type {want}"));
            return None;
        }
    };
    Some(out)
}

//! Loaded entities written back in the entity format (docs/data-formats.md §1), one record at a
//! time or as a whole file, so that loading the result gives the same entities.
//!
//! What is written is what deciding reads: ids and names as the file gave them, every list
//! sorted as loading keeps it, an access code in its canonical `[A|B] & [ ]` form, and an
//! `inherit_read` or `inherit_write` of `false` only where the kind inherits (elsewhere the
//! switch has no effect and loading does not keep it). So writing is a function of the
//! entities' meaning: two loads of the same world write the same text, whatever the symbol
//! numbers, and `casepol apply --write` saves a file that loads into the snapshot it applied.

use super::model::{AttrValue, Entities, Level};
use crate::access_code;
use crate::compile::CompiledPolicy;
use crate::ir::{Policy as Ir, Type};
use serde_json::{Map, Value};

impl Entities {
    /// The entities as an entities file, in the entity format: units, users and resources in
    /// their order here.
    pub fn to_json(&self, policy: &CompiledPolicy) -> Value {
        let p = policy.ir();
        let mut top = Map::new();
        let units = (0..self.units.len()).map(|i| Value::Object(self.unit_record(i)));
        top.insert("units".into(), Value::Array(units.collect()));
        let users = (0..self.users.len()).map(|i| Value::Object(self.user_record(p, i)));
        top.insert("users".into(), Value::Array(users.collect()));
        let resources =
            (0..self.resources.len()).map(|i| Value::Object(self.resource_record(p, i)));
        top.insert("resources".into(), Value::Array(resources.collect()));
        Value::Object(top)
    }

    /// The record of the unit at `i`.
    pub(crate) fn unit_record(&self, i: usize) -> Map<String, Value> {
        let u = &self.units[i];
        let mut m = Map::new();
        m.insert("id".into(), u.id.clone().into());
        if let Some(parent) = u.parent {
            m.insert(
                "parent".into(),
                self.units[parent as usize].id.clone().into(),
            );
        }
        m
    }

    /// The record of the user at `i`.
    pub(crate) fn user_record(&self, p: &Ir, i: usize) -> Map<String, Value> {
        let u = &self.users[i];
        let mut m = Map::new();
        m.insert("id".into(), self.user_id(i as u32).into());
        let names = |list: &[u32], name: &dyn Fn(u32) -> String| -> Value {
            Value::Array(list.iter().map(|&x| Value::String(name(x))).collect())
        };
        if !u.direct_groups.is_empty() {
            let group = |g: u32| p.groups[g as usize].name.clone();
            m.insert("groups".into(), names(&u.direct_groups, &group));
        }
        if !u.direct_units.is_empty() {
            let unit = |x: u32| self.units[x as usize].id.clone();
            m.insert("units".into(), names(&u.direct_units, &unit));
        }
        if !u.terms.is_empty() {
            let term = |t: u32| self.symbol(t).to_string();
            m.insert("terms".into(), names(&u.terms, &term));
        }
        if let Some(values) = self.user_attrs.get(i) {
            let attrs = p.user_attrs.iter().zip(values.iter());
            let attrs = attrs.map(|(def, v)| (def.name.clone(), self.attr_value(p, def.ty, v)));
            m.insert("attrs".into(), Value::Object(attrs.collect()));
        }
        m
    }

    /// The record of the resource at `i`.
    pub(crate) fn resource_record(&self, p: &Ir, i: usize) -> Map<String, Value> {
        let r = &self.resources[i];
        let kdef = &p.kinds[r.kind.idx()];
        let mut m = Map::new();
        m.insert("id".into(), self.resource_id(i as u32).into());
        m.insert("kind".into(), kdef.name.clone().into());
        if let Some(parent) = r.parent {
            m.insert("parent".into(), self.resource_id(parent).into());
        }
        if kdef.is_case {
            let ct = &p.casetypes[r.casetype as usize];
            m.insert("type".into(), ct.name.clone().into());
            if ct.workflow {
                m.insert(
                    "state".into(),
                    ct.states[r.state as usize].name.clone().into(),
                );
            }
        }
        if !kdef.attrs.is_empty() {
            let attrs = kdef.attrs.iter().zip(r.attrs.iter());
            let attrs = attrs.map(|(def, v)| (def.name.clone(), self.attr_value(p, def.ty, v)));
            m.insert("attrs".into(), Value::Object(attrs.collect()));
        }
        // Each relation of the kind: its users under `relations`, its groups under
        // `relation_groups`.
        let (mut rels, mut rel_groups) = (Map::new(), Map::new());
        for (local, list) in r.relations.iter().enumerate() {
            let Some(rel) = kdef.relations.get(local) else {
                continue;
            };
            let name = &p.relations[rel.idx()].name;
            let users = super::member_users(list);
            if !users.is_empty() {
                let ids = users.iter().map(|&u| Value::from(self.user_id(u)));
                rels.insert(name.clone(), Value::Array(ids.collect()));
            }
            let groups: Vec<Value> = super::member_groups(list)
                .map(|g| Value::from(p.groups[g as usize].name.clone()))
                .collect();
            if !groups.is_empty() {
                rel_groups.insert(name.clone(), Value::Array(groups));
            }
        }
        if !rels.is_empty() {
            m.insert("relations".into(), Value::Object(rels));
        }
        if !rel_groups.is_empty() {
            m.insert("relation_groups".into(), Value::Object(rel_groups));
        }
        for (key, levels) in [("read", &r.own_read), ("write", &r.own_write)] {
            if let Some(text) = self.code_text(levels) {
                m.insert(key.into(), text.into());
            }
        }
        if kdef.inherit_read && !r.inherit_read {
            m.insert("inherit_read".into(), false.into());
        }
        if kdef.inherit_write && !r.inherit_write {
            m.insert("inherit_write".into(), false.into());
        }
        m
    }

    /// An own access code as text, `None` when it is one empty level (the same as no field).
    /// The codes of a level are written in the order of their text, as the strings of a set
    /// are: the numbers they are stored under depend on the order they were first read in.
    fn code_text(&self, levels: &[Level]) -> Option<String> {
        if levels.len() == 1 && levels[0].is_empty() {
            return None;
        }
        let levels: Vec<Vec<&str>> = levels
            .iter()
            .map(|l| {
                let mut codes: Vec<&str> = l.iter().map(|&c| self.symbol(c)).collect();
                codes.sort_unstable();
                codes
            })
            .collect();
        Some(access_code::display(&levels))
    }

    /// An attribute value of type `ty` as the file writes it.
    fn attr_value(&self, p: &Ir, ty: Type, v: &AttrValue) -> Value {
        match (v, ty) {
            (AttrValue::Sym(s), _) => self.symbol(*s).into(),
            (AttrValue::Int(i), _) => (*i).into(),
            (AttrValue::DateTime(t), _) => crate::datetime::format(*t).into(),
            (AttrValue::Bool(b), _) => (*b).into(),
            (AttrValue::Set(items), _) => {
                let mut items: Vec<&str> = items.iter().map(|&s| self.symbol(s)).collect();
                items.sort_unstable();
                items.into()
            }
            (AttrValue::User(u), _) => self.user_id(*u).into(),
            (AttrValue::Resource(x), _) => self.resource_id(*x).into(),
            (AttrValue::Variant(v), Type::Enum(e)) => p.enums[e.idx()]
                .variants
                .get(*v as usize)
                .map_or(Value::Null, |name| name.clone().into()),
            // INVARIANT: loading stores a variant only for an attribute of an enum type.
            (AttrValue::Variant(_), _) => Value::Null,
        }
    }
}

//! The policy's names in hash maps, built once per load, so that reading an entity looks up
//! each name it holds in constant time rather than scanning the policy's lists: loading stays
//! linear in the file whatever the size of the policy. Both loading paths use it.

use crate::ir::{KindId, Policy as Ir};
use std::collections::HashMap;

/// Names to positions in the policy's lists. Where the policy declares a name twice (the
/// checker rejects that), the first declaration wins, as a scan would find it.
pub(crate) struct PolicyIndex<'p> {
    pub(crate) groups: HashMap<&'p str, u32>,
    pub(crate) roles: HashMap<&'p str, u32>,
    pub(crate) kinds: HashMap<&'p str, KindId>,
    pub(crate) casetypes: HashMap<&'p str, u32>,
    /// For each case type, its states.
    pub(crate) states: Vec<HashMap<&'p str, u32>>,
    pub(crate) relations: HashMap<&'p str, u32>,
    pub(crate) user_attrs: HashMap<&'p str, u32>,
    /// For each kind, its attributes.
    pub(crate) kind_attrs: Vec<HashMap<&'p str, u32>>,
    /// For each enum, its variants.
    pub(crate) variants: Vec<HashMap<&'p str, u32>>,
}

/// `names` to their positions, the first of each name winning.
fn index<'p>(names: impl Iterator<Item = &'p str>) -> HashMap<&'p str, u32> {
    let mut out = HashMap::new();
    for (i, n) in names.enumerate() {
        out.entry(n).or_insert(i as u32);
    }
    out
}

impl<'p> PolicyIndex<'p> {
    pub(crate) fn new(p: &'p Ir) -> PolicyIndex<'p> {
        PolicyIndex {
            groups: index(p.groups.iter().map(|g| g.name.as_str())),
            roles: index(p.roles.iter().map(|r| r.name.as_str())),
            kinds: index(p.kinds.iter().map(|k| k.name.as_str()))
                .into_iter()
                .map(|(n, i)| (n, KindId(i)))
                .collect(),
            casetypes: index(p.casetypes.iter().map(|c| c.name.as_str())),
            states: p
                .casetypes
                .iter()
                // A case type without a workflow has no state an entity can name.
                .map(|c| {
                    index(
                        c.states
                            .iter()
                            .filter(|_| c.workflow)
                            .map(|s| s.name.as_str()),
                    )
                })
                .collect(),
            relations: index(p.relations.iter().map(|r| r.name.as_str())),
            user_attrs: index(p.user_attrs.iter().map(|a| a.name.as_str())),
            kind_attrs: p
                .kinds
                .iter()
                .map(|k| index(k.attrs.iter().map(|a| a.name.as_str())))
                .collect(),
            variants: p
                .enums
                .iter()
                .map(|e| index(e.variants.iter().map(String::as_str)))
                .collect(),
        }
    }
}

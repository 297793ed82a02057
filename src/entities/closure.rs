//! What loading computes over the hierarchies, once, so that deciding does not: group and unit
//! closures, cycles and depths of units, each resource's anchor case, and the chains that
//! effective access codes are read through ([`EffectiveCode`]).
//!
//! Effective codes are not stored: a resource keeps its own levels, and its effective code is
//! read in place, its own levels and then those of each ancestor it inherits from, so memory
//! grows with the levels written, not with levels × descendants (docs/semantics.md step 2.7).

use super::model::{CodeClass, Entities, Level, Resource, Unit, NONE};
use super::pvec::PVec;
use super::store::{Builder, Ranges};
use crate::ir::Policy as Ir;
use crate::limits;

/// Fills `out` with `direct` and every ancestor group of theirs, sorted, without repeats. The
/// checker rejects group cycles and chains over [`limits::MAX_GROUP_DEPTH`], so each walk is
/// short; the walks are not cut short where they meet, since checking that costs more than a
/// sort when a user lists many groups.
pub(crate) fn close_groups(p: &Ir, direct: &[u32], out: &mut Vec<u32>) {
    out.clear();
    for &g in direct {
        let mut cur = Some(g);
        let mut steps = 0;
        while let (Some(c), true) = (cur, steps <= limits::MAX_GROUP_DEPTH) {
            out.push(c);
            cur = p.groups[c as usize].parent.map(|x| x.0);
            steps += 1;
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// Unit `start` and its ancestors. A chain is at most [`limits::MAX_UNIT_DEPTH`] long unless
/// the units form a cycle, which is an error already; the walk stops there either way.
pub(crate) fn unit_ancestors(units: &[Unit], start: u32) -> impl Iterator<Item = u32> + '_ {
    std::iter::successors(Some(start), |&c| units[c as usize].parent)
        .take(limits::MAX_UNIT_DEPTH + 1)
}

/// Each cycle of unit parents once, as the positions of its units, starting at the one that
/// comes first in the file and following parents from there; cycles in the order the walk
/// meets them. Units that only lead into a cycle are in none.
pub(super) fn unit_cycles(units: &[Unit]) -> Vec<Vec<usize>> {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; units.len()];
    let mut path: Vec<usize> = Vec::new();
    let mut cycles = Vec::new();
    for start in 0..units.len() {
        let mut cur = Some(start);
        while let Some(c) = cur {
            match state[c] {
                NEW => {
                    state[c] = ON_PATH;
                    path.push(c);
                    cur = units[c].parent.map(|x| x as usize);
                }
                ON_PATH => {
                    let from = path.iter().position(|&x| x == c).unwrap_or(0);
                    let cycle = &path[from..];
                    let first = cycle
                        .iter()
                        .position(|&x| x == *cycle.iter().min().unwrap_or(&0))
                        .unwrap_or(0);
                    cycles.push(
                        cycle[first..]
                            .iter()
                            .chain(&cycle[..first])
                            .copied()
                            .collect(),
                    );
                    break;
                }
                _ => break,
            }
        }
        for x in path.drain(..) {
            state[x] = DONE;
        }
    }
    cycles
}

/// The first unit, in file order, whose chain of parents holds more than
/// [`limits::MAX_UNIT_DEPTH`] units. Walks are bounded by the limit, so a chain that loops
/// counts as too long and this ends on any input.
pub(super) fn unit_too_deep(units: &[Unit]) -> Option<usize> {
    // depth[i]: units on the chain from i to its root, i included; 0 while unknown.
    let mut depth = vec![0usize; units.len()];
    let mut chain = Vec::new();
    for start in 0..units.len() {
        let mut cur = Some(start);
        while let Some(c) = cur {
            if depth[c] != 0 {
                break;
            }
            if chain.len() > limits::MAX_UNIT_DEPTH {
                return Some(start);
            }
            chain.push(c);
            cur = units[c].parent.map(|x| x as usize);
        }
        let mut d = cur.map_or(0, |c| depth[c]);
        for &c in chain.iter().rev() {
            d += 1;
            depth[c] = d;
        }
        chain.clear();
        if depth[start] > limits::MAX_UNIT_DEPTH {
            return Some(start);
        }
    }
    None
}

/// Sets each resource's anchor case and its lists from the shared arenas. Parent kinds form no
/// cycle and a parent has the parent kind (both checked before), so every chain of parents ends.
pub(super) fn finish_resources(
    p: &Ir,
    resources: &mut [Resource],
    ranges: &[Ranges],
    builder: Builder,
) {
    let mut anchors = Vec::with_capacity(resources.len());
    for i in 0..resources.len() as u32 {
        let mut anchor = None;
        let mut cur = Some(i);
        while let Some(c) = cur {
            let r = &resources[c as usize];
            if p.kinds[r.kind.idx()].is_case {
                anchor = Some(c);
                break;
            }
            cur = r.parent;
        }
        anchors.push(anchor);
    }
    // Which own codes are all empty levels, then for each resource the nearest resource above
    // it, on its inherited chain, with an own level that is not empty. Each walk is at most
    // `MAX_KIND_DEPTH` long.
    for (r, range) in resources.iter_mut().zip(ranges) {
        r.read_trivial = builder.all_empty(range.own_read);
        r.write_trivial = builder.all_empty(range.own_write);
    }
    for i in 0..resources.len() {
        let rest = |read: bool| {
            let next = |x: &Resource| match read {
                true => x.parent.filter(|_| x.inherit_read),
                false => x.parent.filter(|_| x.inherit_write),
            };
            let mut cur = next(&resources[i]);
            while let Some(c) = cur {
                let x = &resources[c as usize];
                if !(if read {
                    x.read_trivial
                } else {
                    x.write_trivial
                }) {
                    return c;
                }
                cur = next(x);
            }
            NONE
        };
        let (read_rest, write_rest) = (rest(true), rest(false));
        resources[i].read_rest = read_rest;
        resources[i].write_rest = write_rest;
    }
    let arenas = builder.finish();
    for ((r, range), anchor) in resources.iter_mut().zip(ranges).zip(anchors) {
        r.anchor = anchor;
        r.relations = arenas.relations(range.relations);
        r.own_read = arenas.levels(range.own_read);
        r.own_write = arenas.levels(range.own_write);
    }
}

/// An effective access code: every level must be met (AND), and a level is met by holding any
/// of its codes (OR). It is a view, not a copy: the levels are the resource's own, then those of
/// each ancestor it inherits from, read where they are stored, so that a code shared by many
/// descendants is kept once (docs/semantics.md step 2.7).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct EffectiveCode<'a> {
    resources: &'a PVec<Resource>,
    at: u32,
    /// The resource at `at`, already looked up.
    first: &'a Resource,
    /// The anchor case, when the caller holds it already: its position and record.
    anchor: Option<(u32, &'a Resource)>,
    class: CodeClass,
}

impl<'a> EffectiveCode<'a> {
    /// Whether a user with this code set (sorted) meets the code: every level empty or holding
    /// one of the codes. Only the resources with a level that is not empty are visited, through
    /// the chain that loading links; nothing is copied or allocated.
    #[inline(always)]
    pub fn is_met_by(&self, codes: &[u32]) -> bool {
        match self.class {
            CodeClass::Read => self.met::<true>(codes),
            CodeClass::Write => self.met::<false>(codes),
        }
    }

    /// [`EffectiveCode::is_met_by`] for one class, so that the walk does not ask which.
    #[inline(always)]
    fn met<const READ: bool>(&self, codes: &[u32]) -> bool {
        let parts = |r: &'a Resource| match READ {
            true => (&r.own_read, r.read_trivial, r.read_rest),
            false => (&r.own_write, r.write_trivial, r.write_rest),
        };
        // The resources of the chain that the caller holds are not looked up again.
        let at = |i: u32| match self.anchor {
            Some((a, anchor)) if a == i => anchor,
            _ => &self.resources[i as usize],
        };
        let mut r = self.first;
        let (_, trivial, rest) = parts(r);
        if trivial {
            if rest == NONE {
                return true;
            }
            r = at(rest);
        }
        loop {
            let (own, _, rest) = parts(r);
            let holds =
                |l: &Level| l.is_empty() || l.iter().any(|c| codes.binary_search(c).is_ok());
            if !own.iter().all(holds) {
                return false;
            }
            if rest == NONE {
                return true;
            }
            r = at(rest);
        }
    }

    /// The resource `at` and whether its code goes on with its parent's.
    #[inline(always)]
    fn step(&self, at: u32) -> (&'a [Level], Option<u32>) {
        let r = &self.resources[at as usize];
        match self.class {
            CodeClass::Read => (&r.own_read, r.parent.filter(|_| r.inherit_read)),
            CodeClass::Write => (&r.own_write, r.parent.filter(|_| r.inherit_write)),
        }
    }

    /// The levels, own first. The chain is at most [`limits::MAX_KIND_DEPTH`] resources long:
    /// a parent has the parent kind.
    pub fn iter(&self) -> impl Iterator<Item = &'a Level> + 'a {
        self.origins().map(|(level, _)| level)
    }

    /// The levels, own first, each with the position of the resource it belongs to.
    pub fn origins(&self) -> impl Iterator<Item = (&'a Level, u32)> + 'a {
        let code = *self;
        std::iter::successors(Some(self.at), move |&a| code.step(a).1)
            .flat_map(move |a| code.step(a).0.iter().map(move |l| (l, a)))
    }
}

impl std::fmt::Debug for EffectiveCode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Entities {
    /// The effective read code of the resource at `i` in [`Entities::resources`].
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::resources`].
    #[doc(hidden)]
    pub fn read_code(&self, i: u32) -> EffectiveCode<'_> {
        self.code(i, CodeClass::Read)
    }

    /// The effective write code of the resource at `i` in [`Entities::resources`].
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::resources`].
    #[doc(hidden)]
    pub fn write_code(&self, i: u32) -> EffectiveCode<'_> {
        self.code(i, CodeClass::Write)
    }

    /// The effective code of one class of the resource at `i`.
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::resources`].
    #[doc(hidden)]
    #[inline]
    pub fn code(&self, i: u32, class: CodeClass) -> EffectiveCode<'_> {
        EffectiveCode {
            resources: &self.resources,
            at: i,
            first: &self.resources[i as usize],
            anchor: None,
            class,
        }
    }

    /// The effective code of one class of `first`, the resource at `i`, whose anchor case the
    /// caller holds already (`anchor`, the record at `first.anchor`): the decision path, which
    /// has looked both up, reads the code without looking them up again.
    #[inline(always)]
    pub(crate) fn code_of<'a>(
        &'a self,
        i: u32,
        first: &'a Resource,
        anchor: Option<&'a Resource>,
        class: CodeClass,
    ) -> EffectiveCode<'a> {
        EffectiveCode {
            resources: &self.resources,
            at: i,
            first,
            anchor: first.anchor.zip(anchor),
            class,
        }
    }
}

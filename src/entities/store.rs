//! Compact storage for loaded entities: slices of shared arenas instead of one allocation per
//! list, and id indexes that hold a `u32` per slot instead of a `String` per entry.
//!
//! A million cases each with a handful of small lists would otherwise cost a million times a
//! handful of allocations, each rounded up by the allocator and kept resident after loading.

use std::hash::BuildHasher;
use std::sync::Arc;

/// A slice of a shared arena, read as a `[T]`. Cloning shares the arena; an empty slice needs
/// no arena. Two values are equal when their slices are.
pub struct Shared<T> {
    arena: Option<Arc<Vec<T>>>,
    start: u32,
    len: u32,
}

impl<T> Shared<T> {
    /// `arena[start..start + len]`.
    pub(crate) fn new(arena: &Arc<Vec<T>>, start: u32, len: u32) -> Shared<T> {
        debug_assert!((start as usize + len as usize) <= arena.len());
        if len == 0 {
            return Shared::default();
        }
        Shared {
            arena: Some(Arc::clone(arena)),
            start,
            len,
        }
    }
}

impl<T> From<Vec<T>> for Shared<T> {
    /// A slice that is a whole arena of its own.
    fn from(v: Vec<T>) -> Shared<T> {
        let len = v.len() as u32;
        Shared::new(&Arc::new(v), 0, len)
    }
}

impl<T> Default for Shared<T> {
    fn default() -> Shared<T> {
        Shared {
            arena: None,
            start: 0,
            len: 0,
        }
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Shared<T> {
        Shared {
            arena: self.arena.clone(),
            start: self.start,
            len: self.len,
        }
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match &self.arena {
            // INVARIANT: `new` checked the range against the arena, which never changes.
            Some(a) => &a[self.start as usize..(self.start + self.len) as usize],
            None => &[],
        }
    }
}

impl<'a, T> IntoIterator for &'a Shared<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, o: &Shared<T>) -> bool {
        **self == **o
    }
}

impl<T: Eq> Eq for Shared<T> {}

/// The lists of all resources while they load: access-code levels and relation members, kept
/// as ranges into a few growing arenas until [`Builder::finish`] shares them.
#[derive(Default)]
pub(crate) struct Builder {
    codes: Vec<u32>,
    /// Each level: its range in `codes`.
    levels: Vec<(u32, u32)>,
    members: Vec<u32>,
    /// Each relation of each case: its range in `members`.
    relations: Vec<(u32, u32)>,
}

/// Where one resource's lists are in a [`Builder`]: ranges of levels and of relations.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ranges {
    pub(crate) relations: (u32, u32),
    pub(crate) own_read: (u32, u32),
    pub(crate) own_write: (u32, u32),
}

/// The shared arenas of a finished [`Builder`], from which resources take their slices.
pub(crate) struct Arenas {
    levels: Arc<Vec<Shared<u32>>>,
    relations: Arc<Vec<Shared<u32>>>,
}

impl Builder {
    /// Adds one level (its codes sorted and without duplicates) to the levels from `start`.
    pub(crate) fn level(&mut self, codes: &mut Vec<u32>) {
        codes.sort_unstable();
        codes.dedup();
        let start = self.codes.len() as u32;
        self.codes.extend_from_slice(codes);
        self.levels.push((start, codes.len() as u32));
    }

    /// Whether every level in the range is empty (no codes: met by anyone).
    pub(crate) fn all_empty(&self, (start, len): (u32, u32)) -> bool {
        self.levels[start as usize..(start + len) as usize]
            .iter()
            .all(|&(_, n)| n == 0)
    }

    /// Where the next level added will be.
    pub(crate) fn next_level(&self) -> u32 {
        self.levels.len() as u32
    }

    /// Whether some relation list holds a group ([`super::GROUP_MEMBER`]).
    pub(crate) fn has_group_members(&self) -> bool {
        self.members
            .iter()
            .any(|&m| m & super::model::GROUP_MEMBER != 0)
    }

    /// Adds the relations of one case, each a sorted list of user positions; returns their range.
    pub(crate) fn relations<'a>(&mut self, lists: impl Iterator<Item = &'a [u32]>) -> (u32, u32) {
        let start = self.relations.len() as u32;
        for l in lists {
            let at = self.members.len() as u32;
            self.members.extend_from_slice(l);
            self.relations.push((at, l.len() as u32));
        }
        (start, self.relations.len() as u32 - start)
    }

    /// Shares the arenas.
    pub(crate) fn finish(self) -> Arenas {
        let codes = Arc::new(self.codes);
        let members = Arc::new(self.members);
        let levels = self
            .levels
            .iter()
            .map(|&(s, len)| Shared::new(&codes, s, len))
            .collect();
        let relations = self
            .relations
            .iter()
            .map(|&(s, len)| Shared::new(&members, s, len))
            .collect();
        Arenas {
            levels: Arc::new(levels),
            relations: Arc::new(relations),
        }
    }
}

impl Arenas {
    pub(crate) fn levels(&self, (start, len): (u32, u32)) -> Shared<Shared<u32>> {
        Shared::new(&self.levels, start, len)
    }

    pub(crate) fn relations(&self, (start, len): (u32, u32)) -> Shared<Shared<u32>> {
        Shared::new(&self.relations, start, len)
    }
}

/// No slot: the index holds `u32::MAX` where no id is.
const EMPTY: u32 = u32::MAX;

/// Ids (of units, users or resources) to their position in their list. The ids are kept once,
/// in one string; the table holds positions, at most half full.
pub struct IdIndex {
    hasher: std::collections::hash_map::RandomState,
    text: String,
    /// Where each id ends in `text`; id `i` starts where id `i - 1` ends.
    ends: Vec<u32>,
    slots: Vec<u32>,
}

impl IdIndex {
    /// An index of `ids`, each at its position. An id that appears again is kept at its new
    /// position too, and found there (the last wins, as in a map); `repeated` is called with
    /// each such position, in order. `None` when the ids are too many or too long for 32-bit
    /// positions.
    pub(crate) fn with_repeats<'a>(
        ids: impl ExactSizeIterator<Item = &'a str> + Clone,
        mut repeated: impl FnMut(u32),
    ) -> Option<IdIndex> {
        let n = ids.len();
        let bytes: usize = ids.clone().map(str::len).sum();
        if n >= EMPTY as usize / 2 || bytes > u32::MAX as usize {
            return None;
        }
        let size = (n * 2).next_power_of_two().max(8);
        let mut index = IdIndex {
            hasher: Default::default(),
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(n),
            slots: vec![EMPTY; size],
        };
        for id in ids {
            let at = index.ends.len() as u32;
            if !index.insert(id) {
                repeated(at);
            }
        }
        Some(index)
    }

    /// How many ids the index holds, repeats included.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn id(&self, i: u32) -> &str {
        let end = self.ends[i as usize] as usize;
        let start = match i {
            0 => 0,
            _ => self.ends[i as usize - 1] as usize,
        };
        &self.text[start..end]
    }

    /// The slot where `id` is, or the empty slot where it would go.
    fn slot(&self, id: &str) -> usize {
        let mask = self.slots.len() - 1;
        let mut s = self.hasher.hash_one(id) as usize & mask;
        loop {
            let v = self.slots[s];
            if v == EMPTY || self.id(v) == id {
                return s;
            }
            s = (s + 1) & mask;
        }
    }

    /// Adds `id` at the next position, where it is found from now on; false if it was there
    /// already.
    fn insert(&mut self, id: &str) -> bool {
        let s = self.slot(id);
        let new = self.slots[s] == EMPTY;
        self.text.push_str(id);
        self.slots[s] = self.ends.len() as u32;
        self.ends.push(self.text.len() as u32);
        new
    }

    /// The position of `id`.
    #[inline]
    pub fn get(&self, id: &str) -> Option<&u32> {
        let s = self.slot(id);
        match self.slots[s] {
            EMPTY => None,
            _ => Some(&self.slots[s]),
        }
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// The ids, in order of position (an id that repeats, at each of its positions).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len() as u32).map(|i| self.id(i))
    }
}

/// An id index that changes: the ids loaded, shared between versions, and what `live` changed
/// since, in persistent structures that a copy shares until it changes one. An id is looked up
/// in the loaded index first, so the ids of the file cost what they cost before until one of
/// them is removed or moves.
#[derive(Clone)]
pub struct Ids {
    base: Arc<IdIndex>,
    /// How many positions there are.
    len: usize,
    /// Ids added or moved since loading, each to its position, and ids removed (`None`).
    changed: imbl::HashMap<Arc<str>, Option<u32>>,
    /// The id at each position that the loaded index no longer says: positions past its end,
    /// and loaded positions another id moved into.
    names: imbl::HashMap<u32, Arc<str>>,
    /// Whether a loaded position holds another id than the loaded index says.
    moved: bool,
}

impl From<IdIndex> for Ids {
    fn from(base: IdIndex) -> Ids {
        Ids {
            len: base.len(),
            base: Arc::new(base),
            changed: imbl::HashMap::new(),
            names: imbl::HashMap::new(),
            moved: false,
        }
    }
}

impl Ids {
    /// The id at position `i`.
    ///
    /// # Panics
    /// When `i` is not below the number of ids.
    pub(crate) fn id(&self, i: u32) -> &str {
        assert!(
            (i as usize) < self.len,
            "no id at position {i} of {}",
            self.len
        );
        if (i as usize) >= self.base.len() || self.moved {
            if let Some(name) = self.names.get(&i) {
                return name;
            }
        }
        self.base.id(i)
    }

    /// The position of `id`.
    #[inline]
    pub fn get(&self, id: &str) -> Option<&u32> {
        if self.changed.is_empty() {
            return self.base.get(id);
        }
        match self.changed.get(id) {
            Some(at) => at.as_ref(),
            None => self.base.get(id),
        }
    }

    /// Whether `id` is one of the ids.
    pub fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// The ids, in order of position.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        (0..self.len as u32).map(|i| self.id(i))
    }

    /// Adds `id` at the next position, which it returns. The caller has checked that it is new.
    pub(crate) fn push(&mut self, id: &str) -> u32 {
        let at = self.len as u32;
        let id: Arc<str> = Arc::from(id);
        self.names.insert(at, Arc::clone(&id));
        self.changed.insert(id, Some(at));
        self.moved |= (at as usize) < self.base.len();
        self.len += 1;
        at
    }

    /// Removes the id at `at`; the last id moves into its place, as `Vec::swap_remove` moves
    /// the last element.
    pub(crate) fn swap_remove(&mut self, at: u32) {
        let last = self.len as u32 - 1;
        let gone: Arc<str> = Arc::from(self.id(at));
        if at != last {
            let moved: Arc<str> = Arc::from(self.id(last));
            self.names.insert(at, Arc::clone(&moved));
            self.changed.insert(moved, Some(at));
            self.moved |= (at as usize) < self.base.len();
        }
        self.names.remove(&last);
        self.changed.insert(gone, None);
        self.len -= 1;
    }
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.keys().enumerate().map(|(i, id)| (id, i)))
            .finish()
    }
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.keys().enumerate().map(|(i, id)| (id, i)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl IdIndex {
        /// An index of `ids`, or `None` when one repeats.
        fn new<'a>(ids: impl ExactSizeIterator<Item = &'a str> + Clone) -> Option<IdIndex> {
            let mut repeated = false;
            let index = IdIndex::with_repeats(ids, |_| repeated = true)?;
            (!repeated).then_some(index)
        }
    }

    #[test]
    fn shared_slices_read_as_slices() {
        let arena = Arc::new(vec![1u32, 2, 3, 4]);
        let a = Shared::new(&arena, 1, 2);
        assert_eq!(&*a, &[2, 3]);
        assert_eq!(a, Shared::from(vec![2, 3]));
        assert!(Shared::<u32>::default().is_empty());
        assert_eq!(format!("{:?}", a.clone()), "[2, 3]");
        assert_eq!((&a).into_iter().copied().sum::<u32>(), 5);
    }

    #[test]
    fn the_index_finds_every_id_and_only_those() {
        let ids: Vec<String> = (0..5000).map(|i| format!("id-{i}")).collect();
        let index = IdIndex::new(ids.iter().map(String::as_str)).unwrap();
        assert_eq!(index.keys().count(), 5000);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), Some(&(i as u32)));
        }
        assert_eq!(index.get("id-5000"), None);
        assert!(!index.contains_key(""));
        assert!(index.keys().eq(ids.iter().map(String::as_str)));
        assert!(IdIndex::new(["a", "b", "a"].into_iter()).is_none());
        // Repeats are kept at each position and found at the last, as in a map.
        let mut repeats = Vec::new();
        let index = IdIndex::with_repeats(["a", "b", "a", "c", "b", "a"].into_iter(), |i| {
            repeats.push(i)
        })
        .unwrap();
        assert_eq!(repeats, [2, 4, 5]);
        assert_eq!(index.len(), 6);
        assert_eq!(
            (index.get("a"), index.get("b"), index.get("c")),
            (Some(&5), Some(&4), Some(&3))
        );
        assert!(index.keys().eq(["a", "b", "a", "c", "b", "a"]));
        let empty = IdIndex::new(std::iter::empty::<&str>()).unwrap();
        assert!(empty.keys().next().is_none() && empty.get("x").is_none());
    }
}

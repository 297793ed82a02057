//! A fixed 256-bit set: role sets, relation sets and permission sets on the decision path.
//!
//! Fixed width keeps every set `Copy` and on the stack, so deciding never allocates. The checker
//! limits roles plus relations, actions and permissions to 256 each (`src/limits.rs`), so every
//! index is below [`Bits::WIDTH`].

#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bits([u64; 4]);

impl Bits {
    pub const EMPTY: Bits = Bits([0; 4]);
    /// Every index, `0..WIDTH`.
    pub const FULL: Bits = Bits([u64::MAX; 4]);
    /// How many indices a set can hold.
    pub const WIDTH: usize = 256;

    // INVARIANT: `i < WIDTH`. The checker's limits make a larger index impossible; it is never
    // folded onto a smaller one (that would make one role, action or permission stand for
    // another), and past the width the slice index panics even in release builds.
    #[inline]
    pub fn set(&mut self, i: usize) {
        debug_assert!(i < Self::WIDTH, "bit {i} is past the width of a set");
        self.0[i >> 6] |= 1 << (i & 63);
    }

    /// Takes `i` out of the set (same invariant as [`Bits::set`]).
    #[inline]
    pub fn clear(&mut self, i: usize) {
        debug_assert!(i < Self::WIDTH, "bit {i} is past the width of a set");
        self.0[i >> 6] &= !(1 << (i & 63));
    }

    #[inline]
    pub fn get(&self, i: usize) -> bool {
        debug_assert!(i < Self::WIDTH, "bit {i} is past the width of a set");
        self.0[i >> 6] & (1 << (i & 63)) != 0
    }

    #[inline]
    pub fn union(self, o: Bits) -> Bits {
        Bits([
            self.0[0] | o.0[0],
            self.0[1] | o.0[1],
            self.0[2] | o.0[2],
            self.0[3] | o.0[3],
        ])
    }

    #[inline]
    pub fn intersects(&self, o: &Bits) -> bool {
        (self.0[0] & o.0[0]) | (self.0[1] & o.0[1]) | (self.0[2] & o.0[2]) | (self.0[3] & o.0[3])
            != 0
    }

    #[inline]
    pub fn intersect(self, o: Bits) -> Bits {
        Bits([
            self.0[0] & o.0[0],
            self.0[1] & o.0[1],
            self.0[2] & o.0[2],
            self.0[3] & o.0[3],
        ])
    }

    /// Every index of `self` is in `o`.
    #[inline]
    pub fn is_subset(&self, o: &Bits) -> bool {
        (self.0[0] & !o.0[0])
            | (self.0[1] & !o.0[1])
            | (self.0[2] & !o.0[2])
            | (self.0[3] & !o.0[3])
            == 0
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        (self.0[0] | self.0[1] | self.0[2] | self.0[3]) == 0
    }

    /// How many indices the set holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The indices in increasing order, visiting only the words that hold some.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    w * 64 + bit
                })
            })
        })
    }

    pub fn from_indices(it: impl IntoIterator<Item = usize>) -> Bits {
        let mut b = Bits::EMPTY;
        for i in it {
            b.set(i);
        }
        b
    }
}

impl std::fmt::Debug for Bits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn every_index_is_its_own() {
        let all: Vec<usize> = (0..Bits::WIDTH).collect();
        let b = Bits::from_indices(all.iter().copied());
        assert_eq!(b, Bits::FULL);
        assert_eq!(b.iter().collect::<Vec<_>>(), all);
        for i in 0..Bits::WIDTH {
            let one = Bits::from_indices([i]);
            assert_eq!(one.iter().collect::<Vec<_>>(), vec![i]);
            assert_eq!(one.len(), 1);
            assert!(one.is_subset(&b) && !b.is_subset(&one));
            // No other index aliases this one.
            assert!((0..Bits::WIDTH).all(|j| one.get(j) == (i == j)));
        }
    }

    /// Index 256 used to fold onto index 0. It is now a panic, in release builds too, and the
    /// checker keeps every count at or below the width, so no policy reaches it.
    #[test]
    #[should_panic]
    fn an_index_past_the_width_is_never_folded() {
        let mut b = Bits::EMPTY;
        b.set(Bits::WIDTH);
    }
}

//! A fixed 256-bit set: role sets, relation sets and permission sets on the decision path.
//!
//! Fixed width keeps every set `Copy` and on the stack, so deciding never allocates. The checker
//! limits roles plus relations to 256.

#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bits([u64; 4]);

impl Bits {
    pub const EMPTY: Bits = Bits([0; 4]);

    #[inline]
    pub fn set(&mut self, i: usize) {
        self.0[(i >> 6) & 3] |= 1 << (i & 63);
    }

    #[inline]
    pub fn get(&self, i: usize) -> bool {
        self.0[(i >> 6) & 3] & (1 << (i & 63)) != 0
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
    pub fn is_empty(&self) -> bool {
        (self.0[0] | self.0[1] | self.0[2] | self.0[3]) == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..256).filter(move |i| self.get(*i))
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

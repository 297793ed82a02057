//! A persistent vector: a radix tree of 64-way nodes whose clone is one reference count and
//! whose `set` copies only the path to the changed element (at most one leaf of 64 elements
//! and one node of 64 children per level), so that two versions of a million resources that
//! differ in one share everything else.
//!
//! Reading position `i` descends the tree by the bits of `i`: a tree of a million elements is
//! four levels, whose upper three are a few kilobytes of pointers that stay in cache; the
//! elements themselves lie in leaves as in a `Vec`, 64 at a time. Measured against `imbl`'s
//! RRB vector before choosing (docs/performance.md, "Live entities"): the general-purpose
//! vector costs several times more per read, which a decision reads several times.

use std::sync::Arc;

/// Bits of the position consumed per level.
const BITS: u32 = 6;
/// Elements in a leaf, children in a branch.
const WIDTH: usize = 1 << BITS;
const MASK: usize = WIDTH - 1;

enum Node<T> {
    Leaf(Arc<[T]>),
    Branch(Arc<[Node<T>]>),
}

impl<T> Clone for Node<T> {
    fn clone(&self) -> Node<T> {
        match self {
            Node::Leaf(l) => Node::Leaf(Arc::clone(l)),
            Node::Branch(b) => Node::Branch(Arc::clone(b)),
        }
    }
}

/// A vector with cheap clones and path-copying updates; see the module documentation.
pub struct PVec<T> {
    root: Node<T>,
    len: usize,
    /// The shift of the root's level: 0 when the root is a leaf.
    shift: u32,
}

impl<T> Clone for PVec<T> {
    fn clone(&self) -> PVec<T> {
        PVec {
            root: self.root.clone(),
            len: self.len,
            shift: self.shift,
        }
    }
}

impl<T> Default for PVec<T> {
    fn default() -> PVec<T> {
        PVec {
            root: Node::Leaf(Arc::from(Vec::new())),
            len: 0,
            shift: 0,
        }
    }
}

impl<T> From<Vec<T>> for PVec<T> {
    /// The elements of `v`, in order, packed into full leaves. Linear in `v`.
    fn from(v: Vec<T>) -> PVec<T> {
        let len = v.len();
        if len <= WIDTH {
            return PVec {
                root: Node::Leaf(Arc::from(v)),
                len,
                shift: 0,
            };
        }
        let mut level: Vec<Node<T>> = Vec::with_capacity(len.div_ceil(WIDTH));
        let mut items = v.into_iter();
        loop {
            let leaf: Vec<T> = items.by_ref().take(WIDTH).collect();
            if leaf.is_empty() {
                break;
            }
            level.push(Node::Leaf(Arc::from(leaf)));
        }
        let mut shift = 0;
        while level.len() > 1 {
            shift += BITS;
            let mut up = Vec::with_capacity(level.len().div_ceil(WIDTH));
            let mut nodes = level.into_iter();
            loop {
                let branch: Vec<Node<T>> = nodes.by_ref().take(WIDTH).collect();
                if branch.is_empty() {
                    break;
                }
                up.push(Node::Branch(Arc::from(branch)));
            }
            level = up;
        }
        let root = level
            .pop()
            .unwrap_or_else(|| Node::Leaf(Arc::from(Vec::new())));
        PVec { root, len, shift }
    }
}

impl<T> PVec<T> {
    /// The number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at `i`, if `i` is below the length.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        let mut node = &self.root;
        let mut shift = self.shift;
        loop {
            match node {
                Node::Branch(b) => {
                    node = b.get((i >> shift) & MASK)?;
                    shift = shift.saturating_sub(BITS);
                }
                Node::Leaf(l) => return l.get(i & MASK),
            }
        }
    }

    /// The elements in order, a leaf at a time.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            stack: vec![std::slice::from_ref(&self.root).iter()],
            leaf: [].iter(),
            left: self.len,
        }
    }
}

impl<T: Clone> PVec<T> {
    /// The element at `i`, to change in place: the leaf holding it, and each node above, is
    /// copied first when another version shares it. `None` when `i` is not below the length.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let mut node = &mut self.root;
        let mut shift = self.shift;
        loop {
            match node {
                Node::Branch(b) => {
                    node = Arc::make_mut(b).get_mut((i >> shift) & MASK)?;
                    shift = shift.saturating_sub(BITS);
                }
                Node::Leaf(l) => return Arc::make_mut(l).get_mut(i & MASK),
            }
        }
    }

    /// Adds `value` at the end.
    pub fn push(&mut self, value: T) {
        let i = self.len;
        // A full tree grows a level: the old root becomes the first child of a new one.
        let capacity = WIDTH << self.shift;
        if i == capacity {
            let old = std::mem::replace(&mut self.root, Node::Leaf(Arc::from(Vec::new())));
            self.root = Node::Branch(Arc::from(vec![old]));
            self.shift += BITS;
        }
        let mut node = &mut self.root;
        let mut shift = self.shift;
        loop {
            match node {
                Node::Branch(b) => {
                    let at = (i >> shift) & MASK;
                    if at == b.len() {
                        // A new path down to a new leaf.
                        let mut fresh = Node::Leaf(Arc::from(Vec::with_capacity(WIDTH)));
                        let mut s = BITS;
                        while s < shift {
                            fresh = Node::Branch(Arc::from(vec![fresh]));
                            s += BITS;
                        }
                        let mut v: Vec<Node<T>> = b.to_vec();
                        v.push(fresh);
                        *b = Arc::from(v);
                    }
                    // INVARIANT: a branch has a child at every position up to the one that
                    // holds the last element, and `at` is that one or the one just added.
                    node = &mut Arc::make_mut(b)[at];
                    shift = shift.saturating_sub(BITS);
                }
                Node::Leaf(l) => {
                    let mut v: Vec<T> = l.to_vec();
                    v.push(value);
                    *l = Arc::from(v);
                    self.len += 1;
                    return;
                }
            }
        }
    }
}

impl<T: Clone> PVec<T> {
    /// Removes the last element, if there is one.
    pub fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        Self::pop_at(&mut self.root, self.len - 1, self.shift);
        self.len -= 1;
    }

    /// Removes element `i`, the last, from the tree under `node` at level `shift`, and every
    /// node left empty.
    fn pop_at(node: &mut Node<T>, i: usize, shift: u32) {
        match node {
            Node::Leaf(l) => {
                let mut v = l.to_vec();
                v.pop();
                *l = Arc::from(v);
            }
            Node::Branch(b) => {
                let at = (i >> shift) & MASK;
                if let Some(child) = Arc::make_mut(b).get_mut(at) {
                    Self::pop_at(child, i, shift.saturating_sub(BITS));
                }
                // The child held only the last element: it is empty now.
                if i & ((1 << shift) - 1) == 0 {
                    let mut v = b.to_vec();
                    v.truncate(at);
                    *b = Arc::from(v);
                }
            }
        }
    }
}

impl<T> std::ops::Index<usize> for PVec<T> {
    type Output = T;

    /// # Panics
    /// When `i` is not below the length, as a slice would.
    #[inline(always)]
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(x) => x,
            None => panic!("index {i} out of range for a vector of length {}", self.len),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for PVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The elements of a [`PVec`], in order.
pub struct Iter<'a, T> {
    /// The branches being walked, each at its next child.
    stack: Vec<std::slice::Iter<'a, Node<T>>>,
    leaf: std::slice::Iter<'a, T>,
    left: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        loop {
            if let Some(x) = self.leaf.next() {
                self.left -= 1;
                return Some(x);
            }
            let top = self.stack.last_mut()?;
            match top.next() {
                None => {
                    self.stack.pop();
                }
                Some(Node::Leaf(l)) => self.leaf = l.iter(),
                Some(Node::Branch(b)) => self.stack.push(b.iter()),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<'a, T> IntoIterator for &'a PVec<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> FromIterator<T> for PVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> PVec<T> {
        PVec::from(iter.into_iter().collect::<Vec<T>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_pushes_like_a_vec() {
        for n in [0usize, 1, 63, 64, 65, 4095, 4096, 4097, 70_000] {
            let v: Vec<u32> = (0..n as u32).collect();
            let p = PVec::from(v.clone());
            assert_eq!(p.len(), n);
            assert!(p.iter().copied().eq(v.iter().copied()), "n = {n}");
            assert_eq!(p.iter().len(), n);
            assert_eq!(p.get(n), None);
            for i in (0..n).step_by(97) {
                assert_eq!(p[i], v[i]);
            }
            // A copy changed in places; the original is unchanged.
            let mut q = p.clone();
            for i in (0..n).step_by(1001) {
                *q.get_mut(i).unwrap() += 1;
            }
            assert!(p.iter().copied().eq(v.iter().copied()));
            for i in 0..n {
                assert_eq!(q[i], v[i] + u32::from(i % 1001 == 0), "n = {n}, i = {i}");
            }
            // Pushing past every capacity boundary, from each size.
            let mut r = p.clone();
            let mut w = v.clone();
            for k in 0..5000u32 {
                r.push(k);
                w.push(k);
            }
            assert!(r.iter().eq(w.iter()), "n = {n}");
            for (i, x) in w.iter().enumerate() {
                assert_eq!(r.get(i), Some(x));
            }
            assert!(p.iter().copied().eq(v.iter().copied()));
            // Popping down to nothing and pushing again, past every boundary.
            let mut q = r.clone();
            let mut w2 = w.clone();
            while !w2.is_empty() {
                q.pop();
                w2.pop();
                if w2.len() % 997 == 0 || w2.len() < 70 {
                    assert!(q.iter().eq(w2.iter()), "n = {n}, popped to {}", w2.len());
                    let mut again = q.clone();
                    again.push(9);
                    assert_eq!(again.get(w2.len()), Some(&9));
                    assert_eq!(again.len(), w2.len() + 1);
                }
            }
            assert!(r.iter().eq(w.iter()));
        }
    }

    #[test]
    fn pushing_from_empty_builds_every_level() {
        let mut p = PVec::default();
        for i in 0..300_000u32 {
            p.push(i);
        }
        assert_eq!(p.len(), 300_000);
        assert!(p.iter().copied().eq(0..300_000));
        assert_eq!(p[262_143], 262_143);
        assert_eq!(p[262_144], 262_144);
    }
}

//! Which of many texts contain each of many fragments, in time that does not grow with their
//! product: a suffix array of the texts (built in linear time) answers each fragment with a
//! binary search, and one sweep over it counts the texts of every fragment's matches and finds
//! the first of them.

use std::cmp::Ordering;
use std::collections::HashMap;

/// The texts (by their position in the list given) that contain one fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hits {
    /// How many texts contain the fragment.
    pub(super) count: usize,
    /// The first of them, in the order of the texts: at most as many as asked for.
    pub(super) first: Vec<usize>,
}

/// With this many fragments or fewer, each text is searched for each fragment: at most this
/// many passes over the texts, which costs less than building the suffix array and needs none
/// of its memory (about 20 bytes for each byte of text while it is built). A pass over the
/// 5.6 MB of rules of the `MAX_TOKENS` policy takes about a millisecond, building the index
/// about 0.45 s, so they cost the same at about a thousand fragments.
pub(super) const SCAN_FRAGMENTS: usize = 512;

/// For each fragment, the texts that contain it as `str::contains` says (the empty fragment is
/// in every text): how many, and the first `first` of them.
pub(super) fn containing(texts: &[&str], fragments: &[&str], first: usize) -> Vec<Hits> {
    if fragments.len() <= SCAN_FRAGMENTS {
        scan(texts, fragments, first)
    } else {
        Index::new(texts).find(fragments, first)
    }
}

/// Every text searched for every fragment.
fn scan(texts: &[&str], fragments: &[&str], first: usize) -> Vec<Hits> {
    fragments
        .iter()
        .map(|f| {
            let mut hits = Hits {
                count: 0,
                first: Vec::new(),
            };
            for (i, t) in texts.iter().enumerate() {
                #[cfg(test)]
                crate::reference::tests::count(&tests::TEXT_TESTS);
                if t.contains(f) {
                    hits.count += 1;
                    if hits.first.len() < first {
                        hits.first.push(i);
                    }
                }
            }
            hits
        })
        .collect()
}

/// The distinct texts one after the other, each byte `b` as the symbol `b + 1` and each text
/// closed by a separator of its own (`257` + its number), and the suffix array of that string:
/// where each suffix starts, in sorted order. The separators sort after every byte and differ
/// from each other, so no match runs from one text into the next. Texts that are equal (rules
/// written alike) are kept once, with the positions of each copy.
struct Index {
    symbols: Vec<u32>,
    suffixes: Vec<u32>,
    /// Where each distinct text starts in `symbols`.
    starts: Vec<u32>,
    /// The positions in the list given of each distinct text's copies, ascending. Distinct
    /// texts are numbered in the order of their first copy.
    copies: Vec<Vec<usize>>,
}

/// The first separator.
const SEPARATOR: u32 = 257;

impl Index {
    fn new(texts: &[&str]) -> Index {
        let mut number: HashMap<&str, usize> = HashMap::new();
        let mut copies: Vec<Vec<usize>> = Vec::new();
        let mut distinct: Vec<&str> = Vec::new();
        for (i, &t) in texts.iter().enumerate() {
            let d = *number.entry(t).or_insert_with(|| {
                distinct.push(t);
                copies.push(Vec::new());
                distinct.len() - 1
            });
            copies[d].push(i);
        }
        let n: usize = distinct.iter().map(|t| t.len() + 1).sum();
        let mut symbols = Vec::with_capacity(n + 1);
        let mut starts = Vec::with_capacity(distinct.len());
        for (i, t) in distinct.iter().enumerate() {
            starts.push(symbols.len() as u32);
            symbols.extend(t.bytes().map(|b| u32::from(b) + 1));
            symbols.push(SEPARATOR + i as u32);
        }
        // The suffix array needs a last symbol smaller than every other: the empty suffix.
        symbols.push(0);
        let mut suffixes = suffix_array(&symbols, SEPARATOR as usize + distinct.len());
        suffixes.remove(0);
        symbols.pop();
        Index {
            symbols,
            suffixes,
            starts,
            copies,
        }
    }

    /// How the suffix at `at` compares with `fragment`: `Equal` when it starts with it.
    fn compare(&self, at: u32, fragment: &[u8]) -> Ordering {
        #[cfg(test)]
        crate::reference::tests::count(&tests::TEXT_TESTS);
        let rest = &self.symbols[at as usize..];
        for (i, &b) in fragment.iter().enumerate() {
            // The string ends with a separator, which no fragment byte equals, so the suffix
            // differs from the fragment before it runs out.
            let Some(&s) = rest.get(i) else {
                return Ordering::Less;
            };
            match s.cmp(&(u32::from(b) + 1)) {
                Ordering::Equal => continue,
                other => return other,
            }
        }
        Ordering::Equal
    }

    /// The suffixes that start with `fragment`: a range of the suffix array.
    fn range(&self, fragment: &[u8]) -> (usize, usize) {
        let lo = self
            .suffixes
            .partition_point(|&at| self.compare(at, fragment) == Ordering::Less);
        let hi = lo
            + self.suffixes[lo..]
                .partition_point(|&at| self.compare(at, fragment) == Ordering::Equal);
        (lo, hi)
    }

    /// The distinct text a position of the string is in.
    fn text_at(&self, at: u32) -> usize {
        self.starts.partition_point(|&s| s <= at) - 1
    }

    /// Each fragment's hits, in one sweep over the parts of the suffix array that some
    /// fragment's range covers. At each position `j` of the sweep, every distinct text has a
    /// mark at the last position up to `j` where one of its suffixes is; the texts with a suffix
    /// in a range that ends at `j` are those whose mark is in the range. A Fenwick tree over the
    /// positions adds up the copies of the marked texts in a range, and a tree over the
    /// distinct texts that keeps the greatest mark of each span of them finds the first.
    fn find(&self, fragments: &[&str], first: usize) -> Vec<Hits> {
        let n = self.suffixes.len();
        let ranges: Vec<(usize, usize)> =
            fragments.iter().map(|f| self.range(f.as_bytes())).collect();
        let mut out: Vec<Hits> = vec![
            Hits {
                count: 0,
                first: Vec::new()
            };
            fragments.len()
        ];
        // The fragments by where their range ends; an empty range has no hits.
        let mut by_end: Vec<usize> = (0..fragments.len())
            .filter(|&f| ranges[f].0 < ranges[f].1)
            .collect();
        by_end.sort_unstable_by_key(|&f| ranges[f].1);
        // Where the sweep must go: the positions some range covers, in runs.
        let mut runs: Vec<(usize, usize)> = by_end.iter().map(|&f| ranges[f]).collect();
        runs.sort_unstable();
        let mut covered: Vec<(usize, usize)> = Vec::new();
        for (lo, hi) in runs {
            match covered.last_mut() {
                Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                _ => covered.push((lo, hi)),
            }
        }
        let mut next = by_end.into_iter().peekable();
        let mut marks = Fenwick::new(n);
        let mut last: Vec<Option<usize>> = vec![None; self.starts.len()];
        let mut greatest = MaxTree::new(self.starts.len());
        for j in covered.into_iter().flat_map(|(lo, hi)| lo..hi) {
            let text = self.text_at(self.suffixes[j]);
            let weight = self.copies[text].len() as i64;
            if let Some(p) = last[text] {
                marks.add(p, -weight);
            }
            marks.add(j, weight);
            last[text] = Some(j);
            greatest.set(text, j + 1);
            while let Some(f) = next.next_if(|&f| ranges[f].1 == j + 1) {
                let lo = ranges[f].0;
                // The first copies: among the first `first` distinct texts, whose first copies
                // come before those of every other text in the range.
                let mut copies: Vec<usize> = greatest
                    .first_above(lo, first)
                    .into_iter()
                    .flat_map(|t| self.copies[t].iter().take(first).copied())
                    .collect();
                copies.sort_unstable();
                copies.truncate(first);
                out[f] = Hits {
                    count: marks.sum(lo, j + 1),
                    first: copies,
                };
            }
        }
        out
    }
}

/// No suffix yet, in [`suffix_array`].
const EMPTY: u32 = u32::MAX;

/// The suffix array of `s` by induced sorting (SA-IS, Nong, Zhang and Chan 2009), in time
/// linear in its length. `s` ends with a `0` it holds nowhere else, and its symbols are below
/// `alphabet`.
///
/// Each position is of type S when its suffix is smaller than the next one, L otherwise; an
/// LMS position is an S after an L. Sorting the LMS positions sorts every suffix: placed at
/// the ends of their first symbol's buckets, they induce the order of the L suffixes (a scan
/// from the left) and then of the S suffixes (a scan from the right). A first pass sorts the
/// LMS substrings (from one LMS position to the next) that way; naming each by its rank gives a
/// string at most half as long, whose suffix array, found the same way, orders the LMS
/// suffixes for the second pass.
fn suffix_array(s: &[u32], alphabet: usize) -> Vec<u32> {
    let n = s.len();
    debug_assert!(n > 0 && s[n - 1] == 0, "the last symbol is the sentinel");
    if n == 1 {
        return vec![0];
    }
    let mut small = vec![false; n];
    small[n - 1] = true;
    for i in (0..n - 1).rev() {
        small[i] = s[i] < s[i + 1] || (s[i] == s[i + 1] && small[i + 1]);
    }
    let lms = |i: usize| i > 0 && small[i] && !small[i - 1];
    let mut count = vec![0u32; alphabet];
    for &c in s {
        count[c as usize] += 1;
    }
    let lms_positions: Vec<u32> = (1..n).filter(|&i| lms(i)).map(|i| i as u32).collect();
    // The first pass: the LMS positions in the order of the text, which sorts their substrings.
    let mut sa = vec![EMPTY; n];
    place(s, &count, lms_positions.iter().rev().copied(), &mut sa);
    induce(s, &small, &count, &mut sa);
    // Name each LMS substring by its rank; equal substrings get equal names.
    let mut name = vec![EMPTY; n / 2 + 1];
    let mut names = 0u32;
    let mut previous: Option<usize> = None;
    for p in sa.iter().map(|&p| p as usize).filter(|&p| p < n && lms(p)) {
        if previous.is_none_or(|q| !same_lms_substring(s, &small, p, q)) {
            names += 1;
        }
        previous = Some(p);
        // LMS positions are at least two apart, so halves do not collide.
        name[p / 2] = names - 1;
    }
    let reduced: Vec<u32> = lms_positions
        .iter()
        .map(|&p| name[p as usize / 2])
        .collect();
    drop(name);
    // The order of the LMS suffixes: from the names when they differ, else by recursion (the
    // sentinel's substring is the smallest and alone, so `reduced` ends with a unique 0).
    let order: Vec<u32> = if (names as usize) < reduced.len() {
        suffix_array(&reduced, names as usize)
    } else {
        let mut order = vec![0u32; reduced.len()];
        for (i, &r) in reduced.iter().enumerate() {
            order[r as usize] = i as u32;
        }
        order
    };
    sa.fill(EMPTY);
    place(
        s,
        &count,
        order.iter().rev().map(|&i| lms_positions[i as usize]),
        &mut sa,
    );
    induce(s, &small, &count, &mut sa);
    sa
}

/// Puts `positions` at the ends of their first symbol's buckets, each before the one put
/// before it.
fn place(s: &[u32], count: &[u32], positions: impl Iterator<Item = u32>, sa: &mut [u32]) {
    let mut ends = bucket_starts(count);
    ends.remove(0);
    for p in positions {
        let c = s[p as usize] as usize;
        ends[c] -= 1;
        sa[ends[c] as usize] = p;
    }
}

/// Where each symbol's bucket starts, and after the last, where the last ends.
fn bucket_starts(count: &[u32]) -> Vec<u32> {
    let mut starts = Vec::with_capacity(count.len() + 1);
    let mut at = 0;
    starts.push(0);
    for &c in count {
        at += c;
        starts.push(at);
    }
    starts
}

/// From the LMS positions placed in `sa`, the order of the L suffixes, then of the S ones.
fn induce(s: &[u32], small: &[bool], count: &[u32], sa: &mut [u32]) {
    let n = s.len();
    let mut heads = bucket_starts(count);
    for j in 0..n {
        let p = sa[j];
        if p == EMPTY || p == 0 {
            continue;
        }
        let i = p as usize - 1;
        if !small[i] {
            let c = s[i] as usize;
            sa[heads[c] as usize] = i as u32;
            heads[c] += 1;
        }
    }
    let mut ends = bucket_starts(count);
    ends.remove(0);
    for j in (0..n).rev() {
        let p = sa[j];
        if p == EMPTY || p == 0 {
            continue;
        }
        let i = p as usize - 1;
        if small[i] {
            let c = s[i] as usize;
            ends[c] -= 1;
            sa[ends[c] as usize] = i as u32;
        }
    }
}

/// Whether the LMS substrings at `p` and `q` are equal: the same symbols of the same types, up
/// to and including the next LMS position.
fn same_lms_substring(s: &[u32], small: &[bool], p: usize, q: usize) -> bool {
    let lms = |i: usize| i > 0 && small[i] && !small[i - 1];
    let mut d = 0;
    loop {
        let (a, b) = (p + d, q + d);
        // The sentinel is unique, so neither runs past the end before they differ.
        if s[a] != s[b] || small[a] != small[b] {
            return false;
        }
        if d > 0 && (lms(a) || lms(b)) {
            return lms(a) && lms(b);
        }
        d += 1;
    }
}

/// Counts over positions: add at one, sum over a range, each in time logarithmic in their
/// number.
struct Fenwick(Vec<i64>);

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        Fenwick(vec![0; n + 1])
    }

    fn add(&mut self, at: usize, by: i64) {
        let mut i = at + 1;
        while i < self.0.len() {
            self.0[i] += by;
            i += i & i.wrapping_neg();
        }
    }

    /// The sum over the positions before `end`.
    fn prefix(&self, end: usize) -> i64 {
        let (mut i, mut sum) = (end, 0);
        while i > 0 {
            sum += self.0[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    /// The sum over `lo..hi`.
    fn sum(&self, lo: usize, hi: usize) -> usize {
        usize::try_from(self.prefix(hi) - self.prefix(lo)).unwrap_or(0)
    }
}

/// A value for each text (0 until set), in a tree that keeps the greatest of each span, so
/// that the first texts whose value is above a bound are found in time logarithmic in the
/// texts for each.
struct MaxTree {
    /// The leaves, a power of two.
    width: usize,
    /// Node `1` is the root; node `i` has children `2i` and `2i + 1`; leaves from `width` on.
    max: Vec<usize>,
}

impl MaxTree {
    fn new(n: usize) -> MaxTree {
        let width = n.max(1).next_power_of_two();
        MaxTree {
            width,
            max: vec![0; 2 * width],
        }
    }

    fn set(&mut self, leaf: usize, value: usize) {
        let mut i = self.width + leaf;
        self.max[i] = value;
        while i > 1 {
            i /= 2;
            self.max[i] = self.max[2 * i].max(self.max[2 * i + 1]);
        }
    }

    /// The first `k` leaves, in order, whose value is above `bound`.
    fn first_above(&self, bound: usize, k: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![1];
        while let Some(i) = stack.pop() {
            if out.len() >= k {
                break;
            }
            if self.max[i] <= bound {
                continue;
            }
            if i >= self.width {
                out.push(i - self.width);
            } else {
                stack.push(2 * i + 1);
                stack.push(2 * i);
            }
        }
        out
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;

    thread_local! {
        /// An expectation's text tested against an item's (a search of one text, or a probe of
        /// the suffix array), or an item looked for by its place.
        pub(in crate::testing) static TEXT_TESTS: Cell<usize> = const { Cell::new(0) };
    }

    fn naive(texts: &[&str], fragments: &[&str], first: usize) -> Vec<Hits> {
        scan(texts, fragments, first)
    }

    fn sorted_suffixes(s: &[u32]) -> Vec<u32> {
        let mut sa: Vec<u32> = (0..s.len() as u32).collect();
        sa.sort_by(|&a, &b| s[a as usize..].cmp(&s[b as usize..]));
        sa
    }

    /// `text` as symbols from 1 on, ended by the sentinel.
    fn with_sentinel(text: &[u8]) -> Vec<u32> {
        text.iter().map(|&b| u32::from(b) + 1).chain([0]).collect()
    }

    #[test]
    fn the_suffix_array_sorts_the_suffixes() {
        for text in [
            "",
            "a",
            "banana",
            "aaaaaaa",
            "abababab",
            "mississippi",
            "abracadabra abracadabra",
            "ba ba ba ba baa baa",
        ] {
            let s = with_sentinel(text.as_bytes());
            assert_eq!(suffix_array(&s, 257), sorted_suffixes(&s), "{text}");
        }
    }

    #[test]
    fn fragments_are_found_as_contains_finds_them() {
        let texts = [
            "allow R: view;",
            "allow R: view, edit;",
            "deny R: edit;",
            "",
            "allow R: view;",
            "allow Reviewer: view in S1;",
            "allow R: view in S11;",
        ];
        let fragments = [
            "",
            "allow R",
            "view;",
            "R: view",
            "in S1;",
            "in S1",
            "edit;",
            "nothing",
            "allow R: view;",
            ";",
            "a",
            "allow R: view, edit; deny",
            " ",
            "S11;",
            "Reviewer",
            "w",
            "x",
            "allow",
        ];
        for first in [0, 1, 2, 10] {
            assert_eq!(
                Index::new(&texts).find(&fragments, first),
                naive(&texts, &fragments, first),
                "first {first}"
            );
        }
        // Past `SCAN_FRAGMENTS`, `containing` uses the index.
        let many: Vec<String> = (0..=SCAN_FRAGMENTS)
            .map(|i| fragments[i % fragments.len()].repeat(1 + i / fragments.len()))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(containing(&texts, &many, 3), naive(&texts, &many, 3));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Strings of two letters repeat, so the reduced strings recurse several levels.
        #[test]
        fn the_suffix_array_of_repetitive_text(text in "[ab]{0,300}") {
            let s = with_sentinel(text.as_bytes());
            prop_assert_eq!(suffix_array(&s, 257), sorted_suffixes(&s));
        }

        /// Over a small alphabet, so that texts share long runs and fragments hit often.
        #[test]
        fn the_index_agrees_with_contains(
            texts in proptest::collection::vec("[ab ;é]{0,12}", 0..12),
            fragments in proptest::collection::vec("[ab ;é]{0,4}", 0..40),
            first in 0usize..4,
        ) {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let fragments: Vec<&str> = fragments.iter().map(String::as_str).collect();
            let mut s: Vec<u32> = Vec::new();
            for (i, t) in texts.iter().enumerate() {
                s.extend(t.bytes().map(|b| u32::from(b) + 1));
                s.push(SEPARATOR + i as u32);
            }
            s.push(0);
            prop_assert_eq!(
                suffix_array(&s, SEPARATOR as usize + texts.len()),
                sorted_suffixes(&s)
            );
            prop_assert_eq!(
                Index::new(&texts).find(&fragments, first),
                naive(&texts, &fragments, first)
            );
        }
    }
}

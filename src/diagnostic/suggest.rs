//! "Did you mean": the closest of some candidate names to a name that matched none, found
//! within a budget of work, so that no name and no number of candidates makes it costly.
//!
//! Every suggestion in casepol comes from here. The cost is bounded three ways: a name longer
//! than [`MAX_SUGGEST_CHARS`] gets no suggestion; a candidate whose length alone puts it too far
//! away is skipped after a look at its length; the distance of the others is computed only near
//! the diagonal of the table (a band of `2k + 1` cells a row, where `k` is the largest distance
//! still worth suggesting), stopping as soon as a row is all over `k`. One suggestion does at
//! most [`SUGGEST_WORK`] units of work (a candidate looked at, a cell computed), and callers
//! that make many, such as entity loading, share a budget between them.

use crate::limits::{MAX_SUGGEST_CHARS, SUGGEST_WORK};

/// The candidate closest to `name`, if it is close enough to be a likely typo: at most one edit
/// in three characters (and one for the shortest names). Edits are insertions, deletions,
/// substitutions and swaps of adjacent characters, and case is ignored, so `veiw`, `View` and
/// `vew` are all one step from `view`. Ties go to the name that sorts first.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut budget = SUGGEST_WORK;
    suggest_within(name, candidates, &mut budget)
}

/// [`suggest`], doing at most `budget` units of work (and never more than [`SUGGEST_WORK`]),
/// and taking what it did from `budget`.
pub fn suggest_within<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    budget: &mut usize,
) -> Option<&'a str> {
    if name.len() > 4 * MAX_SUGGEST_CHARS || *budget == 0 {
        return None;
    }
    let a: Vec<char> = name.chars().map(|c| c.to_ascii_lowercase()).collect();
    if a.len() > MAX_SUGGEST_CHARS {
        return None;
    }
    let limit = (a.len() / 3).max(1);
    let mut left = (*budget).min(SUGGEST_WORK);
    let mut table = Table::default();
    let mut b: Vec<char> = Vec::with_capacity(a.len() + limit + 1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if left == 0 {
            break;
        }
        left -= 1;
        count(1);
        // A candidate can win only at a distance of at most `k`, so only if its length is
        // within `k` of the name's. Bytes bound characters: between a quarter of them and all.
        let k = best.map_or(limit, |(d, _)| d);
        if c.len() + k < a.len() || c.len() > 4 * (a.len() + k) {
            continue;
        }
        b.clear();
        b.extend(
            c.chars()
                .take(a.len() + k + 1)
                .map(|x| x.to_ascii_lowercase()),
        );
        if b.len().abs_diff(a.len()) > k {
            continue;
        }
        let (d, cells) = table.distance_within(&a, &b, k, left);
        left -= cells;
        count(cells);
        if let Some(d) = d {
            if best.is_none_or(|(bd, bc)| (d, c) < (bd, bc)) {
                best = Some((d, c));
            }
        }
    }
    *budget -= (*budget).min(SUGGEST_WORK) - left;
    best.map(|(_, c)| c)
}

/// The rows of the distance table a computation needs: optimal string alignment looks two rows
/// back, for swaps. Kept between candidates so that one suggestion allocates them once.
#[derive(Default)]
struct Table {
    rows: [Vec<usize>; 3],
}

impl Table {
    /// The distance between `a` and `b` if it is at most `k`, computing at most `cap` cells, and
    /// the cells it computed. Only the cells within `k` of the diagonal are computed: a path
    /// through any other cell costs more than `k`.
    fn distance_within(
        &mut self,
        a: &[char],
        b: &[char],
        k: usize,
        cap: usize,
    ) -> (Option<usize>, usize) {
        let (n, m) = (a.len(), b.len());
        if n.abs_diff(m) > k {
            return (None, 0);
        }
        // Any value over `k` is as good as infinity.
        let far = k + 1;
        for row in &mut self.rows {
            row.clear();
            row.resize(m + 1, far);
        }
        let [older, prev, cur] = &mut self.rows;
        // Row 0: the band and the cell past it.
        for (j, cell) in prev.iter_mut().enumerate().take(far + 1) {
            *cell = j.min(far);
        }
        let mut cells = 0;
        for i in 1..=n {
            let lo = i.saturating_sub(k).max(1);
            let hi = (i + k).min(m);
            if cells + (hi + 1 - lo) > cap {
                return (None, cells);
            }
            // The cells either side of the band, which the next rows read.
            cur[lo - 1] = if lo == 1 { i.min(far) } else { far };
            if hi < m {
                cur[hi + 1] = far;
            }
            let mut row_min = cur[lo - 1];
            for j in lo..=hi {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d = d.min(older[j - 2] + 1);
                }
                cur[j] = d.min(far);
                row_min = row_min.min(cur[j]);
            }
            cells += hi + 1 - lo;
            // Every path to the end passes through this row, and no step lowers a distance.
            if row_min > k {
                return (None, cells);
            }
            std::mem::swap(older, prev);
            std::mem::swap(prev, cur);
        }
        let d = prev[m];
        ((d <= k).then_some(d), cells)
    }
}

#[cfg(test)]
fn count(n: usize) {
    work::add(n);
}

#[cfg(not(test))]
#[inline(always)]
fn count(_: usize) {}

/// How much work "did you mean" did on this thread, for tests that bound it.
#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;
    thread_local! {
        static UNITS: Cell<usize> = const { Cell::new(0) };
    }
    pub(crate) fn add(n: usize) {
        UNITS.with(|c| c.set(c.get().saturating_add(n)));
    }
    /// The work counted since the last call, and a fresh count.
    pub(crate) fn take() -> usize {
        UNITS.with(|c| c.replace(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, for comparison: the textbook optimal string alignment distance.
    fn full(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
        let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
        let w = b.len() + 1;
        let mut d = vec![0usize; (a.len() + 1) * w];
        for i in 0..=a.len() {
            d[i * w] = i;
        }
        for (j, cell) in d.iter_mut().take(w).enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (d[(i - 1) * w + j] + 1)
                    .min(d[i * w + j - 1] + 1)
                    .min(d[(i - 1) * w + j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(d[(i - 2) * w + j - 2] + 1);
                }
                d[i * w + j] = best;
            }
        }
        d[a.len() * w + b.len()]
    }

    fn within(a: &str, b: &str, k: usize) -> Option<usize> {
        let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
        let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
        Table::default().distance_within(&a, &b, k, usize::MAX).0
    }

    #[test]
    fn distance_counts_swaps_once() {
        for (a, b, d) in [
            ("veiw", "view", 1),
            ("raed", "read", 1),
            ("edti", "edit", 1),
            ("Manger", "Manager", 1),
            ("HR", "hr", 0),
            ("", "abc", 3),
            ("abc", "xyz", 3),
        ] {
            assert_eq!(full(a, b), d, "{a} {b}");
            assert_eq!(within(a, b, 3), Some(d), "{a} {b}");
        }
        assert_eq!(within("abc", "xyz", 2), None);
    }

    /// The band gives the whole table's distance whenever that is at most `k`, and nothing
    /// otherwise, on every pair of short strings over a small alphabet.
    #[test]
    fn the_band_agrees_with_the_whole_table() {
        let words: Vec<String> = (0..3usize.pow(5))
            .flat_map(|x| {
                (0..=5).map(move |len| {
                    (0..len)
                        .map(|p| ['a', 'b', 'C'][x / 3usize.pow(p as u32) % 3])
                        .collect::<String>()
                })
            })
            .collect();
        let mut compared = 0;
        for a in words.iter().step_by(7) {
            for b in words.iter().step_by(5) {
                let d = full(a, b);
                for k in 0..4 {
                    assert_eq!(within(a, b, k), (d <= k).then_some(d), "{a} {b} {k}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 10_000, "{compared}");
    }

    #[test]
    fn suggestions_stay_plausible() {
        assert_eq!(suggest("wirte", ["read", "write"]), Some("write"));
        assert_eq!(suggest("PRES", ["PERS", "FIN"]), Some("PERS"));
        assert_eq!(suggest("xyz", ["read", "write"]), None);
        // Short names need a close match: one letter off in three is enough, two is not.
        assert_eq!(suggest("HX", ["HR", "Manager"]), Some("HR"));
        assert_eq!(suggest("Q", ["HR"]), None);
        // The closest wins, then the one that sorts first.
        assert_eq!(suggest("abcdef", ["abXdeY", "abcdeX"]), Some("abcdeX"));
        assert_eq!(suggest("abcdef", ["abcdeY", "abcdeX"]), Some("abcdeX"));
        // Multi-byte characters count as one.
        assert_eq!(suggest("Åse", ["Ase", "Bob"]), Some("Ase"));
    }

    #[test]
    fn names_over_the_limit_get_no_suggestion_and_cost_nothing() {
        let long = "a".repeat(MAX_SUGGEST_CHARS + 1);
        let near = "a".repeat(MAX_SUGGEST_CHARS);
        work::take();
        assert_eq!(suggest(&long, [near.as_str()]), None);
        assert_eq!(work::take(), 0);
        let at = "b".repeat(MAX_SUGGEST_CHARS);
        assert_eq!(suggest(&near, [at.as_str(), &long]), Some(long.as_str()));
    }

    #[test]
    fn the_budget_is_kept_and_spent() {
        let cands: Vec<String> = (0..1000).map(|i| format!("name{i:04}")).collect();
        let mut budget = 500;
        suggest_within("nameXXXX", cands.iter().map(String::as_str), &mut budget);
        assert_eq!(budget, 0);
        let mut budget = 10_000_000;
        work::take();
        assert_eq!(
            suggest_within("name0999", cands.iter().map(String::as_str), &mut budget),
            Some("name0999")
        );
        assert_eq!(10_000_000 - budget, work::take());
        // Nothing is left: no suggestion, and no work.
        let mut budget = 0;
        assert_eq!(
            suggest_within("name0999", cands.iter().map(String::as_str), &mut budget),
            None
        );
        assert_eq!(work::take(), 0);
    }
}

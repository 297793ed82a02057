//! Lints: warnings about a policy that checks but is likely wrong (docs/lints.md).
//!
//! Every lint is defined in terms of docs/semantics.md and is conservative: where the exact
//! answer would need entity data, a lint stays silent rather than risk a false alarm. The lints
//! reason over *situations*: one per resource kind that has no anchor case, and one per (kind,
//! case type, state) for kinds whose resources always have one. A rule applies in a set of
//! situations, its [`Region`]; two rules are compared by subjects, actions and situations.
//!
//! No lint lists the situations or compares every pair of rules, so linting costs about as much
//! as compiling (docs/limits.md):
//! - a region is kept in closed form (every situation, one kind's, or some states of one case
//!   type for every kind with an anchor), so comparing two costs at most their `in` lists;
//! - CP0204 reads, per place and action, the subjects the denies name there (the layout of the
//!   compiled tables), and intersects them over an allow's region: linear in the rule entries;
//! - CP0203 looks for a covering rule only among the rules that name the rarest of the rule's
//!   subjects and actions in a place that may contain its own, earliest first, and stops at the
//!   first it finds: a run of identical rules costs one step per rule;
//! - CP0208 tests each distinct set of roles against the same tables.
//!
//! What could still grow with the square of the policy (rules that share their rarest subject or
//! action without covering each other, the denies to mark on a CP0204 warning, groups whose full
//! access takes several roles together) spends from a budget of [`MAX_LINT_COMPARISONS`] steps
//! per lint. Past it, that lint says nothing more: it never guesses.

use crate::bits::Bits;
use crate::compile::subject_bit;
use crate::diagnostic::{words, Code, Diagnostic, FileId, Span};
use crate::ir::*;
use crate::limits::MAX_LINT_COMPARISONS;
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// CP0209 fires when more than `ADMIN_SHARE.0 / ADMIN_SHARE.1` of the groups that grant roles
/// are admin-like: more than half.
pub const ADMIN_SHARE: (usize, usize) = (1, 2);

/// CP0209 needs at least this many groups that grant roles: with one or two, one administrator
/// group is already half of them.
pub const ADMIN_SHARE_MIN_GROUPS: usize = 3;

/// CP0204 marks at most this many of the denies that override an allow: the first ones in the
/// source.
pub const MAX_MARKED_DENIES: usize = 8;

/// Runs every lint over a checked policy. The result is sorted by position.
pub fn lint(p: &Policy) -> Vec<Diagnostic> {
    run(&Cx::new(p, MAX_LINT_COMPARISONS))
}

fn run(cx: &Cx) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let always_denied = cx.allow_always_denied(&mut out);
    cx.shadowed_rules(&always_denied, &mut out);
    cx.shadowed_module_grants(&mut out);
    cx.unused(&mut out);
    cx.dead_ends(&mut out);
    cx.missing_rows(&mut out);
    cx.over_broad(&mut out);
    cx.ineffective_scopes(&mut out);
    cx.grants_not_data_roles(&mut out);
    out.sort_by_key(|d| (d.span().file, d.span().start, d.code));
    out
}

/// Steps left for the work of one lint that the size of the policy does not bound by itself.
struct Budget<'c> {
    left: usize,
    /// Steps spent by every lint so far.
    spent: &'c Cell<usize>,
}

impl Budget<'_> {
    fn new<'c>(cx: &'c Cx) -> Budget<'c> {
        Budget {
            left: cx.budget,
            spent: &cx.spent,
        }
    }

    /// Spends `n` steps; false, now and from then on, once they are not there.
    fn spend(&mut self, n: usize) -> bool {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                self.spent.set(self.spent.get() + n);
                true
            }
            None => {
                self.left = 0;
                false
            }
        }
    }
}

/// Where a rule applies, as a set of situations in closed form.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Region {
    /// No situation: a kind's rule when the kind has an anchor but no case type has states, a
    /// case type's rule when no kind has an anchor, a top-level rule when there are no kinds.
    Empty,
    /// Every situation.
    All,
    /// The one situation of a kind without an anchor.
    Loose(KindId),
    /// The situations of a kind with an anchor: one per state of every case type.
    Anchored(KindId),
    /// Every kind with an anchor, in some states of one case type: `None` for all of them, or a
    /// sorted list without repeats that is never all of them.
    States(CaseTypeId, Option<Vec<StateId>>),
}

/// What the situations are made of: which kinds have an anchor, and the states of the case
/// types.
struct World {
    loose: Vec<KindId>,
    anchored: Vec<KindId>,
    is_anchored: Vec<bool>,
    /// Per case type: its number of states, and its first slot in a table by state.
    n_states: Vec<usize>,
    base: Vec<usize>,
    total_states: usize,
}

impl World {
    fn new(p: &Policy) -> World {
        let is_anchored: Vec<bool> = (0..p.kinds.len())
            .map(|k| has_anchor(p, KindId(k as u32)))
            .collect();
        let (mut loose, mut anchored) = (Vec::new(), Vec::new());
        for (k, &a) in is_anchored.iter().enumerate() {
            if a {
                anchored.push(KindId(k as u32));
            } else {
                loose.push(KindId(k as u32));
            }
        }
        let n_states: Vec<usize> = p.casetypes.iter().map(|c| c.states.len()).collect();
        let mut base = Vec::with_capacity(n_states.len());
        let mut total_states = 0;
        for n in &n_states {
            base.push(total_states);
            total_states += n;
        }
        World {
            loose,
            anchored,
            is_anchored,
            n_states,
            base,
            total_states,
        }
    }

    /// Some kind has an anchor, and some case type a state: there are anchored situations.
    fn anchored_situations(&self) -> bool {
        !self.anchored.is_empty() && self.total_states > 0
    }

    fn region(&self, r: &RuleDef) -> Region {
        match r.scope {
            RuleScope::Global if self.loose.is_empty() && !self.anchored_situations() => {
                Region::Empty
            }
            RuleScope::Global => Region::All,
            RuleScope::Kind(k) if !self.is_anchored[k.idx()] => Region::Loose(k),
            RuleScope::Kind(_) if self.total_states == 0 => Region::Empty,
            RuleScope::Kind(k) => Region::Anchored(k),
            RuleScope::CaseType(_) if self.anchored.is_empty() => Region::Empty,
            RuleScope::CaseType(t) if r.states.is_empty() => Region::States(t, None),
            RuleScope::CaseType(t) => {
                let mut states = r.states.clone();
                states.sort();
                states.dedup();
                if states.len() == self.n_states[t.idx()] {
                    Region::States(t, None)
                } else {
                    Region::States(t, Some(states))
                }
            }
        }
    }

    /// Whether every situation of `a` is one of `b`.
    fn subset(&self, a: &Region, b: &Region) -> bool {
        use Region::*;
        match (a, b) {
            (Empty, _) => true,
            (_, Empty) => false,
            (_, All) => true,
            (All, Loose(k)) => self.loose == [*k] && !self.anchored_situations(),
            (All, Anchored(k)) => self.loose.is_empty() && self.anchored == [*k],
            (All, States(t, s)) => {
                self.loose.is_empty() && self.total_states == self.states_in(*t, s)
            }
            (Loose(k), Loose(j)) => k == j,
            (Loose(_), _) | (Anchored(_) | States(..), Loose(_)) => false,
            (Anchored(k), Anchored(j)) => k == j,
            (Anchored(_), States(t, s)) => self.total_states == self.states_in(*t, s),
            (States(..), Anchored(k)) => self.anchored == [*k],
            (States(t, s), States(u, z)) => {
                t == u
                    && match (s, z) {
                        (_, None) => true,
                        (None, Some(_)) => false,
                        (Some(s), Some(z)) => sorted_subset(s, z),
                    }
            }
        }
    }

    /// Whether `a` and `b` share a situation.
    fn intersects(&self, a: &Region, b: &Region) -> bool {
        use Region::*;
        match (a, b) {
            (Empty, _) | (_, Empty) => false,
            (All, _) | (_, All) => true,
            (Loose(k), Loose(j)) | (Anchored(k), Anchored(j)) => k == j,
            (Loose(_), _) | (_, Loose(_)) => false,
            (Anchored(_), States(..)) | (States(..), Anchored(_)) => true,
            (States(t, s), States(u, z)) => {
                t == u
                    && match (s, z) {
                        (None, _) | (_, None) => true,
                        (Some(s), Some(z)) => sorted_intersect(s, z),
                    }
            }
        }
    }

    /// How many states `s` names in case type `t`.
    fn states_in(&self, t: CaseTypeId, s: &Option<Vec<StateId>>) -> usize {
        s.as_ref().map_or(self.n_states[t.idx()], Vec::len)
    }

    /// The kind whose situations are all the situations there are, if there is one.
    fn only_kind(&self) -> Option<KindId> {
        match (self.loose.as_slice(), self.anchored.as_slice()) {
            ([k], _) if !self.anchored_situations() => Some(*k),
            ([], [k]) if self.total_states > 0 => Some(*k),
            _ => None,
        }
    }
}

/// What comparing a region costs, in budget steps.
fn cost(r: &Region) -> usize {
    match r {
        Region::States(_, Some(s)) => 1 + s.len(),
        _ => 1,
    }
}

fn sorted_subset(a: &[StateId], b: &[StateId]) -> bool {
    let mut j = 0;
    for x in a {
        while j < b.len() && b[j] < *x {
            j += 1;
        }
        if j == b.len() || b[j] != *x {
            return false;
        }
    }
    true
}

fn sorted_intersect(a: &[StateId], b: &[StateId]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// For the rules of one effect: per place and action, the subjects they name there. The places
/// are the compiler's: every resource, each kind, each state of each case type.
struct Masks {
    n: usize,
    global: Vec<Bits>,
    /// `[kind * n + action]`
    kind: Vec<Bits>,
    /// `[(base[case type] + state) * n + action]`
    state: Vec<Bits>,
    /// Per action, the intersection over the kinds without an anchor, over those with one, and
    /// over every state of every case type (every index when there is none to intersect).
    loose_all: Vec<Bits>,
    anchored_all: Vec<Bits>,
    states_all: Vec<Bits>,
    /// `[case type * n + action]`: the intersection over the case type's states.
    casetype_all: Vec<Bits>,
}

impl Masks {
    /// Costs the rule entries (`MAX_RULE_ENTRIES`) and the table slots (`MAX_TABLE_SLOTS`).
    fn new(cx: &Cx, effect: Effect, subjects: &[Bits]) -> Masks {
        let (p, w) = (cx.p, &cx.w);
        let n = p.actions.len();
        let mut m = Masks {
            n,
            global: vec![Bits::EMPTY; n],
            kind: vec![Bits::EMPTY; p.kinds.len() * n],
            state: vec![Bits::EMPTY; w.total_states * n],
            loose_all: vec![Bits::FULL; n],
            anchored_all: vec![Bits::FULL; n],
            states_all: vec![Bits::FULL; n],
            casetype_all: vec![Bits::FULL; p.casetypes.len() * n],
        };
        for (i, r) in p.rules.iter().enumerate() {
            // A rule with a condition may not apply: it allows or denies nowhere for sure.
            if r.effect != effect || !r.when.is_empty() {
                continue;
            }
            let subj = subjects[i];
            // The states a case-type rule applies in, each once.
            let states: Vec<usize> = match r.scope {
                RuleScope::CaseType(t) if r.states.is_empty() => (0..w.n_states[t.idx()]).collect(),
                RuleScope::CaseType(_) => {
                    let mut s: Vec<usize> = r.states.iter().map(|s| s.idx()).collect();
                    s.sort_unstable();
                    s.dedup();
                    s
                }
                RuleScope::Global | RuleScope::Kind(_) => Vec::new(),
            };
            for a in cx.acts[i].iter() {
                match r.scope {
                    RuleScope::Global => m.global[a] = m.global[a].union(subj),
                    RuleScope::Kind(k) => {
                        let slot = k.idx() * n + a;
                        m.kind[slot] = m.kind[slot].union(subj);
                    }
                    RuleScope::CaseType(t) => {
                        for &s in &states {
                            let slot = (w.base[t.idx()] + s) * n + a;
                            m.state[slot] = m.state[slot].union(subj);
                        }
                    }
                }
            }
        }
        for a in 0..n {
            for k in &w.loose {
                m.loose_all[a] = m.loose_all[a].intersect(m.kind[k.idx() * n + a]);
            }
            for k in &w.anchored {
                m.anchored_all[a] = m.anchored_all[a].intersect(m.kind[k.idx() * n + a]);
            }
        }
        for (t, &states) in w.n_states.iter().enumerate() {
            for s in 0..states {
                for a in 0..n {
                    let here = m.state[(w.base[t] + s) * n + a];
                    m.casetype_all[t * n + a] = m.casetype_all[t * n + a].intersect(here);
                    m.states_all[a] = m.states_all[a].intersect(here);
                }
            }
        }
        m
    }

    /// Per subject: does some rule of these masks cover it for action `a` in every situation of
    /// `region`? A subject is covered in every situation of a product of kinds and states when
    /// it is covered everywhere, or in every kind, or in every state: if it missed one kind and
    /// one state, it would miss the situation of that kind in that state.
    fn everywhere(&self, w: &World, region: &Region, a: usize) -> Bits {
        let n = self.n;
        let g = self.global[a];
        match region {
            Region::Empty => Bits::FULL,
            Region::All => {
                let loose = if w.loose.is_empty() {
                    Bits::FULL
                } else {
                    g.union(self.loose_all[a])
                };
                let anchored = if w.anchored_situations() {
                    g.union(self.anchored_all[a]).union(self.states_all[a])
                } else {
                    Bits::FULL
                };
                loose.intersect(anchored)
            }
            Region::Loose(k) => g.union(self.kind[k.idx() * n + a]),
            Region::Anchored(k) => g
                .union(self.kind[k.idx() * n + a])
                .union(self.states_all[a]),
            Region::States(t, None) => g
                .union(self.anchored_all[a])
                .union(self.casetype_all[t.idx() * n + a]),
            Region::States(t, Some(states)) => {
                let mut here = Bits::FULL;
                for s in states {
                    here = here.intersect(self.state[(w.base[t.idx()] + s.idx()) * n + a]);
                }
                g.union(self.anchored_all[a]).union(here)
            }
        }
    }
}

struct Cx<'a> {
    p: &'a Policy,
    /// The steps each lint may spend on what can grow with the square of the policy, and the
    /// steps spent in all.
    budget: usize,
    spent: Cell<usize>,
    w: World,
    /// By rule index: its subjects (as subject bits, `everyone` standing for them all), its
    /// actions, and its region.
    subj: Vec<Bits>,
    /// By rule index: its subjects as subject bits, `everyone` as its own bit.
    raw_subj: Vec<Bits>,
    acts: Vec<Bits>,
    region: Vec<Region>,
    /// By rule index: whether the rule takes part in the data layer in some situation.
    live: Vec<bool>,
}

/// Source order: by file, then position.
fn pos(s: Span) -> (FileId, u32) {
    (s.file, s.start)
}

fn before(a: Span, b: Span) -> bool {
    pos(a) < pos(b)
}

fn what(r: &RuleDef) -> &'static str {
    match r.origin {
        RuleOrigin::Statement => "rule",
        RuleOrigin::TableCell { .. } => "table entry",
        RuleOrigin::Transition { .. } => "transition",
    }
}

fn verb(e: Effect) -> &'static str {
    match e {
        Effect::Allow => "allows",
        Effect::Deny => "denies",
    }
}

/// Rules (or module grant lines) listed by what they name, each list in source order: the
/// candidates for covering a rule are in every list of its own subjects and actions, so it is
/// enough to walk the shortest.
struct Postings<K> {
    lists: HashMap<(K, u16), Vec<u32>, BuildHasherDefault<Mix>>,
}

/// A fast hash for small integer keys (the keys are ids, not input an attacker chooses freely:
/// a collision only costs time, and the lists are bounded by the rule entries).
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u16(&mut self, x: u16) {
        self.write_u64(u64::from(x));
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
    fn write_isize(&mut self, x: isize) {
        self.write_u64(x as u64);
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl<K: std::hash::Hash + Eq + Copy> Postings<K> {
    fn new() -> Postings<K> {
        Postings {
            lists: HashMap::default(),
        }
    }

    /// Files item `i` in `place` under each of its subjects and actions.
    fn add(&mut self, place: K, i: u32, subj: Bits, acts: Bits) {
        for s in subj.iter() {
            self.lists.entry((place, s as u16)).or_default().push(i);
        }
        for a in acts.iter() {
            self.lists
                .entry((place, (Bits::WIDTH + a) as u16))
                .or_default()
                .push(i);
        }
    }

    /// The shortest list in `place` among those of these subjects and actions; empty when one
    /// of them has none.
    fn rarest(&self, place: K, subj: Bits, acts: Bits) -> &[u32] {
        let keys = subj
            .iter()
            .map(|s| s as u16)
            .chain(acts.iter().map(|a| (Bits::WIDTH + a) as u16));
        let mut best: Option<&[u32]> = None;
        for k in keys {
            let list = self.lists.get(&(place, k)).map_or(&[][..], Vec::as_slice);
            if best.is_none_or(|b| list.len() < b.len()) {
                best = Some(list);
            }
        }
        best.unwrap_or(&[])
    }
}

/// Where a data rule is filed for CP0203: by its scope.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    Global,
    Kind(KindId),
    CaseType(CaseTypeId),
}

impl<'a> Cx<'a> {
    fn new(p: &'a Policy, budget: usize) -> Cx<'a> {
        let w = World::new(p);
        let subj: Vec<Bits> = p
            .rules
            .iter()
            .map(|r| subject_set(p, &r.subjects))
            .collect();
        let raw_subj: Vec<Bits> = p
            .rules
            .iter()
            .map(|r| Bits::from_indices(r.subjects.iter().map(|s| subject_bit(p, *s))))
            .collect();
        let acts: Vec<Bits> = p
            .rules
            .iter()
            .map(|r| Bits::from_indices(r.actions.iter().map(|a| a.idx())))
            .collect();
        let region: Vec<Region> = p.rules.iter().map(|r| w.region(r)).collect();
        let live = (0..p.rules.len())
            .map(|i| !subj[i].is_empty() && !acts[i].is_empty() && region[i] != Region::Empty)
            .collect();
        Cx {
            p,
            budget,
            spent: Cell::new(0),
            w,
            subj,
            raw_subj,
            acts,
            region,
            live,
        }
    }

    /// The live rules of one effect, in source order.
    fn in_order(&self, e: Effect) -> Vec<u32> {
        let mut rules: Vec<u32> = (0..self.p.rules.len())
            .filter(|&i| self.live[i] && self.p.rules[i].effect == e)
            .map(|i| i as u32)
            .collect();
        rules.sort_by_key(|&i| pos(self.p.rules[i as usize].span));
        rules
    }

    /// CP0204: an allow (statement, table entry or transition) that, for each subject, action
    /// and situation it covers, some deny also covers. Actions that a deny in the same table cell
    /// names are left out: CP0202 has reported them. Returns the rules it reported.
    ///
    /// Whether an allow is always denied is decided on the denies' masks, at a cost of its
    /// actions (times its `in` states); only finding the denies to mark spends the budget.
    fn allow_always_denied(&self, out: &mut Vec<Diagnostic>) -> Vec<bool> {
        let p = self.p;
        let mut reported = vec![false; p.rules.len()];
        let denies = Masks::new(self, Effect::Deny, &self.subj);
        let cell_denied = self.cell_denies();
        // The live denies by subject, in source order, to find those that override an allow.
        let mut by_subject: Vec<Vec<u32>> = vec![Vec::new(); Bits::WIDTH];
        // A deny with a condition overrides nothing for sure.
        for d in self
            .in_order(Effect::Deny)
            .into_iter()
            .filter(|&d| p.rules[d as usize].when.is_empty())
        {
            for s in self.subj[d as usize].iter() {
                by_subject[s].push(d);
            }
        }
        let mut budget = Budget::new(self);
        for (i, r) in p.rules.iter().enumerate() {
            if r.effect != Effect::Allow || !self.live[i] {
                continue;
            }
            let mut actions = self.acts[i];
            if let Some(denied) = cell_denied.get(&i) {
                actions = Bits::from_indices(actions.iter().filter(|&a| !denied.get(a)));
            }
            if actions.is_empty() {
                continue;
            }
            let all_denied = actions
                .iter()
                .all(|a| self.subj[i].is_subset(&denies.everywhere(&self.w, &self.region[i], a)));
            if !all_denied {
                continue;
            }
            reported[i] = true;
            let (by, more) = self.overriding(i, actions, &by_subject, &mut budget);
            let act = r
                .actions
                .first()
                .map(|a| p.actions[a.idx()].name.as_str())
                .unwrap_or("");
            let (message, mut help) = match r.origin {
                RuleOrigin::Transition { .. } => (
                    format!(
                        "transition `{act}` never takes effect: a deny always overrides it for everyone it names after `by`"
                    ),
                    format!("deny wins over allow, so this transition lets no one perform `{act}`; remove the deny for them, or the transition"),
                ),
                _ => (
                    format!("this {} never takes effect: a deny always overrides it", what(r)),
                    "deny wins over allow, so this allow changes no decision; remove it, or narrow the deny (fewer subjects or actions, or `in` states)".to_string(),
                ),
            };
            if more && by.is_empty() {
                help.push_str(" (the denies that override it are too many to look for)");
            } else if more {
                help.push_str(&format!(
                    " (the first {} of the denies that override it are marked)",
                    by.len()
                ));
            }
            let mut d = Diagnostic::new(Code::AllowAlwaysDenied, r.span, message)
                .with_label("always overridden");
            for &x in &by {
                d = d.with_secondary(
                    p.rules[x].span,
                    format!("this {} denies it", what(&p.rules[x])),
                );
            }
            out.push(d.with_help(help));
        }
        reported
    }

    /// The live denies that override allow `i` somewhere: they name one of its subjects and
    /// one of `actions`, and share a situation with it. At most [`MAX_MARKED_DENIES`], the
    /// first in the source; and whether there are more (or the budget ran out looking).
    fn overriding(
        &self,
        i: usize,
        actions: Bits,
        by_subject: &[Vec<u32>],
        budget: &mut Budget,
    ) -> (Vec<usize>, bool) {
        let p = self.p;
        // Merge the lists of the allow's subjects in source order.
        let mut heap = BinaryHeap::new();
        for s in self.subj[i].iter() {
            if let Some(&d) = by_subject[s].first() {
                heap.push(Reverse((pos(p.rules[d as usize].span), d, s, 0usize)));
            }
        }
        let (mut by, mut last) = (Vec::new(), None);
        while let Some(Reverse((_, d, s, k))) = heap.pop() {
            if let Some(&next) = by_subject[s].get(k + 1) {
                heap.push(Reverse((pos(p.rules[next as usize].span), next, s, k + 1)));
            }
            let d = d as usize;
            if last == Some(d) {
                continue;
            }
            last = Some(d);
            if !budget.spend(cost(&self.region[d]) + cost(&self.region[i])) {
                return (by, true);
            }
            if self.acts[d].intersects(&actions)
                && self.w.intersects(&self.region[d], &self.region[i])
            {
                if by.len() == MAX_MARKED_DENIES {
                    return (by, true);
                }
                by.push(d);
            }
        }
        (by, false)
    }

    /// Per table entry that allows: the actions that deny entries of the same cell name.
    fn cell_denies(&self) -> HashMap<usize, Bits> {
        let p = self.p;
        // Every cell, in source order, to find the one an entry is written in.
        let mut cells: Vec<Span> = p
            .casetypes
            .iter()
            .flat_map(|c| &c.tables)
            .flat_map(|t| &t.rows)
            .flat_map(|r| &r.cells)
            .copied()
            .collect();
        cells.sort_by_key(|c| pos(*c));
        let cell_of = |r: &RuleDef| -> Option<usize> {
            let RuleOrigin::TableCell { .. } = r.origin else {
                return None;
            };
            let after = cells.partition_point(|c| pos(*c) <= pos(r.span));
            after.checked_sub(1).filter(|&c| within(r.span, cells[c]))
        };
        let mut denied: HashMap<usize, Bits> = HashMap::new();
        for (i, r) in p.rules.iter().enumerate() {
            if r.effect == Effect::Deny && self.live[i] {
                if let Some(c) = cell_of(r) {
                    let d = denied.entry(c).or_default();
                    *d = d.union(self.acts[i]);
                }
            }
        }
        let mut out = HashMap::new();
        for (i, r) in p.rules.iter().enumerate() {
            if r.effect == Effect::Allow {
                if let Some(d) = cell_of(r).and_then(|c| denied.get(&c)) {
                    out.insert(i, *d);
                }
            }
        }
        out
    }

    /// CP0203 for data rules: a statement or table entry whose every subject, action and
    /// situation another rule of the same effect also covers. Transitions are never reported
    /// (they also define the workflow), but they may shadow others. Of two rules that cover
    /// exactly the same, the later one is reported.
    fn shadowed_rules(&self, always_denied: &[bool], out: &mut Vec<Diagnostic>) {
        let p = self.p;
        let place = |r: &RuleDef| match r.scope {
            RuleScope::Global => Place::Global,
            RuleScope::Kind(k) => Place::Kind(k),
            RuleScope::CaseType(t) => Place::CaseType(t),
        };
        let mut postings = [Postings::new(), Postings::new()];
        for e in [Effect::Allow, Effect::Deny] {
            for i in self.in_order(e) {
                let r = &p.rules[i as usize];
                // A rule with a condition may not apply, so it covers no other rule; another
                // may still cover it.
                if !r.when.is_empty() {
                    continue;
                }
                postings[e as usize].add(place(r), i, self.subj[i as usize], self.acts[i as usize]);
            }
        }
        let mut budget = Budget::new(self);
        for (i, r) in p.rules.iter().enumerate() {
            if matches!(r.origin, RuleOrigin::Transition { .. })
                || always_denied[i]
                || !self.live[i]
            {
                continue;
            }
            let postings = &postings[r.effect as usize];
            let mut found: Option<(usize, bool)> = None;
            for place in self.containers(&self.region[i]) {
                let list = postings.rarest(place, self.subj[i], self.acts[i]);
                match self.first_cover(i, list, &mut budget) {
                    Err(()) => return,
                    Ok(Some((j, equal))) => {
                        if found.is_none_or(|(f, _)| before(p.rules[j].span, p.rules[f].span)) {
                            found = Some((j, equal));
                        }
                    }
                    Ok(None) => {}
                }
            }
            let Some((j, equal)) = found else { continue };
            let o = &p.rules[j];
            let v = verb(r.effect);
            let help = if let RuleOrigin::Transition { .. } = o.origin {
                "remove it: the transition already allows its subjects this action in its source states".to_string()
            } else if equal {
                format!(
                    "it {v} exactly what the other {} {v}; remove one of the two",
                    what(o)
                )
            } else {
                format!(
                    "remove it: the other {} matches every request this one matches; if that one is broader than intended, narrow it instead",
                    what(o)
                )
            };
            out.push(
                Diagnostic::new(
                    Code::ShadowedRule,
                    r.span,
                    format!(
                        "this {} never decides: a {} already {v} everything it {v}",
                        what(r),
                        what(o)
                    ),
                )
                .with_label("shadowed")
                .with_secondary(o.span, format!("this {} already {v} all of it", what(o)))
                .with_help(help),
            );
        }
    }

    /// The places whose rules may apply in every situation of `region`: the top level, and a
    /// kind or case type whose situations can contain the region's.
    fn containers(&self, region: &Region) -> Vec<Place> {
        let w = &self.w;
        let mut out = vec![Place::Global];
        match region {
            Region::Empty => {}
            Region::All => {
                out.extend(w.only_kind().map(Place::Kind));
                if w.loose.is_empty() && w.n_states.len() == 1 {
                    out.push(Place::CaseType(CaseTypeId(0)));
                }
            }
            Region::Loose(k) => out.push(Place::Kind(*k)),
            Region::Anchored(k) => {
                out.push(Place::Kind(*k));
                if w.n_states.len() == 1 {
                    out.push(Place::CaseType(CaseTypeId(0)));
                }
            }
            Region::States(t, _) => {
                out.push(Place::CaseType(*t));
                if let [k] = w.anchored.as_slice() {
                    out.push(Place::Kind(*k));
                }
            }
        }
        out
    }

    /// The first rule of `list` (in source order) that covers rule `i` and may be named as the
    /// one that shadows it, and whether the two cover exactly the same; `Err` when the budget
    /// ran out first.
    fn first_cover(
        &self,
        i: usize,
        list: &[u32],
        budget: &mut Budget,
    ) -> Result<Option<(usize, bool)>, ()> {
        let p = self.p;
        let r = &p.rules[i];
        for &j in list {
            let j = j as usize;
            if !budget.spend(cost(&self.region[i]) + cost(&self.region[j])) {
                return Err(());
            }
            let covers = |a: usize, b: usize| {
                self.subj[b].is_subset(&self.subj[a])
                    && self.acts[b].is_subset(&self.acts[a])
                    && self.w.subset(&self.region[b], &self.region[a])
            };
            if j == i || !covers(j, i) {
                continue;
            }
            let o = &p.rules[j];
            // A rule with a condition covers no other, so it is never the other's equal.
            let equal = covers(i, j) && r.when.is_empty();
            let is_transition = matches!(o.origin, RuleOrigin::Transition { .. });
            if equal && !is_transition && !before(o.span, r.span) {
                continue;
            }
            return Ok(Some((j, equal)));
        }
        Ok(None)
    }

    /// CP0203 for the module layer: a grant line of a case type whose subjects and actions a
    /// line for the same module of the same case type already grants.
    fn shadowed_module_grants(&self, out: &mut Vec<Diagnostic>) {
        let p = self.p;
        let mut budget = Budget::new(self);
        for ct in &p.casetypes {
            let lines = &ct.module_grants;
            let subj: Vec<Bits> = lines.iter().map(|g| subject_set(p, &g.subjects)).collect();
            let acts: Vec<Bits> = lines
                .iter()
                .map(|g| Bits::from_indices(g.actions.iter().map(|a| a.idx())))
                .collect();
            // Lines are in source order already: a case type is written in one file.
            let mut postings = Postings::new();
            for (i, g) in lines.iter().enumerate() {
                postings.add(g.module, i as u32, subj[i], acts[i]);
            }
            for (i, g) in lines.iter().enumerate() {
                if g.subjects.is_empty() || g.actions.is_empty() {
                    continue;
                }
                let mut by = None;
                for &j in postings.rarest(g.module, subj[i], acts[i]) {
                    let j = j as usize;
                    if !budget.spend(1) {
                        return;
                    }
                    if j == i || !subj[i].is_subset(&subj[j]) || !acts[i].is_subset(&acts[j]) {
                        continue;
                    }
                    let equal = subj[j].is_subset(&subj[i]) && acts[j].is_subset(&acts[i]);
                    if !equal || before(lines[j].span, g.span) {
                        by = Some(&lines[j]);
                        break;
                    }
                }
                let Some(o) = by else { continue };
                let module = &p.modules[g.module.idx()].name;
                out.push(
                    Diagnostic::new(
                        Code::ShadowedRule,
                        g.span,
                        format!(
                            "this module grant never decides: another line for module `{module}` already grants everything it grants"
                        ),
                    )
                    .with_label("shadowed")
                    .with_secondary(o.span, "this line already grants all of it")
                    .with_help(format!(
                        "remove it: for case type `{}`, the other line lets the same subjects use the same actions through `{module}`",
                        ct.name
                    )),
                );
            }
        }
    }

    /// CP0205: roles, actions and access groups that have no effect on any decision.
    ///
    /// States are not reported here: a state that nothing names is unreachable (CP0201) or,
    /// when it is the initial state, a dead end (CP0206).
    fn unused(&self, out: &mut Vec<Diagnostic>) {
        let p = self.p;
        let grants_lines = p.casetypes.iter().flat_map(|c| &c.module_grants);
        let mut role_named = vec![false; p.roles.len()];
        let mut action_used = vec![false; p.actions.len()];
        let subjects = p
            .rules
            .iter()
            .flat_map(|r| &r.subjects)
            .chain(grants_lines.clone().flat_map(|g| &g.subjects));
        for s in subjects {
            if let Subject::Role(r) = s {
                role_named[r.idx()] = true;
            }
        }
        let actions = p
            .rules
            .iter()
            .flat_map(|r| &r.actions)
            .chain(grants_lines.flat_map(|g| &g.actions))
            .chain(p.modules.iter().flat_map(|m| &m.actions));
        for a in actions {
            action_used[a.idx()] = true;
        }
        // The groups that grant each role, in declaration order.
        let mut granted_by: Vec<Vec<&GroupDef>> = vec![Vec::new(); p.roles.len()];
        for g in &p.groups {
            let mut roles = g.grants.clone();
            roles.sort();
            roles.dedup();
            for r in roles {
                granted_by[r.idx()].push(g);
            }
        }
        for (i, role) in p.roles.iter().enumerate() {
            if role_named[i] {
                continue;
            }
            let granted_by = &granted_by[i];
            if granted_by.is_empty() {
                out.push(
                    Diagnostic::new(
                        Code::Unused,
                        role.span,
                        format!("role `{}` is declared but never used", role.name),
                    )
                    .with_label("no group grants it and no rule names it")
                    .with_help(format!(
                        "remove it, or grant it with a group (`grants {};`) and give it access in a rule or table",
                        role.name
                    )),
                );
            } else {
                let mut d = Diagnostic::new(
                    Code::Unused,
                    role.span,
                    format!("role `{}` is granted, but no rule names it", role.name),
                )
                .with_label("no rule, table, transition or module grant names this role");
                for g in granted_by {
                    d = d.with_secondary(g.span, format!("`{}` grants it", g.name));
                }
                out.push(d.with_help(format!(
                    "holding `{}` allows nothing; give it access in a rule or table, or remove it and its `grants`",
                    role.name
                )));
            }
        }
        for (i, a) in p.actions.iter().enumerate() {
            if !action_used[i] {
                out.push(
                    Diagnostic::new(
                        Code::Unused,
                        a.span,
                        format!("action `{}` is declared but never used", a.name),
                    )
                    .with_label("no rule, table, transition or module names it")
                    .with_help(format!(
                        "every request to `{}` is denied; allow it in a rule or table, or remove it",
                        a.name
                    )),
                );
            }
        }
        // A group's name is an access code, membership satisfies `require group;`, and a
        // relation may list a group (`relation_groups`): with any of these in play, even an
        // empty group may matter.
        let codes_in_use = p.actions.iter().any(|a| a.read_code || a.write_code);
        if codes_in_use || p.require_group || !p.relations.is_empty() {
            return;
        }
        let mut has_children = vec![false; p.groups.len()];
        for g in &p.groups {
            if let Some(parent) = g.parent {
                has_children[parent.idx()] = true;
            }
        }
        for (i, g) in p.groups.iter().enumerate() {
            let has_children = has_children[i];
            if g.grants.is_empty() && g.permits.is_empty() && g.parent.is_none() && !has_children {
                out.push(
                    Diagnostic::new(
                        Code::Unused,
                        g.span,
                        format!("access group `{}` has no effect", g.name),
                    )
                    .with_label("grants no role, permits nothing, and has no parent or sub-groups")
                    .with_help(format!(
                        "membership in `{}` changes no decision; give it roles with `grants` or permissions with `permits`, or remove it",
                        g.name
                    )),
                );
            }
        }
    }

    /// CP0206: a reachable state that is not final and that no transition leaves. (An
    /// unreachable one is CP0201 already.)
    fn dead_ends(&self, out: &mut Vec<Diagnostic>) {
        // A case type without a workflow has one state, which nothing needs to leave.
        for ct in self.p.casetypes.iter().filter(|c| c.workflow) {
            let mut settled = vec![false; ct.states.len()];
            for s in ct
                .finals
                .iter()
                .chain(ct.transitions.iter().flat_map(|tr| &tr.from))
            {
                if let Some(x) = settled.get_mut(s.idx()) {
                    *x = true;
                }
            }
            for (i, s) in ct.states.iter().enumerate() {
                if !ct.reachable[i] || settled[i] {
                    continue;
                }
                out.push(
                    Diagnostic::new(
                        Code::DeadEndState,
                        s.span,
                        format!(
                            "state `{}` of case type `{}` has no way out and is not final",
                            s.name, ct.name
                        ),
                    )
                    .with_label("no transition leaves this state")
                    .with_help(format!(
                        "if the workflow ends here, mark it `final {};`; otherwise add a transition out of it, e.g. `transition act: {} -> Next by Role;`",
                        s.name, s.name
                    )),
                );
            }
        }
    }

    /// CP0211: a module grant line that names a role the module's `data roles` leave out. The
    /// role passes the module layer, but the data layer never reads it through that module, so
    /// the line grants nothing to a user who holds only that role.
    fn grants_not_data_roles(&self, out: &mut Vec<Diagnostic>) {
        let p = self.p;
        for ct in &p.casetypes {
            for g in &ct.module_grants {
                let m = &p.modules[g.module.idx()];
                let Some(data) = &m.data_roles else {
                    continue;
                };
                let read = Bits::from_indices(data.iter().map(|r| r.idx()));
                let left: Vec<&str> = g
                    .subjects
                    .iter()
                    .filter_map(|s| match s {
                        Subject::Role(r) if !read.get(r.idx()) => {
                            Some(p.roles[r.idx()].name.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                let Some(first) = left.first() else {
                    continue;
                };
                let roles: Vec<&str> = data
                    .iter()
                    .map(|r| p.roles[r.idx()].name.as_str())
                    .collect();
                out.push(
                    Diagnostic::new(
                        Code::GrantNotDataRole,
                        g.span,
                        format!(
                            "module `{}` grants actions on `{}` cases to {}, but its data layer does not read {}",
                            m.name,
                            ct.name,
                            words::list(&left),
                            if left.len() == 1 { "that role" } else { "those roles" }
                        ),
                    )
                    .with_label(format!("`{first}` is not a data role of `{}`", m.name))
                    .with_secondary(m.span, format!("`{}` declares its data roles here", m.name))
                    .with_help(format!(
                        "through `{}` the data layer reads only {}: add {} to the module's data roles (`data roles {}, {};`), or take {} off this line",
                        m.name,
                        words::list(&roles),
                        words::list(&left),
                        roles.join(", "),
                        left.join(", "),
                        if left.len() == 1 { "it" } else { "them" }
                    )),
                );
            }
        }
    }

    /// CP0207: a table with no row for a reachable state of its case type.
    fn missing_rows(&self, out: &mut Vec<Diagnostic>) {
        for ct in &self.p.casetypes {
            for table in &ct.tables {
                let mut has_row = vec![false; ct.states.len()];
                for r in &table.rows {
                    if let Some(x) = has_row.get_mut(r.state.idx()) {
                        *x = true;
                    }
                }
                let missing: Vec<&str> = ct
                    .states
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| ct.reachable[*i] && !has_row[*i])
                    .map(|(_, s)| s.name.as_str())
                    .collect();
                let Some(first) = missing.first() else {
                    continue;
                };
                let (noun, list) = (
                    if missing.len() == 1 {
                        "state"
                    } else {
                        "states"
                    },
                    words::list(&missing),
                );
                let example = format!("{first}{}", " | .".repeat(table.columns));
                out.push(
                    Diagnostic::new(
                        Code::MissingTableRow,
                        table.span,
                        format!("this table of case type `{}` has no row for {noun} {list}", ct.name),
                    )
                    .with_label(format!("no row for {list}"))
                    .with_help(format!(
                        "add a row for each, with `.` in a cell that grants nothing, e.g. `{example}`, so the table says what holds in every state"
                    )),
                );
            }
        }
    }

    /// The roles a member of `g` holds everywhere: those of `g` and its ancestors that have
    /// `scope all`; and the permissions they permit.
    fn held_everywhere(&self, g: GroupId) -> (Bits, Bits) {
        let (mut roles, mut permits) = (Bits::EMPTY, Bits::EMPTY);
        let mut cur = Some(g);
        let mut steps = 0;
        while let (Some(c), true) = (cur, steps <= self.p.groups.len()) {
            let def = &self.p.groups[c.idx()];
            if def.scope == ScopeDef::All {
                roles = roles.union(Bits::from_indices(def.grants.iter().map(|r| r.idx())));
            }
            permits = permits.union(Bits::from_indices(def.permits.iter().map(|q| q.idx())));
            cur = def.parent;
            steps += 1;
        }
        (roles, permits)
    }

    /// CP0210: a group with a scope that grants a role some ancestor grants with scope all.
    /// Its members are members of the ancestor, so they hold the role on every resource and
    /// the scope narrows nothing for it (semantics.md, "Groups in scope"). The roles granted
    /// with scope all above each group are kept as bits, each group's from its parent's, so
    /// the lint is linear in the groups and their grants; naming the ancestor of each role
    /// walks the chain of a reported group once (at most `MAX_GROUP_DEPTH` groups).
    fn ineffective_scopes(&self, out: &mut Vec<Diagnostic>) {
        let p = self.p;
        let n = p.groups.len();
        let own_all: Vec<Bits> = p
            .groups
            .iter()
            .map(|g| match g.scope {
                ScopeDef::All => Bits::from_indices(g.grants.iter().map(|r| r.idx())),
                _ => Bits::EMPTY,
            })
            .collect();
        // above[g]: the roles that a proper ancestor of g grants with scope all.
        let mut above: Vec<Option<Bits>> = vec![None; n];
        for g in 0..n {
            let mut chain = Vec::new();
            let mut cur = Some(g);
            while let Some(c) = cur {
                if above[c].is_some() || chain.len() > n {
                    break;
                }
                chain.push(c);
                cur = p.groups[c].parent.map(|x| x.idx());
            }
            for &c in chain.iter().rev() {
                let bits = match p.groups[c].parent.map(|x| x.idx()) {
                    Some(q) if q < n => above[q].unwrap_or(Bits::EMPTY).union(own_all[q]),
                    _ => Bits::EMPTY,
                };
                above[c] = Some(bits);
            }
        }
        for (g, def) in p.groups.iter().enumerate() {
            if def.scope == ScopeDef::All {
                continue;
            }
            let Some(covered) = above[g].as_ref() else {
                continue;
            };
            let roles: Vec<RoleId> = def
                .grants
                .iter()
                .copied()
                .filter(|r| covered.get(r.idx()))
                .collect();
            if roles.is_empty() {
                continue;
            }
            // The nearest ancestor that grants each role with scope all, nearest first.
            let mut left = Bits::from_indices(roles.iter().map(|r| r.idx()));
            let mut by: Vec<(usize, Vec<&str>)> = Vec::new();
            let mut cur = def.parent;
            let mut steps = 0;
            while let (Some(a), false, true) = (cur, left.is_empty(), steps <= n) {
                let here = own_all[a.idx()].intersect(left);
                if !here.is_empty() {
                    let names: Vec<&str> = roles
                        .iter()
                        .filter(|r| here.get(r.idx()))
                        .map(|r| p.roles[r.idx()].name.as_str())
                        .collect();
                    by.push((a.idx(), names));
                    left = Bits::from_indices(left.iter().filter(|&r| !here.get(r)));
                }
                cur = p.groups[a.idx()].parent;
                steps += 1;
            }
            let names: Vec<&str> = roles
                .iter()
                .map(|r| p.roles[r.idx()].name.as_str())
                .collect();
            let ancestors: Vec<&str> = by.iter().map(|(a, _)| p.groups[*a].name.as_str()).collect();
            let mut d = Diagnostic::new(
                Code::IneffectiveScope,
                def.span,
                format!(
                    "the scope of access group `{}` does not narrow {} {}: its members hold {} everywhere through {}",
                    def.name,
                    if names.len() == 1 { "role" } else { "roles" },
                    words::list(&names),
                    if names.len() == 1 { "it" } else { "them" },
                    words::list(&ancestors)
                ),
            )
            .with_label(format!(
                "its scope changes no decision for {}",
                words::list(&names)
            ));
            for (a, granted) in &by {
                d = d.with_secondary(
                    p.groups[*a].span,
                    format!(
                        "`{}` grants {} with scope all, and every member of `{}` is a member of `{}`",
                        p.groups[*a].name,
                        words::list(granted),
                        def.name,
                        p.groups[*a].name
                    ),
                );
            }
            out.push(d.with_help(format!(
                "if {} should hold only where `{}`'s scope admits, give {} a scope or grant {} in a sub-group of {} instead; otherwise remove {} from the `grants` of `{}`",
                words::list(&names),
                def.name,
                words::list(&ancestors),
                if names.len() == 1 { "it" } else { "them" },
                if ancestors.len() == 1 { "it" } else { "them" },
                words::list(&names),
                def.name
            )));
        }
    }

    /// CP0208 and CP0209.
    fn over_broad(&self, out: &mut Vec<Diagnostic>) {
        let p = self.p;
        if p.groups.is_empty() {
            return;
        }
        let Some(admin) = Admin::new(self).of_groups(self) else {
            return; // The budget ran out: say nothing rather than guess.
        };
        let mut denied_roles = Bits::EMPTY;
        for (i, r) in p.rules.iter().enumerate() {
            if r.effect == Effect::Deny {
                denied_roles = denied_roles.union(self.subj[i]);
            }
        }
        // Under each group where full access starts, every group below it, in order.
        let starts = |g: usize| admin[g] && !p.groups[g].parent.is_some_and(|x| admin[x.idx()]);
        let mut below: Vec<Vec<usize>> = vec![Vec::new(); p.groups.len()];
        for (s, sub) in p.groups.iter().enumerate() {
            let mut cur = sub.parent;
            let mut steps = 0;
            while let (Some(c), true) = (cur, steps <= p.groups.len()) {
                if starts(c.idx()) {
                    below[c.idx()].push(s);
                }
                cur = p.groups[c.idx()].parent;
                steps += 1;
            }
        }
        for (g, def) in p.groups.iter().enumerate() {
            // Report where full access starts, not every group that inherits it.
            if !starts(g) {
                continue;
            }
            let (roles, _) = self.held_everywhere(GroupId(g as u32));
            let mut swallowed: Vec<(&GroupDef, Vec<&str>)> = Vec::new();
            for &s in &below[g] {
                let sub = &p.groups[s];
                let names: Vec<&str> = sub
                    .grants
                    .iter()
                    .filter(|r| !roles.get(r.idx()) && !denied_roles.get(r.idx()))
                    .map(|r| p.roles[r.idx()].name.as_str())
                    .collect();
                if !names.is_empty() {
                    swallowed.push((sub, names));
                }
            }
            if swallowed.is_empty() {
                continue;
            }
            let subs: Vec<&str> = swallowed.iter().map(|(s, _)| s.name.as_str()).collect();
            let mut d = Diagnostic::new(
                Code::OverBroadGrant,
                def.span,
                format!(
                    "access group `{}` gives full access to every resource, and its sub-groups inherit it",
                    def.name
                ),
            )
            .with_label("every action on every resource, in every state");
            for (sub, names) in &swallowed {
                d = d.with_secondary(
                    sub.span,
                    format!(
                        "`{}` is inside `{}`: its members already have full access, so granting {} adds nothing",
                        sub.name,
                        def.name,
                        words::list(names)
                    ),
                );
            }
            out.push(d.with_help(format!(
                "least privilege: allow `{}`'s roles only the actions they need, or take {} out of `{}`; keep full access to an administrator group without sub-groups that grant roles",
                def.name,
                words::list(&subs),
                def.name
            )));
        }
        let granting: Vec<usize> = (0..p.groups.len())
            .filter(|&g| !p.groups[g].grants.is_empty())
            .collect();
        let admins: Vec<usize> = granting.iter().copied().filter(|&g| admin[g]).collect();
        let (num, den) = ADMIN_SHARE;
        if granting.len() < ADMIN_SHARE_MIN_GROUPS || admins.len() * den <= granting.len() * num {
            return;
        }
        let first = &p.groups[admins[0]];
        let mut d = Diagnostic::new(
            Code::TooManyAdmins,
            first.span,
            format!(
                "{} of the {} access groups that grant roles are admin-like",
                admins.len(),
                granting.len()
            ),
        )
        .with_label("full access to every resource");
        for &g in &admins[1..] {
            d = d.with_secondary(p.groups[g].span, "full access as well");
        }
        out.push(d.with_help(
            "least privilege: keep full access to one administrator group, and give the other groups only the actions they need (more than half of the groups being admin-like usually means `*` or a broad action group is allowed to a role that many groups grant)",
        ));
    }
}

/// What deciding whether a group is admin-like (docs/lints.md, CP0208) needs: the allows'
/// masks, the roles some deny names, the permissions actions require, and the module grants.
struct Admin {
    allows: Masks,
    /// Per action: the subjects one of which, alone, is allowed it in every situation.
    alone: Vec<Bits>,
    /// Roles named by a deny that applies somewhere.
    denied: Bits,
    required: Bits,
    /// Each distinct set of subjects a case type grants some (module, action) to, and the
    /// intersection of them all.
    grants: Vec<Bits>,
    grants_alone: Bits,
}

impl Admin {
    fn new(cx: &Cx) -> Admin {
        let (p, w) = (cx.p, &cx.w);
        // What roles alone give: `everyone` is no role, and no group's grant.
        let allows = Masks::new(cx, Effect::Allow, &cx.raw_subj);
        let alone = (0..p.actions.len())
            .map(|a| {
                let loose = if w.loose.is_empty() {
                    Bits::FULL
                } else {
                    allows.loose_all[a]
                };
                let anchored = if w.anchored_situations() {
                    allows.anchored_all[a].union(allows.states_all[a])
                } else {
                    Bits::FULL
                };
                allows.global[a].union(loose.intersect(anchored))
            })
            .collect();
        let mut denied = Bits::EMPTY;
        for (i, r) in p.rules.iter().enumerate() {
            if r.effect == Effect::Deny && cx.region[i] != Region::Empty && !cx.acts[i].is_empty() {
                // A deny of `everyone` denies every role.
                denied = denied.union(cx.subj[i]);
            }
        }
        let required =
            Bits::from_indices(p.actions.iter().filter_map(|a| a.requires.map(|q| q.idx())));
        let mut grants: HashSet<Bits> = HashSet::new();
        for ct in &p.casetypes {
            let mut by_slot: HashMap<(ModuleId, ActionId), Bits> = HashMap::new();
            for line in &ct.module_grants {
                let subj = Bits::from_indices(line.subjects.iter().map(|s| subject_bit(p, *s)));
                for a in &line.actions {
                    let m = by_slot.entry((line.module, *a)).or_default();
                    *m = m.union(subj);
                }
            }
            grants.extend(by_slot.into_values());
        }
        let grants_alone = grants.iter().fold(Bits::FULL, |x, g| x.intersect(*g));
        // In no particular order: the test looks at all of them, and costs the same in any.
        let grants: Vec<Bits> = grants.into_iter().collect();
        Admin {
            allows,
            alone,
            denied,
            required,
            grants,
            grants_alone,
        }
    }

    /// Per group: is it admin-like? `None` when the budget ran out.
    fn of_groups(&self, cx: &Cx) -> Option<Vec<bool>> {
        let mut budget = Budget::new(cx);
        let mut known: HashMap<(Bits, Bits), bool> = HashMap::new();
        let mut out = Vec::with_capacity(cx.p.groups.len());
        for g in 0..cx.p.groups.len() {
            let (roles, permits) = cx.held_everywhere(GroupId(g as u32));
            let admin = match known.get(&(roles, permits)) {
                Some(&x) => x,
                None => {
                    let x = self.admin_like(cx, roles, permits, &mut budget)?;
                    known.insert((roles, permits), x);
                    x
                }
            };
            out.push(admin);
        }
        Some(out)
    }

    /// Whether members holding `roles` everywhere and `permits` may perform every action on
    /// every resource in every state: see docs/lints.md, CP0208.
    fn admin_like(&self, cx: &Cx, roles: Bits, permits: Bits, budget: &mut Budget) -> Option<bool> {
        let (p, w) = (cx.p, &cx.w);
        let situations = !w.loose.is_empty() || w.anchored_situations();
        if roles.is_empty() || !situations || p.actions.is_empty() {
            return Some(false);
        }
        if self.denied.intersects(&roles) || !self.required.is_subset(&permits) {
            return Some(false);
        }
        let n = p.actions.len();
        let m = &self.allows;
        let hits = |b: Bits| b.intersects(&roles);
        for a in 0..n {
            if hits(self.alone[a]) {
                continue;
            }
            // No one role covers every situation: each must be covered by one of them.
            if !budget.spend(1 + p.kinds.len() + w.total_states) {
                return None;
            }
            let g = m.global[a];
            let kind = |k: &KindId| hits(g.union(m.kind[k.idx() * n + a]));
            let loose = w.loose.iter().all(kind);
            let anchored = !w.anchored_situations()
                || w.anchored.iter().all(kind)
                || (0..w.total_states).all(|s| hits(g.union(m.state[s * n + a])));
            if !(loose && anchored) {
                return Some(false);
            }
        }
        // The module layer: whatever a case type lets anyone do through a module, these roles
        // may do through that module too.
        if !hits(self.grants_alone) {
            if !budget.spend(1 + self.grants.len()) {
                return None;
            }
            if !self.grants.iter().all(|g| hits(*g)) {
                return Some(false);
            }
        }
        Some(true)
    }
}

/// Whether resources of `kind` always have an anchor case: the case kind, and kinds whose chain
/// of parents reaches it (entity data must give such a resource its parent).
/// The subject bits of a rule or grant line, as the lints compare them: `everyone`, which every
/// principal holds, stands for every subject, so that an allow or deny of `everyone` covers one
/// of any role or relation.
fn subject_set(p: &Policy, subjects: &[Subject]) -> Bits {
    match subjects.contains(&Subject::Everyone) {
        true => Bits::FULL,
        false => Bits::from_indices(subjects.iter().map(|s| subject_bit(p, *s))),
    }
}

fn has_anchor(p: &Policy, kind: KindId) -> bool {
    let mut cur = Some(kind);
    let mut steps = 0;
    while let (Some(k), true) = (cur, steps <= p.kinds.len()) {
        if Some(k) == p.case_kind {
            return true;
        }
        cur = p.kinds[k.idx()].parent;
        steps += 1;
    }
    false
}

fn within(inner: Span, outer: Span) -> bool {
    inner.file == outer.file && inner.start >= outer.start && inner.end <= outer.end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(text: &str) -> Policy {
        let mut sources = crate::diagnostic::Sources::new();
        sources.add("t.casepol", text);
        let (ir, diags) = crate::api::check_sources(&sources);
        ir.unwrap_or_else(|| panic!("{diags:?}"))
    }

    /// Rules that share subjects and actions without covering each other make CP0203 compare
    /// each with many others: every pair of 40 roles allowed `view`, then `allow R0: view;`,
    /// which the first pair covers. With the budget it needs, CP0203 reports that rule; with
    /// too small a budget, it stops early and says nothing, and no lint spends more than its
    /// budget.
    #[test]
    fn out_of_budget_a_lint_falls_silent_and_never_guesses() {
        let mut text = String::from("action view;\nresource Note { }\n");
        let roles: Vec<String> = (0..40).map(|i| format!("R{i}")).collect();
        text.push_str(&format!("role {};\n", roles.join(", ")));
        for i in 0..roles.len() {
            for j in i + 1..roles.len() {
                text.push_str(&format!("allow R{i}, R{j}: view;\n"));
            }
        }
        text.push_str("allow R0: view;\n");
        let p = checked(&text);
        let shadowed =
            |ds: &[Diagnostic]| ds.iter().filter(|d| d.code == Code::ShadowedRule).count();

        let full = Cx::new(&p, MAX_LINT_COMPARISONS);
        let all = run(&full);
        assert_eq!(shadowed(&all), 1, "{all:?}");
        let needed = full.spent.get();
        assert!(needed > 10_000, "{needed}");

        let small = Cx::new(&p, 1_000);
        let some = run(&small);
        assert_eq!(shadowed(&some), 0);
        assert!(some.iter().all(|d| all.contains(d)), "{some:?}");
        // Four lints spend from a budget each: CP0204, CP0203 (data rules), CP0203 (module
        // grants) and CP0208.
        assert!(small.spent.get() <= 4 * 1_000, "{}", small.spent.get());
    }

    /// Regions compare by their closed forms as the sets of situations they stand for.
    #[test]
    fn regions_compare_as_sets_of_situations() {
        // One kind with an anchor (the case kind) and one case type of two states: every
        // situation is the case kind's, in one of the two states.
        let p = checked(
            "role R; action view; case Case { } casetype T { states A, B; initial A; final B; transition view: A -> B by R; }",
        );
        let w = World::new(&p);
        let (k, t) = (KindId(0), CaseTypeId(0));
        let both = Region::States(t, None);
        let a = Region::States(t, Some(vec![StateId(0)]));
        for (x, y) in [
            (Region::All, Region::Anchored(k)),
            (Region::All, both.clone()),
            (Region::Anchored(k), both.clone()),
        ] {
            assert!(w.subset(&x, &y) && w.subset(&y, &x), "{x:?} = {y:?}");
        }
        assert!(w.subset(&a, &Region::All) && !w.subset(&Region::All, &a));
        assert!(w.intersects(&a, &Region::Anchored(k)));
        assert!(!w.intersects(&a, &Region::States(t, Some(vec![StateId(1)]))));
        assert!(w.subset(&Region::Empty, &a) && !w.intersects(&Region::Empty, &Region::All));
    }
}

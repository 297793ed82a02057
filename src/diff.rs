//! `casepol diff`: every decision that differs between two versions of a policy, over the whole
//! finite domain, read from their IR and compiled masks (docs/diff.md).
//!
//! The domain is kind × place (no case, or case type × state) × action × module asked through ×
//! target state × the principal's effective subjects. Names are matched by name across the two
//! versions (a name removed at the position where another is added is a rename). For each place
//! of the domain both versions reduce the layers that depend only on the subjects (module, transition,
//! data) to a [`Model`]: a few sets of subjects the user must meet and one set the user must
//! miss. Two models are compared without enumerating subject sets: where they differ, the
//! minimal differing subject sets are found among the subjects the models name, and their size
//! is bounded by the proof in [`witnesses`]. What depends on data (group scopes, the access
//! mode, account requirements, access codes, rule conditions) is reported by what it depends on.

use crate::bits::Bits;
use crate::compile::{CompiledPolicy, Masks};
use crate::diagnostic::{Sources, Span};
use crate::ir::{Effect, Policy, RuleOrigin, RuleScope, ScopeDef, Subject};
use std::collections::{BTreeMap, HashMap};

/// At most this many changes are listed; the report says when more were found.
pub const MAX_DIFF_CHANGES: usize = 10_000;

/// At most this many subject sets are tested in one place of the domain when looking for
/// minimal witnesses; past it the place is reported as changed for every user it names.
pub const MAX_WITNESS_TESTS: usize = 200_000;

/// Rule conditions are enumerated (each on or off) when a place has at most this many distinct
/// ones across the two versions; past it the place is reported coarsely.
pub const MAX_CONDITIONS_ENUMERATED: usize = 4;

/// At most this many places of the domain are compared (kinds × places × actions × modules ×
/// targets, which is a product of bounded counts, not linear in the policy); past it the
/// report is marked `truncated`.
pub const MAX_DIFF_PLACES: usize = 20_000_000;

/// Which version a location is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Old,
    New,
}

/// A place in one of the two policies' files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Loc {
    pub side: Side,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Where the span ends, for annotations.
    #[serde(skip)]
    pub end_line: usize,
    #[serde(skip)]
    pub end_column: usize,
    /// What is there: `table cell Review × HR`, `rule`, `transition`, `module grant`, …
    pub what: String,
}

/// A declared name added, removed or renamed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameChange {
    /// `role`, `relation`, `action`, `kind`, `case type`, `state`, `module`, `group`, `permission`.
    pub what: &'static str,
    /// `added`, `removed` or `renamed`.
    pub change: &'static str,
    /// The name (a state as `CaseType.State`); for a rename, the old name.
    pub name: String,
    /// For a rename, the new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub at: Loc,
}

/// A decision that differs: for users whose effective subjects include `holding`, on
/// resources of `kinds` in `place`, action `action` (through `module`, to `target`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The subjects a user must hold together (a minimal set: no part of it changes alone);
    /// empty for every user (`everyone`, or a user with no other subject).
    pub holding: Vec<String>,
    pub action: String,
    pub kinds: Vec<String>,
    /// The case type, or `None` for a resource without a case.
    pub case_type: Option<String>,
    /// The states of the case type in which the change is the same (empty without a case).
    pub states: Vec<String>,
    /// The module the request comes through; `None` with `any_module` for a place where the
    /// module asked through changes nothing (its case type has no module grants and no module
    /// declares data roles), `None` without it for a request through no module.
    pub module: Option<String>,
    pub any_module: bool,
    pub target: Option<String>,
    /// `allow` or `deny`.
    pub from: &'static str,
    pub to: &'static str,
    /// Conditions of rules on which the change depends: a representative assignment, each
    /// `holds` or `does not hold`. Empty: the change does not depend on a condition.
    pub when: Vec<String>,
    /// The rules, cells, grants and transitions behind it that differ between the versions.
    pub at: Vec<Loc>,
}

impl Change {
    /// Access widens.
    pub fn is_grant(&self) -> bool {
        self.to == "allow"
    }
}

/// A change in a layer that depends on data: which attribute, code or permission it reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DataChange {
    /// `scope`, `access mode`, `requirement`, `access code`, `require group`, `group`.
    pub layer: &'static str,
    pub message: String,
    /// What the decision now depends on: an attribute, a permission, an access code class.
    pub depends_on: Vec<String>,
    pub at: Loc,
}

/// The whole difference between two versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub names: Vec<NameChange>,
    pub changes: Vec<Change>,
    pub data: Vec<DataChange>,
    /// More changes were found than [`MAX_DIFF_CHANGES`].
    pub truncated: bool,
    /// How many places of the domain were compared (for `verify`'s `no_wider_than`).
    #[serde(skip)]
    pub places: usize,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.changes.is_empty() && self.data.is_empty()
    }

    /// Whether access may widen: a decision goes from deny to allow, a name is added (its
    /// decisions are new), or a layer that depends on data changed (which way depends on the
    /// data, so it counts).
    pub fn widens(&self) -> bool {
        self.changes.iter().any(Change::is_grant)
            || self.names.iter().any(|n| n.change == "added")
            || !self.data.is_empty()
    }

    /// Whether a reported change covers a user with effective `subjects` asking `action` on a
    /// resource of `kind` in `place` (through `module`, to `target`): the same place and a
    /// `holding` set the user holds. For the cross-check (tests/diff.rs).
    #[allow(clippy::too_many_arguments)]
    pub fn covers(
        &self,
        kind: &str,
        place: Option<(&str, &str)>,
        action: &str,
        module: Option<&str>,
        target: Option<&str>,
        subjects: &[String],
    ) -> bool {
        self.changes.iter().any(|c| {
            c.action == action
                && c.kinds.iter().any(|k| k == kind)
                && c.case_type.as_deref() == place.map(|p| p.0)
                && place.is_none_or(|p| c.states.iter().any(|s| s == p.1))
                && (c.any_module || c.module.as_deref() == module)
                && c.target.as_deref() == target
                && c.holding.iter().all(|h| subjects.contains(h))
        })
    }
}

// ---- names --------------------------------------------------------------------------------

/// How the names of one category match: old index → new index, and what was added, removed
/// or renamed. A name is matched by name; a removed name at the same position as an added one
/// is a rename.
struct Matching {
    old_to_new: Vec<Option<u32>>,
    new_to_old: Vec<Option<u32>>,
    renamed: Vec<(usize, usize)>,
    removed: Vec<usize>,
    added: Vec<usize>,
}

fn match_names(old: &[&str], new: &[&str]) -> Matching {
    let index: HashMap<&str, usize> = new.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut m = Matching {
        old_to_new: vec![None; old.len()],
        new_to_old: vec![None; new.len()],
        renamed: Vec::new(),
        removed: Vec::new(),
        added: Vec::new(),
    };
    for (i, n) in old.iter().enumerate() {
        if let Some(&j) = index.get(n) {
            m.old_to_new[i] = Some(j as u32);
            m.new_to_old[j] = Some(i as u32);
        }
    }
    for i in 0..old.len() {
        if m.old_to_new[i].is_none() {
            if i < new.len() && m.new_to_old[i].is_none() {
                m.old_to_new[i] = Some(i as u32);
                m.new_to_old[i] = Some(i as u32);
                m.renamed.push((i, i));
            } else {
                m.removed.push(i);
            }
        }
    }
    m.added = (0..new.len())
        .filter(|&j| m.new_to_old[j].is_none())
        .collect();
    m
}

// ---- subject sets over both versions -------------------------------------------------------

/// A set of subjects of the union of both versions (matched roles and relations), up to 512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
struct U([u64; 8]);

impl U {
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn meets(&self, o: &U) -> bool {
        self.0.iter().zip(o.0.iter()).any(|(a, b)| a & b != 0)
    }
    fn union(mut self, o: &U) -> U {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a |= b;
        }
        self
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..512).filter(|i| self.0[i / 64] & (1 << (i % 64)) != 0)
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// One version's view of the subject universe: its subject bit → universe index (`None` for
/// a subject the other version does not have, and for `everyone`).
struct View<'a> {
    c: &'a CompiledPolicy,
    bit_to_u: Vec<Option<u16>>,
    everyone_bit: Option<usize>,
}

impl View<'_> {
    fn u(&self, b: Bits) -> U {
        let mut u = U::default();
        for i in b.iter() {
            if let Some(Some(x)) = self.bit_to_u.get(i) {
                u.set(*x as usize);
            }
        }
        u
    }
    fn p(&self) -> &Policy {
        self.c.ir()
    }
}

// ---- the model of one place ------------------------------------------------------------------

/// The layers of one place that depend only on the subjects S (docs/diff.md): allowed iff S
/// meets every set of `meets` and misses `miss`. `None`: denied whatever the subjects.
/// `everyone` is not in the sets: `has_everyone` says the version's users all hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    meets: Vec<U>,
    miss: U,
    /// Whether `everyone` meets each set of `meets` (in order), and the miss set.
    everyone_meets: Vec<bool>,
    everyone_miss: bool,
}

fn allowed(m: &Option<Model>, has_everyone: bool, s: &U) -> bool {
    let Some(m) = m else { return false };
    // Scope: the effective subjects are not empty.
    if s.is_empty() && !has_everyone {
        return false;
    }
    let ev = has_everyone;
    m.meets
        .iter()
        .zip(&m.everyone_meets)
        .all(|(a, e)| a.meets(s) || (ev && *e))
        && !(m.miss.meets(s) || (ev && m.everyone_miss))
}

/// A place of the domain, in one version's ids.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub(crate) kind: u32,
    pub(crate) ct_state: Option<(u32, u32)>,
    pub(crate) action: u32,
    pub(crate) via: Option<u32>,
    pub(crate) target: Option<u32>,
}

/// What the layers that depend only on the subjects ask of a subject set at a place: the sets
/// it must meet before the data layer (the module's records and grant where the case type
/// uses modules, then the transition's `by`), the data masks, and the subjects the module
/// reads the data layer with. `diff` and `verify` both read a place through it, so a layer
/// added here reaches both.
pub(crate) struct Required {
    pub(crate) meets: Vec<Bits>,
    pub(crate) masks: Masks,
    pub(crate) read: Bits,
}

impl Required {
    /// The sets to meet, the data allow last, and the set to miss (the data deny), each within
    /// the subjects the module reads.
    pub(crate) fn meets_and_miss(self) -> (Vec<Bits>, Bits) {
        let Required {
            mut meets,
            masks,
            read,
        } = self;
        meets.push(masks.allow.intersect(read));
        (meets, masks.deny.intersect(read))
    }
}

/// The requirements of `pl` (with the data masks of the rules without a condition); `None`
/// when no subject set is allowed there: no module asked through where the case type uses
/// modules, a module that does not offer the action, or no such transition.
pub(crate) fn required(c: &CompiledPolicy, pl: &Place) -> Option<Required> {
    let mut meets: Vec<Bits> = Vec::new();
    let anchor_ct = pl.ct_state.map(|(t, _)| t);
    if let Some(t) = anchor_ct.filter(|t| c.uses_modules(*t)) {
        let m = pl.via?;
        if !c.module_offers(m, pl.action) {
            return None;
        }
        if let Some(records) = c.module_records(m) {
            meets.push(*records);
        }
        meets.push(c.module_grant(t, m, pl.action));
    }
    let read = c.data_subjects(pl.via, Bits::FULL);
    if let Some(target) = pl.target {
        let (t, s) = pl.ct_state?;
        let by = c.edge(t, s, pl.action, target)?;
        meets.push(by.intersect(read));
    }
    let masks = c.data_masks(pl.kind, pl.ct_state, pl.action);
    Some(Required { meets, masks, read })
}

/// The conditional rules of a place, each with the key that matches it across versions.
fn conditional_rules(v: &View<'_>, sources: &Sources, pl: &Place) -> Vec<(String, u32)> {
    if !v.c.has_conditions() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for list in v.c.conditional(pl.kind, pl.ct_state, pl.action) {
        for &c in list {
            let r = v.c.crule(c).rule;
            let rule = &v.p().rules[r as usize];
            let cond: Vec<&str> = rule.when.iter().map(|t| sources.snippet(t.span)).collect();
            out.push((cond.join(" and "), r));
        }
    }
    out
}

fn bits_of(v: &View<'_>, subjects: &[Subject]) -> Bits {
    Bits::from_indices(subjects.iter().map(|s| subject_bit(v.p(), *s)))
}

fn subject_bit(p: &Policy, s: Subject) -> usize {
    match s {
        Subject::Role(r) => r.idx(),
        Subject::Relation(r) => p.roles.len() + r.idx(),
        Subject::Everyone => p.roles.len() + p.relations.len(),
    }
}

/// The model of a place in one version, with the rules whose condition is in `on` counted as
/// unconditional and every other conditional rule left out.
fn model(v: &View<'_>, pl: &Place, cond: &[(String, u32)], on: &[&str]) -> Option<Model> {
    let mut req = required(v.c, pl)?;
    for (key, r) in cond {
        if on.contains(&key.as_str()) {
            let rule = &v.p().rules[*r as usize];
            let b = bits_of(v, &rule.subjects);
            match rule.effect {
                Effect::Allow => req.masks.allow = req.masks.allow.union(b),
                Effect::Deny => req.masks.deny = req.masks.deny.union(b),
            }
        }
    }
    let (meets, miss) = req.meets_and_miss();
    let ev = |b: &Bits| v.everyone_bit.is_some_and(|e| b.get(e));
    Some(Model {
        everyone_meets: meets.iter().map(ev).collect(),
        everyone_miss: ev(&miss),
        meets: meets.iter().map(|b| v.u(*b)).collect(),
        miss: v.u(miss),
    })
}

/// The minimal subject sets on which two models decide differently, each with the direction
/// (`true`: old denies, new allows).
///
/// Why these find every differing set. Write a version's decision for a subject set S as
/// `f(S) = (S ∩ A₁ ≠ ∅) ∧ … ∧ (S ∩ Aₖ ≠ ∅) ∧ (S ∩ D = ∅)` (module records, module grant,
/// transition and data allow are the `Aᵢ`, the data deny is `D`; `everyone` is in every S of a
/// version that names it). Say `f_new(S) = 1` and `f_old(S) = 0` (a grant; a revocation is the
/// same with the versions swapped). Then for each i pick `aᵢ ∈ S ∩ A′ᵢ`; and either S meets
/// `D`, and then pick `d ∈ S ∩ D`, or S misses some `Aⱼ`. Let W be the picked elements:
/// W ⊆ S, so W misses `D′` and meets every `A′ᵢ` (f_new(W) = 1), and W either holds `d` or,
/// being inside S, misses `Aⱼ` (f_old(W) = 0). So W differs in the same direction, and
/// |W| ≤ k + 1. Every minimal differing set (one no smaller subset of which differs in the
/// same direction) is therefore of size at most k + 1, lies inside the subjects the two models
/// name (a subject neither names changes no term), and every differing S contains one. The
/// search below tests the sets of size 0, 1, …, k + 1 over the named subjects, smallest first,
/// and keeps those with no kept subset: exactly the minimal ones. A user whose subjects S
/// differ thus holds a reported set; a user holding a reported set W exactly differs.
fn witnesses(
    old: &Option<Model>,
    new: &Option<Model>,
    ev_old: bool,
    ev_new: bool,
) -> Result<Vec<(U, bool)>, ()> {
    let mut named = U::default();
    let mut k = 0;
    for m in [old, new].into_iter().flatten() {
        for a in &m.meets {
            named = named.union(a);
        }
        named = named.union(&m.miss);
        k = k.max(m.meets.len());
    }
    let subjects: Vec<usize> = named.iter().collect();
    let mut found: Vec<(U, bool)> = Vec::new();
    let mut tests = 0usize;
    let mut chosen: Vec<usize> = Vec::new();
    for size in 0..=(k + 1).min(subjects.len()) {
        let mut fresh = Vec::new();
        let ok = combinations(&subjects, size, &mut chosen, 0, &mut |set| {
            tests += 1;
            if tests > MAX_WITNESS_TESTS {
                return false;
            }
            let mut s = U::default();
            for &i in set {
                s.set(i);
            }
            let (a, b) = (allowed(old, ev_old, &s), allowed(new, ev_new, &s));
            if a != b {
                let grant = b;
                let has_subset = found.iter().any(|(w, g)| *g == grant && w.union(&s) == s);
                if !has_subset {
                    fresh.push((s, grant));
                }
            }
            true
        });
        if !ok {
            return Err(());
        }
        found.extend(fresh);
    }
    Ok(found)
}

/// Calls `f` on every subset of `items` of `size` elements; stops when `f` says so.
fn combinations(
    items: &[usize],
    size: usize,
    chosen: &mut Vec<usize>,
    from: usize,
    f: &mut impl FnMut(&[usize]) -> bool,
) -> bool {
    if chosen.len() == size {
        return f(chosen);
    }
    for i in from..items.len() {
        if items.len() - i < size - chosen.len() {
            break;
        }
        chosen.push(items[i]);
        let go = combinations(items, size, chosen, i + 1, f);
        chosen.pop();
        if !go {
            return false;
        }
    }
    true
}

// ---- the comparison ----------------------------------------------------------------------------

/// Two versions side by side.
struct Pair<'a> {
    old: View<'a>,
    new: View<'a>,
    so: &'a Sources,
    sn: &'a Sources,
    /// Universe index → subject name.
    u_names: Vec<String>,
}

fn loc(sources: &Sources, side: Side, span: Span, what: String) -> Loc {
    let (line, column) = sources.line_col(span);
    let (end_line, end_column) = sources.line_col(Span {
        start: span.end,
        ..span
    });
    Loc {
        side,
        file: sources.name(span.file).to_string(),
        line,
        column,
        end_line,
        end_column,
        what,
    }
}

fn names<T>(items: &[T], f: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(f).collect()
}

/// Compares two checked and compiled versions of a policy.
pub fn diff(old: &CompiledPolicy, new: &CompiledPolicy) -> Report {
    let (po, pn) = (old.ir(), new.ir());
    let mut report = Report::default();
    let (so, sn) = (old.sources(), new.sources());

    let mut name_change =
        |what: &'static str, m: &Matching, o: Vec<(&str, Span)>, n: Vec<(&str, Span)>| {
            for &i in &m.removed {
                report.names.push(NameChange {
                    what,
                    change: "removed",
                    name: o[i].0.to_string(),
                    to: None,
                    at: loc(so, Side::Old, o[i].1, format!("{what} `{}`", o[i].0)),
                });
            }
            for &(i, j) in &m.renamed {
                report.names.push(NameChange {
                    what,
                    change: "renamed",
                    name: o[i].0.to_string(),
                    to: Some(n[j].0.to_string()),
                    at: loc(sn, Side::New, n[j].1, format!("{what} `{}`", n[j].0)),
                });
            }
            for &j in &m.added {
                report.names.push(NameChange {
                    what,
                    change: "added",
                    name: n[j].0.to_string(),
                    to: None,
                    at: loc(sn, Side::New, n[j].1, format!("{what} `{}`", n[j].0)),
                });
            }
        };
    macro_rules! category {
        ($what:expr, $field:ident) => {{
            let o: Vec<(&str, Span)> = po
                .$field
                .iter()
                .map(|x| (x.name.as_str(), x.span))
                .collect();
            let n: Vec<(&str, Span)> = pn
                .$field
                .iter()
                .map(|x| (x.name.as_str(), x.span))
                .collect();
            let m = match_names(&names(&o, |x| x.0), &names(&n, |x| x.0));
            name_change($what, &m, o, n);
            m
        }};
    }
    let roles = category!("role", roles);
    let relations = category!("relation", relations);
    let actions = category!("action", actions);
    let _permissions = category!("permission", permissions);
    let modules = category!("module", modules);
    let _groups = category!("group", groups);
    let kinds = category!("kind", kinds);
    let casetypes = category!("case type", casetypes);
    let mut states: Vec<Option<Matching>> = Vec::new();
    for (i, ct) in po.casetypes.iter().enumerate() {
        let Some(j) = casetypes.old_to_new[i] else {
            states.push(None);
            continue;
        };
        let nct = &pn.casetypes[j as usize];
        let q = |ct: &crate::ir::CaseTypeDef, s: &crate::ir::Named| {
            (format!("{}.{}", ct.name, s.name), s.span)
        };
        let o: Vec<(String, Span)> = ct.states.iter().map(|s| q(ct, s)).collect();
        let n: Vec<(String, Span)> = nct.states.iter().map(|s| q(nct, s)).collect();
        let m = match_names(
            &names(&ct.states, |s| s.name.as_str()),
            &names(&nct.states, |s| s.name.as_str()),
        );
        let o: Vec<(&str, Span)> = o.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        let n: Vec<(&str, Span)> = n.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        name_change("state", &m, o, n);
        states.push(Some(m));
    }

    // The subject universe: matched roles, then matched relations.
    let mut u_names = Vec::new();
    let mut old_bits = vec![None; po.roles.len() + po.relations.len() + 1];
    let mut new_bits = vec![None; pn.roles.len() + pn.relations.len() + 1];
    for (i, j) in roles.old_to_new.iter().enumerate() {
        if let Some(j) = j {
            old_bits[i] = Some(u_names.len() as u16);
            new_bits[*j as usize] = Some(u_names.len() as u16);
            u_names.push(pn.roles[*j as usize].name.clone());
        }
    }
    for (i, j) in relations.old_to_new.iter().enumerate() {
        if let Some(j) = j {
            old_bits[po.roles.len() + i] = Some(u_names.len() as u16);
            new_bits[pn.roles.len() + *j as usize] = Some(u_names.len() as u16);
            u_names.push(pn.relations[*j as usize].name.clone());
        }
    }
    let pair = Pair {
        old: View {
            everyone_bit: po.everyone.then_some(po.roles.len() + po.relations.len()),
            c: old,
            bit_to_u: old_bits,
        },
        new: View {
            everyone_bit: pn.everyone.then_some(pn.roles.len() + pn.relations.len()),
            c: new,
            bit_to_u: new_bits,
        },
        so,
        sn,
        u_names,
    };

    data_changes(&pair, &mut report);

    // Every place of the domain both versions have.
    let module_pairs: Vec<(u32, u32)> = modules
        .old_to_new
        .iter()
        .enumerate()
        .filter_map(|(i, j)| j.map(|j| (i as u32, j)))
        .collect();
    let any_data_roles = po.modules.iter().any(|m| m.data_roles.is_some())
        || pn.modules.iter().any(|m| m.data_roles.is_some());
    let mut grouped: BTreeMap<ChangeKey, (Vec<String>, Vec<Loc>)> = BTreeMap::new();
    let mut count = 0usize;
    let mut visited = 0usize;
    'kinds: for (ko, kn) in kinds.old_to_new.iter().enumerate() {
        let Some(kn) = *kn else { continue };
        let is_case = po.kinds[ko].is_case && pn.kinds[kn as usize].is_case;
        let mut places: Vec<Option<PlacePair>> = Vec::new();
        if !is_case {
            places.push(None);
        }
        // A resource has a case only when its kind is the case kind or lies under it.
        let anchored = under_case(po, ko) || under_case(pn, kn as usize);
        for (to, tn) in casetypes.old_to_new.iter().enumerate() {
            if !anchored {
                break;
            }
            let (Some(tn), Some(Some(sm))) = (*tn, states.get(to)) else {
                continue;
            };
            for (s_o, s_n) in sm.old_to_new.iter().enumerate() {
                if let Some(s_n) = s_n {
                    places.push(Some(((to as u32, s_o as u32), (tn, *s_n))));
                }
            }
        }
        for place in &places {
            let uses_modules = place
                .is_some_and(|((to, _), (tn, _))| old.uses_modules(to) || new.uses_modules(tn));
            let mut vias: Vec<Option<(u32, u32)>> = vec![None];
            if uses_modules || any_data_roles {
                vias.extend(module_pairs.iter().map(|p| Some(*p)));
            }
            for (ao, an) in actions.old_to_new.iter().enumerate() {
                let Some(an) = *an else { continue };
                // Targets: the states either version has an edge to from here by the action.
                let mut targets: Vec<Option<(u32, u32)>> = vec![None];
                if let Some(((to, s_o), (tn, s_n))) = *place {
                    if let Some(Some(sm)) = states.get(to as usize) {
                        for (t_o, _) in old.edges(to, s_o, ao as u32) {
                            if let Some(t_n) = sm.old_to_new[*t_o as usize] {
                                targets.push(Some((*t_o, t_n)));
                            }
                        }
                        for (t_n, _) in new.edges(tn, s_n, an) {
                            if let Some(t_o) = sm.new_to_old[*t_n as usize] {
                                if !targets.contains(&Some((t_o, *t_n))) {
                                    targets.push(Some((t_o, *t_n)));
                                }
                            }
                        }
                    }
                }
                for via in &vias {
                    for target in &targets {
                        visited += 1;
                        if visited > MAX_DIFF_PLACES {
                            report.truncated = true;
                            break 'kinds;
                        }
                        let po_ = Place {
                            kind: ko as u32,
                            ct_state: place.map(|p| p.0),
                            action: ao as u32,
                            via: via.map(|v| v.0),
                            target: target.map(|t| t.0),
                        };
                        let pn_ = Place {
                            kind: kn,
                            ct_state: place.map(|p| p.1),
                            action: an,
                            via: via.map(|v| v.1),
                            target: target.map(|t| t.1),
                        };
                        for (holding, grant, when, at) in compare(&pair, &po_, &pn_) {
                            count += 1;
                            if count > MAX_DIFF_CHANGES {
                                report.truncated = true;
                                break;
                            }
                            let key = ChangeKey {
                                any_module: vias.len() == 1,
                                case_type: place.map(|((_, _), (tn, _))| {
                                    pn.casetypes[tn as usize].name.clone()
                                }),
                                state: place.map(|((_, _), (tn, sn))| {
                                    pn.casetypes[tn as usize].states[sn as usize].name.clone()
                                }),
                                action: pn.actions[an as usize].name.clone(),
                                module: via.map(|v| pn.modules[v.1 as usize].name.clone()),
                                target: target.and_then(|t| {
                                    place.map(|((_, _), (tn, _))| {
                                        pn.casetypes[tn as usize].states[t.1 as usize].name.clone()
                                    })
                                }),
                                holding,
                                grant,
                                when,
                            };
                            let e = grouped.entry(key).or_default();
                            let kind = pn.kinds[kn as usize].name.clone();
                            if !e.0.contains(&kind) {
                                e.0.push(kind);
                            }
                            for l in at {
                                if !e.1.contains(&l) {
                                    e.1.push(l);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // The same change in several states of a case type is one line.
    let mut merged: Vec<Change> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (k, (kinds, at)) in grouped {
        let change = Change {
            holding: k.holding,
            action: k.action,
            kinds,
            case_type: k.case_type,
            states: k.state.into_iter().collect(),
            module: k.module,
            any_module: k.any_module,
            target: k.target,
            from: if k.grant { "deny" } else { "allow" },
            to: if k.grant { "allow" } else { "deny" },
            when: k.when,
            at,
        };
        let key = format!(
            "{:?}",
            (
                &change.holding,
                &change.action,
                &change.kinds,
                &change.case_type,
                &change.module,
                &change.target,
                change.from,
                &change.when,
                &change.at
            )
        );
        match index.get(&key) {
            Some(&i) => merged[i].states.extend(change.states),
            None => {
                index.insert(key, merged.len());
                merged.push(change);
            }
        }
    }
    // States in declaration order.
    for c in &mut merged {
        if let Some(ct) = c
            .case_type
            .as_ref()
            .and_then(|t| pn.casetypes.iter().find(|x| &x.name == t))
        {
            c.states
                .sort_by_key(|s| ct.states.iter().position(|x| &x.name == s));
        }
    }
    report.changes = merged;
    report.places = visited;
    report
}

/// A (case type, state) in the old version's ids and in the new one's.
type PlacePair = ((u32, u32), (u32, u32));

/// A minimal differing subject set of a place: subject names, whether it is a grant, the
/// conditions it depends on, and the rules behind it.
type Found = (Vec<String>, bool, Vec<String>, Vec<Loc>);

/// An access mode by name: its attribute, each variant with who it admits, where it is.
type ModeText = (String, Vec<(String, String)>, Span);

/// Whether resources of kind `k` can have a case: it is the case kind or one of its ancestors is.
pub(crate) fn under_case(p: &Policy, k: usize) -> bool {
    let mut at = Some(k);
    // The checker rejects cycles among kinds; the bound keeps this finite anyway.
    for _ in 0..=p.kinds.len() {
        let Some(i) = at else { return false };
        if p.kinds[i].is_case {
            return true;
        }
        at = p.kinds[i].parent.map(|x| x.idx());
    }
    false
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct ChangeKey {
    any_module: bool,
    case_type: Option<String>,
    state: Option<String>,
    action: String,
    module: Option<String>,
    target: Option<String>,
    holding: Vec<String>,
    grant: bool,
    when: Vec<String>,
}

/// The differing minimal subject sets of one place: (subject names, grant, conditions, where).
fn compare(p: &Pair<'_>, po: &Place, pn: &Place) -> Vec<Found> {
    let co = conditional_rules(&p.old, p.so, po);
    let cn = conditional_rules(&p.new, p.sn, pn);
    let (eo, en) = (p.old.everyone_bit.is_some(), p.new.everyone_bit.is_some());
    let mo = model(&p.old, po, &co, &[]);
    let mn = model(&p.new, pn, &cn, &[]);
    if co.is_empty() && cn.is_empty() {
        if mo == mn && eo == en {
            return Vec::new();
        }
    } else {
        let ko: Vec<(&str, String)> = co
            .iter()
            .map(|(k, r)| (k.as_str(), rule_key(&p.old, *r)))
            .collect();
        let kn: Vec<(&str, String)> = cn
            .iter()
            .map(|(k, r)| (k.as_str(), rule_key(&p.new, *r)))
            .collect();
        if mo == mn && eo == en && ko == kn {
            return Vec::new();
        }
    }
    // The distinct conditions, each a variable.
    let mut keys: Vec<&str> = co
        .iter()
        .chain(cn.iter())
        .map(|(k, _)| k.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    // Per minimal set: the assignments (bit i: condition i holds) under which it differs.
    let mut out: BTreeMap<(U, bool), Vec<usize>> = BTreeMap::new();
    if keys.len() > MAX_CONDITIONS_ENUMERATED {
        return coarse(p, po, pn, &co, &cn, &keys);
    }
    let n = 1usize << keys.len();
    for assignment in 0..n {
        let on: Vec<&str> = (0..keys.len())
            .filter(|i| assignment & (1 << i) != 0)
            .map(|i| keys[i])
            .collect();
        let (mo, mn) = match assignment {
            0 => (mo.clone(), mn.clone()),
            _ => (model(&p.old, po, &co, &on), model(&p.new, pn, &cn, &on)),
        };
        let Ok(w) = witnesses(&mo, &mn, eo, en) else {
            return coarse(p, po, pn, &co, &cn, &keys);
        };
        for (s, g) in w {
            out.entry((s, g)).or_default().push(assignment);
        }
    }
    let mut result = Vec::new();
    for ((s, grant), assignments) in out {
        // A representative assignment, naming only the conditions it depends on: condition i
        // does not matter when toggling it keeps every assignment among those that differ.
        let matters = |i: usize| {
            assignments
                .iter()
                .any(|a| !assignments.contains(&(a ^ (1 << i))))
        };
        let when = if assignments.len() == n {
            Vec::new()
        } else {
            let a = assignments[0];
            (0..keys.len())
                .filter(|&i| matters(i))
                .map(|i| match a & (1 << i) != 0 {
                    true => format!("`{}` holds", keys[i]),
                    false => format!("`{}` does not hold", keys[i]),
                })
                .collect()
        };
        let holding: Vec<String> = s.iter().map(|i| p.u_names[i].clone()).collect();
        let at = responsible(p, po, pn, &s);
        result.push((holding, grant, when, at));
    }
    result
}

/// A place with too many conditions or subjects to search: one change for every user, in both
/// directions, depending on every condition.
fn coarse(
    p: &Pair<'_>,
    po: &Place,
    pn: &Place,
    _co: &[(String, u32)],
    _cn: &[(String, u32)],
    keys: &[&str],
) -> Vec<Found> {
    let when: Vec<String> = keys.iter().map(|k| format!("`{k}` (either way)")).collect();
    let at = responsible(p, po, pn, &U([u64::MAX; 8]));
    vec![
        (Vec::new(), true, when.clone(), at.clone()),
        (Vec::new(), false, when, at),
    ]
}

/// A rule as it reads whatever the version: effect, subjects, actions, states, where, origin
/// and condition, by name.
fn rule_key(v: &View<'_>, r: u32) -> String {
    let p = v.p();
    let rule = &p.rules[r as usize];
    let mut subjects: Vec<&str> = rule.subjects.iter().map(|s| p.subject_name(*s)).collect();
    subjects.sort_unstable();
    let mut actions: Vec<&str> = rule
        .actions
        .iter()
        .map(|a| p.actions[a.idx()].name.as_str())
        .collect();
    actions.sort_unstable();
    let (scope, states) = match rule.scope {
        RuleScope::Global => ("*".to_string(), Vec::new()),
        RuleScope::Kind(k) => (p.kinds[k.idx()].name.clone(), Vec::new()),
        RuleScope::CaseType(t) => {
            let ct = &p.casetypes[t.idx()];
            (
                ct.name.clone(),
                rule.states
                    .iter()
                    .map(|s| ct.states[s.idx()].name.as_str())
                    .collect(),
            )
        }
    };
    format!(
        "{:?} {subjects:?} {actions:?} {scope} {states:?} {} {}",
        rule.effect,
        origin(p, rule.origin, rule.scope),
        rule.when.len()
    )
}

fn origin(p: &Policy, o: RuleOrigin, scope: RuleScope) -> String {
    match (o, scope) {
        (RuleOrigin::TableCell { state, subject }, RuleScope::CaseType(t)) => format!(
            "table cell {} × {}",
            p.casetypes[t.idx()].states[state.idx()].name,
            p.subject_name(subject)
        ),
        (RuleOrigin::Transition { .. }, _) => "transition".into(),
        _ => "rule".into(),
    }
}

/// The rules, transitions and module grants of the place that name a subject of `s` and that
/// the other version does not have as they are.
fn responsible(p: &Pair<'_>, po: &Place, pn: &Place, s: &U) -> Vec<Loc> {
    let mut out = Vec::new();
    let list = |v: &View<'_>, pl: &Place| -> Vec<(String, u32)> {
        let mut rules: Vec<u32> = Vec::new();
        if let Some(lists) = v.c.why_data(pl.kind, pl.ct_state, pl.action) {
            for l in lists {
                rules.extend_from_slice(l);
            }
        }
        for (_, r) in conditional_rules(v, if std::ptr::eq(v, &p.old) { p.so } else { p.sn }, pl) {
            rules.push(r);
        }
        rules.sort_unstable();
        rules.dedup();
        rules
            .into_iter()
            .filter(|r| {
                let rule = &v.p().rules[*r as usize];
                v.u(bits_of(v, &rule.subjects)).meets(s)
                    || rule.subjects.contains(&Subject::Everyone)
            })
            .map(|r| (rule_key(v, r), r))
            .collect()
    };
    let lo = list(&p.old, po);
    let ln = list(&p.new, pn);
    for (k, r) in &ln {
        if !lo.iter().any(|(k2, _)| k2 == k) {
            let rule = &p.new.p().rules[*r as usize];
            out.push(loc(
                p.sn,
                Side::New,
                rule.span,
                origin(p.new.p(), rule.origin, rule.scope),
            ));
        }
    }
    for (k, r) in &lo {
        if !ln.iter().any(|(k2, _)| k2 == k) {
            let rule = &p.old.p().rules[*r as usize];
            out.push(loc(
                p.so,
                Side::Old,
                rule.span,
                format!("{} (removed)", origin(p.old.p(), rule.origin, rule.scope)),
            ));
        }
    }
    // Module grant lines and transitions of the place's case type that name a subject of `s`.
    for (v, pl, side, sources) in [(&p.new, pn, Side::New, p.sn), (&p.old, po, Side::Old, p.so)] {
        let Some((t, st)) = pl.ct_state else { continue };
        let ct = &v.p().casetypes[t as usize];
        let other = if side == Side::New { &p.old } else { &p.new };
        let other_text: Vec<String> =
            other_texts(other, if side == Side::New { p.so } else { p.sn });
        for g in &ct.module_grants {
            if pl.via == Some(g.module.0)
                && g.actions.iter().any(|a| a.0 == pl.action)
                && v.u(bits_of(v, &g.subjects)).meets(s)
                && !other_text.contains(&normal(sources.snippet(g.span)))
            {
                out.push(loc(sources, side, g.span, "module grant".into()));
            }
        }
        for tr in &ct.transitions {
            if pl.target == Some(tr.to.0)
                && tr.action.0 == pl.action
                && tr.from.iter().any(|f| f.0 == st)
                && v.u(bits_of(v, &tr.by)).meets(s)
                && !other_text.contains(&normal(sources.snippet(tr.span)))
            {
                out.push(loc(sources, side, tr.span, "transition".into()));
            }
        }
    }
    out
}

fn normal(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of every module grant line and transition of a version, whitespace normalised.
fn other_texts(v: &View<'_>, sources: &Sources) -> Vec<String> {
    let mut out = Vec::new();
    for ct in &v.p().casetypes {
        for g in &ct.module_grants {
            out.push(normal(sources.snippet(g.span)));
        }
        for t in &ct.transitions {
            out.push(normal(sources.snippet(t.span)));
        }
    }
    out
}

// ---- layers that depend on data ------------------------------------------------------------------

fn data_changes(p: &Pair<'_>, report: &mut Report) {
    let (po, pn) = (p.old.p(), p.new.p());
    // Groups: roles given, permissions, scope.
    for gn in &pn.groups {
        let Some(go) = po.groups.iter().find(|g| g.name == gn.name) else {
            continue;
        };
        let both = |name: &str| {
            po.roles.iter().any(|r| r.name == name) && pn.roles.iter().any(|r| r.name == name)
        };
        let roles = |p: &Policy, g: &crate::ir::GroupDef| {
            let mut v: Vec<String> = g
                .grants
                .iter()
                .map(|r| p.roles[r.idx()].name.clone())
                .filter(|n| both(n))
                .collect();
            v.sort();
            v
        };
        let permits = |p: &Policy, g: &crate::ir::GroupDef| {
            let mut v: Vec<String> = g
                .permits
                .iter()
                .map(|r| p.permissions[r.idx()].name.clone())
                .collect();
            v.sort();
            v
        };
        let parent =
            |p: &Policy, g: &crate::ir::GroupDef| g.parent.map(|x| p.groups[x.idx()].name.clone());
        let scope = |p: &Policy, s: &Sources, g: &crate::ir::GroupDef| -> (String, Vec<String>) {
            match &g.scope {
                ScopeDef::All => ("all".into(), Vec::new()),
                ScopeDef::Assigned(r) => {
                    let v: Vec<String> = r
                        .iter()
                        .map(|x| p.relations[x.idx()].name.clone())
                        .collect();
                    let dep = v
                        .iter()
                        .map(|r| format!("relation `{r}` on the case"))
                        .collect();
                    (format!("assigned via {}", v.join(", ")), dep)
                }
                ScopeDef::Filter(mode, conds) => {
                    let text: Vec<String> =
                        conds.iter().map(|c| normal(s.snippet(c.span))).collect();
                    let attrs: Vec<String> = conds
                        .iter()
                        .map(|c| {
                            p.case_attrs()
                                .get(c.attr.idx())
                                .map(|a| format!("case attribute `{}`", a.name))
                                .unwrap_or_default()
                        })
                        .collect();
                    (
                        format!("filter {} {{ {} }}", mode.keyword(), text.join("; ")),
                        attrs,
                    )
                }
            }
        };
        let at = loc(p.sn, Side::New, gn.span, format!("group `{}`", gn.name));
        if roles(po, go) != roles(pn, gn) {
            report.data.push(DataChange {
                layer: "scope",
                message: format!(
                    "group `{}` gives roles {:?} → {:?}",
                    gn.name,
                    roles(po, go),
                    roles(pn, gn)
                ),
                depends_on: vec![format!("membership of group `{}`", gn.name)],
                at: at.clone(),
            });
        }
        if permits(po, go) != permits(pn, gn) {
            report.data.push(DataChange {
                layer: "permission",
                message: format!(
                    "group `{}` permits {:?} → {:?}",
                    gn.name,
                    permits(po, go),
                    permits(pn, gn)
                ),
                depends_on: vec![format!("membership of group `{}`", gn.name)],
                at: at.clone(),
            });
        }
        if parent(po, go) != parent(pn, gn) {
            report.data.push(DataChange {
                layer: "scope",
                message: format!(
                    "group `{}` parent {:?} → {:?}",
                    gn.name,
                    parent(po, go),
                    parent(pn, gn)
                ),
                depends_on: vec![format!("membership of group `{}`", gn.name)],
                at: at.clone(),
            });
        }
        let (a, da) = scope(po, p.so, go);
        let (b, db) = scope(pn, p.sn, gn);
        if a != b {
            let mut dep: Vec<String> = da.into_iter().chain(db).collect();
            dep.sort();
            dep.dedup();
            report.data.push(DataChange {
                layer: "scope",
                message: format!("group `{}` scope `{a}` → `{b}`", gn.name),
                depends_on: dep,
                at,
            });
        }
    }
    // Access mode, per variant.
    let mode = |p: &Policy| -> Option<ModeText> {
        let k = p.case_kind?;
        let kind = &p.kinds[k.idx()];
        let m = kind.mode.as_ref()?;
        let attr = kind.attrs.get(m.attr.idx())?;
        let crate::ir::Type::Enum(e) = attr.ty else {
            return None;
        };
        let variants = &p.enums[e.idx()].variants;
        let arms = m
            .arms
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let v = variants.get(i).cloned().unwrap_or_default();
                let who = match a {
                    None => "everyone".to_string(),
                    Some(r) => r
                        .iter()
                        .map(|x| p.relations[x.idx()].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                (v, who)
            })
            .collect();
        Some((attr.name.clone(), arms, m.span))
    };
    let (mo, mn) = (mode(po), mode(pn));
    let same = match (&mo, &mn) {
        (Some(a), Some(b)) => {
            a.0 == b.0 && {
                let mut x = a.1.clone();
                let mut y = b.1.clone();
                x.sort();
                y.sort();
                x == y
            }
        }
        (None, None) => true,
        _ => false,
    };
    if !same {
        let at = match (&mn, &mo) {
            (Some(n), _) => loc(p.sn, Side::New, n.2, "access mode".into()),
            (None, Some(o)) => loc(p.so, Side::Old, o.2, "access mode (removed)".into()),
            _ => unreachable_loc(p),
        };
        let show = |m: &Option<ModeText>| match m {
            None => "none".to_string(),
            Some((a, arms, _)) => format!(
                "on `{a}`: {}",
                arms.iter()
                    .map(|(v, w)| format!("{v} → {w}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut dep: Vec<String> = mo
            .iter()
            .chain(mn.iter())
            .map(|m| format!("case attribute `{}`", m.0))
            .collect();
        dep.dedup();
        report.data.push(DataChange {
            layer: "access mode",
            message: format!("access mode {} → {}", show(&mo), show(&mn)),
            depends_on: dep,
            at,
        });
    }
    // Per action: requirement and access codes.
    for an in &pn.actions {
        let Some(ao) = po.actions.iter().find(|a| a.name == an.name) else {
            continue;
        };
        let at = loc(p.sn, Side::New, an.span, format!("action `{}`", an.name));
        let req = |p: &Policy, a: &crate::ir::ActionDef| {
            a.requires.map(|r| p.permissions[r.idx()].name.clone())
        };
        if req(po, ao) != req(pn, an) {
            report.data.push(DataChange {
                layer: "requirement",
                message: format!(
                    "`{}` requires {:?} → {:?}",
                    an.name,
                    req(po, ao),
                    req(pn, an)
                ),
                depends_on: req(po, ao)
                    .into_iter()
                    .chain(req(pn, an))
                    .map(|p| format!("account permission `{p}`"))
                    .collect(),
                at: at.clone(),
            });
        }
        for (class, o, n) in [
            ("read", ao.read_code, an.read_code),
            ("write", ao.write_code, an.write_code),
        ] {
            if o != n {
                report.data.push(DataChange {
                    layer: "access code",
                    message: format!(
                        "`{}` {} the {class} access code",
                        an.name,
                        if n { "now checks" } else { "no longer checks" }
                    ),
                    depends_on: vec![format!("{class} access code")],
                    at: at.clone(),
                });
            }
        }
    }
    if po.require_group != pn.require_group {
        report.data.push(DataChange {
            layer: "require group",
            message: format!(
                "`require group` {} → {}",
                po.require_group, pn.require_group
            ),
            depends_on: vec!["group membership".into()],
            at: unreachable_loc(p),
        });
    }
}

/// The start of the new policy's first file, for a change that has no place of its own.
fn unreachable_loc(p: &Pair<'_>) -> Loc {
    let file = p.sn.iter().next().map(|(id, _, _)| id);
    match file {
        Some(f) => loc(p.sn, Side::New, Span::new(f, 0, 0), "policy".into()),
        None => Loc {
            side: Side::New,
            file: String::new(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            what: "policy".into(),
        },
    }
}

// ---- text ------------------------------------------------------------------------------------

impl Change {
    /// One line: ``HR: `edit` on Claim in ChangeEmail / Review: deny → allow (new.casepol:40:3, table cell Review × HR)``.
    pub fn text(&self) -> String {
        let who = match self.holding.len() {
            0 => "every user".to_string(),
            1 => format!("`{}`", self.holding[0]),
            2 => format!(
                "a user holding both `{}` and `{}`",
                self.holding[0], self.holding[1]
            ),
            _ => format!(
                "a user holding all of {}",
                self.holding
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut s = format!("{who}: `{}` on {}", self.action, self.kinds.join(", "));
        if let Some(t) = &self.case_type {
            match self.states.as_slice() {
                [] => s.push_str(&format!(" in {t}")),
                [one] if one.is_empty() => s.push_str(&format!(" in {t}")),
                states => s.push_str(&format!(" in {t} / {}", states.join(", "))),
            }
        } else {
            s.push_str(" outside a case");
        }
        match (&self.module, self.any_module) {
            (Some(m), _) => s.push_str(&format!(" via {m}")),
            (None, false) => s.push_str(" via no module"),
            (None, true) => {}
        }
        if let Some(t) = &self.target {
            s.push_str(&format!(" to {t}"));
        }
        s.push_str(&format!(": {} → {}", self.from, self.to));
        if !self.when.is_empty() {
            s.push_str(&format!(" when {}", self.when.join(" and ")));
        }
        if !self.at.is_empty() {
            let at: Vec<String> = self
                .at
                .iter()
                .map(|l| format!("{}:{}:{}, {}", l.file, l.line, l.column, l.what))
                .collect();
            s.push_str(&format!(" ({})", at.join("; ")));
        }
        s
    }
}

impl Report {
    /// The report for people: names, then decisions, then data-dependent layers.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str("no decision differs\n");
            return out;
        }
        for n in &self.names {
            match &n.to {
                Some(to) => out.push_str(&format!(
                    "{} `{}` renamed to `{to}` ({}:{}:{})\n",
                    n.what, n.name, n.at.file, n.at.line, n.at.column
                )),
                None => out.push_str(&format!(
                    "{} `{}` {} ({}:{}:{})\n",
                    n.what, n.name, n.change, n.at.file, n.at.line, n.at.column
                )),
            }
        }
        for c in &self.changes {
            out.push_str(&c.text());
            out.push('\n');
        }
        for d in &self.data {
            out.push_str(&format!(
                "{}: {}; depends on {} ({}:{}:{})\n",
                d.layer,
                d.message,
                d.depends_on.join(", "),
                d.at.file,
                d.at.line,
                d.at.column
            ));
        }
        if self.truncated {
            out.push_str(&format!(
                "… cut short: more than {MAX_DIFF_CHANGES} changes or {MAX_DIFF_PLACES} places (docs/diff.md, limits)\n"
            ));
        }
        let grants = self.changes.iter().filter(|c| c.is_grant()).count();
        out.push_str(&format!(
            "{} name change(s), {} decision change(s) ({} grant, {} revoke), {} data-dependent change(s)\n",
            self.names.len(),
            self.changes.len(),
            grants,
            self.changes.len() - grants,
            self.data.len()
        ));
        out
    }

    /// Every finding with its location and message, for SARIF and GitHub annotations: the
    /// level (`warning` for a grant or an addition, `notice` otherwise), the location and the
    /// message.
    pub fn findings(&self) -> Vec<(&'static str, &Loc, String)> {
        let mut out = Vec::new();
        for n in &self.names {
            let msg = match &n.to {
                Some(to) => format!("{} `{}` renamed to `{to}`", n.what, n.name),
                None => format!("{} `{}` {}", n.what, n.name, n.change),
            };
            let level = if n.change == "added" {
                "warning"
            } else {
                "notice"
            };
            out.push((level, &n.at, msg));
        }
        for c in &self.changes {
            let level = if c.is_grant() { "warning" } else { "notice" };
            // Annotate the first place in the new version, or else the first at all.
            if let Some(l) = c.at.iter().find(|l| l.side == Side::New).or(c.at.first()) {
                out.push((level, l, c.text()));
            }
        }
        for d in &self.data {
            out.push(("warning", &d.at, format!("{}: {}", d.layer, d.message)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    //! The witness search against every subject set, on random small models.
    use super::*;

    /// A small deterministic generator (xorshift), so the test needs no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn set(&mut self, n: usize) -> U {
            let mut u = U::default();
            for i in 0..n {
                if self.next() % 3 == 0 {
                    u.set(i);
                }
            }
            u
        }
        fn model(&mut self, n: usize) -> Option<Model> {
            if self.next() % 10 == 0 {
                return None;
            }
            let k = 1 + (self.next() % 3) as usize;
            let meets: Vec<U> = (0..k).map(|_| self.set(n)).collect();
            Some(Model {
                everyone_meets: (0..k).map(|_| self.next() % 4 == 0).collect(),
                everyone_miss: self.next() % 8 == 0,
                meets,
                miss: self.set(n),
            })
        }
    }

    fn subset(w: &U, s: &U) -> bool {
        w.union(s) == *s
    }

    /// Every differing subject set contains a reported set of the same direction; every
    /// reported set differs that way, and none contains another of its direction.
    #[test]
    fn witnesses_are_exactly_the_minimal_differing_sets() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let n = 6;
        let mut differing = 0;
        for _ in 0..3_000 {
            let (old, new) = (rng.model(n), rng.model(n));
            let (eo, en) = (rng.next() % 5 == 0, rng.next() % 5 == 0);
            let found = witnesses(&old, &new, eo, en).expect("within the budget");
            for bits in 0u64..(1 << n) {
                let s = U([bits, 0, 0, 0, 0, 0, 0, 0]);
                let (a, b) = (allowed(&old, eo, &s), allowed(&new, en, &s));
                if a != b {
                    differing += 1;
                    assert!(
                        found.iter().any(|(w, g)| *g == b && subset(w, &s)),
                        "{s:?} differs ({a} → {b}) and holds no reported set: {found:?}\n{old:?}\n{new:?}"
                    );
                }
            }
            for (w, g) in &found {
                assert_eq!(allowed(&new, en, w), *g);
                assert_ne!(allowed(&old, eo, w), *g);
                assert!(!found.iter().any(|(v, h)| h == g && v != w && subset(v, w)));
            }
        }
        assert!(differing > 10_000, "only {differing} differing sets");
    }

    #[test]
    fn names_match_by_name_and_renames_by_position() {
        let m = match_names(&["a", "b", "c"], &["c", "x", "a", "d"]);
        assert_eq!(m.old_to_new, vec![Some(2), Some(1), Some(0)]);
        assert_eq!(m.renamed, vec![(1, 1)]);
        assert!(m.removed.is_empty());
        assert_eq!(m.added, vec![3]);
        let m = match_names(&["a", "b"], &["a"]);
        assert_eq!(m.removed, vec![1]);
    }
}

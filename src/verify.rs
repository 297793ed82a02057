//! Proven properties (docs/policy-tests.md §8): `never` and `only` claims over the whole finite
//! domain, each proved exactly or refuted by a concrete request and entities.
//!
//! A property says which users may never be allowed (`never`: a user holding one of these
//! subjects; `only`: a user holding none of these) an action in part of the domain (kinds,
//! case types and states, modules, access-mode values). The domain is that of `casepol diff`
//! (docs/diff.md): kind × place × action × module × target state × access-mode value, each read
//! from the compiled masks. At each point the question "is some user allowed?" is answered
//! over the subject sets a user can really hold: a set of relations held, and the roles of the
//! groups the user is in whose scopes admit the case. The search is exact for everything but
//! what depends on attribute values (scope filters and rule conditions), which it treats
//! optimistically (a filter admits or not, a condition holds or not, whichever allows); so
//! "no user is allowed" there is a proof. A point where a user may be allowed becomes a
//! concrete world (entities and a request), decided by the VM: allowed, it is the
//! counterexample; denied (a filter or condition the world does not meet), the property is
//! "not proven", naming what it depends on. A proof is never claimed without one.

use crate::api::Policy as Api;
use crate::bits::Bits;
use crate::compile::CompiledPolicy;
use crate::diagnostic::{words, Code, Diagnostic, Span};
use crate::diff::{required, under_case, Place};
use crate::ir::{CondTest, Effect, Policy, ScopeDef, Subject, Type, Value};
use crate::request::Request;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};

/// At most this many relations that group scopes read (`assigned via`) are enumerated at one
/// point (2ⁿ sets held); past it the property is not proven.
pub const MAX_SCOPE_RELATIONS: usize = 10;

/// At most this many candidate worlds are built and decided for one property.
pub const MAX_WORLDS_TRIED: usize = 64;

/// At most this many points (kind × place × action × module × target × access-mode value) are
/// checked for one property; past it the property is not proven.
pub const MAX_VERIFY_POINTS: usize = 20_000_000;

/// A name written in a property, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

/// Which users the claim is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimKind {
    /// No user holding one of the subjects is allowed.
    Never,
    /// No user holding none of the subjects is allowed.
    Only,
    /// Nothing the policy allows is denied by the policy the property names: the policy is no
    /// more permissive than that one.
    #[serde(rename = "no_wider_than")]
    NoWiderThan,
}

/// A property as written in a test file, before its names are resolved against a policy.
#[derive(Debug, Clone)]
pub struct PropertySpec {
    pub name: String,
    /// The whole property object.
    pub span: Span,
    pub description: Option<String>,
    pub claim: ClaimKind,
    pub subjects: Vec<Word>,
    /// Empty: every action.
    pub actions: Vec<Word>,
    /// `CaseType` or `CaseType / State`; empty: everywhere, resources without a case too.
    pub places: Vec<Word>,
    pub kinds: Vec<Word>,
    pub modules: Vec<Word>,
    /// Values of the case kind's access-mode attribute.
    pub modes: Vec<Word>,
    /// For `no_wider_than`: the other policy's path, as written.
    pub wider_than: Option<Word>,
}

/// A property resolved against one policy.
#[derive(Debug, Clone)]
pub struct Property {
    pub name: String,
    pub claim: ClaimKind,
    subjects: Bits,
    actions: Vec<u32>,
    /// `None`: every place, resources without a case too.
    places: Option<Vec<(u32, Option<u32>)>>,
    kinds: Option<Vec<u32>>,
    modules: Option<Vec<u32>>,
    modes: Option<Vec<u32>>,
}

/// What became of a property.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    /// No user is allowed anywhere in the domain: `points` points were checked.
    Proven { points: usize },
    /// A concrete world where a user the claim excludes is allowed.
    Refuted(Box<Counterexample>),
    /// Neither: the search met what it cannot decide without data, named in `depends_on`.
    Unproven {
        points: usize,
        depends_on: Vec<String>,
    },
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Proven { .. } => "proven",
            Verdict::Refuted(_) => "refuted",
            Verdict::Unproven { .. } => "unproven",
        }
    }
}

/// A request that is allowed on `entities`, against the property: `casepol explain` takes
/// both as they are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counterexample {
    pub request: Json,
    pub entities: Json,
    /// The principal's effective subjects on the resource.
    pub holding: Vec<String>,
}

// ---- resolving names --------------------------------------------------------------------------

fn unknown(w: &Word, what: &str, prop: &str, names: &[&str]) -> Diagnostic {
    let help = words::did_you_mean(&w.text, names.iter().copied()).unwrap_or_else(|| {
        if names.is_empty() {
            format!("the policy declares no {what}")
        } else {
            format!("the {what}s are {}", words::list(names.iter().take(20)))
        }
    });
    Diagnostic::new(
        Code::InvalidProperty,
        w.span,
        match what.split_once(" of ") {
            // `unknown state `Reveiw` of case type `ChangeEmail` …`
            Some((head, tail)) => {
                format!("unknown {head} `{}` of {tail} in property `{prop}`", w.text)
            }
            None => format!("unknown {what} `{}` in property `{prop}`", w.text),
        },
    )
    .with_label(format!("not {} {what} of the policy", words::article(what)))
    .with_help(help)
}

/// Resolves the names of a property against a checked policy; each unknown name is a `CP0403`
/// diagnostic at its place in the test file.
pub fn resolve(p: &Policy, spec: &PropertySpec) -> Result<Property, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let prop = spec.name.as_str();
    let mut subjects = Bits::EMPTY;
    let mut subject_names: Vec<&str> = p.roles.iter().map(|r| r.name.as_str()).collect();
    subject_names.extend(p.relations.iter().map(|r| r.name.as_str()));
    for w in &spec.subjects {
        match subject_names.iter().position(|n| *n == w.text) {
            Some(i) => subjects.set(i),
            None => diags.push(unknown(w, "role or relation", prop, &subject_names)),
        }
    }
    let action_names: Vec<&str> = p.actions.iter().map(|a| a.name.as_str()).collect();
    let mut actions = Vec::new();
    for w in &spec.actions {
        if w.text == "*" {
            actions.extend(0..p.actions.len() as u32);
        } else if let Some(i) = action_names.iter().position(|n| *n == w.text) {
            actions.push(i as u32);
        } else if p.permissions.iter().any(|x| x.name == w.text) {
            diags.push(
                Diagnostic::new(
                    Code::InvalidProperty,
                    w.span,
                    format!("`{}` is an account permission, not an action", w.text),
                )
                .with_label("a permission")
                .with_help("a property is about actions on resources; a permission depends only on the groups that permit it"),
            );
        } else {
            diags.push(unknown(w, "action", prop, &action_names));
        }
    }
    if spec.actions.is_empty() {
        actions.extend(0..p.actions.len() as u32);
    }
    actions.sort_unstable();
    actions.dedup();
    let ct_names: Vec<&str> = p.casetypes.iter().map(|c| c.name.as_str()).collect();
    let mut places = Vec::new();
    for w in &spec.places {
        let mut parts = w.text.split('/').map(str::trim);
        let ct = parts.next().unwrap_or_default();
        let state = parts.next();
        if parts.next().is_some() {
            diags.push(
                Diagnostic::new(
                    Code::InvalidProperty,
                    w.span,
                    format!("`{}` is not a case type or `CaseType / State`", w.text),
                )
                .with_label("expected `CaseType` or `CaseType / State`")
                .with_help("write a case type, or a case type and one of its states with a slash between them, such as \"ChangeEmail / Review\""),
            );
            continue;
        }
        let Some(t) = ct_names.iter().position(|n| *n == ct) else {
            diags.push(unknown(
                &Word {
                    text: ct.to_string(),
                    span: w.span,
                },
                "case type",
                prop,
                &ct_names,
            ));
            continue;
        };
        match state {
            None => places.push((t as u32, None)),
            Some(s) => {
                let states: Vec<&str> = p.casetypes[t]
                    .states
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                match states.iter().position(|n| *n == s) {
                    Some(i) => places.push((t as u32, Some(i as u32))),
                    None => diags.push(unknown(
                        &Word {
                            text: s.to_string(),
                            span: w.span,
                        },
                        &format!("state of case type `{ct}`"),
                        prop,
                        &states,
                    )),
                }
            }
        }
    }
    let kind_names: Vec<&str> = p.kinds.iter().map(|k| k.name.as_str()).collect();
    let kinds = find_all(&spec.kinds, &kind_names, "kind", prop, &mut diags);
    let module_names: Vec<&str> = p.modules.iter().map(|m| m.name.as_str()).collect();
    let modules = find_all(&spec.modules, &module_names, "module", prop, &mut diags);
    let mode_variants: Vec<&str> = mode_enum(p)
        .map(|e| p.enums[e].variants.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let modes = if !spec.modes.is_empty() && mode_variants.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::InvalidProperty,
                spec.modes[0].span,
                format!("property `{prop}` names an access mode, but the policy declares none"),
            )
            .with_label("no `mode` in the case kind")
            .with_help(
                "remove the property's mode list: the policy's case kind declares no access mode",
            ),
        );
        Vec::new()
    } else {
        find_all(
            &spec.modes,
            &mode_variants,
            "access-mode value",
            prop,
            &mut diags,
        )
    };
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Property {
        name: spec.name.clone(),
        claim: spec.claim,
        subjects,
        actions,
        places: (!spec.places.is_empty()).then_some(places),
        kinds: (!spec.kinds.is_empty()).then_some(kinds),
        modules: (!spec.modules.is_empty()).then_some(modules),
        modes: (!spec.modes.is_empty()).then_some(modes),
    })
}

fn find_all(
    words_: &[Word],
    names: &[&str],
    what: &str,
    prop: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<u32> {
    let mut out = Vec::new();
    for w in words_ {
        match names.iter().position(|n| *n == w.text) {
            Some(i) => out.push(i as u32),
            None => diags.push(unknown(w, what, prop, names)),
        }
    }
    out
}

/// The enum of the case kind's access-mode attribute.
fn mode_enum(p: &Policy) -> Option<usize> {
    let case = &p.kinds[p.case_kind?.idx()];
    let mode = case.mode.as_ref()?;
    match case.attrs.get(mode.attr.idx())?.ty {
        Type::Enum(e) => Some(e.idx()),
        _ => None,
    }
}

// ---- the search -------------------------------------------------------------------------------

/// One policy prepared for the search.
struct Ctx<'a> {
    api: &'a Api,
    c: &'a CompiledPolicy,
    p: &'a Policy,
    /// Per group: itself and its ancestors.
    anc: Vec<Vec<usize>>,
    /// Per group: the roles it grants, as subject bits.
    roles: Vec<Bits>,
    everyone: Option<usize>,
}

/// A point of the domain.
#[derive(Debug, Clone, Copy)]
struct Point {
    at: Place,
    mode: Option<u32>,
}

/// What a user must meet at a point, and the relations and groups that may give it.
struct Need {
    meets: Vec<Bits>,
    /// Subjects the user must not hold.
    forbid: Bits,
    requires: Option<usize>,
    /// Relations the user may hold on the resource (of its kind, its ancestors' and the case's).
    avail: Bits,
    anchored: bool,
}

/// A user the search builds: the relations held and the groups they are in.
#[derive(Debug, Clone, PartialEq)]
struct Choice {
    relations: Bits,
    groups: Vec<usize>,
    /// Groups with a scope filter assumed to admit the case (the rest assumed not to).
    filters_admit: Vec<usize>,
}

impl<'a> Ctx<'a> {
    fn new(api: &'a Api) -> Ctx<'a> {
        let c = api.compiled();
        let p = c.ir();
        let anc = (0..p.groups.len())
            .map(|g| {
                let mut out = vec![g];
                let mut at = p.groups[g].parent;
                while let Some(h) = at {
                    if out.contains(&h.idx()) || out.len() > p.groups.len() {
                        break;
                    }
                    out.push(h.idx());
                    at = p.groups[h.idx()].parent;
                }
                out
            })
            .collect();
        let roles = p
            .groups
            .iter()
            .map(|g| Bits::from_indices(g.grants.iter().map(|r| r.idx())))
            .collect();
        Ctx {
            api,
            c,
            p,
            anc,
            roles,
            everyone: p.everyone.then_some(p.roles.len() + p.relations.len()),
        }
    }

    fn rel_bit(&self, r: usize) -> usize {
        self.p.roles.len() + r
    }

    /// The subject bit of a role or relation named `name`.
    fn bit_of(&self, name: &str) -> Option<usize> {
        self.p
            .roles
            .iter()
            .position(|r| r.name == name)
            .or_else(|| {
                self.p
                    .relations
                    .iter()
                    .position(|r| r.name == name)
                    .map(|r| self.rel_bit(r))
            })
    }

    /// The kinds from the root down to `k`.
    fn chain(&self, k: usize) -> Vec<usize> {
        let mut out = vec![k];
        let mut at = self.p.kinds[k].parent;
        while let Some(x) = at {
            if out.contains(&x.idx()) || out.len() > self.p.kinds.len() {
                break;
            }
            out.push(x.idx());
            at = self.p.kinds[x.idx()].parent;
        }
        out.reverse();
        out
    }

    /// What a user must meet at `pt`; `None` when no user is allowed whatever they hold.
    /// What a user must meet at `pt` to be allowed, with no claim.
    fn need_for(&self, pt: &Point) -> Option<Need> {
        self.need(None, pt)
    }

    fn need(&self, prop: Option<&Property>, pt: &Point) -> Option<Need> {
        let c = self.c;
        let mut req = required(c, &pt.at)?;
        // Rule conditions: the most permissive assignment, every allow's condition holding
        // and no deny's; the data layer is monotone in the allows and antitone in the denies.
        for list in c.conditional(pt.at.kind, pt.at.ct_state, pt.at.action) {
            for &cr in list {
                let rule = &self.p.rules[c.crule(cr).rule as usize];
                if rule.effect == Effect::Allow {
                    req.masks.allow = req.masks.allow.union(self.bits_of(&rule.subjects));
                }
            }
        }
        let (mut meets, mut forbid) = req.meets_and_miss();
        if let (Some(v), Some((_, arms))) = (pt.mode, c.mode()) {
            if let Some(Some(rels)) = arms.get(v as usize) {
                meets.push(*rels);
            }
        }
        if let Some(prop) = prop {
            match prop.claim {
                ClaimKind::Never => meets.push(prop.subjects),
                ClaimKind::Only => forbid = forbid.union(prop.subjects),
                ClaimKind::NoWiderThan => {}
            }
        }
        let mut avail = Bits::EMPTY;
        let chain = self.chain(pt.at.kind as usize);
        for (r, owner) in self.p.relation_owner.iter().enumerate() {
            if owner.is_some_and(|k| chain.contains(&k.idx())) {
                avail.set(self.rel_bit(r));
            }
        }
        Some(Need {
            meets,
            forbid,
            requires: self.p.actions[pt.at.action as usize]
                .requires
                .map(|p| p.idx()),
            avail,
            anchored: pt.at.ct_state.is_some(),
        })
    }

    fn bits_of(&self, subjects: &[Subject]) -> Bits {
        Bits::from_indices(subjects.iter().map(|s| match s {
            Subject::Role(r) => r.idx(),
            Subject::Relation(r) => self.rel_bit(r.idx()),
            Subject::Everyone => self.p.roles.len() + self.p.relations.len(),
        }))
    }

    /// The roles group `g`'s membership gives with `relations` held: those of its ancestors
    /// whose scope admits (`None` when one that surely admits gives a forbidden role), and the
    /// filter groups among them assumed to admit.
    fn group_roles(
        &self,
        g: usize,
        relations: Bits,
        need: &Need,
        admit: &mut Vec<usize>,
    ) -> Option<Bits> {
        let mut out = Bits::EMPTY;
        for &h in &self.anc[g] {
            let roles = self.roles[h];
            match &self.p.groups[h].scope {
                ScopeDef::All => {}
                ScopeDef::Assigned(rs) => {
                    let held =
                        need.anchored && rs.iter().any(|r| relations.get(self.rel_bit(r.idx())));
                    if !held {
                        continue;
                    }
                }
                ScopeDef::Filter(_, conds) => {
                    // Optimistic: admits when its roles are harmless, not otherwise.
                    if need.anchored && !conds.is_empty() && !roles.intersects(&need.forbid) {
                        if !admit.contains(&h) {
                            admit.push(h);
                        }
                    } else {
                        continue;
                    }
                }
            }
            if roles.intersects(&need.forbid) {
                return None;
            }
            out = out.union(roles);
        }
        Some(out)
    }

    fn gives(&self, g: usize, perm: usize) -> bool {
        self.anc[g]
            .iter()
            .any(|&h| self.p.groups[h].permits.iter().any(|p| p.idx() == perm))
    }

    /// The effective subjects of a user choosing `relations` and `groups`; `None` when one
    /// is forbidden.
    fn subjects(
        &self,
        relations: Bits,
        groups: &[usize],
        need: &Need,
    ) -> Option<(Bits, Vec<usize>)> {
        if relations.intersects(&need.forbid) {
            return None;
        }
        let mut s = relations;
        let mut admit = Vec::new();
        for &g in groups {
            s = s.union(self.group_roles(g, relations, need, &mut admit)?);
        }
        if let Some(e) = self.everyone {
            if need.forbid.get(e) {
                return None;
            }
            s.set(e);
        }
        Some((s, admit))
    }

    fn satisfies(&self, s: &Bits, groups: &[usize], need: &Need) -> bool {
        !s.is_empty()
            && need.meets.iter().all(|m| m.intersects(s))
            && need
                .requires
                .is_none_or(|p| groups.iter().any(|&g| self.gives(g, p)))
            && (!self.p.require_group || !groups.is_empty())
    }

    /// A user allowed at the point by the optimistic reading, as small as the greedy removal
    /// of relations and groups leaves it; `None` when no user is.
    fn find_user(&self, need: &Need) -> Result<Option<Choice>, String> {
        let scope_rels: Vec<usize> = need
            .avail
            .iter()
            .filter(|&b| !need.forbid.get(b))
            .filter(|&b| {
                self.p.groups.iter().any(|g| match &g.scope {
                    ScopeDef::Assigned(rs) => rs.iter().any(|r| self.rel_bit(r.idx()) == b),
                    _ => false,
                })
            })
            .collect();
        if scope_rels.len() > MAX_SCOPE_RELATIONS {
            return Err(format!(
                "the {} relations that group scopes read (more than {MAX_SCOPE_RELATIONS})",
                scope_rels.len()
            ));
        }
        let mut free = Bits::EMPTY;
        for b in need.avail.iter() {
            if !need.forbid.get(b) && !scope_rels.contains(&b) {
                free.set(b);
            }
        }
        for mask in 0u32..(1 << scope_rels.len()) {
            let mut relations = free;
            for (i, &b) in scope_rels.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    relations.set(b);
                }
            }
            if !need.anchored {
                // Without a case, no case relation is held; a kind's own relations still are.
                relations = relations.intersect(need.avail);
            }
            let mut admit = Vec::new();
            let groups: Vec<usize> = (0..self.p.groups.len())
                .filter(|&g| self.group_roles(g, relations, need, &mut admit).is_some())
                .collect();
            let Some((s, _)) = self.subjects(relations, &groups, need) else {
                continue;
            };
            if !self.satisfies(&s, &groups, need) {
                continue;
            }
            // Smaller: drop what is not needed, one at a time.
            let mut choice = Choice {
                relations,
                groups,
                filters_admit: Vec::new(),
            };
            for b in relations.iter() {
                let mut r = choice.relations;
                r.clear(b);
                if let Some((s, _)) = self.subjects(r, &choice.groups, need) {
                    if self.satisfies(&s, &choice.groups, need) {
                        choice.relations = r;
                    }
                }
            }
            // Later groups first, so that a parent group is kept rather than its children.
            for i in (0..choice.groups.len()).rev() {
                let mut gs = choice.groups.clone();
                gs.remove(i);
                if let Some((s, _)) = self.subjects(choice.relations, &gs, need) {
                    if self.satisfies(&s, &gs, need) {
                        choice.groups = gs;
                    }
                }
            }
            if let Some((_, admit)) = self.subjects(choice.relations, &choice.groups, need) {
                choice.filters_admit = admit;
            }
            return Ok(Some(choice));
        }
        Ok(None)
    }
}

// ---- concrete worlds --------------------------------------------------------------------------

/// Ids of the world being built.
struct World {
    user: String,
    other: Option<String>,
    /// Per kind: the id of its resource, once it has one.
    ids: Vec<Option<String>>,
    /// The case attributes chosen to meet or miss scope filters, by attribute.
    case_attrs: Map<String, Json>,
}

fn value_json(p: &Policy, ty: Type, v: &Value) -> Json {
    match v {
        Value::Str(s) => json!(s),
        Value::Int(i) => json!(i),
        Value::Bool(b) => json!(b),
        Value::DateTime(t) => json!(crate::datetime::format(*t)),
        Value::Variant(i) => match ty {
            Type::Enum(e) => json!(p.enums[e.idx()]
                .variants
                .get(*i as usize)
                .cloned()
                .unwrap_or_default()),
            _ => Json::Null,
        },
    }
}

impl Ctx<'_> {
    fn default_value(&self, ty: Type, w: &World) -> Json {
        match ty {
            Type::Str => json!("x"),
            Type::Bool => json!(false),
            Type::Int => json!(0),
            Type::DateTime => json!("2026-01-01T00:00:00Z"),
            Type::SetStr => json!([]),
            Type::RefUser => json!(w.user),
            Type::Ref(k) => json!(w.ids[k.idx()].clone().unwrap_or_default()),
            Type::Enum(e) => json!(self.p.enums[e.idx()]
                .variants
                .first()
                .cloned()
                .unwrap_or_default()),
        }
    }

    /// Sets the case attribute of `cond` so that the condition holds (`want`) or not.
    fn meet_condition(&self, cond: &crate::ir::Cond, want: bool, w: &mut World) {
        let Some(case) = self.p.case_kind else { return };
        let Some(attr) = self.p.kinds[case.idx()].attrs.get(cond.attr.idx()) else {
            return;
        };
        let want = want != cond.negate;
        let value = match &cond.test {
            CondTest::OneOf(vals) if want => match vals.first() {
                Some(v) => value_json(self.p, attr.ty, v),
                None => return,
            },
            CondTest::OneOf(vals) => match attr.ty {
                Type::Enum(e) => {
                    let taken: Vec<u32> = vals
                        .iter()
                        .filter_map(|v| match v {
                            Value::Variant(i) => Some(*i),
                            _ => None,
                        })
                        .collect();
                    let variants = &self.p.enums[e.idx()].variants;
                    match (0..variants.len() as u32).find(|i| !taken.contains(i)) {
                        Some(i) => json!(variants[i as usize]),
                        None => return,
                    }
                }
                Type::Bool
                    if vals.contains(&Value::Bool(true)) && vals.contains(&Value::Bool(false)) =>
                {
                    return
                }
                Type::Bool => json!(!vals.contains(&Value::Bool(true))),
                Type::Int => {
                    let max = vals
                        .iter()
                        .filter_map(|v| match v {
                            Value::Int(i) => Some(*i),
                            _ => None,
                        })
                        .max()
                        .unwrap_or(0);
                    json!(max.saturating_add(1))
                }
                _ => {
                    let mut s = String::from("x");
                    while vals.contains(&Value::Str(s.clone())) {
                        s.push('x');
                    }
                    json!(s)
                }
            },
            CondTest::Contains(s) if want => json!([s]),
            CondTest::Contains(_) => json!([]),
            CondTest::IsPrincipal if want => json!(w.user),
            CondTest::IsPrincipal => {
                let other = format!("{}-other", w.user);
                w.other = Some(other.clone());
                json!(other)
            }
        };
        w.case_attrs.insert(attr.name.clone(), value);
    }

    /// The entities and request of the user `choice` at `pt`, and what the world's decision
    /// depends on that the search read optimistically.
    fn world(&self, pt: &Point, choice: &Choice) -> (Json, Json, Vec<String>) {
        let p = self.p;
        let taken = |id: &str| p.groups.iter().any(|g| g.name == id);
        let mut user = String::from("user");
        while taken(&user) {
            user.push('1');
        }
        let mut w = World {
            user,
            other: None,
            ids: vec![None; p.kinds.len()],
            case_attrs: Map::new(),
        };
        let mut depends = Vec::new();
        // Scope filters: those assumed to admit are met, the others of the user's groups missed.
        let mut member: Vec<usize> = choice
            .groups
            .iter()
            .flat_map(|&g| self.anc[g].iter().copied())
            .collect();
        member.sort_unstable();
        member.dedup();
        for &h in &member {
            let ScopeDef::Filter(mode, conds) = &p.groups[h].scope else {
                continue;
            };
            if pt.at.ct_state.is_none() || conds.is_empty() {
                continue;
            }
            let admit = choice.filters_admit.contains(&h);
            depends.push(format!(
                "the scope filter of group `{}` ({})",
                p.groups[h].name,
                if admit {
                    "admitting the case"
                } else {
                    "not admitting it"
                }
            ));
            let all = *mode == crate::ir::FilterMode::All;
            if admit == all {
                // Every condition: to meet all, or to miss any.
                for c in conds {
                    self.meet_condition(c, admit, &mut w);
                }
            } else if let Some(c) = conds.first() {
                self.meet_condition(c, admit, &mut w);
            }
        }
        if let (Some(v), Some(case)) = (pt.mode, p.case_kind) {
            let kd = &p.kinds[case.idx()];
            if let Some(m) = &kd.mode {
                let attr = &kd.attrs[m.attr.idx()];
                w.case_attrs.insert(
                    attr.name.clone(),
                    value_json(p, attr.ty, &Value::Variant(v)),
                );
            }
        }
        for list in self.c.conditional(pt.at.kind, pt.at.ct_state, pt.at.action) {
            for &cr in list {
                let rule = &p.rules[self.c.crule(cr).rule as usize];
                let text: Vec<&str> = rule
                    .when
                    .iter()
                    .map(|t| self.c.sources().snippet(t.span))
                    .collect();
                let d = format!("the condition `{}`", text.join(" and "));
                if !depends.contains(&d) {
                    depends.push(d);
                }
            }
        }
        // The resources: the point's kind with its ancestors, and one of each kind an
        // attribute refers to.
        let mut kinds = self.chain(pt.at.kind as usize);
        let mut i = 0;
        while i < kinds.len() {
            for a in &p.kinds[kinds[i]].attrs {
                if let Type::Ref(k) = a.ty {
                    for x in self.chain(k.idx()) {
                        if !kinds.contains(&x) {
                            kinds.push(x);
                        }
                    }
                }
            }
            i += 1;
        }
        for &k in &kinds {
            let mut id = format!("{}-1", p.kinds[k].name.to_lowercase());
            while id == w.user || taken(&id) {
                id.push('1');
            }
            w.ids[k] = Some(id);
        }
        let mut resources = Vec::new();
        for &k in &kinds {
            let kd = &p.kinds[k];
            let mut r = Map::new();
            r.insert("id".into(), json!(w.ids[k]));
            r.insert("kind".into(), json!(kd.name));
            if let Some(parent) = kd.parent {
                r.insert("parent".into(), json!(w.ids[parent.idx()]));
            }
            if kd.is_case {
                let (t, s) = pt.at.ct_state.unwrap_or((0, 0));
                if let Some(ct) = p.casetypes.get(t as usize) {
                    r.insert("type".into(), json!(ct.name));
                    if ct.workflow {
                        r.insert("state".into(), json!(ct.states[s as usize].name));
                    }
                }
            }
            let mut attrs = Map::new();
            for a in &kd.attrs {
                let v = match w.case_attrs.get(&a.name).filter(|_| kd.is_case) {
                    Some(v) => v.clone(),
                    None => self.default_value(a.ty, &w),
                };
                attrs.insert(a.name.clone(), v);
            }
            r.insert("attrs".into(), Json::Object(attrs));
            let mut rels = Map::new();
            for (rel, owner) in p.relation_owner.iter().enumerate() {
                if owner.is_some_and(|o| o.idx() == k) && choice.relations.get(self.rel_bit(rel)) {
                    rels.insert(p.relations[rel].name.clone(), json!([w.user]));
                }
            }
            if !rels.is_empty() && self.chain(pt.at.kind as usize).contains(&k) {
                r.insert("relations".into(), Json::Object(rels));
            }
            resources.push(Json::Object(r));
        }
        let user_attrs = |w: &World| -> Json {
            Json::Object(
                p.user_attrs
                    .iter()
                    .map(|a| (a.name.clone(), self.default_value(a.ty, w)))
                    .collect(),
            )
        };
        let groups: Vec<&str> = choice
            .groups
            .iter()
            .map(|&g| p.groups[g].name.as_str())
            .collect();
        let mut users = vec![json!({"id": w.user, "groups": groups, "attrs": user_attrs(&w)})];
        if let Some(other) = &w.other {
            let groups: Vec<&str> = if p.require_group {
                p.groups.iter().take(1).map(|g| g.name.as_str()).collect()
            } else {
                Vec::new()
            };
            users.push(json!({"id": other, "groups": groups, "attrs": user_attrs(&w)}));
        }
        let entities = json!({"users": users, "resources": resources});
        let mut request = Map::new();
        request.insert("principal".into(), json!(w.user));
        request.insert(
            "action".into(),
            json!(p.actions[pt.at.action as usize].name),
        );
        request.insert("resource".into(), json!(w.ids[pt.at.kind as usize]));
        if let Some(m) = pt.at.via {
            request.insert("module".into(), json!(p.modules[m as usize].name));
        }
        if let (Some(t), Some((ct, _))) = (pt.at.target, pt.at.ct_state) {
            request.insert(
                "target".into(),
                json!(p.casetypes[ct as usize].states[t as usize].name),
            );
        }
        if !p.context.is_empty() {
            let ctx: Map<String, Json> = p
                .context
                .iter()
                .map(|a| (a.name.clone(), self.default_value(a.ty, &w)))
                .collect();
            request.insert("context".into(), Json::Object(ctx));
        }
        (Json::Object(request), entities, depends)
    }

    /// The effective subjects (without `everyone`) of the principal, when the VM allows
    /// `request` on `entities` and the reference evaluator agrees; `None` otherwise.
    fn allowed(&self, request: &Json, entities: &Json) -> Option<Vec<String>> {
        let e = self.api.load_entities(&entities.to_string()).ok()?;
        let r = serde_json::from_value::<Request>(request.clone()).ok()?;
        if !self.api.is_allowed(&e, &r).allowed {
            return None;
        }
        let trace = self.api.explain(&e, &r);
        if !trace.decision.allowed {
            return None;
        }
        trace.layers.iter().find_map(|l| match &l.detail {
            crate::reference::Detail::Groups { subjects, .. } => Some(
                subjects
                    .iter()
                    .filter(|s| *s != "everyone")
                    .cloned()
                    .collect(),
            ),
            _ => None,
        })
    }
}

/// Proves a property over the whole domain of `policy`, or refutes it with a world the VM
/// allows, or says what it depends on.
pub fn verify(policy: &Api, prop: &Property) -> Verdict {
    let ctx = Ctx::new(policy);
    let (p, c) = (ctx.p, ctx.c);
    let any_data_roles = p.modules.iter().any(|m| m.data_roles.is_some());
    let mut points = 0usize;
    let mut depends: Vec<String> = Vec::new();
    let mut tried = 0usize;
    let note = |d: String, depends: &mut Vec<String>| {
        if !depends.contains(&d) {
            depends.push(d);
        }
    };
    for k in 0..p.kinds.len() as u32 {
        if prop.kinds.as_ref().is_some_and(|ks| !ks.contains(&k)) {
            continue;
        }
        let anchored = under_case(p, k as usize);
        let mut places: Vec<Option<(u32, u32)>> = Vec::new();
        if anchored {
            for (t, ct) in p.casetypes.iter().enumerate() {
                for s in 0..ct.states.len() as u32 {
                    let t = t as u32;
                    let inside = prop.places.as_ref().is_none_or(|ps| {
                        ps.iter()
                            .any(|(pt, ps)| *pt == t && ps.is_none_or(|x| x == s))
                    });
                    if inside {
                        places.push(Some((t, s)));
                    }
                }
            }
        } else if prop.places.is_none() && prop.modes.is_none() {
            places.push(None);
        }
        let modes: Vec<Option<u32>> = match c.mode() {
            Some((_, arms)) if anchored => (0..arms.len() as u32)
                .filter(|v| prop.modes.as_ref().is_none_or(|ms| ms.contains(v)))
                .map(Some)
                .collect(),
            _ => vec![None],
        };
        for place in &places {
            let mut vias: Vec<Option<u32>> = match &prop.modules {
                Some(ms) => ms.iter().map(|m| Some(*m)).collect(),
                None => vec![None],
            };
            let uses_modules = place.is_some_and(|(t, _)| c.uses_modules(t));
            if prop.modules.is_none() && (uses_modules || any_data_roles) {
                vias.extend((0..p.modules.len() as u32).map(Some));
            }
            for &a in &prop.actions {
                let mut targets = vec![None];
                if let Some((t, s)) = *place {
                    if p.casetypes[t as usize].workflow {
                        targets.extend(c.edges(t, s, a).iter().map(|(to, _)| Some(*to)));
                    }
                }
                for &via in &vias {
                    for &target in &targets {
                        for &mode in &modes {
                            points += 1;
                            if points > MAX_VERIFY_POINTS {
                                note(
                                    format!("more than {MAX_VERIFY_POINTS} points to check"),
                                    &mut depends,
                                );
                                return Verdict::Unproven {
                                    points,
                                    depends_on: depends,
                                };
                            }
                            let at = Place {
                                kind: k,
                                ct_state: *place,
                                action: a,
                                via,
                                target,
                            };
                            let pt = Point { at, mode };
                            let Some(need) = ctx.need(Some(prop), &pt) else {
                                continue;
                            };
                            let choice = match ctx.find_user(&need) {
                                Ok(Some(choice)) => choice,
                                Ok(None) => continue,
                                Err(why) => {
                                    note(why, &mut depends);
                                    continue;
                                }
                            };
                            if tried >= MAX_WORLDS_TRIED {
                                note(
                                    format!("more than {MAX_WORLDS_TRIED} candidate worlds, each denied"),
                                    &mut depends,
                                );
                                continue;
                            }
                            tried += 1;
                            let (request, entities, dep) = ctx.world(&pt, &choice);
                            if let Some(holding) = ctx.allowed(&request, &entities) {
                                // The world's own subjects must break the claim: a filter the
                                // world was to miss may still admit.
                                let named = |h: &String| {
                                    ctx.bit_of(h).is_some_and(|b| prop.subjects.get(b))
                                };
                                let breaks = match prop.claim {
                                    ClaimKind::Never => holding.iter().any(named),
                                    ClaimKind::Only => !holding.iter().any(named),
                                    ClaimKind::NoWiderThan => false,
                                };
                                if breaks {
                                    return Verdict::Refuted(Box::new(Counterexample {
                                        request,
                                        entities,
                                        holding,
                                    }));
                                }
                            }
                            if dep.is_empty() {
                                note(
                                    format!(
                                        "a world built for `{}` on {} is denied: a bug in casepol's verify",
                                        p.actions[a as usize].name, p.kinds[k as usize].name
                                    ),
                                    &mut depends,
                                );
                            }
                            for d in dep {
                                note(d, &mut depends);
                            }
                        }
                    }
                }
            }
        }
    }
    if depends.is_empty() {
        Verdict::Proven { points }
    } else {
        Verdict::Unproven {
            points,
            depends_on: depends,
        }
    }
}

// ---- no wider than another version -----------------------------------------------------------

/// Proves that `new` allows nothing that `old` denies, from `casepol diff`'s report (which
/// finds every differing decision over the whole domain, docs/diff.md), or refutes it with a
/// world that `new` allows and `old` denies, built at a widening change as [`verify`] builds
/// its worlds. Names added in `new`, and changes in layers that depend on data, leave it not
/// proven: the report does not enumerate what they widen.
pub fn verify_no_wider(new: &Api, old: &Api) -> Verdict {
    let report = crate::diff::diff(old.compiled(), new.compiled());
    let points = report.places;
    let ctx = Ctx::new(new);
    let (p, c) = (ctx.p, ctx.c);
    let mut depends: Vec<String> = Vec::new();
    let mut tried = 0usize;
    for change in report.changes.iter().filter(|ch| ch.is_grant()) {
        let mut extra = Vec::new();
        for h in &change.holding {
            let b = p.roles.iter().position(|r| r.name == *h).or_else(|| {
                p.relations
                    .iter()
                    .position(|r| r.name == *h)
                    .map(|r| ctx.rel_bit(r))
            });
            if let Some(b) = b {
                extra.push(Bits::from_indices([b]));
            }
        }
        let action = p.actions.iter().position(|a| a.name == change.action);
        let ct = change
            .case_type
            .as_ref()
            .and_then(|t| p.casetypes.iter().position(|x| x.name == *t));
        let via = change
            .module
            .as_ref()
            .and_then(|m| p.modules.iter().position(|x| x.name == *m));
        let mut confirmed = None;
        'kinds: for kind in &change.kinds {
            let Some(k) = p.kinds.iter().position(|x| x.name == *kind) else {
                continue;
            };
            let Some(a) = action else { continue };
            let states: Vec<Option<(u32, u32)>> = match ct {
                None => vec![None],
                Some(t) => change
                    .states
                    .iter()
                    .filter_map(|s| p.casetypes[t].states.iter().position(|x| x.name == *s))
                    .map(|s| Some((t as u32, s as u32)))
                    .collect(),
            };
            for place in states {
                let target = match (&change.target, place) {
                    (Some(name), Some((t, _))) => {
                        match p.casetypes[t as usize]
                            .states
                            .iter()
                            .position(|x| x.name == *name)
                        {
                            Some(x) => Some(x as u32),
                            None => continue,
                        }
                    }
                    _ => None,
                };
                let modes: Vec<Option<u32>> = match c.mode() {
                    Some((_, arms)) if place.is_some() => {
                        (0..arms.len() as u32).map(Some).collect()
                    }
                    _ => vec![None],
                };
                for mode in modes {
                    let at = Place {
                        kind: k as u32,
                        ct_state: place,
                        action: a as u32,
                        via: via.map(|v| v as u32),
                        target,
                    };
                    let pt = Point { at, mode };
                    let Some(mut need) = ctx.need_for(&pt) else {
                        continue;
                    };
                    need.meets.extend(extra.iter().copied());
                    let Ok(Some(choice)) = ctx.find_user(&need) else {
                        continue;
                    };
                    if tried >= MAX_WORLDS_TRIED {
                        break 'kinds;
                    }
                    tried += 1;
                    let (request, entities, _) = ctx.world(&pt, &choice);
                    let Some(holding) = ctx.allowed(&request, &entities) else {
                        continue;
                    };
                    // The old version denies it, or cannot load the world (a name it lacks).
                    let old_denies = match old.load_entities(&entities.to_string()) {
                        Err(_) => false,
                        Ok(e) => serde_json::from_value::<Request>(request.clone())
                            .is_ok_and(|r| !old.is_allowed(&e, &r).allowed),
                    };
                    if old_denies {
                        confirmed = Some(Counterexample {
                            request,
                            entities,
                            holding,
                        });
                        break 'kinds;
                    }
                }
            }
        }
        if let Some(cx) = confirmed {
            return Verdict::Refuted(Box::new(cx));
        }
        let who = if change.holding.is_empty() {
            "every user".to_string()
        } else {
            change
                .holding
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let mut d = format!(
            "a grant of `{}` to {who} on {}",
            change.action,
            change.kinds.join(", ")
        );
        if !change.when.is_empty() {
            d.push_str(&format!(" when {}", change.when.join(" and ")));
        }
        d.push_str(", which no world built confirmed");
        if !depends.contains(&d) {
            depends.push(d);
        }
    }
    for n in report.names.iter().filter(|n| n.change == "added") {
        depends.push(format!("the {} `{}`, added", n.what, n.name));
    }
    for d in &report.data {
        depends.push(format!("the {} layer: {}", d.layer, d.message));
    }
    if report.truncated {
        depends.push("more changes than the report lists".into());
    }
    if depends.is_empty() {
        Verdict::Proven { points }
    } else {
        Verdict::Unproven {
            points,
            depends_on: depends,
        }
    }
}

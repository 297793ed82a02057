//! The reference evaluator: a direct, unoptimised reading of docs/semantics.md over the checked IR.
//!
//! It shares no decision code with `vm`: it walks group parents, scans every rule, re-parses
//! nothing but re-derives each effective access code from the parent chain. It records what it
//! saw at every layer, and that record is what `explain` renders. Tests check that it and the VM
//! agree.
//!
//! The data layer runs in one of two [`Scan`] modes. [`Scan::Literal`] tests every rule of the
//! policy, as the semantics read; the differential tests and `check --engine reference` use it.
//! [`Scan::Indexed`] tests only the rules that the compiled policy lists for the resource's
//! kind, its case's type and state and the action (the rule indices kept beside the data masks),
//! in ascending order, with the same test: the same trace in time that does not grow with the
//! policy. `explain` and the other traces shown to users use it; a property test checks that
//! both modes give equal traces.

use crate::compile::CompiledPolicy;
use crate::decision::{Decision, Layer, Reason};
use crate::diagnostic::Span;
use crate::entities::{AttrValue, Entities, Resource};
use crate::ir::{CondTest, Effect, Policy, RuleOrigin, RuleScope, ScopeDef, Subject, Value};
use crate::request::{Request, RequestError, Resolved};
use serde::Serialize;

/// What every layer saw and decided for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trace {
    pub decision: Decision,
    pub request: Request,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RequestError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_kind: Option<String>,
    /// The anchor case, when the resource has one and it is not the resource itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    pub layers: Vec<LayerTrace>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerTrace {
    pub layer: Layer,
    pub verdict: Verdict,
    /// One sentence a business user can read.
    pub summary: String,
    #[serde(flatten)]
    pub detail: Detail,
    /// What would have changed a deny into a pass.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    None {},
    Groups {
        groups: Vec<GroupTrace>,
        relations: Vec<String>,
        subjects: Vec<String>,
    },
    Module {
        #[serde(skip_serializing_if = "Option::is_none")]
        module: Option<String>,
        grants: Vec<RuleRef>,
    },
    Rules {
        allows: Vec<RuleRef>,
        denies: Vec<RuleRef>,
    },
    Mode {
        attribute: String,
        value: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        needs_one_of: Option<Vec<String>>,
        rule: RuleRef,
    },
    Code {
        effective: String,
        levels: Vec<LevelTrace>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupTrace {
    pub group: String,
    /// The group the user is listed in, when this one is reached as its ancestor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    pub scope: String,
    pub in_scope: bool,
    pub roles: Vec<String>,
}

/// A rule of the policy, located in its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    pub kind: &'static str,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub source: String,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelTrace {
    pub codes: Vec<CodeTrace>,
    /// The resource whose own code this level is.
    pub from: String,
    pub from_kind: String,
    pub inherited: bool,
    pub satisfied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeTrace {
    pub code: String,
    pub held: bool,
}

fn rule_ref(policy: &CompiledPolicy, kind: &'static str, span: Span) -> RuleRef {
    let src = policy.sources();
    let (line, column) = src.line_col(span);
    RuleRef {
        kind,
        file: src.name(span.file).to_string(),
        line,
        column,
        source: src.snippet(span).to_string(),
        span,
    }
}

fn list(items: &[String]) -> String {
    match items {
        [] => "nothing".into(),
        [one] => format!("`{one}`"),
        [init @ .., last] => format!(
            "{} or `{last}`",
            init.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How the data layer finds the rules that apply to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scan {
    /// Test every rule of the policy, in order: the literal reading of docs/semantics.md. Its
    /// time grows with the number of rules.
    Literal,
    /// Test only the rules the compiled policy indexes under the resource's kind, its case's
    /// type and state, and the action, in the same order: the same trace as `Literal`, in time
    /// that does not grow with the number of rules.
    Indexed,
}

/// Evaluates a request, resolving it first; errors become a deny with the error recorded.
/// Scans every rule ([`Scan::Literal`]).
pub fn evaluate(policy: &CompiledPolicy, entities: &Entities, request: &Request) -> Trace {
    evaluate_with(policy, entities, request, Scan::Literal)
}

/// [`evaluate`] with the data layer's rules found as `scan` says.
pub fn evaluate_with(
    policy: &CompiledPolicy,
    entities: &Entities,
    request: &Request,
    scan: Scan,
) -> Trace {
    match crate::request::resolve(policy, entities, request) {
        Ok(r) => evaluate_resolved_with(policy, entities, request, &r, scan),
        Err(e) => Trace {
            decision: Decision::ERROR,
            request: request.clone(),
            layers: vec![LayerTrace {
                layer: Layer::Request,
                verdict: Verdict::Deny,
                summary: e.message.clone(),
                detail: Detail::None {},
                hints: e.help.iter().cloned().collect(),
            }],
            error: Some(e),
            resource_kind: None,
            case: None,
        },
    }
}

/// Groups the user is a member of, each with the listed group it was reached through.
fn memberships(p: &Policy, direct: &[u32]) -> Vec<(usize, Option<usize>)> {
    let mut out: Vec<(usize, Option<usize>)> = Vec::new();
    for &d in direct {
        let mut cur = Some(d as usize);
        let mut first = true;
        while let Some(g) = cur {
            if out.iter().any(|(x, _)| *x == g) {
                break;
            }
            out.push((g, if first { None } else { Some(d as usize) }));
            first = false;
            cur = p.groups[g].parent.map(|x| x.idx());
        }
    }
    out
}

fn attr_matches(ent: &Entities, v: &AttrValue, value: &Value) -> bool {
    match (v, value) {
        (AttrValue::Sym(s), Value::Str(lit)) => ent.symbol(*s) == lit,
        (AttrValue::Int(a), Value::Int(b)) => a == b,
        (AttrValue::Bool(a), Value::Bool(b)) => a == b,
        (AttrValue::Variant(a), Value::Variant(b)) => a == b,
        _ => false,
    }
}

/// Evaluates a resolved request, scanning every rule ([`Scan::Literal`]).
pub fn evaluate_resolved(
    policy: &CompiledPolicy,
    ent: &Entities,
    request: &Request,
    req: &Resolved,
) -> Trace {
    evaluate_resolved_with(policy, ent, request, req, Scan::Literal)
}

/// The rules that may apply to `action` on a resource of `kind` whose case is in
/// (case type, state), from the rule indices compiled beside the data masks: the global rules,
/// the kind's and the state's, merged into ascending order. Each rule appears once (the lists
/// are disjoint, and each is sorted without repeats). `None` when a slot is out of range, which
/// loaded entities never give; the caller then scans every rule.
fn indexed_rules(
    policy: &CompiledPolicy,
    kind: u32,
    state: Option<(u32, u32)>,
    action: u32,
) -> Option<impl Iterator<Item = usize> + '_> {
    let [global, kind, state] = policy.why_data(kind, state, action)?;
    let mut lists = [global, kind, state];
    let mut last: Option<u32> = None;
    Some(std::iter::from_fn(move || {
        let next = lists
            .iter_mut()
            .filter(|l| !l.is_empty())
            .min_by_key(|l| l[0])?;
        let (&first, rest) = next.split_first()?;
        *next = rest;
        // Strictly ascending: each rule once, in the literal scan's order. This holds while a
        // rule has exactly one scope, so it is under exactly one of the three lists.
        debug_assert!(last.is_none_or(|l| l < first), "rule {first} out of order");
        last = Some(first);
        Some(first as usize)
    }))
}

/// [`evaluate_resolved`] with the data layer's rules found as `scan` says.
pub fn evaluate_resolved_with(
    policy: &CompiledPolicy,
    ent: &Entities,
    request: &Request,
    req: &Resolved,
    scan: Scan,
) -> Trace {
    let p = policy.ir();
    if !req.belongs_to(policy, ent) {
        return Trace {
            decision: Decision::ERROR,
            request: request.clone(),
            error: Some(crate::request::mismatched()),
            resource_kind: None,
            case: None,
            layers: Vec::new(),
        };
    }
    let user = &ent.users[req.principal() as usize];
    let uid = ent.user_id(req.principal());
    let member = memberships(p, &user.direct_groups);
    let mut trace = Trace {
        decision: Decision {
            allowed: false,
            layer: Layer::Request,
            reason: Reason::Error,
        },
        request: request.clone(),
        error: None,
        resource_kind: None,
        case: None,
        layers: Vec::new(),
    };
    let permitting = |perm: usize| -> Vec<String> {
        member
            .iter()
            .filter(|(g, _)| p.groups[*g].permits.iter().any(|x| x.idx() == perm))
            .map(|(g, _)| p.groups[*g].name.clone())
            .collect()
    };

    let (action, resource, module) = match *req {
        Resolved::Permission { permission, .. } => {
            let by = permitting(permission as usize);
            let name = &p.permissions[permission as usize].name;
            let allowed = !by.is_empty();
            trace.layers.push(LayerTrace {
                layer: Layer::Permission,
                verdict: if allowed {
                    Verdict::Pass
                } else {
                    Verdict::Deny
                },
                summary: if allowed {
                    format!(
                        "`{}` holds account permission `{name}` through group {}",
                        uid,
                        list(&by)
                    )
                } else {
                    format!("no group of `{}` permits `{name}`", uid)
                },
                detail: Detail::None {},
                hints: if allowed {
                    vec![]
                } else {
                    groups_permitting(p, permission as usize, uid)
                },
            });
            trace.decision = Decision {
                allowed,
                layer: Layer::Permission,
                reason: if allowed {
                    Reason::Allowed
                } else {
                    Reason::PermissionNotHeld
                },
            };
            return trace;
        }
        Resolved::Action {
            action,
            resource,
            module,
            ..
        } => (action as usize, resource as usize, module),
    };

    let res = &ent.resources[resource];
    trace.resource_kind = Some(p.kinds[res.kind.idx()].name.clone());
    // The anchor: walk up until a resource of the case kind.
    let mut anchor: Option<&Resource> = None;
    // The anchor's id, where there is an anchor.
    let mut anchor_id = "";
    let mut cur = Some(resource as u32);
    while let Some(c) = cur {
        let r = &ent.resources[c as usize];
        if p.kinds[r.kind.idx()].is_case {
            anchor = Some(r);
            anchor_id = ent.resource_id(c);
            if c as usize != resource {
                trace.case = Some(ent.resource_id(c).to_string());
            }
            break;
        }
        cur = r.parent;
    }
    let res_id = ent.resource_id(resource as u32);
    let principal = req.principal();
    let held: Vec<usize> = match anchor {
        Some(a) => (0..p.relations.len())
            .filter(|&r| a.relations[r].contains(&principal))
            .collect(),
        None => Vec::new(),
    };
    let held_names: Vec<String> = held.iter().map(|&r| p.relations[r].name.clone()).collect();
    let holds = |rels: &[crate::ir::RelationId]| rels.iter().any(|r| held.contains(&r.idx()));

    // Scope.
    let mut subjects: Vec<Subject> = held
        .iter()
        .map(|&r| Subject::Relation(crate::ir::RelationId(r as u32)))
        .collect();
    let mut groups = Vec::new();
    for &(g, through) in &member {
        let def = &p.groups[g];
        let (in_scope, scope) = match &def.scope {
            ScopeDef::All => (true, "all".to_string()),
            ScopeDef::Assigned(rels) => (
                anchor.is_some() && holds(rels),
                format!(
                    "assigned via {}",
                    rels.iter()
                        .map(|r| p.relations[r.idx()].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            ScopeDef::Filter(conds) => {
                let ok = anchor.is_some_and(|a| {
                    conds.iter().any(|c| {
                        let v = &a.attrs[c.attr.idx()];
                        let r = match &c.test {
                            CondTest::OneOf(vals) => vals.iter().any(|x| attr_matches(ent, v, x)),
                            CondTest::Contains(s) => matches!(v, AttrValue::Set(set) if set.iter().any(|x| ent.symbol(*x) == s)),
                            CondTest::IsPrincipal => matches!(v, AttrValue::User(u) if *u == principal),
                        };
                        r != c.negate
                    })
                });
                let text: Vec<&str> = conds
                    .iter()
                    .map(|c| policy.sources().snippet(c.span))
                    .collect();
                (ok, format!("filter {{ {} }}", text.join("; ")))
            }
        };
        if in_scope {
            for r in &def.grants {
                if !subjects.contains(&Subject::Role(*r)) {
                    subjects.push(Subject::Role(*r));
                }
            }
        }
        groups.push(GroupTrace {
            group: def.name.clone(),
            through: through.map(|t| p.groups[t].name.clone()),
            scope,
            in_scope,
            roles: def
                .grants
                .iter()
                .map(|r| p.roles[r.idx()].name.clone())
                .collect(),
        });
    }
    subjects.sort();
    let subject_names: Vec<String> = subjects
        .iter()
        .map(|s| p.subject_name(*s).to_string())
        .collect();
    let in_scope = !subjects.is_empty();
    let in_groups: Vec<String> = groups
        .iter()
        .filter(|g| g.in_scope)
        .map(|g| g.group.clone())
        .collect();
    trace.layers.push(LayerTrace {
        layer: Layer::Scope,
        verdict: if in_scope {
            Verdict::Pass
        } else {
            Verdict::Deny
        },
        summary: if in_scope {
            let mut parts = Vec::new();
            if !in_groups.is_empty() {
                parts.push(format!("groups in scope: {}", in_groups.join(", ")));
            }
            if !held_names.is_empty() {
                parts.push(format!(
                    "`{}` is {} of the case",
                    uid,
                    held_names.join(" and ")
                ));
            }
            format!(
                "{}; acting as {}",
                parts.join("; "),
                subject_names.join(", ")
            )
        } else if groups.is_empty() {
            format!(
                "`{}` is in no access group and holds no relation to the case",
                uid
            )
        } else {
            format!(
                "none of the groups of `{}` admits `{}`, and `{}` holds no relation to the case",
                uid, res_id, uid
            )
        },
        detail: Detail::Groups {
            groups,
            relations: held_names.clone(),
            subjects: subject_names.clone(),
        },
        hints: Vec::new(),
    });
    let deny = |trace: &mut Trace, layer, reason| {
        trace.decision = Decision {
            allowed: false,
            layer,
            reason,
        };
    };
    if !in_scope {
        deny(&mut trace, Layer::Scope, Reason::NotInScope);
        return trace;
    }
    let has = |s: &Subject| subjects.contains(s);

    // Account requirement.
    if let Some(perm) = p.actions[action].requires {
        let by = permitting(perm.idx());
        let name = &p.permissions[perm.idx()].name;
        let ok = !by.is_empty();
        trace.layers.push(LayerTrace {
            layer: Layer::Requirement,
            verdict: if ok { Verdict::Pass } else { Verdict::Deny },
            summary: if ok {
                format!(
                    "`{}` requires account permission `{name}`, which group {} grants",
                    p.actions[action].name,
                    list(&by)
                )
            } else {
                format!(
                    "`{}` requires account permission `{name}`, which no group of `{}` grants",
                    p.actions[action].name, uid
                )
            },
            detail: Detail::None {},
            hints: if ok {
                vec![]
            } else {
                groups_permitting(p, perm.idx(), uid)
            },
        });
        if !ok {
            deny(&mut trace, Layer::Requirement, Reason::RequirementNotHeld);
            return trace;
        }
    }

    // Access mode.
    let mode = p.case_kind.and_then(|k| p.kinds[k.idx()].mode.as_ref());
    if let (Some(mode), Some(a)) = (mode, anchor) {
        let attr = &p.case_attrs()[mode.attr.idx()];
        let variant = match a.attrs[mode.attr.idx()] {
            AttrValue::Variant(v) => v as usize,
            _ => 0,
        };
        let value = match attr.ty {
            crate::ir::Type::Enum(e) => p.enums[e.idx()]
                .variants
                .get(variant)
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        };
        let needs = mode.arms.get(variant).cloned().flatten();
        let names: Option<Vec<String>> = needs.as_ref().map(|rs| {
            rs.iter()
                .map(|r| p.relations[r.idx()].name.clone())
                .collect()
        });
        let ok = needs.as_ref().is_none_or(|rs| holds(rs));
        trace.layers.push(LayerTrace {
            layer: Layer::AccessMode,
            verdict: if ok { Verdict::Pass } else { Verdict::Deny },
            summary: match (&names, ok) {
                (None, _) => format!(
                    "case `{}` is `{value}`: open to everyone in scope",
                    anchor_id
                ),
                (Some(n), true) => format!(
                    "case `{}` is `{value}`, and `{}` is its {}",
                    anchor_id,
                    uid,
                    held_names
                        .iter()
                        .filter(|h| n.contains(h))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                (Some(n), false) => format!(
                    "case `{}` is `{value}`: only its {} may access it",
                    anchor_id,
                    list(n)
                ),
            },
            hints: match (&names, ok) {
                (Some(n), false) => vec![format!(
                    "would pass if `{}` were {} of case `{}`",
                    uid,
                    list(n),
                    anchor_id
                )],
                _ => vec![],
            },
            detail: Detail::Mode {
                attribute: attr.name.clone(),
                value,
                needs_one_of: names,
                rule: rule_ref(
                    policy,
                    "access mode",
                    mode.arm_spans.get(variant).copied().unwrap_or(mode.span),
                ),
            },
        });
        if !ok {
            deny(&mut trace, Layer::AccessMode, Reason::Restricted);
            return trace;
        }
    }

    // Module.
    if let Some(a) = anchor {
        let ct = &p.casetypes[a.casetype as usize];
        if ct.uses_modules {
            let action_name = &p.actions[action].name;
            let module_name = module.map(|m| p.modules[m as usize].name.clone());
            let fail = |trace: &mut Trace,
                        reason,
                        summary: String,
                        hints: Vec<String>,
                        grants: Vec<RuleRef>| {
                trace.layers.push(LayerTrace {
                    layer: Layer::Module,
                    verdict: Verdict::Deny,
                    summary,
                    detail: Detail::Module {
                        module: module_name.clone(),
                        grants,
                    },
                    hints,
                });
                trace.decision = Decision {
                    allowed: false,
                    layer: Layer::Module,
                    reason,
                };
            };
            // Every module that offers the action, for the hints of two denies only.
            let offering = || -> Vec<String> {
                p.modules
                    .iter()
                    .filter(|m| m.actions.iter().any(|x| x.idx() == action))
                    .map(|m| m.name.clone())
                    .collect()
            };
            let Some(m) = module else {
                fail(
                    &mut trace,
                    Reason::NoModule,
                    format!(
                        "case type `{}` grants access through modules, but the request names none",
                        ct.name
                    ),
                    vec![format!(
                        "send the request through a module: {}",
                        list(&offering())
                    )],
                    vec![],
                );
                return trace;
            };
            let mdef = &p.modules[m as usize];
            if !mdef.actions.iter().any(|x| x.idx() == action) {
                fail(
                    &mut trace,
                    Reason::NotInModule,
                    format!("module `{}` does not offer `{action_name}`", mdef.name),
                    vec![format!(
                        "`{action_name}` is offered by {}",
                        list(&offering())
                    )],
                    vec![],
                );
                return trace;
            }
            if !mdef.records.is_empty() && !holds(&mdef.records) {
                let rec: Vec<String> = mdef
                    .records
                    .iter()
                    .map(|r| p.relations[r.idx()].name.clone())
                    .collect();
                fail(
                    &mut trace,
                    Reason::NotARecord,
                    format!(
                        "module `{}` shows only cases where the user is {}, and `{}` is not",
                        mdef.name,
                        list(&rec),
                        uid
                    ),
                    vec![format!(
                        "would pass if `{}` were {} of the case",
                        uid,
                        list(&rec)
                    )],
                    vec![],
                );
                return trace;
            }
            let lines: Vec<&crate::ir::ModuleGrantDef> = ct
                .module_grants
                .iter()
                .filter(|g| g.module.0 == m && g.actions.iter().any(|x| x.idx() == action))
                .collect();
            let matching: Vec<RuleRef> = lines
                .iter()
                .filter(|g| g.subjects.iter().any(has))
                .map(|g| rule_ref(policy, "module grant", g.span))
                .collect();
            if matching.is_empty() {
                let could: Vec<String> = lines
                    .iter()
                    .flat_map(|g| g.subjects.iter().map(|s| p.subject_name(*s).to_string()))
                    .collect();
                fail(
                    &mut trace,
                    Reason::ModuleNotGranted,
                    format!(
                        "module `{}` grants `{action_name}` on `{}` cases to none of {}",
                        mdef.name,
                        ct.name,
                        subject_names.join(", ")
                    ),
                    subject_hints(p, &could, uid, &member),
                    vec![],
                );
                return trace;
            }
            trace.layers.push(LayerTrace {
                layer: Layer::Module,
                verdict: Verdict::Pass,
                summary: format!(
                    "module `{}` grants `{action_name}` on `{}` cases",
                    mdef.name, ct.name
                ),
                detail: Detail::Module {
                    module: module_name,
                    grants: matching,
                },
                hints: Vec::new(),
            });
        }
    }

    // Data rules.
    let state = anchor.map(|a| (a.casetype, a.state));
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    let mut allow_subjects: Vec<String> = Vec::new();
    let indexed = match scan {
        Scan::Literal => None,
        Scan::Indexed => {
            let ids = indexed_rules(policy, res.kind.0, state, action as u32);
            // A resolved request of these entities always finds its slots; a `None` here would
            // make `explain` silently as slow as the literal scan, so tests stop on it.
            debug_assert!(ids.is_some(), "no rule index for a resolved request");
            ids
        }
    };
    let mut indexed = indexed.map(|ids| ids.filter_map(|i| p.rules.get(i)));
    let mut every = p.rules.iter();
    let candidates = std::iter::from_fn(|| match &mut indexed {
        Some(ids) => ids.next(),
        None => every.next(),
    });
    for rule in candidates {
        // The indexed candidates pass the same test as every rule in the literal scan.
        let applies = match rule.scope {
            RuleScope::Global => true,
            RuleScope::Kind(k) => k == res.kind,
            RuleScope::CaseType(t) => match state {
                Some((ct, s)) => {
                    t.0 == ct && (rule.states.is_empty() || rule.states.iter().any(|x| x.0 == s))
                }
                None => false,
            },
        };
        if !applies || !rule.actions.iter().any(|a| a.idx() == action) {
            continue;
        }
        if !rule.subjects.iter().any(has) {
            if rule.effect == Effect::Allow {
                allow_subjects.extend(rule.subjects.iter().map(|s| p.subject_name(*s).to_string()));
            }
            continue;
        }
        let kind = match rule.origin {
            RuleOrigin::Statement => "rule",
            RuleOrigin::TableCell { .. } => "table cell",
            RuleOrigin::Transition { .. } => "transition",
        };
        let r = rule_ref(policy, kind, rule.span);
        match rule.effect {
            Effect::Allow => allows.push(r),
            Effect::Deny => denies.push(r),
        }
    }
    let where_ = match anchor {
        Some(a) => format!(
            "in state `{}`",
            p.casetypes[a.casetype as usize].states[a.state as usize].name
        ),
        None => format!("on a `{}`", p.kinds[res.kind.idx()].name),
    };
    let action_name = p.actions[action].name.clone();
    let (verdict, reason, summary, hints) = if !denies.is_empty() {
        let s = if allows.is_empty() {
            format!("explicitly denied: `{action_name}` is denied {where_}")
        } else {
            format!(
                "explicitly denied: `{action_name}` is denied {where_}; deny overrides the {} matching allow{}",
                allows.len(),
                if allows.len() == 1 { "" } else { "s" }
            )
        };
        (Verdict::Deny, Reason::ExplicitlyDenied, s, vec![])
    } else if !allows.is_empty() {
        (
            Verdict::Pass,
            Reason::Allowed,
            format!("`{action_name}` is allowed {where_}"),
            vec![],
        )
    } else {
        allow_subjects.sort();
        allow_subjects.dedup();
        let hints = if allow_subjects.is_empty() {
            vec![format!("no rule allows `{action_name}` {where_} to anyone")]
        } else {
            subject_hints(p, &allow_subjects, uid, &member)
        };
        (
            Verdict::Deny,
            Reason::NotPermitted,
            format!(
                "not permitted: no rule allows `{action_name}` {where_} to {}",
                subject_names.join(", ")
            ),
            hints,
        )
    };
    trace.layers.push(LayerTrace {
        layer: Layer::Data,
        verdict,
        summary,
        detail: Detail::Rules { allows, denies },
        hints,
    });
    if verdict == Verdict::Deny {
        deny(&mut trace, Layer::Data, reason);
        return trace;
    }

    // Access codes.
    let mut last = Layer::Data;
    let user_codes = code_set(p, ent, principal, &member);
    for (layer, applies) in [
        (Layer::ReadCode, p.actions[action].read_code),
        (Layer::WriteCode, p.actions[action].write_code),
    ] {
        if !applies {
            continue;
        }
        let read = layer == Layer::ReadCode;
        let mut levels: Vec<LevelTrace> = Vec::new();
        let mut cur = Some(resource as u32);
        while let Some(c) = cur {
            let r = &ent.resources[c as usize];
            let own = if read { &r.own_read } else { &r.own_write };
            for l in own.iter() {
                let codes: Vec<CodeTrace> = l
                    .iter()
                    .map(|c| CodeTrace {
                        code: ent.symbol(*c).to_string(),
                        held: user_codes.iter().any(|u| u == ent.symbol(*c)),
                    })
                    .collect();
                let satisfied = codes.is_empty() || codes.iter().any(|c| c.held);
                levels.push(LevelTrace {
                    codes,
                    from: ent.resource_id(c).to_string(),
                    from_kind: p.kinds[r.kind.idx()].name.clone(),
                    inherited: c as usize != resource,
                    satisfied,
                });
            }
            let inherits = if read {
                r.inherit_read
            } else {
                r.inherit_write
            };
            cur = r.parent.filter(|_| inherits);
        }
        let effective = crate::access_code::display(
            &levels
                .iter()
                .map(|l| l.codes.iter().map(|c| c.code.clone()).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        );
        let ok = levels.iter().all(|l| l.satisfied);
        let class = if read { "read" } else { "write" };
        let hints: Vec<String> = levels
            .iter()
            .filter(|l| !l.satisfied)
            .map(|l| {
                let names: Vec<String> = l.codes.iter().map(|c| c.code.clone()).collect();
                format!("would be allowed if `{}` were in {}", uid, list(&names))
            })
            .collect();
        trace.layers.push(LayerTrace {
            layer,
            verdict: if ok { Verdict::Pass } else { Verdict::Deny },
            summary: if ok {
                format!("`{}` meets the effective {class} code {effective}", uid)
            } else {
                format!(
                    "`{}` does not meet the effective {class} code {effective}",
                    uid
                )
            },
            detail: Detail::Code { effective, levels },
            hints,
        });
        if !ok {
            deny(&mut trace, layer, Reason::CodeNotHeld);
            return trace;
        }
        last = layer;
    }
    trace.decision = Decision {
        allowed: true,
        layer: last,
        reason: Reason::Allowed,
    };
    trace
}

/// The principal's code set as strings: id, groups with ancestors, units with ancestors, terms.
fn code_set(
    p: &Policy,
    ent: &Entities,
    principal: u32,
    member: &[(usize, Option<usize>)],
) -> Vec<String> {
    let user = &ent.users[principal as usize];
    let mut out = vec![ent.user_id(principal).to_string()];
    out.extend(member.iter().map(|(g, _)| p.groups[*g].name.clone()));
    for &u in &user.direct_units {
        let mut cur = Some(u as usize);
        let mut steps = 0;
        while let Some(c) = cur {
            out.push(ent.units[c].id.clone());
            steps += 1;
            if steps > ent.units.len() {
                break;
            }
            cur = ent.units[c].parent.map(|x| x as usize);
        }
    }
    out.extend(user.terms.iter().map(|t| ent.symbol(*t).to_string()));
    out
}

fn groups_permitting(p: &Policy, perm: usize, user: &str) -> Vec<String> {
    let gs: Vec<String> = p
        .groups
        .iter()
        .filter(|g| g.permits.iter().any(|x| x.idx() == perm))
        .map(|g| g.name.clone())
        .collect();
    if gs.is_empty() {
        vec![format!("no group permits `{}`", p.permissions[perm].name)]
    } else {
        vec![format!(
            "would be allowed if `{user}` were in group {}",
            list(&gs)
        )]
    }
}

/// "would be allowed if anna held role X (granted by group G)" for each subject that would do.
fn subject_hints(
    p: &Policy,
    subjects: &[String],
    user: &str,
    member: &[(usize, Option<usize>)],
) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for s in subjects {
        if seen.contains(s) {
            continue;
        }
        seen.push(s.clone());
        if let Some(ri) = p.roles.iter().position(|r| &r.name == s) {
            let gs: Vec<String> = p
                .groups
                .iter()
                .filter(|g| g.grants.iter().any(|x| x.idx() == ri))
                .map(|g| g.name.clone())
                .collect();
            let own: Vec<String> = member
                .iter()
                .filter(|(g, _)| p.groups[*g].grants.iter().any(|x| x.idx() == ri))
                .map(|(g, _)| p.groups[*g].name.clone())
                .collect();
            if !own.is_empty() {
                out.push(format!(
                    "`{user}` is in group {}, which grants role `{s}`, but its scope does not admit this case",
                    list(&own)
                ));
            } else if gs.is_empty() {
                out.push(format!(
                    "would be allowed if `{user}` held role `{s}` (no group grants it)"
                ));
            } else {
                out.push(format!(
                    "would be allowed if `{user}` held role `{s}`, granted by group {}",
                    list(&gs)
                ));
            }
        } else {
            out.push(format!("would be allowed if `{user}` were {s} of the case"));
        }
    }
    out
}

//! The reference evaluator: a direct, unoptimised reading of docs/semantics.md over the checked IR.
//!
//! It shares no decision code with `vm`, only the vocabulary of `decision`: it walks group
//! parents, scans every rule, re-parses nothing but re-derives each effective access code from
//! the parent chain. It is direct, not careless of size: the principal's codes are sorted once
//! and each code of the chain is looked up with a binary search, and groups of membership are
//! kept in a set, so no step costs the product of two input sizes. It records what it saw at every layer, and that record is what `explain`
//! renders. Tests check that it and the VM agree. Each step of docs/semantics.md is one function
//! named after its layer, as in the VM (the table in docs/ARCHITECTURE.md), and
//! `evaluate_resolved_with` calls them in order.
//!
//! The data layer runs in one of two [`Scan`] modes. [`Scan::Literal`] tests every rule of the
//! policy, as the semantics read; the differential tests and `check --engine reference` use it.
//! [`Scan::Indexed`] tests only the rules that the compiled policy lists for the resource's
//! kind, its case's type and state and the action (the rule indices kept beside the data masks),
//! in ascending order, with the same test: the same trace in time that does not grow with the
//! policy. `explain` and the other traces shown to users use it; a property test checks that
//! both modes give equal traces.

use crate::compile::CompiledPolicy;
use crate::decision::{rule_kind, Decision, Layer, Reason};
use crate::diagnostic::Span;
use crate::entities::{AttrValue, Entities, Resource};
use crate::ir::{
    CondTest, Effect, ModuleGrantDef, Policy, RelationId, RuleOrigin, RuleScope, ScopeDef, Subject,
    Type, Value,
};
use crate::limits::{MAX_HINT_CANDIDATES, MAX_SHOWN_SET_ITEMS};
use crate::request::{Request, Resolved};
use crate::resolve::RequestError;
use serde::Serialize;

/// How the conditions of a scope filter combine, as a [`GroupTrace`] says it.
pub use crate::ir::FilterMode;

/// What every layer saw and decided for one request: what
/// [`Policy::explain`](crate::Policy::explain) returns. Serialized with serde it is the JSON of
/// `casepol explain --format json` (docs/data-formats.md), with the fields' names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trace {
    /// The decision, the one [`Policy::authorize`](crate::Policy::authorize) gives for the
    /// same request (the tests hold the two evaluators to it).
    pub decision: Decision,
    /// The request, as asked.
    pub request: Request,
    /// Why the request could not be resolved, when it could not: then the decision is a deny
    /// with [`Reason::Error`], and `layers` holds at most the `request` layer. Absent from the
    /// JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RequestError>,
    /// The resource's kind, as the policy names it (`Document`); `None` (absent from the JSON)
    /// for an account permission and for a request that could not be resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_kind: Option<String>,
    /// The anchor case, when the resource has one and it is not the resource itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// Each layer that applied, in the order they are evaluated, up to and including the one
    /// that decided: a layer that does not apply to the request (an action without
    /// `requires`, a case type without modules, an action no access code checks) is left out.
    pub layers: Vec<LayerTrace>,
}

/// What a layer made of the request. As JSON, `"pass"` or `"deny"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The layer passed: evaluation went on to the next layer, or, after the last that
    /// applies, the request is allowed.
    Pass,
    /// The layer denied: it decided, and no layer after it was evaluated.
    Deny,
}

/// What one layer saw and decided. As JSON, one object: `layer`, `verdict`, `summary`, the
/// fields of its [`Detail`] beside them, and `hints` when there are any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerTrace {
    /// The layer.
    pub layer: Layer,
    /// Whether it passed or denied.
    pub verdict: Verdict,
    /// One sentence a business user can read.
    pub summary: String,
    /// What the layer looked at, which depends on the layer. Flattened in the JSON: its fields
    /// sit in the layer's object.
    #[serde(flatten)]
    pub detail: Detail,
    /// What would have changed a deny into a pass, in words: the counterfactuals below that
    /// were verified, then notes that propose no change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// The changes to the request's world that this layer proposes to turn its deny into a
    /// pass, smallest first, not yet verified: `hints.rs` applies each and decides again, and
    /// only what passes becomes a [`Counterfactual`]. Never shown as they are.
    #[serde(skip)]
    pub(crate) candidates: Vec<Candidate>,
    /// The candidates that were applied and decided again, with what came of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counterfactuals: Vec<Counterfactual>,
}

/// One change to the world of a request, which a hint proposes: the principal listed in a
/// group, a unit or with a term, or holding a relation on the anchor case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The principal is listed in group `group` (and so is a member of its ancestors).
    JoinGroup {
        /// The group's name.
        group: String,
        /// The group's position in the policy.
        #[serde(skip)]
        id: u32,
    },
    /// The principal holds relation `relation` on the anchor case `case`.
    HoldRelation {
        /// The relation's name.
        relation: String,
        /// The anchor case's id.
        case: String,
        /// The relation's position in the policy.
        #[serde(skip)]
        id: u32,
    },
    /// The principal is listed in org unit `unit` (and so is a member of its ancestors).
    JoinUnit {
        /// The unit's id.
        unit: String,
        /// The unit's position in the entities.
        #[serde(skip)]
        id: u32,
    },
    /// The principal holds term `term`.
    HoldTerm {
        /// The term.
        term: String,
        /// The term's symbol in the entities.
        #[serde(skip)]
        symbol: u32,
    },
}

/// Changes that together may turn a layer's deny into a pass, and, when they were proposed for
/// a role, how they give it, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) changes: Vec<Change>,
    pub(crate) why: Option<String>,
}

/// A candidate applied to a copy of the request's principal and anchor case and decided again
/// by the VM: an allow, or a pass of the layer that denied and a deny by a later one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counterfactual {
    /// The hint as `explain` shows it.
    pub hint: String,
    /// The changes, made together.
    pub changes: Vec<Change>,
    /// Whether the request is then allowed.
    pub allowed: bool,
    /// When not allowed: the later layer that would deny, why, and its determining rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub then_denied: Option<ThenDenied>,
}

/// The deny a counterfactual still meets, at a layer after the one that denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThenDenied {
    /// The layer that then denies.
    pub layer: Layer,
    /// Why it denies.
    pub reason: Reason,
    /// The rules that determine that deny (docs/semantics.md), if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleRef>,
}

/// What a layer looked at, by layer. The JSON has no tag: the variant's fields appear in the
/// layer's object ([`LayerTrace::detail`]), so the layer says which variant it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// The `request`, `permission` and `requirement` layers: nothing beyond the summary and
    /// the hints (which name the groups that would grant a missing permission).
    None {},
    /// The `scope` layer: the groups, relations and subjects the user acts with.
    Groups {
        /// Every group the user is a member of, listed or reached as an ancestor, with
        /// whether its scope admits the resource.
        groups: Vec<GroupTrace>,
        /// The relations the user holds on the resource's case, by name; empty when the
        /// resource has no case.
        relations: Vec<String>,
        /// The effective subjects, by name: the roles of the groups in scope and the relations
        /// held. Empty when the layer denied.
        subjects: Vec<String>,
        /// Where and how the relations of resource kinds, and the relations held through a
        /// group, are held (absent from the JSON when there are none).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        held: Vec<RelationHeld>,
    },
    /// The `module` layer.
    Module {
        /// The module the request names; `None` (absent from the JSON) when it names none.
        #[serde(skip_serializing_if = "Option::is_none")]
        module: Option<String>,
        /// The module-grant lines of the case's type, for this module, that give the action
        /// to one of the effective subjects; empty when the layer denied.
        grants: Vec<RuleRef>,
    },
    /// The `data` layer: the rules that apply to the resource and match the action and an
    /// effective subject, in the policy's order.
    Rules {
        /// The matching `allow` statements, `+` table-cell entries and transitions.
        allows: Vec<RuleRef>,
        /// The matching `deny` statements and `-` table-cell entries: when there is one, the
        /// layer denies, whatever the allows.
        denies: Vec<RuleRef>,
        /// The rules that list the action and a subject of the user, and apply here, but whose
        /// condition did not hold, so they decided nothing; each with its condition's terms.
        /// Absent from the JSON when empty.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        unmet: Vec<RuleRef>,
        /// When the request names a module that declares `data roles`: the roles the layer
        /// read. `None` (absent from the JSON) otherwise, and every effective subject counts.
        #[serde(skip_serializing_if = "Option::is_none")]
        data_roles: Option<DataRoles>,
    },
    /// The `transition` layer, for a request that names a target state.
    Transition {
        /// The case's current state.
        from: String,
        /// The target state the request names.
        to: String,
        /// The declared transitions from `from` to `to` by the action that are given to a
        /// subject the user acts as in the data layer; empty when the layer denied.
        transitions: Vec<RuleRef>,
    },
    /// The `access_mode` layer.
    Mode {
        /// The case kind's access-mode attribute (`mode ATTRIBUTE { … }`).
        attribute: String,
        /// The case's value of it: an enum variant's name.
        value: String,
        /// The relations the value's line admits; `None` (absent from the JSON) when the line
        /// is `everyone`.
        #[serde(skip_serializing_if = "Option::is_none")]
        needs_one_of: Option<Vec<String>>,
        /// The value's line of the access-mode block, located.
        rule: RuleRef,
    },
    /// The `read_code` and `write_code` layers.
    Code {
        /// The resource's effective code of that class, as displayed: levels joined by `&`,
        /// each level's codes by `|`, such as `[BB|AA] & [ ] & [PERS]`.
        effective: String,
        /// Its levels: the resource's own first, then those of each ancestor it inherits from.
        levels: Vec<LevelTrace>,
    },
}

/// The roles the data layer reads for a request through a module that declares `data roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataRoles {
    /// The module the request names.
    pub module: String,
    /// Its data roles, by name, in the order written.
    pub roles: Vec<String>,
    /// The roles the user holds here that are not among them, by name: the data layer does
    /// not read them for this request. Relations always count, so none is listed here.
    pub not_read: Vec<String>,
}

/// A relation the user holds, in the `scope` layer: on which resource, and through which group
/// when the relation lists a group of theirs rather than them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationHeld {
    /// The relation's name.
    pub relation: String,
    /// The id of the resource that lists it: the case, or the resource of the relation's kind.
    pub resource: String,
    /// The listed group through which the user holds it (absent when the user is listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A group the user is a member of, in the `scope` layer, and whether its scope admits the
/// resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupTrace {
    /// The group's name.
    pub group: String,
    /// The group the user is listed in, when this one is reached as its ancestor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// The group's scope in words: `all`, `assigned via assignee, collaborator`, or
    /// `filter any of { … }` / `filter all of { … }` with its conditions as written.
    pub scope: String,
    /// For a group with a `scope filter`, how its conditions combine: `any` (one suffices) or
    /// `all` (every one must hold). Absent from the JSON for other scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterMode>,
    /// Whether the scope admits this resource; only a group in scope gives its roles.
    pub in_scope: bool,
    /// The roles the group grants, by name, whether or not it is in scope.
    pub roles: Vec<String>,
    /// For a group with a `scope filter`, each condition of the filter with the case's value
    /// of its attribute and whether it holds: which held and which failed, whether or not the
    /// filter admits the resource. Empty (absent from the JSON) for other scopes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionTrace>,
}

/// A condition of a scope filter, in the `scope` layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionTrace {
    /// The condition as written: `category in [misconduct, fraud]`.
    pub condition: String,
    /// The case attribute it tests.
    pub attribute: String,
    /// The case's value of the attribute, as the policy writes values: `"theft"`, `42`,
    /// `true`, `Email`, `["a", "b"]` (at most [`MAX_SHOWN_SET_ITEMS`] strings of a set, then
    /// `… (N more)`), a user's or a resource's id in quotes. `None` (absent from the JSON) when
    /// the resource has no case, so there is nothing to test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether the condition holds for the case.
    pub holds: bool,
}

/// A rule of the policy, located in its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// What it is: `rule`, `table cell`, `transition`, `module grant` or `access mode`.
    pub kind: &'static str,
    /// The name of the policy file it is written in, as the policy was loaded.
    pub file: String,
    /// Its line, from 1.
    pub line: usize,
    /// Its column in characters, from 1.
    pub column: usize,
    /// Its text, as written: the statement, the cell entry (`-access`) or the line.
    pub source: String,
    /// A table cell's place, as a person reads it: `Start × Administrator`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// For a rule with a condition, in the `data` layer: each term of the condition with the
    /// values it read and whether it held. Empty (absent from the JSON) otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub condition: Vec<TermTrace>,
    /// Where it is in the policy's sources, for drawing it in a report; not in the JSON.
    #[serde(skip)]
    pub span: Span,
}

/// A term of a rule's condition, in the `data` layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermTrace {
    /// The term as written: `principal.dept == resource.dept`, `not principal is reporter`.
    pub term: String,
    /// What it read, each as `path = value`, values as the policy writes them:
    /// `principal.dept = "sales"`, `context.hour = 9`, `resource.owner = "ann"`.
    pub values: Vec<String>,
    /// Whether the term held (after its `not`).
    pub holds: bool,
}

/// One level of an effective access code, in a code layer: the user meets it when it is empty
/// or they hold one of its codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelTrace {
    /// Its codes, each with whether the user holds it; none for an empty level (`[ ]`), which
    /// restricts nothing.
    pub codes: Vec<CodeTrace>,
    /// The resource whose own code this level is.
    pub from: String,
    /// The kind of that resource, as the policy names it.
    pub from_kind: String,
    /// Whether the level is an ancestor's, inherited, rather than the resource's own.
    pub inherited: bool,
    /// Whether the user meets the level. The layer passes when every level is met.
    pub satisfied: bool,
}

/// One code of an access-code level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeTrace {
    /// The code: a user id, a group's name, an org unit's id or a term.
    pub code: String,
    /// Whether the user holds it: it is their id, a group they are a member of, an org unit
    /// they belong to (or its ancestor), or one of their terms.
    pub held: bool,
    /// For a held code, what the principal holds it as: `own id`, `group`, `group, through
    /// `HRDepartment``, `unit`, `unit, through `PERS``, `term`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

pub(crate) fn rule_ref(policy: &CompiledPolicy, kind: &'static str, span: Span) -> RuleRef {
    let src = policy.sources();
    let (line, column) = src.line_col(span);
    RuleRef {
        kind,
        file: src.name(span.file).to_string(),
        line,
        column,
        source: src.snippet(span).to_string(),
        cell: None,
        condition: Vec::new(),
        span,
    }
}

/// A data rule located in its source, a table cell named by its row and column.
pub(crate) fn data_rule_ref(policy: &CompiledPolicy, rule: &crate::ir::RuleDef) -> RuleRef {
    let p = policy.ir();
    let mut r = rule_ref(policy, rule_kind(rule.origin), rule.span);
    if let (RuleOrigin::TableCell { state, subject }, RuleScope::CaseType(t)) =
        (rule.origin, rule.scope)
    {
        r.cell = p.casetypes.get(t.idx()).and_then(|ct| {
            let row = &ct.states.get(state.idx())?.name;
            Some(format!("{row} × {}", p.subject_name(subject)))
        });
    }
    r
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
    match crate::resolve::resolve(policy, entities, request) {
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
                candidates: Vec::new(),
                counterfactuals: Vec::new(),
            }],
            error: Some(e),
            resource_kind: None,
            case: None,
        },
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

/// [`evaluate_resolved`] with the data layer's rules found as `scan` says.
///
/// The steps of docs/semantics.md in their order, each a function named after its layer as in
/// the VM (`vm.rs`): `permission` for step 1, and for an action `scope`, `requirement`,
/// `access_mode`, `module`, `data` and `codes`. Each records what its layer saw.
pub fn evaluate_resolved_with(
    policy: &CompiledPolicy,
    ent: &Entities,
    request: &Request,
    req: &Resolved,
    scan: Scan,
) -> Trace {
    let mut trace = Trace {
        decision: Decision::ERROR,
        request: request.clone(),
        error: None,
        resource_kind: None,
        case: None,
        layers: Vec::new(),
    };
    // Step 0: the request was resolved against these entities, for this policy.
    if !req.belongs_to(policy, ent) {
        trace.error = Some(crate::resolve::mismatched());
        return trace;
    }
    let who = Principal::new(policy.ir(), ent, req.principal());
    trace.decision = match *req {
        Resolved::Permission { permission, .. } => {
            self::permission(policy, &who, permission as usize, &mut trace.layers)
        }
        Resolved::Action {
            action,
            resource,
            module,
            target,
            ..
        } => {
            let on = On::new(
                policy.ir(),
                ent,
                who,
                resource as usize,
                request.context.as_ref(),
            );
            trace.resource_kind = Some(policy.ir().kinds[on.res.kind.idx()].name.clone());
            trace.case = on.case.map(String::from);
            let layers = layers(
                policy,
                &on,
                action as usize,
                module,
                target,
                scan,
                &mut trace.layers,
            );
            match layers {
                Ok(last) => Decision::allow(last),
                Err(deny) => deny,
            }
        }
    };
    trace
}

/// Step 2, the layers of an action in their order: the last layer that applied, or the deny of
/// the first that denied.
fn layers(
    policy: &CompiledPolicy,
    on: &On<'_>,
    action: usize,
    via: Option<u32>,
    target: Option<u32>,
    scan: Scan,
    trace: &mut Vec<LayerTrace>,
) -> Result<Layer, Decision> {
    let subjects = scope(policy, on, trace)?;
    requirement(policy, on, action, trace)?;
    access_mode(policy, on, trace)?;
    module(policy, on, &subjects, action, via, trace)?;
    let (subjects, data_roles) = data_subjects(policy.ir(), subjects, via);
    if let Some(target) = target {
        transition(policy, on, &subjects, action, target, trace)?;
    }
    data(policy, on, &subjects, data_roles, action, scan, trace)?;
    codes(policy, on, action, trace)
}

// ---- the steps, in the order of docs/semantics.md -------------------------------------------

/// Step 1, account permissions: allowed exactly when a group the principal is a member of
/// permits the permission.
fn permission(
    policy: &CompiledPolicy,
    who: &Principal<'_>,
    permission: usize,
    trace: &mut Vec<LayerTrace>,
) -> Decision {
    let p = policy.ir();
    let by = who.permitting(p, permission);
    let name = &p.permissions[permission].name;
    let allowed = !by.is_empty();
    trace.push(LayerTrace {
        layer: Layer::Permission,
        verdict: if allowed {
            Verdict::Pass
        } else {
            Verdict::Deny
        },
        summary: if allowed {
            format!(
                "`{}` holds account permission `{name}` through group {}",
                who.id,
                list(&by)
            )
        } else {
            format!("no group of `{}` permits `{name}`", who.id)
        },
        detail: Detail::None {},
        hints: if allowed || p.groups.iter().any(|g| permits(g, permission)) {
            vec![]
        } else {
            vec![format!("no group permits `{name}`")]
        },
        candidates: if allowed {
            vec![]
        } else {
            groups_permitting(p, permission)
        },
        counterfactuals: Vec::new(),
    });
    if allowed {
        Decision::allow(Layer::Permission)
    } else {
        Decision::deny(Layer::Permission, Reason::PermissionNotHeld)
    }
}

/// Scope: the effective subjects, the relations the principal holds on the anchor and the roles
/// of every group of membership that is in scope. Denies when there are none.
fn scope(
    policy: &CompiledPolicy,
    on: &On<'_>,
    trace: &mut Vec<LayerTrace>,
) -> Result<Subjects, Decision> {
    let p = policy.ir();
    let uid = on.who.id;
    let mut subjects: Vec<Subject> = on
        .held
        .iter()
        .map(|&r| Subject::Relation(RelationId(r as u32)))
        .collect();
    let mut groups = Vec::new();
    for &(g, through) in &on.who.member {
        let def = &p.groups[g];
        let (in_scope, scope) = in_scope(policy, on, &def.scope);
        let (filter, conditions) = match &def.scope {
            ScopeDef::Filter(mode, conds) => (Some(*mode), filter_conditions(policy, on, conds)),
            _ => (None, Vec::new()),
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
            filter,
            in_scope,
            roles: def
                .grants
                .iter()
                .map(|r| p.roles[r.idx()].name.clone())
                .collect(),
            conditions,
        });
    }
    // Every principal holds `everyone` on every resource, when the policy names it.
    if p.everyone {
        subjects.push(Subject::Everyone);
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
    trace.push(LayerTrace {
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
            // The case's relations held directly, as ever; the others each with where and how.
            let direct: Vec<&str> = on
                .held
                .iter()
                .map(|&r| p.relations[r].name.as_str())
                .filter(|n| !on.how.iter().any(|h| h.relation == *n))
                .collect();
            if !direct.is_empty() {
                parts.push(format!("`{}` is {} of the case", uid, direct.join(" and ")));
            }
            for h in &on.how {
                let place = if Some(h.resource.as_str()) == on.anchor.map(|_| on.anchor_id) {
                    "the case".to_string()
                } else {
                    format!("`{}`", h.resource)
                };
                parts.push(match &h.group {
                    Some(g) => format!("`{uid}` is {} of {place} through group `{g}`", h.relation),
                    None => format!("`{uid}` is {} of {place}", h.relation),
                });
            }
            if p.everyone {
                parts.push(format!("every user holds `{}`", crate::ir::EVERYONE));
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
        } else if on.anchor.is_none() {
            format!(
                "none of the groups of `{}` admits `{}`, which is in no case (so a filter or assigned scope has nothing to test)",
                uid, on.res_id
            )
        } else {
            format!(
                "none of the groups of `{}` admits `{}`, and `{}` holds no relation to the case",
                uid, on.res_id, uid
            )
        },
        detail: Detail::Groups {
            groups,
            relations: on.held_names.clone(),
            subjects: subject_names.clone(),
            held: on.how.clone(),
        },
        hints: Vec::new(),
        candidates: Vec::new(),
        counterfactuals: Vec::new(),
    });
    if !in_scope {
        return Err(Decision::deny(Layer::Scope, Reason::NotInScope));
    }
    Ok(Subjects {
        all: subjects,
        names: subject_names,
    })
}

/// Account requirement: applies when the action requires an account permission, which a group
/// the principal is a member of must permit (as in step 1).
fn requirement(
    policy: &CompiledPolicy,
    on: &On<'_>,
    action: usize,
    trace: &mut Vec<LayerTrace>,
) -> Result<(), Decision> {
    let p = policy.ir();
    let Some(perm) = p.actions[action].requires else {
        return Ok(());
    };
    let by = on.who.permitting(p, perm.idx());
    let name = &p.permissions[perm.idx()].name;
    let ok = !by.is_empty();
    trace.push(LayerTrace {
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
                p.actions[action].name, on.who.id
            )
        },
        detail: Detail::None {},
        hints: if ok || p.groups.iter().any(|g| permits(g, perm.idx())) {
            vec![]
        } else {
            vec![format!("no group permits `{name}`")]
        },
        candidates: if ok {
            vec![]
        } else {
            groups_permitting(p, perm.idx())
        },
        counterfactuals: Vec::new(),
    });
    if !ok {
        return Err(Decision::deny(
            Layer::Requirement,
            Reason::RequirementNotHeld,
        ));
    }
    Ok(())
}

/// Access mode: applies when the case kind declares one and the resource has an anchor. The
/// line of the anchor's value must admit everyone, or name a relation the principal holds.
fn access_mode(
    policy: &CompiledPolicy,
    on: &On<'_>,
    trace: &mut Vec<LayerTrace>,
) -> Result<(), Decision> {
    let p = policy.ir();
    let mode = p.case_kind.and_then(|k| p.kinds[k.idx()].mode.as_ref());
    let (Some(mode), Some(a)) = (mode, on.anchor) else {
        return Ok(());
    };
    let (uid, anchor_id) = (on.who.id, on.anchor_id);
    let attr = &p.case_attrs()[mode.attr.idx()];
    let variant = match a.attrs[mode.attr.idx()] {
        AttrValue::Variant(v) => v as usize,
        _ => 0,
    };
    let value = match attr.ty {
        Type::Enum(e) => p.enums[e.idx()]
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
    let ok = needs.as_ref().is_none_or(|rs| on.holds(rs));
    trace.push(LayerTrace {
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
                on.held_names
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
        hints: Vec::new(),
        candidates: match (&needs, ok) {
            (Some(rs), false) => rs.iter().map(|&r| on.relation_candidate(p, r)).collect(),
            _ => vec![],
        },
        counterfactuals: Vec::new(),
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
        return Err(Decision::deny(Layer::AccessMode, Reason::Restricted));
    }
    Ok(())
}

/// Module: applies when the anchor's case type has module grants. The request must name a
/// module that offers the action, whose records (if it declares them) the principal is one of,
/// and one of its grant lines for the case type must give the action to an effective subject.
fn module(
    policy: &CompiledPolicy,
    on: &On<'_>,
    subjects: &Subjects,
    action: usize,
    via: Option<u32>,
    trace: &mut Vec<LayerTrace>,
) -> Result<(), Decision> {
    let p = policy.ir();
    let Some(a) = on.anchor else {
        return Ok(());
    };
    let ct = &p.casetypes[a.casetype as usize];
    if !ct.uses_modules {
        return Ok(());
    }
    let uid = on.who.id;
    let action_name = &p.actions[action].name;
    let module_name = via.map(|m| p.modules[m as usize].name.clone());
    let mut fail = |reason, summary: String, (hints, candidates): (Vec<String>, Vec<Candidate>)| {
        trace.push(LayerTrace {
            layer: Layer::Module,
            verdict: Verdict::Deny,
            summary,
            detail: Detail::Module {
                module: module_name.clone(),
                grants: vec![],
            },
            hints,
            candidates,
            counterfactuals: Vec::new(),
        });
        Err(Decision::deny(Layer::Module, reason))
    };
    // Every module that offers the action, for the hints of two denies only.
    let offering = || -> Vec<String> {
        p.modules
            .iter()
            .filter(|m| m.actions.iter().any(|x| x.idx() == action))
            .map(|m| m.name.clone())
            .collect()
    };
    let Some(m) = via else {
        return fail(
            Reason::NoModule,
            crate::decision::no_module_note(p, a.casetype as usize, Some(action)),
            (vec![], vec![]),
        );
    };
    let mdef = &p.modules[m as usize];
    if !mdef.actions.iter().any(|x| x.idx() == action) {
        return fail(
            Reason::NotInModule,
            format!("module `{}` does not offer `{action_name}`", mdef.name),
            (
                vec![format!(
                    "`{action_name}` is offered by {}",
                    list(&offering())
                )],
                vec![],
            ),
        );
    }
    if !mdef.records.is_empty() && !on.holds(&mdef.records) {
        let rec: Vec<String> = mdef
            .records
            .iter()
            .map(|r| p.relations[r.idx()].name.clone())
            .collect();
        return fail(
            Reason::NotARecord,
            format!(
                "module `{}` shows only cases where the user is {}, and `{}` is not",
                mdef.name,
                list(&rec),
                uid
            ),
            (
                vec![],
                mdef.records
                    .iter()
                    .map(|&r| on.relation_candidate(p, r))
                    .collect(),
            ),
        );
    }
    let lines: Vec<&ModuleGrantDef> = ct
        .module_grants
        .iter()
        .filter(|g| g.module.0 == m && g.actions.iter().any(|x| x.idx() == action))
        .collect();
    let matching: Vec<RuleRef> = lines
        .iter()
        .filter(|g| g.subjects.iter().any(|s| subjects.has(s)))
        .map(|g| rule_ref(policy, "module grant", g.span))
        .collect();
    if matching.is_empty() {
        let mut could: Vec<Subject> = lines
            .iter()
            .flat_map(|g| g.subjects.iter().copied())
            .collect();
        could.sort();
        could.dedup();
        return fail(
            Reason::ModuleNotGranted,
            format!(
                "module `{}` grants `{action_name}` on `{}` cases to none of {}",
                mdef.name,
                ct.name,
                subjects.names.join(", ")
            ),
            subject_candidates(p, on, &could),
        );
    }
    trace.push(LayerTrace {
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
        candidates: Vec::new(),
        counterfactuals: Vec::new(),
    });
    Ok(())
}

/// Transition: applies when the request names a target state. Every transition of the anchor's
/// case type is read: one must list the action, the anchor's state among its sources, the
/// target as its destination, and a subject the data layer reads in its `by`.
fn transition(
    policy: &CompiledPolicy,
    on: &On<'_>,
    subjects: &Subjects,
    action: usize,
    target: u32,
    trace: &mut Vec<LayerTrace>,
) -> Result<(), Decision> {
    let p = policy.ir();
    let action_name = &p.actions[action].name;
    let Some(a) = on.anchor else {
        trace.push(LayerTrace {
            layer: Layer::Transition,
            verdict: Verdict::Deny,
            summary: format!("no transition: `{}` is in no case", on.res_id),
            detail: Detail::None {},
            hints: Vec::new(),
            candidates: Vec::new(),
            counterfactuals: Vec::new(),
        });
        return Err(Decision::deny(Layer::Transition, Reason::NoTransition));
    };
    let ct = &p.casetypes[a.casetype as usize];
    let from = ct.states[a.state as usize].name.clone();
    let to = ct.states[target as usize].name.clone();
    let declared: Vec<&crate::ir::TransitionDef> = ct
        .transitions
        .iter()
        .filter(|t| {
            t.action.idx() == action && t.to.0 == target && t.from.iter().any(|f| f.0 == a.state)
        })
        .collect();
    let granted: Vec<RuleRef> = declared
        .iter()
        .filter(|t| t.by.iter().any(|s| subjects.has(s)))
        .map(|t| rule_ref(policy, "transition", t.span))
        .collect();
    let (verdict, reason, summary, (hints, candidates)) = if declared.is_empty() {
        let leaving: Vec<String> = ct
            .transitions
            .iter()
            .filter(|t| t.action.idx() == action && t.from.iter().any(|f| f.0 == a.state))
            .map(|t| ct.states[t.to.idx()].name.clone())
            .collect();
        let hint = if leaving.is_empty() {
            format!("no transition by `{action_name}` leaves state `{from}`")
        } else {
            format!(
                "`{action_name}` moves a case in state `{from}` to {}",
                list(&leaving)
            )
        };
        (
            Verdict::Deny,
            Reason::NoTransition,
            format!(
                "no transition: case type `{}` declares no move by `{action_name}` from `{from}` to `{to}`",
                ct.name
            ),
            (vec![hint], vec![]),
        )
    } else if granted.is_empty() {
        let mut could: Vec<Subject> = declared.iter().flat_map(|t| t.by.iter().copied()).collect();
        could.sort();
        could.dedup();
        (
            Verdict::Deny,
            Reason::TransitionNotGranted,
            format!(
                "the move by `{action_name}` from `{from}` to `{to}` is given to none of {}",
                subjects.names.join(", ")
            ),
            subject_candidates(p, on, &could),
        )
    } else {
        (
            Verdict::Pass,
            Reason::Allowed,
            format!("`{action_name}` may move the case from `{from}` to `{to}`"),
            (vec![], vec![]),
        )
    };
    trace.push(LayerTrace {
        layer: Layer::Transition,
        verdict,
        summary,
        detail: Detail::Transition {
            from,
            to,
            transitions: granted,
        },
        hints,
        candidates,
        counterfactuals: Vec::new(),
    });
    if verdict == Verdict::Deny {
        return Err(Decision::deny(Layer::Transition, reason));
    }
    Ok(())
}

/// The subjects the data layer reads: the effective subjects, less, for a request through a
/// module that declares `data roles`, every role that is not one of them (relations stay).
fn data_subjects(
    p: &Policy,
    subjects: Subjects,
    via: Option<u32>,
) -> (Subjects, Option<DataRoles>) {
    let Some((m, roles)) = via.and_then(|m| Some((m, p.modules[m as usize].data_roles.as_ref()?)))
    else {
        return (subjects, None);
    };
    let mut read = Subjects {
        all: Vec::new(),
        names: Vec::new(),
    };
    let mut not_read = Vec::new();
    for (s, name) in subjects.all.into_iter().zip(subjects.names) {
        match s {
            Subject::Role(r) if !roles.contains(&r) => not_read.push(name),
            _ => {
                read.all.push(s);
                read.names.push(name);
            }
        }
    }
    let data_roles = DataRoles {
        module: p.modules[m as usize].name.clone(),
        roles: roles
            .iter()
            .map(|r| p.roles[r.idx()].name.clone())
            .collect(),
        not_read,
    };
    (read, Some(data_roles))
}

/// Data rules: the rules that apply to the resource and list the action, for an effective
/// subject, found as `scan` says. A deny overrides every allow; with no allow, nothing is
/// permitted.
fn data(
    policy: &CompiledPolicy,
    on: &On<'_>,
    subjects: &Subjects,
    data_roles: Option<DataRoles>,
    action: usize,
    scan: Scan,
    trace: &mut Vec<LayerTrace>,
) -> Result<(), Decision> {
    let p = policy.ir();
    let res = on.res;
    let state = on.anchor.map(|a| (a.casetype, a.state));
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    let mut unmet = Vec::new();
    let mut unmet_allows = 0usize;
    let mut allow_subjects: Vec<Subject> = Vec::new();
    // The effects of the matching rules that hold only in some states.
    let mut stated: Vec<Effect> = Vec::new();
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
        if !rule.subjects.iter().any(|s| subjects.has(s)) {
            if rule.effect == Effect::Allow {
                allow_subjects.extend(rule.subjects.iter().copied());
            }
            continue;
        }
        let mut r = data_rule_ref(policy, rule);
        if !rule.when.is_empty() {
            let (holds, terms) = condition(policy, on, rule, &subjects.all);
            r.condition = terms;
            if !holds {
                unmet_allows += usize::from(rule.effect == Effect::Allow);
                unmet.push(r);
                continue;
            }
        }
        if !rule.states.is_empty() {
            stated.push(rule.effect);
        }
        match rule.effect {
            Effect::Allow => allows.push(r),
            Effect::Deny => denies.push(r),
        }
    }
    let kind_name = &p.kinds[res.kind.idx()].name;
    let on_kind = format!(
        "on {} `{kind_name}`",
        crate::diagnostic::words::article(kind_name)
    );
    // A case of a type without workflow is in a state that has no name: say the kind.
    let where_ = match on.anchor {
        Some(a) if p.casetypes[a.casetype as usize].workflow => format!(
            "in state `{}`",
            p.casetypes[a.casetype as usize].states[a.state as usize].name
        ),
        _ => on_kind.clone(),
    };
    // The state is said only when a rule that decided holds in some states only.
    let where_by = |effect: Effect| match stated.contains(&effect) {
        true => where_.clone(),
        false => on_kind.clone(),
    };
    let action_name = p.actions[action].name.clone();
    let (verdict, reason, summary, (hints, candidates)) = if !denies.is_empty() {
        let s = if allows.is_empty() {
            format!(
                "explicitly denied: `{action_name}` is denied {}",
                where_by(Effect::Deny)
            )
        } else {
            format!(
                "explicitly denied: `{action_name}` is denied {}; deny overrides the {} matching allow{}",
                where_by(Effect::Deny),
                allows.len(),
                if allows.len() == 1 { "" } else { "s" }
            )
        };
        (Verdict::Deny, Reason::ExplicitlyDenied, s, (vec![], vec![]))
    } else if !allows.is_empty() {
        (
            Verdict::Pass,
            Reason::Allowed,
            format!("`{action_name}` is allowed {}", where_by(Effect::Allow)),
            (vec![], vec![]),
        )
    } else {
        allow_subjects.sort();
        allow_subjects.dedup();
        let anyone = !allow_subjects.is_empty();
        // Through a module with `data roles`, only those roles (and relations) could help; after
        // the dedup, at most one test per subject.
        if let Some(d) = &data_roles {
            allow_subjects.retain(|s| match s {
                Subject::Role(r) => d.roles.contains(&p.roles[r.idx()].name),
                Subject::Relation(_) | Subject::Everyone => true,
            });
        }
        let hints = if allow_subjects.is_empty() {
            let note = match (&data_roles, anyone) {
                (Some(d), true) => format!(
                    "no rule allows `{action_name}` {where_} to a data role of module `{}` or to a relation",
                    d.module
                ),
                _ => format!("no rule allows `{action_name}` {where_} to anyone"),
            };
            (vec![note], vec![])
        } else {
            subject_candidates(p, on, &allow_subjects)
        };
        (
            Verdict::Deny,
            Reason::NotPermitted,
            match (&data_roles, subjects.names.is_empty()) {
                (Some(d), true) => format!(
                    "not permitted: module `{}` reads none of the user's roles in the data layer",
                    d.module
                ),
                _ => {
                    // Rules that would have allowed, but whose condition did not hold.
                    let unmet_allows = unmet_allows;
                    let conditions = match unmet_allows {
                        0 => String::new(),
                        1 => " (one allow names them, but its condition does not hold)".into(),
                        n => format!(" ({n} allows name them, but their conditions do not hold)"),
                    };
                    format!(
                        "not permitted: no rule allows `{action_name}` {where_} to {}{conditions}",
                        subjects.names.join(", ")
                    )
                }
            },
            hints,
        )
    };
    trace.push(LayerTrace {
        layer: Layer::Data,
        verdict,
        summary,
        detail: Detail::Rules {
            allows,
            denies,
            unmet,
            data_roles,
        },
        hints,
        candidates,
        counterfactuals: Vec::new(),
    });
    if verdict == Verdict::Deny {
        return Err(Decision::deny(Layer::Data, reason));
    }
    Ok(())
}

/// Access codes: the read code, then the write code, each when the action is checked against
/// it. The principal must meet the resource's effective code of that class: its own levels and
/// those of the ancestors it inherits from, re-derived here by walking the parents. The last
/// layer that applied: a code layer, or the data layer when neither applies.
fn codes(
    policy: &CompiledPolicy,
    on: &On<'_>,
    action: usize,
    trace: &mut Vec<LayerTrace>,
) -> Result<Layer, Decision> {
    let p = policy.ir();
    let (ent, uid, resource) = (on.ent, on.who.id, on.resource);
    let mut last = Layer::Data;
    let user_codes = code_set(p, ent, on.who.principal, &on.who.member);
    for (layer, applies) in [
        (Layer::ReadCode, p.actions[action].read_code),
        (Layer::WriteCode, p.actions[action].write_code),
    ] {
        if !applies {
            continue;
        }
        let read = layer == Layer::ReadCode;
        let mut levels: Vec<LevelTrace> = Vec::new();
        // For each level not met, the changes that would meet it.
        let mut options: Vec<Vec<Change>> = Vec::new();
        let mut unmeetable: Vec<String> = Vec::new();
        let mut cur = Some(resource as u32);
        while let Some(c) = cur {
            let r = &ent.resources[c as usize];
            let own = if read { &r.own_read } else { &r.own_write };
            for l in own.iter() {
                let codes: Vec<CodeTrace> = l
                    .iter()
                    .map(|c| {
                        let code = ent.symbol(*c);
                        let at = user_codes
                            .binary_search_by(|(u, _)| {
                                #[cfg(test)]
                                tests::count(&tests::CODE_TESTS);
                                u.as_str().cmp(code)
                            })
                            .ok();
                        CodeTrace {
                            code: code.to_string(),
                            held: at.is_some(),
                            by: at.map(|i| user_codes[i].1.clone()),
                        }
                    })
                    .collect();
                let satisfied = codes.is_empty() || codes.iter().any(|c| c.held);
                if !satisfied {
                    let ways = code_changes(ent, l);
                    if ways.is_empty() {
                        let names: Vec<String> = codes.iter().map(|c| c.code.clone()).collect();
                        unmeetable.push(format!(
                            "the level [{}] names only other users: no change to `{uid}` meets it",
                            names.join("|")
                        ));
                    }
                    options.push(ways);
                }
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
        let candidates = match unmeetable.is_empty() {
            true => level_candidates(&options),
            false => Vec::new(),
        };
        trace.push(LayerTrace {
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
            hints: unmeetable,
            candidates,
            counterfactuals: Vec::new(),
        });
        if !ok {
            return Err(Decision::deny(layer, Reason::CodeNotHeld));
        }
        last = layer;
    }
    Ok(last)
}

// ---- what the steps read --------------------------------------------------------------------

/// The principal: their id, and the groups they are a member of (docs/semantics.md, "Group
/// membership").
struct Principal<'e> {
    principal: u32,
    id: &'e str,
    /// Each group of membership, with the listed group it was reached through.
    member: Vec<(usize, Option<usize>)>,
}

impl<'e> Principal<'e> {
    fn new(p: &Policy, ent: &'e Entities, principal: u32) -> Principal<'e> {
        Principal {
            principal,
            id: ent.user_id(principal),
            member: memberships(p, &ent.users[principal as usize].direct_groups),
        }
    }

    /// The groups of membership that permit account permission `perm`, by name.
    fn permitting(&self, p: &Policy, perm: usize) -> Vec<String> {
        self.member
            .iter()
            .filter(|(g, _)| p.groups[*g].permits.iter().any(|x| x.idx() == perm))
            .map(|(g, _)| p.groups[*g].name.clone())
            .collect()
    }
}

/// What the layers of an action read of a request: the principal, the resource, its anchor
/// case (found by walking parents) and the relations the principal holds on it.
struct On<'e> {
    ent: &'e Entities,
    who: Principal<'e>,
    resource: usize,
    res: &'e Resource,
    res_id: &'e str,
    anchor: Option<&'e Resource>,
    /// The anchor's id, where there is an anchor.
    anchor_id: &'e str,
    /// The anchor case's id, when it is not the resource itself.
    case: Option<&'e str>,
    /// The relations the principal holds on the anchor, by index and by name.
    held: Vec<usize>,
    held_names: Vec<String>,
    /// How each relation of a resource kind, and each relation held through a group, is held.
    how: Vec<RelationHeld>,
    /// The request's context, as the request gives it: conditions read it by field name.
    context: Option<&'e serde_json::Map<String, serde_json::Value>>,
}

impl<'e> On<'e> {
    fn new(
        p: &Policy,
        ent: &'e Entities,
        who: Principal<'e>,
        resource: usize,
        context: Option<&'e serde_json::Map<String, serde_json::Value>>,
    ) -> On<'e> {
        // The anchor: walk up until a resource of the case kind.
        let mut anchor = None;
        let mut cur = Some(resource as u32);
        while let Some(c) = cur {
            let r = &ent.resources[c as usize];
            if p.kinds[r.kind.idx()].is_case {
                anchor = Some(c);
                break;
            }
            cur = r.parent;
        }
        // Each relation is held on the resource at or above this one of the relation's kind
        // (for the case's relations, the anchor): by a user it lists, or a member of a group it
        // lists.
        let mut held: Vec<usize> = Vec::new();
        let mut how: Vec<RelationHeld> = Vec::new();
        for r in 0..p.relations.len() {
            let Some(kind) = p.relation_kind(RelationId(r as u32)) else {
                continue;
            };
            let declared = &p.kinds[kind.idx()].relations;
            let Some(local) = declared.iter().position(|x| x.idx() == r) else {
                continue;
            };
            let mut cur = Some(resource as u32);
            while let Some(c) = cur {
                let x = &ent.resources[c as usize];
                if x.kind == kind {
                    break;
                }
                cur = x.parent;
            }
            let Some(at) = cur else { continue };
            let Some(list) = ent.resources[at as usize].relations.get(local) else {
                continue;
            };
            let listed = list.contains(&who.principal);
            let group = if listed {
                None
            } else {
                who.member
                    .iter()
                    .map(|&(g, _)| g as u32 | crate::entities::GROUP_MEMBER)
                    .filter(|g| list.contains(g))
                    .min_by_key(|g| list.iter().position(|x| x == g))
            };
            if listed || group.is_some() {
                held.push(r);
                if !p.kinds[kind.idx()].is_case || group.is_some() {
                    how.push(RelationHeld {
                        relation: p.relations[r].name.clone(),
                        resource: ent.resource_id(at).to_string(),
                        group: group.map(|g| {
                            p.groups[(g & !crate::entities::GROUP_MEMBER) as usize]
                                .name
                                .clone()
                        }),
                    });
                }
            }
        }
        On {
            ent,
            resource,
            res: &ent.resources[resource],
            res_id: ent.resource_id(resource as u32),
            anchor: anchor.map(|a| &ent.resources[a as usize]),
            anchor_id: anchor.map_or("", |a| ent.resource_id(a)),
            case: anchor
                .filter(|&a| a as usize != resource)
                .map(|a| ent.resource_id(a)),
            held_names: held.iter().map(|&r| p.relations[r].name.clone()).collect(),
            held,
            how,
            who,
            context,
        }
    }

    /// The principal holding relation `r` on the anchor case.
    fn relation_change(&self, p: &Policy, r: RelationId) -> Change {
        Change::HoldRelation {
            relation: p.relations[r.idx()].name.clone(),
            case: self.anchor_id.to_string(),
            id: r.0,
        }
    }

    /// [`On::relation_change`] as a candidate of its own.
    fn relation_candidate(&self, p: &Policy, r: RelationId) -> Candidate {
        Candidate {
            changes: vec![self.relation_change(p, r)],
            why: None,
        }
    }

    /// Does the principal hold one of these relations on the anchor?
    fn holds(&self, rels: &[RelationId]) -> bool {
        rels.iter().any(|r| self.held.contains(&r.idx()))
    }
}

/// The effective subjects, sorted, and their names.
struct Subjects {
    all: Vec<Subject>,
    names: Vec<String>,
}

impl Subjects {
    fn has(&self, s: &Subject) -> bool {
        self.all.contains(s)
    }
}

/// Is a group with this scope in scope (docs/semantics.md, "Groups in scope")? And its scope in
/// words.
fn in_scope(policy: &CompiledPolicy, on: &On<'_>, scope: &ScopeDef) -> (bool, String) {
    let p = policy.ir();
    match scope {
        ScopeDef::All => (true, "all".to_string()),
        ScopeDef::Assigned(rels) => (
            on.anchor.is_some() && on.holds(rels),
            format!(
                "assigned via {}",
                rels.iter()
                    .map(|r| p.relations[r.idx()].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ScopeDef::Filter(mode, conds) => {
            // A filter without conditions admits nothing, whichever its mode.
            let ok = !conds.is_empty()
                && on.anchor.is_some_and(|a| match mode {
                    FilterMode::Any => conds.iter().any(|c| cond_holds(on, a, c)),
                    FilterMode::All => conds.iter().all(|c| cond_holds(on, a, c)),
                });
            let text: Vec<&str> = conds
                .iter()
                .map(|c| policy.sources().snippet(c.span))
                .collect();
            (
                ok,
                format!("filter {} {{ {} }}", mode.words(), text.join("; ")),
            )
        }
    }
}

/// Whether a rule's condition holds (docs/semantics.md step 2.6): every term, read literally
/// from the entities and the request's context as the request gives it. A term that cannot be
/// read (which a checked policy with entities that loaded and a request that resolved never
/// meets) fails closed: the condition of an allow does not hold, that of a deny does. And
/// each term with what it read, for the trace.
fn condition(
    policy: &CompiledPolicy,
    on: &On<'_>,
    rule: &crate::ir::RuleDef,
    _subjects: &[Subject],
) -> (bool, Vec<TermTrace>) {
    let p = policy.ir();
    let src = policy.sources();
    let mut holds = true;
    let mut terms = Vec::with_capacity(rule.when.len());
    for t in &rule.when {
        let mut values = Vec::new();
        let result = term_holds(p, on, &t.test, &mut values).map(|r| r != t.negate);
        let held = result.unwrap_or(rule.effect == Effect::Deny);
        holds &= held;
        terms.push(TermTrace {
            term: src.snippet(t.span).to_string(),
            values,
            holds: held,
        });
    }
    (holds, terms)
}

/// A value a condition read, as the reference evaluator holds it: strings by their text.
#[derive(Debug, Clone, PartialEq)]
enum Read<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    /// A `datetime`, in microseconds since 1970-01-01T00:00:00Z.
    DateTime(i64),
    Variant(u32),
    User(u32),
    Resource(u32),
    Set(Vec<&'a str>),
}

/// Whether a term holds (before its `not`); `None` when a value it reads is not there or has
/// another type than the test takes. Each value read is noted in `seen`.
fn term_holds(
    p: &Policy,
    on: &On<'_>,
    test: &crate::ir::TermTest,
    seen: &mut Vec<String>,
) -> Option<bool> {
    use crate::ir::TermTest;
    Some(match test {
        TermTest::Holds(r) => {
            seen.push(format!(
                "`{}` holds `{}`: {}",
                on.who.id,
                p.relations[r.idx()].name,
                if on.holds(&[*r]) { "yes" } else { "no" }
            ));
            // Without an anchor no relation of the case is held, and one of a resource kind
            // only where its resource is: `held` says both.
            on.holds(&[*r])
        }
        TermTest::True(a) => match read(p, on, a, seen)? {
            Read::Bool(b) => b,
            _ => return None,
        },
        TermTest::Compare(a, op, b) => {
            let (x, y) = (read(p, on, a, seen)?, read(p, on, b, seen)?);
            match (x, y, op) {
                (Read::Int(x), Read::Int(y), op) | (Read::DateTime(x), Read::DateTime(y), op) => {
                    op.holds(x, y)
                }
                (x, y, crate::ir::CmpOp::Eq) => same(&x, &y)?,
                (x, y, crate::ir::CmpOp::Ne) => !same(&x, &y)?,
                _ => return None,
            }
        }
        TermTest::OneOf(a, values) => {
            let x = read(p, on, a, seen)?;
            let mut any = false;
            for v in values {
                any |= same(&x, &literal(v))?;
            }
            any
        }
        TermTest::Contains(set, item) => {
            match (read(p, on, set, seen)?, read(p, on, item, seen)?) {
                (Read::Set(items), Read::Str(x)) => items.contains(&x),
                _ => return None,
            }
        }
    })
}

/// Whether two values of one type are equal; `None` for two types.
fn same(a: &Read<'_>, b: &Read<'_>) -> Option<bool> {
    Some(match (a, b) {
        (Read::Str(x), Read::Str(y)) => x == y,
        (Read::Int(x), Read::Int(y)) | (Read::DateTime(x), Read::DateTime(y)) => x == y,
        (Read::Bool(x), Read::Bool(y)) => x == y,
        (Read::Variant(x), Read::Variant(y))
        | (Read::User(x), Read::User(y))
        | (Read::Resource(x), Read::Resource(y)) => x == y,
        _ => return None,
    })
}

fn literal(v: &Value) -> Read<'_> {
    match v {
        Value::Str(s) => Read::Str(s),
        Value::Int(i) => Read::Int(*i),
        Value::Bool(b) => Read::Bool(*b),
        Value::DateTime(t) => Read::DateTime(*t),
        Value::Variant(x) => Read::Variant(*x),
    }
}

/// The value an operand reads for the request, noted in `seen` (a literal is not noted).
fn read<'a>(
    p: &'a Policy,
    on: &On<'a>,
    o: &'a crate::ir::Operand,
    seen: &mut Vec<String>,
) -> Option<Read<'a>> {
    use crate::ir::Operand;
    let ent = on.ent;
    let stored = |v: &'a AttrValue| -> Read<'a> {
        match v {
            AttrValue::Sym(s) => Read::Str(ent.symbol(*s)),
            AttrValue::Int(i) => Read::Int(*i),
            AttrValue::DateTime(t) => Read::DateTime(*t),
            AttrValue::Bool(b) => Read::Bool(*b),
            AttrValue::Variant(x) => Read::Variant(*x),
            AttrValue::User(u) => Read::User(*u),
            AttrValue::Resource(r) => Read::Resource(*r),
            AttrValue::Set(items) => Read::Set(items.iter().map(|x| ent.symbol(*x)).collect()),
        }
    };
    let (path, def, value) = match o {
        Operand::Literal(v) => return Some(literal(v)),
        Operand::Principal => {
            seen.push(format!("principal = {:?}", on.who.id));
            return Some(Read::User(on.who.principal));
        }
        Operand::User(a) => {
            let def = p.user_attrs.get(a.idx())?;
            let v = ent
                .user_attrs
                .get(on.who.principal as usize)?
                .get(a.idx())?;
            (format!("principal.{}", def.name), def, stored(v))
        }
        Operand::Resource(a) => {
            let def = p.kinds[on.res.kind.idx()].attrs.get(a.idx())?;
            (
                format!("resource.{}", def.name),
                def,
                stored(on.res.attrs.get(a.idx())?),
            )
        }
        Operand::Case(a) => {
            let anchor = on.anchor?;
            let def = p.kinds[anchor.kind.idx()].attrs.get(a.idx())?;
            (
                format!("case.{}", def.name),
                def,
                stored(anchor.attrs.get(a.idx())?),
            )
        }
        Operand::Context(a) => {
            let def = p.context.get(a.idx())?;
            let v = on.context?.get(&def.name)?;
            let read = match (def.ty, v) {
                (Type::Bool, serde_json::Value::Bool(b)) => Read::Bool(*b),
                (Type::Int, serde_json::Value::Number(n)) => Read::Int(n.as_i64()?),
                (Type::Str, serde_json::Value::String(s)) => Read::Str(s),
                // The context's text, read literally, by the one RFC 3339 reader.
                (Type::DateTime, serde_json::Value::String(s)) => {
                    Read::DateTime(crate::datetime::parse(s).ok()?)
                }
                (Type::Enum(e), serde_json::Value::String(s)) => {
                    Read::Variant(p.enums[e.idx()].variants.iter().position(|v| v == s)? as u32)
                }
                (Type::SetStr, serde_json::Value::Array(items)) => Read::Set(
                    items
                        .iter()
                        .map(|i| i.as_str())
                        .collect::<Option<Vec<&str>>>()?,
                ),
                _ => return None,
            };
            (format!("context.{}", def.name), def, read)
        }
    };
    seen.push(format!("{path} = {}", show_read(p, on, def.ty, &value)));
    Some(value)
}

/// A value read by a condition, as the policy writes values; a set shows at most
/// [`MAX_SHOWN_SET_ITEMS`] strings.
fn show_read(p: &Policy, on: &On<'_>, ty: Type, v: &Read<'_>) -> String {
    match v {
        Read::Str(s) => format!("{s:?}"),
        Read::Int(i) => i.to_string(),
        Read::DateTime(t) => format!("{:?}", crate::datetime::format(*t)),
        Read::Bool(b) => b.to_string(),
        Read::Variant(x) => match ty {
            Type::Enum(e) => p.enums[e.idx()]
                .variants
                .get(*x as usize)
                .cloned()
                .unwrap_or_default(),
            _ => x.to_string(),
        },
        Read::User(u) => format!("{:?}", on.ent.user_id(*u)),
        Read::Resource(r) => format!("{:?}", on.ent.resource_id(*r)),
        Read::Set(items) => {
            let mut shown: Vec<String> = items
                .iter()
                .take(MAX_SHOWN_SET_ITEMS)
                .map(|x| format!("{x:?}"))
                .collect();
            if items.len() > MAX_SHOWN_SET_ITEMS {
                shown.push(format!("… ({} more)", items.len() - MAX_SHOWN_SET_ITEMS));
            }
            format!("[{}]", shown.join(", "))
        }
    }
}

/// Does a condition of a scope filter hold for the anchor case?
fn cond_holds(on: &On<'_>, a: &Resource, c: &crate::ir::Cond) -> bool {
    let Some(v) = a.attrs.get(c.attr.idx()) else {
        return false;
    };
    let r = match &c.test {
        CondTest::OneOf(vals) => vals.iter().any(|x| attr_matches(on.ent, v, x)),
        CondTest::Contains(s) => {
            matches!(v, AttrValue::Set(set) if set.iter().any(|x| on.ent.symbol(*x) == s))
        }
        CondTest::IsPrincipal => matches!(v, AttrValue::User(u) if *u == on.who.principal),
    };
    r != c.negate
}

/// The conditions of a scope filter, each with the case's value of its attribute and whether it
/// holds: why the group is in scope or out of it.
fn filter_conditions(
    policy: &CompiledPolicy,
    on: &On<'_>,
    conds: &[crate::ir::Cond],
) -> Vec<ConditionTrace> {
    let p = policy.ir();
    conds
        .iter()
        .map(|c| {
            let attr = p.case_attrs().get(c.attr.idx());
            ConditionTrace {
                condition: policy.sources().snippet(c.span).to_string(),
                attribute: attr.map(|a| a.name.clone()).unwrap_or_default(),
                value: on.anchor.and_then(|a| {
                    let v = a.attrs.get(c.attr.idx())?;
                    Some(show_value(p, on.ent, attr.map(|a| &a.ty), v))
                }),
                holds: on.anchor.is_some_and(|a| cond_holds(on, a, c)),
            }
        })
        .collect()
}

/// An attribute's value as the policy writes values; a set shows at most
/// [`MAX_SHOWN_SET_ITEMS`] strings.
fn show_value(p: &Policy, ent: &Entities, ty: Option<&Type>, v: &AttrValue) -> String {
    match v {
        AttrValue::Sym(s) => format!("{:?}", ent.symbol(*s)),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::DateTime(t) => format!("{:?}", crate::datetime::format(*t)),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::Set(items) => {
            let mut shown: Vec<String> = items
                .iter()
                .take(MAX_SHOWN_SET_ITEMS)
                .map(|x| format!("{:?}", ent.symbol(*x)))
                .collect();
            if items.len() > MAX_SHOWN_SET_ITEMS {
                shown.push(format!("… ({} more)", items.len() - MAX_SHOWN_SET_ITEMS));
            }
            format!("[{}]", shown.join(", "))
        }
        AttrValue::User(u) => format!("{:?}", ent.user_id(*u)),
        AttrValue::Resource(r) => format!("{:?}", ent.resource_id(*r)),
        AttrValue::Variant(i) => match ty {
            Some(Type::Enum(e)) => p
                .enums
                .get(e.idx())
                .and_then(|d| d.variants.get(*i as usize))
                .cloned()
                .unwrap_or_else(|| i.to_string()),
            _ => i.to_string(),
        },
    }
}

/// Groups the user is a member of, each with the listed group it was reached through. A group
/// is kept once, with the first listed group that reaches it; a set of those kept makes this
/// linear in the groups and their ancestors.
fn memberships(p: &Policy, direct: &[u32]) -> Vec<(usize, Option<usize>)> {
    let mut out: Vec<(usize, Option<usize>)> = Vec::new();
    let mut kept = std::collections::HashSet::new();
    for &d in direct {
        let mut cur = Some(d as usize);
        let mut first = true;
        while let Some(g) = cur {
            if !kept.insert(g) {
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

/// The principal's code set as strings, each with the path that gives it: their id, their
/// groups with ancestors, their units with ancestors, their terms (docs/semantics.md, 2.7).
/// Sorted by code, without repeats (a code given twice keeps its first path in that order), so
/// that a code is looked up with a binary search.
fn code_set(
    p: &Policy,
    ent: &Entities,
    principal: u32,
    member: &[(usize, Option<usize>)],
) -> Vec<(String, String)> {
    let user = &ent.users[principal as usize];
    let mut out = vec![(ent.user_id(principal).to_string(), "own id".to_string())];
    out.extend(member.iter().map(|&(g, through)| {
        let why = match through {
            Some(t) => format!("group, through `{}`", p.groups[t].name),
            None => "group".to_string(),
        };
        (p.groups[g].name.clone(), why)
    }));
    for &u in &user.direct_units {
        let mut cur = Some(u as usize);
        let mut steps = 0;
        while let Some(c) = cur {
            let why = match c == u as usize {
                true => "unit".to_string(),
                false => format!("unit, through `{}`", ent.units[u as usize].id),
            };
            out.push((ent.units[c].id.clone(), why));
            steps += 1;
            if steps > ent.units.len() {
                break;
            }
            cur = ent.units[c].parent.map(|x| x as usize);
        }
    }
    out.extend(
        user.terms
            .iter()
            .map(|t| (ent.symbol(*t).to_string(), "term".to_string())),
    );
    // A stable sort keeps each code's paths in the order above; the first of them stays.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|later, first| later.0 == first.0);
    out
}

fn permits(g: &crate::ir::GroupDef, perm: usize) -> bool {
    g.permits.iter().any(|x| x.idx() == perm)
}

/// Joining each group that permits account permission `perm`, up to
/// [`MAX_HINT_CANDIDATES`].
fn groups_permitting(p: &Policy, perm: usize) -> Vec<Candidate> {
    p.groups
        .iter()
        .enumerate()
        .filter(|(_, g)| permits(g, perm))
        .take(MAX_HINT_CANDIDATES)
        .map(|(i, g)| Candidate {
            changes: vec![Change::JoinGroup {
                group: g.name.clone(),
                id: i as u32,
            }],
            why: None,
        })
        .collect()
}

/// The changes that would give the principal one of `subjects` on the resource: to hold a
/// relation; to join a group that grants a role, and, where its scope is `assigned via`, to
/// hold one of those relations as well (one change before two: smallest first). Notes for what
/// no change of the principal can give: a role no group grants, a group the principal is in
/// whose scope filter does not admit the case. At most [`MAX_HINT_CANDIDATES`] candidates.
fn subject_candidates(
    p: &Policy,
    on: &On<'_>,
    subjects: &[Subject],
) -> (Vec<String>, Vec<Candidate>) {
    let uid = on.who.id;
    let (mut singles, mut pairs, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for &s in subjects {
        if singles.len() + pairs.len() >= MAX_HINT_CANDIDATES {
            break;
        }
        let role = match s {
            Subject::Relation(r) => {
                // The case's relations are proposed on the anchor case, those of the resource's
                // own kind on the resource (a hint changes one copy of either).
                let kind = p.relation_kind(r);
                let of_case = kind.is_some_and(|k| p.kinds[k.idx()].is_case);
                if of_case && on.anchor.is_some() && !on.holds(&[r]) {
                    singles.push(on.relation_candidate(p, r));
                } else if kind == Some(on.res.kind) && !of_case && !on.holds(&[r]) {
                    singles.push(Candidate {
                        changes: vec![Change::HoldRelation {
                            relation: p.relations[r.idx()].name.clone(),
                            case: on.res_id.to_string(),
                            id: r.0,
                        }],
                        why: None,
                    });
                }
                continue;
            }
            // Held by every principal: no change gives it.
            Subject::Everyone => continue,
            Subject::Role(role) => role,
        };
        let name = &p.roles[role.idx()].name;
        let candidate = |changes, why| Candidate { changes, why };
        let mut granted = false;
        for (g, def) in p.groups.iter().enumerate() {
            if !def.grants.contains(&role) {
                continue;
            }
            granted = true;
            let member = on.who.member.iter().any(|(m, _)| *m == g);
            let join = Change::JoinGroup {
                group: def.name.clone(),
                id: g as u32,
            };
            match &def.scope {
                // Without an anchor no relation is held: never in scope.
                ScopeDef::Assigned(_) if on.anchor.is_none() => {}
                ScopeDef::Assigned(rels) if on.holds(rels) => {
                    if !member {
                        singles.push(candidate(vec![join], Some(format!("role `{name}`"))));
                    }
                }
                ScopeDef::Assigned(rels) => {
                    for &r in rels {
                        let hold = on.relation_change(p, r);
                        match member {
                            true => singles.push(candidate(
                                vec![hold],
                                Some(format!(
                                    "group `{}` then admits the case: role `{name}`",
                                    def.name
                                )),
                            )),
                            false => pairs.push(candidate(
                                vec![join.clone(), hold],
                                Some(format!(
                                    "role `{name}`, which group `{}` grants where the user is {}",
                                    def.name,
                                    list(
                                        &rels
                                            .iter()
                                            .map(|r| p.relations[r.idx()].name.clone())
                                            .collect::<Vec<_>>()
                                    )
                                )),
                            )),
                        }
                    }
                }
                _ if member => notes.push(format!(
                    "`{uid}` is in group `{}`, which grants role `{name}`, but its scope does not admit this case",
                    def.name
                )),
                _ => singles.push(candidate(vec![join], Some(format!("role `{name}`")))),
            }
        }
        if !granted {
            notes.push(format!(
                "no group grants role `{name}`, which the rules allow here"
            ));
        }
    }
    singles.extend(pairs);
    singles.truncate(MAX_HINT_CANDIDATES);
    (notes, singles)
}

/// The changes that would meet an access-code level: for each of its codes, to join the group
/// or the unit it names, or to hold it as a term. A code that is another user's id names
/// nothing the principal can join, and gives none. At most [`MAX_HINT_CANDIDATES`].
fn code_changes(ent: &Entities, level: &[u32]) -> Vec<Change> {
    let mut out = Vec::new();
    for &c in level {
        if out.len() >= MAX_HINT_CANDIDATES {
            break;
        }
        let s = ent.symbol(c);
        if ent.user_position(s).is_some() {
            continue;
        }
        out.push(if let Some(u) = ent.unit_position(s) {
            Change::JoinUnit {
                unit: s.to_string(),
                id: u,
            }
        } else if let Some(g) = ent.group_of_symbol(c) {
            Change::JoinGroup {
                group: s.to_string(),
                id: g,
            }
        } else {
            Change::HoldTerm {
                term: s.to_string(),
                symbol: c,
            }
        });
    }
    out
}

/// Candidates that meet every level not met at once: the k-th candidate takes the k-th way of
/// each level (or its last), so each way of each level is in one candidate.
fn level_candidates(options: &[Vec<Change>]) -> Vec<Candidate> {
    let most = options.iter().map(Vec::len).max().unwrap_or(0);
    let mut out: Vec<Candidate> = Vec::new();
    for k in 0..most.min(MAX_HINT_CANDIDATES) {
        let mut changes: Vec<Change> = Vec::new();
        for ways in options {
            let Some(c) = ways.get(k).or(ways.last()) else {
                return Vec::new();
            };
            if !changes.contains(c) {
                changes.push(c.clone());
            }
        }
        let candidate = Candidate { changes, why: None };
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    //! The work of the code layer, counted: each comparison of a code of the resource's chain
    //! with the principal's codes. The counter panics past a cap, so a product of the two sizes
    //! fails fast.

    use crate::Policy;
    use std::cell::Cell;
    use std::thread::LocalKey;

    thread_local! {
        pub(crate) static CODE_TESTS: Cell<usize> = const { Cell::new(0) };
    }

    /// The most the counter may reach in one test.
    const CAP: usize = 10_000_000;

    pub(crate) fn count(counter: &'static LocalKey<Cell<usize>>) {
        counter.with(|n| {
            n.set(n.get() + 1);
            assert!(n.get() <= CAP, "more than {CAP} code comparisons");
        });
    }

    pub(crate) fn read(counter: &'static LocalKey<Cell<usize>>) -> usize {
        counter.with(Cell::get)
    }

    pub(crate) fn reset(counter: &'static LocalKey<Cell<usize>>) {
        counter.with(|n| n.set(0));
    }

    /// A read code of 64 levels of 16 codes, and a user who holds the last code of each level
    /// and 4,000 terms more: explaining looks each of the 1,024 codes up among the user's
    /// 4,066 codes, so the comparisons grow with the log of the user's codes, not with their
    /// number (they were compared one by one: about 4 million comparisons).
    #[test]
    fn explain_looks_codes_up_among_the_users_codes() {
        let policy = Policy::from_source(
            "codes.casepol",
            "role R; action view; codes { read: view; } group G { grants R; } \
             resource Note { allow R: view; }",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (levels, width, terms) = (64, 16, 4_000);
        let code: Vec<String> = (0..levels)
            .map(|l| {
                (0..width)
                    .map(|c| format!("L{l}C{c}"))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        let held = (0..levels)
            .map(|l| format!(r#""L{l}C{}""#, width - 1))
            .chain((0..terms).map(|t| format!(r#""T{t}""#)))
            .collect::<Vec<_>>();
        let entities = policy
            .load_entities(&format!(
                r#"{{"users": [{{"id": "ann", "groups": ["G"], "terms": [{}]}}],
                    "resources": [{{"id": "n1", "kind": "Note", "read": "{}"}}]}}"#,
                held.join(", "),
                code.join(" & ")
            ))
            .unwrap_or_else(|e| panic!("{e:?}"));
        reset(&CODE_TESTS);
        let trace = policy.explain(&entities, &crate::Request::new("ann", "view", Some("n1")));
        assert!(trace.decision.allowed, "{trace:?}");
        let compared = read(&CODE_TESTS);
        let codes = levels * width;
        // A binary search of 4,066 codes takes 13 comparisons (12 halvings and a last test).
        assert!(
            compared <= codes * 14,
            "{compared} comparisons for {codes} codes and {} user codes",
            levels + terms + 2
        );
        assert!(compared >= codes, "every code is looked up: {compared}");
    }
}

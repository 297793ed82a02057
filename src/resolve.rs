//! Names to ids: the one resolver of requests and queries, and its one error type.
//!
//! Resolution is the only place a request's or a query's strings are looked up. Each name is
//! looked up once; an unknown one is a [`RequestError`] that says what the name is, when it is
//! something else (a role given as the principal, a user given as the resource), or the
//! closest name, or the names there are, and how to fix the request. Such a request is always
//! denied, and such a query is never answered.

use crate::compile::CompiledPolicy;
use crate::diagnostic::words::{self, did_you_mean};
use crate::entities::AttrValue;
use crate::entities::Entities;
use crate::ir::KindId;
use crate::ir::Type;
use crate::limits::MAX_CONTEXT_SET_ITEMS;
use crate::request::{Request, Resolved, ResolvedContext};
use serde::Serialize;

/// Why a request or a query could not be resolved. Such a request is always denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RequestError {
    /// What kind of mistake it is, for callers that match.
    pub kind: RequestErrorKind,
    /// What is wrong, naming the unknown name.
    pub message: String,
    /// How to fix it, often a "did you mean".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl RequestError {
    /// An error of `kind` saying `message`, with `help` on how to fix it: for readers of
    /// requests that find one they cannot use (kind [`RequestErrorKind::InvalidRequest`]).
    pub fn new(kind: RequestErrorKind, message: String, help: Option<String>) -> RequestError {
        RequestError {
            kind,
            message,
            help,
        }
    }
}

/// What kind of mistake a [`RequestError`] is. More kinds may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RequestErrorKind {
    /// No user has the principal's id.
    UnknownPrincipal,
    /// The policy declares no such action or account permission.
    UnknownAction,
    /// The resource is unknown, or an action request names none.
    UnknownResource,
    /// The policy declares no such module.
    UnknownModule,
    /// An account permission was asked about a resource.
    PermissionTakesNoResource,
    /// The target state is not a state of the case type of the resource's case, the resource
    /// is in no case, or an account permission was asked with a target.
    UnknownTarget,
    /// The text is not a request object: not JSON, not UTF-8, or a field missing, unknown or
    /// of the wrong type. [`resolve`] never returns it; readers of requests, such as the
    /// command line's batches, do.
    InvalidRequest,
    /// The entities were loaded for another policy, or (when deciding) the request was
    /// resolved against other entities.
    MismatchedEntities,
    /// A query about resources names an account permission, which takes no resource.
    NotAnAction,
    /// A query names a kind the policy does not declare.
    UnknownKind,
    /// A residual was used with a policy other than the one that computed it.
    MismatchedPolicy,
    /// The request's context misses a field the policy declares, has one it does not declare,
    /// or gives a value of the wrong type (or a query of a policy with a context gives none).
    InvalidContext,
    /// The answer to a query would pass a limit of docs/limits.md: a residual larger than
    /// `MAX_RESIDUAL_SIZE`, or SQL with more parameters, subqueries or deeper nesting than a
    /// database takes.
    TooLarge,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RequestError {}

/// An error, with the names it quotes made safe to show ([`words::printable`]).
#[cold]
pub(crate) fn error(kind: RequestErrorKind, message: String, help: Option<String>) -> RequestError {
    let printable = |text: String| match words::printable(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(escaped) => escaped,
    };
    RequestError {
        kind,
        message: printable(message),
        help: help.map(printable),
    }
}

/// Who asks: a request, a JSON object whose fields can be removed, or a query, whose names are
/// given one by one. How to leave a name out is said in the asker's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asker {
    Request,
    Query,
}

/// Resolves a request against a policy and its entities.
pub fn resolve(
    policy: &CompiledPolicy,
    entities: &Entities,
    req: &Request,
) -> Result<Resolved, RequestError> {
    let mut resolved = resolve_names(policy, entities, req)?;
    if let Resolved::Action { context, .. } = &mut resolved {
        *context = self::context(policy, entities, req.context.as_ref(), Asker::Request)?;
    }
    Ok(resolved)
}

/// [`resolve`] without the context: a request of a policy that declares one resolves with an
/// empty context, in which every condition that reads the context fails closed (an allow with
/// such a condition does not apply, a deny does). For the events of live entities, which are
/// asked in no context (docs/data-formats.md §4).
pub fn resolve_names(
    policy: &CompiledPolicy,
    entities: &Entities,
    req: &Request,
) -> Result<Resolved, RequestError> {
    if entities.policy_stamp != policy.stamp() {
        return Err(mismatched());
    }
    let principal = principal(policy, entities, &req.principal)?;
    let module = module(policy, req.module.as_deref(), Asker::Request)?;
    if let Some(permission) = policy.permission_id(&req.action) {
        if let Some(t) = &req.target {
            return Err(error(
                RequestErrorKind::UnknownTarget,
                format!(
                    "`{}` is an account permission, which moves no case, but target state `{t}` was given",
                    req.action
                ),
                Some("remove `target` from the request".into()),
            ));
        }
        if let Some(r) = &req.resource {
            return Err(error(
                RequestErrorKind::PermissionTakesNoResource,
                format!(
                    "`{}` is an account permission, which takes no resource, but resource `{r}` was given",
                    req.action
                ),
                Some("remove `resource` from the request".into()),
            ));
        }
        return Ok(Resolved::Permission {
            principal,
            permission,
            entities: entities.stamp,
        });
    }
    let Some(action) = policy.action_id(&req.action) else {
        return Err(unknown_action(policy, &req.action, Asker::Request));
    };
    let Some(rid) = &req.resource else {
        return Err(error(
            RequestErrorKind::UnknownResource,
            format!(
                "action `{}` needs a resource, but the request names none",
                req.action
            ),
            Some("add `\"resource\": \"<id>\"` to the request".into()),
        ));
    };
    let resource = resource(entities, rid)?;
    let target = match &req.target {
        Some(t) => Some(target(policy, entities, resource, t)?),
        None => None,
    };
    Ok(Resolved::Action {
        principal,
        action,
        resource,
        module,
        target,
        context: ResolvedContext::default(),
        entities: entities.stamp,
    })
}

/// A request's or a query's context: a value of the declared type for every field the
/// policy's `context` declares, and no other field. Empty when the policy declares none (a
/// context given then is ignored). Strings become the entities' symbols; a string the entities
/// do not hold gets a number no symbol has, the same for the same string, so that it equals
/// nothing stored and only itself.
pub(crate) fn context(
    policy: &CompiledPolicy,
    entities: &Entities,
    given: Option<&serde_json::Map<String, serde_json::Value>>,
    asker: Asker,
) -> Result<ResolvedContext, RequestError> {
    context_and(policy, entities, given, asker, &[]).map(|(c, _)| c)
}

/// [`context`], and the symbols of the strings `extra` (a query's condition's literals), each
/// numbered as a context string is: the same string has the same number in both.
pub(crate) fn context_and(
    policy: &CompiledPolicy,
    entities: &Entities,
    given: Option<&serde_json::Map<String, serde_json::Value>>,
    asker: Asker,
    extra: &[&str],
) -> Result<(ResolvedContext, Vec<u32>), RequestError> {
    // Strings the entities do not hold, numbered down from the top.
    let sym = |s: &str, unknown: &mut Vec<String>| -> u32 {
        if let Some(i) = policy.literal_symbol(s).or_else(|| entities.symbol_of(s)) {
            return i;
        }
        let at = match unknown.iter().position(|u| u == s) {
            Some(at) => at,
            None => {
                unknown.push(s.to_string());
                unknown.len() - 1
            }
        };
        u32::MAX - at as u32
    };
    let mut unknown_strings: Vec<String> = Vec::new();
    let context = context_with(policy, entities, given, asker, &mut |s| {
        sym(s, &mut unknown_strings)
    })?;
    let extra = extra.iter().map(|s| sym(s, &mut unknown_strings)).collect();
    Ok((context, extra))
}

fn context_with(
    policy: &CompiledPolicy,
    _entities: &Entities,
    given: Option<&serde_json::Map<String, serde_json::Value>>,
    asker: Asker,
    sym: &mut dyn FnMut(&str) -> u32,
) -> Result<ResolvedContext, RequestError> {
    let fields = &policy.ir().context;
    if fields.is_empty() {
        return Ok(ResolvedContext::default());
    }
    let empty = serde_json::Map::new();
    let given = match (given, asker) {
        (Some(g), _) => g,
        (None, Asker::Request) => &empty,
        (None, Asker::Query) => {
            return Err(error(
                RequestErrorKind::InvalidContext,
                format!(
                    "the policy declares a request context ({}), and the question gives none",
                    words::list(fields.iter().map(|f| f.name.as_str()))
                ),
                Some("give the context the question is asked in: a value for each field".into()),
            ))
        }
    };
    for name in given.keys() {
        if !fields.iter().any(|f| f.name == *name) {
            let help =
                did_you_mean(name, fields.iter().map(|f| f.name.as_str())).unwrap_or_else(|| {
                    format!(
                        "the policy's context has the fields {}",
                        words::list(fields.iter().map(|f| f.name.as_str()))
                    )
                });
            return Err(error(
                RequestErrorKind::InvalidContext,
                format!("the policy's context declares no field `{name}`"),
                Some(help),
            ));
        }
    }
    let mut values = Vec::with_capacity(fields.len());
    for f in fields {
        let Some(v) = given.get(&f.name) else {
            return Err(error(
                RequestErrorKind::InvalidContext,
                format!(
                    "the request's context has no field `{}`, which the policy declares",
                    f.name
                ),
                Some(format!(
                    "add `\"{}\": {}` to `context`",
                    f.name,
                    json_example(policy, f.ty)
                )),
            ));
        };
        let wrong = || {
            error(
                RequestErrorKind::InvalidContext,
                format!(
                    "context field `{}` has type {}, but the request gives {}",
                    f.name,
                    policy.ir().type_name(f.ty),
                    json_kind(v)
                ),
                Some(format!(
                    "give `\"{}\": {}`",
                    f.name,
                    json_example(policy, f.ty)
                )),
            )
        };
        let value = match (f.ty, v) {
            (Type::Bool, serde_json::Value::Bool(b)) => AttrValue::Bool(*b),
            (Type::Int, serde_json::Value::Number(n)) => match n.as_i64() {
                Some(i) => AttrValue::Int(i),
                None => return Err(wrong()),
            },
            (Type::Str, serde_json::Value::String(s)) => AttrValue::Sym(sym(s)),
            (Type::DateTime, serde_json::Value::String(s)) => match crate::datetime::parse(s) {
                Ok(t) => AttrValue::DateTime(t),
                Err(e) => {
                    return Err(error(
                        RequestErrorKind::InvalidContext,
                        format!(
                            "context field `{}` has type `datetime`, but `{}` is not one: {e}",
                            f.name,
                            words::printable(s)
                        ),
                        Some(format!(
                            "give `\"{}\": {}`",
                            f.name,
                            json_example(policy, f.ty)
                        )),
                    ))
                }
            },
            (Type::Enum(e), serde_json::Value::String(s)) => {
                let variants = &policy.ir().enums[e.idx()].variants;
                match variants.iter().position(|v| v == s) {
                    Some(i) => AttrValue::Variant(i as u32),
                    None => {
                        return Err(error(
                            RequestErrorKind::InvalidContext,
                            format!(
                                "context field `{}` is a `{}`, which has no variant `{s}`",
                                f.name,
                                policy.ir().enums[e.idx()].name
                            ),
                            Some(
                                did_you_mean(s, variants.iter().map(String::as_str))
                                    .unwrap_or_else(|| {
                                        format!("the variants are {}", words::list(variants))
                                    }),
                            ),
                        ))
                    }
                }
            }
            (Type::SetStr, serde_json::Value::Array(items)) => {
                if items.len() > MAX_CONTEXT_SET_ITEMS {
                    return Err(error(
                        RequestErrorKind::InvalidContext,
                        format!(
                            "context field `{}` holds {} strings, more than the limit of {MAX_CONTEXT_SET_ITEMS}",
                            f.name,
                            items.len()
                        ),
                        Some(format!("give at most {MAX_CONTEXT_SET_ITEMS} strings")),
                    ));
                }
                let mut set = Vec::with_capacity(items.len());
                for item in items {
                    let serde_json::Value::String(s) = item else {
                        return Err(wrong());
                    };
                    set.push(sym(s));
                }
                set.sort_unstable();
                set.dedup();
                AttrValue::Set(set.into())
            }
            _ => return Err(wrong()),
        };
        values.push(value);
    }
    Ok(ResolvedContext(Some(values.into())))
}

/// What a JSON value is, in words: `a string`, `a number`.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "`null`",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A JSON value of type `ty`, for help.
fn json_example(policy: &CompiledPolicy, ty: Type) -> String {
    match ty {
        Type::Bool => "true".into(),
        Type::Int => "0".into(),
        Type::DateTime => format!("\"{}\"", crate::datetime::EXAMPLE),
        Type::Str => "\"text\"".into(),
        Type::SetStr => "[\"text\"]".into(),
        Type::Enum(e) => policy.ir().enums[e.idx()]
            .variants
            .first()
            .map_or_else(|| "\"\"".into(), |v| format!("\"{v}\"")),
        Type::RefUser | Type::Ref(_) => "\"id\"".into(),
    }
}

/// A target state: a state of the case type of the resource's anchor case.
fn target(
    policy: &CompiledPolicy,
    entities: &Entities,
    resource: u32,
    name: &str,
) -> Result<u32, RequestError> {
    let res = &entities.resources[resource as usize];
    let Some(anchor) = res.anchor else {
        return Err(error(
            RequestErrorKind::UnknownTarget,
            format!(
                "resource `{}` is in no case, so it has no workflow state to move to `{name}`",
                entities.resource_id(resource)
            ),
            Some("remove `target` from the request, or ask about the case".into()),
        ));
    };
    let casetype = entities.resources[anchor as usize].casetype;
    if let Some(s) = policy.state_id(casetype, name) {
        return Ok(s);
    }
    let ct = &policy.ir().casetypes[casetype as usize];
    if !ct.workflow {
        return Err(error(
            RequestErrorKind::UnknownTarget,
            format!(
                "case type `{}` has no states (no workflow), so its case cannot move to `{name}`",
                ct.name
            ),
            Some("remove `target` from the request".into()),
        ));
    }
    let names = || ct.states.iter().map(|s| s.name.as_str());
    let help = did_you_mean(name, names())
        .unwrap_or_else(|| format!("the states of `{}` are {}", ct.name, words::list(names())));
    Err(error(
        RequestErrorKind::UnknownTarget,
        format!("case type `{}` has no state `{name}`", ct.name),
        Some(help),
    ))
}

/// The error for entities or a resolved request used with the wrong policy or entities.
#[cold]
pub(crate) fn mismatched() -> RequestError {
    error(
        RequestErrorKind::MismatchedEntities,
        "the entities were loaded for another policy, or the request was resolved against other entities".into(),
        Some(MISMATCHED_HELP.into()),
    )
}

const MISMATCHED_HELP: &str = "load entities with the policy that decides, and resolve each request against the entities it is decided with";

/// Entities only mean something to the policy that loaded them: a query with any other is an
/// error, never an empty (or wrong) answer.
pub(crate) fn same_policy(
    policy: &CompiledPolicy,
    entities: &Entities,
) -> Result<(), RequestError> {
    if entities.policy_stamp == policy.stamp() {
        return Ok(());
    }
    Err(error(
        RequestErrorKind::MismatchedEntities,
        "the entities were loaded for another policy".into(),
        Some(MISMATCHED_HELP.into()),
    ))
}

// The names one by one. INVARIANT: an id means something only to the policy and the entities it
// was looked up in; `resolve` and `Query` check that the entities belong to the policy before
// they look up anything, and never hand the ids out.

/// A user, by id. A role, an access group or an org unit is named as what it is.
pub(crate) fn principal(
    policy: &CompiledPolicy,
    entities: &Entities,
    name: &str,
) -> Result<u32, RequestError> {
    if let Some(&u) = entities.user_index.get(name) {
        return Ok(u);
    }
    let p = policy.ir();
    let what = if p.roles.iter().any(|r| r.name == name) {
        Some("a role")
    } else if p.groups.iter().any(|g| g.name == name) {
        Some("an access group")
    } else if entities.is_unit(name) {
        Some("an org unit")
    } else {
        None
    };
    let help = match what {
        Some(what) => format!("`{name}` is {what}; the principal must be a user id"),
        None => did_you_mean(name, entities.user_index.keys())
            .unwrap_or_else(|| "add the user to the entities file".into()),
    };
    Err(error(
        RequestErrorKind::UnknownPrincipal,
        format!("unknown principal `{name}`"),
        Some(help),
    ))
}

/// A module, when one is named.
pub(crate) fn module(
    policy: &CompiledPolicy,
    name: Option<&str>,
    asker: Asker,
) -> Result<Option<u32>, RequestError> {
    let Some(name) = name else { return Ok(None) };
    if let Some(m) = policy.module_id(name) {
        return Ok(Some(m));
    }
    let p = policy.ir();
    let names = || p.modules.iter().map(|m| m.name.as_str());
    let help = did_you_mean(name, names()).unwrap_or_else(|| {
        match words::the("module", "modules", names()) {
            Some(list) => format!("the policy declares {list}"),
            None => match asker {
                Asker::Request => {
                    "the policy declares no modules; remove `module` from the request".into()
                }
                Asker::Query => "the policy declares no modules; ask without a module".into(),
            },
        }
    });
    Err(error(
        RequestErrorKind::UnknownModule,
        format!("unknown module `{name}`"),
        Some(help),
    ))
}

/// An action, for a query about resources. An account permission is an error: it takes no
/// resource.
pub(crate) fn action(policy: &CompiledPolicy, name: &str) -> Result<u32, RequestError> {
    if let Some(a) = policy.action_id(name) {
        return Ok(a);
    }
    if policy.permission_id(name).is_some() {
        return Err(error(
            RequestErrorKind::NotAnAction,
            format!("`{name}` is an account permission, which takes no resource"),
            Some(format!(
                "queries about resources take an action; decide `{name}` as a request without a resource, {{\"principal\": \"<user>\", \"action\": \"{name}\"}}"
            )),
        ));
    }
    Err(unknown_action(policy, name, Asker::Query))
}

/// The error for an action the policy does not declare. A request may also name an account
/// permission, so its help offers those too.
#[cold]
fn unknown_action(policy: &CompiledPolicy, name: &str, asker: Asker) -> RequestError {
    let p = policy.ir();
    let actions = || p.actions.iter().map(|a| a.name.as_str());
    let permissions = || match asker {
        Asker::Request => &p.permissions[..],
        Asker::Query => &[],
    };
    let help = did_you_mean(
        name,
        actions().chain(permissions().iter().map(|x| x.name.as_str())),
    )
    .unwrap_or_else(|| {
        let actions = words::the("action", "actions", actions());
        let permissions = words::the(
            "account permission",
            "account permissions",
            permissions().iter().map(|x| x.name.as_str()),
        );
        match (actions, permissions, asker) {
            (Some(a), Some(p), _) => format!("the policy declares {a}, and {p}"),
            (Some(one), None, _) | (None, Some(one), _) => format!("the policy declares {one}"),
            (None, None, Asker::Request) => {
                "the policy declares no actions and no account permissions".into()
            }
            (None, None, Asker::Query) => "the policy declares no actions".into(),
        }
    });
    error(
        RequestErrorKind::UnknownAction,
        format!("unknown action `{name}`"),
        Some(help),
    )
}

/// A resource, by id. A user or an org unit is named as what it is.
pub(crate) fn resource(entities: &Entities, name: &str) -> Result<u32, RequestError> {
    if let Some(&r) = entities.resource_index.get(name) {
        return Ok(r);
    }
    let what = if entities.user_index.contains_key(name) {
        Some("a user")
    } else if entities.is_unit(name) {
        Some("an org unit")
    } else {
        None
    };
    let help = match what {
        Some(what) => format!(
            "`{name}` is {what}; the resource must be the id of a resource in the entities file"
        ),
        None => did_you_mean(name, entities.resource_index.keys())
            .unwrap_or_else(|| "no resource with this id in the entities file".into()),
    };
    Err(error(
        RequestErrorKind::UnknownResource,
        format!("unknown resource `{name}`"),
        Some(help),
    ))
}

/// A kind (`case` or `resource` declaration), by its name, case-sensitively.
pub(crate) fn kind(policy: &CompiledPolicy, name: &str) -> Result<KindId, RequestError> {
    let p = policy.ir();
    if let Some(k) = p.kinds.iter().position(|k| k.name == name) {
        return Ok(KindId(k as u32));
    }
    let names = || p.kinds.iter().map(|k| k.name.as_str());
    let help =
        did_you_mean(name, names()).unwrap_or_else(|| match words::the("kind", "kinds", names()) {
            Some(list) => format!("the policy declares {list}"),
            None => "the policy declares no kinds".into(),
        });
    Err(error(
        RequestErrorKind::UnknownKind,
        format!("unknown kind `{name}`"),
        Some(help),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Policy;
    use crate::diagnostic::work;

    /// A policy and `n` users with ids of `len` characters.
    fn world(n: usize, len: usize) -> (Policy, Entities) {
        let policy = Policy::from_source(
            "p.casepol",
            "role R;\naction view;\ngroup G { grants R; }\ncase Case { }\ncasetype T { states S; initial S; }\nallow R: view;",
        )
        .unwrap();
        let users: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"id": "{:0>len$}", "groups": ["G"]}}"#, i))
            .collect();
        let json = format!(
            r#"{{"users": [{}], "resources": [{{"id": "c", "kind": "Case", "type": "T", "state": "S"}}]}}"#,
            users.join(",")
        );
        let entities = policy.load_entities(&json).unwrap();
        (policy, entities)
    }

    /// "Did you mean" has a budget: a 60 KB unknown principal against 10,000 users is a clear
    /// error at once, without comparing it with any of them.
    #[test]
    fn a_huge_unknown_principal_costs_no_distance_work() {
        let (policy, entities) = world(10_000, 8);
        let huge = "x".repeat(60 * 1024);
        work::take();
        let err = resolve(
            policy.compiled(),
            &entities,
            &Request::new(&huge, "view", Some("c")),
        )
        .unwrap_err();
        assert_eq!(work::take(), 0, "cells computed for a 60 KB name");
        assert_eq!(err.kind, RequestErrorKind::UnknownPrincipal);
        assert!(err.message.starts_with("unknown principal `xxx"));
        assert_eq!(
            err.help.as_deref(),
            Some("add the user to the entities file")
        );
    }

    /// Among many candidates of the same length, the work per candidate is a band of the
    /// table, not all of it, and the work of one suggestion is capped.
    #[test]
    fn suggestion_work_is_bounded_per_candidate_and_per_call() {
        let len = crate::limits::MAX_SUGGEST_CHARS;
        let (policy, entities) = world(10_000, len);
        // One typo away from user 7, so it is a suggestion.
        let mut typo: Vec<char> = format!("{:0>len$}", 7).chars().collect();
        typo[0] = '1';
        let typo: String = typo.into_iter().collect();
        work::take();
        let err = resolve(
            policy.compiled(),
            &entities,
            &Request::new(&typo, "view", Some("c")),
        )
        .unwrap_err();
        let cells = work::take();
        assert_eq!(
            err.help.as_deref(),
            Some(format!("did you mean `{:0>len$}`?", 7).as_str())
        );
        let band = 2 * (len / 3) + 1;
        assert!(
            cells <= crate::limits::SUGGEST_WORK,
            "{cells} cells, more than the budget"
        );
        // The full tables would be len × len cells for each of the 10,000 candidates.
        assert!(cells < 10_000 * len * band, "{cells} cells");
    }
}

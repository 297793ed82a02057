//! Requests: the JSON form applications send, and its resolution to integer ids.
//!
//! Resolution is the only place a request's strings are looked up. The decision itself then
//! works on ids alone: no hashing and no string comparison.

use crate::compile::CompiledPolicy;
use crate::diagnostic::suggest;
use crate::entities::Entities;
use serde::{Deserialize, Serialize};

/// A request as JSON: `{"principal": "anna", "action": "access", "resource": "case-1"}`.
///
/// Only a JSON object is a request: serde would otherwise also read `["anna", "access",
/// "case-1"]` field by field, which no one writes on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub principal: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Reserved for request attributes; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The fields of a request, as serde derives them; read only from a JSON object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFields {
    principal: String,
    action: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Request, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = RequestFields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a request object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RequestFields, A::Error> {
                RequestFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        let f = d.deserialize_map(Object)?;
        Ok(Request {
            principal: f.principal,
            action: f.action,
            resource: f.resource,
            module: f.module,
            context: f.context,
        })
    }
}

/// Why a text is not a request: serde_json's message, and where, as a one-based line and a
/// column counted in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl Request {
    /// Reads a request from JSON text: one object (docs/data-formats.md §3).
    pub fn from_json(text: &str) -> Result<Request, JsonError> {
        serde_json::from_str(text).map_err(|e| {
            let at = crate::json_pos::error_at(text, &e);
            JsonError {
                message: at.message,
                line: at.line,
                column: at.column,
            }
        })
    }

    pub fn new(principal: &str, action: &str, resource: Option<&str>) -> Request {
        Request {
            principal: principal.into(),
            action: action.into(),
            resource: resource.map(Into::into),
            module: None,
            context: None,
        }
    }

    pub fn via(mut self, module: &str) -> Request {
        self.module = Some(module.into());
        self
    }
}

/// A request with every name replaced by its id. Only [`resolve`] makes one, and it is valid
/// only with the entities it was resolved against: deciding it with other entities is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// An account permission (no resource).
    #[non_exhaustive]
    Permission {
        principal: u32,
        permission: u32,
        /// The stamp of the entities it was resolved against.
        entities: u64,
    },
    #[non_exhaustive]
    Action {
        principal: u32,
        action: u32,
        resource: u32,
        module: Option<u32>,
        /// The stamp of the entities it was resolved against.
        entities: u64,
    },
}

impl Resolved {
    /// Whether this request was resolved against these entities, loaded for this policy. The
    /// ids of a request only mean something there; deciding anywhere else must fail closed.
    #[inline]
    pub(crate) fn belongs_to(&self, policy: &CompiledPolicy, entities: &Entities) -> bool {
        let stamp = match *self {
            Resolved::Permission { entities, .. } | Resolved::Action { entities, .. } => entities,
        };
        stamp == entities.stamp && entities.policy_stamp == policy.stamp
    }

    pub fn principal(&self) -> u32 {
        match *self {
            Resolved::Permission { principal, .. } | Resolved::Action { principal, .. } => {
                principal
            }
        }
    }
}

/// Why a request could not be resolved. Such a request is always denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestError {
    pub kind: RequestErrorKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestErrorKind {
    UnknownPrincipal,
    UnknownAction,
    /// The resource is unknown, or an action request names none.
    UnknownResource,
    UnknownModule,
    PermissionTakesNoResource,
    /// The text is not a request object: not JSON, not UTF-8, or a field missing, unknown or
    /// of the wrong type. [`resolve`] never returns it; readers of requests, such as the
    /// command line's batches, do.
    InvalidRequest,
    /// The entities were loaded for another policy, or (when deciding) the request was
    /// resolved against other entities.
    MismatchedEntities,
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

#[cold]
fn error(kind: RequestErrorKind, message: String, help: Option<String>) -> RequestError {
    RequestError {
        kind,
        message: printable(message),
        help: help.map(printable),
    }
}

/// Writes control and bidirectional control characters as `\u{1b}`: messages quote names from
/// the request, and a name holding an escape sequence must not drive the terminal that shows the
/// message, nor reorder the line it is on.
fn printable(text: String) -> String {
    match crate::entities::printable(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

fn mean<'a>(
    name: &str,
    cands: impl IntoIterator<Item = &'a (impl AsRef<str> + ?Sized + 'a)>,
) -> Option<String> {
    suggest(name, cands.into_iter().map(AsRef::as_ref)).map(|s| format!("did you mean `{s}`?"))
}

const NO_MODULES: &str = "the policy declares no modules; remove `module` from the request";

/// At most this many names are listed in a help message.
const LISTED: usize = 10;

/// "`a`, `b` and `c`", or the first [`LISTED`] names and how many more. Only the names shown
/// are read, so a request error costs the same however many names the policy declares.
fn list<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a String>,
    I::IntoIter: ExactSizeIterator,
{
    let names = names.into_iter();
    let n = names.len();
    let shown: Vec<String> = names.take(LISTED).map(|n| format!("`{n}`")).collect();
    match shown.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        _ if n > LISTED => format!("{} and {} more", shown.join(", "), n - LISTED),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "the module `M`" or "the modules `A` and `B`".
fn declared<'a, I>(singular: &str, plural: &str, names: I) -> Option<String>
where
    I: IntoIterator<Item = &'a String>,
    I::IntoIter: ExactSizeIterator,
{
    let names = names.into_iter();
    match names.len() {
        0 => None,
        1 => Some(format!("the {singular} {}", list(names))),
        _ => Some(format!("the {plural} {}", list(names))),
    }
}

/// Resolves a request against a policy and its entities.
pub fn resolve(
    policy: &CompiledPolicy,
    entities: &Entities,
    req: &Request,
) -> Result<Resolved, RequestError> {
    let p = policy.ir();
    if entities.policy_stamp != policy.stamp {
        return Err(mismatched());
    }
    let Some(&principal) = entities.user_index.get(&req.principal) else {
        let is_role = p.roles.iter().any(|r| r.name == req.principal);
        let is_group = p.groups.iter().any(|g| g.name == req.principal);
        let help = if is_role || is_group || entities.is_unit(&req.principal) {
            let what = if is_role {
                "a role"
            } else if is_group {
                "an access group"
            } else {
                "an org unit"
            };
            Some(format!(
                "`{}` is {what}; the principal must be a user id",
                req.principal
            ))
        } else {
            mean(&req.principal, entities.user_index.keys())
                .or_else(|| Some("add the user to the entities file".into()))
        };
        return Err(error(
            RequestErrorKind::UnknownPrincipal,
            format!("unknown principal `{}`", req.principal),
            help,
        ));
    };
    let module = match &req.module {
        None => None,
        Some(m) => match policy.module_index.get(m) {
            Some(&i) => Some(i),
            None => {
                let names = || p.modules.iter().map(|x| &x.name);
                let help = mean(m, names()).unwrap_or_else(|| {
                    match declared("module", "modules", names()) {
                        Some(list) => format!("the policy declares {list}"),
                        None => NO_MODULES.into(),
                    }
                });
                return Err(error(
                    RequestErrorKind::UnknownModule,
                    format!("unknown module `{m}`"),
                    Some(help),
                ));
            }
        },
    };
    if let Some(&permission) = policy.permission_index.get(&req.action) {
        if let Some(r) = &req.resource {
            return Err(error(
                RequestErrorKind::PermissionTakesNoResource,
                format!("`{}` is an account permission, which takes no resource, but resource `{r}` was given", req.action),
                Some("remove `resource` from the request".into()),
            ));
        }
        return Ok(Resolved::Permission {
            principal,
            permission,
            entities: entities.stamp,
        });
    }
    let Some(&action) = policy.action_index.get(&req.action) else {
        let help = mean(
            &req.action,
            p.actions
                .iter()
                .map(|a| &a.name)
                .chain(p.permissions.iter().map(|x| &x.name)),
        )
        .or_else(|| {
            let actions = declared("action", "actions", p.actions.iter().map(|a| &a.name));
            let permissions = declared(
                "account permission",
                "account permissions",
                p.permissions.iter().map(|x| &x.name),
            );
            Some(match (actions, permissions) {
                (Some(a), Some(p)) => format!("the policy declares {a}, and {p}"),
                (Some(one), None) | (None, Some(one)) => format!("the policy declares {one}"),
                (None, None) => "the policy declares no actions and no account permissions".into(),
            })
        });
        return Err(error(
            RequestErrorKind::UnknownAction,
            format!("unknown action `{}`", req.action),
            help,
        ));
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
    let Some(&resource) = entities.resource_index.get(rid) else {
        let help = if entities.user_index.contains_key(rid) {
            format!(
                "`{rid}` is a user; the resource must be the id of a resource in the entities file"
            )
        } else if entities.is_unit(rid) {
            format!("`{rid}` is an org unit; the resource must be the id of a resource in the entities file")
        } else {
            mean(rid, entities.resource_index.keys())
                .unwrap_or_else(|| "no resource with this id in the entities file".into())
        };
        return Err(error(
            RequestErrorKind::UnknownResource,
            format!("unknown resource `{rid}`"),
            Some(help),
        ));
    };
    Ok(Resolved::Action {
        principal,
        action,
        resource,
        module,
        entities: entities.stamp,
    })
}

/// The error for entities or a resolved request used with the wrong policy or entities.
#[cold]
pub(crate) fn mismatched() -> RequestError {
    error(
        RequestErrorKind::MismatchedEntities,
        "the entities were loaded for another policy, or the request was resolved against other entities".into(),
        Some("load entities with the policy that decides, and resolve each request against the entities it is decided with".into()),
    )
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

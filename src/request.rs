//! Requests: the JSON form applications send, and the same request with its names resolved to
//! integer ids.
//!
//! Resolution (`resolve.rs`, shared with the queries) is the only place a request's strings are
//! looked up. The decision itself then works on ids alone: no hashing and no string comparison.

use crate::compile::CompiledPolicy;
use crate::entities::{AttrValue, Entities};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A request as JSON: `{"principal": "anna", "action": "access", "resource": "case-1"}`.
///
/// Only a JSON object is a request: serde would otherwise also read `["anna", "access",
/// "case-1"]` field by field, which no one writes on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Request {
    /// The user's id.
    pub principal: String,
    /// An action, or an account permission (then without a resource).
    pub action: String,
    /// The resource's id; none for an account permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The module the request is made through, when the policy has modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// A state of the case's type: the request asks whether the action may move the case from
    /// its current state to this one, by a declared transition (docs/semantics.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The request context: a value for every field the policy's `context { … }` declares,
    /// which rule conditions read as `context.name` (docs/data-formats.md §3). A field missing,
    /// unknown or of the wrong type is an error, never an allow. Ignored when the policy
    /// declares no context.
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
    target: Option<String>,
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
            target: f.target,
            context: f.context,
        })
    }
}

/// Why a text is not a request: serde_json's message, and where, as a one-based line and a
/// column counted in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}, column {column}")]
#[non_exhaustive]
pub struct JsonError {
    /// serde_json's message, without its own position: "expected value".
    pub message: String,
    /// The one-based line.
    pub line: usize,
    /// The one-based column, in characters.
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

    /// A request of `principal` to do `action` on `resource` (none for an account permission).
    pub fn new(principal: &str, action: &str, resource: Option<&str>) -> Request {
        Request {
            principal: principal.into(),
            action: action.into(),
            resource: resource.map(Into::into),
            module: None,
            target: None,
            context: None,
        }
    }

    /// The same request, made through `module`.
    pub fn via(mut self, module: &str) -> Request {
        self.module = Some(module.into());
        self
    }

    /// The same request, asking to move the case to state `target` by the action.
    pub fn to_state(mut self, target: &str) -> Request {
        self.target = Some(target.into());
        self
    }

    /// The same request, with context field `name` set to `value` (a JSON boolean, integer,
    /// string, or array of strings, as the field's type needs).
    pub fn with_context(mut self, name: &str, value: serde_json::Value) -> Request {
        self.context
            .get_or_insert_with(serde_json::Map::new)
            .insert(name.into(), value);
        self
    }
}

/// A request's context with its values resolved against the policy's `context` declaration and
/// the entities: what rule conditions read as `context.name`. Made only by resolving a request
/// or a query; empty when the policy declares no context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedContext(pub(crate) Option<Arc<[AttrValue]>>);

impl ResolvedContext {
    /// The values, in the order the policy declares its fields; empty when there are none.
    #[inline(always)]
    pub(crate) fn values(&self) -> &[AttrValue] {
        match &self.0 {
            Some(v) => v,
            None => &[],
        }
    }
}

/// A request with every name replaced by its id. Only
/// [`Policy::resolve`](crate::Policy::resolve) makes one, and it is valid only with the
/// entities it was resolved against: deciding it with other entities is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// An account permission (no resource).
    #[non_exhaustive]
    Permission {
        /// The user, as an index into the entities.
        principal: u32,
        /// The permission, as an index into the policy.
        permission: u32,
        /// The stamp of the entities it was resolved against.
        entities: u64,
    },
    /// An action on a resource.
    #[non_exhaustive]
    Action {
        /// The user, as an index into the entities.
        principal: u32,
        /// The action, as an index into the policy.
        action: u32,
        /// The resource, as an index into the entities.
        resource: u32,
        /// The module, as an index into the policy.
        module: Option<u32>,
        /// The target state, as an index into the states of the anchor case's type.
        target: Option<u32>,
        /// The request's context, resolved.
        context: ResolvedContext,
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
        stamp == entities.stamp && entities.policy_stamp == policy.stamp()
    }

    /// The user, as an index into the entities.
    pub fn principal(&self) -> u32 {
        match *self {
            Resolved::Permission { principal, .. } | Resolved::Action { principal, .. } => {
                principal
            }
        }
    }
}

//! Requests: the JSON form applications send, and the same request with its names resolved to
//! integer ids.
//!
//! Resolution (`resolve.rs`, shared with the queries) is the only place a request's strings are
//! looked up. The decision itself then works on ids alone: no hashing and no string comparison.

use crate::compile::CompiledPolicy;
use crate::entities::Entities;
use serde::{Deserialize, Serialize};

pub(crate) use crate::resolve::mismatched;
pub use crate::resolve::{resolve, RequestError, RequestErrorKind};

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

impl Request {
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
        stamp == entities.stamp && entities.policy_stamp == policy.stamp()
    }

    pub fn principal(&self) -> u32 {
        match *self {
            Resolved::Permission { principal, .. } | Resolved::Action { principal, .. } => {
                principal
            }
        }
    }
}

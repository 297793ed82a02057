//! casepol: a declarative access-policy language for case-management systems.
//!
//! The pipeline is text → [`syntax`] (pest) → [`ast`] → [`check`] → [`ir`] → [`compile`] →
//! [`vm`] → [`vm::Decision`]. [`reference`] evaluates the same IR directly and records a trace
//! that [`explain`] renders. Applications use [`Policy`]; see its example.

pub mod access_code;
mod api;
pub mod ast;
pub mod bits;
pub mod check;
pub mod compile;
pub mod diagnostic;
pub mod entities;
pub mod explain;
pub mod files;
pub mod format;
pub mod ir;
mod json_pos;
pub mod limits;
pub mod lint;
pub mod live;
pub mod query;
pub mod reference;
pub mod request;
mod resolve;
mod response;
pub mod syntax;
pub mod testing;
pub mod vm;

pub use api::{check_sources, EntitiesError, LoadError, Policy, PolicyError};
pub use entities::{Entities, EntityError};
pub use request::{Request, Resolved};
pub use resolve::{RequestError, RequestErrorKind};
pub use response::{DeterminingRule, Response, RuleKind, TableCell};
pub use vm::{Decision, Layer, Reason};

/// casepol's own internals, public only for its tests, fuzzers and benchmarks. Nothing here is
/// covered by the version number (CHANGELOG.md): do not use it from an application.
#[doc(hidden)]
pub mod internal {
    /// Resolving request names to ids.
    pub mod resolve {
        pub use crate::resolve::*;
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! casepol: a declarative access-policy language for case-management systems.
//!
//! An application loads a [`Policy`] (from `.casepol` text or from a path, with the command
//! line's rules), loads its data with [`Policy::load_entities`] into [`Entities`], and asks
//! [`Policy::authorize`] about a [`Request`]: the [`Response`] carries the [`Decision`], the
//! [`Layer`] and [`Reason`] that decided, the rules that did ([`DeterminingRule`]) and the error
//! if the request could not be decided, which is always a deny. [`Policy::explain`] says why in
//! steps a business user can read ([`explain`]); [`query`] answers who can, which actions, which
//! resources, and the condition a database can filter by. Every error implements
//! [`std::error::Error`]. [`diagnostic`] holds the checker's diagnostics as data, and
//! [`limits`] every bound casepol puts on its input. [`live`] applies change sets to versioned
//! snapshots of the entities and says whose access each change set changed.
//!
//! docs/ARCHITECTURE.md maps the pipeline behind this surface (text → syntax → check → IR →
//! compiled tables → VM, with a reference evaluator beside it); its modules are private.

#![warn(missing_docs)]

// The library's public surface is the root and the four `pub mod`s below; everything else is
// private, and reaches casepol's own tests, fuzzers, benches and binary through `internal`.
// Modules that only `internal` exposes are not held to `missing_docs`.
#[allow(missing_docs)]
mod access_code;
mod api;
#[allow(missing_docs)]
mod ast;
#[allow(missing_docs)]
mod bits;
#[allow(missing_docs)]
mod check;
// RFC 3339 text to and from the microseconds of a `datetime`.
#[allow(missing_docs)]
mod compile;
mod datetime;
#[cfg(feature = "db")]
pub mod db;
mod decision;
pub mod diagnostic;
#[allow(missing_docs)]
mod diff;
mod entities;
pub mod explain;
#[allow(missing_docs)]
mod files;
#[allow(missing_docs)]
mod format;
mod hints;
#[allow(missing_docs)]
mod ir;
#[allow(missing_docs)]
mod json_pos;
pub mod limits;
#[allow(missing_docs)]
mod lint;
pub mod live;
pub mod query;
mod reference;
mod request;
mod resolve;
mod response;
#[allow(missing_docs)]
mod syntax;
#[allow(missing_docs)]
mod testing;
#[allow(missing_docs)]
mod verify;
#[allow(missing_docs)]
mod vm;

pub use api::{EntitiesError, LoadError, Policy, PolicyError};
pub use decision::{Decision, Layer, Reason};
pub use entities::{Entities, EntityError};
pub use files::ReadError;
pub use request::{JsonError, Request, Resolved, ResolvedContext};
pub use resolve::{RequestError, RequestErrorKind};
pub use response::{DeterminingRule, Response, RuleKind, TableCell};

/// casepol's own internals, public only for its tests, fuzzers, benchmarks and binary. Nothing
/// here is covered by the version number (CHANGELOG.md): do not use it from an application.
#[doc(hidden)]
pub mod internal {
    pub use crate::api::check_sources;
    pub mod access_code {
        pub use crate::access_code::*;
    }
    pub mod ast {
        pub use crate::ast::*;
    }
    pub mod bits {
        pub use crate::bits::*;
    }
    pub mod datetime {
        pub use crate::datetime::*;
    }
    pub mod check {
        pub use crate::check::*;
    }
    pub mod compile {
        pub use crate::compile::*;
    }
    pub mod decision {
        pub use crate::decision::*;
    }
    pub mod entities {
        pub use crate::entities::*;
    }
    pub mod files {
        pub use crate::files::*;
    }
    pub mod format {
        pub use crate::format::*;
    }
    pub mod ir {
        pub use crate::ir::*;
    }
    pub mod json_pos {
        pub use crate::json_pos::*;
    }
    pub mod lint {
        pub use crate::lint::*;
    }
    pub mod diff {
        pub use crate::diff::*;
    }
    pub mod reference {
        pub use crate::reference::*;
    }
    pub mod request {
        pub use crate::request::*;
    }
    pub mod resolve {
        pub use crate::resolve::*;
    }
    pub mod syntax {
        pub use crate::syntax::*;
    }
    pub mod testing {
        pub use crate::testing::*;
    }
    pub mod verify {
        pub use crate::verify::*;
    }
    pub mod vm {
        pub use crate::vm::*;
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

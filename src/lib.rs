//! casepol: a declarative access-policy language for case-management systems.
//!
//! The pipeline is text → [`syntax`] (pest) → [`ast`] → [`check`] → [`ir`] → [`compile`] →
//! [`vm`] → [`Decision`] (whose vocabulary is [`decision`]). [`reference`](mod@reference)
//! evaluates the same IR directly and records a trace that [`explain`] renders. Applications use
//! [`Policy`]; see its example.

pub mod access_code;
mod api;
pub mod ast;
pub mod bits;
pub mod check;
pub mod compile;
pub mod decision;
pub mod diagnostic;
pub mod entities;
pub mod explain;
pub mod format;
pub mod ir;
mod json_pos;
pub mod limits;
pub mod lint;
pub mod query;
pub mod reference;
pub mod request;
mod resolve;
pub mod syntax;
pub mod testing;
pub mod vm;

pub use api::{check_sources, Policy, PolicyError};
pub use decision::{Decision, Layer, Reason};
pub use entities::{Entities, EntityError};
pub use request::{Request, RequestError, Resolved};

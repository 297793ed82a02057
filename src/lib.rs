//! casepol: a declarative access-policy language for case-management systems.

pub mod ast;
pub mod diagnostic;
pub mod check;
pub mod ir;
pub mod syntax;

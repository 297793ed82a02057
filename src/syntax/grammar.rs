//! The pest parser derived from `grammar/casepol.pest`.

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/casepol.pest"]
pub struct PolicyParser;

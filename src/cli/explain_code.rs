//! `casepol explain-code`: the long explanation of one diagnostic code.

use super::*;

#[derive(clap::Args)]
pub(super) struct ExplainCodeArgs {
    /// A diagnostic code, such as `CP0101`
    code: String,
}

pub(super) fn explain_code(_args: &ExplainCodeArgs) -> Exit {
    fail_input("`casepol explain-code` is not implemented yet".to_string())
}

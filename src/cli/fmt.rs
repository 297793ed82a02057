//! `casepol fmt`: rewrite policy files in the canonical layout, or check that they are.

use super::*;

#[derive(clap::Args)]
pub(super) struct FmtArgs {
    /// A `.casepol` file, or a directory whose `.casepol` files are all formatted
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Change nothing; list the files that would change and exit 1 if there are any
    #[arg(long)]
    check: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
}

pub(super) fn fmt(_args: &FmtArgs) -> Exit {
    fail_input("`casepol fmt` is not implemented yet".to_string())
}

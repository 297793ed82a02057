//! `casepol test`: run the policy tests that authors keep next to their policies.

use super::*;

#[derive(clap::Args)]
pub(super) struct TestArgs {
    /// A test file, or a directory searched for test files
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
}

pub(super) fn test(_args: &TestArgs) -> Exit {
    fail_input("`casepol test` is not implemented yet".to_string())
}

//! `casepol init`: write a first policy, its entities and a passing test file into a directory.
//!
//! The three files are kept in `src/cli/init/` and built into the binary; tests/cli_init.rs
//! checks that what is written validates, is formatted and passes its tests.

use super::*;

#[derive(clap::Args)]
pub(super) struct InitArgs {
    /// The directory to write into (created if missing)
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
}

/// The files `init` writes, by name.
const FILES: [(&str, &str); 3] = [
    ("policy.casepol", include_str!("init/policy.casepol")),
    ("entities.json", include_str!("init/entities.json")),
    ("policy.test.json", include_str!("init/policy.test.json")),
];

pub(super) fn init(args: &InitArgs) -> Exit {
    let dir = &args.dir;
    if dir.exists() && !dir.is_dir() {
        return fail_input(format!(
            "`{}` is a file, but `casepol init` writes into a directory",
            dir.display()
        ));
    }
    // Nothing is written if anything would be overwritten.
    let existing: Vec<String> = FILES
        .iter()
        .map(|(name, _)| dir.join(name))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| format!("`{}`", p.display()))
        .collect();
    if !existing.is_empty() {
        return fail_input(format!(
            "{} already exist(s); `casepol init` never overwrites a file, so nothing was written\n  help: give an empty or new directory: `casepol init DIR`",
            existing.join(", ")
        ));
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        return fail_input(format!("cannot create `{}`: {e}", dir.display()));
    }
    for (name, text) in FILES {
        let path = dir.join(name);
        // `create_new` refuses a file that appeared since the check above.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            return fail_input(format!("cannot write `{}`: {e}", path.display()));
        }
        if let Err(e) = emit(&format!("wrote {}", path.display())) {
            return e;
        }
    }
    let shown = dir.display();
    let next = [
        format!("next: casepol validate {shown}"),
        format!("      casepol test {shown}"),
        format!(
            "      casepol check {shown} --entities {} --request '{{\"principal\": \"ann\", \"action\": \"view\", \"resource\": \"case-1\"}}'",
            dir.join("entities.json").display()
        ),
    ];
    for line in next {
        if let Err(e) = emit(&line) {
            return e;
        }
    }
    Exit::Ok
}

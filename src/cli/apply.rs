//! `casepol apply`: change sets applied in order to the entities, each printed with the access
//! changes it caused; `--write` saves the entities of the last version.

use super::*;
use casepol::live::{self, AppliedJson, ChangeSet, Snapshot};

#[derive(clap::Args)]
pub(super) struct ApplyArgs {
    /// The policy: a `.casepol` file, or a directory of them
    policy: PathBuf,
    /// The entities file (JSON, or `-` for standard input), or a database: `sqlite:PATH` or
    /// `postgres://…` (docs/database.md)
    #[arg(long)]
    entities: PathBuf,
    /// The change sets: a JSON Lines file with one change set per line (or `-` for standard
    /// input); blank lines are skipped
    #[arg(long)]
    changes: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Write the entities after the last change set to this file (only when every change set
    /// applied)
    #[arg(long)]
    write: Option<PathBuf>,
}

pub(super) fn apply(args: &ApplyArgs) -> Exit {
    let (policy, entities) = match load_inputs(&args.policy, &args.entities) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    let text = match read_text_limited(&args.changes, MAX_ENTITIES_BYTES, "a changes file") {
        Ok(text) => text,
        Err(e) => return fail_input(e),
    };
    let changes_path = args.changes.display();
    let mut snapshot = Snapshot::new(entities);
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let line = if i == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        let applied = ChangeSet::from_json(line)
            .and_then(|changes| live::apply(&policy, &snapshot, &changes).map(|a| (a, changes)));
        let (applied, changes) = match applied {
            Ok(a) => a,
            Err(e) => {
                let mut err = std::io::stderr().lock();
                for p in &e.problems {
                    let _ = writeln!(err, "error: {changes_path}: line {line_no}: {p}");
                }
                let _ = writeln!(
                    err,
                    "error: the change set at line {line_no} was not applied: {} problem(s); \
                     the entities stay at version {}",
                    e.problems.len(),
                    snapshot.version()
                );
                return Exit::Error;
            }
        };
        let groups = live::group(&applied.events);
        let version = applied.snapshot.version();
        let printed = match args.format {
            Format::Human => {
                let mut out = format!(
                    "line {line_no}: version {version}, {} access change(s)",
                    applied.events.len()
                );
                for g in &groups {
                    out.push_str("\n  ");
                    out.push_str(&g.describe(&changes));
                }
                emit(&out)
            }
            Format::Json => {
                let json =
                    AppliedJson::new(Some(line_no), version, &applied.events, &groups, &changes);
                emit(&serde_json::to_string(&json).unwrap_or_default())
            }
        };
        if let Err(e) = printed {
            return e;
        }
        snapshot = applied.snapshot;
    }
    if let Some(out) = &args.write {
        let json = snapshot.entities().to_json(policy.compiled());
        let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(out, text) {
            return fail_input(format!("cannot write `{}`: {e}", out.display()));
        }
    }
    Exit::Ok
}

//! `casepol db`: the schema of the entities in SQLite and PostgreSQL, printed or applied, and an
//! entities file imported into an empty database (docs/database.md).

use super::*;
use casepol::db::{Dialect, Source};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum DialectArg {
    /// PostgreSQL: docs/schema.postgres.sql
    Postgres,
    /// SQLite: docs/schema.sqlite.sql
    Sqlite,
}

#[derive(Subcommand)]
pub(super) enum DbCommand {
    /// Print the schema of the entities tables, or create them with `--apply`
    Init {
        /// The SQL dialect
        #[arg(long, value_enum)]
        dialect: DialectArg,
        /// Create the tables in this database (`sqlite:PATH` or `postgres://…`) instead of
        /// printing the schema
        #[arg(long)]
        apply: Option<String>,
    },
    /// Fill the empty tables of a database from an entities file, in one transaction
    ///
    /// The entities are loaded for the policy first, with every check of loading, so that only
    /// valid entities are written, each value typed by the policy.
    Import {
        /// The policy: a `.casepol` file, or a directory of them
        policy: PathBuf,
        /// The entities file (JSON)
        entities: PathBuf,
        /// The database: `sqlite:PATH` or `postgres://…`, with the tables of `casepol db init`
        #[arg(long)]
        to: String,
    },
}

fn source(url: &str) -> Result<Source, Exit> {
    Source::parse(url).ok_or_else(|| {
        fail_input(format!(
            "`{url}` names no database\n  help: write `sqlite:PATH` or a PostgreSQL URL such as `postgres://user@host/db`"
        ))
    })
}

pub(super) fn db(cmd: &DbCommand) -> Exit {
    let run = || -> Result<(), Exit> {
        match cmd {
            DbCommand::Init { dialect, apply } => {
                let dialect = match dialect {
                    DialectArg::Postgres => Dialect::Postgres,
                    DialectArg::Sqlite => Dialect::Sqlite,
                };
                let Some(url) = apply else {
                    return emit(dialect.schema().trim_end());
                };
                let target = source(url)?;
                let matches = matches!(
                    (&target, dialect),
                    (Source::Postgres(_), Dialect::Postgres) | (Source::Sqlite(_), Dialect::Sqlite)
                );
                if !matches {
                    return Err(fail_input(format!(
                        "database `{}` is not of the dialect given\n  help: give the `--dialect` of the database",
                        target.shown()
                    )));
                }
                casepol::db::init(&target).map_err(|e| fail_input(e.to_string()))?;
                eprintln!("created the tables in `{}`", target.shown());
                Ok(())
            }
            DbCommand::Import {
                policy,
                entities,
                to,
            } => {
                let target = source(to)?;
                let (policy, entities) = load_inputs(policy, entities)?;
                let rows = casepol::db::import(&policy, &entities, &target)
                    .map_err(|e| fail_input(e.to_string()))?;
                eprintln!("imported {rows} row(s) into `{}`", target.shown());
                Ok(())
            }
        }
    };
    match run() {
        Ok(()) => Exit::Ok,
        Err(e) => e,
    }
}

//! Entities in SQLite and PostgreSQL (feature `db`; docs/database.md): the layout of
//! docs/schema.*.sql, loading the entities from it, and filling it from loaded entities.
//!
//! Loading reads each table once in the order of the id of the entity its rows belong to, merges
//! each entity's rows from its tables' streams, and gives the entities as values, bounded by
//! [`MAX_ENTITIES_BYTES`](crate::limits::MAX_ENTITIES_BYTES) as a file is, to the one
//! construction path of entities: the database is held to every rule of the JSON format, with
//! the same messages. Each problem is then put down to the table, row and column
//! that holds what it is about ([`DbError`]).
//!
//! - `load.rs`: the loader, and the errors mapped to tables;
//! - `import.rs`: `casepol db import`, loaded entities written into an empty database;
//! - `follow.rs`: a PostgreSQL database followed through its change log, as change sets.

use crate::api::Policy;
use crate::entities::Entities;
use serde::Serialize;
use std::path::PathBuf;

pub mod follow;
mod import;
mod load;

pub use import::import;

/// The schema for PostgreSQL: every table and index casepol reads (docs/schema.postgres.sql).
pub const POSTGRES_SCHEMA: &str = include_str!("../docs/schema.postgres.sql");
/// The schema for SQLite (docs/schema.sqlite.sql).
pub const SQLITE_SCHEMA: &str = include_str!("../docs/schema.sqlite.sql");

/// A database named by `--entities`: `sqlite:PATH`, or a PostgreSQL URL (`postgres://…` or
/// `postgresql://…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, as libpq takes it.
    Postgres(String),
}

impl Source {
    /// The database `text` names, or `None` when it names a file (an entities file).
    pub fn parse(text: &str) -> Option<Source> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            return Some(Source::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Some(Source::Postgres(text.to_string()));
        }
        None
    }

    /// The source as messages name it: a PostgreSQL URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Source::Sqlite(p) => format!("sqlite:{}", p.display()),
            Source::Postgres(url) => redact(url),
        }
    }
}

/// `url` with the password of its user part, if any, replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A problem with the entities in a database, or with reaching it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbError {
    /// What is wrong: for a rule of the entity format, the message loading a file gives.
    pub message: String,
    /// The table holding what the problem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The row: the id of the entity (and, for an attribute, its name after a `/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<String>,
    /// The column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl DbError {
    /// A problem with the database as a whole (it cannot be reached, a query failed).
    pub(crate) fn whole(message: String, help: &str) -> DbError {
        DbError {
            message,
            table: None,
            row: None,
            column: None,
            help: Some(help.to_string()),
        }
    }

    /// A problem with one row.
    pub(crate) fn at(table: &str, row: &str, column: &str, message: String, help: &str) -> Self {
        DbError {
            message,
            table: Some(table.to_string()),
            row: Some(row.to_string()),
            column: Some(column.to_string()),
            help: Some(help.to_string()),
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |s: &str| s.escape_debug().to_string();
        if let Some(t) = &self.table {
            write!(f, "table `{t}`")?;
            if let Some(r) = &self.row {
                write!(f, ", row `{}`", shown(r))?;
            }
            if let Some(c) = &self.column {
                write!(f, ", column `{c}`")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", shown(&self.message))?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {}", shown(h))?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

/// Loads the entities of the database `source` for `policy`: every problem, or the entities.
pub fn load(policy: &Policy, source: &Source) -> Result<Entities, Vec<DbError>> {
    load::load(policy, source)
}

/// The SQL dialect of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Dialect {
    /// The schema of the dialect.
    pub fn schema(self) -> &'static str {
        match self {
            Dialect::Postgres => POSTGRES_SCHEMA,
            Dialect::Sqlite => SQLITE_SCHEMA,
        }
    }
}

/// Creates the tables of the schema in the database `target`.
pub fn init(target: &Source) -> Result<(), DbError> {
    match target {
        Source::Sqlite(path) => {
            let db = rusqlite::Connection::open(path).map_err(|e| failed(target, &e))?;
            db.execute_batch(SQLITE_SCHEMA)
                .map_err(|e| failed(target, &e))
        }
        Source::Postgres(url) => {
            let mut client =
                postgres::Client::connect(url, postgres::NoTls).map_err(|e| failed(target, &e))?;
            let mut tx = client.transaction().map_err(|e| failed(target, &e))?;
            tx.batch_execute(POSTGRES_SCHEMA)
                .map_err(|e| failed(target, &e))?;
            tx.commit().map_err(|e| failed(target, &e))
        }
    }
}

/// A database error, naming the database (without its password).
pub(crate) fn failed(source: &Source, e: &dyn std::fmt::Display) -> DbError {
    DbError::whole(
        format!("database `{}`: {e}", source.shown()),
        "check that the database can be reached and has the tables of `casepol db init`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_passwords() {
        assert_eq!(Source::parse("entities.json"), None);
        assert_eq!(
            Source::parse("sqlite:/tmp/e.db"),
            Some(Source::Sqlite("/tmp/e.db".into()))
        );
        let pg = Source::parse("postgres://app:secret@db:5432/cases").unwrap();
        assert_eq!(pg.shown(), "postgres://app:***@db:5432/cases");
        let pg = Source::parse("postgresql://app@db/cases").unwrap();
        assert_eq!(pg.shown(), "postgresql://app@db/cases");
    }
}

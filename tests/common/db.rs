//! Loading the rows of `casepol::query::sql::tables` into SQLite and PostgreSQL, in the layout
//! of docs/schema.*.sql, for the SQL tests and the benchmark.
#![allow(dead_code)]

use casepol::query::sql::{Param, Tables};

pub const SQLITE_SCHEMA: &str = include_str!("../../docs/schema.sqlite.sql");
pub const POSTGRES_SCHEMA: &str = include_str!("../../docs/schema.postgres.sql");

/// A fresh in-memory SQLite database with the layout and the rows.
pub fn sqlite(tables: &Tables) -> rusqlite::Connection {
    let mut db = rusqlite::Connection::open_in_memory().expect("SQLite opens in memory");
    db.execute_batch(SQLITE_SCHEMA)
        .expect("the SQLite schema loads");
    let tx = db.transaction().expect("a transaction");
    {
        let mut res = tx
            .prepare("INSERT INTO resources (id, kind, parent_id, case_type, state, inherit_read, inherit_write) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .unwrap();
        for r in &tables.resources {
            res.execute(rusqlite::params![
                r.id,
                r.kind,
                r.parent_id,
                r.case_type,
                r.state,
                r.inherit_read,
                r.inherit_write
            ])
            .unwrap();
        }
        let mut attr = tx
            .prepare("INSERT INTO resource_attrs (resource_id, name, value) VALUES (?1, ?2, ?3)")
            .unwrap();
        for (a, b, c) in &tables.attrs {
            attr.execute([a, b, c]).unwrap();
        }
        let mut rel = tx
            .prepare("INSERT INTO case_relations (case_id, relation, user_id) VALUES (?1, ?2, ?3)")
            .unwrap();
        for (a, b, c) in &tables.relations {
            rel.execute([a, b, c]).unwrap();
        }
        let mut rel_group = tx
            .prepare("INSERT INTO relation_groups (resource_id, relation, group_name) VALUES (?1, ?2, ?3)")
            .unwrap();
        for (a, b, c) in &tables.relation_groups {
            rel_group.execute([a, b, c]).unwrap();
        }
        let mut code = tx
            .prepare("INSERT INTO access_codes (resource_id, class, level, code) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        for c in &tables.codes {
            code.execute(rusqlite::params![c.resource_id, c.class, c.level, c.code])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    db.execute_batch("ANALYZE").unwrap();
    db
}

/// Runs a filter's query on SQLite: the ids it selects, in its order. Every SQLite parameter is
/// text (a set is a JSON array in one text).
pub fn sqlite_ids(db: &rusqlite::Connection, f: &casepol::query::sql::Filter) -> Vec<String> {
    let mut stmt = db
        .prepare_cached(&f.select())
        .unwrap_or_else(|e| panic!("{e}\n{}", f.select()));
    let texts = f.params.iter().map(|p| match p {
        Param::Text(t) => t,
        Param::Array(_) => panic!("an array parameter in a SQLite filter: {}", f.select()),
    });
    let rows = stmt
        .query_map(rusqlite::params_from_iter(texts), |row| {
            row.get::<_, String>(0)
        })
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// Creates the layout in a fresh schema of its own on PostgreSQL and loads the rows. The session
/// runs without JIT compilation, as docs/queries.md recommends: compiling these queries takes
/// PostgreSQL far longer than running them.
pub fn postgres(client: &mut postgres::Client, schema: &str, tables: &Tables) {
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}; SET jit = off;"
        ))
        .expect("a fresh schema");
    client
        .batch_execute(POSTGRES_SCHEMA)
        .expect("the PostgreSQL schema loads");
    // COPY would be faster; INSERTs in one transaction keep the loader obvious.
    let mut tx = client.transaction().unwrap();
    let res = tx
        .prepare("INSERT INTO resources (id, kind, parent_id, case_type, state, inherit_read, inherit_write) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .unwrap();
    for r in &tables.resources {
        tx.execute(
            &res,
            &[
                &r.id,
                &r.kind,
                &r.parent_id,
                &r.case_type,
                &r.state,
                &r.inherit_read,
                &r.inherit_write,
            ],
        )
        .unwrap();
    }
    let attr = tx
        .prepare("INSERT INTO resource_attrs (resource_id, name, value) VALUES ($1, $2, $3)")
        .unwrap();
    for (a, b, c) in &tables.attrs {
        tx.execute(&attr, &[a, b, c]).unwrap();
    }
    let rel = tx
        .prepare("INSERT INTO case_relations (case_id, relation, user_id) VALUES ($1, $2, $3)")
        .unwrap();
    for (a, b, c) in &tables.relations {
        tx.execute(&rel, &[a, b, c]).unwrap();
    }
    let rel_group = tx
        .prepare(
            "INSERT INTO relation_groups (resource_id, relation, group_name) VALUES ($1, $2, $3)",
        )
        .unwrap();
    for (a, b, c) in &tables.relation_groups {
        tx.execute(&rel_group, &[a, b, c]).unwrap();
    }
    let code = tx
        .prepare(
            "INSERT INTO access_codes (resource_id, class, level, code) VALUES ($1, $2, $3, $4)",
        )
        .unwrap();
    for c in &tables.codes {
        tx.execute(
            &code,
            &[&c.resource_id, &c.class, &(c.level as i32), &c.code],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    client.batch_execute("ANALYZE").unwrap();
}

/// Runs a filter's query on PostgreSQL: text parameters as `text`, sets as `text[]`.
pub fn postgres_ids(client: &mut postgres::Client, f: &casepol::query::sql::Filter) -> Vec<String> {
    let params: Vec<&(dyn postgres::types::ToSql + Sync)> = f
        .params
        .iter()
        .map(|p| match p {
            Param::Text(t) => t as &(dyn postgres::types::ToSql + Sync),
            Param::Array(a) => a as &(dyn postgres::types::ToSql + Sync),
        })
        .collect();
    client
        .query(&f.select(), &params)
        .unwrap_or_else(|e| panic!("{e}\n{}", f.select()))
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect()
}

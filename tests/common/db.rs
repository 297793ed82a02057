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

/// Which statement of a filter to run: its whole query, or its condition in a query of one's
/// own (`SELECT r.id FROM resources r WHERE <where> ORDER BY r.id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Select,
    Where,
}

fn statement(f: &casepol::query::sql::Filter, form: Form) -> String {
    match form {
        Form::Select => f.select(),
        Form::Where => format!(
            "SELECT r.id FROM resources r WHERE {} ORDER BY r.id",
            f.where_clause
        ),
    }
}

/// Runs a filter's query on SQLite: the ids it selects, in its order. Every SQLite parameter is
/// text (a set is a JSON array in one text).
pub fn sqlite_ids(db: &rusqlite::Connection, f: &casepol::query::sql::Filter) -> Vec<String> {
    sqlite_ids_as(db, f, Form::Select)
}

/// [`sqlite_ids`] with the statement of `form`.
pub fn sqlite_ids_as(
    db: &rusqlite::Connection,
    f: &casepol::query::sql::Filter,
    form: Form,
) -> Vec<String> {
    let sql = statement(f, form);
    let mut stmt = db
        .prepare_cached(&sql)
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
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
    // A bulk load for the queries: no change-log rows (the schema's triggers, for servers that
    // follow the database, would write one per row), and no foreign-key checks, which the rows of
    // loaded entities meet. Needs a superuser, as the tests' server has.
    client
        .batch_execute("SET session_replication_role = replica")
        .expect("triggers off for the load");
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
    client
        .batch_execute("SET session_replication_role = origin; ANALYZE")
        .unwrap();
}

/// Runs a filter's query on PostgreSQL: text parameters as `text`, sets as `text[]`.
pub fn postgres_ids(client: &mut postgres::Client, f: &casepol::query::sql::Filter) -> Vec<String> {
    postgres_ids_as(client, f, Form::Select)
}

/// [`postgres_ids`] with the statement of `form`.
pub fn postgres_ids_as(
    client: &mut postgres::Client,
    f: &casepol::query::sql::Filter,
    form: Form,
) -> Vec<String> {
    let sql = statement(f, form);
    let params: Vec<&(dyn postgres::types::ToSql + Sync)> = f
        .params
        .iter()
        .map(|p| match p {
            Param::Text(t) => t as &(dyn postgres::types::ToSql + Sync),
            Param::Array(a) => a as &(dyn postgres::types::ToSql + Sync),
        })
        .collect();
    client
        .query(&sql, &params)
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect()
}

/// SQLite's `EXPLAIN QUERY PLAN` of a filter's query: the `detail` of each step, such as
/// `SEARCH r USING INDEX resources_kind (kind=?)`.
pub fn sqlite_plan(db: &rusqlite::Connection, f: &casepol::query::sql::Filter) -> Vec<String> {
    let sql = format!("EXPLAIN QUERY PLAN {}", f.select());
    let mut stmt = db.prepare(&sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let texts = f.params.iter().map(|p| match p {
        Param::Text(t) => t,
        Param::Array(_) => panic!("an array parameter in a SQLite filter: {sql}"),
    });
    let rows = stmt
        .query_map(rusqlite::params_from_iter(texts), |row| {
            row.get::<_, String>(3)
        })
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// PostgreSQL's `EXPLAIN (ANALYZE, BUFFERS OFF)` of a filter's query: one line per line of the
/// plan, with the time each step took.
pub fn postgres_plan(
    client: &mut postgres::Client,
    f: &casepol::query::sql::Filter,
) -> Vec<String> {
    let params: Vec<&(dyn postgres::types::ToSql + Sync)> = f
        .params
        .iter()
        .map(|p| match p {
            Param::Text(t) => t as &(dyn postgres::types::ToSql + Sync),
            Param::Array(a) => a as &(dyn postgres::types::ToSql + Sync),
        })
        .collect();
    let sql = format!("EXPLAIN (ANALYZE) {}", f.select());
    client
        .query(&sql, &params)
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect()
}

/// SQLite's `EXPLAIN QUERY PLAN` as the `sqlite3` shell prints it: each step under its parent,
/// indented.
pub fn sqlite_plan_tree(db: &rusqlite::Connection, f: &casepol::query::sql::Filter) -> String {
    let sql = format!("EXPLAIN QUERY PLAN {}", f.select());
    let mut stmt = db.prepare(&sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let texts = f.params.iter().map(|p| match p {
        Param::Text(t) => t,
        Param::Array(_) => panic!("an array parameter in a SQLite filter: {sql}"),
    });
    let rows: Vec<(i64, i64, String)> = stmt
        .query_map(rusqlite::params_from_iter(texts), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(3)?))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut depth: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let mut out = String::new();
    for (id, parent, detail) in rows {
        let d = if parent == 0 {
            0
        } else {
            depth.get(&parent).map_or(0, |d| d + 1)
        };
        depth.insert(id, d);
        out.push_str(&"  ".repeat(d));
        out.push_str(&detail);
        out.push('\n');
    }
    out
}

//! Loading entities from a database: the rows of each table streamed in id order into an
//! entities text, loaded by the one construction path of entities, and every problem put down
//! to its table, row and column.

use super::{failed, DbError, Source};
use crate::api::Policy;
use crate::entities::Entities;
use crate::ir::{AttrDef, Type};
use crate::limits;
use serde_json::Value;
use std::collections::BTreeMap;

/// One column of a row as text (`None` for SQL NULL).
type Row<'a> = &'a [Option<String>];
/// Runs a query with at most one text parameter and hands each row to the callback, in order.
type Query<'q> = dyn FnMut(&str, Option<&str>, &mut dyn FnMut(Row<'_>) -> Result<(), DbError>) -> Result<(), DbError>
    + 'q;

/// The queries of one dialect. Each child table is gathered per entity by the database, as a
/// JSON array of its rows, so one pass over each entity table reads everything in id order.
struct Sql<'a> {
    units: &'a str,
    users: &'a str,
    resources: &'a str,
    /// `SELECT 1 FROM <table> WHERE id = <param>`, per entity table.
    has: [&'a str; 3],
}

const POSTGRES: Sql<'static> = Sql {
    units: "SELECT id, parent_id FROM units ORDER BY id",
    users: "SELECT u.id, \
        (SELECT json_agg(x.group_name)::text FROM user_groups x WHERE x.user_id = u.id), \
        (SELECT json_agg(x.unit_id)::text FROM user_units x WHERE x.user_id = u.id), \
        (SELECT json_agg(x.term)::text FROM user_terms x WHERE x.user_id = u.id), \
        (SELECT json_agg(json_build_array(x.name, x.value))::text FROM user_attrs x WHERE x.user_id = u.id) \
        FROM users u ORDER BY u.id",
    resources: "SELECT r.id, r.kind, r.parent_id, r.case_type, r.state, \
        r.inherit_read::text, r.inherit_write::text, \
        (SELECT json_agg(json_build_array(x.name, x.value))::text FROM resource_attrs x WHERE x.resource_id = r.id), \
        (SELECT json_agg(json_build_array(x.relation, x.user_id))::text FROM case_relations x WHERE x.case_id = r.id), \
        (SELECT json_agg(json_build_array(x.class, x.level, x.code))::text FROM access_codes x WHERE x.resource_id = r.id), \
        (SELECT json_agg(json_build_array(x.class, x.levels))::text FROM access_code_levels x WHERE x.resource_id = r.id), \
        (SELECT json_agg(json_build_array(x.relation, x.group_name))::text FROM relation_groups x WHERE x.resource_id = r.id) \
        FROM resources r ORDER BY r.id",
    has: [
        "SELECT 1 FROM units WHERE id = $1",
        "SELECT 1 FROM users WHERE id = $1",
        "SELECT 1 FROM resources WHERE id = $1",
    ],
};

const SQLITE: Sql<'static> = Sql {
    units: "SELECT id, parent_id FROM units ORDER BY id",
    users: "SELECT u.id, \
        (SELECT json_group_array(x.group_name) FROM user_groups x WHERE x.user_id = u.id), \
        (SELECT json_group_array(x.unit_id) FROM user_units x WHERE x.user_id = u.id), \
        (SELECT json_group_array(x.term) FROM user_terms x WHERE x.user_id = u.id), \
        (SELECT json_group_array(json_array(x.name, x.value)) FROM user_attrs x WHERE x.user_id = u.id) \
        FROM users u ORDER BY u.id",
    resources: "SELECT r.id, r.kind, r.parent_id, r.case_type, r.state, \
        CASE WHEN r.inherit_read THEN 'true' ELSE 'false' END, \
        CASE WHEN r.inherit_write THEN 'true' ELSE 'false' END, \
        (SELECT json_group_array(json_array(x.name, x.value)) FROM resource_attrs x WHERE x.resource_id = r.id), \
        (SELECT json_group_array(json_array(x.relation, x.user_id)) FROM case_relations x WHERE x.case_id = r.id), \
        (SELECT json_group_array(json_array(x.class, x.level, x.code)) FROM access_codes x WHERE x.resource_id = r.id), \
        (SELECT json_group_array(json_array(x.class, x.levels)) FROM access_code_levels x WHERE x.resource_id = r.id), \
        (SELECT json_group_array(json_array(x.relation, x.group_name)) FROM relation_groups x WHERE x.resource_id = r.id) \
        FROM resources r ORDER BY r.id",
    has: [
        "SELECT 1 FROM units WHERE id = ?1",
        "SELECT 1 FROM users WHERE id = ?1",
        "SELECT 1 FROM resources WHERE id = ?1",
    ],
};

pub(super) fn load(policy: &Policy, source: &Source) -> Result<Entities, Vec<DbError>> {
    let one = |e: DbError| vec![e];
    match source {
        Source::Sqlite(path) => {
            use rusqlite::OpenFlags;
            // Read only, and never created: a mistyped path is an error, not an empty world.
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let mut db = rusqlite::Connection::open_with_flags(path, flags)
                .map_err(|e| one(failed(source, &e)))?;
            // One read transaction: the tables are read as of one moment.
            let tx = db.transaction().map_err(|e| one(failed(source, &e)))?;
            let mut q = |sql: &str,
                         param: Option<&str>,
                         f: &mut dyn FnMut(Row<'_>) -> Result<(), DbError>|
             -> Result<(), DbError> {
                let mut stmt = tx.prepare(sql).map_err(|e| failed(source, &e))?;
                let n = stmt.column_count();
                let mut rows = match param {
                    Some(p) => stmt.query([p]),
                    None => stmt.query([]),
                }
                .map_err(|e| failed(source, &e))?;
                let mut cells: Vec<Option<String>> = Vec::with_capacity(n);
                while let Some(row) = rows.next().map_err(|e| failed(source, &e))? {
                    cells.clear();
                    for i in 0..n {
                        cells.push(sqlite_text(row.get_ref(i).map_err(|e| failed(source, &e))?));
                    }
                    f(&cells)?;
                }
                Ok(())
            };
            build(policy, &SQLITE, &mut q)
        }
        Source::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls)
                .map_err(|e| one(failed(source, &e)))?;
            load_postgres(policy, source, &mut client).map(|(entities, _)| entities)
        }
    }
}

/// Runs queries in the PostgreSQL transaction `tx`, as [`Query`] does.
fn pg_query<'t, 'c: 't>(
    tx: &'t mut postgres::Transaction<'c>,
    source: &'t Source,
) -> Box<Query<'t>> {
    Box::new(move |sql, param, f| {
        use postgres::fallible_iterator::FallibleIterator;
        if sql == POSTGRES.resources && param.is_none() {
            return pg_resources(tx, source, f);
        }
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = match &param {
            Some(p) => vec![p],
            None => Vec::new(),
        };
        let mut rows = tx.query_raw(sql, params).map_err(|e| failed(source, &e))?;
        let mut cells: Vec<Option<String>> = Vec::new();
        while let Some(row) = rows.next().map_err(|e| failed(source, &e))? {
            cells.clear();
            for i in 0..row.len() {
                cells.push(pg_text(&row, i).map_err(|e| failed(source, &e))?);
            }
            f(&cells)?;
        }
        Ok(())
    })
}

/// The rows of [`POSTGRES`]`.resources` for the whole table, read without a subquery per
/// resource: `resources` and each table of their parts in one scan each, ordered by resource
/// id, merged here, each part's rows put into the JSON array the subquery would build (the
/// order of an array's elements is not part of what the query gives). Each scan is a portal
/// of the transaction, read [`PORTAL_ROWS`] rows at a time.
fn pg_resources(
    tx: &mut postgres::Transaction<'_>,
    source: &Source,
    f: &mut dyn FnMut(Row<'_>) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let e = |e: postgres::Error| failed(source, &e);
    let resources = tx
        .bind(
            "SELECT id, kind, parent_id, case_type, state, inherit_read::text, inherit_write::text \
             FROM resources ORDER BY id",
            &[],
        )
        .map_err(e)?;
    // Each part: its query (the resource's id first), and whether each column after the id is a
    // JSON string (text) or a JSON number (a level).
    let parts: [(&str, &[bool]); 5] = [
        (
            "SELECT resource_id, name, value FROM resource_attrs ORDER BY resource_id",
            &[true, true],
        ),
        (
            "SELECT case_id, relation, user_id FROM case_relations ORDER BY case_id",
            &[true, true],
        ),
        (
            "SELECT resource_id, class, level::text, code FROM access_codes ORDER BY resource_id",
            &[true, false, true],
        ),
        (
            "SELECT resource_id, class, levels::text FROM access_code_levels ORDER BY resource_id",
            &[true, false],
        ),
        (
            "SELECT resource_id, relation, group_name FROM relation_groups ORDER BY resource_id",
            &[true, true],
        ),
    ];
    let mut cursors = Vec::with_capacity(parts.len());
    for (sql, strings) in parts {
        cursors.push(Cursor {
            portal: tx.bind(sql, &[]).map_err(e)?,
            rows: Vec::new(),
            at: 0,
            done: false,
            strings,
        });
    }
    let mut cells: Vec<Option<String>> = Vec::with_capacity(12);
    loop {
        let batch = tx.query_portal(&resources, PORTAL_ROWS).map_err(e)?;
        if batch.is_empty() {
            return Ok(());
        }
        for row in &batch {
            cells.clear();
            for i in 0..row.len() {
                cells.push(pg_text(row, i).map_err(e)?);
            }
            let Some(id) = cells[0].clone() else {
                continue;
            };
            for c in cursors.iter_mut() {
                cells.push(c.array_for(tx, &id).map_err(e)?);
            }
            f(&cells)?;
        }
    }
}

/// How many rows one read of a portal of [`pg_resources`] fetches.
const PORTAL_ROWS: i32 = 20_000;

/// One table of a resource's parts, read in resource-id order through a portal.
struct Cursor {
    portal: postgres::Portal,
    rows: Vec<postgres::Row>,
    at: usize,
    done: bool,
    /// For each column after the id: a JSON string (`true`) or a JSON number (`false`).
    strings: &'static [bool],
}

impl Cursor {
    /// The JSON array of the rows of resource `id` (each an array of its columns after the id),
    /// as `json_agg` writes it, or `None` when it has none. Rows of ids before `id` belong to no
    /// resource (the foreign keys forbid them) and are passed over.
    fn array_for(
        &mut self,
        tx: &mut postgres::Transaction<'_>,
        id: &str,
    ) -> Result<Option<String>, postgres::Error> {
        let mut out: Option<String> = None;
        loop {
            if self.at == self.rows.len() {
                if self.done {
                    break;
                }
                self.rows = tx.query_portal(&self.portal, PORTAL_ROWS)?;
                self.at = 0;
                if self.rows.is_empty() {
                    self.done = true;
                    break;
                }
            }
            let row = &self.rows[self.at];
            let rid: Option<&str> = row.try_get(0)?;
            match rid.map(|r| r.as_bytes().cmp(id.as_bytes())) {
                Some(std::cmp::Ordering::Greater) => break,
                Some(std::cmp::Ordering::Equal) => {
                    let text = out.get_or_insert_with(|| "[".to_string());
                    if text.len() > 1 {
                        text.push(',');
                    }
                    text.push('[');
                    for (i, &string) in self.strings.iter().enumerate() {
                        if i > 0 {
                            text.push(',');
                        }
                        let v: Option<&str> = row.try_get(i + 1)?;
                        match (v, string) {
                            (None, _) => text.push_str("null"),
                            (Some(v), true) => text.push_str(
                                &serde_json::to_string(v).unwrap_or_else(|_| "null".into()),
                            ),
                            // A number PostgreSQL wrote from an integer column.
                            (Some(v), false) => text.push_str(v),
                        }
                    }
                    text.push(']');
                }
                _ => {}
            }
            self.at += 1;
        }
        if let Some(text) = out.as_mut() {
            text.push(']');
        }
        Ok(out)
    }
}

/// Loads the entities from PostgreSQL in one `REPEATABLE READ` transaction, and gives the
/// snapshot it read them in (`pg_current_snapshot()` as text): the transactions whose changes
/// the entities hold are exactly those visible in it.
pub(super) fn load_postgres(
    policy: &Policy,
    source: &Source,
    client: &mut postgres::Client,
) -> Result<(Entities, String), Vec<DbError>> {
    let one = |e: DbError| vec![e];
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| one(failed(source, &e)))?;
    let mut snapshot = String::new();
    let entities = {
        let mut q = pg_query(&mut tx, source);
        // The first statement takes the transaction's snapshot; every table is read in it.
        q("SELECT pg_current_snapshot()::text", None, &mut |row| {
            snapshot = row[0].clone().unwrap_or_default();
            Ok(())
        })
        .map_err(one)?;
        build(policy, &POSTGRES, &mut q)?
    };
    tx.commit().map_err(|e| one(failed(source, &e)))?;
    Ok((entities, snapshot))
}

/// The current records (entities-file JSON, `{"units": …, "users": …, "resources": …}`) of the
/// entities whose ids `ids` (a JSON array of strings) names, read in the PostgreSQL transaction
/// `tx`. Ids of no entity are left out.
pub(super) fn records_postgres(
    policy: &Policy,
    source: &Source,
    tx: &mut postgres::Transaction<'_>,
    ids: &[&str; 3],
) -> Result<String, Vec<DbError>> {
    // The query of the whole table, restricted to the ids given.
    let only = |sql: &str| {
        let (head, order) = sql.rsplit_once(" ORDER BY ").unwrap_or((sql, ""));
        format!("{head} WHERE {order} IN (SELECT jsonb_array_elements_text($1::text::jsonb)) ORDER BY {order}")
    };
    let (units, users, resources) = (
        only(POSTGRES.units),
        only(POSTGRES.users),
        only(POSTGRES.resources),
    );
    let mut text = String::from("{");
    for (i, (key, sql)) in [
        ("units", &units),
        ("users", &users),
        ("resources", &resources),
    ]
    .into_iter()
    .enumerate()
    {
        let one_sql = Sql {
            // The other sections: no rows, and the parameter unused.
            units: "SELECT NULL, NULL WHERE $1::text IS NULL",
            users: "SELECT NULL, NULL, NULL, NULL, NULL WHERE $1::text IS NULL",
            resources: "SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
                        WHERE $1::text IS NULL",
            has: POSTGRES.has,
        };
        let one_sql = match i {
            0 => Sql {
                units: sql,
                ..one_sql
            },
            1 => Sql {
                users: sql,
                ..one_sql
            },
            _ => Sql {
                resources: sql,
                ..one_sql
            },
        };
        let mut q = pg_query(tx, source);
        let written = write(policy, &one_sql, Some(ids[i]), &mut q)?;
        let value: Value = serde_json::from_str(&written).unwrap_or(Value::Null);
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::from(key).to_string());
        text.push(':');
        text.push_str(&value[key].to_string());
    }
    text.push('}');
    Ok(text)
}

/// A SQLite value as text: integers in decimal (a level, a boolean), text as it is.
fn sqlite_text(v: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => None,
        V::Integer(i) => Some(i.to_string()),
        V::Real(r) => Some(r.to_string()),
        V::Text(t) | V::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

/// A PostgreSQL column as text (every column the loader reads is text or an integer).
fn pg_text(row: &postgres::Row, i: usize) -> Result<Option<String>, postgres::Error> {
    use postgres::types::Type as T;
    match *row.columns()[i].type_() {
        T::INT4 => Ok(row.try_get::<_, Option<i32>>(i)?.map(|n| n.to_string())),
        T::INT8 => Ok(row.try_get::<_, Option<i64>>(i)?.map(|n| n.to_string())),
        T::BOOL => Ok(row.try_get::<_, Option<bool>>(i)?.map(|b| b.to_string())),
        _ => row.try_get::<_, Option<String>>(i),
    }
}

/// The entities text being written, bounded as an entities file is.
struct Out {
    text: String,
    errors: Vec<DbError>,
}

impl Out {
    fn check_size(&self) -> Result<(), DbError> {
        if self.text.len() > limits::MAX_ENTITIES_BYTES {
            return Err(DbError::whole(
                format!(
                    "the entities in the database are more than the limit of {} as an entities file",
                    limits::bytes(limits::MAX_ENTITIES_BYTES)
                ),
                "split the entities over several deployments, or leave out resources no request names",
            ));
        }
        Ok(())
    }

    fn key(&mut self, key: &str, value: &Value) {
        self.text.push(',');
        self.text.push_str(&Value::from(key).to_string());
        self.text.push(':');
        self.text.push_str(&value.to_string());
    }
}

/// A JSON array of rows gathered by the database (`NULL` when there are none).
fn rows_of(cell: &Option<String>) -> Vec<Value> {
    match cell.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Array(items))) => items,
        _ => Vec::new(),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Writes the attribute rows of entity `id` (pairs of name and value text) as an `attrs`
/// object typed by `defs`, or records why a value cannot be one.
fn attrs(out: &mut Out, table: &str, id: &str, defs: Option<&[AttrDef]>, rows: Vec<Value>) {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        if let Value::Array(cells) = row {
            let name = cells.first().map(text_of).unwrap_or_default();
            let value = cells.get(1).map(text_of).unwrap_or_default();
            by_name.entry(name).or_default().push(value);
        }
    }
    let mut obj = serde_json::Map::new();
    for def in defs.unwrap_or(&[]) {
        if def.ty == Type::SetStr && !by_name.contains_key(&def.name) {
            obj.insert(def.name.clone(), Value::Array(Vec::new()));
        }
    }
    for (name, mut values) in by_name {
        let ty = defs
            .and_then(|d| d.iter().find(|a| a.name == name))
            .map(|a| a.ty);
        let row = format!("{id}/{name}");
        if ty == Some(Type::SetStr) {
            values.sort_unstable();
            obj.insert(name, values.into_iter().map(Value::from).collect());
            continue;
        }
        if values.len() > 1 {
            out.errors.push(DbError::at(
                table,
                &row,
                "value",
                format!(
                    "attribute `{name}` has {} rows; only a set has more than one",
                    values.len()
                ),
                "keep one row for the attribute, or declare it a `set<string>`",
            ));
            continue;
        }
        let text = values.pop().unwrap_or_default();
        let value = match ty {
            Some(Type::Int) => match text.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    out.errors.push(DbError::at(
                        table,
                        &row,
                        "value",
                        format!("`{}` is not an integer", text.escape_debug()),
                        "write the value in decimal digits, such as `42` or `-7`",
                    ));
                    continue;
                }
            },
            Some(Type::Bool) => match text.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    out.errors.push(DbError::at(
                        table,
                        &row,
                        "value",
                        format!("`{}` is not a boolean", text.escape_debug()),
                        "write `true` or `false`",
                    ));
                    continue;
                }
            },
            _ => Value::from(text),
        };
        obj.insert(name, value);
    }
    out.key("attrs", &Value::Object(obj));
}

/// Whether `code` is one access code of the grammar (docs/data-formats.md §2.1): a row holds one
/// code, never `A|B`.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@:".contains(&b))
}

/// Writes the own access codes of resource `id` from its `access_codes` and
/// `access_code_levels` rows.
fn codes(out: &mut Out, id: &str, code_rows: Vec<Value>, level_rows: Vec<Value>) {
    let mut levels: [Vec<Vec<String>>; 2] = [Vec::new(), Vec::new()];
    let mut counts: [Option<i64>; 2] = [None, None];
    let class_of = |v: Option<&Value>| match v.map(text_of).as_deref() {
        Some("read") => Some(0),
        Some("write") => Some(1),
        _ => None,
    };
    let int_of = |v: Option<&Value>| v.and_then(|v| v.as_i64().or_else(|| text_of(v).parse().ok()));
    for row in level_rows {
        let cells = row.as_array().cloned().unwrap_or_default();
        if let Some(c) = class_of(cells.first()) {
            counts[c] = int_of(cells.get(1));
        }
    }
    for row in code_rows {
        let cells = row.as_array().cloned().unwrap_or_default();
        let Some(c) = class_of(cells.first()) else {
            continue;
        };
        let code = cells.get(2).map(text_of).unwrap_or_default();
        let level = match int_of(cells.get(1)) {
            Some(l) if (0..limits::MAX_CODE_LEVELS as i64).contains(&l) => l as usize,
            l => {
                out.errors.push(DbError::at(
                    "access_codes",
                    id,
                    "level",
                    format!(
                        "level {} of code `{}` is outside 0 to {}",
                        l.map_or("NULL".to_string(), |l| l.to_string()),
                        code.escape_debug(),
                        limits::MAX_CODE_LEVELS - 1
                    ),
                    "number the levels of a code from 0; a code has at most 64 levels",
                ));
                continue;
            }
        };
        if !is_code(&code) {
            out.errors.push(DbError::at(
                "access_codes",
                id,
                "code",
                format!("`{}` is not one access code", code.escape_debug()),
                "a code is ASCII letters, digits, `_`, `-`, `.`, `@` and `:`; write each code of a level in a row of its own",
            ));
            continue;
        }
        let l = &mut levels[c];
        if l.len() <= level {
            l.resize(level + 1, Vec::new());
        }
        l[level].push(code);
    }
    for (c, key) in ["read", "write"].into_iter().enumerate() {
        let l = &mut levels[c];
        if let Some(n) = counts[c] {
            if n < l.len() as i64 || n < 1 || n > limits::MAX_CODE_LEVELS as i64 {
                out.errors.push(DbError::at(
                    "access_code_levels",
                    &format!("{id}/{key}"),
                    "levels",
                    format!(
                        "the {key} code has {n} level(s), but access_codes has rows up to level {}",
                        l.len().saturating_sub(1)
                    ),
                    "give the number of levels from 1 to 64, more than the highest level with a code",
                ));
                continue;
            }
            l.resize(n as usize, Vec::new());
        }
        if l.is_empty() {
            continue;
        }
        let text: Vec<String> = l
            .iter_mut()
            .map(|codes| {
                codes.sort_unstable();
                if codes.is_empty() {
                    "[ ]".to_string()
                } else {
                    format!("[{}]", codes.join("|"))
                }
            })
            .collect();
        out.key(key, &Value::from(text.join(" & ")));
    }
}

/// The entity tables, in the order of the entities file's sections.
const TABLES: [&str; 3] = ["units", "users", "resources"];

/// Writes the entities the queries of `sql` select (with `param`, if any) as an entities text,
/// or every problem with a value the rows cannot give.
fn write(
    policy: &Policy,
    sql: &Sql<'_>,
    param: Option<&str>,
    q: &mut Query<'_>,
) -> Result<String, Vec<DbError>> {
    let p = policy.compiled().ir();
    let mut out = Out {
        text: String::from("{"),
        errors: Vec::new(),
    };
    let one = |e: DbError| vec![e];
    // Units.
    out.text.push_str("\"units\":[");
    let mut first = true;
    q(sql.units, param, &mut |row| {
        out.text
            .push_str(if first { "{\"id\":" } else { ",{\"id\":" });
        first = false;
        out.text
            .push_str(&Value::from(row[0].clone().unwrap_or_default()).to_string());
        if let Some(parent) = &row[1] {
            out.key("parent", &Value::from(parent.as_str()));
        }
        out.text.push('}');
        out.check_size()
    })
    .map_err(one)?;
    // Users.
    out.text.push_str("],\"users\":[");
    let mut first = true;
    q(sql.users, param, &mut |row| {
        let id = row[0].clone().unwrap_or_default();
        out.text
            .push_str(if first { "{\"id\":" } else { ",{\"id\":" });
        first = false;
        out.text.push_str(&Value::from(id.as_str()).to_string());
        for (key, cell) in [("groups", &row[1]), ("units", &row[2]), ("terms", &row[3])] {
            let items = rows_of(cell);
            if !items.is_empty() {
                let items: Vec<Value> = items.iter().map(|v| Value::from(text_of(v))).collect();
                out.key(key, &Value::Array(items));
            }
        }
        attrs(
            &mut out,
            "user_attrs",
            &id,
            Some(&p.user_attrs),
            rows_of(&row[4]),
        );
        out.text.push('}');
        out.check_size()
    })
    .map_err(one)?;
    // Resources.
    out.text.push_str("],\"resources\":[");
    let mut first = true;
    q(sql.resources, param, &mut |row| {
        let id = row[0].clone().unwrap_or_default();
        let kind = row[1].clone().unwrap_or_default();
        out.text
            .push_str(if first { "{\"id\":" } else { ",{\"id\":" });
        first = false;
        out.text.push_str(&Value::from(id.as_str()).to_string());
        out.key("kind", &Value::from(kind.as_str()));
        for (key, cell) in [("parent", &row[2]), ("type", &row[3]), ("state", &row[4])] {
            if let Some(v) = cell {
                out.key(key, &Value::from(v.as_str()));
            }
        }
        for (key, cell) in [("inherit_read", &row[5]), ("inherit_write", &row[6])] {
            if cell.as_deref() == Some("false") || cell.as_deref() == Some("0") {
                out.key(key, &Value::Bool(false));
            }
        }
        let kdef = p.kinds.iter().find(|k| k.name == kind);
        let defs = kdef.map(|k| k.attrs.as_slice());
        let given = rows_of(&row[7]);
        if !given.is_empty() || defs.is_some_and(|d| !d.is_empty()) {
            attrs(&mut out, "resource_attrs", &id, defs, given);
        }
        // The members of each relation: users (`case_relations`) and groups (`relation_groups`).
        for (key, cell) in [("relations", &row[8]), ("relation_groups", &row[11])] {
            let members = rows_of(cell);
            if members.is_empty() {
                continue;
            }
            let mut rels: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for m in members {
                let cells = m.as_array().cloned().unwrap_or_default();
                let rel = cells.first().map(text_of).unwrap_or_default();
                let member = cells.get(1).map(text_of).unwrap_or_default();
                rels.entry(rel).or_default().push(Value::from(member));
            }
            let rels = rels.into_iter().map(|(k, v)| (k, Value::Array(v)));
            out.key(key, &Value::Object(rels.collect()));
        }
        codes(&mut out, &id, rows_of(&row[9]), rows_of(&row[10]));
        out.text.push('}');
        out.check_size()
    })
    .map_err(one)?;
    out.text.push_str("]}");
    if !out.errors.is_empty() {
        return Err(out.errors);
    }
    Ok(out.text)
}

fn build(policy: &Policy, sql: &Sql<'_>, q: &mut Query<'_>) -> Result<Entities, Vec<DbError>> {
    let one = |e: DbError| vec![e];
    let text = write(policy, sql, None, q)?;
    let errors = match Entities::from_json(policy.compiled(), &text) {
        Ok(entities) => return Ok(entities),
        Err(errors) => errors,
    };
    // Each problem, put down to the table that holds it.
    let mut mapped = Vec::with_capacity(errors.len());
    for (n, e) in errors.into_iter().enumerate() {
        // The section of the entity: from its place when it has no id, else from the field when
        // only one section has it, else from the tables (for at most so many problems).
        let field = e.field.clone().unwrap_or_default();
        let head = field.split('.').next().unwrap_or_default();
        let from_field = match head {
            "groups" | "units" | "terms" => Some(1),
            "kind" | "type" | "state" | "relations" | "relation_groups" | "read" | "write"
            | "inherit_read" | "inherit_write" => Some(2),
            _ => None,
        };
        let from_position = e.position.as_deref().and_then(|pos| {
            ["unit #", "user #", "resource #"]
                .iter()
                .position(|w| pos.starts_with(w))
        });
        let section = match (&e.entity, from_position.or(from_field)) {
            (_, Some(s)) => Some(s),
            (Some(id), None) if n < limits::MAX_SHOWN_DIAGNOSTICS * 100 => {
                let mut found = None;
                for (s, has) in sql.has.iter().enumerate() {
                    let mut hit = false;
                    q(has, Some(id), &mut |_| {
                        hit = true;
                        Ok(())
                    })
                    .map_err(one)?;
                    if hit {
                        found = Some(s);
                        break;
                    }
                }
                found
            }
            _ => None,
        };
        let row = e
            .entity
            .clone()
            .or_else(|| e.position.clone())
            .unwrap_or_default();
        let Some(section) = section else {
            mapped.push(DbError {
                message: e.message,
                table: None,
                row: None,
                column: None,
                help: e.help,
            });
            continue;
        };
        let rest = field.split_once('.').map(|(_, r)| r);
        let (table, column, row) = match (section, head, rest) {
            (0, "parent", _) => ("units", "parent_id", row),
            (0, _, _) => ("units", "id", row),
            (1, "groups", _) => ("user_groups", "group_name", row),
            (1, "units", _) => ("user_units", "unit_id", row),
            (1, "terms", _) => ("user_terms", "term", row),
            (1, "attrs", Some(name)) => ("user_attrs", "value", format!("{row}/{name}")),
            (1, "attrs", None) => ("user_attrs", "name", row),
            (1, _, _) => ("users", "id", row),
            (_, "kind", _) => ("resources", "kind", row),
            (_, "parent", _) => ("resources", "parent_id", row),
            (_, "type", _) => ("resources", "case_type", row),
            (_, "state", _) => ("resources", "state", row),
            (_, "inherit_read", _) => ("resources", "inherit_read", row),
            (_, "inherit_write", _) => ("resources", "inherit_write", row),
            (_, "attrs", Some(name)) => ("resource_attrs", "value", format!("{row}/{name}")),
            (_, "attrs", None) => ("resource_attrs", "name", row),
            (_, "relations", Some(rel)) => ("case_relations", "user_id", format!("{row}/{rel}")),
            (_, "relations", None) => ("case_relations", "relation", row),
            (_, "relation_groups", Some(rel)) => {
                ("relation_groups", "group_name", format!("{row}/{rel}"))
            }
            (_, "relation_groups", None) => ("relation_groups", "relation", row),
            (_, "read" | "write", _) => ("access_codes", "code", format!("{row}/{head}")),
            _ => (TABLES[section.min(2)], "id", row),
        };
        mapped.push(DbError {
            message: e.message,
            table: Some(table.to_string()),
            row: Some(row),
            column: Some(column.to_string()),
            help: e.help,
        });
    }
    Err(mapped)
}

//! `casepol db import`: loaded entities written into the tables of an empty database, in one
//! transaction, so that loading the database gives the same entities.

use super::{failed, DbError, Source};
use crate::api::Policy;
use crate::entities::Entities;
use crate::query::sql::tables;

/// Every row of `entities`, table by table, each row its column values as text (`None` for
/// NULL); booleans as `true`/`false`, levels in decimal.
/// One table's rows: its name, its columns, and each row's values.
type Table = (
    &'static str,
    &'static [&'static str],
    Vec<Vec<Option<String>>>,
);

struct Rows {
    tables: Vec<Table>,
}

fn rows(policy: &Policy, entities: &Entities) -> Result<Rows, DbError> {
    let p = policy.compiled().ir();
    let t = tables(policy, entities)
        .map_err(|e| DbError::whole(e.to_string(), "load the entities with the policy given"))?;
    let s = |x: &str| Some(x.to_string());
    // Units, parents first.
    let depth = |mut i: usize| {
        let mut d = 0;
        while let Some(parent) = entities.units[i].parent {
            i = parent as usize;
            d += 1;
            if d > crate::limits::MAX_UNIT_DEPTH + 1 {
                break;
            }
        }
        d
    };
    let mut order: Vec<usize> = (0..entities.units.len()).collect();
    order.sort_by_key(|&i| depth(i));
    let units = order
        .into_iter()
        .map(|i| {
            let u = &entities.units[i];
            vec![
                s(&u.id),
                u.parent.map(|x| entities.units[x as usize].id.clone()),
            ]
        })
        .collect();
    let (mut users, mut groups, mut uunits, mut terms, mut uattrs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..entities.users.len() {
        let record = entities.user_record(p, i);
        let id = entities.user_id(i as u32).to_string();
        users.push(vec![s(&id)]);
        let list = |key: &str| -> Vec<String> {
            record
                .get(key)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        for g in list("groups") {
            groups.push(vec![s(&id), Some(g)]);
        }
        for u in list("units") {
            uunits.push(vec![s(&id), Some(u)]);
        }
        for t in list("terms") {
            terms.push(vec![s(&id), Some(t)]);
        }
        if let Some(serde_json::Value::Object(attrs)) = record.get("attrs") {
            for (name, value) in attrs {
                let texts = match value {
                    serde_json::Value::Array(items) => items.clone(),
                    other => vec![other.clone()],
                };
                for v in texts {
                    let text = match v {
                        serde_json::Value::String(x) => x,
                        other => other.to_string(),
                    };
                    uattrs.push(vec![s(&id), s(name), Some(text)]);
                }
            }
        }
    }
    let resources = t
        .resources
        .iter()
        .map(|r| {
            vec![
                s(&r.id),
                s(&r.kind),
                r.parent_id.clone(),
                r.case_type.clone(),
                r.state.clone(),
                Some(r.inherit_read.to_string()),
                Some(r.inherit_write.to_string()),
            ]
        })
        .collect();
    let triple = |v: Vec<(String, String, String)>| {
        v.into_iter()
            .map(|(a, b, c)| vec![Some(a), Some(b), Some(c)])
            .collect()
    };
    let codes = t
        .codes
        .iter()
        .map(|c| {
            vec![
                s(&c.resource_id),
                s(c.class),
                Some(c.level.to_string()),
                s(&c.code),
            ]
        })
        .collect();
    // The number of levels where the rows of access_codes do not tell it: a code that ends with
    // an empty level.
    let mut levels = Vec::new();
    for (i, r) in entities.resources.iter().enumerate() {
        for (class, own) in [("read", &r.own_read), ("write", &r.own_write)] {
            let shown = own.iter().rposition(|l| !l.is_empty()).map_or(1, |x| x + 1);
            if own.len() != shown {
                levels.push(vec![
                    s(entities.resource_id(i as u32)),
                    s(class),
                    Some(own.len().to_string()),
                ]);
            }
        }
    }
    Ok(Rows {
        tables: vec![
            ("units", &["id", "parent_id"], units),
            ("users", &["id"], users),
            ("user_groups", &["user_id", "group_name"], groups),
            ("user_units", &["user_id", "unit_id"], uunits),
            ("user_terms", &["user_id", "term"], terms),
            ("user_attrs", &["user_id", "name", "value"], uattrs),
            (
                "resources",
                &[
                    "id",
                    "kind",
                    "parent_id",
                    "case_type",
                    "state",
                    "inherit_read",
                    "inherit_write",
                ],
                resources,
            ),
            (
                "resource_attrs",
                &["resource_id", "name", "value"],
                triple(t.attrs),
            ),
            (
                "case_relations",
                &["case_id", "relation", "user_id"],
                triple(t.relations),
            ),
            (
                "relation_groups",
                &["resource_id", "relation", "group_name"],
                triple(t.relation_groups),
            ),
            (
                "access_codes",
                &["resource_id", "class", "level", "code"],
                codes,
            ),
            (
                "access_code_levels",
                &["resource_id", "class", "levels"],
                levels,
            ),
        ],
    })
}

/// The tables that must be empty before an import.
const ENTITY_TABLES: [&str; 3] = ["units", "users", "resources"];

fn not_empty(target: &Source, table: &str) -> DbError {
    DbError::whole(
        format!(
            "database `{}`: table `{table}` is not empty",
            target.shown()
        ),
        "import into a database fresh from `casepol db init`; to change entities, write the rows",
    )
}

/// Writes `entities` (loaded for `policy`) into the empty tables of `target`, in one
/// transaction: all of them, or nothing. Returns the number of rows written.
pub fn import(policy: &Policy, entities: &Entities, target: &Source) -> Result<usize, DbError> {
    let rows = rows(policy, entities)?;
    let mut written = 0;
    match target {
        Source::Sqlite(path) => {
            let mut db = rusqlite::Connection::open(path).map_err(|e| failed(target, &e))?;
            let tx = db.transaction().map_err(|e| failed(target, &e))?;
            for table in ENTITY_TABLES {
                let any: bool = tx
                    .query_row(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), [], |r| {
                        r.get(0)
                    })
                    .map_err(|e| failed(target, &e))?;
                if any {
                    return Err(not_empty(target, table));
                }
            }
            for (table, columns, values) in &rows.tables {
                let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    columns.join(", "),
                    marks.join(", ")
                );
                let mut stmt = tx.prepare(&sql).map_err(|e| failed(target, &e))?;
                for row in values {
                    // SQLite stores the booleans as 1 and 0, as its BOOLEAN columns do.
                    let row: Vec<rusqlite::types::Value> = row
                        .iter()
                        .map(|v| match v.as_deref() {
                            None => rusqlite::types::Value::Null,
                            Some("true") if table == &"resources" => 1.into(),
                            Some("false") if table == &"resources" => 0.into(),
                            Some(x) => x.to_string().into(),
                        })
                        .collect();
                    stmt.execute(rusqlite::params_from_iter(row))
                        .map_err(|e| failed(target, &e))?;
                    written += 1;
                }
            }
            tx.commit().map_err(|e| failed(target, &e))?;
        }
        Source::Postgres(url) => {
            let mut client =
                postgres::Client::connect(url, postgres::NoTls).map_err(|e| failed(target, &e))?;
            let mut tx = client.transaction().map_err(|e| failed(target, &e))?;
            for table in ENTITY_TABLES {
                let row = tx
                    .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])
                    .map_err(|e| failed(target, &e))?;
                if row.try_get::<_, bool>(0).map_err(|e| failed(target, &e))? {
                    return Err(not_empty(target, table));
                }
            }
            for (table, columns, values) in &rows.tables {
                // COPY in its text format: one line per row, columns separated by tabs, `\N`
                // for NULL; the server reads each value as its column's type reads text. One
                // statement per table instead of one round trip per row.
                let sql = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
                let mut w = tx.copy_in(&sql).map_err(|e| failed(target, &e))?;
                let mut line = String::new();
                for row in values {
                    line.clear();
                    for (i, v) in row.iter().enumerate() {
                        if i > 0 {
                            line.push('\t');
                        }
                        match v {
                            None => line.push_str("\\N"),
                            Some(x) => copy_text(&mut line, x),
                        }
                    }
                    line.push('\n');
                    std::io::Write::write_all(&mut w, line.as_bytes())
                        .map_err(|e| failed(target, &e))?;
                    written += 1;
                }
                w.finish().map_err(|e| failed(target, &e))?;
            }
            tx.commit().map_err(|e| failed(target, &e))?;
        }
    }
    Ok(written)
}

/// Appends `value` escaped for COPY's text format: a backslash, a tab, a line feed and a
/// carriage return are written as `\\`, `\t`, `\n` and `\r`, so no value ends its column or
/// its row, and no value reads as `\N` (NULL).
fn copy_text(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

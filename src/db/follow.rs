//! Following a PostgreSQL database: the transactions the change log (docs/schema.postgres.sql)
//! records after a snapshot, each turned into one change set of the entities it touched.
//!
//! **Consistency.** The entities are loaded in one `REPEATABLE READ` transaction, which also
//! reads its snapshot (`pg_current_snapshot()`). Each poll reads, in a new such transaction, its
//! own snapshot and the change-log rows of the transactions visible in it and not in the one
//! before (`pg_visible_in_snapshot`), then makes it the one before. So each committed
//! transaction is applied exactly once, whatever order the sequence numbers were drawn in
//! (a sequence number is drawn at insert, not at commit), and a transaction that was still
//! running at a poll is found by a later one.

use super::load::{load_postgres, records_postgres};
use super::{failed, DbError, Source};
use crate::api::Policy;
use crate::entities::Entities;
use crate::limits;
use serde_json::{json, Value};

/// Where a follower is: the snapshot its entities hold, and the last change-log row applied.
#[derive(Debug, Clone)]
pub struct Follower {
    source: Source,
    snapshot: String,
    last_seq: i64,
}

/// One committed transaction: the entities it touched, as they are in the database now.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// The PostgreSQL transaction id.
    pub txid: String,
    /// Its last change-log sequence number.
    pub last_seq: i64,
    /// The ids of the units, users and resources it touched.
    touched: [Vec<String>; 3],
    /// Their records now (`{"units": […], "users": […], "resources": […]}`); an id without a
    /// record was deleted.
    records: Value,
}

/// What a poll found.
#[derive(Debug)]
pub enum Polled {
    /// The transactions committed since the last poll, in the order of their first row.
    Transactions(Vec<Transaction>),
    /// More was changed than change sets take (more than
    /// [`MAX_CHANGES`](crate::limits::MAX_CHANGES) entities): load the whole database again.
    Reload,
}

/// Loads the entities of the PostgreSQL database `source` and a follower at their snapshot.
pub fn load_following(
    policy: &Policy,
    source: &Source,
) -> Result<(Entities, Follower), Vec<DbError>> {
    let Source::Postgres(url) = source else {
        return Err(vec![DbError::whole(
            format!("database `{}` cannot be followed", source.shown()),
            "follow a PostgreSQL database; a SQLite database is loaded once",
        )]);
    };
    let mut client =
        postgres::Client::connect(url, postgres::NoTls).map_err(|e| vec![failed(source, &e)])?;
    let (entities, snapshot) = load_postgres(policy, source, &mut client)?;
    let mut follower = Follower {
        source: source.clone(),
        snapshot,
        last_seq: 0,
    };
    // The last sequence number the snapshot holds, for the record.
    if let Ok(row) = client.query_one("SELECT coalesce(max(seq), 0) FROM change_log", &[]) {
        follower.last_seq = row.try_get(0).unwrap_or(0);
    }
    Ok((entities, follower))
}

impl Follower {
    /// The last change-log sequence number applied (or held by the snapshot loaded).
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// The source followed.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// A connection that listens on `casepol_changes`.
    pub fn connect(&self) -> Result<postgres::Client, DbError> {
        let Source::Postgres(url) = &self.source else {
            return Err(failed(&self.source, &"not PostgreSQL"));
        };
        let mut client = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| failed(&self.source, &e))?;
        client
            .batch_execute("LISTEN casepol_changes")
            .map_err(|e| failed(&self.source, &e))?;
        Ok(client)
    }

    /// Reads the transactions committed since the last poll. The follower moves past them only
    /// when the whole poll succeeds: on an error, the next poll reads them again.
    pub fn poll(
        &mut self,
        policy: &Policy,
        client: &mut postgres::Client,
    ) -> Result<Polled, Vec<DbError>> {
        use postgres::fallible_iterator::FallibleIterator;
        let source = self.source.clone();
        let one = |e: &dyn std::fmt::Display| vec![failed(&source, e)];
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| one(&e))?;
        let now: String = tx
            .query_one("SELECT pg_current_snapshot()::text", &[])
            .and_then(|row| row.try_get(0))
            .map_err(|e| one(&e))?;
        let mut groups: Vec<(String, i64, [Vec<String>; 3])> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut entities = 0usize;
        let mut last_seq = self.last_seq;
        {
            let mut rows = tx
                .query_raw(
                    "SELECT seq, txid::text, entity, id FROM change_log \
                     WHERE txid >= pg_snapshot_xmin($1::text::pg_snapshot) \
                     AND NOT pg_visible_in_snapshot(txid, $1::text::pg_snapshot) ORDER BY seq",
                    [&self.snapshot],
                )
                .map_err(|e| one(&e))?;
            while let Some(row) = rows.next().map_err(|e| one(&e))? {
                let seq: i64 = row.try_get(0).map_err(|e| one(&e))?;
                let txid: String = row.try_get(1).map_err(|e| one(&e))?;
                let entity: String = row.try_get(2).map_err(|e| one(&e))?;
                let id: String = row.try_get(3).map_err(|e| one(&e))?;
                last_seq = last_seq.max(seq);
                let g = *index.entry(txid.clone()).or_insert_with(|| {
                    groups.push((txid, seq, Default::default()));
                    groups.len() - 1
                });
                let section = match entity.as_str() {
                    "unit" => 0,
                    "user" => 1,
                    _ => 2,
                };
                groups[g].1 = groups[g].1.max(seq);
                groups[g].2[section].push(id);
                entities += 1;
                if entities > limits::MAX_CHANGES * 10 {
                    break;
                }
            }
        }
        let mut out = Vec::with_capacity(groups.len());
        for (txid, seq, mut touched) in groups {
            for ids in &mut touched {
                ids.sort_unstable();
                ids.dedup();
            }
            if touched.iter().map(Vec::len).sum::<usize>() > limits::MAX_CHANGES
                || entities > limits::MAX_CHANGES * 10
            {
                // The caller loads the whole database again, from a snapshot of its own.
                tx.commit().map_err(|e| one(&e))?;
                return Ok(Polled::Reload);
            }
            let ids: Vec<String> = touched
                .iter()
                .map(|ids| Value::from(ids.clone()).to_string())
                .collect();
            let ids = [ids[0].as_str(), ids[1].as_str(), ids[2].as_str()];
            let text = records_postgres(policy, &source, &mut tx, &ids)?;
            let records: Value = serde_json::from_str(&text).map_err(|e| one(&e))?;
            out.push(Transaction {
                txid,
                last_seq: seq,
                touched,
                records,
            });
        }
        tx.commit().map_err(|e| one(&e))?;
        self.snapshot = now;
        self.last_seq = last_seq;
        Ok(Polled::Transactions(out))
    }
}

impl Transaction {
    /// The change set (docs/data-formats.md §4) that writes the touched entities into
    /// `entities` as the database has them: an upsert of each that has a record (units, users,
    /// then resources, parents first), then a delete of each that has none and is in
    /// `entities` (resources, children first, then users, then units).
    pub fn change_set(&self, policy: &Policy, entities: &Entities) -> String {
        let p = policy.compiled().ir();
        let mut changes = Vec::new();
        let keys = ["units", "users", "resources"];
        let ops = [
            ("upsert_unit", "unit", "delete_unit"),
            ("upsert_user", "user", "delete_user"),
            ("upsert_resource", "resource", "delete_resource"),
        ];
        let mut present: [std::collections::HashSet<String>; 3] = Default::default();
        // The depth of a kind under its parents, so that parents are written first.
        let kind_depth = |name: &str| {
            let mut k = p.kinds.iter().position(|k| k.name == name);
            let mut d = 0;
            while let Some(i) = k {
                k = p.kinds[i].parent.map(|x| x.idx());
                d += 1;
                if d > limits::MAX_KIND_DEPTH + 1 {
                    break;
                }
            }
            d
        };
        for (s, key) in keys.iter().enumerate() {
            let mut records: Vec<Value> = self.records[key].as_array().cloned().unwrap_or_default();
            if s == 2 {
                records.sort_by_key(|r| kind_depth(r["kind"].as_str().unwrap_or_default()));
            }
            for r in records {
                present[s].insert(r["id"].as_str().unwrap_or_default().to_string());
                let mut change = serde_json::Map::new();
                change.insert("op".into(), ops[s].0.into());
                change.insert(ops[s].1.into(), r);
                changes.push(Value::Object(change));
            }
        }
        let exists = |s: usize, id: &str| match s {
            0 => entities.is_unit(id),
            1 => entities.user(id).is_some(),
            _ => entities.resource(id).is_some(),
        };
        for s in [2, 1, 0] {
            let mut gone: Vec<&String> = self.touched[s]
                .iter()
                .filter(|id| !present[s].contains(*id) && exists(s, id))
                .collect();
            if s == 2 {
                // Children first: deeper kinds first.
                gone.sort_by_key(|id| {
                    let kind = entities
                        .resource(id)
                        .map(|r| p.kinds[r.kind.idx()].name.as_str())
                        .unwrap_or_default();
                    std::cmp::Reverse(kind_depth(kind))
                });
            }
            for id in gone {
                changes.push(json!({"op": ops[s].2, "id": id}));
            }
        }
        json!({ "changes": changes }).to_string()
    }

    /// Whether the transaction changes nothing casepol holds (every entity it touched was
    /// written and deleted again, or never existed).
    pub fn is_empty(&self, entities: &Entities) -> bool {
        let none = |key: &str| self.records[key].as_array().is_none_or(|a| a.is_empty());
        none("units")
            && none("users")
            && none("resources")
            && self.touched[0].iter().all(|id| !entities.is_unit(id))
            && self.touched[1].iter().all(|id| entities.user(id).is_none())
            && self.touched[2]
                .iter()
                .all(|id| entities.resource(id).is_none())
    }
}

//! Loading entities from a database: each table read once, in the order of the id of the
//! entity its rows belong to, the rows of an entity's tables merged by that id into the entity,
//! which is given to the one construction path of entities, and every problem put down to its
//! table, row and column.
//!
//! **Reading.** The entity tables are read in three phases, units, users and resources; in each,
//! the entity table and each table of its parts (attributes, relations, codes, …) is one
//! statement ordered by the owning id (each an index scan: every part's primary key starts with
//! it), and all of a phase's statements are read side by side, a row at a time, so that each
//! entity is assembled from the runs of its id in each stream (a merge of sorted streams:
//! linear, and no table is ever held whole). SQLite steps the statements of a phase together;
//! PostgreSQL reads each through a portal of one `REPEATABLE READ` transaction,
//! [`PORTAL_ROWS`] rows at a time, fetched by a thread of its own while the rows before are
//! merged. (One `COPY` of a phase's tables under `UNION ALL`, merged
//! by the server, was measured slower: the client takes each row of a `COPY` as a message of
//! its own, and a `COPY` holds the connection, so the tables cannot be read side by side.) Ids are compared as bytes, the order of `ORDER BY` on the
//! schema's ids (`COLLATE "C"` in PostgreSQL, SQLite's `BINARY`).
//!
//! **Building.** Each entity's rows become the values a file would hold (`GivenUser`,
//! `GivenResource`: attribute text typed by the policy, relations grouped, codes written as a
//! file writes them), and [`Entities::from_given`] builds them with every rule and message of
//! the JSON format, without a text being written and read again. A server following
//! PostgreSQL reads the records of changed entities the same way, restricted to their ids, and
//! writes them as entities-file JSON ([`records_postgres`]).

use super::{failed, DbError, Source};
use crate::api::Policy;
use crate::entities::{Entities, Given, GivenError, GivenResource, GivenUser, GivenValue};
use crate::ir::{AttrDef, Type};
use crate::limits;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A table read in one phase: the columns selected, the first the id of the owning entity.
struct Table {
    name: &'static str,
    /// The owning entity's id, which the rows are ordered by.
    owner: &'static str,
    /// The columns in SQLite and in PostgreSQL (which gives every column as text).
    sqlite: &'static str,
    postgres: &'static str,
}

const fn table(name: &'static str, owner: &'static str, columns: &'static str) -> Table {
    Table {
        name,
        owner,
        sqlite: columns,
        postgres: columns,
    }
}

const UNITS: [Table; 1] = [table("units", "id", "id, parent_id")];

/// `users`, then the tables of a user's parts, in the order of the streams read.
const USERS: [Table; 5] = [
    table("users", "id", "id"),
    table("user_groups", "user_id", "user_id, group_name"),
    table("user_units", "user_id", "user_id, unit_id"),
    table("user_terms", "user_id", "user_id, term"),
    table("user_attrs", "user_id", "user_id, name, value"),
];

/// `resources`, then the tables of a resource's parts, in the order of the streams read.
const RESOURCES: [Table; 6] = [
    Table {
        name: "resources",
        owner: "id",
        sqlite: "id, kind, parent_id, case_type, state, \
                 CASE WHEN inherit_read THEN 'true' ELSE 'false' END, \
                 CASE WHEN inherit_write THEN 'true' ELSE 'false' END",
        postgres: "id, kind, parent_id, case_type, state, inherit_read::text, inherit_write::text",
    },
    table("resource_attrs", "resource_id", "resource_id, name, value"),
    table("case_relations", "case_id", "case_id, relation, user_id"),
    Table {
        name: "access_codes",
        owner: "resource_id",
        sqlite: "resource_id, class, level, code",
        postgres: "resource_id, class, level::text, code",
    },
    Table {
        name: "access_code_levels",
        owner: "resource_id",
        sqlite: "resource_id, class, levels",
        postgres: "resource_id, class, levels::text",
    },
    table(
        "relation_groups",
        "resource_id",
        "resource_id, relation, group_name",
    ),
];

/// The statement that reads `t` in the order of its owner; with `only`, restricted to the ids
/// of the JSON array of strings that is PostgreSQL parameter `$1`.
fn select(t: &Table, postgres: bool, only: bool) -> String {
    let columns = if postgres { t.postgres } else { t.sqlite };
    let filter = match only {
        true => format!(
            " WHERE {} IN (SELECT jsonb_array_elements_text($1::text::jsonb))",
            t.owner
        ),
        false => String::new(),
    };
    format!(
        "SELECT {columns} FROM {}{filter} ORDER BY {}",
        t.name, t.owner
    )
}

/// The tables of one phase, read side by side, each a stream of rows in owner order: the
/// entity table (stream 0) and the tables of its parts.
trait Streams {
    /// Moves the entity stream to its next row; `false` when it has no more.
    fn next_entity(&mut self) -> Result<bool, DbError>;
    /// Moves part stream `s` to its next row owned by `id`, passing over the rows of owners
    /// before it (rows of no entity, which a SQLite database written with its foreign keys
    /// turned off can hold); `false` when it has no more rows of `id`.
    fn next_part(&mut self, s: usize, id: &str) -> Result<bool, DbError>;
    /// Column `i` of the current row of stream `s` (`None` for SQL NULL).
    fn get(&self, s: usize, i: usize) -> Option<&str>;
    /// The number of columns of stream `s`.
    fn width(&self, s: usize) -> usize;
    /// The bytes of the current row of stream `s`, each column counted as a string of a file
    /// (its bytes and three more).
    fn bytes(&self, s: usize) -> usize {
        (0..self.width(s))
            .map(|i| self.get(s, i).map_or(0, str::len) + 3)
            .sum()
    }
}

/// One cursor per table (SQLite's statements, PostgreSQL's portals).
trait Cursors {
    /// Moves cursor `s` to its next row; `false` when it has no more.
    fn advance(&mut self, s: usize) -> Result<bool, DbError>;
    fn get(&self, s: usize, i: usize) -> Option<&str>;
    fn width(&self, s: usize) -> usize;
    /// As [`Streams::bytes`].
    fn bytes(&self, s: usize) -> usize {
        (0..self.width(s))
            .map(|i| self.get(s, i).map_or(0, str::len) + 3)
            .sum()
    }
}

/// Cursors merged by owner: each cursor's current row is the next one to be taken, unless it
/// was taken already.
struct Merged<C> {
    cursors: C,
    /// Whether each cursor has a row.
    live: Vec<bool>,
    /// Whether each cursor's row was taken (or it has none yet).
    taken: Vec<bool>,
}

impl<C: Cursors> Merged<C> {
    fn new(cursors: C, n: usize) -> Merged<C> {
        Merged {
            cursors,
            live: vec![false; n],
            taken: vec![true; n],
        }
    }
}

impl<C: Cursors> Streams for Merged<C> {
    fn next_entity(&mut self) -> Result<bool, DbError> {
        self.live[0] = self.cursors.advance(0)?;
        Ok(self.live[0])
    }

    fn next_part(&mut self, s: usize, id: &str) -> Result<bool, DbError> {
        if self.taken[s] {
            self.live[s] = self.cursors.advance(s)?;
            self.taken[s] = false;
        }
        while self.live[s] {
            let order = self
                .cursors
                .get(s, 0)
                .map(|owner| owner.as_bytes().cmp(id.as_bytes()));
            match order {
                Some(Ordering::Greater) => return Ok(false),
                Some(Ordering::Equal) => {
                    self.taken[s] = true;
                    return Ok(true);
                }
                // A row of no owner, or of an owner with no entity.
                Some(Ordering::Less) | None => self.live[s] = self.cursors.advance(s)?,
            }
        }
        Ok(false)
    }

    fn get(&self, s: usize, i: usize) -> Option<&str> {
        self.cursors.get(s, i)
    }

    fn width(&self, s: usize) -> usize {
        self.cursors.width(s)
    }

    fn bytes(&self, s: usize) -> usize {
        self.cursors.bytes(s)
    }
}

/// Opens a stream for each table given and hands them to the callback.
type Open<'q> = dyn FnMut(&[Table], &mut dyn FnMut(&mut dyn Streams) -> Result<(), DbError>) -> Result<(), DbError>
    + 'q;

/// Where the entities read go: [`Given`] for a load, JSON for the records of a change.
trait Sink {
    fn unit(&mut self, id: String, parent: Option<String>) -> Result<(), DbError>;
    fn user(&mut self, user: GivenUser) -> Result<(), DbError>;
    fn resource(&mut self, resource: GivenResource) -> Result<(), DbError>;
}

/// The error of entities larger than a file may be.
fn too_large() -> DbError {
    DbError::whole(
        format!(
            "the entities in the database are more than the limit of {} as an entities file",
            limits::bytes(limits::MAX_ENTITIES_BYTES)
        ),
        "split the entities over several deployments, or leave out resources no request names",
    )
}

fn given_error(e: GivenError) -> DbError {
    match e {
        GivenError::TooLarge => too_large(),
        // `read` checks the count of keys first and reports the row.
        GivenError::TooManyKeys => DbError::whole(
            format!(
                "an entity has more than {} attributes or relations",
                limits::MAX_ENTITY_ATTRS
            ),
            "keep fewer attributes and relations on one entity",
        ),
    }
}

impl Sink for Given<'_> {
    fn unit(&mut self, id: String, parent: Option<String>) -> Result<(), DbError> {
        Given::unit(self, id, parent).map_err(given_error)
    }
    fn user(&mut self, user: GivenUser) -> Result<(), DbError> {
        Given::user(self, user).map_err(given_error)
    }
    fn resource(&mut self, resource: GivenResource) -> Result<(), DbError> {
        Given::resource(self, resource).map_err(given_error)
    }
}

pub(super) fn load(policy: &Policy, source: &Source) -> Result<Entities, Vec<DbError>> {
    let one = |e: DbError| vec![e];
    match source {
        Source::Sqlite(path) => {
            use rusqlite::OpenFlags;
            // Read only, and never created: a mistyped path is an error, not an empty world.
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let mut db = rusqlite::Connection::open_with_flags(path, flags)
                .map_err(|e| one(failed(source, &e)))?;
            // One read transaction: the tables are read as of one moment, each time.
            let tx = db.transaction().map_err(|e| one(failed(source, &e)))?;
            let mut open = |tables: &[Table],
                            f: &mut dyn FnMut(&mut dyn Streams) -> Result<(), DbError>|
             -> Result<(), DbError> {
                let mut stmts = Vec::with_capacity(tables.len());
                for t in tables {
                    stmts.push(
                        tx.prepare(&select(t, false, false))
                            .map_err(|e| failed(source, &e))?,
                    );
                }
                let mut streams = SqliteStreams {
                    source,
                    rows: Vec::with_capacity(stmts.len()),
                    cells: Vec::with_capacity(stmts.len()),
                };
                for stmt in stmts.iter_mut() {
                    let n = stmt.column_count();
                    streams
                        .rows
                        .push(stmt.query([]).map_err(|e| failed(source, &e))?);
                    streams.cells.push(vec![None; n]);
                }
                let n = streams.rows.len();
                let mut merged = Merged::new(streams, n);
                f(&mut merged)
            };
            let mut has = |section: usize, id: &str| -> Result<bool, DbError> {
                let sql = format!("SELECT 1 FROM {} WHERE id = ?1", TABLES[section]);
                let mut stmt = tx.prepare(&sql).map_err(|e| failed(source, &e))?;
                stmt.exists([id]).map_err(|e| failed(source, &e))
            };
            build(policy, &mut open, &mut has)
        }
        Source::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls)
                .map_err(|e| one(failed(source, &e)))?;
            load_postgres(policy, source, &mut client).map(|(entities, _)| entities)
        }
    }
}

/// The streams of one phase in SQLite: its statements, stepped together, each current row
/// copied into cells kept from row to row.
struct SqliteStreams<'s> {
    source: &'s Source,
    rows: Vec<rusqlite::Rows<'s>>,
    cells: Vec<Vec<Option<String>>>,
}

impl Cursors for SqliteStreams<'_> {
    fn advance(&mut self, s: usize) -> Result<bool, DbError> {
        use rusqlite::types::ValueRef as V;
        let Some(row) = self.rows[s].next().map_err(|e| failed(self.source, &e))? else {
            return Ok(false);
        };
        for (i, cell) in self.cells[s].iter_mut().enumerate() {
            let v = row.get_ref(i).map_err(|e| failed(self.source, &e))?;
            let text = match v {
                V::Null => {
                    *cell = None;
                    continue;
                }
                V::Integer(n) => std::borrow::Cow::Owned(n.to_string()),
                V::Real(r) => std::borrow::Cow::Owned(r.to_string()),
                V::Text(t) | V::Blob(t) => String::from_utf8_lossy(t),
            };
            match cell {
                Some(c) => {
                    c.clear();
                    c.push_str(&text);
                }
                None => *cell = Some(text.into_owned()),
            }
        }
        Ok(true)
    }

    fn get(&self, s: usize, i: usize) -> Option<&str> {
        self.cells[s].get(i).and_then(|c| c.as_deref())
    }

    fn width(&self, s: usize) -> usize {
        self.cells[s].len()
    }
}

/// How many rows one read of a portal fetches.
const PORTAL_ROWS: i32 = 20_000;

/// The streams of one phase in PostgreSQL: a portal of the transaction for each statement,
/// read [`PORTAL_ROWS`] rows at a time by a thread of its own ([`pg_open`]), which fetches
/// each stream's next rows while these are taken apart. Every column is selected as text.
struct PgStreams<'a> {
    source: &'a Source,
    /// Asks the fetching thread for the next rows of a stream.
    requests: std::sync::mpsc::Sender<usize>,
    /// Its answers, in the order asked.
    replies: std::sync::mpsc::Receiver<(usize, Result<Vec<postgres::Row>, postgres::Error>)>,
    streams: Vec<PgStream>,
}

struct PgStream {
    rows: Vec<postgres::Row>,
    /// The current row in `rows`.
    at: usize,
    /// Rows fetched ahead, not yet current.
    ahead: Option<Vec<postgres::Row>>,
    /// Whether rows were asked for and not yet received.
    asked: bool,
    /// Whether the portal has given its last rows.
    done: bool,
}

impl PgStreams<'_> {
    /// Asks for the next rows of stream `s`, unless they were asked for or there are none.
    fn ask(&mut self, s: usize) {
        let st = &mut self.streams[s];
        if !st.asked && !st.done && st.ahead.is_none() {
            // A fetching thread that stopped has sent its error, received below.
            st.asked = self.requests.send(s).is_ok();
        }
    }

    /// The next rows of stream `s`, waiting for them if need be; empty at its end.
    fn next_batch(&mut self, s: usize) -> Result<Vec<postgres::Row>, DbError> {
        if let Some(rows) = self.streams[s].ahead.take() {
            return Ok(rows);
        }
        if self.streams[s].done {
            return Ok(Vec::new());
        }
        self.ask(s);
        loop {
            let Ok((t, rows)) = self.replies.recv() else {
                return Err(failed(self.source, &"the rows stopped coming"));
            };
            let rows = rows.map_err(|e| failed(self.source, &e))?;
            let st = &mut self.streams[t];
            st.asked = false;
            // A portal that gives fewer rows than asked for has given its last.
            st.done = rows.len() < PORTAL_ROWS as usize;
            if t == s {
                return Ok(rows);
            }
            st.ahead = Some(rows);
        }
    }
}

impl Cursors for PgStreams<'_> {
    fn advance(&mut self, s: usize) -> Result<bool, DbError> {
        let st = &mut self.streams[s];
        if st.at + 1 < st.rows.len() {
            st.at += 1;
            return Ok(true);
        }
        let rows = self.next_batch(s)?;
        let st = &mut self.streams[s];
        st.rows = rows;
        st.at = 0;
        // The next rows are fetched while these are taken.
        self.ask(s);
        Ok(!self.streams[s].rows.is_empty())
    }

    fn get(&self, s: usize, i: usize) -> Option<&str> {
        let st = &self.streams[s];
        st.rows
            .get(st.at)
            .and_then(|row| row.try_get::<_, Option<PgText<'_>>>(i).ok().flatten())
            .map(|t| t.0)
    }

    fn bytes(&self, s: usize) -> usize {
        let st = &self.streams[s];
        let Some(row) = st.rows.get(st.at) else {
            return 0;
        };
        (0..row.len())
            .map(|i| row.try_get::<_, RawLen>(i).map_or(0, |n| n.0) + 3)
            .sum()
    }

    fn width(&self, s: usize) -> usize {
        let st = &self.streams[s];
        st.rows.get(st.at).map_or(0, |row| row.len())
    }
}

/// A column read as text, whatever its type (every column the loader selects is text): the
/// client's check of the type by name is skipped.
struct PgText<'a>(&'a str);

impl<'a> postgres::types::FromSql<'a> for PgText<'a> {
    fn from_sql(
        _: &postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<PgText<'a>, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgText(std::str::from_utf8(raw)?))
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

/// The length in bytes of a column (0 for NULL), read without looking at its bytes.
struct RawLen(usize);

impl<'a> postgres::types::FromSql<'a> for RawLen {
    fn from_sql(
        _: &postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<RawLen, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawLen(raw.len()))
    }

    fn from_sql_null(
        _: &postgres::types::Type,
    ) -> Result<RawLen, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawLen(0))
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

/// Opens the streams of `tables` as portals of `tx` (restricted to the ids of the JSON array
/// `only`, if given) and hands them to `f`.
fn pg_open(
    tx: &mut postgres::Transaction<'_>,
    source: &Source,
    only: Option<&str>,
    tables: &[Table],
    f: &mut dyn FnMut(&mut dyn Streams) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let mut portals = Vec::with_capacity(tables.len());
    for t in tables {
        let sql = select(t, true, only.is_some());
        let portal = match &only {
            Some(ids) => tx.bind(&sql, &[ids]),
            None => tx.bind(&sql, &[]),
        }
        .map_err(|e| failed(source, &e))?;
        portals.push(portal);
    }
    let n = portals.len();
    let (requests, asked) = std::sync::mpsc::channel::<usize>();
    let (answer, replies) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        // The fetching thread: the rows of each stream asked for, in the order asked, until
        // the streams are dropped or a fetch fails.
        scope.spawn(move || {
            for s in asked {
                let rows = tx.query_portal(&portals[s], PORTAL_ROWS);
                let failed = rows.is_err();
                if answer.send((s, rows)).is_err() || failed {
                    break;
                }
            }
        });
        let streams = (0..n)
            .map(|_| PgStream {
                rows: Vec::new(),
                at: 0,
                ahead: None,
                asked: false,
                done: false,
            })
            .collect();
        let mut streams = PgStreams {
            source,
            requests,
            replies,
            streams,
        };
        // Every stream's first rows are fetched at once.
        for s in 0..n {
            streams.ask(s);
        }
        let mut merged = Merged::new(streams, n);
        f(&mut merged)
        // `merged` is dropped here, and with it the requests: the thread ends.
    })
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
    // The first statement takes the transaction's snapshot; every table is read in it.
    let snapshot: String = tx
        .query_one("SELECT pg_current_snapshot()::text", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|e| one(failed(source, &e)))?;
    let tx_cell = std::cell::RefCell::new(&mut tx);
    let entities = {
        let mut open = |tables: &[Table],
                        f: &mut dyn FnMut(&mut dyn Streams) -> Result<(), DbError>|
         -> Result<(), DbError> {
            pg_open(&mut tx_cell.borrow_mut(), source, None, tables, f)
        };
        let mut has = |section: usize, id: &str| -> Result<bool, DbError> {
            let sql = format!("SELECT 1 FROM {} WHERE id = $1", TABLES[section]);
            tx_cell
                .borrow_mut()
                .query_opt(&sql, &[&id])
                .map(|row| row.is_some())
                .map_err(|e| failed(source, &e))
        };
        build(policy, &mut open, &mut has)?
    };
    tx.commit().map_err(|e| one(failed(source, &e)))?;
    Ok((entities, snapshot))
}

/// The entities-file JSON of the records read, bounded as an entities file is.
struct Records<'p> {
    policy: &'p Policy,
    sections: [Vec<Value>; 3],
    bytes: usize,
}

impl Records<'_> {
    fn push(&mut self, section: usize, record: Value) -> Result<(), DbError> {
        self.bytes += record.to_string().len() + 1;
        if self.bytes > limits::MAX_ENTITIES_BYTES {
            return Err(too_large());
        }
        self.sections[section].push(record);
        Ok(())
    }
}

/// Attributes as an entities file's `attrs` object.
fn attrs_json(attrs: Vec<(String, GivenValue)>) -> Value {
    let obj = attrs.into_iter().map(|(k, v)| {
        let v = match v {
            GivenValue::Str(s) => Value::from(s),
            GivenValue::Int(n) => Value::from(n),
            GivenValue::Bool(b) => Value::Bool(b),
            GivenValue::Set(v) => Value::from(v),
        };
        (k, v)
    });
    Value::Object(obj.collect())
}

fn relations_json(rels: Vec<(String, Vec<String>)>) -> Value {
    Value::Object(rels.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
}

impl Sink for Records<'_> {
    fn unit(&mut self, id: String, parent: Option<String>) -> Result<(), DbError> {
        let mut o = serde_json::Map::new();
        o.insert("id".into(), Value::from(id));
        if let Some(p) = parent {
            o.insert("parent".into(), Value::from(p));
        }
        self.push(0, Value::Object(o))
    }

    fn user(&mut self, u: GivenUser) -> Result<(), DbError> {
        let mut o = serde_json::Map::new();
        o.insert("id".into(), Value::from(u.id));
        for (key, items) in [("groups", u.groups), ("units", u.units), ("terms", u.terms)] {
            if !items.is_empty() {
                o.insert(key.into(), Value::from(items));
            }
        }
        o.insert("attrs".into(), attrs_json(u.attrs));
        self.push(1, Value::Object(o))
    }

    fn resource(&mut self, x: GivenResource) -> Result<(), DbError> {
        let p = self.policy.compiled().ir();
        let declared = p
            .kinds
            .iter()
            .find(|k| k.name == x.kind)
            .is_some_and(|k| !k.attrs.is_empty());
        let mut o = serde_json::Map::new();
        o.insert("id".into(), Value::from(x.id));
        o.insert("kind".into(), Value::from(x.kind));
        for (key, v) in [
            ("parent", x.parent),
            ("type", x.casetype),
            ("state", x.state),
        ] {
            if let Some(v) = v {
                o.insert(key.into(), Value::from(v));
            }
        }
        for (key, v) in [
            ("inherit_read", x.inherit_read),
            ("inherit_write", x.inherit_write),
        ] {
            if let Some(v) = v {
                o.insert(key.into(), Value::Bool(v));
            }
        }
        if !x.attrs.is_empty() || declared {
            o.insert("attrs".into(), attrs_json(x.attrs));
        }
        for (key, rels) in [
            ("relations", x.relations),
            ("relation_groups", x.relation_groups),
        ] {
            if !rels.is_empty() {
                o.insert(key.into(), relations_json(rels));
            }
        }
        for (key, v) in [("read", x.read), ("write", x.write)] {
            if let Some(v) = v {
                o.insert(key.into(), Value::from(v));
            }
        }
        self.push(2, Value::Object(o))
    }
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
    let mut records = Records {
        policy,
        sections: Default::default(),
        bytes: 0,
    };
    let mut errors = Vec::new();
    for (section, only) in ids.iter().enumerate() {
        let mut open =
            |tables: &[Table],
             f: &mut dyn FnMut(&mut dyn Streams) -> Result<(), DbError>|
             -> Result<(), DbError> { pg_open(tx, source, Some(only), tables, f) };
        read_section(policy, section, &mut open, &mut records, &mut errors).map_err(|e| vec![e])?;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let [units, users, resources] = records.sections;
    let text = serde_json::json!({"units": units, "users": users, "resources": resources});
    Ok(text.to_string())
}

/// The entity tables, in the order of the entities file's sections.
const TABLES: [&str; 3] = ["units", "users", "resources"];

/// Reads every entity into `sink`. A problem with a value the rows cannot give goes to
/// `errors`, and reading goes on; `Err` is a failure that ends it.
fn read_all(
    policy: &Policy,
    open: &mut Open<'_>,
    sink: &mut dyn Sink,
    errors: &mut Vec<DbError>,
) -> Result<(), DbError> {
    for section in 0..3 {
        read_section(policy, section, open, sink, errors)?;
    }
    Ok(())
}

/// The streams of a phase, and the bytes of the rows taken from them.
struct Merge<'s> {
    streams: &'s mut dyn Streams,
    /// The bytes of the rows taken, each column counted as a string of a file (its bytes and
    /// three more), bounded by [`limits::MAX_ENTITIES_BYTES`] before an entity is assembled.
    bytes: usize,
}

impl Merge<'_> {
    /// Counts the current row of stream `s` against the bound.
    fn take(&mut self, s: usize) -> Result<(), DbError> {
        self.bytes = self.bytes.saturating_add(self.streams.bytes(s));
        match self.bytes > limits::MAX_ENTITIES_BYTES {
            true => Err(too_large()),
            false => Ok(()),
        }
    }

    /// Calls `f` on each row of stream `s` (a part table) whose owner is `id`.
    fn rows_of(
        &mut self,
        s: usize,
        id: &str,
        mut f: impl FnMut(&dyn Streams),
    ) -> Result<(), DbError> {
        while self.streams.next_part(s, id)? {
            self.take(s)?;
            f(&*self.streams)
        }
        Ok(())
    }

    /// Column `i` of stream `s`'s current row, as text (SQL NULL as the empty text, as the
    /// `NOT NULL` columns of the schema never are).
    fn text(streams: &dyn Streams, s: usize, i: usize) -> String {
        streams.get(s, i).unwrap_or_default().to_string()
    }
}

/// Reads the entities of one section (0 units, 1 users, 2 resources) into `sink`.
fn read_section(
    policy: &Policy,
    section: usize,
    open: &mut Open<'_>,
    sink: &mut dyn Sink,
    errors: &mut Vec<DbError>,
) -> Result<(), DbError> {
    let p = policy.compiled().ir();
    let tables: &[Table] = match section {
        0 => &UNITS,
        1 => &USERS,
        _ => &RESOURCES,
    };
    open(tables, &mut |streams| {
        let mut m = Merge { streams, bytes: 0 };
        while m.streams.next_entity()? {
            m.take(0)?;
            let text = |i: usize| m.streams.get(0, i).map(str::to_string);
            // An id is never NULL in the schema; should one be, it owns no rows.
            let id = text(0);
            match section {
                0 => sink.unit(id.unwrap_or_default(), text(1))?,
                1 => {
                    let mut u = GivenUser::default();
                    let mut attr_rows = Vec::new();
                    if let Some(id) = &id {
                        m.rows_of(1, id, |r| u.groups.push(Merge::text(r, 1, 1)))?;
                        m.rows_of(2, id, |r| u.units.push(Merge::text(r, 2, 1)))?;
                        m.rows_of(3, id, |r| u.terms.push(Merge::text(r, 3, 1)))?;
                        m.rows_of(4, id, |r| {
                            attr_rows.push((Merge::text(r, 4, 1), Merge::text(r, 4, 2)))
                        })?;
                    }
                    u.id = id.unwrap_or_default();
                    u.attrs = attrs(errors, "user_attrs", &u.id, Some(&p.user_attrs), attr_rows);
                    sink.user(u)?;
                }
                _ => {
                    let kind = text(1).unwrap_or_default();
                    let mut x = GivenResource {
                        parent: text(2),
                        casetype: text(3),
                        state: text(4),
                        inherit_read: text(5).and_then(|v| is_false(&v).then_some(false)),
                        inherit_write: text(6).and_then(|v| is_false(&v).then_some(false)),
                        ..GivenResource::default()
                    };
                    let mut attr_rows = Vec::new();
                    let mut rels: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    let mut code_rows = Vec::new();
                    let mut level_rows = Vec::new();
                    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    if let Some(id) = &id {
                        m.rows_of(1, id, |r| {
                            attr_rows.push((Merge::text(r, 1, 1), Merge::text(r, 1, 2)))
                        })?;
                        m.rows_of(2, id, |r| {
                            rels.entry(Merge::text(r, 2, 1))
                                .or_default()
                                .push(Merge::text(r, 2, 2))
                        })?;
                        m.rows_of(3, id, |r| {
                            code_rows.push((
                                r.get(3, 1).map(str::to_string),
                                r.get(3, 2).map(str::to_string),
                                Merge::text(r, 3, 3),
                            ))
                        })?;
                        m.rows_of(4, id, |r| {
                            level_rows.push((
                                r.get(4, 1).map(str::to_string),
                                r.get(4, 2).map(str::to_string),
                            ))
                        })?;
                        m.rows_of(5, id, |r| {
                            groups
                                .entry(Merge::text(r, 5, 1))
                                .or_default()
                                .push(Merge::text(r, 5, 2))
                        })?;
                    }
                    x.id = id.unwrap_or_default();
                    let defs = p
                        .kinds
                        .iter()
                        .find(|k| k.name == kind)
                        .map(|k| k.attrs.as_slice());
                    if !attr_rows.is_empty() || defs.is_some_and(|d| !d.is_empty()) {
                        x.attrs = attrs(errors, "resource_attrs", &x.id, defs, attr_rows);
                    }
                    x.kind = kind;
                    for (table, n) in [
                        ("case_relations", rels.len()),
                        ("relation_groups", groups.len()),
                    ] {
                        if n > limits::MAX_ENTITY_ATTRS {
                            errors.push(too_many(table, &x.id, "relation", "relations", n));
                        }
                    }
                    x.relations = rels.into_iter().collect();
                    x.relation_groups = groups.into_iter().collect();
                    (x.read, x.write) = codes(errors, &x.id, code_rows, level_rows);
                    if x.attrs.len() <= limits::MAX_ENTITY_ATTRS
                        && x.relations.len() <= limits::MAX_ENTITY_ATTRS
                        && x.relation_groups.len() <= limits::MAX_ENTITY_ATTRS
                    {
                        sink.resource(x)?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// Whether a boolean column holds false (PostgreSQL's text of one, or SQLite's).
fn is_false(v: &str) -> bool {
    v == "false" || v == "0"
}

/// The problem of an entity with more attributes or relations than an entity may have.
fn too_many(table: &str, id: &str, column: &str, what: &str, n: usize) -> DbError {
    DbError::at(
        table,
        id,
        column,
        format!(
            "the entity has {n} {what}, more than the limit of {}",
            limits::MAX_ENTITY_ATTRS
        ),
        "keep fewer on one entity",
    )
}

/// The attributes of entity `id` from its attribute rows (pairs of name and value text),
/// typed by `defs`, in the order of their names; records why a value cannot be one.
fn attrs(
    errors: &mut Vec<DbError>,
    table: &str,
    id: &str,
    defs: Option<&[AttrDef]>,
    rows: Vec<(String, String)>,
) -> Vec<(String, GivenValue)> {
    // The rows by name: each name's values one run.
    let mut rows = rows;
    rows.sort_unstable();
    let mut by_name: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in rows {
        match by_name.last_mut() {
            Some((last, values)) if *last == name => values.push(value),
            _ => by_name.push((name, vec![value])),
        }
    }
    let mut out: Vec<(String, GivenValue)> = Vec::with_capacity(by_name.len());
    for def in defs.unwrap_or(&[]) {
        let given = by_name
            .binary_search_by(|(n, _)| n.as_str().cmp(&def.name))
            .is_ok();
        if def.ty == Type::SetStr && !given {
            out.push((def.name.clone(), GivenValue::Set(Vec::new())));
        }
    }
    if by_name.len() > limits::MAX_ENTITY_ATTRS {
        errors.push(too_many(table, id, "name", "attributes", by_name.len()));
        return Vec::new();
    }
    for (name, mut values) in by_name {
        let ty = defs
            .and_then(|d| d.iter().find(|a| a.name == name))
            .map(|a| a.ty);
        let row = || format!("{id}/{name}");
        if ty == Some(Type::SetStr) {
            out.push((name, GivenValue::Set(values)));
            continue;
        }
        if values.len() > 1 {
            errors.push(DbError::at(
                table,
                &row(),
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
                Ok(n) => GivenValue::Int(n),
                Err(_) => {
                    errors.push(DbError::at(
                        table,
                        &row(),
                        "value",
                        format!("`{}` is not an integer", text.escape_debug()),
                        "write the value in decimal digits, such as `42` or `-7`",
                    ));
                    continue;
                }
            },
            Some(Type::Bool) => match text.as_str() {
                "true" => GivenValue::Bool(true),
                "false" => GivenValue::Bool(false),
                _ => {
                    errors.push(DbError::at(
                        table,
                        &row(),
                        "value",
                        format!("`{}` is not a boolean", text.escape_debug()),
                        "write `true` or `false`",
                    ));
                    continue;
                }
            },
            _ => GivenValue::Str(text),
        };
        out.push((name, value));
    }
    // In the order of their names (the defaults for sets came first).
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Whether `code` is one access code of the grammar (docs/data-formats.md §2.1): a row holds one
/// code, never `A|B`.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@:".contains(&b))
}

/// A row of `access_codes` after its owner: class, level and code.
type CodeRow = (Option<String>, Option<String>, String);
/// A row of `access_code_levels` after its owner: class and number of levels.
type LevelRow = (Option<String>, Option<String>);

/// The own read and write codes of resource `id`, as a file writes them, from its
/// `access_codes` and `access_code_levels` rows.
fn codes(
    errors: &mut Vec<DbError>,
    id: &str,
    code_rows: Vec<CodeRow>,
    level_rows: Vec<LevelRow>,
) -> (Option<String>, Option<String>) {
    let mut levels: [Vec<Vec<String>>; 2] = [Vec::new(), Vec::new()];
    let mut counts: [Option<i64>; 2] = [None, None];
    let class_of = |v: Option<&str>| match v {
        Some("read") => Some(0),
        Some("write") => Some(1),
        _ => None,
    };
    let int_of = |v: Option<&str>| v.and_then(|v| v.parse::<i64>().ok());
    for (class, n) in level_rows {
        if let Some(c) = class_of(class.as_deref()) {
            counts[c] = int_of(n.as_deref());
        }
    }
    for (class, level, code) in code_rows {
        let Some(c) = class_of(class.as_deref()) else {
            continue;
        };
        let level = match int_of(level.as_deref()) {
            Some(l) if (0..limits::MAX_CODE_LEVELS as i64).contains(&l) => l as usize,
            l => {
                errors.push(DbError::at(
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
            errors.push(DbError::at(
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
    let mut out: [Option<String>; 2] = [None, None];
    for (c, key) in ["read", "write"].into_iter().enumerate() {
        let l = &mut levels[c];
        if let Some(n) = counts[c] {
            if n < l.len() as i64 || n < 1 || n > limits::MAX_CODE_LEVELS as i64 {
                errors.push(DbError::at(
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
        out[c] = Some(text.join(" & "));
    }
    let [read, write] = out;
    (read, write)
}

/// Loads the entities the tables hold, or gives every problem, each put down to its table, row
/// and column. `has` tells whether a section's table (0 units, 1 users, 2 resources) has an id.
fn build(
    policy: &Policy,
    open: &mut Open<'_>,
    has: &mut dyn FnMut(usize, &str) -> Result<bool, DbError>,
) -> Result<Entities, Vec<DbError>> {
    let one = |e: DbError| vec![e];
    let loaded = Entities::from_given(policy.compiled(), |given| {
        let mut values = Vec::new();
        read_all(policy, open, given, &mut values).map_err(one)?;
        match values.is_empty() {
            true => Ok(()),
            false => Err(values),
        }
    })?;
    let errors = match loaded {
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
                for s in 0..TABLES.len() {
                    if has(s, id).map_err(one)? {
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

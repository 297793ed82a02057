//! A residual condition compiled to a SQL `WHERE` clause over the relational layout of
//! `docs/schema.sqlite.sql` and `docs/schema.postgres.sql`, and the rows of that layout for an
//! entities file ([`tables`]).
//!
//! Every value is a bound parameter: the clause text is made only of fixed SQL, column names
//! and placeholders (`$1` for PostgreSQL, `?1` for SQLite), so no value from a policy, an
//! entities file or a request can change the statement. A set of values is one parameter
//! (PostgreSQL `= ANY($1)` with a `text[]`, SQLite `IN (SELECT value FROM json_each(?1))` with
//! a JSON array), so the number of parameters does not grow with the principal's codes or any
//! other set: a user with 70,000 terms still gets a statement both databases accept.

use super::residual::{
    attr_name, kind_attr_name, kind_lit_text, lit_text, Class, Cond, Lit, Residual,
};
use super::{residual_of, same_policy, QueryError, QueryErrorKind};
use crate::compile::CompiledPolicy;
use crate::diagnostic::words::printable;
use crate::diagnostic::words::thousands;
use crate::entities::{AttrValue, Entities};
use crate::ir::{CmpOp, Type};
use crate::limits::{
    MAX_COND_NESTING, MAX_POSTGRES_PARAMS, MAX_SQLITE_PARAMS, MAX_SQL_DEPTH, MAX_SQL_SUBQUERIES,
};
use serde::Serialize;
use std::collections::HashMap;

/// The SQL dialect to write placeholders for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// PostgreSQL: placeholders `$1`, `$2`, …; a set of values is one `text[]` parameter
    /// ([`Param::Array`]), compared with `column = ANY($n)`. JSON `postgres`.
    Postgres,
    /// SQLite (3.38 or later, or with JSON1): placeholders `?1`, `?2`, …; a set of values is
    /// one text parameter holding a JSON array, read with `json_each`. JSON `sqlite`.
    Sqlite,
}

/// The value bound to one placeholder. As JSON, a string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Param {
    /// One text value. For SQLite, a set of values is one `Text` too: a JSON array of strings,
    /// which the statement reads with `json_each`.
    Text(String),
    /// A set of text values, for PostgreSQL only (`column = ANY($n)`): bind it as a `text[]`.
    Array(Vec<String>),
}

/// A `WHERE` clause over `resources r` and its parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// The dialect its placeholders and set comparisons are written for.
    pub dialect: Dialect,
    /// The condition, without the word `WHERE`.
    #[serde(rename = "where")]
    pub where_clause: String,
    /// The value of placeholder `n` is `params[n - 1]`: text, or for PostgreSQL an array of
    /// text where the statement compares with a set.
    pub params: Vec<Param>,
    /// A bound of how deep the condition nests, as SQLite counts it: one level for each
    /// operator of an `AND` or `OR` chain, each `NOT` and comparison, and the conditions of each
    /// subquery. At most [`MAX_SQL_DEPTH`].
    #[serde(skip)]
    pub depth: usize,
    /// The whole query ([`Filter::select`]).
    #[serde(skip)]
    select: String,
}

impl Filter {
    /// The whole query: the ids of the allowed resources, in the order `list` gives them (with a
    /// [`Page`], the page's ids). Written for the indexes (docs/queries.md §5): one `SELECT` for
    /// each kind that may be allowed, joined with `UNION ALL`, each reading its kind's rows
    /// through the index on `(kind, id)` and its ancestors through their primary key; a page
    /// (`LIMIT`) of more than one kind is one scan of `resources` in id order instead, each row
    /// tested by probes of primary keys, so that it stops at the page's last row.
    pub fn select(&self) -> String {
        self.select.clone()
    }
}

/// A page of the answer, as `list` pages: the ids after `after` (the last id of the page
/// before, compared as bytes), at most `limit` of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Only the ids that sort after this one (a bound parameter).
    pub after: Option<String>,
    /// At most this many ids (written into the statement as a number: `LIMIT 50`).
    pub limit: Option<usize>,
}

/// The most `SELECT`s one statement joins with `UNION ALL`: past it (a policy whose kinds'
/// conditions all differ), the statement is one condition over every resource, as SQLite's
/// limit on the terms of a compound `SELECT` (500) and the size of the statement require.
pub const MAX_UNION_BRANCHES: usize = 64;

/// Compiles a residual to a `WHERE` clause for `dialect`. The policy must be the one that
/// computed the residual: the residual names kinds, case types and attributes by its ids.
///
/// The statement is linear in the residual's size. It never passes what the databases accept:
/// an `and` or `or` of more than [`FAN_OUT`] conditions is written as a tree of groups of at
/// most that many, so that SQLite, which nests `a OR b OR c` one level per operator, sees a
/// depth that grows with the logarithm of the count; and a statement deeper than
/// [`MAX_SQL_DEPTH`], with more parameters than the dialect takes ([`MAX_SQLITE_PARAMS`],
/// [`MAX_POSTGRES_PARAMS`]) or with more than [`MAX_SQL_SUBQUERIES`] subqueries is the error
/// `TooLarge`, never a statement the database would refuse or could not afford to plan.
pub fn compile(
    policy: &crate::Policy,
    residual: &Residual,
    dialect: Dialect,
) -> Result<Filter, QueryError> {
    compile_residual(policy.compiled(), residual, dialect, &Page::default())
}

/// [`compile`], for one page of the answer: the ids after `page.after`, at most `page.limit`.
pub fn compile_page(
    policy: &crate::Policy,
    residual: &Residual,
    dialect: Dialect,
    page: &Page,
) -> Result<Filter, QueryError> {
    compile_residual(policy.compiled(), residual, dialect, page)
}

/// The statement `filter` wrote before it was shaped for the indexes: one condition over every
/// resource, each ancestor and each relation read by a correlated subquery per row. Kept for
/// the comparison of bench/sql-scale.sh (docs/performance.md §7); use [`compile_page`].
#[doc(hidden)]
pub fn compile_correlated(
    policy: &crate::Policy,
    residual: &Residual,
    dialect: Dialect,
    page: &Page,
) -> Result<Filter, QueryError> {
    compile_with(
        policy.compiled(),
        residual,
        dialect,
        page,
        Shape::Correlated,
    )
}

/// [`compile_page`] on the compiled policy, for [`Query::filter`](super::Query::filter).
pub(crate) fn compile_residual(
    policy: &CompiledPolicy,
    residual: &Residual,
    dialect: Dialect,
    page: &Page,
) -> Result<Filter, QueryError> {
    let shape = match page.limit {
        Some(_) => Shape::Page,
        None => Shape::Whole,
    };
    compile_with(policy, residual, dialect, page, shape)
}

/// Which statement the writer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The whole answer: one `SELECT` per kind under `UNION ALL`, the relations held as one
    /// uncorrelated `IN` each (read once, then a lookup per row).
    Whole,
    /// A page (`LIMIT n`): one scan of `resources` in id order that stops after `n` matches,
    /// each row tested by probes of primary keys only (no subquery read whole once), the cheaper
    /// tests of an `and` or `or` first; one kind alone is read through `(kind, id)`.
    Page,
    /// The statement before the shapes for the indexes ([`compile_correlated`]).
    Correlated,
}

fn compile_with(
    policy: &CompiledPolicy,
    residual: &Residual,
    dialect: Dialect,
    page: &Page,
    shape: Shape,
) -> Result<Filter, QueryError> {
    residual_of(policy, residual)?;
    // The writer recurses once per level of the condition: a condition nested deeper than
    // the limit is refused before it is read, so no condition can grow the stack.
    let nested = nesting(residual.cond());
    if nested > MAX_COND_NESTING {
        return Err(too_large(format!(
            "the condition for `{}` to `{}` is nested {} levels deep, more than the limit of {}",
            printable(residual.principal()),
            printable(residual.action()),
            thousands(nested),
            MAX_COND_NESTING
        )));
    }
    let writer = || Writer {
        shape,
        policy,
        dialect,
        params: Vec::new(),
        index: HashMap::new(),
        codes: residual.codes(),
        codes_sql: None,
        principal: residual.principal(),
        relation_groups: residual.relation_groups(),
    };
    // The shape for the indexes, one `SELECT` per kind; when the residual does not split by
    // kind, or splits into too many, one condition over every resource.
    let mut w = writer();
    let page = &Page {
        after: page.after.clone(),
        // Both databases read `LIMIT` as a signed 64-bit integer.
        limit: page.limit.map(|n| n.min(i64::MAX as usize)),
    };
    let union = match shape {
        Shape::Correlated => None,
        Shape::Whole => w.union(residual.cond(), page, usize::MAX),
        // More than one kind: one scan in id order, which stops at the page's last row; a
        // merge of kinds in id order would read up to the first row of every kind.
        Shape::Page => w.union(residual.cond(), page, 1),
    };
    // A kind branch is written once for each kind that shares it: when that passes the bound
    // on subqueries, the one condition over every resource, which writes it once.
    let union =
        union.filter(|(_, select, _)| select.matches("SELECT").count() <= MAX_SQL_SUBQUERIES);
    let (where_clause, select, depth) = match union {
        Some(u) => u,
        None => {
            w = writer();
            w.single(residual.cond(), page)
        }
    };
    let question = || {
        format!(
            "`{}` to `{}`",
            printable(residual.principal()),
            printable(residual.action())
        )
    };
    if depth > MAX_SQL_DEPTH {
        return Err(too_large(format!(
            "the SQL for {} would nest {} levels deep, more than the limit of {}",
            question(),
            thousands(depth),
            thousands(MAX_SQL_DEPTH)
        )));
    }
    let (limit, database) = match dialect {
        Dialect::Postgres => (MAX_POSTGRES_PARAMS, "PostgreSQL"),
        Dialect::Sqlite => (MAX_SQLITE_PARAMS, "SQLite"),
    };
    if w.params.len() > limit {
        return Err(too_large(format!(
            "the SQL for {} would bind {} parameters, more than the {} that {database} accepts",
            question(),
            thousands(w.params.len()),
            thousands(limit)
        )));
    }
    // Values are parameters, so every `SELECT` in the text is one the writer put there.
    let subqueries = where_clause.matches("SELECT").count();
    if subqueries > MAX_SQL_SUBQUERIES {
        return Err(too_large(format!(
            "the SQL for {} would hold {} subqueries, more than the limit of {}",
            question(),
            thousands(subqueries),
            thousands(MAX_SQL_SUBQUERIES)
        )));
    }
    Ok(Filter {
        dialect,
        where_clause,
        params: w.params,
        depth,
        select,
    })
}

/// The alternatives of a residual that apply to resources of one kind, with the kind test
/// taken out (it holds there), or `None` when an alternative reads an ancestor without fixing
/// the kind (partial evaluation never builds one: it always stands with its kind test).
fn alternatives_of_kind(alts: &[&Cond], k: crate::ir::KindId) -> Option<Vec<Cond>> {
    let mut out = Vec::new();
    for alt in alts {
        let args: &[Cond] = match alt {
            Cond::And(args) => args,
            one => std::slice::from_ref(*one),
        };
        let kinds: Vec<&Vec<crate::ir::KindId>> = args
            .iter()
            .filter_map(|a| match a {
                Cond::Kind(ks) => Some(ks),
                _ => None,
            })
            .collect();
        if kinds.is_empty() && max_up(alt) > 0 {
            return None;
        }
        if !kinds.iter().all(|ks| ks.contains(&k)) {
            continue;
        }
        let rest: Vec<Cond> = args
            .iter()
            .filter(|a| !matches!(a, Cond::Kind(_)))
            .cloned()
            .collect();
        out.push(match rest.len() {
            0 => Cond::True,
            1 => rest.into_iter().next().unwrap_or(Cond::True),
            _ => Cond::And(rest),
        });
    }
    Some(out)
}

#[cold]
fn too_large(message: String) -> QueryError {
    QueryError {
        kind: QueryErrorKind::TooLarge,
        message,
        help: Some(
            "`casepol list` answers the same question in memory; a statement this large comes from many kinds, states or scope filters whose rules differ for this user"
                .into(),
        ),
    }
}

/// The most conditions written in one `AND` or `OR` chain; longer ones are split into groups.
pub const FAN_OUT: usize = 16;

/// A bound of how deep a piece of SQL nests, as SQLite counts it. SQLite refuses a statement
/// when either count passes its limit on expression depth (1,000 by default):
///
/// - `height`: the height of the expression tree. A parameter is 1, a column `x.a` 2, `x.a = ?1`
///   3; `a AND b AND c`, parsed as
///   `(a AND b) AND c`, is one more than its highest part for each operator; `NOT` adds one;
///   `EXISTS (…)` and `x IN (…)` add one to the height of the subquery's `WHERE`.
/// - `nested`: while it resolves names, SQLite adds the height of each subquery's `WHERE` to a
///   running count as it enters the subquery (after adding one `AND` for each `JOIN … ON`,
///   whose condition it moves into the `WHERE`). So this is the most that the subqueries inside
///   the piece add, along any path into them.
///
/// The statement's count is the height of its `WHERE` plus what its subqueries add: at most
/// [`MAX_SQL_DEPTH`], and tests/queries_limits.rs checks on every statement of the test worlds
/// that SQLite prepares it with its limit set to exactly that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Depth {
    height: usize,
    nested: usize,
}

impl Depth {
    fn leaf(height: usize) -> Depth {
        Depth { height, nested: 0 }
    }

    /// An operator (`EXISTS`, `IN`) of height `above` over a subquery whose `WHERE` is `w`.
    fn subquery(w: Depth, above: usize) -> Depth {
        Depth {
            height: w.height + above,
            nested: w.height + w.nested,
        }
    }

    fn not(self) -> Depth {
        Depth {
            height: self.height + 1,
            ..self
        }
    }
}

/// Some SQL and how deep it nests.
type Piece = (String, Depth);

/// A bound of `bound` that stands for "every ancestor the condition reads is bound already".
const ALL_BOUND: u32 = u32::MAX;

struct Writer<'a> {
    /// The statement being written.
    shape: Shape,
    policy: &'a CompiledPolicy,
    dialect: Dialect,
    params: Vec<Param>,
    index: HashMap<Param, usize>,
    codes: &'a [String],
    codes_sql: Option<Piece>,
    principal: &'a str,
    /// The entities list groups in relations: a `holds` reads `relation_groups` too.
    relation_groups: bool,
}

fn alias(up: u32) -> String {
    if up == 0 {
        "r".into()
    } else {
        format!("r{up}")
    }
}

/// How deeply a condition nests (a test alone is one level), counted without recursion.
fn nesting(c: &Cond) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(c, 1)];
    while let Some((c, depth)) = todo.pop() {
        deepest = deepest.max(depth);
        match c {
            Cond::Not(x) => todo.push((x, depth + 1)),
            Cond::And(v) | Cond::Or(v) => todo.extend(v.iter().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    deepest
}

/// The deepest ancestor a condition reads.
fn max_up(c: &Cond) -> u32 {
    match c {
        Cond::True | Cond::False | Cond::Kind(_) => 0,
        Cond::Case { up, .. }
        | Cond::Attr { up, .. }
        | Cond::Compare { up, .. }
        | Cond::Has { up, .. }
        | Cond::Contains { up, .. }
        | Cond::Holds { up, .. }
        | Cond::CodeMet { up, .. }
        | Cond::Inherits { up, .. } => *up,
        Cond::Not(x) => max_up(x),
        Cond::And(v) | Cond::Or(v) => v.iter().map(max_up).max().unwrap_or(0),
    }
}

fn pad(indent: usize) -> String {
    "  ".repeat(indent)
}

impl Writer<'_> {
    /// The statement as one condition over every resource: `(where, select, depth)`.
    fn single(&mut self, c: &Cond, page: &Page) -> (String, String, usize) {
        if matches!(c, Cond::False) {
            // No page of nothing needs a cursor.
            return (
                "FALSE".into(),
                "SELECT r.id FROM resources r\nWHERE FALSE\nORDER BY r.id".into(),
                2,
            );
        }
        let (mut where_clause, depth) = self.cond(c, 0, 0);
        if let Some(after) = &page.after {
            let p = self.param(after);
            where_clause = format!("({where_clause})\n  AND r.id > {p}");
        }
        let limit = page
            .limit
            .map(|n| format!("\nLIMIT {n}"))
            .unwrap_or_default();
        let select =
            format!("SELECT r.id FROM resources r\nWHERE {where_clause}\nORDER BY r.id{limit}");
        // The statement's own `WHERE` is resolved like a subquery's; its column and its
        // `ORDER BY`, `r.id`, are of height 2; the cursor adds one `AND`.
        let depth = Depth::subquery(depth, 0).nested.max(2) + 1;
        match page.limit {
            None => (where_clause, select, depth),
            // As a condition on `resources r`, the page is a set of ids, one subquery deeper.
            Some(_) => (
                format!("r.id IN (\n  {})", select.replace('\n', "\n  ")),
                select,
                depth + 3,
            ),
        }
    }

    /// The statement for the indexes: for each kind that some alternative of the residual
    /// admits, `SELECT r.id FROM resources r JOIN resources r1 ON r1.id = r.parent_id … WHERE
    /// r.kind = $k AND <its alternatives>`, joined with `UNION ALL` (each resource has one
    /// kind, so no id comes twice). Each reads its kind through the index on `(kind, id)` in id
    /// order, so a page stops early, and binds its ancestors by primary key instead of a
    /// correlated subquery per resource. `None` when the residual does not split by kind, when
    /// no kind is admitted, or past [`MAX_UNION_BRANCHES`] or `most` kinds.
    fn union(&mut self, c: &Cond, page: &Page, most: usize) -> Option<(String, String, usize)> {
        let alts: Vec<&Cond> = match c {
            Cond::Or(v) => v.iter().collect(),
            Cond::False => return None,
            one => vec![one],
        };
        let p = self.policy.ir();
        let mut branches = Vec::new();
        for k in 0..p.kinds.len() {
            let kind = crate::ir::KindId(k as u32);
            let mine = alternatives_of_kind(&alts, kind)?;
            if mine.is_empty() {
                continue;
            }
            let cond = if mine.iter().any(|a| matches!(a, Cond::True)) {
                Cond::True
            } else if mine.len() == 1 {
                mine.into_iter().next()?
            } else {
                Cond::Or(mine)
            };
            if matches!(cond, Cond::False) {
                continue;
            }
            branches.push((kind, cond));
            if branches.len() > MAX_UNION_BRANCHES.min(most) {
                return None;
            }
        }
        if branches.is_empty() {
            return None;
        }
        let after = page.after.as_ref().map(|a| self.param(a));
        let mut texts = Vec::with_capacity(branches.len());
        let mut deepest = 2;
        for (kind, cond) in &branches {
            // Valid rows of a kind always have the ancestors its chain declares.
            let chain = super::residual::kind_chain(self.policy, *kind).len() as u32;
            let to = max_up(cond);
            if to >= chain {
                return None;
            }
            let mut from = "resources r".to_string();
            for k in 1..=to {
                from.push_str(&format!(
                    " JOIN resources {} ON {}.id = {}.parent_id",
                    alias(k),
                    alias(k),
                    alias(k - 1)
                ));
            }
            let kt = self.param(&p.kinds[kind.idx()].name);
            let parts = vec![(format!("r.kind = {kt}"), Depth::leaf(3))];
            // The tests of an `and` stand in the branch's own `AND` chain, where PostgreSQL
            // turns an `EXISTS` into a semi-join and a `NOT EXISTS` into an anti-join.
            let mut parts: Vec<(Piece, Est)> =
                parts.into_iter().map(|p| (p, Est::COLUMN)).collect();
            match cond {
                Cond::True => {}
                Cond::And(args) => {
                    for a in args {
                        parts.push(self.cond_e(a, ALL_BOUND, 1));
                    }
                }
                c => parts.push(self.cond_e(c, ALL_BOUND, 1)),
            }
            if let Some(a) = &after {
                parts.push(((format!("r.id > {a}"), Depth::leaf(3)), Est::COLUMN));
            }
            let ((text, mut w), _) = self.and(parts, 0);
            // SQLite moves each join's condition into the `WHERE`, one `AND` each.
            w.height += to as usize;
            deepest = deepest.max(Depth::subquery(w, 0).nested);
            // The outer parentheses of the chain are dropped: `WHERE a AND b`.
            let text = text
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(&text)
                .to_string();
            texts.push(format!("SELECT r.id FROM {from}\nWHERE {text}"));
        }
        // A compound `SELECT` orders by its result column; one `SELECT` alone, whose `FROM`
        // may join ancestors that have an `id` too, by the resource's.
        let order = if texts.len() == 1 { "r.id" } else { "id" };
        let union = texts.join("\nUNION ALL\n");
        let limit = page
            .limit
            .map(|n| format!("\nLIMIT {n}"))
            .unwrap_or_default();
        let select = format!("{union}\nORDER BY {order}{limit}");
        // As a condition on `resources r`, the page is a set of ids.
        let indented = union.replace('\n', "\n  ");
        let where_clause = match page.limit {
            None => format!("r.id IN (\n  {indented})"),
            Some(n) => format!("r.id IN (\n  SELECT id FROM (\n  {indented}\n  ORDER BY {order}\n  LIMIT {n}) page)"),
        };
        // `r.id IN (…)` nests the branches one subquery deeper.
        Some((where_clause, select, deepest + 3))
    }

    /// The placeholder for a parameter; a parameter used twice is bound once.
    fn bind(&mut self, value: Param) -> String {
        let n = match self.index.get(&value) {
            Some(&n) => n,
            None => {
                self.params.push(value.clone());
                let n = self.params.len();
                self.index.insert(value, n);
                n
            }
        };
        match self.dialect {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }

    /// The placeholder for one text value.
    fn param(&mut self, value: &str) -> String {
        self.bind(Param::Text(value.to_string()))
    }

    /// `col = $1` for one value; for several, one parameter holding them all: `col = ANY($1)`
    /// (PostgreSQL, a `text[]`) or `col IN (SELECT value FROM json_each(?1))` (SQLite, a JSON
    /// array), so a set of any size costs one parameter.
    fn one_of(&mut self, column: &str, values: &[String]) -> Piece {
        match (values, self.dialect) {
            ([], _) => ("FALSE".into(), Depth::leaf(1)),
            ([one], _) => (format!("{column} = {}", self.param(one)), Depth::leaf(3)),
            (_, Dialect::Postgres) => {
                let p = self.bind(Param::Array(values.to_vec()));
                (format!("{column} = ANY({p})"), Depth::leaf(4))
            }
            (_, Dialect::Sqlite) => {
                // Some SQLite versions (3.40, for one) cut a JSON string at an escaped U+0000, so
                // `"ab\u0000c"` would match `ab`. A value holding U+0000 is therefore a parameter
                // of its own: a bound text keeps its length, and compares whole.
                let (cut, whole): (Vec<&String>, Vec<&String>) =
                    values.iter().partition(|v| v.contains('\0'));
                let mut alts = Vec::new();
                match whole.as_slice() {
                    [] => {}
                    [one] => alts.push((format!("{column} = {}", self.param(one)), Depth::leaf(3))),
                    _ => {
                        // Serialising strings cannot fail; were it to, the set would match nothing.
                        let json = serde_json::to_string(&whole).unwrap_or_else(|_| "[]".into());
                        let p = self.bind(Param::Text(json));
                        // One above the column; the subquery has no `WHERE`, and its column and
                        // the function's argument are resolved as expressions of height 1.
                        alts.push((
                            format!("{column} IN (SELECT value FROM json_each({p}))"),
                            Depth {
                                height: 3,
                                nested: 1,
                            },
                        ));
                    }
                }
                for v in cut {
                    alts.push((format!("{column} = {}", self.param(v)), Depth::leaf(3)));
                }
                match alts.len() {
                    1 => alts.pop().unwrap_or_default(),
                    _ => chain(alts, " OR "),
                }
            }
        }
    }

    /// Whether the parts of an `and` or `or` are ordered for SQLite, which tests them in their
    /// order and stops at the first that decides: on a page, and for the whole answer in SQLite
    /// (PostgreSQL orders them by its own estimates of their cost).
    fn ordered(&self) -> bool {
        self.shape == Shape::Page || self.lists()
    }

    /// Whether a relation held is read as one uncorrelated list (`r.id IN (SELECT x.case_id …)`)
    /// rather than a probe per row: for the whole answer in SQLite only.
    fn lists(&self) -> bool {
        self.shape == Shape::Whole && self.dialect == Dialect::Sqlite
    }

    /// [`Writer::one_of`] for a column of a row already found: in SQLite, the column is
    /// written `+column`, so that the set is a lookup for each row and never a seek into the
    /// index for each value of the set (a principal may hold 70,000 codes).
    fn member(&mut self, column: &str, values: &[String]) -> Piece {
        match (self.shape, self.dialect) {
            (Shape::Page | Shape::Whole, Dialect::Sqlite) => {
                let (text, depth) = self.one_of(&format!("+{column}"), values);
                // The unary `+` is one more level.
                (
                    text,
                    Depth {
                        height: depth.height + 1,
                        ..depth
                    },
                )
            }
            _ => self.one_of(column, values),
        }
    }

    /// Binds ancestors `bound + 1 ..= to` of the resource and tests `inner` on them.
    fn ancestors(&self, bound: u32, to: u32, inner: Piece, indent: usize) -> Piece {
        let mut from = format!("resources {}", alias(bound + 1));
        for k in bound + 2..=to {
            from.push_str(&format!(
                " JOIN resources {} ON {}.id = {}.parent_id",
                alias(k),
                alias(k),
                alias(k - 1)
            ));
        }
        let text = format!(
            "EXISTS (SELECT 1 FROM {from}\n{}WHERE {}.id = {}.parent_id AND {})",
            pad(indent + 1),
            alias(bound + 1),
            alias(bound),
            inner.0
        );
        // `link AND inner`, then one `AND` for each join's condition.
        let (_, mut w) = chain(vec![(String::new(), Depth::leaf(3)), inner], "");
        w.height += (to - bound - 1) as usize;
        (text, Depth::subquery(w, 1))
    }

    /// The SQL for `c`, for a resource whose ancestors up to `bound` are bound to aliases
    /// ([`ALL_BOUND`]: all that `c` reads).
    fn cond(&mut self, c: &Cond, bound: u32, indent: usize) -> Piece {
        self.cond_e(c, bound, indent).0
    }

    /// [`Writer::cond`] and its [`Est`], computed from those of its parts as they are written
    /// (each node once).
    fn cond_e(&mut self, c: &Cond, bound: u32, indent: usize) -> (Piece, Est) {
        // Past the first binding every ancestor is bound, so the depth read is not looked for
        // again: each node is visited a bounded number of times.
        let deepest = |c: &Cond| match bound {
            ALL_BOUND => 0,
            _ => max_up(c),
        };
        match c {
            Cond::And(args) if deepest(c) > bound => {
                // A kind branch: the kind test on the resource, then everything else with the
                // kind's ancestors bound once. Valid rows of that kind always have them.
                let to = deepest(c);
                let (kinds, rest): (Vec<&Cond>, Vec<&Cond>) =
                    args.iter().partition(|a| matches!(a, Cond::Kind(_)));
                let mut parts: Vec<(Piece, Est)> = kinds
                    .iter()
                    .map(|k| self.cond_e(k, bound, indent + 1))
                    .collect();
                // On a page in SQLite, the tests of the rows bound already come before the
                // ancestors are read: a row they turn away costs no probe of its ancestors. (Not
                // in PostgreSQL: a test that then stands in every kind's branch of the page's
                // `OR`, such as the resource's own code, is taken out of the `OR` and read
                // whole, once, as a hashed set.)
                let (here, rest): (Vec<&Cond>, Vec<&Cond>) = match (self.shape, self.dialect) {
                    (Shape::Page, Dialect::Sqlite) => {
                        rest.into_iter().partition(|a| max_up(a) <= bound)
                    }
                    _ => (Vec::new(), rest),
                };
                for a in &here {
                    parts.push(self.cond_e(a, bound, indent + 1));
                }
                let rest = match rest.as_slice() {
                    [one] => (*one).clone(),
                    _ => Cond::And(rest.into_iter().cloned().collect()),
                };
                let (inner, e) = self.cond_e(&rest, ALL_BOUND, indent + 1);
                // Its tests, after a probe of each ancestor it binds.
                let e = Est {
                    cost: e.cost + (to - bound) as f64,
                    ..e
                };
                parts.push((self.ancestors(bound, to, inner, indent + 1), e));
                self.and(parts, indent)
            }
            Cond::And(args) => {
                let parts = args
                    .iter()
                    .map(|a| self.cond_e(a, bound, indent + 1))
                    .collect();
                self.and(parts, indent)
            }
            Cond::Or(args) => {
                let mut parts = self.alternatives(args, bound, indent);
                if self.ordered() {
                    // Tested in order until one holds: the likely and cheap first.
                    parts.sort_by(|a, b| a.1.or_key().total_cmp(&b.1.or_key()));
                }
                let e = Est::or(parts.iter().map(|p| p.1));
                let piece = self.join(parts.into_iter().map(|(p, _)| p).collect(), "OR", indent);
                (piece, e)
            }
            Cond::Not(x) => {
                let ((text, depth), e) = self.cond_e(x, bound, indent);
                (
                    (format!("NOT {text}"), depth.not()),
                    Est { p: 1.0 - e.p, ..e },
                )
            }
            atom if deepest(atom) > bound => {
                let inner = self.atom(atom);
                let to = deepest(atom);
                let e = self.estimate(atom);
                let e = Est {
                    cost: e.cost + (to - bound) as f64,
                    ..e
                };
                (self.ancestors(bound, to, inner, indent), e)
            }
            atom => {
                let e = self.estimate(atom);
                (self.atom(atom), e)
            }
        }
    }

    /// The arguments of an `or`. Tests that one set attribute contains a string, on one case,
    /// become one test that it contains one of the strings, where the first of them stood: one
    /// `EXISTS` and one parameter for the lot, as for the values of an attribute.
    fn alternatives(&mut self, args: &[Cond], bound: u32, indent: usize) -> Vec<(Piece, Est)> {
        let bound_here = |up: u32| bound == ALL_BOUND || up <= bound;
        let mut sets: HashMap<(u32, u32), Vec<String>> = HashMap::new();
        for a in args {
            if let Cond::Contains { up, attr, value } = a {
                if bound_here(*up) {
                    sets.entry((*up, *attr)).or_default().push(value.clone());
                }
            }
        }
        let mut parts = Vec::with_capacity(args.len());
        for a in args {
            match a {
                Cond::Contains { up, attr, .. } if bound_here(*up) => {
                    // The first of a set takes the whole set; the others were written with it.
                    if let Some(values) = sets.remove(&(*up, *attr)) {
                        parts.push((self.attr_test(*up, *attr, &values), Est::PROBE));
                    }
                }
                a => parts.push(self.cond_e(a, bound, indent + 1)),
            }
        }
        parts
    }

    /// The parts of an `and`, each with its [`Est`]. Where [`Writer::ordered`], SQLite tests
    /// them in their order and stops at the first that is false: they are ordered by the probes
    /// each costs for the rows it turns away ([`Est::and_key`]), which puts the column tests
    /// first, then tests such as a relation held (one probe; most rows fail it). The order of an
    /// `and` does not change what it selects.
    fn and(&self, parts: Vec<(Piece, Est)>, indent: usize) -> (Piece, Est) {
        let mut parts = parts;
        if self.ordered() {
            parts.sort_by(|a, b| a.1.and_key().total_cmp(&b.1.and_key()));
        }
        let e = Est::and(parts.iter().map(|p| p.1));
        let piece = self.join(parts.into_iter().map(|(p, _)| p).collect(), "AND", indent);
        (piece, e)
    }

    /// A guess of what testing the atom `c` costs on one row, in probes of an index, and how
    /// likely it holds, for the order of the parts of an `and` and an `or` ([`Writer::and`]);
    /// [`Writer::cond_e`] combines them for the connectives. The guesses only order tests; they
    /// never change what a statement selects.
    fn estimate(&self, c: &Cond) -> Est {
        match c {
            Cond::True => Est { cost: 0.0, p: 1.0 },
            Cond::False => Est { cost: 0.0, p: 0.0 },
            Cond::Kind(_) | Cond::Inherits { .. } => Est::COLUMN,
            Cond::Case { states, .. } => Est {
                cost: 0.0,
                p: if states.is_some() { 0.25 } else { 0.5 },
            },
            Cond::Attr { .. } | Cond::Compare { .. } | Cond::Has { .. } | Cond::Contains { .. } => {
                Est::PROBE
            }
            // A principal holds relations on few of the resources: one probe (and one of
            // `relation_groups`), or a lookup in a list read once.
            Cond::Holds { .. } => {
                let one = if self.lists() { 0.5 } else { 1.0 };
                Est {
                    cost: if self.relation_groups { 2.0 * one } else { one },
                    p: 0.05,
                }
            }
            // The levels of the code, and a probe for each.
            Cond::CodeMet { .. } => Est { cost: 2.0, p: 0.5 },
            // INVARIANT: `cond_e` combines the connectives' estimates itself.
            Cond::Not(_) | Cond::And(_) | Cond::Or(_) => Est::PROBE,
        }
    }

    /// `(a OP b OP …)`, each part on a line of its own; more than [`FAN_OUT`] parts are first
    /// put in groups (recursively), so the depth grows with the logarithm of their number.
    fn join(&self, parts: Vec<Piece>, op: &str, indent: usize) -> Piece {
        let sep = format!("\n{}{op} ", pad(indent + 1));
        let mut parts = parts;
        while parts.len() > FAN_OUT {
            let mut grouped = Vec::with_capacity(parts.len().div_ceil(FAN_OUT));
            let mut rest = parts.into_iter().peekable();
            while rest.peek().is_some() {
                let group: Vec<Piece> = rest.by_ref().take(FAN_OUT).collect();
                grouped.push(chain(group, &sep));
            }
            parts = grouped;
        }
        chain(parts, &sep)
    }

    /// Is the attribute `attr` of the case `up` steps above one of `values` (for a set
    /// attribute, does it hold one of them)?
    fn attr_test(&mut self, up: u32, attr: u32, values: &[String]) -> Piece {
        let name = attr_name(self.policy, attr);
        self.named_test(up, &name, values)
    }

    /// Is the attribute named `name` of the resource `up` steps above one of `values` (for a
    /// set attribute, does it hold one of them)?
    fn named_test(&mut self, up: u32, name: &str, values: &[String]) -> Piece {
        let name = self.param(name);
        let v = self.one_of("x.value", values);
        let text = format!(
            "EXISTS (SELECT 1 FROM resource_attrs x WHERE x.resource_id = {}.id AND x.name = {name} AND {})",
            alias(up),
            v.0
        );
        (text, Depth::subquery(and_of_tests(2, v.1), 1))
    }

    fn atom(&mut self, c: &Cond) -> Piece {
        let p = self.policy.ir();
        match c {
            Cond::True => ("TRUE".into(), Depth::leaf(1)),
            Cond::False => ("FALSE".into(), Depth::leaf(1)),
            Cond::Kind(ks) => {
                let names: Vec<String> = ks.iter().map(|k| p.kinds[k.idx()].name.clone()).collect();
                self.one_of("r.kind", &names)
            }
            Cond::Case {
                up,
                casetype,
                states,
            } => {
                let a = alias(*up);
                let ct = &p.casetypes[*casetype as usize];
                let t = self.param(&ct.name);
                match states {
                    None => (format!("{a}.case_type = {t}"), Depth::leaf(3)),
                    Some(s) => {
                        let names: Vec<String> = s
                            .iter()
                            .map(|s| ct.states[*s as usize].name.clone())
                            .collect();
                        let (st, depth) = self.one_of(&format!("{a}.state"), &names);
                        (
                            format!("({a}.case_type = {t} AND {st})"),
                            and_of_tests(1, depth),
                        )
                    }
                }
            }
            Cond::Attr { up, attr, values } => {
                let texts: Vec<String> = values
                    .iter()
                    .map(|l| lit_text(self.policy, *attr, l))
                    .collect();
                self.attr_test(*up, *attr, &texts)
            }
            Cond::Contains { up, attr, value } => {
                self.attr_test(*up, *attr, std::slice::from_ref(value))
            }
            Cond::Compare {
                up,
                kind,
                attr,
                op,
                values,
            } => {
                let name = kind_attr_name(self.policy, *kind, *attr);
                let texts: Vec<String> = values
                    .iter()
                    .map(|l| kind_lit_text(self.policy, *kind, *attr, l))
                    .collect();
                match (op, texts.as_slice()) {
                    (CmpOp::Eq, _) => self.named_test(*up, &name, &texts),
                    // The attribute has one row: it is none of the values when no row is one.
                    (CmpOp::Ne, _) => {
                        let (text, depth) = self.named_test(*up, &name, &texts);
                        (format!("NOT {text}"), depth.not())
                    }
                    // A `datetime` is stored as fixed-width UTC text, which sorts as the
                    // instants do: compared as text, with no cast.
                    (op, [instant]) if matches!(values.as_slice(), [Lit::DateTime(_)]) => {
                        let n = self.param(&name);
                        let v = self.param(instant);
                        // Byte order whatever the column's collation.
                        let collate = match self.dialect {
                            Dialect::Postgres => "COLLATE \"C\"",
                            Dialect::Sqlite => "COLLATE BINARY",
                        };
                        (
                            format!(
                                "EXISTS (SELECT 1 FROM resource_attrs x WHERE x.resource_id = {}.id AND x.name = {n} AND x.value {collate} {} {v})",
                                alias(*up),
                                op.text()
                            ),
                            Depth::subquery(and_of_tests(2, Depth::leaf(3)), 1),
                        )
                    }
                    (op, [number]) => {
                        let n = self.param(&name);
                        let v = self.param(number);
                        // The CASE keeps the database from reading another attribute's text as
                        // a number: only this attribute's rows are cast. The number is bound as
                        // text, as every parameter is.
                        (
                            format!(
                                "EXISTS (SELECT 1 FROM resource_attrs x WHERE x.resource_id = {}.id AND x.name = {n} AND CASE WHEN x.name = {n} THEN CAST(x.value AS BIGINT) END {} CAST(CAST({v} AS TEXT) AS BIGINT))",
                                alias(*up),
                                op.text()
                            ),
                            Depth::subquery(and_of_tests(2, Depth::leaf(6)), 1),
                        )
                    }
                    // INVARIANT: an ordering compares with one number (`residual` builds it so).
                    _ => ("FALSE".into(), Depth::leaf(1)),
                }
            }
            Cond::Has {
                up,
                kind,
                attr,
                value,
            } => {
                let name = kind_attr_name(self.policy, *kind, *attr);
                self.named_test(*up, &name, std::slice::from_ref(value))
            }
            Cond::Holds { up, relations } => {
                let user = self.param(self.principal);
                let names: Vec<String> = relations
                    .iter()
                    .map(|r| p.relations[*r as usize].name.clone())
                    .collect();
                let (rel, depth) = self.one_of("x.relation", &names);
                // Whole, in SQLite: not correlated, the ids of what the principal holds a
                // relation on, read once through the index on `(user_id, relation, case_id)`
                // into a lookup table, then a lookup per row. A page, or PostgreSQL: a probe of
                // the primary key `(case_id, user_id, relation)` per row, as a page reads few
                // rows, and PostgreSQL hashes an `IN` list only when it fits in `work_mem`
                // (otherwise it reads the whole list again for every row).
                let listed = match self.lists() {
                    true => (
                        format!(
                            "{}.id IN (SELECT x.case_id FROM case_relations x WHERE x.user_id = {user} AND {rel})",
                            alias(*up)
                        ),
                        Depth::subquery(and_of_tests(1, depth), 2),
                    ),
                    false => (
                        format!(
                            "EXISTS (SELECT 1 FROM case_relations x WHERE x.case_id = {}.id AND x.user_id = {user} AND {rel})",
                            alias(*up)
                        ),
                        Depth::subquery(and_of_tests(2, depth), 1),
                    ),
                };
                if !self.relation_groups {
                    return listed;
                }
                // Through a group: the principal's code set holds their groups (ancestors
                // included), and a group's name is no other code (data-formats.md §1.1).
                let codes = self.codes;
                let through = match !self.lists() && self.shape != Shape::Correlated {
                    true => {
                        // A probe of the primary key `(resource_id, relation, group_name)`; the
                        // group is looked up among the principal's codes (`+`: not by the index,
                        // which would seek once for each code the principal holds).
                        let (member, m_depth) = self.member("x.group_name", codes);
                        (
                            format!(
                                "EXISTS (SELECT 1 FROM relation_groups x WHERE x.resource_id = {}.id AND {rel} AND {member})",
                                alias(*up)
                            ),
                            Depth::subquery(
                                chain(
                                    vec![
                                        (String::new(), Depth::leaf(3)),
                                        (String::new(), depth),
                                        (String::new(), m_depth),
                                    ],
                                    "",
                                )
                                .1,
                                1,
                            ),
                        )
                    }
                    false => {
                        let (member, m_depth) = self.one_of("x.group_name", codes);
                        (
                            format!(
                                "{}.id IN (SELECT x.resource_id FROM relation_groups x WHERE {member} AND {rel})",
                                alias(*up)
                            ),
                            Depth::subquery(
                                chain(
                                    vec![
                                        (String::new(), m_depth),
                                        (String::new(), depth),
                                    ],
                                    "",
                                )
                                .1,
                                2,
                            ),
                        )
                    }
                };
                chain(vec![listed, through], " OR ")
            }
            Cond::CodeMet { up, class } => {
                let class = self.param(class.name());
                let (held, depth) = match &self.codes_sql {
                    Some(s) => s.clone(),
                    None => {
                        let codes = self.codes;
                        let s = self.member("y.code", codes);
                        self.codes_sql = Some(s.clone());
                        s
                    }
                };
                // No level of the resource's own code (of this class) lacks a held code.
                let lacking = Depth::subquery(and_of_tests(3, depth), 1).not();
                (
                    format!(
                        "NOT EXISTS (SELECT 1 FROM access_codes x WHERE x.resource_id = {}.id AND x.class = {class} AND NOT EXISTS (SELECT 1 FROM access_codes y WHERE y.resource_id = x.resource_id AND y.class = x.class AND y.level = x.level AND {held}))",
                        alias(*up)
                    ),
                    Depth::subquery(and_of_tests(2, lacking), 1).not(),
                )
            }
            Cond::Inherits { up, class } => match class {
                Class::Read => (format!("{}.inherit_read", alias(*up)), Depth::leaf(2)),
                Class::Write => (format!("{}.inherit_write", alias(*up)), Depth::leaf(2)),
            },
            Cond::Not(_) | Cond::And(_) | Cond::Or(_) => {
                // INVARIANT: `cond` handles the connectives before calling `atom`.
                ("FALSE".into(), Depth::leaf(1))
            }
        }
    }
}

/// A guess of what a test costs on one row and how likely it holds ([`Writer::estimate`]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Est {
    /// Probes of an index, on average over the rows.
    cost: f64,
    /// The share of rows it holds for.
    p: f64,
}

impl Est {
    /// A test of a column of a row at hand.
    const COLUMN: Est = Est { cost: 0.0, p: 0.5 };
    /// One probe by the row's key, such as an attribute's value.
    const PROBE: Est = Est { cost: 1.0, p: 0.5 };

    /// An `and` of parts tested in the order given: each is tested where those before it held.
    fn and(parts: impl Iterator<Item = Est>) -> Est {
        let (mut cost, mut p) = (0.0, 1.0);
        for e in parts {
            cost += p * e.cost;
            p *= e.p;
        }
        Est { cost, p }
    }

    /// An `or` of parts tested in the order given: each is tested where those before it failed.
    fn or(parts: impl Iterator<Item = Est>) -> Est {
        let (mut cost, mut none) = (0.0, 1.0);
        for e in parts {
            cost += none * e.cost;
            none *= 1.0 - e.p;
        }
        Est {
            cost,
            p: 1.0 - none,
        }
    }

    /// For an `and`: the cost for each row it turns away, the least first. (The order that
    /// minimises the expected cost of independent tests.)
    fn and_key(&self) -> f64 {
        match (self.cost, 1.0 - self.p) {
            (c, _) if c <= 0.0 => 0.0,
            (_, f) if f <= 0.0 => f64::INFINITY,
            (c, f) => c / f,
        }
    }

    /// For an `or`: the cost for each row it lets through, the least first.
    fn or_key(&self) -> f64 {
        match (self.cost, self.p) {
            (c, _) if c <= 0.0 => 0.0,
            (_, p) if p <= 0.0 => f64::INFINITY,
            (c, p) => c / p,
        }
    }
}

/// Parts joined by `sep`, in parentheses; as SQLite parses `a OP b OP c`, one level per
/// operator, the height is at most the highest part's plus the number of parts.
fn chain(parts: Vec<Piece>, sep: &str) -> Piece {
    let depth = Depth {
        height: parts.iter().map(|p| p.1.height).max().unwrap_or(0) + parts.len(),
        nested: parts.iter().map(|p| p.1.nested).max().unwrap_or(0),
    };
    let texts: Vec<String> = parts.into_iter().map(|p| p.0).collect();
    (format!("({})", texts.join(sep)), depth)
}

/// The depth of `t1 AND … AND tn AND last`: `n` comparisons of a column (height 3: `x.a` is
/// already 2), then `last`.
fn and_of_tests(n: usize, last: Depth) -> Depth {
    let mut parts = vec![(String::new(), Depth::leaf(3)); n];
    parts.push((String::new(), last));
    chain(parts, "").1
}

// ---- the rows of the layout -------------------------------------------------------------------

/// One row of `resources`. Each field is the column of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRow {
    /// The resource's id.
    pub id: String,
    /// Its kind, as the policy names it.
    pub kind: String,
    /// Its parent's id; `None` (`NULL`) for a resource without one.
    pub parent_id: Option<String>,
    /// On a case, its case type's name; `None` (`NULL`) on other resources.
    pub case_type: Option<String>,
    /// On a case, its state's name; `None` (`NULL`) on other resources.
    pub state: Option<String>,
    /// Whether its effective read code goes on with its parent's: `false` when its kind does
    /// not declare `inherit read` or the entities file sets `inherit_read` to `false`.
    pub inherit_read: bool,
    /// Whether its effective write code goes on with its parent's, as `inherit_read`.
    pub inherit_write: bool,
}

/// One row of `access_codes`: a code of one level of a resource's own code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeRow {
    /// The id of the resource whose own code it is.
    pub resource_id: String,
    /// Which code: `read` or `write`.
    pub class: &'static str,
    /// The level's position in the own code, from 0.
    pub level: i64,
    /// The code: one of the level's alternatives (`BB` of `[BB|AA]`).
    pub code: String,
}

/// The rows of the relational layout that hold the resources of an entities file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tables {
    /// `resources`: one row per resource, parents before their children.
    pub resources: Vec<ResourceRow>,
    /// `resource_attrs`: (resource id, attribute name, value as text).
    pub attrs: Vec<(String, String, String)>,
    /// `case_relations`: (id of the case or resource, relation, user id).
    pub relations: Vec<(String, String, String)>,
    /// `relation_groups`: (id of the case or resource, relation, access group's name).
    pub relation_groups: Vec<(String, String, String)>,
    /// `access_codes`: one row per code of each non-empty level of each resource's own read
    /// and write codes; an empty level has none.
    pub codes: Vec<CodeRow>,
}

/// The rows that store `entities`' resources in the layout of docs/queries.md. Values are
/// written as text: strings as they are, integers in decimal, booleans as `true`/`false`, enum
/// values by variant name, references by id, and one row per element of a set. Resources come
/// in the entities' order, parents before children where the file has them so. The entities
/// must have been loaded for `policy`, whose names the rows use.
pub fn tables(policy: &crate::Policy, entities: &Entities) -> Result<Tables, QueryError> {
    let policy = policy.compiled();
    same_policy(policy, entities)?;
    let p = policy.ir();
    let mut t = Tables::default();
    // Parents first, so a loader with foreign keys checked at once can insert in this order.
    let mut order: Vec<usize> = (0..entities.resources.len()).collect();
    let depth = |mut i: usize| {
        let mut d = 0;
        while let Some(parent) = entities.resources[i].parent {
            i = parent as usize;
            d += 1;
            if d > crate::limits::MAX_KIND_DEPTH + 1 {
                break;
            }
        }
        d
    };
    order.sort_by_key(|&i| depth(i));
    for i in order {
        let r = &entities.resources[i];
        let rid = entities.resource_id(i as u32);
        let kind = &p.kinds[r.kind.idx()];
        t.resources.push(ResourceRow {
            id: rid.to_string(),
            kind: kind.name.clone(),
            parent_id: r.parent.map(|x| entities.resource_id(x).to_string()),
            case_type: kind
                .is_case
                .then(|| p.casetypes[r.casetype as usize].name.clone()),
            // A case of a type without a workflow has no state to store.
            state: kind
                .is_case
                .then(|| &p.casetypes[r.casetype as usize])
                .filter(|ct| ct.workflow)
                .map(|ct| ct.states[r.state as usize].name.clone()),
            inherit_read: r.inherit_read,
            inherit_write: r.inherit_write,
        });
        for (def, v) in kind.attrs.iter().zip(r.attrs.iter()) {
            let mut push = |value: String| t.attrs.push((rid.to_string(), def.name.clone(), value));
            match v {
                AttrValue::Sym(s) => push(entities.symbol(*s).to_string()),
                AttrValue::Int(n) => push(n.to_string()),
                // Fixed-width RFC 3339 in UTC: the texts sort as the instants do.
                AttrValue::DateTime(t) => push(crate::datetime::format_fixed(*t)),
                AttrValue::Bool(b) => push(b.to_string()),
                AttrValue::Set(items) => {
                    for s in items.iter() {
                        push(entities.symbol(*s).to_string());
                    }
                }
                AttrValue::User(u) => push(entities.user_id(*u).to_string()),
                AttrValue::Resource(x) => push(entities.resource_id(*x).to_string()),
                AttrValue::Variant(n) => {
                    if let Type::Enum(e) = def.ty {
                        push(
                            p.enums[e.idx()]
                                .variants
                                .get(*n as usize)
                                .cloned()
                                .unwrap_or_default(),
                        );
                    }
                }
            }
        }
        let declared = &p.kinds[r.kind.idx()].relations;
        for (rel, list) in declared.iter().zip(r.relations.iter()) {
            let name = &p.relations[rel.idx()].name;
            for u in crate::entities::member_users(list) {
                t.relations.push((
                    rid.to_string(),
                    name.clone(),
                    entities.user_id(*u).to_string(),
                ));
            }
            for g in crate::entities::member_groups(list) {
                t.relation_groups.push((
                    rid.to_string(),
                    name.clone(),
                    p.groups[g as usize].name.clone(),
                ));
            }
        }
        for (class, levels) in [("read", &r.own_read), ("write", &r.own_write)] {
            for (n, level) in levels.iter().enumerate() {
                for c in level.iter() {
                    t.codes.push(CodeRow {
                        resource_id: rid.to_string(),
                        class,
                        level: n as i64,
                        code: entities.symbol(*c).to_string(),
                    });
                }
            }
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;

    /// The policy of `text` and its residual for user `u`, in group `G`, asking `view`.
    fn residual_of_u(text: &str) -> (crate::Policy, Residual) {
        let policy =
            crate::Policy::from_source("p.casepol", text).unwrap_or_else(|e| panic!("{e}"));
        let entities = policy
            .load_entities(r#"{"users": [{"id": "u", "groups": ["G"]}], "resources": []}"#)
            .unwrap();
        let residual = Query::new(&policy, &entities)
            .residual("u", "view", None)
            .unwrap();
        (policy, residual)
    }

    /// The longest chain of kinds a policy may declare, each inheriting its parent's codes,
    /// with a relation and a condition: its residual nests far less than the writer's limit
    /// of nesting, and its statements compile.
    #[test]
    fn the_deepest_chain_of_kinds_nests_within_the_limit() {
        let mut text = String::from(
            "role R; action view; codes { read: view; } group G { grants R; } case Case { relation owner; attr a: string; allow R: view when case.a == \"x\"; allow owner: view; } casetype T { states S; initial S; }\n",
        );
        let mut parent = "Case".to_string();
        for i in 1..crate::limits::MAX_KIND_DEPTH {
            text.push_str(&format!(
                "resource K{i} under {parent} {{ attr a: string; inherit read; }}\n"
            ));
            parent = format!("K{i}");
        }
        let (policy, residual) = residual_of_u(&text);
        let nested = nesting(residual.cond());
        // Partial evaluation keeps conditions flat (an inherited code is one test, whatever
        // the chain): 3 levels here, far below the limit.
        assert!(nested * 4 < MAX_COND_NESTING, "{nested} levels");
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            compile(&policy, &residual, dialect).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// A condition nested deeper than the writer's limit is refused before the writer reads
    /// it (the writer recurses once per level, and a thread's stack is small: 2 MiB for a
    /// test's or a server's worker); one at the limit is written, in both dialects, within a
    /// test thread's stack.
    #[test]
    fn a_condition_deeper_than_the_limit_is_an_error() {
        let (policy, residual) = residual_of_u(
            "role R; action view; group G { grants R; } case Case { attr a: string; allow R: view; } casetype T { states S; initial S; }",
        );
        let attr = |v: &str| Cond::Attr {
            up: 0,
            attr: 0,
            values: vec![super::super::residual::Lit::Str(v.into())],
        };
        // `pairs` times `NOT (a AND …)` around one test: 2 × pairs + 1 levels.
        let deep = |pairs: usize| {
            let mut deep = attr("x");
            for i in 0..pairs {
                deep = Cond::Not(Box::new(Cond::And(vec![attr(&i.to_string()), deep])));
            }
            deep
        };
        let at_limit = residual.clone().with_cond(deep((MAX_COND_NESTING - 1) / 2));
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let f = compile(&policy, &at_limit, dialect).unwrap_or_else(|e| panic!("{e}"));
            assert!(f.depth <= MAX_SQL_DEPTH, "{}", f.depth);
        }
        let err = match compile(&policy, &residual.with_cond(deep(400)), Dialect::Sqlite) {
            Ok(f) => panic!("a statement {} deep", f.depth),
            Err(e) => e,
        };
        assert_eq!(err.kind, QueryErrorKind::TooLarge);
        assert_eq!(
            err.message,
            "the condition for `u` to `view` is nested 801 levels deep, more than the limit of 256"
        );
    }

    /// SQLite tests the parts of an `and` in their order: on a page, the column test comes
    /// first, then the `or` of a relation held (one probe, rarely true) and a column (tested
    /// first), then the code met (a probe per level), then the `NOT` of a relation (rarely
    /// false). PostgreSQL orders the tests itself: its whole answer keeps the residual's order.
    #[test]
    fn the_tests_of_a_page_are_ordered_by_their_guessed_cost() {
        let (policy, residual) = residual_of_u(
            "role R; action view; group G { grants R; } case Case { relation owner, subject; allow R: view; } casetype T { states S, U; initial S; }",
        );
        let kind = Cond::Kind(vec![crate::ir::KindId(0)]);
        let state = Cond::Case {
            up: 0,
            casetype: 0,
            states: Some(vec![0]),
        };
        let holds = |r: u32| Cond::Holds {
            up: 0,
            relations: vec![r],
        };
        let code = Cond::CodeMet {
            up: 0,
            class: Class::Read,
        };
        let cond = Cond::And(vec![
            kind,
            Cond::Not(Box::new(holds(1))),
            code,
            Cond::Or(vec![holds(0), state.clone()]),
            state,
        ]);
        let residual = residual.with_cond(cond);
        let page = Page {
            after: None,
            limit: Some(10),
        };
        let positions = |dialect, page: &Page, needles: &[&str]| {
            let f = compile_page(&policy, &residual, dialect, page).unwrap();
            let sql = f.select();
            let at: Vec<usize> = needles
                .iter()
                .map(|n| sql.find(n).unwrap_or_else(|| panic!("`{n}` not in\n{sql}")))
                .collect();
            (at, sql)
        };
        let (at, sql) = positions(
            Dialect::Sqlite,
            &page,
            &[
                "AND (r.case_type = ",
                "AND ((r.case_type = ",
                "OR EXISTS (SELECT 1 FROM case_relations",
                "FROM access_codes",
                "NOT EXISTS (SELECT 1 FROM case_relations",
            ],
        );
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{sql}");
        // The same order on a page in PostgreSQL.
        let (at2, sql2) = positions(
            Dialect::Postgres,
            &page,
            &[
                "AND (r.case_type = ",
                "FROM access_codes",
                "NOT EXISTS (SELECT 1 FROM case_relations",
            ],
        );
        assert!(at2.windows(2).all(|w| w[0] < w[1]), "{sql2}");
        // PostgreSQL's whole answer: the residual's order, the `NOT` of a relation before the
        // code.
        let (at, sql) = positions(
            Dialect::Postgres,
            &Page::default(),
            &[
                "NOT EXISTS (SELECT 1 FROM case_relations",
                "FROM access_codes",
            ],
        );
        assert!(at[0] < at[1], "{sql}");
    }

    /// Some SQLite versions (3.40, for one) cut a JSON string at an escaped U+0000, so
    /// `"T5\u0000x"` inside the JSON array would match the code `T5`. Entities refuse such codes
    /// before they get here; should one arrive anyway, it is a parameter of its own.
    #[test]
    fn a_value_holding_nul_is_never_inside_the_sqlite_array() {
        let policy = crate::Policy::from_source("p.casepol", "role R; action view;")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut w = Writer {
            shape: Shape::Whole,
            policy: policy.compiled(),
            dialect: Dialect::Sqlite,
            params: Vec::new(),
            index: HashMap::new(),
            codes: &[],
            codes_sql: None,
            principal: "u",
            relation_groups: false,
        };
        let values = ["Clerks", "T5\0x", "T7", "T8\0"].map(String::from);
        let (sql, _) = w.one_of("c.code", &values);
        assert_eq!(
            sql,
            "(c.code IN (SELECT value FROM json_each(?1)) OR c.code = ?2 OR c.code = ?3)"
        );
        assert_eq!(
            w.params,
            [
                Param::Text(r#"["Clerks","T7"]"#.into()),
                Param::Text("T5\0x".into()),
                Param::Text("T8\0".into()),
            ]
        );
    }
}

//! The SQL filter against a real database: on a generated world of 10,000 cases (and their
//! documents, attachments and contacts) loaded into SQLite, and into PostgreSQL when
//! `CASEPOL_PG_URL` is set, the rows each filter selects are exactly the resources `list`
//! returns in memory, which are exactly those `check` allows, for every user, action and
//! module. Values that look like SQL stay data.

mod common;
#[path = "common/db.rs"]
mod db;
#[path = "common/world.rs"]
mod world;

use casepol::query::sql::{self, Dialect};
use casepol::query::Query;
use casepol::{Entities, Policy, Request};
use common::modules;

const CASES: usize = 10_000;

fn generated(seed: u64, cases: usize) -> (Policy, Entities) {
    let policy = Policy::from_source("tests/data/queries/policy.casepol", world::POLICY)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let entities = policy
        .load_entities(&world::entities(seed, cases).to_string())
        .unwrap_or_else(|e| panic!("{e:?}"));
    (policy, entities)
}

/// For every user, action and module: the database's rows, `list` and `check` agree. Returns
/// how many (user, action, module) questions were compared and how many rows were allowed.
fn compare(
    policy: &Policy,
    entities: &Entities,
    dialect: Dialect,
    mut run: impl FnMut(&sql::Filter) -> Vec<String>,
) -> (usize, usize) {
    let q = Query::new(policy, entities);
    let mut questions = 0;
    let mut allowed = 0;
    for user in entities.user_ids() {
        for action in &policy.compiled().ir().actions {
            for module in modules(policy) {
                let module = module.as_deref();
                let filter = q.filter(user, &action.name, module, dialect).unwrap();
                let rows = run(&filter);
                let listed = q.list(user, &action.name, module, None).unwrap().ids();
                assert_eq!(
                    rows,
                    listed,
                    "{dialect:?}: {} {} via {module:?}\n{}\n{:?}",
                    user,
                    action.name,
                    filter.select(),
                    filter.params
                );
                // `list` is exactly what `check` allows: every listed resource is allowed and
                // every allowed resource is listed.
                let mut checked = 0;
                let mut req = Request::new(user, &action.name, None);
                req.module = module.map(String::from);
                for res in entities.resource_ids() {
                    req.resource = Some(res.to_string());
                    if policy.is_allowed(entities, &req).allowed {
                        checked += 1;
                        assert!(
                            listed.binary_search_by(|l| l.as_str().cmp(res)).is_ok(),
                            "{} {} {} allowed but not listed",
                            user,
                            action.name,
                            res
                        );
                    }
                }
                assert_eq!(checked, listed.len());
                questions += 1;
                allowed += rows.len();
            }
        }
    }
    (questions, allowed)
}

#[test]
fn sqlite_rows_equal_list_and_check_on_10000_cases() {
    let (policy, entities) = generated(7, CASES);
    let cases = entities
        .resources()
        .iter()
        .filter(|r| policy.compiled().ir().kinds[r.kind.idx()].is_case)
        .count();
    assert_eq!(cases, CASES);
    let tables = sql::tables(policy.compiled(), &entities);
    let db = db::sqlite(&tables);
    let (questions, allowed) = compare(&policy, &entities, Dialect::Sqlite, |f| {
        db::sqlite_ids(&db, f)
    });
    // 12 users × 9 actions × 3 module choices, and a world where many answers are non-trivial.
    assert_eq!(questions, 12 * 9 * 3);
    assert!(allowed > 10_000, "only {allowed} allowed rows in all");
}

/// PostgreSQL, when `CASEPOL_PG_URL` names a database (`.ci/run` starts one). Without it the
/// test says it is skipped, unless `CASEPOL_PG_REQUIRED` is set: then a missing URL fails.
#[test]
fn postgres_rows_equal_list_and_check_on_10000_cases() {
    let Ok(url) = std::env::var("CASEPOL_PG_URL") else {
        assert!(
            std::env::var_os("CASEPOL_PG_REQUIRED").is_none(),
            "CASEPOL_PG_REQUIRED is set but CASEPOL_PG_URL is not"
        );
        eprintln!("SKIPPED: postgres_rows_equal_list_and_check_on_10000_cases: set CASEPOL_PG_URL to run it against PostgreSQL");
        return;
    };
    let mut client = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to CASEPOL_PG_URL: {e}"));
    let (policy, entities) = generated(7, CASES);
    let tables = sql::tables(policy.compiled(), &entities);
    db::postgres(&mut client, "casepol_equivalence", &tables);
    let (questions, allowed) = compare(&policy, &entities, Dialect::Postgres, |f| {
        db::postgres_ids(&mut client, f)
    });
    assert_eq!(questions, 12 * 9 * 3);
    assert!(allowed > 10_000, "only {allowed} allowed rows in all");
    client
        .batch_execute("DROP SCHEMA casepol_equivalence CASCADE")
        .unwrap();
}

/// A policy literal, a user id, a term and attribute values that would break out of a quoted
/// SQL string are bound as parameters: the statement text never contains them, the tables are
/// intact afterwards, and the rows are still the ones `list` gives.
#[test]
fn values_that_look_like_sql_round_trip_as_data() {
    let text = std::fs::read_to_string("tests/data/queries/entities.json").unwrap();
    let policy = Policy::from_source("tests/data/queries/policy.casepol", world::POLICY).unwrap();
    let entities = policy.load_entities(&text).unwrap();
    let tables = sql::tables(policy.compiled(), &entities);
    assert!(tables.attrs.iter().any(|(_, _, v)| v == world::INJECTION));
    let db = db::sqlite(&tables);
    let q = Query::new(&policy, &entities);
    // `dan` holds the term `'; DROP TABLE cases; --`, and his group Phones admits cases tagged
    // with it; `o'brien` is the owner and assignee of `c1`.
    for (user, action) in [("dan", "list"), ("dan", "view"), ("o'brien", "view")] {
        let filter = q.filter(user, action, None, Dialect::Sqlite).unwrap();
        let select = filter.select();
        assert!(
            filter.params.iter().any(|p| p.contains('\'')),
            "{:?}",
            filter.params
        );
        assert!(
            !select.contains('\''),
            "a quote reached the statement:\n{select}"
        );
        assert!(!select.contains("DROP"), "{select}");
        let rows = db::sqlite_ids(&db, &filter);
        let listed = q.list(user, action, None, None).unwrap().ids();
        assert_eq!(rows, listed, "{user} {action}");
        assert!(
            !rows.is_empty(),
            "{user} {action} selects nothing: the test would prove little"
        );
        let count: i64 = db
            .query_row("SELECT count(*) FROM resources", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count as usize, entities.resources().len());
    }
    // The value itself comes back out of the database unchanged.
    let stored: String = db
        .query_row(
            "SELECT value FROM resource_attrs WHERE resource_id = ?1 AND name = 'tags'",
            ["c1"],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, world::INJECTION);
}

//! Partial evaluation (`filter`) at scale: its residual and its SQL grow with the kinds plus the
//! states of a policy, never with their product, and the SQL stays within what SQLite accepts
//! (and PostgreSQL, when `CASEPOL_PG_URL` is set), selecting exactly the rows `list` gives and
//! `check` allows.

#[path = "common/db.rs"]
mod db;
#[path = "common/residual_world.rs"]
mod residual_world;

use casepol::query::sql::{self, Dialect};
use casepol::query::Query;
use casepol::{Entities, Policy, Request};
use std::fmt::Write as _;

fn load(text: &str, entities: &str) -> (Policy, Entities) {
    let policy =
        Policy::from_source("scale.casepol", text).unwrap_or_else(|e| panic!("{}", e.render()));
    let entities = policy
        .load_entities(entities)
        .unwrap_or_else(|e| panic!("{e:?}"));
    (policy, entities)
}

/// For every user, asking for `action`: the residual evaluated on each resource is the VM's
/// decision, and the rows SQLite selects are the resources `list` gives, which are those
/// `check` allows (and the same rows from PostgreSQL, when `CASEPOL_PG_URL` is set). Returns
/// how many resources were allowed in all.
fn agree(policy: &Policy, entities: &Entities, action: &str) -> usize {
    let q = Query::new(policy, entities);
    let tables = sql::tables(policy.compiled(), entities).unwrap();
    let sqlite = db::sqlite(&tables);
    let mut pg = std::env::var("CASEPOL_PG_URL").ok().map(|url| {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to CASEPOL_PG_URL: {e}"));
        db::postgres(&mut client, "casepol_scale", &tables);
        client
    });
    let mut allowed = 0;
    for user in entities.user_ids() {
        let residual = q.residual(user, action, None).unwrap();
        let mut checked = Vec::new();
        for (i, res) in entities.resource_ids().enumerate() {
            let req = Request::new(user, action, Some(res));
            let decision = policy.is_allowed(entities, &req).allowed;
            assert_eq!(
                residual
                    .eval(policy.compiled(), entities, i as u32)
                    .unwrap(),
                decision,
                "{user} {action} {res}"
            );
            if decision {
                checked.push(res.to_string());
            }
        }
        checked.sort();
        let listed = q.list(user, action, None, None).unwrap().ids();
        assert_eq!(listed, checked, "{user}: list and check");
        let filter = q.filter(user, action, None, Dialect::Sqlite).unwrap();
        assert_eq!(db::sqlite_ids(&sqlite, &filter), listed, "{user}: SQLite");
        if let Some(client) = pg.as_mut() {
            let filter = q.filter(user, action, None, Dialect::Postgres).unwrap();
            assert_eq!(
                db::postgres_ids(client, &filter),
                listed,
                "{user}: PostgreSQL"
            );
        }
        allowed += listed.len();
    }
    if let Some(mut client) = pg {
        client
            .batch_execute("DROP SCHEMA casepol_scale CASCADE")
            .unwrap();
    }
    allowed
}

/// 2,000 kinds that differ and a case type of 2,000 states (a 130 KB policy). The residual used
/// to cost kinds × states: a condition per state in every kind's branch (a 50 MB residual,
/// about a minute in a debug build), and an `OR` of 2,000 kind branches that SQLite refuses
/// (`Expression tree is too large (maximum depth 1000)`). Now each kind and each state appears
/// a bounded number of times.
#[test]
fn kinds_and_states_that_differ_cost_their_sum_not_their_product() {
    let (kinds, states) = (2_000, 2_000);
    let text = residual_world::policy(kinds, states, 4);
    let (policy, entities) = load(&text, &residual_world::entities(kinds, states));
    let q = Query::new(&policy, &entities);
    let residual = q.residual("ann", "view", None).unwrap();
    let json = serde_json::to_string(&residual.json(policy.compiled()).unwrap()).unwrap();
    assert!(
        json.len() < 10 * text.len(),
        "a residual of {} bytes for a policy of {} bytes",
        json.len(),
        text.len()
    );
    let filter = q.filter("ann", "view", None, Dialect::Sqlite).unwrap();
    assert!(
        filter.where_clause.len() < 10 * text.len(),
        "SQL of {} bytes for a policy of {} bytes",
        filter.where_clause.len(),
        text.len()
    );
    // Some resources are allowed and some are not, so the rows compared say something.
    let allowed = agree(&policy, &entities, "view");
    assert!(
        allowed > 0 && allowed < entities.resource_ids().count(),
        "{allowed} allowed"
    );
}

/// A scope filter of 1,100 conditions is an `OR` of 1,100 tests, which SQLite, nesting one
/// level per operator, used to refuse as deeper than 1,000. Now long chains are written in
/// groups, and the tests of one set attribute are one test.
#[test]
fn a_scope_filter_of_1100_conditions_runs_on_sqlite() {
    let n = 1_100;
    let mut text = String::from(
        "role Clerk, Intake;\naction view;\ncase Case { attr region: string; attr tags: set<string>; allow Clerk, Intake: view; }\ncasetype T { states S; initial S; }\n",
    );
    text.push_str("group Regions {\n  grants Clerk;\n  scope filter {\n");
    for i in 0..n {
        writeln!(text, "    region == \"r{i}\";").unwrap();
        writeln!(text, "    region != \"r{i}\";").unwrap();
    }
    text.push_str("  }\n}\ngroup Tags {\n  grants Intake;\n  scope filter {\n");
    for i in 0..n {
        writeln!(text, "    tags contains \"t{i}\";").unwrap();
    }
    text.push_str("  }\n}\n");
    let entities = r#"{"users": [{"id": "ann", "groups": ["Regions"]}, {"id": "bob", "groups": ["Tags"]}],
        "resources": [
          {"id": "c1", "kind": "Case", "type": "T", "state": "S", "attrs": {"region": "r5", "tags": ["t7"]}},
          {"id": "c2", "kind": "Case", "type": "T", "state": "S", "attrs": {"region": "north", "tags": []}},
          {"id": "c3", "kind": "Case", "type": "T", "state": "S", "attrs": {"region": "r1099", "tags": ["x", "t1099"]}}
        ]}"#;
    let (policy, entities) = load(&text, entities);
    // ann: every case (a region equal to r5, or not); bob: c1 and c3.
    assert_eq!(agree(&policy, &entities, "view"), 3 + 2);
}

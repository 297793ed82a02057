//! Partial evaluation (`filter`) at scale: its residual and its SQL grow with the kinds plus the
//! states of a policy, never with their product, and the SQL stays within what SQLite accepts
//! (and PostgreSQL, when `CASEPOL_PG_URL` is set), selecting exactly the rows `list` gives and
//! `check` allows.

#[path = "common/db.rs"]
mod db;
#[path = "common/residual_world.rs"]
mod residual_world;

use casepol::diagnostic::Sources;
use casepol::limits::MAX_SQL_DEPTH;
use casepol::query::sql::{self, Dialect};
use casepol::query::Query;
use casepol::{Entities, Policy, Request};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
/// how many resources were allowed in all. `schema` names the PostgreSQL schema the rows go in,
/// one per test, since tests run at the same time.
fn agree(policy: &Policy, entities: &Entities, action: &str, schema: &str) -> usize {
    let q = Query::new(policy, entities);
    let tables = sql::tables(policy, entities).unwrap();
    let sqlite = db::sqlite(&tables);
    let mut pg = std::env::var("CASEPOL_PG_URL").ok().map(|url| {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to CASEPOL_PG_URL: {e}"));
        db::postgres(&mut client, schema, &tables);
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
                residual.eval(policy, entities, i as u32).unwrap(),
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
        prepares_within_its_depth(&sqlite, &filter);
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
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap();
    }
    allowed
}

/// Prepares the filter's query with SQLite's limit on expression depth set to the depth the
/// filter reports, so SQLite fails if it counts deeper than that bound; then puts the default
/// limit back.
fn prepares_within_its_depth(db: &rusqlite::Connection, filter: &sql::Filter) {
    assert!(filter.depth <= MAX_SQL_DEPTH, "{}", filter.depth);
    let set = |n: usize| {
        // SAFETY: the handle is the open connection's own, used on this thread while `db` lives,
        // and sqlite3_limit only reads and sets one of its limits.
        unsafe {
            rusqlite::ffi::sqlite3_limit(
                db.handle(),
                rusqlite::ffi::SQLITE_LIMIT_EXPR_DEPTH,
                i32::try_from(n).unwrap(),
            )
        }
    };
    let default = set(filter.depth);
    let prepared = db.prepare(&filter.select()).map(|_| ());
    set(default as usize);
    if let Err(e) = prepared {
        panic!("SQLite counts deeper than the bound {}: {e}", filter.depth);
    }
}

/// The depth a filter reports bounds SQLite's own count, for every question on every shipped
/// example and on the query test policy (their statements only need the layout to prepare).
#[test]
fn the_depth_of_every_filter_bounds_sqlites_count() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.push(root.join("tests/data/queries"));
    let db = db::sqlite(&sql::Tables::default());
    let mut asked = 0;
    for dir in dirs {
        let (policy, entities) = load_dir(&dir);
        let mut q = Query::new(&policy, &entities);
        // A policy that declares a context is asked in the first one its tests give.
        let tests = std::fs::read_to_string(dir.join("policy.test.json")).unwrap_or_default();
        let context = serde_json::from_str::<serde_json::Value>(&tests)
            .ok()
            .and_then(|doc| {
                doc["tests"]
                    .as_array()?
                    .iter()
                    .find_map(|t| t["request"]["context"].as_object().cloned())
            });
        if let Some(c) = context {
            q = q.with_context(c);
        }
        let mut modules: Vec<Option<&str>> = vec![None];
        modules.extend(
            policy
                .compiled()
                .ir()
                .modules
                .iter()
                .map(|m| Some(m.name.as_str())),
        );
        for user in entities.user_ids() {
            for action in &policy.compiled().ir().actions {
                for &module in &modules {
                    let filter = q
                        .filter(user, &action.name, module, Dialect::Sqlite)
                        .unwrap();
                    prepares_within_its_depth(&db, &filter);
                    asked += 1;
                }
            }
        }
    }
    assert!(asked > 500, "{asked}");
}

fn load_dir(dir: &Path) -> (Policy, Entities) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
        .collect();
    files.sort();
    let mut sources = Sources::new();
    for f in files {
        sources.add(
            f.display().to_string(),
            std::fs::read_to_string(&f).unwrap(),
        );
    }
    let policy = Policy::from_sources(sources).unwrap_or_else(|e| panic!("{}", e.render()));
    let text = std::fs::read_to_string(dir.join("entities.json")).unwrap();
    let entities = policy.load_entities(&text).unwrap();
    (policy, entities)
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
    let json = serde_json::to_string(&residual.json(&policy).unwrap()).unwrap();
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
    let allowed = agree(&policy, &entities, "view", "casepol_scale_kinds");
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
    assert_eq!(
        agree(&policy, &entities, "view", "casepol_scale_filter"),
        3 + 2
    );
}

/// A chain of kinds as deep as the checker allows, each inheriting read and write codes from
/// its parent: its residual used to take time exponential in the depth (a chain of 14 took
/// 563 s), and its statement joins 32 ancestors. Resources at every depth, some with codes the
/// user holds and some not, some not inheriting, get the rows `list` gives.
#[test]
fn a_chain_of_inheriting_kinds_as_deep_as_allowed_runs_on_sqlite() {
    let depth = casepol::limits::MAX_KIND_DEPTH - 1;
    let mut text = String::from(
        "role R;\naction view, edit;\ncodes { read: view; write: edit; }\ngroup G { grants R; }\ncase Case { allow R: view, edit; }\ncasetype T { states S; initial S; }\n",
    );
    let mut parent = "Case".to_string();
    for i in 0..depth {
        writeln!(
            text,
            "resource K{i} under {parent} {{ inherit read, write; allow R: view, edit; }}"
        )
        .unwrap();
        parent = format!("K{i}");
    }
    let mut resources = vec![
        r#"{"id": "c", "kind": "Case", "type": "T", "state": "S", "read": "A", "write": "B"}"#
            .to_string(),
    ];
    let mut parent = "c".to_string();
    for i in 0..depth {
        let extra = match i % 5 {
            0 => r#", "read": "A|B""#,
            1 => r#", "write": "B""#,
            3 if i > 20 => r#", "inherit_read": false"#,
            _ => "",
        };
        resources.push(format!(
            r#"{{"id": "k{i}", "kind": "K{i}", "parent": "{parent}"{extra}}}"#
        ));
        parent = format!("k{i}");
    }
    let entities = format!(
        r#"{{"users": [{{"id": "ann", "groups": ["G"], "terms": ["A"]}}, {{"id": "bob", "groups": ["G"], "terms": ["B"]}}], "resources": [{}]}}"#,
        resources.join(",\n")
    );
    let (policy, entities) = load(&text, &entities);
    // ann holds A, so reads everything but edits nothing (the case's write code is B); bob
    // edits everything, and reads from `k23` down, the first kind that stops inheriting the
    // case's read code A.
    let read = agree(&policy, &entities, "view", "casepol_scale_chain");
    let edited = agree(&policy, &entities, "edit", "casepol_scale_chain");
    assert_eq!((read, edited), ((depth + 1) + (depth - 23), depth + 1));
}

//! Entities in a database (docs/database.md): every shipped example's entities and generated
//! worlds go JSON → `db import` → load from the database, and the entities written back are the
//! ones loaded from the JSON (in id order: a database keeps no order). In SQLite always, and in
//! PostgreSQL when `CASEPOL_PG_URL` names a server (`.ci/run` starts one; with
//! `CASEPOL_PG_REQUIRED` set, a missing URL fails). Problems in the rows are named by table, row
//! and column, with the messages of loading a file.

mod common;
#[path = "common/pg.rs"]
mod pg;
#[path = "common/world.rs"]
mod world;
use pg::{pg_database, pg_drop, pg_url};

use casepol::db::{self, Source};
use casepol::{Entities, Policy};
use serde_json::Value;
use std::path::Path;

/// The entities written back, each section in id order and each user's groups, units and terms
/// and each relation's members sorted: a database keeps no order of rows, and these lists are
/// sets (the order of a user's groups is the file's, and changes no decision).
fn written(policy: &Policy, entities: &Entities) -> Value {
    let mut v = entities.to_json(policy.compiled());
    let sort = |items: &mut Vec<Value>| items.sort_by_key(|a| a.to_string());
    for key in ["units", "users", "resources"] {
        if let Some(Value::Array(items)) = v.get_mut(key) {
            items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            for item in items.iter_mut() {
                for list in ["groups", "units", "terms"] {
                    if let Some(Value::Array(l)) = item.get_mut(list) {
                        sort(l);
                    }
                }
                if let Some(Value::Object(rels)) = item.get_mut("relations") {
                    for (_, l) in rels.iter_mut() {
                        if let Value::Array(l) = l {
                            sort(l);
                        }
                    }
                }
            }
        }
    }
    v
}

/// The worlds: each shipped policy with its entities, two generated worlds of the query policy
/// and one of the benchmark generator.
fn worlds() -> Vec<(String, Policy, String)> {
    let mut out = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let entities = dir.join("entities.json");
        if !entities.exists() {
            continue;
        }
        let policy = Policy::from_path(&dir).unwrap_or_else(|e| panic!("{}", e));
        let text = std::fs::read_to_string(&entities).unwrap();
        out.push((dir.display().to_string(), policy, text));
    }
    for seed in [3, 11] {
        let policy = Policy::from_source("tests/data/queries/policy.casepol", world::POLICY)
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let text = world::entities(seed, 300).to_string();
        out.push((format!("query world {seed}"), policy, text));
    }
    // Text a database or its client could take apart: SQL quotes and comments, backslashes
    // (and `\N`, which is NULL in `COPY`'s text), tabs, line breaks, a carriage return, the
    // empty string and characters beyond ASCII, in string and set attributes.
    let odd = [
        "tab\there",
        "line\nbreak\r\n",
        "back\\slash \\N \\\\ \\t",
        "\"quoted\" 'single' %_ ;-- /*",
        "\\N",
        "",
        "ünï 😀 \u{7f}",
    ];
    let mut awkward = world::entities(7, 40);
    let resources = awkward["resources"].as_array_mut().unwrap();
    for (i, r) in resources.iter_mut().enumerate() {
        let text = odd[i % odd.len()];
        let key = match r["kind"].as_str().unwrap() {
            "Case" => {
                r["attrs"]["tags"] = serde_json::json!([text, "plain"]);
                "region"
            }
            "Document" => "title",
            _ => "name",
        };
        r["attrs"][key] = text.into();
    }
    let policy = Policy::from_source("tests/data/queries/policy.casepol", world::POLICY)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    out.push(("awkward text".to_string(), policy, awkward.to_string()));
    let gen = casepol_gen::Policy::generate(40, casepol_gen::SEED).unwrap();
    let text = casepol_gen::Population::generate(&gen, casepol_gen::Sizes::SAMPLE, 5).to_json(&gen);
    let policy = Policy::from_source("generated.casepol", &gen.to_casepol())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    out.push(("casepol-gen world".to_string(), policy, text));
    out
}

/// Imports each world into a fresh database `fresh(i)` gives and loads it back.
fn round_trip(mut fresh: impl FnMut(usize) -> Source) -> usize {
    let worlds = worlds();
    for (i, (name, policy, text)) in worlds.iter().enumerate() {
        let entities = policy
            .load_entities(text)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let target = fresh(i);
        db::init(&target).unwrap_or_else(|e| panic!("{name}: {e}"));
        db::import(policy, &entities, &target).unwrap_or_else(|e| panic!("{name}: {e}"));
        let loaded = db::load(policy, &target).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let (got, want) = (written(policy, &loaded), written(policy, &entities));
        for key in ["units", "users", "resources"] {
            let (g, w) = (got[key].as_array().unwrap(), want[key].as_array().unwrap());
            assert_eq!(g.len(), w.len(), "{name}: {key}");
            for (g, w) in g.iter().zip(w) {
                assert_eq!(
                    g, w,
                    "{name}: {key}: the entity loaded from the database is not the one imported"
                );
            }
        }
        assert_eq!(got, want);
        // A second import into the filled database is refused, and changes nothing.
        let again = db::import(policy, &entities, &target).unwrap_err();
        assert!(again.message.contains("is not empty"), "{name}: {again}");
    }
    worlds.len()
}

#[test]
fn sqlite_round_trip_of_every_example_and_generated_worlds() {
    let dir = tempdir("roundtrip");
    let n = round_trip(|i| Source::Sqlite(dir.join(format!("w{i}.db"))));
    // Seven shipped examples, two query worlds, one of awkward text and one casepol-gen world.
    assert_eq!(n, 11);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn postgres_round_trip_of_every_example_and_generated_worlds() {
    let Some(url) = pg_url("postgres_round_trip_of_every_example_and_generated_worlds") else {
        return;
    };
    let mut made = Vec::new();
    let n = round_trip(|i| {
        let name = format!("casepol_db_rt_{i}");
        let db = pg_database(&url, &name);
        made.push(name);
        Source::Postgres(db)
    });
    assert_eq!(n, 11);
    for name in made {
        pg_drop(&url, &name);
    }
}

/// Rows of parts whose entity is not there (written with SQLite's foreign keys turned off)
/// belong to no entity: ids that sort before, between and after the entities' are
/// passed over, and the entities load as imported.
#[test]
fn rows_of_no_entity_are_passed_over() {
    let dir = tempdir("orphans");
    let policy = Policy::from_source("tests/data/queries/policy.casepol", world::POLICY).unwrap();
    let entities = policy
        .load_entities(&world::entities(9, 30).to_string())
        .unwrap();
    let path = dir.join("w.db");
    let target = Source::Sqlite(path.clone());
    db::init(&target).unwrap();
    db::import(&policy, &entities, &target).unwrap();
    let sql = rusqlite::Connection::open(&path).unwrap();
    sql.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    let mut orphans = 0;
    for id in ["", "0", "c000001x", "doc-", "zzz"] {
        for table in [
            "INSERT INTO user_groups VALUES (?1, 'Clerks')",
            "INSERT INTO user_units VALUES (?1, 'ORG')",
            "INSERT INTO user_terms VALUES (?1, 'vip')",
            "INSERT INTO user_attrs VALUES (?1, 'level', '3')",
            "INSERT INTO resource_attrs VALUES (?1, 'title', 'x')",
            "INSERT INTO case_relations VALUES (?1, 'assignee', 'ann')",
            "INSERT INTO access_codes VALUES (?1, 'read', 0, 'A')",
            "INSERT INTO access_code_levels VALUES (?1, 'read', 2)",
            "INSERT INTO relation_groups VALUES (?1, 'assignee', 'Clerks')",
        ] {
            orphans += sql.execute(table, [id]).unwrap();
        }
    }
    assert_eq!(orphans, 45);
    let loaded = db::load(&policy, &target).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(written(&policy, &loaded), written(&policy, &entities));
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("casepol-db-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Rows that break the rules of the entity format are reported with the messages of loading a
/// file, each put down to its table, row and column; values the columns cannot hold as their
/// attribute's type are reported before loading.
#[test]
fn problems_name_table_row_and_column() {
    let dir = tempdir("problems");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/workzone");
    let policy = Policy::from_path(&root).unwrap();
    let text = std::fs::read_to_string(root.join("entities.json")).unwrap();
    let entities = policy.load_entities(&text).unwrap();
    let path = dir.join("w.db");
    let target = Source::Sqlite(path.clone());
    db::init(&target).unwrap();
    db::import(&policy, &entities, &target).unwrap();
    let sql = rusqlite::Connection::open(&path).unwrap();
    sql.execute_batch(
        "INSERT INTO user_groups VALUES ('BB', 'Employes');
         UPDATE resources SET state = 'Nowhere' WHERE id = 'case-1';
         INSERT INTO case_relations VALUES ('doc-1', 'assignee', 'BB');
         INSERT INTO relation_groups VALUES ('case-1', 'assignee', 'Employes');
         INSERT INTO units VALUES ('X', 'Y');
         INSERT INTO users VALUES ('PERS');",
    )
    .unwrap();
    let shown = |errors: Vec<db::DbError>| {
        errors
            .iter()
            .map(|e| format!("error: {e}\n"))
            .collect::<String>()
    };
    let errors = db::load(&policy, &target).unwrap_err();
    insta::assert_snapshot!("db_load_problems", shown(errors));
    // A value that is not of its attribute's type, and a row that is not one code.
    sql.execute_batch(
        "DELETE FROM user_groups WHERE group_name = 'Employes';
         UPDATE resources SET state = 'Open' WHERE id = 'case-1';
         DELETE FROM case_relations WHERE case_id = 'doc-1';
         DELETE FROM units WHERE id = 'X';
         DELETE FROM users WHERE id = 'PERS';
         INSERT INTO access_codes VALUES ('case-1', 'read', 0, 'A|B');
         INSERT INTO access_codes VALUES ('case-1', 'write', 70, 'A');",
    )
    .unwrap();
    let errors = db::load(&policy, &target).unwrap_err();
    insta::assert_snapshot!("db_load_row_values", shown(errors));
    // A missing database file is an error, not an empty world.
    let missing = db::load(&policy, &Source::Sqlite(dir.join("none.db"))).unwrap_err();
    assert!(missing[0].message.contains("none.db"), "{}", missing[0]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A world whose tables of parts span several fetches of PostgreSQL's portals (20,000 rows
/// each; 5,000 cases hold about 42,000 attribute rows and 21,000 code rows), fetched ahead
/// while the rows before are merged, loads as imported.
#[test]
fn postgres_round_trip_across_fetches() {
    let Some(url) = pg_url("postgres_round_trip_across_fetches") else {
        return;
    };
    let policy = Policy::from_source("tests/data/queries/policy.casepol", world::POLICY).unwrap();
    let entities = policy
        .load_entities(&world::entities(13, 5_000).to_string())
        .unwrap();
    let name = "casepol_db_fetches";
    let db_url = pg_database(&url, name);
    let target = Source::Postgres(db_url.clone());
    db::init(&target).unwrap();
    db::import(&policy, &entities, &target).unwrap();
    let mut client = postgres::Client::connect(&db_url, postgres::NoTls).unwrap();
    let rows: i64 = client
        .query_one("SELECT count(*) FROM resource_attrs", &[])
        .unwrap()
        .get(0);
    assert!(
        rows > 40_000,
        "{rows} attribute rows: fewer than two fetches"
    );
    let loaded = db::load(&policy, &target).unwrap_or_else(|e| panic!("{e:?}"));
    // Compared whole, without printing 3 MB of JSON when they differ.
    let same = written(&policy, &loaded) == written(&policy, &entities);
    assert!(same, "the entities loaded are not the ones imported");
    drop(client);
    pg_drop(&url, name);
}

/// The same problems in PostgreSQL give the same errors, each put down to its table, row and
/// column (the rows read by `COPY`, the tables that hold an id asked in the transaction).
#[test]
fn postgres_problems_name_table_row_and_column() {
    let Some(url) = pg_url("postgres_problems_name_table_row_and_column") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/workzone");
    let policy = Policy::from_path(&root).unwrap();
    let text = std::fs::read_to_string(root.join("entities.json")).unwrap();
    let entities = policy.load_entities(&text).unwrap();
    let name = "casepol_db_problems";
    let db_url = pg_database(&url, name);
    let target = Source::Postgres(db_url.clone());
    db::init(&target).unwrap();
    db::import(&policy, &entities, &target).unwrap();
    let mut client = postgres::Client::connect(&db_url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "INSERT INTO user_groups VALUES ('BB', 'Employes');
             UPDATE resources SET state = 'Nowhere' WHERE id = 'case-1';
             INSERT INTO case_relations VALUES ('doc-1', 'assignee', 'BB');
             INSERT INTO relation_groups VALUES ('case-1', 'assignee', 'Employes');
             INSERT INTO units VALUES ('X', 'Y');
             INSERT INTO users VALUES ('PERS');",
        )
        .unwrap();
    let errors = db::load(&policy, &target).unwrap_err();
    let shown: String = errors.iter().map(|e| format!("error: {e}\n")).collect();
    insta::assert_snapshot!("db_load_problems", shown);
    drop(client);
    pg_drop(&url, name);
}

/// The command line: `db init` prints the schema or creates it, `db import` fills the database,
/// and every command that takes `--entities` answers from it as from the file.
#[test]
fn command_line_init_import_and_commands_on_a_database() {
    let dir = tempdir("cli");
    let printed = common::casepol(&["db", "init", "--dialect", "sqlite"]);
    assert_eq!(printed.code, common::OK, "{}", printed.transcript());
    assert_eq!(printed.stdout.trim_end(), db::SQLITE_SCHEMA.trim_end());
    let printed = common::casepol(&["db", "init", "--dialect", "postgres"]);
    assert_eq!(printed.stdout.trim_end(), db::POSTGRES_SCHEMA.trim_end());
    let url = format!("sqlite:{}", dir.join("w.db").display());
    let init = common::casepol(&["db", "init", "--dialect", "sqlite", "--apply", &url]);
    assert_eq!(init.code, common::OK, "{}", init.transcript());
    let wrong = common::casepol(&["db", "init", "--dialect", "postgres", "--apply", &url]);
    assert_eq!(wrong.code, common::ERROR, "{}", wrong.transcript());
    let import = common::casepol(&[
        "db",
        "import",
        "policies/workzone",
        "policies/workzone/entities.json",
        "--to",
        &url,
    ]);
    assert_eq!(import.code, common::OK, "{}", import.transcript());
    assert!(
        import.stderr.contains("imported "),
        "{}",
        import.transcript()
    );
    let again = common::casepol(&[
        "db",
        "import",
        "policies/workzone",
        "policies/workzone/entities.json",
        "--to",
        &url,
    ]);
    assert_eq!(again.code, common::ERROR, "{}", again.transcript());
    for user in ["BB", "AA", "CC", "RR"] {
        let args = |e: &str| {
            [
                "list",
                "policies/workzone",
                "--entities",
                e,
                "--principal",
                user,
                "--action",
                "view",
            ]
            .map(String::from)
        };
        let file = args("policies/workzone/entities.json");
        let base = args(&url);
        let from_file = common::casepol(&file.iter().map(String::as_str).collect::<Vec<_>>());
        let from_db = common::casepol(&base.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(from_file.code, common::OK, "{}", from_file.transcript());
        assert_eq!(from_db.stdout, from_file.stdout, "{user}");
    }
    let check = common::casepol(&[
        "check",
        "policies/workzone",
        "--entities",
        &url,
        "--request",
        r#"{"principal": "BB", "action": "view", "resource": "supp-1"}"#,
    ]);
    let by_file = common::casepol(&[
        "check",
        "policies/workzone",
        "--entities",
        "policies/workzone/entities.json",
        "--request",
        r#"{"principal": "BB", "action": "view", "resource": "supp-1"}"#,
    ]);
    assert_eq!((check.code, &check.stdout), (by_file.code, &by_file.stdout));
    let missing = common::casepol(&[
        "check",
        "policies/workzone",
        "--entities",
        "postgres://app:secret@127.0.0.1:1/none",
        "--request",
        r#"{"principal": "BB", "action": "view", "resource": "supp-1"}"#,
    ]);
    assert_eq!(missing.code, common::ERROR, "{}", missing.transcript());
    assert!(!missing.stderr.contains("secret"), "{}", missing.stderr);
    assert!(missing.stderr.contains("app:***@"), "{}", missing.stderr);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Values the columns hold as text but their attribute's type cannot take are reported with
/// their row before loading: an `int` that is no decimal integer, a `bool` that is neither
/// `true` nor `false`, and a non-set attribute with two rows.
#[test]
fn values_of_the_wrong_type_name_their_row() {
    let dir = tempdir("values");
    let policy = Policy::from_source("tests/data/queries/policy.casepol", world::POLICY).unwrap();
    let entities = policy
        .load_entities(&world::entities(5, 20).to_string())
        .unwrap();
    let path = dir.join("w.db");
    let target = Source::Sqlite(path.clone());
    db::init(&target).unwrap();
    db::import(&policy, &entities, &target).unwrap();
    let sql = rusqlite::Connection::open(&path).unwrap();
    let case: String = sql
        .query_row(
            "SELECT id FROM resources WHERE kind = 'Case' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    sql.execute_batch(&format!(
        "UPDATE resource_attrs SET value = 'high' WHERE resource_id = '{case}' AND name = 'priority';
         UPDATE resource_attrs SET value = 'yes' WHERE resource_id = '{case}' AND name = 'urgent';
         INSERT INTO resource_attrs VALUES ('{case}', 'channel', 'zzz');"
    ))
    .unwrap();
    let errors = db::load(&policy, &target).unwrap_err();
    let shown: String = errors.iter().map(|e| format!("error: {e}\n")).collect();
    insta::assert_snapshot!("db_load_wrong_types", shown);
    std::fs::remove_dir_all(dir).unwrap();
}

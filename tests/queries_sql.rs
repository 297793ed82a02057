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

/// For every user, action and module: the database's rows, `list` and `check` agree. Pages of
/// the filter (`--after`, `--limit`) are `list`'s pages, whole query and `where` alike. Returns
/// how many (user, action, module) questions were compared and how many rows were allowed.
fn compare(
    policy: &Policy,
    entities: &Entities,
    dialect: Dialect,
    mut run: impl FnMut(&sql::Filter, db::Form) -> Vec<String>,
) -> (usize, usize) {
    let q = Query::new(policy, entities);
    let mut questions = 0;
    let mut allowed = 0;
    for user in entities.user_ids() {
        for action in &policy.compiled().ir().actions {
            for module in modules(policy) {
                let module = module.as_deref();
                let filter = q.filter(user, &action.name, module, dialect).unwrap();
                let rows = run(&filter, db::Form::Select);
                let listing = q.list(user, &action.name, module, None).unwrap();
                let listed = listing.ids();
                // The first page, and a page from the middle, through the whole query and
                // through the `where` condition; the cursor as `list` gives it.
                let middle = listed.get(listed.len() / 2).cloned();
                for (after, limit, form) in [
                    (None, 3, db::Form::Select),
                    (middle.clone(), 5, db::Form::Select),
                    (middle, 4, db::Form::Where),
                ] {
                    let page = sql::Page {
                        after: after.clone(),
                        limit: Some(limit),
                    };
                    let f = q
                        .filter_page(user, &action.name, module, dialect, &page)
                        .unwrap();
                    let want: Vec<String> = listing
                        .page(after.as_deref(), limit)
                        .resources
                        .iter()
                        .map(|&r| entities.resource_id(r).to_string())
                        .collect();
                    assert_eq!(
                        run(&f, form),
                        want,
                        "{dialect:?} page {page:?} of {user} {} via {module:?}\n{}",
                        action.name,
                        f.select()
                    );
                }
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
    let tables = sql::tables(&policy, &entities).unwrap();
    let db = db::sqlite(&tables);
    let (questions, allowed) = compare(&policy, &entities, Dialect::Sqlite, |f, form| {
        db::sqlite_ids_as(&db, f, form)
    });
    // 12 users × 9 actions × 3 module choices, and a world where many answers are non-trivial.
    assert_eq!(questions, 12 * 9 * 3);
    assert!(allowed > 10_000, "only {allowed} allowed rows in all");
    // Every statement reads `resources` through an index: its kind's rows by `(kind, id)`, the
    // ancestors by primary key; never a scan of the whole table.
    let q = Query::new(&policy, &entities);
    let mut searched = 0;
    let mut paged = 0;
    let mut in_id_order = 0;
    for user in entities.user_ids() {
        for action in &policy.compiled().ir().actions {
            for module in modules(&policy) {
                for page in [
                    sql::Page::default(),
                    sql::Page {
                        after: Some("case-5".into()),
                        limit: Some(50),
                    },
                ] {
                    let f = q
                        .filter_page(
                            user,
                            &action.name,
                            module.as_deref(),
                            Dialect::Sqlite,
                            &page,
                        )
                        .unwrap();
                    if f.where_clause == "FALSE" {
                        // Checked once, before any row is read.
                        continue;
                    }
                    let plan = db::sqlite_plan(&db, &f);
                    for line in &plan {
                        let bad = match page.limit {
                            None => resources_scanned(line),
                            Some(_) => !page_step(line),
                        };
                        assert!(
                            !bad,
                            "{user} {} via {module:?}, {page:?}: `{line}` in\n{}\n{}",
                            action.name,
                            plan.join("\n"),
                            f.select()
                        );
                    }
                    if page.limit.is_some() {
                        paged += 1;
                        in_id_order += plan
                            .iter()
                            .filter(|l| {
                                l.starts_with(
                                    "SEARCH r USING INDEX sqlite_autoindex_resources_1 (id>?)",
                                )
                            })
                            .count();
                    }
                    searched += plan
                        .iter()
                        .filter(|l| l.starts_with("SEARCH r USING INDEX resources_kind (kind=?"))
                        .count();
                }
            }
        }
    }
    assert!(searched > 324, "{searched} kinds searched by index");
    // Pages: those of more than one kind read `resources` in id order from the cursor on.
    assert!(paged > 200, "only {paged} pages' plans checked");
    assert!(
        in_id_order > 100,
        "only {in_id_order} pages read resources in id order"
    );
}

/// Whether a step of SQLite's plan for a page (`LIMIT n`) is one that lets the page stop after
/// `n` rows at a cost that does not grow with the tables: the one scan of `resources` in id
/// order (its primary key, or `(kind, id)` for one kind), ancestors by primary key, and every
/// relation, attribute and code read by the key of the row at hand (`case_id`, `resource_id`,
/// an equality in the index's search, whichever index it is);
/// no sort of the answer (`USE TEMP B-TREE`) and no set read whole once (such as the cases a
/// user is on, which may be most of them). Sets of parameters (`json_each`) are read whole.
fn page_step(line: &str) -> bool {
    line == "SCAN r USING INDEX sqlite_autoindex_resources_1"
        || line == "SEARCH r USING INDEX sqlite_autoindex_resources_1 (id>?)"
        || line.starts_with("SEARCH r USING INDEX resources_kind (kind=?")
        || line.starts_with("SCAN json_each VIRTUAL TABLE")
        || line == "CREATE BLOOM FILTER"
        || line.starts_with("LIST SUBQUERY")
        || line.starts_with("CORRELATED SCALAR SUBQUERY")
        || (line.starts_with("SEARCH r") && line.ends_with(" sqlite_autoindex_resources_1 (id=?)"))
        || ((line.starts_with("SEARCH x ") || line.starts_with("SEARCH y "))
            && (line.contains("case_id=?") || line.contains("resource_id=?")))
}

/// Whether a line of SQLite's `EXPLAIN QUERY PLAN` reads the whole `resources` table (bound to
/// `r`, `r1`, `r2`, … in the filter's statements), or the whole of one of its indexes.
fn resources_scanned(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("SCAN r") else {
        return false;
    };
    let alias_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[alias_end..].is_empty() || rest[alias_end..].starts_with(' ')
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
    let tables = sql::tables(&policy, &entities).unwrap();
    db::postgres(&mut client, "casepol_equivalence", &tables);
    let (questions, allowed) = compare(&policy, &entities, Dialect::Postgres, |f, form| {
        db::postgres_ids_as(&mut client, f, form)
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
    let tables = sql::tables(&policy, &entities).unwrap();
    assert!(tables.attrs.iter().any(|(_, _, v)| v == world::INJECTION));
    let db = db::sqlite(&tables);
    let q = Query::new(&policy, &entities);
    // `dan` holds the term `'; DROP TABLE cases; --`, and his group Phones admits cases tagged
    // with it; `o'brien` is the owner and assignee of `c1`.
    for (user, action) in [("dan", "list"), ("dan", "view"), ("o'brien", "view")] {
        let filter = q.filter(user, action, None, Dialect::Sqlite).unwrap();
        let select = filter.select();
        assert!(
            filter
                .params
                .iter()
                .any(|p| matches!(p, sql::Param::Text(t) if t.contains('\''))),
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

/// The policy of the tests below: codes decide `view` and `edit`, a scope filter compares an
/// attribute with a literal full of SQL and JSON syntax, and a relation admits its holders.
const META_POLICY: &str = r#"
    role Clerk;
    action view, edit;
    codes { read: view, edit; write: edit; }
    group Clerks { grants Clerk; }
    group Tagged { grants Clerk; scope filter { tag == "50%_off'; --\\ \"x\"]"; } }
    case Case {
      attr tag: string;
      relation assignee;
    }
    casetype Plain { states Open; initial Open; }
    resource Note under Case {
      attr title: string;
      inherit read, write;
    }
    allow Clerk: view, edit;
    allow assignee: view;
"#;

/// Values that mean something in SQL or JSON text: quotes, a backslash, `LIKE`'s wildcards, a
/// statement separator, brackets and a comment.
const META: &str = r#"o'b"r\%_;[]--"#;

/// The entities of the tests below: `big` holds 70,000 terms besides values such as `%` and `_`
/// that match everything under `LIKE`; ids, codes and attribute values hold SQL and JSON syntax.
fn meta_entities(terms: usize) -> serde_json::Value {
    let mut big_terms: Vec<String> = (0..terms).map(|i| format!("T{i}")).collect();
    big_terms.extend(
        [
            "%",
            "_",
            "T_1",
            "\"",
            "\\",
            "'",
            "]",
            "[\"x\"]",
            world::INJECTION,
            // Not META itself: a term that is another user's id is refused at load time.
            &format!("{META}~"),
        ]
        .map(String::from),
    );
    let tag = "50%_off'; --\\ \"x\"]";
    let case = |id: &str, tag: &str, read: Option<&str>, assignee: Option<&str>| {
        let mut c = serde_json::json!({
            "id": id, "kind": "Case", "type": "Plain", "state": "Open",
            "attrs": {"tag": tag},
            "relations": {"assignee": assignee.into_iter().collect::<Vec<_>>()},
        });
        if let Some(r) = read {
            c["read"] = r.into();
        }
        c
    };
    let last = format!("T{}", terms.saturating_sub(1));
    serde_json::json!({
        "users": [
            {"id": "big", "groups": ["Clerks"], "terms": big_terms},
            {"id": META, "terms": ["T5", "%"]},
            {"id": "tagger", "groups": ["Tagged"], "terms": ["T5"]},
        ],
        "resources": [
            case("c'1", tag, Some("T5"), Some(META)),
            case("c\\2", "50X_offX; --\\ \"x\"]", Some(&last), None),
            case("c%3", tag, Some("TX1"), None),
            case("c_4", "", Some("T_1"), Some(META)),
            case("c;5", tag, Some("[T7] & [nobody|T2]"), None),
            case("c\"6", tag, Some("nobody"), None),
            case(&format!("{META}!"), tag, None, None),
            {"id": "n'1", "kind": "Note", "parent": "c'1", "attrs": {"title": META}, "read": "T3"},
            {"id": "n%2", "kind": "Note", "parent": "c%3", "attrs": {"title": "x"}, "inherit_read": false},
            {"id": "n_3", "kind": "Note", "parent": "c_4", "attrs": {"title": "x"}, "read": "ZZZ"},
        ],
    })
}

/// A user with 70,000 terms: the filter binds the principal's codes as one parameter, so the
/// statement stays within SQLite's limit of 32,766 parameters and PostgreSQL's of 65,535, and
/// selects exactly what `list` gives. Ids, codes and attribute values full of SQL and JSON
/// syntax are carried by parameters: `%` and `_` match only themselves, a quote ends nothing.
#[test]
fn a_user_with_70000_terms_and_values_full_of_sql_filter_like_list() {
    let policy = Policy::from_source("meta.casepol", META_POLICY)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let entities = policy
        .load_entities(&meta_entities(70_000).to_string())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let q = Query::new(&policy, &entities);
    // The expected answers, derived by hand from the codes each user holds: `big` holds `T5`,
    // the last term, `T_1`, `T7` and `T2`, and `T3` with `T5` up the chain, but not `TX1`,
    // `nobody` or `ZZZ`; `n%2` does not inherit the read code `TX1` of its case.
    let unrestricted = format!("{META}!");
    let expect: [(&str, &str, Vec<&str>); 5] = [
        (
            "big",
            "view",
            vec!["c'1", "c\\2", "c_4", "c;5", "n%2", "n'1", &unrestricted],
        ),
        (
            "big",
            "edit",
            vec!["c'1", "c\\2", "c_4", "c;5", "n%2", "n'1", &unrestricted],
        ),
        // The assignee of `c'1` and `c_4` holds only `T5` and `%` among the codes asked for.
        (META, "view", vec!["c'1"]),
        (META, "edit", vec![]),
        // The tag is compared as it is: `50X_offX…` does not match `50%_off…`.
        ("tagger", "view", vec!["c'1", "n%2", &unrestricted]),
    ];
    for (user, action, want) in expect {
        let mut want: Vec<String> = want.into_iter().map(String::from).collect();
        want.sort();
        assert_eq!(
            q.list(user, action, None, None).unwrap().ids(),
            want,
            "{user} {action}"
        );
    }
    let tables = sql::tables(&policy, &entities).unwrap();
    let db = db::sqlite(&tables);
    let (questions, allowed) = compare(&policy, &entities, Dialect::Sqlite, |f, form| {
        assert!(f.params.len() < 100, "{} parameters", f.params.len());
        db::sqlite_ids_as(&db, f, form)
    });
    assert_eq!((questions, allowed), (6, 21));
    // The rows are intact, and the values come back out unchanged.
    let ids: Vec<String> = db
        .prepare("SELECT id FROM resources ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(ids.len(), entities.resources().len());
    assert!(ids.contains(&unrestricted));
    let Ok(url) = std::env::var("CASEPOL_PG_URL") else {
        assert!(
            std::env::var_os("CASEPOL_PG_REQUIRED").is_none(),
            "CASEPOL_PG_REQUIRED is set but CASEPOL_PG_URL is not"
        );
        eprintln!("SKIPPED: the PostgreSQL half of this test: set CASEPOL_PG_URL to run it");
        return;
    };
    let mut client = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to CASEPOL_PG_URL: {e}"));
    db::postgres(&mut client, "casepol_meta", &tables);
    let (questions, allowed) = compare(&policy, &entities, Dialect::Postgres, |f, form| {
        assert!(f.params.len() < 100, "{} parameters", f.params.len());
        db::postgres_ids_as(&mut client, f, form)
    });
    assert_eq!((questions, allowed), (6, 21));
    client
        .batch_execute("DROP SCHEMA casepol_meta CASCADE")
        .unwrap();
}

/// A code holding U+0000 never reaches SQL: entities refuse control characters in terms (and
/// in ids and codes), so no user holds such a code. Some SQLite versions (3.40, for one) cut a
/// JSON string at an escaped U+0000, so `T5\0x` would have matched the code `T5`; the SQL
/// writer's own defence against that (such a value is a parameter of its own, never an element
/// of the JSON array) is tested in `src/query/sql.rs`.
#[test]
fn a_code_holding_nul_is_refused_before_it_reaches_sql() {
    let policy = Policy::from_source("meta.casepol", META_POLICY)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let json = serde_json::json!({
        "users": [{"id": "nul", "groups": ["Clerks"], "terms": ["T5\u{0}x", "T7"]}],
        "resources": [{"id": "c5", "kind": "Case", "type": "Plain", "state": "Open",
                       "attrs": {"tag": ""}, "read": "T5"}],
    });
    let errors = policy.load_entities(&json.to_string()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].message,
        "term 1 contains the control character U+0000"
    );
}

// ---- conditions asked of list and filter (`--where`) ------------------------------------------

/// What a question's condition reads of one resource, from the entities' JSON itself, so that
/// the expected rows are derived without casepol.
struct Seen<'a> {
    principal: &'a str,
    /// The principal's access groups, with the groups they nest in (`group Leads in Staff`).
    groups: &'a [String],
    resource: &'a serde_json::Value,
    case: Option<&'a serde_json::Value>,
}

impl Seen<'_> {
    fn kind(&self) -> &str {
        self.resource["kind"].as_str().unwrap()
    }
    fn case_attr(&self, a: &str) -> Option<&serde_json::Value> {
        self.case.map(|c| &c["attrs"][a])
    }
    /// The order of the case's `opened` among `world::OPENED`.
    fn opened(&self) -> Option<u8> {
        let text = self.case_attr("opened")?.as_str()?;
        world::OPENED
            .iter()
            .find(|(t, _)| *t == text)
            .map(|&(_, rank)| rank)
    }
    /// Whether the principal holds a relation of the case: listed, or a member of a group the
    /// relation lists (`relation_groups`).
    fn holds(&self, relation: &str) -> bool {
        self.case.is_some_and(|c| {
            c["relations"][relation]
                .as_array()
                .is_some_and(|us| us.iter().any(|u| u == self.principal))
                || c["relation_groups"][relation]
                    .as_array()
                    .is_some_and(|gs| gs.iter().any(|g| self.groups.iter().any(|m| g == m)))
        })
    }
}

type Expect = fn(&Seen<'_>) -> bool;

/// Conditions of every kind of term, each with its literal reading: a term that reads the case
/// of a resource in no case fails, `not` or not.
const CONDITIONS: &[(&str, Option<&str>, Expect)] = &[
    ("case.access_mode == restricted", None, |s| {
        s.case_attr("access_mode").is_some_and(|m| m == "restricted")
    }),
    ("resource.access_mode != open", Some("Case"), |s| {
        s.kind() == "Case" && s.resource["attrs"]["access_mode"] != "open"
    }),
    ("case.priority > 1 and not case.urgent", None, |s| {
        s.case_attr("priority").is_some_and(|p| p.as_i64().unwrap() > 1)
            && s.case_attr("urgent").is_some_and(|u| u == false)
    }),
    ("principal is assignee", Some("Document"), |s| {
        s.kind() == "Document" && s.holds("assignee")
    }),
    (
        "not principal is watcher and case.region in [\"north\", \"o'hara\"]",
        None,
        |s| {
            !s.holds("watcher")
                && s.case_attr("region").is_some_and(|r| r == "north" || r == "o'hara")
        },
    ),
    ("case.tags contains \"fraud\" and case.channel != web", None, |s| {
        s.case_attr("tags")
            .is_some_and(|t| t.as_array().unwrap().iter().any(|x| x == "fraud"))
            && s.case_attr("channel").is_some_and(|c| c != "web")
    }),
    ("case.owner == principal", None, |s| {
        s.case_attr("owner").is_some_and(|o| o == s.principal)
    }),
    (
        "resource.title in [\"Document 1\", \"Document 2\", \"Document 3\", \"Document 5\", \"Document 8\", \"Document 13\", \"Document 21\", \"Document 34\"]",
        Some("Document"),
        |s| {
            let t = s.resource["attrs"]["title"].as_str().unwrap_or("");
            s.kind() == "Document"
                && [1, 2, 3, 5, 8, 13, 21, 34]
                    .iter()
                    .any(|n| t == format!("Document {n}"))
        },
    ),
    ("resource.name != \"Contact 0\"", Some("Contact"), |s| {
        s.kind() == "Contact" && s.resource["attrs"]["name"] != "Contact 0"
    }),
    // Datetimes: the literal is the instant of rank 1 (and of rank 2) written with another
    // offset than the stored values, compared as instants in memory and in SQL.
    (
        "case.opened >= \"2025-06-01T01:00:00+01:00\" and case.opened < \"2025-12-31T23:00:00-01:00\"",
        None,
        |s| s.opened().is_some_and(|r| r == 1),
    ),
    ("resource.opened != \"2026-01-01T00:00:00.000Z\"", Some("Case"), |s| {
        s.kind() == "Case" && s.opened().is_some_and(|r| r != 2)
    }),
    ("case.opened > \"2025-05-31T23:59:59.999999Z\"", None, |s| {
        s.opened().is_some_and(|r| r > 0)
    }),
    // A value that would end a SQL string and drop a table, which the entities hold: bound as
    // a parameter, it selects the cases whose region it is, and the tables stay.
    (
        "case.region == \"'; DROP TABLE cases; --\"",
        None,
        |s| s.case_attr("region").is_some_and(|r| r == world::INJECTION),
    ),
    // A string no entity holds: equal to nothing, different from everything.
    ("case.region == \"nowhere'; --\"", None, |_| false),
    ("case.region != \"nowhere'; --\"", None, |s| s.case.is_some()),
];

/// For every condition, user, module and some actions: the database's rows, `list` with the
/// condition, and `list` without it filtered by the condition's literal reading agree. Returns
/// the questions, the rows selected, and per condition the questions whose rows it narrowed.
fn compare_conditions<'j>(
    policy: &Policy,
    json: &'j serde_json::Value,
    entities: &Entities,
    dialect: Dialect,
    mut run: impl FnMut(&sql::Filter) -> Vec<String>,
) -> (usize, usize, Vec<usize>) {
    use casepol::query::Condition;
    let resources: std::collections::HashMap<&'j str, &'j serde_json::Value> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    let case_of = |mut r: &'j serde_json::Value| -> Option<&'j serde_json::Value> {
        loop {
            if r["kind"] == "Case" {
                return Some(r);
            }
            r = resources.get(r["parent"].as_str()?).copied()?;
        }
    };
    // Each user's groups, and the groups those nest in (tests/data/queries/policy.casepol).
    const NESTED: &[(&str, &str)] = &[("Leads", "Staff")];
    let groups: std::collections::HashMap<&str, Vec<String>> = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let mut gs: Vec<String> = u["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| g.as_str().unwrap().to_string())
                .collect();
            for (inner, outer) in NESTED {
                if gs.iter().any(|g| g == inner) {
                    gs.push(outer.to_string());
                }
            }
            (u["id"].as_str().unwrap(), gs)
        })
        .collect();
    let (mut questions, mut rows_in_all) = (0, 0);
    let mut narrowed = vec![0; CONDITIONS.len()];
    let plain = Query::new(policy, entities);
    for (i, (text, kind, expect)) in CONDITIONS.iter().enumerate() {
        let condition = Condition::new(policy, "--where", text, *kind)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let q = Query::new(policy, entities).with_condition(&condition);
        for user in entities.user_ids() {
            for action in ["view", "edit", "comment", "list"] {
                for module in modules(policy) {
                    let module = module.as_deref();
                    let filter = q.filter(user, action, module, dialect).unwrap();
                    // The condition's values are parameters, never text of the statement.
                    assert!(!filter.where_clause.contains("DROP"), "{text}");
                    let rows = run(&filter);
                    let listed = q.list(user, action, module, *kind).unwrap().ids();
                    assert_eq!(
                        rows, listed,
                        "{dialect:?}: {text}: {user} {action} via {module:?}"
                    );
                    let all = plain.list(user, action, module, None).unwrap().ids();
                    let expected: Vec<String> = all
                        .iter()
                        .filter(|id| {
                            let r = *resources.get(id.as_str()).unwrap();
                            expect(&Seen {
                                principal: user,
                                groups: &groups[user],
                                resource: r,
                                case: case_of(r),
                            })
                        })
                        .cloned()
                        .collect();
                    assert_eq!(listed, expected, "{text}: {user} {action} via {module:?}");
                    questions += 1;
                    rows_in_all += rows.len();
                    if !rows.is_empty() && rows.len() < all.len() {
                        narrowed[i] += 1;
                    }
                }
            }
        }
    }
    (questions, rows_in_all, narrowed)
}

fn assert_conditions_reached(questions: usize, rows: usize, narrowed: &[usize]) {
    assert_eq!(questions, CONDITIONS.len() * 12 * 4 * 3);
    assert!(rows > 10_000, "only {rows} rows in all");
    for ((text, ..), n) in CONDITIONS.iter().zip(narrowed) {
        // The string no entity holds selects nothing; every other condition must have
        // selected some rows and left out others.
        if text.contains("nowhere") && text.contains("==") {
            assert_eq!(*n, 0, "{text}");
        } else {
            assert!(*n > 0, "{text} never narrowed a non-empty answer");
        }
    }
}

#[test]
fn sqlite_rows_with_a_condition_equal_list_and_its_literal_reading() {
    let json = world::entities(11, 2_000);
    let (policy, _) = generated(11, 1);
    let entities = policy.load_entities(&json.to_string()).unwrap();
    let tables = sql::tables(&policy, &entities).unwrap();
    let db = db::sqlite(&tables);
    let (questions, rows, narrowed) =
        compare_conditions(&policy, &json, &entities, Dialect::Sqlite, |f| {
            db::sqlite_ids(&db, f)
        });
    assert_conditions_reached(questions, rows, &narrowed);
}

#[test]
fn postgres_rows_with_a_condition_equal_list_and_its_literal_reading() {
    let Ok(url) = std::env::var("CASEPOL_PG_URL") else {
        assert!(
            std::env::var_os("CASEPOL_PG_REQUIRED").is_none(),
            "CASEPOL_PG_REQUIRED is set but CASEPOL_PG_URL is not"
        );
        eprintln!("SKIPPED: postgres_rows_with_a_condition_equal_list_and_its_literal_reading: set CASEPOL_PG_URL to run it against PostgreSQL");
        return;
    };
    let mut client = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to CASEPOL_PG_URL: {e}"));
    let json = world::entities(11, 2_000);
    let (policy, _) = generated(11, 1);
    let entities = policy.load_entities(&json.to_string()).unwrap();
    let tables = sql::tables(&policy, &entities).unwrap();
    db::postgres(&mut client, "casepol_conditions", &tables);
    let (questions, rows, narrowed) =
        compare_conditions(&policy, &json, &entities, Dialect::Postgres, |f| {
            db::postgres_ids(&mut client, f)
        });
    assert_conditions_reached(questions, rows, &narrowed);
    client
        .batch_execute("DROP SCHEMA casepol_conditions CASCADE")
        .unwrap();
}

/// The shipped examples of docs/queries.md §5, in SQLite with their own entities: no step of
/// the plan reads the whole of `resources`, and the plan of the WorkZone example is the one the
/// document shows (a snapshot).
#[test]
fn the_plans_of_the_shipped_examples_search_resources_by_index() {
    let examples = [
        ("policies/workzone", "BB", "view", None),
        ("policies/efob", "mark", "edit", Some("Cases")),
    ];
    for (dir, user, action, module) in examples {
        let policy = Policy::from_path(dir).unwrap_or_else(|e| panic!("{e:?}"));
        let entities = policy
            .load_entities_from_path(format!("{dir}/entities.json"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let db = db::sqlite(&sql::tables(&policy, &entities).unwrap());
        let q = Query::new(&policy, &entities);
        let f = q.filter(user, action, module, Dialect::Sqlite).unwrap();
        assert_eq!(
            db::sqlite_ids(&db, &f),
            q.list(user, action, module, None).unwrap().ids()
        );
        let plan = db::sqlite_plan(&db, &f);
        assert!(
            plan.iter()
                .any(|l| l.starts_with("SEARCH r USING INDEX resources_kind")),
            "{plan:?}"
        );
        for line in &plan {
            assert!(!resources_scanned(line), "{dir}: `{line}` in {plan:#?}");
        }
        if dir == "policies/workzone" {
            insta::assert_snapshot!("workzone_sqlite_plan", db::sqlite_plan_tree(&db, &f));
        }
    }
}

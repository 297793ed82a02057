//! `casepol serve --entities postgres://…` follows the database (docs/database.md §7): a
//! transaction committed from another connection changes the server's decisions, a killed
//! connection is opened again and what was committed meanwhile is caught up, a restarted server
//! starts from the database as it is, and no answer's version ever goes backwards. Runs against
//! the PostgreSQL of `CASEPOL_PG_URL` (`.ci/run` starts one and sets `CASEPOL_PG_REQUIRED`, so
//! there a missing server fails the test instead of skipping it).

#[allow(dead_code)]
#[path = "serve/client.rs"]
mod client;
#[path = "common/pg.rs"]
mod pg;
use pg::{pg_database, pg_drop, pg_url};

use client::{Conn, Server};
use std::path::Path;
use std::time::{Duration, Instant};

/// A fresh database `name` holding the WorkZone example's entities, and its URL.
fn workzone_database(url: &str, name: &str) -> String {
    let db = pg_database(url, name);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/workzone");
    let policy = casepol::Policy::from_path(&root).unwrap();
    let text = std::fs::read_to_string(root.join("entities.json")).unwrap();
    let entities = policy.load_entities(&text).unwrap();
    let source = casepol::db::Source::Postgres(db.clone());
    casepol::db::init(&source).unwrap();
    casepol::db::import(&policy, &entities, &source).unwrap();
    db
}

fn serve(db: &str) -> Server {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/workzone");
    Server::start(&root, Path::new(db), &[], &[])
}

const QUESTION: &str = r#"{"principal": "BB", "action": "view", "resource": "supp-1"}"#;

/// Asks the question; checks that the version never went below `seen` and raises it.
fn ask(conn: &mut Conn, seen: &mut u64) -> String {
    let reply = conn.post("/v1/check", QUESTION).json();
    let version = reply["version"].as_u64().unwrap();
    assert!(version >= *seen, "version {version} after {seen}");
    *seen = version;
    reply["decision"].as_str().unwrap().to_string()
}

/// Polls until the decision is `want`, within `bound`; the time it took.
fn wait_for(conn: &mut Conn, seen: &mut u64, want: &str, bound: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if ask(conn, seen) == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < bound,
            "the decision did not become {want} within {bound:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// BB views `supp-1` through their unit `PERS`: removing it denies, adding it back allows.
fn toggle(db: &mut postgres::Client, member: bool) {
    let sql = match member {
        true => "INSERT INTO user_units VALUES ('BB', 'PERS')",
        false => "DELETE FROM user_units WHERE user_id = 'BB' AND unit_id = 'PERS'",
    };
    db.batch_execute(sql).unwrap();
}

#[test]
fn a_commit_changes_the_decisions_and_is_announced() {
    let Some(url) = pg_url("a_commit_changes_the_decisions_and_is_announced") else {
        return;
    };
    let name = "casepol_follow_commit";
    let db = workzone_database(&url, name);
    let server = serve(&db);
    let mut conn = server.connect();
    let mut events = server.connect();
    assert_eq!(events.events(), 200);
    let mut pending = String::new();
    let (ready, _, _) = events.next_event(&mut pending).unwrap();
    assert_eq!(ready, "ready");
    let mut seen = 0;
    assert_eq!(ask(&mut conn, &mut seen), "allow");
    let mut writer = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let mut took = Vec::new();
    for round in 0..20 {
        let member = round % 2 == 1;
        toggle(&mut writer, member);
        let want = if member { "allow" } else { "deny" };
        took.push(wait_for(&mut conn, &mut seen, want, Duration::from_secs(5)));
    }
    // Every transaction is one change set: one version each.
    assert_eq!(seen, 21);
    // The first one's event: BB lost access, caused by the change to BB.
    let (kind, id, data) = events.next_event(&mut pending).unwrap();
    assert_eq!((kind.as_str(), id), ("changes", Some(2)), "{data}");
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    let lost = data["events"].as_array().unwrap();
    assert!(
        lost.iter().any(|e| e["user"] == "BB"
            && e["resource"] == "supp-1"
            && e["action"] == "view"
            && e["access"] == "lost"),
        "{data}"
    );
    // The last change-log row applied, for operators.
    let last: i64 = writer
        .query_one("SELECT max(seq) FROM change_log", &[])
        .unwrap()
        .get(0);
    let start = Instant::now();
    loop {
        let metrics = conn.get("/metrics").text();
        if metrics.contains(&format!("casepol_follow_last_seq {last}\n")) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{metrics}");
        std::thread::sleep(Duration::from_millis(5));
    }
    took.sort();
    eprintln!(
        "commit to changed decision over {} commits: median {:?}, max {:?}",
        took.len(),
        took[took.len() / 2],
        took[took.len() - 1]
    );
    drop(server);
    pg_drop(&url, name);
}

#[test]
fn a_killed_connection_is_opened_again_and_caught_up_and_a_restart_resumes() {
    let Some(url) =
        pg_url("a_killed_connection_is_opened_again_and_caught_up_and_a_restart_resumes")
    else {
        return;
    };
    let name = "casepol_follow_kill";
    let db = workzone_database(&url, name);
    let mut server = serve(&db);
    let mut conn = server.connect();
    let mut seen = 0;
    assert_eq!(ask(&mut conn, &mut seen), "allow");
    let mut writer = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    for round in 0..3 {
        // Kill the server's connection, then commit while it is away. The server answers
        // before its follower has connected (it loads on a connection of its own), so wait for
        // the follower's connection first.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut held = 0;
        while std::time::Instant::now() < deadline {
            held = writer
                .query(
                    "SELECT pid FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .unwrap()
                .len();
            if held == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(held, 1, "the server holds one connection");
        let killed = writer
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap();
        assert_eq!(killed.len(), 1, "the server holds one connection");
        let member = round % 2 == 1;
        toggle(&mut writer, member);
        let want = if member { "allow" } else { "deny" };
        wait_for(&mut conn, &mut seen, want, Duration::from_secs(10));
    }
    let said = server.stderr.lock().unwrap().join("\n");
    assert!(said.contains("reconnecting"), "{said}");
    // Each change applied once: three versions after the first.
    assert_eq!(seen, 4);
    assert_eq!(ask(&mut conn, &mut seen), "deny");
    // A restart loads the database as it is, including what was committed while it was down.
    server.stop();
    toggle(&mut writer, true);
    let server = serve(&db);
    let mut conn = server.connect();
    let mut seen = 0;
    assert_eq!(ask(&mut conn, &mut seen), "allow");
    toggle(&mut writer, false);
    wait_for(&mut conn, &mut seen, "deny", Duration::from_secs(5));
    drop(server);
    pg_drop(&url, name);
}

/// Polls until the served version reaches `want`, within 5 s.
fn wait_version(conn: &mut Conn, seen: &mut u64, want: u64) {
    let start = Instant::now();
    while *seen < want {
        ask(conn, seen);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "version {want} was not reached"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A transaction that drew its change-log numbers first but commits last is applied too: the
/// follower goes by snapshots, not by sequence numbers (docs/database.md §7.2). And a
/// transaction whose rows break the entity rules is refused, logged, and leaves the version
/// served; the next one applies.
#[test]
fn transactions_apply_in_commit_order_and_a_broken_one_is_refused() {
    let Some(url) = pg_url("transactions_apply_in_commit_order_and_a_broken_one_is_refused") else {
        return;
    };
    let name = "casepol_follow_order";
    let db = workzone_database(&url, name);
    let server = serve(&db);
    let mut conn = server.connect();
    let mut seen = 0;
    assert_eq!(ask(&mut conn, &mut seen), "allow");
    let mut slow = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let mut fast = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let mut early = slow.transaction().unwrap();
    early
        .batch_execute("DELETE FROM user_units WHERE user_id = 'BB' AND unit_id = 'PERS'")
        .unwrap();
    let early_seq: i64 = early
        .query_one("SELECT max(seq) FROM change_log", &[])
        .unwrap()
        .get(0);
    fast.batch_execute("INSERT INTO user_terms VALUES ('AA', 'EXTRA')")
        .unwrap();
    let late_seq: i64 = fast
        .query_one("SELECT max(seq) FROM change_log", &[])
        .unwrap()
        .get(0);
    assert!(early_seq < late_seq);
    wait_version(&mut conn, &mut seen, 2);
    assert_eq!(ask(&mut conn, &mut seen), "allow");
    early.commit().unwrap();
    wait_for(&mut conn, &mut seen, "deny", Duration::from_secs(5));
    assert_eq!(seen, 3);
    // A relation the policy does not declare: refused, the version stays.
    fast.batch_execute("INSERT INTO case_relations VALUES ('case-1', 'assignee', 'nobody')")
        .unwrap();
    let start = Instant::now();
    loop {
        let said = server.stderr.lock().unwrap().join("\n");
        if said.contains("was not applied") {
            assert!(said.contains("unknown relation `assignee`"), "{said}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{said}");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ask(&mut conn, &mut seen), "deny");
    assert_eq!(seen, 3);
    // Fixed by the next transaction, which writes the case as it then is.
    fast.batch_execute(
        "DELETE FROM case_relations WHERE user_id = 'nobody'; \
         INSERT INTO user_units VALUES ('BB', 'PERS')",
    )
    .unwrap();
    wait_for(&mut conn, &mut seen, "allow", Duration::from_secs(5));
    assert_eq!(seen, 4);
    drop(server);
    pg_drop(&url, name);
}

//! The scale figures of docs/performance.md §7, run by bench/sql-scale.sh: on the generated world
//! of the SQL tests (tests/common/world.rs) at `CASEPOL_BENCH_CASES` cases (1,000,000 by
//! default), the filter's statement for the indexes and the correlated one it replaced
//! (`sql::compile_correlated`), side by side in one run, in SQLite (in memory) and in
//! PostgreSQL (`CASEPOL_PG_URL`, in a schema of its own that it drops at the end): the first
//! page of 50 allowed ids ordered by id, and the whole answer. Then loading the entities from
//! PostgreSQL (`casepol::db::load`) against loading the same entities from their JSON. With
//! `CASEPOL_BENCH_ONLY=load`, only loading: from JSON, from a SQLite file it imports, and from
//! PostgreSQL, side by side.
//!
//! Prints one line per figure, `name<TAB>median<TAB>runs`, and the plans of the statements to
//! the directory given as its first argument.

#[path = "../tests/common/db.rs"]
mod db;
#[path = "../tests/common/world.rs"]
mod world;

use casepol::db::Source;
use casepol::query::sql::{self, Dialect, Filter, Page};
use casepol::query::Query;
use casepol::Policy;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The time this thread has run on a CPU (Linux: `/proc/thread-self/schedstat`, nanoseconds),
/// or `None` elsewhere. On a machine others load, it is what SQLite (which runs in this thread)
/// cost, where the wall clock also counts the time spent waiting for a core.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `f` `runs` times and prints its median wall time, each run's, and the median time on a
/// CPU of this thread (`cpu`; for PostgreSQL, which runs in a process of its own, only the
/// client's share); returns the last result.
fn measure<T>(name: &str, runs: usize, mut f: impl FnMut() -> T) -> T {
    let mut times = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let c = cpu_time();
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
        if let (Some(before), Some(after)) = (c, cpu_time()) {
            cpu.push(after.saturating_sub(before));
        }
    }
    let m = median(times.clone());
    let cpu = match cpu.is_empty() {
        true => String::new(),
        false => format!("\tcpu {:.3} ms", median(cpu).as_secs_f64() * 1e3),
    };
    println!(
        "{name}\t{:.3} ms\t{}{cpu}",
        m.as_secs_f64() * 1e3,
        times
            .iter()
            .map(|t| format!("{:.1}", t.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(" ")
    );
    last.expect("at least one run")
}

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or("target/perf".into()));
    std::fs::create_dir_all(&out).expect("the output directory");
    let n: usize = std::env::var("CASEPOL_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runs_full: usize = std::env::var("CASEPOL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let policy = Policy::from_source("policy.casepol", world::POLICY).expect("policy checks");
    let t = Instant::now();
    let json = world::entities(42, n).to_string();
    eprintln!(
        "generated {} MB of JSON in {:.1?}",
        json.len() / 1_000_000,
        t.elapsed()
    );
    let entities = measure("load/json", 3, || {
        policy.load_entities(&json).expect("entities load")
    });
    drop(json);
    eprintln!("{} resources", entities.resources().len());
    // `CASEPOL_BENCH_ONLY=load`: the loads only, side by side.
    let only = std::env::var("CASEPOL_BENCH_ONLY").unwrap_or_default();
    if only == "load" {
        loads(&policy, &entities, &out);
        return;
    }
    let users = ["ann", "fay", "bob"];
    let q = Query::new(&policy, &entities);
    let first = Page {
        after: None,
        limit: Some(50),
    };
    let statements = |dialect: Dialect| -> Vec<(String, Filter)> {
        let mut v = Vec::new();
        for user in users {
            let residual = q.residual(user, "view", None).expect("a residual");
            for (form, page) in [("page50", &first), ("all", &Page::default())] {
                let new = sql::compile_page(&policy, &residual, dialect, page).expect("SQL");
                let old = sql::compile_correlated(&policy, &residual, dialect, page).expect("SQL");
                v.push((format!("{form}/{user}/indexed"), new));
                v.push((format!("{form}/{user}/correlated"), old));
            }
        }
        v
    };
    let expected = |user: &str, page: bool| -> Vec<String> {
        let listing = q.list(user, "view", None, None).expect("a listing");
        let ids = listing.ids();
        match page {
            true => ids.into_iter().take(50).collect(),
            false => ids,
        }
    };

    // `CASEPOL_BENCH_ONLY=postgres` leaves SQLite out.
    let tables = sql::tables(&policy, &entities).expect("rows");
    let t = Instant::now();
    let sqlite = db::sqlite(&match only.as_str() {
        "postgres" => sql::Tables::default(),
        _ => tables,
    });
    eprintln!("SQLite: loaded in {:.1?}", t.elapsed());
    for (name, f) in statements(Dialect::Sqlite) {
        if only == "postgres" {
            break;
        }
        let mut parts = name.split('/');
        let (form, user) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let runs = match (form, name.ends_with("correlated")) {
            ("all", true) => 1,
            ("all", false) => runs_full,
            _ => 11,
        };
        let ids = measure(&format!("sqlite/{name}"), runs, || {
            db::sqlite_ids(&sqlite, &f)
        });
        assert_eq!(ids, expected(user, form == "page50"), "sqlite/{name}");
        let plan = db::sqlite_plan(&sqlite, &f).join("\n");
        std::fs::write(
            out.join(format!("plan-sqlite-{}.txt", name.replace('/', "-"))),
            format!("{}\n\n{plan}\n", f.select()),
        )
        .expect("the plan written");
    }
    drop(sqlite);

    let Some((mut client, source, keep)) = postgres_world(&policy, &entities) else {
        return;
    };
    client
        .batch_execute("SET search_path TO casepol_scale; ANALYZE; SET jit = off")
        .expect("analyze");
    // A statement that runs longer than this (`CASEPOL_BENCH_TIMEOUT`, seconds) is cancelled and
    // reported so; the run goes on.
    let timeout: u64 = std::env::var("CASEPOL_BENCH_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    client
        .batch_execute(&format!("SET statement_timeout = '{timeout}s'"))
        .expect("a timeout");
    for (name, f) in statements(Dialect::Postgres) {
        let mut parts = name.split('/');
        let (form, user) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let runs = match (form, name.ends_with("correlated")) {
            ("all", true) => 1,
            ("all", false) => runs_full,
            _ => 11,
        };
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = f
            .params
            .iter()
            .map(|p| match p {
                sql::Param::Text(t) => t as &(dyn postgres::types::ToSql + Sync),
                sql::Param::Array(a) => a as &(dyn postgres::types::ToSql + Sync),
            })
            .collect();
        let select = f.select();
        // After a statement is cancelled, its other runs are not tried.
        let mut failed: Option<String> = None;
        let ids = measure(&format!("postgres/{name}"), runs, || {
            if let Some(e) = &failed {
                return Err(e.clone());
            }
            client
                .query(&select, &params)
                .map(|rows| {
                    rows.iter()
                        .map(|row| row.get::<_, String>(0))
                        .collect::<Vec<String>>()
                })
                .map_err(|e| {
                    failed = Some(e.to_string());
                    e.to_string()
                })
        });
        let ids = match ids {
            Ok(ids) => ids,
            Err(e) => {
                println!("postgres/{name}\tnot finished: {e} (statement_timeout {timeout} s)");
                // Its plan without running it.
                let plan: Vec<String> = client
                    .query(&format!("EXPLAIN {select}"), &params)
                    .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
                    .unwrap_or_default();
                std::fs::write(
                    out.join(format!("plan-postgres-{}.txt", name.replace('/', "-"))),
                    format!("{select}\n\n{}\n", plan.join("\n")),
                )
                .expect("the plan written");
                continue;
            }
        };
        assert_eq!(ids, expected(user, form == "page50"), "postgres/{name}");
        let plan = db::postgres_plan(&mut client, &f).join("\n");
        std::fs::write(
            out.join(format!("plan-postgres-{}.txt", name.replace('/', "-"))),
            format!("{}\n\n{plan}\n", f.select()),
        )
        .expect("the plan written");
    }
    // Last, so that a failure here leaves the figures above printed.
    let loaded = measure("load/postgres", 3, || casepol::db::load(&policy, &source));
    match loaded {
        Ok(loaded) => assert_eq!(loaded.resources().len(), entities.resources().len()),
        Err(e) => eprintln!("loading from PostgreSQL failed: {e:?}"),
    }
    if !keep {
        client
            .batch_execute("DROP SCHEMA casepol_scale CASCADE")
            .expect("the schema dropped");
    }
}

/// The PostgreSQL of `CASEPOL_PG_URL` with the entities in its schema `casepol_scale` (imported,
/// or kept from a run of the same size): a client, the source that loads them, and whether to
/// keep the schema at the end. `None` when no URL is set.
fn postgres_world(
    policy: &Policy,
    entities: &casepol::Entities,
) -> Option<(postgres::Client, Source, bool)> {
    let Ok(url) = std::env::var("CASEPOL_PG_URL") else {
        eprintln!("PostgreSQL: skipped; set CASEPOL_PG_URL to measure it");
        return None;
    };
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("PostgreSQL");
    // `CASEPOL_BENCH_KEEP=1` keeps the schema at the end, and a schema kept from a run of the
    // same size is used again instead of importing the rows anew.
    let keep = std::env::var_os("CASEPOL_BENCH_KEEP").is_some();
    let kept: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'casepol_scale' AND tablename = 'resources'",
            &[],
        )
        .map(|row| row.get(0))
        .unwrap_or(0);
    let kept = kept == 1
        && client
            .query_one("SELECT count(*) FROM casepol_scale.resources", &[])
            .map(|row| row.get::<_, i64>(0) as usize == entities.resources().len())
            .unwrap_or(false);
    if !kept {
        client
            .batch_execute(
                "DROP SCHEMA IF EXISTS casepol_scale CASCADE; CREATE SCHEMA casepol_scale",
            )
            .expect("a schema");
    }
    // The schema's triggers record every change for servers that follow the database; a bulk
    // import into a fresh schema needs no change log (session_replication_role needs a superuser,
    // as the test server has).
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!(
        "{url}{sep}options=-c%20search_path%3Dcasepol_scale%20-c%20session_replication_role%3Dreplica"
    );
    let source = Source::Postgres(scoped);
    if kept {
        eprintln!("PostgreSQL: the rows of a kept schema used again");
    } else {
        casepol::db::init(&source).expect("the schema");
        let t = Instant::now();
        let rows = casepol::db::import(policy, entities, &source).expect("the import");
        eprintln!(
            "PostgreSQL: {rows} rows imported (COPY) in {:.1?}",
            t.elapsed()
        );
    }
    Some((client, source, keep))
}

/// `CASEPOL_BENCH_ONLY=load`: loading the same entities from SQLite (a file imported here) and
/// from PostgreSQL, after loading them from JSON, and nothing else.
fn loads(policy: &Policy, entities: &casepol::Entities, out: &std::path::Path) {
    let path = out.join("load.sqlite");
    let _ = std::fs::remove_file(&path);
    let sqlite = Source::Sqlite(path.clone());
    casepol::db::init(&sqlite).expect("the SQLite schema");
    let t = Instant::now();
    let rows = casepol::db::import(policy, entities, &sqlite).expect("the SQLite import");
    eprintln!("SQLite: {rows} rows imported in {:.1?}", t.elapsed());
    let loaded = measure("load/sqlite", 3, || casepol::db::load(policy, &sqlite));
    match loaded {
        Ok(loaded) => assert_eq!(loaded.resources().len(), entities.resources().len()),
        Err(e) => eprintln!("loading from SQLite failed: {e:?}"),
    }
    let _ = std::fs::remove_file(&path);
    let Some((mut client, source, keep)) = postgres_world(policy, entities) else {
        return;
    };
    client
        .batch_execute("SET search_path TO casepol_scale; ANALYZE")
        .expect("analyze");
    let loaded = measure("load/postgres", 3, || casepol::db::load(policy, &source));
    match loaded {
        Ok(loaded) => assert_eq!(loaded.resources().len(), entities.resources().len()),
        Err(e) => eprintln!("loading from PostgreSQL failed: {e:?}"),
    }
    if !keep {
        client
            .batch_execute("DROP SCHEMA casepol_scale CASCADE")
            .expect("the schema dropped");
    }
}

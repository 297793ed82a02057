//! Query benchmarks at scale: `list` over 1,000,000 in-memory cases (with their documents,
//! attachments and contacts), and the SQL filter over the same rows in SQLite, and in
//! PostgreSQL when `CASEPOL_PG_URL` is set. The world is the generated one of the SQL tests
//! (tests/common/world.rs); `CASEPOL_BENCH_CASES` changes its size.

#[path = "../tests/common/db.rs"]
mod db;
#[path = "../tests/common/world.rs"]
mod world;

use casepol::query::sql::{self, Dialect};
use casepol::query::Query;
use casepol::Policy;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Instant;

fn cases() -> usize {
    std::env::var("CASEPOL_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Escapes a value for PostgreSQL's COPY text format.
fn copy_text(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn copy_postgres(client: &mut postgres::Client, tables: &sql::Tables) {
    use std::io::Write;
    client
        .batch_execute(
            "DROP SCHEMA IF EXISTS casepol_bench CASCADE; CREATE SCHEMA casepol_bench; SET search_path TO casepol_bench; SET jit = off;",
        )
        .unwrap();
    client.batch_execute(db::POSTGRES_SCHEMA).unwrap();
    let opt = |v: &Option<String>| v.as_deref().map(copy_text).unwrap_or_else(|| "\\N".into());
    let mut w = client
        .copy_in("COPY resources (id, kind, parent_id, case_type, state, inherit_read, inherit_write) FROM STDIN")
        .unwrap();
    for r in &tables.resources {
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            copy_text(&r.id),
            copy_text(&r.kind),
            opt(&r.parent_id),
            opt(&r.case_type),
            opt(&r.state),
            r.inherit_read,
            r.inherit_write
        )
        .unwrap();
    }
    w.finish().unwrap();
    for (table, rows) in [
        ("resource_attrs (resource_id, name, value)", &tables.attrs),
        (
            "case_relations (case_id, relation, user_id)",
            &tables.relations,
        ),
    ] {
        let mut w = client.copy_in(&format!("COPY {table} FROM STDIN")).unwrap();
        for (a, b, c) in rows.iter() {
            writeln!(w, "{}\t{}\t{}", copy_text(a), copy_text(b), copy_text(c)).unwrap();
        }
        w.finish().unwrap();
    }
    let mut w = client
        .copy_in("COPY access_codes (resource_id, class, level, code) FROM STDIN")
        .unwrap();
    for c in &tables.codes {
        writeln!(
            w,
            "{}\t{}\t{}\t{}",
            copy_text(&c.resource_id),
            c.class,
            c.level,
            copy_text(&c.code)
        )
        .unwrap();
    }
    w.finish().unwrap();
    client.batch_execute("ANALYZE").unwrap();
}

fn bench(c: &mut Criterion) {
    let n = cases();
    let t = Instant::now();
    let policy = Policy::from_source("policy.casepol", world::POLICY).expect("policy checks");
    let json = world::entities(42, n).to_string();
    let generated = t.elapsed();
    let t = Instant::now();
    let entities = policy.load_entities(&json).expect("entities load");
    eprintln!(
        "world: {n} cases, {} resources, {} MB of JSON generated in {generated:.1?}, loaded in {:.1?}",
        entities.resources().len(),
        json.len() / 1_000_000,
        t.elapsed()
    );
    drop(json);
    let q = Query::new(&policy, &entities);
    // ann: scope all (Staff), codes decide; fay: an assigned scope, few cases; bob: a lead.
    let users = ["ann", "fay", "bob"];

    let mut g = c.benchmark_group("list");
    g.sample_size(10);
    // The first listing of a fresh `Query` sorts the resources by id; the listings after it
    // reuse that order.
    g.bench_function("index", |b| {
        b.iter(|| {
            let q = Query::new(&policy, black_box(&entities));
            q.list("ann", "view", None, None).is_ok()
        })
    });
    for user in users {
        let listing = q.list(user, "view", None, None).unwrap();
        let allowed = listing.iter(None).count();
        eprintln!("list {user} view: {allowed} allowed");
        g.bench_function(format!("all/{user}"), |b| {
            b.iter(|| listing.iter(None).count())
        });
        g.bench_function(format!("page50/{user}"), |b| {
            b.iter(|| listing.page(Some("case-5"), 50))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("filter");
    g.sample_size(10);
    g.bench_function("compile/ann", |b| {
        b.iter(|| q.filter("ann", "view", None, Dialect::Postgres).unwrap())
    });
    let t = Instant::now();
    let tables = sql::tables(&policy, &entities).unwrap();
    let sqlite = db::sqlite(&tables);
    eprintln!(
        "SQLite: {} resource rows, {} attribute rows, {} relation rows, {} code rows, loaded in {:.1?}",
        tables.resources.len(),
        tables.attrs.len(),
        tables.relations.len(),
        tables.codes.len(),
        t.elapsed()
    );
    for user in users {
        let f = q.filter(user, "view", None, Dialect::Sqlite).unwrap();
        eprintln!(
            "SQLite {user} view: {} rows",
            db::sqlite_ids(&sqlite, &f).len()
        );
        g.bench_function(format!("sqlite/{user}"), |b| {
            b.iter(|| db::sqlite_ids(&sqlite, &f))
        });
    }
    drop(sqlite);
    match std::env::var("CASEPOL_PG_URL") {
        Err(_) => eprintln!("PostgreSQL: skipped; set CASEPOL_PG_URL to measure it"),
        Ok(url) => {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let t = Instant::now();
            copy_postgres(&mut client, &tables);
            eprintln!("PostgreSQL: loaded in {:.1?}", t.elapsed());
            for user in users {
                let f = q.filter(user, "view", None, Dialect::Postgres).unwrap();
                eprintln!(
                    "PostgreSQL {user} view: {} rows",
                    db::postgres_ids(&mut client, &f).len()
                );
                g.bench_function(format!("postgres/{user}"), |b| {
                    b.iter(|| db::postgres_ids(&mut client, &f))
                });
            }
            client
                .batch_execute("DROP SCHEMA casepol_bench CASCADE")
                .unwrap();
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

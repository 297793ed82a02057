//! `casepol check --requests` end to end, through the real binary: one million generated
//! JSON-lines requests against the policy of 10,000 rules (casepol-gen; entities of
//! [`Sizes::BATCH`]), on one thread and on two. Each iteration is one process: reading the
//! policy and entities, deciding every line, and writing every result.

use casepol_gen::{write_jsonl, Population, Sizes, SEED};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const REQUESTS: usize = 1_000_000;

fn bench(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("batch-bench");
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let generated = casepol_gen::Policy::generate(10_000, SEED).expect("a multiple of 20");
    let population = Population::generate(&generated, Sizes::BATCH, SEED);
    let (policy, entities, requests) = (
        dir.join("policy.casepol"),
        dir.join("entities.json"),
        dir.join("requests.jsonl"),
    );
    std::fs::write(&policy, generated.to_casepol()).expect("write the policy");
    std::fs::write(&entities, population.to_json(&generated)).expect("write the entities");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&requests).expect("create"));
    write_jsonl(&population.requests(REQUESTS, SEED), &mut file).expect("write the requests");
    drop(file);
    let run = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_casepol"))
            .arg("check")
            .arg(&policy)
            .arg("--entities")
            .arg(&entities)
            .arg("--requests")
            .arg(&requests)
            .args(["--threads", threads])
            .stdout(Stdio::null())
            .status()
            .expect("casepol runs");
        // Every generated request resolves: the batch exits 0.
        assert!(out.success(), "casepol check exited with {out}");
    };
    let mut group = c.benchmark_group("batch");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(REQUESTS as u64));
    for threads in ["1", "2"] {
        group.bench_function(BenchmarkId::new("1m_requests_threads", threads), |b| {
            b.iter(|| run(threads))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

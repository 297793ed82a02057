//! Applies one change set of 10,000 collaborator changes many times, for counting its
//! instructions under `valgrind --tool=callgrind` (docs/performance.md §8): deterministic where
//! wall time on a shared machine is not.
//! `cargo build --profile profiling --example live_loop`, then
//! `valgrind --tool=callgrind target/profiling/examples/live_loop N [class|user|none]` applies it
//! N times with its events computed by class of users (`class`, what `live::apply` does), user
//! by user (`user`, `live::apply_events_user_by_user`) or not at all (`none`); run it with N = 0
//! too and subtract, which leaves out making and loading the world.

use casepol::live::{self, Change, ChangeSet, Snapshot};
use casepol::Policy;
use casepol_gen::{Population, Sizes, SEED};
use std::hint::black_box;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let how = std::env::args().nth(2).unwrap_or_else(|| "class".into());
    let generated = casepol_gen::Policy::generate(1_000, SEED).expect("a multiple of 20");
    let policy =
        Policy::from_source("generated.casepol", &generated.to_casepol()).expect("policy checks");
    // A tenth of the bench's world (benches/live.rs): 100,000 cases, 10,000 users.
    let sizes = Sizes {
        users: Sizes::LOAD.users / 10,
        cases: Sizes::LOAD.cases / 10,
        documents_per_case: 0,
    };
    let population = Population::generate(&generated, sizes, SEED);
    let entities = policy
        .load_entities(&population.to_json(&generated))
        .expect("entities load");
    // A line manager who is neither the subject nor the manager of the first 10,000 cases,
    // made the manager of each (as the bench does).
    let outsider = population
        .users
        .iter()
        .enumerate()
        .find(|(i, u)| {
            u.groups == ["LineManagers"]
                && population.cases[..10_000]
                    .iter()
                    .all(|c| c.subject != *i && c.manager != *i)
        })
        .map(|(_, u)| u.id.clone())
        .expect("a line manager outside the first cases");
    let many = ChangeSet {
        changes: population.cases[..10_000]
            .iter()
            .map(|c| Change::AddMember {
                resource: c.id.clone(),
                relation: "manager".into(),
                user: outsider.clone(),
            })
            .collect(),
    };
    // The first change set applied makes what applying in place needs.
    let warm = live::apply(&policy, &Snapshot::new(entities), &ChangeSet::default())
        .expect("an empty change set applies");
    let snapshot = warm.snapshot;
    let mut events = 0;
    for _ in 0..n {
        let applied = match how.as_str() {
            "user" => live::apply_events_user_by_user(&policy, black_box(&snapshot), &many),
            "none" => live::apply_without_events(&policy, black_box(&snapshot), &many),
            _ => live::apply(&policy, black_box(&snapshot), &many),
        }
        .expect("the change set applies");
        assert!(applied.in_place);
        events += applied.events.len();
    }
    println!("{n} × {how}: {events} events");
}

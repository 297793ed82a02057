//! Applies one change set of 10,000 collaborator changes many times, for counting its
//! instructions under `valgrind --tool=callgrind` (docs/performance.md §8): deterministic where
//! wall time on a shared machine is not.
//! `cargo build --profile profiling --example live_loop`, then
//! `valgrind --tool=callgrind target/profiling/examples/live_loop N [class|user|none] [full]`
//! applies it N times with its events computed by class of users (`class`, what `live::apply`
//! does), user by user (`user`, `live::apply_events_user_by_user`) or not at all (`none`), on a
//! tenth of the bench's world (or on all of it, `full`: 1,000,000 cases); run it with N = 0 too
//! and subtract, or count only `--toggle-collect='casepol::live::apply_with*'`, which leaves out
//! making and loading the world. `delete_user` and `delete_user_reload` apply instead a
//! change set deleting one line manager whom no relation names (in place, or by reloading),
//! and `delete_user_hr` one HR user, in scope everywhere, on the version another such deletion
//! gave (which made what deleting in place needs).

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
    // A tenth of the bench's world (benches/live.rs): 100,000 cases, 10,000 users; or all of it.
    let tenth = Sizes {
        users: Sizes::LOAD.users / 10,
        cases: Sizes::LOAD.cases / 10,
        documents_per_case: 0,
    };
    let sizes = match std::env::args().nth(3).as_deref() {
        Some("full") => Sizes::LOAD,
        _ => tenth,
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
    let mut snapshot = warm.snapshot;
    // Users no case names, added (every generated user is named by some case): the first
    // deleted to make what deleting in place needs, the second deleted in the loop. A line
    // manager (in scope only where a relation names them: no event but their account's), or
    // with `delete_user_hr` an HR user, in scope on every case (an event for each case and
    // action they lose).
    let groups = match how.as_str() {
        "delete_user_hr" => vec!["HRDepartment"],
        _ => vec!["LineManagers"],
    };
    let user = |id: &str| {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), id.into());
        m.insert("groups".into(), groups.clone().into());
        Change::UpsertUser { user: m }
    };
    let delete = |id: &str| ChangeSet {
        changes: vec![Change::DeleteUser { id: id.into() }],
    };
    let delete = match how.as_str() {
        "delete_user" | "delete_user_hr" | "delete_user_reload" => {
            let add = ChangeSet {
                changes: vec![user("spare-0"), user("spare-1")],
            };
            snapshot = live::apply(&policy, &snapshot, &add)
                .expect("the users are added")
                .snapshot;
            snapshot = live::apply(&policy, &snapshot, &delete("spare-0"))
                .expect("the user is deleted")
                .snapshot;
            delete("spare-1")
        }
        _ => ChangeSet::default(),
    };
    let mut events = 0;
    for _ in 0..n {
        let applied = match how.as_str() {
            "delete_user" | "delete_user_hr" => live::apply(&policy, black_box(&snapshot), &delete),
            "delete_user_reload" => {
                live::apply_by_reloading(&policy, black_box(&snapshot), &delete)
            }
            "user" => live::apply_events_user_by_user(&policy, black_box(&snapshot), &many),
            "none" => live::apply_without_events(&policy, black_box(&snapshot), &many),
            _ => live::apply(&policy, black_box(&snapshot), &many),
        }
        .expect("the change set applies");
        assert_eq!(applied.in_place, how != "delete_user_reload");
        events += applied.events.len();
    }
    println!("{n} × {how}: {events} events");
}

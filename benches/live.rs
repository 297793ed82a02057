//! Live entities (issue 15): change sets applied to one million cases and a hundred thousand
//! users (casepol-gen, [`Sizes::LOAD`], for the policy of 1,000 rules), the first case with ten
//! documents. Side by side in one run:
//!
//! - `apply/in_place/*`: one case-level change applied in place, without its events
//!   (`add_member_group`: the line managers, 10,000 users, listed as a group in the first
//!   case's `manager`);
//! - `apply/events/*`: the same, with its events, computed for classes of users (the list of
//!   events one by one is made only when read, which these do not);
//! - `apply/events_user_by_user/*`: the same, with its events computed user by user, the way
//!   before classes;
//! - `apply/10000_members`: a change set of 10,000 collaborator changes on 10,000 cases, with
//!   its events;
//! - `apply/reload/set_state`, `apply/reload/add_member_group`: one change applied by reloading
//!   the edited world, as before change sets were applied in place (and as a group added to a
//!   relation was until it was applied in place too).
//!
//! Memory is measured by `cargo run --release --example entity_memory -- --live …`
//! (bench/run.sh), since criterion cannot.

use casepol::live::{self, Change, ChangeSet, Snapshot};
use casepol::Policy;
use casepol_gen::{Document, Population, Sizes, SEED, STATES};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let generated = casepol_gen::Policy::generate(1_000, SEED).expect("a multiple of 20");
    let policy =
        Policy::from_source("generated.casepol", &generated.to_casepol()).expect("policy checks");
    let mut population = Population::generate(&generated, Sizes::LOAD, SEED);
    for k in 0..10 {
        population.documents.push(Document {
            id: format!("c0-doc-{k}"),
            case: 0,
            read: String::new(),
        });
    }
    let json = population.to_json(&generated);
    let entities = policy.load_entities(&json).expect("entities load");
    drop(json);
    let case = &population.cases[0];
    let next_state = STATES[(case.state + 1) % STATES.len()].to_string();
    // The line managers (scoped to the cases they manage) who are neither the subject nor the
    // manager of the first 10,000 cases.
    let outsiders: Vec<String> = population
        .users
        .iter()
        .enumerate()
        .filter(|(i, u)| {
            u.groups == ["LineManagers"]
                && population.cases[..10_000]
                    .iter()
                    .all(|c| c.subject != *i && c.manager != *i)
        })
        .map(|(_, u)| u.id.clone())
        .take(50)
        .collect();
    let make_manager = |user: &str| ChangeSet {
        changes: vec![Change::AddMember {
            resource: case.id.clone(),
            relation: "manager".into(),
            user: user.to_string(),
        }],
    };
    let set_state = ChangeSet {
        changes: vec![Change::SetState {
            resource: case.id.clone(),
            state: next_state,
        }],
    };
    // A document of the first case: nothing names it, so it is deleted in place.
    let delete = ChangeSet {
        changes: vec![Change::DeleteResource {
            id: "c0-doc-9".into(),
        }],
    };
    // Another document of the first case moved to the second case.
    let mut record = serde_json::Map::new();
    record.insert("id".into(), "c0-doc-8".into());
    record.insert("kind".into(), "Document".into());
    record.insert("parent".into(), population.cases[1].id.clone().into());
    let move_resource = ChangeSet {
        changes: vec![Change::UpsertResource { resource: record }],
    };
    // The line managers, as a group, made the first case's managers (collaborators listed as
    // a group): every one of them (10% of the users, in scope only where they hold `manager`)
    // is reached.
    let add_group = ChangeSet {
        changes: vec![Change::AddMemberGroup {
            resource: case.id.clone(),
            relation: "manager".into(),
            group: "LineManagers".into(),
        }],
    };
    // The first change set applied makes what applying in place needs; the benches start from
    // the version it gives, which keeps it.
    let warm = live::apply(&policy, &Snapshot::new(entities), &ChangeSet::default())
        .expect("an empty change set applies");
    let snapshot = warm.snapshot;
    // One of them who, made the first case's manager, gains access to it and its documents
    // (the others may lack its read code).
    let outsider = outsiders
        .iter()
        .find(|u| {
            live::apply(&policy, &snapshot, &make_manager(u)).is_ok_and(|a| !a.events.is_empty())
        })
        .expect("a line manager who gains access")
        .clone();
    let add_member = make_manager(&outsider);
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
    for set in [
        &set_state,
        &add_member,
        &many,
        &delete,
        &move_resource,
        &add_group,
    ] {
        let applied = live::apply(&policy, &snapshot, set).expect("the change set applies");
        assert!(applied.in_place);
    }
    // Both ways find the same events.
    let events = |set: &ChangeSet| {
        let by_class = live::apply(&policy, &snapshot, set).expect("applies");
        let by_user = live::apply_events_user_by_user(&policy, &snapshot, set).expect("applies");
        assert!(by_class.events == by_user.events);
        by_class.events.len()
    };
    eprintln!(
        "events: set_state {}, add_member {}, 10,000 members {}, delete_resource {}, \
         move_resource {}, add_member_group {}",
        events(&set_state),
        events(&add_member),
        events(&many),
        events(&delete),
        events(&move_resource),
        events(&add_group)
    );

    let mut group = c.benchmark_group("apply");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    for (name, set) in [
        ("set_state", &set_state),
        ("add_member", &add_member),
        ("delete_resource", &delete),
        ("move_resource", &move_resource),
        ("add_member_group", &add_group),
    ] {
        group.bench_function(format!("in_place/{name}"), |b| {
            b.iter(|| live::apply_without_events(&policy, black_box(&snapshot), set))
        });
        group.bench_function(format!("events/{name}"), |b| {
            b.iter(|| live::apply(&policy, black_box(&snapshot), set))
        });
        group.bench_function(format!("events_user_by_user/{name}"), |b| {
            b.iter(|| live::apply_events_user_by_user(&policy, black_box(&snapshot), set))
        });
    }
    group.bench_function("10000_members", |b| {
        b.iter(|| live::apply(&policy, black_box(&snapshot), &many))
    });
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("reload/set_state", |b| {
        b.iter(|| live::apply_by_reloading(&policy, black_box(&snapshot), &set_state))
    });
    group.bench_function("reload/add_member_group", |b| {
        b.iter(|| live::apply_by_reloading(&policy, black_box(&snapshot), &add_group))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Measures what a second version of the entities costs: the bytes allocated and not yet freed
//! (a counting allocator), with one version, and with two that differ by one change.
//!
//! ```sh
//! cargo run --release --example live_memory -- POLICY ENTITIES
//! ```
//!
//! Loads the entities, applies an empty change set (which makes what applying in place needs,
//! kept with the version it gives), then moves the first case to another state of its case
//! type and keeps both versions. Prints one JSON object: the live bytes of the loaded entities,
//! of one version ready for changes, and of the two versions, and the ratios.
//! `bench/run.sh` runs it on one million cases and a hundred thousand users;
//! docs/performance.md reports the figures.

use casepol::diagnostic::Sources;
use casepol::live::{self, Change, ChangeSet, Snapshot};
use casepol::Policy;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the bytes allocated and not freed.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [policy_path, entities_path] = args.as_slice() else {
        return Err("usage: live_memory POLICY ENTITIES".into());
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("cannot read `{p}`: {e}"));
    let mut sources = Sources::new();
    sources.add(policy_path.clone(), read(policy_path)?);
    let policy = Policy::from_sources(sources).map_err(|e| e.render())?;
    let start = live_bytes();
    let text = read(entities_path)?;
    let entities = policy
        .load_entities(&text)
        .map_err(|e| format!("{} entity error(s), the first: {}", e.len(), e[0]))?;
    drop(text);
    let loaded = live_bytes() - start;

    // The first case, and another state of its case type.
    let ir = policy.compiled().ir();
    let (case, state) = entities
        .resources()
        .iter()
        .enumerate()
        .find(|(_, r)| ir.kinds[r.kind.idx()].is_case)
        .map(|(i, r)| {
            let states = &ir.casetypes[r.casetype as usize].states;
            let next = &states[(r.state as usize + 1) % states.len()].name;
            (entities.resource_id(i as u32).to_string(), next.clone())
        })
        .ok_or("the entities hold no case")?;

    let ready = live::apply(&policy, &Snapshot::new(entities), &ChangeSet::default())
        .map_err(|e| e.to_string())?
        .snapshot;
    let one = live_bytes() - start;
    let change = ChangeSet {
        changes: vec![Change::SetState {
            resource: case,
            state,
        }],
    };
    // Without its events, which are the caller's to keep or drop.
    let applied =
        live::apply_without_events(&policy, &ready, &change).map_err(|e| e.to_string())?;
    if !applied.in_place {
        return Err("the change was not applied in place".into());
    }
    let two = live_bytes() - start;
    println!(
        "{{\"loaded_bytes\": {loaded}, \"one_version_bytes\": {one}, \"two_versions_bytes\": {two}, \
\"two_over_one\": {:.5}, \"second_version_bytes\": {}, \"ready_over_loaded\": {:.3}}}",
        two as f64 / one as f64,
        two - one,
        one as f64 / loaded as f64,
    );
    drop((ready, applied));
    Ok(())
}

//! Loading entities costs memory linear in the file: effective access codes are shared with the
//! ancestors they inherit from, never copied into every descendant. A counting allocator measures
//! the bytes each load asks for on its thread.

use casepol::limits::{MAX_CODE_LEVELS, MAX_KIND_DEPTH};
use casepol::Policy;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;

/// Counts the bytes the current thread asks for; frees are not subtracted.
struct Counting;

thread_local! {
    static ASKED: Cell<usize> = const { Cell::new(0) };
}

fn count(n: usize) {
    let _ = ASKED.try_with(|c| c.set(c.get().saturating_add(n)));
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The bytes `f` asks for on this thread, and its result.
fn asked<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ASKED.with(Cell::get);
    let out = f();
    (ASKED.with(Cell::get) - before, out)
}

/// A chain of the longest allowed kinds, each inheriting both codes from the one above.
fn chain_policy() -> Policy {
    let mut text = String::from(
        "role R;\naction view, edit;\ngroup G { grants R; }\ncodes { read: view; write: edit; }\ncase K0 { }\n",
    );
    for i in 1..MAX_KIND_DEPTH {
        writeln!(
            text,
            "resource K{i} under K{} {{ inherit read, write; }}",
            i - 1
        )
        .unwrap();
    }
    text.push_str("casetype T { states S; initial S; }\nallow R: view, edit;\n");
    Policy::from_source("chain.casepol", &text).unwrap_or_else(|e| panic!("{e}"))
}

/// A code of the most levels allowed, each one code, unique to `tag`.
fn code(tag: &str) -> String {
    (0..MAX_CODE_LEVELS)
        .map(|l| format!("[{tag}{l}]"))
        .collect::<Vec<_>>()
        .join("&")
}

/// One resource at each depth of the chain above the bottom, each with an own read and write
/// code of the most levels, and `leaves` resources at the bottom, each with a one-level read
/// code of its own. A copied effective code would hold every level above a leaf, nearly
/// `MAX_KIND_DEPTH` × `MAX_CODE_LEVELS` of them, in each leaf.
fn chain_entities(leaves: usize) -> String {
    let mut resources = vec![format!(
        r#"{{"id": "r0", "kind": "K0", "type": "T", "state": "S", "read": "{}", "write": "{}"}}"#,
        code("a"),
        code("b")
    )];
    for i in 1..MAX_KIND_DEPTH - 1 {
        resources.push(format!(
            r#"{{"id": "r{i}", "kind": "K{i}", "parent": "r{}", "read": "{}", "write": "{}"}}"#,
            i - 1,
            code("a"),
            code("b")
        ));
    }
    let last = MAX_KIND_DEPTH - 1;
    for j in 0..leaves {
        resources.push(format!(
            r#"{{"id": "leaf{j}", "kind": "K{last}", "parent": "r{}", "read": "c"}}"#,
            last - 1
        ));
    }
    format!(
        r#"{{"users": [{{"id": "u", "groups": ["G"]}}], "resources": [{}]}}"#,
        resources.join(",\n")
    )
}

#[test]
fn inherited_codes_cost_memory_linear_in_the_file() {
    let policy = chain_policy();
    let json = chain_entities(10_000);
    let (bytes, loaded) = asked(|| policy.load_entities(&json));
    let entities = loaded.unwrap_or_else(|e| panic!("{}", e[0]));
    // Every leaf's effective code is still every level above it.
    let leaf = entities
        .resource_ids()
        .position(|id| id == "leaf0")
        .unwrap() as u32;
    assert_eq!(
        entities.read_code(leaf).iter().count(),
        1 + (MAX_KIND_DEPTH - 1) * MAX_CODE_LEVELS
    );
    let ratio = bytes as f64 / json.len() as f64;
    assert!(
        bytes < 16 * json.len(),
        "loading {} bytes asked for {bytes} bytes ({ratio:.1} per byte of JSON)",
        json.len()
    );
}

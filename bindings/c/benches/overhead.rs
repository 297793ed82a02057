//! The overhead of the C ABI beside the Rust library, in one process, on the same requests:
//! every user × resource × action of the WorkZone example (`policies/workzone`), decided by
//! `Policy::is_allowed` and `Policy::decide` (Rust) and by `casepol_is_allowed` and
//! `casepol_decide` (the extern "C" functions, called from Rust). Writes the requests to
//! `target/overhead/requests.tsv` for the C and Python benches of `bindings/bench.sh`, and
//! prints the median time per request of each way.
//!
//! Run with `cargo bench -p casepol-c --bench overhead` (docs/performance.md §11).

use casepol::query::Query;
use casepol::{Policy, Request};
use casepol_c::{
    casepol_decide, casepol_entities_free, casepol_entities_load, casepol_is_allowed,
    casepol_policy_free, casepol_policy_from_path, casepol_prepare, casepol_prepared_free,
    CasepolStatus,
};
use std::ffi::CString;
use std::hint::black_box;
use std::path::Path;
use std::ptr;
use std::time::Instant;

/// `struct timespec` on 64-bit Linux.
#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, t: *mut Timespec) -> i32;
}

/// The CPU time this process has used, in nanoseconds (`CLOCK_PROCESS_CPUTIME_ID`): what a
/// loop costs whatever else the shared machine is running.
fn cpu_ns() -> f64 {
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid clock id (2 on Linux) and a writable timespec.
    unsafe { clock_gettime(2, &mut t) };
    t.sec as f64 * 1e9 + t.nsec as f64
}

/// The median nanoseconds per request of `round` (which decides every request once), in wall
/// time and in CPU time, over `repeats` rounds after one warm-up, each round repeated until it
/// takes at least 20 ms.
fn median_ns(requests: usize, repeats: usize, mut round: impl FnMut() -> usize) -> (f64, f64) {
    black_box(round());
    let mut wall = Vec::with_capacity(repeats);
    let mut cpu = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        let cpu_start = cpu_ns();
        let mut n = 0usize;
        let mut allowed = 0usize;
        while start.elapsed().as_millis() < 20 {
            allowed += round();
            n += requests;
        }
        black_box(allowed);
        wall.push(start.elapsed().as_nanos() as f64 / n as f64);
        cpu.push((cpu_ns() - cpu_start) / n as f64);
    }
    wall.sort_by(|a, b| a.total_cmp(b));
    cpu.sort_by(|a, b| a.total_cmp(b));
    (wall[wall.len() / 2], cpu[cpu.len() / 2])
}

/// One line of the report: wall and CPU nanoseconds per request.
fn report(what: &str, (wall, cpu): (f64, f64)) {
    println!("{what:48} {wall:7.1} ns/request wall, {cpu:7.1} ns CPU");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("policies/workzone");
    let entities_path = dir.join("entities.json");
    let policy = Policy::from_path(&dir).expect("the WorkZone policy checks");
    let entities = policy
        .load_entities_from_path(&entities_path)
        .expect("the WorkZone entities load");
    let data: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&entities_path).expect("the entities file reads"),
    )
    .expect("the entities file is JSON");
    let ids = |key: &str| -> Vec<String> {
        data[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (users, resources) = (ids("users"), ids("resources"));
    let actions: Vec<String> = Query::new(&policy, &entities)
        .actions(&users[0], &resources[0], None)
        .expect("the first user and resource exist")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let mut requests = Vec::new();
    for u in &users {
        for r in &resources {
            for a in &actions {
                requests.push((u.clone(), a.clone(), r.clone()));
            }
        }
    }
    let out = root.join("target/overhead");
    std::fs::create_dir_all(&out).expect("target/overhead is made");
    let tsv: String = requests
        .iter()
        .map(|(u, a, r)| format!("{u}\t{a}\t{r}\n"))
        .collect();
    std::fs::write(out.join("requests.tsv"), tsv).expect("the requests are written");
    let n = requests.len();
    let allowed = requests
        .iter()
        .filter(|(u, a, r)| {
            policy
                .is_allowed(&entities, &Request::new(u, a, Some(r)))
                .allowed
        })
        .count();
    println!(
        "requests: {n} (every user x resource x action of policies/workzone), {allowed} allowed"
    );

    // Rust: names to a decision, and a decision of a resolved request.
    let rust_is_allowed = median_ns(n, 15, || {
        requests
            .iter()
            .filter(|(u, a, r)| {
                policy
                    .is_allowed(&entities, &Request::new(u, a, Some(r)))
                    .allowed
            })
            .count()
    });
    let resolved: Vec<_> = requests
        .iter()
        .map(|(u, a, r)| {
            policy
                .resolve(&entities, &Request::new(u, a, Some(r)))
                .expect("every request resolves")
        })
        .collect();
    let rust_decide = median_ns(n, 15, || {
        resolved
            .iter()
            .filter(|r| policy.decide(&entities, r).allowed)
            .count()
    });

    // The C ABI, called from Rust through the extern "C" functions.
    let c = |s: &str| CString::new(s).expect("no NUL in the example's names");
    let c_requests: Vec<(CString, CString, CString)> = requests
        .iter()
        .map(|(u, a, r)| (c(u), c(a), c(r)))
        .collect();
    let dir_c = c(&dir.to_string_lossy());
    let entities_json = c(&std::fs::read_to_string(&entities_path).expect("reads"));
    let mut p = ptr::null_mut();
    let mut e = ptr::null_mut();
    // SAFETY: valid strings and out pointers; the handles are freed below.
    unsafe {
        assert_eq!(
            casepol_policy_from_path(dir_c.as_ptr(), &mut p, ptr::null_mut()),
            CasepolStatus::Ok
        );
        assert_eq!(
            casepol_entities_load(p, entities_json.as_ptr(), &mut e, ptr::null_mut()),
            CasepolStatus::Ok
        );
    }
    let c_is_allowed = median_ns(n, 15, || {
        c_requests
            .iter()
            .filter(|(u, a, r)| {
                let mut allowed = false;
                // SAFETY: live handles, NUL-terminated strings, a writable bool.
                let status = unsafe {
                    casepol_is_allowed(
                        p,
                        e,
                        u.as_ptr(),
                        a.as_ptr(),
                        r.as_ptr(),
                        ptr::null(),
                        &mut allowed,
                        ptr::null_mut(),
                    )
                };
                status == CasepolStatus::Ok && allowed
            })
            .count()
    });
    let prepared: Vec<_> = requests
        .iter()
        .map(|(u, a, r)| {
            let json =
                c(&serde_json::json!({"principal": u, "action": a, "resource": r}).to_string());
            let mut out = ptr::null_mut();
            // SAFETY: as above.
            let status = unsafe { casepol_prepare(p, e, json.as_ptr(), &mut out, ptr::null_mut()) };
            assert_eq!(status, CasepolStatus::Ok);
            out
        })
        .collect();
    let c_decide = median_ns(n, 15, || {
        prepared
            .iter()
            .filter(|&&r| {
                let mut allowed = false;
                // SAFETY: live handles and a writable bool.
                let status = unsafe { casepol_decide(p, e, r, &mut allowed) };
                status == CasepolStatus::Ok && allowed
            })
            .count()
    });
    // SAFETY: every handle made above, freed once.
    unsafe {
        for r in prepared {
            casepol_prepared_free(r);
        }
        casepol_entities_free(e);
        casepol_policy_free(p);
    }
    report(
        "rust  Policy::is_allowed (names -> decision)",
        rust_is_allowed,
    );
    report("rust  Policy::decide (resolved request)", rust_decide);
    report("C ABI casepol_is_allowed, called from Rust", c_is_allowed);
    report("C ABI casepol_decide (prepared), from Rust", c_decide);
}

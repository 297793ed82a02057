//! Compiles one policy file many times and prints the time of each phase, for profiling the
//! compile path (docs/performance.md): parse, check (with the lints) and the whole
//! `Policy::from_source`.
//!
//! ```sh
//! cargo run -p casepol-gen --release -- policy --rules 10000 > /tmp/10k.casepol
//! cargo run --release --example compile_profile -- /tmp/10k.casepol 20
//! valgrind --tool=callgrind target/release/examples/compile_profile /tmp/10k.casepol 1
//! ```

use casepol::diagnostic::{FileId, Sources};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: compile_profile POLICY [TIMES]");
    let times: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let text = std::fs::read_to_string(&path).expect("a readable policy");
    let mut parse = Vec::new();
    let mut check = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..times {
        let t = Instant::now();
        let (ast, diags) = casepol::internal::syntax::parse(FileId(0), &text);
        parse.push(t.elapsed());
        assert!(diags.is_empty(), "the policy parses");
        std::hint::black_box(ast);
        let mut sources = Sources::new();
        sources.add(path.clone(), text.clone());
        let t = Instant::now();
        let (ir, _) = casepol::internal::check_sources(&sources);
        check.push(t.elapsed());
        std::hint::black_box(ir);
        let t = Instant::now();
        let p = casepol::Policy::from_source(&path, &text).expect("the policy checks");
        whole.push(t.elapsed());
        std::hint::black_box(p);
    }
    let median = |v: &mut Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "median of {times}: parse {:?}, parse+check+lint {:?}, Policy::from_source {:?}",
        median(&mut parse),
        median(&mut check),
        median(&mut whole)
    );
}

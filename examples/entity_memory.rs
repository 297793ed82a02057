//! Measures loading an entities file: wall time, and memory from the kernel's own accounting
//! (`VmRSS` and `VmHWM` in /proc/self/status), which criterion cannot report.
//!
//! ```sh
//! cargo run --release --example entity_memory -- POLICY ENTITIES
//! ```
//!
//! Prints one JSON object: the file size, the time to load, the resident memory before
//! reading, with the text read, at the peak, and after the text is dropped (what the loaded
//! entities keep), and the entity counts. `bench/run.sh` runs it on one million cases and a
//! hundred thousand users; docs/performance.md reports the figures.

use casepol::diagnostic::Sources;
use casepol::Policy;
use std::time::Instant;

/// A `Vm…: N kB` line of /proc/self/status, in bytes; 0 where there is no such file.
fn status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [policy_path, entities_path] = args.as_slice() else {
        return Err("usage: entity_memory POLICY ENTITIES".into());
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("cannot read `{p}`: {e}"));
    let mut sources = Sources::new();
    sources.add(policy_path.clone(), read(policy_path)?);
    let policy = Policy::from_sources(sources).map_err(|e| e.render())?;
    let rss_start = status("VmRSS:");
    let text = read(entities_path)?;
    let rss_text = status("VmRSS:");
    let started = Instant::now();
    let entities = policy
        .load_entities(&text)
        .map_err(|e| format!("{} entity error(s), the first: {}", e.len(), e[0]))?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = status("VmHWM:");
    let bytes = text.len();
    drop(text);
    let rss_kept = status("VmRSS:");
    let cases = entities.resources().len();
    let users = entities.users().len();
    println!(
        "{{\"file_bytes\": {bytes}, \"load_seconds\": {seconds:.3}, \"resources\": {cases}, \"users\": {users}, \
\"rss_start\": {rss_start}, \"rss_with_text\": {rss_text}, \"peak_rss\": {peak}, \"rss_after\": {rss_kept}, \
\"peak_bytes_per_resource\": {:.0}, \"kept_bytes_per_resource\": {:.0}}}",
        peak as f64 / cases as f64,
        rss_kept.saturating_sub(rss_start) as f64 / cases as f64
    );
    drop(entities);
    Ok(())
}

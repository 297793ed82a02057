//! Tabulates the figures of one run of `bench/run.sh` as Markdown for docs/performance.md:
//! criterion's medians (from `target/criterion/**/new/estimates.json`), the ratios between
//! them, the memory measured by the `entity_memory` example, and the machine.

use std::path::{Path, PathBuf};

fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The median of one benchmark, in nanoseconds.
fn median(id: &str) -> Result<f64, String> {
    let path = target()
        .join("criterion")
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (run bench/run.sh first)", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    v["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{}: no median", path.display()))
}

fn time(ns: f64) -> String {
    match ns {
        n if n < 1e3 => format!("{n:.1} ns"),
        n if n < 1e6 => format!("{:.2} µs", n / 1e3),
        n if n < 1e9 => format!("{:.2} ms", n / 1e6),
        n => format!("{:.2} s", n / 1e9),
    }
}

fn ratio(x: f64) -> String {
    match x {
        x if x >= 100.0 => format!("{:.0}×", x),
        x if x >= 10.0 => format!("{:.0}×", x),
        x => format!("{x:.1}×"),
    }
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn run() -> Result<String, String> {
    let mut o = String::new();
    let read = |p: &str| std::fs::read_to_string(target().join("perf").join(p)).unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    o += &format!(
        "Machine: {cores} cores ({cpu}). Load before the run: `{}`; after: `{}`.\n\n",
        read("load-before.txt").trim(),
        read("load-after.txt").trim()
    );
    let probes = ["allow", "deny_by_table", "deny_by_code", "deny_by_override"];
    let scales = [20, 1_000, 10_000];
    o += "### One decision, casepol and Cedar (same run)\n\n";
    o += "| request | rules | casepol | Cedar | Cedar ÷ casepol |\n| --- | ---: | ---: | ---: | ---: |\n";
    for p in probes {
        for s in scales {
            let ours = median(&format!("vs_cedar_decide_{s}/casepol/{p}"))?;
            let theirs = median(&format!("vs_cedar_decide_{s}/cedar/{p}"))?;
            o += &format!(
                "| {p} | {} | {} | {} | {} |\n",
                thousands(s as f64),
                time(ours),
                time(theirs),
                ratio(theirs / ours)
            );
        }
    }
    o += "\n| request | casepol 10,000 ÷ 20 rules | Cedar 10,000 ÷ 20 rules |\n| --- | ---: | ---: |\n";
    for p in probes {
        let f = |e: &str, s: usize| median(&format!("vs_cedar_decide_{s}/{e}/{p}"));
        o += &format!(
            "| {p} | {} | {} |\n",
            ratio(f("casepol", 10_000)? / f("casepol", 20)?),
            ratio(f("cedar", 10_000)? / f("cedar", 20)?)
        );
    }
    o += "\n### Compiling the policy (same run)\n\ncasepol: parse, check, lint and lower. Cedar: parse and validate against its schema.\n\n";
    o += "| rules | casepol | Cedar | Cedar ÷ casepol |\n| ---: | ---: | ---: | ---: |\n";
    for s in scales {
        let ours = median(&format!("vs_cedar_compile_{s}/casepol"))?;
        let theirs = median(&format!("vs_cedar_compile_{s}/cedar"))?;
        o += &format!(
            "| {} | {} | {} | {} |\n",
            thousands(s as f64),
            time(ours),
            time(theirs),
            ratio(theirs / ours)
        );
    }
    o += "\n### casepol alone\n\n| benchmark | median |\n| --- | ---: |\n";
    let mut alone: Vec<(String, String)> = Vec::new();
    for p in ["allow", "deny_by_table", "deny_not_permitted"] {
        alone.push((format!("eFOB: decide, {p}"), format!("efob_decide/{p}")));
    }
    alone.push((
        "eFOB: explain, deny by table".into(),
        "efob_explain_deny_by_table".into(),
    ));
    alone.push(("eFOB: compile".into(), "efob_compile".into()));
    for s in scales {
        alone.push((
            format!(
                "{} rules: decide with name resolution, allow",
                thousands(s as f64)
            ),
            format!("decide_{s}/casepol_with_resolve/allow"),
        ));
        alone.push((
            format!("{} rules: explain, deny by code", thousands(s as f64)),
            format!("explain_{s}_deny_by_code"),
        ));
        alone.push((
            format!("{} rules: compile", thousands(s as f64)),
            format!("compile_{s}/casepol"),
        ));
    }
    for (name, id) in alone {
        o += &format!("| {name} | {} |\n", time(median(&id)?));
    }
    o += "\n### Entities: 1,000,000 cases and 100,000 users\n\n";
    let load = median("entities/load_1m_cases_100k_users")?;
    o += &format!(
        "| load time (criterion median) | {} |\n| --- | ---: |\n",
        time(load)
    );
    let mem: serde_json::Value = serde_json::from_str(&read("memory.json"))
        .map_err(|e| format!("target/perf/memory.json: {e}"))?;
    let mb = |k: &str| mem[k].as_f64().unwrap_or(0.0) / 1e6;
    let per = |k: &str| mem[k].as_f64().unwrap_or(0.0);
    o += &format!(
        "| JSON file | {:.0} MB |\n| peak resident memory (VmHWM), JSON text included | {:.0} MB ({:.0} bytes per case) |\n| resident memory kept by the loaded entities (VmRSS after, less before) | {:.0} MB ({:.0} bytes per case) |\n| load time in the memory run (one process, wall clock) | {:.2} s |\n",
        mb("file_bytes"),
        mb("peak_rss"),
        per("peak_bytes_per_resource"),
        (per("rss_after") - per("rss_start")) / 1e6,
        per("kept_bytes_per_resource"),
        per("load_seconds"),
    );
    o += "\n### Batch: `casepol check --requests`, 1,000,000 requests, end to end\n\n| threads | median | decisions per second |\n| ---: | ---: | ---: |\n";
    for t in ["1", "2"] {
        let ns = median(&format!("batch/1m_requests_threads/{t}"))?;
        o += &format!("| {t} | {} | {} |\n", time(ns), thousands(1e6 / (ns / 1e9)));
    }
    Ok(o)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

//! The silent load against the reporting load: they are one function over two reporters, and
//! these tests hold them to agreeing, on every entities file of the repository and on
//! thousands of random edits of them. When the silent load loads a file, the reporting load
//! must load the same entities; when it stops, the reporting load must report a problem.

use super::super::report::{Reporter, Silent};
use super::load;
use crate::api::Policy;
use crate::entities::{Entities, EntityError};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn policy(path: &Path) -> Policy {
    let mut sources = crate::diagnostic::Sources::new();
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut f: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
            .collect();
        f.sort();
        f
    } else {
        vec![path.to_path_buf()]
    };
    for f in files {
        sources.add(
            f.display().to_string(),
            std::fs::read_to_string(&f).unwrap(),
        );
    }
    Policy::from_sources(sources).unwrap()
}

/// The reporting load of `json`: the entities, or every problem reported.
fn reporting(p: &Policy, json: &str) -> Result<Entities, Vec<EntityError>> {
    let mut reporter = Reporter::new();
    let loaded = load(p.compiled(), json, &mut reporter);
    let errors = reporter.into_errors();
    match loaded {
        Ok(entities) => {
            assert!(errors.is_empty(), "loaded with problems: {errors:?}");
            Ok(entities)
        }
        Err(_) => {
            assert!(!errors.is_empty(), "stopped without a problem");
            Err(errors)
        }
    }
}

/// Compares the silent load (the fast path) with the reporting load on `json`: both load it,
/// to the same entities, or neither does. Returns whether they loaded it.
fn agree(p: &Policy, json: &str, what: &str) -> bool {
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    if json.trim().is_empty() {
        return false;
    }
    let fast = load(p.compiled(), json, &mut Silent).ok();
    let full = reporting(p, json);
    match (fast, full) {
        (Some(mut f), Ok(e)) => {
            // Each load has its own stamp; everything else must be the same.
            f.stamp = e.stamp;
            assert_eq!(format!("{f:?}"), format!("{e:?}"), "{what}");
            true
        }
        (Some(_), Err(errors)) => {
            panic!(
                "{what}: the silent load loaded what the reporting load rejects: {errors:?}\n{json}"
            )
        }
        (None, Ok(_)) => {
            panic!("{what}: the silent load stopped on what the reporting load loads\n{json}")
        }
        (None, Err(_)) => false,
    }
}

/// Every entities file of the repository, with its policy.
fn corpus() -> Vec<(Policy, String, String)> {
    let mut out = Vec::new();
    let add = |out: &mut Vec<_>, policy_path: &Path, file: &Path| {
        if let Ok(text) = std::fs::read_to_string(file) {
            out.push((policy(policy_path), text, file.display().to_string()));
        }
    };
    for dir in ["ok", "err"] {
        let dir = root().join("tests/data/entities").join(dir);
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            add(
                &mut out,
                &root().join("tests/data/entities/policy.casepol"),
                &f,
            );
        }
    }
    for d in std::fs::read_dir(root().join("policies")).unwrap() {
        let d = d.unwrap().path();
        if d.join("entities.json").is_file() {
            add(&mut out, &d, &d.join("entities.json"));
        }
    }
    add(
        &mut out,
        &root().join("tests/data/cli/policy.casepol"),
        &root().join("tests/data/cli/entities.json"),
    );
    add(
        &mut out,
        &root().join("tests/data/cli/policy.casepol"),
        &root().join("tests/data/cli/bad_entities.json"),
    );
    for d in std::fs::read_dir(root().join("tests/data/bad_input")).unwrap() {
        let d = d.unwrap().path();
        let Ok(case) = std::fs::read_to_string(d.join("case.json")) else {
            continue;
        };
        let case: serde_json::Value = serde_json::from_str(&case).unwrap();
        let args: Vec<String> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap()
                    .replace("{dir}", &d.display().to_string())
            })
            .collect();
        let (Some(pol), Some(ent)) = (
            args.get(1),
            args.iter()
                .position(|a| a == "--entities")
                .and_then(|i| args.get(i + 1)),
        ) else {
            continue;
        };
        let pol = root().join(pol);
        let pol_ok = pol.exists() && {
            let mut s = crate::diagnostic::Sources::new();
            s.add("p", std::fs::read_to_string(&pol).unwrap_or_default());
            pol.is_file() && Policy::from_sources(s).is_ok()
        };
        if pol_ok {
            add(&mut out, &pol, &root().join(ent));
        }
    }
    out
}

struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// A random small edit of `text`: a cut, an insertion, a swapped string, a repeated line.
fn mutate(text: &str, r: &mut Lcg) -> Option<String> {
    const SNIPPETS: &[&str] = &[
        ",\"x\": 1",
        "null",
        "\"",
        "\\u0041",
        ",{}",
        "[",
        "]",
        "1.5",
        "true",
        "\"\"",
        "{\"id\": \"U0\"}",
        "\"groups\": []",
        ",\"parent\": null",
        "-0",
        "\"\\n\"",
        "18446744073709551615",
        ",\"inherit_read\": false",
        "\"[A] & [B]\"",
        "\"A|\"",
        "\\u202e",
        ",\"read\": null",
        ",\"terms\": [\"Staff\"]",
    ];
    let b = text.as_bytes();
    if b.is_empty() {
        return None;
    }
    let at = r.below(b.len());
    let quotes: Vec<usize> = (0..b.len()).filter(|&i| b[i] == b'"').collect();
    let out = match r.below(5) {
        0 => {
            let end = (at + 1 + r.below(12)).min(b.len());
            format!("{}{}", text.get(..at)?, text.get(end..)?)
        }
        1 => format!(
            "{}{}{}",
            text.get(..at)?,
            SNIPPETS[r.below(SNIPPETS.len())],
            text.get(at..)?
        ),
        2 if quotes.len() >= 4 => {
            // Replace the content of one string with the content of another.
            let i = r.below(quotes.len() / 2) * 2;
            let j = r.below(quotes.len() / 2) * 2;
            let (a0, a1) = (quotes[i], *quotes.get(i + 1)?);
            let (b0, b1) = (quotes[j], *quotes.get(j + 1)?);
            format!(
                "{}{}{}",
                text.get(..=a0)?,
                text.get(b0 + 1..b1)?,
                text.get(a1..)?
            )
        }
        3 => {
            let lines: Vec<&str> = text.lines().collect();
            let k = r.below(lines.len());
            let mut l = lines.clone();
            l.insert(k, lines.get(k)?);
            l.join("\n")
        }
        _ => {
            let lines: Vec<&str> = text.lines().collect();
            let k = r.below(lines.len());
            let mut l = lines.clone();
            (k < l.len()).then(|| l.remove(k))?;
            l.join("\n")
        }
    };
    Some(out)
}

#[test]
fn the_silent_load_loads_what_the_reporting_load_loads_and_nothing_else() {
    let corpus = corpus();
    assert!(corpus.len() > 40, "only {} entity files", corpus.len());
    let loaded = corpus
        .iter()
        .filter(|(p, text, name)| agree(p, text, name))
        .count();
    // The counts guard against agreeing vacuously, on files that neither loads.
    assert!(loaded > 10, "only {loaded} files loaded");
    let mut r = Lcg(5);
    let (mut tried, mut loaded) = (0, 0);
    // Enough rounds that over a hundred mutations load: most of the corpus is files with errors.
    for round in 0..125 {
        for (p, text, name) in &corpus {
            let mut t = text.clone();
            for _ in 0..=(round % 3) {
                if let Some(m) = mutate(&t, &mut r) {
                    t = m;
                }
            }
            tried += 1;
            loaded += usize::from(agree(p, &t, &format!("{name}, mutated")));
        }
    }
    assert!(loaded > 100, "only {loaded} of {tried} mutations loaded");
}

#[test]
fn generated_entities_load_silently() {
    for rules in [20, 1_000] {
        let g = casepol_gen::Policy::generate(rules, casepol_gen::SEED).unwrap();
        let p = Policy::from_source("g.casepol", &g.to_casepol()).unwrap();
        let sizes = casepol_gen::Sizes {
            users: 200,
            cases: 300,
            documents_per_case: 2,
        };
        let json = casepol_gen::Population::generate(&g, sizes, casepol_gen::SEED).to_json(&g);
        assert!(agree(&p, &json, "generated"), "{rules} rules");
    }
}

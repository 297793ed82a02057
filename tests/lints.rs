//! Lints, data-driven: every `tests/data/lint/*.casepol` fixture says on an `// expect:` line
//! which warning codes it must produce (or `nothing`), and its diagnostics are snapshotted as a
//! person sees them. Every lint code is shown by some fixture, and no lint fires on the shipped
//! policies under `policies/`.

use casepol::diagnostic::{render, Code, Diagnostic, Sources};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path relative to the repository root, with `/` separators, for stable snapshots.
fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read_sorted(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// Checks and lints one fixture file; it must check without errors.
fn diagnostics(path: &Path) -> (Sources, Vec<Diagnostic>) {
    let mut sources = Sources::new();
    sources.add(rel(path), std::fs::read_to_string(path).unwrap());
    let (ir, diags) = casepol::check_sources(&sources);
    assert!(
        ir.is_some(),
        "{} must check without errors:\n{}",
        rel(path),
        diags
            .iter()
            .map(|d| render::human(d, &sources, false))
            .collect::<String>()
    );
    (sources, diags)
}

/// The codes a fixture's `// expect:` line names; `nothing` is the empty set.
fn expected(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("// expect:"))
        .unwrap_or_else(|| panic!("{} has no `// expect:` line", rel(path)));
    let line = line.trim();
    if line == "nothing" {
        return BTreeSet::new();
    }
    line.split(',')
        .map(|c| {
            let code = Code::parse(c).unwrap_or_else(|| panic!("{}: unknown code {c}", rel(path)));
            code.as_str().to_string()
        })
        .collect()
}

fn fixture_files() -> Vec<PathBuf> {
    let files = read_sorted(&root().join("tests/data/lint"), "casepol");
    assert!(!files.is_empty(), "no lint fixtures found");
    files
}

#[test]
fn fixtures() {
    insta::glob!("data/lint/*.casepol", |path| {
        let (sources, diags) = diagnostics(path);
        let got: BTreeSet<String> = diags.iter().map(|d| d.code.as_str().to_string()).collect();
        assert_eq!(got, expected(path), "{}", rel(path));
        let human: String = diags
            .iter()
            .map(|d| render::human(d, &sources, false))
            .collect();
        let (_, _, text) = sources.iter().next().unwrap();
        insta::assert_snapshot!(format!("{text}\n==== diagnostics ====\n{human}"));
    });
}

#[test]
fn fixture_names_match_what_they_show() {
    for path in fixture_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let want = expected(&path);
        if let Some(rest) = name.strip_prefix("cp") {
            let code = format!("CP{}", &rest[..4]);
            assert!(want.contains(&code), "{name} must show {code}");
        } else {
            assert!(name.starts_with("ok_"), "{name}: name it cpNNNN_… or ok_…");
        }
    }
}

#[test]
fn every_lint_code_fires_on_some_fixture() {
    let mut fired: BTreeSet<Code> = BTreeSet::new();
    for path in fixture_files() {
        fired.extend(diagnostics(&path).1.iter().map(|d| d.code));
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| c.is_lint() && !fired.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "no fixture in tests/data/lint shows {missing:?}"
    );
}

#[test]
fn no_lint_fires_on_shipped_policies() {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root().join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let mut sources = Sources::new();
        for f in read_sorted(&dir, "casepol") {
            sources.add(rel(&f), std::fs::read_to_string(&f).unwrap());
        }
        let (ir, diags) = casepol::check_sources(&sources);
        assert!(ir.is_some(), "{} must check", rel(&dir));
        let lints: String = diags
            .iter()
            .filter(|d| d.code.is_lint())
            .map(|d| render::human(d, &sources, false))
            .collect();
        assert!(lints.is_empty(), "{}:\n{lints}", rel(&dir));
    }
}

#[test]
fn examples_in_the_lint_docs_show_their_lint() {
    let text = std::fs::read_to_string(root().join("docs/lints.md")).unwrap();
    let (mut section, mut block, mut checked) = (None::<String>, None::<(usize, String)>, 0);
    for (i, line) in text.lines().enumerate() {
        if let Some(h) = line.strip_prefix("## CP") {
            section = Some(format!("CP{}", &h[..4]));
        }
        match &mut block {
            None if line.starts_with("```casepol") => block = Some((i + 1, String::new())),
            Some((start, body)) if line.starts_with("```") => {
                if !body.starts_with("// fragment") {
                    let code = section
                        .clone()
                        .expect("an example under a `## CPnnnn` heading");
                    let mut sources = Sources::new();
                    sources.add(format!("docs/lints.md:{start}"), body.as_str());
                    let (ir, diags) = casepol::check_sources(&sources);
                    assert!(ir.is_some(), "docs/lints.md:{start} must check");
                    assert!(
                        diags.iter().any(|d| d.code.as_str() == code),
                        "docs/lints.md:{start} should show {code}"
                    );
                    checked += 1;
                }
                block = None;
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    assert!(checked >= 8, "only {checked} examples checked");
}

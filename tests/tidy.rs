//! The architecture, enforced: each module of src/ imports only the modules the layering of
//! docs/ARCHITECTURE.md lets it ([`LAYERS`]), the layering has no cycle, pest is used only in
//! `syntax`, file and terminal I/O happen only in the command line, the server and `files`, and
//! every source file says what it is for in a `//!` line.
//!
//! The scan is textual and deliberately simple: it reads `crate::…` paths (also inside
//! `use crate::{…}` groups) in code, skipping comments, and stops at a file's
//! `#[cfg(test)]` module, which may use anything; a file that is itself such a module
//! (`src/m/x/tests.rs`, declared `#[cfg(test)] mod tests;` in `src/m/x.rs`) is not scanned
//! beyond its `//!` line. Paths to items the crate root re-exports (`crate::Policy`) count as
//! imports of the module that defines them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each module (a file `src/m.rs` with its directory `src/m/`) and the modules it may import.
/// A module not listed may import nothing; `lib`, `main`, `cli`, `serve` and `lsp` are the edges and
/// may import anything. Lower layers come first; a module imports only modules above it in this table.
#[rustfmt::skip]
const LAYERS: &[(&str, &[&str])] = &[
    ("limits",      &[]),
    ("bits",        &[]),
    ("json_pos",    &[]),
    ("datetime",    &[]),
    ("diagnostic",  &["limits"]),
    ("access_code", &["limits"]),
    ("ast",         &["diagnostic"]),
    ("syntax",      &["ast", "diagnostic", "limits"]),
    ("ir",          &["diagnostic"]),
    ("check",       &["datetime", "ast", "bits", "diagnostic", "ir", "limits"]),
    ("format",      &["ast", "diagnostic", "limits", "syntax"]),
    ("compile",     &["bits", "diagnostic", "ir", "limits"]),
    ("decision",    &["compile", "diagnostic", "ir"]),
    ("lint",        &["bits", "compile", "diagnostic", "ir", "limits"]),
    ("diff",        &["bits", "compile", "diagnostic", "ir"]),
    ("entities",    &["datetime", "access_code", "compile", "diagnostic", "ir", "json_pos", "limits"]),
    ("request",     &["compile", "entities", "json_pos"]),
    ("resolve",     &["datetime", "compile", "diagnostic", "entities", "ir", "limits", "request"]),
    ("vm",          &["bits", "compile", "decision", "entities", "ir", "request"]),
    ("reference",   &["datetime", "access_code", "compile", "decision", "diagnostic", "entities", "ir",
                      "limits", "request", "resolve"]),
    ("hints",       &["compile", "decision", "entities", "ir", "limits", "reference", "request",
                      "vm"]),
    ("explain",     &["compile", "diagnostic", "limits", "reference"]),
    ("response",    &["compile", "decision", "ir", "request", "resolve"]),
    ("files",       &["diagnostic", "json_pos", "limits"]),
    ("api",         &["check", "compile", "decision", "diagnostic", "entities", "explain",
                      "files", "hints", "ir", "limits", "lint", "reference", "request", "resolve",
                      "response", "syntax", "vm"]),
    ("query",       &["datetime", "access_code", "api", "bits", "check", "compile", "decision",
                      "diagnostic", "entities", "ir", "limits", "reference", "request", "resolve",
                      "syntax", "vm"]),
    ("verify",      &["datetime", "api", "bits", "compile", "diagnostic", "diff", "ir", "reference",
                      "request"]),
    ("testing",     &["api", "decision", "diagnostic", "entities", "ir", "json_pos",
                      "reference", "request", "resolve", "verify"]),
    ("live",        &["datetime", "access_code", "api", "compile", "decision", "diagnostic", "entities", "ir",
                      "limits", "request", "resolve"]),
    ("db",          &["api", "entities", "ir", "limits", "query"]),
];

/// Modules at the edge, which may import any module.
const EDGES: &[&str] = &["lib", "main", "cli", "serve", "lsp"];

/// Files that may read files: the command line, the server (`--watch`, the decision log), the
/// language server (the `.casepol` files beside an open document), and the library's one
/// reader of policies and entities files.
const MAY_READ_FILES: &[&str] = &["main", "cli", "serve", "lsp", "files"];

/// Files that may write to the terminal: the command line, and the server (what it listens
/// on, what `--watch` did, the decision log on standard output), and the language server (its
/// JSON-RPC on standard output).
const MAY_PRINT: &[&str] = &["main", "cli", "serve", "lsp"];

/// What a tidy rule found: the file, the line (from 1) and what is wrong.
#[derive(Debug, PartialEq, Eq)]
struct Finding {
    file: String,
    line: usize,
    message: String,
}

/// The module a file belongs to: `src/check/names.rs` → `check`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a file to scan: up to its `#[cfg(test)]` module, with comments blanked (so
/// that line numbers stay right).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let code = match line.find("//") {
            // A `//` inside a string (a URL) is rare in src/; cutting there only hides code.
            Some(at) => &line[..at],
            None => line,
        };
        out.push((i + 1, code.to_string()));
    }
    out
}

/// The names a `crate::` path starts with: `crate::ir::Policy` → `ir`; `crate::{ast, ir::X}`
/// → `ast`, `ir` (nested groups are read for their first segment only).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            for i in items {
                let name: String = i
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        rest = after;
    }
    out
}

/// The modules of the crate root's re-exports: `pub use api::{Policy, …}` maps `Policy` to
/// `api`.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (_, line) in code_lines(lib) {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        let items = items
            .trim_end_matches(';')
            .trim_matches(|c| c == '{' || c == '}');
        for item in items.split(',') {
            let name = item.trim().rsplit(' ').next().unwrap_or("").to_string();
            if !name.is_empty() {
                out.insert(name, module.to_string());
            }
        }
    }
    out
}

/// Every tidy rule applied to one file's text; only the `//!` line when the file is a test
/// module of its own (`test_module`).
fn check_file(
    relative: &Path,
    text: &str,
    test_module: bool,
    modules: &BTreeSet<String>,
    roots: &BTreeMap<String, String>,
) -> Vec<Finding> {
    let module = module_of(relative);
    let file = relative.display().to_string();
    let mut found = Vec::new();
    let mut say = |line: usize, message: String| {
        found.push(Finding {
            file: file.clone(),
            line,
            message,
        })
    };
    if !text.starts_with("//!") {
        say(
            1,
            "the file does not start with a `//!` line saying what it is for".into(),
        );
    }
    let allowed: Option<&[&str]> = if EDGES.contains(&module.as_str()) {
        None
    } else {
        Some(
            LAYERS
                .iter()
                .find(|(m, _)| *m == module)
                .map(|(_, a)| *a)
                .unwrap_or(&[]),
        )
    };
    let code = match test_module {
        true => Vec::new(),
        false => code_lines(text),
    };
    for (line, code) in code {
        if let Some(allowed) = allowed {
            for name in crate_paths(&code) {
                let target = if modules.contains(&name) {
                    name.clone()
                } else if let Some(m) = roots.get(&name) {
                    m.clone()
                } else {
                    continue;
                };
                if target != module && !allowed.contains(&target.as_str()) {
                    say(
                        line,
                        format!(
                            "`{module}` imports `{target}`, which the layering does not let it \
                             (LAYERS in tests/tidy.rs, and docs/ARCHITECTURE.md)"
                        ),
                    );
                }
            }
        }
        if module != "syntax" && (code.contains("pest::") || code.contains("pest_derive")) {
            say(
                line,
                format!("`{module}` uses pest, which belongs in `syntax` only"),
            );
        }
        let reads = [
            "std::fs",
            "File::open",
            "File::create",
            "read_dir",
            "std::io::stdin",
        ];
        if !MAY_READ_FILES.contains(&module.as_str()) && reads.iter().any(|r| code.contains(r)) {
            say(
                line,
                format!("`{module}` touches files, which only the command line and `files` do"),
            );
        }
        let prints = [
            "println!",
            "print!(",
            "eprintln!",
            "eprint!(",
            "std::io::stdout",
            "std::io::stderr",
            "dbg!(",
        ];
        if !MAY_PRINT.contains(&module.as_str()) && prints.iter().any(|p| code.contains(p)) {
            say(
                line,
                format!("`{module}` writes to the terminal, which only the command line does"),
            );
        }
    }
    found
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `path` (`src/m/x/tests.rs`) is a test module of its own: its parent file
/// (`src/m/x.rs`) declares it as `#[cfg(test)] mod tests;`.
fn is_test_module(path: &Path) -> bool {
    if path.file_name().is_none_or(|n| n != "tests.rs") {
        return false;
    }
    let Some(parent) = path.parent() else {
        return false;
    };
    let declared = std::fs::read_to_string(parent.with_extension("rs")).unwrap_or_default();
    let lines: Vec<&str> = declared.lines().map(str::trim).collect();
    lines
        .windows(2)
        .any(|w| w[0] == "#[cfg(test)]" && w[1] == "mod tests;")
}

/// The crate's modules: every `src/*.rs` file's stem.
fn modules(files: &[PathBuf]) -> BTreeSet<String> {
    files
        .iter()
        .filter_map(|f| f.strip_prefix("src").ok())
        .map(module_of)
        .collect()
}

#[test]
fn every_file_keeps_the_layering_and_says_what_it_is_for() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    assert!(files.len() > 20, "src/ has its files: {files:?}");
    let modules = modules(&files);
    let lib = std::fs::read_to_string("src/lib.rs").expect("src/lib.rs is readable");
    let roots = reexports(&lib);
    let mut findings = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("a source file is readable");
        let relative = path.strip_prefix("src").expect("under src");
        let test_module = is_test_module(path);
        findings.extend(check_file(relative, &text, test_module, &modules, &roots));
    }
    let shown: Vec<String> = findings
        .iter()
        .map(|f| format!("src/{}:{}: {}", f.file, f.line, f.message))
        .collect();
    assert!(shown.is_empty(), "tidy:\n{}", shown.join("\n"));
    // Every module is placed in the layering (or is an edge), and the table names no module
    // that does not exist.
    for m in &modules {
        assert!(
            EDGES.contains(&m.as_str()) || LAYERS.iter().any(|(l, _)| l == m),
            "module `{m}` is not in LAYERS (tests/tidy.rs): place it in the layering"
        );
    }
    for (m, allowed) in LAYERS {
        assert!(
            modules.contains(*m),
            "LAYERS names `{m}`, which src/ does not have"
        );
        for a in *allowed {
            assert!(
                modules.contains(*a),
                "LAYERS lets `{m}` import `{a}`, which src/ does not have"
            );
        }
    }
}

#[test]
fn the_layering_has_no_cycle_each_module_imports_only_modules_listed_before_it() {
    for (i, (m, allowed)) in LAYERS.iter().enumerate() {
        for a in *allowed {
            let at = LAYERS.iter().position(|(l, _)| l == a);
            assert!(
                at.is_some_and(|at| at < i),
                "`{m}` may import `{a}`, which is not listed before it in LAYERS"
            );
        }
    }
}

/// The rules themselves: each finds what it is for. (This is the test shown failing: a file
/// of `vm` importing `api`, pest outside `syntax`, printing and file reading in a library
/// module, and a missing `//!` line, must each be reported.)
#[test]
fn the_rules_find_what_they_are_for() {
    let modules: BTreeSet<String> = ["vm", "api", "ir", "syntax", "compile"]
        .into_iter()
        .map(String::from)
        .collect();
    let roots = reexports("//! Root.\npub use api::{check_sources, Policy};\n");
    let bad = "use crate::ir::Policy;\nuse crate::{compile, api::Policy as P};\nfn f() { crate::Policy::from_source(\"a\", \"b\"); }\nuse pest::Parser;\nfn g() { println!(\"x\"); let _ = std::fs::read(\"f\"); }\n// crate::api in a comment is not an import\n#[cfg(test)]\nmod tests { use crate::api::Policy; }\n";
    let found = check_file(Path::new("vm/fast.rs"), bad, false, &modules, &roots);
    let lines: Vec<(usize, &str)> = found
        .iter()
        .map(|f| (f.line, f.message.split(',').next().unwrap_or("")))
        .collect();
    assert_eq!(
        lines,
        [
            (
                1,
                "the file does not start with a `//!` line saying what it is for"
            ),
            (2, "`vm` imports `api`"),
            (3, "`vm` imports `api`"),
            (4, "`vm` uses pest"),
            (5, "`vm` touches files"),
            (5, "`vm` writes to the terminal"),
        ]
    );
    let good = "//! Fine.\nuse crate::{compile, ir::Policy};\n";
    assert!(check_file(Path::new("vm.rs"), good, false, &modules, &roots).is_empty());
    // A test module of its own may use anything, but still says what it is for.
    let tests = "//! Tests.\nuse crate::api::Policy;\nfn f() { let _ = std::fs::read(\"f\"); }\n";
    assert!(check_file(Path::new("vm/tests.rs"), tests, true, &modules, &roots).is_empty());
    let found = check_file(
        Path::new("vm/tests.rs"),
        &tests[11..],
        true,
        &modules,
        &roots,
    );
    assert_eq!(found.len(), 1, "{found:?}");
}

/// What bindings may not use: casepol's internals and its hidden items, which the version
/// number does not cover. Bindings use the public API, as an application would.
const NOT_FOR_BINDINGS: &[&str] = &[
    "casepol::internal",
    ".compiled()",
    "apply_by_reloading",
    "apply_without_events",
];

/// The findings of the bindings rule in one file of `bindings/`: a `//!` line first, and no
/// internal or hidden item of casepol in its code.
fn check_binding(relative: &str, text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    if !text.starts_with("//!") {
        found.push(Finding {
            file: relative.to_string(),
            line: 1,
            message: "the file does not start with a `//!` line saying what it is for".into(),
        });
    }
    for (line, code) in code_lines(text) {
        for bad in NOT_FOR_BINDINGS {
            if code.contains(bad) {
                found.push(Finding {
                    file: relative.to_string(),
                    line,
                    message: format!("a binding uses `{bad}`, which is not casepol's public API"),
                });
            }
        }
    }
    found
}

#[test]
fn bindings_use_only_the_public_api() {
    let mut files = Vec::new();
    rust_files(Path::new("bindings"), &mut files);
    assert!(files.len() >= 3, "bindings/ has its Rust files: {files:?}");
    let mut findings = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("a source file is readable");
        findings.extend(check_binding(&path.display().to_string(), &text));
    }
    let shown: Vec<String> = findings
        .iter()
        .map(|f| format!("{}:{}: {}", f.file, f.line, f.message))
        .collect();
    assert!(shown.is_empty(), "tidy:\n{}", shown.join("\n"));
    let bad = "use casepol::Policy;\nfn f(p: &Policy) { let _ = p.compiled(); }\n// casepol::internal in a comment is fine\nuse casepol::internal::vm;\n";
    let lines: Vec<usize> = check_binding("b.rs", bad).iter().map(|f| f.line).collect();
    assert_eq!(lines, [1, 2, 4]);
}

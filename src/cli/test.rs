//! `casepol test`: run the policy tests that authors keep next to their policies.
//!
//! Finds `*.test.json` files, loads the policy and entities each names, runs the cases with
//! `casepol::internal::testing`, and reports failures, a summary and rule coverage (docs/policy-tests.md).

use super::*;
use casepol::diagnostic::{Code, Span};
use casepol::internal::testing::{
    self, CaseResult, Coverage, EntitiesSource, FileRun, Item, PropertyResult, TestFile,
};
use casepol::internal::verify::Verdict;
use std::collections::HashMap;

#[derive(clap::Args)]
pub(super) struct TestArgs {
    /// A test file, or a directory searched (recursively) for `*.test.json` files; hidden
    /// entries and what `.gitignore` or `.casepolignore` excludes are skipped
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
    /// List every rule, table cell, transition, module grant and access-mode line that no test
    /// exercised
    #[arg(long)]
    coverage: bool,
    /// Exit with 1 when the coverage of all policies together is below this percentage
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    min_coverage: Option<f64>,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "`{text}` is not a percentage from 0 to 100, such as `80`"
        )),
    }
}

/// A policy that one or more test files name, loaded once.
struct LoadedPolicy {
    /// The path as the test file's directory and `policy` combine, for people.
    shown: String,
    /// `Err`: the policy's own diagnostics (with its sources) or why it could not be read.
    policy: Result<Policy, PolicyProblem>,
    coverage: Option<Coverage>,
}

enum PolicyProblem {
    Unreadable(String),
    Invalid(casepol::PolicyError),
}

/// One test file and what became of it.
struct FileReport {
    path: String,
    tests: Option<TestFile>,
    /// Index into the loaded policies, once the test file named one.
    policy: Option<usize>,
    run: Option<FileRun>,
    /// The file's properties, proved or refuted (docs/policy-tests.md §8).
    props: Vec<PropertyResult>,
}

/// Everything one `casepol test` run found.
struct Session {
    sources: Sources,
    /// Problems in test files (`CP0402`), against `sources`.
    diags: Vec<Diagnostic>,
    policies: Vec<LoadedPolicy>,
    by_path: HashMap<PathBuf, usize>,
    files: Vec<FileReport>,
    /// Whether test cases run (`test`), or only properties (`verify`).
    cases: bool,
}

impl Session {
    /// An empty session: `cases` for `test`, which runs the cases too, not for `verify`.
    fn new(cases: bool) -> Session {
        Session {
            sources: Sources::new(),
            diags: Vec::new(),
            policies: Vec::new(),
            by_path: HashMap::new(),
            files: Vec::new(),
            cases,
        }
    }
}

/// Test files under `dir`, by the one rule for directories
/// ([`casepol::internal::files::walk`]): recursively, in path order, skipping hidden entries and
/// what `.gitignore` or `.casepolignore` files exclude.
fn find_tests(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let found = casepol::internal::files::walk(
        dir,
        |p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(testing::TEST_FILE_SUFFIX))
        },
        casepol::limits::MAX_WALK_FILES,
        "test files, the limit for one directory argument",
    )
    .map_err(|e| e.to_string())?;
    out.extend(found);
    Ok(())
}

fn invalid(span: Span, message: String, label: &str, help: Option<&str>) -> Diagnostic {
    let d = Diagnostic::new(Code::InvalidTest, span, message).with_label(label);
    match help {
        Some(h) => d.with_help(h),
        None => d,
    }
}

impl Session {
    fn load_policy(&mut self, path: PathBuf) -> usize {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Some(&i) = self.by_path.get(&key) {
            return i;
        }
        let policy = match read_policy(&path) {
            Err(msg) => Err(PolicyProblem::Unreadable(msg)),
            Ok(sources) => Policy::from_sources(sources).map_err(PolicyProblem::Invalid),
        };
        let coverage = policy.as_ref().ok().map(Coverage::new);
        self.policies.push(LoadedPolicy {
            shown: path.display().to_string(),
            policy,
            coverage,
        });
        self.by_path.insert(key, self.policies.len() - 1);
        self.policies.len() - 1
    }

    /// Loads the entities a test file names; every problem becomes a diagnostic in it.
    fn load_entities(&mut self, policy: &Policy, tests: &TestFile, dir: &Path) -> Option<Entities> {
        let span = tests.entities_span;
        let (text, shown) = match &tests.entities {
            EntitiesSource::Path(p) => {
                let path = dir.join(p);
                match read_text(&path) {
                    Ok(text) => (text, Some(path.display().to_string())),
                    Err(msg) => {
                        self.diags.push(invalid(
                            span,
                            msg,
                            "the entities file",
                            Some("`entities` is a path relative to this test file, or an inline entities object"),
                        ));
                        return None;
                    }
                }
            }
            EntitiesSource::Inline(text) => (text.clone(), None),
        };
        let errors = match policy.load_entities(&text) {
            Ok(e) => return Some(e),
            Err(errors) => errors,
        };
        for e in errors {
            let mut body = e.clone();
            (body.line, body.column, body.help) = (None, None, None);
            let body = body.to_string();
            let d = match (&shown, e.line, e.column, e.offset) {
                (Some(path), Some(l), Some(c), _) => invalid(
                    span,
                    format!("invalid entities in `{path}` at line {l}, column {c}: {body}"),
                    "these entities",
                    e.help.as_deref(),
                ),
                (Some(path), _, _, _) => invalid(
                    span,
                    format!("invalid entities in `{path}`: {body}"),
                    "these entities",
                    e.help.as_deref(),
                ),
                // The inline entities are the test file's own text from `span.start`, so the
                // error's byte offset in them places it in the test file.
                (None, _, _, Some(offset)) => {
                    let at = span.start as usize + offset;
                    let end = text
                        .get(offset..)
                        .and_then(|rest| rest.chars().next())
                        .map_or(at, |ch| at + ch.len_utf8());
                    invalid(
                        Span::new(tests.file, at, end),
                        format!("invalid inline entities: {body}"),
                        "here",
                        e.help.as_deref(),
                    )
                }
                (None, _, _, None) => invalid(
                    span,
                    format!("invalid inline entities: {body}"),
                    "these entities",
                    e.help.as_deref(),
                ),
            };
            self.diags.push(d);
        }
        None
    }

    /// Reads, parses and runs one test file.
    fn test_file(&mut self, path: &Path) {
        let shown = path.display().to_string();
        let text = match read_text(path) {
            Ok(text) => text,
            Err(msg) => {
                let file = self.sources.add(shown.clone(), "");
                self.diags
                    .push(invalid(Span::new(file, 0, 0), msg, "", None));
                self.files.push(FileReport {
                    path: shown,
                    tests: None,
                    policy: None,
                    run: None,
                    props: Vec::new(),
                });
                return;
            }
        };
        let file = self.sources.add(shown.clone(), text);
        let mut report = FileReport {
            path: shown,
            tests: None,
            policy: None,
            run: None,
            props: Vec::new(),
        };
        let tests = match testing::parse(&self.sources, file) {
            Ok(t) => t,
            Err(diags) => {
                self.diags.extend(diags);
                self.files.push(report);
                return;
            }
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let policy_path = match &tests.policy {
            Some(p) => dir.join(p),
            None => dir.to_path_buf(),
        };
        let index = self.load_policy(policy_path);
        report.policy = Some(index);
        let shown_policy = self.policies[index].shown.clone();
        let problem = match &self.policies[index].policy {
            Ok(_) => None,
            Err(PolicyProblem::Unreadable(msg)) => Some(invalid(
                tests.policy_span,
                format!("cannot load the policy of this test file: {msg}"),
                if tests.policy.is_some() { "the policy" } else { "the policy is the directory of this file" },
                Some("`policy` is a `.casepol` file or a directory of them, relative to this test file; without it, the test file's directory"),
            )),
            Err(PolicyProblem::Invalid(_)) => Some(invalid(
                tests.policy_span,
                format!("policy `{shown_policy}` has errors, so its tests cannot run"),
                "the policy",
                Some(&format!("fix the errors shown for it; `casepol validate {shown_policy}` lists them")),
            )),
        };
        if let Some(d) = problem {
            self.diags.push(d);
            report.tests = Some(tests);
            self.files.push(report);
            return;
        }
        // Borrow the policy out of the session only while it is used.
        let policies = std::mem::take(&mut self.policies);
        if let Ok(policy) = &policies[index].policy {
            let mut load = |path: &str| -> Result<Policy, String> {
                let sources = read_policy(&dir.join(path))?;
                Policy::from_sources(sources)
                    .map_err(|_| format!("`{path}` has errors (`casepol validate` lists them)"))
            };
            let (props, diags) = testing::prove(policy, &tests, &mut load);
            report.props = props;
            self.diags.extend(diags);
            if self.cases && !tests.cases.is_empty() {
                if let Some(entities) = self.load_entities(policy, &tests, dir) {
                    report.run = Some(testing::run(policy, &entities, &tests));
                }
            }
        }
        self.policies = policies;
        if let Some(run) = &report.run {
            self.diags.extend(run.diagnostics.iter().cloned());
            if let Some(c) = self.policies[index].coverage.as_mut() {
                c.record_run(run);
            }
        }
        report.tests = Some(tests);
        self.files.push(report);
    }

    fn passed(&self) -> usize {
        self.files
            .iter()
            .filter_map(|f| f.run.as_ref())
            .map(FileRun::passed)
            .sum()
    }

    fn failed(&self) -> usize {
        self.files
            .iter()
            .filter_map(|f| f.run.as_ref())
            .map(FileRun::failed)
            .sum()
    }

    /// The properties of every file, each with its file.
    fn props(&self) -> impl Iterator<Item = (&FileReport, &PropertyResult)> {
        self.files
            .iter()
            .flat_map(|f| f.props.iter().map(move |p| (f, p)))
    }

    /// How many properties were proven, refuted and not proven.
    fn prop_counts(&self) -> (usize, usize, usize) {
        self.props()
            .fold((0, 0, 0), |(a, b, c), (_, p)| match p.verdict {
                Verdict::Proven { .. } => (a + 1, b, c),
                Verdict::Refuted(_) => (a, b + 1, c),
                Verdict::Unproven { .. } => (a, b, c + 1),
            })
    }

    /// Every property not proven as a `CP0404` diagnostic on the property in its test file.
    fn property_diagnostics(&self) -> Vec<Diagnostic> {
        self.props()
            .filter(|(_, p)| !p.proven())
            .map(|(_, p)| {
                let (message, help) = match &p.verdict {
                    Verdict::Refuted(cx) => (
                        format!(
                            "property `{}` is refuted: a user holding {} is allowed",
                            p.name,
                            holding(&cx.holding)
                        ),
                        format!(
                            "counterexample: request {} on entities {}",
                            cx.request, cx.entities
                        ),
                    ),
                    Verdict::Unproven { depends_on, .. } => (
                        format!(
                            "property `{}` cannot be proven: it depends on {}",
                            p.name,
                            depends_on.join("; ")
                        ),
                        "narrow the property, or test the data it depends on with test cases"
                            .into(),
                    ),
                    Verdict::Proven { .. } => (String::new(), String::new()),
                };
                Diagnostic::new(Code::PropertyFailed, p.span, message)
                    .with_label(p.verdict.name())
                    .with_help(help)
            })
            .collect()
    }

    fn coverages(&self) -> impl Iterator<Item = (&LoadedPolicy, &Coverage)> {
        self.policies
            .iter()
            .filter_map(|p| p.coverage.as_ref().map(|c| (p, c)))
    }

    fn covered_total(&self) -> (usize, usize) {
        self.coverages().fold((0, 0), |(c, t), (_, cov)| {
            (c + cov.covered(), t + cov.total())
        })
    }

    /// The policies' own errors, each with the sources it points into.
    fn policy_errors(&self) -> Vec<(&Sources, &[Diagnostic])> {
        self.policies
            .iter()
            .filter_map(|p| match &p.policy {
                Err(PolicyProblem::Invalid(e)) => Some((&e.sources, &e.diagnostics[..])),
                _ => None,
            })
            .collect()
    }

    /// Every failing case as a `CP0401` diagnostic on the case in its test file.
    fn failure_diagnostics(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for f in &self.files {
            let (Some(tests), Some(run)) = (&f.tests, &f.run) else {
                continue;
            };
            for r in run.results.iter().filter(|r| !r.passed()) {
                let case = &tests.cases[r.index];
                let problems: Vec<String> = r.mismatches.iter().map(|m| m.message()).collect();
                let mut d = Diagnostic::new(
                    Code::TestFailed,
                    case.span,
                    format!("test `{}` failed: {}", case.name, problems.join("; ")),
                )
                .with_label(format!("got {}", got(r)));
                if let Some(why) = self.explain_summary(f, r) {
                    d = d.with_help(why);
                }
                out.push(d);
            }
        }
        out
    }

    /// The explanation's second line ("decided by the … layer: …").
    fn explain_summary(&self, f: &FileReport, r: &CaseResult) -> Option<String> {
        let policy = self.policies[f.policy?].policy.as_ref().ok()?;
        policy
            .explain_text(&r.trace)
            .lines()
            .nth(1)
            .filter(|l| !l.is_empty())
            .map(String::from)
    }
}

/// `deny (data: explicitly_denied)`, `allow (data: allowed)` or `error (unknown_principal)`.
fn got(r: &CaseResult) -> String {
    if let Some(e) = &r.trace.error {
        return format!("error ({})", testing::json_name(e.kind));
    }
    let d = r.decision;
    format!(
        "{} ({}: {})",
        r.outcome().as_str(),
        d.layer.name(),
        d.reason.name()
    )
}

/// What a case expects, showing only the parts it names.
fn expected(e: &testing::Expected) -> String {
    let mut out = e.outcome.as_str().to_string();
    let detail = match (e.layer, e.reason, e.error) {
        (_, _, Some(k)) => Some(testing::json_name(k)),
        (Some(l), Some(r), _) => Some(format!("{}: {}", l.name(), r.name())),
        (Some(l), None, _) => Some(l.name().to_string()),
        (None, Some(r), _) => Some(r.name().to_string()),
        (None, None, None) => None,
    };
    if let Some(d) = detail {
        out.push_str(&format!(" ({d})"));
    }
    out
}

/// `` `Employee` and `subject` `` or `no subject`.
fn holding(subjects: &[String]) -> String {
    if subjects.is_empty() {
        return "no subject".into();
    }
    let quoted: Vec<String> = subjects.iter().map(|s| format!("`{s}`")).collect();
    quoted.join(" and ")
}

/// The block printed for a property that is not proven.
fn property_block(f: &FileReport, p: &PropertyResult, line: usize) -> String {
    let mut out = String::new();
    let head = match p.verdict {
        Verdict::Refuted(_) => "REFUTED",
        _ => "NOT PROVEN",
    };
    out.push_str(&format!("{head} {}:{line}: property {}\n", f.path, p.name));
    if let Some(d) = &p.description {
        out.push_str(&format!("  note:     {d}\n"));
    }
    match &p.verdict {
        Verdict::Refuted(cx) => {
            out.push_str(&format!(
                "  allowed:  a user holding {}\n",
                holding(&cx.holding)
            ));
            out.push_str(&format!("  request:  {}\n", cx.request));
            out.push_str(&format!("  entities: {}\n", cx.entities));
            out.push_str(
                "  (`casepol explain POLICY --entities ENTITIES --request REQUEST` shows why)\n",
            );
        }
        Verdict::Unproven { depends_on, .. } => {
            for d in depends_on {
                out.push_str(&format!("  depends on: {d}\n"));
            }
        }
        Verdict::Proven { .. } => {}
    }
    out
}

fn pct(covered: usize, total: usize) -> String {
    match testing::percent(covered, total) {
        Some(p) => format!("{p:.1}%"),
        None => "nothing to cover".into(),
    }
}

fn coverage_line(covered: usize, total: usize) -> String {
    format!(
        "{covered} of {total} rules and table cells ({})",
        pct(covered, total)
    )
}

fn item_line(i: &Item) -> String {
    let what = match &i.cell {
        Some(c) => format!("table cell {c}"),
        None => i.kind.to_string(),
    };
    format!("  {}:{}:{}  {what}  {}", i.file, i.line, i.column, i.source)
}

/// The test files the paths name, or the exit of a usage error.
fn find_all(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Exit> {
    let mut found = Vec::new();
    for p in paths {
        if p.is_dir() {
            if let Err(msg) = find_tests(p, &mut found) {
                return Err(fail_input(msg));
            }
        } else if p.exists() {
            found.push(p.clone());
        } else {
            return Err(fail_input(format!(
                "cannot read `{}`: no such file or directory",
                p.display()
            )));
        }
    }
    if found.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
        eprintln!(
            "error: no test files (`*{}`) found in {}\n  help: write a test file next to the policy, e.g. `policy.test.json`; see docs/policy-tests.md",
            testing::TEST_FILE_SUFFIX,
            shown.join(", ")
        );
        return Err(Exit::Error);
    }
    Ok(found)
}

pub(super) fn test(args: &TestArgs) -> Exit {
    let found = match find_all(&args.paths) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let mut s = Session::new(true);
    for path in &found {
        s.test_file(path);
    }
    let (covered, total) = s.covered_total();
    let below = args
        .min_coverage
        .is_some_and(|min| testing::percent(covered, total).unwrap_or(100.0) < min);
    let written = match args.format {
        ReportFormat::Human => human(&s, args, below),
        ReportFormat::Json => emit(&json(&s)),
        ReportFormat::Sarif | ReportFormat::Github => {
            let failures = s.failure_diagnostics();
            let mut mine = s.diags.clone();
            mine.extend(failures);
            mine.extend(s.property_diagnostics());
            let mut sets: Vec<(&Sources, &[Diagnostic])> = s.policy_errors();
            sets.insert(0, (&s.sources, &mine));
            emit_machine_report(args.format, &sets).and_then(|()| {
                if args.format == ReportFormat::Github {
                    summary(&s, args, below)
                } else {
                    Ok(())
                }
            })
        }
    };
    if let Err(e) = written {
        return e;
    }
    if !s.diags.is_empty() {
        Exit::Error
    } else if s.failed() > 0 || below || s.prop_counts() != (s.props().count(), 0, 0) {
        Exit::Fail
    } else {
        Exit::Ok
    }
}

/// The summary lines: per test file, per policy, the totals and, with `--coverage`, what no
/// test exercised.
fn summary(s: &Session, args: &TestArgs, below: bool) -> Result<(), Exit> {
    for f in &s.files {
        match &f.run {
            Some(run) => emit(&format!(
                "{}: {} passed, {} failed{}",
                f.path,
                run.passed(),
                run.failed(),
                props_of(f)
            ))?,
            None if !f.props.is_empty() => emit(&format!("{}:{}", f.path, props_of(f)))?,
            None => emit(&format!("{}: not run (see the errors above)", f.path))?,
        }
    }
    let policies: Vec<_> = s.coverages().collect();
    if policies.len() > 1 {
        for (p, c) in &policies {
            emit(&format!(
                "coverage of {}: {}",
                p.shown,
                coverage_line(c.covered(), c.total())
            ))?;
        }
    }
    emit(&format!("{} passed, {} failed", s.passed(), s.failed()))?;
    if s.props().next().is_some() {
        emit(&prop_line(s))?;
    }
    let (covered, total) = s.covered_total();
    if policies.is_empty() {
        emit("coverage: none (no test file could be run)")?;
    } else {
        emit(&format!("coverage: {}", coverage_line(covered, total)))?;
    }
    if args.coverage {
        for (p, c) in &policies {
            let missing: Vec<&Item> = c.uncovered().collect();
            if missing.is_empty() {
                emit(&format!("every rule of {} is exercised", p.shown))?;
                continue;
            }
            emit(&format!(
                "not exercised by any test of {} ({}):",
                p.shown,
                missing.len()
            ))?;
            for i in missing {
                emit(&item_line(i))?;
            }
        }
    }
    if let (true, Some(min)) = (below, args.min_coverage) {
        emit(&format!(
            "coverage {} is below the required {min}%",
            pct(covered, total)
        ))?;
    }
    Ok(())
}

/// `, 2 of 2 properties proven` for a file's summary line; empty without properties.
fn props_of(f: &FileReport) -> String {
    if f.props.is_empty() {
        return String::new();
    }
    let proven = f.props.iter().filter(|p| p.proven()).count();
    let sep = if f.run.is_some() { "," } else { "" };
    format!("{sep} {proven} of {} properties proven", f.props.len())
}

/// `properties: 3 proven, 1 refuted, 0 not proven`.
fn prop_line(s: &Session) -> String {
    let (p, r, u) = s.prop_counts();
    format!("properties: {p} proven, {r} refuted, {u} not proven")
}

/// The diagnostics of the policies, then of the test files, on standard error.
fn human_errors(s: &Session) {
    {
        let mut err = std::io::stderr().lock();
        for (sources, diags) in s.policy_errors() {
            let _ = write!(err, "{}", human_diagnostics(diags, sources));
        }
        // Diagnostics with a snippet are shown in runs, within the run's budget.
        let mut run: Vec<Diagnostic> = Vec::new();
        for d in &s.diags {
            let file = d.span().file;
            if s.sources.text(file).is_empty() {
                let _ = write!(err, "{}", human_diagnostics(&run, &s.sources));
                run.clear();
                // Nothing to show a snippet of: an unreadable or empty file.
                let name = s.sources.name(file);
                let message = if d.message.contains(&format!("`{name}`")) {
                    d.message.clone()
                } else {
                    format!("{name}: {}", d.message)
                };
                let _ = writeln!(err, "error[{}]: {message}", d.code.as_str());
            } else {
                run.push(d.clone());
            }
        }
        let _ = write!(err, "{}", human_diagnostics(&run, &s.sources));
    }
}

fn human(s: &Session, args: &TestArgs, below: bool) -> Result<(), Exit> {
    human_errors(s);
    for f in &s.files {
        let (Some(tests), Some(run)) = (&f.tests, &f.run) else {
            continue;
        };
        let Some(Ok(policy)) = f.policy.map(|i| &s.policies[i].policy) else {
            continue;
        };
        for r in run.results.iter().filter(|r| !r.passed()) {
            let case = &tests.cases[r.index];
            let (line, _) = s.sources.line_col(case.span);
            let mut out = String::new();
            out.push_str(&format!("FAIL {}:{line}: {}\n", f.path, case.name));
            if let Some(d) = &case.description {
                out.push_str(&format!("  note:     {d}\n"));
            }
            out.push_str(&format!(
                "  request:  {}\n",
                serde_json::to_string(&case.request).unwrap_or_default()
            ));
            out.push_str(&format!("  expected: {}\n", expected(&case.expect)));
            for e in &r.expected_rules {
                out.push_str(&format!("            decided by {e}\n"));
            }
            out.push_str(&format!("  got:      {}\n", got(r)));
            if let Some(e) = &r.trace.error {
                out.push_str(&format!("            {}\n", e.message));
            }
            if !r.expected_rules.is_empty() {
                if r.deciding.is_empty() {
                    out.push_str("            decided by no rule\n");
                }
                for d in &r.deciding {
                    out.push_str(&format!("            decided by {}\n", d.describe()));
                }
            }
            // The expected and got lines show every other mismatch side by side.
            for m in &r.mismatches {
                if let testing::Mismatch::Engines { .. } = m {
                    out.push_str(&format!("  bug:      {}\n", m.message()));
                }
            }
            out.push_str("  explain:\n");
            for l in policy.explain_text(&r.trace).lines() {
                if l.is_empty() {
                    out.push('\n');
                } else {
                    out.push_str(&format!("    {l}\n"));
                }
            }
            emit(&out)?;
        }
    }
    for (f, p) in s.props().filter(|(_, p)| !p.proven()) {
        emit(&property_block(f, p, s.sources.line_col(p.span).0))?;
    }
    summary(s, args, below)?;
    if !s.diags.is_empty() {
        eprintln!(
            "error: {} problem(s) in test files; the tests they concern did not run",
            s.diags.len()
        );
    }
    Ok(())
}

// ---- --format json ----------------------------------------------------------------------------

/// The output of `test --format json` (docs/policy-tests.md). Fields come out in this order.
#[derive(Serialize)]
struct TestJson<'a> {
    passed: usize,
    failed: usize,
    coverage: CoverageJson<'a>,
    properties: PropCountsJson,
    files: Vec<FileJson<'a>>,
    errors: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct CoverageJson<'a> {
    covered: usize,
    total: usize,
    percent: Option<f64>,
    policies: Vec<PolicyCoverageJson<'a>>,
}

#[derive(Serialize)]
struct PolicyCoverageJson<'a> {
    policy: &'a str,
    covered: usize,
    total: usize,
    percent: Option<f64>,
    uncovered: Vec<&'a Item>,
}

#[derive(Serialize)]
struct FileJson<'a> {
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    ran: bool,
    passed: usize,
    failed: usize,
    cases: Vec<CaseJson<'a>>,
    properties: Vec<PropertyJson<'a>>,
}

/// How many properties were proven, refuted and not proven.
#[derive(Serialize)]
struct PropCountsJson {
    proven: usize,
    refuted: usize,
    unproven: usize,
}

impl PropCountsJson {
    fn of(s: &Session) -> PropCountsJson {
        let (proven, refuted, unproven) = s.prop_counts();
        PropCountsJson {
            proven,
            refuted,
            unproven,
        }
    }
}

/// One property and its verdict: `points` and, when refuted, `request`, `entities` and
/// `holding`, or, when not proven, `depends_on`.
#[derive(Serialize)]
struct PropertyJson<'a> {
    name: &'a str,
    line: usize,
    claim: casepol::internal::verify::ClaimKind,
    #[serde(flatten)]
    verdict: &'a Verdict,
}

fn property_json<'a>(s: &Session, p: &'a PropertyResult) -> PropertyJson<'a> {
    PropertyJson {
        name: &p.name,
        line: s.sources.line_col(p.span).0,
        claim: p.claim,
        verdict: &p.verdict,
    }
}

#[derive(Serialize)]
struct CaseJson<'a> {
    name: &'a str,
    line: usize,
    passed: bool,
    request: &'a Request,
    expected: ExpectedJson<'a>,
    got: GotJson<'a>,
    problems: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<&'a casepol::internal::reference::Trace>,
}

#[derive(Serialize)]
struct ExpectedJson<'a> {
    decision: testing::Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer: Option<Layer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RequestErrorKind>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    rules: &'a [String],
}

#[derive(Serialize)]
struct GotJson<'a> {
    decision: testing::Outcome,
    layer: Layer,
    reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RequestError>,
    rules: &'a [Item],
}

fn json(s: &Session) -> String {
    let (covered, total) = s.covered_total();
    let files = s
        .files
        .iter()
        .map(|f| {
            let cases = match (&f.tests, &f.run) {
                (Some(tests), Some(run)) => run
                    .results
                    .iter()
                    .map(|r| {
                        let case = &tests.cases[r.index];
                        let e = &case.expect;
                        CaseJson {
                            name: &case.name,
                            line: s.sources.line_col(case.span).0,
                            passed: r.passed(),
                            request: &case.request,
                            expected: ExpectedJson {
                                decision: e.outcome,
                                layer: e.layer,
                                reason: e.reason,
                                error: e.error,
                                rules: &r.expected_rules,
                            },
                            got: GotJson {
                                decision: r.outcome(),
                                layer: r.decision.layer,
                                reason: r.decision.reason,
                                error: r.trace.error.as_ref(),
                                rules: &r.deciding,
                            },
                            problems: r.mismatches.iter().map(|m| m.message()).collect(),
                            explain: (!r.passed()).then_some(&r.trace),
                        }
                    })
                    .collect(),
                _ => Vec::new(),
            };
            FileJson {
                file: &f.path,
                policy: f.policy.map(|i| s.policies[i].shown.as_str()),
                ran: f.run.is_some(),
                passed: f.run.as_ref().map_or(0, FileRun::passed),
                failed: f.run.as_ref().map_or(0, FileRun::failed),
                cases,
                properties: f.props.iter().map(|p| property_json(s, p)).collect(),
            }
        })
        .collect();
    let mut errors: Vec<JsonDiagnostic> = Vec::new();
    for (sources, diags) in s.policy_errors() {
        errors.extend(diags.iter().map(|d| render::json(d, sources)));
    }
    errors.extend(s.diags.iter().map(|d| render::json(d, &s.sources)));
    let out = TestJson {
        passed: s.passed(),
        failed: s.failed(),
        coverage: CoverageJson {
            covered,
            total,
            percent: testing::percent(covered, total),
            policies: s
                .coverages()
                .map(|(p, c)| PolicyCoverageJson {
                    policy: &p.shown,
                    covered: c.covered(),
                    total: c.total(),
                    percent: testing::percent(c.covered(), c.total()),
                    uncovered: c.uncovered().collect(),
                })
                .collect(),
        },
        properties: PropCountsJson::of(s),
        files,
        errors,
    };
    serde_json::to_string(&out).unwrap_or_default()
}

// ---- casepol verify ---------------------------------------------------------------------------

#[derive(clap::Args)]
pub(super) struct VerifyArgs {
    /// A test file, or a directory searched (recursively) for `*.test.json` files; their
    /// `properties` are proved
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
}

/// The output of `verify --format json` (docs/policy-tests.md §8).
#[derive(Serialize)]
struct VerifyJson<'a> {
    #[serde(flatten)]
    counts: PropCountsJson,
    properties: Vec<VerifyPropertyJson<'a>>,
    errors: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct VerifyPropertyJson<'a> {
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    #[serde(flatten)]
    property: PropertyJson<'a>,
}

pub(super) fn verify(args: &VerifyArgs) -> Exit {
    let found = match find_all(&args.paths) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let mut s = Session::new(false);
    for path in &found {
        s.test_file(path);
    }
    let written = match args.format {
        ReportFormat::Human => verify_human(&s),
        ReportFormat::Json => {
            let mut errors: Vec<JsonDiagnostic> = Vec::new();
            for (sources, diags) in s.policy_errors() {
                errors.extend(diags.iter().map(|d| render::json(d, sources)));
            }
            errors.extend(s.diags.iter().map(|d| render::json(d, &s.sources)));
            let out = VerifyJson {
                counts: PropCountsJson::of(&s),
                properties: s
                    .props()
                    .map(|(f, p)| VerifyPropertyJson {
                        file: &f.path,
                        policy: f.policy.map(|i| s.policies[i].shown.as_str()),
                        property: property_json(&s, p),
                    })
                    .collect(),
                errors,
            };
            emit(&serde_json::to_string(&out).unwrap_or_default())
        }
        ReportFormat::Sarif | ReportFormat::Github => {
            let mut mine = s.diags.clone();
            mine.extend(s.property_diagnostics());
            let mut sets: Vec<(&Sources, &[Diagnostic])> = s.policy_errors();
            sets.insert(0, (&s.sources, &mine));
            emit_machine_report(args.format, &sets).and_then(|()| {
                if args.format == ReportFormat::Github {
                    emit(&prop_line(&s))
                } else {
                    Ok(())
                }
            })
        }
    };
    if let Err(e) = written {
        return e;
    }
    let (_, refuted, unproven) = s.prop_counts();
    if !s.diags.is_empty() {
        Exit::Error
    } else if s.props().next().is_none() {
        eprintln!("error: the test files hold no `properties`\n  help: add `\"properties\": [{{\"name\": …, \"never\": [\"Role\"], \"actions\": [\"edit\"]}}]` to a test file; see docs/policy-tests.md");
        Exit::Error
    } else if refuted + unproven > 0 {
        Exit::Fail
    } else {
        Exit::Ok
    }
}

fn verify_human(s: &Session) -> Result<(), Exit> {
    human_errors(s);
    for (f, p) in s.props() {
        let line = s.sources.line_col(p.span).0;
        match &p.verdict {
            Verdict::Proven { points } => emit(&format!(
                "PROVEN {}:{line}: property {} ({points} points of the domain)",
                f.path, p.name
            ))?,
            _ => emit(property_block(f, p, line).trim_end())?,
        }
    }
    emit(&prop_line(s))?;
    if !s.diags.is_empty() {
        eprintln!(
            "error: {} problem(s) in test files; the properties they concern did not run",
            s.diags.len()
        );
    }
    Ok(())
}

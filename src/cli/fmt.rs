//! `casepol fmt`: rewrite policy files in the canonical layout, or check that they are.
//!
//! Each file is formatted on its own (a file need not form a policy alone). Files are written
//! only when formatting changes them; a file with syntax errors, or one the formatter's
//! soundness check rejects, is never touched.

use super::*;
use casepol::diagnostic::FileId;
use casepol::internal::format::{self, FormatError};
use casepol::limits::MAX_POLICY_FILE_BYTES;
use std::collections::HashSet;

#[derive(clap::Args)]
pub(super) struct FmtArgs {
    /// A `.casepol` file, or a directory: every `.casepol` file under it is formatted, sub-directories
    /// included (hidden entries and what `.gitignore` or `.casepolignore` excludes are skipped);
    /// or `-` alone: format standard input to standard output
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Change nothing; list the files that would change and exit 1 if there are any
    #[arg(long)]
    check: bool,
    /// Change nothing; print a unified diff of what would change on standard output (the
    /// summary goes to standard error) and exit 1 if anything would
    #[arg(long, conflicts_with_all = ["check", "format"])]
    diff: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
}

impl FmtArgs {
    /// Whether files are left as they are: `--check`, `--diff`.
    fn dry(&self) -> bool {
        self.check || self.diff
    }
}

/// The name standard input goes by in reports and diagnostics.
const STDIN_NAME: &str = "<stdin>";

/// What happened to one file.
enum Outcome {
    Unchanged,
    /// Formatting changes the file; `finding` is the CP0301 diagnostic at the first change.
    /// Written unless `--check`.
    Changed {
        finding: Diagnostic,
        /// The unified diff, with `--diff`.
        diff: Option<String>,
        /// The first changed lines, as `--check` shows them.
        preview: Option<String>,
    },
    Syntax(Vec<Diagnostic>),
    /// A CP0302 diagnostic: the formatter's output failed its soundness check.
    Bug(Diagnostic),
    Unreadable(String),
    Unwritable(String),
}

struct FileResult {
    name: String,
    /// The file's text, as the only source, so diagnostics can be rendered.
    sources: Sources,
    outcome: Outcome,
}

impl FileResult {
    fn exit(&self, check: bool) -> Exit {
        match self.outcome {
            Outcome::Unchanged => Exit::Ok,
            Outcome::Changed { .. } if !check => Exit::Ok,
            Outcome::Changed { .. } | Outcome::Syntax(_) | Outcome::Bug(_) => Exit::Fail,
            Outcome::Unreadable(_) | Outcome::Unwritable(_) => Exit::Error,
        }
    }

    /// The diagnostics a `--check` run reports for this file (SARIF, GitHub).
    fn findings(&self, check: bool) -> &[Diagnostic] {
        match &self.outcome {
            Outcome::Changed { finding, .. } if check => std::slice::from_ref(finding),
            Outcome::Syntax(diags) => diags,
            Outcome::Bug(d) => std::slice::from_ref(d),
            _ => &[],
        }
    }

    /// The one-based line of the first change.
    fn line(&self, finding: &Diagnostic) -> usize {
        self.sources.line_col(finding.span()).0
    }
}

/// The output of `fmt --format json` (docs/formatting.md).
#[derive(Serialize)]
struct FmtJson<'a> {
    check: bool,
    files: Vec<FileJson<'a>>,
}

#[derive(Serialize)]
struct FileJson<'a> {
    file: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnostics: Option<Vec<JsonDiagnostic<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

pub(super) fn fmt(args: &FmtArgs) -> Exit {
    if args.paths.iter().any(|p| is_stdin(p)) {
        if args.paths.len() > 1 {
            return fail_input(
                "`-` (standard input) must be the only path given to `casepol fmt`".into(),
            );
        }
        if !args.dry() {
            return fmt_stdin(args.format);
        }
    }
    let results: Vec<FileResult> = targets(&args.paths)
        .into_iter()
        .map(|target| match target {
            Ok(path) => format_file(&path, args),
            Err((name, msg)) => FileResult {
                name,
                sources: Sources::new(),
                outcome: Outcome::Unreadable(msg),
            },
        })
        .collect();
    let worst = results
        .iter()
        .map(|r| r.exit(args.dry()))
        .max()
        .unwrap_or(Exit::Ok);
    let printed = match args.format {
        ReportFormat::Human => report_human(&results, args),
        ReportFormat::Json => report_json(&results, args.check),
        ReportFormat::Sarif | ReportFormat::Github => {
            report_io_errors(&results);
            let sets: Vec<(&Sources, &[Diagnostic])> = results
                .iter()
                .map(|r| (&r.sources, r.findings(args.check)))
                .filter(|(_, d)| !d.is_empty())
                .collect();
            emit_machine_report(args.format, &sets)
        }
    };
    match printed {
        Ok(()) => worst,
        Err(e) => e.max(worst),
    }
}

/// The files to format, in order: each file argument as given, then each directory's `.casepol`
/// files, found by the one rule for directories ([`casepol::internal::files::walk`]). A file
/// named twice is formatted once. A directory that cannot be read, or holds no `.casepol` file,
/// is an error entry `(name, message)`.
fn targets(paths: &[PathBuf]) -> Vec<Result<PathBuf, (String, String)>> {
    use casepol::internal::files;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for path in paths {
        let found = if !is_stdin(path) && path.is_dir() {
            match files::walk(
                path,
                files::is_policy_file,
                casepol::limits::MAX_WALK_FILES,
                "`.casepol` files, the limit for one directory argument",
            ) {
                Err(e) => Err(e.to_string()),
                Ok(files) if files.is_empty() => Err(format!(
                    "directory `{}` holds no `.casepol` files",
                    path.display()
                )),
                Ok(files) => Ok(files),
            }
        } else {
            Ok(vec![path.clone()])
        };
        match found {
            Err(msg) => out.push(Err((path.display().to_string(), msg))),
            Ok(files) => {
                for f in files {
                    let key = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
                    if seen.insert(key) {
                        out.push(Ok(f));
                    }
                }
            }
        }
    }
    out
}

/// `casepol fmt -`: standard input formatted to standard output, as editors and pipes want it.
/// Nothing but the formatted text goes to standard output; on a syntax error nothing does.
fn fmt_stdin(format: ReportFormat) -> Exit {
    let text = match read_text_limited(Path::new("-"), MAX_POLICY_FILE_BYTES, "a policy file") {
        Ok(t) => t,
        Err(msg) => return fail_input(msg),
    };
    let mut sources = Sources::new();
    let id: FileId = sources.add(STDIN_NAME.to_string(), text.clone());
    let diags = match format::format_source(id, &text) {
        Ok(formatted) => {
            let mut out = std::io::stdout().lock();
            return match out
                .write_all(formatted.as_bytes())
                .and_then(|()| out.flush())
            {
                Ok(()) => Exit::Ok,
                Err(_) => Exit::Error,
            };
        }
        Err(FormatError::Syntax(diags)) => diags,
        Err(FormatError::Bug(d)) => vec![d],
    };
    let sets = [(&sources, diags.as_slice())];
    let printed = match format {
        ReportFormat::Human => {
            print_diagnostics(&diags, &sources);
            eprintln!("error: {STDIN_NAME} has syntax errors, so it was not formatted");
            Ok(())
        }
        // Tools asked for findings: as `fmt --check` gives them, on standard output.
        ReportFormat::Json => {
            let files = vec![FileJson {
                file: STDIN_NAME,
                status: "syntax_error",
                line: None,
                diagnostics: Some(diagnostics_json(&diags, &sources)),
                error: None,
            }];
            emit(
                &serde_json::to_string(&FmtJson {
                    check: false,
                    files,
                })
                .unwrap_or_default(),
            )
        }
        ReportFormat::Sarif | ReportFormat::Github => emit_machine_report(format, &sets),
    };
    printed.err().unwrap_or(Exit::Fail).max(Exit::Fail)
}

/// A unified diff from `old` to `new`, headed `a/NAME` and `b/NAME` as git's are.
fn unified_diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::configure()
        // Myers' diff is O(ND); past this, a coarser (still correct) diff is produced.
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// The most lines of each side that `--check` shows of the first change.
const PREVIEW_LINES: usize = 6;

/// The first change from `old` to `new`, as `fmt --check` shows it: the lines removed (`-`) and
/// added (`+`), each with its line number, at most [`PREVIEW_LINES`] of each (and then `…`).
fn first_change(old: &str, new: &str) -> String {
    use similar::{ChangeTag, DiffOp};
    let diff = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(old, new);
    let Some(op) = diff
        .ops()
        .iter()
        .find(|op| !matches!(op, DiffOp::Equal { .. }))
    else {
        return String::new();
    };
    let mut out = String::new();
    for tag in [ChangeTag::Delete, ChangeTag::Insert] {
        let changes: Vec<_> = diff.iter_changes(op).filter(|c| c.tag() == tag).collect();
        for c in changes.iter().take(PREVIEW_LINES) {
            let (sign, n) = match tag {
                ChangeTag::Delete => ('-', c.old_index()),
                _ => ('+', c.new_index()),
            };
            let n = n.map_or(0, |i| i + 1);
            let text = c.value().trim_end_matches(['\n', '\r']);
            out.push_str(&format!("  {n:>4} {sign} {text}\n"));
        }
        if changes.len() > PREVIEW_LINES {
            out.push_str(&format!(
                "       {} … {} more line(s)\n",
                if tag == ChangeTag::Delete { '-' } else { '+' },
                changes.len() - PREVIEW_LINES
            ));
        }
    }
    out
}

fn format_file(path: &Path, args: &FmtArgs) -> FileResult {
    let stdin = is_stdin(path);
    let name = if stdin {
        STDIN_NAME.to_string()
    } else {
        path.display().to_string()
    };
    let mut sources = Sources::new();
    let read = if stdin {
        read_text_limited(path, MAX_POLICY_FILE_BYTES, "a policy file")
    } else {
        read_text(path)
    };
    let text = match read {
        Ok(t) => t,
        Err(msg) => {
            return FileResult {
                name,
                sources,
                outcome: Outcome::Unreadable(msg),
            }
        }
    };
    let id: FileId = sources.add(name.clone(), text.clone());
    let outcome = match format::format_source(id, &text) {
        Err(FormatError::Syntax(diags)) => Outcome::Syntax(diags),
        Err(FormatError::Bug(d)) => Outcome::Bug(d),
        // The library's help says to format the file; here it says how.
        Ok(formatted) => match format::not_formatted(id, &text, &formatted)
            .map(|d| d.with_help(format!("run `casepol fmt {}`", path.display())))
        {
            None => Outcome::Unchanged,
            Some(finding) if args.dry() => Outcome::Changed {
                finding,
                diff: args.diff.then(|| unified_diff(&name, &text, &formatted)),
                preview: (!args.diff).then(|| first_change(&text, &formatted)),
            },
            Some(finding) => match std::fs::write(path, &formatted) {
                Ok(()) => Outcome::Changed {
                    finding,
                    diff: None,
                    preview: None,
                },
                Err(e) => Outcome::Unwritable(format!("cannot write `{name}`: {e}")),
            },
        },
    };
    FileResult {
        name,
        sources,
        outcome,
    }
}

fn report_io_errors(results: &[FileResult]) {
    for r in results {
        if let Outcome::Unreadable(msg) | Outcome::Unwritable(msg) = &r.outcome {
            eprintln!("error: {msg}");
        }
    }
}

/// One line per changed file and a summary on stdout; diagnostics and errors on stderr. With
/// `--diff`, only the diffs go to stdout, and the lines and summary to stderr.
fn report_human(results: &[FileResult], args: &FmtArgs) -> Result<(), Exit> {
    let emit = |line: &str| -> Result<(), Exit> {
        if args.diff {
            eprintln!("{line}");
            Ok(())
        } else {
            emit(line)
        }
    };
    let (mut unchanged, mut changed, mut failed) = (0, 0, 0);
    for r in results {
        match &r.outcome {
            Outcome::Unchanged => unchanged += 1,
            Outcome::Changed {
                finding,
                diff,
                preview,
            } => {
                changed += 1;
                let line = r.line(finding);
                if let Some(diff) = diff {
                    let mut out = std::io::stdout().lock();
                    out.write_all(diff.as_bytes()).map_err(|_| Exit::Error)?;
                    emit(&format!(
                        "would reformat {} (first change at line {line})",
                        r.name
                    ))?;
                } else if args.check {
                    emit(&format!(
                        "would reformat {} (first change at line {line}):",
                        r.name
                    ))?;
                    if let Some(preview) = preview {
                        emit(preview.trim_end_matches('\n'))?;
                    }
                } else {
                    emit(&format!("reformatted {}", r.name))?;
                }
            }
            Outcome::Syntax(diags) => {
                failed += 1;
                print_diagnostics(diags, &r.sources);
                eprintln!(
                    "error: `{}` has syntax errors, so it was not formatted",
                    r.name
                );
            }
            Outcome::Bug(d) => {
                failed += 1;
                print_diagnostics(std::slice::from_ref(d), &r.sources);
            }
            Outcome::Unreadable(msg) | Outcome::Unwritable(msg) => {
                failed += 1;
                eprintln!("error: {msg}");
            }
        }
    }
    let total = results.len();
    let mut summary = if args.dry() {
        format!(
            "checked {total} file(s): {unchanged} already formatted, {changed} would be reformatted"
        )
    } else {
        format!("{total} file(s): {unchanged} already formatted, {changed} reformatted")
    };
    if failed > 0 {
        summary.push_str(&format!(", {failed} with errors"));
    }
    emit(&summary)?;
    if args.dry() && changed > 0 {
        if args.paths.iter().any(|p| is_stdin(p)) {
            emit("help: `casepol fmt -` prints it formatted")?;
        } else {
            let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
            let paths = paths.join(" ");
            if args.check {
                emit(&format!(
                    "help: run `casepol fmt {paths}` to reformat them; `casepol fmt --diff {paths}` shows every change"
                ))?;
            } else {
                emit(&format!("help: run `casepol fmt {paths}` to reformat them"))?;
            }
        }
    }
    Ok(())
}

fn report_json(results: &[FileResult], check: bool) -> Result<(), Exit> {
    let files = results
        .iter()
        .map(|r| {
            let mut file = FileJson {
                file: &r.name,
                status: "unchanged",
                line: None,
                diagnostics: None,
                error: None,
            };
            match &r.outcome {
                Outcome::Unchanged => {}
                Outcome::Changed { finding, .. } => {
                    file.status = if check {
                        "would_reformat"
                    } else {
                        "reformatted"
                    };
                    file.line = Some(r.line(finding));
                }
                Outcome::Syntax(diags) => {
                    file.status = "syntax_error";
                    file.diagnostics = Some(diagnostics_json(diags, &r.sources));
                }
                Outcome::Bug(d) => {
                    file.status = "formatter_bug";
                    file.diagnostics = Some(diagnostics_json(std::slice::from_ref(d), &r.sources));
                }
                Outcome::Unreadable(msg) => {
                    file.status = "unreadable";
                    file.error = Some(msg);
                }
                Outcome::Unwritable(msg) => {
                    file.status = "unwritable";
                    file.error = Some(msg);
                }
            }
            file
        })
        .collect();
    emit(&serde_json::to_string(&FmtJson { check, files }).unwrap_or_default())
}

fn diagnostics_json<'a>(diags: &'a [Diagnostic], sources: &'a Sources) -> Vec<JsonDiagnostic<'a>> {
    diags.iter().map(|d| render::json(d, sources)).collect()
}

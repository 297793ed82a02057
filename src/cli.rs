//! Command-line interface: the edge where files are read and results rendered.
//!
//! Exit codes are part of the interface: see [`Exit`].

use casepol::diagnostic::render::JsonDiagnostic;
use casepol::diagnostic::{render, Diagnostic, Severity, Sources};
use casepol::limits::{MAX_ALIGN_CHARS, MAX_ENTITIES_BYTES, MAX_SHOWN_DIAGNOSTICS};
use casepol::RequestErrorKind;
use casepol::{Decision, Entities, Layer, Policy, Reason, Request, RequestError};
use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) mod actions;
pub(crate) mod apply;
pub(crate) mod check;
mod completions;
#[cfg(feature = "db")]
mod db;
mod diff;
mod explain;
mod explain_code;
pub(crate) mod filter;
mod fmt;
mod init;
pub(crate) mod list;
mod test;
pub(crate) mod validate;
mod who_can;

/// Stable exit codes. When several apply, the highest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Success: the policy is clean, the request is allowed, or every request of a batch was
    /// decided.
    Ok = 0,
    /// The policy has errors, or the request is denied.
    Fail = 1,
    /// An input could not be used (unreadable file, invalid entities or request), or a request
    /// could not be resolved. Also clap's code for a usage error.
    Error = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Parser)]
#[command(
    name = "casepol",
    version,
    about = "Check, decide and explain case-management access policies"
)]
struct Cli {
    /// When to colour diagnostics; under `auto`, NO_COLOR and CLICOLOR_FORCE are honoured
    #[arg(
        long,
        value_enum,
        global = true,
        default_value = "auto",
        value_name = "WHEN",
        display_order = 1000
    )]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
}

/// The values of `--color`. (Plain comments: doc comments would make every `--help` long.)
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorWhen {
    // Colour standard error when it is a terminal, following NO_COLOR and CLICOLOR_FORCE.
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Text for people
    Human,
    /// JSON for tools, as described in docs/data-formats.md
    Json,
}

/// Output formats of the commands CI runs: `validate`, `fmt --check` and `test`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// Text for people
    Human,
    /// JSON for tools, as described in docs/data-formats.md
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`), one per finding
    Github,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Engine {
    /// The compiled evaluator
    Vm,
    /// The reference evaluator: slow, follows docs/semantics.md step by step
    Reference,
}

#[derive(Subcommand)]
enum Command {
    /// Type-check and lint policies
    ///
    /// Each argument is one policy: a `.casepol` file, or a directory whose `.casepol` files
    /// together form one policy. With `--format human`, diagnostics go to standard error and
    /// each policy gets one summary line on standard output.
    ///
    /// With `--entities FILE`, the entities are also loaded for the policy, as `check` loads
    /// them, and every problem is reported with its line and column.
    ///
    /// Exit status: 0 when no policy has errors (warnings are allowed unless
    /// `--deny-warnings`) and the entities are valid, 1 when some policy has errors or the
    /// entities are invalid, 2 when some policy or the entities could not be read.
    Validate(validate::ValidateArgs),
    /// Decide a request, or a batch of requests
    ///
    /// Prints one result per request on standard output, each on one line: `allow`,
    /// `deny (LAYER: REASON)`, or `deny (error: MESSAGE; help: HELP)` when the request cannot be
    /// decided. A batch prints one result per non-blank line, in input order; with
    /// `--format json` each result names its input line. `--threads N` decides a batch on N
    /// threads; the output is the same as on one.
    ///
    /// Exit status with --request: 0 allow, 1 deny, 2 error in any input (including a request
    /// that cannot be resolved). With --requests: 0 when every line was decided, allow or deny;
    /// 2 when any line or input was an error.
    #[command(group(ArgGroup::new("input").required(true).args(["request", "requests"])))]
    Check {
        /// The policy: a `.casepol` file, or a directory of them
        policy: PathBuf,
        /// The entities file (JSON, or `-` for standard input), or a database: `sqlite:PATH` or
        /// `postgres://…` (docs/database.md)
        #[arg(long)]
        entities: PathBuf,
        /// One request: a JSON file, inline JSON starting with `{`, or `-` for standard input
        #[arg(long)]
        request: Option<String>,
        /// A batch: a JSON Lines file with one request per line, or `-` for standard input;
        /// blank lines are skipped
        #[arg(long)]
        requests: Option<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// The evaluator that decides; both give the same decisions
        #[arg(long, value_enum, default_value = "vm")]
        engine: Engine,
        /// Decide a batch on this many threads; the output is the same, in input order
        #[arg(long, default_value_t = 1, conflicts_with = "request", value_parser = clap::value_parser!(u16).range(1..=1024))]
        threads: u16,
    },
    /// Say why a request is allowed or denied, layer by layer
    ///
    /// Decides one request with the reference evaluator and shows each layer that applied, up
    /// to the first that denied, with the matching rules in the policy source, the effective
    /// access codes, and what was missing.
    ///
    /// Exit status: 0 allow, 1 deny, 2 error in any input.
    Explain {
        /// The policy: a `.casepol` file, or a directory of them
        policy: PathBuf,
        /// The entities file (JSON, or `-` for standard input), or a database: `sqlite:PATH` or
        /// `postgres://…` (docs/database.md)
        #[arg(long)]
        entities: PathBuf,
        /// The request: a JSON file, inline JSON starting with `{`, or `-` for standard input
        #[arg(long)]
        request: String,
        /// Output format
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Format policy files in the canonical layout
    ///
    /// Rewrites each file that formatting changes (docs/formatting.md); `--check` and `--diff`
    /// change nothing and report what would change; `fmt -` formats standard input to standard
    /// output.
    ///
    /// Exit status: 0 when every file is formatted (with `--check` or `--diff`: already was), 1
    /// when some file has syntax errors or failed the soundness check (with `--check` or
    /// `--diff`: or would change), 2 when a path cannot be read or a file cannot be written.
    Fmt(fmt::FmtArgs),
    /// Start a policy: write a policy, its entities and a passing test file into DIR
    ///
    /// Writes `policy.casepol`, `entities.json` and `policy.test.json` into DIR (the current
    /// directory unless given; created if missing), then prints what to run next. An existing
    /// file is never overwritten: if any of the three exists, nothing is written.
    ///
    /// Exit status: 0 written, 2 when a file exists already or cannot be written.
    Init(init::InitArgs),
    /// Run policy tests and report coverage
    ///
    /// Runs every case of every `*.test.json` file found (docs/policy-tests.md), prints each
    /// failing case with its explanation, then `N passed, M failed` and the coverage of rules and
    /// table cells.
    ///
    /// Exit status: 0 when every case passed (and coverage is at least `--min-coverage`), 1 when
    /// some case failed or coverage is too low, 2 when a test file, policy or entities file is
    /// invalid or unreadable.
    Test(test::TestArgs),
    /// Explain a diagnostic code in detail, with a wrong and a corrected example
    ExplainCode(explain_code::ExplainCodeArgs),
    /// List every user allowed to perform an action on a resource, and why
    ///
    /// For each allowed user: the roles that let them in and the groups in scope that grant them,
    /// the relations they hold on the case, the matching rules, the module grant, and the codes
    /// that meet the effective access codes (docs/queries.md).
    ///
    /// Exit status: 0 answered (even when nobody is allowed), 2 error in any input or an unknown
    /// action, resource or module.
    WhoCan(who_can::WhoCanArgs),
    /// Decide every action of the policy for a user on a resource, in one pass
    ///
    /// Prints one line per action: `allow ACTION`, or `deny ACTION (LAYER: REASON)`.
    ///
    /// Exit status: 0 answered, 2 error in any input or an unknown principal, resource or module.
    Actions(actions::ActionsArgs),
    /// List the resources a user may perform an action on, as JSON Lines
    ///
    /// One line per resource, `{"id": …, "kind": …, "case": …}`, in id order (byte order). With
    /// `--limit N`, at most N lines follow, then a line `{"next": CURSOR}`, where CURSOR is the
    /// id of the page's last resource, or `null` after the last page; pass it to `--after` for
    /// the next page. A cursor whose resource is gone still works: listing resumes at the next id.
    ///
    /// Exit status: 0 answered, 2 error in any input or an unknown principal, action, module or
    /// kind.
    List(list::ListArgs),
    /// Print a SQL WHERE clause selecting the resources a user may perform an action on
    ///
    /// The query reads the layout of docs/schema.postgres.sql or docs/schema.sqlite.sql. Every
    /// value is a bound parameter; the parameters follow as a JSON array (docs/queries.md).
    ///
    /// Exit status: 0 printed, 2 error in any input or an unknown principal, action or module.
    Filter(filter::FilterArgs),
    /// Apply change sets to the entities and print who gained and lost which access
    ///
    /// Each non-blank line of the changes file is one change set (docs/data-formats.md §4),
    /// applied in order, all of it or nothing. For each, prints the new version and the
    /// decisions that changed, grouped by user and cause; `--format json` prints one JSON
    /// object per change set. Stops at the first change set with a problem, printing every
    /// problem in it.
    ///
    /// Exit status: 0 when every change set applied, 2 when an input could not be used or a
    /// change set had a problem (then `--write` writes nothing).
    Apply(apply::ApplyArgs),
    /// Serve decisions over HTTP: check, explain, the queries, change sets and their events
    ///
    /// Loads the policy and the entities and answers on `--listen` (127.0.0.1:8181 unless told
    /// otherwise) with the JSON of the commands' `--format json` (docs/server.md; the OpenAPI
    /// document is served at /openapi.json). Change sets (`POST /v1/changes`) and policy
    /// reloads (`PUT /v1/policy`, `--watch`) swap in a new snapshot whole; requests in flight
    /// finish on the one they started with. SIGTERM or Ctrl-C stops accepting, lets the
    /// requests in flight finish, and exits.
    ///
    /// Exit status: 0 after a graceful shutdown, 2 when an input could not be used or the
    /// address could not be listened on.
    #[cfg(feature = "serve")]
    Serve(crate::serve::ServeArgs),
    /// Run the language server over standard input and output, for editors
    ///
    /// Speaks the Language Server Protocol (docs/lsp.md): diagnostics as you type (the
    /// checker's and the lints'), hover, go to definition, find references, rename, document
    /// symbols, completion, formatting and semantic tokens. A document's policy is every
    /// `.casepol` file of its folder. Editors start it; it is not meant to be run by hand.
    ///
    /// Exit status: 0 after the client's `shutdown` and `exit`, 1 when the client broke the
    /// protocol (an `exit` without `shutdown`, or no `initialize`).
    #[cfg(feature = "lsp")]
    Lsp,
    /// Keep the entities in SQLite or PostgreSQL: print or apply the schema, import an
    /// entities file (docs/database.md)
    ///
    /// Every command that takes `--entities` also takes a database: `sqlite:PATH` or a
    /// PostgreSQL URL (`postgres://…`).
    ///
    /// Exit status: 0 done, 2 when an input could not be used or the database refused.
    #[cfg(feature = "db")]
    #[command(subcommand)]
    Db(db::DbCommand),
    /// List every decision that differs between two versions of a policy
    ///
    /// Compares OLD and NEW over the whole finite domain (kinds, case types and states,
    /// actions, modules, target states and the subjects a user can hold) and prints each
    /// decision that differs, grouped, with the rule or table cell behind it (docs/diff.md).
    ///
    /// Exit status: 0 when nothing differs, 1 when something does (with `--fail-on grant`:
    /// only when access may widen), 2 when a policy cannot be read or has errors.
    Diff(diff::DiffArgs),
    /// Prove the properties of policy test files, or print a counterexample
    ///
    /// Reads the `properties` of each test file (`never` and `only` claims) and proves each
    /// over the whole finite domain of its policy, or prints a request with the entities that
    /// make it allowed, which `explain` takes as is (docs/policy-tests.md §8). `test` runs
    /// them too.
    ///
    /// Exit status: 0 when every property is proven, 1 when one is refuted or cannot be
    /// proven, 2 when a test file or policy cannot be used or no property was found.
    Verify(test::VerifyArgs),
    /// Print a shell completion script for bash, zsh, fish, powershell or elvish
    ///
    /// For example `casepol completions bash > ~/.local/share/bash-completion/completions/casepol`.
    ///
    /// Exit status: 0 printed, 2 when standard output cannot be written.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) on standard output
    ///
    /// For example `casepol man > ~/.local/share/man/man1/casepol.1`, then `man casepol`.
    ///
    /// Exit status: 0 printed, 2 when standard output cannot be written.
    Man,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    set_color(cli.color);
    let exit = match cli.command {
        Command::Completions(args) => completions::completions(&args),
        Command::Man => completions::man(),
        Command::Validate(args) => validate::validate(&args),
        Command::Fmt(args) => fmt::fmt(&args),
        Command::Test(args) => test::test(&args),
        Command::Init(args) => init::init(&args),
        Command::ExplainCode(args) => explain_code::explain_code(&args),
        Command::WhoCan(args) => who_can::who_can(&args),
        Command::Actions(args) => actions::actions(&args),
        Command::List(args) => list::list(&args),
        Command::Filter(args) => filter::filter(&args),
        Command::Apply(args) => apply::apply(&args),
        Command::Diff(args) => diff::diff(&args),
        Command::Verify(args) => test::verify(&args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => crate::serve::serve(&args),
        #[cfg(feature = "lsp")]
        Command::Lsp => return crate::lsp::lsp(),
        #[cfg(feature = "db")]
        Command::Db(cmd) => db::db(&cmd),
        Command::Check {
            policy,
            entities,
            request,
            requests,
            format,
            engine,
            threads,
        } => check::check(
            &policy,
            &entities,
            request.as_deref(),
            requests.as_deref(),
            format,
            engine,
            usize::from(threads),
        ),
        Command::Explain {
            policy,
            entities,
            request,
            format,
        } => explain::explain(&policy, &entities, &request, format),
    };
    exit.into()
}

/// Records `--color` for [`color`]. `auto` leaves the decision to the environment.
fn set_color(when: ColorWhen) {
    match when {
        ColorWhen::Auto => {}
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
    }
}

/// Whether what goes to standard error is coloured: the one place that decides. `--color always`
/// or `never` decides alone; under `auto`, NO_COLOR turns colour off, then CLICOLOR_FORCE turns
/// it on, then a terminal (whose TERM is not `dumb`) gets colour ([`anstream::AutoStream::choice`],
/// the rule clap follows for its own help).
fn color() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}

#[cold]
pub(crate) fn fail_input(msg: String) -> Exit {
    eprintln!("error: {msg}");
    Exit::Error
}

/// Writes one line to standard output. A closed or failing stdout is an error (exit 2).
fn emit(line: &str) -> Result<(), Exit> {
    writeln!(std::io::stdout().lock(), "{line}").map_err(|_| Exit::Error)
}

/// Reads a UTF-8 text file, such as a policy test file, of at most the size of an entities file
/// (a test file may hold its entities inline).
fn read_text(path: &Path) -> Result<String, String> {
    read_text_limited(path, MAX_ENTITIES_BYTES, "a file")
}

/// Reads a UTF-8 text file of at most `limit` bytes ([`casepol::internal::files::read_text`]),
/// or standard input when `path` is `-` ([`read_stdin`]).
fn read_text_limited(path: &Path, limit: usize, what: &str) -> Result<String, String> {
    if is_stdin(path) {
        return read_stdin(limit, what);
    }
    casepol::internal::files::read_text(path, limit, what).map_err(|e| e.to_string())
}

/// Whether a path argument means standard input: `-`, as everywhere on the command line.
pub(crate) fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Set once standard input has been handed out: it can be read by one argument only.
static STDIN_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Claims standard input for one `-` argument; a second claim is an error, since the first
/// reads it to the end.
pub(crate) fn take_stdin() -> Result<std::io::Stdin, String> {
    if STDIN_TAKEN.swap(true, Ordering::Relaxed) {
        return Err(
            "standard input can be read only once, but `-` is given for more than one input".into(),
        );
    }
    Ok(std::io::stdin())
}

/// Reads standard input as UTF-8 text of at most `limit` bytes, the limit of the file it stands
/// for: at most `limit + 1` bytes are ever read, so the memory is bounded as for a file.
fn read_stdin(limit: usize, what: &str) -> Result<String, String> {
    use std::io::Read;
    let stdin = take_stdin()?;
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if bytes.len() > limit {
        return Err(format!(
            "standard input is more than the limit of {} for {what}",
            casepol::limits::bytes(limit)
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let (line, column, byte) =
            casepol::internal::files::utf8_position(e.as_bytes(), &e.utf8_error());
        format!(
            "standard input is not valid UTF-8: byte 0x{byte:02X} at line {line}, column {column}"
        )
    })
}

/// Reads one policy: a file, or every `.casepol` file of a directory
/// ([`casepol::internal::files::read_policy`]).
/// `-` reads one policy file from standard input, named `<stdin>` in diagnostics.
fn read_policy(path: &Path) -> Result<Sources, String> {
    if is_stdin(path) {
        let text = read_stdin(casepol::limits::MAX_POLICY_FILE_BYTES, "a policy file")?;
        let mut sources = Sources::new();
        sources.add("<stdin>", text);
        return Ok(sources);
    }
    casepol::internal::files::read_policy(path).map_err(|e| e.to_string())
}

/// Prints diagnostics as SARIF (one log for the whole run) or GitHub workflow commands.
fn emit_machine_report(
    format: ReportFormat,
    sets: &[(&Sources, &[Diagnostic])],
) -> Result<(), Exit> {
    match format {
        ReportFormat::Sarif => {
            emit(&serde_json::to_string_pretty(&render::sarif(sets)).unwrap_or_default())
        }
        ReportFormat::Github => {
            for (sources, diags) in sets {
                for d in diags.iter() {
                    emit(&render::github(d, sources))?;
                }
            }
            Ok(())
        }
        ReportFormat::Human | ReportFormat::Json => Ok(()),
    }
}

/// How many more diagnostics this run may show with their source ([`MAX_SHOWN_DIAGNOSTICS`]
/// in all); after that, each batch is one line that counts it.
static SHOWABLE: AtomicUsize = AtomicUsize::new(MAX_SHOWN_DIAGNOSTICS);

fn print_diagnostics(diags: &[Diagnostic], sources: &Sources) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{}", human_diagnostics(diags, sources));
}

/// Diagnostics for people, as many as this run may still show, then a line counting the rest.
fn human_diagnostics(diags: &[Diagnostic], sources: &Sources) -> String {
    let mut budget = SHOWABLE.load(Ordering::Relaxed);
    let text = render::human_list(diags, sources, color(), &mut budget);
    SHOWABLE.store(budget, Ordering::Relaxed);
    text
}

/// `text` followed by spaces up to `width` characters, but never past [`MAX_ALIGN_CHARS`]:
/// a longer text is followed by nothing, so no name can make a column unboundedly wide.
/// (Not `format!`'s width, which panics past 65,535.)
fn padded(text: &str, width: usize) -> String {
    let width = width.min(MAX_ALIGN_CHARS);
    let mut out = text.to_string();
    out.extend(std::iter::repeat_n(
        ' ',
        width.saturating_sub(text.chars().count()),
    ));
    out
}

pub(crate) fn load_policy(path: &Path) -> Result<Policy, Exit> {
    let sources = read_policy(path).map_err(fail_input)?;
    match Policy::from_sources(sources) {
        Ok(p) => Ok(p),
        Err(e) => {
            print_diagnostics(&e.diagnostics, &e.sources);
            eprintln!(
                "error: policy `{}` has errors; fix them before deciding requests",
                path.display()
            );
            Err(Exit::Error)
        }
    }
}

/// Loads the policy and the entities that `check` and `explain` both need.
pub(crate) fn load_inputs(
    policy_path: &Path,
    entities_path: &Path,
) -> Result<(Policy, Entities), Exit> {
    let policy = load_policy(policy_path)?;
    let entities = load_entities(&policy, entities_path)?;
    Ok((policy, entities))
}

fn load_entities(policy: &Policy, path: &Path) -> Result<Entities, Exit> {
    #[cfg(feature = "db")]
    if let Some(source) = path.to_str().and_then(casepol::db::Source::parse) {
        return casepol::db::load(policy, &source).map_err(|errors| db_errors(&source, &errors));
    }
    let text =
        read_text_limited(path, MAX_ENTITIES_BYTES, "an entities file").map_err(fail_input)?;
    policy.load_entities(&text).map_err(|errors| {
        let mut err = std::io::stderr().lock();
        for e in &errors {
            let _ = writeln!(err, "error: {}: {e}", path.display());
        }
        let _ = writeln!(
            err,
            "error: {} problem(s) in entities file `{}`",
            errors.len(),
            path.display()
        );
        Exit::Error
    })
}

/// Prints the problems of the entities in a database, as those of an entities file are printed.
#[cfg(feature = "db")]
pub(crate) fn db_errors(source: &casepol::db::Source, errors: &[casepol::db::DbError]) -> Exit {
    let shown = source.shown();
    let mut err = std::io::stderr().lock();
    for e in errors {
        let _ = writeln!(err, "error: {shown}: {e}");
    }
    let _ = writeln!(
        err,
        "error: {} problem(s) in the entities of database `{shown}`",
        errors.len()
    );
    Exit::Error
}

pub(crate) const REQUEST_HELP: &str =
    r#"a request is {"principal": "<user>", "action": "<action>", "resource": "<id>"}"#;

/// Parses a request; on failure, the one-based line and column (in characters) and serde's
/// message without its position.
pub(crate) fn parse_request(text: &str) -> Result<Request, (usize, usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Request::from_json(text).map_err(|e| (e.line, e.column, e.message))
}

/// Reads the request of `--request`: inline JSON, or a file.
fn read_request(arg: &str) -> Result<Request, Exit> {
    let limit = casepol::limits::MAX_REQUEST_BYTES;
    // Inline JSON starts with `{` (or `[`, which is never a request but is never a path either).
    let (origin, text) = if arg.trim_start().starts_with(['{', '[']) {
        ("--request".to_string(), arg.to_string())
    } else {
        (
            if is_stdin(Path::new(arg)) {
                "standard input".to_string()
            } else {
                format!("`{arg}`")
            },
            read_text_limited(Path::new(arg), limit, "a request").map_err(fail_input)?,
        )
    };
    if text.len() > limit {
        return Err(fail_input(format!(
            "the request in {origin} is {}, more than the limit of {}",
            casepol::limits::bytes(text.len()),
            casepol::limits::bytes(limit)
        )));
    }
    parse_request(&text).map_err(|(line, column, msg)| {
        eprintln!("error: invalid request in {origin} at line {line}, column {column}: {msg}\n  help: {REQUEST_HELP}");
        Exit::Error
    })
}

//! Command-line interface: `validate`, `check` and `explain`.
//!
//! Exit codes are part of the interface: see [`Exit`].

use casepol::diagnostic::{render, Diagnostic, Severity, Sources};
use casepol::{Entities, Policy, Request};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Stable exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success: the policy is clean, or the request is allowed.
    Ok = 0,
    /// The policy has errors, or the request is denied.
    Fail = 1,
    /// An input could not be used (unreadable file, invalid entities or request).
    Error = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Parser)]
#[command(name = "casepol", version, about = "Check, decide and explain case-management access policies")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Engine {
    /// The compiled evaluator.
    Vm,
    /// The reference evaluator (slow, follows docs/semantics.md step by step).
    Reference,
}

#[derive(Subcommand)]
enum Command {
    /// Type-check policies. Each argument is one policy: a `.casepol` file, or a directory whose
    /// `.casepol` files together form one policy. Exit 0 when clean, 1 on errors, 2 if unreadable.
    Validate {
        #[arg(required = true)]
        policies: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Decide a request. Exit 0 allow, 1 deny, 2 error in any input.
    Check {
        /// A `.casepol` file or a directory of them.
        policy: PathBuf,
        /// The entities file (JSON).
        #[arg(long)]
        entities: PathBuf,
        /// The request: a JSON file, or inline JSON starting with `{`.
        #[arg(long, conflicts_with = "requests", required_unless_present = "requests")]
        request: Option<String>,
        /// Decide a batch: a JSON Lines file, one request per line; one result line per line.
        /// Exit 0 when every line was decided, 2 if any line was an error.
        #[arg(long)]
        requests: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        #[arg(long, value_enum, default_value = "vm")]
        engine: Engine,
    },
    /// Say why a request is allowed or denied, layer by layer. Exit codes as for `check`.
    Explain {
        policy: PathBuf,
        #[arg(long)]
        entities: PathBuf,
        /// The request: a JSON file, or inline JSON starting with `{`.
        #[arg(long)]
        request: String,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let exit = match cli.command {
        Command::Validate { policies, format } => validate(&policies, format),
        Command::Check { policy, entities, request, requests, format, engine } => {
            check(&policy, &entities, request.as_deref(), requests.as_deref(), format, engine)
        }
        Command::Explain { policy, entities, request, format } => explain(&policy, &entities, &request, format),
    };
    exit.into()
}

fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

#[cold]
fn fail_input(msg: String) -> Exit {
    eprintln!("error: {msg}");
    Exit::Error
}

fn read_text(path: &Path) -> Result<String, String> {
    if path.is_dir() {
        return Err(format!("`{}` is a directory, but a file is expected here", path.display()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!("`{}` is not valid UTF-8 (byte {}); save it as UTF-8", path.display(), e.utf8_error().valid_up_to())
    })
}

/// Reads one policy: a file, or every `.casepol` file of a directory (sorted by name).
fn read_policy(path: &Path) -> Result<Sources, String> {
    let mut sources = Sources::new();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read directory `{}`: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "casepol") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("directory `{}` holds no `.casepol` files", path.display()));
        }
        for f in files {
            let text = read_text(&f)?;
            sources.add(f.display().to_string(), text);
        }
    } else {
        let text = read_text(path)?;
        sources.add(path.display().to_string(), text);
    }
    Ok(sources)
}

fn print_diagnostics(diags: &[Diagnostic], sources: &Sources) {
    let color = color();
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = write!(err, "{}", render::human(d, sources, color));
    }
}

fn load_policy(path: &Path) -> Result<Policy, Exit> {
    let sources = read_policy(path).map_err(fail_input)?;
    match Policy::from_sources(sources) {
        Ok(p) => Ok(p),
        Err(e) => {
            print_diagnostics(&e.diagnostics, &e.sources);
            eprintln!("error: policy `{}` has errors; fix them before deciding requests", path.display());
            Err(Exit::Error)
        }
    }
}

fn load_entities(policy: &Policy, path: &Path) -> Result<Entities, Exit> {
    let text = read_text(path).map_err(fail_input)?;
    policy.load_entities(&text).map_err(|errors| {
        let mut err = std::io::stderr().lock();
        for e in &errors {
            let _ = writeln!(err, "error: {}: {e}", path.display());
        }
        let _ = writeln!(err, "error: {} problem(s) in entities file `{}`", errors.len(), path.display());
        Exit::Error
    })
}

fn parse_request(text: &str, origin: &str) -> Result<Request, String> {
    serde_json::from_str::<Request>(text).map_err(|e| {
        format!(
            "invalid request in {origin} at line {}, column {}: {}\n  help: a request is {{\"principal\": \"<user>\", \"action\": \"<action>\", \"resource\": \"<id>\"}}",
            e.line(),
            e.column(),
            e.to_string().split(" at line ").next().unwrap_or_default()
        )
    })
}

fn read_request(arg: &str) -> Result<Request, Exit> {
    if arg.trim_start().starts_with('{') {
        parse_request(arg, "--request").map_err(fail_input)
    } else {
        let text = read_text(Path::new(arg)).map_err(fail_input)?;
        parse_request(&text, &format!("`{arg}`")).map_err(fail_input)
    }
}

fn validate(paths: &[PathBuf], format: Format) -> Exit {
    let mut worst = Exit::Ok;
    let mut json_files = Vec::new();
    for path in paths {
        let sources = match read_policy(path) {
            Ok(s) => s,
            Err(msg) => {
                if format == Format::Json {
                    json_files.push(serde_json::json!({"policy": path.display().to_string(), "error": msg}));
                } else {
                    eprintln!("error: {msg}");
                }
                worst = Exit::Error;
                continue;
            }
        };
        let (_, diags) = casepol::check_sources(&sources);
        let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = diags.len() - errors;
        if errors > 0 && worst == Exit::Ok {
            worst = Exit::Fail;
        }
        match format {
            Format::Human => {
                print_diagnostics(&diags, &sources);
                let status = if errors == 0 { "ok" } else { "failed" };
                println!("{}: {status} ({errors} error(s), {warnings} warning(s))", path.display());
            }
            Format::Json => {
                let list: Vec<_> = diags.iter().map(|d| render::json(d, &sources)).collect();
                json_files.push(serde_json::json!({
                    "policy": path.display().to_string(),
                    "ok": errors == 0,
                    "errors": errors,
                    "warnings": warnings,
                    "diagnostics": list,
                }));
            }
        }
    }
    if format == Format::Json {
        println!("{}", serde_json::json!({ "policies": json_files }));
    }
    worst
}

fn decision_json(d: &casepol::Decision, error: Option<&casepol::RequestError>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "decision": if d.allowed { "allow" } else { "deny" },
        "layer": d.layer,
        "reason": d.reason,
    });
    if let Some(e) = error {
        v["error"] = serde_json::to_value(e).unwrap_or_default();
    }
    v
}

fn decide_one(policy: &Policy, entities: &Entities, req: &Request, engine: Engine) -> (casepol::Decision, Option<casepol::RequestError>) {
    match policy.resolve(entities, req) {
        Err(e) => (casepol::Decision::ERROR, Some(e)),
        Ok(r) => match engine {
            Engine::Vm => (policy.decide(entities, &r), None),
            Engine::Reference => (casepol::reference::evaluate_resolved(policy.compiled(), entities, req, &r).decision, None),
        },
    }
}

fn human_decision(d: &casepol::Decision, error: Option<&casepol::RequestError>) -> String {
    if let Some(e) = error {
        return format!("deny (error: {e})");
    }
    if d.allowed {
        "allow".to_string()
    } else {
        format!("deny ({}: {})", d.layer.title(), serde_json::to_value(d.reason).ok().and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_default())
    }
}

fn check(policy_path: &Path, entities_path: &Path, request: Option<&str>, requests: Option<&Path>, format: Format, engine: Engine) -> Exit {
    let policy = match load_policy(policy_path) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let entities = match load_entities(&policy, entities_path) {
        Ok(e) => e,
        Err(e) => return e,
    };
    if let Some(batch) = requests {
        return check_batch(&policy, &entities, batch, format, engine);
    }
    let Some(arg) = request else {
        return fail_input("give --request or --requests".into());
    };
    let req = match read_request(arg) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (d, err) = decide_one(&policy, &entities, &req, engine);
    match format {
        Format::Human => println!("{}", human_decision(&d, err.as_ref())),
        Format::Json => println!("{}", decision_json(&d, err.as_ref())),
    }
    if err.is_some() {
        Exit::Error
    } else if d.allowed {
        Exit::Ok
    } else {
        Exit::Fail
    }
}

fn check_batch(policy: &Policy, entities: &Entities, path: &Path, format: Format, engine: Engine) -> Exit {
    if path.is_dir() {
        return fail_input(format!("`{}` is a directory, but a JSON Lines file is expected", path.display()));
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return fail_input(format!("cannot read `{}`: {e}", path.display())),
    };
    let reader = std::io::BufReader::new(file);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut exit = Exit::Ok;
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => return fail_input(format!("cannot read `{}`: {e}", path.display())),
        };
        let Ok(text) = std::str::from_utf8(&line) else {
            exit = Exit::Error;
            let _ = writeln!(out, "{}", serde_json::json!({"line": i + 1, "decision": "deny", "error": {"message": "line is not valid UTF-8"}}));
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        let result = match parse_request(text, &format!("line {}", i + 1)) {
            Err(msg) => {
                exit = Exit::Error;
                match format {
                    Format::Json => serde_json::json!({"line": i + 1, "decision": "deny", "error": {"message": msg}}).to_string(),
                    Format::Human => format!("deny (error: {msg})"),
                }
            }
            Ok(req) => {
                let (d, err) = decide_one(policy, entities, &req, engine);
                if err.is_some() {
                    exit = Exit::Error;
                }
                match format {
                    Format::Json => decision_json(&d, err.as_ref()).to_string(),
                    Format::Human => human_decision(&d, err.as_ref()),
                }
            }
        };
        if writeln!(out, "{result}").is_err() {
            return Exit::Error;
        }
    }
    if out.flush().is_err() {
        return Exit::Error;
    }
    exit
}

fn explain(policy_path: &Path, entities_path: &Path, request: &str, format: Format) -> Exit {
    let policy = match load_policy(policy_path) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let entities = match load_entities(&policy, entities_path) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let req = match read_request(request) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let trace = policy.explain(&entities, &req);
    match format {
        Format::Human => print!("{}", policy.explain_text(&trace)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&trace).unwrap_or_default()),
    }
    if trace.error.is_some() {
        Exit::Error
    } else if trace.decision.allowed {
        Exit::Ok
    } else {
        Exit::Fail
    }
}

//! `casepol serve`: the decision service, a thin HTTP edge over the library (docs/server.md).
//!
//! One (policy, snapshot) pair is served at a time, held in an atomically swapped `Arc`
//! (`state.rs`): a request loads the pair once and decides on it alone, so a change set or a
//! reload swapped in meanwhile never mixes into its answer. Writers (`/v1/changes`,
//! `PUT /v1/policy`, `--watch`) take one lock, build the next pair from the current one off the
//! request threads, and swap it in only when it is whole; readers never wait for them.
//!
//! The files: `state.rs` (the served pair, its policy hash and version), `body.rs` (reading
//! bodies within their limits, and every answer's JSON envelope and error), `decide.rs` (the
//! decision endpoints, each answering with the command line's `--format json` shape),
//! `live.rs` (change sets and the event stream), `reload.rs` (`PUT /v1/policy`, `--watch`),
//! `ops.rs` (health, readiness, metrics, the decision log, the OpenAPI document) and `http.rs`
//! (connections, timeouts and graceful shutdown).

use crate::cli::{load_inputs, Exit};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

mod body;
mod decide;
#[cfg(feature = "db")]
mod follow;
mod http;
mod live;
mod ops;
mod reload;
mod state;

/// The environment variable that may hold the bearer token of the write endpoints.
pub(crate) const TOKEN_VAR: &str = "CASEPOL_TOKEN";

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The policy: a `.casepol` file, or a directory of them
    policy: PathBuf,
    /// The entities file (JSON), or a database: `sqlite:PATH`, or a PostgreSQL URL
    /// (`postgres://…`), which the server follows, applying each committed transaction
    #[arg(long)]
    entities: PathBuf,
    /// The address to listen on; port 0 picks a free port (the address served is printed on
    /// standard error)
    #[arg(long, default_value = "127.0.0.1:8181")]
    listen: SocketAddr,
    /// Reload the policy when its files change (checked every second); a policy with errors is
    /// refused and the old one keeps serving
    #[arg(long)]
    watch: bool,
    /// A file holding the bearer token that `/v1/changes` and `PUT /v1/policy` require (or set
    /// the environment variable CASEPOL_TOKEN); without one, they take no token
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Write every decision as a line of JSON to this file (`-` for standard output), off the
    /// request path; lines that cannot keep up are dropped and counted in /metrics
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
}

/// The bearer token: from `--token-file` or [`TOKEN_VAR`], never both, never empty.
fn token(args: &ServeArgs) -> Result<Option<String>, String> {
    let from_env = std::env::var(TOKEN_VAR).ok();
    let token = match (&args.token_file, from_env) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "both --token-file and {TOKEN_VAR} give a token; give it one way"
            ))
        }
        (Some(path), None) => Some(
            casepol::internal::files::read_text(path, 64 * 1024, "a token file")
                .map_err(|e| e.to_string())?,
        ),
        (None, env) => env,
    };
    match token.map(|t| t.trim().to_string()) {
        Some(t) if t.is_empty() => Err("the bearer token is empty".into()),
        Some(t) if t.chars().any(|c| c.is_control() || c == ' ') => {
            Err("the bearer token holds a space or a control character".into())
        }
        t => Ok(t),
    }
}

pub(crate) fn serve(args: &ServeArgs) -> Exit {
    let token = match token(args) {
        Ok(t) => t,
        Err(e) => return crate::cli::fail_input(e),
    };
    // `--watch` compares the files with how they were before they were read.
    let watched = args.watch.then(|| reload::fingerprint(&args.policy));
    // A PostgreSQL database is followed: loaded with the snapshot it was read in, then
    // changed by each transaction committed after it.
    #[cfg(feature = "db")]
    let mut follower = None;
    #[cfg(feature = "db")]
    let followed = args
        .entities
        .to_str()
        .and_then(casepol::db::Source::parse)
        .filter(|s| matches!(s, casepol::db::Source::Postgres(_)));
    #[cfg(not(feature = "db"))]
    let followed: Option<()> = None;
    let loaded = match followed {
        #[cfg(feature = "db")]
        Some(source) => crate::cli::load_policy(&args.policy).and_then(|policy| {
            match casepol::db::follow::load_following(&policy, &source) {
                Ok((entities, f)) => {
                    follower = Some(f);
                    Ok((policy, entities))
                }
                Err(errors) => Err(crate::cli::db_errors(&source, &errors)),
            }
        }),
        _ => load_inputs(&args.policy, &args.entities),
    };
    let (policy, entities) = match loaded {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    let sources = match casepol::internal::files::read_policy(&args.policy) {
        Ok(s) => s,
        Err(e) => return crate::cli::fail_input(e.to_string()),
    };
    let log = match &args.decision_log {
        None => None,
        Some(path) => match ops::DecisionLog::open(path) {
            Ok(log) => Some(log),
            Err(e) => return crate::cli::fail_input(e),
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return crate::cli::fail_input(format!("cannot start the server: {e}")),
    };
    let current = state::Current::new(Arc::new(policy), &sources, entities);
    let app = state::App::new(current, token, log, args.policy.clone());
    let exit = runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                return crate::cli::fail_input(format!("cannot listen on {}: {e}", args.listen))
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return crate::cli::fail_input(format!("cannot listen: {e}")),
        };
        if !addr.ip().is_loopback() && app.token.is_none() {
            eprintln!(
                "warning: listening on {addr}, beyond this machine, and the write endpoints \
                 take no token; give one with --token-file or {TOKEN_VAR}"
            );
        }
        let current = app.current.load();
        eprintln!(
            "casepol serve: listening on http://{addr} (policy {}, version {})",
            current.hash,
            current.version()
        );
        drop(current);
        if let Some(seen) = watched {
            tokio::spawn(reload::watch(app.clone(), args.policy.clone(), seen));
        }
        #[cfg(feature = "db")]
        if let Some(f) = follower.take() {
            eprintln!(
                "casepol serve: following `{}` from change log {}",
                f.source().shown(),
                f.last_seq()
            );
            follow::spawn(app.clone(), f);
        }
        http::run(listener, app.clone(), http::shutdown_signal()).await;
        Exit::Ok
    });
    // Let the decision log write what it holds before the process ends.
    if let Some(log) = &app.log {
        log.close();
    }
    drop(runtime);
    exit
}

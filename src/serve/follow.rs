//! Following a PostgreSQL database (`serve --entities postgres://…`, docs/database.md §7): a
//! thread listens on `casepol_changes`, reads the transactions committed since its last poll
//! (`casepol::db::follow`) and applies each as one change set, swapped in and announced on
//! `/v1/events` as `POST /v1/changes` does. A lost connection is opened again with backoff
//! (100 ms, doubling to 5 s), and the follower resumes where it was: nothing is missed and
//! nothing applied twice.

use super::live::{frame, Stamped};
use super::state::App;
use casepol::db::follow::{load_following, Follower, Polled};
use casepol::live::AppliedJson;
use casepol::live::{self, ChangeSet};
use std::sync::Arc;
use std::time::Duration;

/// How long the follower waits for a notification before it polls anyway: a notification lost
/// with a connection delays a transaction by at most this.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// Starts the follower on a thread of its own.
pub(crate) fn spawn(app: Arc<App>, follower: Follower) {
    let started = std::thread::Builder::new()
        .name("casepol-follow".into())
        .spawn(move || run(&app, follower));
    if let Err(e) = started {
        eprintln!("casepol serve: cannot follow the database: {e}");
    }
}

fn stopping(app: &App) -> bool {
    *app.stopping.borrow()
}

/// Records the follower's last sequence number for `/metrics`.
fn record(app: &App, follower: &Follower) {
    let seq = u64::try_from(follower.last_seq()).unwrap_or(0);
    app.metrics
        .follow_seq
        .store(seq.saturating_add(1), std::sync::atomic::Ordering::Relaxed);
}

fn run(app: &App, mut follower: Follower) {
    record(app, &follower);
    let mut backoff = Duration::from_millis(100);
    while !stopping(app) {
        let mut client = match follower.connect() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("casepol serve: following the database: {e}; again in {backoff:?}");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        // Listening before the first poll: a commit after the poll's snapshot is notified.
        loop {
            let polled = poll(app, &mut follower, &mut client);
            record(app, &follower);
            if let Err(e) = polled {
                eprintln!("casepol serve: following the database: {e}; reconnecting");
                break;
            }
            if stopping(app) {
                return;
            }
            let mut notifications = client.notifications();
            let waited = {
                use postgres::fallible_iterator::FallibleIterator;
                let first = notifications.timeout_iter(POLL_EVERY).next();
                // Every notification already here is covered by the one poll that follows.
                let mut pending = notifications.iter();
                while let Ok(Some(_)) = pending.next() {}
                first
            };
            if let Err(e) = waited {
                eprintln!("casepol serve: following the database: {e}; reconnecting");
                break;
            }
        }
        std::thread::sleep(backoff);
    }
}

/// Applies the transactions committed since the last poll.
fn poll(app: &App, follower: &mut Follower, client: &mut postgres::Client) -> Result<(), String> {
    let policy = app.current.load().policy.clone();
    let shown = |errors: Vec<casepol::db::DbError>| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let transactions = match follower.poll(&policy, client).map_err(shown)? {
        Polled::Transactions(t) => t,
        Polled::Reload => {
            let (entities, next) = load_following(&policy, follower.source()).map_err(shown)?;
            let _writer = app.writer.blocking_lock();
            let current = app.current.load_full();
            let reloaded = current.with_entities(entities);
            eprintln!(
                "casepol serve: the database changed more than a change set takes; loaded it \
                 again as version {} (change log up to {})",
                reloaded.version(),
                next.last_seq()
            );
            app.current.store(Arc::new(reloaded));
            *follower = next;
            return Ok(());
        }
    };
    for t in transactions {
        let _writer = app.writer.blocking_lock();
        let current = app.current.load_full();
        if t.is_empty(current.entities()) {
            continue;
        }
        let text = t.change_set(&current.policy, current.entities());
        let applied = ChangeSet::from_json(&text).and_then(|changes| {
            live::apply(&current.policy, &current.snapshot, &changes).map(|a| (a, changes))
        });
        let (applied, changes) = match applied {
            Ok(a) => a,
            Err(e) => {
                app.metrics.change_set(false);
                let problems: Vec<String> = e.problems.iter().map(|p| p.message.clone()).collect();
                eprintln!(
                    "casepol serve: transaction {} (change log up to {}) was not applied; the \
                     entities stay at version {}: {}",
                    t.txid,
                    t.last_seq,
                    current.version(),
                    problems.join("; ")
                );
                continue;
            }
        };
        let next = current.with_snapshot(applied.snapshot.clone());
        let groups = live::group(&applied.events);
        let answer = AppliedJson::new(None, next.version(), &applied.events, &groups, &changes);
        let event = (app.events.receiver_count() > 0).then(|| {
            let data = serde_json::to_string(&Stamped {
                policy_hash: &next.hash,
                body: &answer,
            })
            .unwrap_or_default();
            frame("changes", Some(next.version()), &data)
        });
        drop(answer);
        app.current.store(Arc::new(next));
        app.metrics.change_set(true);
        if let Some(event) = event {
            let _ = app.events.send(event.into());
        }
    }
    Ok(())
}

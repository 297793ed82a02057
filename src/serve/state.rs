//! What the server holds: the served (policy, snapshot) pair behind an atomically swapped
//! `Arc`, the writers' lock, the event channel, the metrics and the decision log.

use super::ops::{DecisionLog, Metrics};
use arc_swap::ArcSwap;
use casepol::diagnostic::Sources;
use casepol::limits::MAX_SERVE_EVENTS_BEHIND;
use casepol::live::Snapshot;
use casepol::query::ListOrder;
use casepol::{Entities, Policy};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use tokio::sync::{broadcast, watch, Mutex};

/// One consistent (policy, snapshot) pair: every answer is decided on one of these alone.
pub(crate) struct Current {
    pub(crate) policy: Arc<Policy>,
    pub(crate) snapshot: Snapshot,
    /// The policy's hash ([`policy_hash`]).
    pub(crate) hash: Arc<str>,
    /// Added to the snapshot's own version. A reload loads the entities again, as version 1 of
    /// a new snapshot; the version served goes on from where it was, so that it only grows.
    base: u64,
    /// The order `/v1/list` pages in, sorted at the first listing of this pair's entities.
    pub(crate) order: ListOrder,
}

impl Current {
    /// The pair the server starts with: the entities at version 1.
    pub(crate) fn new(policy: Arc<Policy>, sources: &Sources, entities: Entities) -> Current {
        Current {
            policy,
            snapshot: Snapshot::new(entities),
            hash: policy_hash(sources).into(),
            base: 0,
            order: ListOrder::new(),
        }
    }

    /// The version served: 1 for the entities loaded at start, one more for each change set
    /// applied since; a reload keeps it.
    pub(crate) fn version(&self) -> u64 {
        self.base + self.snapshot.version()
    }

    pub(crate) fn entities(&self) -> &Entities {
        self.snapshot.entities()
    }

    /// The same policy with the next snapshot.
    pub(crate) fn with_snapshot(&self, snapshot: Snapshot) -> Current {
        Current {
            policy: self.policy.clone(),
            snapshot,
            hash: self.hash.clone(),
            base: self.base,
            order: ListOrder::new(),
        }
    }

    /// The same policy with entities loaded again (from a followed database), as the next
    /// version.
    #[cfg(feature = "db")]
    pub(crate) fn with_entities(&self, entities: Entities) -> Current {
        Current {
            policy: self.policy.clone(),
            snapshot: Snapshot::new(entities),
            hash: self.hash.clone(),
            base: self.version(),
            order: ListOrder::new(),
        }
    }

    /// Another policy, with the same entities loaded again for it, at the same version.
    pub(crate) fn reloaded(
        &self,
        policy: Arc<Policy>,
        hash: String,
        entities: Entities,
    ) -> Current {
        Current {
            policy,
            snapshot: Snapshot::new(entities),
            hash: hash.into(),
            base: self.version() - 1,
            order: ListOrder::new(),
        }
    }
}

/// The policy's hash, `sha256:` and 64 hex digits: for a policy of one file, the SHA-256 of
/// its text (what `sha256sum` prints for the file); for several, the SHA-256 of the lines
/// `sha256sum` prints for them, `HASH  NAME\n`, in name order.
pub(crate) fn policy_hash(sources: &Sources) -> String {
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    let files: Vec<(&str, &str)> = sources.iter().map(|(_, n, t)| (n, t)).collect();
    let digest = match files.as_slice() {
        [(_, text)] => Sha256::digest(text.as_bytes()),
        many => {
            let mut sums = Sha256::new();
            for (name, text) in many {
                sums.update(hex(&Sha256::digest(text.as_bytes())).as_bytes());
                sums.update(b"  ");
                sums.update(name.as_bytes());
                sums.update(b"\n");
            }
            sums.finalize()
        }
    };
    format!("sha256:{}", hex(&digest))
}

/// The server's state, shared by every request.
pub(crate) struct App {
    /// The pair served now. Readers `load` it once per request.
    pub(crate) current: ArcSwap<Current>,
    /// Held by whoever builds the next pair (a change set, a reload), so that each is built
    /// from the one served before it.
    pub(crate) writer: Mutex<()>,
    /// Each applied change set and reload, as a ready server-sent event, to every subscriber.
    pub(crate) events: broadcast::Sender<Arc<str>>,
    pub(crate) subscribers: AtomicUsize,
    pub(crate) metrics: Metrics,
    pub(crate) log: Option<DecisionLog>,
    /// The bearer token the write endpoints require, when one is set.
    pub(crate) token: Option<String>,
    /// False once shutdown has begun.
    pub(crate) ready: AtomicBool,
    /// Set to true when shutdown begins: event streams end.
    pub(crate) stopping: watch::Sender<bool>,
    /// The policy's path on disk, which `PUT /v1/policy` names its file after.
    pub(crate) policy_path: PathBuf,
}

impl App {
    pub(crate) fn new(
        current: Current,
        token: Option<String>,
        log: Option<DecisionLog>,
        policy_path: PathBuf,
    ) -> Arc<App> {
        Arc::new(App {
            current: ArcSwap::from_pointee(current),
            writer: Mutex::new(()),
            events: broadcast::channel(MAX_SERVE_EVENTS_BEHIND).0,
            subscribers: AtomicUsize::new(0),
            metrics: Metrics::default(),
            log,
            token,
            ready: AtomicBool::new(true),
            stopping: watch::channel(false).0,
            policy_path,
        })
    }
}

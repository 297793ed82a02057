//! Connections: the routes, the accept loop (at most [`MAX_SERVE_CONNECTIONS`] at once, each
//! with [`SERVE_HEADER_SECS`] to send its headers), and graceful shutdown on SIGTERM or
//! Ctrl-C: stop accepting, let the requests in flight finish (for at most
//! [`SERVE_SHUTDOWN_SECS`]), end the event streams, close.

use super::state::App;
use super::{decide, live, ops, reload};
use axum::routing::{get, post, put};
use axum::Router;
use casepol::limits::{MAX_SERVE_CONNECTIONS, SERVE_HEADER_SECS, SERVE_SHUTDOWN_SECS};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Every route of the server (docs/server.md, docs/openapi.json).
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/check", post(decide::check))
        .route("/v1/explain", post(decide::explain))
        .route("/v1/who-can", post(decide::who_can))
        .route("/v1/actions", post(decide::actions))
        .route("/v1/list", post(decide::list))
        .route("/v1/filter", post(decide::filter))
        .route("/v1/changes", post(live::changes))
        .route("/v1/events", get(live::events))
        .route("/v1/policy", put(reload::put_policy))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            ops::observe,
        ))
        .with_state(app)
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

/// Serves `listener` until `shutdown` resolves, then shuts down gracefully.
pub(crate) async fn run(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let router = router(app.clone());
    let slots = Arc::new(Semaphore::new(MAX_SERVE_CONNECTIONS));
    // Each connection holds a receiver; shutdown waits until every one is dropped.
    let (open_tx, open_rx) = watch::channel(());
    let mut stopping = app.stopping.subscribe();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors, or a connection reset before it was accepted: wait
                // a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let open = open_rx.clone();
        let mut stop = stopping.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(SERVE_HEADER_SECS))
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    changed = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        if changed.is_err() {
                            // The server is gone: finish this connection and no more.
                            let _ = conn.as_mut().await;
                            break;
                        }
                    }
                }
            }
            drop(open);
            drop(slot);
        });
    }
    drop(listener);
    app.ready.store(false, Relaxed);
    let _ = app.stopping.send(true);
    let _ = stopping.borrow_and_update();
    drop(open_rx);
    // Requests in flight finish; idle connections close at once.
    let _ = tokio::time::timeout(Duration::from_secs(SERVE_SHUTDOWN_SECS), open_tx.closed()).await;
}

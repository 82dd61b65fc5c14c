//! The HTTP server: bind, announce the address, serve until SIGTERM/SIGINT, then let in-flight
//! requests finish for at most `SHUTDOWN_TIMEOUT_SECS`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::AppState;

pub async fn serve(config: Arc<Config>, db: sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    let addr = SocketAddr::new(config.bind_address, config.port);
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr}: is another process using the port? (set PORT to change it)"
        )
    })?;
    let local = listener.local_addr().context("reading the bound address")?;
    let app = crate::app::build(AppState::new(db, config.clone())?);
    // Tests and runway read this line to learn the port when PORT=0.
    // Before the "listening" line: whoever reads it may send SIGTERM at once.
    let shutdown = shutdown_signal();
    tracing::info!(mode = %config.mode, database = %config.database.describe(), "listening on http://{local}");
    crate::memory::release_startup_memory();
    run_until(listener, app, config.shutdown_timeout, shutdown).await
}

/// Serve `app` until `shutdown` resolves; then stop accepting, let in-flight requests finish,
/// and give up on them after `timeout`.
pub async fn run_until(
    listener: TcpListener,
    app: Router,
    timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // Connect info: the auth rate limiter keys on the client's address.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!(
            "shutdown signal received: finishing in-flight requests (at most {} s)",
            timeout.as_secs()
        );
        let _ = tx.send(());
    });
    let server = server.into_future();
    tokio::select! {
        res = server => res.context("HTTP server")?,
        _ = async {
            // Only a real shutdown request starts the clock.
            if rx.await.is_ok() {
                tokio::time::sleep(timeout).await
            } else {
                std::future::pending::<()>().await
            }
        } => {
            tracing::warn!("shutdown timeout reached: dropping remaining connections");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM or SIGINT. The handlers are installed here, when called, not when the future is
/// first polled: axum polls the shutdown future in a task it spawns, which can run after the
/// first request was served, and a SIGTERM before that found the default action (exit by
/// signal, no graceful stop; seen as a flaky `sigterm_stops_cleanly` on a busy host).
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    async move {
        async fn recv(s: Option<&mut Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! { _ = recv(term.as_mut()) => {}, _ = recv(int.as_mut()) => {} }
    }
}

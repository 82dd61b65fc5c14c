//! The HTTP server: bind, announce the address, serve until SIGTERM/SIGINT, then let in-flight
//! requests finish for at most `SHUTDOWN_TIMEOUT_SECS`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
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
    let app = crate::app::build(AppState::new(db, config.clone()));
    // Tests and runway read this line to learn the port when PORT=0.
    tracing::info!(mode = %config.mode, database = %config.database.describe(), "listening on http://{local}");

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let timeout = config.shutdown_timeout;
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!(
            "shutdown signal received: finishing in-flight requests (at most {} s)",
            timeout.as_secs()
        );
        let _ = tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        res = &mut server => res.context("HTTP server")?,
        _ = async { let _ = rx.await; tokio::time::sleep(timeout).await } => {
            tracing::warn!("shutdown timeout reached: dropping remaining connections");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

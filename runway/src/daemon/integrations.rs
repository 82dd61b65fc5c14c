//! Where the proxy (issue 5) and the job scheduler (issue 6) plug into the daemon.
//!
//! The daemon calls these at start, on `runway reload` and at shutdown; each returns
//! `None` / does nothing until its module provides the real thing, so the supervisor can ship
//! first. Replace the bodies, keep the signatures small.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use super::protocol::JobRow;
use crate::manifest::Manifest;
use crate::supervisor::Supervisor;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The scheduler of `[[job]]` entries, run inside the daemon.
pub trait JobsBackend: Send + Sync + 'static {
    /// A row per job for `runway status`.
    fn status(&self) -> Vec<JobRow>;
    /// `runway jobs run NAME`: run now; the answer says how it went.
    fn run_now<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, String>>;
    /// `runway reload`: the new manifest's jobs.
    fn reload<'a>(&'a self, manifest: &'a Manifest) -> BoxFuture<'a, Result<(), String>>;
    /// Daemon shutdown: stop scheduling, end running jobs within their timeouts.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// INTEGRATION(jobs, issue 6): build the scheduler for `manifest.jobs`. Children must be
/// spawned through `supervisor.spawner()` (process group, parent-death signal, no stray fds).
pub fn start_jobs(
    manifest: &Manifest,
    _supervisor: &Supervisor,
    _logs_dir: &Path,
) -> Option<Arc<dyn JobsBackend>> {
    let _ = manifest;
    None
}

/// The running proxy, as the daemon holds it.
pub trait ProxyBackend: Send + Sync + 'static {
    /// `runway reload`: apply the new `[proxy]` and routes (an invalid config keeps the old).
    fn reload<'a>(&'a self, manifest: &'a Manifest) -> BoxFuture<'a, Result<(), String>>;
    /// Daemon shutdown: stop accepting, let in-flight requests finish.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// Starts the proxy when the manifest has `[proxy]`, reading process readiness from the
/// supervisor's upstream table.
pub async fn start_proxy(
    manifest: &Manifest,
    supervisor: &Supervisor,
    logs_dir: &Path,
) -> Result<Option<Arc<dyn ProxyBackend>>, String> {
    let Some(config) = &manifest.proxy else {
        return Ok(None);
    };
    let proxy = crate::proxy::Proxy::bind(
        config,
        &manifest.routes,
        &manifest.dir,
        supervisor.upstreams(),
        logs_dir,
    )
    .await
    .map_err(|e| format!("the proxy cannot start: {e}"))?;
    tracing::info!(
        "proxy listening on {}",
        proxy
            .local_addrs()
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Some(Arc::new(RunningProxy {
        proxy: tokio::sync::Mutex::new(Some(proxy)),
    })))
}

struct RunningProxy {
    proxy: tokio::sync::Mutex<Option<crate::proxy::Proxy>>,
}

impl ProxyBackend for RunningProxy {
    fn reload<'a>(&'a self, manifest: &'a Manifest) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let guard = self.proxy.lock().await;
            let (Some(proxy), Some(config)) = (guard.as_ref(), &manifest.proxy) else {
                return Ok(());
            };
            proxy
                .reload(config, &manifest.routes)
                .await
                .map_err(|e| format!("the proxy kept its old configuration: {e}"))
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let proxy = self.proxy.lock().await.take();
            if let Some(proxy) = proxy {
                proxy.shutdown().await;
            }
        })
    }
}

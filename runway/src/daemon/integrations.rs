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

/// INTEGRATION(proxy, issue 5): when the manifest has `[proxy]`, bind
/// `proxy::Proxy::bind(config, routes, base_dir, supervisor.upstreams(), logs_dir)`.
pub async fn start_proxy(
    manifest: &Manifest,
    _supervisor: &Supervisor,
    _logs_dir: &Path,
) -> Result<Option<Arc<dyn ProxyBackend>>, String> {
    if manifest.proxy.is_some() {
        tracing::warn!("[proxy] is configured but the proxy is not part of this build yet");
    }
    Ok(None)
}

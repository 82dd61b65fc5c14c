//! The zero-downtime switch, run inside the daemon (which owns the supervisor and the proxy's
//! upstream table). With the release pointer already on the new build:
//!
//! 1. start a candidate from the process's own command on a spare port, wait until ready
//!    (bounded) — on failure the route was never touched: the old backend keeps serving;
//! 2. override the route to the candidate (one atomic update of the upstream table);
//! 3. drain, then restart the supervised process (it starts from the new build on its own
//!    port) and wait until it is ready;
//! 4. clear the override (the route goes back to the supervised process, now new), drain, stop
//!    the candidate.
//!
//! Every request finds a ready upstream at every moment; in-flight ones finish because each
//! old instance gets SIGTERM only after the route moved away from it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::candidate::{Candidate, CandidateSpec};
use crate::proxy::UpstreamState;

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What activation needs from the daemon.
pub trait Switchboard: Send + Sync {
    /// The supervised process's command, cwd, environment and readiness path.
    fn candidate_spec(&self, process: &str) -> Result<CandidateSpec, String>;
    /// Route `process`'s traffic to `state` until cleared.
    fn set_override(&self, process: &str, state: UpstreamState);
    fn clear_override(&self, process: &str);
    /// Restart the supervised process and return once it is ready again (bounded).
    fn restart_ready<'a>(
        &'a self,
        process: &'a str,
        bound: Duration,
    ) -> BoxFuture<'a, Result<(), String>>;
}

#[derive(Debug, Clone, Copy)]
pub struct ActivateOptions {
    pub ready_timeout: Duration,
    /// How long in-flight requests get after the route moves away from an instance.
    pub drain: Duration,
    /// SIGTERM → SIGKILL for the candidate.
    pub stop_grace: Duration,
}

/// Phase timings for the release record.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ActivateReport {
    pub candidate_ready_ms: u64,
    pub restart_ready_ms: u64,
    pub total_ms: u64,
    pub candidate_addr: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
#[error("{phase}: {reason} (log: {log})")]
pub struct ActivateError {
    pub phase: &'static str,
    pub reason: String,
    pub log: String,
    /// True when the route never left the old backend.
    pub old_still_serving: bool,
}

pub async fn activate(
    board: &dyn Switchboard,
    process: &str,
    opts: ActivateOptions,
) -> Result<ActivateReport, ActivateError> {
    let started = Instant::now();
    let spec = board
        .candidate_spec(process)
        .map_err(|reason| ActivateError {
            phase: "start the new backend",
            reason,
            log: "-".into(),
            old_still_serving: true,
        })?;
    let log = spec.log.display().to_string();
    let mut candidate = Candidate::start(&spec)
        .await
        .map_err(|reason| ActivateError {
            phase: "start the new backend",
            reason,
            log: log.clone(),
            old_still_serving: true,
        })?;
    let ready = match candidate
        .wait_ready(&spec.ready_path, opts.ready_timeout)
        .await
    {
        Ok(d) => d,
        Err(reason) => {
            candidate.stop(opts.stop_grace).await;
            return Err(ActivateError {
                phase: "wait for the new backend to be ready",
                reason,
                log,
                old_still_serving: true,
            });
        }
    };
    let mut report = ActivateReport {
        candidate_ready_ms: ready.as_millis() as u64,
        candidate_addr: Some(candidate.addr),
        ..Default::default()
    };

    board.set_override(process, UpstreamState::Ready(candidate.addr));
    tokio::time::sleep(opts.drain).await;
    let restart_clock = Instant::now();
    if let Err(reason) = board.restart_ready(process, opts.ready_timeout).await {
        let addr = candidate.addr;
        // The candidate (new build) keeps serving through the override: it must outlive this
        // call, so it is deliberately not stopped (nor dropped, which would kill it).
        std::mem::forget(candidate);
        return Err(ActivateError {
            phase: "restart the supervised backend on the new build",
            reason: format!(
                "{reason}; the new build keeps serving from {addr} until `runway restart {process}` succeeds"
            ),
            log,
            old_still_serving: false,
        });
    }
    report.restart_ready_ms = restart_clock.elapsed().as_millis() as u64;
    board.clear_override(process);
    tokio::time::sleep(opts.drain).await;
    candidate.stop(opts.stop_grace).await;
    report.total_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

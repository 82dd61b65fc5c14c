//! Where the proxy (issue 5) and the job scheduler (issue 6) plug into the daemon.
//!
//! The daemon calls these at start, on `runway reload` and at shutdown.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use super::protocol::JobRow;
use crate::jobs::{JobConfig, JobContext, OverlapPolicy, Scheduler};
use crate::manifest::{CommandSpec, Manifest, Overlap};
use crate::pipeline::exec::{CommandLine, Outcome};
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

/// Builds and starts the scheduler for `manifest.jobs` (none: `None`). Each job runs in the
/// manifest's directory with the daemon's base environment plus its own `env`/`env_file`; its
/// output goes to `STATE/logs/job:NAME-*.log`, its history to `STATE/jobs/`.
pub fn start_jobs(
    manifest: &Manifest,
    supervisor: &Supervisor,
    state_dir: &Path,
) -> Result<Option<Arc<dyn JobsBackend>>, String> {
    if manifest.jobs.is_empty() {
        return Ok(None);
    }
    let scheduler = build_scheduler(manifest, supervisor.base_env(), state_dir)?;
    scheduler.start();
    Ok(Some(Arc::new(RunningJobs {
        scheduler: std::sync::Mutex::new(scheduler),
        base_env: supervisor.base_env(),
        state_dir: state_dir.to_path_buf(),
    })))
}

fn build_scheduler(
    manifest: &Manifest,
    base_env: crate::supervisor::Env,
    state_dir: &Path,
) -> Result<Scheduler, String> {
    let mut configs = Vec::new();
    for job in &manifest.jobs {
        let env = crate::supervisor::env::resolve_parts(
            &job.env,
            &job.env_files,
            None,
            &Default::default(),
        )
        .map_err(|e| format!("job `{}`: {e}", job.name))?;
        configs.push(JobConfig {
            name: job.name.clone(),
            schedule: job.schedule.clone(),
            command: match &job.command {
                CommandSpec::Argv(argv) => CommandLine::Argv(argv.clone()),
                CommandSpec::Shell(line) => CommandLine::Shell(line.clone()),
            },
            cwd: Some(job.cwd.clone()),
            env,
            timeout: job.timeout,
            overlap: match job.overlap {
                Overlap::Skip => OverlapPolicy::Skip,
                Overlap::Allow => OverlapPolicy::Allow,
            },
            timezone: job.timezone.clone(),
        });
    }
    Scheduler::new(
        configs,
        JobContext {
            base_dir: manifest.dir.clone(),
            state_dir: state_dir.to_path_buf(),
            env: base_env,
        },
    )
    .map_err(|e| e.to_string())
}

struct RunningJobs {
    scheduler: std::sync::Mutex<Scheduler>,
    base_env: crate::supervisor::Env,
    state_dir: std::path::PathBuf,
}

impl RunningJobs {
    fn current(&self) -> Scheduler {
        self.scheduler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// How long running jobs get at shutdown or reload before they are killed.
const JOBS_STOP_BOUND: std::time::Duration = std::time::Duration::from_secs(15);

impl JobsBackend for RunningJobs {
    fn status(&self) -> Vec<JobRow> {
        self.current()
            .status()
            .into_iter()
            .map(|s| JobRow {
                name: s.name,
                schedule: s.schedule,
                running: s.running,
                last_run: s.last_run.as_ref().map(|r| r.started.to_rfc3339()),
                last_exit: s.last_run.as_ref().and_then(|r| match r.outcome {
                    Outcome::Exited { code } => Some(code),
                    Outcome::Signaled { signal } => Some(128 + signal),
                    _ => None,
                }),
                next_run: s.next_run.map(|t| t.to_rfc3339()),
            })
            .collect()
    }

    fn run_now<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let scheduler = self.current();
            let result = scheduler.run_now(name).await.map_err(|e| e.to_string())?;
            let log = scheduler.out_log(name);
            let message = format!(
                "job `{name}`: {} in {} ms (log: {})",
                result.outcome.describe(),
                result.duration_ms,
                log.display()
            );
            if result.outcome.success() {
                Ok(message)
            } else {
                Err(message)
            }
        })
    }

    fn reload<'a>(&'a self, manifest: &'a Manifest) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let fresh = build_scheduler(manifest, self.base_env.clone(), &self.state_dir)?;
            let old = std::mem::replace(
                &mut *self.scheduler.lock().unwrap_or_else(|e| e.into_inner()),
                fresh.clone(),
            );
            old.shutdown(JOBS_STOP_BOUND).await;
            fresh.start();
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.current().shutdown(JOBS_STOP_BOUND).await })
    }
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

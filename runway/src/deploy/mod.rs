//! Deploys and rollbacks (the seed's 1.4 without its downtime): `runway deploy [--ref]` takes
//! a clean git tree to the wanted commit, runs the pipeline (install, build, migrate, seed —
//! skipping what is up to date), copies the build into a new release directory, points
//! `current` at it and has the daemon switch the backend with no failed request
//! ([`activate`]). Any failure before the switch leaves the old release serving and names the
//! step and its log. Every release is recorded ([`releases`]); `runway rollback` switches back
//! to a kept one the same way (database migrations are not reverted).

pub mod activate;
pub mod candidate;
pub mod git;
pub mod releases;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::checks::mode::Mode;
use crate::pipeline::{self, PipelineContext, PipelineError, Progress, StepConfig, StepEvent};
pub use activate::{ActivateOptions, ActivateReport, BoxFuture, Switchboard};
use releases::{ReleaseRecord, ReleaseResult, ReleaseStore, StepTiming};

/// `[deploy]` in the manifest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// The process switched without downtime.
    #[serde(default = "default_process")]
    pub process: String,
    /// Releases kept on disk.
    #[serde(default = "default_keep")]
    pub keep: usize,
    #[serde(default, deserialize_with = "crate::jobs::config::opt_duration")]
    pub ready_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "crate::jobs::config::opt_duration")]
    pub drain: Option<Duration>,
    /// Release-relative name → build output copied into each release (`backend` →
    /// `target/release/backend`, `dist` → `frontend/dist`). Missing optional outputs are
    /// skipped; the process's command runs them from `.runway/current/`.
    #[serde(default)]
    pub artifacts: BTreeMap<String, PathBuf>,
}

fn default_process() -> String {
    "backend".to_string()
}

fn default_keep() -> usize {
    5
}

impl Default for DeployConfig {
    fn default() -> Self {
        Self {
            process: default_process(),
            keep: default_keep(),
            ready_timeout: None,
            drain: None,
            artifacts: BTreeMap::new(),
        }
    }
}

impl DeployConfig {
    pub fn activate_options(&self) -> ActivateOptions {
        ActivateOptions {
            ready_timeout: self.ready_timeout.unwrap_or(Duration::from_secs(60)),
            drain: self.drain.unwrap_or(Duration::from_millis(1500)),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// Who performs the switch: the daemon (over its socket) in the CLI, directly in tests.
pub trait Activator: Send + Sync {
    fn activate<'a>(&'a self, process: &'a str) -> BoxFuture<'a, Result<ActivateReport, String>>;
}

#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub base_dir: PathBuf,
    pub state_dir: PathBuf,
    pub mode: Mode,
    pub env: BTreeMap<String, String>,
    pub git_ref: Option<String>,
    pub steps: Vec<StepConfig>,
    pub config: DeployConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    Git(#[from] git::GitError),
    #[error("deploy failed at {0}")]
    Pipeline(PipelineError),
    #[error("deploy failed at step `{step}`: {reason}\n  the previous release keeps serving{}", log.as_ref().map(|l| format!("; log: {l}")).unwrap_or_default())]
    Step {
        step: String,
        reason: String,
        log: Option<String>,
    },
    #[error("{0}")]
    Release(#[from] releases::ReleaseError),
    #[error("nothing to roll back to: no earlier release is kept (see `runway releases`)")]
    NothingToRollBack,
}

fn timing(name: &str, status: &str, since: Instant) -> StepTiming {
    StepTiming {
        name: name.to_string(),
        status: status.to_string(),
        duration_ms: since.elapsed().as_millis() as u64,
    }
}

/// `runway deploy`: the whole sequence, recorded in a release.
pub async fn deploy(
    req: &DeployRequest,
    activator: &dyn Activator,
    progress: &dyn Progress,
) -> Result<ReleaseRecord, DeployError> {
    let store = ReleaseStore::new(&req.state_dir, req.config.keep);

    let clock = Instant::now();
    progress.event(StepEvent::Started {
        step: "git",
        command: req.git_ref.as_deref().unwrap_or("current branch"),
    });
    let sha = match git::prepare(&req.base_dir, req.git_ref.as_deref()).await {
        Ok(sha) => sha,
        Err(e) => {
            progress.event(StepEvent::Failed {
                step: "git",
                elapsed: clock.elapsed(),
            });
            return Err(e.into());
        }
    };
    progress.event(StepEvent::Finished {
        step: "git",
        elapsed: clock.elapsed(),
    });
    let mut record = store.create(Some(sha), req.git_ref.clone())?;
    record.steps.push(timing("git", "ran", clock));
    store.save(&record)?;

    let ctx = PipelineContext {
        base_dir: req.base_dir.clone(),
        state_dir: req.state_dir.clone(),
        mode: req.mode,
        env: req.env.clone(),
        force: false,
    };
    match pipeline::run(&req.steps, &ctx, None, progress).await {
        Ok(reports) => {
            for r in reports {
                let status = match r.status {
                    pipeline::StepStatus::Ran => "ran",
                    pipeline::StepStatus::Skipped => "skipped",
                };
                record.steps.push(StepTiming {
                    name: r.name,
                    status: status.into(),
                    duration_ms: r.duration_ms,
                });
            }
            store.save(&record)?;
        }
        Err(e) => {
            let (step, log) = match &e {
                PipelineError::StepFailed { step, log, .. } => {
                    (step.clone(), Some(log.display().to_string()))
                }
                PipelineError::MissingTool { step, .. } => (step.clone(), None),
                PipelineError::Io(_) => ("pipeline".to_string(), None),
            };
            record.result = ReleaseResult::Failed { step, log };
            store.save(&record)?;
            return Err(DeployError::Pipeline(e));
        }
    }

    let clock = Instant::now();
    progress.event(StepEvent::Started {
        step: "publish",
        command: "copy the build into the release",
    });
    if let Err(reason) = publish(req, &store.dir(&record.id)).await {
        return Err(fail(&store, &mut record, "publish", reason, None));
    }
    record.steps.push(timing("publish", "ran", clock));
    progress.event(StepEvent::Finished {
        step: "publish",
        elapsed: clock.elapsed(),
    });
    store.save(&record)?;

    switch(
        &store,
        &mut record,
        &req.config.process,
        activator,
        progress,
    )
    .await?;
    let _ = store.prune();
    Ok(record)
}

/// Points `current` at the record's release and has it activated; on failure before the
/// route moved, the pointer goes back and the old release keeps serving.
async fn switch(
    store: &ReleaseStore,
    record: &mut ReleaseRecord,
    process: &str,
    activator: &dyn Activator,
    progress: &dyn Progress,
) -> Result<(), DeployError> {
    let clock = Instant::now();
    progress.event(StepEvent::Started {
        step: "switch",
        command: "start the new backend, wait until ready, switch the route, drain the old",
    });
    let previous = store.switch_to(&record.id)?;
    match activator.activate(process).await {
        Ok(_report) => {
            record.steps.push(timing("switch", "ran", clock));
            record.result = ReleaseResult::Live;
            record.activated = Some(chrono::Utc::now());
            store.save(record)?;
            store.mark_live(&record.id, previous.as_deref())?;
            progress.event(StepEvent::Finished {
                step: "switch",
                elapsed: clock.elapsed(),
            });
            Ok(())
        }
        Err(reason) => {
            if let Some(prev) = &previous {
                let _ = store.switch_to(prev);
            }
            progress.event(StepEvent::Failed {
                step: "switch",
                elapsed: clock.elapsed(),
            });
            record.steps.push(timing("switch", "failed", clock));
            Err(fail(store, record, "switch", reason, None))
        }
    }
}

fn fail(
    store: &ReleaseStore,
    record: &mut ReleaseRecord,
    step: &str,
    reason: String,
    log: Option<String>,
) -> DeployError {
    record.result = ReleaseResult::Failed {
        step: step.to_string(),
        log: log.clone(),
    };
    let _ = store.save(record);
    DeployError::Step {
        step: step.to_string(),
        reason,
        log,
    }
}

/// Copies each artifact that exists into the release directory (blocking work off the runtime).
async fn publish(req: &DeployRequest, release_dir: &Path) -> Result<(), String> {
    let base = req.base_dir.clone();
    let artifacts = req.config.artifacts.clone();
    let dir = release_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        for (name, src) in artifacts {
            let src = base.join(src);
            if !src.exists() {
                continue;
            }
            releases::copy_tree(&src, &dir.join(&name))
                .map_err(|e| format!("copying {} into the release: {e}", src.display()))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// `runway rollback [ID]`: switch back to a kept release the same zero-downtime way.
pub async fn rollback(
    state_dir: &Path,
    config: &DeployConfig,
    id: Option<&str>,
    activator: &dyn Activator,
    progress: &dyn Progress,
) -> Result<ReleaseRecord, DeployError> {
    let store = ReleaseStore::new(state_dir, config.keep);
    let mut target = match id {
        Some(id) => store.usable(id)?,
        None => store
            .previous_usable()
            .ok_or(DeployError::NothingToRollBack)?,
    };
    let keep_result = target.clone();
    match switch(&store, &mut target, &config.process, activator, progress).await {
        Ok(()) => Ok(target),
        Err(e) => {
            // A failed rollback does not make the kept build unusable.
            let _ = store.save(&keep_result);
            Err(e)
        }
    }
}

/// The warning rollback prints.
pub const MIGRATIONS_WARNING: &str = "note: database migrations are not reverted by a rollback; the older backend runs against the current schema";

pub mod manifest;

/// Publishes the current build as a release when it differs from the live one (or none is
/// live) — what `runway up` does after its pipeline so the backend's command
/// (`.runway/current/backend`) has something to run. Returns the new release's id, if any.
pub async fn publish_if_changed(
    base_dir: &Path,
    state_dir: &Path,
    config: &DeployConfig,
    steps: Vec<StepTiming>,
) -> Result<Option<String>, DeployError> {
    let store = ReleaseStore::new(state_dir, config.keep);
    let differs = {
        let (base, artifacts, current) = (
            base_dir.to_path_buf(),
            config.artifacts.clone(),
            store.current().map(|id| store.dir(&id)),
        );
        tokio::task::spawn_blocking(move || match current {
            None => true,
            Some(dir) => artifacts.iter().any(|(name, src)| {
                let src = base.join(src);
                src.exists() && !same_tree(&src, &dir.join(name))
            }),
        })
        .await
        .unwrap_or(true)
    };
    if !differs {
        return Ok(None);
    }
    let sha = git::head(base_dir).await.ok();
    let mut record = store.create(sha, None)?;
    record.steps = steps;
    let req = DeployRequest {
        base_dir: base_dir.to_path_buf(),
        state_dir: state_dir.to_path_buf(),
        mode: Mode::Development,
        env: BTreeMap::new(),
        git_ref: None,
        steps: Vec::new(),
        config: config.clone(),
    };
    let clock = Instant::now();
    if let Err(reason) = publish(&req, &store.dir(&record.id)).await {
        return Err(fail(&store, &mut record, "publish", reason, None));
    }
    record.steps.push(timing("publish", "ran", clock));
    store.save(&record)?;
    let previous = store.switch_to(&record.id)?;
    store.mark_live(&record.id, previous.as_deref())?;
    let _ = store.prune();
    Ok(Some(record.id))
}

/// Same files with the same sizes and contents (a cheap size check first).
fn same_tree(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    if ma.is_file() != mb.is_file() {
        return false;
    }
    if ma.is_file() {
        return ma.len() == mb.len()
            && std::fs::read(a)
                .ok()
                .is_some_and(|x| std::fs::read(b).ok() == Some(x));
    }
    let names = |d: &Path| -> Vec<std::ffi::OsString> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .map(|r| r.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let (na, nb) = (names(a), names(b));
    na == nb && na.iter().all(|n| same_tree(&a.join(n), &b.join(n)))
}

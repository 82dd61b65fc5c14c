//! Build pipeline: the manifest's `[[step]]`s (install, build, migrate, seed) run in order, each
//! skipped when what it depends on has not changed since it last succeeded: a SHA-256 over its
//! input files, its command and the environment values it names, recorded under `pipeline/` in
//! the state directory, plus its outputs still existing. Output goes to
//! `logs/pipeline-STEP.log`; progress is a line per step with its elapsed time (a spinner on a
//! TTY). A failed step stops the pipeline and is named with its log.

pub mod exec;
pub mod progress;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checks::mode::Mode;
use exec::{CommandLine, Outcome, RunSpec};
pub use progress::{PlainProgress, Progress, StepEvent, TtyProgress, auto_progress};

/// One `[[step]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    pub name: String,
    pub command: CommandLine,
    /// Relative to the manifest's directory.
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Files or directories whose content decides whether the step must run again.
    #[serde(default)]
    pub inputs: Vec<PathBuf>,
    /// Paths the step produces; a missing one forces a run.
    #[serde(default)]
    pub outputs: Vec<PathBuf>,
    /// Environment variables whose values are part of the inputs (e.g. which database).
    #[serde(default)]
    pub env_inputs: Vec<String>,
    /// Programs that must be on PATH.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Modes the step runs in (default: all).
    #[serde(default)]
    pub modes: Vec<String>,
    /// Run every time (no up-to-date check).
    #[serde(default)]
    pub always: bool,
    #[serde(default, deserialize_with = "crate::jobs::config::opt_duration")]
    pub timeout: Option<Duration>,
}

/// Where steps run and what they see.
#[derive(Debug, Clone)]
pub struct PipelineContext {
    pub base_dir: PathBuf,
    pub state_dir: PathBuf,
    pub mode: Mode,
    /// Environment added to every step (NODE_ENV, DB_*...).
    pub env: BTreeMap<String, String>,
    /// Ignore recorded hashes and run everything.
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ran,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    pub name: String,
    pub status: StepStatus,
    pub duration_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("`{tool}` was not found on PATH; step `{step}` needs it: {hint}")]
    MissingTool {
        step: String,
        tool: String,
        hint: String,
    },
    #[error("step `{step}` failed ({}) after {:.1} s; its log: {}{}", outcome.describe(), *duration_ms as f64 / 1000.0, log.display(), render_tail(tail))]
    StepFailed {
        step: String,
        outcome: Outcome,
        duration_ms: u64,
        log: PathBuf,
        tail: Vec<String>,
    },
    #[error("{0}")]
    Io(String),
}

fn render_tail(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n  last lines:\n    {}", tail.join("\n    "))
    }
}

/// What to install for a missing program.
pub fn install_hint(tool: &str) -> String {
    match tool {
        "node" | "npm" | "npx" => "install Node.js 20 with npm (Debian: `apt-get install nodejs npm`, or https://nodejs.org/)".to_string(),
        "cargo" | "rustc" => "install Rust with rustup (https://rustup.rs/)".to_string(),
        "git" => "install git (Debian: `apt-get install git`)".to_string(),
        other => format!("install `{other}` or put it on PATH"),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    hash: String,
    finished: chrono::DateTime<chrono::Utc>,
    duration_ms: u64,
}

fn record_path(state_dir: &Path, step: &str) -> PathBuf {
    state_dir.join("pipeline").join(format!("{step}.json"))
}

pub fn log_path(state_dir: &Path, step: &str) -> PathBuf {
    state_dir.join("logs").join(format!("pipeline-{step}.log"))
}

impl StepConfig {
    pub fn applies_to(&self, mode: Mode) -> bool {
        self.modes.is_empty() || self.modes.iter().any(|m| m == mode.as_str())
    }

    fn cwd(&self, base: &Path) -> PathBuf {
        match &self.cwd {
            Some(c) if c.is_absolute() => c.clone(),
            Some(c) => base.join(c),
            None => base.to_path_buf(),
        }
    }
}

/// Runs the steps that apply to the mode, in order. `only`: run just these names.
pub async fn run(
    steps: &[StepConfig],
    ctx: &PipelineContext,
    only: Option<&[String]>,
    progress: &dyn Progress,
) -> Result<Vec<StepReport>, PipelineError> {
    let selected: Vec<&StepConfig> = steps
        .iter()
        .filter(|s| s.applies_to(ctx.mode))
        .filter(|s| only.is_none_or(|o| o.contains(&s.name)))
        .collect();
    // Every missing tool is known before anything runs.
    for step in &selected {
        for tool in &step.requires {
            if exec::find_on_path(tool).is_none() {
                return Err(PipelineError::MissingTool {
                    step: step.name.clone(),
                    tool: tool.clone(),
                    hint: install_hint(tool),
                });
            }
        }
    }
    let mut reports = Vec::new();
    for step in selected {
        reports.push(run_step(step, ctx, progress).await?);
    }
    Ok(reports)
}

async fn run_step(
    step: &StepConfig,
    ctx: &PipelineContext,
    progress: &dyn Progress,
) -> Result<StepReport, PipelineError> {
    let clock = Instant::now();
    let hash = {
        let (step, ctx) = (step.clone(), ctx.clone());
        tokio::task::spawn_blocking(move || input_hash(&step, &ctx))
            .await
            .map_err(|e| PipelineError::Io(e.to_string()))?
    };
    let record = record_path(&ctx.state_dir, &step.name);
    let outputs_present = step.outputs.iter().all(|o| ctx.base_dir.join(o).exists());
    if !ctx.force && !step.always && outputs_present {
        let recorded: Option<Record> = tokio::fs::read(&record)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if recorded.is_some_and(|r| r.hash == hash) {
            let report = StepReport {
                name: step.name.clone(),
                status: StepStatus::Skipped,
                duration_ms: clock.elapsed().as_millis() as u64,
            };
            progress.event(StepEvent::Skipped { step: &step.name });
            return Ok(report);
        }
    }

    progress.event(StepEvent::Started {
        step: &step.name,
        command: &step.command.display(),
    });
    let log = log_path(&ctx.state_dir, &step.name);
    let _ = tokio::fs::remove_file(&log).await;
    let mut env = ctx.env.clone();
    env.extend(step.env.clone());
    let spec = RunSpec {
        command: step.command.clone(),
        cwd: step.cwd(&ctx.base_dir),
        env,
        timeout: step.timeout,
        kill_grace: Duration::from_secs(10),
        out_log: log.clone(),
        err_log: log.clone(),
    };
    let result = exec::run(&spec, None).await;
    if !result.outcome.success() {
        progress.event(StepEvent::Failed {
            step: &step.name,
            elapsed: clock.elapsed(),
        });
        return Err(PipelineError::StepFailed {
            step: step.name.clone(),
            outcome: result.outcome,
            duration_ms: clock.elapsed().as_millis() as u64,
            tail: exec::tail(&log, 15),
            log,
        });
    }
    let duration_ms = clock.elapsed().as_millis() as u64;
    let rec = Record {
        hash,
        finished: chrono::Utc::now(),
        duration_ms,
    };
    if let Some(dir) = record.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
    }
    if let Ok(bytes) = serde_json::to_vec_pretty(&rec) {
        let _ = tokio::fs::write(&record, bytes).await;
    }
    progress.event(StepEvent::Finished {
        step: &step.name,
        elapsed: clock.elapsed(),
    });
    Ok(StepReport {
        name: step.name.clone(),
        status: StepStatus::Ran,
        duration_ms,
    })
}

/// Directories never hashed: dependencies, build output, VCS and runway state.
const SKIP_DIRS: [&str; 6] = ["node_modules", "target", "dist", ".git", ".runway", "data"];

/// SHA-256 over the command, the named env values, and every input file's path and content.
fn input_hash(step: &StepConfig, ctx: &PipelineContext) -> String {
    let mut h = Sha256::new();
    h.update(step.command.display().as_bytes());
    h.update([0]);
    h.update(ctx.mode.as_str().as_bytes());
    for key in &step.env_inputs {
        let value = step.env.get(key).or_else(|| ctx.env.get(key));
        h.update(key.as_bytes());
        h.update([0]);
        h.update(value.map(String::as_bytes).unwrap_or(b"\x01unset"));
        h.update([0]);
    }
    let mut files = Vec::new();
    for input in &step.inputs {
        collect_files(&ctx.base_dir.join(input), &mut files);
    }
    files.sort();
    for f in files {
        h.update(
            f.strip_prefix(&ctx.base_dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update([0]);
        match std::fs::read(&f) {
            Ok(bytes) => h.update(&bytes),
            Err(_) => h.update(b"\x01unreadable"),
        }
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = std::fs::metadata(path) else {
        out.push(path.to_path_buf()); // a missing input is part of the state too
        return;
    };
    if meta.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if SKIP_DIRS.iter().any(|s| name == *s) {
            continue;
        }
        collect_files(&e.path(), out);
    }
}

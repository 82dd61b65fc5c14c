//! The manifest `runway.toml`: processes, routes, jobs, log policy and per-mode overrides.
//!
//! Loading is all-or-nothing: [`Manifest::load`] parses, applies the selected mode, resolves
//! paths and validates everything (unknown keys, bad values, dependency cycles, port clashes,
//! missing commands, the proxy's routes), and reports every problem with the file and line —
//! before the daemon starts or stops anything.

mod raw;
pub mod units;
mod validate;

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proxy::config::{ProxyConfig, RouteConfig};
pub use units::{Bytes, Dur, Signal};

/// The file name looked up in the current directory and its parents.
pub const MANIFEST_FILE: &str = "runway.toml";

/// Which of the seed's modes the manifest is read for (`NODE_ENV`'s values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Development,
    DevStage,
    Production,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Development, Mode::DevStage, Mode::Production];

    pub fn parse(text: &str) -> Result<Mode, String> {
        match text.trim() {
            "development" | "dev" => Ok(Mode::Development),
            "dev_stage" => Ok(Mode::DevStage),
            "production" | "prod" => Ok(Mode::Production),
            other => Err(format!(
                "unknown mode `{other}` (use development, dev_stage or production)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Development => "development",
            Mode::DevStage => "dev_stage",
            Mode::Production => "production",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process is started: an argv list (no shell) or a shell string run by `/bin/sh -c`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CommandSpec {
    Argv(Vec<String>),
    Shell(String),
}

impl CommandSpec {
    /// The argv actually executed.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandSpec::Argv(argv) => argv.clone(),
            CommandSpec::Shell(line) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            CommandSpec::Argv(argv) => argv.first().is_none_or(|a| a.trim().is_empty()),
            CommandSpec::Shell(line) => line.trim().is_empty(),
        }
    }
}

impl fmt::Display for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandSpec::Argv(argv) => f.write_str(&argv.join(" ")),
            CommandSpec::Shell(line) => f.write_str(line),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// GET `http://127.0.0.1:PORT{path}`; 2xx or 3xx passes.
    Http { path: String, port: u16 },
    /// A TCP connect to this address.
    Tcp { addr: String },
    /// A command; exit status 0 passes.
    Exec { command: CommandSpec },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub kind: ProbeKind,
    pub interval: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub initial_delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    Always,
    #[serde(alias = "on_failure")]
    OnFailure,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub multiplier_milli: u32,
    pub reset_after: Duration,
}

impl Backoff {
    /// Delay before restart number `n` of an unbroken crash series: the first restart is
    /// immediate (a process that was healthy gets back fast), then initial × multiplier^(n-1).
    pub fn delay(&self, consecutive_crashes: u32) -> Duration {
        if consecutive_crashes <= 1 {
            return Duration::ZERO;
        }
        let factor = (self.multiplier_milli as f64 / 1000.0).powi(consecutive_crashes as i32 - 2);
        let secs = self.initial.as_secs_f64() * factor;
        Duration::from_secs_f64(secs.min(self.max.as_secs_f64()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CrashLoop {
    pub max_restarts: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The dependency has been spawned.
    Started,
    /// The dependency's readiness probe passes.
    Healthy,
    /// The dependency exited with status 0 (a one-shot such as a migration).
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub name: String,
    pub condition: Condition,
}

/// One process, with the selected mode's overrides applied and paths made absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessSpec {
    pub name: String,
    pub command: CommandSpec,
    pub cwd: PathBuf,
    /// Values from the manifest. Never printed: they may hold secrets.
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
    pub env_files: Vec<PathBuf>,
    pub port: Option<u16>,
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
    pub restart: RestartPolicy,
    pub backoff: Backoff,
    pub crash_loop: CrashLoop,
    pub stop_signal: Signal,
    pub stop_timeout: Duration,
    pub max_memory: Option<u64>,
    pub depends_on: Vec<Dependency>,
    pub autostart: bool,
    /// `start_if_env = "VAR"`: `runway up` also starts this process when VAR is set and not
    /// empty in its environment (the seed's tunnel runs only when CF_TUNNEL_TOKEN is given).
    pub start_if_env: Option<String>,
}

impl ProcessSpec {
    /// Whether `up` without names starts this process, given the caller's environment.
    pub fn starts_by_default(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.autostart
            || self
                .start_if_env
                .as_deref()
                .is_some_and(|var| lookup(var).is_some_and(|v| !v.is_empty()))
    }
}

/// `[[job]]`: a scheduled command (run by the jobs module, issue 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobSpec {
    pub name: String,
    /// 5-field cron expression, checked at load.
    pub schedule: String,
    pub command: CommandSpec,
    pub cwd: PathBuf,
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
    pub env_files: Vec<PathBuf>,
    pub timeout: Option<Duration>,
    /// `skip` (default): a run due while the previous one still runs is skipped; `allow`.
    pub overlap: Overlap,
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    Skip,
    Allow,
}

/// `[logs]`: rotation policy for every per-process log and the daemon's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LogPolicy {
    /// A file is rotated when it would grow past this size.
    pub max_size: u64,
    /// Rotated files kept per log (`NAME-out.log.1` .. `.N`).
    pub keep: u32,
    /// All files in the logs directory together; the oldest rotated files go first.
    pub total_cap: u64,
}

impl Default for LogPolicy {
    fn default() -> Self {
        LogPolicy {
            max_size: 10 * 1024 * 1024,
            keep: 5,
            total_cap: 500 * 1024 * 1024,
        }
    }
}

/// A loaded, validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub mode: Mode,
    /// In file order.
    pub processes: Vec<ProcessSpec>,
    pub proxy: Option<ProxyConfig>,
    pub routes: Vec<RouteConfig>,
    pub jobs: Vec<JobSpec>,
    pub logs: LogPolicy,
    /// `[[step]]`: the build pipeline `up` and `deploy` run.
    pub steps: Vec<crate::pipeline::StepConfig>,
    /// `[deploy]`: which process is switched, releases kept, bounds.
    pub deploy: crate::deploy::DeployConfig,
    /// `[up] notes`: the line `runway up` prints for this mode once everything is ready.
    pub up_note: Option<String>,
}

/// One problem in a manifest, with its line when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub line: Option<usize>,
    pub message: String,
}

/// Why a manifest was rejected: every problem found, each with its line.
#[derive(Debug, Clone)]
pub struct ManifestError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match p.line {
                Some(line) => write!(f, "{path}:{line}: {}", p.message)?,
                None => write!(f, "{path}: {}", p.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Reads, parses and validates `path` for `mode`, with the default state directory
    /// (`.runway/` beside the manifest). Commands that know their state directory (`--home`,
    /// `RUNWAY_HOME`) use [`Manifest::load_in`].
    pub fn load(path: &Path, mode: Mode) -> Result<Manifest, ManifestError> {
        Manifest::load_in(path, mode, &default_home(path))
    }

    /// Reads, parses and validates `path` for `mode`; `${RUNWAY_HOME}` in a route's `static`
    /// directory or an `error_page` expands to `home`, the state directory.
    pub fn load_in(path: &Path, mode: Mode, home: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            path: path.to_path_buf(),
            problems: vec![Problem {
                line: None,
                message: format!("cannot read the manifest: {e}"),
            }],
        })?;
        Manifest::parse_in(&text, path, mode, home)
    }

    /// Parses manifest text as if it were the file at `path` (relative paths resolve beside it),
    /// with the default state directory.
    pub fn parse(text: &str, path: &Path, mode: Mode) -> Result<Manifest, ManifestError> {
        Manifest::parse_in(text, path, mode, &default_home(path))
    }

    /// [`Manifest::parse`] for the state directory `home`.
    pub fn parse_in(
        text: &str,
        path: &Path,
        mode: Mode,
        home: &Path,
    ) -> Result<Manifest, ManifestError> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let home = std::path::absolute(home).unwrap_or_else(|_| home.to_path_buf());
        validate::build(text, &path, &dir, &home, mode).map_err(|problems| ManifestError {
            path: path.clone(),
            problems,
        })
    }

    pub fn process(&self, name: &str) -> Option<&ProcessSpec> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// Finds `runway.toml` in `start` or its nearest parent.
    pub fn find(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .map(|dir| dir.join(MANIFEST_FILE))
            .find(|candidate| candidate.is_file())
    }
}

/// The state directory when none is given: `.runway/` beside the manifest (the CLI's rule).
fn default_home(manifest: &Path) -> PathBuf {
    let manifest = std::path::absolute(manifest).unwrap_or_else(|_| manifest.to_path_buf());
    manifest
        .parent()
        .map(|d| d.join(".runway"))
        .unwrap_or_else(|| PathBuf::from(".runway"))
}

/// Names processes and jobs may take: they become file names and CLI arguments.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != "all"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.')
}

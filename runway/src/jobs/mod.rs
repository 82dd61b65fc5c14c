//! Scheduled jobs (the seed's crontab line, run by the daemon): each `[[job]]` runs on its cron
//! schedule in its time zone, with a timeout and an overlap policy; its output goes to
//! `logs/job:NAME-out.log` / `job:NAME-error.log` (so `runway logs job:NAME` reads it), and
//! the last run, next run and last exit are kept (and persisted under `jobs/` in the state
//! directory so they survive a daemon restart). `run_now` is `runway jobs run NAME`.

pub mod config;
pub mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use config::{JobConfig, OverlapPolicy};
pub use schedule::Schedule;

use crate::pipeline::exec::{self, RunResult, RunSpec};

/// Where jobs run and write: the manifest's directory, the state directory, a base environment.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Relative `cwd`s are resolved against this (the manifest's directory).
    pub base_dir: PathBuf,
    /// `logs/` and `jobs/` live here.
    pub state_dir: PathBuf,
    /// Added to every job's environment before its own `env` (e.g. NODE_ENV, DB_*).
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JobError {
    #[error("invalid jobs:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
    #[error("no job named `{0}` (known: {1})")]
    NotFound(String, String),
    #[error("job `{0}` is already running and its overlap policy is `skip`")]
    AlreadyRunning(String),
    #[error("the scheduler is shutting down")]
    ShuttingDown,
}

/// What `runway status` shows for a job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobStatus {
    pub name: String,
    pub schedule: String,
    pub running: bool,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<RunResult>,
    pub runs: u64,
    pub skipped: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Persisted {
    last_run: Option<RunResult>,
    runs: u64,
    skipped: u64,
}

struct Job {
    config: JobConfig,
    schedule: Schedule,
    state: Mutex<JobState>,
}

#[derive(Default)]
struct JobState {
    running: usize,
    next_run: Option<DateTime<Utc>>,
    persisted: Persisted,
}

struct Inner {
    jobs: BTreeMap<String, Job>,
    ctx: JobContext,
    shutdown: watch::Sender<bool>,
    idle: tokio::sync::Notify,
}

/// The scheduler. Cheap to clone; all clones drive the same jobs.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

/// Why a run started.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    Schedule,
    Manual,
}

impl Scheduler {
    /// Validates every job (all problems at once) and loads each one's persisted history.
    pub fn new(configs: Vec<JobConfig>, ctx: JobContext) -> Result<Self, JobError> {
        let mut problems = Vec::new();
        let mut jobs = BTreeMap::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for config in configs {
            *seen.entry(config.name.clone()).or_default() += 1;
            match config.validate() {
                Ok(schedule) => {
                    let persisted = load_persisted(&ctx, &config.name);
                    let state = Mutex::new(JobState {
                        persisted,
                        ..Default::default()
                    });
                    jobs.insert(
                        config.name.clone(),
                        Job {
                            config,
                            schedule,
                            state,
                        },
                    );
                }
                Err(p) => problems.extend(p),
            }
        }
        for (name, n) in seen {
            if n > 1 {
                problems.push(format!("job `{name}` is declared {n} times"));
            }
        }
        if !problems.is_empty() {
            problems.sort();
            return Err(JobError::Invalid(problems));
        }
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            inner: Arc::new(Inner {
                jobs,
                ctx,
                shutdown,
                idle: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Starts one timer task per job. Call once, from inside a tokio runtime.
    pub fn start(&self) {
        for name in self.inner.jobs.keys() {
            let me = self.clone();
            let name = name.clone();
            tokio::spawn(async move { me.timer_loop(name).await });
        }
    }

    async fn timer_loop(self, name: String) {
        let mut shutdown = self.inner.shutdown.subscribe();
        let Some(job) = self.inner.jobs.get(&name) else {
            return;
        };
        loop {
            let Some(next) = job.schedule.next_after(Utc::now()) else {
                self.set_next(&name, None);
                return;
            };
            self.set_next(&name, Some(next));
            // Sleep in bounded slices: the wall clock may jump (NTP, suspend) and a long
            // monotonic sleep would then fire at the wrong wall time.
            loop {
                let now = Utc::now();
                if now >= next {
                    break;
                }
                let left = (next - now).to_std().unwrap_or(Duration::ZERO);
                tokio::select! {
                    _ = tokio::time::sleep(left.min(Duration::from_secs(60))) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
            if *shutdown.borrow() {
                return;
            }
            match self.begin(&name, Trigger::Schedule) {
                Ok(()) => {
                    let me = self.clone();
                    let n = name.clone();
                    tokio::spawn(async move { me.execute(&n, Trigger::Schedule).await });
                }
                Err(JobError::AlreadyRunning(_)) => {
                    let log = self.out_log(&name);
                    let _ = exec::append_log_line(
                        &log,
                        "--- skipped: the previous run is still going (overlap = skip) ---",
                    )
                    .await;
                }
                Err(_) => return,
            }
        }
    }

    /// Runs a job now and waits for it to finish (`runway jobs run NAME`).
    pub async fn run_now(&self, name: &str) -> Result<RunResult, JobError> {
        if !self.inner.jobs.contains_key(name) {
            let known: Vec<&str> = self.inner.jobs.keys().map(String::as_str).collect();
            return Err(JobError::NotFound(name.to_string(), known.join(", ")));
        }
        self.begin(name, Trigger::Manual)?;
        Ok(self.execute(name, Trigger::Manual).await)
    }

    /// Marks a run as started, or refuses it under the overlap policy.
    fn begin(&self, name: &str, _trigger: Trigger) -> Result<(), JobError> {
        if *self.inner.shutdown.borrow() {
            return Err(JobError::ShuttingDown);
        }
        let job = &self.inner.jobs[name];
        let mut st = lock(&job.state);
        if st.running > 0 && job.config.overlap == OverlapPolicy::Skip {
            st.persisted.skipped += 1;
            return Err(JobError::AlreadyRunning(name.to_string()));
        }
        st.running += 1;
        Ok(())
    }

    async fn execute(&self, name: &str, trigger: Trigger) -> RunResult {
        let job = &self.inner.jobs[name];
        let ctx = &self.inner.ctx;
        let cwd = match &job.config.cwd {
            Some(c) if c.is_absolute() => c.clone(),
            Some(c) => ctx.base_dir.join(c),
            None => ctx.base_dir.clone(),
        };
        let mut env = ctx.env.clone();
        env.extend(job.config.env.clone());
        let spec = RunSpec {
            command: job.config.command.clone(),
            cwd,
            env,
            timeout: job.config.timeout,
            kill_grace: Duration::from_secs(5),
            out_log: self.out_log(name),
            err_log: self.err_log(name),
        };
        let why = match trigger {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "run now",
        };
        let _ = exec::append_log_line(
            &spec.out_log,
            &format!("--- run started ({why}): {} ---", spec.command.display()),
        )
        .await;
        let result = exec::run(&spec, Some(self.inner.shutdown.subscribe())).await;
        let _ = exec::append_log_line(
            &spec.out_log,
            &format!(
                "--- run finished: {} in {} ms ---",
                result.outcome.describe(),
                result.duration_ms
            ),
        )
        .await;
        let snapshot = {
            let mut st = lock(&job.state);
            st.running = st.running.saturating_sub(1);
            st.persisted.runs += 1;
            st.persisted.last_run = Some(result.clone());
            serde_json::to_vec_pretty(&st.persisted).ok()
        };
        if let Some(bytes) = snapshot {
            let path = persisted_path(ctx, name);
            if let Some(dir) = path.parent() {
                let _ = tokio::fs::create_dir_all(dir).await;
            }
            let tmp = path.with_extension("json.tmp");
            if tokio::fs::write(&tmp, bytes).await.is_ok() {
                let _ = tokio::fs::rename(&tmp, &path).await;
            }
        }
        self.inner.idle.notify_waiters();
        result
    }

    fn set_next(&self, name: &str, next: Option<DateTime<Utc>>) {
        if let Some(job) = self.inner.jobs.get(name) {
            lock(&job.state).next_run = next;
        }
    }

    /// Per-job state for `runway status`, in name order.
    pub fn status(&self) -> Vec<JobStatus> {
        self.inner
            .jobs
            .iter()
            .map(|(name, job)| {
                let st = lock(&job.state);
                JobStatus {
                    name: name.clone(),
                    schedule: job.schedule.pattern().to_string(),
                    running: st.running > 0,
                    next_run: st.next_run.or_else(|| job.schedule.next_after(Utc::now())),
                    last_run: st.persisted.last_run.clone(),
                    runs: st.persisted.runs,
                    skipped: st.persisted.skipped,
                }
            })
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.inner.jobs.keys().cloned().collect()
    }

    pub fn out_log(&self, name: &str) -> PathBuf {
        log_path(&self.inner.ctx, name, "out")
    }

    pub fn err_log(&self, name: &str) -> PathBuf {
        log_path(&self.inner.ctx, name, "error")
    }

    /// Stops the timers and the running jobs (SIGTERM, then SIGKILL after the grace period),
    /// waiting at most `bound` for them to finish.
    pub async fn shutdown(&self, bound: Duration) {
        self.inner.shutdown.send_replace(true);
        let wait_idle = async {
            loop {
                let notified = self.inner.idle.notified();
                let busy = self.inner.jobs.values().any(|j| lock(&j.state).running > 0);
                if !busy {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(bound, wait_idle).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the counters half-written; keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `logs/job:NAME-out.log`: the supervisor's per-process naming, with a `job:` prefix.
pub fn log_path(ctx: &JobContext, name: &str, stream: &str) -> PathBuf {
    ctx.state_dir
        .join("logs")
        .join(format!("job:{name}-{stream}.log"))
}

fn persisted_path(ctx: &JobContext, name: &str) -> PathBuf {
    ctx.state_dir.join("jobs").join(format!("{name}.json"))
}

fn load_persisted(ctx: &JobContext, name: &str) -> Persisted {
    std::fs::read(persisted_path(ctx, name))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

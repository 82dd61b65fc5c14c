//! One supervised process: a task that owns its child and walks the state machine
//! starting → ready ⇄ unhealthy → (exit) → backoff → starting … / stopped / errored.
//!
//! All decisions about one process happen in its own task, driven by commands (start, stop,
//! restart, update, shutdown), the child's exit, probe results and memory checks — so there is
//! no shared mutable state to get wrong between them.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::sleep_until;

use super::Shared;
use super::env::Env;
use super::probe::{self, ProbeResult};
use super::spawn::{group_alive, signal_group};
use crate::logs::{self, LogSink, Stream};
use crate::manifest::{Condition, ProcessSpec, RestartPolicy};
use crate::proxy::UpstreamState;

/// What `runway status` shows as a process's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcState {
    Starting,
    Ready,
    Unhealthy,
    Backoff,
    Stopping,
    Stopped,
    Errored,
}

impl ProcState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcState::Starting => "starting",
            ProcState::Ready => "ready",
            ProcState::Unhealthy => "unhealthy",
            ProcState::Backoff => "backoff",
            ProcState::Stopping => "stopping",
            ProcState::Stopped => "stopped",
            ProcState::Errored => "errored",
        }
    }
}

/// A process's current status, published through a `watch` channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcStatus {
    pub state: ProcState,
    pub pid: Option<u32>,
    /// When the current child was spawned (ms since the Unix epoch).
    pub started_at_ms: Option<u64>,
    pub restarts: u32,
    /// How the last child ended: "exit code 1", "signal SIGKILL".
    pub last_exit: Option<String>,
    pub last_exit_code: Option<i32>,
    /// Why the process is in its state (errored, backoff, unhealthy, waiting for a dependency).
    pub reason: Option<String>,
    /// Whether the user wants it running (started and not stopped since): what `save` keeps.
    pub wanted: bool,
}

impl Default for ProcStatus {
    fn default() -> Self {
        ProcStatus {
            state: ProcState::Stopped,
            pid: None,
            started_at_ms: None,
            restarts: 0,
            last_exit: None,
            last_exit_code: None,
            reason: None,
            wanted: false,
        }
    }
}

/// A state change, for the foreground printer and the daemon log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub name: String,
    pub state: ProcState,
    pub pid: Option<u32>,
    pub message: String,
}

pub(super) enum Cmd {
    Start {
        ack: oneshot::Sender<()>,
    },
    Stop {
        done: oneshot::Sender<()>,
    },
    /// Restart now (with a new spec and/or environment when given), even if stopped.
    Restart {
        spec: Option<Arc<ProcessSpec>>,
        env: Option<Arc<Env>>,
        ack: oneshot::Sender<()>,
    },
    /// A reload changed this process: restart if it runs, otherwise just remember.
    Update {
        spec: Arc<ProcessSpec>,
        env: Arc<Env>,
        ack: oneshot::Sender<()>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
    /// A new environment for the next start; a running child keeps its own.
    SetEnv {
        env: Arc<Env>,
        ack: oneshot::Sender<()>,
    },
}

/// How a supervision run ended.
enum Flow {
    Idle,
    Quit(oneshot::Sender<()>),
}

/// Why a running child is no longer running.
enum RunEnd {
    Exited(Option<ExitStatus>),
    /// Stopped by us to restart (command or reload); restart immediately.
    Restart,
    /// Stopped by us because a check failed (liveness, memory); counts as a crash.
    Failed(String),
    Stopped(oneshot::Sender<()>),
    Quit(oneshot::Sender<()>),
}

type ProbeFuture = Pin<Box<dyn Future<Output = ProbeResult> + Send>>;

pub(super) struct Actor {
    pub name: String,
    pub spec: Arc<ProcessSpec>,
    pub env: Arc<Env>,
    pub status: watch::Sender<ProcStatus>,
    pub cmds: mpsc::UnboundedReceiver<Cmd>,
    pub shared: Arc<Shared>,
    pub out: LogSink,
    pub err: LogSink,
    pub crash_times: VecDeque<Instant>,
    pub consecutive: u32,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn describe_exit(status: Option<ExitStatus>) -> (String, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => (format!("exit code {code}"), Some(code)),
            (None, Some(sig)) => (
                format!("signal {}", crate::manifest::Signal(sig).name()),
                None,
            ),
            _ => ("unknown exit".into(), None),
        },
        None => ("exit status lost".into(), None),
    }
}

impl Actor {
    pub(super) async fn run(mut self) {
        loop {
            let Some(cmd) = self.cmds.recv().await else {
                return;
            };
            let flow = match cmd {
                Cmd::Start { ack } => {
                    self.begin();
                    let _ = ack.send(());
                    self.supervise().await
                }
                Cmd::Restart { spec, env, ack } => {
                    self.apply(spec, env);
                    self.begin();
                    let _ = ack.send(());
                    self.supervise().await
                }
                Cmd::Update { spec, env, ack } => {
                    self.apply(Some(spec), Some(env));
                    let _ = ack.send(());
                    Flow::Idle
                }
                Cmd::Stop { done } => {
                    self.status.send_modify(|s| s.wanted = false);
                    let _ = done.send(());
                    Flow::Idle
                }
                Cmd::Shutdown { done } => Flow::Quit(done),
                Cmd::SetEnv { env, ack } => {
                    self.env = env;
                    let _ = ack.send(());
                    Flow::Idle
                }
            };
            if let Flow::Quit(done) = flow {
                let _ = done.send(());
                return;
            }
        }
    }

    fn apply(&mut self, spec: Option<Arc<ProcessSpec>>, env: Option<Arc<Env>>) {
        if let Some(spec) = spec {
            self.spec = spec;
        }
        if let Some(env) = env {
            self.env = env;
        }
    }

    /// A fresh start: crash accounting starts over, the reason is cleared.
    fn begin(&mut self) {
        self.consecutive = 0;
        self.crash_times.clear();
        self.status.send_modify(|s| {
            s.wanted = true;
            s.reason = None;
        });
        self.set(ProcState::Starting, None, "starting");
    }

    /// Publishes a state change everywhere it is observed. The log line is written first so
    /// the daemon log shows causes before their effects in other processes.
    fn set(&self, state: ProcState, reason: Option<String>, message: &str) {
        let mut text = message.to_string();
        if let Some(reason) = &reason
            && !message.contains(reason.as_str())
        {
            text = format!("{message}: {reason}");
        }
        self.shared
            .daemon_log
            .line(&format!("{}: {text}", self.name));
        let mut pid = None;
        self.status.send_modify(|s| {
            s.state = state;
            s.reason = reason.clone();
            if matches!(
                state,
                ProcState::Stopped | ProcState::Errored | ProcState::Backoff
            ) {
                s.pid = None;
                s.started_at_ms = None;
            }
            pid = s.pid;
        });
        if let Some(port) = self.spec.port {
            let upstream = match state {
                ProcState::Ready => {
                    UpstreamState::Ready(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
                }
                ProcState::Starting
                | ProcState::Unhealthy
                | ProcState::Backoff
                | ProcState::Stopping => UpstreamState::Starting,
                ProcState::Stopped | ProcState::Errored => UpstreamState::Down,
            };
            self.shared.upstreams.set(&self.name, upstream);
        }
        let _ = self.shared.events.send(Event {
            name: self.name.clone(),
            state,
            pid,
            message: text,
        });
    }

    /// Handles a command that arrives while no child runs. `Some` ends the supervision run.
    fn idle_command(&mut self, cmd: Cmd) -> Option<Flow> {
        match cmd {
            Cmd::Start { ack } => {
                let _ = ack.send(());
                None
            }
            Cmd::Restart { spec, env, ack } => {
                self.apply(spec, env);
                self.consecutive = 0;
                let _ = ack.send(());
                None
            }
            Cmd::Update { spec, env, ack } => {
                self.apply(Some(spec), Some(env));
                let _ = ack.send(());
                None
            }
            Cmd::Stop { done } => {
                self.status.send_modify(|s| s.wanted = false);
                self.set(ProcState::Stopped, None, "stopped");
                let _ = done.send(());
                Some(Flow::Idle)
            }
            Cmd::Shutdown { done } => {
                self.status.send_modify(|s| s.wanted = false);
                self.set(ProcState::Stopped, None, "stopped");
                Some(Flow::Quit(done))
            }
            Cmd::SetEnv { env, ack } => {
                self.env = env;
                let _ = ack.send(());
                None
            }
        }
    }

    async fn supervise(&mut self) -> Flow {
        'deps: loop {
            if let Some(flow) = self.wait_dependencies().await {
                return flow;
            }
            loop {
                let child = match self.spawn().await {
                    Ok(child) => child,
                    Err(reason) => {
                        // Treated like a crash: a missing binary must not spin the CPU.
                        match self.after_crash(None, reason).await {
                            Some(flow) => return flow,
                            None => continue,
                        }
                    }
                };
                match self.run_child(child).await {
                    RunEnd::Stopped(done) => {
                        self.status.send_modify(|s| s.wanted = false);
                        self.set(ProcState::Stopped, None, "stopped");
                        let _ = done.send(());
                        return Flow::Idle;
                    }
                    RunEnd::Quit(done) => {
                        self.status.send_modify(|s| s.wanted = false);
                        self.set(ProcState::Stopped, None, "stopped");
                        return Flow::Quit(done);
                    }
                    RunEnd::Restart => {
                        self.status.send_modify(|s| s.restarts += 1);
                        self.consecutive = 0;
                        continue 'deps;
                    }
                    RunEnd::Failed(reason) => {
                        if let Some(flow) = self.after_crash(None, reason).await {
                            return flow;
                        }
                    }
                    RunEnd::Exited(status) => {
                        let (text, code) = describe_exit(status);
                        self.status.send_modify(|s| {
                            s.last_exit = Some(text.clone());
                            s.last_exit_code = code;
                        });
                        let success = code == Some(0);
                        match (self.spec.restart, success) {
                            (RestartPolicy::Never, true) | (RestartPolicy::OnFailure, true) => {
                                self.set(ProcState::Stopped, None, &format!("completed ({text})"));
                                return Flow::Idle;
                            }
                            (RestartPolicy::Never, false) => {
                                self.set(
                                    ProcState::Errored,
                                    Some(format!("{text} (restart = \"never\")")),
                                    "exited",
                                );
                                return Flow::Idle;
                            }
                            _ => {
                                if let Some(flow) = self
                                    .after_crash(status, format!("exited with {text}"))
                                    .await
                                {
                                    return flow;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Crash accounting and backoff. `None`: restart now; `Some`: the run ended (errored, or
    /// a command arrived during the backoff).
    async fn after_crash(&mut self, _status: Option<ExitStatus>, reason: String) -> Option<Flow> {
        let now = Instant::now();
        let healthy_long_enough = self.status.borrow().started_at_ms.is_some_and(|t| {
            now_ms().saturating_sub(t) >= self.spec.backoff.reset_after.as_millis() as u64
        });
        if healthy_long_enough {
            self.consecutive = 0;
        }
        self.consecutive += 1;
        self.crash_times.push_back(now);
        let window = self.spec.crash_loop.window;
        while self
            .crash_times
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            self.crash_times.pop_front();
        }
        if self.crash_times.len() as u32 > self.spec.crash_loop.max_restarts {
            self.set(
                ProcState::Errored,
                Some(format!(
                    "crash loop: {} restarts within {} s, not restarting (last: {reason}); fix it, then `runway restart {}`",
                    self.crash_times.len() - 1,
                    window.as_secs(),
                    self.name
                )),
                "errored",
            );
            return Some(Flow::Idle);
        }
        let delay = self.spec.backoff.delay(self.consecutive);
        self.status.send_modify(|s| s.restarts += 1);
        if delay.is_zero() {
            self.set(ProcState::Starting, Some(reason), "restarting");
            return None;
        }
        self.set(
            ProcState::Backoff,
            Some(format!("{reason}; restarting in {} ms", delay.as_millis())),
            "backoff",
        );
        let until = tokio::time::Instant::now() + delay;
        loop {
            tokio::select! {
                _ = sleep_until(until) => {
                    self.set(ProcState::Starting, None, "restarting");
                    return None;
                }
                cmd = self.cmds.recv() => {
                    let Some(cmd) = cmd else { return Some(Flow::Idle) };
                    let restart_now = matches!(cmd, Cmd::Restart { .. });
                    if let Some(flow) = self.idle_command(cmd) {
                        return Some(flow);
                    }
                    if restart_now {
                        self.set(ProcState::Starting, None, "restarting");
                        return None;
                    }
                }
            }
        }
    }

    /// Waits until every dependency meets its condition. `Some` ends the run (a dependency
    /// failed, or a stop/shutdown arrived).
    async fn wait_dependencies(&mut self) -> Option<Flow> {
        loop {
            let deps = self.spec.depends_on.clone();
            if deps.is_empty() {
                return None;
            }
            let mut waiting = Vec::new();
            let mut receivers = Vec::new();
            for dep in &deps {
                let Some(rx) = self.shared.status_of(&dep.name) else {
                    self.set(
                        ProcState::Errored,
                        Some(format!("dependency `{}` does not exist", dep.name)),
                        "errored",
                    );
                    return Some(Flow::Idle);
                };
                let st = rx.borrow().clone();
                let met = match dep.condition {
                    Condition::Started => {
                        matches!(st.state, ProcState::Ready | ProcState::Unhealthy)
                            || (st.state == ProcState::Starting && st.pid.is_some())
                    }
                    Condition::Healthy => st.state == ProcState::Ready,
                    Condition::Completed => {
                        st.state == ProcState::Stopped && st.last_exit_code == Some(0)
                    }
                };
                if met {
                    continue;
                }
                if st.state == ProcState::Errored || (st.state == ProcState::Stopped && !st.wanted)
                {
                    let why = if st.state == ProcState::Errored {
                        "errored"
                    } else {
                        "is stopped"
                    };
                    self.set(
                        ProcState::Errored,
                        Some(format!("dependency `{}` {why}", dep.name)),
                        "not started",
                    );
                    return Some(Flow::Idle);
                }
                waiting.push(format!(
                    "{} ({})",
                    dep.name,
                    match dep.condition {
                        Condition::Started => "started",
                        Condition::Healthy => "healthy",
                        Condition::Completed => "completed",
                    }
                ));
                receivers.push(rx);
            }
            if receivers.is_empty() {
                return None;
            }
            let reason = format!("waiting for {}", waiting.join(", "));
            if self.status.borrow().reason.as_deref() != Some(reason.as_str()) {
                self.set(ProcState::Starting, Some(reason), "waiting");
            }
            let changed = futures_util::future::select_all(
                receivers
                    .iter_mut()
                    .map(|rx| Box::pin(async move { rx.changed().await.is_ok() })),
            );
            tokio::select! {
                _ = changed => {}
                cmd = self.cmds.recv() => {
                    let Some(cmd) = cmd else { return Some(Flow::Idle) };
                    if let Some(flow) = self.idle_command(cmd) {
                        return Some(flow);
                    }
                }
            }
        }
    }

    async fn spawn(&mut self) -> Result<Child, String> {
        let argv = self.spec.command.argv();
        let mut child = self
            .shared
            .spawner
            .spawn(&argv, &self.spec.cwd, &self.env)
            .await
            .map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        " (is `{}` installed and on PATH? cwd {})",
                        argv[0],
                        self.spec.cwd.display()
                    )
                } else {
                    String::new()
                };
                format!("cannot start `{}`: {e}{hint}", self.spec.command)
            })?;
        let pid = child.id().unwrap_or(0);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(logs::pump(stdout, self.out.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(logs::pump(stderr, self.err.clone()));
        }
        self.shared.children.add(&self.name, pid);
        self.status.send_modify(|s| {
            s.pid = Some(pid);
            s.started_at_ms = Some(now_ms());
        });
        self.set(ProcState::Starting, None, &format!("started (pid {pid})"));
        Ok(child)
    }

    fn probe_future(&self, probe: &crate::manifest::Probe) -> ProbeFuture {
        let probe = probe.clone();
        let spawner = self.shared.spawner.clone();
        let cwd = self.spec.cwd.clone();
        let env = self.env.clone();
        Box::pin(async move { probe::check(&probe, &spawner, &cwd, &env).await })
    }

    async fn run_child(&mut self, mut child: Child) -> RunEnd {
        let pid = child.id().unwrap_or(0);
        let spec = self.spec.clone();
        let spawned = tokio::time::Instant::now();
        let readiness = spec.readiness.clone();
        let liveness = spec.liveness.clone();
        let mut ready = false;
        if readiness.is_none() {
            ready = true;
            self.set(ProcState::Ready, None, "ready");
        }
        // While starting, probe often (every 50 ms at most) so a restart is noticed at once;
        // once ready, at the configured interval.
        let starting_period = |interval: Duration| interval.min(Duration::from_millis(50));
        let mut next_ready = spawned
            + readiness
                .as_ref()
                .map(|p| p.initial_delay)
                .unwrap_or_default();
        let mut next_live = spawned
            + liveness
                .as_ref()
                .map(|p| p.initial_delay)
                .unwrap_or_default();
        let mut ready_fut: Option<ProbeFuture> = None;
        let mut live_fut: Option<ProbeFuture> = None;
        let mut ready_fails = 0u32;
        let mut live_fails = 0u32;
        let mut next_mem = spawned + Duration::from_secs(1);

        let end = loop {
            tokio::select! {
                status = child.wait() => {
                    break RunEnd::Exited(status.ok());
                }
                cmd = self.cmds.recv() => {
                    let Some(cmd) = cmd else {
                        self.terminate(&mut child, pid, false).await;
                        return RunEnd::Quit(oneshot::channel().0);
                    };
                    match cmd {
                        Cmd::Start { ack } => { let _ = ack.send(()); }
                        Cmd::SetEnv { env, ack } => {
                            self.env = env;
                            let _ = ack.send(());
                        }
                        Cmd::Stop { done } => {
                            self.terminate(&mut child, pid, false).await;
                            break RunEnd::Stopped(done);
                        }
                        Cmd::Shutdown { done } => {
                            self.terminate(&mut child, pid, false).await;
                            break RunEnd::Quit(done);
                        }
                        Cmd::Restart { spec, env, ack } => {
                            self.set(ProcState::Stopping, None, "restarting");
                            let _ = ack.send(());
                            self.terminate(&mut child, pid, true).await;
                            self.apply(spec, env);
                            break RunEnd::Restart;
                        }
                        Cmd::Update { spec, env, ack } => {
                            self.set(ProcState::Stopping, None, "restarting (manifest changed)");
                            let _ = ack.send(());
                            self.terminate(&mut child, pid, true).await;
                            self.apply(Some(spec), Some(env));
                            break RunEnd::Restart;
                        }
                    }
                }
                result = async { ready_fut.as_mut().expect("guarded").await }, if ready_fut.is_some() => {
                    ready_fut = None;
                    let Some(probe) = readiness.as_ref() else { continue };
                    match result {
                        Ok(()) => {
                            ready_fails = 0;
                            let state = self.status.borrow().state;
                            if !ready || state == ProcState::Unhealthy {
                                ready = true;
                                self.set(ProcState::Ready, None, "ready");
                            }
                        }
                        Err(e) => {
                            if ready {
                                ready_fails += 1;
                                if ready_fails >= probe.failure_threshold
                                    && self.status.borrow().state == ProcState::Ready
                                {
                                    self.set(ProcState::Unhealthy, Some(e), "unhealthy");
                                }
                            }
                        }
                    }
                    let period = if ready { probe.interval } else { starting_period(probe.interval) };
                    next_ready = tokio::time::Instant::now() + period;
                }
                _ = sleep_until(next_ready), if ready_fut.is_none() && readiness.is_some() => {
                    if let Some(probe) = readiness.as_ref() {
                        ready_fut = Some(self.probe_future(probe));
                    }
                }
                result = async { live_fut.as_mut().expect("guarded").await }, if live_fut.is_some() => {
                    live_fut = None;
                    let Some(probe) = liveness.as_ref() else { continue };
                    match result {
                        Ok(()) => live_fails = 0,
                        Err(e) => {
                            live_fails += 1;
                            self.shared.daemon_log.line(&format!(
                                "{}: liveness probe failed ({live_fails}/{}): {e}",
                                self.name, probe.failure_threshold
                            ));
                            if live_fails >= probe.failure_threshold {
                                let reason = format!("liveness probe failed {live_fails} times: {e}");
                                self.set(ProcState::Stopping, Some(reason.clone()), "restarting");
                                self.terminate(&mut child, pid, true).await;
                                break RunEnd::Failed(reason);
                            }
                        }
                    }
                    next_live = tokio::time::Instant::now() + probe.interval;
                }
                _ = sleep_until(next_live), if live_fut.is_none() && ready && liveness.is_some() => {
                    if let Some(probe) = liveness.as_ref() {
                        live_fut = Some(self.probe_future(probe));
                    }
                }
                _ = sleep_until(next_mem), if spec.max_memory.is_some() => {
                    next_mem = tokio::time::Instant::now() + Duration::from_secs(1);
                    let limit = spec.max_memory.unwrap_or(u64::MAX);
                    let rss = super::stats::sample_groups(&[pid]).first().map(|s| s.1.rss).unwrap_or(0);
                    if rss > limit {
                        let reason = format!(
                            "memory {} MiB over max_memory {} MiB",
                            rss / (1024 * 1024),
                            limit / (1024 * 1024)
                        );
                        self.set(ProcState::Stopping, Some(reason.clone()), "restarting");
                        self.terminate(&mut child, pid, true).await;
                        break RunEnd::Failed(reason);
                    }
                }
            }
        };
        if let RunEnd::Exited(_) = end {
            // The leader is gone; anything it left in its group must not outlive it (it would
            // hold the port the next start needs).
            if group_alive(pid) {
                self.reap_group(pid).await;
            }
        }
        self.shared.children.remove(pid);
        self.status.send_modify(|s| s.pid = None);
        end
    }

    /// Graceful stop of the whole group: stop signal, then SIGKILL after the stop timeout.
    async fn terminate(&mut self, child: &mut Child, pgid: u32, for_restart: bool) {
        if !for_restart {
            self.set(ProcState::Stopping, None, "stopping");
        }
        let deadline = tokio::time::Instant::now() + self.spec.stop_timeout;
        signal_group(pgid, self.spec.stop_signal.0);
        let status = match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                self.shared.daemon_log.line(&format!(
                    "{}: did not stop within {} ms of {}; sending SIGKILL to its process group",
                    self.name,
                    self.spec.stop_timeout.as_millis(),
                    self.spec.stop_signal
                ));
                signal_group(pgid, libc::SIGKILL);
                child.wait().await.ok()
            }
        };
        let (text, code) = describe_exit(status);
        self.status.send_modify(|s| {
            s.last_exit = Some(text);
            s.last_exit_code = code;
        });
        while group_alive(pgid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if group_alive(pgid) {
            signal_group(pgid, libc::SIGKILL);
        }
    }

    async fn reap_group(&self, pgid: u32) {
        let deadline = tokio::time::Instant::now() + self.spec.stop_timeout;
        signal_group(pgid, self.spec.stop_signal.0);
        while group_alive(pgid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if group_alive(pgid) {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

/// Opens the two logs of a process.
pub(super) fn open_logs(shared: &Shared, name: &str) -> std::io::Result<(LogSink, LogSink)> {
    Ok((
        LogSink::open(
            &logs::log_path(&shared.logs_dir, name, Stream::Out),
            shared.log_policy,
        )?,
        LogSink::open(
            &logs::log_path(&shared.logs_dir, name, Stream::Err),
            shared.log_policy,
        )?,
    ))
}

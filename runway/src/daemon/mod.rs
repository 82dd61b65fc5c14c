//! The runway daemon: holds the lock for its state directory, supervises the manifest's
//! processes, serves the CLI over a 0600 Unix socket, and stops everything in reverse
//! dependency order on SIGINT/SIGTERM or `runway down`. SIGHUP reloads the manifest.

pub mod client;
pub mod integrations;
pub mod lock;
pub mod protocol;
pub mod state;
pub mod switch;

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::logs::{self, LogSink};
use crate::manifest::{Manifest, Mode};
use crate::supervisor::{Env, Supervisor, SupervisorOptions, registry, stats};
use integrations::{JobsBackend, ProxyBackend};
use protocol::{
    ActionReport, Command, DaemonInfo, PROTOCOL_VERSION, ProcessRow, ReloadAnswer, Request,
    Response, StatusReport,
};
use state::{Dump, Paths};

/// What to start once the daemon is up.
#[derive(Debug, Clone)]
pub enum Initial {
    /// These names (empty: every autostart process).
    Start(Vec<String>),
    /// The saved list (`runway resurrect`).
    Resurrect,
    Nothing,
}

pub struct DaemonConfig {
    pub manifest_path: PathBuf,
    pub mode: Mode,
    pub paths: Paths,
    /// Print state changes to stdout (`runway up` in the foreground).
    pub foreground: bool,
    pub initial: Initial,
    pub base_env: Env,
    /// Printed (foreground) once the initial processes have settled: URL, login, how to stop.
    pub banner: Option<String>,
}

/// Runs the daemon until it is told to stop. Errors are for the user (exit non-zero).
pub fn run(config: DaemonConfig) -> Result<(), String> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .max_blocking_threads(8)
        .thread_stack_size(512 * 1024)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(config))
}

struct Daemon {
    supervisor: Supervisor,
    manifest: Mutex<Manifest>,
    paths: Paths,
    started: Instant,
    shutdown: watch::Sender<bool>,
    cpu_prev: Mutex<HashMap<u32, (Instant, u64)>>,
    jobs: Mutex<Option<Arc<dyn JobsBackend>>>,
    proxy: Mutex<Option<Arc<dyn ProxyBackend>>>,
    log: LogSink,
}

async fn serve(config: DaemonConfig) -> Result<(), String> {
    let paths = config.paths.clone();
    paths
        .create()
        .map_err(|e| format!("cannot create {}: {e}", paths.home.display()))?;
    // The manifest is checked before the lock is taken or anything is touched.
    let manifest = Manifest::load_in(&config.manifest_path, config.mode, &paths.home)
        .map_err(|e| e.to_string())?;
    let manifest = with_managed_db(manifest, &paths, &config.base_env)?;

    let lock = match lock::acquire(&paths.lock) {
        Ok(lock) => lock,
        Err(lock::LockError::Held(pid)) => {
            return Err(format!(
                "a runway daemon is already running for {} (pid {}); use `runway status`, or `runway down` to stop it",
                paths.home.display(),
                pid.map(|p| p.to_string())
                    .unwrap_or_else(|| "unknown".into())
            ));
        }
        Err(lock::LockError::Io(e)) => {
            return Err(format!("cannot lock {}: {e}", paths.lock.display()));
        }
    };

    let policy = manifest.logs;
    let log = LogSink::open(&logs::daemon_log_path(&paths.logs), policy).map_err(|e| {
        format!(
            "cannot open the daemon log in {}: {e}",
            paths.logs.display()
        )
    })?;
    init_tracing(&log);
    log.line(&format!(
        "runway daemon {} starting (pid {}, manifest {}, mode {})",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        manifest.path.display(),
        manifest.mode
    ));
    if let Some(previous) = lock.previous_pid
        && previous != std::process::id()
    {
        log.line(&format!(
            "took over the lock of a daemon that is gone (pid {previous})"
        ));
    }
    // Whatever a killed predecessor left running is stopped before we start anything.
    let cleanup = tokio::task::spawn_blocking({
        let children = paths.children.clone();
        move || registry::cleanup_stale(&children)
    })
    .await
    .unwrap_or_default();
    for line in &cleanup {
        log.line(line);
        if config.foreground {
            println!("runway: {line}");
        }
    }

    let supervisor = Supervisor::new(
        SupervisorOptions {
            logs_dir: paths.logs.clone(),
            log_policy: policy,
            children_file: Some(paths.children.clone()),
            daemon_log: log.clone(),
        },
        config.base_env.clone(),
    )
    .map_err(|e| format!("cannot start the supervisor: {e}"))?;
    supervisor.load(&manifest)?;
    // The proxy and the scheduler (integration points, see integrations.rs) come up before the
    // socket: a proxy that cannot bind its port fails the start before any process runs.
    let proxy = integrations::start_proxy(&manifest, &supervisor, &paths.logs).await?;
    let jobs = integrations::start_jobs(&manifest, &supervisor, &paths.home)?;

    let listener = bind_socket(&paths)?;
    let (shutdown, mut shutdown_rx) = watch::channel(false);
    let daemon = Arc::new(Daemon {
        supervisor,
        manifest: Mutex::new(manifest),
        paths: paths.clone(),
        started: Instant::now(),
        shutdown,
        cpu_prev: Mutex::new(HashMap::new()),
        jobs: Mutex::new(jobs),
        proxy: Mutex::new(proxy),
        log: log.clone(),
    });

    if config.foreground {
        spawn_printer(&daemon);
        println!(
            "runway {}: daemon pid {}, manifest {} ({} mode), logs in {}",
            env!("CARGO_PKG_VERSION"),
            std::process::id(),
            config.manifest_path.display(),
            config.mode,
            paths.logs.display()
        );
        println!("runway: Ctrl-C stops everything");
    }

    spawn_signal_handlers(&daemon)?;
    {
        let daemon = daemon.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let daemon = daemon.clone();
                        tokio::spawn(async move { daemon.connection(stream).await });
                    }
                    Err(e) => {
                        daemon.log.line(&format!("socket accept failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }

    match config.initial {
        Initial::Start(names) => match daemon.supervisor.start(&names).await {
            Ok(started) => {
                if let (true, Some(banner)) = (config.foreground, config.banner.clone()) {
                    let daemon = daemon.clone();
                    tokio::spawn(async move {
                        daemon
                            .supervisor
                            .wait_settled(&started, Duration::from_secs(600))
                            .await;
                        let statuses = daemon.supervisor.statuses();
                        let not_ready: Vec<String> = statuses
                            .iter()
                            .filter(|(spec, st)| {
                                started.contains(&spec.name)
                                    && st.state != crate::supervisor::ProcState::Ready
                            })
                            .map(|(spec, st)| format!("{} ({:?})", spec.name, st.state))
                            .collect();
                        let mut out = std::io::stdout().lock();
                        if not_ready.is_empty() {
                            let _ = writeln!(out, "{banner}");
                        } else {
                            let _ = writeln!(
                                out,
                                "runway: not ready: {}; see `runway logs NAME`, `runway doctor`",
                                not_ready.join(", ")
                            );
                        }
                    });
                }
            }
            Err(e) => {
                daemon.log.line(&e);
                if config.foreground {
                    eprintln!("runway: {e}");
                }
                let _ = daemon.shutdown.send(true);
            }
        },
        Initial::Resurrect => {
            if let Err(e) = daemon.resurrect().await {
                daemon.log.line(&e);
                eprintln!("runway: {e}");
            }
        }
        Initial::Nothing => {}
    }

    let _ = shutdown_rx.wait_for(|stop| *stop).await;
    if config.foreground {
        println!("runway: stopping everything (reverse dependency order)");
    }
    daemon.log.line("stopping everything");
    let proxy = daemon
        .proxy
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(proxy) = proxy {
        proxy.shutdown().await;
    }
    let jobs = daemon.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(jobs) = jobs {
        jobs.shutdown().await;
    }
    daemon.supervisor.shutdown().await;
    let _ = std::fs::remove_file(&paths.socket);
    let _ = std::fs::remove_file(&paths.children);
    daemon.log.line("daemon stopped");
    if config.foreground {
        println!("runway: stopped");
    }
    drop(lock);
    Ok(())
}

/// Set by `runway up --db postgres` when the state directory has a managed cluster.
pub const MANAGED_PG_ENV: &str = "RUNWAY_MANAGED_PG";

/// Under `up --db postgres` with a managed cluster (`runway db provision --managed`): the
/// cluster's server becomes a supervised process `postgres` (readiness: `pg_isready`; SIGINT,
/// PostgreSQL's fast shutdown) and the deployed process waits for it to be healthy.
fn with_managed_db(
    mut manifest: Manifest,
    paths: &Paths,
    base_env: &Env,
) -> Result<Manifest, String> {
    if base_env.get(MANAGED_PG_ENV).map(String::as_str) != Some("1") {
        return Ok(manifest);
    }
    let Some(cluster) = crate::db::managed::ManagedCluster::load(&paths.home) else {
        return Ok(manifest);
    };
    if manifest.process("postgres").is_some() {
        return Ok(manifest);
    }
    if cluster.run_as.is_some() {
        // The server runs as `postgres` (initdb refuses root): it must be able to traverse
        // the state directory to its cluster. 0711 lets it pass without listing; the logs
        // directory, which the 0700 home used to cover, is closed on its own.
        let _ = std::fs::set_permissions(&paths.home, std::fs::Permissions::from_mode(0o711));
        let _ = std::fs::set_permissions(&paths.logs, std::fs::Permissions::from_mode(0o700));
    }
    let quote = |argv: Vec<String>| -> String {
        let items: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
        format!("[{}]", items.join(", "))
    };
    let text = format!(
        "[[process]]\nname = \"postgres\"\ncommand = {}\nreadiness = {{ exec = {}, interval = \"500ms\", timeout = \"5s\", failure_threshold = 3 }}\nrestart = \"always\"\nstop_signal = \"SIGINT\"\nstop_timeout = \"30s\"\n",
        quote(cluster.server_command()),
        quote(cluster.ready_command())
    );
    let extra = Manifest::parse_in(&text, &manifest.path, manifest.mode, &paths.home)
        .map_err(|e| format!("the managed PostgreSQL process: {e}"))?;
    let deployed = manifest.deploy.process.clone();
    if let Some(spec) = manifest.processes.iter_mut().find(|p| p.name == deployed) {
        spec.depends_on.push(crate::manifest::Dependency {
            name: "postgres".into(),
            condition: crate::manifest::Condition::Healthy,
        });
    }
    manifest.processes.splice(0..0, extra.processes);
    Ok(manifest)
}

fn bind_socket(paths: &Paths) -> Result<UnixListener, String> {
    if paths.socket.as_os_str().len() > 100 {
        return Err(format!(
            "the socket path {} is too long for a Unix socket; set RUNWAY_HOME to a shorter directory",
            paths.socket.display()
        ));
    }
    // We hold the lock, so a socket file here is a leftover of a dead daemon.
    let _ = std::fs::remove_file(&paths.socket);
    let listener = UnixListener::bind(&paths.socket)
        .map_err(|e| format!("cannot listen on {}: {e}", paths.socket.display()))?;
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {}: {e}", paths.socket.display()))?;
    Ok(listener)
}

/// Routes `tracing` (used by the proxy and others) into the daemon log.
fn init_tracing(log: &LogSink) {
    struct Writer(LogSink);
    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            (&self.0).write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = log.clone();
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // `Targets` ("info", "runway=debug,hyper=warn") rather than `EnvFilter`: the same syntax
    // minus span-field matching, without linking a regex engine into the daemon.
    let filter = std::env::var("RUNWAY_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || Writer(sink.clone())),
        )
        .with(filter)
        .try_init();
}

fn spawn_printer(daemon: &Arc<Daemon>) {
    let mut events = daemon.supervisor.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    let time = chrono::Local::now().format("%H:%M:%S");
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{time} {:<12} {}", event.name, event.message);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            }
        }
    });
}

fn spawn_signal_handlers(daemon: &Arc<Daemon>) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let d = daemon.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = d.shutdown.send(true);
    });
    let d = daemon.clone();
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match d.reload().await {
                Ok(answer) => d.log.line(&format!("reload (SIGHUP): {:?}", answer.report)),
                Err(e) => d.log.line(&format!("reload (SIGHUP) refused: {e}")),
            }
        }
    });
    Ok(())
}

impl Daemon {
    fn manifest_snapshot(&self) -> Manifest {
        self.manifest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn connection(self: Arc<Self>, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let response = match serde_json::from_str::<serde_json::Value>(&line) {
                Err(e) => Response::err(format!("not JSON: {e}")),
                Ok(value) => {
                    let version = value.get("v").and_then(|v| v.as_u64());
                    if version != Some(PROTOCOL_VERSION as u64) {
                        Response::err(format!(
                            "protocol version {} is not supported; this daemon ({}) speaks {PROTOCOL_VERSION}: run `runway down` and start it again with the same runway binary",
                            version
                                .map(|v| v.to_string())
                                .unwrap_or_else(|| "(none)".into()),
                            env!("CARGO_PKG_VERSION")
                        ))
                    } else {
                        match serde_json::from_value::<Request>(value) {
                            Ok(request) => self.handle(request.body).await,
                            Err(e) => Response::err(format!("unknown request: {e}")),
                        }
                    }
                }
            };
            let mut bytes = serde_json::to_vec(&response).unwrap_or_default();
            bytes.push(b'\n');
            if write.write_all(&bytes).await.is_err() {
                return;
            }
        }
    }

    async fn handle(&self, command: Command) -> Response {
        match command {
            Command::Ping => Response::ok(serde_json::json!({
                "pid": std::process::id(),
                "version": env!("CARGO_PKG_VERSION"),
            })),
            Command::Status => Response::ok(self.status().await),
            Command::Start { names, wait } => match self.supervisor.start(&names).await {
                Ok(started) => {
                    if wait {
                        self.supervisor
                            .wait_settled(&started, Duration::from_secs(120))
                            .await;
                    }
                    Response::ok(ActionReport {
                        names: started,
                        warnings: Vec::new(),
                        status: Some(self.status().await),
                    })
                }
                Err(e) => Response::err(e),
            },
            Command::Stop { names } => match self.supervisor.stop(&names).await {
                Ok(stopped) => Response::ok(ActionReport {
                    names: stopped,
                    warnings: Vec::new(),
                    status: Some(self.status().await),
                }),
                Err(e) => Response::err(e),
            },
            Command::Restart {
                names,
                update_env,
                wait,
            } => {
                let result = match update_env {
                    Some(env) => {
                        let (path, mode) = {
                            let m = self.manifest.lock().unwrap_or_else(|e| e.into_inner());
                            (m.path.clone(), m.mode)
                        };
                        match Manifest::load_in(&path, mode, &self.paths.home) {
                            Ok(fresh) => self.supervisor.restart(&names, Some((&fresh, env))).await,
                            Err(e) => Err(format!(
                                "the manifest has problems, nothing was restarted:\n{e}"
                            )),
                        }
                    }
                    None => self.supervisor.restart(&names, None).await,
                };
                match result {
                    Ok(restarted) => {
                        if wait {
                            self.supervisor
                                .wait_settled(&restarted, Duration::from_secs(120))
                                .await;
                        }
                        Response::ok(ActionReport {
                            names: restarted,
                            warnings: Vec::new(),
                            status: Some(self.status().await),
                        })
                    }
                    Err(e) => Response::err(e),
                }
            }
            Command::Reload => match self.reload().await {
                Ok(answer) => Response::ok(answer),
                Err(e) => Response::err(e),
            },
            Command::Down => {
                let _ = self.shutdown.send(true);
                Response::ok(serde_json::json!({ "stopping": true }))
            }
            Command::Save => match self.save() {
                Ok(names) => Response::ok(ActionReport {
                    names,
                    warnings: Vec::new(),
                    status: None,
                }),
                Err(e) => Response::err(e),
            },
            Command::Resurrect => match self.resurrect().await {
                Ok(report) => Response::ok(report),
                Err(e) => Response::err(e),
            },
            Command::JobsRun { name } => {
                let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match jobs {
                    Some(jobs) => match jobs.run_now(&name).await {
                        Ok(message) => Response::ok(serde_json::json!({ "message": message })),
                        Err(e) => Response::err(e),
                    },
                    None => Response::err("this manifest has no [[job]]"),
                }
            }
            Command::Activate { process } => {
                let manifest = self.manifest_snapshot();
                let options = manifest.deploy.activate_options();
                let board = switch::DaemonSwitchboard {
                    supervisor: &self.supervisor,
                    manifest: &manifest,
                    logs_dir: &self.paths.logs,
                };
                self.log
                    .line(&format!("deploy: switching `{process}` to the new release"));
                match crate::deploy::activate::activate(&board, &process, options).await {
                    Ok(report) => {
                        self.log.line(&format!(
                            "deploy: `{process}` switched in {} ms (candidate ready in {} ms)",
                            report.total_ms, report.candidate_ready_ms
                        ));
                        Response::ok(report)
                    }
                    Err(e) => {
                        self.log
                            .line(&format!("deploy: switch of `{process}` failed: {e}"));
                        Response::err(e.to_string())
                    }
                }
            }
        }
    }

    async fn reload(&self) -> Result<ReloadAnswer, String> {
        let (path, mode) = {
            let m = self.manifest.lock().unwrap_or_else(|e| e.into_inner());
            (m.path.clone(), m.mode)
        };
        let fresh = Manifest::load_in(&path, mode, &self.paths.home)
            .map_err(|e| format!("the manifest has problems, nothing was changed:\n{e}"))?;
        let fresh = with_managed_db(fresh, &self.paths, &self.supervisor.base_env())?;
        // The proxy first: it is the one part that may still refuse the new configuration
        // (e.g. a static directory that does not exist), and then nothing has changed yet.
        let proxy = self.proxy.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match (proxy, fresh.proxy.is_some()) {
            (Some(proxy), true) => proxy.reload(&fresh).await?,
            (Some(proxy), false) => {
                proxy.shutdown().await;
                *self.proxy.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            (None, true) => {
                let started =
                    integrations::start_proxy(&fresh, &self.supervisor, &self.paths.logs).await?;
                *self.proxy.lock().unwrap_or_else(|e| e.into_inner()) = started;
            }
            (None, false) => {}
        }
        let report = self.supervisor.reload(&fresh).await?;
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match jobs {
            Some(jobs) => jobs.reload(&fresh).await?,
            // The first [[job]] added by a reload gets a scheduler.
            None => {
                let started = integrations::start_jobs(&fresh, &self.supervisor, &self.paths.home)?;
                *self.jobs.lock().unwrap_or_else(|e| e.into_inner()) = started;
            }
        }
        *self.manifest.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.log.line(&format!(
            "reloaded: added {:?}, removed {:?}, changed {:?}, unchanged {:?}",
            report.added, report.removed, report.changed, report.unchanged
        ));
        Ok(ReloadAnswer {
            report,
            status: Some(self.status().await),
        })
    }

    fn save(&self) -> Result<Vec<String>, String> {
        let manifest = self.manifest_snapshot();
        let names: Vec<String> = self
            .supervisor
            .statuses()
            .into_iter()
            .filter(|(_, st)| st.wanted)
            .map(|(spec, _)| spec.name.clone())
            .collect();
        let dump = Dump {
            version: state::DUMP_VERSION,
            manifest: manifest.path.clone(),
            mode: manifest.mode,
            processes: names.clone(),
            env: self.supervisor.base_env(),
            saved_at: chrono::Utc::now().to_rfc3339(),
        };
        dump.write(&self.paths.dump)
            .map_err(|e| format!("cannot write {}: {e}", self.paths.dump.display()))?;
        self.log.line(&format!(
            "saved {} process(es): {}",
            names.len(),
            names.join(", ")
        ));
        Ok(names)
    }

    async fn resurrect(&self) -> Result<ActionReport, String> {
        let dump = Dump::read(&self.paths.dump)?;
        let manifest = self.manifest_snapshot();
        let mut warnings = Vec::new();
        if dump.manifest != manifest.path {
            warnings.push(format!(
                "the list was saved for {}, this daemon runs {}",
                dump.manifest.display(),
                manifest.path.display()
            ));
        }
        let mut names = Vec::new();
        for name in &dump.processes {
            if manifest.process(name).is_some() {
                names.push(name.clone());
            } else {
                warnings.push(format!("`{name}` is no longer in the manifest; skipped"));
            }
        }
        // The saved environment becomes the base again (what the processes ran with).
        if let Err(e) = self.supervisor.set_base_env(dump.env.clone()).await {
            warnings.push(format!("cannot restore the saved environment: {e}"));
        }
        if names.is_empty() {
            warnings.push("the saved list is empty".into());
        } else {
            self.supervisor.start(&names).await?;
            self.supervisor
                .wait_settled(&names, Duration::from_secs(120))
                .await;
        }
        for w in &warnings {
            self.log.line(&format!("resurrect: {w}"));
        }
        Ok(ActionReport {
            names,
            warnings,
            status: Some(self.status().await),
        })
    }

    async fn status(&self) -> StatusReport {
        let statuses = self.supervisor.statuses();
        let manifest = self.manifest_snapshot();
        let pgids: Vec<u32> = statuses.iter().filter_map(|(_, s)| s.pid).collect();
        let samples = tokio::task::spawn_blocking(move || stats::sample_groups(&pgids))
            .await
            .unwrap_or_default();
        let now = Instant::now();
        let ticks = stats::clock_ticks() as f64;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut prev = self.cpu_prev.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows = Vec::new();
        for (spec, st) in &statuses {
            let sample = st
                .pid
                .and_then(|pid| samples.iter().find(|(p, _)| *p == pid).map(|(_, s)| *s));
            let uptime_ms = st.started_at_ms.map(|t| now_ms.saturating_sub(t));
            let cpu_percent = match (st.pid, sample) {
                (Some(pid), Some(sample)) => {
                    let pct = match prev.get(&pid) {
                        Some((at, old)) if now.duration_since(*at).as_secs_f64() > 0.05 => {
                            (sample.cpu_ticks.saturating_sub(*old) as f64 / ticks)
                                / now.duration_since(*at).as_secs_f64()
                                * 100.0
                        }
                        _ => {
                            let up = uptime_ms.unwrap_or(0) as f64 / 1000.0;
                            if up > 0.0 {
                                (sample.cpu_ticks as f64 / ticks) / up * 100.0
                            } else {
                                0.0
                            }
                        }
                    };
                    prev.insert(pid, (now, sample.cpu_ticks));
                    Some((pct * 10.0).round() / 10.0)
                }
                _ => None,
            };
            rows.push(ProcessRow {
                name: spec.name.clone(),
                pid: st.pid,
                state: st.state,
                uptime_ms: st.pid.and(uptime_ms),
                restarts: st.restarts,
                cpu_percent,
                rss_bytes: sample.map(|s| s.rss),
                port: spec.port,
                reason: st.reason.clone(),
                last_exit: st.last_exit.clone(),
                wanted: st.wanted,
            });
        }
        let live: Vec<u32> = statuses.iter().filter_map(|(_, s)| s.pid).collect();
        prev.retain(|pid, _| live.contains(pid));
        drop(prev);
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|j| j.status())
            .unwrap_or_default();
        StatusReport {
            daemon: DaemonInfo {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                protocol: PROTOCOL_VERSION,
                manifest: manifest.path.display().to_string(),
                mode: manifest.mode.to_string(),
                home: self.paths.home.display().to_string(),
                uptime_ms: self.started.elapsed().as_millis() as u64,
                rss_bytes: self_rss(),
            },
            processes: rows,
            jobs,
        }
    }
}

fn self_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * stats::page_size())
        .unwrap_or(0)
}

//! The process supervisor: one task per manifest process (see `process.rs`), started in
//! dependency order, stopped in reverse, reloaded by diff; readiness published to the proxy
//! through [`Upstreams`].
//!
//! Every child is spawned by `spawn.rs` (own process group, parent-death signal, no stray
//! descriptors) and recorded in `registry.rs` so a successor daemon can clean up after a crash.
//!
//! Other modules that run commands inside the daemon (jobs, deploy steps) should spawn through
//! [`Supervisor::spawner`] too, so their children get the same guarantees.

pub mod env;
pub mod probe;
pub mod process;
pub mod registry;
pub mod spawn;
pub mod stats;
pub mod upstreams;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::logs::LogSink;
use crate::manifest::{LogPolicy, Manifest, ProcessSpec};
use crate::proxy::UpstreamTable;
pub use env::Env;
use process::{Actor, Cmd};
pub use process::{Event, ProcState, ProcStatus};
use registry::ChildRegistry;
pub use spawn::Spawner;
pub use upstreams::Upstreams;

/// What the actors share.
pub(crate) struct Shared {
    pub spawner: Spawner,
    pub upstreams: Upstreams,
    pub events: broadcast::Sender<Event>,
    pub logs_dir: PathBuf,
    pub log_policy: LogPolicy,
    pub daemon_log: LogSink,
    pub children: ChildRegistry,
    statuses: Mutex<HashMap<String, watch::Receiver<ProcStatus>>>,
}

impl Shared {
    pub fn status_of(&self, name: &str) -> Option<watch::Receiver<ProcStatus>> {
        self.statuses.lock().ok()?.get(name).cloned()
    }
}

struct Handle {
    spec: Arc<ProcessSpec>,
    env: Arc<Env>,
    tx: mpsc::UnboundedSender<Cmd>,
    status: watch::Receiver<ProcStatus>,
}

/// Where the supervisor keeps its files.
pub struct SupervisorOptions {
    pub logs_dir: PathBuf,
    pub log_policy: LogPolicy,
    /// `children.json`: live children, for cleanup after a daemon crash. `None` in tests.
    pub children_file: Option<PathBuf>,
    /// The daemon's own log.
    pub daemon_log: LogSink,
}

/// What a reload did, by process name.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
}

pub struct Supervisor {
    shared: Arc<Shared>,
    procs: Mutex<BTreeMap<String, Handle>>,
    /// The caller's environment that children start from (replaced by `--update-env`).
    base_env: Mutex<Env>,
}

impl Supervisor {
    /// Must be called inside a tokio runtime.
    pub fn new(options: SupervisorOptions, base_env: Env) -> std::io::Result<Supervisor> {
        std::fs::create_dir_all(&options.logs_dir)?;
        let (events, _) = broadcast::channel(256);
        Ok(Supervisor {
            shared: Arc::new(Shared {
                spawner: Spawner::start()?,
                upstreams: Upstreams::new(),
                events,
                logs_dir: options.logs_dir,
                log_policy: options.log_policy,
                daemon_log: options.daemon_log,
                children: ChildRegistry::new(options.children_file),
                statuses: Mutex::new(HashMap::new()),
            }),
            procs: Mutex::new(BTreeMap::new()),
            base_env: Mutex::new(base_env),
        })
    }

    /// The proxy's view of the processes (and the deployer's overrides).
    pub fn upstreams(&self) -> UpstreamTable {
        self.shared.upstreams.table()
    }

    /// The writing side of the upstream table, for the deployer's overrides.
    pub fn upstream_control(&self) -> Upstreams {
        self.shared.upstreams.clone()
    }

    /// The spawner every child of the daemon should go through.
    pub fn spawner(&self) -> Spawner {
        self.shared.spawner.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    pub fn base_env(&self) -> Env {
        self.base_env.lock().map(|e| e.clone()).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Handle>> {
        // A panic while holding the lock cannot leave the map half-updated (each change is one
        // insert/remove), so a poisoned lock is safe to keep using.
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates (not starts) a task for every process of the manifest not yet known.
    pub fn load(&self, manifest: &Manifest) -> Result<(), String> {
        let base = self.base_env();
        let mut resolved = Vec::new();
        for spec in &manifest.processes {
            if self.lock().contains_key(&spec.name) {
                continue;
            }
            resolved.push((spec.clone(), env::resolve(spec, &base)?));
        }
        for (spec, env) in resolved {
            self.add(Arc::new(spec), Arc::new(env))
                .map_err(|e| format!("cannot open the logs: {e}"))?;
        }
        Ok(())
    }

    fn add(&self, spec: Arc<ProcessSpec>, env: Arc<Env>) -> std::io::Result<()> {
        let (out, err) = process::open_logs(&self.shared, &spec.name)?;
        let (status_tx, status_rx) = watch::channel(ProcStatus::default());
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut statuses) = self.shared.statuses.lock() {
            statuses.insert(spec.name.clone(), status_rx.clone());
        }
        if spec.port.is_some() {
            self.shared
                .upstreams
                .set(&spec.name, crate::proxy::UpstreamState::Down);
        }
        let actor = Actor {
            name: spec.name.clone(),
            spec: spec.clone(),
            env: env.clone(),
            status: status_tx,
            cmds: rx,
            shared: self.shared.clone(),
            out,
            err,
            crash_times: VecDeque::new(),
            consecutive: 0,
        };
        tokio::spawn(actor.run());
        self.lock().insert(
            spec.name.clone(),
            Handle {
                spec,
                env,
                tx,
                status: status_rx,
            },
        );
        Ok(())
    }

    /// All process names, in dependency order (dependencies first).
    pub fn names(&self) -> Vec<String> {
        let procs = self.lock();
        topo_order(procs.values().map(|h| h.spec.as_ref()))
    }

    /// Expands `all` and checks every name; the error lists the known ones.
    pub fn expand(&self, names: &[String]) -> Result<Vec<String>, String> {
        let all = self.names();
        if names.is_empty() || names.iter().any(|n| n == "all") {
            return Ok(all);
        }
        let mut out = Vec::new();
        for name in names {
            if !all.contains(name) {
                return Err(format!(
                    "no process named `{name}` (known: {})",
                    if all.is_empty() {
                        "none".to_string()
                    } else {
                        all.join(", ")
                    }
                ));
            }
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        Ok(out)
    }

    /// The names to start for `names`: those with `autostart` when none are given, plus every
    /// dependency, in dependency order.
    pub fn start_set(&self, names: &[String]) -> Result<Vec<String>, String> {
        let wanted: Vec<String> = if names.is_empty() {
            let procs = self.lock();
            procs
                .values()
                .filter(|h| h.spec.autostart)
                .map(|h| h.spec.name.clone())
                .collect()
        } else {
            self.expand(names)?
        };
        let procs = self.lock();
        let mut closure: BTreeSet<String> = BTreeSet::new();
        let mut queue: Vec<String> = wanted;
        while let Some(name) = queue.pop() {
            if closure.insert(name.clone())
                && let Some(h) = procs.get(&name)
            {
                queue.extend(h.spec.depends_on.iter().map(|d| d.name.clone()));
            }
        }
        Ok(topo_order(
            procs
                .values()
                .filter(|h| closure.contains(&h.spec.name))
                .map(|h| h.spec.as_ref()),
        ))
    }

    async fn send(&self, name: &str, make: impl FnOnce(oneshot::Sender<()>) -> Cmd) {
        let tx = self.lock().get(name).map(|h| h.tx.clone());
        if let Some(tx) = tx {
            let (ack, done) = oneshot::channel();
            if tx.send(make(ack)).is_ok() {
                let _ = done.await;
            }
        }
    }

    /// Starts `names` (or every autostart process) and their dependencies, in dependency
    /// order; each waits for its dependencies' conditions itself. Returns the names started.
    pub async fn start(&self, names: &[String]) -> Result<Vec<String>, String> {
        let set = self.start_set(names)?;
        for name in &set {
            self.send(name, |ack| Cmd::Start { ack }).await;
        }
        Ok(set)
    }

    /// Stops `names` (`all` or empty: everything), each after the processes in the set that
    /// depend on it. Returns when all are stopped.
    pub async fn stop(&self, names: &[String]) -> Result<Vec<String>, String> {
        let set = self.expand(names)?;
        self.stop_set(&set).await;
        Ok(set)
    }

    async fn stop_set(&self, set: &[String]) {
        let (specs, statuses): (
            Vec<Arc<ProcessSpec>>,
            HashMap<String, watch::Receiver<ProcStatus>>,
        ) = {
            let procs = self.lock();
            (
                set.iter()
                    .filter_map(|n| procs.get(n).map(|h| h.spec.clone()))
                    .collect(),
                procs
                    .iter()
                    .map(|(n, h)| (n.clone(), h.status.clone()))
                    .collect(),
            )
        };
        let tasks = specs.iter().map(|spec| {
            // Everything in the set that depends on this one stops first.
            let dependents: Vec<watch::Receiver<ProcStatus>> = specs
                .iter()
                .filter(|other| other.depends_on.iter().any(|d| d.name == spec.name))
                .filter_map(|other| statuses.get(&other.name).cloned())
                .collect();
            let name = spec.name.clone();
            async move {
                for mut rx in dependents {
                    let _ = rx
                        .wait_for(|s| matches!(s.state, ProcState::Stopped | ProcState::Errored))
                        .await;
                }
                self.send(&name, |done| Cmd::Stop { done }).await;
            }
        });
        futures_util::future::join_all(tasks).await;
    }

    /// Restarts `names`. With `update` (`--update-env`): a freshly loaded manifest and the
    /// caller's environment; every variable is recomputed, so removed ones disappear.
    pub async fn restart(
        &self,
        names: &[String],
        update: Option<(&Manifest, Env)>,
    ) -> Result<Vec<String>, String> {
        let set = self.expand(names)?;
        let mut new_envs: HashMap<String, Arc<Env>> = HashMap::new();
        if let Some((manifest, base)) = &update {
            for name in &set {
                let fresh = manifest.process(name).cloned().ok_or_else(|| {
                    format!(
                        "process `{name}` is no longer in the manifest; use `runway reload` to apply removals"
                    )
                })?;
                // Only the environment is taken from the file; other changes wait for reload.
                let mut spec = self
                    .lock()
                    .get(name)
                    .map(|h| (*h.spec).clone())
                    .ok_or_else(|| format!("no process named `{name}`"))?;
                spec.env = fresh.env;
                spec.env_files = fresh.env_files;
                new_envs.insert(name.clone(), Arc::new(env::resolve(&spec, base)?));
            }
        }
        if let Some((_, base)) = update
            && let Ok(mut b) = self.base_env.lock()
        {
            *b = base;
        }
        for name in &set {
            let env = new_envs.remove(name);
            if let Some(env) = &env
                && let Some(h) = self.lock().get_mut(name)
            {
                h.env = env.clone();
            }
            self.send(name, |ack| Cmd::Restart {
                spec: None,
                env,
                ack,
            })
            .await;
        }
        Ok(set)
    }

    /// Applies a new manifest: starts added processes (with autostart), stops removed ones,
    /// restarts changed ones and leaves unchanged ones running (same pid).
    pub async fn reload(&self, manifest: &Manifest) -> Result<ReloadReport, String> {
        let base = self.base_env();
        let mut report = ReloadReport::default();
        // Resolve every environment first: a broken env_file fails the reload before any change.
        let mut resolved = Vec::new();
        for spec in &manifest.processes {
            resolved.push((spec.clone(), env::resolve(spec, &base)?));
        }
        let current: Vec<String> = self.lock().keys().cloned().collect();
        let removed: Vec<String> = current
            .iter()
            .filter(|n| manifest.process(n).is_none())
            .cloned()
            .collect();
        self.stop_set(&removed).await;
        for name in &removed {
            let handle = self.lock().remove(name);
            if let Some(h) = handle {
                let (done, wait) = oneshot::channel();
                if h.tx.send(Cmd::Shutdown { done }).is_ok() {
                    let _ = wait.await;
                }
            }
            if let Ok(mut statuses) = self.shared.statuses.lock() {
                statuses.remove(name);
            }
            self.shared.upstreams.remove(name);
        }
        report.removed = removed;

        let mut to_start = Vec::new();
        for (spec, env) in resolved {
            let name = spec.name.clone();
            let existing = self
                .lock()
                .get(&name)
                .map(|h| (h.spec.clone(), h.env.clone()));
            match existing {
                None => {
                    let autostart = spec.autostart;
                    self.add(Arc::new(spec), Arc::new(env))
                        .map_err(|e| format!("cannot open the logs of `{name}`: {e}"))?;
                    if autostart {
                        to_start.push(name.clone());
                    }
                    report.added.push(name);
                }
                Some((old_spec, old_env)) => {
                    if *old_spec == spec && *old_env == env {
                        report.unchanged.push(name);
                        continue;
                    }
                    let spec = Arc::new(spec);
                    let env = Arc::new(env);
                    if let Some(h) = self.lock().get_mut(&name) {
                        h.spec = spec.clone();
                        h.env = env.clone();
                    }
                    self.send(&name, |ack| Cmd::Update { spec, env, ack }).await;
                    report.changed.push(name);
                }
            }
        }
        if !to_start.is_empty() {
            self.start(&to_start).await?;
        }
        Ok(report)
    }

    /// Replaces the base environment (resurrect restores the saved one) and recomputes every
    /// process's environment for its next start; running children are not touched.
    pub async fn set_base_env(&self, base: Env) -> Result<(), String> {
        let specs: Vec<Arc<ProcessSpec>> = self.lock().values().map(|h| h.spec.clone()).collect();
        let mut envs = Vec::new();
        for spec in &specs {
            envs.push((spec.name.clone(), Arc::new(env::resolve(spec, &base)?)));
        }
        if let Ok(mut b) = self.base_env.lock() {
            *b = base;
        }
        for (name, env) in envs {
            if let Some(h) = self.lock().get_mut(&name) {
                h.env = env.clone();
            }
            self.send(&name, |ack| Cmd::SetEnv { env, ack }).await;
        }
        Ok(())
    }

    /// Stops everything in reverse dependency order and ends the process tasks.
    pub async fn shutdown(&self) {
        let all = self.names();
        self.stop_set(&all).await;
        let txs: Vec<_> = self.lock().values().map(|h| h.tx.clone()).collect();
        for tx in txs {
            let (done, wait) = oneshot::channel();
            if tx.send(Cmd::Shutdown { done }).is_ok() {
                let _ = wait.await;
            }
        }
    }

    /// Every process's spec and status, in dependency order.
    pub fn statuses(&self) -> Vec<(Arc<ProcessSpec>, ProcStatus)> {
        let names = self.names();
        let procs = self.lock();
        names
            .iter()
            .filter_map(|n| procs.get(n))
            .map(|h| (h.spec.clone(), h.status.borrow().clone()))
            .collect()
    }

    /// A live view of one process's status (the deployer waits on it).
    pub fn watch_status(&self, name: &str) -> Option<watch::Receiver<ProcStatus>> {
        self.lock().get(name).map(|h| h.status.clone())
    }

    /// Waits until each of `names` is ready, stopped, errored or backing off (or `timeout`).
    pub async fn wait_settled(&self, names: &[String], timeout: Duration) {
        let receivers: Vec<watch::Receiver<ProcStatus>> = {
            let procs = self.lock();
            names
                .iter()
                .filter_map(|n| procs.get(n).map(|h| h.status.clone()))
                .collect()
        };
        let all = futures_util::future::join_all(receivers.into_iter().map(|mut rx| async move {
            let _ = rx
                .wait_for(|s| {
                    matches!(
                        s.state,
                        ProcState::Ready
                            | ProcState::Unhealthy
                            | ProcState::Stopped
                            | ProcState::Errored
                            | ProcState::Backoff
                    )
                })
                .await;
        }));
        let _ = tokio::time::timeout(timeout, all).await;
    }
}

/// Kahn's algorithm over the given specs (dependencies outside the set are ignored); ties in
/// name order so the result is stable.
pub fn topo_order<'a>(specs: impl Iterator<Item = &'a ProcessSpec>) -> Vec<String> {
    let specs: Vec<&ProcessSpec> = specs.collect();
    let names: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let mut indegree: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &specs {
        let deps = s
            .depends_on
            .iter()
            .filter(|d| names.contains(d.name.as_str()) && d.name != s.name)
            .count();
        indegree.insert(s.name.as_str(), deps);
    }
    let mut out: Vec<String> = Vec::new();
    let mut ready: BTreeSet<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(n, _)| *n)
        .collect();
    while let Some(name) = ready.pop_first() {
        out.push(name.to_string());
        for s in &specs {
            if s.depends_on.iter().any(|d| d.name == name)
                && let Some(d) = indegree.get_mut(s.name.as_str())
            {
                *d = d.saturating_sub(1);
                if *d == 0 {
                    ready.insert(s.name.as_str());
                }
            }
        }
    }
    // A cycle cannot pass manifest validation; should one appear anyway, keep every name.
    for s in &specs {
        if !out.iter().any(|n| n == &s.name) {
            out.push(s.name.clone());
        }
    }
    out
}

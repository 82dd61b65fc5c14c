//! `runway doctor`: the seed's troubleshooting table (1.8) detected instead of read. Each
//! finding says what is wrong, in terms of this machine (names, ports, pids), and the fix.
//! Every check takes its inputs explicitly, so each can be tested by planting its fault.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::mode::{Mode, env_problems};
use super::ports::{self, Listener};
use super::topology::{LiveProcess, RouteTarget, Topology};
use crate::db::pg::PgParams;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier (`port-held`, `db-auth-failed`...), for scripts and tests.
    pub id: String,
    pub problem: String,
    pub fix: String,
}

impl Finding {
    fn new(id: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id: id.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Free space below either limit is "nearly full".
#[derive(Debug, Clone, Copy)]
pub struct DiskLimits {
    pub min_free_ratio: f64,
    pub min_free_bytes: u64,
}

impl Default for DiskLimits {
    fn default() -> Self {
        Self {
            min_free_ratio: 0.05,
            min_free_bytes: 1 << 30,
        }
    }
}

/// Everything doctor looks at.
#[derive(Debug, Clone)]
pub struct DoctorInput {
    pub mode: Mode,
    /// The backend's effective environment (manifest env, `.env`, caller's environment).
    pub backend_env: BTreeMap<String, String>,
    pub topology: Topology,
    /// The daemon's view, when one runs.
    pub live: Option<Vec<LiveProcess>>,
    /// The daemon's own pid: the proxy listens inside it.
    pub daemon_pid: Option<i32>,
    /// The frontend directory when a process runs its dev server from it.
    pub frontend_dir: Option<PathBuf>,
    /// A path on the disk that holds the state directory and logs.
    pub disk_path: PathBuf,
    pub disk_limits: DiskLimits,
}

/// Runs every check; an empty list means all is well.
pub async fn diagnose(input: &DoctorInput) -> Vec<Finding> {
    let mut findings: Vec<Finding> = env_problems(input.mode, &input.backend_env)
        .into_iter()
        .map(|p| Finding::new(p.id, p.problem, p.fix))
        .collect();
    if let Some(f) = check_database(&input.backend_env).await {
        findings.push(f);
    }
    if let Some(dir) = &input.frontend_dir {
        findings.extend(check_frontend_deps(dir));
    }
    let listeners = tokio::task::spawn_blocking(ports::listeners)
        .await
        .unwrap_or_default();
    findings.extend(check_ports(input, &listeners));
    findings.extend(check_routes(&input.topology, &listeners));
    let (path, limits) = (input.disk_path.clone(), input.disk_limits);
    if let Ok(Some(f)) = tokio::task::spawn_blocking(move || check_disk(&path, limits)).await {
        findings.push(f);
    }
    findings
}

/// PostgreSQL configured but not usable: refused, authentication failed, database missing.
pub async fn check_database(env: &BTreeMap<String, String>) -> Option<Finding> {
    let params = match PgParams::from_env(env) {
        Ok(Some(p)) => p,
        Ok(None) => return None,
        Err(e) => return Some(Finding::new("db-config-invalid", e, "fix the DB_* values")),
    };
    let problem = params.connect(Duration::from_secs(5)).await.err()?;
    let (what, fix) = problem.explain(&params);
    let id = match problem {
        crate::db::pg::PgProblem::Refused => "db-refused",
        crate::db::pg::PgProblem::AuthFailed => "db-auth-failed",
        crate::db::pg::PgProblem::DatabaseMissing => "db-missing",
        crate::db::pg::PgProblem::Timeout => "db-timeout",
        crate::db::pg::PgProblem::Other(_) => "db-unreachable",
    };
    Some(Finding::new(id, what, fix))
}

/// The seed's `vite: not found`: `npm ci` was not run.
pub fn check_frontend_deps(frontend_dir: &Path) -> Option<Finding> {
    let modules = frontend_dir.join("node_modules");
    if !frontend_dir.join("package.json").is_file() {
        return None;
    }
    let missing = if !modules.is_dir() {
        Some("node_modules is missing")
    } else if !modules.join(".bin").join("vite").exists() {
        Some("node_modules has no vite")
    } else {
        None
    }?;
    Some(Finding::new(
        "frontend-deps-missing",
        format!(
            "frontend dependencies are not installed ({missing} in {}): the dev server fails with `vite: not found`",
            frontend_dir.display()
        ),
        format!(
            "run `npm ci` in {} (`runway up` runs it as its install step)",
            frontend_dir.display()
        ),
    ))
}

/// Ports the app needs, held by programs that are not ours; ours not listening where declared.
pub fn check_ports(input: &DoctorInput, listeners: &[Listener]) -> Vec<Finding> {
    let topo = &input.topology;
    let mut findings = Vec::new();
    let ours: BTreeSet<i32> = input
        .live
        .iter()
        .flatten()
        .filter_map(|l| l.pid)
        .chain(input.daemon_pid)
        .collect();
    let is_ours = |l: &Listener| {
        l.pid.is_some_and(|p| ours.contains(&p)) || l.pgid.is_some_and(|g| ours.contains(&g))
    };

    let mut wanted: Vec<(String, u16)> = topo
        .processes
        .iter()
        .filter(|p| p.enabled)
        .filter_map(|p| Some((p.name.clone(), p.port?)))
        .collect();
    if let Some(proxy) = topo.proxy {
        wanted.push(("the proxy".to_string(), proxy.port()));
    }
    for (who, port) in &wanted {
        for l in listeners.iter().filter(|l| l.port == *port && !is_ours(l)) {
            findings.push(Finding::new(
                "port-held",
                format!(
                    "port {port} (needed by {who}) is held by another program: {}",
                    l.owner()
                ),
                match l.pid {
                    Some(pid) => {
                        format!("stop it (`kill {pid}`) or give {who} another port in runway.toml")
                    }
                    None => format!(
                        "find it with `ss -ltnp 'sport = :{port}'` and stop it, or change the port"
                    ),
                },
            ));
        }
    }

    for live in input.live.iter().flatten() {
        let Some(pid) = live.pid else { continue };
        if matches!(live.state.as_str(), "stopping" | "stopped" | "errored") {
            continue;
        }
        let Some(port) = topo.process(&live.name).and_then(|p| p.port) else {
            continue;
        };
        let listening = listeners
            .iter()
            .any(|l| l.port == port && (l.pid == Some(pid) || l.pgid == Some(pid)));
        if !listening {
            let elsewhere: Vec<u16> = listeners
                .iter()
                .filter(|l| l.pid == Some(pid) || l.pgid == Some(pid))
                .map(|l| l.port)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let hint = if elsewhere.is_empty() {
                String::new()
            } else {
                format!(
                    " (it listens on {})",
                    elsewhere
                        .iter()
                        .map(|p| format!(":{p}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            findings.push(Finding::new(
                "process-not-listening",
                format!(
                    "{} (pid {pid}, {}) runs but does not listen on its port {port}{hint}",
                    live.name, live.state
                ),
                format!(
                    "check `runway logs {}`; the program must listen on $PORT ({port})",
                    live.name
                ),
            ));
        }
    }
    findings
}

/// The seed's 502 row: a route sends requests to a port nobody serves, or a static route to a
/// directory that is not there.
pub fn check_routes(topo: &Topology, listeners: &[Listener]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for route in &topo.routes {
        if let RouteTarget::Process(name) = &route.target
            && topo.process(name).is_some_and(|p| !p.enabled)
        {
            continue;
        }
        match (&route.target, topo.route_port(route)) {
            (RouteTarget::Static(dir), _) => {
                if !dir.join("index.html").is_file() {
                    findings.push(Finding::new(
                        "static-missing",
                        format!(
                            "route {} serves {}, which has no index.html (the build did not run)",
                            route.path,
                            dir.display()
                        ),
                        "run the build (`runway up --mode production` runs `npm run build`)",
                    ));
                }
            }
            (target, Some(port)) => {
                if !listeners.iter().any(|l| l.port == port) {
                    let to = match target {
                        RouteTarget::Process(p) => format!("{p} on :{port}"),
                        RouteTarget::Upstream(u) => u.clone(),
                        RouteTarget::Static(_) => unreachable!("handled above"),
                    };
                    findings.push(Finding::new(
                        "route-502",
                        format!(
                            "route {} goes to {to}, but nothing listens on port {port}: requests get 502",
                            route.path
                        ),
                        "start the process (`runway start NAME`, `runway status` shows why it is down) or fix the route's port",
                    ));
                }
            }
            (_, None) => {}
        }
    }
    findings
}

/// Less than the limits free on the disk holding `path`.
pub fn check_disk(path: &Path, limits: DiskLimits) -> Option<Finding> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let frag = st.fragment_size() as u64;
    let total = st.blocks() as u64 * frag;
    let free = st.blocks_available() as u64 * frag;
    if total == 0 {
        return None;
    }
    let ratio = free as f64 / total as f64;
    if ratio < limits.min_free_ratio || free < limits.min_free_bytes {
        Some(Finding::new(
            "disk-nearly-full",
            format!(
                "the disk holding {} is nearly full: {} free of {} ({:.1}%)",
                path.display(),
                human_bytes(free),
                human_bytes(total),
                ratio * 100.0
            ),
            "free space (old logs under .runway/logs, old releases: `runway releases`, `journalctl --vacuum-size`), or grow the disk",
        ))
    } else {
        None
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// The report a person reads: one block per finding, or a line saying all is well.
pub fn render(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "no problems found\n".to_string();
    }
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!("✗ {}\n    fix: {}\n", f.problem, f.fix));
    }
    out.push_str(&format!("{} problem(s) found\n", findings.len()));
    out
}

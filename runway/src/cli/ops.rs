//! The ops verbs on the CLI side: what `up` does before the daemon starts (mode checks, the
//! pipeline, publishing the build as a release, the banner), `verify`, `doctor`, `deploy`,
//! `rollback`, `releases` and `db`. Each builds its inputs from the manifest and the daemon's
//! status, then calls the library module that owns the logic (`checks`, `pipeline`, `deploy`,
//! `db`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::Context;
use crate::checks::doctor::{self, DiskLimits, DoctorInput};
use crate::checks::mode::{Mode as CheckMode, env_problems};
use crate::checks::topology::{LiveProcess, ProcessView, RouteTarget, RouteView, Topology};
use crate::checks::verify;
use crate::daemon::client::Client;
use crate::daemon::protocol::{Command, StatusReport};
use crate::deploy::releases::{ReleaseResult, ReleaseStore, StepTiming};
use crate::deploy::{self, ActivateReport, Activator, BoxFuture, DeployRequest};
use crate::manifest::{Manifest, Mode, ProbeKind};
use crate::pipeline::{self, PipelineContext, StepStatus, auto_progress};
use crate::supervisor::env::{self, Env};

/// A small runtime for one CLI verb (the daemon has its own).
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

pub fn check_mode(mode: Mode) -> CheckMode {
    mode.as_str().parse().unwrap_or_default()
}

/// The environment every child (processes, jobs, steps) starts from: the caller's, plus the
/// mode as `NODE_ENV` and the state directory as `RUNWAY_HOME` (the manifest's commands run
/// the live release from `$RUNWAY_HOME/current`).
pub fn base_env(ctx: &Context, mode: Mode) -> Env {
    let mut base = env::current();
    base.insert("NODE_ENV".into(), mode.as_str().into());
    base.insert("RUNWAY_HOME".into(), ctx.paths.home.display().to_string());
    base
}

/// What the deployed process (the backend) will see: `backend/.env` (which the backend reads
/// itself, and which never overrides the real environment), the base environment, then the
/// manifest's env and env files.
pub fn backend_env(manifest: &Manifest, base: &Env) -> Env {
    let mut out = Env::new();
    let dotenv = manifest.dir.join("backend").join(".env");
    if let Ok(iter) = dotenvy::from_path_iter(&dotenv) {
        for (k, v) in iter.flatten() {
            out.insert(k, v);
        }
    }
    out.extend(base.clone());
    if let Some(spec) = manifest.process(&manifest.deploy.process)
        && let Ok(resolved) = env::resolve(spec, &out)
    {
        return resolved;
    }
    out
}

/// The seed's 1.2 rules for the mode; `Err` lists every missing setting (never a value).
pub fn mode_gate(manifest: &Manifest, base: &Env) -> Result<(), String> {
    let problems = env_problems(check_mode(manifest.mode), &backend_env(manifest, base));
    if problems.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "{} mode is not configured; nothing was started:",
        manifest.mode
    );
    for p in &problems {
        message.push_str(&format!("\n  ✗ {}\n    fix: {}", p.problem, p.fix));
    }
    Err(message)
}

/// The manifest's steps without the ones `--skip` names (an unknown name is an error).
pub fn steps_without(
    manifest: &Manifest,
    skip: &[String],
) -> Result<Vec<pipeline::StepConfig>, String> {
    for name in skip {
        if !manifest.steps.iter().any(|s| &s.name == name) {
            return Err(format!(
                "--skip {name}: no such [[step]] (known: {})",
                manifest
                    .steps
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(manifest
        .steps
        .iter()
        .filter(|s| !skip.contains(&s.name))
        .cloned()
        .collect())
}

/// `runway up`'s preparation: the steps that are out of date, then the build published as
/// the live release (when it changed).
pub fn prepare(
    ctx: &Context,
    manifest: &Manifest,
    base: &Env,
    skip: &[String],
) -> Result<(), String> {
    let steps = steps_without(manifest, skip)?;
    let rt = runtime()?;
    rt.block_on(async {
        let pctx = PipelineContext {
            base_dir: manifest.dir.clone(),
            state_dir: ctx.paths.home.clone(),
            mode: check_mode(manifest.mode),
            env: pipeline_env(base),
            force: false,
        };
        let progress = auto_progress();
        let reports = pipeline::run(&steps, &pctx, None, &*progress)
            .await
            .map_err(|e| format!("{e}\nnothing was started"))?;
        let timings: Vec<StepTiming> = reports
            .into_iter()
            .map(|r| StepTiming {
                name: r.name,
                status: match r.status {
                    StepStatus::Ran => "ran".into(),
                    StepStatus::Skipped => "skipped".into(),
                },
                duration_ms: r.duration_ms,
            })
            .collect();
        if !manifest.deploy.artifacts.is_empty()
            && let Some(id) = deploy::publish_if_changed(
                &manifest.dir,
                &ctx.paths.home,
                &manifest.deploy,
                timings,
            )
            .await
            .map_err(|e| e.to_string())?
        {
            eprintln!("✓ {:<16} release {id} is live", "publish");
        }
        Ok(())
    })
}

/// Steps get the mode and state directory, not the whole caller environment twice (they
/// inherit it already).
fn pipeline_env(base: &Env) -> BTreeMap<String, String> {
    ["NODE_ENV", "RUNWAY_HOME"]
        .iter()
        .filter_map(|k| base.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

/// The processes `up` starts when none are named: the autostart ones plus those whose
/// `start_if_env` variable is set (the tunnel with CF_TUNNEL_TOKEN). Empty means "the daemon's
/// autostart set", which is the same list when no `start_if_env` applies.
pub fn initial_names(manifest: &Manifest, base: &Env, asked: Vec<String>) -> Vec<String> {
    if !asked.is_empty() {
        return asked;
    }
    let lookup = |var: &str| base.get(var).cloned();
    let extra = manifest
        .processes
        .iter()
        .any(|p| !p.autostart && p.starts_by_default(lookup));
    if !extra {
        return Vec::new();
    }
    manifest
        .processes
        .iter()
        .filter(|p| p.starts_by_default(lookup))
        .map(|p| p.name.clone())
        .collect()
}

/// The proxy's first listen address as a URL a browser can open.
pub fn proxy_addr(manifest: &Manifest) -> Option<SocketAddr> {
    let listen = manifest.proxy.as_ref()?.listen.first()?;
    let mut addr: SocketAddr = listen.parse().ok()?;
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    Some(addr)
}

/// What `up` prints once everything is ready.
pub fn banner(manifest: &Manifest, detached: bool) -> String {
    let mut out = String::new();
    if let Some(addr) = proxy_addr(manifest) {
        out.push_str(&format!("\n  ➜  open http://{addr}/\n"));
    }
    if let Some(note) = &manifest.up_note {
        out.push_str(&format!("  ➜  {note}\n"));
    }
    out.push_str("  ➜  status: runway status · logs: runway logs -f · checks: runway verify\n");
    if detached {
        out.push_str("  ➜  stop everything: runway down\n");
    } else {
        out.push_str("  ➜  stop everything: Ctrl-C (or `runway down` from another shell)\n");
    }
    out
}

/// The app as verify and doctor see it, with the daemon's live view when one runs.
pub fn topology(manifest: &Manifest, status: Option<&StatusReport>) -> Topology {
    let routes = manifest
        .routes
        .iter()
        .filter_map(|r| {
            let target = if let Some(p) = &r.process {
                RouteTarget::Process(p.clone())
            } else if let Some(u) = &r.upstream {
                RouteTarget::Upstream(u.clone())
            } else {
                RouteTarget::Static(manifest.dir.join(r.static_dir.as_ref()?))
            };
            Some(RouteView {
                path: r.path.clone(),
                target,
            })
        })
        .collect();
    let processes = manifest
        .processes
        .iter()
        .map(|p| ProcessView {
            name: p.name.clone(),
            port: p.port,
            ready_path: match p.readiness.as_ref().map(|r| &r.kind) {
                Some(ProbeKind::Http { path, .. }) => Some(path.clone()),
                _ => None,
            },
            enabled: match status {
                Some(s) => s
                    .processes
                    .iter()
                    .any(|row| row.name == p.name && row.wanted),
                None => p.autostart,
            },
        })
        .collect();
    Topology {
        proxy: proxy_addr(manifest),
        routes,
        processes,
    }
}

fn live(status: &StatusReport) -> Vec<LiveProcess> {
    status
        .processes
        .iter()
        .filter(|p| p.wanted)
        .map(|p| LiveProcess {
            name: p.name.clone(),
            state: serde_json::to_value(p.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            pid: p.pid.map(|p| p as i32),
        })
        .collect()
}

fn daemon_status(ctx: &Context) -> Result<Option<StatusReport>, String> {
    match ctx.try_client()? {
        Some(mut c) => {
            let value = c.call(Command::Status)?;
            Ok(Some(serde_json::from_value(value).map_err(|e| {
                format!("unexpected answer from the daemon: {e}")
            })?))
        }
        None => Ok(None),
    }
}

pub fn verify(ctx: &Context, json: bool) -> Result<ExitCode, String> {
    let status = daemon_status(ctx)?;
    let manifest = match &status {
        // The daemon's mode is what is running.
        Some(s) => Manifest::load_in(
            ctx.manifest_path()?,
            Mode::parse(&s.daemon.mode).unwrap_or(ctx.mode),
            &ctx.paths.home,
        )
        .map_err(|e| e.to_string())?,
        None => ctx.load_manifest()?,
    };
    let topo = topology(&manifest, status.as_ref());
    let live_rows = status.as_ref().map(live);
    let report = runtime()?.block_on(verify::run(
        &verify::plan(&topo),
        live_rows.as_deref(),
        &topo,
        Duration::from_secs(5),
    ));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        if status.is_none() {
            eprintln!(
                "runway: no daemon runs for {}; process states are not checked",
                ctx.paths.home.display()
            );
        }
        print!("{}", report.render());
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn doctor(ctx: &Context, json: bool) -> Result<ExitCode, String> {
    let status = daemon_status(ctx)?;
    let mode = status
        .as_ref()
        .and_then(|s| Mode::parse(&s.daemon.mode).ok())
        .unwrap_or(ctx.mode);
    let manifest = Manifest::load_in(ctx.manifest_path()?, mode, &ctx.paths.home)
        .map_err(|e| e.to_string())?;
    let base = base_env(ctx, mode);
    // The frontend's dependencies matter when a process runs from a directory with a
    // package.json (the dev server).
    let frontend_dir = manifest
        .processes
        .iter()
        .filter(|p| {
            status
                .as_ref()
                .map(|s| s.processes.iter().any(|r| r.name == p.name && r.wanted))
                .unwrap_or(p.autostart)
        })
        .map(|p| p.cwd.clone())
        .find(|d| d.join("package.json").is_file());
    let input = DoctorInput {
        mode: check_mode(mode),
        backend_env: backend_env(&manifest, &base),
        topology: topology(&manifest, status.as_ref()),
        live: status.as_ref().map(live),
        daemon_pid: status.as_ref().map(|s| s.daemon.pid as i32),
        frontend_dir,
        disk_path: if ctx.paths.home.exists() {
            ctx.paths.home.clone()
        } else {
            manifest.dir.clone()
        },
        disk_limits: DiskLimits::default(),
    };
    let findings = runtime()?.block_on(doctor::diagnose(&input));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&findings).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", doctor::render(&findings));
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Asks the daemon to switch the process (over its socket, off the async runtime).
struct SocketActivator {
    socket: PathBuf,
}

impl Activator for SocketActivator {
    fn activate<'a>(&'a self, process: &'a str) -> BoxFuture<'a, Result<ActivateReport, String>> {
        let socket = self.socket.clone();
        let process = process.to_string();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut client = Client::connect(&socket).map_err(|_| {
                    "the runway daemon stopped during the deploy; start it with `runway up`"
                        .to_string()
                })?;
                let value = client.call(Command::Activate { process })?;
                serde_json::from_value(value)
                    .map_err(|e| format!("unexpected answer from the daemon: {e}"))
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}

fn daemon_mode(ctx: &Context) -> Result<Mode, String> {
    let mut client = ctx.client().map_err(|e| {
        format!(
            "{e}\n(deploy and rollback switch a running app; start it with `runway up --detach`)"
        )
    })?;
    let value = client.call(Command::Status)?;
    let status: StatusReport = serde_json::from_value(value)
        .map_err(|e| format!("unexpected answer from the daemon: {e}"))?;
    Ok(Mode::parse(&status.daemon.mode).unwrap_or(ctx.mode))
}

fn print_release_steps(steps: &[StepTiming]) {
    for s in steps {
        println!("  {:<16} {:<8} {:>7} ms", s.name, s.status, s.duration_ms);
    }
}

pub fn deploy(ctx: &Context, git_ref: Option<String>, skip: &[String]) -> Result<ExitCode, String> {
    let mode = daemon_mode(ctx)?;
    let manifest = Manifest::load_in(ctx.manifest_path()?, mode, &ctx.paths.home)
        .map_err(|e| e.to_string())?;
    let base = base_env(ctx, mode);
    mode_gate(&manifest, &base)?;
    let req = DeployRequest {
        base_dir: manifest.dir.clone(),
        state_dir: ctx.paths.home.clone(),
        mode: check_mode(mode),
        env: pipeline_env(&base),
        git_ref,
        steps: steps_without(&manifest, skip)?,
        config: manifest.deploy.clone(),
    };
    let activator = SocketActivator {
        socket: ctx.paths.socket.clone(),
    };
    let progress = auto_progress();
    let record = runtime()?
        .block_on(deploy::deploy(&req, &activator, &*progress))
        .map_err(|e| e.to_string())?;
    println!(
        "deployed release {} ({}) in {:.1} s:",
        record.id,
        record
            .git_sha
            .as_deref()
            .map(|s| &s[..s.len().min(12)])
            .unwrap_or("-"),
        record.total_ms() as f64 / 1000.0
    );
    print_release_steps(&record.steps);
    Ok(ExitCode::SUCCESS)
}

pub fn rollback(ctx: &Context, id: Option<String>) -> Result<ExitCode, String> {
    let mode = daemon_mode(ctx)?;
    let manifest = Manifest::load_in(ctx.manifest_path()?, mode, &ctx.paths.home)
        .map_err(|e| e.to_string())?;
    let activator = SocketActivator {
        socket: ctx.paths.socket.clone(),
    };
    let progress = auto_progress();
    let record = runtime()?
        .block_on(deploy::rollback(
            &ctx.paths.home,
            &manifest.deploy,
            id.as_deref(),
            &activator,
            &*progress,
        ))
        .map_err(|e| e.to_string())?;
    println!(
        "rolled back to release {} ({})",
        record.id,
        record.git_sha.as_deref().unwrap_or("-")
    );
    eprintln!("runway: {}", deploy::MIGRATIONS_WARNING);
    Ok(ExitCode::SUCCESS)
}

pub fn releases(ctx: &Context, json: bool) -> Result<ExitCode, String> {
    let manifest = ctx.load_manifest()?;
    let store = ReleaseStore::new(&ctx.paths.home, manifest.deploy.keep);
    let list = store.list();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        println!("no releases yet (`runway up` publishes the first one)");
        return Ok(ExitCode::SUCCESS);
    }
    let current = store.current();
    println!(
        "  {:<22} {:<12} {:<20} {:<24} {:>9}",
        "ID", "GIT", "CREATED", "RESULT", "STEPS MS"
    );
    for r in &list {
        let result = match &r.result {
            ReleaseResult::InProgress => "in progress".to_string(),
            ReleaseResult::Live => "live".to_string(),
            ReleaseResult::Superseded => "kept".to_string(),
            ReleaseResult::Failed { step, .. } => format!("failed at {step}"),
        };
        println!(
            "{} {:<22} {:<12} {:<20} {:<24} {:>9}",
            if current.as_deref() == Some(r.id.as_str()) {
                "*"
            } else {
                " "
            },
            r.id,
            r.git_sha
                .as_deref()
                .map(|s| &s[..s.len().min(12)])
                .unwrap_or("-"),
            r.created.format("%Y-%m-%d %H:%M:%S"),
            result,
            r.total_ms()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `runway db migrate|seed|reset|cleanup-tokens`: the backend's command with the backend's
/// environment for the mode (and the provisioned PostgreSQL with `--db postgres`).
pub fn db_backend(ctx: &Context, command: &str, db: &str) -> Result<ExitCode, String> {
    let manifest = ctx.load_manifest()?;
    let base = base_env(ctx, manifest.mode);
    let env = crate::db::commands::backend_env(
        &backend_env(&manifest, &base),
        check_mode(manifest.mode),
        db.parse()?,
        &ctx.paths.home,
    )?;
    let code = runtime()?.block_on(crate::db::commands::run_backend(
        &manifest.dir,
        &ctx.paths.home,
        &[command.to_string()],
        &env,
    ))?;
    Ok(if code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(code.clamp(1, 255) as u8)
    })
}

/// `runway db provision [--managed] [--name N]`.
pub fn db_provision(
    ctx: &Context,
    managed: bool,
    name: Option<String>,
) -> Result<ExitCode, String> {
    use crate::db::managed::ManagedCluster;
    use crate::db::pg::PgParams;
    use crate::db::provision::{self, PasswordSource, ProvisionRequest};
    let manifest = ctx.load_manifest()?;
    let base = base_env(ctx, manifest.mode);
    let rt = runtime()?;
    // A managed cluster that is not running is started for the provisioning and stopped
    // after (the daemon supervises it under `up --db postgres`).
    let mut temporary_server: Option<std::process::Child> = None;
    let admin = if managed {
        let cluster = match ManagedCluster::load(&ctx.paths.home) {
            Some(c) => c,
            None => {
                let port = crate::deploy::candidate::spare_port()
                    .map_err(|e| format!("no free port for the cluster: {e}"))?;
                eprintln!(
                    "runway: initialising a private PostgreSQL cluster under {}",
                    ManagedCluster::root_for(&ctx.paths.home).display()
                );
                rt.block_on(ManagedCluster::init(&ctx.paths.home, port))
                    .map_err(|e| e.to_string())?
            }
        };
        let admin = cluster.admin_params().map_err(|e| e.to_string())?;
        if rt.block_on(admin.connect(Duration::from_secs(2))).is_err() {
            let argv = cluster.server_command();
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(cluster.log_path())
                .map_err(|e| format!("cannot open {}: {e}", cluster.log_path().display()))?;
            let err = log.try_clone().map_err(|e| e.to_string())?;
            temporary_server = Some(
                std::process::Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(std::process::Stdio::null())
                    .stdout(log)
                    .stderr(err)
                    .spawn()
                    .map_err(|e| format!("cannot start the managed PostgreSQL: {e}"))?,
            );
            rt.block_on(cluster.wait_ready(Duration::from_secs(60)))
                .map_err(|e| e.to_string())?;
        }
        admin
    } else {
        let url = base
            .get("RUNWAY_PG_ADMIN_URL")
            .cloned()
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut admin = PgParams::from_url(&url)?;
        if admin.password.is_none() {
            admin.password = base.get("PGPASSWORD").cloned();
        }
        admin
    };
    let name = name.unwrap_or_else(|| {
        provision::default_name(base.get("PROJECT_ID").map(String::as_str), &manifest.dir)
    });
    let req = ProvisionRequest {
        admin,
        name,
        password: base.get("DB_PASS").filter(|p| !p.is_empty()).cloned(),
        state_dir: ctx.paths.home.clone(),
    };
    let done = rt.block_on(provision::provision(&req));
    if let Some(mut server) = temporary_server {
        // SIGINT: PostgreSQL's fast shutdown.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = server.wait();
    }
    let done = done.map_err(|e| e.to_string())?;
    println!(
        "role `{}` {}, database `{}` {} on {}:{}",
        done.app.user,
        if done.created_role {
            "created"
        } else {
            "already there"
        },
        done.app.database,
        if done.created_database {
            "created"
        } else {
            "already there"
        },
        done.app.host,
        done.app.port
    );
    match &done.password_source {
        PasswordSource::Environment => println!("password: from DB_PASS (not written down)"),
        PasswordSource::Stored(p) => println!("password: kept in {} (0600)", p.display()),
        PasswordSource::Generated(p) => println!("password: generated into {} (0600)", p.display()),
    }
    println!(
        "DB_* for the backend: {} (used by `runway up --db postgres`)",
        done.env_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// For `up --db postgres`: the provisioned database's settings added to the base
/// environment (the environment's own DB_* win).
pub fn postgres_env(ctx: &Context, manifest: &Manifest, base: &mut Env) -> Result<(), String> {
    let with = crate::db::commands::backend_env(
        &backend_env(manifest, base),
        check_mode(manifest.mode),
        crate::db::commands::DbChoice::Postgres,
        &ctx.paths.home,
    )?;
    for key in [
        "DATABASE_URL",
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "DB_PASS",
    ] {
        if let Some(v) = with.get(key) {
            base.entry(key.to_string()).or_insert_with(|| v.clone());
        }
    }
    if crate::db::managed::ManagedCluster::load(&ctx.paths.home).is_some() {
        base.insert(crate::daemon::MANAGED_PG_ENV.into(), "1".into());
    }
    Ok(())
}

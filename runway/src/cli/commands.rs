//! What each verb does on the CLI side: validate first, then talk to (or become) the daemon.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::{Context, LogsArgs, UpArgs};
use super::{ops, output};
use crate::daemon::protocol::{ActionReport, Command, ReloadAnswer, StatusReport};
use crate::daemon::state::Dump;
use crate::daemon::{self, DaemonConfig, Initial};
use crate::logs::{self, Stream};
use crate::manifest::Mode;
use crate::supervisor::env;

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("unexpected answer from the daemon: {e}"))
}

pub fn up(ctx: &Context, args: UpArgs) -> Result<ExitCode, String> {
    // The manifest is validated before anything is started or stopped.
    let manifest = ctx.load_manifest()?;
    for name in &args.names {
        if manifest.process(name).is_none() {
            return Err(format!(
                "no process named `{name}` in {} (known: {})",
                manifest.path.display(),
                manifest
                    .processes
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some(mut client) = ctx.try_client()? {
        println!(
            "runway: a daemon already runs for {}; starting {}",
            ctx.paths.home.display(),
            if args.names.is_empty() {
                "the autostart processes".to_string()
            } else {
                args.names.join(", ")
            }
        );
        // The pipeline (install, build, migrate, seed) and `--db` shape a fresh start only: a
        // running stack keeps its code and database until it is deployed or brought down.
        println!(
            "runway: the build/migrate steps and --db apply to a fresh start; to run new code use `runway deploy` (or `runway down` first)"
        );
        let report: ActionReport = parse(client.call(Command::Start {
            names: args.names,
            wait: true,
        })?)?;
        return Ok(print_action(&report));
    }
    let mut base = ops::base_env(ctx, manifest.mode);
    if args.db.as_deref() == Some("postgres") {
        ops::postgres_env(ctx, &manifest, &mut base)?;
    } else if let Some(other) = args.db.as_deref().filter(|d| *d != "sqlite") {
        return Err(format!("--db `{other}`: use sqlite or postgres"));
    }
    // The mode's required settings are checked before anything runs.
    ops::mode_gate(&manifest, &base)?;
    if !args.no_build {
        ops::prepare(ctx, &manifest, &base, &args.skip)?;
    }
    let names = ops::initial_names(&manifest, &base, args.names);
    if args.detach {
        spawn_daemon(
            ctx,
            &manifest.path,
            manifest.mode,
            &["--idle".to_string()],
            &base,
        )?;
        let mut client = ctx.client()?;
        eprintln!("runway: daemon started; starting processes…");
        let report: ActionReport = parse(client.call(Command::Start { names, wait: true })?)?;
        let code = print_action(&report);
        print!("{}", ops::banner(&manifest, true));
        return Ok(code);
    }
    daemon::run(DaemonConfig {
        manifest_path: manifest.path.clone(),
        mode: manifest.mode,
        paths: ctx.paths.clone(),
        foreground: true,
        initial: Initial::Start(names),
        base_env: base,
        banner: Some(ops::banner(&manifest, false)),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the status table of an answer; exit 1 when something it acted on errored.
fn print_action(report: &ActionReport) -> ExitCode {
    for warning in &report.warnings {
        eprintln!("runway: warning: {warning}");
    }
    let Some(status) = &report.status else {
        return ExitCode::SUCCESS;
    };
    print!("{}", output::table(status));
    let failed = status.processes.iter().any(|p| {
        report.names.contains(&p.name) && p.state == crate::supervisor::ProcState::Errored
    });
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Starts `runway daemon` in the background (own session, output to the console log) and
/// waits until it answers on its socket.
fn spawn_daemon(
    ctx: &Context,
    manifest: &Path,
    mode: Mode,
    extra: &[String],
    env: &env::Env,
) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    ctx.paths
        .create()
        .map_err(|e| format!("cannot create {}: {e}", ctx.paths.home.display()))?;
    let console = ctx.paths.logs.join("runway-console.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&console)
        .map_err(|e| format!("cannot open {}: {e}", console.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the runway binary: {e}"))?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("--config")
        .arg(manifest)
        .arg("--home")
        .arg(&ctx.paths.home)
        .arg("--mode")
        .arg(mode.as_str())
        .arg("daemon")
        .args(extra)
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: setsid is async-signal-safe; the daemon leaves the terminal's session so a
    // closed terminal (SIGHUP) or Ctrl-C in it does not reach it.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the daemon: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if ctx.try_client()?.is_some() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = logs::read::tail(&console, 10).unwrap_or_default();
            return Err(format!(
                "the daemon exited at start ({status}):\n{}",
                tail.join("\n")
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the daemon did not answer within 20 s; see {}",
                console.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn daemon(
    ctx: &Context,
    names: Vec<String>,
    resurrect: bool,
    idle: bool,
) -> Result<ExitCode, String> {
    let manifest = ctx.manifest_path()?.clone();
    let initial = if resurrect {
        Initial::Resurrect
    } else if idle {
        Initial::Nothing
    } else {
        Initial::Start(names)
    };
    daemon::run(DaemonConfig {
        manifest_path: manifest,
        mode: ctx.mode,
        paths: ctx.paths.clone(),
        foreground: false,
        initial,
        base_env: super::ops::base_env(ctx, ctx.mode),
        banner: None,
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn status(ctx: &Context, json: bool) -> Result<ExitCode, String> {
    let mut client = ctx.client()?;
    let value = client.call(Command::Status)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report: StatusReport = parse(value)?;
    print!("{}", output::table(&report));
    Ok(ExitCode::SUCCESS)
}

pub fn start(ctx: &Context, names: Vec<String>) -> Result<ExitCode, String> {
    let mut client = ctx.client()?;
    let report: ActionReport = parse(client.call(Command::Start { names, wait: true })?)?;
    Ok(print_action(&report))
}

pub fn stop(ctx: &Context, names: Vec<String>) -> Result<ExitCode, String> {
    let mut client = ctx.client()?;
    let report: ActionReport = parse(client.call(Command::Stop { names })?)?;
    Ok(print_action(&report))
}

pub fn restart(ctx: &Context, names: Vec<String>, update_env: bool) -> Result<ExitCode, String> {
    let mut client = ctx.client()?;
    let report: ActionReport = parse(client.call(Command::Restart {
        names,
        update_env: update_env.then(env::current),
        wait: true,
    })?)?;
    Ok(print_action(&report))
}

pub fn reload(ctx: &Context) -> Result<ExitCode, String> {
    // Validate here too, so the error shows even without a daemon.
    ctx.load_manifest()?;
    let mut client = ctx.client()?;
    let answer: ReloadAnswer = parse(client.call(Command::Reload)?)?;
    let r = &answer.report;
    let list = |v: &Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    println!(
        "reloaded: added {}; removed {}; changed {}; unchanged {}",
        list(&r.added),
        list(&r.removed),
        list(&r.changed),
        list(&r.unchanged)
    );
    if let Some(status) = &answer.status {
        print!("{}", output::table(status));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn down(ctx: &Context) -> Result<ExitCode, String> {
    let Some(mut client) = ctx.try_client()? else {
        println!(
            "runway: no daemon is running for {}",
            ctx.paths.home.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let pid = crate::daemon::lock::holder(&ctx.paths.lock);
    client.call(Command::Down)?;
    eprint!("runway: stopping processes and the daemon");
    let started = Instant::now();
    // The daemon holds its lock until every child is gone, then exits.
    let daemon_alive = || {
        pid.is_some_and(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        })
    };
    while crate::daemon::lock::holder(&ctx.paths.lock).is_some() || daemon_alive() {
        if started.elapsed() > Duration::from_secs(600) {
            eprintln!();
            return Err("the daemon is still stopping after 10 minutes; see its log".into());
        }
        std::thread::sleep(Duration::from_millis(25));
        if started.elapsed().as_millis() % 1000 < 25 {
            eprint!(".");
        }
    }
    eprintln!(" done ({} ms)", started.elapsed().as_millis());
    Ok(ExitCode::SUCCESS)
}

pub fn save(ctx: &Context) -> Result<ExitCode, String> {
    let mut client = ctx.client()?;
    let report: ActionReport = parse(client.call(Command::Save)?)?;
    println!(
        "saved {} process(es) to {}: {}",
        report.names.len(),
        ctx.paths.dump.display(),
        report.names.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

pub fn resurrect(ctx: &Context, foreground: bool) -> Result<ExitCode, String> {
    if let Some(mut client) = ctx.try_client()? {
        let report: ActionReport = parse(client.call(Command::Resurrect)?)?;
        return Ok(print_action(&report));
    }
    let dump = Dump::read(&ctx.paths.dump)?;
    // The saved manifest and mode, unless given explicitly now.
    let manifest = ctx
        .manifest
        .clone()
        .unwrap_or_else(|| dump.manifest.clone());
    let mode = if ctx.mode_explicit {
        ctx.mode
    } else {
        dump.mode
    };
    crate::manifest::Manifest::load_in(&manifest, mode, &ctx.paths.home)
        .map_err(|e| format!("{e}\nthe manifest was rejected; nothing was started"))?;
    if foreground {
        daemon::run(DaemonConfig {
            manifest_path: manifest,
            mode,
            paths: ctx.paths.clone(),
            foreground: true,
            initial: Initial::Resurrect,
            base_env: dump.env,
            banner: None,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    spawn_daemon(
        ctx,
        &manifest,
        mode,
        &["--idle".to_string()],
        &env::Env::new(),
    )?;
    let mut client = ctx.client()?;
    let report: ActionReport = parse(client.call(Command::Resurrect)?)?;
    Ok(print_action(&report))
}

pub fn startup(ctx: &Context) -> Result<ExitCode, String> {
    let manifest = ctx.manifest_path()?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = manifest.parent().unwrap_or(Path::new("/"));
    let project = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("app")
        .to_string();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    let common = format!(
        "--config {} --home {}",
        unit_quote(&manifest.display().to_string()),
        unit_quote(&ctx.paths.home.display().to_string())
    );
    let exe = unit_quote(&exe.display().to_string());
    let env_path = unit_quote(&format!("PATH={path}"));
    let workdir = dir.display().to_string().replace('%', "%%");
    println!(
        "# runway-{project}.service — resurrects the processes saved by `runway save` at boot.
# Install:  runway startup | sudo tee /etc/systemd/system/runway-{project}.service
#           sudo systemctl daemon-reload && sudo systemctl enable --now runway-{project}
# Before that, run `runway save` while everything you want at boot is running.
[Unit]
Description=runway: {project} ({dir})
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=simple
User={user}
WorkingDirectory={workdir}
Environment={env_path}
ExecStart={exe} {common} resurrect --foreground
ExecStop={exe} {common} down
ExecReload={exe} {common} reload
# runway stops the processes itself (reverse dependency order, each within its stop timeout).
KillMode=mixed
TimeoutStopSec=120
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target",
        dir = dir.display(),
    );
    Ok(ExitCode::SUCCESS)
}

/// One word of a unit file's command line or `Environment=`: `%` doubled (systemd expands
/// `%` specifiers there), double-quoted when it holds anything but plain path characters.
fn unit_quote(text: &str) -> String {
    let text = text.replace('%', "%%");
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:%".contains(c))
    {
        text
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

pub fn check(ctx: &Context) -> Result<ExitCode, String> {
    let manifest = ctx.load_manifest()?;
    println!(
        "{}: ok ({} mode): {} process(es), {} route(s), {} job(s)",
        manifest.path.display(),
        manifest.mode,
        manifest.processes.len(),
        manifest.routes.len(),
        manifest.jobs.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn jobs_run(ctx: &Context, name: String) -> Result<ExitCode, String> {
    let mut client = ctx.client()?;
    let value = client.call(Command::JobsRun { name })?;
    if let Some(message) = value.get("message").and_then(|m| m.as_str()) {
        println!("{message}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn logs(ctx: &Context, args: LogsArgs) -> Result<ExitCode, String> {
    let dir = &ctx.paths.logs;
    let streams: Vec<Stream> = match (args.out, args.err) {
        (true, _) => vec![Stream::Out],
        (_, true) => vec![Stream::Err],
        _ => vec![Stream::Out, Stream::Err],
    };
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    match &args.name {
        Some(name) => {
            for stream in &streams {
                let path = logs::log_path(dir, name, *stream);
                let label = match stream {
                    Stream::Out => format!("{name} | "),
                    Stream::Err => format!("{name} (err) | "),
                };
                files.push((path, label));
            }
            if !files.iter().any(|(p, _)| p.exists()) {
                return Err(format!(
                    "no logs for `{name}` in {} (is it a process of this manifest, and has it run?)",
                    dir.display()
                ));
            }
        }
        None => {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map_err(|e| format!("no logs in {}: {e}", dir.display()))?
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter_map(|f| f.strip_suffix("-out.log").map(str::to_string))
                .collect();
            names.sort();
            for name in names {
                for stream in &streams {
                    let label = match stream {
                        Stream::Out => format!("{name} | "),
                        Stream::Err => format!("{name} (err) | "),
                    };
                    files.push((logs::log_path(dir, &name, *stream), label));
                }
            }
            if !args.out && !args.err {
                files.push((logs::daemon_log_path(dir), "runway | ".into()));
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (path, label) in &files {
        let lines = logs::read::tail(path, args.lines)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "==> {} (last {} lines) <==",
            path.display(),
            lines.len()
        );
        for line in lines {
            let _ = writeln!(out, "{label}{line}");
        }
    }
    if args.follow {
        let _ = out.flush();
        logs::read::follow(files, &mut out).map_err(|e| e.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}

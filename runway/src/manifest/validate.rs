//! Turns the raw manifest into a [`Manifest`]: applies the mode's overrides and defaults,
//! resolves paths, and collects every problem with its line.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::proxy::RouteConfig;
use toml::Spanned;

use super::raw::{RawCommand, RawDepends, RawJob, RawManifest, RawProbe, RawProcess, RawTcp};
use super::{
    Backoff, CommandSpec, Condition, CrashLoop, Dependency, JobSpec, LogPolicy, Manifest, Mode,
    Overlap, Probe, ProbeKind, Problem, ProcessSpec, RestartPolicy, Signal, valid_name,
};

struct Ctx<'a> {
    text: &'a str,
    dir: &'a Path,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text[..end].bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn push(&mut self, offset: usize, message: impl Into<String>) {
        let line = self.line(offset);
        self.problems.push(Problem {
            line: Some(line),
            message: message.into(),
        });
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

pub(super) fn build(
    text: &str,
    path: &Path,
    dir: &Path,
    home: &Path,
    mode: Mode,
) -> Result<Manifest, Vec<Problem>> {
    let raw: RawManifest = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let mut ctx = Ctx {
                text,
                dir,
                problems: Vec::new(),
            };
            let message = e.message().trim().to_string();
            match e.span() {
                Some(span) => ctx.push(span.start, message),
                None => ctx.problems.push(Problem {
                    line: None,
                    message,
                }),
            }
            return Err(ctx.problems);
        }
    };
    let mut ctx = Ctx {
        text,
        dir,
        problems: Vec::new(),
    };

    let mut logs = LogPolicy::default();
    if let Some(raw_logs) = &raw.logs {
        if let Some(size) = raw_logs.max_size {
            logs.max_size = size.0;
        }
        if let Some(keep) = raw_logs.keep {
            logs.keep = keep;
        }
        if let Some(cap) = raw_logs.total_cap {
            logs.total_cap = cap.0;
        }
    }

    // Processes: each on its own, then the relations between them.
    let mut processes = Vec::new();
    let mut lines: HashMap<String, (usize, usize)> = HashMap::new(); // name -> (entry offset, depends_on offset)
    for entry in &raw.process {
        let start = entry.span().start;
        if let Some(spec) = process(&mut ctx, entry, mode) {
            if let Some((first, _)) = lines.get(&spec.name) {
                let first_line = ctx.line(*first);
                ctx.push(
                    start,
                    format!(
                        "process `{}` is declared twice (first on line {first_line})",
                        spec.name
                    ),
                );
                continue;
            }
            let dep_offset = effective_depends_offset(entry, mode).unwrap_or(start);
            lines.insert(spec.name.clone(), (start, dep_offset));
            processes.push(spec);
        }
    }
    check_ports(&mut ctx, &raw, &processes, mode);
    check_dependencies(&mut ctx, &processes, &lines);

    // `[modes.MODE]` route replacements (e.g. production serves the built frontend).
    for (name, section) in &raw.modes {
        if Mode::parse(name).is_err() {
            ctx.push(
                section.span().start,
                format!("[modes.{name}]: unknown mode (use development, dev_stage or production)"),
            );
        }
    }
    // `${RUNWAY_HOME}` in `static` and `error_page` is checked in every route of every mode, so
    // a typo in the production route is reported in development too.
    for route in &raw.route {
        for (key, value) in home_paths(route.get_ref()) {
            if let Err(message) = expand_home(key, value, home) {
                ctx.push(
                    route.span().start,
                    format!("route {}: {message}", route.get_ref().path),
                );
            }
        }
    }
    for section in raw.modes.values() {
        for r in &section.get_ref().route {
            for (key, value) in home_paths(r) {
                if let Err(message) = expand_home(key, value, home) {
                    // Mode routes are inline tables without their own span: the value's own line.
                    let start = section.span().start;
                    let offset = text
                        .get(start..)
                        .and_then(|rest| rest.find(value.as_str()))
                        .map_or(start, |i| start + i);
                    ctx.push(offset, format!("route {}: {message}", r.path));
                }
            }
        }
    }
    // The proxy's part, validated by the proxy's own rules plus the ports it needs.
    let mut routes: Vec<_> = raw.route.iter().map(|r| r.get_ref().clone()).collect();
    if let Some(section) = raw.modes.get(mode.as_str()) {
        for r in &section.get_ref().route {
            match routes.iter_mut().find(|x| x.path == r.path) {
                Some(slot) => *slot = r.clone(),
                None => routes.push(r.clone()),
            }
        }
    }
    for route in &mut routes {
        for value in [&mut route.static_dir, &mut route.error_page]
            .into_iter()
            .flatten()
        {
            if let Ok(expanded) = expand_home("", value, home) {
                *value = expanded;
            }
        }
    }
    let mut proxy = raw.proxy.as_ref().map(|p| p.get_ref().clone());
    if let (Some(section), Some(cfg)) = (&raw.proxy, &mut proxy)
        && let Some(page) = &mut cfg.error_page
    {
        match expand_home("error_page", page, home) {
            Ok(expanded) => *page = expanded,
            Err(message) => ctx.push(section.span().start, format!("[proxy]: {message}")),
        }
    }
    if !raw.route.is_empty() && proxy.is_none() {
        ctx.push(
            raw.route[0].span().start,
            "[[route]] entries need a [proxy] table (e.g. `[proxy]` with `listen = [\"127.0.0.1:8080\"]`)",
        );
    }
    if let Some(proxy_cfg) = &proxy {
        let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
        if let Err(messages) = proxy_cfg.validate(&routes, &names) {
            for message in messages {
                let offset = raw
                    .route
                    .iter()
                    .find(|r| message.contains(&format!("route {}", r.get_ref().path)))
                    .map(|r| r.span().start)
                    .or_else(|| raw.proxy.as_ref().map(|p| p.span().start))
                    .unwrap_or(0);
                ctx.push(offset, message);
            }
        }
        for route in &raw.route {
            if let Some(target) = &route.get_ref().process
                && let Some(spec) = processes.iter().find(|p| &p.name == target)
                && spec.port.is_none()
            {
                ctx.push(
                    route.span().start,
                    format!(
                        "route {}: process `{target}` has no `port` to send requests to",
                        route.get_ref().path
                    ),
                );
            }
        }
    }

    let mut jobs = Vec::new();
    let mut job_lines: HashMap<String, usize> = HashMap::new();
    for entry in &raw.job {
        if let Some(job) = job(&mut ctx, entry) {
            if let Some(first) = job_lines.get(&job.name) {
                let first_line = ctx.line(*first);
                ctx.push(
                    entry.span().start,
                    format!(
                        "job `{}` is declared twice (first on line {first_line})",
                        job.name
                    ),
                );
                continue;
            }
            job_lines.insert(job.name.clone(), entry.span().start);
            jobs.push(job);
        }
    }

    let mut steps: Vec<crate::pipeline::StepConfig> = Vec::new();
    for entry in &raw.step {
        let step = entry.get_ref();
        if steps.iter().any(|s| s.name == step.name) {
            ctx.push(
                entry.span().start,
                format!("[[step]] `{}` is declared twice", step.name),
            );
            continue;
        }
        for m in &step.modes {
            if Mode::parse(m).is_err() {
                ctx.push(
                    entry.span().start,
                    format!("[[step]] `{}`: unknown mode `{m}` (use development, dev_stage or production)", step.name),
                );
            }
        }
        steps.push(step.clone());
    }
    let deploy = raw.deploy.clone().unwrap_or_default();
    if !raw.process.is_empty()
        && raw.deploy.is_some()
        && !processes.iter().any(|p| p.name == deploy.process)
    {
        ctx.problems.push(Problem {
            line: None,
            message: format!(
                "[deploy] process `{}` is not a [[process]] of this manifest",
                deploy.process
            ),
        });
    }

    if !ctx.problems.is_empty() {
        ctx.problems.sort_by_key(|p| p.line);
        return Err(ctx.problems);
    }
    Ok(Manifest {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        mode,
        processes,
        proxy,
        routes,
        jobs,
        logs,
        steps,
        deploy,
        up_note: raw
            .up
            .as_ref()
            .and_then(|u| u.notes.get(mode.as_str()).cloned()),
    })
}

/// A route's settings that name a file or directory, and so may use `${RUNWAY_HOME}`.
fn home_paths(route: &RouteConfig) -> impl Iterator<Item = (&'static str, &String)> {
    [
        ("static", &route.static_dir),
        ("error_page", &route.error_page),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.as_ref().map(|v| (key, v)))
}

/// Expands `${RUNWAY_HOME}` (the state directory, absolute) in the path setting `key` (a
/// route's `static` directory or an `error_page`), so production can serve the live release
/// (`${RUNWAY_HOME}/current/dist`) wherever the state directory is. Any other `$` is refused
/// rather than left as a literal path: `$HOME` or `${RUNWAY_HOM}` would otherwise name a file
/// that never exists.
fn expand_home(key: &str, value: &str, home: &Path) -> Result<String, String> {
    const VAR: &str = "RUNWAY_HOME";
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let name = after
            .strip_prefix('{')
            .and_then(|inner| inner.find('}').map(|end| &inner[..end]));
        match name {
            Some(VAR) => {
                out.push_str(&home.display().to_string());
                rest = &after[VAR.len() + 2..];
            }
            Some(other) => {
                return Err(format!(
                    "`{key}` names the unknown variable `${{{other}}}` (only `${{{VAR}}}`, the state directory, is expanded)"
                ));
            }
            None => {
                return Err(format!(
                    "`{key}` has a `$` that is not `${{{VAR}}}` (the only variable expanded, the state directory)"
                ));
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn effective_depends_offset(entry: &Spanned<RawProcess>, mode: Mode) -> Option<usize> {
    let raw = entry.get_ref();
    raw.modes
        .as_ref()
        .and_then(|m| m.get(mode.as_str()))
        .and_then(|o| o.get_ref().depends_on.as_ref())
        .or(raw.depends_on.as_ref())
        .map(|d| d.span().start)
}

fn merge(base: &RawProcess, over: &RawProcess) -> RawProcess {
    let mut env = base.env.clone();
    if let Some(extra) = &over.env {
        let merged = env.get_or_insert_with(BTreeMap::new);
        for (k, v) in extra {
            merged.insert(k.clone(), v.clone());
        }
    }
    RawProcess {
        name: base.name.clone(),
        command: over.command.clone().or_else(|| base.command.clone()),
        cwd: over.cwd.clone().or_else(|| base.cwd.clone()),
        env,
        env_file: over.env_file.clone().or_else(|| base.env_file.clone()),
        port: over.port.clone().or_else(|| base.port.clone()),
        readiness: over.readiness.clone().or_else(|| base.readiness.clone()),
        liveness: over.liveness.clone().or_else(|| base.liveness.clone()),
        restart: over.restart.or(base.restart),
        backoff: over.backoff.clone().or_else(|| base.backoff.clone()),
        crash_loop: over.crash_loop.clone().or_else(|| base.crash_loop.clone()),
        stop_signal: over.stop_signal.or(base.stop_signal),
        stop_timeout: over.stop_timeout.or(base.stop_timeout),
        max_memory: over.max_memory.or(base.max_memory),
        depends_on: over.depends_on.clone().or_else(|| base.depends_on.clone()),
        autostart: over.autostart.or(base.autostart),
        start_if_env: over
            .start_if_env
            .clone()
            .or_else(|| base.start_if_env.clone()),
        modes: None,
    }
}

/// What a process environment can hold as a name (a manifest `env` key, `start_if_env`).
fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}

fn command(ctx: &mut Ctx, raw: &Spanned<RawCommand>, what: &str) -> Option<CommandSpec> {
    let spec = match raw.get_ref() {
        RawCommand::Argv(argv) => CommandSpec::Argv(argv.clone()),
        RawCommand::Shell(line) => CommandSpec::Shell(line.clone()),
    };
    if spec.is_empty() {
        ctx.push(raw.span().start, format!("{what}: `command` is empty"));
        return None;
    }
    Some(spec)
}

fn process(ctx: &mut Ctx, entry: &Spanned<RawProcess>, mode: Mode) -> Option<ProcessSpec> {
    let start = entry.span().start;
    let base = entry.get_ref();
    let Some(name) = &base.name else {
        ctx.push(start, "[[process]] without a `name`");
        return None;
    };
    let name_text = name.get_ref().clone();
    if !valid_name(&name_text) {
        ctx.push(
            name.span().start,
            format!(
                "process name `{name_text}` is not allowed: use letters, digits, `-`, `_` or `.` (at most 64, not `all`)"
            ),
        );
        return None;
    }
    let what = format!("process `{name_text}`");

    let mut raw = base.clone();
    if let Some(modes) = &base.modes {
        for (mode_name, over) in modes {
            if !Mode::ALL.iter().any(|m| m.as_str() == mode_name) {
                ctx.push(
                    over.span().start,
                    format!(
                        "{what}: unknown mode `{mode_name}` in `modes` (use development, dev_stage or production)"
                    ),
                );
                continue;
            }
            if over.get_ref().name.is_some() || over.get_ref().modes.is_some() {
                ctx.push(
                    over.span().start,
                    format!("{what}: `name` and `modes` cannot be overridden per mode"),
                );
            }
        }
        if let Some(over) = modes.get(mode.as_str()) {
            raw = merge(base, over.get_ref());
        }
    }

    let command = match &raw.command {
        Some(c) => command(ctx, c, &what),
        None => {
            ctx.push(
                start,
                format!("{what}: missing `command` (an argv list or a shell string)"),
            );
            None
        }
    };

    let cwd = raw
        .cwd
        .as_ref()
        .map(|c| ctx.resolve(c.get_ref()))
        .unwrap_or_else(|| ctx.dir.to_path_buf());
    if !cwd.is_dir() {
        ctx.push(
            raw.cwd.as_ref().map(|c| c.span().start).unwrap_or(start),
            format!("{what}: `cwd` {} is not a directory", cwd.display()),
        );
    }
    let env = raw
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_string()))
        .collect::<BTreeMap<_, _>>();
    for key in env.keys() {
        if !valid_env_name(key) {
            ctx.push(
                start,
                format!("{what}: invalid environment variable name `{key}`"),
            );
        }
    }
    let start_if_env = raw.start_if_env.as_ref().map(|var| {
        if !valid_env_name(var.get_ref()) {
            ctx.push(
                var.span().start,
                format!(
                    "{what}: `start_if_env` must name an environment variable, not `{}`",
                    var.get_ref()
                ),
            );
        }
        var.get_ref().clone()
    });
    let env_files: Vec<PathBuf> = raw
        .env_file
        .clone()
        .map(|f| f.into_inner().into_vec())
        .unwrap_or_default()
        .iter()
        .map(|f| ctx.resolve(f))
        .collect();
    let env_file_at = raw
        .env_file
        .as_ref()
        .map(|f| f.span().start)
        .unwrap_or(start);
    for file in &env_files {
        if !file.is_file() {
            ctx.push(
                env_file_at,
                format!("{what}: `env_file` {} does not exist", file.display()),
            );
        }
    }
    let port = raw.port.as_ref().map(|p| *p.get_ref());
    if let Some(p) = &raw.port
        && *p.get_ref() == 0
    {
        ctx.push(p.span().start, format!("{what}: `port` must be 1-65535"));
    }

    let readiness = raw.readiness.as_ref().and_then(|p| {
        probe(
            ctx,
            p,
            port,
            &format!("{what}: readiness"),
            Duration::from_secs(1),
        )
    });
    let liveness = raw.liveness.as_ref().and_then(|p| {
        probe(
            ctx,
            p,
            port,
            &format!("{what}: liveness"),
            Duration::from_secs(5),
        )
    });
    // A process with a port and no readiness probe is ready when its port accepts connections:
    // that is what the proxy needs to know.
    let readiness = readiness.or_else(|| {
        port.map(|port| Probe {
            kind: ProbeKind::Tcp {
                addr: format!("127.0.0.1:{port}"),
            },
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failure_threshold: 3,
            initial_delay: Duration::ZERO,
        })
    });

    let mut backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(30),
        multiplier_milli: 2000,
        reset_after: Duration::from_secs(30),
    };
    if let Some(b) = &raw.backoff {
        let r = b.get_ref();
        if let Some(v) = r.initial {
            backoff.initial = v.0;
        }
        if let Some(v) = r.max {
            backoff.max = v.0;
        }
        if let Some(v) = r.reset_after {
            backoff.reset_after = v.0;
        }
        if let Some(m) = r.multiplier {
            if !(1.0..=100.0).contains(&m) {
                ctx.push(
                    b.span().start,
                    format!("{what}: backoff `multiplier` must be between 1 and 100"),
                );
            } else {
                backoff.multiplier_milli = (m * 1000.0) as u32;
            }
        }
        if backoff.max < backoff.initial {
            ctx.push(
                b.span().start,
                format!("{what}: backoff `max` is smaller than `initial`"),
            );
        }
    }
    let mut crash_loop = CrashLoop {
        max_restarts: 10,
        window: Duration::from_secs(60),
    };
    if let Some(c) = &raw.crash_loop {
        if let Some(n) = c.max_restarts {
            crash_loop.max_restarts = n;
        }
        if let Some(w) = c.window {
            crash_loop.window = w.0;
        }
    }

    let depends_on = match &raw.depends_on {
        None => Vec::new(),
        Some(d) => match d.get_ref() {
            RawDepends::Names(names) => names
                .iter()
                .map(|n| Dependency {
                    name: n.clone(),
                    condition: Condition::Healthy,
                })
                .collect(),
            RawDepends::Conditions(map) => map
                .iter()
                .map(|(n, c)| Dependency {
                    name: n.clone(),
                    condition: *c,
                })
                .collect(),
        },
    };

    Some(ProcessSpec {
        name: name_text,
        command: command?,
        cwd,
        env,
        env_files,
        port,
        readiness,
        liveness,
        restart: raw.restart.unwrap_or(RestartPolicy::Always),
        backoff,
        crash_loop,
        stop_signal: raw.stop_signal.unwrap_or(Signal::TERM),
        stop_timeout: raw
            .stop_timeout
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(5)),
        max_memory: raw.max_memory.map(|b| b.0),
        depends_on,
        autostart: raw.autostart.unwrap_or(true),
        start_if_env,
    })
}

fn probe(
    ctx: &mut Ctx,
    raw: &Spanned<RawProbe>,
    port: Option<u16>,
    what: &str,
    default_interval: Duration,
) -> Option<Probe> {
    let offset = raw.span().start;
    let r = raw.get_ref();
    let kinds = [r.http.is_some(), r.tcp.is_some(), r.exec.is_some()]
        .iter()
        .filter(|k| **k)
        .count();
    if kinds != 1 {
        ctx.push(
            offset,
            format!("{what}: set exactly one of `http`, `tcp` or `exec`"),
        );
        return None;
    }
    let kind = if let Some(path) = &r.http {
        if !path.starts_with('/') {
            ctx.push(
                offset,
                format!("{what}: `http` is a path and must start with `/` (got `{path}`)"),
            );
            return None;
        }
        let Some(port) = port else {
            ctx.push(
                offset,
                format!("{what}: an `http` probe needs the process's `port`"),
            );
            return None;
        };
        ProbeKind::Http {
            path: path.clone(),
            port,
        }
    } else if let Some(tcp) = &r.tcp {
        match tcp {
            RawTcp::Own(true) => match port {
                Some(port) => ProbeKind::Tcp {
                    addr: format!("127.0.0.1:{port}"),
                },
                None => {
                    ctx.push(
                        offset,
                        format!("{what}: `tcp = true` needs the process's `port`"),
                    );
                    return None;
                }
            },
            RawTcp::Own(false) => {
                ctx.push(
                    offset,
                    format!("{what}: `tcp` must be true or \"host:port\""),
                );
                return None;
            }
            RawTcp::Addr(addr) => {
                if addr.parse::<std::net::SocketAddr>().is_err() {
                    ctx.push(
                        offset,
                        format!("{what}: `tcp` address `{addr}` is not host:port (e.g. \"127.0.0.1:5432\")"),
                    );
                    return None;
                }
                ProbeKind::Tcp { addr: addr.clone() }
            }
        }
    } else {
        let exec = r.exec.clone()?;
        let command = match exec {
            RawCommand::Argv(argv) => CommandSpec::Argv(argv),
            RawCommand::Shell(line) => CommandSpec::Shell(line),
        };
        if command.is_empty() {
            ctx.push(offset, format!("{what}: `exec` is empty"));
            return None;
        }
        ProbeKind::Exec { command }
    };
    let probe = Probe {
        kind,
        interval: r.interval.map(|d| d.0).unwrap_or(default_interval),
        timeout: r.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(1)),
        failure_threshold: r.failure_threshold.unwrap_or(3),
        initial_delay: r.initial_delay.map(|d| d.0).unwrap_or(Duration::ZERO),
    };
    if probe.interval.is_zero() || probe.timeout.is_zero() {
        ctx.push(
            offset,
            format!("{what}: `interval` and `timeout` must be above 0"),
        );
    }
    if probe.failure_threshold == 0 {
        ctx.push(
            offset,
            format!("{what}: `failure_threshold` must be at least 1"),
        );
    }
    Some(probe)
}

fn check_ports(ctx: &mut Ctx, raw: &RawManifest, processes: &[ProcessSpec], mode: Mode) {
    let mut seen: HashMap<u16, String> = HashMap::new();
    if let Some(proxy) = &raw.proxy {
        for listen in &proxy.get_ref().listen {
            if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
                seen.insert(addr.port(), "the proxy".to_string());
            }
        }
    }
    for (entry, spec) in raw.process.iter().zip_names(processes) {
        let Some(port) = spec.port else { continue };
        let offset = port_offset(entry, mode).unwrap_or(entry.span().start);
        if let Some(owner) = seen.get(&port) {
            ctx.push(
                offset,
                format!(
                    "process `{}`: port {port} is already used by {owner}",
                    spec.name
                ),
            );
        } else {
            seen.insert(port, format!("process `{}`", spec.name));
        }
    }
}

fn port_offset(entry: &Spanned<RawProcess>, mode: Mode) -> Option<usize> {
    let raw = entry.get_ref();
    raw.modes
        .as_ref()
        .and_then(|m| m.get(mode.as_str()))
        .and_then(|o| o.get_ref().port.as_ref())
        .or(raw.port.as_ref())
        .map(|p| p.span().start)
}

/// Pairs each raw entry with its resolved spec by name (entries that failed are skipped).
trait ZipNames<'a> {
    fn zip_names(self, specs: &'a [ProcessSpec])
    -> Vec<(&'a Spanned<RawProcess>, &'a ProcessSpec)>;
}

impl<'a, I: Iterator<Item = &'a Spanned<RawProcess>>> ZipNames<'a> for I {
    fn zip_names(
        self,
        specs: &'a [ProcessSpec],
    ) -> Vec<(&'a Spanned<RawProcess>, &'a ProcessSpec)> {
        let mut used = vec![false; specs.len()];
        let mut out = Vec::new();
        for entry in self {
            let Some(name) = entry.get_ref().name.as_ref() else {
                continue;
            };
            if let Some(i) = specs
                .iter()
                .enumerate()
                .position(|(i, s)| !used[i] && &s.name == name.get_ref())
            {
                used[i] = true;
                out.push((entry, &specs[i]));
            }
        }
        out
    }
}

fn check_dependencies(
    ctx: &mut Ctx,
    processes: &[ProcessSpec],
    lines: &HashMap<String, (usize, usize)>,
) {
    let known: HashMap<&str, &ProcessSpec> =
        processes.iter().map(|p| (p.name.as_str(), p)).collect();
    for p in processes {
        let offset = lines.get(&p.name).map(|l| l.1).unwrap_or(0);
        for dep in &p.depends_on {
            if dep.name == p.name {
                ctx.push(offset, format!("process `{}` depends on itself", p.name));
            } else if let Some(target) = known.get(dep.name.as_str()) {
                if dep.condition == Condition::Completed && target.restart == RestartPolicy::Always
                {
                    ctx.push(
                        offset,
                        format!(
                            "process `{}` waits for `{}` to complete, but `{}` has restart = \"always\" and never completes (use \"on-failure\" or \"never\")",
                            p.name, dep.name, dep.name
                        ),
                    );
                }
            } else {
                ctx.push(
                    offset,
                    format!(
                        "process `{}` depends on `{}`, which is not a process in this manifest",
                        p.name, dep.name
                    ),
                );
            }
        }
    }
    // Cycles: depth-first search, reporting each cycle once with its path.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let index: HashMap<&str, usize> = processes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let mut marks = vec![Mark::New; processes.len()];
    fn visit(
        i: usize,
        processes: &[ProcessSpec],
        index: &HashMap<&str, usize>,
        marks: &mut Vec<Mark>,
        stack: &mut Vec<usize>,
        cycles: &mut Vec<Vec<usize>>,
    ) {
        marks[i] = Mark::Active;
        stack.push(i);
        for dep in &processes[i].depends_on {
            let Some(&j) = index.get(dep.name.as_str()) else {
                continue;
            };
            if j == i {
                continue;
            }
            match marks[j] {
                Mark::New => visit(j, processes, index, marks, stack, cycles),
                Mark::Active => {
                    if let Some(pos) = stack.iter().position(|&s| s == j) {
                        cycles.push(stack[pos..].to_vec());
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[i] = Mark::Done;
    }
    let mut cycles = Vec::new();
    for i in 0..processes.len() {
        if marks[i] == Mark::New {
            visit(
                i,
                processes,
                &index,
                &mut marks,
                &mut Vec::new(),
                &mut cycles,
            );
        }
    }
    for cycle in cycles {
        let mut names: Vec<&str> = cycle.iter().map(|&i| processes[i].name.as_str()).collect();
        names.push(names[0]);
        let offset = lines.get(names[0]).map(|l| l.1).unwrap_or(0);
        ctx.push(offset, format!("dependency cycle: {}", names.join(" → ")));
    }
}

fn job(ctx: &mut Ctx, entry: &Spanned<RawJob>) -> Option<JobSpec> {
    let raw: &RawJob = entry.get_ref();
    let name = raw.name.get_ref().clone();
    if !valid_name(&name) {
        ctx.push(
            raw.name.span().start,
            format!("job name `{name}` is not allowed: use letters, digits, `-`, `_` or `.`"),
        );
        return None;
    }
    let what = format!("job `{name}`");
    let schedule = raw.schedule.get_ref().trim().to_string();
    if schedule.split_whitespace().count() != 5 {
        ctx.push(
            raw.schedule.span().start,
            format!("{what}: `schedule` must have 5 cron fields (minute hour day month weekday), e.g. \"30 3 * * *\""),
        );
    } else if let Err(e) = croner::Cron::from_str(&schedule) {
        ctx.push(
            raw.schedule.span().start,
            format!("{what}: `schedule` `{schedule}` is not a valid cron expression: {e}"),
        );
    }
    let command = match &raw.command {
        Some(c) => command(ctx, c, &what),
        None => {
            ctx.push(entry.span().start, format!("{what}: missing `command`"));
            None
        }
    };
    let cwd = raw
        .cwd
        .as_deref()
        .map(|c| ctx.resolve(c))
        .unwrap_or_else(|| ctx.dir.to_path_buf());
    let env_files = raw
        .env_file
        .clone()
        .map(|f| f.into_vec())
        .unwrap_or_default()
        .iter()
        .map(|f| ctx.resolve(f))
        .collect();
    Some(JobSpec {
        name,
        schedule,
        command: command?,
        cwd,
        env: raw
            .env
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_string()))
            .collect(),
        env_files,
        timeout: raw.timeout.map(|d| d.0),
        overlap: raw.overlap.unwrap_or(Overlap::Skip),
        timezone: raw.timezone.clone(),
    })
}

//! Runs one external command to completion: its own process group, stdout and stderr copied
//! line by line with a timestamp into log files, a bounded run time (SIGTERM to the group, then
//! SIGKILL), and cancellation. Shared by jobs, pipeline steps, db commands and deploys, which
//! all need "run this, keep its output, tell me how it ended".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

/// A command as written in the manifest: a shell string (`sh -c`) or an argv list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

impl CommandLine {
    /// A readable one-line form for logs and errors.
    pub fn display(&self) -> String {
        match self {
            CommandLine::Shell(s) => s.clone(),
            CommandLine::Argv(v) => v.join(" "),
        }
    }

    /// The program that will be looked up on PATH (the shell for a shell string).
    pub fn program(&self) -> Option<&str> {
        match self {
            CommandLine::Shell(_) => Some("sh"),
            CommandLine::Argv(v) => v.first().map(String::as_str),
        }
    }

    /// A relative program path with a slash (`target/release/backend`) is taken relative to
    /// `cwd`, where the manifest's author meant it, not to wherever runway was started.
    fn to_command(&self, cwd: &Path) -> Option<Command> {
        match self {
            CommandLine::Shell(s) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(s);
                Some(c)
            }
            CommandLine::Argv(v) => {
                let (first, rest) = v.split_first()?;
                let program = Path::new(first);
                let mut c = if first.contains('/') && program.is_relative() {
                    Command::new(cwd.join(program))
                } else {
                    Command::new(first)
                };
                c.args(rest);
                Some(c)
            }
        }
    }
}

/// Everything needed to run a command once.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub command: CommandLine,
    pub cwd: PathBuf,
    /// Added to (or overriding) the caller's environment.
    pub env: BTreeMap<String, String>,
    pub timeout: Option<Duration>,
    /// Grace period between SIGTERM and SIGKILL when the timeout hits or the run is cancelled.
    pub kill_grace: Duration,
    pub out_log: PathBuf,
    pub err_log: PathBuf,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Exited { code: i32 },
    Signaled { signal: i32 },
    TimedOut,
    Cancelled,
    SpawnFailed { reason: String },
}

impl Outcome {
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Exited { code: 0 })
    }

    /// Short human form: `exit 0`, `killed by signal 9`, `timed out`...
    pub fn describe(&self) -> String {
        match self {
            Outcome::Exited { code } => format!("exit {code}"),
            Outcome::Signaled { signal } => format!("killed by signal {signal}"),
            Outcome::TimedOut => "timed out".to_string(),
            Outcome::Cancelled => "cancelled".to_string(),
            Outcome::SpawnFailed { reason } => format!("could not start: {reason}"),
        }
    }
}

/// One finished run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    pub outcome: Outcome,
}

/// Appends `line` to `path` prefixed with an RFC 3339 UTC timestamp (creating parent dirs).
pub async fn append_log_line(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    let stamped = format!("{} {line}\n", timestamp());
    f.write_all(stamped.as_bytes()).await
}

fn timestamp() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs the command; never panics on bad input: a command that cannot start is an outcome.
/// `cancel` flipping to `true` stops the run like a timeout does.
pub async fn run(spec: &RunSpec, mut cancel: Option<watch::Receiver<bool>>) -> RunResult {
    let started = Utc::now();
    let clock = Instant::now();
    let finish = |outcome| RunResult {
        started,
        duration_ms: clock.elapsed().as_millis() as u64,
        outcome,
    };

    let Some(mut cmd) = spec.command.to_command(&spec.cwd) else {
        return finish(Outcome::SpawnFailed {
            reason: "empty command".to_string(),
        });
    };
    cmd.current_dir(&spec.cwd)
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);

    let mut out = match open_append(&spec.out_log).await {
        Ok(f) => f,
        Err(e) => {
            return finish(Outcome::SpawnFailed {
                reason: format!("cannot open log {}: {e}", spec.out_log.display()),
            });
        }
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("{}: {e}", spec.command.program().unwrap_or("?"));
            let _ = out
                .write_all(format!("{} could not start {reason}\n", timestamp()).as_bytes())
                .await;
            return finish(Outcome::SpawnFailed { reason });
        }
    };
    drop(out);
    let pid = child.id().map(|p| Pid::from_raw(p as i32));

    let copiers = [
        child
            .stdout
            .take()
            .map(|s| tokio::spawn(copy_lines(s, spec.out_log.clone()))),
        child
            .stderr
            .take()
            .map(|s| tokio::spawn(copy_lines(s, spec.err_log.clone()))),
    ];

    let deadline = async {
        match spec.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let cancelled = async {
        match cancel.as_mut() {
            Some(rx) => {
                // A dropped sender means nobody can cancel any more: wait forever.
                if rx.wait_for(|c| *c).await.is_err() {
                    std::future::pending::<()>().await
                }
            }
            None => std::future::pending().await,
        }
    };

    let outcome = tokio::select! {
        status = child.wait() => status_outcome(status),
        _ = deadline => {
            stop_group(&mut child, pid, spec.kill_grace).await;
            Outcome::TimedOut
        }
        _ = cancelled => {
            stop_group(&mut child, pid, spec.kill_grace).await;
            Outcome::Cancelled
        }
    };

    // A grandchild may still hold the pipes open; don't wait for it forever.
    for copier in copiers.into_iter().flatten() {
        let abort = copier.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), copier)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    finish(outcome)
}

fn status_outcome(status: std::io::Result<std::process::ExitStatus>) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => Outcome::Exited { code },
            (None, Some(signal)) => Outcome::Signaled { signal },
            (None, None) => Outcome::Exited { code: -1 },
        },
        Err(e) => Outcome::SpawnFailed {
            reason: format!("wait failed: {e}"),
        },
    }
}

/// SIGTERM to the whole group, SIGKILL after the grace period; the child is reaped either way.
pub async fn stop_group(child: &mut tokio::process::Child, pid: Option<Pid>, grace: Duration) {
    if let Some(pid) = pid {
        let _ = killpg(pid, Signal::SIGTERM);
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = child.wait().await;
        } else {
            // The leader is gone; make sure nothing it started outlives it.
            let _ = killpg(pid, Signal::SIGKILL);
        }
    } else {
        let _ = child.kill().await;
    }
}

async fn open_append(path: &Path) -> std::io::Result<tokio::fs::File> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
}

async fn copy_lines(stream: impl AsyncRead + Unpin, path: PathBuf) {
    let Ok(mut file) = open_append(&path).await else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                let line = format!("{} {}\n", timestamp(), text.trim_end_matches(['\n', '\r']));
                if file.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = file.flush().await;
}

/// Looks `program` up on PATH (or checks it directly when it contains a slash).
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_exec(p))
}

/// The last `n` lines of a log file (for error messages that point at a failed step).
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

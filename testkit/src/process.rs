//! Run the real `backend` binary: to completion ([`Backend::output`]) or as a server on port 0
//! ([`Backend::spawn`], which waits for its "listening on http://ADDR" line). The child gets a
//! clean configuration: every variable the backend reads is removed from the inherited
//! environment, `BACKEND_ENV_FILE=/dev/null` hides any `backend/.env`, then `NODE_ENV=test`,
//! `PORT=0`, `ADMIN_PASS=`[`TEST_ADMIN_PASS`] and whatever the test sets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// Retries `attempt` while it fails with `ETXTBSY` (for up to about 2 s), and only then.
///
/// Why: tests copy the binary before running it (tests/dotenv.rs). While one test's copy still
/// has its write descriptor open, another test on another thread may fork; the forked child
/// holds that descriptor until its own exec, and exec of the copy fails with "Text file busy"
/// for that moment. Seen once on a loaded host.
async fn retry_text_busy<T, F, Fut>(mut attempt: F) -> std::io::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<T>>,
{
    const ETXTBSY: i32 = 26;
    let mut retries = 0;
    loop {
        match attempt().await {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && retries < 40 => {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            result => return result,
        }
    }
}

/// Variables the backend reads; stripped from the inherited environment (here, and by the
/// runway tests that start the backend through runway).
pub const CONFIG_VARS: &[&str] = &[
    "NODE_ENV",
    "PORT",
    "BIND_ADDRESS",
    "SECRET_KEY",
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASS",
    "DB_SSLMODE",
    "DB_POOL_MAX",
    "DB_CONNECT_ATTEMPTS",
    "ALLOWED_ORIGINS",
    "ADMIN_PASS",
    "DATA_DIR",
    "BODY_LIMIT_BYTES",
    "SHUTDOWN_TIMEOUT_SECS",
    "AUTH_REFRESH_TOKEN_RETENTION_MS",
    "BACKEND_ENV_FILE",
    "RUST_LOG",
];

/// Password of the seeded users in processes started by [`Backend`].
pub const TEST_ADMIN_PASS: &str = "testkit-admin-pass";

#[derive(Clone, Debug)]
pub struct Backend {
    bin: PathBuf,
    args: Vec<String>,
    env: BTreeMap<String, Option<String>>,
    cwd: Option<PathBuf>,
}

/// A finished run.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout and stderr together, for "never printed" assertions.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Backend {
    /// `bin` is `env!("CARGO_BIN_EXE_backend")` in the calling test.
    pub fn new(bin: impl AsRef<Path>) -> Backend {
        let mut env = BTreeMap::new();
        env.insert("NODE_ENV".to_owned(), Some("test".to_owned()));
        env.insert("PORT".to_owned(), Some("0".to_owned()));
        env.insert("BACKEND_ENV_FILE".to_owned(), Some("/dev/null".to_owned()));
        // Test mode has no default seed password; the seeded users get this one.
        env.insert("ADMIN_PASS".to_owned(), Some(TEST_ADMIN_PASS.to_owned()));
        Backend {
            bin: bin.as_ref().to_path_buf(),
            args: Vec::new(),
            env,
            cwd: None,
        }
    }

    /// Shorthand: test mode on `db`.
    pub fn on(bin: impl AsRef<Path>, db: &crate::TestDb) -> Backend {
        Backend::new(bin).env("DATABASE_URL", &db.url)
    }

    pub fn arg(mut self, a: impl Into<String>) -> Backend {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, it: I) -> Backend {
        self.args.extend(it.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Backend {
        self.env.insert(k.into(), Some(v.into()));
        self
    }

    /// Make sure `k` is unset in the child.
    pub fn env_remove(mut self, k: impl Into<String>) -> Backend {
        self.env.insert(k.into(), None);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Backend {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(&self.args);
        for v in CONFIG_VARS {
            c.env_remove(v);
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        c.stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    /// Run to completion (at most 120 s).
    pub async fn output(&self) -> anyhow::Result<Output> {
        let fut = retry_text_busy(|| async { self.command().output().await });
        let out = tokio::time::timeout(Duration::from_secs(120), fut)
            .await
            .map_err(|_| anyhow!("backend {:?} did not finish within 120 s", self.args))?
            .with_context(|| format!("spawning {}", self.bin.display()))?;
        Ok(Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Start a server (args default to `start`) and wait until it listens.
    pub async fn spawn(&self) -> anyhow::Result<Running> {
        let mut me = self.clone();
        if me.args.is_empty() {
            me.args.push("start".to_owned());
        }
        let mut child = retry_text_busy(|| async {
            me.command()
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .await
        .with_context(|| format!("spawning {}", me.bin.display()))?;
        let logs = Arc::new(Mutex::new(Vec::<String>::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        if let Some(out) = child.stdout.take() {
            collect(out, logs.clone(), tx.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect(err, logs.clone(), tx);
        }
        let wait_addr = async {
            while let Some(line) = rx.recv().await {
                if let Some(addr) = listening_addr(&line) {
                    return Some(addr);
                }
            }
            None
        };
        let addr = tokio::time::timeout(Duration::from_secs(90), wait_addr).await;
        let snapshot = || logs.lock().map(|l| l.join("\n")).unwrap_or_default();
        let addr = match addr {
            Ok(Some(a)) => a,
            Ok(None) => {
                let status = child.wait().await.ok();
                return Err(anyhow!(
                    "backend exited ({status:?}) before listening; output:\n{}",
                    snapshot()
                ));
            }
            Err(_) => {
                return Err(anyhow!(
                    "backend did not listen within 90 s; output:\n{}",
                    snapshot()
                ));
            }
        };
        Ok(Running {
            child,
            base_url: format!("http://{addr}"),
            logs,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .context("building the HTTP client")?,
        })
    }
}

fn collect<R: AsyncRead + Unpin + Send + 'static>(
    r: R,
    logs: Arc<Mutex<Vec<String>>>,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut l) = logs.lock() {
                l.push(line.clone());
            }
            let _ = tx.send(line);
        }
    });
}

fn listening_addr(line: &str) -> Option<String> {
    let rest = line.split("listening on http://").nth(1)?;
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    (!addr.is_empty()).then_some(addr)
}

/// A backend server started by [`Backend::spawn`]; killed when dropped.
pub struct Running {
    child: Child,
    pub base_url: String,
    logs: Arc<Mutex<Vec<String>>>,
    pub http: reqwest::Client,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Every line printed so far (stdout and stderr).
    pub fn logs(&self) -> String {
        self.logs.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Whether a printed line contains `needle`, waiting up to 10 s for it: the server's
    /// output is read from its pipe by a background task, so a line written just before a
    /// response can reach [`Running::logs`] just after it.
    pub async fn log_contains(&self, needle: &str) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if self.logs().contains(needle) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGTERM, then wait for the exit (SIGKILL after 30 s).
    pub async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        if let Some(pid) = self.child.id() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(s) => Ok(s?),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(anyhow!("backend ignored SIGTERM for 30 s"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_address_in_plain_and_json_lines() {
        assert_eq!(
            super::listening_addr(
                "INFO backend::server: listening on http://127.0.0.1:4321 mode=test"
            )
            .as_deref(),
            Some("127.0.0.1:4321")
        );
        assert_eq!(
            super::listening_addr(r#"{"fields":{"message":"listening on http://127.0.0.1:9"}}"#)
                .as_deref(),
            Some("127.0.0.1:9")
        );
    }
}

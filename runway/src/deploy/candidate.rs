//! The new release's backend, started beside the old one on a spare port: its own process
//! group, the parent-death signal (a crashed daemon leaves nothing serving unmanaged), output
//! to `logs/deploy-candidate.log`; ready when its HTTP readiness path answers 2xx; stopped with
//! SIGTERM (the backend finishes in-flight requests), SIGKILL after the grace period.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// How to start the candidate: the supervised process's own command and environment.
#[derive(Debug, Clone)]
pub struct CandidateSpec {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// The full environment (the caller resolved it); PORT is overridden.
    pub env: BTreeMap<String, String>,
    pub ready_path: String,
    pub log: PathBuf,
}

pub struct Candidate {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

/// A port nobody listens on right now.
pub fn spare_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Candidate {
    pub async fn start(spec: &CandidateSpec) -> Result<Candidate, String> {
        let port = spare_port().map_err(|e| format!("no spare port: {e}"))?;
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| "the process has an empty command".to_string())?;
        if let Some(dir) = spec.log.parent() {
            let _ = tokio::fs::create_dir_all(dir).await;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .map_err(|e| format!("cannot open {}: {e}", spec.log.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", spec.log.display()))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&spec.cwd)
            .env_clear()
            .envs(&spec.env)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        Ok(Candidate {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log: spec.log.clone(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Polls the readiness path until it answers 2xx, the process exits, or `bound` passes.
    pub async fn wait_ready(&mut self, path: &str, bound: Duration) -> Result<Duration, String> {
        let started = Instant::now();
        let url = format!("http://{}{path}", self.addr);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the new backend exited ({status}) before it was ready"
                ));
            }
            if let Ok(code) = http_status(&url).await
                && (200..300).contains(&code)
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > bound {
                return Err(format!(
                    "the new backend was not ready at {url} within {} s",
                    bound.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        let pid = self.child.id().map(|p| Pid::from_raw(p as i32));
        crate::pipeline::exec::stop_group(&mut self.child, pid, grace).await;
    }
}

/// One GET with a short timeout; the status code.
pub async fn http_status(url: &str) -> Result<u16, String> {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let fut = async {
        let resp = client.get(uri).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        Ok(status)
    };
    tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .map_err(|_| "timeout".to_string())?
}

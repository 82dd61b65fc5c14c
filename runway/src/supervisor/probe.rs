//! Readiness and liveness probes: HTTP GET (2xx/3xx passes), TCP connect, or a command
//! (exit 0 passes). Each attempt is bounded by the probe's timeout.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::spawn::{Spawner, signal_group};
use crate::manifest::{Probe, ProbeKind};

/// Outcome of one probe attempt; the error says why, for the status line and the log.
pub type ProbeResult = Result<(), String>;

pub async fn check(
    probe: &Probe,
    spawner: &Spawner,
    cwd: &std::path::Path,
    env: &std::collections::BTreeMap<String, String>,
) -> ProbeResult {
    match &probe.kind {
        ProbeKind::Http { path, port } => {
            match tokio::time::timeout(probe.timeout, http_get(*port, path)).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "GET {path} timed out after {} ms",
                    probe.timeout.as_millis()
                )),
            }
        }
        ProbeKind::Tcp { addr } => {
            match tokio::time::timeout(probe.timeout, TcpStream::connect(addr.as_str())).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("connect {addr}: {e}")),
                Err(_) => Err(format!("connect {addr} timed out")),
            }
        }
        ProbeKind::Exec { command } => exec(command.argv(), probe.timeout, spawner, cwd, env).await,
    }
}

async fn http_get(port: u16, path: &str) -> ProbeResult {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: runway-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    // Only the status line matters; read until it is complete.
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {path}: no HTTP status in the answer"))?;
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(format!("GET {path} answered {status}"))
    }
}

async fn exec(
    argv: Vec<String>,
    timeout: Duration,
    spawner: &Spawner,
    cwd: &std::path::Path,
    env: &std::collections::BTreeMap<String, String>,
) -> ProbeResult {
    let mut child = spawner
        .spawn(&argv, cwd, env)
        .await
        .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
    // Output is not kept; dropping the pipes lets a chatty probe get EPIPE instead of blocking.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let pgid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("`{}` exited with {status}", argv.join(" "))),
        Ok(Err(e)) => Err(format!("`{}`: {e}", argv.join(" "))),
        Err(_) => {
            if let Some(pgid) = pgid {
                signal_group(pgid, libc::SIGKILL);
            }
            let _ = child.wait().await;
            Err(format!(
                "`{}` timed out after {} ms",
                argv.join(" "),
                timeout.as_millis()
            ))
        }
    }
}

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
            match tokio::time::timeout(probe.timeout, connect(addr.as_str())).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("connect {addr}: {e}")),
                Err(_) => Err(format!("connect {addr} timed out")),
            }
        }
        ProbeKind::Exec { command } => exec(command.argv(), probe.timeout, spawner, cwd, env).await,
    }
}

/// Connects for a probe, refusing a connection to itself.
async fn connect(addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<TcpStream> {
    reject_self_connect(TcpStream::connect(addr).await?)
}

/// A probe of a port in the kernel's ephemeral range (32768–60999 by default) can, while
/// nothing listens there yet, be given that very port as its source and connect to itself
/// (TCP simultaneous open). That would pass the probe of a process that is not listening, and
/// the socket's TIME_WAIT would then keep the process from binding its port for a minute (a
/// crash loop). Such a connection is reset — no TIME_WAIT — and counts as "not listening".
pub(crate) fn reject_self_connect(stream: TcpStream) -> std::io::Result<TcpStream> {
    if stream.local_addr()? == stream.peer_addr()? {
        let _ = stream.set_zero_linger();
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "nothing listens yet (the probe connected to itself)",
        ));
    }
    Ok(stream)
}

async fn http_get(port: u16, path: &str) -> ProbeResult {
    let mut stream = connect(("127.0.0.1", port))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    /// A real self-connected socket: bound to 127.0.0.1:P, then connected to 127.0.0.1:P.
    fn self_connected() -> (std::net::TcpStream, u16) {
        // SAFETY: plain socket syscalls on a descriptor this function owns; the sockaddr
        // structures are fully initialised and sized.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
                0
            );
            let mut bound: libc::sockaddr_in = std::mem::zeroed();
            let mut blen = len;
            libc::getsockname(fd, &mut bound as *mut _ as *mut libc::sockaddr, &mut blen);
            assert_eq!(
                libc::connect(fd, &bound as *const _ as *const libc::sockaddr, len),
                0,
                "self-connect"
            );
            (
                std::net::TcpStream::from_raw_fd(fd),
                u16::from_be(bound.sin_port),
            )
        }
    }

    #[tokio::test]
    async fn a_probe_connected_to_itself_fails_and_leaves_the_port_bindable() {
        let (std_stream, port) = self_connected();
        std_stream.set_nonblocking(true).unwrap();
        let stream = TcpStream::from_std(std_stream).unwrap();
        let err = reject_self_connect(stream).expect_err("a self-connection is not a listener");
        assert!(err.to_string().contains("connected to itself"), "{err}");
        // The process the probe waits for can now bind its port (no TIME_WAIT left behind).
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("port bindable after the probe");
    }

    #[tokio::test]
    async fn a_real_listener_passes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(connect(("127.0.0.1", port)).await.is_ok());
    }
}

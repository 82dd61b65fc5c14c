//! Test kit for the proxy tests: a real upstream HTTP server on port 0 (echo, streaming, SSE,
//! WebSocket echo, slow answers), a proxy started on port 0, a raw-socket HTTP client for
//! requests no well-behaved client would send, and the process's RSS.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use runway::proxy::{Proxy, ProxyConfig, RouteConfig, UpstreamMap, UpstreamState};
use sha1::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

type TestBody = BoxBody<Bytes, std::io::Error>;

fn full(text: impl Into<Bytes>) -> TestBody {
    Full::new(text.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A running test upstream.
pub struct Upstream {
    pub addr: SocketAddr,
    /// Connections accepted so far (keep-alive reuse shows as fewer connections than requests).
    pub connections: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        Self::start_on("127.0.0.1:0".parse().expect("addr")).await
    }

    pub async fn start_on(addr: SocketAddr) -> Upstream {
        let listener = TcpListener::bind(addr).await.expect("bind upstream");
        let addr = listener.local_addr().expect("upstream addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop, mut stop_rx) = watch::channel(false);
        let counter = connections.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stop_rx.wait_for(|s| *s) => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut conn_stop = stop_rx.clone();
                tokio::spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(
                            TokioIo::new(stream),
                            hyper::service::service_fn(move |req| serve(req, addr.port())),
                        )
                        .with_upgrades();
                    tokio::select! {
                        _ = conn => {}
                        _ = conn_stop.wait_for(|s| *s) => {}
                    }
                });
            }
        });
        Upstream {
            addr,
            connections,
            stop,
        }
    }

    /// Stops accepting and closes every connection (the process "died").
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn query_param(req: &Request<Incoming>, name: &str) -> Option<u64> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.parse().ok())?
    })
}

async fn serve(mut req: Request<Incoming>, port: u16) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_string();
    let response = match path.as_str() {
        "/upload" | "/api/upload" => {
            // Count the body without keeping it.
            let mut body = req.into_body();
            let mut total: u64 = 0;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => {
                        if let Some(data) = frame.data_ref() {
                            total += data.len() as u64;
                        }
                    }
                    Err(err) => {
                        return Ok(Response::builder()
                            .status(StatusCode::BAD_REQUEST)
                            .body(full(format!("body error: {err}")))
                            .expect("response"));
                    }
                }
            }
            Response::new(full(total.to_string()))
        }
        "/download" => {
            let size = query_param(&req, "bytes").unwrap_or(1024);
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let chunks = size.div_ceil(chunk.len() as u64);
            let stream = futures_util::stream::iter(0..chunks).map(move |i| {
                let len = (size - i * chunk.len() as u64).min(chunk.len() as u64) as usize;
                Ok::<_, std::io::Error>(Frame::data(chunk.slice(..len)))
            });
            Response::new(BodyExt::boxed(StreamBody::new(stream)))
        }
        "/sse" => {
            let stream = futures_util::stream::unfold(0u64, |n| async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Some((
                    Ok::<_, std::io::Error>(Frame::data(Bytes::from(format!(
                        "data: tick {n}\n\n"
                    )))),
                    n + 1,
                ))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .expect("response")
        }
        "/slow" => {
            let ms = query_param(&req, "ms").unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Response::new(full("slow"))
        }
        "/ws" => websocket(&mut req),
        _ => echo(req, port).await,
    };
    Ok(response)
}

/// Answers with what arrived: method, path and query, headers, body length.
async fn echo(req: Request<Incoming>, port: u16) -> Response<TestBody> {
    let (parts, body) = req.into_parts();
    let mut headers: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in &parts.headers {
        headers
            .entry(name.to_string())
            .or_default()
            .push(value.to_str().unwrap_or("<binary>").to_string());
    }
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let value = serde_json::json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body_len": body.len(),
        "upstream_port": port,
    });
    Response::builder()
        .header("content-type", "application/json")
        .header("connection", "x-hop")
        .header("x-hop", "must not reach the client")
        .header("keep-alive", "timeout=5")
        .body(full(value.to_string()))
        .expect("response")
}

/// RFC 6455 handshake, then echo text frames back until the client closes.
fn websocket(req: &mut Request<Incoming>) -> Response<TestBody> {
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return Response::builder()
            .status(400)
            .body(full("not a websocket request"))
            .expect("response");
    };
    let mut hasher = sha1::Sha1::new();
    hasher.update(key.as_bytes());
    hasher.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(hasher.finalize());
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        while let Some((opcode, payload)) = read_frame(&mut io, true).await {
            if opcode == 0x8 {
                let _ = write_frame(&mut io, 0x8, &[], None).await;
                return;
            }
            let mut reply = b"echo: ".to_vec();
            reply.extend_from_slice(&payload);
            if write_frame(&mut io, 0x1, &reply, None).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .body(full(""))
        .expect("response")
}

/// Reads one WebSocket frame (payload < 64 KiB); `masked` for client→server frames.
pub async fn read_frame<S: AsyncReadExt + Unpin>(
    io: &mut S,
    masked: bool,
) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await.ok()?;
    let opcode = head[0] & 0x0f;
    let mut len = (head[1] & 0x7f) as usize;
    if len == 126 {
        let mut ext = [0u8; 2];
        io.read_exact(&mut ext).await.ok()?;
        len = u16::from_be_bytes(ext) as usize;
    }
    let mut mask = [0u8; 4];
    if masked {
        io.read_exact(&mut mask).await.ok()?;
    }
    let mut payload = vec![0u8; len];
    io.read_exact(&mut payload).await.ok()?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some((opcode, payload))
}

/// Writes one final WebSocket frame; `mask` for client→server frames.
pub async fn write_frame<S: AsyncWriteExt + Unpin>(
    io: &mut S,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> std::io::Result<()> {
    let mut frame = vec![0x80 | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if payload.len() < 126 {
        frame.push(mask_bit | payload.len() as u8);
    } else {
        frame.push(mask_bit | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    match mask {
        Some(mask) => {
            frame.extend_from_slice(&mask);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => frame.extend_from_slice(payload),
    }
    io.write_all(&frame).await?;
    io.flush().await
}

/// A proxy on `127.0.0.1:0` plus the handle that publishes upstream states.
pub struct TestProxy {
    pub proxy: Proxy,
    pub addr: SocketAddr,
    pub states: watch::Sender<UpstreamMap>,
    pub dir: tempfile::TempDir,
}

impl TestProxy {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set_state(&self, name: &str, state: UpstreamState) {
        self.states.send_modify(|map| {
            let mut next = (**map).clone();
            next.insert(name.to_string(), state);
            *map = Arc::new(next);
        });
    }

    pub fn logs_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("logs")
    }
}

pub fn config() -> ProxyConfig {
    ProxyConfig {
        listen: vec!["127.0.0.1:0".to_string()],
        ..Default::default()
    }
}

/// Starts a proxy with `routes`; static dirs are relative to the returned temp dir (`dir`),
/// which is created first by `prepare`.
pub async fn start_proxy_with(
    config: ProxyConfig,
    routes: Vec<RouteConfig>,
    states: HashMap<String, UpstreamState>,
    prepare: impl FnOnce(&Path),
) -> TestProxy {
    let dir = tempfile::tempdir().expect("temp dir");
    prepare(dir.path());
    let (tx, rx) = watch::channel(Arc::new(states));
    let proxy = Proxy::bind(&config, &routes, dir.path(), rx, &dir.path().join("logs"))
        .await
        .expect("proxy binds");
    let addr = proxy.local_addrs()[0];
    TestProxy {
        proxy,
        addr,
        states: tx,
        dir,
    }
}

pub async fn start_proxy(routes: Vec<RouteConfig>) -> TestProxy {
    start_proxy_with(config(), routes, HashMap::new(), |_| {}).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// Sends raw bytes on a fresh connection and returns everything read until the server closes
/// (or `wait` passes).
pub async fn raw_request(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of the first response in a raw answer (0 if none).
pub fn status_of(raw: &str) -> u16 {
    raw.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// This process's resident set size and its peak, in KiB, from /proc/self/status.
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

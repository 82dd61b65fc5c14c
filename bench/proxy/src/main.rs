//! Benchmark helpers for runway's proxy (not a test): `proxy-bench upstream ADDR` runs a fast
//! fixed responder (the seed's backend stand-in for load tests); `proxy-bench proxy FILE` runs
//! the proxy alone from a TOML file with the manifest's `[proxy]` table and `[[route]]` list.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use runway::proxy::{Proxy, ProxyConfig, RouteConfig, UpstreamMap};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    proxy: ProxyConfig,
    #[serde(default)]
    route: Vec<RouteConfig>,
}

const BODY: &[u8] = br#"{"status":"ok","service":"backend","version":"1.0.0"}"#;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let workers: usize = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    match args.get(1).map(String::as_str) {
        Some("upstream") => {
            let addr: SocketAddr = args
                .get(2)
                .context("usage: proxy-bench upstream ADDR")?
                .parse()?;
            runtime.block_on(upstream(addr))
        }
        Some("proxy") => {
            let file = args.get(2).context("usage: proxy-bench proxy FILE")?;
            runtime.block_on(proxy(Path::new(file)))
        }
        _ => anyhow::bail!("usage: proxy-bench upstream ADDR | proxy FILE"),
    }
}

async fn upstream(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("upstream on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(BODY)))
                            .unwrap_or_default(),
                    )
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn proxy(path: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: File =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let (_tx, rx) = tokio::sync::watch::channel::<UpstreamMap>(Arc::new(Default::default()));
    let proxy = Proxy::bind(&file.proxy, &file.route, base, rx, &base.join("logs"))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("proxy on {:?}", proxy.local_addrs());
    tokio::signal::ctrl_c().await?;
    proxy.shutdown().await;
    Ok(())
}

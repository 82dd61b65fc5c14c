//! `runway verify`: the seed's section 1.6 as code. The frontend answers 200 through the proxy
//! and directly, `/api-docs/` and the backend's readiness answer 200 through the proxy and the
//! backend directly, and every enabled process is ready. One line per check with its status and
//! time; the report is also JSON; it passes only when every check does.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use super::topology::{LiveProcess, RouteTarget, Topology};

/// One HTTP GET to make.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckResult {
    pub name: String,
    pub ok: bool,
    /// HTTP status, when the check is an HTTP request that got an answer.
    pub status: Option<u16>,
    pub ms: u64,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub checks: Vec<CheckResult>,
}

/// The HTTP checks implied by the topology.
pub fn plan(topo: &Topology) -> Vec<HttpCheck> {
    let mut checks = Vec::new();
    if let Some(proxy) = topo.proxy {
        let host = if proxy.ip().is_unspecified() {
            format!("127.0.0.1:{}", proxy.port())
        } else {
            proxy.to_string()
        };
        let mut routes: Vec<_> = topo.routes.iter().collect();
        routes.sort_by(|a, b| a.path.cmp(&b.path));
        for route in routes {
            // A route to a process probes that process's readiness path when it lives under
            // the route (`/api` → `/api/ready`); otherwise the route itself, with a slash so
            // `/api-docs` lands on the docs page rather than a redirect.
            let ready = match &route.target {
                RouteTarget::Process(p) => topo.process(p).and_then(|p| {
                    if !p.enabled {
                        return None;
                    }
                    p.ready_path.clone()
                }),
                _ => None,
            };
            if matches!(&route.target, RouteTarget::Process(p) if topo.process(p).is_some_and(|p| !p.enabled))
            {
                continue;
            }
            let path = match ready {
                Some(r) if route.path != "/" && under(&r, &route.path) => r,
                _ if route.path.ends_with('/') => route.path.clone(),
                _ => format!("{}/", route.path),
            };
            checks.push(HttpCheck {
                name: format!("proxy {}", route.path),
                url: format!("http://{host}{path}"),
            });
        }
    }
    for p in &topo.processes {
        if !p.enabled {
            continue;
        }
        if let (Some(port), Some(path)) = (p.port, &p.ready_path) {
            checks.push(HttpCheck {
                name: format!("{} direct", p.name),
                url: format!("http://127.0.0.1:{port}{path}"),
            });
        }
    }
    checks
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
}

/// Runs the HTTP checks (concurrently) and the process-state checks.
pub async fn run(
    checks: &[HttpCheck],
    live: Option<&[LiveProcess]>,
    topo: &Topology,
    timeout: Duration,
) -> VerifyReport {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let futures = checks.iter().map(|c| {
        let client = client.clone();
        async move {
            let started = Instant::now();
            let outcome = http_get(&client, &c.url, timeout).await;
            let ms = started.elapsed().as_millis() as u64;
            match outcome {
                Ok(status) => CheckResult {
                    name: c.name.clone(),
                    ok: status == 200,
                    status: Some(status),
                    ms,
                    detail: c.url.clone(),
                },
                Err(e) => CheckResult {
                    name: c.name.clone(),
                    ok: false,
                    status: None,
                    ms,
                    detail: format!("{}: {e}", c.url),
                },
            }
        }
    });
    let mut results = futures_util::future::join_all(futures).await;

    match live {
        Some(live) => {
            for p in topo.processes.iter().filter(|p| p.enabled) {
                let state = live
                    .iter()
                    .find(|l| l.name == p.name)
                    .map(|l| l.state.clone());
                results.push(CheckResult {
                    name: format!("process {}", p.name),
                    ok: state.as_deref() == Some("ready"),
                    status: None,
                    ms: 0,
                    detail: state.unwrap_or_else(|| "not known to the daemon".to_string()),
                });
            }
        }
        None => results.push(CheckResult {
            name: "daemon".to_string(),
            ok: false,
            status: None,
            ms: 0,
            detail: "no runway daemon answers for this state directory (start it with `runway up`)"
                .to_string(),
        }),
    }
    VerifyReport {
        ok: results.iter().all(|r| r.ok),
        checks: results,
    }
}

async fn http_get(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    url: &str,
    timeout: Duration,
) -> Result<u16, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad url: {e}"))?;
    let request = async {
        let resp = client
            .get(uri)
            .await
            .map_err(|e| describe_client_error(&e))?;
        let status = resp.status().as_u16();
        // Read the body so a half-written response counts as a failure.
        resp.into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?;
        Ok(status)
    };
    tokio::time::timeout(timeout, request)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
}

fn describe_client_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return "connection refused (nothing listens there)".to_string();
            }
            return io.to_string();
        }
        source = s.source();
    }
    e.to_string()
}

impl VerifyReport {
    /// One line per check: `ok   proxy /api          200   3 ms  http://...`.
    pub fn render(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            let status = c
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "{:<4} {:<width$}  {:>3}  {:>5} ms  {}\n",
                if c.ok { "ok" } else { "FAIL" },
                c.name,
                status,
                c.ms,
                c.detail,
            ));
        }
        let failed = self.checks.iter().filter(|c| !c.ok).count();
        if failed == 0 {
            out.push_str(&format!("all {} checks passed\n", self.checks.len()));
        } else {
            out.push_str(&format!(
                "{failed} of {} checks failed (`runway doctor` explains common causes)\n",
                self.checks.len()
            ));
        }
        out
    }
}

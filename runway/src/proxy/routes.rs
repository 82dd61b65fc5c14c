//! The route table compiled from `[[route]]`: longest prefix on path-segment boundaries, an
//! optional host match, and what each route leads to.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::config::{ProxyConfig, RouteConfig, normalize_prefix, parse_host_port};
use super::error::{ProxyError, load_page};
use super::files::StaticDir;

/// Where a route sends its requests.
#[derive(Debug)]
pub enum Target {
    /// A manifest process: its address comes from the `UpstreamTable`.
    Process(String),
    /// A fixed address, resolved when the configuration is applied.
    Upstream(SocketAddr),
    Static(StaticDir),
}

#[derive(Debug)]
pub struct Route {
    /// Normalised prefix: `/` or `/seg[/seg...]` without a trailing slash.
    pub prefix: String,
    /// Lower-case host name, if the route is limited to one.
    pub host: Option<String>,
    pub strip_prefix: bool,
    pub target: Target,
    /// `Target::Upstream`'s address as a URI authority, formatted once.
    pub authority: Option<http::uri::Authority>,
    /// 0 = unlimited.
    pub max_body: u64,
    pub retry_window: Duration,
    pub read_timeout: Duration,
    pub error_page: Bytes,
}

impl Route {
    /// Whether `path` is under this route's prefix, on a segment boundary.
    pub fn matches_path(&self, path: &str) -> bool {
        prefix_matches(&self.prefix, path)
    }

    /// The path the target sees: without the prefix when stripping (static routes always strip).
    pub fn rest<'a>(&self, path: &'a str) -> &'a str {
        if self.prefix == "/" {
            return path;
        }
        &path[self.prefix.len().min(path.len())..]
    }
}

/// `/api` matches `/api` and `/api/x`, never `/apix`.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The compiled routes, most specific first.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
}

impl RouteTable {
    /// Validates and compiles; upstream host names are resolved now, not per request.
    pub async fn compile(
        config: &ProxyConfig,
        routes: &[RouteConfig],
        base_dir: &Path,
    ) -> Result<RouteTable, ProxyError> {
        let problems = config.shape_problems(routes);
        if !problems.is_empty() {
            return Err(ProxyError::Config(problems));
        }
        let default_page = load_page(base_dir, config.error_page.as_deref())?;
        let mut compiled = Vec::with_capacity(routes.len());
        for route in routes {
            let target = if let Some(name) = &route.process {
                Target::Process(name.clone())
            } else if let Some(upstream) = &route.upstream {
                Target::Upstream(resolve(&route.path, upstream).await?)
            } else if let Some(dir) = &route.static_dir {
                let root = base_dir.join(dir);
                Target::Static(StaticDir {
                    cache_key: format!("{}\0", root.display()),
                    root,
                    spa_fallback: route.spa_fallback.unwrap_or(true),
                })
            } else {
                return Err(ProxyError::Config(vec![format!(
                    "route {}: no target",
                    route.path
                )]));
            };
            let error_page = match &route.error_page {
                Some(page) => load_page(base_dir, Some(page))?,
                None => default_page.clone(),
            };
            let authority = match &target {
                Target::Upstream(addr) => http::uri::Authority::try_from(addr.to_string()).ok(),
                _ => None,
            };
            compiled.push(Arc::new(Route {
                authority,
                prefix: normalize_prefix(&route.path),
                host: route.host.as_ref().map(|h| h.to_ascii_lowercase()),
                strip_prefix: route.strip_prefix,
                target,
                max_body: route.max_body.unwrap_or(config.max_body).0,
                retry_window: route.retry_window.unwrap_or(config.retry_window),
                read_timeout: route.read_timeout.unwrap_or(config.upstream_read_timeout),
                error_page,
            }));
        }
        // Longest prefix first; among equal prefixes, a host-specific route first.
        compiled.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then(b.host.is_some().cmp(&a.host.is_some()))
        });
        Ok(RouteTable { routes: compiled })
    }

    /// The route for a request, if any. `host` is the Host header without its port.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&Arc<Route>> {
        self.routes.iter().find(|route| {
            route.matches_path(path)
                && route.host.as_deref().is_none_or(|wanted| {
                    host.is_some_and(|given| given.eq_ignore_ascii_case(wanted))
                })
        })
    }
}

async fn resolve(path: &str, upstream: &str) -> Result<SocketAddr, ProxyError> {
    if let Ok(addr) = upstream.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let error = |reason: String| ProxyError::Resolve {
        path: path.to_string(),
        upstream: upstream.to_string(),
        reason,
    };
    let (host, port) = parse_host_port(upstream).ok_or_else(|| error("not host:port".into()))?;
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| error(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| error("the name has no address".into()))
}

/// The Host header (or `:authority`) without its port, for host-matched routes.
pub fn request_host(req: &http::Request<impl Sized>) -> Option<&str> {
    let raw = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))?;
    host_name(raw)
}

/// A `Host` value without its port (an IPv6 literal without its brackets).
pub fn host_name(raw: &str) -> Option<&str> {
    // Byte searches: `str`'s char searchers cost more than the rest of the route lookup
    // (profiled on the fast path, which calls this per request).
    if raw.starts_with('[') {
        return raw.bytes().position(|b| b == b']').map(|end| &raw[1..end]);
    }
    Some(match raw.bytes().rposition(|b| b == b':') {
        Some(colon) => &raw[..colon],
        None => raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port_and_brackets() {
        assert_eq!(host_name("app.example"), Some("app.example"));
        assert_eq!(host_name("app.example:8080"), Some("app.example"));
        assert_eq!(host_name("[::1]:8080"), Some("::1"));
        assert_eq!(host_name("[::1]"), Some("::1"));
        assert_eq!(host_name("[::1"), None);
        assert_eq!(host_name(""), Some(""));
    }

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/users"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(!prefix_matches("/api", "/ap"));
        assert!(prefix_matches("/", "/anything"));
    }
}

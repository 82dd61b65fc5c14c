//! The proxy's part of the manifest: the `[proxy]` table and the `[[route]]` entries.
//!
//! Owned by the proxy; the manifest loader embeds these types and calls
//! [`ProxyConfig::validate`] with the names of the manifest's processes. Sizes and durations are
//! parsed once into [`ByteSize`] and [`Duration`] newtypes so nothing downstream re-parses text.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `[proxy]`: where the proxy listens and its global limits. Defaults follow nginx's.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Listen addresses, default `["127.0.0.1:8080"]`.
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Connections served at once; further clients wait in the accept queue (nginx:
    /// `worker_connections`).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Largest request head (request line + headers); bigger → 431.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: ByteSize,
    /// Most request headers; more → 431.
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// Default request body limit per route (`0` = unlimited); bigger → 413.
    #[serde(default = "default_max_body")]
    pub max_body: ByteSize,
    /// Time a client has to send a complete request head, and the idle time allowed between two
    /// requests on a kept-alive connection (slowloris defence; nginx: `client_header_timeout`).
    #[serde(default = "default_header_timeout", deserialize_with = "de_duration")]
    pub header_timeout: Duration,
    /// Time to open a connection to an upstream (nginx: `proxy_connect_timeout`).
    #[serde(default = "default_60s", deserialize_with = "de_duration")]
    pub upstream_connect_timeout: Duration,
    /// Time an upstream may take to send its response head, and the longest pause between two
    /// pieces of its body (nginx: `proxy_read_timeout`).
    #[serde(default = "default_60s", deserialize_with = "de_duration")]
    pub upstream_read_timeout: Duration,
    /// How long a request for a starting/restarting process is held before answering 502.
    #[serde(default = "default_retry_window", deserialize_with = "de_duration")]
    pub retry_window: Duration,
    /// Idle upstream connections are kept this long in the pool.
    #[serde(default = "default_pool_idle", deserialize_with = "de_duration")]
    pub pool_idle_timeout: Duration,
    /// Error page for an unreachable upstream, relative to the manifest's directory. Default:
    /// `deploy/502.html` when it exists, else a built-in page.
    #[serde(default)]
    pub error_page: Option<String>,
    /// Write `.runway/logs/proxy-access.log` (combined format + request and upstream time).
    #[serde(default = "default_true")]
    pub access_log: bool,
    /// Rotate the access log past this size.
    #[serde(default = "default_log_size")]
    pub access_log_max_size: ByteSize,
    /// Rotated access logs kept (`proxy-access.log.1` ... `.N`).
    #[serde(default = "default_log_keep")]
    pub access_log_keep: usize,
    /// Static files up to this size are kept in memory (revalidated against the disk each second).
    #[serde(default = "default_static_cache_file")]
    pub static_cache_max_file: ByteSize,
    /// Total memory for cached static files.
    #[serde(default = "default_static_cache_total")]
    pub static_cache_max_total: ByteSize,
    /// Compressible static files at least this big are compressed on the fly when no
    /// precompressed sibling exists.
    #[serde(default = "default_compress_min")]
    pub compress_min_size: ByteSize,
    /// `shutdown` waits this long for in-flight requests before closing connections.
    #[serde(default = "default_shutdown_timeout", deserialize_with = "de_duration")]
    pub shutdown_timeout: Duration,
    /// Threads serving connections (nginx's `worker_processes`); 0 = one per CPU core.
    #[serde(default)]
    pub workers: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: default_listen(),
            max_connections: default_max_connections(),
            max_header_bytes: default_max_header_bytes(),
            max_headers: default_max_headers(),
            max_body: default_max_body(),
            header_timeout: default_header_timeout(),
            upstream_connect_timeout: default_60s(),
            upstream_read_timeout: default_60s(),
            retry_window: default_retry_window(),
            pool_idle_timeout: default_pool_idle(),
            error_page: None,
            access_log: true,
            access_log_max_size: default_log_size(),
            access_log_keep: default_log_keep(),
            static_cache_max_file: default_static_cache_file(),
            static_cache_max_total: default_static_cache_total(),
            compress_min_size: default_compress_min(),
            shutdown_timeout: default_shutdown_timeout(),
            workers: 0,
        }
    }
}

fn default_listen() -> Vec<String> {
    vec!["127.0.0.1:8080".to_string()]
}
fn default_max_connections() -> usize {
    4096
}
fn default_max_header_bytes() -> ByteSize {
    ByteSize(32 * 1024)
}
fn default_max_headers() -> usize {
    100
}
fn default_max_body() -> ByteSize {
    ByteSize(10 * 1024 * 1024)
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_60s() -> Duration {
    Duration::from_secs(60)
}
fn default_retry_window() -> Duration {
    Duration::from_secs(5)
}
fn default_pool_idle() -> Duration {
    Duration::from_secs(60)
}
fn default_true() -> bool {
    true
}
fn default_log_size() -> ByteSize {
    ByteSize(10 * 1024 * 1024)
}
fn default_log_keep() -> usize {
    5
}
fn default_static_cache_file() -> ByteSize {
    ByteSize(2 * 1024 * 1024)
}
fn default_static_cache_total() -> ByteSize {
    ByteSize(32 * 1024 * 1024)
}
fn default_compress_min() -> ByteSize {
    ByteSize(1024)
}
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}

/// One `[[route]]`: a path prefix sent to a process, an upstream address or a static directory.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Path prefix, matched on segment boundaries (`/api` matches `/api/x`, not `/apix`).
    pub path: String,
    /// Name of a manifest process (its port).
    pub process: Option<String>,
    /// A fixed upstream `host:port`.
    pub upstream: Option<String>,
    /// A directory served as static files (relative to the manifest's directory). The route's
    /// prefix is always removed before the file is looked up.
    #[serde(rename = "static")]
    pub static_dir: Option<String>,
    /// Only requests whose `Host` (without port) equals this name, case-insensitively.
    #[serde(default)]
    pub host: Option<String>,
    /// Remove the prefix before forwarding (`/app/x` → `/x`).
    #[serde(default)]
    pub strip_prefix: bool,
    /// Request body limit for this route (`0` = unlimited); default `[proxy] max_body`.
    #[serde(default)]
    pub max_body: Option<ByteSize>,
    /// Error page for this route, relative to the manifest's directory.
    #[serde(default)]
    pub error_page: Option<String>,
    /// Static routes: serve `index.html` for extensionless paths that accept HTML (default
    /// true).
    #[serde(default)]
    pub spa_fallback: Option<bool>,
    /// Overrides `[proxy] retry_window` for this route.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub retry_window: Option<Duration>,
    /// Overrides `[proxy] upstream_read_timeout` for this route.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub read_timeout: Option<Duration>,
}

impl RouteConfig {
    /// A route to a manifest process.
    pub fn to_process(path: &str, process: &str) -> Self {
        RouteConfig {
            path: path.to_string(),
            process: Some(process.to_string()),
            ..Default::default()
        }
    }

    /// A route to a fixed upstream address.
    pub fn to_upstream(path: &str, upstream: &str) -> Self {
        RouteConfig {
            path: path.to_string(),
            upstream: Some(upstream.to_string()),
            ..Default::default()
        }
    }

    /// A route serving a static directory.
    pub fn to_static(path: &str, dir: &str) -> Self {
        RouteConfig {
            path: path.to_string(),
            static_dir: Some(dir.to_string()),
            ..Default::default()
        }
    }
}

/// More worker threads than this is a typo, not a tuning.
const MAX_WORKERS: usize = 256;

impl ProxyConfig {
    /// `workers`, with 0 meaning one per CPU core (as nginx's `worker_processes auto`).
    pub fn worker_threads(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// Checks the routes against the manifest's process names; returns every problem found.
    pub fn validate(
        &self,
        routes: &[RouteConfig],
        process_names: &[&str],
    ) -> Result<(), Vec<String>> {
        let mut problems = self.shape_problems(routes);
        for route in routes {
            if let Some(name) = &route.process
                && !process_names.contains(&name.as_str())
            {
                problems.push(format!("route {}: unknown process `{name}`", route.path));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Every problem that can be seen without knowing the manifest's processes.
    pub(crate) fn shape_problems(&self, routes: &[RouteConfig]) -> Vec<String> {
        let mut problems = Vec::new();
        if self.listen.is_empty() {
            problems.push("proxy.listen: at least one address is needed".to_string());
        }
        if self.workers > MAX_WORKERS {
            problems.push(format!(
                "proxy.workers: {} is more than {MAX_WORKERS} (0 = one per CPU core)",
                self.workers
            ));
        }
        for addr in &self.listen {
            if addr.parse::<SocketAddr>().is_err() {
                problems.push(format!(
                    "proxy.listen: `{addr}` is not an IP:port address (e.g. 127.0.0.1:8080)"
                ));
            }
        }
        if self.max_connections == 0 {
            problems.push("proxy.max_connections: must be at least 1".to_string());
        }
        if self.max_headers == 0 {
            problems.push("proxy.max_headers: must be at least 1".to_string());
        }
        if self.max_header_bytes.0 < 8192 {
            problems.push("proxy.max_header_bytes: must be at least 8KiB".to_string());
        }
        if self.header_timeout.is_zero() {
            problems.push("proxy.header_timeout: must be more than 0s".to_string());
        }
        if self.upstream_connect_timeout.is_zero() || self.upstream_read_timeout.is_zero() {
            problems.push("proxy.upstream_*_timeout: must be more than 0s".to_string());
        }
        let mut seen: Vec<(String, Option<String>)> = Vec::new();
        for route in routes {
            let targets = [
                route.process.is_some(),
                route.upstream.is_some(),
                route.static_dir.is_some(),
            ]
            .iter()
            .filter(|set| **set)
            .count();
            if targets != 1 {
                problems.push(format!(
                    "route {}: exactly one of `process`, `upstream`, `static` must be set",
                    route.path
                ));
            }
            if !route.path.starts_with('/') {
                problems.push(format!(
                    "route {}: the path must start with `/`",
                    route.path
                ));
            }
            if route.path.contains(['?', '#', '%', '\\']) || route.path.contains("//") {
                problems.push(format!(
                    "route {}: the path must be a plain prefix (no `?`, `#`, `%`, `\\`, `//`)",
                    route.path
                ));
            }
            if let Some(upstream) = &route.upstream
                && parse_host_port(upstream).is_none()
            {
                problems.push(format!(
                    "route {}: upstream `{upstream}` is not host:port (e.g. 127.0.0.1:3000)",
                    route.path
                ));
            }
            if let Some(dir) = &route.static_dir
                && dir.is_empty()
            {
                problems.push(format!("route {}: `static` is empty", route.path));
            }
            let key = (
                normalize_prefix(&route.path),
                route.host.as_ref().map(|h| h.to_ascii_lowercase()),
            );
            if seen.contains(&key) {
                problems.push(format!(
                    "route {}: declared twice{}",
                    route.path,
                    route
                        .host
                        .as_ref()
                        .map(|h| format!(" for host {h}"))
                        .unwrap_or_default()
                ));
            }
            seen.push(key);
        }
        problems
    }
}

/// `/api/` and `/api` name the same prefix; `/` stays `/`.
pub(crate) fn normalize_prefix(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

/// `host:port` with a non-empty host and a numeric port.
pub(crate) fn parse_host_port(text: &str) -> Option<(&str, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        return None;
    }
    Some((host, port))
}

/// A size in bytes, written as a number or with a unit: `512`, `64KiB`, `10MiB`, `1G`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `10MiB`, `10MB`, `10M`, `10m`, `4096` (all binary units: nginx's meaning).
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let number: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a size (e.g. 512, 64KiB, 10MiB, 1GiB)"))?;
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            _ => {
                return Err(format!(
                    "`{text}`: unknown size unit (use B, KiB, MiB or GiB)"
                ));
            }
        };
        number
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(text) => ByteSize::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

pub use crate::manifest::units::parse_duration;

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(u64),
    Text(String),
}

fn de_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    match RawDuration::deserialize(deserializer)? {
        RawDuration::Seconds(n) => Ok(Duration::from_secs(n)),
        RawDuration::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

fn de_opt_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    de_duration(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_with_units() {
        assert_eq!(ByteSize::parse("10MiB"), Ok(ByteSize(10 << 20)));
        assert_eq!(ByteSize::parse("64k"), Ok(ByteSize(64 << 10)));
        assert_eq!(ByteSize::parse("512"), Ok(ByteSize(512)));
        assert!(ByteSize::parse("ten").is_err());
        assert!(ByteSize::parse("1TB").is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5 days").is_err());
    }

    #[test]
    fn manifest_tables_deserialize_and_reject_unknown_keys() {
        let config: ProxyConfig = toml::from_str(
            "listen = [\"127.0.0.1:9000\"]\nmax_body = \"1MiB\"\nretry_window = \"2s\"",
        )
        .expect("valid [proxy]");
        assert_eq!(config.max_body, ByteSize(1 << 20));
        assert_eq!(config.retry_window, Duration::from_secs(2));
        assert!(toml::from_str::<ProxyConfig>("listn = []").is_err());
        let route: RouteConfig =
            toml::from_str("path = \"/api\"\nprocess = \"backend\"\nmax_body = 0")
                .expect("valid [[route]]");
        assert_eq!(route.max_body, Some(ByteSize(0)));
    }

    #[test]
    fn validation_names_every_problem() {
        let config = ProxyConfig {
            listen: vec!["localhost".into()],
            ..Default::default()
        };
        let routes = vec![
            RouteConfig::to_process("api", "nope"),
            RouteConfig::to_upstream("/x", "no-port"),
            RouteConfig::to_static("/s", "dist"),
            RouteConfig::to_static("/s/", "other"),
        ];
        let problems = config
            .validate(&routes, &["backend"])
            .expect_err("invalid config");
        let text = problems.join("\n");
        for needle in [
            "localhost",
            "must start with `/`",
            "unknown process `nope`",
            "no-port",
            "declared twice",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }
}

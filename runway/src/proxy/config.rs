//! The proxy's part of the manifest: the `[proxy]` table and the `[[route]]` entries.
//!
//! Owned by the proxy; the manifest loader embeds these types and calls
//! [`ProxyConfig::validate`] with the names of the manifest's processes.

use serde::Deserialize;

/// `[proxy]`: where the proxy listens and its global limits.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Listen addresses, default `["127.0.0.1:8080"]`.
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
}

fn default_listen() -> Vec<String> {
    vec!["127.0.0.1:8080".to_string()]
}

/// One `[[route]]`: a path prefix sent to a process, an upstream address or a static directory.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Path prefix, matched on segment boundaries (`/api` matches `/api/x`, not `/apix`).
    pub path: String,
    /// Name of a manifest process (its port).
    pub process: Option<String>,
    /// A fixed upstream `host:port`.
    pub upstream: Option<String>,
    /// A directory served as static files (relative to the manifest's directory).
    #[serde(rename = "static")]
    pub static_dir: Option<String>,
}

impl ProxyConfig {
    /// Checks the routes against the manifest's process names; returns every problem found.
    pub fn validate(
        &self,
        routes: &[RouteConfig],
        process_names: &[&str],
    ) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
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
}

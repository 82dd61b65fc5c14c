//! The reverse proxy and static file server that replace nginx.
//!
//! Contract with the rest of runway (kept small on purpose so the supervisor, the deployer and
//! the proxy can evolve separately):
//! - configuration: [`config::ProxyConfig`] (the manifest's `[proxy]` table) and
//!   [`config::RouteConfig`] (each `[[route]]`), deserialised by the manifest loader;
//! - upstream state: an [`UpstreamTable`], a `watch` channel the supervisor (and the deployer,
//!   when it switches a route to a new release) writes and the proxy reads. A request for a
//!   process that is `Starting` is held up to the retry window until it becomes `Ready`.

pub mod config;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Where a manifest process can be reached right now, as far as the proxy is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamState {
    /// Ready to serve at this address.
    Ready(SocketAddr),
    /// Starting or restarting: hold requests for up to the retry window.
    Starting,
    /// Stopped, errored or unknown: answer 502 at once.
    Down,
}

/// Process name → state. Published by the supervisor, read by the proxy.
pub type UpstreamMap = Arc<HashMap<String, UpstreamState>>;

/// The receiving side the proxy holds; `changed().await` wakes held requests.
pub type UpstreamTable = tokio::sync::watch::Receiver<UpstreamMap>;

//! What verify and doctor need to know about the app, independent of how the manifest is
//! parsed: the proxy's address, the routes, the processes with their ports and readiness
//! paths, and (when the daemon runs) each process's live state.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// Where the proxy listens (`None`: no proxy in this manifest).
    pub proxy: Option<SocketAddr>,
    pub routes: Vec<RouteView>,
    pub processes: Vec<ProcessView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteView {
    pub path: String,
    pub target: RouteTarget,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RouteTarget {
    Process(String),
    Upstream(String),
    Static(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessView {
    pub name: String,
    pub port: Option<u16>,
    /// HTTP readiness path, when the readiness probe is HTTP.
    pub ready_path: Option<String>,
    /// False when the process is declared but not started in this configuration (e.g. the
    /// tunnel without CF_TUNNEL_TOKEN, or the dev server in production).
    pub enabled: bool,
}

/// A process as the daemon reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveProcess {
    pub name: String,
    /// starting, ready, unhealthy, backoff, stopping, stopped, errored.
    pub state: String,
    pub pid: Option<i32>,
}

impl Topology {
    pub fn process(&self, name: &str) -> Option<&ProcessView> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// The port a route's requests go to, when it goes to a port.
    pub fn route_port(&self, route: &RouteView) -> Option<u16> {
        match &route.target {
            RouteTarget::Process(name) => self.process(name).and_then(|p| p.port),
            RouteTarget::Upstream(addr) => addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok()),
            RouteTarget::Static(_) => None,
        }
    }
}

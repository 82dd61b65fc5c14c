//! The reverse proxy and static file server that replace nginx.
//!
//! Contract with the rest of runway (kept small on purpose so the supervisor, the deployer and
//! the proxy can evolve separately):
//! - configuration: [`config::ProxyConfig`] (the manifest's `[proxy]` table) and
//!   [`config::RouteConfig`] (each `[[route]]`), deserialised by the manifest loader;
//! - upstream state: an [`UpstreamTable`], a `watch` channel the supervisor (and the deployer,
//!   when it switches a route to a new release) writes and the proxy reads. A request for a
//!   process that is `Starting` is held up to the retry window until it becomes `Ready`.

//!
//! Layout: `config` (manifest tables), `routes` (the compiled table), `workers` (the threads
//! connections run on), `server` (listeners, connections, dispatch), `forward` (proxying),
//! `client` (the own HTTP/1.1 upstream client for bodiless requests), `pool` (upstream
//! connections, per worker thread), `files` + `paths` (static files),
//! `headers`, `body`, `accesslog`, `error`; `fast` (the client side's fast path for plain
//! proxied and static requests, before hyper).

mod accesslog;
mod body;
mod client;
mod clock;
pub mod config;
mod error;
mod fast;
mod files;
mod forward;
mod framing;
mod headers;
mod paths;
mod pool;
mod routes;
mod server;
mod workers;
mod zerocopy;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{Notify, Semaphore, watch};

pub use config::{ByteSize, ProxyConfig, RouteConfig};
pub use error::ProxyError;

use accesslog::{AccessLog, LogWriter};
use files::{FileLimits, StaticFiles};
use routes::RouteTable;
use server::{Runtime, Shared};
use workers::Workers;

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

/// A running proxy: its listeners, connections and current route table.
pub struct Proxy {
    shared: Arc<Shared>,
    workers: Arc<Workers>,
    listeners: Mutex<Vec<Listener>>,
    base_dir: PathBuf,
    log_writer: Option<LogWriter>,
}

struct Listener {
    /// The address as configured (`127.0.0.1:0` stays `127.0.0.1:0` across reloads).
    configured: String,
    local: SocketAddr,
    stop: watch::Sender<bool>,
}

fn file_limits(config: &ProxyConfig) -> FileLimits {
    FileLimits {
        max_file: config.static_cache_max_file.0,
        max_total: config.static_cache_max_total.0,
        compress_min: config.compress_min_size.0,
    }
}

impl Proxy {
    /// Validates the configuration, binds every listen address and starts serving.
    /// `base_dir` is the manifest's directory (static dirs and error pages are relative to it);
    /// the access log goes to `logs_dir/proxy-access.log`.
    pub async fn bind(
        config: &ProxyConfig,
        routes: &[RouteConfig],
        base_dir: &Path,
        upstreams: UpstreamTable,
        logs_dir: &Path,
    ) -> Result<Proxy, ProxyError> {
        let table = RouteTable::compile(config, routes, base_dir).await?;
        let mut bound = Vec::with_capacity(config.listen.len());
        for addr in &config.listen {
            bound.push((addr.clone(), server::bind(addr)?));
        }
        let (log, log_writer) = if config.access_log {
            let (log, writer) = AccessLog::open(
                logs_dir,
                config.access_log_max_size.0,
                config.access_log_keep,
            )
            .map_err(|source| ProxyError::AccessLog {
                dir: logs_dir.to_path_buf(),
                source,
            })?;
            (log, Some(writer))
        } else {
            (AccessLog::disabled(), None)
        };
        let workers = Arc::new(
            Workers::start(config.worker_threads(), config.pool_idle_timeout).map_err(
                |source| ProxyError::Bind {
                    addr: "worker threads".to_string(),
                    source,
                },
            )?,
        );
        let shared = Arc::new(Shared {
            runtime: RwLock::new(Arc::new(Runtime {
                config: config.clone(),
                routes: table,
            })),
            id: server::NEXT_PROXY_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            upstreams,
            files: StaticFiles::new(file_limits(config)),
            log,
            active: AtomicUsize::new(0),
            idle: Notify::new(),
            shutdown: watch::channel(false).0,
            kill: watch::channel(false).0,
            slots: Arc::new(Semaphore::new(config.max_connections)),
        });
        let mut listeners = Vec::with_capacity(bound.len());
        for (configured, listener) in bound {
            listeners.push(start_listener(&shared, &workers, configured, listener)?);
        }
        Ok(Proxy {
            shared,
            workers,
            listeners: Mutex::new(listeners),
            base_dir: base_dir.to_path_buf(),
            log_writer,
        })
    }

    /// The bound addresses (real ports when `:0` was configured).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        match self.listeners.lock() {
            Ok(listeners) => listeners.iter().map(|l| l.local).collect(),
            Err(poisoned) => poisoned.into_inner().iter().map(|l| l.local).collect(),
        }
    }

    /// Applies a new configuration. An invalid one is rejected and the old keeps serving; open
    /// connections and in-flight requests are untouched (in-flight requests finish with the
    /// routes they started with). New listen addresses are bound, removed ones stop accepting.
    /// `max_connections`, `workers` and `access_log*` apply from the next start.
    pub async fn reload(
        &self,
        config: &ProxyConfig,
        routes: &[RouteConfig],
    ) -> Result<(), ProxyError> {
        let table = RouteTable::compile(config, routes, &self.base_dir).await?;
        let mut listeners = match self.listeners.lock() {
            Ok(listeners) => listeners,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut fresh = Vec::new();
        for addr in &config.listen {
            if !listeners.iter().any(|l| &l.configured == addr) {
                fresh.push((addr.clone(), server::bind(addr)?));
            }
        }
        // Every worker reads the new table for its next request; the warm upstream pools stay.
        let runtime = Arc::new(Runtime {
            config: config.clone(),
            routes: table,
        });
        self.workers.set_idle_timeout(config.pool_idle_timeout);
        self.shared.set_runtime(runtime);
        self.shared.files.reset(file_limits(config));
        listeners.retain(|listener| {
            let keep = config.listen.contains(&listener.configured);
            if !keep {
                let _ = listener.stop.send(true);
            }
            keep
        });
        for (configured, listener) in fresh {
            listeners.push(start_listener(
                &self.shared,
                &self.workers,
                configured,
                listener,
            )?);
        }
        tracing::info!("proxy: configuration reloaded ({} routes)", routes.len());
        Ok(())
    }

    /// Stops accepting, lets in-flight requests finish (up to `shutdown_timeout`), then closes
    /// every connection and flushes the access log.
    pub async fn shutdown(self) {
        let timeout = self.shared.runtime().config.shutdown_timeout;
        if let Ok(listeners) = self.listeners.lock() {
            for listener in listeners.iter() {
                let _ = listener.stop.send(true);
            }
        }
        let _ = self.shared.shutdown.send(true);
        let drained = tokio::time::timeout(timeout, async {
            loop {
                let idle = self.shared.idle.notified();
                if self.shared.active.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "proxy: {} connections still open after {timeout:?}; closing them",
                self.shared.active.load(Ordering::SeqCst)
            );
            let _ = self.shared.kill.send(true);
        }
        if let Some(writer) = self.log_writer {
            writer.finish().await;
        }
    }
}

fn start_listener(
    shared: &Arc<Shared>,
    workers: &Arc<Workers>,
    configured: String,
    listener: tokio::net::TcpListener,
) -> Result<Listener, ProxyError> {
    let local = listener.local_addr().map_err(|source| ProxyError::Bind {
        addr: configured.clone(),
        source,
    })?;
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(server::accept_loop(
        shared.clone(),
        workers.clone(),
        listener,
        stop_rx,
    ));
    tracing::info!("proxy: listening on http://{local}");
    Ok(Listener {
        configured,
        local,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    /// The daemon keeps the proxy in an `Arc` and calls it from spawned tasks.
    #[test]
    fn the_proxy_and_its_futures_can_cross_tasks() {
        assert_send_sync::<Proxy>();
        #[allow(clippy::diverging_sub_expression, unreachable_code, unused_variables)]
        fn check(
            proxy: &Proxy,
            config: &ProxyConfig,
            routes: &[RouteConfig],
            table: UpstreamTable,
        ) {
            assert_send(&proxy.reload(config, routes));
            assert_send(&Proxy::bind(
                config,
                routes,
                Path::new("."),
                table,
                Path::new("."),
            ));
        }
        let _ = check;
    }
}

//! The client side: listeners, the connection limit, HTTP/1.1 (and h2c) connections with their
//! header limits and timeouts, and the per-request dispatch to a route. Each connection starts
//! on the fast path ([`super::fast`]) and is handed to hyper at its first request that is not a
//! plain proxied or static one.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::header;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

use super::UpstreamTable;
use super::accesslog::{AccessLog, Line, body_bytes};
use super::body::Body;
use super::config::ProxyConfig;
use super::error::{ProxyError, error_response, refuse};
use super::fast;
use super::files::{FileRequest, StaticFiles};
use super::forward::{Forwarded, forward};
use super::framing::FramingGuard;
use super::headers::{Peer, framing_problem, prefers_json};
use super::routes::{RouteTable, Target, request_host};
use super::workers::Workers;

/// What a configuration compiles to; swapped whole on reload. In-flight requests keep the one
/// they started with.
pub struct Runtime {
    pub config: ProxyConfig,
    pub routes: RouteTable,
}

/// State shared by every connection.
pub struct Shared {
    pub runtime: RwLock<Arc<Runtime>>,
    /// Unique per proxy (the key of the worker threads' cached runtime).
    pub id: u64,
    /// Bumped after each swap of `runtime`.
    pub generation: AtomicU64,
    pub upstreams: UpstreamTable,
    pub files: StaticFiles,
    pub log: AccessLog,
    pub active: AtomicUsize,
    pub idle: Notify,
    /// `true`: finish in-flight requests, then close.
    pub shutdown: watch::Sender<bool>,
    /// `true`: close now (the shutdown timeout passed).
    pub kill: watch::Sender<bool>,
    pub slots: Arc<Semaphore>,
}

impl Shared {
    pub fn runtime(&self) -> Arc<Runtime> {
        match self.runtime.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps the runtime; every worker picks it up at its next request.
    pub fn set_runtime(&self, runtime: Arc<Runtime>) {
        match self.runtime.write() {
            Ok(mut current) => *current = runtime,
            Err(poisoned) => *poisoned.into_inner() = runtime,
        }
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The current runtime through this thread's cache: per request only a load of
    /// `generation` and a count in this thread's own memory, where the lock and the shared
    /// `Arc`'s count bounced a cache line between the worker threads on every request.
    pub fn local_runtime(&self) -> Arc<LocalRuntime> {
        let generation = self.generation.load(Ordering::Acquire);
        LOCAL_RUNTIME.with(|cell| {
            let mut cached = cell.borrow_mut();
            if let Some(hit) = cached.as_ref()
                && hit.proxy == self.id
                && hit.generation == generation
            {
                return hit.runtime.clone();
            }
            let runtime = Arc::new(LocalRuntime(self.runtime()));
            *cached = Some(CachedRuntime {
                proxy: self.id,
                generation,
                runtime: runtime.clone(),
            });
            runtime
        })
    }
}

/// A worker thread's own handle on the shared runtime (its count lives in this thread's memory).
pub struct LocalRuntime(Arc<Runtime>);

impl std::ops::Deref for LocalRuntime {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.0
    }
}

struct CachedRuntime {
    proxy: u64,
    generation: u64,
    runtime: Arc<LocalRuntime>,
}

thread_local! {
    /// The runtime last used on this thread.
    static LOCAL_RUNTIME: RefCell<Option<CachedRuntime>> = const { RefCell::new(None) };
}

/// Source of `Shared::id`.
pub static NEXT_PROXY_ID: AtomicU64 = AtomicU64::new(0);

/// Binds one listen address (SO_REUSEADDR, a deep accept queue).
pub fn bind(addr_text: &str) -> Result<TcpListener, ProxyError> {
    let error = |source: std::io::Error| ProxyError::Bind {
        addr: addr_text.to_string(),
        source,
    };
    let addr: SocketAddr = addr_text.parse().map_err(|_| {
        ProxyError::Config(vec![format!("proxy.listen: `{addr_text}` is not IP:port")])
    })?;
    let socket = if addr.is_ipv6() {
        TcpSocket::new_v6()
    } else {
        TcpSocket::new_v4()
    }
    .map_err(error)?;
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(addr).map_err(error)?;
    socket.listen(1024).map_err(error)
}

/// Accepts until `stop` turns true (or its sender is gone); each connection takes a slot of the
/// connection limit and runs on one of the workers.
pub async fn accept_loop(
    shared: Arc<Shared>,
    workers: Arc<Workers>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let permit = tokio::select! {
            permit = shared.slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                // Re-registered with the worker's own reactor below.
                let stream = match stream.into_std() {
                    Ok(stream) => stream,
                    Err(err) => {
                        tracing::warn!("proxy: accepted connection unusable: {err}");
                        continue;
                    }
                };
                let active = Active::new(shared.clone());
                workers.spawn(async move {
                    if let Ok(stream) = TcpStream::from_std(stream) {
                        serve_connection(&active.0, stream, peer).await;
                    }
                    drop(permit);
                    drop(active);
                });
            }
            Err(err) => {
                // Out of descriptors or similar: back off instead of spinning.
                tracing::warn!("proxy: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Counts an open connection; released even when the task is dropped unrun (workers stopped).
struct Active(Arc<Shared>);

impl Active {
    fn new(shared: Arc<Shared>) -> Active {
        shared.active.fetch_add(1, Ordering::SeqCst);
        Active(shared)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

struct ConnContext {
    shared: Arc<Shared>,
    peer: Peer,
    ambiguous: Arc<AtomicBool>,
}

async fn serve_connection(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let config = shared.runtime().config.clone();
    let peer = Peer::new(peer);
    let mut shutdown = shared.shutdown.subscribe();
    let mut kill = shared.kill.subscribe();

    // Plain proxied requests first ([`fast`]); the rest of the connection goes to hyper.
    let stopping = AtomicBool::new(false);
    let outcome = {
        let fast = fast::serve(shared, &peer, stream, &config, &stopping);
        // Polled first on every wake-up: a shutdown marks `stopping` before the fast path
        // looks at it (an idle connection then closes, an in-flight request finishes).
        let stop = std::pin::pin!(async {
            let _ = shutdown.wait_for(|s| *s).await;
            stopping.store(true, Ordering::Relaxed);
            let _ = kill.wait_for(|k| *k).await;
        });
        let stop = gated(stop, shared.shutdown.subscribe());
        tokio::select! {
            biased;
            _ = stop => return,
            outcome = fast => outcome,
        }
    };
    let fast::Outcome::Hyper(stream, replay) = outcome else {
        return;
    };
    if stopping.load(Ordering::Relaxed) {
        return;
    }

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size((config.max_header_bytes.0 as usize).max(8192))
        .max_headers(config.max_headers)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(config.max_header_bytes.0.min(u32::MAX as u64) as u32);
    // The bytes the fast path read come first (and are watched by the framing guard too).
    let stream = FramingGuard::new(fast::Rewind::new(replay, stream));
    // One per connection: what each request clones is counted in this connection's memory,
    // not in `Shared`'s (touched by every worker thread).
    let context = Arc::new(ConnContext {
        shared: shared.clone(),
        peer,
        ambiguous: stream.flag(),
    });
    let service = hyper::service::service_fn(move |req| {
        let context = context.clone();
        async move {
            let ambiguous = context.ambiguous.load(Ordering::SeqCst);
            Ok::<_, Infallible>(handle(&context.shared, req, &context.peer, ambiguous).await)
        }
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let stop = std::pin::pin!(shutdown.wait_for(|s| *s));
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = gated(stop, shared.shutdown.subscribe()) => {}
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = kill.wait_for(|k| *k) => {}
    }
}

/// `inner` (a wait for the shutdown signal), polled once to register its waker and again only
/// once `probe` saw the signal change. Polling a registered `watch` wait takes the lock that
/// every connection of both worker threads shares, and the connection's task polls its
/// shutdown wait on every wake-up (twice per proxied request); checking `probe` is one atomic
/// load. The registered waker stays valid: a task's waker does not change between polls.
fn gated<'a, F: Future>(
    mut inner: Pin<&'a mut F>,
    probe: watch::Receiver<bool>,
) -> impl Future<Output = F::Output> + 'a {
    let mut registered = false;
    std::future::poll_fn(move |cx| {
        if registered && !probe.has_changed().unwrap_or(true) {
            return std::task::Poll::Pending;
        }
        registered = true;
        inner.as_mut().poll(cx)
    })
}

/// One request: framing checks, route lookup, then static files or forwarding; then the log.
async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    peer: &Peer,
    ambiguous: bool,
) -> Response<Body> {
    let started = Instant::now();
    let logged = shared.log.enabled().then(|| {
        (
            req.method().clone(),
            req.uri().clone(),
            req.version(),
            req.headers().get(header::REFERER).cloned(),
            req.headers().get(header::USER_AGENT).cloned(),
        )
    });
    let forwarded = dispatch(shared, req, peer, ambiguous).await;
    if let Some((method, uri, version, referer, user_agent)) = logged {
        shared.log.record(&Line {
            client: &peer.ip_text,
            method: method.as_str(),
            target: uri.path_and_query().map_or("/", |pq| pq.as_str()),
            version,
            status: forwarded.response.status(),
            bytes: body_bytes(&forwarded.response),
            referer: referer.as_ref().map(|v| v.as_bytes()),
            user_agent: user_agent.as_ref().map(|v| v.as_bytes()),
            request_time: forwarded.request_time(started),
            upstream_time: forwarded.upstream_time(),
        });
    }
    forwarded.response
}

async fn dispatch(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    peer: &Peer,
    ambiguous: bool,
) -> Forwarded {
    let problem = if ambiguous {
        Some("both Content-Length and Transfer-Encoding, or repeated framing headers")
    } else {
        framing_problem(req.headers())
    };
    if let Some(problem) = problem {
        tracing::info!("proxy: refused a request from {}: {problem}", peer.addr);
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("ambiguous request framing: {problem}"),
            prefers_json(req.headers(), req.uri().path()),
        )
        .into();
    }
    let runtime = shared.local_runtime();
    let route = runtime.routes.find(request_host(&req), req.uri().path());
    let Some(route) = route else {
        let json = prefers_json(req.headers(), req.uri().path());
        return error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no route for this path",
            json,
            None,
        )
        .into();
    };
    match &route.target {
        Target::Static(dir) => {
            let rest = route.rest(req.uri().path());
            let headers = FileRequest::from_headers(req.headers());
            let answer = shared.files.serve(dir, req.method(), rest, &headers).await;
            answer.into_response().into()
        }
        _ => forward(&runtime.config, &shared.upstreams, route, req, peer).await,
    }
}

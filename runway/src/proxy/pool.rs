//! Keep-alive connections to upstreams, one pool per proxy worker thread.
//!
//! Each worker thread ([`super::workers`]) runs a single-threaded tokio runtime that drives a
//! client connection, the upstream connection it forwards to and the response body, so the pool
//! is thread-local: checking a connection out or in is a `Vec` push/pop with no lock and no
//! cross-thread wake-up (hyper-util's legacy pool used a mutex and an extra task per request to
//! put a connection back).
//!
//! Two kinds of connection, each in its own idle list: plain sockets for the proxy's own
//! HTTP/1.1 client ([`super::client`], requests without a body) and hyper `client::conn`
//! senders (requests with a body, upgrades); a request for hyper's kind takes a plain one
//! (wrapping it) when it has none of its own, so a warm connection serves either. A connection goes back to the pool when its
//! response body was read to the end ([`PooledBody`], [`super::client::DirectBody`]); one whose
//! body was abandoned, or that was upgraded, is dropped (and closed). Idle connections expire
//! after `pool_idle_timeout` ([`sweep`], run by each worker).

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::Outgoing;
use super::client::DirectConn;
use super::clock::Coarse;
use crate::supervisor::probe::reject_self_connect;

/// Idle connections kept per upstream address and worker thread.
const MAX_IDLE_PER_UPSTREAM: usize = 256;

type Sender = SendRequest<Outgoing>;

struct Idle {
    sender: Sender,
    since: Coarse,
}

#[derive(Default)]
struct Pool {
    /// Per upstream: oldest first; checkout takes the newest (warm, least likely to have been
    /// closed by the upstream's own keep-alive timeout).
    idle: PerUpstream<Idle>,
    /// The same for the plain connections of [`super::client`].
    direct: PerUpstream<IdleDirect>,
}

/// Idle lists by upstream address. A proxy has a handful of upstreams, so a scan of a short
/// list beats hashing the address at every checkout and checkin (SipHash showed in profiles).
struct PerUpstream<T>(Vec<(SocketAddr, Vec<T>)>);

impl<T> Default for PerUpstream<T> {
    fn default() -> Self {
        PerUpstream(Vec::new())
    }
}

impl<T> PerUpstream<T> {
    fn get_mut(&mut self, addr: &SocketAddr) -> Option<&mut Vec<T>> {
        self.0
            .iter_mut()
            .find(|(known, _)| known == addr)
            .map(|(_, list)| list)
    }

    fn entry(&mut self, addr: SocketAddr) -> &mut Vec<T> {
        let at = match self.0.iter().position(|(known, _)| *known == addr) {
            Some(at) => at,
            None => {
                self.0.push((addr, Vec::new()));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }

    /// Keeps the lists `keep` says to (it may also shorten them).
    fn retain(&mut self, mut keep: impl FnMut(&mut Vec<T>) -> bool) {
        self.0.retain_mut(|(_, list)| keep(list));
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

struct IdleDirect {
    conn: DirectConn,
    since: Coarse,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// A connection to an upstream, ready for one request.
pub struct Conn {
    pub sender: Sender,
    pub addr: SocketAddr,
    /// Taken from the pool (it may turn out to have been closed by the upstream meanwhile).
    pub reused: bool,
}

/// The upstream could not be reached (nothing was sent: any request may be retried).
#[derive(Debug)]
pub struct ConnectError(pub io::Error);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn take_idle(addr: SocketAddr, idle_timeout: Duration) -> Option<Sender> {
    POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let list = pool.idle.get_mut(&addr)?;
        while let Some(idle) = list.pop() {
            if idle.since.elapsed() < idle_timeout && !idle.sender.is_closed() {
                return Some(idle.sender);
            }
        }
        None
    })
    .ok()
    .flatten()
}

/// A warm connection from this thread's pool, or a new one.
pub async fn checkout(
    addr: SocketAddr,
    connect_timeout: Duration,
    idle_timeout: Duration,
) -> Result<Conn, ConnectError> {
    while let Some(mut sender) = take_idle(addr, idle_timeout) {
        // Usually ready at once; right after its previous response the connection's task may
        // not have run yet to mark it idle (it runs on this same thread).
        if sender.is_ready() || poll_fn(|cx| sender.poll_ready(cx)).await.is_ok() {
            return Ok(Conn {
                sender,
                addr,
                reused: true,
            });
        }
    }
    // A plain idle connection becomes a hyper one (its buffer is empty: nothing is lost). Most
    // idle connections are plain ones, as most requests have no body.
    if let Some(conn) = take_idle_direct(addr, idle_timeout)
        && let Ok(sender) = handshake(addr, conn.into_stream()).await
    {
        return Ok(Conn {
            sender,
            addr,
            reused: true,
        });
    }
    let sender = match tokio::time::timeout(connect_timeout, connect(addr)).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(ConnectError(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect timed out after {connect_timeout:?}"),
            )));
        }
    };
    Ok(Conn {
        sender,
        addr,
        reused: false,
    })
}

/// A plain warm connection from this thread's pool (one the upstream closed meanwhile is
/// dropped here), or a new one.
pub async fn checkout_direct(
    addr: SocketAddr,
    connect_timeout: Duration,
    idle_timeout: Duration,
) -> Result<DirectConn, ConnectError> {
    if let Some(mut conn) = take_idle_direct(addr, idle_timeout) {
        conn.reused = true;
        return Ok(conn);
    }
    match tokio::time::timeout(connect_timeout, open(addr)).await {
        Ok(stream) => Ok(DirectConn::new(stream?, addr)),
        Err(_) => Err(ConnectError(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connect timed out after {connect_timeout:?}"),
        ))),
    }
}

fn take_idle_direct(addr: SocketAddr, idle_timeout: Duration) -> Option<DirectConn> {
    POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let list = pool.direct.get_mut(&addr)?;
        while let Some(idle) = list.pop() {
            if idle.since.elapsed() < idle_timeout && idle.conn.looks_alive() {
                return Some(idle.conn);
            }
        }
        None
    })
    .ok()
    .flatten()
}

/// Puts a plain connection whose last response ended cleanly back into this thread's pool.
pub fn checkin_direct(conn: DirectConn) {
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let list = pool.direct.entry(conn.addr);
        if list.len() < MAX_IDLE_PER_UPSTREAM {
            list.push(IdleDirect {
                conn,
                since: Coarse::now(),
            });
        }
    });
}

async fn open(addr: SocketAddr) -> Result<TcpStream, ConnectError> {
    let stream = TcpStream::connect(addr).await.map_err(ConnectError)?;
    // An upstream port in the ephemeral range with nothing listening can be "reached" by our
    // own socket (TCP simultaneous open); that is a refused connection, not an upstream.
    let stream = reject_self_connect(stream).map_err(ConnectError)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn connect(addr: SocketAddr) -> Result<Sender, ConnectError> {
    handshake(addr, open(addr).await?).await
}

async fn handshake(addr: SocketAddr, stream: TcpStream) -> Result<Sender, ConnectError> {
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|err| ConnectError(io::Error::other(err)))?;
    // Spawned on the current (worker) runtime: the same thread as the client connection.
    tokio::spawn(async move {
        if let Err(err) = conn.with_upgrades().await {
            tracing::debug!("proxy: upstream connection to {addr}: {err}");
        }
    });
    Ok(sender)
}

/// Puts a connection whose last response was read completely back into this thread's pool.
fn checkin(addr: SocketAddr, sender: Sender) {
    if sender.is_closed() {
        return;
    }
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let list = pool.idle.entry(addr);
        if list.len() < MAX_IDLE_PER_UPSTREAM {
            list.push(Idle {
                sender,
                since: Coarse::now(),
            });
        }
    });
}

/// Drops this thread's idle connections older than `idle_timeout` or already closed.
pub fn sweep(idle_timeout: Duration) {
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.idle.retain(|list| {
            list.retain(|idle| idle.since.elapsed() < idle_timeout && !idle.sender.is_closed());
            !list.is_empty()
        });
        pool.direct.retain(|list| {
            list.retain(|idle| idle.since.elapsed() < idle_timeout && idle.conn.looks_alive());
            !list.is_empty()
        });
    });
}

/// Drops every idle connection of this thread (the worker is stopping).
pub fn clear() {
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.idle.clear();
        pool.direct.clear();
    });
}

/// An upstream response body that returns its connection to the pool once read to the end.
pub struct PooledBody {
    inner: Incoming,
    conn: Option<(SocketAddr, Sender)>,
    done: bool,
}

impl PooledBody {
    pub fn new(inner: Incoming, conn: Conn) -> PooledBody {
        let mut body = PooledBody {
            inner,
            conn: Some((conn.addr, conn.sender)),
            done: false,
        };
        // No body to read (HEAD, 204, 304, empty): the connection is free now.
        if http_body::Body::is_end_stream(&body.inner) {
            body.release();
        }
        body
    }

    fn release(&mut self) {
        self.done = true;
        if let Some((addr, sender)) = self.conn.take() {
            checkin(addr, sender);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            // hyper stops polling a body once it says it has ended, so release on the last
            // frame, not only on `None`.
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) if http_body::Body::is_end_stream(&this.inner) => {
                this.release()
            }
            Poll::Ready(Some(Err(_))) => {
                // A broken body leaves the connection unusable.
                this.done = true;
                this.conn = None;
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        if !self.done && self.inner.is_end_stream() {
            self.release();
        }
    }
}

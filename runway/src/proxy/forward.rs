//! Forwarding one request to an upstream: rewrite the head, pick the address (holding the
//! request while the process is starting), send on a pooled keep-alive connection (this worker
//! thread's [`super::pool`]), retry when that is safe, and pass upgrades (WebSocket, Vite HMR)
//! through as raw byte streams.
//!
//! Requests without a body that are not upgrades go through the proxy's own HTTP/1.1 client
//! ([`super::client`], inline in this task); the others through hyper's `client::conn`
//! (its connection task on the same worker thread). Same rules for both: hop-by-hop headers,
//! timeouts, retries of idempotent requests on a dead kept-alive connection.

use std::future::{Future as _, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, Sleep};

use super::body::{Body, BodyTooLarge, ClientBodyError, IdleTimeout, Outgoing, caused_by};
use super::client::{self, Failure, RequestHead};
use super::clock;
use super::config::ProxyConfig;
use super::error::{error_response, refuse};
use super::headers::{Peer, add_forwarded, prefers_json, strip_hop_by_hop, upgrade_protocol};
use super::pool::{self, Conn, PooledBody};
use super::routes::{Route, Target};
use super::{UpstreamState, UpstreamTable};

/// While a `Ready` process refuses connections (it just died and the supervisor has not noticed
/// yet), retry this often within the retry window.
const REFUSED_POLL: Duration = Duration::from_millis(50);

/// An idempotent request whose connection died under it (a kept-alive connection the upstream
/// had closed, or the upstream killed mid-request) is tried again on a fresh attempt, this many
/// times at most within the retry window: after a `kill -9` every pooled connection to the
/// dead process fails this way, one after the other.
const MAX_DEAD_CONNECTION_RETRIES: u32 = 8;

/// A request's start and the timer its upstream read deadline is kept on: the connection's
/// own on the fast path (one timer for all its requests, see `clock::poll_deadline`), a fresh
/// one on hyper's.
pub struct RequestClock<'t> {
    pub started: Instant,
    pub timer: Pin<&'t mut Sleep>,
}

/// What forwarding produced: the response, and when the upstream was asked and answered.
pub struct Forwarded {
    pub response: Response<Body>,
    pub upstream: Option<Timing>,
}

/// When a request went to the upstream (for the first attempt, when it started: a connect is
/// counted, as in nginx's `$upstream_response_time`) and when the response head came back.
#[derive(Clone, Copy)]
pub struct Timing {
    pub sent: Instant,
    pub answered: Instant,
}

impl Forwarded {
    /// The upstream's time to answer (the access log's `urt`).
    pub fn upstream_time(&self) -> Option<Duration> {
        self.upstream
            .map(|t| t.answered.saturating_duration_since(t.sent))
    }

    /// The time from `started` to the answer (the access log's `rt`): read from the upstream's
    /// answer when there is one (no clock read), else now.
    pub fn request_time(&self, started: Instant) -> Duration {
        match self.upstream {
            Some(t) => t.answered.saturating_duration_since(started),
            None => started.elapsed(),
        }
    }
}

impl From<Response<Body>> for Forwarded {
    fn from(response: Response<Body>) -> Self {
        Forwarded {
            response,
            upstream: None,
        }
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The upstream path: the route prefix removed when the route strips it.
pub fn upstream_path(route: &Route, uri: &Uri) -> Option<PathAndQuery> {
    let original = uri.path_and_query()?;
    if !route.strip_prefix || route.prefix == "/" {
        return Some(original.clone());
    }
    let rest = route.rest(uri.path());
    let rest = if rest.is_empty() { "/" } else { rest };
    let text = match uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_string(),
    };
    PathAndQuery::try_from(text).ok()
}

pub async fn forward(
    config: &ProxyConfig,
    upstreams: &UpstreamTable,
    route: &Route,
    mut req: Request<Incoming>,
    peer: &Peer,
) -> Forwarded {
    let json = prefers_json(req.headers(), req.uri().path());

    if route.max_body > 0 && declared_length(req.headers()).is_some_and(|len| len > route.max_body)
    {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the request body is larger than {} bytes", route.max_body),
            json,
        )
        .into();
    }

    let upgrade = if req.version() == Version::HTTP_11 {
        upgrade_protocol(req.headers())
    } else {
        None
    };
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));

    let (parts, body) = req.into_parts();
    let Some(path) = upstream_path(route, &parts.uri) else {
        return refuse(StatusCode::BAD_REQUEST, "bad_request", "invalid path", json).into();
    };
    let mut headers = parts.headers;
    prepare_headers(&mut headers, &parts.uri, peer);
    if let Some(protocol) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
    let method = parts.method;
    let has_body = !body.is_end_stream();
    if !has_body && upgrade.is_none() {
        // Bodiless, not an upgrade: the proxy's own client (see `client` for what goes where).
        let head = RequestHead::Map {
            path: &path,
            headers: &headers,
        };
        let started = Instant::now();
        let timer = tokio::time::sleep_until(started + route.read_timeout);
        tokio::pin!(timer);
        let clock = RequestClock { started, timer };
        return forward_direct(config, upstreams, route, &method, head, json, clock).await;
    }
    let idempotent = is_idempotent(&method);
    let mut body = has_body.then_some(body);

    let deadline = Instant::now() + route.retry_window;
    // Only a route to a process watches the table (a clone touches state shared by threads).
    let mut table = matches!(route.target, Target::Process(_)).then(|| upstreams.clone());
    let mut dead_connection_retries = 0u32;
    loop {
        let addr = match upstream_addr(route, table.as_mut(), deadline, json).await {
            Ok((addr, _)) => addr,
            Err(failed) => return failed,
        };
        let checked = pool::checkout(
            addr,
            config.upstream_connect_timeout,
            config.pool_idle_timeout,
        )
        .await;
        let conn = match checked {
            Ok(conn) => conn,
            Err(err) => {
                match connect_failed(route, table.as_mut(), deadline, addr, err, json).await {
                    Some(failed) => return failed,
                    None => continue,
                }
            }
        };
        let mut conn = conn;

        let (outgoing, reclaim) = match body.take() {
            Some(incoming) => {
                let (outgoing, reclaim) = Outgoing::new(incoming, route.max_body);
                (outgoing, Some(reclaim))
            }
            None => (Outgoing::empty(), None),
        };
        let mut upstream_req = Request::new(outgoing);
        *upstream_req.method_mut() = method.clone();
        // Origin form (`/path?query`): the connection is to the upstream itself.
        *upstream_req.uri_mut() = Uri::from(path.clone());
        *upstream_req.version_mut() = Version::HTTP_11;
        *upstream_req.headers_mut() = headers.clone();
        if !upstream_req.headers().contains_key(header::HOST) {
            upstream_req
                .headers_mut()
                .insert(header::HOST, upstream_host(addr, route.authority.as_ref()));
        }

        let sent = Instant::now();
        let result =
            tokio::time::timeout(route.read_timeout, conn.sender.send_request(upstream_req)).await;
        match result {
            Err(_) => return gateway_timeout(route, json),
            Ok(Ok(response)) => {
                let answered = Instant::now();
                let response = relay(response, conn, client_upgrade, route, json);
                return Forwarded {
                    response,
                    upstream: Some(Timing { sent, answered }),
                };
            }
            Ok(Err(err)) => {
                if caused_by::<BodyTooLarge>(&err) {
                    return refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        &format!("the request body is larger than {} bytes", route.max_body),
                        json,
                    )
                    .into();
                }
                if caused_by::<ClientBodyError>(&err) {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "the request body could not be read (invalid chunked encoding?)",
                        json,
                    )
                    .into();
                }
                body = reclaim.as_ref().and_then(|r| r.take());
                let body_intact = !has_body || body.is_some();
                if idempotent
                    && body_intact
                    && dead_connection_retries < MAX_DEAD_CONNECTION_RETRIES
                    && Instant::now() < deadline
                {
                    // The first retry is immediate (a stale keep-alive connection); later ones
                    // give the supervisor a moment to notice a dead process.
                    dead_connection_retries += 1;
                    if dead_connection_retries > 1 {
                        wait_for_change(table.as_mut(), deadline, Some(REFUSED_POLL)).await;
                    }
                    continue;
                }
                tracing::warn!(
                    "proxy: upstream {addr} failed ({} connection): {err}",
                    if conn.reused { "kept-alive" } else { "new" }
                );
                return bad_gateway(
                    route,
                    json,
                    &format!("the upstream at {addr} closed the connection"),
                );
            }
        }
    }
}

/// The request head's rewrite for the upstream: hop-by-hop headers out, `Expect` out, the
/// forwarding headers in, `Host` kept (from the request target when the head had none).
pub fn prepare_headers(headers: &mut HeaderMap, uri: &Uri, peer: &Peer) {
    let host = headers.get(header::HOST).cloned().or_else(|| {
        uri.authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    strip_hop_by_hop(headers);
    // We answer `100 Continue` ourselves when we start reading the body for the upstream.
    headers.remove(header::EXPECT);
    add_forwarded(headers, peer, host.as_ref());
    if let Some(host) = host
        && !headers.contains_key(header::HOST)
    {
        headers.insert(header::HOST, host);
    }
}

/// Forwards a request without a body that is not an upgrade through the proxy's own client
/// ([`super::client`]). A [`RequestHead::Map`]'s headers are already prepared
/// ([`prepare_headers`]); the fast path ([`super::fast`]) sends a head it formatted itself.
pub async fn forward_direct(
    config: &ProxyConfig,
    upstreams: &UpstreamTable,
    route: &Route,
    method: &Method,
    head: RequestHead<'_>,
    json: bool,
    clock: RequestClock<'_>,
) -> Forwarded {
    let RequestClock { started, mut timer } = clock;
    let idempotent = is_idempotent(method);
    let process = matches!(route.target, Target::Process(_));
    let deadline = started + route.retry_window;
    let mut table = process.then(|| upstreams.clone());
    let mut dead_connection_retries = 0u32;
    // The first attempt counts as sent when the request started, unless it had to wait for
    // the process; others read the clock (see `Timing`).
    let mut first_sent = Some(started);
    loop {
        let addr = match upstream_addr(route, table.as_mut(), deadline, json).await {
            Ok((addr, waited)) => {
                if waited {
                    first_sent = None;
                }
                addr
            }
            Err(failed) => return failed,
        };
        let conn = match pool::checkout_direct(
            addr,
            config.upstream_connect_timeout,
            config.pool_idle_timeout,
        )
        .await
        {
            Ok(conn) => conn,
            Err(err) => {
                first_sent = None;
                match connect_failed(route, table.as_mut(), deadline, addr, err, json).await {
                    Some(failed) => return failed,
                    None => continue,
                }
            }
        };
        let reused = conn.reused;
        let sent = first_sent.take().unwrap_or_else(Instant::now);
        let read_deadline = sent + route.read_timeout;
        let exchange = client::exchange(conn, method, head, || {
            upstream_host(addr, route.authority.as_ref())
        });
        tokio::pin!(exchange);
        // The caller's timer, not a fresh one per exchange (see `clock::poll_deadline`).
        let result = poll_fn(|cx| {
            if let Poll::Ready(result) = exchange.as_mut().poll(cx) {
                return Poll::Ready(Some(result));
            }
            clock::poll_deadline(timer.as_mut(), read_deadline, cx).map(|()| None)
        })
        .await;
        match result {
            None => return gateway_timeout(route, json),
            Some(Ok(response)) => {
                let answered = Instant::now();
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                let body = IdleTimeout::new(body, route.read_timeout);
                return Forwarded {
                    response: Response::from_parts(parts, Body::Direct(Box::new(body))),
                    upstream: Some(Timing { sent, answered }),
                };
            }
            Some(Err(Failure::Dead(_)))
                if idempotent
                    && dead_connection_retries < MAX_DEAD_CONNECTION_RETRIES
                    && Instant::now() < deadline =>
            {
                dead_connection_retries += 1;
                if dead_connection_retries > 1 {
                    wait_for_change(table.as_mut(), deadline, Some(REFUSED_POLL)).await;
                }
                continue;
            }
            Some(Err(failure)) => {
                tracing::warn!(
                    "proxy: upstream {addr} failed ({} connection): {failure}",
                    if reused { "kept-alive" } else { "new" }
                );
                let message = match failure {
                    Failure::Dead(_) => format!("the upstream at {addr} closed the connection"),
                    Failure::Bad(_) => format!("the upstream at {addr} sent an invalid response"),
                };
                return bad_gateway(route, json, &message);
            }
        }
    }
}

/// The address to send to: the route's fixed upstream, or the process's while it is `Ready`
/// (a `Starting` one is waited for up to the retry window), and whether it was waited for.
/// `Err` is the answer to give.
async fn upstream_addr(
    route: &Route,
    mut table: Option<&mut UpstreamTable>,
    deadline: Instant,
    json: bool,
) -> Result<(SocketAddr, bool), Forwarded> {
    let mut waited = false;
    loop {
        return match &route.target {
            Target::Upstream(addr) => Ok((*addr, waited)),
            Target::Process(name) => {
                let state = table
                    .as_deref_mut()
                    .and_then(|table| table.borrow_and_update().get(name).copied());
                match state {
                    Some(UpstreamState::Ready(addr)) => Ok((addr, waited)),
                    Some(UpstreamState::Starting) => {
                        if wait_for_change(table.as_deref_mut(), deadline, None).await {
                            waited = true;
                            continue;
                        }
                        Err(bad_gateway(
                            route,
                            json,
                            &format!(
                                "`{name}` is starting and was not ready within {:?}",
                                route.retry_window
                            ),
                        ))
                    }
                    _ => Err(bad_gateway(
                        route,
                        json,
                        &format!("`{name}` is not running"),
                    )),
                }
            }
            Target::Static(_) => Err(bad_gateway(route, json, "not a proxied route")),
        };
    }
}

/// No connection to the upstream at `addr` could be made. Nothing was sent, so any method may
/// try again: `None` when the route's process changed state within the retry window (connect
/// again), else the 502 to answer.
async fn connect_failed(
    route: &Route,
    table: Option<&mut UpstreamTable>,
    deadline: Instant,
    addr: SocketAddr,
    err: impl std::fmt::Display,
    json: bool,
) -> Option<Forwarded> {
    if matches!(route.target, Target::Process(_))
        && Instant::now() < deadline
        && wait_for_change(table, deadline, Some(REFUSED_POLL)).await
    {
        return None;
    }
    tracing::warn!("proxy: cannot connect to {addr}: {err}");
    Some(bad_gateway(
        route,
        json,
        &format!("cannot connect to the upstream at {addr}"),
    ))
}

fn bad_gateway(route: &Route, json: bool, message: &str) -> Forwarded {
    error_response(
        StatusCode::BAD_GATEWAY,
        "bad_gateway",
        message,
        json,
        Some(&route.error_page),
    )
    .into()
}

fn gateway_timeout(route: &Route, json: bool) -> Forwarded {
    error_response(
        StatusCode::GATEWAY_TIMEOUT,
        "gateway_timeout",
        &format!(
            "the upstream did not answer within {:?}",
            route.read_timeout
        ),
        json,
        Some(&route.error_page),
    )
    .into()
}

/// The `Host` for a client request without one: the route's fixed upstream (formatted once
/// when the table was compiled) or the process's address.
fn upstream_host(addr: SocketAddr, authority: Option<&Authority>) -> HeaderValue {
    let text = match authority {
        Some(authority) => authority.as_str().to_string(),
        None => addr.to_string(),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("localhost"))
}

/// Waits until the upstream table changes (true), or `poll` elapses (true), or the deadline
/// passes (false). Without a table (a fixed upstream) only `poll` can end the wait early.
async fn wait_for_change(
    table: Option<&mut UpstreamTable>,
    deadline: Instant,
    poll: Option<Duration>,
) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    let until = match poll {
        Some(poll) => (now + poll).min(deadline),
        None => deadline,
    };
    let Some(table) = table else {
        tokio::time::sleep_until(until).await;
        return poll.is_some() && Instant::now() < deadline;
    };
    match tokio::time::timeout_at(until, table.changed()).await {
        Ok(Ok(())) => true,
        // The supervisor is gone: nothing will become ready.
        Ok(Err(_)) => false,
        Err(_) => poll.is_some() && Instant::now() < deadline,
    }
}

/// Turns the upstream's response into ours: hop-by-hop headers out, body streamed with an idle
/// timeout, and a `101 Switching Protocols` spliced to the client.
fn relay(
    mut response: Response<Incoming>,
    conn: Conn,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    route: &Route,
    json: bool,
) -> Response<Body> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return error_response(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the upstream switched protocols unasked",
                json,
                Some(&route.error_page),
            );
        };
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((client_io, upstream_io)) => {
                    let mut client_io = TokioIo::new(client_io);
                    let mut upstream_io = TokioIo::new(upstream_io);
                    let _ = tokio::io::copy_bidirectional(&mut client_io, &mut upstream_io).await;
                }
                Err(err) => tracing::debug!("proxy: upgrade failed: {err}"),
            }
        });
        let (mut parts, _) = response.into_parts();
        let protocol = parts.headers.get(header::UPGRADE).cloned();
        strip_hop_by_hop(&mut parts.headers);
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(protocol) = protocol {
            parts.headers.insert(header::UPGRADE, protocol);
        }
        return Response::from_parts(parts, Body::empty());
    }
    let (mut parts, incoming) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(
        parts,
        Body::Upstream(Box::new(IdleTimeout::new(
            PooledBody::new(incoming, conn),
            route.read_timeout,
        ))),
    )
}

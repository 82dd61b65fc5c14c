//! The client side's fast path: plain proxied HTTP/1.1 requests served without hyper.
//!
//! Each connection starts here. The request head is read and parsed with `httparse`; a request
//! that is plain enough — GET, HEAD, DELETE or OPTIONS, HTTP/1.1, origin-form target, one
//! `Host`, no `Content-Length`/`Transfer-Encoding`/`Upgrade`/`Expect`, no `Connection` other
//! than `keep-alive`, within the header size and count limits — and whose route leads to an
//! upstream or a process is forwarded inline through the own upstream client
//! ([`super::forward::forward_direct`], the same code hyper's service uses for such requests),
//! and its response is written by [`write_response`] the way hyper would (same status line,
//! header order, `content-length`/chunked choice, `date`, `connection: close`), usually with
//! one write for head and body. Then the next head, kept-alive or pipelined.
//!
//! The request head is never turned into a `HeaderMap`: [`parse`] records where the target and
//! each header sit in the read buffer (which keeps the bytes until the request is done), and
//! [`write_upstream_head`] formats the upstream head from them into a buffer kept per
//! connection, with `prepare_headers`' rules (hop-by-hop out, forwarding headers via
//! [`ForwardedIn`]; a unit test compares both). Per request that saved the header map's
//! hashing, a `HeaderName`/`HeaderValue`/`Bytes` per header and the forwarding headers'
//! allocations (docs/benchmarks.md, issue 5, 2026-12-03).
//!
//! A plain request on a static route is answered here too ([`serve_static`]): the static file
//! server's own response, written the same way (a big cached file with `sendfile`).
//!
//! Anything else — a body, an upgrade, the h2c preface, HTTP/1.0, an unrouted path, any
//! malformed or over-limit head — hands the connection to hyper ([`Outcome::Hyper`]) with
//! the bytes already read, which [`Rewind`] replays first; hyper then serves the rest of that
//! connection exactly as before (its own 400/431 answers, smuggling checks, static files).
//!
//! Why: per proxied request hyper's server cost a second parse of the head (the framing guard),
//! a boxed header-read timer armed and dropped, the service and dispatch state machines, and a
//! poll of the shutdown signal's shared lock on every wake-up; CPU per proxied request was
//! above nginx's (docs/benchmarks.md, issue 5).
//!
//! Kept the same as on hyper's path: the header read timeout (counted from the start of the
//! wait for a head, idle keep-alive included; the connection is closed when it passes, as hyper
//! does), graceful shutdown (an idle connection closes, an in-flight request finishes and its
//! response says `connection: close`), the access log line, the forwarding headers and every
//! upstream rule (they are `forward_direct`'s).

use std::cell::RefCell;
use std::future::{Future as _, poll_fn};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use http_body::Body as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::accesslog::{Line, body_bytes};
use super::body::Body;
use super::client::RequestHead;
use super::clock;
use super::config::ProxyConfig;
use super::files::{FileRequest, StaticDir};
use super::forward::{RequestClock, forward_direct};
use super::headers::{ForwardedIn, Peer, prefers_json_text, value_text};
use super::routes::{Target, host_name};
use super::server::Shared;
use super::zerocopy::{self, ZeroCopyWrite};

/// Header slots parsed on the fast path; a head with more goes to hyper (which applies
/// `max_headers`).
const MAX_FAST_HEADERS: usize = 64;
/// The read buffer's size: a typical head, and several pipelined ones.
const READ_BUF: usize = 8 * 1024;
/// Body frames up to this size are copied behind the head (one write); bigger ones are
/// written from their own buffer.
const COPY_BODY: usize = 16 * 1024;

/// How a connection left the fast path.
pub enum Outcome {
    /// Done: closed by the client, timed out, failed, or shut down.
    Closed,
    /// Something the fast path does not serve: hyper serves the connection from here on,
    /// starting with these bytes (already read from the socket).
    Hyper(TcpStream, Bytes),
}

/// What a header of a plain request is to the fast path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Other,
    Host,
    /// Hop-by-hop (`Connection: keep-alive`, `Keep-Alive`, `TE`, `Trailer`, `Proxy-*`): not sent
    /// upstream.
    Hop,
    /// `Connection` (only `keep-alive` stays on the fast path; then it is hop-by-hop).
    Connection,
    XForwardedFor,
    XForwardedProto,
    XForwardedHost,
    Forwarded,
    Accept,
    Referer,
    UserAgent,
    /// Framing (`Content-Length`, `Transfer-Encoding`: smuggling checks are hyper's),
    /// `Upgrade`, `Expect`: the request is hyper's.
    Refuse,
}

fn kind(name: &[u8]) -> Kind {
    let is = |known: &[u8]| name.eq_ignore_ascii_case(known);
    let known = match name.len() {
        2 if is(b"te") => Kind::Hop,
        4 if is(b"host") => Kind::Host,
        6 if is(b"accept") => Kind::Accept,
        6 if is(b"expect") => Kind::Refuse,
        7 if is(b"referer") => Kind::Referer,
        7 if is(b"trailer") => Kind::Hop,
        7 if is(b"upgrade") => Kind::Refuse,
        9 if is(b"forwarded") => Kind::Forwarded,
        10 if is(b"connection") => Kind::Connection,
        10 if is(b"keep-alive") => Kind::Hop,
        10 if is(b"user-agent") => Kind::UserAgent,
        14 if is(b"content-length") => Kind::Refuse,
        15 if is(b"x-forwarded-for") => Kind::XForwardedFor,
        16 if is(b"x-forwarded-host") => Kind::XForwardedHost,
        17 if is(b"x-forwarded-proto") => Kind::XForwardedProto,
        17 if is(b"transfer-encoding") => Kind::Refuse,
        _ => Kind::Other,
    };
    if known == Kind::Other && name.len() >= 6 && name[..6].eq_ignore_ascii_case(b"proxy-") {
        return Kind::Hop;
    }
    known
}

/// Where a header sits in the read buffer.
#[derive(Clone, Copy)]
struct Span {
    name: (usize, usize),
    value: (usize, usize),
    kind: Kind,
}

const NO_SPAN: Span = Span {
    name: (0, 0),
    value: (0, 0),
    kind: Kind::Other,
};

/// A plain request's head, as offsets into the start of the read buffer (which keeps the
/// bytes until the request is done): no `HeaderMap`, no `Bytes` per header. Kept per
/// connection and refilled for each request.
struct Head {
    /// The head's length in the buffer.
    len: usize,
    method: Method,
    /// The request target (origin form) and where its query starts, if it has one.
    target: (usize, usize),
    query: Option<usize>,
    count: usize,
    headers: [Span; MAX_FAST_HEADERS],
    /// Index in `headers` of the first header of a kind the fast path reads.
    host: usize,
    accept: Option<usize>,
    referer: Option<usize>,
    user_agent: Option<usize>,
    xff: Option<usize>,
    xfp: Option<usize>,
    xfh: Option<usize>,
    forwarded: Option<usize>,
}

impl Head {
    fn new() -> Head {
        Head {
            len: 0,
            method: Method::GET,
            target: (0, 0),
            query: None,
            count: 0,
            headers: [NO_SPAN; MAX_FAST_HEADERS],
            host: 0,
            accept: None,
            referer: None,
            user_agent: None,
            xff: None,
            xfp: None,
            xfh: None,
            forwarded: None,
        }
    }

    fn value<'b>(&self, buf: &'b [u8], at: usize) -> &'b [u8] {
        let (start, len) = self.headers[at].value;
        &buf[start..start + len]
    }

    fn value_of<'b>(&self, buf: &'b [u8], at: Option<usize>) -> Option<&'b [u8]> {
        at.map(|at| self.value(buf, at))
    }

    /// The request target (ASCII, checked by [`scan_target`]).
    fn target<'b>(&self, buf: &'b [u8]) -> &'b str {
        let (start, len) = self.target;
        let target = &buf[start..start + len];
        if !target.is_ascii() {
            // Not a head `parse` described; never the case.
            return "/";
        }
        // SAFETY: ASCII (checked just above; `scan_target` admits nothing else) is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(target) }
    }

    /// The target's path (without the query).
    fn path<'b>(&self, buf: &'b [u8]) -> &'b str {
        let target = self.target(buf);
        match self.query {
            Some(at) => &target[..at],
            None => target,
        }
    }
}

/// Returned once per request.
enum Parsed {
    /// More bytes needed.
    Partial,
    /// Not for the fast path (or not valid): hyper gets it.
    Hyper,
    /// A plain request: its head is described by the connection's [`Head`].
    Request,
}

/// Serves the connection's requests until it closes or one needs hyper. `stopping` turns true
/// when the proxy shuts down (set by the caller, which also wakes this future).
pub async fn serve(
    shared: &Arc<Shared>,
    peer: &Peer,
    mut stream: TcpStream,
    config: &ProxyConfig,
    stopping: &AtomicBool,
) -> Outcome {
    let max_head = config.max_header_bytes.0.min(usize::MAX as u64) as usize;
    let max_headers = config.max_headers.min(MAX_FAST_HEADERS);
    let header_timeout = config.header_timeout;
    let mut buf = BytesMut::with_capacity(READ_BUF);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    // The upstream request head, formatted here for each request (kept: no allocation).
    let mut upstream_head: Vec<u8> = Vec::with_capacity(1024);
    let mut head = Head::new();
    // One timer for the connection's life, moved only when it fires early (see `read_head`):
    // no timer-wheel insert and removal per request.
    let timer = tokio::time::sleep(header_timeout);
    tokio::pin!(timer);
    // Likewise one for the upstream read deadlines (set in the past: it fires on its first
    // wait and is moved to that wait's deadline; see `clock::poll_deadline`).
    let exchange_timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(exchange_timer);
    loop {
        match read_head(
            &mut stream,
            &mut buf,
            &mut head,
            timer.as_mut(),
            header_timeout,
            max_head,
            max_headers,
            stopping,
        )
        .await
        {
            Ok(Parsed::Request) => {}
            Ok(Parsed::Hyper) => return Outcome::Hyper(stream, buf.freeze()),
            Ok(Parsed::Partial) | Err(_) => return Outcome::Closed,
        }
        let started = Instant::now();
        let runtime = shared.local_runtime();
        let bytes = &buf[..head.len];
        let path = head.path(bytes);
        let host_text = value_text(head.value(bytes, head.host));
        let route = match runtime.routes.find(host_text.and_then(host_name), path) {
            Some(route) => route,
            // No route: hyper's path answers those.
            None => return Outcome::Hyper(stream, buf.freeze()),
        };
        if let Target::Static(dir) = &route.target {
            let served = serve_static(
                shared,
                peer,
                &mut stream,
                &mut buf,
                &head,
                &mut out,
                route,
                dir,
                stopping,
                started,
            )
            .await;
            match served {
                Ok(true) => continue,
                Ok(false) | Err(_) => return Outcome::Closed,
            }
        }
        let accept = head
            .value_of(bytes, head.accept)
            .and_then(value_text)
            .unwrap_or("");
        let json = prefers_json_text(accept, path);
        write_upstream_head(&mut upstream_head, bytes, &head, host_text, route, peer);
        // Bytes behind this head: a pipelined request (the client is not gone).
        let mut pipelined = buf.len() > head.len;
        let forwarded = {
            let clock = RequestClock {
                started,
                timer: exchange_timer.as_mut(),
            };
            let forwarding = forward_direct(
                &runtime.config,
                &shared.upstreams,
                route,
                &head.method,
                RequestHead::Raw(&upstream_head),
                json,
                clock,
            );
            tokio::pin!(forwarding);
            // A client that leaves while the upstream works cancels the request (as with hyper,
            // which tears the connection down on such an EOF).
            poll_fn(|cx| {
                if let Poll::Ready(forwarded) = forwarding.as_mut().poll(cx) {
                    return Poll::Ready(Some(forwarded));
                }
                match client_gone(&stream, cx, &mut pipelined) {
                    Poll::Ready(()) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
        };
        let Some(forwarded) = forwarded else {
            return Outcome::Closed;
        };
        log_request(
            shared,
            peer,
            &buf[..head.len],
            &head,
            (forwarded.response.status(), body_bytes(&forwarded.response)),
            forwarded.request_time(started),
            forwarded.upstream_time(),
        );
        let (parts, body) = forwarded.response.into_parts();
        buf.advance(head.len);
        let close = stopping.load(Ordering::Relaxed);
        match write_response(
            &mut stream,
            &mut out,
            &head.method,
            (parts.status, Headers::Map(parts.headers), body),
            close,
            pipelined,
        )
        .await
        {
            Ok(true) => {}
            Ok(false) | Err(_) => return Outcome::Closed,
        }
        if out.capacity() > 64 * 1024 {
            out = Vec::with_capacity(1024);
        }
        if upstream_head.capacity() > 64 * 1024 {
            upstream_head = Vec::with_capacity(1024);
        }
    }
}

/// The access-log line of a fast-path request (`bytes`: its head, described by `head`); the
/// same line hyper's path writes for it.
fn log_request(
    shared: &Shared,
    peer: &Peer,
    bytes: &[u8],
    head: &Head,
    (status, sent): (StatusCode, Option<u64>),
    request_time: Duration,
    upstream_time: Option<Duration>,
) {
    if !shared.log.enabled() {
        return;
    }
    shared.log.record(&Line {
        client: &peer.ip_text,
        method: head.method.as_str(),
        target: head.target(bytes),
        version: Version::HTTP_11,
        status,
        bytes: sent,
        referer: head.value_of(bytes, head.referer),
        user_agent: head.value_of(bytes, head.user_agent),
        request_time,
        upstream_time,
    });
}

/// A request on a static route: the static file server's own answer
/// ([`StaticFiles::serve`](super::files::StaticFiles::serve), the one hyper's path calls, fed
/// the same request headers through [`FileRequest`]), its header list written by
/// [`write_response`] as hyper would write the map hyper's path makes of it, a big cached body
/// with `sendfile` (see [`write_two`]); the same access log line as hyper's path. `Ok(true)`:
/// the connection can be kept alive.
///
/// Why: handing the connection to hyper for static files cost, per request, hyper's parse and
/// dispatch, the framing guard's second parse, a `HeaderMap` of the request and the service's
/// state machines: about a quarter of the CPU of a 200 KB response, which nginx serves with
/// less (docs/benchmarks.md, issue 5, 2026-12-03 late morning).
#[allow(clippy::too_many_arguments)]
async fn serve_static(
    shared: &Shared,
    peer: &Peer,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    head: &Head,
    out: &mut Vec<u8>,
    route: &super::routes::Route,
    dir: &StaticDir,
    stopping: &AtomicBool,
    started: Instant,
) -> io::Result<bool> {
    let answer = {
        let bytes = &buf[..head.len];
        let mut headers = FileRequest::default();
        for (at, span) in head.headers[..head.count].iter().enumerate() {
            let (name_at, name_len) = span.name;
            let name = &bytes[name_at..name_at + name_len];
            headers.set(name, || value_text(head.value(bytes, at)));
        }
        let rest = route.rest(head.path(bytes));
        let answer = shared.files.serve(dir, &head.method, rest, &headers).await;
        log_request(
            shared,
            peer,
            bytes,
            head,
            (answer.status, answer.content_length),
            started.elapsed(),
            None,
        );
        answer
    };
    let pipelined = buf.len() > head.len;
    buf.advance(head.len);
    let close = stopping.load(Ordering::Relaxed);
    let response = (answer.status, Headers::List(answer.headers), answer.body);
    let keep = write_response(stream, out, &head.method, response, close, pipelined).await?;
    if out.capacity() > 64 * 1024 {
        *out = Vec::with_capacity(1024);
    }
    Ok(keep)
}

/// Formats the upstream request head from the client's (`bytes`, described by `head`) with
/// the rules of [`super::forward::prepare_headers`] and the client's head as the order: the
/// target (the route's prefix stripped when it says so), hop-by-hop headers left out, the
/// forwarding headers rewritten in place or added at the end in `add_forwarded`'s order. Names
/// are written in lower case, as from a `HeaderMap`; unlike a `HeaderMap`, repeated names are
/// not grouped together (the client's order is kept, as nginx keeps it). `host_text`: the
/// `Host` value as text, as the route lookup checked it.
fn write_upstream_head(
    out: &mut Vec<u8>,
    bytes: &[u8],
    head: &Head,
    host_text: Option<&str>,
    route: &super::routes::Route,
    peer: &Peer,
) {
    out.clear();
    out.extend_from_slice(head.method.as_str().as_bytes());
    out.push(b' ');
    let target = head.target(bytes);
    if !route.strip_prefix || route.prefix == "/" {
        out.extend_from_slice(target.as_bytes());
    } else {
        // As `forward::upstream_path`: the rest of the path ("/" when none), then the query.
        let rest = route.rest(head.path(bytes));
        out.extend_from_slice(if rest.is_empty() { "/" } else { rest }.as_bytes());
        if let Some(at) = head.query {
            out.extend_from_slice(&target.as_bytes()[at..]);
        }
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let host = head.value(bytes, head.host);
    let forwarding = ForwardedIn {
        host: host_text,
        xff: head.value_of(bytes, head.xff),
        xfp: head.value_of(bytes, head.xfp),
        xfh: head.xfh.is_some(),
        forwarded: head.value_of(bytes, head.forwarded),
    };
    let replace_proto = forwarding.replaces_proto(peer);
    let replace_host = forwarding.replaces_host(peer);
    for (at, span) in head.headers[..head.count].iter().enumerate() {
        // Each rewritten header replaces its first occurrence; later ones are dropped.
        match span.kind {
            Kind::Hop | Kind::Connection | Kind::Refuse => continue,
            Kind::XForwardedFor => {
                if head.xff == Some(at) {
                    out.extend_from_slice(b"x-forwarded-for: ");
                    forwarding.push_xff(out, peer);
                    out.extend_from_slice(b"\r\n");
                }
                continue;
            }
            Kind::XForwardedProto if replace_proto => {
                if head.xfp == Some(at) {
                    out.extend_from_slice(b"x-forwarded-proto: http\r\n");
                }
                continue;
            }
            Kind::XForwardedHost if replace_host => {
                if head.xfh == Some(at) {
                    push_header(out, b"x-forwarded-host", host);
                }
                continue;
            }
            Kind::Forwarded => {
                if head.forwarded == Some(at) {
                    out.extend_from_slice(b"forwarded: ");
                    forwarding.push_forwarded(out, peer);
                    out.extend_from_slice(b"\r\n");
                }
                continue;
            }
            _ => {}
        }
        let (name_at, name_len) = span.name;
        out.extend(
            bytes[name_at..name_at + name_len]
                .iter()
                .map(u8::to_ascii_lowercase),
        );
        out.extend_from_slice(b": ");
        out.extend_from_slice(head.value(bytes, at));
        out.extend_from_slice(b"\r\n");
    }
    if head.xff.is_none() {
        out.extend_from_slice(b"x-forwarded-for: ");
        forwarding.push_xff(out, peer);
        out.extend_from_slice(b"\r\n");
    }
    if replace_proto && head.xfp.is_none() {
        out.extend_from_slice(b"x-forwarded-proto: http\r\n");
    }
    if replace_host && head.xfh.is_none() {
        push_header(out, b"x-forwarded-host", host);
    }
    if head.forwarded.is_none() {
        out.extend_from_slice(b"forwarded: ");
        forwarding.push_forwarded(out, peer);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Reads until a complete head is in `buf` (or it cannot become a fast one), within the header
/// timeout counted from now. `Err` or `Partial`: close the connection (timeout, EOF, error,
/// shutdown while idle).
#[allow(clippy::too_many_arguments)]
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    head: &mut Head,
    mut timer: Pin<&mut tokio::time::Sleep>,
    header_timeout: Duration,
    max_head: usize,
    max_headers: usize,
    stopping: &AtomicBool,
) -> io::Result<Parsed> {
    // Taken only if the head is not already here: a pipelined one costs no clock read.
    let mut deadline: Option<Instant> = None;
    loop {
        if !buf.is_empty() {
            match parse(buf, head, max_head, max_headers) {
                Parsed::Partial => {}
                done => return Ok(done),
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(READ_BUF);
        }
        let read = poll_fn(|cx| {
            // Graceful shutdown: a connection waiting for a head closes (as hyper's does).
            if stopping.load(Ordering::Relaxed) {
                return Poll::Ready(Ok(None));
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut *stream), cx, buf) {
                Poll::Ready(result) => return Poll::Ready(result.map(Some)),
                Poll::Pending => {}
            }
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + header_timeout);
            match clock::poll_deadline(timer.as_mut(), deadline, cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request head not received in time",
                ))),
            }
        })
        .await?;
        match read {
            None | Some(0) => return Ok(Parsed::Partial),
            Some(_) => {}
        }
    }
}

/// Checks a request target the way `http`'s `PathAndQuery` parser would accept it, returning
/// where the query starts. Refused (`Err`, the request goes to hyper): bytes that parser
/// rejects, and a `#` fragment or non-ASCII bytes, which it would rewrite or check (rare).
fn scan_target(target: &[u8]) -> Result<Option<usize>, ()> {
    let path_byte = |b: u8| {
        matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7A | 0x7C | 0x7E)
            || matches!(b, b'"' | b'{' | b'}')
    };
    let query_byte = |b: u8| matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E);
    // `http`'s length limit for a path and query.
    if target.is_empty() || target.len() >= u16::MAX as usize || target[0] != b'/' {
        return Err(());
    }
    for (at, &b) in target.iter().enumerate() {
        if b == b'?' {
            return if target[at + 1..].iter().all(|&b| query_byte(b)) {
                Ok(Some(at))
            } else {
                Err(())
            };
        }
        if !path_byte(b) {
            return Err(());
        }
    }
    Ok(None)
}

/// Judges the head at the start of `buf` and describes a fast one in `head`; `buf` is left as
/// it is (the head stays there until the request is done).
fn parse(buf: &BytesMut, head: &mut Head, max_head: usize, max_headers: usize) -> Parsed {
    // Uninitialised slots: initialising them all cost more than parsing a typical head.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FAST_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > max_head => return Parsed::Hyper,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Hyper,
    };
    if len > max_head || request.headers.len() > max_headers || request.version != Some(1) {
        return Parsed::Hyper;
    }
    head.method = match request.method {
        Some("GET") => Method::GET,
        Some("HEAD") => Method::HEAD,
        Some("DELETE") => Method::DELETE,
        Some("OPTIONS") => Method::OPTIONS,
        _ => return Parsed::Hyper,
    };
    let Some(path) = request.path else {
        return Parsed::Hyper;
    };
    let Ok(query) = scan_target(path.as_bytes()) else {
        return Parsed::Hyper;
    };
    let base = buf.as_ptr() as usize;
    head.len = len;
    head.target = (path.as_ptr() as usize - base, path.len());
    head.query = query;
    head.count = request.headers.len();
    head.accept = None;
    head.referer = None;
    head.user_agent = None;
    head.xff = None;
    head.xfp = None;
    head.xfh = None;
    head.forwarded = None;
    let mut hosts = 0;
    for (at, (span, h)) in head
        .headers
        .iter_mut()
        .zip(request.headers.iter())
        .enumerate()
    {
        let name = h.name.as_bytes();
        let kind = kind(name);
        let first = |seen: &mut Option<usize>| {
            if seen.is_none() {
                *seen = Some(at);
            }
        };
        match kind {
            Kind::Host => {
                hosts += 1;
                head.host = at;
            }
            Kind::Connection if !h.value.trim_ascii().eq_ignore_ascii_case(b"keep-alive") => {
                return Parsed::Hyper;
            }
            Kind::Refuse => return Parsed::Hyper,
            Kind::Accept => first(&mut head.accept),
            Kind::Referer => first(&mut head.referer),
            Kind::UserAgent => first(&mut head.user_agent),
            Kind::XForwardedFor => first(&mut head.xff),
            Kind::XForwardedProto => first(&mut head.xfp),
            Kind::XForwardedHost => first(&mut head.xfh),
            Kind::Forwarded => first(&mut head.forwarded),
            _ => {}
        }
        *span = Span {
            name: (name.as_ptr() as usize - base, name.len()),
            value: (h.value.as_ptr() as usize - base, h.value.len()),
            kind,
        };
    }
    if hosts != 1 {
        return Parsed::Hyper;
    }
    Parsed::Request
}

/// How the body goes out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Length(u64),
    Chunked,
    /// Until we close the connection.
    Close,
}

/// Writes a response (status, headers, body) the way hyper's HTTP/1.1 server would for the same
/// request: the status line, the headers in order with lower-case names (a proxied response's
/// map, its head as received when unchanged, or the static file server's list), the
/// `content-length` or chunked
/// framing hyper chooses from the body's size, `date` when missing, `connection: close` when
/// the connection ends after it. `Ok(true)`: the connection can be kept alive.
async fn write_response(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    method: &Method,
    (status, headers, mut body): (StatusCode, Headers, Body),
    mut close: bool,
    mut pipelined: bool,
) -> io::Result<bool> {
    // hyper: no length for an ended body, else the exact size if the body knows it.
    let length = if body.is_end_stream() {
        None
    } else {
        Some(body.size_hint().exact())
    };
    out.clear();
    if status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let head_method = *method == Method::HEAD;
    let mut written = Written {
        encoding: Encoding::Length(0),
        len: false,
        date: false,
        connection_close: false,
        connection_open: false,
    };
    if let Some(raw) = body.raw_head() {
        // Kept as received because it needs no change (see `RawHead`): what the map below
        // would write, in the same order.
        for (name, value) in raw.headers() {
            written.date |= name.eq_ignore_ascii_case(b"date");
            out.extend(name.iter().map(u8::to_ascii_lowercase));
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        written.encoding = Encoding::Length(raw.content_length());
        written.len = true;
    } else {
        match headers {
            Headers::Map(map) => push_headers(out, map, length, head_method, &mut written)?,
            Headers::List(list) => {
                let list = list.into_iter().map(|(name, value)| (Some(name), value));
                push_headers(out, list, length, head_method, &mut written)?
            }
        }
    }
    let Written {
        mut encoding,
        len: wrote_len,
        date: wrote_date,
        mut connection_close,
        connection_open,
    } = written;
    if connection_open {
        if close && !connection_close {
            // hyper appends `close` to the existing values when keep-alive was disabled.
            out.extend_from_slice(b", close");
            connection_close = true;
        }
        out.extend_from_slice(b"\r\n");
    }
    if close && !connection_close {
        // hyper adds it to the map (last) when keep-alive was disabled by a graceful shutdown.
        push_header(out, b"connection", b"close");
    }
    close |= connection_close;
    let can_have_length = !matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);
    let can_have_body = !head_method && can_have_length;
    if !wrote_len {
        encoding = match length {
            Some(None) => {
                if can_have_body {
                    push_header(out, b"transfer-encoding", b"chunked");
                    Encoding::Chunked
                } else {
                    Encoding::Close
                }
            }
            None | Some(Some(0)) => {
                if can_have_length && !head_method {
                    push_header(out, b"content-length", b"0");
                }
                Encoding::Length(0)
            }
            Some(Some(len)) => {
                if can_have_length {
                    push_header(out, b"content-length", len.to_string().as_bytes());
                    Encoding::Length(len)
                } else {
                    Encoding::Length(0)
                }
            }
        };
    }
    if !can_have_body {
        encoding = Encoding::Length(0);
    }
    if !wrote_date {
        out.extend_from_slice(b"date: ");
        push_date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");

    if encoding == Encoding::Length(0) {
        // Nothing to send: the body is dropped unread (as hyper does).
        drop(body);
        stream.write_all(out).await?;
        return Ok(!close);
    }
    let mut remaining = match encoding {
        Encoding::Length(n) => n,
        _ => u64::MAX,
    };
    loop {
        // A frame that is ready now goes out with what is buffered; otherwise flush first so
        // the head does not wait for a slow body.
        let polled = poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await;
        let frame = match polled {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                if !out.is_empty() {
                    stream.write_all(out).await?;
                    out.clear();
                }
                // Waiting for the upstream: a client that leaves ends it (see `client_gone`).
                let next = poll_fn(|cx| {
                    if let Poll::Ready(frame) = Pin::new(&mut body).poll_frame(cx) {
                        return Poll::Ready(Some(frame));
                    }
                    match client_gone(stream, cx, &mut pipelined) {
                        Poll::Ready(()) => Poll::Ready(None),
                        Poll::Pending => Poll::Pending,
                    }
                })
                .await;
                match next {
                    Some(frame) => frame,
                    None => return Ok(false),
                }
            }
        };
        let data = match frame {
            None => break,
            Some(Err(_)) => {
                // The upstream broke off: what was sent cannot be completed (as hyper does,
                // the connection is cut so the client sees a truncated response).
                if !out.is_empty() {
                    let _ = stream.write_all(out).await;
                }
                return Ok(false);
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // Trailers are not relayed.
                Err(_) => continue,
            },
        };
        if data.is_empty() {
            continue;
        }
        if encoding == Encoding::Chunked {
            out.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
        } else if let Encoding::Length(_) = encoding {
            if data.len() as u64 > remaining {
                return Err(invalid("body longer than its content-length"));
            }
            remaining -= data.len() as u64;
        }
        if data.len() <= COPY_BODY {
            out.extend_from_slice(&data);
        } else {
            write_two(stream, out, &data).await?;
            out.clear();
        }
        if encoding == Encoding::Chunked {
            out.extend_from_slice(b"\r\n");
        }
        if remaining == 0 {
            break;
        }
    }
    match encoding {
        Encoding::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
        Encoding::Length(n) if remaining != 0 && n != 0 => {
            if !out.is_empty() {
                let _ = stream.write_all(out).await;
            }
            return Err(invalid("body shorter than its content-length"));
        }
        _ => {}
    }
    if !out.is_empty() {
        stream.write_all(out).await?;
    }
    Ok(!close && encoding != Encoding::Close)
}

/// A response's headers as the fast path gets them: a proxied response's map, or the static
/// file server's list (see [`FileAnswer`](super::files::FileAnswer)), both written in order.
enum Headers {
    Map(HeaderMap),
    List(Vec<(HeaderName, HeaderValue)>),
}

/// What [`push_headers`] wrote that the rest of the head depends on.
struct Written {
    encoding: Encoding,
    len: bool,
    date: bool,
    connection_close: bool,
    /// A `connection` line is open (values of that name are joined on it).
    connection_open: bool,
}

/// Writes `headers` as hyper's encoder writes a map: in order, all values of a name together (a
/// `None` name is another value of the previous one), `content-length` from the body's size
/// when known (`length`, as in [`write_response`]), hop-by-hop `transfer-encoding` and `trailer`
/// left out, `connection` values joined on one line.
fn push_headers(
    out: &mut Vec<u8>,
    headers: impl IntoIterator<Item = (Option<HeaderName>, HeaderValue)>,
    length: Option<Option<u64>>,
    head_method: bool,
    written: &mut Written,
) -> io::Result<()> {
    let mut current: Option<HeaderName> = None;
    for (name, value) in headers {
        if let Some(name) = name {
            if written.connection_open {
                out.extend_from_slice(b"\r\n");
                written.connection_open = false;
            }
            current = Some(name);
        } else if *current.as_ref().unwrap_or(&header::CONTENT_LENGTH) == header::CONTENT_LENGTH {
            // Repeated lengths were checked equal by the client; one line is written.
            continue;
        }
        let Some(name) = current.as_ref() else {
            continue;
        };
        if *name == header::CONTENT_LENGTH {
            match length {
                Some(Some(known)) => {
                    written.encoding = Encoding::Length(known);
                    push_header(out, b"content-length", value.as_bytes());
                    written.len = true;
                }
                Some(None) => {
                    let Some(len) = parse_length(value.as_bytes()) else {
                        return Err(invalid("invalid content-length in a response"));
                    };
                    written.encoding = Encoding::Length(len);
                    push_header(out, b"content-length", value.as_bytes());
                    written.len = true;
                }
                None if head_method => {
                    push_header(out, b"content-length", value.as_bytes());
                    written.len = true;
                }
                // No body: hyper drops the header and writes its own `content-length: 0`.
                None => {}
            }
            continue;
        }
        if *name == header::TRANSFER_ENCODING || *name == header::TRAILER {
            // Hop-by-hop: stripped from every response this path relays.
            continue;
        }
        if *name == header::CONNECTION {
            written.connection_close |= has_close(&value);
            if written.connection_open {
                out.extend_from_slice(b", ");
            } else {
                out.extend_from_slice(b"connection: ");
                written.connection_open = true;
            }
            out.extend_from_slice(value.as_bytes());
            continue;
        }
        if *name == header::DATE {
            written.date = true;
        }
        push_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    Ok(())
}

/// Ready when the client closed (or reset) its side while a request is in flight; the request
/// is then abandoned, as hyper abandons it (an EOF on a busy connection is an error there, no
/// half-close). Bytes from the client instead (a pipelined request) end the watch, as with
/// hyper: they are read after the response. Costs no system call while nothing arrives.
fn client_gone(stream: &TcpStream, cx: &mut Context<'_>, pipelined: &mut bool) -> Poll<()> {
    if *pipelined {
        return Poll::Pending;
    }
    let mut byte = [0u8; 1];
    let mut peek = ReadBuf::new(&mut byte);
    match stream.poll_peek(cx, &mut peek) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(()),
        Poll::Ready(Ok(_)) => {
            *pipelined = true;
            Poll::Pending
        }
    }
}

/// Writes `first` then `second`, with `writev` when possible; a `second` that is a cached
/// static file's memory goes out with `sendfile` (`first` with `MSG_MORE`, see [`zerocopy`]).
async fn write_two(stream: &mut TcpStream, first: &[u8], second: &[u8]) -> io::Result<()> {
    let (mut a, mut b) = (first, second);
    while !a.is_empty() || !b.is_empty() {
        let n = poll_fn(|cx| {
            let both = [IoSlice::new(a), IoSlice::new(b)];
            // No empty slice in front: `zerocopy` would send it alone with `MSG_MORE`.
            let bufs = if a.is_empty() { &both[1..] } else { &both[..] };
            zerocopy::poll_write_vectored(stream, cx, bufs)
        })
        .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n < a.len() {
            a = &a[n..];
        } else {
            b = &b[n - a.len()..];
            a = &[];
        }
    }
    Ok(())
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

fn has_close(value: &HeaderValue) -> bool {
    value
        .as_bytes()
        .split(|b| *b == b',')
        .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

thread_local! {
    /// The `date` value for the current second (hyper caches it the same way).
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

fn push_date(out: &mut Vec<u8>) {
    let secs = clock::unix_secs();
    let date = |secs: u64| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
    let pushed = DATE.try_with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, date(secs));
        }
        out.extend_from_slice(cached.1.as_bytes());
    });
    if pushed.is_err() {
        out.extend_from_slice(date(secs).as_bytes());
    }
}

/// A connection handed to hyper after the fast path read from it: `prefix` (the bytes already
/// read) comes first, then the socket.
pub struct Rewind {
    prefix: Bytes,
    inner: TcpStream,
}

impl Rewind {
    pub fn new(prefix: Bytes, inner: TcpStream) -> Rewind {
        Rewind { prefix, inner }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl ZeroCopyWrite for Rewind {
    fn poll_write_regions(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        zerocopy::poll_write_vectored(&mut self.inner, cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, Uri};

    fn judge(text: &str) -> &'static str {
        let buf = BytesMut::from(text.as_bytes());
        let mut head = Head::new();
        match parse(&buf, &mut head, 16 * 1024, 50) {
            Parsed::Partial => "partial",
            Parsed::Hyper => "hyper",
            Parsed::Request => "fast",
        }
    }
    #[test]
    fn only_plain_heads_take_the_fast_path() {
        assert_eq!(judge("GET /api/x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n"), "fast");
        assert_eq!(
            judge("HEAD /a HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n"),
            "fast"
        );
        assert_eq!(judge("GET /a HTTP/1.1\r\nHost: a\r\n"), "partial");
        // Targets `http`'s parser takes as they are stay fast; a fragment, raw non-ASCII or a
        // byte it refuses go to hyper (which answers or rewrites them as before).
        assert_eq!(
            judge("GET /a/{\"b\"}|~?q=[1]&r=`^`|x HTTP/1.1\r\nHost: a\r\n\r\n"),
            "fast"
        );
        for hyper in [
            "POST /a HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a HTTP/1.0\r\nHost: a\r\n\r\n",
            "GET /a HTTP/1.1\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a?b#f HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a< HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(judge(hyper), "hyper", "{hyper:?}");
        }
        let many = format!(
            "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
            "X-A: 1\r\n".repeat(60)
        );
        assert_eq!(judge(&many), "hyper");
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: {}",
            "a".repeat(17 * 1024)
        );
        assert_eq!(judge(&big), "hyper");
    }

    #[test]
    fn a_fast_head_stays_in_the_buffer_with_pipelined_bytes_behind() {
        let buf = BytesMut::from(&b"GET /a?q=1 HTTP/1.1\r\nHost: a\r\nX-B: 2\r\n\r\nGET /b"[..]);
        let mut head = Head::new();
        assert!(matches!(
            parse(&buf, &mut head, 16 * 1024, 50),
            Parsed::Request
        ));
        assert_eq!(head.target(&buf), "/a?q=1");
        assert_eq!(head.path(&buf), "/a");
        assert_eq!(&buf[head.len..], b"GET /b");
    }

    fn route(strip_prefix: bool) -> super::super::routes::Route {
        super::super::routes::Route {
            prefix: "/api".into(),
            host: None,
            strip_prefix,
            target: Target::Upstream("127.0.0.1:9".parse().unwrap()),
            authority: None,
            max_body: 0,
            retry_window: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            error_page: Bytes::new(),
        }
    }

    /// The upstream head written from the raw client head is the one the `HeaderMap` path
    /// (`prepare_headers` + the client's formatter) writes, for heads without repeated names
    /// (which a `HeaderMap` would group).
    #[test]
    fn the_upstream_head_matches_the_header_map_path() {
        let heads: [&[u8]; 5] = [
            b"GET /api/x?y=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
            b"GET /api HTTP/1.1\r\nhost: a\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: x\r\nX-Kept: 1\r\n\r\n",
            b"DELETE /api/y HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\nHost: h\"q\\\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: outside\r\nForwarded: for=10.0.0.1\r\nX-Z: z\r\n\r\n",
            b"HEAD /api/z HTTP/1.1\r\nX-Forwarded-For:  \r\nHost: a\r\nForwarded: \r\nX-Forwarded-Proto: \xff\r\n\r\n",
            b"OPTIONS /api?x HTTP/1.1\r\nHost: \xc3\xa9\r\nReferer: /r\r\n\r\n",
        ];
        let peers = [
            Peer::new("127.0.0.1:5000".parse().unwrap()),
            Peer::new("192.0.2.7:5000".parse().unwrap()),
            Peer::new("[2001:db8::1]:5000".parse().unwrap()),
        ];
        for text in heads {
            for strip in [false, true] {
                for peer in &peers {
                    let buf = BytesMut::from(text);
                    let text = String::from_utf8_lossy(text);
                    let mut head = Head::new();
                    assert!(
                        matches!(parse(&buf, &mut head, 16 * 1024, 50), Parsed::Request),
                        "{text:?}"
                    );
                    let route = route(strip);
                    let mut raw = Vec::new();
                    let host_text = value_text(head.value(&buf, head.host));
                    write_upstream_head(&mut raw, &buf, &head, host_text, &route, peer);

                    let mut slots = [httparse::EMPTY_HEADER; 64];
                    let mut request = httparse::Request::new(&mut slots);
                    request.parse(&buf).unwrap();
                    let mut headers = HeaderMap::new();
                    for h in request.headers.iter() {
                        headers.append(
                            HeaderName::from_bytes(h.name.as_bytes()).unwrap(),
                            HeaderValue::from_bytes(h.value).unwrap(),
                        );
                    }
                    let uri: Uri = request.path.unwrap().parse().unwrap();
                    super::super::forward::prepare_headers(&mut headers, &uri, peer);
                    let path = super::super::forward::upstream_path(&route, &uri).unwrap();
                    let mut mapped = Vec::new();
                    super::super::client::write_head(
                        &mut mapped,
                        &head.method,
                        &path,
                        &headers,
                        || HeaderValue::from_static("unused"),
                    );
                    assert_eq!(
                        String::from_utf8_lossy(&raw),
                        String::from_utf8_lossy(&mapped),
                        "{text:?} strip={strip} peer={peer:?}"
                    );
                }
            }
        }
    }
}

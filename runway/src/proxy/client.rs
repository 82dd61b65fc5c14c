//! The proxy's own HTTP/1.1 upstream client: the fast path for proxied requests without a body.
//!
//! What goes where ([`super::forward`] decides per request):
//! - **here**: requests without a body (GET, HEAD, DELETE, … — the bulk of API traffic) that are
//!   not upgrades. The request future owns a pooled upstream [`DirectConn`] (a plain
//!   `TcpStream` from this worker thread's [`super::pool`]): it writes the head with one write,
//!   reads and parses the response head with `httparse`, and the response body ([`DirectBody`])
//!   reads straight from the socket as hyper's server connection polls it. Everything runs in
//!   the client connection's own task: no channel to a connection task, no oneshot back, no
//!   second body channel — the several cross-task wake-ups per request that hyper's
//!   `client::conn` costs (they were most of the user-space gap to nginx, see
//!   docs/benchmarks.md).
//! - **hyper's `client::conn::http1`** (the pool's other list): requests with a body (streaming
//!   it, with its limit and reclaim-for-retry, is what [`super::body::Outgoing`] does there) and
//!   upgrades (WebSocket, Vite HMR), which hand the raw streams over after `101`.
//!
//! Rules kept here, the same as on hyper's path:
//! - response framing is validated: `Content-Length` together with `Transfer-Encoding`,
//!   differing repeated lengths, a transfer coding other than `chunked`, an invalid length or
//!   chunk size, an over-long head (64 KiB) or too many headers (128) → 502 before the head is
//!   relayed, or the client connection cut (never a silently re-framed body) once it is;
//! - no body for HEAD, 204 and 304; 1xx informational heads are skipped; a `101` that was not
//!   asked for is a 502;
//! - a connection goes back to the pool only after its body ended exactly where the framing
//!   said, with nothing extra behind it, and when the response allows keep-alive
//!   (`Connection: close`, HTTP/1.0 without `keep-alive`, or a body delimited by the close are
//!   not reused); an abandoned body drops (closes) it;
//! - a failure before any response byte ([`Failure::Dead`]: the write failed, or the upstream
//!   closed or reset a kept-alive connection) is reported apart so the caller can retry an
//!   idempotent request on a fresh connection.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Response, StatusCode};
use http_body::{Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::headers::is_hop_by_hop_name;
use super::pool;

/// Response heads larger than this are refused (502).
pub const MAX_HEAD: usize = 64 * 1024;
/// Response headers beyond this count are refused (502).
pub const MAX_HEADERS: usize = 128;
/// A chunk-size line (with extensions) longer than this is invalid framing.
const MAX_CHUNK_LINE: usize = 4096;
/// Trailers are read and dropped, up to this much.
const MAX_TRAILERS: usize = 64 * 1024;
/// Read buffer size: one read takes a whole small API response.
const READ_BUF: usize = 16 * 1024;
/// Below this much free room, the buffer is grown (or reclaimed) before reading.
const MIN_READ_ROOM: usize = 4 * 1024;

/// A plain keep-alive connection to an upstream, with its buffers. Boxed: it moves from the
/// pool into the request's future, into its response body and back for every request, and a
/// pointer moves cheaper than the parts (their `memmove`s showed in profiles).
pub struct DirectConn(Box<ConnParts>);

pub struct ConnParts {
    stream: TcpStream,
    pub(super) addr: SocketAddr,
    /// Read buffer, kept for the connection's life; body frames are frozen slices of it, and its
    /// memory is reclaimed in place once they have been written out.
    buf: BytesMut,
    /// The request head being written; kept so a kept-alive connection formats without
    /// allocating.
    out: Vec<u8>,
    /// Taken from the pool (it may turn out to have been closed by the upstream meanwhile).
    pub reused: bool,
}

impl std::ops::Deref for DirectConn {
    type Target = ConnParts;
    fn deref(&self) -> &ConnParts {
        &self.0
    }
}

impl std::ops::DerefMut for DirectConn {
    fn deref_mut(&mut self) -> &mut ConnParts {
        &mut self.0
    }
}

impl DirectConn {
    pub(super) fn new(stream: TcpStream, addr: SocketAddr) -> DirectConn {
        DirectConn(Box::new(ConnParts {
            stream,
            addr,
            buf: BytesMut::with_capacity(READ_BUF),
            out: Vec::with_capacity(1024),
            reused: false,
        }))
    }

    /// The socket, for a hyper connection to take over (the buffers are empty between requests).
    pub(super) fn into_stream(self) -> TcpStream {
        self.0.stream
    }

    /// Whether the upstream could still be listening: no EOF, reset or stray bytes waiting.
    /// Costs no system call unless the reactor saw the socket readable since the last read
    /// (tokio clears readiness after a short read, which every complete response ends with).
    pub(super) fn looks_alive(&self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut byte = [0u8; 1];
                matches!(self.stream.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let parts = &mut *self.0;
        if parts.buf.capacity() - parts.buf.len() < MIN_READ_ROOM {
            parts.buf.reserve(READ_BUF);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut parts.stream), cx, &mut parts.buf)
    }

    async fn fill(&mut self) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }
}

/// Why an exchange produced no response to relay.
#[derive(Debug)]
pub enum Failure {
    /// Nothing came back: the write failed, or the connection was closed or reset before any
    /// response byte. An idempotent request may be sent again on another connection.
    Dead(io::Error),
    /// The upstream answered something that is not relayed (bad framing, too big a head) or
    /// broke off in the middle of its head.
    Bad(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Dead(err) => write!(f, "connection closed before a response: {err}"),
            Failure::Bad(why) => write!(f, "invalid response: {why}"),
        }
    }
}

/// The request head to send.
#[derive(Clone, Copy)]
pub enum RequestHead<'a> {
    /// Formatted here from a header map (hyper's path): `headers` are sent as given (already
    /// stripped of hop-by-hop headers and with the forwarding headers added), after a `Host`
    /// when they have none.
    Map {
        path: &'a PathAndQuery,
        headers: &'a HeaderMap,
    },
    /// Already formatted, request line to the empty line (the fast path builds it straight
    /// from the client's head, see [`super::fast`]). The fast path also writes the response
    /// head itself: a plain response's head is then kept as received ([`RawHead`]) instead of
    /// being turned into a `HeaderMap`.
    Raw(&'a [u8]),
}

/// Sends a bodiless request on `conn` and reads the response head. `host` is the `Host` sent
/// when a [`RequestHead::Map`] has none.
pub async fn exchange(
    mut conn: DirectConn,
    method: &Method,
    head: RequestHead<'_>,
    host: impl FnOnce() -> HeaderValue,
) -> Result<Response<DirectBody>, Failure> {
    // Bytes left from a previous exchange mean the connection is out of step: not reused (the
    // body's release checks this too).
    conn.buf.clear();
    let keep_raw = matches!(head, RequestHead::Raw(_));
    let parts = &mut *conn.0;
    let written = match head {
        RequestHead::Map { path, headers } => {
            write_head(&mut parts.out, method, path, headers, host);
            parts.stream.write_all(&parts.out).await
        }
        RequestHead::Raw(bytes) => parts.stream.write_all(bytes).await,
    };
    if let Err(err) = written {
        return Err(Failure::Dead(err));
    }
    let mut received = false;
    loop {
        if !conn.buf.is_empty() {
            match parse_head(&mut conn.buf, method == Method::HEAD, keep_raw)? {
                Parsed::Partial => {}
                Parsed::Informational => continue,
                Parsed::Final(head) => return Ok(head.into_response(conn)),
            }
        }
        match conn.fill().await {
            Ok(0) if !received => {
                return Err(Failure::Dead(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed by the upstream",
                )));
            }
            Ok(0) => return Err(Failure::Bad("closed in the middle of the head".into())),
            Ok(_) => received = true,
            Err(err) if !received => return Err(Failure::Dead(err)),
            Err(err) => return Err(Failure::Bad(format!("reading the head: {err}"))),
        }
    }
}

/// Formats the request head into `out` (cleared first).
pub(super) fn write_head(
    out: &mut Vec<u8>,
    method: &Method,
    path: &PathAndQuery,
    headers: &HeaderMap,
    host: impl FnOnce() -> HeaderValue,
) {
    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_str().as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains_key(header::HOST) {
        push_header(out, b"host", host().as_bytes());
    }
    for (name, value) in headers {
        push_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

enum Parsed {
    Partial,
    /// A 1xx head (other than 101) was consumed; the real one follows.
    Informational,
    Final(Head),
}

struct Head {
    status: StatusCode,
    /// Empty when the head is kept as `raw`.
    headers: HeaderMap,
    raw: Option<RawHead>,
    framing: Framing,
    keep_alive: bool,
}

impl Head {
    fn into_response(self, conn: DirectConn) -> Response<DirectBody> {
        let mut body = DirectBody::new(conn, self.framing, self.keep_alive);
        body.raw = self.raw;
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// A response head kept as the upstream sent it, for the fast path to copy to the client
/// without building a `HeaderMap` (and hashing, validating and re-reading each header).
///
/// Kept only when the copy is exactly what the `HeaderMap` route would write: a body framed by
/// one `Content-Length` (not zero, not a HEAD request, not 204/304, so the length is relayed
/// as sent), no hop-by-hop header (nothing to strip), no name repeated apart from its first
/// occurrence (a `HeaderMap` would group the values).
/// Any other response gets its `HeaderMap` as before.
pub struct RawHead {
    bytes: Bytes,
    /// Where each header's name and value are in `bytes`.
    spans: Vec<HeaderAt>,
    content_length: u64,
}

impl RawHead {
    /// The headers in the upstream's order; names as sent (write them in lower case).
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.spans
            .iter()
            .map(|span| (span.name(&self.bytes), span.value(&self.bytes)))
    }

    /// The body's length (the response's one `Content-Length`).
    pub fn content_length(&self) -> u64 {
        self.content_length
    }
}

/// Where a header's name and value are in its head: (offset, length) of each.
#[derive(Clone, Copy)]
struct HeaderAt {
    name: (u32, u32),
    value: (u32, u32),
}

impl HeaderAt {
    fn name<'h>(&self, head: &'h [u8]) -> &'h [u8] {
        &head[self.name.0 as usize..(self.name.0 + self.name.1) as usize]
    }

    fn value<'h>(&self, head: &'h [u8]) -> &'h [u8] {
        &head[self.value.0 as usize..(self.value.0 + self.value.1) as usize]
    }
}

/// Whether a header name occurs again after another name came between (a `HeaderMap` would
/// group its values, so the head cannot be copied as it is; a repeat right after the same name
/// keeps its place there too). Names and values need no other check for the copy: httparse
/// admits exactly the bytes `HeaderName` and `HeaderValue` do.
fn repeated_apart(head: &[u8], spans: &[HeaderAt]) -> bool {
    let name = |at: usize| spans[at].name(head);
    (2..spans.len()).any(|at| {
        let this = name(at);
        !this.eq_ignore_ascii_case(name(at - 1))
            && (0..at - 1).any(|before| this.eq_ignore_ascii_case(name(before)))
    })
}

fn bad<T>(why: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Bad(why.into()))
}

/// Parses a response head at the start of `buf`; a complete one is split off it.
/// With `keep_raw`, a head the fast path can copy as it is comes back as a [`RawHead`].
fn parse_head(buf: &mut BytesMut, head_request: bool, keep_raw: bool) -> Result<Parsed, Failure> {
    // Uninitialised slots: initialising 128 of them cost more than parsing a typical head.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut slots,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return bad(format!("head larger than {MAX_HEAD} bytes"));
        }
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => {
            return bad(format!("more than {MAX_HEADERS} headers"));
        }
        Err(err) => return bad(format!("unparsable head: {err}")),
    };
    if len > MAX_HEAD {
        return bad(format!("head larger than {MAX_HEAD} bytes"));
    }
    let code = response.code.unwrap_or(0);
    let Ok(status) = StatusCode::from_u16(code) else {
        return bad(format!("invalid status {code}"));
    };
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return bad("the upstream switched protocols unasked");
    }
    if status.is_informational() {
        let _ = buf.split_to(len);
        return Ok(Parsed::Informational);
    }
    let http10 = response.version == Some(0);

    // Where each header's name and value sit in `buf`, so the values can share the head's
    // memory once it is split off (no copy per header).
    let base = buf.as_ptr() as usize;
    let mut spans = Vec::with_capacity(response.headers.len());
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = http10;
    // Whether the head could be relayed as it is (see `RawHead`) as far as single headers go.
    let mut lengths = 0;
    let mut hop = false;
    for h in response.headers.iter() {
        let name = h.name.as_bytes();
        // The head is at most MAX_HEAD (64 KiB) long: offsets fit.
        let at = |part: &[u8]| ((part.as_ptr() as usize - base) as u32, part.len() as u32);
        spans.push(HeaderAt {
            name: at(name),
            value: at(h.value),
        });
        if name.eq_ignore_ascii_case(b"content-length") {
            let Some(n) = parse_length(h.value) else {
                return bad("invalid Content-Length");
            };
            if length.is_some_and(|seen| seen != n) {
                return bad("conflicting Content-Length values");
            }
            length = Some(n);
            lengths += 1;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            hop = true;
            if chunked || !trim(h.value).eq_ignore_ascii_case(b"chunked") {
                return bad("Transfer-Encoding other than one `chunked`");
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            hop = true;
            for token in h.value.split(|b| *b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if http10 && token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        } else if is_hop_by_hop_name(name) {
            hop = true;
        }
    }
    if chunked && length.is_some() {
        return bad("both Content-Length and Transfer-Encoding");
    }

    let framing =
        if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            Framing::Length(0)
        } else if chunked {
            Framing::Chunked(Chunk::Size)
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            close = true;
            Framing::Eof
        };
    let keep_alive = !close;

    let raw_length = match framing {
        Framing::Length(n) if keep_raw && n > 0 && length == Some(n) => Some(n),
        _ => None,
    };
    if let Some(content_length) = raw_length
        && lengths == 1
        && !hop
        && !repeated_apart(&buf[..len], &spans)
    {
        return Ok(Parsed::Final(Head {
            status,
            headers: HeaderMap::new(),
            raw: Some(RawHead {
                bytes: buf.split_to(len).freeze(),
                spans,
                content_length,
            }),
            framing,
            keep_alive,
        }));
    }

    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(spans.len());
    for span in &spans {
        let Ok(name) = HeaderName::from_bytes(span.name(&head)) else {
            return bad("invalid header name");
        };
        let (value_at, value_len) = (span.value.0 as usize, span.value.1 as usize);
        let Ok(value) = HeaderValue::from_maybe_shared(head.slice(value_at..value_at + value_len))
        else {
            return bad("invalid header value");
        };
        headers.append(name, value);
    }
    Ok(Parsed::Final(Head {
        status,
        headers,
        raw: None,
        framing,
        keep_alive,
    }))
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// A `Content-Length` value: digits only (no sign, no spaces inside), at most 19 of them.
fn parse_length(value: &[u8]) -> Option<u64> {
    let value = trim(value);
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// A chunk-size line (without its line end): hex digits, optional `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let size = match line.iter().position(|b| *b == b';') {
        Some(at) => &line[..at],
        None => line,
    };
    // Whitespace before `;` is tolerated (RFC 9112 "BWS"), never inside the number.
    let size = size.trim_ascii_end();
    if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(size).ok()?, 16).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// This many bytes still to come.
    Length(u64),
    Chunked(Chunk),
    /// Until the upstream closes the connection.
    Eof,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines after the last chunk; this many bytes of them so far.
    Trailers(usize),
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// An upstream response body read straight from the upstream socket; the connection goes back
/// to the pool when the body ended cleanly and keep-alive allows it.
pub struct DirectBody {
    conn: Option<DirectConn>,
    framing: Framing,
    keep_alive: bool,
    /// The response head as received, when the fast path asked for it and can copy it.
    raw: Option<RawHead>,
}

impl DirectBody {
    fn new(conn: DirectConn, framing: Framing, keep_alive: bool) -> DirectBody {
        let mut body = DirectBody {
            conn: Some(conn),
            framing,
            keep_alive,
            raw: None,
        };
        if framing == Framing::Length(0) {
            body.finish();
        }
        body
    }

    /// The response head as received (see [`RawHead`]); its headers are then not in the
    /// response's `HeaderMap`.
    pub fn raw_head(&self) -> Option<&RawHead> {
        self.raw.as_ref()
    }

    /// The body ended where its framing said: the connection is free.
    fn finish(&mut self) {
        self.framing = Framing::Done;
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            // Bytes behind the response: the upstream is out of step, don't reuse.
            && conn.buf.is_empty()
        {
            pool::checkin_direct(conn);
        }
    }

    fn fail(&mut self, err: io::Error) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.framing = Framing::Done;
        self.conn = None;
        Poll::Ready(Some(Err(err)))
    }

    fn data(bytes: Bytes) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

/// Finds the end of a line (`\n`) in `buf`: the line without `\r\n` and its full length.
fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let at = buf.iter().position(|b| *b == b'\n')?;
    let line = &buf[..at];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, at + 1))
}

impl http_body::Body for DirectBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            let framing = this.framing;
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            // Whether the buffer holds enough for the current state; if not, read below.
            match framing {
                Framing::Done => return Poll::Ready(None),
                Framing::Length(remaining) | Framing::Chunked(Chunk::Data(remaining))
                    if !conn.buf.is_empty() =>
                {
                    let n = remaining.min(conn.buf.len() as u64);
                    let bytes = conn.buf.split_to(n as usize).freeze();
                    let left = remaining - n;
                    if let Framing::Length(_) = framing {
                        this.framing = Framing::Length(left);
                        if left == 0 {
                            // The last frame: hyper polls no further once the body says it
                            // ended, so the connection is released now.
                            this.finish();
                        }
                    } else {
                        this.framing = Framing::Chunked(if left == 0 {
                            Chunk::DataEnd
                        } else {
                            Chunk::Data(left)
                        });
                    }
                    return Self::data(bytes);
                }
                Framing::Eof if !conn.buf.is_empty() => {
                    return Self::data(conn.buf.split().freeze());
                }
                Framing::Chunked(Chunk::Size) => {
                    if let Some((text, used)) = line(&conn.buf) {
                        let Some(size) = parse_chunk_size(text) else {
                            return this.fail(invalid("invalid chunk size"));
                        };
                        conn.buf.advance(used);
                        this.framing = Framing::Chunked(if size == 0 {
                            Chunk::Trailers(0)
                        } else {
                            Chunk::Data(size)
                        });
                        continue;
                    }
                    if conn.buf.len() > MAX_CHUNK_LINE {
                        return this.fail(invalid("chunk size line too long"));
                    }
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    if conn.buf.len() >= 2 {
                        if &conn.buf[..2] != b"\r\n" {
                            return this.fail(invalid("chunk data longer than its size"));
                        }
                        conn.buf.advance(2);
                        this.framing = Framing::Chunked(Chunk::Size);
                        continue;
                    }
                }
                Framing::Chunked(Chunk::Trailers(seen)) => {
                    if let Some((text, used)) = line(&conn.buf) {
                        let empty = text.is_empty();
                        conn.buf.advance(used);
                        if empty {
                            this.finish();
                            return Poll::Ready(None);
                        }
                        if seen + used > MAX_TRAILERS {
                            return this.fail(invalid("trailers too large"));
                        }
                        this.framing = Framing::Chunked(Chunk::Trailers(seen + used));
                        continue;
                    }
                    if seen + conn.buf.len() > MAX_TRAILERS {
                        return this.fail(invalid("trailers too large"));
                    }
                }
                Framing::Length(_) | Framing::Chunked(Chunk::Data(_)) | Framing::Eof => {}
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if framing == Framing::Eof => {
                    // Close-delimited: the end of the body. Never reused.
                    this.framing = Framing::Done;
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => return this.fail(invalid("upstream closed before the body's end")),
                Ok(_) => {}
                Err(err) => return this.fail(err),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.framing == Framing::Done
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Parsed, Failure> {
        let mut buf = BytesMut::from(text.as_bytes());
        parse_head(&mut buf, false, false)
    }

    fn framing_of(text: &str) -> Framing {
        match parse(text) {
            Ok(Parsed::Final(head)) => head.framing,
            Ok(_) => panic!("not a final head: {text}"),
            Err(err) => panic!("refused {text:?}: {err}"),
        }
    }

    fn refused(text: &str) -> bool {
        matches!(parse(text), Err(Failure::Bad(_)))
    }

    #[test]
    fn response_framing_is_read_and_ambiguity_refused() {
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
            Framing::Length(5)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            Framing::Length(5)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Framing::Chunked(Chunk::Size)
        );
        assert_eq!(framing_of("HTTP/1.1 200 OK\r\n\r\n"), Framing::Eof);
        assert_eq!(
            framing_of("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"),
            Framing::Length(0)
        );
        assert!(refused(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(refused(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
        ));
        assert!(refused("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"));
        assert!(refused("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n"));
        assert!(refused(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        ));
        assert!(refused(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(refused("HTTP/1.1 101 Switching Protocols\r\n\r\n"));
        assert!(matches!(
            parse("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n"),
            Ok(Parsed::Informational)
        ));
        assert!(matches!(
            parse("HTTP/1.1 200 OK\r\nContent-Le"),
            Ok(Parsed::Partial)
        ));
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "X-A: 1\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(refused(&many));
        let huge = format!("HTTP/1.1 200 OK\r\nX-A: {}", "a".repeat(MAX_HEAD + 1));
        assert!(refused(&huge));
    }

    #[test]
    fn keep_alive_follows_the_response() {
        let keep = |text: &str| match parse(text) {
            Ok(Parsed::Final(head)) => head.keep_alive,
            _ => panic!("{text}"),
        };
        assert!(keep("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!keep(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!keep("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(keep(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!keep("HTTP/1.1 200 OK\r\n\r\n"));
    }

    fn raw_of(text: &str, head_request: bool) -> Option<Vec<(String, String)>> {
        let mut buf = BytesMut::from(text.as_bytes());
        match parse_head(&mut buf, head_request, true) {
            Ok(Parsed::Final(head)) => head.raw.map(|raw| {
                assert!(head.headers.is_empty());
                raw.headers()
                    .map(|(n, v)| {
                        let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
                        (text(n), text(v))
                    })
                    .collect()
            }),
            _ => panic!("not a final head: {text}"),
        }
    }

    #[test]
    fn a_plain_head_is_kept_as_received_and_anything_else_gets_a_map() {
        let plain = "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nVary: x\r\nvary: y\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            raw_of(plain, false),
            Some(vec![
                ("Content-Type".into(), "a/b".into()),
                ("Vary".into(), "x".into()),
                ("vary".into(), "y".into()),
                ("Content-Length".into(), "2".into()),
            ])
        );
        // Not asked for: a map.
        let mut buf = BytesMut::from(plain.as_bytes());
        let Ok(Parsed::Final(head)) = parse_head(&mut buf, false, false) else {
            panic!("not parsed");
        };
        assert!(head.raw.is_none() && head.headers.len() == 4);
        for text in [
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nProxy-Authenticate: x\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nx-a: 3\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\n",
        ] {
            assert_eq!(raw_of(text, false), None, "{text}");
        }
        // HEAD: the length describes no body here.
        assert_eq!(
            raw_of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", true),
            None
        );
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a"), Some(26));
        assert_eq!(parse_chunk_size(b"1A;name=value"), Some(26));
        assert_eq!(parse_chunk_size(b"0"), Some(0));
        assert_eq!(parse_chunk_size(b""), None);
        assert_eq!(parse_chunk_size(b"-1"), None);
        assert_eq!(parse_chunk_size(b"0x10"), None);
        assert_eq!(parse_chunk_size(b"ffffffffffffffffff"), None);
    }

    #[test]
    fn the_head_is_one_buffer_with_host_first_when_missing() {
        let mut out = Vec::new();
        let mut headers = HeaderMap::new();
        headers.insert("x-a", HeaderValue::from_static("1"));
        write_head(
            &mut out,
            &Method::GET,
            &PathAndQuery::from_static("/p?q=1"),
            &headers,
            || HeaderValue::from_static("up:1"),
        );
        assert_eq!(out, b"GET /p?q=1 HTTP/1.1\r\nhost: up:1\r\nx-a: 1\r\n\r\n");
    }
}

//! A read-side watcher of the raw HTTP/1 byte stream that flags ambiguous message framing.
//!
//! hyper resolves `Content-Length` + `Transfer-Encoding` safely (it drops the length and closes
//! the connection afterwards) and merges repeated lengths, so by the time a request reaches the
//! service the evidence is gone. Smuggling attempts must still be answered 400, so this wrapper
//! follows message boundaries (heads, fixed-length and chunked bodies) as the bytes are read and
//! raises a flag that the request handler checks. It stops watching after an upgrade or an
//! HTTP/2 preface, and when a head is too big to parse (hyper answers 431 then).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::zerocopy::ZeroCopyWrite;

const MAX_HEAD: usize = 256 * 1024;

enum State {
    /// Reading a head into `FramingGuard::head`.
    Head,
    Body(u64),
    ChunkSize(Vec<u8>),
    ChunkData(u64),
    ChunkCrlf(u8),
    Trailers(Vec<u8>),
    Off,
}

/// Wraps a connection's stream; `flag()` turns true once an ambiguous request was seen.
pub struct FramingGuard<S> {
    inner: S,
    state: State,
    /// The head being read; kept across requests so a kept-alive connection allocates once.
    head: Vec<u8>,
    bad: Arc<AtomicBool>,
}

impl<S> FramingGuard<S> {
    pub fn new(inner: S) -> Self {
        FramingGuard {
            inner,
            state: State::Head,
            head: Vec::new(),
            bad: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn flag(&self) -> Arc<AtomicBool> {
        self.bad.clone()
    }

    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Off => return,
                State::Head => {
                    if self.head.is_empty() {
                        // Empty lines before a request line are allowed.
                        let skip = bytes
                            .iter()
                            .take_while(|b| **b == b'\r' || **b == b'\n')
                            .count();
                        bytes = &bytes[skip..];
                        if bytes.is_empty() {
                            return;
                        }
                    }
                    let start = self.head.len().saturating_sub(3);
                    let take = bytes
                        .len()
                        .min(MAX_HEAD + 4 - self.head.len().min(MAX_HEAD));
                    self.head.extend_from_slice(&bytes[..take]);
                    match find_head_end(&self.head[start..]) {
                        Some(end) => {
                            let end = start + end;
                            let rest_in_head = self.head.len() - end;
                            let consumed = take - rest_in_head;
                            let next = self.after_head(&self.head[..end]);
                            self.head.clear();
                            if self.head.capacity() > 16 * 1024 {
                                // Don't keep a big head's buffer for the connection's lifetime.
                                self.head = Vec::new();
                            }
                            self.state = next;
                            bytes = &bytes[consumed..];
                        }
                        None => {
                            if self.head.len() > MAX_HEAD {
                                self.state = State::Off;
                                self.head = Vec::new();
                            }
                            return;
                        }
                    }
                }
                State::Body(remaining) => {
                    let n = (*remaining).min(bytes.len() as u64);
                    *remaining -= n;
                    bytes = &bytes[n as usize..];
                    if *remaining == 0 {
                        self.state = State::Head;
                    }
                }
                State::ChunkSize(line) => match bytes.iter().position(|b| *b == b'\n') {
                    Some(pos) => {
                        line.extend_from_slice(&bytes[..pos]);
                        bytes = &bytes[pos + 1..];
                        let text = String::from_utf8_lossy(line);
                        let size = text.split(';').next().unwrap_or("").trim();
                        self.state = match u64::from_str_radix(size, 16) {
                            Ok(0) => State::Trailers(Vec::new()),
                            Ok(n) => State::ChunkData(n),
                            // hyper refuses it; nothing more to follow.
                            Err(_) => State::Off,
                        };
                    }
                    None => {
                        line.extend_from_slice(bytes);
                        if line.len() > 4096 {
                            self.state = State::Off;
                        }
                        return;
                    }
                },
                State::ChunkData(remaining) => {
                    let n = (*remaining).min(bytes.len() as u64);
                    *remaining -= n;
                    bytes = &bytes[n as usize..];
                    if *remaining == 0 {
                        self.state = State::ChunkCrlf(2);
                    }
                }
                State::ChunkCrlf(left) => {
                    let n = (*left as usize).min(bytes.len());
                    *left -= n as u8;
                    bytes = &bytes[n..];
                    if *left == 0 {
                        self.state = State::ChunkSize(Vec::new());
                    }
                }
                State::Trailers(line) => match bytes.iter().position(|b| *b == b'\n') {
                    Some(pos) => {
                        line.extend_from_slice(&bytes[..pos]);
                        bytes = &bytes[pos + 1..];
                        let empty = line.iter().all(|b| *b == b'\r');
                        line.clear();
                        if empty {
                            self.state = State::Head;
                        }
                    }
                    None => {
                        line.extend_from_slice(bytes);
                        if line.len() > MAX_HEAD {
                            self.state = State::Off;
                        }
                        return;
                    }
                },
            }
        }
    }

    /// Judges a complete head and says what follows it.
    fn after_head(&self, head: &[u8]) -> State {
        if head.starts_with(b"PRI * HTTP/2") {
            return State::Off;
        }
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut request = httparse::Request::new(&mut headers);
        if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
            // hyper answers it with 400 (or 431) itself.
            return State::Off;
        }
        let mut lengths = Vec::new();
        let mut encodings = 0;
        let mut chunked_last = false;
        let mut upgrade = request.method == Some("CONNECT");
        for header in request.headers.iter() {
            if header.name.eq_ignore_ascii_case("content-length") {
                lengths.push(header.value.to_vec());
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                encodings += 1;
                chunked_last = String::from_utf8_lossy(header.value)
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            } else if header.name.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
        }
        if (encodings > 0 && !lengths.is_empty()) || lengths.len() > 1 || encodings > 1 {
            self.bad.store(true, Ordering::SeqCst);
            return State::Off;
        }
        if upgrade {
            return State::Off;
        }
        if encodings == 1 {
            return if chunked_last {
                State::ChunkSize(Vec::new())
            } else {
                State::Off
            };
        }
        match lengths.first() {
            Some(value) => match std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(0) => State::Head,
                Some(n) => State::Body(n),
                None => State::Off,
            },
            None => State::Head,
        }
    }
}

/// End of a head (index just past the blank line) in `bytes`.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
}

impl<S: AsyncRead + Unpin> AsyncRead for FramingGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result
            && !matches!(this.state, State::Off)
        {
            this.scan(&buf.filled()[before..]);
        }
        result
    }
}

impl<S: ZeroCopyWrite> AsyncWrite for FramingGuard<S> {
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
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // Cached big static files go out with sendfile (see `zerocopy`).
        self.get_mut().inner.poll_write_regions(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(chunks: &[&[u8]]) -> bool {
        let mut guard = FramingGuard::new(tokio::io::empty());
        for chunk in chunks {
            guard.scan(chunk);
        }
        guard.bad.load(Ordering::SeqCst)
    }

    #[test]
    fn follows_bodies_and_flags_the_smuggled_head_behind_them() {
        let good = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let chunked = b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
        let bad = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n";
        assert!(!judge(&[good, chunked, good]));
        assert!(judge(&[good, chunked, bad]));
        // Split at awkward places.
        let all = [&good[..], &chunked[..], &bad[..]].concat();
        let pieces: Vec<&[u8]> = all.chunks(3).collect();
        assert!(judge(&pieces));
        // A body that looks like a smuggled head is only a body.
        let inner = "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let body_looks_bad = format!(
            "POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{inner}",
            inner.len()
        );
        assert!(!judge(&[body_looks_bad.as_bytes(), good]));
    }
}

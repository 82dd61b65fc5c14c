//! Body types of the proxy: what it answers with ([`Body`]) and what it sends upstream
//! ([`Outgoing`]). Both stream frame by frame, so memory stays bounded whatever the size.
//!
//! [`Outgoing`] enforces the route's body limit while streaming and can be taken back intact
//! when the upstream failed before reading it, which is what makes a retry on a fresh
//! connection safe.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::client::{DirectBody, RawHead};
use super::pool::PooledBody;

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// A boxed body for the rare cases (streamed files, compression) not worth a variant.
pub type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Every response body the proxy produces.
pub enum Body {
    /// Bytes in memory (cached static files, error pages); `None` once sent.
    Full(Option<Bytes>),
    /// An upstream's body, cut if it pauses longer than the read timeout.
    Upstream(Box<IdleTimeout<PooledBody>>),
    /// The same, read by the proxy's own client ([`super::client`]).
    Direct(Box<IdleTimeout<DirectBody>>),
    /// Anything else.
    Boxed(BoxBody),
}

impl Body {
    pub fn empty() -> Body {
        Body::Full(None)
    }

    pub fn full(bytes: impl Into<Bytes>) -> Body {
        let bytes = bytes.into();
        if bytes.is_empty() {
            Body::Full(None)
        } else {
            Body::Full(Some(bytes))
        }
    }

    /// An upstream response head kept as received (the fast path's; see [`RawHead`]).
    pub fn raw_head(&self) -> Option<&RawHead> {
        match self {
            Body::Direct(body) => body.inner.raw_head(),
            _ => None,
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Upstream(body) => Pin::new(body.as_mut()).poll_frame(cx),
            Body::Direct(body) => Pin::new(body.as_mut()).poll_frame(cx),
            Body::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(bytes) => bytes.is_none(),
            Body::Upstream(body) => body.inner.is_end_stream(),
            Body::Direct(body) => body.inner.is_end_stream(),
            Body::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Upstream(body) => body.inner.size_hint(),
            Body::Direct(body) => body.inner.size_hint(),
            Body::Boxed(body) => body.size_hint(),
        }
    }
}

/// The upstream went quiet for longer than the read timeout in the middle of a body.
#[derive(Debug)]
pub struct UpstreamIdle(pub Duration);

impl fmt::Display for UpstreamIdle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upstream sent nothing for {:?}", self.0)
    }
}
impl StdError for UpstreamIdle {}

/// Wraps a body; errors if no frame arrives within `limit` of the previous one.
///
/// The timer is only armed when the body actually has to wait: a small response that is
/// already buffered (the common case for an API) never touches the timer wheel or the clock.
pub struct IdleTimeout<B> {
    inner: B,
    limit: Duration,
    /// Allocated on the first wait, then reused.
    sleep: Option<Pin<Box<Sleep>>>,
    /// Whether `sleep` holds the deadline of the current wait.
    armed: bool,
}

impl<B> IdleTimeout<B> {
    pub fn new(inner: B, limit: Duration) -> Self {
        IdleTimeout {
            inner,
            limit,
            sleep: None,
            armed: false,
        }
    }
}

impl<B> http_body::Body for IdleTimeout<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                // The next wait gets a fresh deadline when it starts.
                this.armed = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if !this.armed {
                    let deadline = Instant::now() + this.limit;
                    match &mut this.sleep {
                        Some(sleep) => sleep.as_mut().reset(deadline),
                        None => this.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                    this.armed = true;
                }
                let Some(sleep) = this.sleep.as_mut() else {
                    return Poll::Pending;
                };
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(UpstreamIdle(this.limit)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client sent more than the route allows.
#[derive(Debug)]
pub struct BodyTooLarge(pub u64);

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request body larger than {} bytes", self.0)
    }
}
impl StdError for BodyTooLarge {}

/// The client's request body could not be read (bad chunked framing, connection reset).
#[derive(Debug)]
pub struct ClientBodyError(pub hyper::Error);

impl fmt::Display for ClientBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reading the request body: {}", self.0)
    }
}
impl StdError for ClientBodyError {}

/// The client's request body on its way upstream.
///
/// It stays in a shared slot until the upstream connection first reads it, so after a failed
/// attempt the caller can tell whether anything was consumed ([`Reclaim::take`]) and resend.
pub struct Outgoing {
    slot: Arc<Mutex<Option<Incoming>>>,
    body: Option<Incoming>,
    hint: SizeHint,
    /// 0 = unlimited.
    limit: u64,
    seen: u64,
}

/// The caller's handle on an [`Outgoing`] body not yet read.
pub struct Reclaim(Arc<Mutex<Option<Incoming>>>);

impl Reclaim {
    /// The body back, if the upstream never started reading it.
    pub fn take(&self) -> Option<Incoming> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

impl Outgoing {
    /// An empty body (GET and friends): nothing to reclaim.
    pub fn empty() -> Outgoing {
        Outgoing {
            slot: Arc::new(Mutex::new(None)),
            body: None,
            hint: SizeHint::with_exact(0),
            limit: 0,
            seen: 0,
        }
    }

    pub fn new(body: Incoming, limit: u64) -> (Outgoing, Reclaim) {
        let hint = http_body::Body::size_hint(&body);
        let slot = Arc::new(Mutex::new(Some(body)));
        (
            Outgoing {
                slot: slot.clone(),
                body: None,
                hint,
                limit,
                seen: 0,
            },
            Reclaim(slot),
        )
    }

    fn is_empty(&self) -> bool {
        self.hint.exact() == Some(0)
    }
}

impl http_body::Body for Outgoing {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.body.is_none() {
            if this.is_empty() {
                return Poll::Ready(None);
            }
            this.body = this.slot.lock().ok().and_then(|mut slot| slot.take());
        }
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(Pin::new(body).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.limit > 0 && this.seen > this.limit {
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge(this.limit)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(err)) => Poll::Ready(Some(Err(Box::new(ClientBodyError(err))))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.body {
            Some(body) => body.is_end_stream(),
            None => self.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

/// Whether `err` (or anything it wraps) is of type `T`.
pub fn caused_by<T: StdError + 'static>(err: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if e.is::<T>() {
            return true;
        }
        current = e.source();
    }
    false
}

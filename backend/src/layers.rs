//! The app's own per-request HTTP layers, written as plain tower services: the request id
//! (set on the request, echoed on the response) and the error shaping (a body declared over
//! the limit refused before it is read; plain-text errors from layers or axum turned into the
//! one JSON error shape). [`crate::app::build`] puts them in the stack.
//!
//! **Why hand-written.** Every request passes them. They replace tower-http's
//! `SetRequestId` + `PropagateRequestId` (two layers for one job) and axum's `from_fn` +
//! `map_response`, each of which boxes a future per request; these futures are small structs
//! around the inner one, no allocation (docs/benchmarks.md, issue 3).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::app::REQUEST_ID;
use crate::error::{AppError, ErrorBody, code_for_status};

/// Keeps the client's `x-request-id`, or sets a new random (v4) UUID on the request, and puts
/// the same id on the response unless the response already carries one.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, ReqB, ResB> Service<http::Request<ReqB>> for RequestIdService<S>
where
    S: Service<http::Request<ReqB>, Response = http::Response<ResB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqB>) -> Self::Future {
        let id = match req.headers().get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        RequestIdFuture {
            inner: self.inner.call(req),
            id: Some(id),
        }
    }
}

/// A random (v4) UUID, lower-case hyphenated, as tower-http's `MakeRequestUuid` makes, but
/// drawn from the thread-local CSPRNG (`rand::random`) instead of `Uuid::new_v4`, which asks
/// the kernel (a `getrandom` syscall) on every request.
fn new_request_id() -> HeaderValue {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf))
        .expect("a hyphenated UUID is a valid header value")
}

pin_project! {
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, B, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take()
            && !res.headers().contains_key(REQUEST_ID)
        {
            res.headers_mut().insert(REQUEST_ID, id);
        }
        Poll::Ready(Ok(res))
    }
}

/// Refuses a request whose `Content-Length` is over `limit` (413, connection closed) before
/// anything reads it, and gives error responses that are not JSON the JSON error shape.
#[derive(Clone, Copy, Debug)]
pub struct ErrorShapeLayer {
    pub limit: usize,
}

impl<S> Layer<S> for ErrorShapeLayer {
    type Service = ErrorShapeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ErrorShapeService {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ErrorShapeService<S> {
    inner: S,
    limit: usize,
}

impl<S> Service<Request> for ErrorShapeService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ErrorShapeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.limit as u64) {
            return ErrorShapeFuture::Refused {
                res: Some(payload_too_large(self.limit)),
            };
        }
        ErrorShapeFuture::Inner {
            fut: self.inner.call(req),
        }
    }
}

fn payload_too_large(limit: usize) -> Response {
    let mut res = AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("Request body is larger than the limit of {limit} bytes (BODY_LIMIT_BYTES)"),
    )
    .into_response();
    // The unread body is still on the wire: the connection can't be reused.
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

pin_project! {
    #[project = ErrorShapeProj]
    pub enum ErrorShapeFuture<F> {
        Inner { #[pin] fut: F },
        Refused { res: Option<Response> },
    }
}

impl<F> Future for ErrorShapeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ErrorShapeProj::Inner { fut } => {
                let res = ready!(fut.poll(cx))?;
                Poll::Ready(Ok(json_errors(res)))
            }
            ErrorShapeProj::Refused { res } => Poll::Ready(Ok(res
                .take()
                .expect("ErrorShapeFuture polled after completion"))),
        }
    }
}

/// Errors made by layers or axum itself (405, 408, ...) come as plain text: give them the one
/// JSON error shape, keeping status and headers.
fn json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let message = status.canonical_reason().unwrap_or("Error").to_owned();
    let body = axum::Json(ErrorBody::new(code_for_status(status), message)).into_response();
    let (body_parts, body) = body.into_parts();
    parts.headers.extend(body_parts.headers);
    Response::from_parts(parts, body)
}

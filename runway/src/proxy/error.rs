//! The proxy's error type (setup and reload failures) and the error responses it answers with:
//! the route's HTML page for browsers, `{"error":{"code","message"}}` for API clients.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::body::Body;

/// Why the proxy could not start or apply a reload. The old configuration keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("invalid proxy configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    #[error("cannot listen on {addr}: {source} (is another program using this port?)")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the access log in {dir}: {source}")]
    AccessLog {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the error page {path}: {source}")]
    ErrorPage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("route {path}: cannot resolve upstream `{upstream}`: {reason}")]
    Resolve {
        path: String,
        upstream: String,
        reason: String,
    },
}

/// The built-in page when neither the route nor `deploy/502.html` provides one.
const BUILTIN_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>502 Bad Gateway</title></head>\
<body><h1>502 Bad Gateway</h1><p>The application is not answering right now. It may be restarting; \
try again in a few seconds.</p></body></html>\n";

/// Loads the HTML error page: `configured` (relative to `base_dir`) or `deploy/502.html` when
/// present, else the built-in page. A configured page that cannot be read is an error.
pub fn load_page(base_dir: &Path, configured: Option<&str>) -> Result<Bytes, ProxyError> {
    match configured {
        Some(relative) => {
            let path = base_dir.join(relative);
            std::fs::read(&path)
                .map(Bytes::from)
                .map_err(|source| ProxyError::ErrorPage { path, source })
        }
        None => Ok(std::fs::read(base_dir.join("deploy/502.html"))
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::from_static(BUILTIN_PAGE.as_bytes()))),
    }
}

/// An error answer: JSON for API clients, else the HTML page (or plain text when no page fits
/// the status).
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    json: bool,
    page: Option<&Bytes>,
) -> Response<Body> {
    let (body, content_type) = if json {
        let value = serde_json::json!({ "error": { "code": code, "message": message } });
        (
            Body::full(value.to_string()),
            HeaderValue::from_static("application/json"),
        )
    } else if let Some(page) = page {
        (
            Body::full(page.clone()),
            HeaderValue::from_static("text/html; charset=utf-8"),
        )
    } else {
        (
            Body::full(format!("{message}\n")),
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A 4xx after which the connection is closed (its unread body cannot be trusted).
pub fn refuse(status: StatusCode, code: &str, message: &str, json: bool) -> Response<Body> {
    let mut response = error_response(status, code, message, json, None);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

//! Request extractors whose rejections are [`AppError`]s, so a malformed body gets the one
//! JSON error shape: malformed JSON → 400, wrong `Content-Type` → 415, too big → 413,
//! well-formed JSON of the wrong shape → 422.

use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// `axum::Json` with [`AppError`] rejections. Use it for every JSON request body.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON response written into a buffer of `capacity` bytes from the start, where
/// `axum::Json` starts at 128 bytes and grows (a realloc and copy per doubling).
pub fn json_response(value: &impl serde::Serialize, capacity: usize) -> Response {
    let mut buf = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buf, value) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            buf,
        )
            .into_response(),
        Err(e) => AppError::internal(e).into_response(),
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> AppError {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => AppError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("Request body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => AppError::validation(format!(
                "Request body has the wrong shape: {}",
                e.body_text()
            )),
            JsonRejection::MissingJsonContentType(_) => AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected a request with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(e) => {
                let status = e.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::new(
                        status,
                        "payload_too_large",
                        "Request body is larger than the configured limit (BODY_LIMIT_BYTES)",
                    )
                } else {
                    AppError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        format!("Could not read the request body: {}", e.body_text()),
                    )
                }
            }
            other => AppError::new(other.status(), "bad_request", other.body_text()),
        }
    }
}

/// A JSON body that may be absent: an empty (or all-whitespace) body gives `None`, whatever
/// the `Content-Type`; anything else is parsed exactly like [`Json`] (415/400/422/413).
#[derive(Debug, Clone, Default)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::Bytes::from_request(
            axum::extract::Request::from_parts(parts.clone(), body),
            state,
        )
        .await
        .map_err(|e| {
            let status = e.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::new(
                    status,
                    "payload_too_large",
                    "Request body is larger than the configured limit (BODY_LIMIT_BYTES)",
                )
            } else {
                AppError::bad_request(format!(
                    "Could not read the request body: {}",
                    e.body_text()
                ))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(OptionalJson(Some(value)))
    }
}

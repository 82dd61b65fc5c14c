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

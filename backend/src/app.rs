//! The app assembly, in one place: every module's `router()` is merged in [`api_router`], so
//! the OpenAPI document collects each route automatically, then the cross-cutting layers
//! (request id, tracing, CORS, body limit, JSON errors) wrap everything in [`build`].
//!
//! **Plugging in a module (auth, CRUD):** expose `pub fn router() -> OpenApiRouter<AppState>`
//! built with `utoipa_axum::routes!` over `#[utoipa::path]` handlers, and add one `.merge(...)`
//! line in [`api_router`]. Nothing else: the spec, Swagger UI, error shape and layers follow.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::CorsOrigins;
use crate::error::{AppError, ErrorBody, code_for_status};
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Runway API",
        description = "The app's API: the seed's Express backend, rebuilt in Rust."
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// Every API route, with its OpenAPI description. The merge point for new modules.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::health::router())
        .merge(crate::auth::router())
        .merge(crate::resources::router())
}

/// The OpenAPI document alone (for `/api-docs/openapi.json` and tests).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// The complete HTTP application.
pub fn build(state: AppState) -> Router {
    build_with(state, api_router())
}

/// The complete HTTP application around the given API routes (tests add probe routes).
pub fn build_with(state: AppState, routes: OpenApiRouter<AppState>) -> Router {
    let config = state.config.clone();
    let (api, spec) = routes.split_for_parts();
    let router = api
        .merge(SwaggerUi::new("/api-docs").url("/api-docs/openapi.json", spec))
        .fallback(not_found)
        .with_state(state);

    let body_limit = config.body_limit;
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuidV4))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        let id = req
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", request_id = %id, method = %req.method(), uri = %req.uri().path())
                    })
                    // One access-log line per request, inside the span (so with its id).
                    .on_response(DefaultOnResponse::new().level(Level::INFO))
                    .on_failure(DefaultOnFailure::new().level(Level::ERROR)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(cors_layer(&config.cors))
            .layer(middleware::map_response(json_errors))
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                reject_declared_oversize(req, next, body_limit)
            }))
            .layer(DefaultBodyLimit::max(body_limit)),
    )
}

/// A random (v4) UUID per request that comes without an `x-request-id`, as tower-http's
/// `MakeRequestUuid` makes, but drawn from the thread-local CSPRNG (`rand::random`) instead of
/// `Uuid::new_v4`, which asks the kernel (a `getrandom` syscall) on every request.
#[derive(Clone, Copy)]
struct MakeRequestUuidV4;

impl MakeRequestId for MakeRequestUuidV4 {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf))
            .ok()
            .map(RequestId::new)
    }
}

fn cors_layer(origins: &CorsOrigins) -> CorsLayer {
    let allow_origin = match origins {
        CorsOrigins::ReflectAny => AllowOrigin::mirror_request(),
        CorsOrigins::List(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_credentials(true)
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600))
}

async fn not_found(req: Request) -> AppError {
    AppError::not_found(format!(
        "No route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// A body announced bigger than the limit is refused before it is read, whatever the route.
async fn reject_declared_oversize(req: Request, next: Next, limit: usize) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        let mut res = AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("Request body is larger than the limit of {limit} bytes (BODY_LIMIT_BYTES)"),
        )
        .into_response();
        // The unread body is still on the wire: the connection can't be reused.
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    next.run(req).await
}

/// Errors made by layers or axum itself (405, 408, ...) come as plain text: give them the one
/// JSON error shape, keeping status and headers.
async fn json_errors(res: Response) -> Response {
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

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
use axum::http::{HeaderName, HeaderValue};
use tower::ServiceBuilder;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::CorsOrigins;
use crate::error::{AppError, ErrorBody};
use crate::layers::{ErrorShapeLayer, RequestIdLayer};
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
            // Outermost, so the trace span below sees the id.
            .layer(RequestIdLayer)
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
            .layer(cors_layer(&config.cors))
            .layer(ErrorShapeLayer { limit: body_limit })
            .layer(DefaultBodyLimit::max(body_limit)),
    )
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

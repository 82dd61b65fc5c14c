//! `/api/health` (process is up, no database access) and `/api/ready` (database answers).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

#[derive(Serialize, ToSchema)]
pub struct Status {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process answers HTTP. Never touches the database.
#[utoipa::path(get, path = "/api/health", tag = "health",
    responses((status = 200, description = "The process is up", body = Status)))]
async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: the database answers a query right now.
#[utoipa::path(get, path = "/api/ready", tag = "health",
    responses(
        (status = 200, description = "The database answers", body = Status),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
async fn ready(State(state): State<AppState>) -> Result<(StatusCode, Json<Status>), AppError> {
    match db::ping(&state.db).await {
        Ok(()) => Ok((StatusCode::OK, Json(Status { status: "ok" }))),
        Err(cause) => {
            let cause = db::redact(&state.config, &cause);
            tracing::warn!(%cause, "readiness check failed");
            Err(AppError::unavailable(format!(
                "database not reachable ({}): {cause}",
                state.config.database.describe()
            )))
        }
    }
}

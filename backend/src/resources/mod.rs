//! The CRUD resources: users, roles, permissions, each a descriptor for the generic `crud`.

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

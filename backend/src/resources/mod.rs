//! The CRUD resources mounted under /api: users, roles, permissions. Each is a field table plus
//! its write rules for the generic `crud`; this file mounts them and holds what they share.

pub mod permissions;
pub mod roles;
pub mod users;

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::entities::permissions as perm;
use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::router())
        .merge(roles::router())
        .merge(permissions::router())
}

/// A permission as nested in users and roles.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PermissionRef {
    pub id: Uuid,
    pub name: String,
}

/// Permission names by id, for the given ids.
pub async fn permission_refs(
    db: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, PermissionRef>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(perm::Entity::find()
        .filter(perm::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| {
            (
                p.id,
                PermissionRef {
                    id: p.id,
                    name: p.name,
                },
            )
        })
        .collect())
}

/// `[{id,name}]` sorted by name, as JSON text.
pub fn refs_json(mut refs: Vec<PermissionRef>) -> Result<String, AppError> {
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    serde_json::to_string(&refs).map_err(AppError::internal)
}

/// Checks a 1..=max name and trims it; errors name `field`.
pub fn required_name(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    match crate::auth::domain::short_text(field, Some(raw), max)? {
        Some(s) => Ok(s),
        None => Err(AppError::validation(format!("{field} must not be empty"))),
    }
}

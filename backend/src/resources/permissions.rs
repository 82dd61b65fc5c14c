//! `/api/permissions`: named permissions (CREATE_X, READ_X, ...). Hard delete; grants to roles
//! and users go with them (foreign keys cascade).

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::required_name;
use crate::auth::Principal;
use crate::crud::{Field, Keys, Kind, Relation, Resource, Table};
use crate::entities::permissions as perm;
use crate::error::AppError;
use crate::state::AppState;

pub struct Permissions;

/// A permission row.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionData {
    /// Required on create; 1 to 100 characters, unique.
    #[schema(max_length = 100)]
    pub name: Option<String>,
}

impl Resource for Permissions {
    const NAME: &'static str = "permissions";
    const PERMISSION: &'static str = "PERMISSIONS";
    const TABLE: Table = Table {
        name: "permissions",
        soft_delete: None,
        default_order: "created_at",
        label: "name",
    };
    const FIELDS: &'static [Field] = &[
        Field::new("name", "name", Kind::Text),
        Field::new("createdAt", "created_at", Kind::DateTime),
        Field::new("updatedAt", "updated_at", Kind::DateTime),
    ];
    type Data = PermissionData;

    async fn relations(_: &AppState, _: &Keys<'_>, _: bool) -> Result<Vec<Relation>, AppError> {
        Ok(Vec::new())
    }

    async fn create(
        state: &AppState,
        _: &Principal,
        data: PermissionData,
    ) -> Result<Uuid, AppError> {
        let name = required_name("name", data.name.as_deref().unwrap_or(""), 100)?;
        let id = Uuid::new_v4();
        let now = Utc::now();
        perm::Entity::insert(perm::ActiveModel {
            id: Set(id),
            name: Set(name),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(&state.db)
        .await?;
        Ok(id)
    }

    async fn update(
        state: &AppState,
        _: &Principal,
        id: Uuid,
        data: PermissionData,
        _: bool,
    ) -> Result<(), AppError> {
        let mut row = perm::ActiveModel {
            id: Set(id),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        if let Some(name) = data.name {
            row.name = Set(required_name("name", &name, 100)?);
        }
        perm::Entity::update(row).exec(&state.db).await?;
        Ok(())
    }

    async fn delete(state: &AppState, _: &Principal, ids: Vec<Uuid>) -> Result<u64, AppError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let res = perm::Entity::delete_many()
            .filter(perm::Column::Id.is_in(ids))
            .exec(&state.db)
            .await?;
        Ok(res.rows_affected)
    }
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    crate::crud_router!(
        resource = Permissions,
        tag = "permissions",
        row = PermissionRow,
        data = PermissionData,
        base = "/api/permissions",
        count = "/api/permissions/count",
        autocomplete = "/api/permissions/autocomplete",
        by_id = "/api/permissions/{id}",
        delete_by_ids = "/api/permissions/deleteByIds",
    )
}

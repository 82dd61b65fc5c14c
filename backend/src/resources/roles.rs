//! `/api/roles`: roles and their permissions. Only a global-access actor may create, change or
//! delete a global-access role (no privilege escalation). Deleting a role ends the sessions of
//! the users who had it (their role changes).

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{PermissionRef, permission_refs, refs_json, required_name};
use crate::auth::Principal;
use crate::crud::{By, Field, Keys, Kind, Relation, Resource, Table};
use crate::entities::{role_permissions as rp, roles, users};
use crate::error::AppError;
use crate::state::AppState;

pub struct Roles;

/// A role row with its permissions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleRow {
    pub id: Uuid,
    pub name: String,
    pub global_access: bool,
    pub permissions: Vec<PermissionRef>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleData {
    /// Required on create; 1 to 100 characters, unique.
    #[schema(max_length = 100)]
    pub name: Option<String>,
    pub global_access: Option<bool>,
    /// Permission ids; replaces the role's set when given.
    #[schema(max_items = 1000)]
    pub permissions: Option<Vec<Uuid>>,
}

fn only_global() -> AppError {
    AppError::forbidden("Only a global-access administrator may manage a global-access role")
}

async fn set_permissions(
    db: &impl ConnectionTrait,
    role_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<(), AppError> {
    rp::Entity::delete_many()
        .filter(rp::Column::RoleId.eq(role_id))
        .exec(db)
        .await?;
    let mut ids = ids;
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    rp::Entity::insert_many(ids.into_iter().map(|p| rp::ActiveModel {
        role_id: Set(role_id),
        permission_id: Set(p),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

impl Resource for Roles {
    const NAME: &'static str = "roles";
    const PERMISSION: &'static str = "ROLES";
    const TABLE: Table = Table {
        name: "roles",
        soft_delete: None,
        default_order: "created_at",
        label: "name",
    };
    const FIELDS: &'static [Field] = &[
        Field::new("name", "name", Kind::Text),
        Field::new("globalAccess", "global_access", Kind::Bool),
        Field::new("createdAt", "created_at", Kind::DateTime),
        Field::new("updatedAt", "updated_at", Kind::DateTime),
    ];
    type Data = RoleData;

    async fn relations(
        state: &AppState,
        keys: &Keys<'_>,
        _detail: bool,
    ) -> Result<Vec<Relation>, AppError> {
        let db = &state.db;
        let grants = rp::Entity::find()
            .filter(rp::Column::RoleId.is_in(keys.ids()))
            .all(db)
            .await?;
        let names = permission_refs(db, grants.iter().map(|g| g.permission_id).collect()).await?;
        let mut by_role: HashMap<Uuid, Vec<PermissionRef>> = HashMap::new();
        for g in grants {
            if let Some(p) = names.get(&g.permission_id) {
                by_role.entry(g.role_id).or_default().push(p.clone());
            }
        }
        Ok(vec![Relation {
            key: "permissions",
            by: By::RowId,
            json: by_role
                .into_iter()
                .map(|(id, refs)| Ok((id, refs_json(refs)?)))
                .collect::<Result<_, AppError>>()?,
            missing: "[]",
        }])
    }

    async fn create(state: &AppState, actor: &Principal, data: RoleData) -> Result<Uuid, AppError> {
        let name = required_name("name", data.name.as_deref().unwrap_or(""), 100)?;
        let global = data.global_access.unwrap_or(false);
        if global && !actor.global_access() {
            return Err(only_global());
        }
        let id = Uuid::new_v4();
        let now = Utc::now();
        let txn = state.db.begin().await?;
        roles::Entity::insert(roles::ActiveModel {
            id: Set(id),
            name: Set(name),
            global_access: Set(global),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        if let Some(perms) = data.permissions {
            set_permissions(&txn, id, perms).await?;
        }
        txn.commit().await?;
        Ok(id)
    }

    async fn update(
        state: &AppState,
        actor: &Principal,
        id: Uuid,
        data: RoleData,
        _: bool,
    ) -> Result<(), AppError> {
        let current = roles::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("No such record in roles"))?;
        if (current.global_access || data.global_access == Some(true)) && !actor.global_access() {
            return Err(only_global());
        }
        let own = actor.role.as_ref().is_some_and(|r| r.role.id == id);
        if own
            && data
                .global_access
                .is_some_and(|g| g != current.global_access)
        {
            return Err(AppError::forbidden(
                "You cannot change the global access of the role you hold",
            ));
        }
        let mut row = roles::ActiveModel {
            id: Set(id),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        if let Some(name) = data.name {
            row.name = Set(required_name("name", &name, 100)?);
        }
        if let Some(g) = data.global_access {
            row.global_access = Set(g);
        }
        let txn = state.db.begin().await?;
        roles::Entity::update(row).exec(&txn).await?;
        if let Some(perms) = data.permissions {
            set_permissions(&txn, id, perms).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    async fn delete(state: &AppState, actor: &Principal, ids: Vec<Uuid>) -> Result<u64, AppError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let found = roles::Entity::find()
            .filter(roles::Column::Id.is_in(ids.clone()))
            .all(&state.db)
            .await?;
        if found.iter().any(|r| r.global_access) && !actor.global_access() {
            return Err(only_global());
        }
        if actor
            .role
            .as_ref()
            .is_some_and(|own| ids.contains(&own.role.id))
        {
            return Err(AppError::forbidden("You cannot delete the role you hold"));
        }
        // Read before the transaction: on SQLite a transaction that reads first and then
        // writes cannot wait for the write lock and fails with "database is locked".
        let holders = users::Entity::find()
            .filter(users::Column::RoleId.is_in(ids.clone()))
            .all(&state.db)
            .await?;
        let txn = state.db.begin().await?;
        for u in holders {
            crate::auth::sessions::end_all(&txn, u.id, "role_deleted").await?;
        }
        let res = roles::Entity::delete_many()
            .filter(roles::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(res.rows_affected)
    }
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    crate::crud_router!(
        resource = Roles,
        tag = "roles",
        row = RoleRow,
        data = RoleData,
        base = "/api/roles",
        count = "/api/roles/count",
        autocomplete = "/api/roles/autocomplete",
        by_id = "/api/roles/{id}",
        delete_by_ids = "/api/roles/deleteByIds",
    )
}

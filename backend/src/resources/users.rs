//! `/api/users`: accounts. Never returns password or token hashes; a password given on create or
//! update is hashed. Soft delete. A user may read and update their own record (names and phone
//! only). Disabling, changing the role, setting the password or deleting ends the user's
//! sessions. Accounts holding a global-access role, and global-access roles themselves, are
//! managed only by a global-access actor.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{PermissionRef, permission_refs, refs_json};
use crate::auth::domain::{Email, NewPassword, short_text};
use crate::auth::principal::RoleRef;
use crate::auth::{Principal, sessions};
use crate::crud::{By, Field, Keys, Kind, Relation, Resource, Table};
use crate::entities::{roles, user_permissions as up, users};
use crate::error::AppError;
use crate::state::AppState;

pub struct Users;

/// A user row. `custom_permissions` is present on single-row reads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    pub disabled: bool,
    pub email_verified: bool,
    pub provider: Option<String>,
    #[serde(rename = "app_role")]
    pub app_role: Option<RoleRef>,
    #[serde(rename = "custom_permissions")]
    pub custom_permissions: Option<Vec<PermissionRef>>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserData {
    /// Required on create.
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// Hashed with argon2id; never returned.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
    #[schema(max_length = 50)]
    pub phone_number: Option<String>,
    pub disabled: Option<bool>,
    pub email_verified: Option<bool>,
    /// Role id.
    #[serde(rename = "app_role")]
    pub app_role: Option<Uuid>,
    /// Permission ids granted on top of the role's; replaces the set when given.
    #[serde(rename = "custom_permissions")]
    #[schema(max_items = 1000)]
    pub custom_permissions: Option<Vec<Uuid>>,
}

fn only_global() -> AppError {
    AppError::forbidden(
        "Only a global-access administrator may manage this account or grant a global-access role",
    )
}

async fn role(db: &impl ConnectionTrait, id: Uuid) -> Result<roles::Model, AppError> {
    roles::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::validation("app_role: no such role"))
}

async fn set_custom_permissions(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<(), AppError> {
    up::Entity::delete_many()
        .filter(up::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let mut ids = ids;
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    up::Entity::insert_many(ids.into_iter().map(|p| up::ActiveModel {
        user_id: Set(user_id),
        permission_id: Set(p),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn email_conflict(e: AppError) -> AppError {
    if e.status == axum::http::StatusCode::CONFLICT {
        AppError::conflict("An account with this email already exists")
    } else {
        e
    }
}

impl Resource for Users {
    const NAME: &'static str = "users";
    const PERMISSION: &'static str = "USERS";
    const TABLE: Table = Table {
        name: "users",
        soft_delete: Some("deleted_at"),
        default_order: "created_at",
        label: "email",
    };
    const FIELDS: &'static [Field] = &[
        Field::new("email", "email", Kind::Text),
        Field::new("firstName", "first_name", Kind::Text),
        Field::new("lastName", "last_name", Kind::Text),
        Field::new("phoneNumber", "phone", Kind::Text),
        Field::new("disabled", "disabled", Kind::Bool),
        Field::new("emailVerified", "email_verified", Kind::Bool),
        Field::new("provider", "provider", Kind::Text),
        Field::new("app_role", "role_id", Kind::Uuid),
        Field::new("createdAt", "created_at", Kind::DateTime),
        Field::new("updatedAt", "updated_at", Kind::DateTime),
    ];
    const SELF_ACCESS: bool = true;
    type Data = UserData;

    async fn relations(
        state: &AppState,
        keys: &Keys<'_>,
        detail: bool,
    ) -> Result<Vec<Relation>, AppError> {
        let db = &state.db;
        // Roles come from the role cache (usually no query): a page of users shares a few,
        // each serialized once per page.
        let mut roles = HashMap::new();
        for id in keys.field("app_role") {
            if let Some(info) = state.auth.roles.get(db, id).await? {
                roles.insert(
                    id,
                    serde_json::to_string(&info.role).map_err(AppError::internal)?,
                );
            }
        }
        let mut out = vec![Relation {
            key: "app_role",
            by: By::Field("app_role"),
            json: roles,
            missing: "null",
        }];
        if detail {
            let grants = up::Entity::find()
                .filter(up::Column::UserId.is_in(keys.ids()))
                .all(db)
                .await?;
            let names =
                permission_refs(db, grants.iter().map(|g| g.permission_id).collect()).await?;
            let mut by_user: HashMap<Uuid, Vec<PermissionRef>> = HashMap::new();
            for g in grants {
                if let Some(p) = names.get(&g.permission_id) {
                    by_user.entry(g.user_id).or_default().push(p.clone());
                }
            }
            out.push(Relation {
                key: "custom_permissions",
                by: By::RowId,
                json: by_user
                    .into_iter()
                    .map(|(id, refs)| Ok((id, refs_json(refs)?)))
                    .collect::<Result<_, AppError>>()?,
                missing: "[]",
            });
        }
        Ok(out)
    }

    async fn create(state: &AppState, actor: &Principal, data: UserData) -> Result<Uuid, AppError> {
        let email = Email::parse("email", data.email.as_deref().unwrap_or(""))?;
        let hash = match data.password {
            Some(p) => Some(
                crate::password::hash(
                    state.config.mode,
                    NewPassword::parse("password", &p)?.secret(),
                )
                .await?,
            ),
            None => None,
        };
        let role = match data.app_role {
            Some(id) => role(&state.db, id).await?,
            None => roles::Entity::find()
                .filter(roles::Column::Name.eq("User"))
                .one(&state.db)
                .await?
                .ok_or_else(|| {
                    AppError::validation("app_role: give a role (there is no `User` role)")
                })?,
        };
        if role.global_access && !actor.global_access() {
            return Err(only_global());
        }
        let id = Uuid::new_v4();
        let now = Utc::now();
        let txn = state.db.begin().await?;
        users::Entity::insert(users::ActiveModel {
            id: Set(id),
            email: Set(email.as_str().to_string()),
            password_hash: Set(hash),
            first_name: Set(short_text("firstName", data.first_name.as_deref(), 100)?),
            last_name: Set(short_text("lastName", data.last_name.as_deref(), 100)?),
            phone: Set(short_text("phoneNumber", data.phone_number.as_deref(), 50)?),
            disabled: Set(data.disabled.unwrap_or(false)),
            email_verified: Set(data.email_verified.unwrap_or(false)),
            provider: Set(Some("local".into())),
            provider_id: Set(None),
            role_id: Set(Some(role.id)),
            token_version: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| email_conflict(e.into()))?;
        if let Some(perms) = data.custom_permissions {
            set_custom_permissions(&txn, id, perms).await?;
        }
        txn.commit().await?;
        Ok(id)
    }

    async fn update(
        state: &AppState,
        actor: &Principal,
        id: Uuid,
        data: UserData,
        self_only: bool,
    ) -> Result<(), AppError> {
        if self_only
            && (data.email.is_some()
                || data.password.is_some()
                || data.disabled.is_some()
                || data.email_verified.is_some()
                || data.app_role.is_some()
                || data.custom_permissions.is_some())
        {
            return Err(AppError::forbidden(
                "You may change only your name and phone number here (use /api/auth/password-update for the password)",
            ));
        }
        // No locking yourself out through the admin API.
        if id == actor.id
            && (data.disabled == Some(true)
                || data.password.is_some()
                || data
                    .app_role
                    .is_some_and(|r| actor.role.as_ref().is_none_or(|own| own.role.id != r)))
        {
            return Err(AppError::forbidden(
                "You cannot disable yourself, change your own role or set your password here \
                 (use /api/auth/password-update)",
            ));
        }
        let current = users::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("No such record in users"))?;
        let current_role = match current.role_id {
            Some(r) => roles::Entity::find_by_id(r).one(&state.db).await?,
            None => None,
        };
        if !self_only
            && current_role.as_ref().is_some_and(|r| r.global_access)
            && !actor.global_access()
        {
            return Err(only_global());
        }

        let mut row = users::ActiveModel {
            id: Set(id),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        let mut end_sessions: Option<&str> = None;
        if let Some(e) = &data.email {
            row.email = Set(Email::parse("email", e)?.as_str().to_string());
        }
        if data.first_name.is_some() {
            row.first_name = Set(short_text("firstName", data.first_name.as_deref(), 100)?);
        }
        if data.last_name.is_some() {
            row.last_name = Set(short_text("lastName", data.last_name.as_deref(), 100)?);
        }
        if data.phone_number.is_some() {
            row.phone = Set(short_text("phoneNumber", data.phone_number.as_deref(), 50)?);
        }
        if let Some(v) = data.email_verified {
            row.email_verified = Set(v);
        }
        if let Some(p) = data.password {
            let hash = crate::password::hash(
                state.config.mode,
                NewPassword::parse("password", &p)?.secret(),
            )
            .await?;
            row.password_hash = Set(Some(hash));
            end_sessions = Some("password_set_by_admin");
        }
        if let Some(d) = data.disabled {
            row.disabled = Set(d);
            if d && !current.disabled {
                end_sessions = Some("disabled");
            }
        }
        if let Some(role_id) = data.app_role {
            let new_role = role(&state.db, role_id).await?;
            if new_role.global_access && !actor.global_access() {
                return Err(only_global());
            }
            row.role_id = Set(Some(role_id));
            if current.role_id != Some(role_id) {
                end_sessions = Some("role_changed");
            }
        }
        let txn = state.db.begin().await?;
        users::Entity::update(row)
            .exec(&txn)
            .await
            .map_err(|e| email_conflict(e.into()))?;
        if let Some(perms) = data.custom_permissions {
            set_custom_permissions(&txn, id, perms).await?;
        }
        if let Some(reason) = end_sessions {
            sessions::end_all(&txn, id, reason).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    async fn delete(state: &AppState, actor: &Principal, ids: Vec<Uuid>) -> Result<u64, AppError> {
        if ids.contains(&actor.id) {
            return Err(AppError::forbidden("You cannot delete your own account"));
        }
        let live = crate::crud::engine::existing::<Users>(&state.db, &ids).await?;
        if live.is_empty() {
            return Ok(0);
        }
        if !actor.global_access() {
            let targets = users::Entity::find()
                .filter(users::Column::Id.is_in(live.clone()))
                .all(&state.db)
                .await?;
            let role_ids: Vec<Uuid> = targets.iter().filter_map(|u| u.role_id).collect();
            let global = roles::Entity::find()
                .filter(roles::Column::Id.is_in(role_ids))
                .filter(roles::Column::GlobalAccess.eq(true))
                .one(&state.db)
                .await?;
            if global.is_some() {
                return Err(only_global());
            }
        }
        let now = Utc::now();
        let txn = state.db.begin().await?;
        for id in &live {
            users::Entity::update(users::ActiveModel {
                id: Set(*id),
                deleted_at: Set(Some(now)),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec(&txn)
            .await?;
            sessions::end_all(&txn, *id, "deleted").await?;
        }
        txn.commit().await?;
        Ok(live.len() as u64)
    }
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    crate::crud_router!(
        resource = Users,
        tag = "users",
        row = UserRow,
        data = UserData,
        base = "/api/users",
        count = "/api/users/count",
        autocomplete = "/api/users/autocomplete",
        by_id = "/api/users/{id}",
        delete_by_ids = "/api/users/deleteByIds",
    )
}

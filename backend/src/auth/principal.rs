//! Who is making the request: the user row, their role and effective permissions, loaded in one
//! query (user ⟕ role ⟕ permissions of the role ∪ custom permissions). Every authenticated
//! request runs it, so it also enforces the token version, `disabled` and soft delete.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::AppError;

/// A role as shown to clients.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    pub id: Uuid,
    pub name: String,
    pub global_access: bool,
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub disabled: bool,
    pub email_verified: bool,
    pub provider: Option<String>,
    pub token_version: i32,
    pub password_hash: Option<String>,
    pub deleted: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub role: Option<RoleRef>,
    pub permissions: Vec<String>,
}

/// The profile returned by `/me`, signin, signup, refresh and `PUT /profile`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    pub email_verified: bool,
    pub disabled: bool,
    pub provider: Option<String>,
    pub role: Option<RoleRef>,
    /// Effective permission names: the role's plus the user's custom ones.
    pub permissions: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
}

impl Principal {
    pub fn global_access(&self) -> bool {
        self.role.as_ref().is_some_and(|r| r.global_access)
    }

    /// Global access passes everything; otherwise the permission must be held.
    pub fn can(&self, permission: &str) -> bool {
        self.global_access() || self.permissions.iter().any(|p| p == permission)
    }

    pub fn profile(&self) -> Profile {
        Profile {
            id: self.id,
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            phone_number: self.phone.clone(),
            email_verified: self.email_verified,
            disabled: self.disabled,
            provider: self.provider.clone(),
            role: self.role.clone(),
            permissions: self.permissions.clone(),
            created_at: self.created_at,
        }
    }
}

/// Builds a statement from SQL written with `$1, $2…` placeholders, for either database
/// (SQLite spells numbered parameters `?1`).
pub fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_string(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

const SELECT: &str = "SELECT u.id, u.email, u.first_name, u.last_name, u.phone, u.disabled, \
    u.email_verified, u.provider, u.token_version, u.password_hash, u.deleted_at, u.created_at, \
    r.id AS role_id, r.name AS role_name, r.global_access AS role_global, p.name AS perm \
    FROM users u \
    LEFT JOIN roles r ON r.id = u.role_id \
    LEFT JOIN permissions p ON \
      p.id IN (SELECT rp.permission_id FROM role_permissions rp WHERE rp.role_id = u.role_id) \
      OR p.id IN (SELECT up.permission_id FROM user_permissions up WHERE up.user_id = u.id) ";

pub async fn load_by_id(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<Principal>, AppError> {
    let sql = format!("{SELECT} WHERE u.id = $1 ORDER BY p.name");
    let rows = db
        .query_all_raw(statement(db.get_database_backend(), &sql, vec![id.into()]))
        .await?;
    assemble(rows)
}

/// Case-insensitive; soft-deleted accounts are not found.
pub async fn load_by_email(
    db: &impl ConnectionTrait,
    email_lower: &str,
) -> Result<Option<Principal>, AppError> {
    let sql =
        format!("{SELECT} WHERE lower(u.email) = $1 AND u.deleted_at IS NULL ORDER BY p.name");
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            &sql,
            vec![email_lower.to_string().into()],
        ))
        .await?;
    assemble(rows)
}

fn assemble(rows: Vec<QueryResult>) -> Result<Option<Principal>, AppError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let get = |e: sea_orm::DbErr| AppError::internal(e);
    let role_id: Option<Uuid> = first.try_get("", "role_id").map_err(get)?;
    let role = match role_id {
        Some(id) => Some(RoleRef {
            id,
            name: first.try_get("", "role_name").map_err(get)?,
            global_access: first.try_get("", "role_global").map_err(get)?,
        }),
        None => None,
    };
    let mut permissions = Vec::new();
    for row in &rows {
        if let Some(p) = row.try_get::<Option<String>>("", "perm").map_err(get)?
            && !permissions.contains(&p)
        {
            permissions.push(p);
        }
    }
    let deleted_at: Option<DateTime<Utc>> = first.try_get("", "deleted_at").map_err(get)?;
    Ok(Some(Principal {
        id: first.try_get("", "id").map_err(get)?,
        email: first.try_get("", "email").map_err(get)?,
        first_name: first.try_get("", "first_name").map_err(get)?,
        last_name: first.try_get("", "last_name").map_err(get)?,
        phone: first.try_get("", "phone").map_err(get)?,
        disabled: first.try_get("", "disabled").map_err(get)?,
        email_verified: first.try_get("", "email_verified").map_err(get)?,
        provider: first.try_get("", "provider").map_err(get)?,
        token_version: first.try_get("", "token_version").map_err(get)?,
        password_hash: first.try_get("", "password_hash").map_err(get)?,
        deleted: deleted_at.is_some(),
        created_at: first.try_get("", "created_at").ok(),
        role,
        permissions,
    }))
}

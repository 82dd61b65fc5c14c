//! Who is making the request: the user row and their custom permission names, read in one
//! primary-key query on every authenticated request (so the token version, `disabled` and soft
//! delete are always current), plus their role and its permissions from the in-process
//! [`RoleCache`] (a database read only on a miss). An authenticated request reads it through
//! [`load_for_request`] (on PostgreSQL over [`crate::pg_lane`]).

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use sea_orm::sqlx::{self, Row as _, postgres::PgRow};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

use super::role_cache::{RoleCache, RoleInfo};
use crate::error::AppError;
use crate::state::AppState;

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
    /// The role with its permission names (shared with the cache).
    pub role: Option<Arc<RoleInfo>>,
    /// Permissions granted to this user on top of the role's, sorted.
    pub custom_permissions: Vec<String>,
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

/// [`Profile`] borrowed from a [`Principal`]: same fields, same order, same JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRef<'a> {
    id: Uuid,
    email: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    phone_number: Option<&'a str>,
    email_verified: bool,
    disabled: bool,
    provider: Option<&'a str>,
    role: Option<&'a RoleRef>,
    permissions: PermissionNames<'a>,
    created_at: Option<DateTime<Utc>>,
}

/// [`Principal::permissions`] as a JSON array, without collecting owned names.
struct PermissionNames<'a>(&'a Principal);

impl Serialize for PermissionNames<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let role = p
            .role
            .as_ref()
            .map(|r| r.permissions.as_slice())
            .unwrap_or(&[]);
        if p.custom_permissions.is_empty() {
            // The role's names are already sorted and unique (RoleInfo).
            return serializer.collect_seq(role);
        }
        let mut all: Vec<&str> = role
            .iter()
            .chain(&p.custom_permissions)
            .map(String::as_str)
            .collect();
        all.sort_unstable();
        all.dedup();
        serializer.collect_seq(all)
    }
}

impl Principal {
    pub fn global_access(&self) -> bool {
        self.role.as_ref().is_some_and(|r| r.role.global_access)
    }

    /// Global access passes everything; otherwise the permission must be held.
    pub fn can(&self, permission: &str) -> bool {
        self.global_access()
            || self
                .role
                .as_ref()
                .is_some_and(|r| r.permissions.iter().any(|p| p == permission))
            || self.custom_permissions.iter().any(|p| p == permission)
    }

    /// Effective permission names: the role's and the custom ones, sorted, without repeats.
    pub fn permissions(&self) -> Vec<String> {
        let role = self
            .role
            .as_ref()
            .map(|r| r.permissions.as_slice())
            .unwrap_or(&[]);
        let mut all = Vec::with_capacity(role.len() + self.custom_permissions.len());
        all.extend_from_slice(role);
        if !self.custom_permissions.is_empty() {
            all.extend_from_slice(&self.custom_permissions);
            all.sort_unstable();
            all.dedup();
        }
        all
    }

    /// The same JSON document as [`Principal::profile`], borrowing instead of copying every
    /// string and permission name: `/me` writes it on every request.
    pub fn profile_ref(&self) -> ProfileRef<'_> {
        ProfileRef {
            id: self.id,
            email: &self.email,
            first_name: self.first_name.as_deref(),
            last_name: self.last_name.as_deref(),
            phone_number: self.phone.as_deref(),
            email_verified: self.email_verified,
            disabled: self.disabled,
            provider: self.provider.as_deref(),
            role: self.role.as_ref().map(|r| &r.role),
            permissions: PermissionNames(self),
            created_at: self.created_at,
        }
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
            role: self.role.as_ref().map(|r| r.role.clone()),
            permissions: self.permissions(),
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

/// The user row plus their custom permission names as a JSON array (`NULL` or `[]` when none):
/// one primary-key (or unique-index) lookup and one probe of `user_permissions`.
fn select(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Sqlite => {
            "SELECT u.id, u.email, u.first_name, u.last_name, u.phone, u.disabled, \
            u.email_verified, u.provider, u.token_version, u.password_hash, u.deleted_at, \
            u.created_at, u.role_id, \
            (SELECT json_group_array(p.name) FROM user_permissions up \
              JOIN permissions p ON p.id = up.permission_id WHERE up.user_id = u.id) AS custom \
            FROM users u "
        }
        _ => {
            "SELECT u.id, u.email, u.first_name, u.last_name, u.phone, u.disabled, \
            u.email_verified, u.provider, u.token_version, u.password_hash, u.deleted_at, \
            u.created_at, u.role_id, \
            (SELECT json_agg(p.name)::text FROM user_permissions up \
              JOIN permissions p ON p.id = up.permission_id WHERE up.user_id = u.id) AS custom \
            FROM users u "
        }
    }
}

pub async fn load_by_id(
    db: &impl ConnectionTrait,
    roles: &RoleCache,
    id: Uuid,
) -> Result<Option<Principal>, AppError> {
    let backend = db.get_database_backend();
    let sql = format!("{}WHERE u.id = $1", select(backend));
    let row = db
        .query_one_raw(statement(backend, &sql, vec![id.into()]))
        .await?;
    let row = row.as_ref().map(Row::from_query_result).transpose()?;
    assemble(db, roles, row).await
}

/// Case-insensitive; soft-deleted accounts are not found.
pub async fn load_by_email(
    db: &impl ConnectionTrait,
    roles: &RoleCache,
    email_lower: &str,
) -> Result<Option<Principal>, AppError> {
    let backend = db.get_database_backend();
    let sql = format!(
        "{}WHERE lower(u.email) = $1 AND u.deleted_at IS NULL",
        select(backend)
    );
    let row = db
        .query_one_raw(statement(
            backend,
            &sql,
            vec![email_lower.to_string().into()],
        ))
        .await?;
    let row = row.as_ref().map(Row::from_query_result).transpose()?;
    assemble(db, roles, row).await
}

/// The row as read, before the role and the custom permission names are resolved.
struct Row {
    id: Uuid,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    disabled: bool,
    email_verified: bool,
    provider: Option<String>,
    token_version: i32,
    password_hash: Option<String>,
    deleted_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    role_id: Option<Uuid>,
    custom: Option<String>,
}

impl Row {
    fn from_query_result(row: &QueryResult) -> Result<Row, AppError> {
        let get = |e: sea_orm::DbErr| AppError::internal(e);
        Ok(Row {
            id: row.try_get("", "id").map_err(get)?,
            email: row.try_get("", "email").map_err(get)?,
            first_name: row.try_get("", "first_name").map_err(get)?,
            last_name: row.try_get("", "last_name").map_err(get)?,
            phone: row.try_get("", "phone").map_err(get)?,
            disabled: row.try_get("", "disabled").map_err(get)?,
            email_verified: row.try_get("", "email_verified").map_err(get)?,
            provider: row.try_get("", "provider").map_err(get)?,
            token_version: row.try_get("", "token_version").map_err(get)?,
            password_hash: row.try_get("", "password_hash").map_err(get)?,
            deleted_at: row.try_get("", "deleted_at").map_err(get)?,
            created_at: row
                .try_get::<Option<DateTime<Utc>>>("", "created_at")
                .ok()
                .flatten(),
            role_id: row.try_get("", "role_id").map_err(get)?,
            custom: row.try_get("", "custom").map_err(get)?,
        })
    }

    /// By position, in [`select`]'s column order.
    fn from_pg_row(row: &PgRow) -> Result<Row, AppError> {
        let get = |e: sqlx::Error| AppError::internal(e);
        Ok(Row {
            id: row.try_get(0).map_err(get)?,
            email: row.try_get(1).map_err(get)?,
            first_name: row.try_get(2).map_err(get)?,
            last_name: row.try_get(3).map_err(get)?,
            phone: row.try_get(4).map_err(get)?,
            disabled: row.try_get(5).map_err(get)?,
            email_verified: row.try_get(6).map_err(get)?,
            provider: row.try_get(7).map_err(get)?,
            token_version: row.try_get(8).map_err(get)?,
            password_hash: row.try_get(9).map_err(get)?,
            deleted_at: row.try_get(10).map_err(get)?,
            created_at: row.try_get::<Option<DateTime<Utc>>, _>(11).ok().flatten(),
            role_id: row.try_get(12).map_err(get)?,
            custom: row.try_get(13).map_err(get)?,
        })
    }
}

/// The principal of an authenticated request: on PostgreSQL through [`PgLane`] (no second
/// round trip per request, see `pg_lane`), the same query and result as [`load_by_id`].
pub async fn load_for_request(state: &AppState, id: Uuid) -> Result<Option<Principal>, AppError> {
    let Some(lane) = state.pg_lane.as_deref() else {
        return load_by_id(&state.db, &state.auth.roles, id).await;
    };
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("{}WHERE u.id = $1", select(DbBackend::Postgres)));
    let mut conn = lane.acquire().await.map_err(AppError::internal)?;
    let row = sqlx::query(SQL.as_str())
        .bind(id)
        .fetch_optional(conn.conn())
        .await
        .map_err(AppError::internal)?;
    conn.release();
    let row = row.as_ref().map(Row::from_pg_row).transpose()?;
    assemble(&state.db, &state.auth.roles, row).await
}

async fn assemble(
    db: &impl ConnectionTrait,
    roles: &RoleCache,
    row: Option<Row>,
) -> Result<Option<Principal>, AppError> {
    let Some(row) = row else {
        return Ok(None);
    };
    let role = match row.role_id {
        Some(id) => roles.get(db, id).await?,
        None => None,
    };
    let mut custom_permissions: Vec<String> = match row.custom.as_deref() {
        None | Some("[]") => Vec::new(),
        Some(json) => serde_json::from_str::<Vec<Option<String>>>(json)
            .map_err(AppError::internal)?
            .into_iter()
            .flatten()
            .collect(),
    };
    custom_permissions.sort_unstable();
    custom_permissions.dedup();
    Ok(Some(Principal {
        id: row.id,
        email: row.email,
        first_name: row.first_name,
        last_name: row.last_name,
        phone: row.phone,
        disabled: row.disabled,
        email_verified: row.email_verified,
        provider: row.provider,
        token_version: row.token_version,
        password_hash: row.password_hash,
        deleted: row.deleted_at.is_some(),
        created_at: row.created_at,
        role,
        custom_permissions,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(custom: &[&str], role_perms: &[&str], role: bool) -> Principal {
        Principal {
            id: Uuid::from_u128(7),
            email: "a\"b@example.com".into(),
            first_name: Some("Zoë".into()),
            last_name: None,
            phone: Some("+1 555".into()),
            disabled: false,
            email_verified: true,
            provider: Some("local".into()),
            token_version: 3,
            password_hash: Some("$argon2id$secret".into()),
            deleted: false,
            created_at: DateTime::from_timestamp(1_700_000_000, 123_000_000),
            role: role.then(|| {
                Arc::new(RoleInfo {
                    role: RoleRef {
                        id: Uuid::from_u128(9),
                        name: "User".into(),
                        global_access: false,
                    },
                    permissions: role_perms.iter().map(|s| s.to_string()).collect(),
                })
            }),
            custom_permissions: custom.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `/me` writes `profile_ref`; every other route `profile`: the documents must be equal,
    /// byte for byte.
    #[test]
    fn profile_ref_serializes_like_profile() {
        for p in [
            principal(&[], &["READ_API_DOCS", "READ_USERS"], true),
            principal(
                &["CREATE_USERS", "READ_USERS"],
                &["READ_API_DOCS", "READ_USERS"],
                true,
            ),
            principal(&["DELETE_ROLES"], &[], false),
            principal(&[], &[], false),
        ] {
            let owned = serde_json::to_string(&p.profile()).expect("serializes");
            let borrowed = serde_json::to_string(&p.profile_ref()).expect("serializes");
            assert_eq!(borrowed, owned);
            assert!(!borrowed.contains("argon2"), "{borrowed}");
        }
    }
}

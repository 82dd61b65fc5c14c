//! Refresh-token families: start one at signin, rotate on refresh (one atomic UPDATE decides the
//! winner), revoke a family on reuse or signout, and end every session of a user (token version
//! bump + revoke all families) on password change, reset, disable, role change or delete.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};
use uuid::Uuid;

use super::principal::statement;
use super::tokens;
use crate::entities::refresh_tokens;
use crate::error::AppError;
use crate::state::AppState;

/// A fresh pair of credentials for the client.
#[derive(Debug)]
pub struct Issued {
    pub access: String,
    pub refresh: String,
    /// Seconds until the family's absolute expiry: the refresh cookie's Max-Age.
    pub refresh_max_age: i64,
}

fn access_for(state: &AppState, user_id: Uuid, version: i32) -> String {
    state.auth.keys.issue(
        user_id,
        i64::from(version),
        Utc::now().timestamp(),
        state.auth.access_ttl_secs(),
    )
}

async fn insert_token(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    family_id: Uuid,
    parent_id: Option<Uuid>,
    expires_at: DateTime<Utc>,
) -> Result<String, AppError> {
    let token = tokens::generate();
    let row = refresh_tokens::ActiveModel {
        id: Set(Uuid::new_v4()),
        family_id: Set(family_id),
        parent_id: Set(parent_id),
        user_id: Set(user_id),
        token_hash: Set(tokens::hash(&token)),
        issued_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    };
    refresh_tokens::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(token)
}

/// A new family (signin, signup, OAuth, password change).
pub async fn start(state: &AppState, user_id: Uuid, version: i32) -> Result<Issued, AppError> {
    let expires_at = Utc::now()
        + chrono::Duration::from_std(state.auth.refresh_ttl())
            .unwrap_or(chrono::Duration::days(30));
    let refresh = insert_token(&state.db, user_id, Uuid::new_v4(), None, expires_at).await?;
    Ok(Issued {
        access: access_for(state, user_id, version),
        refresh,
        refresh_max_age: (expires_at - Utc::now()).num_seconds(),
    })
}

pub enum Rotation {
    /// The presented token was current: here is its successor.
    Rotated {
        user_id: Uuid,
        family_id: Uuid,
        refresh: String,
        expires_at: DateTime<Utc>,
    },
    /// The token had already been used or revoked: its family is now revoked.
    Reused { user_id: Uuid, family_id: Uuid },
    /// Unknown or expired.
    Invalid,
}

/// Rotate `token`. Of two concurrent calls with the same token exactly one gets `Rotated`.
pub async fn rotate(state: &AppState, token: &str) -> Result<Rotation, AppError> {
    if !tokens::looks_valid(token) {
        return Ok(Rotation::Invalid);
    }
    let hash = tokens::hash(token);
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let backend = txn.get_database_backend();
    // The one statement that decides the winner: only one UPDATE can see used_at IS NULL.
    let won = txn
        .query_one_raw(statement(
            backend,
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
             RETURNING id, family_id, user_id, expires_at",
            vec![now.into(), hash.clone().into()],
        ))
        .await?;
    if let Some(row) = won {
        let id: Uuid = row.try_get("", "id").map_err(AppError::internal)?;
        let family_id: Uuid = row.try_get("", "family_id").map_err(AppError::internal)?;
        let user_id: Uuid = row.try_get("", "user_id").map_err(AppError::internal)?;
        let expires_at: DateTime<Utc> =
            row.try_get("", "expires_at").map_err(AppError::internal)?;
        let refresh = insert_token(&txn, user_id, family_id, Some(id), expires_at).await?;
        txn.commit().await?;
        return Ok(Rotation::Rotated {
            user_id,
            family_id,
            refresh,
            expires_at,
        });
    }
    txn.commit().await?;

    let found = state
        .db
        .query_one_raw(statement(
            backend,
            "SELECT family_id, user_id, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
            vec![hash.into()],
        ))
        .await?;
    let Some(row) = found else {
        return Ok(Rotation::Invalid);
    };
    let used: Option<DateTime<Utc>> = row.try_get("", "used_at").map_err(AppError::internal)?;
    let revoked: Option<DateTime<Utc>> =
        row.try_get("", "revoked_at").map_err(AppError::internal)?;
    if used.is_none() && revoked.is_none() {
        // Simply expired.
        return Ok(Rotation::Invalid);
    }
    let family_id: Uuid = row.try_get("", "family_id").map_err(AppError::internal)?;
    let user_id: Uuid = row.try_get("", "user_id").map_err(AppError::internal)?;
    revoke_family(state, family_id, "reuse").await?;
    Ok(Rotation::Reused { user_id, family_id })
}

pub fn access_token(state: &AppState, user_id: Uuid, version: i32) -> String {
    access_for(state, user_id, version)
}

pub async fn revoke_family(
    state: &AppState,
    family_id: Uuid,
    reason: &str,
) -> Result<(), AppError> {
    state
        .db
        .execute_raw(statement(
            state.db.get_database_backend(),
            "UPDATE refresh_tokens SET revoked_at = $1, revoked_reason = $2 \
             WHERE family_id = $3 AND revoked_at IS NULL",
            vec![
                Utc::now().into(),
                reason.to_string().into(),
                family_id.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Signout: revoke the family of `token` if it is one of ours.
pub async fn revoke_by_token(state: &AppState, token: &str) -> Result<(), AppError> {
    if !tokens::looks_valid(token) {
        return Ok(());
    }
    let backend = state.db.get_database_backend();
    let found = state
        .db
        .query_one_raw(statement(
            backend,
            "SELECT family_id FROM refresh_tokens WHERE token_hash = $1",
            vec![tokens::hash(token).into()],
        ))
        .await?;
    if let Some(row) = found {
        let family_id: Uuid = row.try_get("", "family_id").map_err(AppError::internal)?;
        revoke_family(state, family_id, "signout").await?;
    }
    Ok(())
}

/// Ends every session of `user_id`: outstanding access tokens fail at their next use (version
/// bump) and every refresh family is revoked. Runs on `db` so callers can include it in their
/// transaction.
pub async fn end_all(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    reason: &str,
) -> Result<(), AppError> {
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        "UPDATE users SET token_version = token_version + 1 WHERE id = $1",
        vec![user_id.into()],
    ))
    .await?;
    db.execute_raw(statement(
        backend,
        "UPDATE refresh_tokens SET revoked_at = $1, revoked_reason = $2 \
         WHERE user_id = $3 AND revoked_at IS NULL",
        vec![Utc::now().into(), reason.to_string().into(), user_id.into()],
    ))
    .await?;
    Ok(())
}

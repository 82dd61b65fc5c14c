//! Password-reset and email-verification tokens: random, stored hashed, single-use (consumed by
//! one atomic UPDATE), expiring.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::principal::statement;
use super::tokens;
use crate::entities::one_time_tokens;
use crate::error::AppError;

pub use crate::entities::one_time_tokens::{PURPOSE_EMAIL_VERIFICATION, PURPOSE_PASSWORD_RESET};

/// Stores a new token for `user_id` and returns it (the only time it exists in clear).
pub async fn create(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: &str,
    ttl: Duration,
) -> Result<String, AppError> {
    let token = tokens::generate();
    let now = Utc::now();
    let row = one_time_tokens::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        purpose: Set(purpose.to_string()),
        token_hash: Set(tokens::hash(&token)),
        expires_at: Set(now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1))),
        used_at: Set(None),
        created_at: Set(now),
    };
    one_time_tokens::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(token)
}

/// Marks the token used and returns its user, or `None` when it is unknown, used or expired.
pub async fn consume(
    db: &impl ConnectionTrait,
    token: &str,
    purpose: &str,
) -> Result<Option<Uuid>, AppError> {
    if !tokens::looks_valid(token) {
        return Ok(None);
    }
    let now = Utc::now();
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "UPDATE one_time_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING user_id",
            vec![
                now.into(),
                tokens::hash(token).into(),
                purpose.to_string().into(),
            ],
        ))
        .await?;
    match row {
        Some(r) => Ok(Some(r.try_get("", "user_id").map_err(AppError::internal)?)),
        None => Ok(None),
    }
}

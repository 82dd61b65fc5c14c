//! `backend cleanup-tokens`: delete refresh-token rows whose expiry is older than the
//! retention window (`AUTH_REFRESH_TOKEN_RETENTION_MS`, default 7 days). A token that is still
//! valid, or expired more recently than that, is never touched; running it again removes 0.

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::config::Config;
use crate::entities::refresh_tokens;

/// Number of rows deleted.
pub async fn run(db: &DatabaseConnection, config: &Config) -> anyhow::Result<u64> {
    let retention = chrono::Duration::from_std(config.auth.refresh_token_retention)
        .unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now()
        .checked_sub_signed(retention)
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    let res = refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::ExpiresAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

//! Database connection: one SeaORM pool for PostgreSQL or SQLite, sized for a 2-core machine,
//! with retries at startup and errors that name the server but never the password.
//!
//! SQLite gets WAL (readers don't block the writer) and foreign keys on (sqlx enables them on
//! every connection); its file and directory are created on demand.

use std::time::Duration;

use anyhow::{Context, anyhow};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use secrecy::ExposeSecret;

use crate::config::{Config, DatabaseConfig};

/// Connect, retrying with backoff `config.db_connect_attempts` times.
pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    if let DatabaseConfig::Sqlite { path } = &config.database
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || std::fs::create_dir_all(&dir))
            .await
            .context("creating the SQLite data directory")?
            .with_context(|| {
                format!(
                    "cannot create the SQLite data directory for {} (set DATA_DIR or DATABASE_URL)",
                    path.display()
                )
            })?;
    }

    let attempts = config.db_connect_attempts.max(1);
    let mut delay = Duration::from_millis(250);
    let mut last_err = None;
    for attempt in 1..=attempts {
        match Database::connect(options(config)).await {
            Ok(db) => {
                // Cheap sanity query so a wrong database name fails here, not on first request.
                match db.execute_unprepared("SELECT 1").await {
                    Ok(_) => return Ok(db),
                    Err(e) => last_err = Some(e.to_string()),
                }
            }
            Err(e) => last_err = Some(e.to_string()),
        }
        if attempt < attempts {
            tracing::warn!(
                attempt,
                attempts,
                database = %config.database.describe(),
                "database not reachable yet, retrying in {} ms",
                delay.as_millis()
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(4));
        }
    }
    let cause = redact(config, &last_err.unwrap_or_default());
    Err(anyhow!(
        "could not connect to {} after {attempts} attempt(s): {cause}",
        config.database.describe()
    ))
}

fn options(config: &Config) -> ConnectOptions {
    let mut opt = ConnectOptions::new(config.database.url());
    opt.max_connections(config.db_pool_max)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        // Short, so /api/ready answers 503 promptly while the database is down.
        .acquire_timeout(Duration::from_secs(3))
        // No idle timeout and no max lifetime: either one makes sqlx 0.9.0 run a pool
        // maintenance loop over `0..num_idle()`, and that counter can wrap below zero for a
        // moment under concurrent release/acquire, leaving a worker spinning for ever (seen:
        // a test process at 100% CPU for 10 minutes). A pool of at most DB_POOL_MAX
        // connections costs nothing to keep; broken ones are caught by the idle ping below.
        .idle_timeout(None::<Duration>)
        .max_lifetime(None::<Duration>)
        // Broken connections (server restarted) are dropped instead of handed out: a
        // connection idle for a second or more is pinged before use. Not every checkout: a
        // ping is a round trip of its own, and it doubled the database work of a request
        // that makes one query (/api/auth/me). A connection that breaks while in steady use
        // fails its query and is discarded by sqlx.
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
        .sqlx_logging(false);
    if matches!(config.database, DatabaseConfig::Sqlite { .. }) {
        opt.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    }
    opt
}

/// Strip the password from a driver message, in case a driver ever echoes the URL.
pub fn redact(config: &Config, message: &str) -> String {
    let mut out = message.to_owned();
    if let DatabaseConfig::Postgres(pg) = &config.database {
        let url = pg.url.expose_secret();
        out = out.replace(url, "[database url]");
        if let Some(pass) = url
            .split_once("://")
            .and_then(|(_, r)| r.split_once('@'))
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .map(|(_, p)| p)
            .filter(|p| !p.is_empty())
        {
            out = out.replace(pass, "[REDACTED]");
        }
    }
    out
}

/// Is the database answering right now? Used by `/api/ready`.
pub async fn ping(db: &DatabaseConnection) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(3), db.execute_unprepared("SELECT 1")).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("database did not answer within 3 s".to_owned()),
    }
}

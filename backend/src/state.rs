//! Shared application state handed to every handler: the database pool and the validated
//! configuration. Cheap to clone (both are reference-counted). Modules that need more shared
//! things (JWT keys, a mailer) add a field here and build it in [`AppState::new`].

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend};

use crate::auth::AuthState;
use crate::config::Config;
use crate::pg_lane::PgLane;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    /// JWT keys, rate limiter, mailer (issue 3).
    pub auth: Arc<AuthState>,
    /// PostgreSQL only: the connections for the per-request principal lookup (see `pg_lane`).
    pub pg_lane: Option<Arc<PgLane>>,
}

impl AppState {
    /// Fails when the auth module cannot start (no usable JWT crypto provider, bad mail setup).
    pub fn new(db: DatabaseConnection, config: Arc<Config>) -> anyhow::Result<AppState> {
        let auth = Arc::new(AuthState::new(&config)?);
        let pg_lane = (db.get_database_backend() == DbBackend::Postgres).then(|| {
            let options = db.get_postgres_connection_pool().connect_options();
            Arc::new(PgLane::new((*options).clone(), config.db_pool_max))
        });
        Ok(AppState {
            db,
            config,
            auth,
            pg_lane,
        })
    }
}

//! Shared application state handed to every handler: the database pool and the validated
//! configuration. Cheap to clone (both are reference-counted). Modules that need more shared
//! things (JWT keys, a mailer) add a field here and build it in [`AppState::new`].

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Arc<Config>) -> AppState {
        AppState { db, config }
    }
}

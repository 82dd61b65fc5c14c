//! The one migration set, run unchanged on PostgreSQL and SQLite (sea-orm-migration). Applied
//! migrations are recorded in `seaql_migrations`, so `migrate` twice is a no-op; every create
//! also says `IF NOT EXISTS` so a half-applied first run can be resumed.
//!
//! New migrations (auth, CRUD resources) are new files here, appended to
//! [`Migrator::migrations`]; never edit one that has landed on main.

use sea_orm_migration::prelude::*;

mod m20261128_000001_initial;
mod m20261202_000001_list_order_idx;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial::Migration),
            Box::new(m20261202_000001_list_order_idx::Migration),
        ]
    }
}

/// Our tables, children first (the order they can be dropped in).
pub const TABLES: &[&str] = &[
    "one_time_tokens",
    "refresh_tokens",
    "user_permissions",
    "role_permissions",
    "users",
    "permissions",
    "roles",
];

//! Indexes for the CRUD lists' default order (`created_at DESC, id DESC` over the rows not
//! soft-deleted): a page then reads `limit` index entries instead of sorting the table. Plain
//! SQL because the partial `WHERE` is the same on PostgreSQL and SQLite.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &str)] = &[
    (
        "users_list_order_idx",
        "ON users (created_at, id) WHERE deleted_at IS NULL",
    ),
    ("roles_list_order_idx", "ON roles (created_at, id)"),
    (
        "permissions_list_order_idx",
        "ON permissions (created_at, id)",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, def) in INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX IF NOT EXISTS {name} {def}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}

//! `backend migrate`: apply pending migrations and say what happened (or that nothing had to).

use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

use crate::migration::Migrator;

/// What a migrate run did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    UpToDate { applied: usize },
    Applied(Vec<String>),
}

pub async fn run(db: &DatabaseConnection) -> anyhow::Result<Outcome> {
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if pending.is_empty() {
        let applied = Migrator::get_applied_migrations(db).await?.len();
        return Ok(Outcome::UpToDate { applied });
    }
    Migrator::up(db, None).await?;
    Ok(Outcome::Applied(pending))
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::UpToDate { applied } => write!(
                f,
                "Nothing to migrate: the schema is up to date ({applied} migration(s) applied)."
            ),
            Outcome::Applied(names) => {
                write!(
                    f,
                    "Applied {} migration(s): {}",
                    names.len(),
                    names.join(", ")
                )
            }
        }
    }
}

//! `backend reset`: drop every table of ours (each migration's `down`, then the migrations'
//! bookkeeping), migrate and seed. Destructive, so it asks first: `--yes`, or typing `yes` at
//! a terminal prompt; anything else refuses and changes nothing.

use std::io::{BufRead, IsTerminal, Write};

use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

use crate::config::Config;
use crate::migration::Migrator;

/// Ask for confirmation unless `yes`. `Ok(false)` = refused.
pub fn confirm(config: &Config, yes: bool) -> anyhow::Result<bool> {
    let warning = format!(
        "backend reset will DELETE ALL DATA in {} (every table of ours is dropped), then migrate and seed.",
        config.database.describe()
    );
    if yes {
        eprintln!("{warning}");
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!(
            "{warning}\nRefusing without confirmation: run `backend reset --yes` to proceed."
        );
        return Ok(false);
    }
    eprint!("{warning}\nType `yes` to continue: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() == "yes" {
        Ok(true)
    } else {
        eprintln!("Not confirmed: nothing was changed.");
        Ok(false)
    }
}

pub async fn run(db: &DatabaseConnection, config: &Config) -> anyhow::Result<()> {
    // Migrator::reset = every migration's down (drops our tables) + drop seaql_migrations.
    Migrator::reset(db).await?;
    println!("Dropped every table.");
    let outcome = crate::migrate::run(db).await?;
    println!("{outcome}");
    let report = crate::seed::run(db, config).await?;
    println!("{report}");
    Ok(())
}

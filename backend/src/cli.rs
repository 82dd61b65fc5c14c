//! Command line: `backend serve|start|migrate|seed|reset|cleanup-tokens`. Parses arguments,
//! loads the configuration once, and runs the chosen command. Exit codes: 0 success,
//! 78 invalid configuration (EX_CONFIG), 1 any other failure.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser, Debug)]
#[command(
    name = "backend",
    version,
    about = "The app's API server (the seed's Express + Sequelize backend, rebuilt in Rust).",
    long_about = "The app's API server (the seed's Express + Sequelize backend, rebuilt in Rust).\n\n\
        Configuration comes from the environment and backend/.env (see README.md); \
        NODE_ENV selects the mode: development (default), test, dev_stage, production."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API (no migrations, no seeds). Stops gracefully on SIGTERM/SIGINT.
    Serve,
    /// Migrate, seed, then serve: what the seed's `npm run start` does.
    Start,
    /// Apply pending database migrations; says so when there is nothing to do.
    Migrate,
    /// Create the seeded roles, permissions and users if missing (idempotent). Users get
    /// ADMIN_PASS as password (development default if unset, printed once).
    Seed,
    /// DELETE ALL DATA: drop every table of ours, migrate, seed. Asks for confirmation.
    Reset {
        /// Don't ask: confirm that all data may be deleted.
        #[arg(long)]
        yes: bool,
    },
    /// Delete refresh tokens whose expiry is older than AUTH_REFRESH_TOKEN_RETENTION_MS
    /// (default 7 days) and print how many were removed. Safe to run any time (cron).
    CleanupTokens,
}

pub const EXIT_CONFIG: u8 = 78;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("backend: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    crate::telemetry::init(config.mode);
    if let Command::Reset { yes } = &cli.command {
        match crate::reset::confirm(&config, *yes) {
            Ok(true) => {}
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => {
                eprintln!("backend: error: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("backend: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}`: the whole context chain on one line, no backtrace.
            eprintln!("backend: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Arc<Config>) -> anyhow::Result<()> {
    if let Some(file) = config.env_file.as_ref().filter(|f| f.is_file()) {
        tracing::info!("loaded {}", file.display());
    }
    let db = crate::db::connect(&config).await?;
    match command {
        Command::Serve => crate::server::serve(config, db).await,
        Command::Start => {
            let outcome = crate::migrate::run(&db).await?;
            tracing::info!("{outcome}");
            let report = crate::seed::run(&db, &config).await?;
            tracing::info!("{report}");
            crate::server::serve(config, db).await
        }
        Command::Migrate => {
            let outcome = crate::migrate::run(&db).await?;
            println!("{outcome}");
            Ok(())
        }
        Command::Seed => {
            let report = crate::seed::run(&db, &config).await?;
            println!("{report}");
            Ok(())
        }
        Command::Reset { .. } => crate::reset::run(&db, &config).await,
        Command::CleanupTokens => {
            let removed = crate::cleanup::run(&db, &config).await?;
            println!(
                "Removed {removed} refresh token(s) expired more than {} ago.",
                humanize(config.auth.refresh_token_retention)
            );
            Ok(())
        }
    }
}

fn humanize(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} day(s)", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} hour(s)", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{} minute(s)", s / 60),
        _ => format!("{} ms", d.as_millis()),
    }
}

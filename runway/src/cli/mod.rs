//! The `runway` command line: global options, the verbs (one enum, one match), and the
//! context every verb needs (manifest path, state directory, mode).
//!
//! To add a verb: a variant in [`Verb`] (with its arguments), an arm in [`run`], and a
//! function in its own module. Verbs that talk to the daemon use [`Context::client`].

mod commands;
mod ops;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::daemon::client::{Client, ClientError};
use crate::daemon::state::Paths;
use crate::manifest::{MANIFEST_FILE, Manifest, Mode};

#[derive(Debug, Parser)]
#[command(
    name = "runway",
    version,
    about = "Runs a full-stack app on one machine: supervisor, proxy, jobs and deploys in one binary",
    propagate_version = true
)]
pub struct Cli {
    /// The manifest (default: runway.toml in this directory or the nearest parent).
    #[arg(short = 'c', long = "config", env = "RUNWAY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The state directory (socket, logs, saved list); default `.runway/` beside the manifest.
    #[arg(long, env = "RUNWAY_HOME", global = true)]
    pub home: Option<PathBuf>,
    /// development, dev_stage or production (default: NODE_ENV, else development).
    #[arg(long, global = true)]
    pub mode: Option<String>,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Start the daemon (unless one runs for this state directory) and the processes.
    Up(UpArgs),
    /// Show every process: pid, state, uptime, restarts, CPU, memory, port.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show (and follow) process logs.
    Logs(LogsArgs),
    /// Start stopped processes (NAMES or `all`).
    Start {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop processes (NAMES or `all`); the daemon keeps running.
    Stop {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Restart processes (NAMES or `all`).
    Restart {
        #[arg(required = true)]
        names: Vec<String>,
        /// Re-read the manifest's env, env_file and this shell's environment; variables
        /// removed since are removed from the process.
        #[arg(long)]
        update_env: bool,
    },
    /// Re-read the manifest: start added processes, stop removed ones, restart changed ones.
    Reload,
    /// Stop every process and the daemon.
    Down,
    /// Remember the running processes (and their environment) for `runway resurrect`.
    Save,
    /// Start the daemon if needed and bring back what `runway save` remembered.
    Resurrect {
        /// Run the daemon in the foreground (for systemd).
        #[arg(long)]
        foreground: bool,
    },
    /// Print a systemd unit that resurrects the saved processes at boot.
    Startup,
    /// Check the manifest and report every problem with its line.
    Check,
    /// Scheduled jobs.
    Jobs {
        #[command(subcommand)]
        action: JobsAction,
    },
    /// The seed's manual checks (1.6): the frontend through the proxy and directly, the API
    /// docs, the API's readiness, every process ready. Exit 0 only when all pass.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// The seed's troubleshooting table (1.8): detect known problems and say how to fix them.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Check out REF (default: the current branch's latest), build, and switch the running app
    /// to it without a failed request.
    Deploy {
        /// A branch, tag or commit (fetched first when the repository has a remote).
        #[arg(long = "ref")]
        git_ref: Option<String>,
        /// Leave out this pipeline step (repeatable), e.g. when its output was built elsewhere.
        #[arg(long = "skip", value_name = "STEP")]
        skip: Vec<String>,
    },
    /// Switch back to a kept release (default: the previous one), without downtime.
    Rollback { id: Option<String> },
    /// The recorded releases, newest first (`*` marks the live one).
    Releases {
        #[arg(long)]
        json: bool,
    },
    /// The database: provision PostgreSQL, or run the backend's db commands.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// The daemon itself (used by `up --detach` and `resurrect`).
    #[command(hide = true)]
    Daemon {
        names: Vec<String>,
        #[arg(long)]
        resurrect: bool,
        #[arg(long)]
        idle: bool,
    },
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Only these processes (and what they depend on); default: every autostart process.
    pub names: Vec<String>,
    /// Run the daemon in the background and return once the processes are up.
    #[arg(short, long)]
    pub detach: bool,
    /// `sqlite` (default in development) or `postgres` (the environment's DB_*, else what
    /// `runway db provision` recorded).
    #[arg(long)]
    pub db: Option<String>,
    /// Skip the pipeline (install, build, migrate, seed) and start what is already built.
    #[arg(long)]
    pub no_build: bool,
    /// Leave out this pipeline step (repeatable), e.g. when its output was built elsewhere.
    #[arg(long = "skip", value_name = "STEP")]
    pub skip: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Create the role and database in PostgreSQL (idempotent). Admin connection:
    /// RUNWAY_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres, PGPASSWORD).
    Provision {
        /// A private cluster under the state directory instead of the system's server.
        #[arg(long)]
        managed: bool,
        /// Role and database name (default app_<PROJECT_ID or directory name>).
        #[arg(long)]
        name: Option<String>,
    },
    /// Apply pending migrations.
    Migrate {
        #[arg(long, default_value = "sqlite")]
        db: String,
    },
    /// Create the seeded roles and users if missing.
    Seed {
        #[arg(long, default_value = "sqlite")]
        db: String,
    },
    /// Drop everything, migrate, seed (asks for confirmation).
    Reset {
        #[arg(long, default_value = "sqlite")]
        db: String,
    },
    /// Delete expired refresh tokens (what the daily job runs).
    CleanupTokens {
        #[arg(long, default_value = "sqlite")]
        db: String,
    },
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// A process (or `job:NAME`); default: every log.
    pub name: Option<String>,
    /// Keep printing new lines.
    #[arg(short, long)]
    pub follow: bool,
    /// Lines to show from the end of each file.
    #[arg(short = 'n', long = "lines", default_value_t = 15)]
    pub lines: usize,
    /// Only standard output.
    #[arg(long, conflicts_with = "err")]
    pub out: bool,
    /// Only standard error.
    #[arg(long)]
    pub err: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Run a job now.
    Run { name: String },
}

/// Where things are for this invocation.
pub struct Context {
    /// The manifest, when one was found (verbs like `status` work without it via RUNWAY_HOME).
    pub manifest: Option<PathBuf>,
    pub paths: Paths,
    pub mode: Mode,
    /// Whether `--mode` was given explicitly.
    pub mode_explicit: bool,
}

impl Context {
    fn new(cli: &Cli) -> Result<Context, String> {
        let manifest = match &cli.config {
            Some(path) => {
                if !path.is_file() {
                    return Err(format!(
                        "the manifest {} does not exist (from -c/--config or RUNWAY_CONFIG)",
                        path.display()
                    ));
                }
                Some(std::path::absolute(path).map_err(|e| e.to_string())?)
            }
            None => std::env::current_dir()
                .ok()
                .and_then(|dir| Manifest::find(&dir)),
        };
        let home = match (&cli.home, &manifest) {
            (Some(home), _) => home.clone(),
            (None, Some(manifest)) => manifest
                .parent()
                .map(|d| d.join(".runway"))
                .unwrap_or_else(|| PathBuf::from(".runway")),
            (None, None) => {
                return Err(format!(
                    "no {MANIFEST_FILE} here or in any parent directory; pass -c FILE (or set RUNWAY_CONFIG), or RUNWAY_HOME for a daemon's state directory"
                ));
            }
        };
        let (mode, mode_explicit) = match &cli.mode {
            Some(m) => (Mode::parse(m)?, true),
            None => (
                std::env::var("NODE_ENV")
                    .ok()
                    .and_then(|v| Mode::parse(&v).ok())
                    .unwrap_or(Mode::Development),
                false,
            ),
        };
        Ok(Context {
            manifest,
            paths: Paths::new(&home),
            mode,
            mode_explicit,
        })
    }

    pub fn manifest_path(&self) -> Result<&PathBuf, String> {
        self.manifest
            .as_ref()
            .ok_or_else(|| format!("no {MANIFEST_FILE} found; pass -c FILE or set RUNWAY_CONFIG"))
    }

    /// Loads and validates the manifest; the error lists every problem with its line.
    pub fn load_manifest(&self) -> Result<Manifest, String> {
        Manifest::load(self.manifest_path()?, self.mode)
            .map_err(|e| format!("{e}\nthe manifest was rejected; nothing was started or stopped"))
    }

    /// A connection to this state directory's daemon, if one runs.
    pub fn try_client(&self) -> Result<Option<Client>, String> {
        match Client::connect(&self.paths.socket) {
            Ok(c) => Ok(Some(c)),
            Err(ClientError::NotRunning) => Ok(None),
            Err(ClientError::Failed(e)) => Err(e),
        }
    }

    /// A connection to the daemon, or an error saying how to start one.
    pub fn client(&self) -> Result<Client, String> {
        self.try_client()?.ok_or_else(|| {
            format!(
                "no runway daemon is running for {}; start one with `runway up`",
                self.paths.home.display()
            )
        })
    }
}

/// Parses the command line and runs the verb. The whole program is this call.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("runway: {message}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, String> {
    let ctx = Context::new(&cli)?;
    match cli.verb {
        Verb::Up(args) => commands::up(&ctx, args),
        Verb::Status { json } => commands::status(&ctx, json),
        Verb::Logs(args) => commands::logs(&ctx, args),
        Verb::Start { names } => commands::start(&ctx, names),
        Verb::Stop { names } => commands::stop(&ctx, names),
        Verb::Restart { names, update_env } => commands::restart(&ctx, names, update_env),
        Verb::Reload => commands::reload(&ctx),
        Verb::Down => commands::down(&ctx),
        Verb::Save => commands::save(&ctx),
        Verb::Resurrect { foreground } => commands::resurrect(&ctx, foreground),
        Verb::Startup => commands::startup(&ctx),
        Verb::Check => commands::check(&ctx),
        Verb::Jobs { action } => match action {
            JobsAction::Run { name } => commands::jobs_run(&ctx, name),
        },
        Verb::Verify { json } => ops::verify(&ctx, json),
        Verb::Doctor { json } => ops::doctor(&ctx, json),
        Verb::Deploy { git_ref, skip } => ops::deploy(&ctx, git_ref, &skip),
        Verb::Rollback { id } => ops::rollback(&ctx, id),
        Verb::Releases { json } => ops::releases(&ctx, json),
        Verb::Db { action } => match action {
            DbAction::Provision { managed, name } => ops::db_provision(&ctx, managed, name),
            DbAction::Migrate { db } => ops::db_backend(&ctx, "migrate", &db),
            DbAction::Seed { db } => ops::db_backend(&ctx, "seed", &db),
            DbAction::Reset { db } => ops::db_backend(&ctx, "reset", &db),
            DbAction::CleanupTokens { db } => ops::db_backend(&ctx, "cleanup-tokens", &db),
        },
        Verb::Daemon {
            names,
            resurrect,
            idle,
        } => commands::daemon(&ctx, names, resurrect, idle),
    }
}

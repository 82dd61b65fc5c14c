//! `runway db migrate|seed|reset|cleanup-tokens`: the backend's own commands, run from the live
//! release (or the fresh build) with the environment the backend process gets: the mode as
//! `NODE_ENV`, and the provisioned database's `DB_*` when PostgreSQL is selected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checks::mode::Mode;

use super::provision;

/// Which database the backend uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DbChoice {
    /// Whatever the environment says (development/test default: embedded SQLite).
    #[default]
    FromEnv,
    /// PostgreSQL: the environment's DB_*, else what `runway db provision` recorded.
    Postgres,
}

impl std::str::FromStr for DbChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sqlite" | "env" => Ok(DbChoice::FromEnv),
            "postgres" | "postgresql" => Ok(DbChoice::Postgres),
            other => Err(format!("--db `{other}`: use sqlite or postgres")),
        }
    }
}

/// The backend's environment: `base` (the caller's and the manifest's), the mode, and the
/// provisioned database when PostgreSQL is chosen and `base` names none.
pub fn backend_env(
    base: &BTreeMap<String, String>,
    mode: Mode,
    db: DbChoice,
    state_dir: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let mut env = base.clone();
    env.insert("NODE_ENV".into(), mode.as_str().into());
    if db == DbChoice::Postgres {
        let configured = env.contains_key("DATABASE_URL")
            || crate::checks::mode::DB_VARS
                .iter()
                .all(|k| env.get(*k).is_some_and(|v| !v.is_empty()));
        if !configured {
            let recorded = provision::read_env_file(state_dir).ok_or_else(|| {
                "--db postgres: no DB_* in the environment and no provisioned database; run `runway db provision` (or `--managed`) first".to_string()
            })?;
            for (k, v) in recorded {
                env.entry(k).or_insert(v);
            }
        }
    }
    Ok(env)
}

/// The backend binary to run: the live release's, else the fresh build.
pub fn backend_binary(base_dir: &Path, state_dir: &Path) -> Result<PathBuf, String> {
    [
        state_dir.join("current").join("backend"),
        base_dir.join("target").join("release").join("backend"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| {
        "the backend is not built yet: run `runway up` (or `cargo build --release -p backend`)"
            .to_string()
    })
}

/// Runs `backend ARGS...` with the terminal attached (reset asks for confirmation there);
/// returns its exit code.
pub async fn run_backend(
    base_dir: &Path,
    state_dir: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
) -> Result<i32, String> {
    let bin = backend_binary(base_dir, state_dir)?;
    let status = tokio::process::Command::new(&bin)
        .args(args)
        .current_dir(base_dir)
        .envs(env)
        .status()
        .await
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    Ok(status.code().unwrap_or(1))
}

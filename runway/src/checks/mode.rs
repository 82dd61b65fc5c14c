//! The app's run mode as the platform names it (`NODE_ENV`), and what each mode requires of the
//! backend's environment — the seed's 1.2 rules, checked before anything starts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Development,
    Test,
    DevStage,
    Production,
}

impl Mode {
    pub const ACCEPTED: &'static str = "development, test, dev_stage, production";

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Development => "development",
            Mode::Test => "test",
            Mode::DevStage => "dev_stage",
            Mode::Production => "production",
        }
    }

    /// Production-like modes: secrets and database credentials are required, no defaults.
    pub fn strict(self) -> bool {
        matches!(self, Mode::DevStage | Mode::Production)
    }

    /// `--mode` wins, then `NODE_ENV`, then development.
    pub fn resolve(flag: Option<&str>, node_env: Option<&str>) -> Result<Mode, String> {
        match flag.or(node_env).map(str::trim) {
            None | Some("") => Ok(Mode::Development),
            Some(v) => v.parse(),
        }
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "development" => Ok(Mode::Development),
            "test" => Ok(Mode::Test),
            "dev_stage" => Ok(Mode::DevStage),
            "production" => Ok(Mode::Production),
            other => Err(format!(
                "mode `{other}` is not known; accepted values: {}",
                Mode::ACCEPTED
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const DB_VARS: [&str; 5] = ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"];

/// A missing-configuration problem for the backend in `mode`, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvProblem {
    pub id: &'static str,
    pub problem: String,
    pub fix: String,
}

fn set(env: &BTreeMap<String, String>, key: &str) -> bool {
    env.get(key).is_some_and(|v| !v.trim().is_empty())
}

/// Every rule of the seed's 1.2 that `env` breaks in `mode` (values are never echoed).
pub fn env_problems(mode: Mode, env: &BTreeMap<String, String>) -> Vec<EnvProblem> {
    let mut out = Vec::new();
    if mode.strict() && !set(env, "SECRET_KEY") {
        out.push(EnvProblem {
            id: "secret-key-missing",
            problem: format!("SECRET_KEY is required in {mode} and is not set"),
            fix: "set SECRET_KEY (at least 32 random bytes, e.g. `openssl rand -hex 32`) in the backend's environment".to_string(),
        });
    } else if mode == Mode::Production && env.get("SECRET_KEY").is_some_and(|v| v.len() < 32) {
        out.push(EnvProblem {
            id: "secret-key-short",
            problem: "SECRET_KEY is shorter than 32 bytes, which production refuses".to_string(),
            fix: "use a longer key, e.g. `openssl rand -hex 32`".to_string(),
        });
    }
    if mode == Mode::Production && !set(env, "ALLOWED_ORIGINS") {
        out.push(EnvProblem {
            id: "allowed-origins-missing",
            problem: "production without ALLOWED_ORIGINS: the backend stops with `ALLOWED_ORIGINS must be configured`".to_string(),
            fix: "set ALLOWED_ORIGINS to the site's origin(s), comma-separated, or run in dev_stage as the seed's VM does".to_string(),
        });
    }
    if mode.strict() && !set(env, "DATABASE_URL") {
        let missing: Vec<&str> = DB_VARS.into_iter().filter(|k| !set(env, k)).collect();
        if !missing.is_empty() {
            out.push(EnvProblem {
                id: "db-credentials-missing",
                problem: format!(
                    "Missing required database credentials in {mode}: {}",
                    missing.join(", ")
                ),
                fix: "set DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASS (or DATABASE_URL); `runway db provision` creates them for the local PostgreSQL".to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn mode_resolution_and_errors() {
        assert_eq!(Mode::resolve(None, None).unwrap(), Mode::Development);
        assert_eq!(
            Mode::resolve(None, Some("dev_stage")).unwrap(),
            Mode::DevStage
        );
        assert_eq!(
            Mode::resolve(Some("production"), Some("dev_stage")).unwrap(),
            Mode::Production
        );
        let e = Mode::resolve(Some("prod"), None).unwrap_err();
        assert!(
            e.contains("prod") && e.contains("dev_stage, production"),
            "{e}"
        );
    }

    #[test]
    fn development_needs_nothing() {
        assert!(env_problems(Mode::Development, &env(&[])).is_empty());
    }

    #[test]
    fn dev_stage_names_every_missing_secret_at_once_without_values() {
        let p = env_problems(
            Mode::DevStage,
            &env(&[("DB_HOST", "h"), ("DB_PASS", "s3cret")]),
        );
        let ids: Vec<&str> = p.iter().map(|p| p.id).collect();
        assert_eq!(ids, ["secret-key-missing", "db-credentials-missing"]);
        assert!(p[1].problem.contains("DB_PORT, DB_NAME, DB_USER"));
        assert!(!p[1].problem.contains("DB_HOST"));
        assert!(p.iter().all(|p| !p.problem.contains("s3cret")));
    }

    #[test]
    fn production_needs_allowed_origins_and_a_long_key() {
        let p = env_problems(
            Mode::Production,
            &env(&[("SECRET_KEY", "short"), ("DATABASE_URL", "postgres://x")]),
        );
        let ids: Vec<&str> = p.iter().map(|p| p.id).collect();
        assert_eq!(ids, ["secret-key-short", "allowed-origins-missing"]);
    }
}

//! Typed configuration: read once at startup from the environment (plus `backend/.env`),
//! validated as a whole, then passed around read-only inside [`crate::state::AppState`].
//!
//! Every problem is collected before failing, so an operator fixes a broken deployment in one
//! round instead of one variable per restart. Secrets live in [`SecretString`], whose `Debug`
//! prints `[REDACTED]`, so a stray `{:?}` can't leak them.
//!
//! **Where auth settings go:** add fields to [`AuthSettings`] and read them in
//! [`AuthSettings::from_env`] with the same [`Problems`] collector, so a bad auth variable is
//! reported together with every other problem. `Config::secret_key` is the JWT signing key.
//!
//! # `.env` discovery rule
//! The first of these that exists is loaded; real environment variables always win over it:
//! 1. the file named by `BACKEND_ENV_FILE`;
//! 2. `backend/.env` under the nearest ancestor of the running executable's directory that has
//!    a `backend/` folder (covers `cargo run` and `target/release/backend` started from
//!    anywhere, since the binary lives in `<repo>/target/<profile>/`);
//! 3. the same search from the current working directory (a binary copied elsewhere and run
//!    from inside the repository);
//! 4. `.env` in the backend crate's own source directory, as recorded at compile time.
//!
//! The directory that holds that `backend/` folder is the *backend home*; the default SQLite
//! data directory is `<backend home>/backend/data` (`DATA_DIR` overrides it).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// Runtime mode, from `NODE_ENV` (the platform sets it, so the Node name is kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Development,
    Test,
    DevStage,
    Production,
}

impl Mode {
    pub const ACCEPTED: &'static str = "development, test, dev_stage, production";

    pub fn parse(raw: &str) -> Option<Mode> {
        match raw.trim() {
            "development" => Some(Mode::Development),
            "test" => Some(Mode::Test),
            "dev_stage" => Some(Mode::DevStage),
            "production" => Some(Mode::Production),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Development => "development",
            Mode::Test => "test",
            Mode::DevStage => "dev_stage",
            Mode::Production => "production",
        }
    }

    /// development and test get zero-setup defaults (SQLite, a dev SECRET_KEY, seed password).
    pub fn is_local(self) -> bool {
        matches!(self, Mode::Development | Mode::Test)
    }

    /// dev_stage and production log JSON lines (machine-read by the platform).
    pub fn json_logs(self) -> bool {
        !self.is_local()
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the data lives.
#[derive(Clone, Debug)]
pub enum DatabaseConfig {
    Sqlite { path: PathBuf },
    Postgres(PostgresConfig),
}

#[derive(Clone, Debug)]
pub struct PostgresConfig {
    /// Full connection URL, password included: secret as a whole.
    pub url: SecretString,
    /// `host:port` for messages (never the password).
    pub display: String,
}

impl DatabaseConfig {
    /// Connection URL for SeaORM. Contains the password for PostgreSQL: never log it.
    pub fn url(&self) -> String {
        match self {
            DatabaseConfig::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
            DatabaseConfig::Postgres(pg) => pg.url.expose_secret().to_owned(),
        }
    }

    /// What to print about the database: engine and location, never credentials.
    pub fn describe(&self) -> String {
        match self {
            DatabaseConfig::Sqlite { path } => format!("SQLite at {}", path.display()),
            DatabaseConfig::Postgres(pg) => format!("PostgreSQL at {}", pg.display),
        }
    }
}

/// CORS: which origins get `Access-Control-Allow-Origin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Reflect whatever `Origin` the request carries (the seed's `allowAllOrigins`).
    ReflectAny,
    /// Exactly these origins.
    List(Vec<String>),
}

/// Settings of the auth module (issue 3). Add fields here.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// `AUTH_REFRESH_TOKEN_RETENTION_MS`: how long an expired refresh token row is kept before
    /// `backend cleanup-tokens` deletes it.
    pub refresh_token_retention: Duration,
    /// Tokens, cookies, rate limits, links (`AUTH_*`, `FRONTEND_URL`): see `auth::settings`.
    pub session: Option<crate::auth::settings::SessionSettings>,
    /// Outgoing mail (`EMAIL_*` / `SMTP_*`): see `mail`.
    pub mail: Option<crate::mail::MailSettings>,
    /// Google / Microsoft sign-in (`GOOGLE_*`, `MICROSOFT_*`, `OAUTH_CALLBACK_BASE_URL`).
    pub oauth: Option<crate::auth::oauth::OAuthSettings>,
}

impl AuthSettings {
    pub fn from_env(env: &Env, mode: Mode, problems: &mut Problems) -> AuthSettings {
        let retention_ms = env
            .parse_u64("AUTH_REFRESH_TOKEN_RETENTION_MS", problems)
            .unwrap_or(7 * 24 * 60 * 60 * 1000);
        let lookup = |k: &str| env.get(k).map(str::to_owned);
        let session = crate::auth::settings::SessionSettings::from_lookup(lookup, mode)
            .map_err(|errors| errors.into_iter().for_each(|e| problems.push(e)))
            .ok();
        let mail = crate::mail::MailSettings::from_lookup(lookup)
            .map_err(|errors| errors.into_iter().for_each(|e| problems.push(e)))
            .ok();
        let oauth = crate::auth::oauth::OAuthSettings::from_lookup(lookup)
            .map_err(|errors| errors.into_iter().for_each(|e| problems.push(e)))
            .ok();
        AuthSettings {
            refresh_token_retention: Duration::from_millis(retention_ms),
            session,
            mail,
            oauth,
        }
    }
}

/// The whole validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub mode: Mode,
    /// `BIND_ADDRESS`, default 127.0.0.1 (the proxy in front runs on the same machine).
    pub bind_address: IpAddr,
    /// `PORT`, default 3000 in every mode (the topology's backend port). 0 = any free port.
    pub port: u16,
    /// `SECRET_KEY`: JWT signing key. A fixed development key in development/test.
    pub secret_key: SecretString,
    pub database: DatabaseConfig,
    /// `DB_POOL_MAX`, default 8 (2-core machine: more connections only add contention). Bounds
    /// SeaORM's pool and, on PostgreSQL, separately the principal lane (`pg_lane`).
    pub db_pool_max: u32,
    /// `DB_CONNECT_ATTEMPTS`, default 5: tries at startup before giving up.
    pub db_connect_attempts: u32,
    pub cors: CorsOrigins,
    /// `BODY_LIMIT_BYTES`, default 10 MiB; bigger request bodies get 413.
    pub body_limit: usize,
    /// `SHUTDOWN_TIMEOUT_SECS`, default 10: how long in-flight requests may finish on SIGTERM.
    pub shutdown_timeout: Duration,
    /// `ADMIN_PASS`: password of the seeded users. `None` in development/test means "use the
    /// development default"; required elsewhere only by `seed`/`start`/`reset`.
    pub admin_pass: Option<SecretString>,
    /// `DATA_DIR`: where the default SQLite file lives.
    pub data_dir: PathBuf,
    /// Which `.env` file was loaded, if any (printed at startup).
    pub env_file: Option<PathBuf>,
    pub auth: AuthSettings,
}

/// Development/test only; refused in other modes because it is public.
pub const DEV_SECRET_KEY: &str = "runway-development-secret-key-not-for-production-use";

/// All configuration problems found, one line each.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }
}

/// Startup refused: every problem found, in one error.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem{}):",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        write!(
            f,
            "Set the variables in the environment or in backend/.env, then start again."
        )
    }
}

/// A snapshot of the variables: `.env` file first, real environment on top.
/// `Debug` shows the names only: values may be secrets.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    pub file: Option<PathBuf>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&String> = self.vars.keys().collect();
        keys.sort();
        f.debug_struct("Env")
            .field("names", &keys)
            .field("file", &self.file)
            .finish()
    }
}

impl Env {
    /// Read the process environment plus the discovered `.env`.
    pub fn load() -> Result<Env, ConfigError> {
        let process: HashMap<String, String> = std::env::vars().collect();
        let file = discover_env_file(process.get("BACKEND_ENV_FILE").map(PathBuf::from));
        let mut vars = HashMap::new();
        if let Some(path) = &file {
            let iter = dotenvy::from_path_iter(path).map_err(|e| ConfigError {
                problems: vec![format!("cannot read {}: {e}", path.display())],
            })?;
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError {
                    problems: vec![format!("cannot parse {}: {e}", path.display())],
                })?;
                vars.insert(k, v);
            }
        }
        vars.extend(process);
        Ok(Env { vars, file })
    }

    pub fn from_map(vars: HashMap<String, String>) -> Env {
        Env { vars, file: None }
    }

    /// The value, with empty strings treated as unset (a common shell/PM2 artefact).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(|s| s.as_str())
            .filter(|s| !s.trim().is_empty())
    }

    fn parse_u64(&self, key: &str, problems: &mut Problems) -> Option<u64> {
        let raw = self.get(key)?;
        match raw.trim().parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => {
                problems.push(format!("{key} must be a non-negative integer, got {raw:?}"));
                None
            }
        }
    }
}

/// Directory that holds the `backend/` folder, per the discovery rule above.
pub fn backend_home() -> Option<PathBuf> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().ok();
    [exe_dir, cwd]
        .into_iter()
        .flatten()
        .find_map(|start| nearest_with_backend_dir(&start))
}

fn nearest_with_backend_dir(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let b = dir.join("backend");
        (b.join(".env").is_file() || b.join("Cargo.toml").is_file()).then(|| dir.to_path_buf())
    })
}

fn discover_env_file(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        // Named explicitly: a missing file is reported by the loader, not silently skipped.
        return Some(p);
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().ok();
    for start in [exe_dir, cwd].into_iter().flatten() {
        for dir in start.ancestors() {
            let candidate = dir.join("backend").join(".env");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join(".env");
    compiled.is_file().then_some(compiled)
}

const DB_VARS: [&str; 5] = ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"];

impl Config {
    /// Load the environment (with `.env`) and validate it.
    pub fn load() -> Result<Config, ConfigError> {
        let env = Env::load()?;
        Config::from_env(&env)
    }

    /// Validate a snapshot of variables, collecting every problem.
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let mut problems = Problems::default();

        let mode = match env.get("NODE_ENV") {
            None => Mode::Development,
            Some(raw) => Mode::parse(raw).unwrap_or_else(|| {
                problems.push(format!(
                    "NODE_ENV={raw:?} is not a known mode; accepted values: {}",
                    Mode::ACCEPTED
                ));
                // Validate the rest as strictly as possible so nothing else is missed.
                Mode::Production
            }),
        };

        let bind_address = match env.get("BIND_ADDRESS") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(raw) => raw.trim().parse().unwrap_or_else(|_| {
                problems.push(format!(
                    "BIND_ADDRESS must be an IP address such as 127.0.0.1 or 0.0.0.0, got {raw:?}"
                ));
                IpAddr::from([127, 0, 0, 1])
            }),
        };

        let port = match env.get("PORT") {
            None => 3000,
            Some(raw) => raw.trim().parse::<u16>().unwrap_or_else(|_| {
                problems.push(format!(
                    "PORT must be a number from 0 to 65535, got {raw:?}"
                ));
                3000
            }),
        };

        let secret_key = match env.get("SECRET_KEY") {
            Some(key) => {
                if mode == Mode::Production && key.len() < 32 {
                    problems.push(format!(
                        "SECRET_KEY is too short for production: {} bytes, at least 32 required",
                        key.len()
                    ));
                }
                if !mode.is_local() && key == DEV_SECRET_KEY {
                    problems.push(
                        "SECRET_KEY is the public development key; set a private one".to_owned(),
                    );
                }
                SecretString::from(key.to_owned())
            }
            None if mode.is_local() => SecretString::from(DEV_SECRET_KEY.to_owned()),
            None => {
                problems.push(format!(
                    "SECRET_KEY is required in {mode} mode (it signs the auth tokens); \
                     set it to a long random value, e.g. `openssl rand -hex 32`"
                ));
                SecretString::from(String::new())
            }
        };

        let data_dir = match env.get("DATA_DIR") {
            Some(d) => PathBuf::from(d),
            None => backend_home()
                .map(|h| h.join("backend").join("data"))
                .unwrap_or_else(|| PathBuf::from("data")),
        };

        let database = database_from_env(env, mode, &data_dir, &mut problems);

        let cors = match env.get("ALLOWED_ORIGINS") {
            Some(raw) => {
                let list: Vec<String> = raw
                    .split(',')
                    .map(|s| s.trim().trim_end_matches('/').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                for origin in &list {
                    if !(origin.starts_with("http://") || origin.starts_with("https://"))
                        || http::HeaderValue::from_str(origin).is_err()
                    {
                        problems.push(format!(
                            "ALLOWED_ORIGINS entry {origin:?} is not an origin like https://app.example.com"
                        ));
                    }
                }
                CorsOrigins::List(list)
            }
            None if mode == Mode::Production => {
                problems.push(
                    "ALLOWED_ORIGINS must be configured in production mode \
                     (comma-separated origins, e.g. https://app.example.com)",
                );
                CorsOrigins::List(Vec::new())
            }
            None => CorsOrigins::ReflectAny,
        };

        let body_limit = env
            .parse_u64("BODY_LIMIT_BYTES", &mut problems)
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
            .unwrap_or(10 * 1024 * 1024);
        let db_pool_max = env
            .parse_u64("DB_POOL_MAX", &mut problems)
            .map(|v| u32::try_from(v.clamp(1, 1000)).unwrap_or(8))
            .unwrap_or(8);
        let db_connect_attempts = env
            .parse_u64("DB_CONNECT_ATTEMPTS", &mut problems)
            .map(|v| u32::try_from(v.clamp(1, 1000)).unwrap_or(5))
            .unwrap_or(5);
        let shutdown_timeout = Duration::from_secs(
            env.parse_u64("SHUTDOWN_TIMEOUT_SECS", &mut problems)
                .unwrap_or(10),
        );
        let admin_pass = env
            .get("ADMIN_PASS")
            .map(|s| SecretString::from(s.to_owned()));

        let auth = AuthSettings::from_env(env, mode, &mut problems);

        if !problems.0.is_empty() {
            return Err(ConfigError {
                problems: problems.0,
            });
        }
        Ok(Config {
            mode,
            bind_address,
            port,
            secret_key,
            database,
            db_pool_max,
            db_connect_attempts,
            cors,
            body_limit,
            shutdown_timeout,
            admin_pass,
            data_dir,
            env_file: env.file.clone(),
            auth,
        })
    }
}

fn database_from_env(
    env: &Env,
    mode: Mode,
    data_dir: &Path,
    problems: &mut Problems,
) -> DatabaseConfig {
    let placeholder = || DatabaseConfig::Sqlite {
        path: data_dir.join("invalid.sqlite"),
    };
    if let Some(url) = env.get("DATABASE_URL") {
        let url = url.trim();
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                problems.push("DATABASE_URL sqlite: URL has no file path");
                return placeholder();
            }
            return DatabaseConfig::Sqlite {
                path: PathBuf::from(path),
            };
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // The sslmode rule: see `explicit_sslmode`.
            let url = match explicit_sslmode(env, problems) {
                _ if url_param(url, "sslmode").is_some() => url.to_owned(),
                Some(mode) => with_url_param(url, "sslmode", mode),
                // sqlx reads PGSSLMODE itself when the URL has no sslmode.
                None if env.get("PGSSLMODE").is_some() => url.to_owned(),
                None if is_loopback(&host_of_url(url)) => with_url_param(url, "sslmode", "disable"),
                None => url.to_owned(),
            };
            return DatabaseConfig::Postgres(PostgresConfig {
                display: host_port_of_url(&url),
                url: SecretString::from(url),
            });
        }
        problems.push(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite:// \
             (value not shown: it may contain a password)",
        );
        return placeholder();
    }

    let present: Vec<&str> = DB_VARS
        .iter()
        .copied()
        .filter(|v| env.get(v).is_some())
        .collect();
    if present.is_empty() {
        if mode.is_local() {
            let file = if mode == Mode::Test {
                "test.sqlite"
            } else {
                "development.sqlite"
            };
            return DatabaseConfig::Sqlite {
                path: data_dir.join(file),
            };
        }
        problems.push(format!(
            "Missing required database credentials: {} (or set DATABASE_URL); \
             {mode} mode never uses development defaults",
            DB_VARS.join(", ")
        ));
        return placeholder();
    }
    let missing: Vec<&str> = DB_VARS
        .iter()
        .copied()
        .filter(|v| env.get(v).is_none())
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "Missing required database credentials: {} (set all of {}, or DATABASE_URL)",
            missing.join(", "),
            DB_VARS.join(", ")
        ));
        return placeholder();
    }
    let host = env.get("DB_HOST").unwrap_or_default().trim();
    let port_raw = env.get("DB_PORT").unwrap_or_default().trim();
    let Ok(port) = port_raw.parse::<u16>() else {
        problems.push(format!("DB_PORT must be a port number, got {port_raw:?}"));
        return placeholder();
    };
    let name = env.get("DB_NAME").unwrap_or_default().trim();
    let user = env.get("DB_USER").unwrap_or_default().trim();
    let pass = env.get("DB_PASS").unwrap_or_default();
    // The sslmode rule: see `explicit_sslmode`. With PGSSLMODE alone the URL names none.
    let sslmode = match explicit_sslmode(env, problems) {
        Some(m) => format!("?sslmode={m}"),
        None if env.get("PGSSLMODE").is_some() => String::new(),
        None if is_loopback(host) => "?sslmode=disable".to_owned(),
        None => "?sslmode=prefer".to_owned(),
    };
    let url = format!(
        "postgres://{}:{}@{}/{}{sslmode}",
        percent_encode(user),
        percent_encode(pass),
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        },
        percent_encode(name)
    );
    DatabaseConfig::Postgres(PostgresConfig {
        url: SecretString::from(url),
        display: format!("{host}:{port}"),
    })
}

/// `DB_SSLMODE` if set, validated (a bad value is a problem, and `prefer` stands in).
///
/// The sslmode rule, the same for `DATABASE_URL` and the `DB_*` variables: an explicit mode
/// (the URL's `sslmode` parameter, then `DB_SSLMODE`, then `PGSSLMODE`, which sqlx reads
/// itself) is kept; without one, a loopback host gets `disable` and any other host sqlx's
/// `prefer`. Why: TLS to a server on this machine protects nothing, and it costs ~100 ms at
/// connect (loading the system roots) and ~25 µs of CPU per query on both sides (measured on
/// `/api/auth/me`, docs/benchmarks.md, issue 3).
fn explicit_sslmode(env: &Env, problems: &mut Problems) -> Option<&'static str> {
    const MODES: [&str; 6] = [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];
    let raw = env.get("DB_SSLMODE")?.trim();
    match MODES.iter().find(|m| **m == raw) {
        Some(m) => Some(m),
        None => {
            problems.push(format!(
                "DB_SSLMODE={raw:?} is not one of {}",
                MODES.join(", ")
            ));
            Some("prefer")
        }
    }
}

/// 127.0.0.0/8, ::1 and `localhost`; an empty host (sqlx then uses localhost) and a Unix
/// socket directory count too, as neither leaves the machine.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.is_empty()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Value of a query parameter of a URL (not percent-decoded: only used for plain words).
fn url_param<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn with_url_param(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={value}")
}

/// Host a PostgreSQL URL connects to: the `host` query parameter (libpq style, which sqlx
/// honours) if present, else the authority's host without brackets or port.
fn host_of_url(url: &str) -> String {
    if let Some(h) = url_param(url, "host") {
        return h.replace("%2F", "/").replace("%2f", "/");
    }
    let host_port = host_port_of_url(url);
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
        None => host_port
            .rsplit_once(':')
            .map_or(host_port.as_str(), |(h, _)| h)
            .to_owned(),
    }
}

/// `host:port` part of a PostgreSQL URL, without user or password.
fn host_port_of_url(url: &str) -> String {
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    if host_port.is_empty() {
        "localhost:5432".to_owned()
    } else if host_port.contains(':') && !host_port.ends_with(']') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

/// Percent-encode a URL userinfo/path component (passwords may contain `@`, `/`, `:`...).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn development_needs_nothing() {
        let c = Config::from_env(&env(&[("DATA_DIR", "/tmp/x")])).expect("valid");
        assert_eq!(c.mode, Mode::Development);
        assert_eq!(c.port, 3000);
        assert!(matches!(c.database, DatabaseConfig::Sqlite { .. }));
        assert_eq!(c.cors, CorsOrigins::ReflectAny);
    }

    #[test]
    fn production_reports_everything_at_once() {
        let err = Config::from_env(&env(&[("NODE_ENV", "production")])).unwrap_err();
        let all = err.problems.join("\n");
        assert!(all.contains("SECRET_KEY"), "{all}");
        assert!(
            all.contains("Missing required database credentials"),
            "{all}"
        );
        assert!(all.contains("ALLOWED_ORIGINS must be configured"), "{all}");
        assert_eq!(err.problems.len(), 3);
    }

    #[test]
    fn db_pass_is_encoded_and_hidden() {
        let c = Config::from_env(&env(&[
            ("NODE_ENV", "dev_stage"),
            ("SECRET_KEY", "k"),
            ("DB_HOST", "db"),
            ("DB_PORT", "5432"),
            ("DB_NAME", "app"),
            ("DB_USER", "u"),
            ("DB_PASS", "p@ss/word"),
        ]))
        .expect("valid");
        assert_eq!(
            c.database.url(),
            "postgres://u:p%40ss%2Fword@db:5432/app?sslmode=prefer"
        );
        assert!(!format!("{c:?}").contains("p@ss"));
        assert_eq!(c.database.describe(), "PostgreSQL at db:5432");
    }

    #[test]
    fn sslmode_defaults_to_disable_on_loopback_only() {
        let base = [
            ("NODE_ENV", "dev_stage"),
            ("SECRET_KEY", "k"),
            ("DB_PORT", "5432"),
            ("DB_NAME", "app"),
            ("DB_USER", "u"),
            ("DB_PASS", "p"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            Config::from_env(&env(&v))
        };
        let local = with(&[("DB_HOST", "127.0.0.1")]).expect("valid");
        assert!(local.database.url().ends_with("?sslmode=disable"));
        let remote = with(&[("DB_HOST", "db.internal")]).expect("valid");
        assert!(remote.database.url().ends_with("?sslmode=prefer"));
        let forced = with(&[("DB_HOST", "127.0.0.1"), ("DB_SSLMODE", "require")]).expect("valid");
        assert!(forced.database.url().ends_with("?sslmode=require"));
        let pg_env = with(&[("DB_HOST", "127.0.0.1"), ("PGSSLMODE", "require")]).expect("valid");
        assert!(
            pg_env.database.url().ends_with("5432/app"),
            "sqlx reads PGSSLMODE"
        );
        let err = with(&[("DB_HOST", "h"), ("DB_SSLMODE", "maybe")]).unwrap_err();
        assert!(err.problems[0].contains("DB_SSLMODE"), "{:?}", err.problems);
    }

    #[test]
    fn database_url_on_loopback_gets_sslmode_disable_unless_explicit() {
        let url_of = |pairs: &[(&str, &str)]| {
            let mut v = vec![("NODE_ENV", "dev_stage"), ("SECRET_KEY", "k")];
            v.extend_from_slice(pairs);
            Config::from_env(&env(&v)).map(|c| c.database.url())
        };
        let local = |url: &'static str| url_of(&[("DATABASE_URL", url)]).expect("valid");
        // Loopback without sslmode: disable, whatever the spelling of the host.
        for (given, want) in [
            (
                "postgres://u:p@127.0.0.1:5432/app",
                "postgres://u:p@127.0.0.1:5432/app?sslmode=disable",
            ),
            (
                "postgresql://u:p@localhost/app",
                "postgresql://u:p@localhost/app?sslmode=disable",
            ),
            (
                "postgres://u:p@[::1]:5433/app?application_name=x",
                "postgres://u:p@[::1]:5433/app?application_name=x&sslmode=disable",
            ),
            (
                "postgres://u:p@127.0.0.2/app",
                "postgres://u:p@127.0.0.2/app?sslmode=disable",
            ),
            (
                "postgres://u@/app?host=%2Fvar%2Frun%2Fpostgresql",
                "postgres://u@/app?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable",
            ),
        ] {
            assert_eq!(local(given), want, "{given}");
        }
        // An explicit sslmode in the URL is kept, on loopback or not.
        for kept in [
            "postgres://u:p@127.0.0.1:5432/app?sslmode=require",
            "postgres://u:p@localhost/app?connect_timeout=5&sslmode=prefer",
            "postgres://u:p@db.internal:5432/app",
            "postgres://u:p@10.0.0.5/app",
            "postgres://u:p@127.0.0.1.example.com/app",
            "postgres://u:p@db/app?host=db2",
        ] {
            assert_eq!(local(kept), kept);
        }
        // DB_SSLMODE counts as explicit for DATABASE_URL too, and PGSSLMODE (sqlx reads it).
        assert_eq!(
            url_of(&[
                ("DATABASE_URL", "postgres://u:p@127.0.0.1/app"),
                ("DB_SSLMODE", "require")
            ])
            .expect("valid"),
            "postgres://u:p@127.0.0.1/app?sslmode=require"
        );
        assert_eq!(
            url_of(&[
                (
                    "DATABASE_URL",
                    "postgres://u:p@127.0.0.1/app?sslmode=verify-full"
                ),
                ("DB_SSLMODE", "disable")
            ])
            .expect("valid"),
            "postgres://u:p@127.0.0.1/app?sslmode=verify-full"
        );
        assert_eq!(
            url_of(&[
                ("DATABASE_URL", "postgres://u:p@127.0.0.1/app"),
                ("PGSSLMODE", "require")
            ])
            .expect("valid"),
            "postgres://u:p@127.0.0.1/app"
        );
        let err = url_of(&[
            ("DATABASE_URL", "postgres://u:p@127.0.0.1/app"),
            ("DB_SSLMODE", "nope"),
        ])
        .unwrap_err();
        assert!(err.problems[0].contains("DB_SSLMODE"), "{:?}", err.problems);
    }

    #[test]
    fn debug_never_shows_values() {
        let e = env(&[("SECRET_KEY", "hunter2-value"), ("DB_PASS", "pw-value")]);
        let shown = format!("{e:?}");
        assert!(shown.contains("SECRET_KEY"), "{shown}");
        assert!(
            !shown.contains("hunter2-value") && !shown.contains("pw-value"),
            "{shown}"
        );
        let c = Config::from_env(&env(&[
            ("SECRET_KEY", "hunter2-value"),
            ("DATA_DIR", "/tmp/x"),
        ]))
        .expect("valid");
        assert!(!format!("{c:?}").contains("hunter2-value"));
    }

    #[test]
    fn host_port_never_includes_password() {
        assert_eq!(
            host_port_of_url("postgres://u:secret@h:6543/db?x=1"),
            "h:6543"
        );
        assert_eq!(host_port_of_url("postgres://u:secret@h/db"), "h:5432");
    }
}

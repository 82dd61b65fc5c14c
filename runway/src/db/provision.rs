//! `runway db provision`: the seed's `setup_postgres_project.sh` — a login role and a database
//! it owns, both named `app_<id>`, in a PostgreSQL the caller administers. The password comes
//! from `DB_PASS`, or is generated once and kept (mode 0600) in the state directory. Running it
//! again changes nothing but re-asserting the password and ownership. The resulting `DB_*` are
//! written to `db.env` in the state directory (0600) for `runway up --db postgres`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};

use super::pg::{PgParams, PgProblem};

#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    /// A superuser (or CREATEROLE + CREATEDB) connection.
    pub admin: PgParams,
    /// Role and database name.
    pub name: String,
    /// `DB_PASS` when set; otherwise the stored or a generated one.
    pub password: Option<String>,
    pub state_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    Environment,
    Stored(PathBuf),
    Generated(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Provisioned {
    /// How the app connects (includes the password; Debug/Display hide it).
    pub app: PgParams,
    pub created_role: bool,
    pub created_database: bool,
    pub password_source: PasswordSource,
    pub env_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(
        "`{0}` is not a usable name: use lowercase letters, digits and `_`, starting with a letter or `_`, at most 63 characters"
    )]
    BadName(String),
    #[error("cannot connect to PostgreSQL as {who}: {problem}\n  fix: {fix}")]
    Connect {
        who: String,
        problem: String,
        fix: String,
    },
    #[error("PostgreSQL refused `{step}`: {reason}")]
    Sql { step: String, reason: String },
    #[error("{0}")]
    Io(String),
}

/// The default name: `app_<PROJECT_ID>`, else `app_<directory name>`, made a valid identifier.
pub fn default_name(project_id: Option<&str>, project_dir: &Path) -> String {
    let raw = project_id
        .map(str::to_string)
        .or_else(|| {
            project_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "project".to_string());
    let id: String = raw
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut name = format!("app_{id}");
    name.truncate(63);
    name
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// A SQL string literal (DDL cannot take bind parameters).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub async fn provision(req: &ProvisionRequest) -> Result<Provisioned, ProvisionError> {
    if !valid_identifier(&req.name) {
        return Err(ProvisionError::BadName(req.name.clone()));
    }
    let (password, password_source) = resolve_password(req).await?;

    let mut admin = req
        .admin
        .connect(Duration::from_secs(10))
        .await
        .map_err(|p| connect_error(&req.admin, &p, true))?;

    let sql = |step: &str, e: sqlx::Error| ProvisionError::Sql {
        step: step.to_string(),
        reason: e.to_string(),
    };
    let name = &req.name;
    let role_exists = sqlx::query("SELECT 1 FROM pg_roles WHERE rolname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await
        .map_err(|e| sql("look up the role", e))?
        .is_some();
    let verb = if role_exists { "ALTER" } else { "CREATE" };
    sqlx::raw_sql(AssertSqlSafe(format!(
        "{verb} ROLE \"{name}\" LOGIN PASSWORD {}",
        literal(&password)
    )))
    .execute(&mut admin)
    .await
    .map_err(|e| sql(&format!("{verb} ROLE {name}"), e))?;

    let db_owner: Option<String> =
        sqlx::query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut admin)
            .await
            .map_err(|e| sql("look up the database", e))?
            .map(|row| row.get("owner"));
    let created_database = db_owner.is_none();
    let statement = match db_owner.as_deref() {
        None => format!("CREATE DATABASE \"{name}\" OWNER \"{name}\""),
        Some(owner) if owner != name => format!("ALTER DATABASE \"{name}\" OWNER TO \"{name}\""),
        Some(_) => String::new(),
    };
    if !statement.is_empty() {
        sqlx::raw_sql(AssertSqlSafe(statement.clone()))
            .execute(&mut admin)
            .await
            .map_err(|e| sql(&statement, e))?;
    }
    sqlx::raw_sql(AssertSqlSafe(format!(
        "GRANT ALL PRIVILEGES ON DATABASE \"{name}\" TO \"{name}\""
    )))
    .execute(&mut admin)
    .await
    .map_err(|e| sql("GRANT ALL PRIVILEGES", e))?;

    let app = PgParams {
        host: req.admin.host.clone(),
        port: req.admin.port,
        user: name.clone(),
        password: Some(password),
        database: name.clone(),
    };
    // Prove the app can log in with what we hand it.
    app.connect(Duration::from_secs(10))
        .await
        .map_err(|p| connect_error(&app, &p, false))?;

    let env_file = write_env_file(&req.state_dir, &app, &password_source).await?;
    Ok(Provisioned {
        app,
        created_role: !role_exists,
        created_database,
        password_source,
        env_file,
    })
}

fn connect_error(params: &PgParams, problem: &PgProblem, admin: bool) -> ProvisionError {
    let (problem, mut fix) = problem.explain(params);
    if admin {
        fix = format!(
            "{fix}; provisioning connects as an administrator: set RUNWAY_PG_ADMIN_URL=postgres://USER:PASS@HOST:PORT/postgres"
        );
    }
    ProvisionError::Connect {
        who: params.to_string(),
        problem,
        fix,
    }
}

pub fn password_path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("db").join(format!("{name}.password"))
}

async fn resolve_password(
    req: &ProvisionRequest,
) -> Result<(String, PasswordSource), ProvisionError> {
    if let Some(p) = req.password.as_ref().filter(|p| !p.is_empty()) {
        return Ok((p.clone(), PasswordSource::Environment));
    }
    let path = password_path(&req.state_dir, &req.name);
    if let Ok(stored) = tokio::fs::read_to_string(&path).await {
        let stored = stored.trim().to_string();
        if !stored.is_empty() {
            return Ok((stored, PasswordSource::Stored(path)));
        }
    }
    let password = generate_secret().await?;
    write_private(&path, format!("{password}\n").as_bytes()).await?;
    Ok((password, PasswordSource::Generated(path)))
}

/// 32 random bytes from the kernel, hex-encoded.
pub async fn generate_secret() -> Result<String, ProvisionError> {
    let mut buf = [0u8; 32];
    let mut f = tokio::fs::File::open("/dev/urandom")
        .await
        .map_err(|e| ProvisionError::Io(format!("/dev/urandom: {e}")))?;
    tokio::io::AsyncReadExt::read_exact(&mut f, &mut buf)
        .await
        .map_err(|e| ProvisionError::Io(format!("/dev/urandom: {e}")))?;
    Ok(hex::encode(buf))
}

/// Writes `bytes` to `path` with mode 0600, atomically (temp file + rename).
pub async fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ProvisionError> {
    let path = path.to_path_buf();
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })
    .await
    .map_err(|e| ProvisionError::Io(e.to_string()))?
    .map_err(|e| ProvisionError::Io(format!("{}: {e}", "writing a private file")))
}

/// `db.env` beside the state: the app's `DB_*` (DB_PASS only when we own the password).
async fn write_env_file(
    state_dir: &Path,
    app: &PgParams,
    source: &PasswordSource,
) -> Result<PathBuf, ProvisionError> {
    let mut vars = BTreeMap::new();
    vars.insert("DB_HOST", app.host.clone());
    vars.insert("DB_PORT", app.port.to_string());
    vars.insert("DB_NAME", app.database.clone());
    vars.insert("DB_USER", app.user.clone());
    if !matches!(source, PasswordSource::Environment)
        && let Some(p) = &app.password
    {
        vars.insert("DB_PASS", p.clone());
    }
    let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let path = env_file_path(state_dir);
    write_private(&path, text.as_bytes()).await?;
    Ok(path)
}

pub fn env_file_path(state_dir: &Path) -> PathBuf {
    state_dir.join("db.env")
}

/// The `DB_*` recorded by the last provision, if any.
pub fn read_env_file(state_dir: &Path) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(env_file_path(state_dir)).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_identifiers() {
        assert_eq!(default_name(Some("40227"), Path::new("/x")), "app_40227");
        assert_eq!(
            default_name(None, Path::new("/home/me/My-Shop.v2")),
            "app_my_shop_v2"
        );
        assert!(valid_identifier(&default_name(None, Path::new("/"))));
        assert!(!valid_identifier("app\"; DROP"));
        assert!(!valid_identifier("1app"));
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(literal("it's"), "'it''s'");
    }
}

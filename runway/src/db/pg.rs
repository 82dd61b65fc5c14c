//! Talking to PostgreSQL as an operator: connection parameters from the backend's `DB_*` (or
//! `DATABASE_URL`), a probe that tells "refused", "authentication failed" and "database missing"
//! apart, and the admin connection used by provisioning. Passwords never reach a message.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// Where and as whom to connect. Debug hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PgParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
}

impl fmt::Debug for PgParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for PgParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

impl PgParams {
    /// From `DATABASE_URL`, or else a complete `DB_*` set; `None` when neither is configured.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Option<Self>, String> {
        if let Some(url) = env.get("DATABASE_URL").filter(|u| !u.trim().is_empty()) {
            if url.starts_with("sqlite:") {
                return Ok(None);
            }
            return Self::from_url(url).map(Some);
        }
        let get = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
        let (Some(host), Some(port), Some(name), Some(user)) = (
            get("DB_HOST"),
            get("DB_PORT"),
            get("DB_NAME"),
            get("DB_USER"),
        ) else {
            return Ok(None);
        };
        let port = port
            .parse()
            .map_err(|_| format!("DB_PORT `{port}` is not a port number"))?;
        Ok(Some(Self {
            host,
            port,
            user,
            password: get("DB_PASS"),
            database: name,
        }))
    }

    /// Parses a `postgres://user:pass@host:port/db` URL (the error never repeats the URL, which
    /// may hold a password).
    pub fn from_url(url: &str) -> Result<Self, String> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("DATABASE_URL must start with postgres:// or postgresql://".to_string());
        }
        let opts = PgConnectOptions::from_str(url)
            .map_err(|_| "DATABASE_URL is not a valid postgres:// URL".to_string())?;
        let password = url::password(url);
        Ok(Self {
            host: opts.get_host().to_string(),
            port: opts.get_port(),
            user: opts.get_username().to_string(),
            password,
            database: opts
                .get_database()
                .unwrap_or(opts.get_username())
                .to_string(),
        })
    }

    pub fn with_database(&self, database: &str) -> Self {
        Self {
            database: database.to_string(),
            ..self.clone()
        }
    }

    pub fn options(&self) -> PgConnectOptions {
        let mut o = PgConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(&self.database);
        if let Some(p) = &self.password {
            o = o.password(p);
        }
        o
    }

    pub async fn connect(&self, timeout: Duration) -> Result<PgConnection, PgProblem> {
        match tokio::time::timeout(timeout, PgConnection::connect_with(&self.options())).await {
            Err(_) => Err(PgProblem::Timeout),
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(PgProblem::classify(&e)),
        }
    }
}

mod url {
    /// The password part of a URL, percent-decoded.
    pub fn password(url: &str) -> Option<String> {
        let rest = url.split_once("://")?.1;
        let userinfo = rest.split('/').next()?.rsplit_once('@')?.0;
        let raw = userinfo.split_once(':')?.1;
        let bytes = raw.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&raw[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8(out).ok()
    }
}

/// Why a connection failed, in the categories an operator acts on differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgProblem {
    /// Nothing listens at host:port (server down or wrong port).
    Refused,
    /// The server rejected the user or password.
    AuthFailed,
    /// Logged in, but the database does not exist.
    DatabaseMissing,
    Timeout,
    Other(String),
}

impl PgProblem {
    pub fn classify(e: &sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                PgProblem::Refused
            }
            sqlx::Error::Database(db) => match db.code().as_deref() {
                // invalid_password, invalid_authorization_specification (no such role, hba)
                Some("28P01") | Some("28000") => PgProblem::AuthFailed,
                Some("3D000") => PgProblem::DatabaseMissing,
                Some(code) => PgProblem::Other(format!("server error {code}: {}", db.message())),
                None => PgProblem::Other(db.message().to_string()),
            },
            other => {
                let text = other.to_string();
                if text.contains("Connection refused") {
                    PgProblem::Refused
                } else {
                    PgProblem::Other(text)
                }
            }
        }
    }

    /// What is wrong and what to do, for `params` (without its password).
    pub fn explain(&self, params: &PgParams) -> (String, String) {
        let at = format!("{}:{}", params.host, params.port);
        match self {
            PgProblem::Refused => (
                format!("PostgreSQL refuses connections at {at} (nothing listens there)"),
                "start PostgreSQL (e.g. `pg_ctlcluster 15 main start`), check DB_HOST/DB_PORT, or run `runway db provision --managed` for a private cluster".to_string(),
            ),
            PgProblem::AuthFailed => (
                format!("PostgreSQL at {at} rejected user `{}` (authentication failed)", params.user),
                "check DB_USER and DB_PASS; `runway db provision` creates the role with the stored password".to_string(),
            ),
            PgProblem::DatabaseMissing => (
                format!("database `{}` does not exist on {at}", params.database),
                "create it with `runway db provision` (or check DB_NAME)".to_string(),
            ),
            PgProblem::Timeout => (
                format!("PostgreSQL at {at} did not answer in time"),
                "check that DB_HOST is reachable and the server is not overloaded".to_string(),
            ),
            PgProblem::Other(reason) => (
                format!("cannot connect to PostgreSQL at {at}: {reason}"),
                "check the server log and the DB_* settings".to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_from_env_and_url_hide_the_password() {
        let env: BTreeMap<String, String> = [
            ("DB_HOST", "127.0.0.1"),
            ("DB_PORT", "5432"),
            ("DB_NAME", "app_1"),
            ("DB_USER", "app_1"),
            ("DB_PASS", "hunter2"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = PgParams::from_env(&env).unwrap().unwrap();
        assert_eq!(p.port, 5432);
        assert!(!format!("{p:?} {p}").contains("hunter2"));

        let u = PgParams::from_url("postgres://bob:p%40ss@db.local:6543/things").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.port,
                u.user.as_str(),
                u.database.as_str()
            ),
            ("db.local", 6543, "bob", "things")
        );
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        let e = PgParams::from_url("mysql://bob:secret@x/y").unwrap_err();
        assert!(!e.contains("secret"));
        assert!(PgParams::from_env(&BTreeMap::new()).unwrap().is_none());
    }
}

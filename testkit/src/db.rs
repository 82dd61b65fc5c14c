//! A fresh, uniquely named database per test. PostgreSQL: `CREATE DATABASE rw_test_<uuid>` on
//! the server [`crate::pg::server_url`] finds, `DROP ... WITH (FORCE)` when the [`TestDb`] is
//! dropped. SQLite: a file in its own temporary directory, removed with it.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Postgres,
    Sqlite,
}

pub struct TestDb {
    pub kind: DbKind,
    /// What to put in `DATABASE_URL`.
    pub url: String,
    /// PostgreSQL: server URL (its `postgres` database) and our database's name.
    admin: Option<(String, String)>,
    /// Login roles made by [`TestDb::create_login_role`], dropped after the database.
    roles: Vec<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("creating a temporary directory for SQLite");
        let path = dir.path().join("test.sqlite");
        TestDb {
            kind: DbKind::Sqlite,
            url: format!("sqlite://{}", path.display()),
            admin: None,
            roles: Vec::new(),
            _dir: Some(dir),
        }
    }

    /// `None` means "no PostgreSQL here, skip" (never in CI: there it panics with advice).
    pub async fn postgres() -> Option<TestDb> {
        let server = crate::pg::server_url().await?;
        Some(TestDb::postgres_on(&server).await)
    }

    /// A fresh database on the server at `server_url` (any database of it).
    pub async fn postgres_on(server_url: &str) -> TestDb {
        let name = format!("rw_test_{}", uuid::Uuid::new_v4().simple());
        let admin = crate::pg::with_database(server_url, "postgres");
        let conn = connect_url(&admin)
            .await
            .unwrap_or_else(|e| panic!("connecting to PostgreSQL to create a test database: {e}"));
        conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        TestDb {
            kind: DbKind::Postgres,
            url: crate::pg::with_database(server_url, &name),
            admin: Some((admin, name)),
            roles: Vec::new(),
            _dir: None,
        }
    }

    /// PostgreSQL only: a new login role with `password`, owning this database. Returns
    /// `(role, url)` where `url` connects as that role. Dropped with the database.
    pub async fn create_login_role(&mut self, password: &str) -> (String, String) {
        let (admin, db) = self
            .admin
            .clone()
            .expect("create_login_role needs PostgreSQL");
        let role = format!("rw_role_{}", uuid::Uuid::new_v4().simple());
        let conn = connect_url(&admin)
            .await
            .unwrap_or_else(|e| panic!("connecting as admin: {e}"));
        let pw = password.replace('\'', "''");
        conn.execute_unprepared(&format!("CREATE ROLE \"{role}\" LOGIN PASSWORD '{pw}'"))
            .await
            .unwrap_or_else(|e| panic!("CREATE ROLE: {e}"));
        conn.execute_unprepared(&format!("ALTER DATABASE \"{db}\" OWNER TO \"{role}\""))
            .await
            .unwrap_or_else(|e| panic!("ALTER DATABASE OWNER: {e}"));
        let _ = conn.close().await;
        self.roles.push(role.clone());
        let url = self
            .url
            .replacen("://", &format!("://{role}:{}@", enc(password)), 1);
        // Drop any userinfo that was there before ours.
        let url = match url.split_once('@') {
            Some((ours, rest)) => match rest.split_once('@') {
                Some((_, host)) => format!("{ours}@{host}"),
                None => url.clone(),
            },
            None => url.clone(),
        };
        (role, url)
    }

    /// The server's address `host:port`.
    pub fn host_port(&self) -> String {
        let after = self
            .url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or(&self.url);
        let authority = after.split('/').next().unwrap_or_default();
        authority
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(authority)
            .to_owned()
    }

    /// PostgreSQL only: this database's name.
    pub fn name(&self) -> Option<&str> {
        self.admin.as_ref().map(|(_, n)| n.as_str())
    }

    /// A direct connection, to inspect or prepare rows.
    pub async fn connect(&self) -> DatabaseConnection {
        let url = match self.kind {
            DbKind::Sqlite => format!("{}?mode=rwc", self.url),
            DbKind::Postgres => self.url.clone(),
        };
        connect_url(&url)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test database: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.admin.take() else {
            return;
        };
        let roles = std::mem::take(&mut self.roles);
        // Drop runs outside async context guarantees: use a private runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(conn) = connect_url(&admin).await {
                    let _ = conn
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    for role in roles {
                        let _ = conn
                            .execute_unprepared(&format!("DROP ROLE IF EXISTS \"{role}\""))
                            .await;
                    }
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Connect with the backend's pool rule: no idle timeout and no max lifetime, which keeps
/// sqlx 0.9.0's pool maintenance loop (it can spin for ever) from running. See backend/src/db.rs.
pub async fn connect_url(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opt = ConnectOptions::new(url);
    opt.idle_timeout(None::<Duration>)
        .max_lifetime(None::<Duration>)
        .sqlx_logging(false);
    Database::connect(opt).await
}

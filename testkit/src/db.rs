//! A fresh, uniquely named database per test. PostgreSQL: `CREATE DATABASE rw_test_<uuid>` on
//! the server [`crate::pg::server_url`] finds, `DROP ... WITH (FORCE)` when the [`TestDb`] is
//! dropped. SQLite: a file in its own temporary directory, removed with it.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

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
        let conn = Database::connect(&admin)
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
            _dir: None,
        }
    }

    /// A direct connection, to inspect or prepare rows.
    pub async fn connect(&self) -> DatabaseConnection {
        let url = match self.kind {
            DbKind::Sqlite => format!("{}?mode=rwc", self.url),
            DbKind::Postgres => self.url.clone(),
        };
        Database::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test database: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.admin.take() else {
            return;
        };
        // Drop runs outside async context guarantees: use a private runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(conn) = Database::connect(&admin).await {
                    let _ = conn
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

//! `runway db provision` against the real PostgreSQL (TEST_DATABASE_URL or 127.0.0.1:5432):
//! twice with a unique name (idempotent, same password, the app can log in), DB_PASS honoured,
//! bad names refused; and `--managed`: a private cluster initialised under the state directory,
//! started, accepting connections, provisioned into.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use runway::db::managed::ManagedCluster;
use runway::db::pg::PgParams;
use runway::db::provision::{self, PasswordSource, ProvisionError, ProvisionRequest};
use sqlx::AssertSqlSafe;

fn admin() -> PgParams {
    let url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    PgParams::from_url(&url).unwrap()
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{}", std::process::id(), n % 1_000_000_000)
}

/// Drops the role and database on the way out, whatever the test did.
struct Cleanup {
    admin: PgParams,
    name: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                if let Ok(mut c) = admin.connect(Duration::from_secs(5)).await {
                    for sql in [
                        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                        format!("DROP ROLE IF EXISTS \"{name}\""),
                    ] {
                        let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut c).await;
                    }
                }
            })
        })
        .join();
    }
}

#[tokio::test]
async fn provision_twice_is_idempotent_and_the_app_can_log_in() {
    let state = tempfile::tempdir().unwrap();
    let name = unique("app_rwtest");
    let _cleanup = Cleanup {
        admin: admin(),
        name: name.clone(),
    };
    let req = ProvisionRequest {
        admin: admin(),
        name: name.clone(),
        password: None,
        state_dir: state.path().to_path_buf(),
    };
    let first = provision::provision(&req).await.unwrap();
    assert!(first.created_role && first.created_database);
    let PasswordSource::Generated(path) = &first.password_source else {
        panic!("{:?}", first.password_source)
    };
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the generated password is private");
    let env_mode = std::fs::metadata(&first.env_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(env_mode, 0o600);

    let second = provision::provision(&req).await.unwrap();
    assert!(!second.created_role && !second.created_database);
    assert!(matches!(second.password_source, PasswordSource::Stored(_)));
    assert_eq!(first.app.password, second.app.password);

    // The app's own connection works and it can create tables in its database.
    let mut app = second.app.connect(Duration::from_secs(5)).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(
        "CREATE TABLE t (id int); DROP TABLE t;".to_string(),
    ))
    .execute(&mut app)
    .await
    .unwrap();
    drop(app);

    let env = provision::read_env_file(state.path()).unwrap();
    assert_eq!(env["DB_NAME"], name);
    assert_eq!(env["DB_USER"], name);
    assert_eq!(env.get("DB_PASS"), first.app.password.as_ref());
    assert!(!format!("{:?}", second.app).contains(first.app.password.as_deref().unwrap()));
}

#[tokio::test]
async fn db_pass_from_the_environment_wins_and_is_not_written_down() {
    let state = tempfile::tempdir().unwrap();
    let name = unique("app_rwpass");
    let _cleanup = Cleanup {
        admin: admin(),
        name: name.clone(),
    };
    let req = ProvisionRequest {
        admin: admin(),
        name: name.clone(),
        password: Some("from-the-platform-0001".into()),
        state_dir: state.path().to_path_buf(),
    };
    let p = provision::provision(&req).await.unwrap();
    assert_eq!(p.password_source, PasswordSource::Environment);
    assert_eq!(p.app.password.as_deref(), Some("from-the-platform-0001"));
    let written = std::fs::read_to_string(&p.env_file).unwrap();
    assert!(!written.contains("from-the-platform-0001"));
    assert!(!provision::password_path(state.path(), &name).exists());
}

#[tokio::test]
async fn bad_names_and_bad_admin_credentials_are_clear_errors() {
    let state = tempfile::tempdir().unwrap();
    let mut req = ProvisionRequest {
        admin: admin(),
        name: "app\"; DROP TABLE x; --".into(),
        password: None,
        state_dir: state.path().to_path_buf(),
    };
    assert!(matches!(
        provision::provision(&req).await,
        Err(ProvisionError::BadName(_))
    ));
    req.name = unique("app_rwbad");
    req.admin.password = Some("wrong-admin-password".into());
    let e = provision::provision(&req).await.unwrap_err().to_string();
    assert!(e.contains("authentication failed"), "{e}");
    assert!(e.contains("RUNWAY_PG_ADMIN_URL"), "{e}");
    assert!(!e.contains("wrong-admin-password"));
}

#[tokio::test]
async fn managed_cluster_initialises_starts_accepts_connections_and_is_provisioned() {
    let project = tempfile::tempdir().unwrap();
    let state = project.path().join(".runway");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cluster = ManagedCluster::init(&state, port).await.unwrap();
    assert_eq!(ManagedCluster::load(&state), Some(cluster.clone()));
    // Initialising again keeps the existing cluster.
    assert_eq!(ManagedCluster::init(&state, 1).await.unwrap().port, port);

    let argv = cluster.server_command();
    let log = std::fs::File::create(cluster.root.join("server.log")).unwrap();
    let mut server = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ready = cluster.wait_ready(Duration::from_secs(30)).await;
    let result = async {
        ready?;
        let ready_argv = cluster.ready_command();
        let status = tokio::process::Command::new(&ready_argv[0])
            .args(&ready_argv[1..])
            .status()
            .await
            .unwrap();
        assert!(status.success(), "pg_isready agrees");
        let p = provision::provision(&ProvisionRequest {
            admin: cluster.admin_params()?,
            name: "app_managed".into(),
            password: None,
            state_dir: state.clone(),
        })
        .await?;
        p.app
            .connect(Duration::from_secs(5))
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    // Fast shutdown, as the supervisor will stop it.
    if let Some(pid) = server.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGINT,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), server.wait()).await;
    result.unwrap();
}

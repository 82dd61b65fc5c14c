//! Production mode of `runway up`, end to end through the real binary and this repository's own
//! `runway.toml`, from a fresh clone: with SECRET_KEY (≥ 32 bytes), ALLOWED_ORIGINS and a
//! PostgreSQL database (its own, created on the TEST_DATABASE_URL server), and the state
//! directory outside the clone (RUNWAY_HOME), the pipeline builds the frontend (`npm run build`)
//! and publishes it; the proxy serves `index.html` with `Cache-Control: no-cache` and a hashed
//! asset under /assets/ as immutable from `${RUNWAY_HOME}/current/dist`, `/api/ready` answers
//! 200 through the proxy, no Vite dev server runs, and `verify` passes. Without SECRET_KEY production refuses
//! before anything starts, naming it.
//!
//! Cost control (prebuilt backend, linked `node_modules`, free ports): see `e2e_support`.

mod e2e_support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use e2e_support::{FreshClone, Stack};

const SECRET: &str = "e2e-production-secret-key-0123456789abcdef";

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

/// Runs SQL as the administrator of the test server; panics (with how to fix) when it is not
/// reachable, so CI never passes without PostgreSQL.
async fn admin_sql(sql: &str) {
    let url = admin_url();
    let admin = runway::db::pg::PgParams::from_url(&url).unwrap();
    let mut conn = admin.connect(Duration::from_secs(10)).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at TEST_DATABASE_URL is needed for this test (start it, or set TEST_DATABASE_URL): {e:?}")
    });
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The test server's URL with another database name.
fn database_url(name: &str) -> String {
    let url = admin_url();
    let (server, _) = url
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database");
    format!("{server}/{name}")
}

/// A database of its own on the test server, dropped when the test ends.
struct Database(String);

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = tokio::runtime::Runtime::new()
                    .map(|rt| rt.block_on(async { admin_sql(&sql).await }));
            });
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_up_serves_the_built_frontend_from_the_state_directory() {
    let clone = FreshClone::new();
    let db = Database(format!("runway_e2e_prod_{}", std::process::id()));
    admin_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.0)).await;
    admin_sql(&format!("CREATE DATABASE {}", db.0)).await;

    // The state directory outside the clone: the static route must follow it.
    let home = clone.tmp.path().join("state");
    let base = clone.base();
    let mut args = vec!["up", "--mode", "production"];
    args.extend(&clone.skip);
    let env = vec![
        ("RUNWAY_HOME".to_string(), home.display().to_string()),
        ("SECRET_KEY".into(), SECRET.into()),
        ("ALLOWED_ORIGINS".into(), base.clone()),
        ("DATABASE_URL".into(), database_url(&db.0)),
    ];
    let mut stack = Stack::start(&clone.dir, &args, env, &clone.tmp.path().join("up.log"));
    let text = stack.wait_ready(Duration::from_secs(900)).await;
    assert!(text.contains("build-frontend"), "{text}");
    assert!(
        !text.contains("runway-dev-password"),
        "no development login in production: {text}"
    );
    assert!(home.join("current/dist/index.html").is_file());
    assert!(
        !clone.dir.join(".runway").exists(),
        "nothing under the clone's .runway: the state directory is RUNWAY_HOME"
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let index = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let html = index.text().await.unwrap();
    assert!(html.contains("<title>Runway</title>"), "{html}");
    // A client-side route falls back to the same page.
    let deep = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(deep.status(), 200);
    assert!(deep.text().await.unwrap().contains("<title>Runway</title>"));

    // Vite names its bundles by content hash: /assets/index-HASH.js.
    let asset = html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("no hashed script in index.html: {html}"))
        .to_string();
    let r = client.get(format!("{base}{asset}")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{asset}");
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable",
        "{asset}"
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript"),
        "{:?}",
        r.headers()
    );
    let expected = std::fs::read(
        home.join("current/dist")
            .join(asset.trim_start_matches('/')),
    )
    .expect("the asset is in the live release");
    assert_eq!(r.bytes().await.unwrap().as_ref(), expected.as_slice());

    let ready = client
        .get(format!("{base}/api/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());

    // No dev server: the frontend process is not started and nobody listens on its port.
    let frontend = stack.process("frontend");
    assert!(frontend["pid"].is_null(), "{frontend}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", clone.frontend)).is_err(),
        "something listens on the dev server's port {}",
        clone.frontend
    );
    assert_eq!(stack.process("backend")["state"], "ready");

    // The seed's 1.6 checks pass in production too (no dev server to ask directly).
    let verify = stack.ok(&["verify"]);
    assert!(verify.contains("checks passed"), "{verify}");

    let status = stack.interrupt().expect("up was running");
    assert!(status.success(), "{}", stack.output());
}

fn production_up(dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = e2e_support::runway_command(dir);
    cmd.args(["up", "--mode", "production", "--no-build"]);
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn production_without_secret_key_refuses_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        e2e_support::workspace().join("runway.toml"),
        dir.path().join("runway.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("frontend")).unwrap();
    let db = database_url("app");

    let out = production_up(
        dir.path(),
        &[
            ("DATABASE_URL", &db),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("production mode is not configured; nothing was started"),
        "{text}"
    );
    assert!(
        text.contains("SECRET_KEY is required in production"),
        "{text}"
    );
    assert!(!text.contains("ALLOWED_ORIGINS"), "it is set: {text}");
    // Nothing started or written: no state directory at all.
    assert!(!dir.path().join(".runway").exists());

    // A short key is refused the same way, without echoing it.
    let out = production_up(
        dir.path(),
        &[
            ("DATABASE_URL", &db),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("SECRET_KEY", "short-key"),
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("SECRET_KEY is shorter than 32 bytes"),
        "{text}"
    );
    assert!(
        !text.contains("short-key"),
        "the secret is not echoed: {text}"
    );
    assert!(!dir.path().join(".runway").exists());
}

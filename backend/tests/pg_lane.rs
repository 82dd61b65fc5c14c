//! The principal lane (backend/src/pg_lane.rs) against a real PostgreSQL: a released
//! connection is reused, one dropped unreleased is closed, one the server killed is replaced
//! after the idle ping, waiting is bounded; and through the real binary, `/me` keeps answering
//! after PostgreSQL terminates every connection of the app (the lane's and the main pool's).

use std::str::FromStr;
use std::time::{Duration, Instant};

use backend::pg_lane::PgLane;
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::{self, Row};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use testkit::{Backend, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_backend");

async fn backend_pid(lane: &PgLane) -> i32 {
    let mut conn = lane.acquire().await.expect("acquire");
    let row = sqlx::query("SELECT pg_backend_pid()")
        .fetch_one(conn.conn())
        .await
        .expect("query");
    conn.release();
    row.get(0)
}

async fn count_app(admin: &DatabaseConnection, app: &str) -> i64 {
    let row = admin
        .query_one_raw(Statement::from_string(
            admin.get_database_backend(),
            format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"),
        ))
        .await
        .expect("pg_stat_activity")
        .expect("one row");
    row.try_get_by_index(0).expect("count")
}

async fn wait_for_count(admin: &DatabaseConnection, app: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = count_app(admin, app).await;
        if n == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{app}: {n} connections, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn lane_reuses_closes_and_replaces_connections() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("skipping: no PostgreSQL");
        return;
    };
    let admin = db.connect().await;
    let app = format!("rw_lane_{}", std::process::id());
    let url = db.url.clone();
    let options = PgConnectOptions::from_str(&url)
        .expect("url")
        .application_name(&app);
    let lane = PgLane::new(options, 1);

    // Released: back on the idle list and reused (same server process).
    let first = backend_pid(&lane).await;
    assert_eq!(lane.idle_count(), 1);
    assert_eq!(backend_pid(&lane).await, first);
    assert_eq!(count_app(&admin, &app).await, 1);

    // Dropped without release: not reused, and closed on the server.
    let conn = lane.acquire().await.expect("acquire");
    drop(conn);
    assert_eq!(lane.idle_count(), 0);
    wait_for_count(&admin, &app, 0).await;
    let second = backend_pid(&lane).await;
    assert_ne!(second, first);

    // Killed by the server while idle: after a second idle the ping notices, and a fresh
    // connection serves the query instead of an error.
    admin
        .execute_unprepared(&format!("SELECT pg_terminate_backend({second})"))
        .await
        .expect("terminate");
    wait_for_count(&admin, &app, 0).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let third = backend_pid(&lane).await;
    assert_ne!(third, second);

    // At most `max` connections: a second checkout waits, and gives up after the timeout.
    let held = lane.acquire().await.expect("acquire");
    let started = Instant::now();
    let err = match lane.acquire().await {
        Ok(_) => panic!("a second connection beyond max = 1"),
        Err(e) => e,
    };
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    held.release();
    assert_eq!(backend_pid(&lane).await, third);
}

#[tokio::test]
async fn me_survives_the_server_dropping_every_connection() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("skipping: no PostgreSQL");
        return;
    };
    let app = Backend::on(BIN, &db)
        .env("ADMIN_PASS", "lane-password-123")
        .spawn()
        .await
        .expect("starts");
    let admin = db.connect().await;
    let email: String = admin
        .query_one_raw(Statement::from_string(
            admin.get_database_backend(),
            "SELECT email FROM users ORDER BY created_at LIMIT 1",
        ))
        .await
        .expect("query")
        .expect("a seeded user")
        .try_get_by_index(0)
        .expect("email");
    let res = app
        .http
        .post(app.url("/api/auth/signin/local"))
        .json(&serde_json::json!({"email": email, "password": "lane-password-123"}))
        .send()
        .await
        .expect("signin");
    assert_eq!(res.status(), 200);
    let token = res.json::<serde_json::Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let me = || async {
        app.http
            .get(app.url("/api/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("me")
    };
    let first = me().await;
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.json().await.expect("json");
    assert_eq!(first["email"], email.as_str());

    let name = db.name().expect("a PostgreSQL test database").to_owned();
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("terminate");
    // Idle for over a second: both pools ping before reuse and reconnect.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = me().await;
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = again.json().await.expect("json");
    assert_eq!(again, first);
}

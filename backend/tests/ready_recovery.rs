//! /api/ready answers 503 (JSON) while the test's own PostgreSQL server is stopped, and 200
//! again once it is back, without restarting the backend (the pool drops dead connections).
//! The server is a private throwaway cluster: the shared 127.0.0.1:5432 is never touched.

use std::time::Duration;

use testkit::{Backend, TestDb, pg::Cluster};

const BIN: &str = env!("CARGO_BIN_EXE_backend");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_the_database() {
    let cluster = match tokio::task::spawn_blocking(Cluster::start)
        .await
        .expect("join")
    {
        Ok(c) => c,
        Err(e) if !testkit::in_ci() => {
            eprintln!("skipping: cannot run a private PostgreSQL cluster: {e:#}");
            return;
        }
        Err(e) => panic!("CI=true: a private PostgreSQL cluster is required: {e:#}"),
    };
    let db = TestDb::postgres_on(&cluster.url()).await;
    let app = Backend::on(BIN, &db).spawn().await.expect("backend starts");
    assert_eq!(app.get("/api/ready").await.status(), 200);

    let cluster = std::sync::Arc::new(cluster);
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.stop())
        .await
        .expect("join")
        .expect("stopping the cluster");

    let res = app.get("/api/ready").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.expect("json error body");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("database")),
        "{body}"
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/api/health").await.status(), 200);

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.start_again())
        .await
        .expect("join")
        .expect("restarting the cluster");

    // The pool reconnects on demand; allow it a few tries.
    let mut last = 0;
    for _ in 0..20 {
        last = app.get("/api/ready").await.status().as_u16();
        if last == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(last, 200, "ready never recovered; logs:\n{}", app.logs());
    drop(app);
    drop(db);
}

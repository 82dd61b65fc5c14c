//! /api/health and /api/ready against the real binary, on PostgreSQL and SQLite.

use testkit::{Backend, TestDb, db_test};

const BIN: &str = env!("CARGO_BIN_EXE_backend");

async fn health_and_ready_answer(db: TestDb) {
    let app = Backend::on(BIN, &db).spawn().await.expect("backend starts");

    let res = app.get("/api/health").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body, serde_json::json!({"status": "ok"}));

    let res = app.get("/api/ready").await;
    assert_eq!(res.status(), 200, "logs:\n{}", app.logs());
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok");
}
db_test!(health_and_ready, health_and_ready_answer);

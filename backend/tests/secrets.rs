//! Secrets never reach the logs: run the real binary with SECRET_KEY and DB_PASS set (a
//! PostgreSQL login role created for this test, so DB_PASS is real and unique), at debug log
//! level, exercise it, capture every line, and look for the values. Also the failure paths.

use testkit::{Backend, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_backend");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_key_and_db_pass_never_logged() {
    let Some(mut db) = TestDb::postgres().await else {
        return;
    };
    let secret_key = format!("sk-{}", uuid::Uuid::new_v4().simple());
    let db_pass = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let (role, _) = db.create_login_role(&db_pass).await;
    let host_port = db.host_port();
    let (host, port) = host_port.rsplit_once(':').expect("host:port");
    let name = db.name().expect("postgres").to_owned();

    let backend = |mode: &str| {
        Backend::new(BIN)
            .env("NODE_ENV", mode)
            .env("RUST_LOG", "debug")
            .env("SECRET_KEY", &secret_key)
            .env("DB_HOST", host)
            .env("DB_PORT", port)
            .env("DB_NAME", &name)
            .env("DB_USER", &role)
            .env("DB_PASS", &db_pass)
    };

    let mut captured = String::new();
    for mode in ["dev_stage", "development"] {
        let app = backend(mode).spawn().await.expect("starts");
        assert_eq!(app.get("/api/ready").await.status(), 200, "{}", app.logs());
        let _ = app.get("/api/does-not-exist").await;
        let _ = app
            .http
            .post(app.url("/api/health"))
            .header("authorization", format!("Bearer {secret_key}"))
            .body("{")
            .send()
            .await;
        let _ = app.get("/api-docs/openapi.json").await;
        captured.push_str(&app.logs());
        let status = app.stop().await.expect("stops");
        assert!(status.success());
    }
    for args in [&["migrate"][..], &["seed"][..], &["cleanup-tokens"][..]] {
        let out = backend("dev_stage")
            .args(args.iter().copied())
            .output()
            .await
            .expect("runs");
        assert!(out.status.success(), "{args:?}: {}", out.all());
        captured.push_str(&out.all());
    }
    // Wrong password: the error names the server, not the password.
    let wrong = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let out = backend("dev_stage")
        .env("DB_PASS", &wrong)
        .env("DB_CONNECT_ATTEMPTS", "1")
        .arg("migrate")
        .output()
        .await
        .expect("runs");
    let text = out.all();
    captured.push_str(&text);
    // The throwaway cluster trusts everyone; the shared server checks passwords.
    if !out.status.success() {
        assert!(text.contains(&host_port), "{text}");
    }

    assert!(
        captured.lines().count() > 10,
        "too little captured:\n{captured}"
    );
    assert!(
        !captured.contains(&secret_key),
        "SECRET_KEY leaked:\n{captured}"
    );
    assert!(!captured.contains(&db_pass), "DB_PASS leaked:\n{captured}");
    assert!(
        !captured.contains(&wrong),
        "wrong DB_PASS leaked:\n{captured}"
    );
}

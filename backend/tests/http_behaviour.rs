//! HTTP behaviour of the real binary: request ids, log format per mode, CORS per mode,
//! graceful shutdown (and, in-process, that an in-flight request finishes).

use std::time::Duration;

use testkit::{Backend, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_backend");
const PROD_KEY: &str = "0123456789abcdef0123456789abcdef-prod";

#[tokio::test]
async fn request_id_is_generated_echoed_and_logged() {
    let db = TestDb::sqlite().await;
    let app = Backend::on(BIN, &db).spawn().await.expect("starts");
    let res = app.get("/api/health").await;
    let generated = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id generated")
        .to_owned();
    let parsed = uuid::Uuid::parse_str(&generated).expect("a UUID");
    assert_eq!(
        parsed.get_version(),
        Some(uuid::Version::Random),
        "{generated}"
    );
    assert_eq!(
        parsed.hyphenated().to_string(),
        generated,
        "lower-case hyphenated"
    );
    let other = app.get("/api/health").await;
    assert_ne!(
        other.headers()["x-request-id"],
        generated.as_str(),
        "a new id per request"
    );

    let res = app
        .http
        .get(app.url("/api/nothing-here"))
        .header("x-request-id", "req-echo-4242")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-request-id"], "req-echo-4242");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        app.logs()
            .lines()
            .any(|l| l.contains("req-echo-4242") && l.contains("404")),
        "request id not in the access log:\n{}",
        app.logs()
    );
}

#[tokio::test]
async fn dev_stage_logs_json_lines_with_request_id() {
    let db = TestDb::sqlite().await;
    let app = Backend::on(BIN, &db)
        .env("NODE_ENV", "dev_stage")
        .env("SECRET_KEY", "dev-stage-key")
        .spawn()
        .await
        .expect("starts");
    let res = app
        .http
        .get(app.url("/api/ready"))
        .header("x-request-id", "json-req-77")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = app.logs();
    let mut found = false;
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if v["span"]["request_id"] == "json-req-77" {
            found = true;
        }
    }
    assert!(found, "no JSON line carries the request id:\n{logs}");
}

async fn preflight(app: &testkit::Running, origin: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, app.url("/api/health"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight")
}

#[tokio::test]
async fn development_reflects_any_origin_with_credentials() {
    let db = TestDb::sqlite().await;
    let app = Backend::on(BIN, &db)
        .env("NODE_ENV", "development")
        .spawn()
        .await
        .expect("starts");
    let res = preflight(&app, "http://anything.example:5173").await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://anything.example:5173"
    );
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let methods = res.headers()["access-control-allow-methods"]
        .to_str()
        .expect("ascii");
    assert!(methods.contains("POST"), "{methods}");
}

#[tokio::test]
async fn production_allows_only_listed_origins() {
    let db = TestDb::sqlite().await;
    let app = Backend::on(BIN, &db)
        .env("NODE_ENV", "production")
        .env("SECRET_KEY", PROD_KEY)
        .env(
            "ALLOWED_ORIGINS",
            "https://app.example.com, https://admin.example.com",
        )
        .spawn()
        .await
        .expect("starts");
    let res = preflight(&app, "https://admin.example.com").await;
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://admin.example.com"
    );
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");

    let res = preflight(&app, "https://evil.example.net").await;
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "foreign origin allowed: {:?}",
        res.headers()
    );
    let res = app
        .http
        .get(app.url("/api/health"))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .expect("request");
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn sigterm_stops_cleanly() {
    let db = TestDb::sqlite().await;
    let app = Backend::on(BIN, &db).spawn().await.expect("starts");
    assert_eq!(app.get("/api/health").await.status(), 200);
    let logs_before = app.logs();
    let status = app.stop().await.expect("stops");
    assert!(
        status.success(),
        "exit status {status:?}; logs:\n{logs_before}"
    );
}

#[tokio::test]
async fn in_flight_request_finishes_during_shutdown() {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            "done"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(backend::server::run_until(
        listener,
        app,
        Duration::from_secs(10),
        async move {
            let _ = rx.await;
        },
    ));
    let slow = tokio::spawn(async move {
        reqwest::get(format!("http://{addr}/slow"))
            .await
            .expect("slow request")
            .text()
            .await
            .expect("body")
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = tx.send(());
    assert_eq!(slow.await.expect("join"), "done");
    server
        .await
        .expect("join")
        .expect("server ends without error");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

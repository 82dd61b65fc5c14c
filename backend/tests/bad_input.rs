//! Bad input gets the one JSON error shape and the right 4xx, never a 500.
//! Black-box against the binary where the route surface allows it (unknown route, wrong
//! method, body over the limit); in-process through the real app layers with a probe route
//! for what needs a JSON-accepting handler (malformed JSON, wrong content type, wrong shape,
//! chunked oversize, constraint violations) — on both databases.

use std::sync::Arc;

use axum::extract::State;
use backend::app::build_with;
use backend::config::{Config, Env};
use backend::entities::roles;
use backend::error::AppError;
use backend::extract::{Json, OptionalJson};
use backend::state::AppState;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, Set};
use serde::Deserialize;
use testkit::{Backend, TestDb, db_test};
use utoipa_axum::router::OpenApiRouter;

const BIN: &str = env!("CARGO_BIN_EXE_backend");

async fn assert_error(res: reqwest::Response, status: u16, code: &str) {
    assert_eq!(res.status().as_u16(), status);
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let body: serde_json::Value = res.json().await.expect("JSON body");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Routes whose handler parses its body by hand and so answers 422 (not 400) to malformed
/// JSON: a known deviation, to be moved to `backend::extract::OptionalJson`.
const HAND_PARSED: &[&str] = &["/api/auth/send-email-address-verification-email"];

#[tokio::test]
async fn binary_answers_bad_requests_with_json() {
    let db = TestDb::sqlite().await;
    let app = Backend::on(BIN, &db)
        .env("BODY_LIMIT_BYTES", "1024")
        .spawn()
        .await
        .expect("starts");

    assert_error(app.get("/api/no/such/route").await, 404, "not_found").await;
    let res = app
        .http
        .delete(app.url("/api/health"))
        .send()
        .await
        .expect("request");
    assert_error(res, 405, "method_not_allowed").await;
    let res = app
        .http
        .post(app.url("/api/health"))
        .header("content-type", "application/json")
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .expect("request");
    assert_error(res, 413, "payload_too_large").await;
    // The server is still fine afterwards.
    assert_eq!(app.get("/api/health").await.status(), 200);

    // Every documented route taking a JSON body rejects bad bodies with the JSON shape.
    let spec: serde_json::Value = app
        .get("/api-docs/openapi.json")
        .await
        .json()
        .await
        .expect("spec");
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if path.contains('{') || HAND_PARSED.contains(&path.as_str()) {
            continue;
        }
        for (method, op) in item.as_object().expect("item") {
            if op["requestBody"]["content"]
                .get("application/json")
                .is_none()
            {
                continue;
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("m");
            let send = |ct: &'static str, body: &'static str| {
                app.http
                    .request(m.clone(), app.url(path))
                    .header("content-type", ct)
                    .body(body)
                    .send()
            };
            // Routes that authenticate first may answer 401/403 before reading the body.
            let res = send("application/json", "{oops").await.expect("send");
            if matches!(res.status().as_u16(), 401 | 403) {
                continue;
            }
            assert_eq!(res.status(), 400, "{method} {path} malformed JSON");
            assert_error(res, 400, "malformed_json").await;
            let res = send("text/plain", "{}").await.expect("send");
            assert_eq!(res.status(), 415, "{method} {path} text/plain");
            assert_error(res, 415, "unsupported_media_type").await;
            checked += 1;
        }
    }
    eprintln!("checked {checked} JSON routes of the binary");
}

/// (label, content type, body, expected status, expected code)
type Case = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

#[derive(Deserialize)]
struct Probe {
    #[allow(dead_code)]
    name: String,
}

async fn probe(Json(_p): Json<Probe>) -> &'static str {
    "ok"
}

async fn optional_probe(OptionalJson(p): OptionalJson<Probe>) -> &'static str {
    if p.is_some() { "some" } else { "none" }
}

async fn duplicate_role(State(state): State<AppState>) -> Result<&'static str, AppError> {
    for _ in 0..2 {
        let now = Utc::now();
        roles::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            name: Set("Same name".to_owned()),
            global_access: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&state.db)
        .await?;
    }
    Ok("unreachable")
}

async fn dangling_grant(State(state): State<AppState>) -> Result<&'static str, AppError> {
    backend::entities::role_permissions::ActiveModel {
        role_id: Set(uuid::Uuid::new_v4()),
        permission_id: Set(uuid::Uuid::new_v4()),
    }
    .insert(&state.db)
    .await?;
    Ok("unreachable")
}

async fn boom() -> Result<&'static str, AppError> {
    Err(AppError::internal(anyhow::anyhow!(
        "disk on fire (internal detail)"
    )))
}

async fn in_process_errors(db: TestDb) {
    let vars = [
        ("NODE_ENV", "test".to_owned()),
        ("DATABASE_URL", db.url.clone()),
        ("BODY_LIMIT_BYTES", "2048".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Arc::new(Config::from_env(&Env::from_map(vars)).expect("config"));
    let conn = backend::db::connect(&config).await.expect("connect");
    backend::migrate::run(&conn).await.expect("migrate");
    let routes = backend::app::api_router()
        .merge(OpenApiRouter::new().route("/api/probe", axum::routing::post(probe)))
        .merge(
            OpenApiRouter::new()
                .route("/api/probe/duplicate", axum::routing::post(duplicate_role))
                .route("/api/probe/dangling", axum::routing::post(dangling_grant))
                .route("/api/probe/boom", axum::routing::get(boom))
                .route("/api/probe/optional", axum::routing::post(optional_probe)),
        );
    let app = build_with(AppState::new(conn, config).expect("app state"), routes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let post = |path: &str| http.post(format!("{base}{path}"));

    let ok = post("/api/probe")
        .header("content-type", "application/json")
        .body(r#"{"name":"x"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);

    let table: Vec<Case> = vec![
        (
            "malformed JSON",
            Some("application/json"),
            b"{\"name\":".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "not JSON at all",
            Some("application/json"),
            b"hello".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "wrong content type",
            Some("text/plain"),
            br#"{"name":"x"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "no content type",
            None,
            br#"{"name":"x"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "wrong shape",
            Some("application/json"),
            br#"{"nom":1}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "huge body",
            Some("application/json"),
            vec![b' '; 100_000],
            413,
            "payload_too_large",
        ),
    ];
    for (label, ct, body, status, code) in table {
        let mut req = post("/api/probe").body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.expect(label);
        assert_eq!(res.status().as_u16(), status, "{label}");
        assert_error(res, status, code).await;
    }

    // Optional body: empty is fine whatever the type; present is held to the same rules.
    let opt = |ct: Option<&'static str>, body: &'static str| {
        let mut r = post("/api/probe/optional").body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let res = opt(None, "").await.expect("send");
    assert_eq!(res.text().await.expect("text"), "none");
    let res = opt(Some("application/json"), r#"{"name":"x"}"#)
        .await
        .expect("send");
    assert_eq!(res.text().await.expect("text"), "some");
    assert_error(
        opt(Some("application/json"), "{oops").await.expect("send"),
        400,
        "malformed_json",
    )
    .await;
    assert_error(
        opt(Some("text/plain"), "{}").await.expect("send"),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_error(
        opt(Some("application/json"), "{}").await.expect("send"),
        422,
        "validation_failed",
    )
    .await;

    // Chunked body (no Content-Length) over the limit: still 413. Raw socket, because the
    // server may answer and close before a well-behaved client has finished sending.
    let raw = chunked_oversize(&base).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("payload_too_large"), "{raw}");

    assert_error(
        post("/api/probe/duplicate").send().await.expect("dup"),
        409,
        "conflict",
    )
    .await;
    assert_error(
        post("/api/probe/dangling").send().await.expect("fk"),
        422,
        "validation_failed",
    )
    .await;
    let res = http
        .get(format!("{base}/api/probe/boom"))
        .send()
        .await
        .expect("boom");
    assert_eq!(res.status(), 500);
    let text = res.text().await.expect("body");
    assert!(
        !text.contains("disk on fire"),
        "internal detail leaked: {text}"
    );
    assert!(text.contains("internal_error"), "{text}");
}
db_test!(in_process, in_process_errors);

async fn chunked_oversize(base: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "POST /api/probe HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..50 {
        req.extend_from_slice(b"400\r\n");
        req.extend_from_slice(&[b' '; 1024]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let _ = stream.write_all(&req).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buf),
    )
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

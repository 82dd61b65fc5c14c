//! Auth configuration as a client sees it, on PostgreSQL and SQLite: the cookie variables
//! (`AUTH_COOKIE_SECURE`, names, `SameSite`, max-age, domain, the `__Host-`/`__Secure-` prefixes,
//! secure by default in production) and `AUTH_TRUSTED_PROXIES` (X-Forwarded-For believed only
//! from a trusted peer).

mod auth_support;

use auth_support::*;
use reqwest::{Response, StatusCode};
use serde_json::json;
use testkit::{TestDb, db_test};

/// `(name, value, attributes)` of every Set-Cookie header.
fn set_cookies(res: &Response) -> Vec<(String, String, String)> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let v = v.to_str().expect("ascii cookie");
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            (
                name.to_string(),
                value.to_string(),
                attrs.trim().to_string(),
            )
        })
        .collect()
}

fn cookie<'a>(all: &'a [(String, String, String)], name: &str) -> &'a (String, String, String) {
    all.iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} cookie in {all:?}"))
}

async fn signin_raw(app: &App) -> Response {
    app.post_json(
        "/api/auth/signin/local",
        json!({"email": USER, "password": PASS}),
    )
    .await
}

async fn with_cookie(app: &App, method: reqwest::Method, path: &str, cookie: &str) -> StatusCode {
    app.run
        .http
        .request(method, app.url(path))
        .header("cookie", cookie)
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .expect("request")
        .status()
}

async fn secure_named_cookies(db: TestDb) {
    let app = spawn_with(
        &db,
        &[
            ("AUTH_COOKIE_SECURE", "true"),
            ("AUTH_COOKIE_NAME", "sid"),
            ("AUTH_REFRESH_COOKIE_NAME", "rt"),
            ("AUTH_COOKIE_SAME_SITE", "Strict"),
            ("AUTH_COOKIE_MAX_AGE_MS", "120000"),
        ],
    )
    .await;
    let res = signin_raw(&app).await;
    assert_eq!(res.status(), 200);
    let all = set_cookies(&res);
    let (_, access, attrs) = cookie(&all, "__Host-sid");
    for want in [
        "Path=/;",
        "Max-Age=120;",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
    ] {
        assert!(attrs.contains(want), "access cookie lacks {want}: {attrs}");
    }
    assert!(!attrs.contains("Domain"), "__Host- forbids Domain: {attrs}");
    let (_, refresh, rattrs) = cookie(&all, "__Secure-rt");
    for want in ["Path=/api/auth;", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(
            rattrs.contains(want),
            "refresh cookie lacks {want}: {rattrs}"
        );
    }
    assert_eq!(all.len(), 2, "{all:?}");

    // The server reads the prefixed names, and only them: a plain `sid` cookie (which any
    // subdomain or plain-HTTP page could plant) is not a session.
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    assert_eq!(
        with_cookie(
            &app,
            get.clone(),
            "/api/auth/me",
            &format!("__Host-sid={access}")
        )
        .await,
        200
    );
    assert_eq!(
        with_cookie(&app, get.clone(), "/api/auth/me", &format!("sid={access}")).await,
        401
    );
    assert_eq!(
        with_cookie(
            &app,
            post.clone(),
            "/api/auth/refresh",
            &format!("rt={refresh}")
        )
        .await,
        401
    );
    let res = app
        .run
        .http
        .post(app.url("/api/auth/refresh"))
        .header("cookie", format!("__Secure-rt={refresh}"))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), 200);
    let rotated = set_cookies(&res);
    let (_, new_refresh, _) = cookie(&rotated, "__Secure-rt");
    assert_ne!(new_refresh, refresh);

    // Signout clears both prefixed cookies.
    let res = app
        .run
        .http
        .post(app.url("/api/auth/signout"))
        .header(
            "cookie",
            format!("__Secure-rt={new_refresh}; __Host-sid={access}"),
        )
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .expect("signout");
    assert_eq!(res.status(), 204);
    let cleared = set_cookies(&res);
    for name in ["__Host-sid", "__Secure-rt"] {
        let (_, value, attrs) = cookie(&cleared, name);
        assert!(
            value.is_empty() && attrs.contains("Max-Age=0"),
            "{name}: {attrs}"
        );
    }
}
db_test!(secure_cookies, secure_named_cookies);

/// With a cookie domain the access cookie cannot be `__Host-`; it falls back to `__Secure-`.
/// Production is secure by default; `AUTH_COOKIE_SECURE=false` turns it off (plain HTTP behind a
/// TLS-less proxy), and development is not secure.
async fn cookie_defaults_per_mode(db: TestDb) {
    let app = spawn_with(
        &db,
        &[
            ("AUTH_COOKIE_SECURE", "true"),
            ("AUTH_COOKIE_DOMAIN", "example.test"),
        ],
    )
    .await;
    let all = set_cookies(&signin_raw(&app).await);
    let (_, _, attrs) = cookie(&all, "__Secure-access_token");
    assert!(attrs.contains("Domain=example.test"), "{attrs}");
    assert!(attrs.contains("SameSite=Lax"), "default SameSite: {attrs}");
    drop(app);

    let production = [
        ("NODE_ENV", "production"),
        (
            "SECRET_KEY",
            "a-production-secret-of-enough-length-0123456789",
        ),
        ("ALLOWED_ORIGINS", "https://app.example.test"),
    ];
    let app = spawn_with(&db, &production).await;
    let all = set_cookies(&signin_raw(&app).await);
    let (_, _, attrs) = cookie(&all, "__Host-access_token");
    assert!(attrs.contains("Secure"), "{attrs}");
    cookie(&all, "__Secure-refresh_token");
    drop(app);

    let app = spawn_with(
        &db,
        &[production.as_slice(), &[("AUTH_COOKIE_SECURE", "false")]].concat(),
    )
    .await;
    let all = set_cookies(&signin_raw(&app).await);
    let (_, _, attrs) = cookie(&all, "access_token");
    assert!(!attrs.contains("Secure"), "{attrs}");
    drop(app);

    let app = spawn(&db).await;
    let all = set_cookies(&signin_raw(&app).await);
    let (_, _, attrs) = cookie(&all, "access_token");
    assert!(!attrs.contains("Secure"), "{attrs}");
    assert!(attrs.contains("Max-Age=900;"), "15 min default: {attrs}");
}
db_test!(cookie_modes, cookie_defaults_per_mode);

/// X-Forwarded-For is believed only from a trusted peer. Here the trusted proxy is elsewhere, so
/// our loopback connection is the client and a forged header does not buy fresh allowances.
async fn untrusted_forwarded_for(db: TestDb) {
    let app = spawn_with(
        &db,
        &[
            ("AUTH_TRUSTED_PROXIES", "192.0.2.1/32"),
            ("AUTH_RATE_LIMIT_MAX", "2"),
            ("AUTH_RATE_LIMIT_WINDOW_MS", "60000"),
        ],
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let res = app
            .run
            .http
            .post(app.url("/api/auth/signin/local"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"email": USER, "password": "wrong-password"}))
            .send()
            .await
            .expect("signin");
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
}
db_test!(untrusted_proxy, untrusted_forwarded_for);

/// A bad cookie or proxy variable stops the backend at startup, naming the variable.
#[tokio::test]
async fn bad_auth_variables_name_themselves() {
    let data = tempfile::tempdir().expect("tempdir");
    for (var, value) in [
        ("AUTH_COOKIE_SECURE", "maybe"),
        ("AUTH_COOKIE_SAME_SITE", "sometimes"),
        ("AUTH_COOKIE_NAME", "bad name;"),
        ("AUTH_COOKIE_DOMAIN", "exa mple"),
        ("AUTH_TRUSTED_PROXIES", "not-an-ip"),
        ("AUTH_COOKIE_MAX_AGE_MS", "soon"),
    ] {
        let out = testkit::Backend::new(BIN)
            .env("DATA_DIR", data.path().to_string_lossy())
            .env(var, value)
            .arg("migrate")
            .output()
            .await
            .expect("backend runs");
        assert_eq!(out.status.code(), Some(78), "{var}={value}: {}", out.all());
        assert!(out.stderr.contains(var), "{var}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

//! Password change/reset, email verification through the development outbox, every session
//! revocation trigger, CSRF and rate limits — black-box, on PostgreSQL and SQLite.

mod auth_support;

use auth_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{TestDb, db_test};

/// Both an access token and a refresh family are dead.
async fn assert_session_dead(app: &App, jar: &Jar, why: &str) {
    assert_eq!(
        app.me_status(jar).await,
        401,
        "{why}: access token still works"
    );
    let mut j = jar.clone();
    assert_eq!(
        app.refresh(&mut j).await.status(),
        401,
        "{why}: refresh still works"
    );
}

async fn user_id(app: &App, admin: &str, email: &str) -> String {
    let res = app
        .bearer_req(
            Method::GET,
            &format!("/api/users?email={email}"),
            admin,
            None,
        )
        .await;
    let body: Value = res.json().await.unwrap();
    body["rows"][0]["id"].as_str().unwrap().to_string()
}

async fn revocation_triggers(db: TestDb) {
    let app = spawn(&db).await;
    let (_, admin, _) = app.signin(SUPER, PASS).await;

    // 1. Password change: other sessions die; the changing client gets fresh cookies.
    let (other, _, _) = app.signin(USER, PASS).await;
    let (mut mine, _, _) = app.signin(USER, PASS).await;
    let res = app
        .cookie_req(
            Method::PUT,
            "/api/auth/password-update",
            &mine,
            Some(json!({"currentPassword": PASS, "newPassword": "brand-new-pass-1"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let old_mine = mine.clone();
    mine.absorb(&res);
    assert_session_dead(&app, &other, "password change").await;
    assert_session_dead(
        &app,
        &old_mine,
        "password change (old cookies of the changer)",
    )
    .await;
    assert_eq!(
        app.me_status(&mine).await,
        200,
        "the changer stays signed in"
    );
    let wrong = app
        .cookie_req(
            Method::PUT,
            "/api/auth/password-update",
            &mine,
            Some(json!({"currentPassword": "not-it-at-all", "newPassword": "another-pass-2"})),
        )
        .await;
    assert_eq!(wrong.status(), 422);
    app.signin(USER, "brand-new-pass-1").await;

    // 2. Password reset through the outbox link.
    let (before_reset, _, _) = app.signin(USER2, PASS).await;
    let res = app
        .post_json(
            "/api/auth/send-password-reset-email",
            json!({"email": USER2}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mail = app.last_mail();
    assert!(mail.contains(&format!("To: {USER2}")), "{mail}");
    let token = token_in(&mail);
    assert_eq!(token.len(), 43);
    assert!(!app.run.logs().is_empty());
    let res = app
        .post_json_method(
            Method::PUT,
            "/api/auth/password-reset",
            json!({"token": token, "password": "reset-pass-123"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_session_dead(&app, &before_reset, "password reset").await;
    app.signin(USER2, "reset-pass-123").await;
    let again = app
        .post_json_method(
            Method::PUT,
            "/api/auth/password-reset",
            json!({"token": token, "password": "reset-pass-456"}),
        )
        .await;
    assert_eq!(again.status(), 400, "a reset token works once");
    // No account enumeration: unknown address → same 200, no mail.
    let n = app.mail_count();
    let res = app
        .post_json(
            "/api/auth/send-password-reset-email",
            json!({"email": "nobody@runway.local"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.mail_count(), n);

    // 3. Disable.
    let (victim, _, _) = app.signin(ADMIN, PASS).await;
    let admin_id = user_id(&app, &admin, ADMIN).await;
    let res = app
        .bearer_req(
            Method::PUT,
            &format!("/api/users/{admin_id}"),
            &admin,
            Some(json!({"data": {"disabled": true}})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_session_dead(&app, &victim, "disable").await;
    let res = app
        .post_json(
            "/api/auth/signin/local",
            json!({"email": ADMIN, "password": PASS}),
        )
        .await;
    let (s, _, m) = error_of(res).await;
    assert_eq!(
        (s, m.as_str()),
        (StatusCode::FORBIDDEN, "Your account is disabled")
    );
    let res = app
        .bearer_req(
            Method::PUT,
            &format!("/api/users/{admin_id}"),
            &admin,
            Some(json!({"data": {"disabled": false}})),
        )
        .await;
    assert_eq!(res.status(), 200);

    // 4. Role change.
    let (victim, _, _) = app.signin(ADMIN, PASS).await;
    let roles: Value = app
        .bearer_req(Method::GET, "/api/roles?name=User", &admin, None)
        .await
        .json()
        .await
        .unwrap();
    let user_role = roles["rows"][0]["id"].clone();
    let res = app
        .bearer_req(
            Method::PUT,
            &format!("/api/users/{admin_id}"),
            &admin,
            Some(json!({"data": {"app_role": user_role}})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_session_dead(&app, &victim, "role change").await;
    let (_, _, me) = app.signin(ADMIN, PASS).await;
    assert_eq!(me["role"]["name"], "User");

    // 5. Admin sets a password.
    let (victim, _, _) = app.signin(ADMIN, PASS).await;
    let res = app
        .bearer_req(
            Method::PUT,
            &format!("/api/users/{admin_id}"),
            &admin,
            Some(json!({"data": {"password": "set-by-admin-1"}})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_session_dead(&app, &victim, "password set by an administrator").await;
    app.signin(ADMIN, "set-by-admin-1").await;
}
db_test!(revocation, revocation_triggers);

async fn email_verification(db: TestDb) {
    let app = spawn(&db).await;
    let res = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "verify.me@example.com", "password": "verify-pass-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut jar = Jar::default();
    jar.absorb(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["emailVerified"], false);
    let configured: Value = app
        .run
        .get("/api/auth/email-configured")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(configured, json!(false), "no SMTP here: the outbox");

    let res = app
        .cookie_req(
            Method::POST,
            "/api/auth/send-email-address-verification-email",
            &jar,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let mail = app.last_mail();
    assert!(mail.contains("verify-email?token="), "{mail}");
    assert!(
        app.run.log_contains("verify-email?token=").await,
        "development log carries the link"
    );
    let token = token_in(&mail);
    let res = app
        .post_json_method(
            Method::PUT,
            "/api/auth/verify-email",
            json!({"token": token}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let me: Value = app
        .cookie_req(Method::GET, "/api/auth/me", &jar, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["emailVerified"], true);
    let res = app
        .post_json_method(
            Method::PUT,
            "/api/auth/verify-email",
            json!({"token": token}),
        )
        .await;
    assert_eq!(res.status(), 400, "single use");
    let res = app
        .post_json_method(
            Method::PUT,
            "/api/auth/verify-email",
            json!({"token": "x".repeat(43)}),
        )
        .await;
    assert_eq!(res.status(), 400);

    // Profile update.
    let res = app
        .cookie_req(
            Method::PUT,
            "/api/auth/profile",
            &jar,
            Some(json!({"profile": {"firstName": "Vera", "phoneNumber": "555"}})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    assert_eq!(
        (p["firstName"].as_str(), p["phoneNumber"].as_str()),
        (Some("Vera"), Some("555"))
    );
    let res = app
        .cookie_req(
            Method::PUT,
            "/api/auth/profile",
            &jar,
            Some(json!({"profile": {"email": "new@example.com"}})),
        )
        .await;
    assert_eq!(res.status(), 422);
}
db_test!(verification, email_verification);

async fn csrf_rule(db: TestDb) {
    let app = spawn(&db).await;
    let (jar, token, _) = app.signin(USER, PASS).await;
    let body = json!({"profile": {"firstName": "Csrf"}});
    let cookie_put = |headers: Vec<(&'static str, String)>| {
        let mut req = app
            .run
            .http
            .put(app.url("/api/auth/profile"))
            .header("cookie", jar.header("/api/auth/profile"))
            .json(&body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    // Cookie without the custom header: refused.
    let (s, code, _) = error_of(cookie_put(vec![]).await.unwrap()).await;
    assert_eq!((s, code.as_str()), (StatusCode::FORBIDDEN, "csrf"));
    // With the header but from a foreign origin: refused.
    let res = cookie_put(vec![
        ("x-requested-with", "XMLHttpRequest".into()),
        ("origin", "https://evil.example".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    let res = cookie_put(vec![
        ("x-requested-with", "XMLHttpRequest".into()),
        ("sec-fetch-site", "cross-site".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    // Same origin with the header: passes.
    let host = app.run.base_url.trim_start_matches("http://").to_string();
    let res = cookie_put(vec![
        ("x-requested-with", "XMLHttpRequest".into()),
        ("origin", format!("http://{host}")),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    // Bearer is exempt: no header, foreign origin, still fine.
    let res = app
        .run
        .http
        .put(app.url("/api/auth/profile"))
        .bearer_auth(&token)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Refresh and signout by cookie follow the rule too.
    let res = app
        .run
        .http
        .post(app.url("/api/auth/refresh"))
        .header("cookie", jar.header("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .run
        .http
        .post(app.url("/api/auth/signout"))
        .header("cookie", jar.header("/api/auth/signout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // GET is safe: no header needed.
    let res = app
        .run
        .http
        .get(app.url("/api/auth/me"))
        .header("cookie", jar.header("/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
db_test!(csrf, csrf_rule);

async fn rate_limits(db: TestDb) {
    let app = spawn_with(
        &db,
        &[
            ("AUTH_RATE_LIMIT_MAX", "3"),
            ("AUTH_RATE_LIMIT_WINDOW_MS", "60000"),
        ],
    )
    .await;
    let attempt = |ip: &'static str| {
        app.run
            .http
            .post(app.url("/api/auth/signin/local"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": USER, "password": "wrong-password"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(attempt("203.0.113.7").await.unwrap().status(), 401);
    }
    let res = attempt("203.0.113.7").await.unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let (_, code, _) = error_of(res).await;
    assert_eq!(code, "rate_limited");
    // Another client (as told by the trusted local proxy) is not affected.
    assert_eq!(attempt("198.51.100.2").await.unwrap().status(), 401);
    // Email routes have their own allowance.
    for _ in 0..3 {
        let res = app
            .post_json(
                "/api/auth/send-password-reset-email",
                json!({"email": "x@example.com"}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let res = app
        .post_json(
            "/api/auth/send-password-reset-email",
            json!({"email": "x@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 429);
    // Signup too.
    for i in 0..3 {
        let res = app
            .post_json(
                "/api/auth/signup",
                json!({"email": format!("rl{i}@example.com"), "password": "long-enough-1"}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let res = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "rl9@example.com", "password": "long-enough-1"}),
        )
        .await;
    assert_eq!(res.status(), 429);
}
db_test!(rate_limit, rate_limits);

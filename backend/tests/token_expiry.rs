//! Password-reset and email-verification tokens expire (`AUTH_PASSWORD_RESET_TTL_MS`,
//! `AUTH_EMAIL_VERIFICATION_TTL_MS`): an emailed link used after its lifetime is refused with a
//! clear 400 and changes nothing. On PostgreSQL and SQLite.

mod auth_support;

use auth_support::*;
use reqwest::Method;
use serde_json::json;
use testkit::{TestDb, db_test};

async fn expired_links(db: TestDb) {
    let app = spawn_with(
        &db,
        &[
            ("AUTH_PASSWORD_RESET_TTL_MS", "1000"),
            ("AUTH_EMAIL_VERIFICATION_TTL_MS", "1000"),
        ],
    )
    .await;
    let res = app
        .post_json(
            "/api/auth/send-password-reset-email",
            json!({"email": USER}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let reset = token_in(&app.last_mail());
    let (jar, _, _) = app.signin(USER, PASS).await;
    // A fresh, unverified account asks for its verification link.
    let res = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "late@example.test", "password": "late-pass-123"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut newcomer = Jar::default();
    newcomer.absorb(&res);
    let sent = app.mail_count();
    let res = app
        .cookie_req(
            Method::POST,
            "/api/auth/send-email-address-verification-email",
            &newcomer,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.mail_count(), sent + 1, "verification mail written");
    let verify = token_in(&app.last_mail());
    assert_ne!(verify, reset);

    // Past the one-second lifetime (the database clock decides; give it margin).
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    let res = app
        .post_json_method(
            Method::PUT,
            "/api/auth/password-reset",
            json!({"token": reset, "password": "too-late-pass-1"}),
        )
        .await;
    let (status, _, message) = error_of(res).await;
    assert_eq!(status, 400, "{message}");
    assert!(
        message.to_lowercase().contains("expired") || message.to_lowercase().contains("invalid"),
        "{message}"
    );
    // The old password still works; the session was not ended.
    app.signin(USER, PASS).await;
    assert_eq!(app.me_status(&jar).await, 200);

    let res = app
        .post_json_method(
            Method::PUT,
            "/api/auth/verify-email",
            json!({"token": verify}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let me: serde_json::Value = app
        .cookie_req(Method::GET, "/api/auth/me", &newcomer, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["emailVerified"], false,
        "an expired link verifies nothing"
    );
}
db_test!(expired, expired_links);

//! Real email over SMTP (lettre) to a local relay that speaks the protocol in clear
//! (`EMAIL_TLS=none`; tests/smtp_support), on PostgreSQL and SQLite: with `EMAIL_HOST` set, signup sends the
//! verification mail, an unverified account cannot sign in, the emailed links verify and reset,
//! and the tokens never appear in the log.

mod auth_support;
mod smtp_support;

use auth_support::*;
use reqwest::Method;
use serde_json::{Value, json};
use smtp_support::{Relay, Security};
use testkit::{TestDb, db_test};

async fn smtp_flows(db: TestDb) {
    let relay = Relay::start(Security::Plain).await;
    let port = relay.port.to_string();
    let app = spawn_with(
        &db,
        &[
            ("EMAIL_HOST", "127.0.0.1"),
            ("EMAIL_PORT", &port),
            ("EMAIL_TLS", "none"),
            ("EMAIL_FROM", "Runway <noreply@runway.test>"),
            ("FRONTEND_URL", "https://app.example.test"),
        ],
    )
    .await;
    let configured: Value = app
        .run
        .get("/api/auth/email-configured")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(configured, json!(true));

    // Signup sends the verification mail; until it is used, signin is refused.
    let email = "new.person@example.test";
    let res = app
        .post_json(
            "/api/auth/signup",
            json!({"email": email, "password": "smtp-pass-123"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mail = relay.mail_to(email);
    assert!(
        mail.contains("From: Runway <noreply@runway.test>"),
        "{mail}"
    );
    assert!(
        mail.contains("https://app.example.test/verify-email?token="),
        "{mail}"
    );
    let verify_token = token_in(&mail);
    let res = app
        .post_json(
            "/api/auth/signin/local",
            json!({"email": email, "password": "smtp-pass-123"}),
        )
        .await;
    let (status, code, _) = error_of(res).await;
    assert_eq!(
        (status.as_u16(), code.as_str()),
        (403, "email_not_verified")
    );
    let res = app
        .post_json_method(
            Method::PUT,
            "/api/auth/verify-email",
            json!({"token": verify_token}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.signin(email, "smtp-pass-123").await;

    // Password reset by mail.
    let res = app
        .post_json(
            "/api/auth/send-password-reset-email",
            json!({"email": email}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mail = relay.mail_to(email);
    assert!(
        mail.contains("https://app.example.test/password-reset?token="),
        "{mail}"
    );
    let reset_token = token_in(&mail);
    let res = app
        .post_json_method(
            Method::PUT,
            "/api/auth/password-reset",
            json!({"token": reset_token, "password": "smtp-new-pass-456"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.signin(email, "smtp-new-pass-456").await;

    // Real mail goes out: the links (secrets) are not written to the log.
    let logs = app.run.logs();
    for secret in [&verify_token, &reset_token] {
        assert!(!logs.contains(secret.as_str()), "a token reached the log");
    }
    assert!(
        app.mail_count() == 0,
        "nothing in the development outbox when SMTP is configured"
    );
}
db_test!(smtp, smtp_flows);

/// An unreachable SMTP server does not turn into a 500 or an account-enumeration signal: the
/// reset request still answers 200 and the failure is logged.
async fn smtp_down(db: TestDb) {
    // A port nothing listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let app = spawn_with(
        &db,
        &[
            ("EMAIL_HOST", "127.0.0.1"),
            ("EMAIL_PORT", &port),
            ("EMAIL_TLS", "none"),
            ("EMAIL_FROM", "noreply@runway.test"),
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
    assert!(!app.run.logs().contains("status=500"));
}
db_test!(smtp_unreachable, smtp_down);

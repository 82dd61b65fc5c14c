//! SMTP the way a production relay is reached: STARTTLS on the submission port (the default
//! `EMAIL_TLS=starttls`) and AUTH with `EMAIL_USER`/`EMAIL_PASS`, against the local relay of
//! tests/smtp_support, which speaks the real protocol — plain greeting, `STARTTLS`, a rustls handshake with a certificate
//! from a private CA (trusted through `EMAIL_TLS_CA_FILE`), `AUTH` offered only inside TLS.
//!
//! What a user would notice: the mail arrives; the credentials and the message never cross the
//! wire in clear; a relay whose certificate is not trusted, or that does not offer STARTTLS,
//! gets neither (the request still answers 200, the failure is logged); the SMTP password is
//! never logged.

mod auth_support;
mod smtp_support;

use std::path::PathBuf;
use std::sync::Arc;

use auth_support::*;
use serde_json::json;
use smtp_support::{Relay, Security};
use testkit::{TestDb, db_test};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

const SMTP_USER: &str = "mailer@runway.test";
const SMTP_PASS: &str = "smtp-secret-pass-9f3c";

/// A certificate for `localhost` and the PEM file a client must trust to accept it.
struct Pki {
    acceptor: TlsAcceptor,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

fn pki() -> Pki {
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("relay-ca.pem");
    std::fs::write(&ca_file, issued.cert.pem()).unwrap();
    let key = PrivateKeyDer::try_from(issued.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![issued.cert.der().clone()], key)
        .unwrap();
    Pki {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_file,
        _dir: dir,
    }
}

/// The relay, speaking STARTTLS with `pki`'s certificate (or, with `offer_starttls: false`,
/// not offering it).
async fn starttls_relay(pki: &Pki, offer_starttls: bool) -> Relay {
    Relay::start(Security::StartTls {
        acceptor: pki.acceptor.clone(),
        offer_starttls,
    })
    .await
}

async fn app_for(db: &TestDb, port: u16, ca_file: Option<&PathBuf>) -> App {
    let port = port.to_string();
    let mut env = vec![
        ("EMAIL_HOST", "localhost"),
        ("EMAIL_PORT", port.as_str()),
        ("EMAIL_USER", SMTP_USER),
        ("EMAIL_PASS", SMTP_PASS),
        ("EMAIL_FROM", "Runway <noreply@runway.test>"),
    ];
    let ca = ca_file.map(|p| p.to_str().unwrap().to_string());
    if let Some(ca) = &ca {
        env.push(("EMAIL_TLS_CA_FILE", ca.as_str()));
    }
    spawn_with(db, &env).await
}

/// A password-reset request whose mail cannot go out: still 200 (no account-enumeration
/// signal, no 500), and the failure is in the log.
async fn reset_request_fails_quietly(app: &App) {
    let res = app
        .post_json(
            "/api/auth/send-password-reset-email",
            json!({"email": USER}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        app.run.log_contains("email not sent").await,
        "{}",
        app.run.logs()
    );
}

async fn starttls_delivery(db: TestDb) {
    let pki = pki();
    let relay = starttls_relay(&pki, true).await;
    let app = app_for(&db, relay.port, Some(&pki.ca_file)).await;

    let email = "tls.person@example.test";
    let res = app
        .post_json(
            "/api/auth/signup",
            json!({"email": email, "password": "tls-pass-1234"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        relay.until(|s| !s.messages.is_empty()).await,
        "no mail delivered; log:\n{}",
        app.run.logs()
    );

    let seen = relay.seen();
    assert_eq!(
        seen.plaintext,
        ["EHLO", "STARTTLS"],
        "only the greeting and STARTTLS go in clear"
    );
    assert_eq!(seen.tls_sessions, 1);
    assert_eq!(seen.auth, [format!("\0{SMTP_USER}\0{SMTP_PASS}")]);
    let (rcpt, data) = &seen.messages[0];
    assert_eq!(rcpt, email);
    assert!(data.contains("/verify-email?token="), "{data}");
    drop(seen);

    let logs = app.run.logs();
    assert!(logs.contains("email sent"), "{logs}");
    assert!(
        !logs.contains(SMTP_PASS),
        "the SMTP password reached the log"
    );
}
db_test!(starttls, starttls_delivery);

/// A relay whose certificate is not trusted (no `EMAIL_TLS_CA_FILE`): the handshake fails, so
/// neither the credentials nor the message are sent; the request still answers 200.
async fn untrusted_certificate(db: TestDb) {
    let pki = pki();
    let relay = starttls_relay(&pki, true).await;
    let app = app_for(&db, relay.port, None).await;
    reset_request_fails_quietly(&app).await;
    let seen = relay.seen();
    assert_eq!(seen.plaintext, ["EHLO", "STARTTLS"]);
    assert_eq!(
        seen.tls_sessions, 0,
        "the client must refuse the certificate"
    );
    assert!(seen.auth.is_empty() && seen.messages.is_empty());
    assert!(!app.run.logs().contains(SMTP_PASS));
}
db_test!(starttls_untrusted, untrusted_certificate);

/// A relay that does not offer STARTTLS (or a man in the middle stripping it): STARTTLS is
/// required, so nothing but EHLO is said in clear.
async fn starttls_not_offered(db: TestDb) {
    let pki = pki();
    let relay = starttls_relay(&pki, false).await;
    let app = app_for(&db, relay.port, Some(&pki.ca_file)).await;
    reset_request_fails_quietly(&app).await;
    let seen = relay.seen();
    assert!(
        seen.plaintext.iter().all(|v| v == "EHLO" || v == "QUIT"),
        "only EHLO/QUIT in clear, got {:?}",
        seen.plaintext
    );
    assert!(seen.auth.is_empty() && seen.messages.is_empty());
}
db_test!(starttls_stripped, starttls_not_offered);

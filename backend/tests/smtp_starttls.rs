//! SMTP the way a production relay is reached: STARTTLS on the submission port (the default
//! `EMAIL_TLS=starttls`) and AUTH with `EMAIL_USER`/`EMAIL_PASS`, against a local server that
//! speaks the real protocol — plain greeting, `STARTTLS`, a rustls handshake with a certificate
//! from a private CA (trusted through `EMAIL_TLS_CA_FILE`), `AUTH` offered only inside TLS.
//!
//! What a user would notice: the mail arrives; the credentials and the message never cross the
//! wire in clear; a relay whose certificate is not trusted, or that does not offer STARTTLS,
//! gets neither (the request still answers 200, the failure is logged); the SMTP password is
//! never logged.

mod auth_support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use auth_support::*;
use base64::Engine as _;
use serde_json::json;
use testkit::{TestDb, db_test};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

const SMTP_USER: &str = "mailer@runway.test";
const SMTP_PASS: &str = "smtp-secret-pass-9f3c";

/// What the fake relay saw, over all its connections.
#[derive(Default)]
struct Seen {
    /// Verbs received before TLS was up.
    plaintext: Vec<String>,
    /// Connections that completed the TLS handshake.
    tls_sessions: usize,
    /// Decoded `AUTH PLAIN` responses (`\0user\0pass`).
    auth: Vec<String>,
    /// (envelope recipient, DATA) of accepted messages.
    messages: Vec<(String, String)>,
}

type Shared = Arc<Mutex<Seen>>;

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

enum Next<S> {
    Closed,
    StartTls(S),
}

/// One SMTP dialogue on `stream` until QUIT, EOF or STARTTLS (which hands the raw stream back
/// for the handshake). EHLO's answer depends on the phase: STARTTLS in clear, AUTH in TLS.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    in_tls: bool,
    offer_starttls: bool,
    seen: &Shared,
) -> Next<S> {
    let mut io = BufReader::new(stream);
    let mut rcpt = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await.unwrap_or(0) == 0 {
            return Next::Closed;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let verb = words.first().unwrap_or(&"").to_ascii_uppercase();
        if !in_tls {
            seen.lock().unwrap().plaintext.push(verb.clone());
        }
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if in_tls => b"250-fake.smtp.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
            "EHLO" if offer_starttls => b"250-fake.smtp.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
            "EHLO" => b"250-fake.smtp.test\r\n250 8BITMIME\r\n",
            "STARTTLS" if !in_tls && offer_starttls => {
                io.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await.ok();
                return Next::StartTls(io.into_inner());
            }
            "AUTH"
                if in_tls
                    && words.get(1).map(|m| m.eq_ignore_ascii_case("PLAIN")) == Some(true) =>
            {
                let decoded = words
                    .get(2)
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                seen.lock().unwrap().auth.push(decoded);
                b"235 2.7.0 accepted\r\n"
            }
            "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
            "RCPT" => {
                rcpt = line
                    .split(['<', '>'])
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                b"250 OK\r\n"
            }
            "DATA" => {
                io.get_mut().write_all(b"354 go ahead\r\n").await.ok();
                let mut data = String::new();
                loop {
                    line.clear();
                    if io.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return Next::Closed;
                    }
                    if line.trim_end() == "." {
                        break;
                    }
                    data.push_str(&line);
                }
                seen.lock().unwrap().messages.push((rcpt.clone(), data));
                b"250 queued\r\n"
            }
            "QUIT" => {
                io.get_mut().write_all(b"221 bye\r\n").await.ok();
                return Next::Closed;
            }
            _ => b"530 5.7.0 must issue STARTTLS first\r\n",
        };
        if io.get_mut().write_all(reply).await.is_err() {
            return Next::Closed;
        }
    }
}

/// The fake relay on a free loopback port.
async fn relay(acceptor: TlsAcceptor, offer_starttls: bool) -> (Shared, u16) {
    let seen: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (seen, acceptor) = (shared.clone(), acceptor.clone());
            tokio::spawn(async move {
                if sock
                    .write_all(b"220 fake.smtp.test ESMTP\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Next::StartTls(sock) = dialogue(sock, false, offer_starttls, &seen).await
                else {
                    return;
                };
                let Ok(tls) = acceptor.accept(sock).await else {
                    return; // the client refused our certificate
                };
                seen.lock().unwrap().tls_sessions += 1;
                dialogue(tls, true, false, &seen).await;
            });
        }
    });
    (seen, port)
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

/// Waits (up to 10 s) until the relay saw what `done` looks for: mail is sent in the background
/// of the request on some routes.
async fn until(seen: &Shared, done: impl Fn(&Seen) -> bool) -> bool {
    for _ in 0..200 {
        if done(&seen.lock().unwrap()) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
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
    let (seen, port) = relay(pki.acceptor.clone(), true).await;
    let app = app_for(&db, port, Some(&pki.ca_file)).await;

    let email = "tls.person@example.test";
    let res = app
        .post_json(
            "/api/auth/signup",
            json!({"email": email, "password": "tls-pass-1234"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        until(&seen, |s| !s.messages.is_empty()).await,
        "no mail delivered; log:\n{}",
        app.run.logs()
    );

    let seen = seen.lock().unwrap();
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
    let (seen, port) = relay(pki.acceptor.clone(), true).await;
    let app = app_for(&db, port, None).await;
    reset_request_fails_quietly(&app).await;
    let seen = seen.lock().unwrap();
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
    let (seen, port) = relay(pki.acceptor.clone(), false).await;
    let app = app_for(&db, port, Some(&pki.ca_file)).await;
    reset_request_fails_quietly(&app).await;
    let seen = seen.lock().unwrap();
    assert!(
        seen.plaintext.iter().all(|v| v == "EHLO" || v == "QUIT"),
        "only EHLO/QUIT in clear, got {:?}",
        seen.plaintext
    );
    assert!(seen.auth.is_empty() && seen.messages.is_empty());
}
db_test!(starttls_stripped, starttls_not_offered);
